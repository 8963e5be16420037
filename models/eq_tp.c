/* Tensor products of node features with edge spherical harmonics, summed into the receiving node:
 * the message-passing step of the network (see fh_equivariant.h for the formulas).
 *
 * How it is evaluated, per edge and path (i, l2) -> k:
 *   A[m3][m1] = sum_m2 CG[m1 m2 m3] Y_l2,m2(e)          (few scalars: the sparse CG pairs)
 *   y_recv,k[m3][c] += w_e,path[c] sum_m1 A[m3][m1] x_send,i[m1][c]   (pairs with CG != 0)
 * so the work per pair is one multiply-add over contiguous channels, summed in registers over
 * the pairs of one output row (16 channels at a time). The (m3, m1) pairs and their CG entries
 * are listed once at allocation (CG entries are sorted by m3, m1, m2; a second ordering by m1
 * serves the backward pass). The fully
 * connected variant accumulates every path separately into a per-node buffer and mixes channels
 * after the neighbour sum (linear, so exact), one matrix product per path. */
#include <stdlib.h>
#include "fh_equivariant.h"
#include "eq_internal.h"
#include "eq_tp_internal.h"

fh_eq_tp *fh_eq_tp_alloc(const fh_eq_cg *cg, fh_eq_tp_kind kind, const fh_eq_irreps *in, int c_in,
                         int lmax_sh, const fh_eq_irreps *out, int c_out, int max_nodes,
                         fh_err *err)
{
    if (c_in < 1 || c_out < 1 || max_nodes < 1) {
        fh_err_set(err, FH_EINPUT, "tensor product: channels and max_nodes must be positive");
        return NULL;
    }
    if (kind == FH_EQ_TP_CHANNELWISE && c_out != c_in) {
        fh_err_set(err, FH_EINPUT, "channelwise tensor product: output channels %d != input %d",
                   c_out, c_in);
        return NULL;
    }
    if (kind != FH_EQ_TP_CHANNELWISE && kind != FH_EQ_TP_FULL) {
        fh_err_set(err, FH_EINPUT, "tensor product: unknown kind %d", (int)kind);
        return NULL;
    }
    int lneed = lmax_sh;
    if (fh_eq_irreps_lmax(in) > lneed) lneed = fh_eq_irreps_lmax(in);
    if (fh_eq_irreps_lmax(out) > lneed) lneed = fh_eq_irreps_lmax(out);
    if (lmax_sh < 0 || lneed > fh_eq_cg_lmax(cg)) {
        fh_err_set(err, FH_EINPUT, "tensor product: needs l up to %d but the CG table has %d",
                   lneed, fh_eq_cg_lmax(cg));
        return NULL;
    }
    fh_eq_tp *tp = calloc(1, sizeof *tp);
    if (!tp) goto oom;
    tp->kind = kind;
    tp->in = *in, tp->out = *out;
    tp->c_in = c_in, tp->c_out = c_out, tp->lmax_sh = lmax_sh, tp->max_nodes = max_nodes;
    tp->nsh = (lmax_sh + 1) * (lmax_sh + 1);
    tp->dim_in = fh_eq_irreps_dim(in), tp->dim_out = fh_eq_irreps_dim(out);

    /* Count paths, pairs and entries, then fill. */
    for (int pass = 0; pass < 2; pass++) {
        int np = 0, npair = 0, nent = 0, agg = 0;
        double flops = 0, flops_bwd = 0;
        for (int i = 0; i < in->n; i++)
            for (int l2 = 0; l2 <= lmax_sh; l2++)
                for (int k = 0; k < out->n; k++) {
                    int l1 = in->l[i], l3 = out->l[k];
                    int p2 = (l2 % 2) ? -1 : 1;
                    if (out->p[k] != in->p[i] * p2) continue;
                    int ne;
                    const fh_eq_cg_entry *e = fh_eq_cg_block(cg, l1, l2, l3, &ne);
                    if (ne == 0) continue;
                    int pair0 = npair;
                    for (int q = 0; q < ne; q++) {
                        int newpair = (q == 0 || e[q].m3 != e[q - 1].m3 || e[q].m1 != e[q - 1].m1);
                        if (newpair) {
                            if (pass == 1) {
                                tp->pairs[npair].m3 = e[q].m3;
                                tp->pairs[npair].m1 = e[q].m1;
                                tp->pairs[npair].e0 = nent;
                                tp->pairs[npair].ne = 0;
                            }
                            npair++;
                        }
                        if (pass == 1) {
                            tp->pairs[npair - 1].ne++;
                            tp->cg_m2[nent] = e[q].m2;
                            tp->cg_c[nent] = e[q].c;
                        }
                        nent++;
                    }
                    if (pass == 1) {
                        tp_path *p = &tp->paths[np];
                        p->in_block = i, p->l1 = l1, p->l2 = l2, p->out_block = k, p->l3 = l3;
                        p->x_off = fh_eq_irreps_offset(in, i);
                        p->y_off = kind == FH_EQ_TP_FULL ? agg : fh_eq_irreps_offset(out, k);
                        p->sh_off = l2 * l2;
                        p->pair0 = pair0, p->npair = npair - pair0;
                    }
                    int d1 = 2 * l1 + 1, npr = npair - pair0;
                    flops += 2.0 * ne + (double)d1 * c_in + 2.0 * npr * c_in;
                    flops_bwd += 4.0 * ne + (4.0 * npr + 5.0 * d1) * c_in;
                    agg += 2 * l3 + 1;
                    np++;
                }
        if (pass == 0) {
            tp->paths = malloc(sizeof(tp_path) * (size_t)(np ? np : 1));
            tp->pairs = malloc(sizeof(tp_pair) * (size_t)(npair ? npair : 1));
            tp->cg_m2 = malloc(sizeof(int) * (size_t)(nent ? nent : 1));
            tp->cg_c = malloc(sizeof(double) * (size_t)(nent ? nent : 1));
            if (!tp->paths || !tp->pairs || !tp->cg_m2 || !tp->cg_c) goto oom;
        } else {
            tp->n_paths = np;
            tp->agg_dim = agg;
            tp->flops_edge = flops;
            tp->flops_edge_bwd = flops_bwd;
            tp->flops_node = kind == FH_EQ_TP_FULL ? 2.0 * agg * c_in * c_out : 0.0;
        }
    }
    if (tp->n_paths == 0) {
        fh_err_set(err, FH_EINPUT, "tensor product: no path couples the inputs to the outputs");
        fh_eq_tp_free(tp);
        return NULL;
    }
    int npair_all = tp->paths[tp->n_paths - 1].pair0 + tp->paths[tp->n_paths - 1].npair;
    tp->by_m1 = malloc(sizeof(int) * (size_t)npair_all);
    if (!tp->by_m1) goto oom;
    for (int p = 0; p < tp->n_paths; p++) {
        const tp_path *P = &tp->paths[p];
        int *ord = tp->by_m1 + P->pair0, n = 0;
        for (int m1 = 0; m1 <= 2 * P->l1; m1++)
            for (int q = 0; q < P->npair; q++)
                if (tp->pairs[P->pair0 + q].m1 == m1) ord[n++] = q;
        if (P->npair > tp->max_npair) tp->max_npair = P->npair;
    }
    tp->abuf = malloc(sizeof(double) * 4 * (size_t)tp->max_npair);
    tp->t3 = malloc(sizeof(double) * (size_t)(2 * fh_eq_irreps_lmax(out) + 1) * c_in);
    if (!tp->abuf || !tp->t3 || eq_tp_pairs_prepare(tp)) goto oom;
    if (kind == FH_EQ_TP_FULL) {
        size_t na = (size_t)max_nodes * tp->agg_dim * c_in;
        tp->agg = malloc(sizeof(double) * na);
        tp->gagg = malloc(sizeof(double) * na);
        if (!tp->agg || !tp->gagg) goto oom;
    }
    return tp;
oom:
    fh_err_set(err, FH_EFAIL, "tensor product: out of memory");
    fh_eq_tp_free(tp);
    return NULL;
}

