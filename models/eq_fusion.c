/* Fusion block (Li, Zheng, Thiede, Liu, Kondor, "Group-equivariant neural networks with fusion
 * diagrams", arXiv 2211.07482): the many-body product of the network. nu copies of an atom's
 * features are contracted along a fusion diagram -- a binary tree whose internal vertices are
 * CG couplings -- into features of the requested output degrees.
 *
 * Tree choice. All leaves carry the same feature, so identical subtrees are computed once and a
 * diagram is stored as a DAG (fh_eq_fusion_tree): node 0 is the input, node n >= 1 couples nodes
 * left[n] and right[n]. The default is the left-deep chain ((x (x) x) (x) x) ...: node n has
 * correlation order n+1, every node is an output, so the block sums orders 1..nu like MACE's
 * symmetric contraction, at nu-1 couplings (with weights that factorise along the chain, see
 * fh_equivariant.h). The balanced tree for nu = 4 couples two order-2
 * nodes instead ((x (x) x) (x) (x (x) x)), reusing the order-2 node for both branches.
 *
 * Per node n >= 1 and atom (type t):
 *   z_n,k[m3][c] = sum_{paths (i,j)->k} w_n[t][path][c] sum_{CG} C[m1 m2 m3] h_a,i[m1][c] h_b,j[m2][c]
 *   h_n,k = z_n,k M_n,k     (C x C channel mixing on the edge leaving the node)
 *   y_k = sum_{outputs n} h_n,k (+ w_0[t][k] (x) x_k if the leaf is an output)
 * Channel-wise products keep the cost linear in C; the mixing lets channels talk between
 * couplings. Blocks kept at a node: (l, p) with l <= l_hidden that a path can produce and that a
 * parent or the output consumes (pruned from the top). With a == b only i <= j is kept (the
 * swapped path is the same map up to sign) and (i, i) -> k with l_k odd is dropped (it is
 * antisymmetric in two equal factors, hence zero).
 *
 * Parameters (theta), in order: for each node n >= 1: w_n [n_types][paths_n][C], then M_n
 * [blocks_n][C][C]; then w_0 [n_types][out blocks present in the input][C] if the leaf is an
 * output. Total = sum_n (n_types paths_n C + blocks_n C^2) + n_types |out & in| C. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "fh_equivariant.h"
#include "eq_internal.h"
#include "eq_fusion_internal.h"

int fh_eq_fusion_tree_make(fh_eq_tree_kind kind, int nu, fh_eq_fusion_tree *tree, fh_err *err)
{
    if (nu < 1 || nu > FH_EQ_FUSION_MAX_NODES)
        return fh_err_set(err, FH_EINPUT, "fusion tree: correlation order %d outside 1..%d", nu,
                          FH_EQ_FUSION_MAX_NODES);
    memset(tree, 0, sizeof *tree);
    tree->is_output[0] = 1;
    tree->left[0] = tree->right[0] = -1;
    if (kind == FH_EQ_TREE_CHAIN || nu < 4) {
        tree->n_nodes = nu;
        for (int n = 1; n < nu; n++) {
            tree->left[n] = n - 1, tree->right[n] = 0, tree->is_output[n] = 1;
        }
        return FH_OK;
    }
    if (kind == FH_EQ_TREE_BALANCED && nu == 4) {
        tree->n_nodes = 4;
        tree->left[1] = 0, tree->right[1] = 0;
        tree->left[2] = 1, tree->right[2] = 0;
        tree->left[3] = 1, tree->right[3] = 1;
        for (int n = 1; n < 4; n++) tree->is_output[n] = 1;
        return FH_OK;
    }
    return fh_err_set(err, FH_EINPUT, "fusion tree: balanced tree defined for nu <= 4 only (got %d)", nu);
}

/* Can (i of a) x (j of b) -> (l, p) be a kept path of a node with children a, b? */
static int path_ok(int same, int i, int j, int li, int pi, int lj, int pj, int l, int p)
{
    if (l < abs(li - lj) || l > li + lj || p != pi * pj) return 0;
    if (same && i > j) return 0;
    if (same && i == j && (l % 2)) return 0;
    return 1;
}

static void fusion_free_bufs(fh_eq_fusion *f)
{
    for (int n = 0; n < FH_EQ_FUSION_MAX_NODES; n++) {
        for (int q = 0; q < f->node[n].n_paths && f->node[n].paths; q++)
            free(f->node[n].paths[q].by_m3);   /* one allocation holds all three lists */
        free(f->node[n].paths), free(f->node[n].active);
        free(f->node[n].z), free(f->node[n].h), free(f->node[n].gh), free(f->node[n].gz);
    }
    free(f->gt);
    eq_fusion_free_f(f);
}

void fh_eq_fusion_free(fh_eq_fusion *f)
{
    if (!f) return;
    fusion_free_bufs(f);
    free(f);
}

