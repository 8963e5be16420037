/* Populations versus time: the fraction of trajectories in each active state (the surface-hopping
 * population) and the mean electronic populations |c_i|^2 (the quantum populations), each with a
 * 95% bootstrap band. The time grid is the frame times of the longest used trajectory, thinned to
 * at most settings.max_points points. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ana_internal.h"

int fh_ana_grid_frames(const fh_ana_ensemble *e, const double *grid, long ngrid, long *frames)
{
    long j = 0;
    for (long k = 0; k < e->ntraj; k++) {
        const fh_ana_traj *t = &e->traj[k];
        if (!t->used) continue;
        long f = 0;
        for (long g = 0; g < ngrid; g++) {
            double tol = 1e-9 * (fabs(grid[g]) + 1.0);
            while (f + 1 < t->nframes && t->time[f + 1] <= grid[g] + tol) f++;
            frames[g * e->nused + j] = f;
        }
        j++;
    }
    return FH_OK;
}

void fh_ana_populations_free(fh_ana_populations *p)
{
    if (!p) return;
    free(p->time);
    free(p->frac);
    free(p->frac_lo);
    free(p->frac_hi);
    free(p->pop);
    free(p->pop_lo);
    free(p->pop_hi);
    memset(p, 0, sizeof *p);
}

/* The time grid: frames of the longest used trajectory, every stride-th (and always the last). */
static long make_grid(const fh_ana_ensemble *e, long max_points, double **grid)
{
    const fh_ana_traj *ref = NULL;
    for (long k = 0; k < e->ntraj; k++)
        if (e->traj[k].used && (!ref || e->traj[k].nframes > ref->nframes)) ref = &e->traj[k];
    if (!ref) return 0;
    long n = ref->nframes, mp = max_points > 1 ? max_points : 2;
    long stride = (n + mp - 2) / (mp - 1);
    if (stride < 1) stride = 1;
    long ng = (n - 1) / stride + 1 + ((n - 1) % stride != 0);
    *grid = malloc(sizeof **grid * (size_t)ng);
    if (!*grid) return -1;
    long g = 0;
    for (long f = 0; f < n; f += stride) (*grid)[g++] = ref->time[f];
    if ((n - 1) % stride != 0) (*grid)[g++] = ref->time[n - 1];
    return g;
}

int fh_ana_populations_compute(const fh_ana_ensemble *e, const fh_ana_settings *s, fh_ana_populations *p,
                       fh_err *err)
{
    memset(p, 0, sizeof *p);
    p->nstates = e->nstates;
    p->nused = e->nused;
    if (e->nused == 0) return FH_OK;
    long ng = make_grid(e, s->max_points, &p->time);
    if (ng < 0) return fh_err_set(err, FH_EFAIL, "out of memory");
    p->ngrid = ng;
    const long nu = e->nused, ns = e->nstates, nb = s->nboot;
    size_t cells = (size_t)(ng * ns);
    p->frac = calloc(cells, sizeof *p->frac);
    p->frac_lo = calloc(cells, sizeof *p->frac_lo);
    p->frac_hi = calloc(cells, sizeof *p->frac_hi);
    p->pop = calloc(cells, sizeof *p->pop);
    p->pop_lo = calloc(cells, sizeof *p->pop_lo);
    p->pop_hi = calloc(cells, sizeof *p->pop_hi);
    long *frames = malloc(sizeof *frames * (size_t)(ng * nu));
    const fh_ana_traj **used = malloc(sizeof *used * (size_t)nu);
    int *w = fh_ana_boot_weights(nb, nu, s->seed);
    double *bf = malloc(sizeof *bf * (size_t)(nb * ns)), *bp = malloc(sizeof *bp * (size_t)(nb * ns));
    int rc = FH_OK;
    if (!p->frac || !p->frac_lo || !p->frac_hi || !p->pop || !p->pop_lo || !p->pop_hi || !frames ||
        !used || !w || !bf || !bp) {
        rc = fh_err_set(err, FH_EFAIL, "out of memory");
        goto done;
    }
    for (long k = 0, j = 0; k < e->ntraj; k++)
        if (e->traj[k].used) used[j++] = &e->traj[k];
    fh_ana_grid_frames(e, p->time, ng, frames);
    for (long g = 0; g < ng; g++) {
        const long *fr = frames + g * nu;
        for (long j = 0; j < nu; j++) {
            p->frac[g * ns + used[j]->active[fr[j]]] += 1.0 / (double)nu;
            for (long i = 0; i < ns; i++) p->pop[g * ns + i] += used[j]->pop[fr[j] * ns + i] / (double)nu;
        }
        memset(bf, 0, sizeof *bf * (size_t)(nb * ns));
        memset(bp, 0, sizeof *bp * (size_t)(nb * ns));
        for (long b = 0; b < nb; b++) {
            const int *wb = w + b * nu;
            for (long j = 0; j < nu; j++) {
                if (!wb[j]) continue;
                double wj = (double)wb[j] / (double)nu;
                /* laid out state-major so each state's nb values are contiguous for the quantiles */
                bf[used[j]->active[fr[j]] * nb + b] += wj;
                const double *pj = used[j]->pop + fr[j] * ns;
                for (long i = 0; i < ns; i++) bp[i * nb + b] += wj * pj[i];
            }
        }
        for (long i = 0; i < ns; i++) {
            p->frac_lo[g * ns + i] = fh_ana_quantile(bf + i * nb, nb, 0.025);
            p->frac_hi[g * ns + i] = fh_ana_quantile(bf + i * nb, nb, 0.975);
            p->pop_lo[g * ns + i] = fh_ana_quantile(bp + i * nb, nb, 0.025);
            p->pop_hi[g * ns + i] = fh_ana_quantile(bp + i * nb, nb, 0.975);
        }
    }
done:
    free(frames);
    free(used);
    free(w);
    free(bf);
    free(bp);
    if (rc) fh_ana_populations_free(p);
    return rc;
}
