/* Would single precision pay in the tensor product? The issue asks for single precision "only
 * where accuracy allows"; this measures what it could buy before any of it goes into the model.
 *
 * The second layer of the shipped stilbene model's message step (16 channels, input 0e+1o,
 * harmonics to l = 2, messages 0e+1o+1e+2e+2o) on trans-stilbene's neighbour pairs within 5 A,
 * pair form: the forward pass with the library's kernel (double) and this file's copy of its
 * loop in double and in float (8 lanes per AVX2 register instead of 4), with the same loop
 * program; the reverse pass (input gradient, dL/dY, dL/d|u|) with the library's kernel and this
 * file's float copy of it. Prints the median time of each over repeated runs and the float
 * results' largest deviations, relative to the largest value of each. Last, the committee's
 * three members in lockstep (one 48-channel pass against three 16-channel ones), in double.
 * Run: build/tests/bench_tp_precision [runs]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "eq_tp_internal.h"
#include "fh_equivariant.h"
#include "fh_xyz.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define HOT __attribute__((target_clones("avx2", "default")))
#else
#define HOT
#endif

typedef double v4d __attribute__((vector_size(32)));
typedef float v8f __attribute__((vector_size(32)));

/* The library's forward loop (models/eq_tp_pairs.c) for 16 channels, in double ... */
HOT static void fwd_double(const fh_eq_tp *tp, int np, const int *pi, const int *pj,
                           const double *x, const double *A, const double *R, double *y)
{
    const int C = 16, D = tp->dim_in, O = tp->dim_out, nw = tp->n_paths * C;
    for (int e = 0; e < np; e++)
        for (int p = 0; p < tp->n_paths; p++) {
            const tp_path *P = &tp->paths[p];
            const tp_group *grp = tp->fgrp + tp->fgrp0[p];
            const tp_item *it = tp->fitem + P->pair0;
            const int ng = tp->fgrp0[p + 1] - tp->fgrp0[p];
            const double *ap = A + (long)e * tp->n_coeffs + P->pair0, *rv = R + (long)e * nw + p * C;
            const double sg = P->l2 % 2 ? -1.0 : 1.0;
            for (int dir = 0; dir < 2; dir++) {
                int to = dir ? pj[e] : pi[e], from = dir ? pi[e] : pj[e];
                const double *xs = x + ((long)from * D + P->x_off) * C;
                double *yk = y + ((long)to * O + P->y_off) * C;
                double s = dir ? sg : 1.0;
                const tp_item *iq = it;
                for (int g = 0; g < ng; g++) {
                    const v4d z = {0, 0, 0, 0};
                    v4d a0 = z, a1 = z, a2 = z, a3 = z, r, t;
                    for (int k = 0; k < grp[g].n; k++, iq++) {
                        v4d c = z + s * ap[iq->q];   /* one broadcast (eq_internal.h) */
                        const double *xm = xs + iq->row;
                        memcpy(&t, xm, 32), a0 += c * t;
                        memcpy(&t, xm + 4, 32), a1 += c * t;
                        memcpy(&t, xm + 8, 32), a2 += c * t;
                        memcpy(&t, xm + 12, 32), a3 += c * t;
                    }
                    double *yy = yk + grp[g].row;
                    memcpy(&r, rv, 32), memcpy(&t, yy, 32), t += a0 * r, memcpy(yy, &t, 32);
                    memcpy(&r, rv + 4, 32), memcpy(&t, yy + 4, 32), t += a1 * r, memcpy(yy + 4, &t, 32);
                    memcpy(&r, rv + 8, 32), memcpy(&t, yy + 8, 32), t += a2 * r, memcpy(yy + 8, &t, 32);
                    memcpy(&r, rv + 12, 32), memcpy(&t, yy + 12, 32), t += a3 * r, memcpy(yy + 12, &t, 32);
                }
            }
        }
}

