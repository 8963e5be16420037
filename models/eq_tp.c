/* Tensor products of node features with edge spherical harmonics, summed into the receiving node:
 * the message-passing step of the network (see fh_equivariant.h for the formulas).
 *
 * How it is evaluated, per edge and path (i, l2) -> k:
 *   A[m3][m1] = sum_m2 CG[m1 m2 m3] Y_l2,m2(e)          (few scalars: the sparse CG pairs)
 *   xr[m1][c] = w_e,path[c] x_send,i[m1][c]
 *   y_recv,k[m3][c] += A[m3][m1] xr[m1][c]              (over the (m3, m1) pairs with CG != 0)
 * so the work per pair is one multiply-add over contiguous channels. The (m3, m1) pairs and their
 * CG entries are listed once at allocation (CG entries are sorted by m3, m1, m2). The fully
 * connected variant accumulates every path separately into a per-node buffer and mixes channels
 * after the neighbour sum (linear, so exact), one matrix product per path. */
#include <stdlib.h>
#include "fh_equivariant.h"
#include "eq_internal.h"

typedef struct {
    int in_block, l1, l2, out_block, l3;
    int x_off;       /* m offset of the input block */
    int y_off;       /* m offset of the output: block k (channelwise) or the path's rows (full) */
    int sh_off;      /* l2 * l2: offset of Y_l2 in an edge's harmonics */
    int pair0, npair;
} tp_path;

typedef struct {
    int m3, m1;
    int e0, ne;      /* entries e0 .. e0+ne-1 of cg_m2 / cg_c */
} tp_pair;

struct fh_eq_tp {
    fh_eq_tp_kind kind;
    fh_eq_irreps in, out;
    int c_in, c_out, lmax_sh, nsh, dim_in, dim_out, max_nodes;
    int n_paths;
    tp_path *paths;
    tp_pair *pairs;
    int *cg_m2;
    double *cg_c;
    int agg_dim;         /* full: rows per node of the per-path buffer */
    double *agg, *gagg;  /* full: [max_nodes][agg_dim][c_in] */
    double *xr, *gxr;    /* scratch [(2 lmax_in + 1) c_in] */
    double flops_edge, flops_edge_bwd;   /* per edge, forward and backward */
    double flops_node;                   /* full: per node mixing, forward */
};

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
    int lin_max = fh_eq_irreps_lmax(in);
    tp->xr = malloc(sizeof(double) * (size_t)(2 * lin_max + 1) * c_in);
    tp->gxr = malloc(sizeof(double) * (size_t)(2 * lin_max + 1) * c_in);
    if (!tp->xr || !tp->gxr) goto oom;
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
    free(tp->agg), free(tp->gagg), free(tp->xr), free(tp->gxr);
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

/* --- channel-vector helpers (n = channels) ------------------------------------------------- */
EQ_INLINE void v_mul(int n, const double *a, const double *b, double *out)
{
    int c = 0;
    for (; c + 4 <= n; c += 4) eq_store(out + c, eq_load(a + c) * eq_load(b + c));
    for (; c < n; c++) out[c] = a[c] * b[c];
}
EQ_INLINE void v_scale(int n, double s, const double *a, double *out)
{
    int c = 0;
    eq_v4 sv = eq_set1(s);
    for (; c + 4 <= n; c += 4) eq_store(out + c, sv * eq_load(a + c));
    for (; c < n; c++) out[c] = s * a[c];
}
EQ_INLINE void v_axpy(int n, double s, const double *x, double *y)
{
    int c = 0;
    eq_v4 sv = eq_set1(s);
    for (; c + 4 <= n; c += 4) eq_store(y + c, eq_load(y + c) + sv * eq_load(x + c));
    for (; c < n; c++) y[c] += s * x[c];
}
EQ_INLINE void v_fma(int n, const double *a, const double *b, double *y)
{
    int c = 0;
    for (; c + 4 <= n; c += 4) eq_store(y + c, eq_load(y + c) + eq_load(a + c) * eq_load(b + c));
    for (; c < n; c++) y[c] += a[c] * b[c];
}
EQ_INLINE double v_dot(int n, const double *a, const double *b)
{
    int c = 0;
    eq_v4 s = eq_set1(0);
    for (; c + 4 <= n; c += 4) s += eq_load(a + c) * eq_load(b + c);
    double t = eq_hsum(s);
    for (; c < n; c++) t += a[c] * b[c];
    return t;
}

