/* Farthest-point selection of sampling candidates (`[sample] diverse`).
 *
 * Why: frames of active learning come in runs of neighbouring frames of the same trajectories,
 * and on stilbene's hot S0 the held-out rows that the model gets wrong are the ones far from
 * every training row (inputs/datasets/coverage.py: 0.37 A against 0.07 A for the rest). Picking,
 * one at a time, the candidate farthest from the dataset and from the picks so far spends the
 * reference calculations where the data are thinnest.
 *
 * Distance: RMSD in bohr after the best superposition (translation and proper rotation), atoms in
 * their given order, by Horn's quaternion method: the largest eigenvalue of a 4x4 symmetric
 * matrix built from the two geometries' correlation matrix. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_matrix.h>

#include "fh_sampling.h"

/* Copy of x [natoms*3] with its centroid at the origin; returns sum |x_i|^2. */
static double centre(int natoms, const double *x, double *c)
{
    double m[3] = {0, 0, 0}, g = 0;
    for (int a = 0; a < natoms; a++)
        for (int k = 0; k < 3; k++) m[k] += x[3 * a + k] / natoms;
    for (int a = 0; a < natoms; a++)
        for (int k = 0; k < 3; k++) {
            c[3 * a + k] = x[3 * a + k] - m[k];
            g += c[3 * a + k] * c[3 * a + k];
        }
    return g;
}

typedef struct {
    gsl_matrix *key;
    gsl_vector *eval;
    gsl_eigen_symm_workspace *w;
} horn;

/* 0, or -1 when out of memory (then horn_free is still safe). */
static int horn_alloc(horn *h)
{
    h->key = gsl_matrix_alloc(4, 4);
    h->eval = gsl_vector_alloc(4);
    h->w = gsl_eigen_symm_alloc(4);
    return h->key && h->eval && h->w ? 0 : -1;
}

static void horn_free(horn *h)
{
    if (h->w) gsl_eigen_symm_free(h->w);
    if (h->eval) gsl_vector_free(h->eval);
    if (h->key) gsl_matrix_free(h->key);
}

/* RMSD of two centred geometries with squared norms ga, gb. */
static double rmsd_centred(horn *h, int natoms, const double *a, double ga, const double *b,
                           double gb)
{
    double s[3][3] = {{0}};
    for (int i = 0; i < natoms; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 3; k++) s[j][k] += a[3 * i + j] * b[3 * i + k];
    const double sxx = s[0][0], sxy = s[0][1], sxz = s[0][2], syx = s[1][0], syy = s[1][1],
                 syz = s[1][2], szx = s[2][0], szy = s[2][1], szz = s[2][2];
    const double k[4][4] = {{sxx + syy + szz, syz - szy, szx - sxz, sxy - syx},
                            {syz - szy, sxx - syy - szz, sxy + syx, szx + sxz},
                            {szx - sxz, sxy + syx, -sxx + syy - szz, syz + szy},
                            {sxy - syx, szx + sxz, syz + szy, -sxx - syy + szz}};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) gsl_matrix_set(h->key, i, j, k[i][j]);
    gsl_eigen_symm(h->key, h->eval, h->w);
    double lmax = gsl_vector_get(h->eval, 0);
    for (int i = 1; i < 4; i++) lmax = fmax(lmax, gsl_vector_get(h->eval, i));
    double e = (ga + gb - 2.0 * lmax) / natoms;
    return e > 0 ? sqrt(e) : 0.0;
}

double fh_samp_rmsd(int natoms, const double *a, const double *b)
{
    double *ca = malloc(sizeof *ca * 6 * (size_t)natoms);
    horn h;
    double r = NAN;
    if (horn_alloc(&h) == 0 && ca) {
        double *cb = ca + 3 * natoms;
        double ga = centre(natoms, a, ca), gb = centre(natoms, b, cb);
        r = rmsd_centred(&h, natoms, ca, ga, cb, gb);
    }
    free(ca);
    horn_free(&h);
    return r;
}

int fh_samp_select_diverse(fh_samp_set *set, const double *ref, int nref, long keep,
                           double *dist, fh_err *err)
{
    if (keep < 0) return fh_err_set(err, FH_EINPUT, "diverse must not be negative");
    const int n = set->n, na = set->natoms, n3 = 3 * na;
    const int nkeep = keep > 0 && keep < n ? (int)keep : n;
    double *c = malloc(sizeof *c * (size_t)(n + nref + 1) * (size_t)n3);
    double *g = malloc(sizeof *g * (size_t)(n + nref + 1));
    double *dmin = malloc(sizeof *dmin * (size_t)(n + 1));
    int *order = malloc(sizeof *order * (size_t)(n + 1));
    char *taken = calloc((size_t)n + 1, 1);
    double *x = malloc(sizeof *x * (size_t)(nkeep + 1) * (size_t)n3);
    char(*id)[FH_DATASET_ID_LEN] = malloc(sizeof *id * (size_t)(nkeep + 1));
    char(*origin)[FH_DATASET_ORIGIN_LEN] = malloc(sizeof *origin * (size_t)(nkeep + 1));
    horn h;
    int rc = FH_OK;
    if (horn_alloc(&h) != 0 || !c || !g || !dmin || !order || !taken || !x || !id || !origin)
        rc = fh_err_set(err, FH_EFAIL, "out of memory");
    if (rc == FH_OK) {
        for (int k = 0; k < n; k++) g[k] = centre(na, set->x + (size_t)k * n3, c + (size_t)k * n3);
        for (int r = 0; r < nref; r++)
            g[n + r] = centre(na, ref + (size_t)r * n3, c + (size_t)(n + r) * n3);
        /* distance of every candidate to the nearest reference geometry (none: infinite, so the
         * first pick is the first candidate) */
        for (int k = 0; k < n; k++) {
            dmin[k] = INFINITY;
            for (int r = 0; r < nref; r++)
                dmin[k] = fmin(dmin[k], rmsd_centred(&h, na, c + (size_t)k * n3, g[k],
                                                     c + (size_t)(n + r) * n3, g[n + r]));
        }
        for (int j = 0; j < nkeep; j++) {
            int best = -1;
            for (int k = 0; k < n; k++)
                if (!taken[k] && (best < 0 || dmin[k] > dmin[best])) best = k;
            if (best < 0) break; /* cannot happen: nkeep <= n */
            taken[best] = 1;
            order[j] = best;
            if (dist) dist[j] = dmin[best];
            for (int k = 0; k < n; k++)
                if (!taken[k])
                    dmin[k] = fmin(dmin[k], rmsd_centred(&h, na, c + (size_t)k * n3, g[k],
                                                         c + (size_t)best * n3, g[best]));
        }
        for (int j = 0; j < nkeep; j++) {
            int k = order[j];
            memcpy(x + (size_t)j * n3, set->x + (size_t)k * n3, sizeof *x * (size_t)n3);
            memcpy(id[j], set->id[k], sizeof id[j]);
            memcpy(origin[j], set->origin[k], sizeof origin[j]);
        }
        free(set->x), free(set->id), free(set->origin);
        set->x = x, set->id = id, set->origin = origin, set->n = nkeep;
        x = NULL, id = NULL, origin = NULL;
    }
    free(c), free(g), free(dmin), free(order), free(taken), free(x), free(id), free(origin);
    horn_free(&h);
    return rc;
}