void fh_eq_tp_free(fh_eq_tp *tp)
{
    if (!tp) return;
    free(tp->paths), free(tp->pairs), free(tp->cg_m2), free(tp->cg_c);
    free(tp->agg), free(tp->gagg), free(tp->by_m1), free(tp->abuf), free(tp->t3);
    eq_tp_pairs_release(tp);
    free(tp);
}

int fh_eq_tp_n_paths(const fh_eq_tp *tp) { return tp->n_paths; }
int fh_eq_tp_n_weights(const fh_eq_tp *tp)
{
    return tp->kind == FH_EQ_TP_CHANNELWISE ? tp->n_paths * tp->c_in : tp->n_paths;
}
size_t fh_eq_tp_n_params(const fh_eq_tp *tp)
{
    return tp->kind == FH_EQ_TP_FULL ? (size_t)tp->n_paths * tp->c_in * tp->c_out : 0;
}
void fh_eq_tp_path(const fh_eq_tp *tp, int p, int *in_block, int *l2, int *out_block)
{
    *in_block = tp->paths[p].in_block, *l2 = tp->paths[p].l2, *out_block = tp->paths[p].out_block;
}
double fh_eq_tp_flops(const fh_eq_tp *tp, int n_nodes, int n_edges, int backward)
{
    /* the backward pass of the per-node mixing is two products of the forward's size */
    if (backward) return n_edges * tp->flops_edge_bwd + 2.0 * n_nodes * tp->flops_node;
    return n_edges * tp->flops_edge + n_nodes * tp->flops_node;
}

