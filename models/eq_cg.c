/* Real Clebsch-Gordan coefficients for the real spherical harmonics of eq_sph.c.
 *
 * Complex CG from GSL's Wigner 3j symbols:
 *   <l1 m1 l2 m2 | l3 m3> = (-1)^(l1-l2+m3) sqrt(2l3+1) (l1 l2 l3; m1 m2 -m3).
 * The real harmonics are Y_real = U Y_complex (Condon-Shortley complex harmonics) with, for m > 0,
 *   U[m][+m] = (-1)^m/sqrt2,  U[m][-m] = 1/sqrt2,  U[-m][+m] = -i(-1)^m/sqrt2,  U[-m][-m] = i/sqrt2,
 * and U[0][0] = 1. A coupling z_c = C (x_c (x) y_c) becomes in the real basis
 *   C_real[m1 m2 m3] = sum U3[m3][mu3] <l1 mu1 l2 mu2|l3 mu3> conj(U1[m1][mu1]) conj(U2[m2][mu2]),
 * which is purely real when l1+l2+l3 is even and purely imaginary when it is odd (e.g. 1x1->1,
 * the cross product). Why the factor -i on odd blocks: taking the real part there would silently
 * zero those couplings; any constant phase keeps the map equivariant, and -i makes it real.
 * The construction checks that the discarded part vanishes. Unitarity of U keeps the orthogonality
 * relations of the complex coefficients. Entries are stored sparsely per (l1, l2, l3) block. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_sf_coupling.h>
#include "fh_equivariant.h"

struct fh_eq_cg {
    int lmax;
    int *start;   /* [(lmax+1)^3 + 1]: entries of block (l1,l2,l3) are start[b] .. start[b+1]-1 */
    fh_eq_cg_entry *e;
};

static int block_index(int lmax, int l1, int l2, int l3)
{
    return (l1 * (lmax + 1) + l2) * (lmax + 1) + l3;
}

/* U[m][mu] for real index m and complex index mu (both signed). */
static double complex u_elem(int m, int mu)
{
    const double s = 1.0 / sqrt(2.0);
    int am = abs(m);
    double sg = (am % 2) ? -1.0 : 1.0;
    if (m == 0) return mu == 0 ? 1.0 : 0.0;
    if (mu != am && mu != -am) return 0.0;
    if (m > 0) return mu > 0 ? sg * s : s;
    return mu > 0 ? -I * sg * s : I * s;
}

static double cg_complex(int l1, int m1, int l2, int m2, int l3, int m3)
{
    if (m1 + m2 != m3 || abs(m3) > l3) return 0.0;
    double w = gsl_sf_coupling_3j(2 * l1, 2 * l2, 2 * l3, 2 * m1, 2 * m2, -2 * m3);
    int ph = l1 - l2 + m3;
    return ((ph % 2 + 2) % 2 ? -1.0 : 1.0) * sqrt(2.0 * l3 + 1.0) * w;
}

/* Dense real block [m1][m2][m3]; returns the largest magnitude of the discarded part. */
static double real_block(int l1, int l2, int l3, double *out)
{
    int d2 = 2 * l2 + 1, d3 = 2 * l3 + 1;
    int odd = (l1 + l2 + l3) % 2;
    double bad = 0.0;
    /* The complex coefficients, once: cc[mu1][mu2] with mu3 = mu1 + mu2. */
    double cc[(2 * FH_EQ_LMAX + 1) * (2 * FH_EQ_LMAX + 1)];
    for (int mu1 = -l1; mu1 <= l1; mu1++)
        for (int mu2 = -l2; mu2 <= l2; mu2++)
            cc[(mu1 + l1) * d2 + mu2 + l2] = cg_complex(l1, mu1, l2, mu2, l3, mu1 + mu2);
    for (int m1 = -l1; m1 <= l1; m1++)
        for (int m2 = -l2; m2 <= l2; m2++)
            for (int m3 = -l3; m3 <= l3; m3++) {
                double complex s = 0.0;
                for (int s1 = -1; s1 <= 1; s1 += 2)
                    for (int s2 = -1; s2 <= 1; s2 += 2) {
                        int mu1 = s1 * abs(m1), mu2 = s2 * abs(m2), mu3 = mu1 + mu2;
                        if ((m1 == 0 && s1 < 0) || (m2 == 0 && s2 < 0)) continue;
                        if (abs(mu3) != abs(m3)) continue;
                        double c = cc[(mu1 + l1) * d2 + mu2 + l2];
                        if (c == 0.0) continue;
                        s += u_elem(m3, mu3) * c * conj(u_elem(m1, mu1)) * conj(u_elem(m2, mu2));
                    }
                double keep = odd ? cimag(s) : creal(s), drop = odd ? creal(s) : cimag(s);
                if (fabs(drop) > bad) bad = fabs(drop);
                out[((m1 + l1) * d2 + (m2 + l2)) * d3 + (m3 + l3)] = keep;
            }
    return bad;
}

