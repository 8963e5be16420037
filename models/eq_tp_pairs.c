/* The channelwise tensor product over undirected neighbour pairs: the network's form of the
 * message-passing step (the directed edge form, eq_tp.c, stays for the fully connected kind and
 * as the reference the tests compare with).
 *
 * Why a second form. A pair p = (i, j) carries two messages with the same radial weights, j -> i
 * with Y(u) and i -> j with Y(-u) = (-1)^l2 Y(u), so the CG-contracted harmonics
 * A[m3][m1] = sum_m2 CG Y_l2,m2 serve both; and they depend on the geometry alone, so the
 * caller computes them once (fh_eq_tp_coeffs) for the forward and every reverse pass, and for
 * every committee member. The reverse pass forms dL/dA inside the channel loop that forms the
 * input gradient (one pass over the pairs instead of two), may take several seeds, and can
 * return dL/d|u| directly (gr = sum_w gR dR/d|u|) without writing the radial-weight gradient. */
#include <stdlib.h>
#include "fh_equivariant.h"
#include "eq_internal.h"
#include "eq_tp_internal.h"

int fh_eq_tp_n_coeffs(const fh_eq_tp *tp) { return tp->n_coeffs; }

/* Loop programs: the kernels below walk groups of items instead of testing pair indices. */
static int group_pairs(const fh_eq_tp *tp, const tp_path *P, const int *ord, int by_m1,
                       tp_group *grp, tp_item *item)
{
    int ng = 0;
    for (int i = 0; i < P->npair; i++) {
        int q = ord ? ord[i] : i;
        const tp_pair *pr = &tp->pairs[P->pair0 + q];
        int shared = by_m1 ? pr->m1 : pr->m3, other = by_m1 ? pr->m3 : pr->m1;
        if (ng == 0 || grp[ng - 1].row != shared * tp->c_in) {
            grp[ng].row = shared * tp->c_in;
            grp[ng].n = 0;
            ng++;
        }
        grp[ng - 1].n++;
        item[i].q = q;
        item[i].row = other * tp->c_in;
    }
    return ng;
}

int eq_tp_pairs_prepare(fh_eq_tp *tp)
{
    const tp_path *last = &tp->paths[tp->n_paths - 1];
    tp->n_coeffs = last->pair0 + last->npair;
    tp->dbuf = malloc(sizeof(double) * 8 * (size_t)tp->max_npair);
    tp->gRt = malloc(sizeof(double) * (size_t)tp->c_in);
    tp->fbuf = malloc(sizeof(float) * (16 * (size_t)tp->max_npair + (size_t)tp->c_in));
    size_t n = (size_t)(tp->n_coeffs > 0 ? tp->n_coeffs : 1);
    tp->fgrp = malloc(sizeof(tp_group) * n), tp->bgrp = malloc(sizeof(tp_group) * n);
    tp->fitem = malloc(sizeof(tp_item) * n), tp->bitem = malloc(sizeof(tp_item) * n);
    tp->fgrp0 = malloc(sizeof(int) * (size_t)(tp->n_paths + 1));
    tp->bgrp0 = malloc(sizeof(int) * (size_t)(tp->n_paths + 1));
    if (!tp->dbuf || !tp->gRt || !tp->fbuf || !tp->fgrp || !tp->bgrp || !tp->fitem || !tp->bitem ||
        !tp->fgrp0 || !tp->bgrp0)
        return FH_EFAIL;
    int nf = 0, nb = 0;
    for (int p = 0; p < tp->n_paths; p++) {
        const tp_path *P = &tp->paths[p];
        tp->fgrp0[p] = nf, tp->bgrp0[p] = nb;
        nf += group_pairs(tp, P, NULL, 0, tp->fgrp + nf, tp->fitem + P->pair0);
        nb += group_pairs(tp, P, tp->by_m1 + P->pair0, 1, tp->bgrp + nb, tp->bitem + P->pair0);
    }
    tp->fgrp0[tp->n_paths] = nf, tp->bgrp0[tp->n_paths] = nb;
    return FH_OK;
}

