/* The pair form of the tensor product in single precision, for inference.
 *
 * Why: the tensor product is the largest part of a dynamics step (its reverse pass alone about a
 * third), and its loops are bound by vector arithmetic, so 8 floats per AVX2 register instead of
 * 4 doubles do the same work in about 0.6-0.7 of the time (tests/bench/bench_tp_precision.c).
 * Its results deviate from the double kernels by about 1e-7 relative to each output's largest
 * value, far below the model's own error (tens of meV), so fh_model_predict uses this form where
 * the user asks for it (fh_model_set_precision); training and the tests of exact properties
 * (equivariance to 1e-12, finite differences) keep the double kernels in eq_tp_pairs.c.
 *
 * Same loop programs (groups of CG pairs sharing a row), same order of operations as the double
 * kernels there; one seed per reverse pass. Inputs x, A, R, dR and gy are float; y and gx are
 * float; the two outputs that are summed over many pairs and paths, gY and gr, are summed in
 * double. */
#include <stdlib.h>
#include "fh_equivariant.h"
#include "eq_internal.h"
#include "eq_tp_internal.h"

FH_EQ_HOT void eq_to_float(size_t n, const double *a, float *b) { eq_row_to_float(n, a, b); }

FH_EQ_HOT void eq_from_float(size_t n, const float *a, double *b) { eq_row_from_float(n, a, b, 0); }

/* y[m3][c0 .. c0+16) += r (x) sum_m1 sg A[m3][m1] x[m1][..], a group per m3 */
EQ_INLINE void fwd16(int c0, const tp_group *grp, int ng, const tp_item *it, const float *ap,
                     float sg, const float *xi, const float *rv, float *yk)
{
    for (int g = 0; g < ng; g++) {
        eq_v8f s0 = eq_set1f(0), s1 = s0;
        for (int k = 0; k < grp[g].n; k++, it++) {
            eq_v8f a = eq_set1f(sg * ap[it->q]);
            const float *xm = xi + it->row + c0;
            s0 += a * eq_loadf(xm);
            s1 += a * eq_loadf(xm + 8);
        }
        float *yy = yk + grp[g].row + c0;
        eq_storef(yy, eq_loadf(yy) + s0 * eq_loadf(rv + c0));
        eq_storef(yy + 8, eq_loadf(yy + 8) + s1 * eq_loadf(rv + c0 + 8));
    }
}

EQ_INLINE void fwd8(int c0, const tp_group *grp, int ng, const tp_item *it, const float *ap,
                    float sg, const float *xi, const float *rv, float *yk)
{
    for (int g = 0; g < ng; g++) {
        eq_v8f s0 = eq_set1f(0);
        for (int k = 0; k < grp[g].n; k++, it++) s0 += eq_set1f(sg * ap[it->q]) * eq_loadf(xi + it->row + c0);
        float *yy = yk + grp[g].row + c0;
        eq_storef(yy, eq_loadf(yy) + s0 * eq_loadf(rv + c0));
    }
}

static void fwd_tail(int C, int c0, const tp_pair *pr, int np, const float *ap, float sg,
                     const float *xi, const float *rv, float *yk)
{
    for (int c = c0; c < C; c++)
        for (int q = 0; q < np; q++) yk[pr[q].m3 * C + c] += rv[c] * (sg * ap[q]) * xi[pr[q].m1 * C + c];
}