/* --- per-edge kernels --------------------------------------------------------------------- */
/* A[m3][m1] of every (m3, m1) pair of path P for this edge, broadcast into abuf. */
EQ_INLINE void pair_coefficients(const fh_eq_tp *tp, const tp_path *P, const double *ysh,
                                 double *abuf)
{
    const tp_pair *pr = tp->pairs + P->pair0;
    for (int q = 0; q < P->npair; q++) {
        double a = 0.0;
        for (int t = pr[q].e0; t < pr[q].e0 + pr[q].ne; t++) a += tp->cg_c[t] * ysh[tp->cg_m2[t]];
        eq_store(abuf + 4 * q, eq_set1(a));
    }
}

/* y[m3][c0 .. c0+16) += r (x) sum_m1 A[m3][m1] x[m1][..]: the pairs come sorted by m3, so each
 * output row is summed in four vector registers and written once. r = rv (channelwise) or the
 * scalar rs. (Separate variables, not an array: GCC 12 at -O2 keeps arrays in memory.) */
EQ_INLINE void fwd_chunk16(int C, int c0, const tp_pair *pr, int np, const double *abuf,
                           const double *xi, const double *rv, double rs, double *yk)
{
    int q = 0;
    while (q < np) {
        int m3 = pr[q].m3;
        eq_v4 s0 = eq_set1(0), s1 = s0, s2 = s0, s3 = s0;
        for (; q < np && pr[q].m3 == m3; q++) {
            eq_v4 a = eq_load(abuf + 4 * q);
            const double *xm = xi + pr[q].m1 * C + c0;
            s0 += a * eq_load(xm);
            s1 += a * eq_load(xm + 4);
            s2 += a * eq_load(xm + 8);
            s3 += a * eq_load(xm + 12);
        }
        double *yy = yk + m3 * C + c0;
        if (rv) {
            s0 *= eq_load(rv + c0), s1 *= eq_load(rv + c0 + 4);
            s2 *= eq_load(rv + c0 + 8), s3 *= eq_load(rv + c0 + 12);
        } else {
            eq_v4 r = eq_set1(rs);
            s0 *= r, s1 *= r, s2 *= r, s3 *= r;
        }
        eq_store(yy, eq_load(yy) + s0);
        eq_store(yy + 4, eq_load(yy + 4) + s1);
        eq_store(yy + 8, eq_load(yy + 8) + s2);
        eq_store(yy + 12, eq_load(yy + 12) + s3);
    }
}