void eq_tp_pairs_release(fh_eq_tp *tp)
{
    free(tp->dbuf), free(tp->gRt), free(tp->fbuf);
    tp->fbuf = NULL;
    free(tp->fgrp), free(tp->bgrp), free(tp->fitem), free(tp->bitem), free(tp->fgrp0), free(tp->bgrp0);
    tp->dbuf = tp->gRt = NULL;
    tp->fgrp = tp->bgrp = NULL, tp->fitem = tp->bitem = NULL, tp->fgrp0 = tp->bgrp0 = NULL;
}

void fh_eq_tp_coeffs(const fh_eq_tp *tp, int n_pairs, const double *Y, double *A)
{
    for (int e = 0; e < n_pairs; e++) {
        const double *Ye = Y + (long)e * tp->nsh;
        double *Ae = A + (long)e * tp->n_coeffs;
        for (int p = 0; p < tp->n_paths; p++) {
            const tp_path *P = &tp->paths[p];
            const double *ysh = Ye + P->sh_off;
            for (int q = P->pair0; q < P->pair0 + P->npair; q++) {
                double a = 0.0;
                for (int t = tp->pairs[q].e0; t < tp->pairs[q].e0 + tp->pairs[q].ne; t++)
                    a += tp->cg_c[t] * ysh[tp->cg_m2[t]];
                Ae[q] = a;
            }
        }
    }
}

/* y[m3][c0 .. c0+16) += r (x) sum_m1 sg A[m3][m1] x[m1][..], a group per m3 (sg = +-1, the
 * direction's sign). */
EQ_INLINE void fwd_chunk16(int c0, const tp_group *grp, int ng, const tp_item *it,
                           const double *ap, double sg, const double *xi, const double *rv,
                           double *yk)
{
    for (int g = 0; g < ng; g++) {
        eq_v4 s0 = eq_set1(0), s1 = s0, s2 = s0, s3 = s0;
        for (int k = 0; k < grp[g].n; k++, it++) {
            eq_v4 a = eq_set1(sg * ap[it->q]);
            const double *xm = xi + it->row + c0;
            s0 += a * eq_load(xm);
            s1 += a * eq_load(xm + 4);
            s2 += a * eq_load(xm + 8);
            s3 += a * eq_load(xm + 12);
        }
        double *yy = yk + grp[g].row + c0;
        eq_store(yy, eq_load(yy) + s0 * eq_load(rv + c0));
        eq_store(yy + 4, eq_load(yy + 4) + s1 * eq_load(rv + c0 + 4));
        eq_store(yy + 8, eq_load(yy + 8) + s2 * eq_load(rv + c0 + 8));
        eq_store(yy + 12, eq_load(yy + 12) + s3 * eq_load(rv + c0 + 12));
    }
}

EQ_INLINE void fwd_chunk4(int c0, const tp_group *grp, int ng, const tp_item *it,
                          const double *ap, double sg, const double *xi, const double *rv,
                          double *yk)
{
    for (int g = 0; g < ng; g++) {
        eq_v4 s0 = eq_set1(0);
        for (int k = 0; k < grp[g].n; k++, it++)
            s0 += eq_set1(sg * ap[it->q]) * eq_load(xi + it->row + c0);
        double *yy = yk + grp[g].row + c0;
        eq_store(yy, eq_load(yy) + s0 * eq_load(rv + c0));
    }
}

static void fwd_tail(int C, int c0, const tp_pair *pr, int np, const double *ap, double sg,
                     const double *xi, const double *rv, double *yk)
{
    for (int c = c0; c < C; c++)
        for (int q = 0; q < np; q++) yk[pr[q].m3 * C + c] += rv[c] * (sg * ap[q]) * xi[pr[q].m1 * C + c];
}