fh_eq_fusion *fh_eq_fusion_alloc(const fh_eq_cg *cg, const fh_eq_irreps *in, int c,
                                 const fh_eq_irreps *out, const fh_eq_fusion_tree *tree,
                                 int l_hidden, int n_types, int max_atoms, fh_err *err)
{
    const int N = tree->n_nodes;
    if (c < 1 || n_types < 1 || max_atoms < 1 || N < 1 || N > FH_EQ_FUSION_MAX_NODES) {
        fh_err_set(err, FH_EINPUT, "fusion block: bad sizes (channels %d, types %d, atoms %d, nodes %d)",
                   c, n_types, max_atoms, N);
        return NULL;
    }
    for (int n = 1; n < N; n++)
        if (tree->left[n] < 0 || tree->left[n] >= n || tree->right[n] < 0 || tree->right[n] >= n) {
            fh_err_set(err, FH_EINPUT, "fusion block: node %d couples %d and %d (must be < %d)", n,
                       tree->left[n], tree->right[n], n);
            return NULL;
        }
    if (l_hidden < fh_eq_irreps_lmax(out) || l_hidden > fh_eq_cg_lmax(cg) ||
        fh_eq_irreps_lmax(in) > fh_eq_cg_lmax(cg)) {
        fh_err_set(err, FH_EINPUT,
                   "fusion block: l_hidden %d must lie between the output lmax %d and the CG "
                   "table's lmax %d (input lmax %d)", l_hidden, fh_eq_irreps_lmax(out),
                   fh_eq_cg_lmax(cg), fh_eq_irreps_lmax(in));
        return NULL;
    }
    fh_eq_fusion *f = calloc(1, sizeof *f);
    if (!f) {
        fh_err_set(err, FH_EFAIL, "fusion block: out of memory");
        return NULL;
    }
    f->in = *in, f->out = *out;
    f->c = c, f->n_types = n_types, f->max_atoms = max_atoms, f->l_hidden = l_hidden;
    f->dim_in = fh_eq_irreps_dim(in), f->dim_out = fh_eq_irreps_dim(out);
    f->n_nodes = N;

    /* 1. Blocks each node can produce (bottom-up). */
    fh_eq_irreps avail[FH_EQ_FUSION_MAX_NODES];
    avail[0] = *in;
    for (int n = 0; n < N; n++) {
        fus_node *nd = &f->node[n];
        nd->left = n ? tree->left[n] : -1;
        nd->right = n ? tree->right[n] : -1;
        nd->is_output = tree->is_output[n];
        nd->order = n ? f->node[nd->left].order + f->node[nd->right].order : 1;
        if (n == 0) continue;
        const fh_eq_irreps *A = &avail[nd->left], *B = &avail[nd->right];
        int same = nd->left == nd->right;
        avail[n].n = 0;
        for (int l = 0; l <= l_hidden; l++)
            for (int p = 1; p >= -1; p -= 2) {
                int ok = 0;
                for (int i = 0; i < A->n && !ok; i++)
                    for (int j = 0; j < B->n && !ok; j++)
                        ok = path_ok(same, i, j, A->l[i], A->p[i], B->l[j], B->p[j], l, p);
                if (ok) {
                    avail[n].l[avail[n].n] = l, avail[n].p[avail[n].n] = p;
                    avail[n].n++;
                }
            }
    }
    /* 2. Blocks each node must deliver (top-down) and the paths that deliver them. */
    int req[FH_EQ_FUSION_MAX_NODES][2 * (FH_EQ_LMAX + 1)];   /* by (l, p): 2l + (p < 0) */
    memset(req, 0, sizeof req);
    for (int n = 0; n < N; n++)
        if (tree->is_output[n])
            for (int k = 0; k < out->n; k++) req[n][2 * out->l[k] + (out->p[k] < 0)] = 1;
    for (int n = N - 1; n >= 1; n--) {
        fus_node *nd = &f->node[n];
        nd->blk.n = 0;
        for (int b = 0; b < avail[n].n; b++)
            if (req[n][2 * avail[n].l[b] + (avail[n].p[b] < 0)]) {
                nd->blk.l[nd->blk.n] = avail[n].l[b], nd->blk.p[nd->blk.n] = avail[n].p[b];
                nd->blk.n++;
            }
        const fh_eq_irreps *A = &avail[nd->left], *B = &avail[nd->right];
        int same = nd->left == nd->right;
        for (int pass = 0; pass < 2; pass++) {
            int np = 0;
            for (int k = 0; k < nd->blk.n; k++)
                for (int i = 0; i < A->n; i++)
                    for (int j = 0; j < B->n; j++) {
                        if (!path_ok(same, i, j, A->l[i], A->p[i], B->l[j], B->p[j], nd->blk.l[k],
                                     nd->blk.p[k]))
                            continue;
                        if (pass == 1) {
                            fus_path *P = &nd->paths[np];
                            P->k = k, P->l1 = A->l[i], P->l2 = B->l[j], P->l3 = nd->blk.l[k];
                            /* store avail indices for now; mapped to kept blocks below */
                            P->i = i, P->j = j;
                            P->e = fh_eq_cg_block(cg, P->l1, P->l2, P->l3, &P->ne);
                            req[nd->left][2 * A->l[i] + (A->p[i] < 0)] = 1;
                            req[nd->right][2 * B->l[j] + (B->p[j] < 0)] = 1;
                        }
                        np++;
                    }
            if (pass == 0) {
                nd->paths = calloc((size_t)(np ? np : 1), sizeof(fus_path));
                nd->active = malloc((size_t)(np ? np : 1));
                if (!nd->paths || !nd->active) {
                    fh_err_set(err, FH_EFAIL, "fusion block: out of memory");
                    fh_eq_fusion_free(f);
                    return NULL;
                }
            }
            nd->n_paths = np;
        }
    }
    f->node[0].blk = *in;
    /* 3. Map paths' child indices from "available" to "kept" blocks; offsets. */
    for (int n = 0; n < N; n++) f->node[n].dim = fh_eq_irreps_dim(&f->node[n].blk);
    for (int n = 1; n < N; n++) {
        fus_node *nd = &f->node[n];
        const fh_eq_irreps *A = &avail[nd->left], *B = &avail[nd->right];
        for (int q = 0; q < nd->n_paths; q++) {
            fus_path *P = &nd->paths[q];
            P->i = fh_eq_irreps_find(&f->node[nd->left].blk, A->l[P->i], A->p[P->i]);
            P->j = fh_eq_irreps_find(&f->node[nd->right].blk, B->l[P->j], B->p[P->j]);
            P->a_off = fh_eq_irreps_offset(&f->node[nd->left].blk, P->i);
            P->b_off = fh_eq_irreps_offset(&f->node[nd->right].blk, P->j);
            P->z_off = fh_eq_irreps_offset(&nd->blk, P->k);
            P->by_m3 = malloc(sizeof(fus_ent) * 3 * (size_t)(P->ne ? P->ne : 1));
            if (!P->by_m3) {
                fh_err_set(err, FH_EFAIL, "fusion block: out of memory");
                fh_eq_fusion_free(f);
                return NULL;
            }
            P->by_m1 = P->by_m3 + P->ne;
            P->by_m2 = P->by_m1 + P->ne;
            int n1 = 0, n2 = 0;
            for (int t = 0; t < P->ne; t++)   /* CG entries come sorted by m3 */
                P->by_m3[t] = (fus_ent){P->e[t].m3, P->e[t].m1, P->e[t].m2, P->e[t].c};
            for (int m = 0; m <= 2 * P->l1; m++)
                for (int t = 0; t < P->ne; t++)
                    if (P->e[t].m1 == m) P->by_m1[n1++] = (fus_ent){m, P->e[t].m2, P->e[t].m3, P->e[t].c};
            for (int m = 0; m <= 2 * P->l2; m++)
                for (int t = 0; t < P->ne; t++)
                    if (P->e[t].m2 == m) P->by_m2[n2++] = (fus_ent){m, P->e[t].m1, P->e[t].m3, P->e[t].c};
        }
    }
    /* 4. Outputs: which node block feeds output block k; every output block must be fed. */
    for (int k = 0; k < out->n; k++) {
        int fed = 0;
        for (int n = 0; n < N; n++) {
            f->out_map[n][k] = -1;
            if (!tree->is_output[n]) continue;
            int b = fh_eq_irreps_find(&f->node[n].blk, out->l[k], out->p[k]);
            f->out_map[n][k] = b;
            if (b >= 0) fed = 1;
        }
        if (!fed) {
            char s[32];
            snprintf(s, sizeof s, "%d%c", out->l[k], out->p[k] > 0 ? 'e' : 'o');
            fh_err_set(err, FH_EINPUT, "fusion block: output %s cannot be produced from the input "
                       "with this tree and l_hidden %d", s, l_hidden);
            fh_eq_fusion_free(f);
            return NULL;
        }
    }
    if (tree->is_output[0])
        for (int k = 0; k < out->n; k++)
            if (f->out_map[0][k] >= 0) {
                f->leaf_out_k[f->n_leaf_out] = k, f->leaf_out_i[f->n_leaf_out] = f->out_map[0][k];
                f->n_leaf_out++;
            }
    /* 5. Parameter offsets, buffers, flop count. */
    size_t off = 0;
    int dmax = 1;
    double flops = 0, flops_bwd = 0;
    for (int n = 1; n < N; n++) {
        fus_node *nd = &f->node[n];
        nd->w_off = off;
        off += (size_t)n_types * nd->n_paths * c;
        nd->m_off = off;
        off += (size_t)nd->blk.n * c * c;
        size_t sz = sizeof(double) * (size_t)max_atoms * (nd->dim ? nd->dim : 1) * c;
        nd->z = malloc(sz), nd->h = malloc(sz), nd->gh = malloc(sz), nd->gz = malloc(sz);
        if (!nd->z || !nd->h || !nd->gh || !nd->gz) {
            fh_err_set(err, FH_EFAIL, "fusion block: out of memory");
            fh_eq_fusion_free(f);
            return NULL;
        }
        for (int q = 0; q < nd->n_paths; q++) {
            const fus_path *P = &nd->paths[q];
            int d1 = 2 * P->l1 + 1, d2 = 2 * P->l2 + 1, d3 = 2 * P->l3 + 1;
            flops += 3.0 * P->ne * c + 2.0 * d3 * c;
            flops_bwd += 9.0 * P->ne * c + 3.0 * d3 * c + (double)(d1 + d2) * c;
            if (d3 > dmax) dmax = d3;
        }
        for (int b = 0; b < nd->blk.n; b++) {
            flops += 2.0 * (2 * nd->blk.l[b] + 1) * c * c;
            flops_bwd += 4.0 * (2 * nd->blk.l[b] + 1) * c * c;
        }
    }
    f->w0_off = off;
    off += (size_t)n_types * f->n_leaf_out * c;
    f->n_params = off;
    f->node[0].gh = malloc(sizeof(double) * (size_t)max_atoms * f->dim_in * c);
    f->gt = malloc(sizeof(double) * (size_t)dmax * c);
    if (!f->node[0].gh || !f->gt) {
        fh_err_set(err, FH_EFAIL, "fusion block: out of memory");
        fh_eq_fusion_free(f);
        return NULL;
    }
    for (int n = 0; n < N; n++)
        if (tree->is_output[n])
            for (int k = 0; k < out->n; k++)
                if (f->out_map[n][k] >= 0) {
                    flops += (2 * out->l[k] + 1) * (double)c * (n ? 1 : 2);
                    flops_bwd += (2 * out->l[k] + 1) * (double)c * (n ? 1 : 4);
                }
    f->flops = flops;
    f->flops_bwd = flops_bwd;
    return f;
}

