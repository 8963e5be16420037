/* The fusion block in single precision, for inference (fh_eq_fusion_set_single).
 *
 * Why: after the tensor product, the fusion block's couplings and channel mixing were the largest
 * double-precision part of a mixed-precision dynamics step. Here the whole block runs on float
 * copies of the nodes' arrays: 8 lanes per AVX2 operation instead of 4, half the memory. The
 * input x and the output y stay double at the interface (rounded in, widened out); results are
 * within about 1e-7 of each output's largest value of eq_fusion.c's. Same tree, same CG lists
 * and loop order as there; the reverse pass gives the input gradient only (training keeps the
 * double code, which also gives the weight gradient). */
#include <stdlib.h>
#include "eq_fusion_internal.h"

enum { SCALED = 0, ADD = 1 };   /* what a key's sum does: out += mul (x) acc, or out += acc */

/* For channels c0 .. c0+16 and every key of the list: acc = sum c u[iu] (x) v[iv], then flushed
 * into out[key] (rows of stride C), as eq_fusion.c's contract16. */
EQ_INLINE void contract16f(int mode, int C, int c0, const fus_ent *ent, int n, const float *u,
                           const float *v, float *out, const float *mul)
{
    int t = 0;
    while (t < n) {
        int key = ent[t].key;
        eq_v8f s0 = eq_set1f(0), s1 = s0;
        for (; t < n && ent[t].key == key; t++) {
            const float *x = u + ent[t].iu * C + c0, *y = v + ent[t].iv * C + c0;
            eq_v8f c = eq_set1f((float)ent[t].c);
            s0 += c * (eq_loadf(x) * eq_loadf(y));
            s1 += c * (eq_loadf(x + 8) * eq_loadf(y + 8));
        }
        if (mode == SCALED) s0 *= eq_loadf(mul + c0), s1 *= eq_loadf(mul + c0 + 8);
        float *o = out + key * C + c0;
        eq_storef(o, eq_loadf(o) + s0);
        eq_storef(o + 8, eq_loadf(o + 8) + s1);
    }
}

EQ_INLINE void contract8f(int mode, int C, int c0, const fus_ent *ent, int n, const float *u,
                          const float *v, float *out, const float *mul)
{
    int t = 0;
    while (t < n) {
        int key = ent[t].key;
        eq_v8f s0 = eq_set1f(0);
        for (; t < n && ent[t].key == key; t++)
            s0 += eq_set1f((float)ent[t].c) * (eq_loadf(u + ent[t].iu * C + c0) * eq_loadf(v + ent[t].iv * C + c0));
        if (mode == SCALED) s0 *= eq_loadf(mul + c0);
        float *o = out + key * C + c0;
        eq_storef(o, eq_loadf(o) + s0);
    }
}

EQ_INLINE void contract1f(int mode, int C, int c0, const fus_ent *ent, int n, const float *u,
                          const float *v, float *out, const float *mul)
{
    int t = 0;
    while (t < n) {
        int key = ent[t].key;
        float s0 = 0.0f;
        for (; t < n && ent[t].key == key; t++)
            s0 += (float)ent[t].c * (u[ent[t].iu * C + c0] * v[ent[t].iv * C + c0]);
        out[key * C + c0] += mode == SCALED ? mul[c0] * s0 : s0;
    }
}

EQ_INLINE void contractf(int mode, int C, const fus_ent *ent, int n, const float *u, const float *v,
                         float *out, const float *mul)
{
    int c0 = 0;
    for (; c0 + 16 <= C; c0 += 16) contract16f(mode, C, c0, ent, n, u, v, out, mul);
    for (; c0 + 8 <= C; c0 += 8) contract8f(mode, C, c0, ent, n, u, v, out, mul);
    for (; c0 < C; c0++) contract1f(mode, C, c0, ent, n, u, v, out, mul);
}

/* z[k] = sum over paths of w (x) CG(a_i, b_j), for every atom; wf: the node's path weights
 * [n_types][paths][C] in float. */
