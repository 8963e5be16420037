/* Private layout of the fusion block (models/eq_fusion.c, and its single-precision form for
 * inference, models/eq_fusion_f.c): the nodes of the fusion diagram, their CG paths and buffers. */
#ifndef FH_EQ_FUSION_INTERNAL_H
#define FH_EQ_FUSION_INTERNAL_H

#include "fh_equivariant.h"
#include "eq_internal.h"

/* One CG entry in a contraction list: out[key] gets c * u[iu] (x) v[iv]. */
typedef struct {
    int key, iu, iv;
    double c;
} fus_ent;

typedef struct {
    int i, j, k;             /* block of the left child, right child, this node */
    int l1, l2, l3;
    int a_off, b_off, z_off; /* m offsets of those blocks */
    int ne;
    const fh_eq_cg_entry *e;
    /* The entries three ways, each sorted by key so a row is summed in registers:
     * by_m3 (key m3, a[m1] (x) b[m2]) for z and for the weight gradient,
     * by_m1 (key m1, b[m2] (x) gt[m3]) for the left child's gradient,
     * by_m2 (key m2, a[m1] (x) gt[m3]) for the right child's gradient. */
    fus_ent *by_m3, *by_m1, *by_m2;
} fus_path;

typedef struct {
    int left, right, order, is_output;
    fh_eq_irreps blk;        /* blocks kept (node 0: the input irreps) */
    int dim;
    int n_paths;
    fus_path *paths;
    size_t w_off, m_off;     /* offsets of path weights and mixing matrices in theta */
    double *z, *h, *gh, *gz; /* [max_atoms][dim][C] */
    float *zf, *hf, *ghf, *gzf;   /* the same in float (eq_fusion_f.c), made on first use */
    unsigned char *active;   /* backward: path q's gradient is not exactly zero */
} fus_node;

struct fh_eq_fusion {
    fh_eq_irreps in, out;
    int c, n_types, max_atoms, l_hidden, dim_in, dim_out;
    int n_nodes;
    int single;                          /* inference in float (fh_eq_fusion_set_single) */
    fus_node node[FH_EQ_FUSION_MAX_NODES];
    int n_leaf_out;                      /* output blocks also in the input (leaf is an output) */
    int leaf_out_k[FH_EQ_MAX_BLOCKS], leaf_out_i[FH_EQ_MAX_BLOCKS];
    size_t w0_off, n_params;
    int out_map[FH_EQ_FUSION_MAX_NODES][FH_EQ_MAX_BLOCKS];   /* output block k -> node block */
    double *gt;                          /* scratch [(2 l_hidden + 1) C] */
    float *xf, *gh0f, *gtf, *wf;         /* float: input, its gradient, gt, path weights */
    int have_f;                          /* the float buffers exist */
    int fwd_f;                           /* the last forward ran in float */
    double flops, flops_bwd;             /* per atom */
};

/* The block in float (eq_fusion_f.c): the same forward and input-gradient reverse pass with every
 * node's arrays in float (channels <= EQ_FUSION_F_MAX_C); 0, or -1 when they do not apply or
 * memory is short (the caller then runs the double pass). The reverse pass needs the forward's
 * float arrays, so it follows a forward_f at the same input. */
#define EQ_FUSION_F_MAX_C 64
int eq_fusion_forward_f(fh_eq_fusion *f, const double *theta, int n, const int *type,
                        const double *x, double *y);
int eq_fusion_backward_f(fh_eq_fusion *f, const double *theta, int n, const int *type,
                         const double *gy, double *gx);
void eq_fusion_free_f(fh_eq_fusion *f);

/* Shared by both precisions (eq_fusion.c): y += w_0 (x) x for the output blocks the leaf feeds
 * directly; and out_nz[k] = 1 where the output gradient's block k is not all zero (a block that
 * is passes nothing down). */
void eq_fusion_leaf_forward(const fh_eq_fusion *f, const double *theta, int n, const int *type,
                            const double *x, double *y);
void eq_fusion_out_nonzero(const fh_eq_fusion *f, int n, const double *gy, unsigned char *out_nz);

#endif
