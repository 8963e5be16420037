/* Spherical harmonics, Wigner matrices and real Clebsch-Gordan coefficients: normalisation and
 * orthogonality by exact quadrature, known closed forms, parity, the rotation group law, CG
 * orthogonality/completeness, the equivariance identity D3 C = C (D1 x D2) with D built from the
 * harmonics alone, nonzero odd blocks (the cross product), and the product rule of harmonics. */
#include <criterion/criterion.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_sf_coupling.h>
#include <stdio.h>

#include "test_eq_util.h"

#define LQ 8   /* highest degree tested */

/* Dense copy of block (l1, l2, l3): out[(m1 * d2 + m2) * d3 + m3], indices m + l. */
static void dense_block(const fh_eq_cg *cg, int l1, int l2, int l3, double *out)
{
    int n, d2 = 2 * l2 + 1, d3 = 2 * l3 + 1;
    memset(out, 0, sizeof(double) * (2 * l1 + 1) * d2 * d3);
    const fh_eq_cg_entry *e = fh_eq_cg_block(cg, l1, l2, l3, &n);
    for (int i = 0; i < n; i++) out[(e[i].m1 * d2 + e[i].m2) * d3 + e[i].m3] = e[i].c;
}

Test(eq_sph, closed_forms_and_norm)
{
    eqt_seed(1);
    for (int t = 0; t < 50; t++) {
        double v[3] = {eqt_normal(), eqt_normal(), eqt_normal()};
        double r = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        double x = v[0] / r, y = v[1] / r, z = v[2] / r;
        double Y[(LQ + 1) * (LQ + 1)];
        fh_eq_sph(LQ, 1, v, Y, NULL);
        cr_assert_float_eq(Y[0], 1.0, 1e-14);
        cr_assert_float_eq(Y[1], sqrt(3.0) * y, 1e-14);
        cr_assert_float_eq(Y[2], sqrt(3.0) * z, 1e-14);
        cr_assert_float_eq(Y[3], sqrt(3.0) * x, 1e-14);
        cr_assert_float_eq(Y[4], sqrt(15.0) * x * y, 1e-13);
        cr_assert_float_eq(Y[5], sqrt(15.0) * y * z, 1e-13);
        cr_assert_float_eq(Y[6], sqrt(5.0) / 2 * (3 * z * z - 1), 1e-13);
        cr_assert_float_eq(Y[7], sqrt(15.0) * x * z, 1e-13);
        cr_assert_float_eq(Y[8], sqrt(15.0) / 2 * (x * x - y * y), 1e-13);
        for (int l = 0; l <= LQ; l++) {
            double s = 0;
            for (int m = 0; m < 2 * l + 1; m++) s += Y[l * l + m] * Y[l * l + m];
            cr_assert_float_eq(s, 2 * l + 1, 1e-11, "l=%d: sum Y^2 = %.15g", l, s);
        }
        /* parity and scale invariance */
        double w[3] = {-2.5 * v[0], -2.5 * v[1], -2.5 * v[2]}, Yw[(LQ + 1) * (LQ + 1)];
        fh_eq_sph(LQ, 1, w, Yw, NULL);
        for (int l = 0; l <= LQ; l++)
            for (int m = 0; m < 2 * l + 1; m++)
                cr_assert_float_eq(Yw[l * l + m], (l % 2 ? -1 : 1) * Y[l * l + m], 1e-12);
    }
}

/* (1/4pi) int Y_lm Y_l'm' = delta, by Gauss-Legendre in cos(theta) x trapezoid in phi (exact for
 * these polynomial degrees). */
Test(eq_sph, orthonormal_by_quadrature)
{
    const int nz = 12, nphi = 24, nsh = (LQ + 1) * (LQ + 1);
    gsl_integration_glfixed_table *tab = gsl_integration_glfixed_table_alloc(nz);
    double *G = calloc((size_t)nsh * nsh, sizeof(double));
    for (int i = 0; i < nz; i++) {
        double z, wz;
        gsl_integration_glfixed_point(-1, 1, (size_t)i, &z, &wz, tab);
        for (int j = 0; j < nphi; j++) {
            double ph = 2 * 3.14159265358979323846 * j / nphi, s = sqrt(1 - z * z);
            double v[3] = {s * cos(ph), s * sin(ph), z}, Y[(LQ + 1) * (LQ + 1)];
            fh_eq_sph(LQ, 1, v, Y, NULL);
            double w = wz * (2 * 3.14159265358979323846 / nphi) / (4 * 3.14159265358979323846);
            for (int a = 0; a < nsh; a++)
                for (int b = 0; b < nsh; b++) G[a * nsh + b] += w * Y[a] * Y[b];
        }
    }
    for (int a = 0; a < nsh; a++)
        for (int b = 0; b < nsh; b++) {
            /* component normalisation: the mean of Y_lm^2 over the sphere is 1 */
            double want = a == b ? 1.0 : 0.0;
            cr_assert(fabs(G[a * nsh + b] - want) < 1e-12, "Gram[%d][%d] = %.15g", a, b, G[a * nsh + b]);
        }
    free(G);
    gsl_integration_glfixed_table_free(tab);
}