/* The same for 4 channels. */
EQ_INLINE void fwd_chunk4(int C, int c0, const tp_pair *pr, int np, const double *abuf,
                          const double *xi, const double *rv, double rs, double *yk)
{
    int q = 0;
    while (q < np) {
        int m3 = pr[q].m3;
        eq_v4 s0 = eq_set1(0);
        for (; q < np && pr[q].m3 == m3; q++) s0 += eq_load(abuf + 4 * q) * eq_load(xi + pr[q].m1 * C + c0);
        double *yy = yk + m3 * C + c0;
        s0 *= rv ? eq_load(rv + c0) : eq_set1(rs);
        eq_store(yy, eq_load(yy) + s0);
    }
}

/* Backward through the pairs for channels c0 .. c0+16: per input row m1 (pairs in by_m1 order)
 * acc = sum_m3 A[m3][m1] g[m3]; gx[m1] += r (x) acc; the R gradient x[m1] (x) acc is summed into
 * grv[0..3]. */
EQ_INLINE void bwd_chunk16(int C, int c0, const tp_pair *pr, const int *ord, int np,
                           const double *abuf, const double *gk, const double *xi,
                           const double *rv, double rs, double *gxi, eq_v4 *grv)
{
    eq_v4 r0, r1, r2, r3;
    if (rv) {
        r0 = eq_load(rv + c0), r1 = eq_load(rv + c0 + 4), r2 = eq_load(rv + c0 + 8), r3 = eq_load(rv + c0 + 12);
    } else {
        r0 = r1 = r2 = r3 = eq_set1(rs);
    }
    eq_v4 g0 = grv[0], g1 = grv[1], g2 = grv[2], g3 = grv[3];
    int i = 0;
    while (i < np) {
        int m1 = pr[ord[i]].m1;
        eq_v4 a0 = eq_set1(0), a1 = a0, a2 = a0, a3 = a0;
        for (; i < np && pr[ord[i]].m1 == m1; i++) {
            int q = ord[i];
            eq_v4 a = eq_load(abuf + 4 * q);
            const double *gm = gk + pr[q].m3 * C + c0;
            a0 += a * eq_load(gm);
            a1 += a * eq_load(gm + 4);
            a2 += a * eq_load(gm + 8);
            a3 += a * eq_load(gm + 12);
        }
        if (gxi) {
            double *gxm = gxi + m1 * C + c0;
            eq_store(gxm, eq_load(gxm) + r0 * a0);
            eq_store(gxm + 4, eq_load(gxm + 4) + r1 * a1);
            eq_store(gxm + 8, eq_load(gxm + 8) + r2 * a2);
            eq_store(gxm + 12, eq_load(gxm + 12) + r3 * a3);
        }
        const double *xm = xi + m1 * C + c0;
        g0 += eq_load(xm) * a0;
        g1 += eq_load(xm + 4) * a1;
        g2 += eq_load(xm + 8) * a2;
        g3 += eq_load(xm + 12) * a3;
    }
    grv[0] = g0, grv[1] = g1, grv[2] = g2, grv[3] = g3;
}

EQ_INLINE void bwd_chunk4(int C, int c0, const tp_pair *pr, const int *ord, int np,
                          const double *abuf, const double *gk, const double *xi, const double *rv,
                          double rs, double *gxi, eq_v4 *grv)
{
    eq_v4 r0 = rv ? eq_load(rv + c0) : eq_set1(rs), g0 = grv[0];
    int i = 0;
    while (i < np) {
        int m1 = pr[ord[i]].m1;
        eq_v4 a0 = eq_set1(0);
        for (; i < np && pr[ord[i]].m1 == m1; i++)
            a0 += eq_load(abuf + 4 * ord[i]) * eq_load(gk + pr[ord[i]].m3 * C + c0);
        if (gxi) eq_store(gxi + m1 * C + c0, eq_load(gxi + m1 * C + c0) + r0 * a0);
        g0 += eq_load(xi + m1 * C + c0) * a0;
    }
    grv[0] = g0;
}