FH_EQ_HOT static void forward_f(const fh_eq_tp *tp, int n_pairs, const int *pi, const int *pj,
                                const float *x, const float *A, const float *R, float *y)
{
    const int C = tp->c_in, nw = fh_eq_tp_n_weights(tp), D = tp->dim_in, O = tp->dim_out;
    for (int e = 0; e < n_pairs; e++) {
        const float *xi_ = x + (long)pi[e] * D * C, *xj_ = x + (long)pj[e] * D * C;
        float *yi_ = y + (long)pi[e] * O * C, *yj_ = y + (long)pj[e] * O * C;
        const float *Ae = A + (long)e * tp->n_coeffs, *Re = R + (long)e * nw;
        for (int p = 0; p < tp->n_paths; p++) {
            const tp_path *P = &tp->paths[p];
            const tp_group *grp = tp->fgrp + tp->fgrp0[p];
            const tp_item *it = tp->fitem + P->pair0;
            const int ng = tp->fgrp0[p + 1] - tp->fgrp0[p];
            const float *ap = Ae + P->pair0, *rv = Re + (long)p * C;
            const float sg = P->l2 % 2 ? -1.0f : 1.0f;
            const float *xj = xj_ + (long)P->x_off * C, *xi = xi_ + (long)P->x_off * C;
            float *yi = yi_ + (long)P->y_off * C, *yj = yj_ + (long)P->y_off * C;
            int c0 = 0;
            for (; c0 + 16 <= C; c0 += 16) {
                fwd16(c0, grp, ng, it, ap, 1.0f, xj, rv, yi);
                fwd16(c0, grp, ng, it, ap, sg, xi, rv, yj);
            }
            for (; c0 + 8 <= C; c0 += 8) {
                fwd8(c0, grp, ng, it, ap, 1.0f, xj, rv, yi);
                fwd8(c0, grp, ng, it, ap, sg, xi, rv, yj);
            }
            if (c0 < C) {
                const tp_pair *pr = tp->pairs + P->pair0;
                fwd_tail(C, c0, pr, P->npair, ap, 1.0f, xj, rv, yi);
                fwd_tail(C, c0, pr, P->npair, ap, sg, xi, rv, yj);
            }
        }
    }
}

/* One direction of one pair and path, channels c0 .. c0+16, a group per input row m1:
 * acc = sum_m3 sg A[m3][m1] g[m3]; gx[m1] += r (x) acc; the R gradient x[m1] (x) acc is summed
 * into grv; with dbuf also dL/dA[q] += sum_c g[m3][c] r[c] sg x[m1][c] (8 lanes per pair). */
EQ_INLINE void bwd16(int c0, const tp_group *grp, int ng, const tp_item *it, const float *ap,
                     float sg, const float *gk, const float *xi, const float *rv, float *gxi,
                     float *dbuf, eq_v8f *grv)
{
    eq_v8f r0 = eq_loadf(rv + c0), r1 = eq_loadf(rv + c0 + 8), s = eq_set1f(sg);
    eq_v8f g0 = grv[0], g1 = grv[1];
    for (int g = 0; g < ng; g++) {
        const float *xm = xi + grp[g].row + c0;
        eq_v8f x0 = eq_loadf(xm), x1 = eq_loadf(xm + 8);
        eq_v8f xr0 = x0 * r0, xr1 = x1 * r1;
        eq_v8f a0 = eq_set1f(0), a1 = a0;
        for (int k = 0; k < grp[g].n; k++, it++) {
            int q = it->q;
            eq_v8f a = eq_set1f(sg * ap[q]);
            const float *gm = gk + it->row + c0;
            eq_v8f G0 = eq_loadf(gm), G1 = eq_loadf(gm + 8);
            a0 += a * G0, a1 += a * G1;
            if (dbuf) {
                eq_v8f d = s * (G0 * xr0 + G1 * xr1);
                eq_storef(dbuf + 8 * q, c0 ? eq_loadf(dbuf + 8 * q) + d : d);
            }
        }
        if (gxi) {
            float *gxm = gxi + grp[g].row + c0;
            eq_storef(gxm, eq_loadf(gxm) + r0 * a0);
            eq_storef(gxm + 8, eq_loadf(gxm + 8) + r1 * a1);
        }
        g0 += x0 * a0, g1 += x1 * a1;
    }
    grv[0] = g0, grv[1] = g1;
}