FH_EQ_HOT static void pairs_forward(const fh_eq_tp *tp, int n_pairs, const int *pi, const int *pj,
                                    const double *x, const double *A, const double *R, double *y)
{
    const int C = tp->c_in, nw = fh_eq_tp_n_weights(tp), D = tp->dim_in, O = tp->dim_out;
    for (int e = 0; e < n_pairs; e++) {
        const double *xi_ = x + (long)pi[e] * D * C, *xj_ = x + (long)pj[e] * D * C;
        double *yi_ = y + (long)pi[e] * O * C, *yj_ = y + (long)pj[e] * O * C;
        const double *Ae = A + (long)e * tp->n_coeffs, *Re = R + (long)e * nw;
        for (int p = 0; p < tp->n_paths; p++) {
            const tp_path *P = &tp->paths[p];
            const tp_pair *pr = tp->pairs + P->pair0;
            const tp_group *grp = tp->fgrp + tp->fgrp0[p];
            const tp_item *it = tp->fitem + P->pair0;
            const int ng = tp->fgrp0[p + 1] - tp->fgrp0[p];
            const double *ap = Ae + P->pair0, *rv = Re + (long)p * C;
            const double sg = P->l2 % 2 ? -1.0 : 1.0;
            const double *xj = xj_ + (long)P->x_off * C, *xi = xi_ + (long)P->x_off * C;
            double *yi = yi_ + (long)P->y_off * C, *yj = yj_ + (long)P->y_off * C;
            int c0 = 0;
            for (; c0 + 16 <= C; c0 += 16) {
                fwd_chunk16(c0, grp, ng, it, ap, 1.0, xj, rv, yi);
                fwd_chunk16(c0, grp, ng, it, ap, sg, xi, rv, yj);
            }
            for (; c0 + 4 <= C; c0 += 4) {
                fwd_chunk4(c0, grp, ng, it, ap, 1.0, xj, rv, yi);
                fwd_chunk4(c0, grp, ng, it, ap, sg, xi, rv, yj);
            }
            if (c0 < C) {
                fwd_tail(C, c0, pr, P->npair, ap, 1.0, xj, rv, yi);
                fwd_tail(C, c0, pr, P->npair, ap, sg, xi, rv, yj);
            }
        }
    }
}

/* One direction of one pair and path, channels c0 .. c0+16, a group per input row m1:
 * acc = sum_m3 sg A[m3][m1] g[m3]; gx[m1] += r (x) acc; the R gradient x[m1] (x) acc is summed
 * into grv; with dbuf also dL/dA[q] += sum_c g[m3][c] r[c] sg x[m1][c] (4 lanes per pair, summed
 * by the caller). */
EQ_INLINE void bwd_chunk16(int c0, const tp_group *grp, int ng, const tp_item *it,
                           const double *ap, double sg, const double *gk, const double *xi,
                           const double *rv, double *gxi, double *dbuf, eq_v4 *grv)
{
    eq_v4 r0 = eq_load(rv + c0), r1 = eq_load(rv + c0 + 4), r2 = eq_load(rv + c0 + 8),
          r3 = eq_load(rv + c0 + 12), s = eq_set1(sg);
    eq_v4 g0 = grv[0], g1 = grv[1], g2 = grv[2], g3 = grv[3];
    for (int g = 0; g < ng; g++) {
        const double *xm = xi + grp[g].row + c0;
        eq_v4 x0 = eq_load(xm), x1 = eq_load(xm + 4), x2 = eq_load(xm + 8), x3 = eq_load(xm + 12);
        eq_v4 a0 = eq_set1(0), a1 = a0, a2 = a0, a3 = a0;
        for (int k = 0; k < grp[g].n; k++, it++) {
            int q = it->q;
            eq_v4 a = eq_set1(sg * ap[q]);
            const double *gm = gk + it->row + c0;
            eq_v4 G0 = eq_load(gm), G1 = eq_load(gm + 4), G2 = eq_load(gm + 8), G3 = eq_load(gm + 12);
            a0 += a * G0, a1 += a * G1, a2 += a * G2, a3 += a * G3;
            if (dbuf) {
                eq_v4 d = s * ((G0 * (x0 * r0) + G1 * (x1 * r1)) + (G2 * (x2 * r2) + G3 * (x3 * r3)));
                eq_store(dbuf + 4 * q, c0 ? eq_load(dbuf + 4 * q) + d : d);
            }
        }
        if (gxi) {
            double *gxm = gxi + grp[g].row + c0;
            eq_store(gxm, eq_load(gxm) + r0 * a0);
            eq_store(gxm + 4, eq_load(gxm + 4) + r1 * a1);
            eq_store(gxm + 8, eq_load(gxm + 8) + r2 * a2);
            eq_store(gxm + 12, eq_load(gxm + 12) + r3 * a3);
        }
        g0 += x0 * a0, g1 += x1 * a1, g2 += x2 * a2, g3 += x3 * a3;
    }
    grv[0] = g0, grv[1] = g1, grv[2] = g2, grv[3] = g3;
}