Test(eq_wigner, group_law_and_vectors)
{
    eqt_seed(2);
    int sz = fh_eq_wigner_size(LQ);
    double *D1 = malloc(sizeof(double) * sz), *D2 = malloc(sizeof(double) * sz);
    double *D12 = malloc(sizeof(double) * sz);
    double R1[9], R2[9], R12[9], I3[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    eqt_random_rotation(R1);
    eqt_random_rotation(R2);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            R12[3 * i + j] = 0;
            for (int k = 0; k < 3; k++) R12[3 * i + j] += R1[3 * i + k] * R2[3 * k + j];
        }
    cr_assert_eq(fh_eq_wigner_d(LQ, R1, D1, NULL), FH_OK);
    cr_assert_eq(fh_eq_wigner_d(LQ, R2, D2, NULL), FH_OK);
    cr_assert_eq(fh_eq_wigner_d(LQ, R12, D12, NULL), FH_OK);
    for (int l = 0; l <= LQ; l++) {
        int d = 2 * l + 1;
        const double *A = D1 + eqt_doff(l), *B = D2 + eqt_doff(l), *AB = D12 + eqt_doff(l);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) {
                double s = 0, o = 0;
                for (int k = 0; k < d; k++) s += A[i * d + k] * B[k * d + j], o += A[i * d + k] * A[j * d + k];
                cr_assert(fabs(s - AB[i * d + j]) < 1e-12, "D(R1R2) != D(R1)D(R2) l=%d", l);
                cr_assert(fabs(o - (i == j)) < 1e-12, "D not orthogonal l=%d", l);
            }
    }
    /* D^1 is the rotation matrix in the order (y, z, x). */
    const int perm[3] = {1, 2, 0};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            cr_assert(fabs(D1[1 + i * 3 + j] - R1[3 * perm[i] + perm[j]]) < 1e-12);
    cr_assert_eq(fh_eq_wigner_d(3, I3, D1, NULL), FH_OK);
    for (int l = 0; l <= 3; l++)
        for (int i = 0; i < 2 * l + 1; i++)
            for (int j = 0; j < 2 * l + 1; j++)
                cr_assert(fabs(D1[eqt_doff(l) + i * (2 * l + 1) + j] - (i == j)) < 1e-13);
    free(D1), free(D2), free(D12);
}

Test(eq_cg, orthogonality_and_completeness)
{
    fh_err err;
    fh_eq_cg *cg = fh_eq_cg_alloc(LQ, &err);
    cr_assert_not_null(cg, "%s", err.msg);
    enum { DM = 2 * LQ + 1 };
    static double blk[LQ + 1][DM * DM * DM];
    double worst = 0;
    for (int l1 = 0; l1 <= 4; l1++)
        for (int l2 = 0; l2 <= 4; l2++) {
            int d1 = 2 * l1 + 1, d2 = 2 * l2 + 1;
            for (int l3 = abs(l1 - l2); l3 <= l1 + l2; l3++) dense_block(cg, l1, l2, l3, blk[l3]);
            /* sum_{m1 m2} C^{l3}_{m1 m2 m3} C^{l3'}_{m1 m2 m3'} = delta delta */
            for (int l3 = abs(l1 - l2); l3 <= l1 + l2; l3++)
                for (int l3b = abs(l1 - l2); l3b <= l1 + l2; l3b++)
                    for (int m3 = 0; m3 < 2 * l3 + 1; m3++)
                        for (int m3b = 0; m3b < 2 * l3b + 1; m3b++) {
                            double s = 0;
                            for (int a = 0; a < d1 * d2; a++)
                                s += blk[l3][a * (2 * l3 + 1) + m3] * blk[l3b][a * (2 * l3b + 1) + m3b];
                            double e = fabs(s - (l3 == l3b && m3 == m3b));
                            if (e > worst) worst = e;
                        }
            /* sum_{l3 m3} C_{m1 m2 m3} C_{m1' m2' m3} = delta delta */
            for (int a = 0; a < d1 * d2; a++)
                for (int b = 0; b < d1 * d2; b++) {
                    double s = 0;
                    for (int l3 = abs(l1 - l2); l3 <= l1 + l2; l3++)
                        for (int m3 = 0; m3 < 2 * l3 + 1; m3++)
                            s += blk[l3][a * (2 * l3 + 1) + m3] * blk[l3][b * (2 * l3 + 1) + m3];
                    double e = fabs(s - (a == b));
                    if (e > worst) worst = e;
                }
        }
    cr_assert(worst < 1e-12, "CG orthogonality violated by %.3e", worst);
    /* the lookup by signed m agrees with the block listing; outside the triangle it is 0 */
    dense_block(cg, 2, 3, 4, blk[0]);
    for (int m1 = -2; m1 <= 2; m1++)
        for (int m2 = -3; m2 <= 3; m2++)
            for (int m3 = -4; m3 <= 4; m3++)
                cr_assert_eq(fh_eq_cg_get(cg, 2, m1, 3, m2, 4, m3), blk[0][((m1 + 2) * 7 + m2 + 3) * 9 + m3 + 4]);
    cr_assert_eq(fh_eq_cg_get(cg, 1, 0, 1, 0, 3, 0), 0.0);
    fh_eq_cg_free(cg);
}