size_t fh_eq_fusion_n_params(const fh_eq_fusion *f) { return f->n_params; }

/* Layout as at the top: w_n [types][paths][C], M_n [blocks][C_in][C_out], w_0 [types][k][C]. */
int fh_eq_fusion_widen(const fh_eq_fusion *from, const fh_eq_fusion *to, const double *w_from,
                       double *w_to, fh_eq_normal_fn normal, void *ctx, fh_err *err)
{
    int same = to->n_nodes == from->n_nodes && to->n_types == from->n_types &&
               to->n_leaf_out == from->n_leaf_out && to->c >= from->c;
    for (int n = 1; same && n < from->n_nodes; n++)
        same = to->node[n].n_paths == from->node[n].n_paths &&
               to->node[n].blk.n == from->node[n].blk.n;
    if (!same)
        return fh_err_set(err, FH_EINPUT, "fusion block: cannot widen %d channels to %d (tree, "
                          "paths or types differ, or fewer channels)", from->c, to->c);
    const int c0 = from->c, c1 = to->c;
    for (int n = 1; n < from->n_nodes; n++) {
        const fus_node *a = &from->node[n], *b = &to->node[n];
        for (int r = 0; r < from->n_types * a->n_paths; r++)
            eq_widen_row(w_from + a->w_off + (size_t)r * c0, c0, w_to + b->w_off + (size_t)r * c1,
                         c1, normal, ctx);
        for (int k = 0; k < a->blk.n; k++)
            eq_widen_mat(w_from + a->m_off + (size_t)k * c0 * c0, c0, c0,
                         w_to + b->m_off + (size_t)k * c1 * c1, c1, c1, normal, ctx);
    }
    for (int r = 0; r < from->n_types * from->n_leaf_out; r++)
        eq_widen_row(w_from + from->w0_off + (size_t)r * c0, c0, w_to + to->w0_off + (size_t)r * c1,
                     c1, normal, ctx);
    return FH_OK;
}