EQ_INLINE void bwd_chunk4(int c0, const tp_group *grp, int ng, const tp_item *it,
                          const double *ap, double sg, const double *gk, const double *xi,
                          const double *rv, double *gxi, double *dbuf, eq_v4 *grv)
{
    eq_v4 r0 = eq_load(rv + c0), g0 = grv[0], s = eq_set1(sg);
    for (int g = 0; g < ng; g++) {
        eq_v4 x0 = eq_load(xi + grp[g].row + c0), a0 = eq_set1(0);
        for (int k = 0; k < grp[g].n; k++, it++) {
            int q = it->q;
            eq_v4 G0 = eq_load(gk + it->row + c0);
            a0 += eq_set1(sg * ap[q]) * G0;
            if (dbuf) {
                eq_v4 d = s * (G0 * (x0 * r0));
                eq_store(dbuf + 4 * q, c0 ? eq_load(dbuf + 4 * q) + d : d);
            }
        }
        if (gxi) eq_store(gxi + grp[g].row + c0, eq_load(gxi + grp[g].row + c0) + r0 * a0);
        g0 += x0 * a0;
    }
    grv[0] = g0;
}

/* The remaining channels one at a time (dbuf lane 0); gRp [C] += the R gradient. */
static void bwd_tail(int C, int c0, const tp_pair *pr, int np, const double *ap, double sg,
                     const double *gk, const double *xi, const double *rv, double *gxi,
                     double *dbuf, double *gRp)
{
    for (int c = c0; c < C; c++) {
        double gsc = 0.0;
        for (int q = 0; q < np; q++) {
            double g = gk[pr[q].m3 * C + c], xv = xi[pr[q].m1 * C + c], acc = (sg * ap[q]) * g;
            if (gxi) gxi[pr[q].m1 * C + c] += rv[c] * acc;
            gsc += xv * acc;
            if (dbuf) dbuf[4 * q] += sg * (g * (xv * rv[c]));
        }
        gRp[c] += gsc;
    }
}