/* ... and in float. */
HOT static void fwd_float(const fh_eq_tp *tp, int np, const int *pi, const int *pj, const float *x,
                          const float *A, const float *R, float *y)
{
    const int C = 16, D = tp->dim_in, O = tp->dim_out, nw = tp->n_paths * C;
    for (int e = 0; e < np; e++)
        for (int p = 0; p < tp->n_paths; p++) {
            const tp_path *P = &tp->paths[p];
            const tp_group *grp = tp->fgrp + tp->fgrp0[p];
            const tp_item *it = tp->fitem + P->pair0;
            const int ng = tp->fgrp0[p + 1] - tp->fgrp0[p];
            const float *ap = A + (long)e * tp->n_coeffs + P->pair0, *rv = R + (long)e * nw + p * C;
            const float sg = P->l2 % 2 ? -1.0f : 1.0f;
            for (int dir = 0; dir < 2; dir++) {
                int to = dir ? pj[e] : pi[e], from = dir ? pi[e] : pj[e];
                const float *xs = x + ((long)from * D + P->x_off) * C;
                float *yk = y + ((long)to * O + P->y_off) * C;
                float s = dir ? sg : 1.0f;
                const tp_item *iq = it;
                for (int g = 0; g < ng; g++) {
                    const v8f z = {0, 0, 0, 0, 0, 0, 0, 0};
                    v8f a0 = z, a1 = z, r, t;
                    for (int k = 0; k < grp[g].n; k++, iq++) {
                        v8f c = z + s * ap[iq->q];
                        const float *xm = xs + iq->row;
                        memcpy(&t, xm, 32), a0 += c * t;
                        memcpy(&t, xm + 8, 32), a1 += c * t;
                    }
                    float *yy = yk + grp[g].row;
                    memcpy(&r, rv, 32), memcpy(&t, yy, 32), t += a0 * r, memcpy(yy, &t, 32);
                    memcpy(&r, rv + 8, 32), memcpy(&t, yy + 8, 32), t += a1 * r, memcpy(yy + 8, &t, 32);
                }
            }
        }
}

/* The reverse pass in float: the library's pairs_backward (models/eq_tp_pairs.c) for 16
 * channels with the input gradient gx, dL/dY (through dL/dA) and dL/d|u| (gr); both directions. */
HOT static void bwd_float(const fh_eq_tp *tp, int np, const int *pi, const int *pj, const float *x,
                          const float *A, const float *R, const float *dR, const float *gy,
                          float *gx, float *gY, float *gr, float *dbuf)
{
    const int C = 16, D = tp->dim_in, O = tp->dim_out, nw = tp->n_paths * C;
    for (int e = 0; e < np; e++)
        for (int p = 0; p < tp->n_paths; p++) {
            const tp_path *P = &tp->paths[p];
            const tp_pair *pr = tp->pairs + P->pair0;
            const tp_group *grp = tp->bgrp + tp->bgrp0[p];
            const tp_item *it = tp->bitem + P->pair0;
            const int ng = tp->bgrp0[p + 1] - tp->bgrp0[p];
            const float *ap = A + (long)e * tp->n_coeffs + P->pair0, *rv = R + (long)e * nw + p * C;
            const float sg = P->l2 % 2 ? -1.0f : 1.0f;
            const v8f z = {0, 0, 0, 0, 0, 0, 0, 0};
            v8f r0, r1, g0 = z, g1 = z;
            memcpy(&r0, rv, 32), memcpy(&r1, rv + 8, 32);
            for (int dir = 0; dir < 2; dir++) {
                int to = dir ? pj[e] : pi[e], from = dir ? pi[e] : pj[e];
                const float *gk = gy + ((long)to * O + P->y_off) * C;
                const float *xs = x + ((long)from * D + P->x_off) * C;
                float *gxs = gx + ((long)from * D + P->x_off) * C;
                float *db = dbuf + (long)dir * 8 * tp->max_npair;
                float s = dir ? sg : 1.0f;
                const tp_item *iq = it;
                for (int g = 0; g < ng; g++) {
                    v8f x0, x1, a0 = z, a1 = z, G0, G1, t;
                    memcpy(&x0, xs + grp[g].row, 32), memcpy(&x1, xs + grp[g].row + 8, 32);
                    v8f xr0 = x0 * r0, xr1 = x1 * r1;
                    for (int k = 0; k < grp[g].n; k++, iq++) {
                        v8f c = z + s * ap[iq->q];
                        memcpy(&G0, gk + iq->row, 32), memcpy(&G1, gk + iq->row + 8, 32);
                        a0 += c * G0, a1 += c * G1;
                        t = s * (G0 * xr0 + G1 * xr1);
                        memcpy(db + 8 * iq->q, &t, 32);
                    }
                    float *gm = gxs + grp[g].row;
                    memcpy(&t, gm, 32), t += r0 * a0, memcpy(gm, &t, 32);
                    memcpy(&t, gm + 8, 32), t += r1 * a1, memcpy(gm + 8, &t, 32);
                    g0 += x0 * a0, g1 += x1 * a1;
                }
            }
            const float *dRp = dR + (long)e * nw + p * C;
            v8f d0, d1;
            memcpy(&d0, dRp, 32), memcpy(&d1, dRp + 8, 32);
            v8f q = g0 * d0 + g1 * d1;
            gr[e] += ((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7]));
            float *gsh = gY + (long)e * tp->nsh + P->sh_off;
            for (int k = 0; k < P->npair; k++) {
                const float *u = dbuf + 8 * k, *w = dbuf + 8 * (tp->max_npair + k);
                float ga = 0;
                for (int l = 0; l < 8; l++) ga += u[l] + w[l];
                for (int t2 = pr[k].e0; t2 < pr[k].e0 + pr[k].ne; t2++)
                    gsh[tp->cg_m2[t2]] += (float)tp->cg_c[t2] * ga;
            }
        }
}