Test(eq_cg, equivariance_identity)
{
    const int L = 5;
    fh_err err;
    fh_eq_cg *cg = fh_eq_cg_alloc(L, &err);
    cr_assert_not_null(cg, "%s", err.msg);
    eqt_seed(3);
    double *D = malloc(sizeof(double) * fh_eq_wigner_size(L));
    static double C[11 * 11 * 11];
    double worst = 0;
    int blocks = 0, odd_blocks = 0;
    for (int trial = 0; trial < 3; trial++) {
        double R[9];
        eqt_random_rotation(R);
        cr_assert_eq(fh_eq_wigner_d(L, R, D, NULL), FH_OK);
        for (int l1 = 0; l1 <= L; l1++)
            for (int l2 = 0; l2 <= L; l2++)
                for (int l3 = abs(l1 - l2); l3 <= l1 + l2 && l3 <= L; l3++) {
                    const double *D1 = D + eqt_doff(l1), *D2 = D + eqt_doff(l2), *D3 = D + eqt_doff(l3);
                    int d1 = 2 * l1 + 1, d2 = 2 * l2 + 1, d3 = 2 * l3 + 1;
                    dense_block(cg, l1, l2, l3, C);
                    double norm = 0;
                    /* sum_{m1 m2} C[m1 m2 m3] D1[m1 a] D2[m2 b] = sum_{m3'} D3[m3 m3'] C[a b m3'] */
                    for (int a = 0; a < d1; a++)
                        for (int b = 0; b < d2; b++)
                            for (int m3 = 0; m3 < d3; m3++) {
                                double lhs = 0, rhs = 0;
                                for (int m1 = 0; m1 < d1; m1++)
                                    for (int m2 = 0; m2 < d2; m2++)
                                        lhs += C[(m1 * d2 + m2) * d3 + m3] * D1[m1 * d1 + a] * D2[m2 * d2 + b];
                                for (int k = 0; k < d3; k++) rhs += D3[m3 * d3 + k] * C[(a * d2 + b) * d3 + k];
                                if (fabs(lhs - rhs) > worst) worst = fabs(lhs - rhs);
                                norm += rhs * rhs;
                            }
                    cr_assert(norm > 0.5, "block (%d,%d,%d) vanishes", l1, l2, l3);
                    if (trial == 0) {
                        blocks++;
                        odd_blocks += (l1 + l2 + l3) % 2;
                    }
                }
    }
    cr_assert(worst < 1e-12, "D3 C != C (D1 x D2): %.3e", worst);
    cr_assert(odd_blocks > 0 && blocks > odd_blocks);
    free(D);
    fh_eq_cg_free(cg);
}