int eq_tp_check_edges(const fh_eq_tp *tp, int n_nodes, int n_edges, const int *sender,
                      const int *receiver, fh_err *err)
{
    if (n_nodes < 0 || n_edges < 0)
        return fh_err_set(err, FH_EINPUT, "tensor product: negative sizes");
    if (tp->kind == FH_EQ_TP_FULL && n_nodes > tp->max_nodes)
        return fh_err_set(err, FH_EINPUT, "tensor product: %d nodes exceed the allocated %d",
                          n_nodes, tp->max_nodes);
    for (int e = 0; e < n_edges; e++)
        if (sender[e] < 0 || sender[e] >= n_nodes || receiver[e] < 0 || receiver[e] >= n_nodes)
            return fh_err_set(err, FH_EINPUT, "tensor product: edge %d (%d -> %d) outside 0..%d", e,
                              sender[e], receiver[e], n_nodes - 1);
    return FH_OK;
}

/* Messages of all edges into y (channelwise: y [n][dim_out][c]; full: agg [n][agg_dim][c]). */
FH_EQ_HOT static void tp_edges_forward(fh_eq_tp *tp, int n_edges, const int *sender,
                                       const int *receiver, const double *x, const double *Y,
                                       const double *R, double *y, int ydim)
{
    const int C = tp->c_in, full = tp->kind == FH_EQ_TP_FULL;
    const int nw = fh_eq_tp_n_weights(tp);
    double *abuf = tp->abuf;
    for (int e = 0; e < n_edges; e++) {
        const double *xs = x + (long)sender[e] * tp->dim_in * C;
        double *yr = y + (long)receiver[e] * ydim * C;
        const double *Ye = Y + (long)e * tp->nsh, *Re = R + (long)e * nw;
        for (int p = 0; p < tp->n_paths; p++) {
            const tp_path *P = &tp->paths[p];
            const tp_pair *pr = tp->pairs + P->pair0;
            const double *xi = xs + (long)P->x_off * C;
            const double *rv = full ? NULL : Re + (long)p * C;
            double rs = full ? Re[p] : 0.0, *yk = yr + (long)P->y_off * C;
            pair_coefficients(tp, P, Ye + P->sh_off, abuf);
            int c0 = 0;
            for (; c0 + 16 <= C; c0 += 16) fwd_chunk16(C, c0, pr, P->npair, abuf, xi, rv, rs, yk);
            for (; c0 + 4 <= C; c0 += 4) fwd_chunk4(C, c0, pr, P->npair, abuf, xi, rv, rs, yk);
            for (; c0 < C; c0++)
                for (int q = 0; q < P->npair; q++)
                    yk[pr[q].m3 * C + c0] += (rv ? rv[c0] : rs) * abuf[4 * q] * xi[pr[q].m1 * C + c0];
        }
    }
}