/* The committee in lockstep: three members' 16 channels side by side as one 48-channel tensor
 * product (the harmonics and the loop program are shared; each member keeps its own features
 * and radial weights). Median time of the library's forward + reverse pass at 48 channels
 * against three passes at 16. */
static void lockstep(const fh_eq_cg *cg, const fh_eq_irreps *in, const fh_eq_irreps *out, int n,
                     int np, const int *pi, const int *pj, const double *Y, int runs)
{
    fh_err err = {0};
    double *tm = malloc(sizeof(double) * 2 * runs);
    for (int v = 0; v < 2; v++) {
        const int C = v ? 48 : 16, calls = v ? 1 : 3;
        fh_eq_tp *tp = fh_eq_tp_alloc(cg, FH_EQ_TP_CHANNELWISE, in, C, 2, out, C, 1, &err);
        if (!tp) {
            fprintf(stderr, "%s\n", err.msg);
            free(tm);
            return;
        }
        const int D = tp->dim_in, O = tp->dim_out, nw = fh_eq_tp_n_weights(tp);
        const int nc = fh_eq_tp_n_coeffs(tp);
        double *A = malloc(sizeof(double) * np * nc), *x = malloc(sizeof(double) * n * D * C);
        double *R = malloc(sizeof(double) * np * nw), *dR = malloc(sizeof(double) * np * nw);
        double *y = malloc(sizeof(double) * n * O * C), *gy = malloc(sizeof(double) * n * O * C);
        double *gx = malloc(sizeof(double) * n * D * C), *gY = malloc(sizeof(double) * np * 9);
        double *gr = malloc(sizeof(double) * np);
        fh_eq_tp_coeffs(tp, np, Y, A);
        for (int i = 0; i < n * D * C; i++) x[i] = 2.0 * rand() / RAND_MAX - 1.0;
        for (int i = 0; i < np * nw; i++) R[i] = 2.0 * rand() / RAND_MAX - 1.0, dR[i] = R[i] * 0.5;
        for (int i = 0; i < n * O * C; i++) gy[i] = 2.0 * rand() / RAND_MAX - 1.0;
        for (int r = 0; r < runs; r++) {
            double t0 = bench_now();
            for (int rep = 0; rep < 100; rep++)
                for (int k = 0; k < calls; k++) {
                    fh_eq_tp_forward_pairs(tp, n, np, pi, pj, x, A, R, y, &err);
                    memset(gx, 0, sizeof(double) * n * D * C), memset(gY, 0, sizeof(double) * np * 9);
                    memset(gr, 0, sizeof(double) * np);
                    fh_eq_tp_backward_pairs(tp, n, np, pi, pj, x, A, R, dR, 1, gy, gx, gY, NULL, gr,
                                            &err);
                }
            tm[v * runs + r] = (bench_now() - t0) * 10;
        }
        bench_sort_median(tm + v * runs, runs);
        free(A), free(x), free(R), free(dR), free(y), free(gy), free(gx), free(gY), free(gr);
        fh_eq_tp_free(tp);
    }
    printf("committee in lockstep (library kernels, double; forward + reverse):\n");
    printf("  three members one after another (3 x 16 channels) %8.1f us\n", 1e3 * tm[runs / 2]);
    printf("  three members at once (48 channels)               %8.1f us   ratio %.2f\n",
           1e3 * tm[runs + runs / 2], tm[runs + runs / 2] / tm[runs / 2]);
    free(tm);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 51;
    if (runs < 1) runs = 1;
    fh_err err = {0};
    fh_xyz *g = NULL;
    if (fh_xyz_read(FH_TEST_SOURCE_DIR "/inputs/geometries/trans-stilbene.xyz", &g, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const int n = g->natoms, C = 16;
    fh_eq_irreps in, out;
    fh_eq_irreps_parse("0e+1o", &in, NULL, NULL);
    fh_eq_irreps_parse("0e+1o+1e+2e+2o", &out, NULL, NULL);
    fh_eq_cg *cg = fh_eq_cg_alloc(2, &err);
    fh_eq_tp *tp = cg ? fh_eq_tp_alloc(cg, FH_EQ_TP_CHANNELWISE, &in, C, 2, &out, C, 1, &err) : NULL;
    if (!tp) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    /* pairs within 5 A, as the model's neighbour list */
    const double rc = 5.0 / 0.529177210903;
    int np = 0, *pi = malloc(sizeof(int) * n * n), *pj = malloc(sizeof(int) * n * n);
    double *u = malloc(sizeof(double) * 3 * n * n);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double d[3], r2 = 0;
            for (int k = 0; k < 3; k++) d[k] = g->x[3 * j + k] - g->x[3 * i + k], r2 += d[k] * d[k];
            if (r2 >= rc * rc) continue;
            pi[np] = i, pj[np] = j;
            memcpy(u + 3 * np, d, sizeof d);
            np++;
        }
    const int D = tp->dim_in, O = tp->dim_out, nw = fh_eq_tp_n_weights(tp), nc = fh_eq_tp_n_coeffs(tp);
    double *Y = malloc(sizeof(double) * np * 9), *A = malloc(sizeof(double) * np * nc);
    double *x = malloc(sizeof(double) * n * D * C), *R = malloc(sizeof(double) * np * nw);
    double *y = malloc(sizeof(double) * n * O * C), *y2 = malloc(sizeof(double) * n * O * C);
    float *xf = malloc(sizeof(float) * n * D * C), *Rf = malloc(sizeof(float) * np * nw);
    float *Af = malloc(sizeof(float) * np * nc), *yf = malloc(sizeof(float) * n * O * C);
    fh_eq_sph(2, np, u, Y, NULL);
    fh_eq_tp_coeffs(tp, np, Y, A);
    srand(7);
    for (int i = 0; i < n * D * C; i++) x[i] = 2.0 * rand() / RAND_MAX - 1.0, xf[i] = (float)x[i];
    for (int i = 0; i < np * nw; i++) R[i] = 2.0 * rand() / RAND_MAX - 1.0, Rf[i] = (float)R[i];
    for (int i = 0; i < np * nc; i++) Af[i] = (float)A[i];

    /* the reverse pass: a seed on the messages, the radial weights' derivative along |u| */
    const int ny = n * O * C, nx = n * D * C;
    double *gy = malloc(sizeof(double) * ny), *dR = malloc(sizeof(double) * np * nw);
    double *gx = malloc(sizeof(double) * nx), *gY = malloc(sizeof(double) * np * 9);
    double *gr = malloc(sizeof(double) * np);
    float *gyf = malloc(sizeof(float) * ny), *dRf = malloc(sizeof(float) * np * nw);
    float *gxf = malloc(sizeof(float) * nx), *gYf = malloc(sizeof(float) * np * 9);
    float *grf = malloc(sizeof(float) * np), *dbf = malloc(sizeof(float) * 16 * tp->max_npair);
    for (int i = 0; i < ny; i++) gy[i] = 2.0 * rand() / RAND_MAX - 1.0, gyf[i] = (float)gy[i];
    for (int i = 0; i < np * nw; i++) dR[i] = 2.0 * rand() / RAND_MAX - 1.0, dRf[i] = (float)dR[i];

    double *t = malloc(sizeof(double) * 5 * runs);
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now();
        for (int rep = 0; rep < 100; rep++)
            fh_eq_tp_forward_pairs(tp, n, np, pi, pj, x, A, R, y, &err);
        double t1 = bench_now();
        for (int rep = 0; rep < 100; rep++) {
            memset(y2, 0, sizeof(double) * n * O * C);
            fwd_double(tp, np, pi, pj, x, A, R, y2);
        }
        double t2 = bench_now();
        for (int rep = 0; rep < 100; rep++) {
            memset(yf, 0, sizeof(float) * n * O * C);
            fwd_float(tp, np, pi, pj, xf, Af, Rf, yf);
        }
        double t3 = bench_now();
        for (int rep = 0; rep < 100; rep++) {
            memset(gx, 0, sizeof(double) * nx), memset(gY, 0, sizeof(double) * np * 9);
            memset(gr, 0, sizeof(double) * np);
            fh_eq_tp_backward_pairs(tp, n, np, pi, pj, x, A, R, dR, 1, gy, gx, gY, NULL, gr, &err);
        }
        double t4 = bench_now();
        for (int rep = 0; rep < 100; rep++) {
            memset(gxf, 0, sizeof(float) * nx), memset(gYf, 0, sizeof(float) * np * 9);
            memset(grf, 0, sizeof(float) * np);
            bwd_float(tp, np, pi, pj, xf, Af, Rf, dRf, gyf, gxf, gYf, grf, dbf);
        }
        double t5 = bench_now();
        t[r] = (t1 - t0) * 10, t[runs + r] = (t2 - t1) * 10, t[2 * runs + r] = (t3 - t2) * 10;
        t[3 * runs + r] = (t4 - t3) * 10, t[4 * runs + r] = (t5 - t4) * 10;
    }
    double ymax = 0, dd = 0, df = 0;
    for (int i = 0; i < n * O * C; i++) {
        ymax = fmax(ymax, fabs(y[i]));
        dd = fmax(dd, fabs(y2[i] - y[i]));
        df = fmax(df, fabs((double)yf[i] - y[i]));
    }
    double gxm = 0, gxd = 0, gYm = 0, gYd = 0, grm = 0, grd = 0;
    for (int i = 0; i < nx; i++) gxm = fmax(gxm, fabs(gx[i])), gxd = fmax(gxd, fabs(gxf[i] - gx[i]));
    for (int i = 0; i < np * 9; i++) gYm = fmax(gYm, fabs(gY[i])), gYd = fmax(gYd, fabs(gYf[i] - gY[i]));
    for (int i = 0; i < np; i++) grm = fmax(grm, fabs(gr[i])), grd = fmax(grd, fabs(grf[i] - gr[i]));
    for (int k = 0; k < 5; k++) bench_sort_median(t + k * runs, runs);
    printf("tensor product, pair form, forward: trans-stilbene, %d pairs within 5 A, 16 channels, "
           "0e+1o x Y(l<=2) -> 0e+1o+1e+2e+2o; median of %d runs of 100 (thread CPU time)\n", np, runs);
    printf("  library kernel (double)       %8.1f us\n", 1e3 * t[runs / 2]);
    printf("  this file's loop, double      %8.1f us   max |diff| / max |y| %.1e\n",
           1e3 * t[runs + runs / 2], dd / ymax);
    printf("  this file's loop, float       %8.1f us   max |diff| / max |y| %.1e\n",
           1e3 * t[2 * runs + runs / 2], df / ymax);
    printf("  float / double (same loop)    %8.2f\n", t[2 * runs + runs / 2] / t[runs + runs / 2]);
    printf("reverse pass (input gradient, dL/dY, dL/d|u|):\n");
    printf("  library kernel (double)       %8.1f us\n", 1e3 * t[3 * runs + runs / 2]);
    printf("  this file's loop, float       %8.1f us   max |diff| / max: gx %.1e, gY %.1e, gr %.1e\n",
           1e3 * t[4 * runs + runs / 2], gxd / gxm, gYd / gYm, grd / grm);
    printf("  float / library               %8.2f\n", t[4 * runs + runs / 2] / t[3 * runs + runs / 2]);
    lockstep(cg, &in, &out, n, np, pi, pj, Y, runs);
    free(t), free(A), free(x), free(R), free(y), free(y2), free(xf), free(Rf), free(Af),
        free(yf), free(u), free(pi), free(pj);
    free(gy), free(dR), free(gx), free(gY), free(gr), free(gyf), free(dRf), free(gxf), free(gYf),
        free(grf), free(dbf);
    free(Y);
    fh_eq_tp_free(tp);
    fh_eq_cg_free(cg);
    fh_xyz_free(g);
    return 0;
}