fh_eq_cg *fh_eq_cg_alloc(int lmax, fh_err *err)
{
    if (lmax < 0 || lmax > FH_EQ_LMAX) {
        fh_err_set(err, FH_EINPUT, "Clebsch-Gordan table: lmax %d outside 0..%d", lmax, FH_EQ_LMAX);
        return NULL;
    }
    fh_eq_cg *cg = calloc(1, sizeof *cg);
    int nb = (lmax + 1) * (lmax + 1) * (lmax + 1);
    int dmax = 2 * lmax + 1;
    double *dense = malloc(sizeof(double) * dmax * dmax * dmax);
    if (!cg || !dense) goto oom;
    cg->lmax = lmax;
    cg->start = calloc((size_t)nb + 1, sizeof(int));
    if (!cg->start) goto oom;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    /* Two passes: count, then fill. */
    for (int pass = 0; pass < 2; pass++) {
        long count = 0;
        for (int l1 = 0; l1 <= lmax; l1++)
            for (int l2 = 0; l2 <= lmax; l2++)
                for (int l3 = 0; l3 <= lmax; l3++) {
                    int b = block_index(lmax, l1, l2, l3);
                    if (pass == 1) cg->start[b] = (int)count;
                    if (l3 < abs(l1 - l2) || l3 > l1 + l2) continue;
                    double bad = real_block(l1, l2, l3, dense);
                    if (bad > 1e-12) {
                        gsl_set_error_handler(old);
                        fh_err_set(err, FH_EFAIL,
                                   "Clebsch-Gordan block (%d,%d,%d) not real in the chosen phase "
                                   "convention (residual %.3g)", l1, l2, l3, bad);
                        free(dense);
                        fh_eq_cg_free(cg);
                        return NULL;
                    }
                    int d1 = 2 * l1 + 1, d2 = 2 * l2 + 1, d3 = 2 * l3 + 1;
                    for (int m3 = 0; m3 < d3; m3++)
                        for (int m1 = 0; m1 < d1; m1++)
                            for (int m2 = 0; m2 < d2; m2++) {
                                double c = dense[(m1 * d2 + m2) * d3 + m3];
                                if (fabs(c) < 1e-13) continue;
                                if (pass == 1) {
                                    fh_eq_cg_entry *e = &cg->e[count];
                                    e->m1 = m1, e->m2 = m2, e->m3 = m3, e->c = c;
                                }
                                count++;
                            }
                }
        if (pass == 0) {
            cg->e = malloc(sizeof(fh_eq_cg_entry) * (size_t)(count ? count : 1));
            if (!cg->e) {
                gsl_set_error_handler(old);
                goto oom;
            }
        } else {
            cg->start[nb] = (int)count;
        }
    }
    gsl_set_error_handler(old);
    free(dense);
    return cg;
oom:
    fh_err_set(err, FH_EFAIL, "Clebsch-Gordan table: out of memory");
    free(dense);
    fh_eq_cg_free(cg);
    return NULL;
}

void fh_eq_cg_free(fh_eq_cg *cg)
{
    if (!cg) return;
    free(cg->start);
    free(cg->e);
    free(cg);
}

int fh_eq_cg_lmax(const fh_eq_cg *cg) { return cg->lmax; }

const fh_eq_cg_entry *fh_eq_cg_block(const fh_eq_cg *cg, int l1, int l2, int l3, int *n)
{
    *n = 0;
    if (l1 < 0 || l2 < 0 || l3 < 0 || l1 > cg->lmax || l2 > cg->lmax || l3 > cg->lmax) return NULL;
    if (l3 < abs(l1 - l2) || l3 > l1 + l2) return NULL;
    int b = block_index(cg->lmax, l1, l2, l3);
    *n = cg->start[b + 1] - cg->start[b];
    return *n ? cg->e + cg->start[b] : NULL;
}

double fh_eq_cg_get(const fh_eq_cg *cg, int l1, int m1, int l2, int m2, int l3, int m3)
{
    int n;
    const fh_eq_cg_entry *e = fh_eq_cg_block(cg, l1, l2, l3, &n);
    for (int i = 0; i < n; i++)
        if (e[i].m1 == m1 + l1 && e[i].m2 == m2 + l2 && e[i].m3 == m3 + l3) return e[i].c;
    return 0.0;
}
