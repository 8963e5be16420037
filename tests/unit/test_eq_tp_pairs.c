/* The tensor product's pair form (fh_eq_tp_forward_pairs / fh_eq_tp_backward_pairs) against the
 * directed form it replaces in the network: both messages of each undirected pair as two
 * fh_eq_tp_forward calls (edges j -> i with Y(u), i -> j with Y(-u)), the harmonics entering the
 * pair form through their CG contractions (fh_eq_tp_coeffs), and the reverse pass with
 * several seeds against one pair of fh_eq_tp_backward calls per seed (whose gradients
 * test_eq_grad checks against finite differences). Channel counts cover the 16-wide kernel, the
 * 4-wide one and the one-channel tail (and, in single precision, the 16- and 8-wide kernels and the
 * tail). The single-precision kernels (fh_eq_tp_*_pairs_f) against the double ones: within 1e-6
 * (they are about 1e-7 off; a wrong sign, row or lane is off by order 1). */
#include <criterion/criterion.h>

#include "test_eq_util.h"

#define NAT 7
#define MAXP (NAT * (NAT - 1) / 2)

typedef struct {
    int np, pi[MAXP], pj[MAXP];
    double u[3 * MAXP];
} pairs;

static void make_pairs(pairs *g, double rc)
{
    double pos[3 * NAT];
    eqt_fill(pos, 3 * NAT, 1.4);
    g->np = 0;
    for (int i = 0; i < NAT; i++)
        for (int j = i + 1; j < NAT; j++) {
            double d[3] = {pos[3 * j] - pos[3 * i], pos[3 * j + 1] - pos[3 * i + 1], pos[3 * j + 2] - pos[3 * i + 2]};
            if (eqt_dot(d, d, 3) >= rc * rc) continue;
            g->pi[g->np] = i, g->pj[g->np] = j;
            memcpy(g->u + 3 * g->np, d, sizeof d);
            g->np++;
        }
}

/* Y(-u) = (-1)^l Y(u) */
static void reverse_harmonics(int lsh, int np, const double *Y, double *Yr)
{
    int nsh = fh_eq_sph_dim(lsh);
    for (int p = 0; p < np; p++)
        for (int l = 0; l <= lsh; l++)
            for (int q = l * l; q < (l + 1) * (l + 1); q++) Yr[p * nsh + q] = (l % 2 ? -1.0 : 1.0) * Y[p * nsh + q];
}

static float *to_f(const double *a, size_t n)
{
    float *b = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) b[i] = (float)a[i];
    return b;
}

static double rel_err_f(const float *a, const double *b, size_t n)
{
    double *ad = malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) ad[i] = a[i];
    double e = eqt_rel_err(ad, b, n);
    free(ad);
    return e;
}

/* The float kernels on the same inputs (rounded to float) against the double results of the
 * first seed: messages y, input gradient gx, dL/dY and dL/d|u|, each alone and together. */
