/* Hop statistics: how many hops went up, down or were frustrated; where the molecule was (torsion,
 * pyramidalization) and how large the gap was when it hopped from the excited state to the ground
 * state; and when each trajectory first reached the ground state. The geometry at a hop is that of
 * the last frame at or before the hop (frames may be written less often than every step). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ana_internal.h"

void fh_ana_hops_free(fh_ana_hops *h)
{
    if (!h) return;
    free(h->torsion);
    free(h->pyramid);
    free(h->gap);
    free(h->traj);
    free(h->hop_time);
    free(h->first_time);
    free(h->first_traj);
    memset(h, 0, sizeof *h);
}

void fh_ana_histogram(const double *v, long n, double lo, double hi, int nbins, long *counts)
{
    for (int b = 0; b < nbins; b++) counts[b] = 0;
    if (nbins < 1 || !(hi > lo)) return;
    for (long i = 0; i < n; i++) {
        if (isnan(v[i])) continue;
        long b = (long)floor((v[i] - lo) / (hi - lo) * nbins);
        if (b < 0) b = 0;
        if (b >= nbins) b = nbins - 1;
        counts[b]++;
    }
}

/* Median of the non-NaN values of v [n] (NaN if none); also their range if lo, hi given. */
static int median_of(const double *v, long n, int absolute, double *median, double *lo, double *hi)
{
    double *tmp = malloc(sizeof *tmp * (size_t)(n > 0 ? n : 1));
    if (!tmp) return -1;
    long m = 0;
    for (long i = 0; i < n; i++)
        if (!isnan(v[i])) tmp[m++] = absolute ? fabs(v[i]) : v[i];
    *median = fh_ana_quantile(tmp, m, 0.5); /* sorts tmp; NaN if m = 0 */
    if (lo) *lo = m ? tmp[0] : NAN;
    if (hi) *hi = m ? tmp[m - 1] : NAN;
    free(tmp);
    return 0;
}

int fh_ana_hops_compute(const fh_ana_ensemble *e, const fh_ana_settings *s, fh_ana_hops *h, fh_err *err)
{
    memset(h, 0, sizeof *h);
    h->first_mean = h->first_median = h->first_std = h->first_min = h->first_max = NAN;
    h->gap_median = h->gap_min = h->gap_max = h->torsion_median = h->pyramid_median = NAN;
    long cap = 0;
    for (long k = 0; k < e->ntraj; k++)
        if (e->traj[k].used) cap += e->traj[k].nhops;
    size_t nc = (size_t)(cap > 0 ? cap : 1), nt = (size_t)(e->ntraj > 0 ? e->ntraj : 1);
    h->torsion = malloc(sizeof *h->torsion * nc);
    h->pyramid = malloc(sizeof *h->pyramid * nc);
    h->gap = malloc(sizeof *h->gap * nc);
    h->traj = malloc(sizeof *h->traj * nc);
    h->hop_time = malloc(sizeof *h->hop_time * nc);
    h->first_time = malloc(sizeof *h->first_time * nt);
    h->first_traj = malloc(sizeof *h->first_traj * nt);
    if (!h->torsion || !h->pyramid || !h->gap || !h->traj || !h->hop_time || !h->first_time ||
        !h->first_traj) {
        fh_ana_hops_free(h);
        return fh_err_set(err, FH_EFAIL, "out of memory");
    }
    for (long k = 0; k < e->ntraj; k++) {
        const fh_ana_traj *t = &e->traj[k];
        if (!t->used) continue;
        int first = 0;
        for (long i = 0; i < t->nhops; i++) {
            const fh_h5md_hop *hp = &t->hops[i];
            if (hp->frustrated) {
                h->frustrated++;
                continue;
            }
            if (hp->to > hp->from) h->up++;
            else if (hp->to < hp->from) h->down++;
            if (hp->to == s->ground_state && !first) {
                first = 1;
                h->first_time[h->nfirst] = hp->time;
                h->first_traj[h->nfirst++] = t->index;
            }
            if (hp->from != s->excited_state || hp->to != s->ground_state) continue;
            long f = fh_h5md_frame_at(t->time, t->nframes, hp->time), m = h->ndown_es++;
            h->torsion[m] = t->torsion ? t->torsion[f] : NAN;
            h->pyramid[m] = t->pyramid ? t->pyramid[f] : NAN;
            h->gap[m] = fabs(hp->gap);
            h->traj[m] = t->index;
            h->hop_time[m] = hp->time;
        }
        if (!first) h->nnever++;
    }
    if (h->nfirst > 0) fh_ana_mean_std(h->first_time, h->nfirst, &h->first_mean, &h->first_std);
    if (median_of(h->first_time, h->nfirst, 0, &h->first_median, &h->first_min, &h->first_max) ||
        median_of(h->gap, h->ndown_es, 1, &h->gap_median, &h->gap_min, &h->gap_max) ||
        median_of(h->torsion, h->ndown_es, 1, &h->torsion_median, NULL, NULL) ||
        median_of(h->pyramid, h->ndown_es, 0, &h->pyramid_median, NULL, NULL)) {
        fh_ana_hops_free(h);
        return fh_err_set(err, FH_EFAIL, "out of memory");
    }
    return FH_OK;
}