double fh_eq_fusion_flops(const fh_eq_fusion *f, int n, int backward)
{
    return n * (backward ? f->flops_bwd : f->flops);
}

/* Append printf-style text to buf (size bytes), tracking the length in *used. */
static void put(char *buf, size_t size, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(*used < size ? buf + *used : NULL, *used < size ? size - *used : 0, fmt, ap);
    va_end(ap);
    if (w > 0) *used += (size_t)w;
}

int fh_eq_fusion_describe(const fh_eq_fusion *f, char *buf, size_t size)
{
    size_t used = 0;
    char ir[512];
    if (size) buf[0] = '\0';
    fh_eq_irreps_format(&f->in, f->c, ir, sizeof ir);
    put(buf, size, &used, "fusion block: input %s, l_hidden %d, %d types\n", ir, f->l_hidden,
        f->n_types);
    for (int n = 0; n < f->n_nodes; n++) {
        const fus_node *nd = &f->node[n];
        fh_eq_irreps_format(&nd->blk, 0, ir, sizeof ir);
        if (n == 0)
            put(buf, size, &used, "  node 0: input (order 1)%s\n", nd->is_output ? ", output" : "");
        else
            put(buf, size, &used, "  node %d = (%d x %d), order %d%s: blocks %s, %d paths\n", n,
                nd->left, nd->right, nd->order, nd->is_output ? ", output" : "",
                nd->blk.n ? ir : "(none)", nd->n_paths);
    }
    fh_eq_irreps_format(&f->out, f->c, ir, sizeof ir);
    put(buf, size, &used, "  output %s; parameters %zu; %.0f flop per atom\n", ir, f->n_params,
        f->flops);
    return (int)used;
}