static void check_single(fh_eq_tp *tp, const pairs *g, const double *x, const double *A,
                         const double *R, const double *dR, const double *gy, const double *y,
                         const double *gx, const double *gY, const double *gr, const char *in_s, int c,
                         int din, int dout, int nsh)
{
    fh_err err;
    const int nw = fh_eq_tp_n_weights(tp);
    const size_t nx = (size_t)NAT * din * c, ny = (size_t)NAT * dout * c;
    const size_t nY = (size_t)g->np * nsh, nR = (size_t)g->np * nw, nA = (size_t)g->np * fh_eq_tp_n_coeffs(tp);
    float *xf = to_f(x, nx), *Af = to_f(A, nA), *Rf = to_f(R, nR), *dRf = to_f(dR, nR), *gyf = to_f(gy, ny);
    float *yf = malloc(sizeof(float) * ny), *gxf = calloc(nx, sizeof(float));
    double *gYf = calloc(nY, sizeof(double)), *grf = calloc((size_t)g->np, sizeof(double));
    cr_assert_eq(fh_eq_tp_forward_pairs_f(tp, NAT, g->np, g->pi, g->pj, xf, Af, Rf, yf, &err), FH_OK, "%s", err.msg);
    double e = rel_err_f(yf, y, ny);
    cr_assert(e < 1e-6, "%s, %d channels: single-precision messages off by %.2e", in_s, c, e);
    cr_assert_eq(fh_eq_tp_backward_pairs_f(tp, NAT, g->np, g->pi, g->pj, xf, Af, Rf, dRf, gyf, gxf, gYf, grf, &err),
                 FH_OK, "%s", err.msg);
    double ex = rel_err_f(gxf, gx, nx), eY = eqt_rel_err(gYf, gY, nY), er = eqt_rel_err(grf, gr, (size_t)g->np);
    cr_assert(ex < 1e-6 && eY < 1e-6 && er < 1e-6,
              "%s, %d channels: single-precision gradients off by gx %.2e, gY %.2e, gr %.2e", in_s, c, ex, eY, er);
    /* dL/dY alone, then dL/d|u| alone (the others NULL) */
    memset(gYf, 0, sizeof(double) * nY), memset(grf, 0, sizeof(double) * g->np);
    fh_eq_tp_backward_pairs_f(tp, NAT, g->np, g->pi, g->pj, xf, Af, Rf, NULL, gyf, NULL, gYf, NULL, &err);
    fh_eq_tp_backward_pairs_f(tp, NAT, g->np, g->pi, g->pj, xf, Af, Rf, dRf, gyf, NULL, NULL, grf, &err);
    cr_assert(eqt_rel_err(gYf, gY, nY) < 1e-6 && eqt_rel_err(grf, gr, (size_t)g->np) < 1e-6);
    free(xf), free(Af), free(Rf), free(dRf), free(gyf), free(yf), free(gxf), free(gYf), free(grf);
}