FH_EQ_HOT static void node_forward_f(const fh_eq_fusion *f, const fus_node *nd, const float *wf,
                                     int n, const int *type, const float *ha, int dima,
                                     const float *hb, int dimb, float *z)
{
    const int C = f->c;
    for (int at = 0; at < n; at++) {
        int t = type ? type[at] : 0;
        const float *a = ha + (long)at * dima * C, *b = hb + (long)at * dimb * C;
        float *za = z + (long)at * nd->dim * C;
        const float *w = wf + (size_t)t * nd->n_paths * C;
        memset(za, 0, sizeof(float) * nd->dim * C);
        for (int q = 0; q < nd->n_paths; q++) {
            const fus_path *P = &nd->paths[q];
            contractf(SCALED, C, P->by_m3, P->ne, a + (long)P->a_off * C, b + (long)P->b_off * C,
                      za + (long)P->z_off * C, w + (long)q * C);
        }
    }
}

/* Reverse of node_forward_f: from gz into gha, ghb (may be the same array); inactive paths (a
 * zero gz block) skipped. */
FH_EQ_HOT static void node_backward_f(const fh_eq_fusion *f, const fus_node *nd, const float *wf,
                                      int n, const int *type, const float *ha, int dima,
                                      const float *hb, int dimb, const float *gz, float *gha,
                                      float *ghb)
{
    const int C = f->c;
    float *gt = f->gtf;
    for (int at = 0; at < n; at++) {
        int t = type ? type[at] : 0;
        const float *a = ha + (long)at * dima * C, *b = hb + (long)at * dimb * C;
        float *ga = gha + (long)at * dima * C, *gb = ghb + (long)at * dimb * C;
        const float *gza = gz + (long)at * nd->dim * C;
        const float *w = wf + (size_t)t * nd->n_paths * C;
        for (int q = 0; q < nd->n_paths; q++) {
            if (!nd->active[q]) continue;
            const fus_path *P = &nd->paths[q];
            const float *wq = w + (long)q * C, *ai = a + (long)P->a_off * C;
            const float *bj = b + (long)P->b_off * C, *gk = gza + (long)P->z_off * C;
            int d3 = 2 * P->l3 + 1;
            for (int m = 0; m < d3; m++) {   /* gt = w (x) gz */
                int c = 0;
                for (; c + 8 <= C; c += 8) eq_storef(gt + m * C + c, eq_loadf(wq + c) * eq_loadf(gk + m * C + c));
                for (; c < C; c++) gt[m * C + c] = wq[c] * gk[m * C + c];
            }
            contractf(ADD, C, P->by_m1, P->ne, bj, gt, ga + (long)P->a_off * C, NULL);
            contractf(ADD, C, P->by_m2, P->ne, ai, gt, gb + (long)P->b_off * C, NULL);
        }
    }
}

void eq_fusion_free_f(fh_eq_fusion *f)
{
    for (int q = 0; q < FH_EQ_FUSION_MAX_NODES; q++) {
        fus_node *nd = &f->node[q];
        free(nd->zf), free(nd->hf), free(nd->ghf), free(nd->gzf);
        nd->zf = nd->hf = nd->ghf = nd->gzf = NULL;
    }
    free(f->xf), free(f->gh0f), free(f->gtf), free(f->wf);
    f->xf = f->gh0f = f->gtf = f->wf = NULL;
    f->have_f = 0;
}

static int alloc_f(fh_eq_fusion *f)
{
    const size_t C = (size_t)f->c, A = (size_t)f->max_atoms;
    size_t nw = 1;
    int dmax = 1;
    int ok = 1;
    for (int q = 1; q < f->n_nodes; q++) {
        fus_node *nd = &f->node[q];
        size_t sz = sizeof(float) * A * (size_t)(nd->dim ? nd->dim : 1) * C;
        nd->zf = malloc(sz), nd->hf = malloc(sz), nd->ghf = malloc(sz), nd->gzf = malloc(sz);
        ok = ok && nd->zf && nd->hf && nd->ghf && nd->gzf;
        size_t w = (size_t)f->n_types * nd->n_paths * C + (size_t)nd->blk.n * C * C;
        if (w > nw) nw = w;
        for (int p = 0; p < nd->n_paths; p++)
            if (2 * nd->paths[p].l3 + 1 > dmax) dmax = 2 * nd->paths[p].l3 + 1;
    }
    f->xf = malloc(sizeof(float) * A * (size_t)f->dim_in * C);
    f->gh0f = malloc(sizeof(float) * A * (size_t)f->dim_in * C);
    f->gtf = malloc(sizeof(float) * (size_t)dmax * C);
    f->wf = malloc(sizeof(float) * nw);
    ok = ok && f->xf && f->gh0f && f->gtf && f->wf;
    if (!ok) {
        eq_fusion_free_f(f);
        return -1;
    }
    f->have_f = 1;
    return 0;
}

