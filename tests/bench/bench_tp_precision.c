/* Single precision in the tensor product, at the kernel level: the pair form's library kernels in
 * double (models/eq_tp_pairs.c) against their float versions (models/eq_tp_pairs_f.c, the
 * dynamics' mixed precision), on the same loop programs.
 *
 * The second layer of the shipped stilbene model's message step (16 channels, input 0e+1o,
 * harmonics to l = 2, messages 0e+1o+1e+2e+2o) on trans-stilbene's neighbour pairs within 5 A:
 * the forward pass and the reverse pass (input gradient, dL/dY, dL/d|u|), each in double and in
 * float. Prints the median time of each over repeated runs and the float results' largest
 * deviations, relative to the largest value of each. Last, the committee's three members in
 * lockstep (one 48-channel pass against three 16-channel ones), in double.
 * Run: build/tests/bench_tp_precision [runs]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "eq_tp_internal.h"
#include "fh_equivariant.h"
#include "fh_xyz.h"

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
    double *y = malloc(sizeof(double) * n * O * C);
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
    float *gxf = malloc(sizeof(float) * nx);
    for (int i = 0; i < ny; i++) gy[i] = 2.0 * rand() / RAND_MAX - 1.0, gyf[i] = (float)gy[i];
    for (int i = 0; i < np * nw; i++) dR[i] = 2.0 * rand() / RAND_MAX - 1.0, dRf[i] = (float)dR[i];

    double *t = malloc(sizeof(double) * 4 * runs), *gYf = malloc(sizeof(double) * np * 9);
    double *grf = malloc(sizeof(double) * np);
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now();
        for (int rep = 0; rep < 100; rep++) fh_eq_tp_forward_pairs(tp, n, np, pi, pj, x, A, R, y, &err);
        double t1 = bench_now();
        for (int rep = 0; rep < 100; rep++) fh_eq_tp_forward_pairs_f(tp, n, np, pi, pj, xf, Af, Rf, yf, &err);
        double t2 = bench_now();
        for (int rep = 0; rep < 100; rep++) {
            memset(gx, 0, sizeof(double) * nx), memset(gY, 0, sizeof(double) * np * 9);
            memset(gr, 0, sizeof(double) * np);
            fh_eq_tp_backward_pairs(tp, n, np, pi, pj, x, A, R, dR, 1, gy, gx, gY, NULL, gr, &err);
        }
        double t3 = bench_now();
        for (int rep = 0; rep < 100; rep++) {
            memset(gxf, 0, sizeof(float) * nx), memset(gYf, 0, sizeof(double) * np * 9);
            memset(grf, 0, sizeof(double) * np);
            fh_eq_tp_backward_pairs_f(tp, n, np, pi, pj, xf, Af, Rf, dRf, gyf, gxf, gYf, grf, &err);
        }
        double t4 = bench_now();
        t[r] = (t1 - t0) * 10, t[runs + r] = (t2 - t1) * 10;
        t[2 * runs + r] = (t3 - t2) * 10, t[3 * runs + r] = (t4 - t3) * 10;
    }
    double ymax = 0, df = 0;
    for (int i = 0; i < n * O * C; i++) ymax = fmax(ymax, fabs(y[i])), df = fmax(df, fabs((double)yf[i] - y[i]));
    double gxm = 0, gxd = 0, gYm = 0, gYd = 0, grm = 0, grd = 0;
    for (int i = 0; i < nx; i++) gxm = fmax(gxm, fabs(gx[i])), gxd = fmax(gxd, fabs(gxf[i] - gx[i]));
    for (int i = 0; i < np * 9; i++) gYm = fmax(gYm, fabs(gY[i])), gYd = fmax(gYd, fabs(gYf[i] - gY[i]));
    for (int i = 0; i < np; i++) grm = fmax(grm, fabs(gr[i])), grd = fmax(grd, fabs(grf[i] - gr[i]));
    for (int k = 0; k < 4; k++) bench_sort_median(t + k * runs, runs);
    printf("tensor product, pair form: trans-stilbene, %d pairs within 5 A, 16 channels, "
           "0e+1o x Y(l<=2) -> 0e+1o+1e+2e+2o; median of %d runs of 100 (thread CPU time)\n", np, runs);
    printf("forward:\n  double (fh_eq_tp_forward_pairs)      %8.1f us\n", 1e3 * t[runs / 2]);
    printf("  float (fh_eq_tp_forward_pairs_f)     %8.1f us   max |diff| / max |y| %.1e\n",
           1e3 * t[runs + runs / 2], df / ymax);
    printf("  float / double                       %8.2f\n", t[runs + runs / 2] / t[runs / 2]);
    printf("reverse pass (input gradient, dL/dY, dL/d|u|):\n");
    printf("  double (fh_eq_tp_backward_pairs)     %8.1f us\n", 1e3 * t[2 * runs + runs / 2]);
    printf("  float (fh_eq_tp_backward_pairs_f)    %8.1f us   max |diff| / max: gx %.1e, gY %.1e, gr %.1e\n",
           1e3 * t[3 * runs + runs / 2], gxd / gxm, gYd / gYm, grd / grm);
    printf("  float / double                       %8.2f\n", t[3 * runs + runs / 2] / t[2 * runs + runs / 2]);
    lockstep(cg, &in, &out, n, np, pi, pj, Y, runs);
    free(t), free(A), free(x), free(R), free(y), free(xf), free(Rf), free(Af),
        free(yf), free(u), free(pi), free(pj);
    free(gy), free(dR), free(gx), free(gY), free(gr), free(gyf), free(dRf), free(gxf), free(gYf),
        free(grf);
    free(Y);
    fh_eq_tp_free(tp);
    fh_eq_cg_free(cg);
    fh_xyz_free(g);
    return 0;
}