/* --- per-atom kernels ----------------------------------------------------------------------- */
/* What a contraction does with the sum of one key's row. */
enum { FLUSH_SCALED = 0, FLUSH_WGRAD = 1, FLUSH_ADD = 2 };

/* For channels c0 .. c0+16 and every key of the list: acc = sum c u[iu] (x) v[iv]; then
 * FLUSH_SCALED: out[key] += mul (x) acc;  FLUSH_WGRAD: wg += mul[key] (x) acc (mul = gz rows,
 * wg returned in wg[0..3]);  FLUSH_ADD: out[key] += acc. Rows of u, v, out, mul have stride C. */
EQ_INLINE void contract16(int mode, int C, int c0, const fus_ent *ent, int n, const double *u,
                          const double *v, double *out, const double *mul, eq_v4 *wg)
{
    eq_v4 w0 = eq_set1(0), w1 = w0, w2 = w0, w3 = w0;
    if (mode == FLUSH_WGRAD) w0 = wg[0], w1 = wg[1], w2 = wg[2], w3 = wg[3];
    int t = 0;
    while (t < n) {
        int key = ent[t].key;
        eq_v4 s0 = eq_set1(0), s1 = s0, s2 = s0, s3 = s0;
        for (; t < n && ent[t].key == key; t++) {
            const double *x = u + ent[t].iu * C + c0, *y = v + ent[t].iv * C + c0;
            eq_v4 c = eq_set1(ent[t].c);
            s0 += c * (eq_load(x) * eq_load(y));
            s1 += c * (eq_load(x + 4) * eq_load(y + 4));
            s2 += c * (eq_load(x + 8) * eq_load(y + 8));
            s3 += c * (eq_load(x + 12) * eq_load(y + 12));
        }
        if (mode == FLUSH_WGRAD) {
            const double *g = mul + key * C + c0;
            w0 += eq_load(g) * s0, w1 += eq_load(g + 4) * s1;
            w2 += eq_load(g + 8) * s2, w3 += eq_load(g + 12) * s3;
            continue;
        }
        if (mode == FLUSH_SCALED) {
            s0 *= eq_load(mul + c0), s1 *= eq_load(mul + c0 + 4);
            s2 *= eq_load(mul + c0 + 8), s3 *= eq_load(mul + c0 + 12);
        }
        double *o = out + key * C + c0;
        eq_store(o, eq_load(o) + s0);
        eq_store(o + 4, eq_load(o + 4) + s1);
        eq_store(o + 8, eq_load(o + 8) + s2);
        eq_store(o + 12, eq_load(o + 12) + s3);
    }
    if (mode == FLUSH_WGRAD) wg[0] = w0, wg[1] = w1, wg[2] = w2, wg[3] = w3;
}

/* The same for 4 channels. */
EQ_INLINE void contract4(int mode, int C, int c0, const fus_ent *ent, int n, const double *u,
                         const double *v, double *out, const double *mul, eq_v4 *wg)
{
    eq_v4 w0 = mode == FLUSH_WGRAD ? wg[0] : eq_set1(0);
    int t = 0;
    while (t < n) {
        int key = ent[t].key;
        eq_v4 s0 = eq_set1(0);
        for (; t < n && ent[t].key == key; t++)
            s0 += eq_set1(ent[t].c) * (eq_load(u + ent[t].iu * C + c0) * eq_load(v + ent[t].iv * C + c0));
        if (mode == FLUSH_WGRAD) {
            w0 += eq_load(mul + key * C + c0) * s0;
            continue;
        }
        if (mode == FLUSH_SCALED) s0 *= eq_load(mul + c0);
        double *o = out + key * C + c0;
        eq_store(o, eq_load(o) + s0);
    }
    if (mode == FLUSH_WGRAD) wg[0] = w0;
}