static void check_channels(const char *in_s, int c, int lsh)
{
    fh_err err;
    fh_eq_cg *cg = fh_eq_cg_alloc(4, NULL);
    fh_eq_irreps in, out;
    fh_eq_irreps_parse(in_s, &in, NULL, NULL);
    fh_eq_irreps_tp_reachable(&in, lsh, 2, &out);
    fh_eq_tp *tp = fh_eq_tp_alloc(cg, FH_EQ_TP_CHANNELWISE, &in, c, lsh, &out, c, NAT, &err);
    cr_assert_not_null(tp, "%s", err.msg);
    pairs g;
    make_pairs(&g, 4.0);
    cr_assert(g.np > 8, "%d pairs", g.np);
    const int S = 3, din = fh_eq_irreps_dim(&in), dout = fh_eq_irreps_dim(&out);
    const int nsh = fh_eq_sph_dim(lsh), nw = fh_eq_tp_n_weights(tp);
    const size_t nx = (size_t)NAT * din * c, ny = (size_t)NAT * dout * c;
    const size_t nY = (size_t)g.np * nsh, nR = (size_t)g.np * nw;
    double *x = malloc(sizeof(double) * nx), *Y = malloc(sizeof(double) * nY);
    double *Yr = malloc(sizeof(double) * nY), *R = malloc(sizeof(double) * nR);
    double *y = malloc(sizeof(double) * ny), *y1 = malloc(sizeof(double) * ny);
    double *y2 = malloc(sizeof(double) * ny), *gy = malloc(sizeof(double) * S * ny);
    eqt_fill(x, nx, 1.0), eqt_fill(R, nR, 1.0), eqt_fill(gy, S * ny, 1.0);
    fh_eq_sph(lsh, g.np, g.u, Y, NULL);
    reverse_harmonics(lsh, g.np, Y, Yr);
    double *A = malloc(sizeof(double) * g.np * fh_eq_tp_n_coeffs(tp));
    fh_eq_tp_coeffs(tp, g.np, Y, A);

    /* forward */
    cr_assert_eq(fh_eq_tp_forward_pairs(tp, NAT, g.np, g.pi, g.pj, x, A, R, y, &err), FH_OK, "%s", err.msg);
    fh_eq_tp_forward(tp, NULL, NAT, g.np, g.pj, g.pi, x, Y, R, y1, &err);
    fh_eq_tp_forward(tp, NULL, NAT, g.np, g.pi, g.pj, x, Yr, R, y2, &err);
    for (size_t k = 0; k < ny; k++) y1[k] += y2[k];
    double e = eqt_rel_err(y, y1, ny);
    cr_assert(e < 1e-14, "%s, %d channels: pair-form messages off by %.2e", in_s, c, e);

    /* backward, S seeds at once, against the directed form seed by seed */
    double *gx = calloc(S * nx, sizeof(double)), *gY = calloc(S * nY, sizeof(double));
    double *gR = calloc(S * nR, sizeof(double)), *gx1 = calloc(S * nx, sizeof(double));
    double *gY1 = calloc(S * nY, sizeof(double)), *gR1 = calloc(S * nR, sizeof(double));
    double *gYr = malloc(sizeof(double) * nY);
    cr_assert_eq(fh_eq_tp_backward_pairs(tp, NAT, g.np, g.pi, g.pj, x, A, R, NULL, S, gy, gx, gY, gR, NULL, &err),
                 FH_OK, "%s", err.msg);
    for (int s = 0; s < S; s++) {
        memset(gYr, 0, sizeof(double) * nY);
        fh_eq_tp_backward(tp, NULL, NAT, g.np, g.pj, g.pi, x, Y, R, gy + s * ny, gx1 + s * nx,
                          gY1 + s * nY, gR1 + s * nR, NULL, &err);
        fh_eq_tp_backward(tp, NULL, NAT, g.np, g.pi, g.pj, x, Yr, R, gy + s * ny, gx1 + s * nx, gYr,
                          gR1 + s * nR, NULL, &err);
        double sYr[MAXP * 16];
        reverse_harmonics(lsh, g.np, gYr, sYr);   /* d/dY(u) of Y(-u) = (-1)^l Y(u) */
        for (size_t k = 0; k < nY; k++) gY1[s * nY + k] += sYr[k];
    }
    double ex = eqt_rel_err(gx, gx1, S * nx), eY = eqt_rel_err(gY, gY1, S * nY);
    double eR = eqt_rel_err(gR, gR1, S * nR);
    cr_assert(ex < 1e-13 && eY < 1e-13 && eR < 1e-13,
              "%s, %d channels: pair-form gradients off by gx %.2e, gY %.2e, gR %.2e", in_s, c, ex, eY, eR);

    /* each output alone, the others NULL; gradients accumulate (+=) */
    double *gYa = calloc(S * nY, sizeof(double)), *gRa = calloc(S * nR, sizeof(double));
    fh_eq_tp_backward_pairs(tp, NAT, g.np, g.pi, g.pj, x, A, R, NULL, S, gy, NULL, gYa, NULL, NULL, &err);
    fh_eq_tp_backward_pairs(tp, NAT, g.np, g.pi, g.pj, x, A, R, NULL, S, gy, NULL, gYa, NULL, NULL, &err);
    for (size_t k = 0; k < S * nY; k++) gYa[k] *= 0.5;
    fh_eq_tp_backward_pairs(tp, NAT, g.np, g.pi, g.pj, x, A, R, NULL, S, gy, NULL, NULL, gRa, NULL, &err);
    cr_assert(eqt_rel_err(gYa, gY1, S * nY) < 1e-13 && eqt_rel_err(gRa, gR1, S * nR) < 1e-13);

    /* gr = sum_w gR dR, alone and beside gR (then gR as before) */
    double *dR = malloc(sizeof(double) * nR), *gr = calloc((size_t)S * g.np, sizeof(double));
    double *gr1 = calloc((size_t)S * g.np, sizeof(double)), *gRb = calloc(S * nR, sizeof(double));
    eqt_fill(dR, nR, 1.0);
    for (int s = 0; s < S; s++)
        for (int p = 0; p < g.np; p++)
            gr1[s * g.np + p] = eqt_dot(gR1 + s * nR + (size_t)p * nw, dR + (size_t)p * nw, nw);
    fh_eq_tp_backward_pairs(tp, NAT, g.np, g.pi, g.pj, x, A, R, dR, S, gy, NULL, NULL, NULL, gr, &err);
    cr_assert(eqt_rel_err(gr, gr1, (size_t)S * g.np) < 1e-13);
    memset(gr, 0, sizeof(double) * S * g.np);
    fh_eq_tp_backward_pairs(tp, NAT, g.np, g.pi, g.pj, x, A, R, dR, S, gy, NULL, NULL, gRb, gr, &err);
    cr_assert(eqt_rel_err(gr, gr1, (size_t)S * g.np) < 1e-13 && eqt_rel_err(gRb, gR1, S * nR) < 1e-13);
    check_single(tp, &g, x, A, R, dR, gy, y, gx1, gY1, gr1, in_s, c, din, dout, nsh);
    free(dR), free(gr), free(gr1), free(gRb);

    free(x), free(Y), free(Yr), free(A), free(R), free(y), free(y1), free(y2), free(gy), free(gx), free(gY);
    free(gR), free(gx1), free(gY1), free(gR1), free(gYr), free(gYa), free(gRa);
    fh_eq_tp_free(tp);
    fh_eq_cg_free(cg);
}