static const float *node_hf(const fh_eq_fusion *f, int q) { return q == 0 ? f->xf : f->node[q].hf; }
static float *node_ghf(const fh_eq_fusion *f, int q) { return q == 0 ? f->gh0f : f->node[q].ghf; }

static eq_matf node_blockf(const fus_node *nd, float *buf, int b, int C)
{
    eq_matf m = {buf + (long)fh_eq_irreps_offset(&nd->blk, b) * C, C, 2 * nd->blk.l[b] + 1,
                 (long)nd->dim * C};
    return m;
}

/* The node's weights in float: path weights [n_types][paths][C], then the mixing matrices
 * [blocks][C][C] (transposed for the reverse pass when transpose != 0). */
static void node_weights_f(const fh_eq_fusion *f, const fus_node *nd, const double *theta,
                           int transpose)
{
    const int C = f->c;
    size_t np = (size_t)f->n_types * nd->n_paths * C;
    eq_to_float(np, theta + nd->w_off, f->wf);
    float *mf = f->wf + np;
    for (int b = 0; b < nd->blk.n; b++) {
        const double *M = theta + nd->m_off + (size_t)b * C * C;
        float *Mf = mf + (size_t)b * C * C;
        if (transpose)
            for (int i = 0; i < C; i++)
                for (int j = 0; j < C; j++) Mf[j * C + i] = (float)M[i * C + j];
        else
            eq_to_float((size_t)C * C, M, Mf);
    }
}

int eq_fusion_forward_f(fh_eq_fusion *f, const double *theta, int n, const int *type,
                        const double *x, double *y)
{
    const int C = f->c;
    if (C > EQ_FUSION_F_MAX_C || (!f->have_f && alloc_f(f))) return -1;
    eq_to_float((size_t)n * f->dim_in * C, x, f->xf);
    for (int q = 1; q < f->n_nodes; q++) {
        fus_node *nd = &f->node[q];
        if (nd->blk.n == 0) continue;
        node_weights_f(f, nd, theta, 0);
        node_forward_f(f, nd, f->wf, n, type, node_hf(f, nd->left), f->node[nd->left].dim,
                       node_hf(f, nd->right), f->node[nd->right].dim, nd->zf);
        const float *mf = f->wf + (size_t)f->n_types * nd->n_paths * C;
        for (int b = 0; b < nd->blk.n; b++) {
            eq_matf zm = node_blockf(nd, nd->zf, b, C), hm = node_blockf(nd, nd->hf, b, C);
            eq_gemm_f((long)n * zm.group, C, C, zm, mf + (size_t)b * C * C, C, hm);
        }
    }
    memset(y, 0, sizeof(double) * (size_t)n * f->dim_out * C);
    for (int k = 0; k < f->out.n; k++) {
        long yoff = (long)fh_eq_irreps_offset(&f->out, k) * C;
        int d = 2 * f->out.l[k] + 1;
        for (int q = 1; q < f->n_nodes; q++) {
            int b = f->out_map[q][k];
            if (b < 0) continue;
            const fus_node *nd = &f->node[q];
            long hoff = (long)fh_eq_irreps_offset(&nd->blk, b) * C;
            for (int a = 0; a < n; a++)
                eq_row_from_float(d * C, nd->hf + (long)a * nd->dim * C + hoff,
                                  y + (long)a * f->dim_out * C + yoff, 1);
        }
    }
    eq_fusion_leaf_forward(f, theta, n, type, x, y);   /* the leaf's own outputs, in double */
    return 0;
}