FH_EQ_HOT static void pairs_backward(fh_eq_tp *tp, int n_pairs, const int *pi, const int *pj,
                                     const double *x, const double *A, const double *R,
                                     const double *dR, int n_seeds, long n_nodes,
                                     const double *gy, double *gx, double *gY, double *gR,
                                     double *gr)
{
    const int C = tp->c_in, nw = fh_eq_tp_n_weights(tp), D = tp->dim_in, O = tp->dim_out;
    const long sy = n_nodes * O * C, sx = n_nodes * D * C, sY = (long)n_pairs * tp->nsh,
               sR = (long)n_pairs * nw;
    double *dbuf = gY ? tp->dbuf : NULL, *dbuf2 = gY ? tp->dbuf + 4 * tp->max_npair : NULL;
    double *gRt = tp->gRt;
    if (!dR) gr = NULL;
    for (int e = 0; e < n_pairs; e++) {
        const int ia = pi[e], ja = pj[e];
        const double *Ae = A + (long)e * tp->n_coeffs, *Re = R + (long)e * nw;
        for (int p = 0; p < tp->n_paths; p++) {
            const tp_path *P = &tp->paths[p];
            const tp_pair *pr = tp->pairs + P->pair0;
            const tp_group *grp = tp->bgrp + tp->bgrp0[p];
            const tp_item *it = tp->bitem + P->pair0;
            const int ng = tp->bgrp0[p + 1] - tp->bgrp0[p];
            const double *ap = Ae + P->pair0, *rv = Re + (long)p * C;
            const double sg = P->l2 % 2 ? -1.0 : 1.0;
            for (int s = 0; s < n_seeds; s++) {
                const double *gys = gy + s * sy;
                const double *gi = gys + ((long)ia * O + P->y_off) * C;   /* at i: from j */
                const double *gj = gys + ((long)ja * O + P->y_off) * C;
                const double *xi = x + ((long)ia * D + P->x_off) * C;
                const double *xj = x + ((long)ja * D + P->x_off) * C;
                double *gxi = gx ? gx + s * sx + ((long)ia * D + P->x_off) * C : NULL;
                double *gxj = gx ? gx + s * sx + ((long)ja * D + P->x_off) * C : NULL;
                int c0 = 0;
                for (; c0 + 16 <= C; c0 += 16) {
                    eq_v4 grv[4] = {eq_set1(0), eq_set1(0), eq_set1(0), eq_set1(0)};
                    bwd_chunk16(c0, grp, ng, it, ap, 1.0, gi, xj, rv, gxj, dbuf, grv);
                    bwd_chunk16(c0, grp, ng, it, ap, sg, gj, xi, rv, gxi, dbuf2, grv);
                    for (int k = 0; k < 4; k++) eq_store(gRt + c0 + 4 * k, grv[k]);
                }
                for (; c0 + 4 <= C; c0 += 4) {
                    eq_v4 grv[1] = {eq_set1(0)};
                    bwd_chunk4(c0, grp, ng, it, ap, 1.0, gi, xj, rv, gxj, dbuf, grv);
                    bwd_chunk4(c0, grp, ng, it, ap, sg, gj, xi, rv, gxi, dbuf2, grv);
                    eq_store(gRt + c0, grv[0]);
                }
                if (c0 < C) {
                    for (int c = c0; c < C; c++) gRt[c] = 0.0;
                    if (dbuf && c0 == 0) {   /* no vector chunk wrote them */
                        memset(dbuf, 0, sizeof(double) * 4 * (size_t)P->npair);
                        memset(dbuf2, 0, sizeof(double) * 4 * (size_t)P->npair);
                    }
                    bwd_tail(C, c0, pr, P->npair, ap, 1.0, gi, xj, rv, gxj, dbuf, gRt);
                    bwd_tail(C, c0, pr, P->npair, ap, sg, gj, xi, rv, gxi, dbuf2, gRt);
                }
                if (gR) {
                    double *gRs = gR + s * sR + (long)e * nw + (long)p * C;
                    for (int c = 0; c < C; c++) gRs[c] += gRt[c];
                }
                if (gr) {
                    const double *dRp = dR + (long)e * nw + (long)p * C;
                    eq_v4 t = eq_set1(0);
                    int c = 0;
                    for (; c + 4 <= C; c += 4) t += eq_load(gRt + c) * eq_load(dRp + c);
                    double v = eq_hsum(t);
                    for (; c < C; c++) v += gRt[c] * dRp[c];
                    gr[s * (long)n_pairs + e] += v;
                }
                if (dbuf) {
                    double *gsh = gY + s * sY + (long)e * tp->nsh + P->sh_off;
                    for (int q = 0; q < P->npair; q++) {
                        double ga = eq_hsum(eq_load(dbuf + 4 * q) + eq_load(dbuf2 + 4 * q));
                        for (int t = pr[q].e0; t < pr[q].e0 + pr[q].ne; t++)
                            gsh[tp->cg_m2[t]] += tp->cg_c[t] * ga;
                    }
                }
            }
        }
    }
}

static int check_pairs(const fh_eq_tp *tp, int n_nodes, int n_pairs, const int *pi, const int *pj,
                       fh_err *err)
{
    if (tp->kind != FH_EQ_TP_CHANNELWISE)
        return fh_err_set(err, FH_EINPUT, "tensor product: pair form needs the channelwise kind");
    return eq_tp_check_edges(tp, n_nodes, n_pairs, pi, pj, err);
}

int fh_eq_tp_forward_pairs(const fh_eq_tp *tp, int n_nodes, int n_pairs, const int *pi,
                           const int *pj, const double *x, const double *A, const double *R,
                           double *y, fh_err *err)
{
    int rc = check_pairs(tp, n_nodes, n_pairs, pi, pj, err);
    if (rc) return rc;
    memset(y, 0, sizeof(double) * (size_t)n_nodes * tp->dim_out * tp->c_out);
    pairs_forward(tp, n_pairs, pi, pj, x, A, R, y);
    return FH_OK;
}

int fh_eq_tp_backward_pairs(fh_eq_tp *tp, int n_nodes, int n_pairs, const int *pi, const int *pj,
                            const double *x, const double *A, const double *R, const double *dR,
                            int n_seeds, const double *gy, double *gx, double *gY, double *gR,
                            double *gr, fh_err *err)
{
    int rc = check_pairs(tp, n_nodes, n_pairs, pi, pj, err);
    if (rc) return rc;
    if (n_seeds < 1) return fh_err_set(err, FH_EINPUT, "tensor product: %d seeds", n_seeds);
    pairs_backward(tp, n_pairs, pi, pj, x, A, R, dR, n_seeds, n_nodes, gy, gx, gY, gR, gr);
    return FH_OK;
}