FH_EQ_HOT static void tp_edges_backward(fh_eq_tp *tp, int n_edges, const int *sender,
                                        const int *receiver, const double *x, const double *Y,
                                        const double *R, const double *gy, int ydim, double *gx,
                                        double *gY, double *gR)
{
    const int C = tp->c_in, full = tp->kind == FH_EQ_TP_FULL;
    const int nw = fh_eq_tp_n_weights(tp);
    double *abuf = tp->abuf, *t3 = tp->t3;
    for (int e = 0; e < n_edges; e++) {
        const double *xs = x + (long)sender[e] * tp->dim_in * C;
        const double *gr = gy + (long)receiver[e] * ydim * C;
        const double *Ye = Y + (long)e * tp->nsh, *Re = R + (long)e * nw;
        double *gxs = gx ? gx + (long)sender[e] * tp->dim_in * C : NULL;
        double *gYe = gY ? gY + (long)e * tp->nsh : NULL;
        double *gRe = gR ? gR + (long)e * nw : NULL;
        for (int p = 0; p < tp->n_paths; p++) {
            const tp_path *P = &tp->paths[p];
            const tp_pair *pr = tp->pairs + P->pair0;
            const int *ord = tp->by_m1 + P->pair0;
            const double *xi = xs + (long)P->x_off * C, *gk = gr + (long)P->y_off * C;
            const double *rv = full ? NULL : Re + (long)p * C;
            double rs = full ? Re[p] : 0.0;
            double *gxi = gxs ? gxs + (long)P->x_off * C : NULL;
            pair_coefficients(tp, P, Ye + P->sh_off, abuf);
            if (gxi || gRe) {
                double gsum = 0.0;   /* full: the scalar gradient of R[e][p] */
                int c0 = 0;
                for (; c0 + 16 <= C; c0 += 16) {
                    eq_v4 grv[4] = {eq_set1(0), eq_set1(0), eq_set1(0), eq_set1(0)};
                    bwd_chunk16(C, c0, pr, ord, P->npair, abuf, gk, xi, rv, rs, gxi, grv);
                    if (gRe && full) {
                        gsum += eq_hsum((grv[0] + grv[1]) + (grv[2] + grv[3]));
                    } else if (gRe) {
                        double *gp = gRe + (long)p * C + c0;
                        eq_store(gp, eq_load(gp) + grv[0]);
                        eq_store(gp + 4, eq_load(gp + 4) + grv[1]);
                        eq_store(gp + 8, eq_load(gp + 8) + grv[2]);
                        eq_store(gp + 12, eq_load(gp + 12) + grv[3]);
                    }
                }
                for (; c0 + 4 <= C; c0 += 4) {
                    eq_v4 grv[1] = {eq_set1(0)};
                    bwd_chunk4(C, c0, pr, ord, P->npair, abuf, gk, xi, rv, rs, gxi, grv);
                    if (gRe) {
                        if (full) gsum += eq_hsum(grv[0]);
                        else eq_store(gRe + (long)p * C + c0, eq_load(gRe + (long)p * C + c0) + grv[0]);
                    }
                }
                for (; c0 < C; c0++) {
                    double r = rv ? rv[c0] : rs, gsc = 0.0;
                    for (int i = 0; i < P->npair; i++) {
                        int q = ord[i];
                        double acc = abuf[4 * q] * gk[pr[q].m3 * C + c0];
                        if (gxi) gxi[pr[q].m1 * C + c0] += r * acc;
                        gsc += xi[pr[q].m1 * C + c0] * acc;
                    }
                    if (gRe) {
                        if (full) gsum += gsc;
                        else gRe[(long)p * C + c0] += gsc;
                    }
                }
                if (gRe && full) gRe[p] += gsum;
            }
            if (gYe) {
                /* dL/dA[m3][m1] = sum_c g[m3][c] r[c] x[m1][c]; then through A = sum CG Y. */
                int d3 = 2 * P->l3 + 1;
                for (int m3 = 0; m3 < d3; m3++) {
                    const double *gm = gk + m3 * C;
                    double *tm = t3 + m3 * C;
                    int c = 0;
                    if (rv) {
                        for (; c + 4 <= C; c += 4) eq_store(tm + c, eq_load(rv + c) * eq_load(gm + c));
                        for (; c < C; c++) tm[c] = rv[c] * gm[c];
                    } else {
                        for (; c + 4 <= C; c += 4) eq_store(tm + c, eq_set1(rs) * eq_load(gm + c));
                        for (; c < C; c++) tm[c] = rs * gm[c];
                    }
                }
                double *gsh = gYe + P->sh_off;
                for (int q = 0; q < P->npair; q++) {
                    const double *ta = t3 + pr[q].m3 * C, *xb = xi + pr[q].m1 * C;
                    eq_v4 s0 = eq_set1(0), s1 = s0;
                    int c = 0;
                    for (; c + 8 <= C; c += 8) {
                        s0 += eq_load(ta + c) * eq_load(xb + c);
                        s1 += eq_load(ta + c + 4) * eq_load(xb + c + 4);
                    }
                    for (; c + 4 <= C; c += 4) s0 += eq_load(ta + c) * eq_load(xb + c);
                    double ga = eq_hsum(s0 + s1);
                    for (; c < C; c++) ga += ta[c] * xb[c];
                    for (int t = pr[q].e0; t < pr[q].e0 + pr[q].ne; t++) gsh[tp->cg_m2[t]] += tp->cg_c[t] * ga;
                }
            }
        }
    }
}