Test(eq_tp_pairs, matches_directed_form_16_channels)
{
    eqt_seed(71);
    check_channels("0e+1o", 16, 2);
    check_channels("0e", 32, 2);
}

Test(eq_tp_pairs, matches_directed_form_other_channels)
{
    eqt_seed(72);
    check_channels("0e+1o+2e", 20, 3);   /* 16 + 4 */
    check_channels("0e+1o", 7, 2);       /* 4 + 3 single channels */
    check_channels("0e+1o", 24, 2);      /* 16 + 8 (float), 16 + 4 + 4 (double) */
    check_channels("1o", 3, 1);          /* single channels only */
}

Test(eq_tp_pairs, rejects_full_kind_and_no_seeds)
{
    fh_err err;
    fh_eq_cg *cg = fh_eq_cg_alloc(2, NULL);
    fh_eq_irreps in, out;
    fh_eq_irreps_parse("0e+1o", &in, NULL, NULL);
    fh_eq_irreps_parse("0e+1o", &out, NULL, NULL);
    fh_eq_tp *full = fh_eq_tp_alloc(cg, FH_EQ_TP_FULL, &in, 4, 1, &out, 4, 3, &err);
    fh_eq_tp *cw = fh_eq_tp_alloc(cg, FH_EQ_TP_CHANNELWISE, &in, 4, 1, &out, 4, 3, &err);
    cr_assert(full && cw);
    int pi[1] = {0}, pj[1] = {1};
    double x[3 * 4 * 4] = {0}, Y[4] = {1, 0, 0, 1}, R[64] = {0}, y[3 * 4 * 4];
    cr_assert_eq(fh_eq_tp_forward_pairs(full, 3, 1, pi, pj, x, Y, R, y, &err), FH_EINPUT);   /* Y: any A */
    cr_assert(strstr(err.msg, "channelwise"), "%s", err.msg);
    cr_assert_eq(fh_eq_tp_backward_pairs(cw, 3, 1, pi, pj, x, Y, R, NULL, 0, y, NULL, NULL, NULL, NULL, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "seeds"), "%s", err.msg);
    pj[0] = 3;   /* outside 0..2 */
    cr_assert_eq(fh_eq_tp_forward_pairs(cw, 3, 1, pi, pj, x, Y, R, y, &err), FH_EINPUT);
    fh_eq_tp_free(full), fh_eq_tp_free(cw);
    fh_eq_cg_free(cg);
}
