/* Helpers shared by the equivariant-core tests (test_eq_*.c): a seeded random generator, random
 * rotations, rotation of feature arrays by real Wigner matrices, relative errors and a central
 * finite-difference gradient check. Header-only: each test executable includes it once. */
#ifndef TEST_EQ_UTIL_H
#define TEST_EQ_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fh_equivariant.h"

static uint64_t eqt_state = 0x9e3779b97f4a7c15ULL;

static inline void eqt_seed(uint64_t s) { eqt_state = s * 0x9e3779b97f4a7c15ULL + 1; }

/* splitmix64 -> uniform in (0, 1). */
static inline double eqt_uniform(void)
{
    uint64_t z = (eqt_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static inline double eqt_normal(void)
{
    double u = eqt_uniform(), v = eqt_uniform();
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static inline void eqt_fill(double *v, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++) v[i] = scale * eqt_normal();
}

/* Uniformly random rotation from a random unit quaternion. */
static inline void eqt_random_rotation(double R[9])
{
    double q[4], nq = 0;
    for (int i = 0; i < 4; i++) q[i] = eqt_normal(), nq += q[i] * q[i];
    nq = sqrt(nq);
    double w = q[0] / nq, x = q[1] / nq, y = q[2] / nq, z = q[3] / nq;
    R[0] = 1 - 2 * (y * y + z * z), R[1] = 2 * (x * y - z * w), R[2] = 2 * (x * z + y * w);
    R[3] = 2 * (x * y + z * w), R[4] = 1 - 2 * (x * x + z * z), R[5] = 2 * (y * z - x * w);
    R[6] = 2 * (x * z - y * w), R[7] = 2 * (y * z + x * w), R[8] = 1 - 2 * (x * x + y * y);
}

static inline void eqt_matvec3(const double R[9], const double *v, double *out)
{
    for (int k = 0; k < 3; k++) out[k] = R[3 * k] * v[0] + R[3 * k + 1] * v[1] + R[3 * k + 2] * v[2];
}

/* Offset of D^l inside the array from fh_eq_wigner_d. */
static inline long eqt_doff(int l)
{
    long o = 0;
    for (int k = 0; k < l; k++) o += (2 * k + 1) * (2 * k + 1);
    return o;
}

/* y = g x for features x [n][dim][c] of irreps ir, where g = rotation with Wigner matrices D
 * (from fh_eq_wigner_d), times inversion if invert != 0 (block (l,p) then also gets p). */
static inline void eqt_transform(const fh_eq_irreps *ir, int c, int n, const double *D, int invert,
                          const double *x, double *y)
{
    int dim = fh_eq_irreps_dim(ir);
    for (int a = 0; a < n; a++)
        for (int b = 0; b < ir->n; b++) {
            int l = ir->l[b], d = 2 * l + 1, off = fh_eq_irreps_offset(ir, b);
            double sg = invert ? ir->p[b] : 1.0;
            const double *Dl = D + eqt_doff(l);
            for (int m = 0; m < d; m++)
                for (int k = 0; k < c; k++) {
                    double s = 0;
                    for (int j = 0; j < d; j++) s += Dl[m * d + j] * x[((long)a * dim + off + j) * c + k];
                    y[((long)a * dim + off + m) * c + k] = sg * s;
                }
        }
}

/* ||a - b|| / ||b|| (or ||a - b|| if b = 0). */
static inline double eqt_rel_err(const double *a, const double *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static inline double eqt_dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Central finite differences of loss() with respect to v[0..n), compared with grad:
 * returns ||grad - fd|| / ||fd||. */
typedef double (*eqt_loss_fn)(void *ctx);
static inline double eqt_fd_check(eqt_loss_fn loss, void *ctx, double *v, size_t n, const double *grad,
                           double h)
{
    double *fd = malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        double keep = v[i];
        v[i] = keep + h;
        double lp = loss(ctx);
        v[i] = keep - h;
        double lm = loss(ctx);
        v[i] = keep;
        fd[i] = (lp - lm) / (2 * h);
    }
    double err = eqt_rel_err(grad, fd, n);
    double nfd = sqrt(eqt_dot(fd, fd, n));
    free(fd);
    /* A gradient that is identically zero would make the check vacuous. */
    return nfd > 0 ? err : 1.0;
}

#endif