/* And for one channel. */
EQ_INLINE void contract1(int mode, int C, int c0, const fus_ent *ent, int n, const double *u,
                         const double *v, double *out, const double *mul, double *wg)
{
    int t = 0;
    while (t < n) {
        int key = ent[t].key;
        double s0 = 0.0;
        for (; t < n && ent[t].key == key; t++) s0 += ent[t].c * (u[ent[t].iu * C + c0] * v[ent[t].iv * C + c0]);
        if (mode == FLUSH_WGRAD) *wg += mul[key * C + c0] * s0;
        else if (mode == FLUSH_SCALED) out[key * C + c0] += mul[c0] * s0;
        else out[key * C + c0] += s0;
    }
}

/* All channels; FLUSH_WGRAD adds the weight gradient into wgrad[0..C). */
EQ_INLINE void contract(int mode, int C, const fus_ent *ent, int n, const double *u,
                        const double *v, double *out, const double *mul, double *wgrad)
{
    int c0 = 0;
    for (; c0 + 16 <= C; c0 += 16) {
        eq_v4 wg[4] = {eq_set1(0), eq_set1(0), eq_set1(0), eq_set1(0)};
        contract16(mode, C, c0, ent, n, u, v, out, mul, wg);
        if (mode == FLUSH_WGRAD) {
            double *g = wgrad + c0;
            eq_store(g, eq_load(g) + wg[0]);
            eq_store(g + 4, eq_load(g + 4) + wg[1]);
            eq_store(g + 8, eq_load(g + 8) + wg[2]);
            eq_store(g + 12, eq_load(g + 12) + wg[3]);
        }
    }
    for (; c0 + 4 <= C; c0 += 4) {
        eq_v4 wg[1] = {eq_set1(0)};
        contract4(mode, C, c0, ent, n, u, v, out, mul, wg);
        if (mode == FLUSH_WGRAD) eq_store(wgrad + c0, eq_load(wgrad + c0) + wg[0]);
    }
    for (; c0 < C; c0++) {
        double wg = 0.0;
        contract1(mode, C, c0, ent, n, u, v, out, mul, &wg);
        if (mode == FLUSH_WGRAD) wgrad[c0] += wg;
    }
}

/* z[k] = sum over paths of w (x) CG(a_i, b_j), for every atom. */
FH_EQ_HOT static void node_forward_atoms(const fh_eq_fusion *f, const fus_node *nd,
                                         const double *theta, int n, const int *type,
                                         const double *ha, int dima, const double *hb, int dimb,
                                         double *z)
{
    const int C = f->c;
    for (int at = 0; at < n; at++) {
        int t = type ? type[at] : 0;
        const double *a = ha + (long)at * dima * C, *b = hb + (long)at * dimb * C;
        double *za = z + (long)at * nd->dim * C;
        const double *w = theta + nd->w_off + (size_t)t * nd->n_paths * C;
        memset(za, 0, sizeof(double) * nd->dim * C);
        for (int q = 0; q < nd->n_paths; q++) {
            const fus_path *P = &nd->paths[q];
            contract(FLUSH_SCALED, C, P->by_m3, P->ne, a + (long)P->a_off * C, b + (long)P->b_off * C,
                     za + (long)P->z_off * C, w + (long)q * C, NULL);
        }
    }
}

/* Reverse of node_forward_atoms: from gz, accumulate into gha, ghb (may be the same array) and
 * the path weights' gradient; paths with active[q] = 0 (their gz block is zero) are skipped. */
FH_EQ_HOT static void node_backward_atoms(const fh_eq_fusion *f, const fus_node *nd,
                                          const double *theta, int n, const int *type,
                                          const double *ha, int dima, const double *hb, int dimb,
                                          const double *gz, double *gha, double *ghb,
                                          double *gtheta, const unsigned char *active)
{
    const int C = f->c;
    double *gt = f->gt;
    for (int at = 0; at < n; at++) {
        int t = type ? type[at] : 0;
        const double *a = ha + (long)at * dima * C, *b = hb + (long)at * dimb * C;
        double *ga = gha + (long)at * dima * C, *gb = ghb + (long)at * dimb * C;
        const double *gza = gz + (long)at * nd->dim * C;
        const double *w = theta + nd->w_off + (size_t)t * nd->n_paths * C;
        double *gw = gtheta ? gtheta + nd->w_off + (size_t)t * nd->n_paths * C : NULL;
        for (int q = 0; q < nd->n_paths; q++) {
            if (!active[q]) continue;
            const fus_path *P = &nd->paths[q];
            const double *wq = w + (long)q * C, *ai = a + (long)P->a_off * C;
            const double *bj = b + (long)P->b_off * C, *gk = gza + (long)P->z_off * C;
            int d3 = 2 * P->l3 + 1;
            /* gt = w (x) gz: the gradient of the unweighted coupling */
            for (int m = 0; m < d3; m++) {
                int c = 0;
                for (; c + 4 <= C; c += 4) eq_store(gt + m * C + c, eq_load(wq + c) * eq_load(gk + m * C + c));
                for (; c < C; c++) gt[m * C + c] = wq[c] * gk[m * C + c];
            }
            if (gw) contract(FLUSH_WGRAD, C, P->by_m3, P->ne, ai, bj, NULL, gk, gw + (long)q * C);
            contract(FLUSH_ADD, C, P->by_m1, P->ne, bj, gt, ga + (long)P->a_off * C, NULL, NULL);
            contract(FLUSH_ADD, C, P->by_m2, P->ne, ai, gt, gb + (long)P->b_off * C, NULL, NULL);
        }
    }
}