static int check_edges(const fh_eq_tp *tp, int n_nodes, int n_edges, const int *sender,
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
    double *xr = tp->xr;
    for (int e = 0; e < n_edges; e++) {
        const double *xs = x + (long)sender[e] * tp->dim_in * C;
        double *yr = y + (long)receiver[e] * ydim * C;
        const double *Ye = Y + (long)e * tp->nsh, *Re = R + (long)e * nw;
        for (int p = 0; p < tp->n_paths; p++) {
            const tp_path *P = &tp->paths[p];
            const double *xi = xs + (long)P->x_off * C, *ysh = Ye + P->sh_off;
            double *yk = yr + (long)P->y_off * C;
            int d1 = 2 * P->l1 + 1;
            for (int m1 = 0; m1 < d1; m1++) {
                if (full) v_scale(C, Re[p], xi + m1 * C, xr + m1 * C);
                else v_mul(C, Re + (long)p * C, xi + m1 * C, xr + m1 * C);
            }
            for (int q = P->pair0; q < P->pair0 + P->npair; q++) {
                const tp_pair *pr = &tp->pairs[q];
                double a = 0.0;
                for (int t = pr->e0; t < pr->e0 + pr->ne; t++) a += tp->cg_c[t] * ysh[tp->cg_m2[t]];
                v_axpy(C, a, xr + pr->m1 * C, yk + pr->m3 * C);
            }
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
    double *xr = tp->xr, *gxr = tp->gxr;
    for (int e = 0; e < n_edges; e++) {
        const double *xs = x + (long)sender[e] * tp->dim_in * C;
        const double *gr = gy + (long)receiver[e] * ydim * C;
        const double *Ye = Y + (long)e * tp->nsh, *Re = R + (long)e * nw;
        double *gxs = gx ? gx + (long)sender[e] * tp->dim_in * C : NULL;
        double *gYe = gY ? gY + (long)e * tp->nsh : NULL;
        double *gRe = gR ? gR + (long)e * nw : NULL;
        for (int p = 0; p < tp->n_paths; p++) {
            const tp_path *P = &tp->paths[p];
            const double *xi = xs + (long)P->x_off * C, *ysh = Ye + P->sh_off;
            const double *gk = gr + (long)P->y_off * C;
            const double *rp = Re + (long)p * C;
            int d1 = 2 * P->l1 + 1;
            if (gxs || gRe) {
                memset(gxr, 0, sizeof(double) * d1 * C);
                for (int q = P->pair0; q < P->pair0 + P->npair; q++) {
                    const tp_pair *pr = &tp->pairs[q];
                    double a = 0.0;
                    for (int t = pr->e0; t < pr->e0 + pr->ne; t++) a += tp->cg_c[t] * ysh[tp->cg_m2[t]];
                    v_axpy(C, a, gk + pr->m3 * C, gxr + pr->m1 * C);
                }
                for (int m1 = 0; m1 < d1; m1++) {
                    if (gxs) {
                        if (full) v_axpy(C, Re[p], gxr + m1 * C, gxs + (long)(P->x_off + m1) * C);
                        else v_fma(C, rp, gxr + m1 * C, gxs + (long)(P->x_off + m1) * C);
                    }
                    if (gRe) {
                        if (full) gRe[p] += v_dot(C, xi + m1 * C, gxr + m1 * C);
                        else v_fma(C, xi + m1 * C, gxr + m1 * C, gRe + (long)p * C);
                    }
                }
            }
            if (gYe) {
                for (int m1 = 0; m1 < d1; m1++) {
                    if (full) v_scale(C, Re[p], xi + m1 * C, xr + m1 * C);
                    else v_mul(C, rp, xi + m1 * C, xr + m1 * C);
                }
                double *gsh = gYe + P->sh_off;
                for (int q = P->pair0; q < P->pair0 + P->npair; q++) {
                    const tp_pair *pr = &tp->pairs[q];
                    double ga = v_dot(C, gk + pr->m3 * C, xr + pr->m1 * C);
                    for (int t = pr->e0; t < pr->e0 + pr->ne; t++) gsh[tp->cg_m2[t]] += tp->cg_c[t] * ga;
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
    int rc = check_edges(tp, n_nodes, n_edges, sender, receiver, err);
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
    int rc = check_edges(tp, n_nodes, n_edges, sender, receiver, err);
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
