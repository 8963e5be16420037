/* Helpers shared by the model tests (test_model*.c, test_train*.c): a seeded generator, small
 * random models with non-trivial normalisation, random molecules, rotations and error norms, and
 * the repository's shipped model with its trans-stilbene geometry.
 * Header-only: each test executable includes it once. */
#ifndef TEST_MODEL_UTIL_H
#define TEST_MODEL_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fh_model.h"
#include "fh_xyz.h"

static uint64_t tm_state = 1;
static inline void tm_seed(uint64_t s) { tm_state = s * 0x9e3779b97f4a7c15ULL + 7; }
static inline double tm_uniform(void)
{
    uint64_t z = (tm_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static inline double tm_normal(void)
{
    double u = tm_uniform(), v = tm_uniform();
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* A small model (elements H, C, O; nstates states; the diabatic readout when diabatic != 0) with
 * random weights and random normalisation, so that every scale factor is exercised. */
static inline fh_model *tm_small_model_kind(int nstates, int diabatic, int members, uint64_t seed,
                                            fh_err *err)
{
    fh_model_hyper h = fh_model_hyper_default();
    h.nstates = nstates;
    h.diabatic = diabatic;
    h.n_elements = 3;
    h.elements[0] = 1, h.elements[1] = 6, h.elements[2] = 8;
    h.channels = 4;
    h.lmax = 2;
    h.correlation = 3;
    h.n_layers = 2;
    h.r_cut = 4.0;
    h.n_bessel = 4;
    h.n_radial = 2;
    h.radial[0] = 8, h.radial[1] = 8;
    h.readout_hidden = 4;
    h.avg_neighbors = 3.0;
    h.nac_gap_eps = 1e-3;
    fh_model *m = NULL;
    if (fh_model_alloc(&h, members, seed, &m, err) != FH_OK) return NULL;
    fh_model_norm *nm = fh_model_get_norm(m);
    tm_seed(seed + 100);
    int P = nstates * (nstates - 1) / 2;
    for (int k = 0; k < 3 * nstates; k++) nm->e0[k] = -0.5 * (1 + k % 3) + 0.1 * tm_normal();
    for (int s = 0; s < nstates; s++) {
        nm->shift[s] = 0.01 * tm_normal();
        nm->scale[s] = 0.5 + tm_uniform();
    }
    for (int p = 0; p < P; p++) nm->nac_scale[p] = 0.5 + tm_uniform();
    return m;
}
static inline fh_model *tm_small_model(int nstates, int members, uint64_t seed, fh_err *err)
{
    return tm_small_model_kind(nstates, 0, members, seed, err);
}

/* n atoms in a box of side `box` bohr, no two closer than dmin. */
static inline void tm_molecule(int n, double box, double dmin, double *x)
{
    for (int a = 0; a < n; a++) {
        for (;;) {
            for (int k = 0; k < 3; k++) x[3 * a + k] = box * (tm_uniform() - 0.5);
            int ok = 1;
            for (int b = 0; b < a && ok; b++) {
                double d2 = 0;
                for (int k = 0; k < 3; k++) d2 += (x[3 * a + k] - x[3 * b + k]) * (x[3 * a + k] - x[3 * b + k]);
                ok = d2 > dmin * dmin;
            }
            if (ok) break;
        }
    }
}

/* Random rotation (unit quaternion) times inversion when invert != 0. */
static inline void tm_rotation(double Q[9], int invert)
{
    double q[4], nq = 0;
    for (int i = 0; i < 4; i++) q[i] = tm_normal(), nq += q[i] * q[i];
    nq = sqrt(nq);
    double w = q[0] / nq, x = q[1] / nq, y = q[2] / nq, z = q[3] / nq, s = invert ? -1.0 : 1.0;
    Q[0] = s * (1 - 2 * (y * y + z * z)), Q[1] = s * 2 * (x * y - z * w), Q[2] = s * 2 * (x * z + y * w);
    Q[3] = s * 2 * (x * y + z * w), Q[4] = s * (1 - 2 * (x * x + z * z)), Q[5] = s * 2 * (y * z - x * w);
    Q[6] = s * 2 * (x * z - y * w), Q[7] = s * 2 * (y * z + x * w), Q[8] = s * (1 - 2 * (x * x + y * y));
}

/* Apply Q to n 3-vectors. */
static inline void tm_apply(const double Q[9], int n, const double *v, double *out)
{
    for (int a = 0; a < n; a++)
        for (int k = 0; k < 3; k++)
            out[3 * a + k] = Q[3 * k] * v[3 * a] + Q[3 * k + 1] * v[3 * a + 1] + Q[3 * k + 2] * v[3 * a + 2];
}

/* max |a - b| / max |b| */
static inline double tm_max_rel(const double *a, const double *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(a[i] - b[i]) > num) num = fabs(a[i] - b[i]);
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return den > 0 ? num / den : num;
}

/* The shipped stilbene model and the trans-stilbene geometry of the repository: FH_OK, or the
 * error of the first that fails to load (*m, *g NULL then). */
static inline int tm_load_shipped(fh_model **m, fh_xyz **g, fh_err *err)
{
    char path[1024];
    *m = NULL, *g = NULL;
    snprintf(path, sizeof path, "%s/inputs/models/stilbene.h5", FH_TEST_SOURCE_DIR);
    int rc = fh_model_load(path, m, err);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/inputs/geometries/trans-stilbene.xyz", FH_TEST_SOURCE_DIR);
    rc = fh_xyz_read(path, g, err);
    if (rc) {
        fh_model_free(*m);
        *m = NULL;
    }
    return rc;
}

#endif