static eq_mat node_block(const fus_node *nd, double *buf, int b, int C)
{
    eq_mat m = {buf + (long)fh_eq_irreps_offset(&nd->blk, b) * C, C, 2 * nd->blk.l[b] + 1,
                (long)nd->dim * C};
    return m;
}

static int check_types(const fh_eq_fusion *f, int n, const int *type, fh_err *err)
{
    if (n < 0 || n > f->max_atoms)
        return fh_err_set(err, FH_EINPUT, "fusion block: %d atoms (allocated for %d)", n, f->max_atoms);
    if (f->n_types > 1 && !type)
        return fh_err_set(err, FH_EINPUT, "fusion block: %d types but no type array", f->n_types);
    if (type)
        for (int a = 0; a < n; a++)
            if (type[a] < 0 || type[a] >= f->n_types)
                return fh_err_set(err, FH_EINPUT, "fusion block: atom %d has type %d (allowed 0..%d)",
                                  a, type[a], f->n_types - 1);
    return FH_OK;
}

/* The node's input arrays: node 0 is the block input x. */
static const double *node_h(const fh_eq_fusion *f, int n, const double *x)
{
    return n == 0 ? x : f->node[n].h;
}

void eq_fusion_leaf_forward(const fh_eq_fusion *f, const double *theta, int n, const int *type,
                            const double *x, double *y)
{
    const int C = f->c;
    for (int s = 0; s < f->n_leaf_out; s++) {
        int k = f->leaf_out_k[s], i = f->leaf_out_i[s], d = 2 * f->out.l[k] + 1;
        long yoff = (long)fh_eq_irreps_offset(&f->out, k) * C, xoff = (long)fh_eq_irreps_offset(&f->in, i) * C;
        for (int a = 0; a < n; a++) {
            const double *w = theta + f->w0_off + ((size_t)(type ? type[a] : 0) * f->n_leaf_out + s) * C;
            double *ya = y + (long)a * f->dim_out * C + yoff;
            const double *xa = x + (long)a * f->dim_in * C + xoff;
            for (int m = 0; m < d; m++)
                for (int c = 0; c < C; c++) ya[m * C + c] += w[c] * xa[m * C + c];
        }
    }
}

void eq_fusion_out_nonzero(const fh_eq_fusion *f, int n, const double *gy, unsigned char *out_nz)
{
    const int C = f->c;
    for (int k = 0; k < f->out.n; k++) {
        long yoff = (long)fh_eq_irreps_offset(&f->out, k) * C, len = (2L * f->out.l[k] + 1) * C;
        out_nz[k] = 0;
        for (int a = 0; a < n && !out_nz[k]; a++) {
            const double *ga = gy + (long)a * f->dim_out * C + yoff;
            for (long i = 0; i < len; i++)
                if (ga[i] != 0.0) {
                    out_nz[k] = 1;
                    break;
                }
        }
    }
}

int fh_eq_fusion_forward(fh_eq_fusion *f, const double *theta, int n, const int *type,
                         const double *x, double *y, fh_err *err)
{
    int rc = check_types(f, n, type, err);
    if (rc) return rc;
    const int C = f->c;
    if (f->n_types == 1) type = NULL;
    f->fwd_f = f->single && eq_fusion_forward_f(f, theta, n, type, x, y) == 0;
    if (f->fwd_f) return FH_OK;
    for (int q = 1; q < f->n_nodes; q++) {
        fus_node *nd = &f->node[q];
        if (nd->blk.n == 0) continue;
        const fus_node *A = &f->node[nd->left], *B = &f->node[nd->right];
        node_forward_atoms(f, nd, theta, n, type, node_h(f, nd->left, x), A->dim,
                           node_h(f, nd->right, x), B->dim, nd->z);
        for (int b = 0; b < nd->blk.n; b++) {
            eq_mat zm = node_block(nd, nd->z, b, C), hm = node_block(nd, nd->h, b, C);
            eq_gemm_nn((long)n * zm.group, C, C, zm, theta + nd->m_off + (size_t)b * C * C, C, hm, 0);
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
            for (int a = 0; a < n; a++) {
                double *ya = y + (long)a * f->dim_out * C + yoff;
                const double *ha = nd->h + (long)a * nd->dim * C + hoff;
                for (int i = 0; i < d * C; i++) ya[i] += ha[i];
            }
        }
    }
    eq_fusion_leaf_forward(f, theta, n, type, x, y);
    return FH_OK;
}