/* Rows of path p's block in the per-path buffer, or of output block k in y. */
static eq_mat agg_mat(const fh_eq_tp *tp, double *buf, int p)
{
    eq_mat m = {buf + (long)tp->paths[p].y_off * tp->c_in, tp->c_in, 2 * tp->paths[p].l3 + 1,
                (long)tp->agg_dim * tp->c_in};
    return m;
}
static eq_mat out_mat(const fh_eq_tp *tp, double *y, int k)
{
    eq_mat m = {y + (long)fh_eq_irreps_offset(&tp->out, k) * tp->c_out, tp->c_out,
                2 * tp->out.l[k] + 1, (long)tp->dim_out * tp->c_out};
    return m;
}

int fh_eq_tp_forward(fh_eq_tp *tp, const double *theta, int n_nodes, int n_edges,
                     const int *sender, const int *receiver, const double *x, const double *Y,
                     const double *R, double *y, fh_err *err)
{
    int rc = eq_tp_check_edges(tp, n_nodes, n_edges, sender, receiver, err);
    if (rc) return rc;
    if (tp->kind == FH_EQ_TP_CHANNELWISE) {
        memset(y, 0, sizeof(double) * (size_t)n_nodes * tp->dim_out * tp->c_out);
        tp_edges_forward(tp, n_edges, sender, receiver, x, Y, R, y, tp->dim_out);
        return FH_OK;
    }
    memset(tp->agg, 0, sizeof(double) * (size_t)n_nodes * tp->agg_dim * tp->c_in);
    tp_edges_forward(tp, n_edges, sender, receiver, x, Y, R, tp->agg, tp->agg_dim);
    const int ci = tp->c_in, co = tp->c_out;
    for (int k = 0; k < tp->out.n; k++) {
        eq_mat ym = out_mat(tp, y, k);
        long rows = (long)n_nodes * ym.group;
        int started = 0;
        for (int p = 0; p < tp->n_paths; p++) {
            if (tp->paths[p].out_block != k) continue;
            eq_gemm_nn(rows, co, ci, agg_mat(tp, tp->agg, p), theta + (size_t)p * ci * co, co, ym,
                       started);
            started = 1;
        }
        if (!started)
            for (long r = 0; r < rows; r++) memset(eq_row(ym, r), 0, sizeof(double) * co);
    }
    return FH_OK;
}

int fh_eq_tp_backward(fh_eq_tp *tp, const double *theta, int n_nodes, int n_edges,
                      const int *sender, const int *receiver, const double *x, const double *Y,
                      const double *R, const double *gy, double *gx, double *gY, double *gR,
                      double *gtheta, fh_err *err)
{
    int rc = eq_tp_check_edges(tp, n_nodes, n_edges, sender, receiver, err);
    if (rc) return rc;
    if (tp->kind == FH_EQ_TP_CHANNELWISE) {
        tp_edges_backward(tp, n_edges, sender, receiver, x, Y, R, gy, tp->dim_out, gx, gY, gR);
        return FH_OK;
    }
    const int ci = tp->c_in, co = tp->c_out;
    for (int p = 0; p < tp->n_paths; p++) {
        eq_mat gym = out_mat(tp, (double *)gy, tp->paths[p].out_block);
        long rows = (long)n_nodes * gym.group;
        eq_gemm_nt(rows, ci, co, gym, theta + (size_t)p * ci * co, co, agg_mat(tp, tp->gagg, p), 0);
        if (gtheta)
            eq_gemm_tn(rows, ci, co, agg_mat(tp, tp->agg, p), gym, gtheta + (size_t)p * ci * co, co, 1);
    }
    tp_edges_backward(tp, n_edges, sender, receiver, x, Y, R, tp->gagg, tp->agg_dim, gx, gY, gR);
    return FH_OK;
}