EQ_INLINE void bwd8(int c0, const tp_group *grp, int ng, const tp_item *it, const float *ap,
                    float sg, const float *gk, const float *xi, const float *rv, float *gxi,
                    float *dbuf, eq_v8f *grv)
{
    eq_v8f r0 = eq_loadf(rv + c0), g0 = grv[0], s = eq_set1f(sg);
    for (int g = 0; g < ng; g++) {
        eq_v8f x0 = eq_loadf(xi + grp[g].row + c0), a0 = eq_set1f(0), xr0 = x0 * r0;
        for (int k = 0; k < grp[g].n; k++, it++) {
            int q = it->q;
            eq_v8f G0 = eq_loadf(gk + it->row + c0);
            a0 += eq_set1f(sg * ap[q]) * G0;
            if (dbuf) {
                eq_v8f d = s * (G0 * xr0);
                eq_storef(dbuf + 8 * q, c0 ? eq_loadf(dbuf + 8 * q) + d : d);
            }
        }
        if (gxi) eq_storef(gxi + grp[g].row + c0, eq_loadf(gxi + grp[g].row + c0) + r0 * a0);
        g0 += x0 * a0;
    }
    grv[0] = g0;
}

/* The remaining channels one at a time (dbuf lane 0); gRp [C] += the R gradient. */
static void bwd_tail(int C, int c0, const tp_pair *pr, int np, const float *ap, float sg,
                     const float *gk, const float *xi, const float *rv, float *gxi, float *dbuf,
                     float *gRp)
{
    for (int c = c0; c < C; c++) {
        float gsc = 0.0f;
        for (int q = 0; q < np; q++) {
            float g = gk[pr[q].m3 * C + c], xv = xi[pr[q].m1 * C + c], acc = (sg * ap[q]) * g;
            if (gxi) gxi[pr[q].m1 * C + c] += rv[c] * acc;
            gsc += xv * acc;
            if (dbuf) dbuf[8 * q] += sg * (g * (xv * rv[c]));
        }
        gRp[c] += gsc;
    }
}