int fh_eq_fusion_backward(fh_eq_fusion *f, const double *theta, int n, const int *type,
                          const double *x, const double *gy, double *gx, double *gtheta,
                          fh_err *err)
{
    int rc = check_types(f, n, type, err);
    if (rc) return rc;
    const int C = f->c;
    if (f->n_types == 1) type = NULL;
    if (f->fwd_f && !gtheta) return eq_fusion_backward_f(f, theta, n, type, gy, gx) == 0 ? FH_OK
                                   : fh_err_set(err, FH_EFAIL, "fusion block: float reverse pass failed");
    if (f->fwd_f)
        return fh_err_set(err, FH_EFAIL, "fusion block: weight gradients after a forward in float");
    for (int q = 0; q < f->n_nodes; q++)
        memset(f->node[q].gh, 0, sizeof(double) * (size_t)n * f->node[q].dim * C);
    /* Which node blocks receive a gradient that is not exactly zero: an output block whose gy is
     * all zero (a reverse pass for energies only leaves the vector outputs of the last layer
     * without a gradient) passes nothing down, and the couplings that only feed it are skipped. */
    unsigned char nz[FH_EQ_FUSION_MAX_NODES][FH_EQ_MAX_BLOCKS] = {{0}};
    unsigned char out_nz[FH_EQ_MAX_BLOCKS];
    eq_fusion_out_nonzero(f, n, gy, out_nz);
    /* Output sums. */
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
                const double *ga = gy + (long)a * f->dim_out * C + yoff;
                double *gh = nd->gh + (long)a * nd->dim * C + hoff;
                for (int i = 0; i < d * C; i++) gh[i] += ga[i];
            }
        }
    }
    for (int s = 0; s < f->n_leaf_out; s++) {
        int k = f->leaf_out_k[s], i = f->leaf_out_i[s], d = 2 * f->out.l[k] + 1;
        long yoff = (long)fh_eq_irreps_offset(&f->out, k) * C, xoff = (long)fh_eq_irreps_offset(&f->in, i) * C;
        for (int a = 0; a < n; a++) {
            size_t wo = f->w0_off + ((size_t)(type ? type[a] : 0) * f->n_leaf_out + s) * C;
            const double *w = theta + wo;
            const double *ga = gy + (long)a * f->dim_out * C + yoff;
            const double *xa = x + (long)a * f->dim_in * C + xoff;
            double *gh = f->node[0].gh + (long)a * f->dim_in * C + xoff;
            for (int m = 0; m < d; m++)
                for (int c = 0; c < C; c++) {
                    gh[m * C + c] += w[c] * ga[m * C + c];
                    if (gtheta) gtheta[wo + c] += xa[m * C + c] * ga[m * C + c];
                }
        }
    }
    /* Nodes in reverse order (children have lower numbers): through the mixing, then through the
     * couplings into the children. */
    for (int q = f->n_nodes - 1; q >= 1; q--) {
        fus_node *nd = &f->node[q];
        if (nd->blk.n == 0) continue;
        for (int b = 0; b < nd->blk.n; b++) {
            if (!nz[q][b]) continue;
            eq_mat ghm = node_block(nd, nd->gh, b, C), gzm = node_block(nd, nd->gz, b, C);
            long rows = (long)n * ghm.group;
            const double *M = theta + nd->m_off + (size_t)b * C * C;
            eq_gemm_nt(rows, C, C, ghm, M, C, gzm, 0);
            if (gtheta)
                eq_gemm_tn(rows, C, C, node_block(nd, nd->z, b, C), ghm,
                           gtheta + nd->m_off + (size_t)b * C * C, C, 1);
        }
        fus_node *A = &f->node[nd->left], *B = &f->node[nd->right];
        for (int p = 0; p < nd->n_paths; p++) {
            const fus_path *P = &nd->paths[p];
            nd->active[p] = nz[q][P->k];
            if (nd->active[p]) nz[nd->left][P->i] = nz[nd->right][P->j] = 1;
        }
        node_backward_atoms(f, nd, theta, n, type, node_h(f, nd->left, x), A->dim,
                            node_h(f, nd->right, x), B->dim, nd->gz, A->gh, B->gh, gtheta,
                            nd->active);
    }
    if (gx) {
        const double *g0 = f->node[0].gh;
        for (long i = 0; i < (long)n * f->dim_in * C; i++) gx[i] += g0[i];
    }
    return FH_OK;
}

void fh_eq_fusion_set_single(fh_eq_fusion *f, int single) { f->single = single != 0; }