/* 1 x 1 -> 1 is the cross product (in the (y, z, x) order), with norm 1/sqrt 2. */
Test(eq_cg, cross_product_block)
{
    fh_eq_cg *cg = fh_eq_cg_alloc(2, NULL);
    cr_assert_not_null(cg);
    eqt_seed(4);
    double u[3], v[3];
    for (int k = 0; k < 3; k++) u[k] = eqt_normal(), v[k] = eqt_normal();
    double uy[3] = {u[1], u[2], u[0]}, vy[3] = {v[1], v[2], v[0]};   /* (y, z, x) */
    double z[3] = {0, 0, 0};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 3; c++) z[c] += fh_eq_cg_get(cg, 1, a - 1, 1, b - 1, 1, c - 1) * uy[a] * vy[b];
    double cr[3] = {u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]};
    double cry[3] = {cr[1], cr[2], cr[0]};
    double s = z[0] / cry[0];
    cr_assert(fabs(fabs(s) - 1 / sqrt(2.0)) < 1e-13, "scale %.15g", s);
    for (int c = 0; c < 3; c++) cr_assert(fabs(z[c] - s * cry[c]) < 1e-13);
    int n;
    fh_eq_cg_block(cg, 1, 1, 1, &n);
    cr_assert_eq(n, 6);
    fh_eq_cg_free(cg);
}

/* sum_{m1 m2} C[m1 m2 m3] Y_l1m1(u) Y_l2m2(u) = sqrt((2l1+1)(2l2+1)/(2l3+1)) <l1 0 l2 0|l3 0> Y_l3m3(u)
 * (zero when l1+l2+l3 is odd): harmonics and coefficients use the same real basis. */
Test(eq_cg, product_of_harmonics)
{
    const int L = 4;
    fh_eq_cg *cg = fh_eq_cg_alloc(2 * L, NULL);
    cr_assert_not_null(cg);
    eqt_seed(5);
    for (int t = 0; t < 5; t++) {
        double v[3] = {eqt_normal(), eqt_normal(), eqt_normal()}, Y[(2 * L + 1) * (2 * L + 1)];
        fh_eq_sph(2 * L, 1, v, Y, NULL);
        for (int l1 = 0; l1 <= L; l1++)
            for (int l2 = 0; l2 <= L; l2++)
                for (int l3 = abs(l1 - l2); l3 <= l1 + l2; l3++) {
                    double c0 = ((l1 - l2) % 2 ? -1.0 : 1.0) * sqrt(2.0 * l3 + 1) *
                                gsl_sf_coupling_3j(2 * l1, 2 * l2, 2 * l3, 0, 0, 0);
                    double kappa = sqrt((2.0 * l1 + 1) * (2 * l2 + 1) / (2 * l3 + 1)) * c0;
                    for (int m3 = -l3; m3 <= l3; m3++) {
                        double s = 0;
                        for (int m1 = -l1; m1 <= l1; m1++)
                            for (int m2 = -l2; m2 <= l2; m2++)
                                s += fh_eq_cg_get(cg, l1, m1, l2, m2, l3, m3) * Y[l1 * l1 + l1 + m1] *
                                     Y[l2 * l2 + l2 + m2];
                        double want = kappa * Y[l3 * l3 + l3 + m3];
                        cr_assert(fabs(s - want) < 1e-12, "(%d,%d,%d,m3=%d): %.15g vs %.15g", l1, l2,
                                  l3, m3, s, want);
                    }
                }
    }
    fh_eq_cg_free(cg);
}

Test(eq_irreps, parse_and_format)
{
    fh_eq_irreps ir;
    int mul;
    fh_err err;
    cr_assert_eq(fh_eq_irreps_parse("32x0e+32x1o + 32x2e", &ir, &mul, &err), FH_OK);
    cr_assert_eq(mul, 32);
    cr_assert_eq(ir.n, 3);
    cr_assert_eq(fh_eq_irreps_dim(&ir), 9);
    cr_assert_eq(fh_eq_irreps_offset(&ir, 2), 4);
    char buf[64];
    fh_eq_irreps_format(&ir, mul, buf, sizeof buf);
    cr_assert_str_eq(buf, "32x0e+32x1o+32x2e");
    cr_assert_eq(fh_eq_irreps_parse("16x0e+32x1o", &ir, &mul, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "same multiplicity") != NULL, "%s", err.msg);
    cr_assert_eq(fh_eq_irreps_parse("0e+1x", &ir, &mul, &err), FH_EINPUT);
    cr_assert_eq(fh_eq_irreps_parse("0e+0e", &ir, &mul, &err), FH_EINPUT);
    cr_assert_eq(fh_eq_irreps_parse("12o", &ir, &mul, &err), FH_EINPUT);
    fh_eq_irreps in, out;
    fh_eq_irreps_parse("0e+1o", &in, NULL, NULL);
    fh_eq_irreps_tp_reachable(&in, 2, 2, &out);
    fh_eq_irreps_format(&out, 0, buf, sizeof buf);
    cr_assert_str_eq(buf, "0e+1e+1o+2e+2o");
}