FH_EQ_HOT static void backward_f(fh_eq_tp *tp, int n_pairs, const int *pi, const int *pj,
                                 const float *x, const float *A, const float *R, const float *dR,
                                 const float *gy, float *gx, double *gY, double *gr)
{
    const int C = tp->c_in, nw = fh_eq_tp_n_weights(tp), D = tp->dim_in, O = tp->dim_out;
    float *dbuf = gY ? tp->fbuf : NULL, *dbuf2 = gY ? tp->fbuf + 8 * tp->max_npair : NULL;
    float *gRt = tp->fbuf + 16 * tp->max_npair;
    if (!dR) gr = NULL;
    for (int e = 0; e < n_pairs; e++) {
        const int ia = pi[e], ja = pj[e];
        const float *Ae = A + (long)e * tp->n_coeffs, *Re = R + (long)e * nw;
        for (int p = 0; p < tp->n_paths; p++) {
            const tp_path *P = &tp->paths[p];
            const tp_pair *pr = tp->pairs + P->pair0;
            const tp_group *grp = tp->bgrp + tp->bgrp0[p];
            const tp_item *it = tp->bitem + P->pair0;
            const int ng = tp->bgrp0[p + 1] - tp->bgrp0[p];
            const float *ap = Ae + P->pair0, *rv = Re + (long)p * C;
            const float sg = P->l2 % 2 ? -1.0f : 1.0f;
            const float *gi = gy + ((long)ia * O + P->y_off) * C;   /* at i: from j */
            const float *gj = gy + ((long)ja * O + P->y_off) * C;
            const float *xi = x + ((long)ia * D + P->x_off) * C;
            const float *xj = x + ((long)ja * D + P->x_off) * C;
            float *gxi = gx ? gx + ((long)ia * D + P->x_off) * C : NULL;
            float *gxj = gx ? gx + ((long)ja * D + P->x_off) * C : NULL;
            int c0 = 0;
            for (; c0 + 16 <= C; c0 += 16) {
                eq_v8f grv[2] = {eq_set1f(0), eq_set1f(0)};
                bwd16(c0, grp, ng, it, ap, 1.0f, gi, xj, rv, gxj, dbuf, grv);
                bwd16(c0, grp, ng, it, ap, sg, gj, xi, rv, gxi, dbuf2, grv);
                eq_storef(gRt + c0, grv[0]), eq_storef(gRt + c0 + 8, grv[1]);
            }
            for (; c0 + 8 <= C; c0 += 8) {
                eq_v8f grv[1] = {eq_set1f(0)};
                bwd8(c0, grp, ng, it, ap, 1.0f, gi, xj, rv, gxj, dbuf, grv);
                bwd8(c0, grp, ng, it, ap, sg, gj, xi, rv, gxi, dbuf2, grv);
                eq_storef(gRt + c0, grv[0]);
            }
            if (c0 < C) {
                for (int c = c0; c < C; c++) gRt[c] = 0.0f;
                if (dbuf && c0 == 0) {   /* no vector chunk wrote them */
                    memset(dbuf, 0, sizeof(float) * 8 * (size_t)P->npair);
                    memset(dbuf2, 0, sizeof(float) * 8 * (size_t)P->npair);
                }
                bwd_tail(C, c0, pr, P->npair, ap, 1.0f, gi, xj, rv, gxj, dbuf, gRt);
                bwd_tail(C, c0, pr, P->npair, ap, sg, gj, xi, rv, gxi, dbuf2, gRt);
            }
            if (gr) {
                const float *dRp = dR + (long)e * nw + (long)p * C;
                eq_v8f t = eq_set1f(0);
                int c = 0;
                for (; c + 8 <= C; c += 8) t += eq_loadf(gRt + c) * eq_loadf(dRp + c);
                double v = eq_hsumf(t);
                for (; c < C; c++) v += gRt[c] * dRp[c];
                gr[e] += v;
            }
            if (dbuf) {
                double *gsh = gY + (long)e * tp->nsh + P->sh_off;
                for (int q = 0; q < P->npair; q++) {
                    double ga = eq_hsumf(eq_loadf(dbuf + 8 * q) + eq_loadf(dbuf2 + 8 * q));
                    for (int t = pr[q].e0; t < pr[q].e0 + pr[q].ne; t++)
                        gsh[tp->cg_m2[t]] += tp->cg_c[t] * ga;
                }
            }
        }
    }
}

static int check_pairs_f(const fh_eq_tp *tp, int n_nodes, int n_pairs, const int *pi,
                         const int *pj, fh_err *err)
{
    if (tp->kind != FH_EQ_TP_CHANNELWISE)
        return fh_err_set(err, FH_EINPUT, "tensor product: pair form needs the channelwise kind");
    return eq_tp_check_edges(tp, n_nodes, n_pairs, pi, pj, err);
}

int fh_eq_tp_forward_pairs_f(const fh_eq_tp *tp, int n_nodes, int n_pairs, const int *pi,
                             const int *pj, const float *x, const float *A, const float *R,
                             float *y, fh_err *err)
{
    int rc = check_pairs_f(tp, n_nodes, n_pairs, pi, pj, err);
    if (rc) return rc;
    memset(y, 0, sizeof(float) * (size_t)n_nodes * tp->dim_out * tp->c_out);
    forward_f(tp, n_pairs, pi, pj, x, A, R, y);
    return FH_OK;
}

int fh_eq_tp_backward_pairs_f(fh_eq_tp *tp, int n_nodes, int n_pairs, const int *pi,
                              const int *pj, const float *x, const float *A, const float *R,
                              const float *dR, const float *gy, float *gx, double *gY, double *gr,
                              fh_err *err)
{
    int rc = check_pairs_f(tp, n_nodes, n_pairs, pi, pj, err);
    if (rc) return rc;
    backward_f(tp, n_pairs, pi, pj, x, A, R, dR, gy, gx, gY, gr);
    return FH_OK;
}