int eq_fusion_backward_f(fh_eq_fusion *f, const double *theta, int n, const int *type,
                         const double *gy, double *gx)
{
    const int C = f->c;
    if (!f->have_f) return -1;
    memset(f->gh0f, 0, sizeof(float) * (size_t)n * f->dim_in * C);
    for (int q = 1; q < f->n_nodes; q++)
        memset(f->node[q].ghf, 0, sizeof(float) * (size_t)n * f->node[q].dim * C);
    /* blocks whose gradient is not exactly zero, as in eq_fusion.c */
    unsigned char nz[FH_EQ_FUSION_MAX_NODES][FH_EQ_MAX_BLOCKS] = {{0}}, out_nz[FH_EQ_MAX_BLOCKS];
    eq_fusion_out_nonzero(f, n, gy, out_nz);
    for (int k = 0; k < f->out.n; k++) {
        long yoff = (long)fh_eq_irreps_offset(&f->out, k) * C;
        int d = 2 * f->out.l[k] + 1;
        if (!out_nz[k]) continue;
        for (int q = 1; q < f->n_nodes; q++) {
            int b = f->out_map[q][k];
            if (b < 0) continue;
            nz[q][b] = 1;
            fus_node *nd = &f->node[q];
            long hoff = (long)fh_eq_irreps_offset(&nd->blk, b) * C;
            for (int a = 0; a < n; a++) {
                float *gh = nd->ghf + (long)a * nd->dim * C + hoff;
                const double *ga = gy + (long)a * f->dim_out * C + yoff;
                for (int i = 0; i < d * C; i++) gh[i] += (float)ga[i];
            }
        }
    }
    for (int s = 0; s < f->n_leaf_out; s++) {
        int k = f->leaf_out_k[s], i = f->leaf_out_i[s], d = 2 * f->out.l[k] + 1;
        long yoff = (long)fh_eq_irreps_offset(&f->out, k) * C, xoff = (long)fh_eq_irreps_offset(&f->in, i) * C;
        for (int a = 0; a < n; a++) {
            const double *w = theta + f->w0_off + ((size_t)(type ? type[a] : 0) * f->n_leaf_out + s) * C;
            const double *ga = gy + (long)a * f->dim_out * C + yoff;
            float *gh = f->gh0f + (long)a * f->dim_in * C + xoff;
            for (int m = 0; m < d; m++)
                for (int c = 0; c < C; c++) gh[m * C + c] += (float)(w[c] * ga[m * C + c]);
        }
    }
    for (int q = f->n_nodes - 1; q >= 1; q--) {
        fus_node *nd = &f->node[q];
        if (nd->blk.n == 0) continue;
        node_weights_f(f, nd, theta, 1);
        const float *mt = f->wf + (size_t)f->n_types * nd->n_paths * C;
        for (int b = 0; b < nd->blk.n; b++) {
            if (!nz[q][b]) continue;
            eq_matf ghm = node_blockf(nd, nd->ghf, b, C), gzm = node_blockf(nd, nd->gzf, b, C);
            eq_gemm_f((long)n * ghm.group, C, C, ghm, mt + (size_t)b * C * C, C, gzm);
        }
        for (int p = 0; p < nd->n_paths; p++) {
            const fus_path *P = &nd->paths[p];
            nd->active[p] = nz[q][P->k];
            if (nd->active[p]) nz[nd->left][P->i] = nz[nd->right][P->j] = 1;
        }
        node_backward_f(f, nd, f->wf, n, type, node_hf(f, nd->left), f->node[nd->left].dim,
                        node_hf(f, nd->right), f->node[nd->right].dim, nd->gzf,
                        node_ghf(f, nd->left), node_ghf(f, nd->right));
    }
    if (gx)
        for (int a = 0; a < n; a++)
            eq_row_from_float(f->dim_in * C, f->gh0f + (long)a * f->dim_in * C, gx + (long)a * f->dim_in * C, 1);
    return 0;
}
