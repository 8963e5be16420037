/* Private layout of the tensor product (models/eq_tp.c, the directed edge form, and
 * models/eq_tp_pairs.c, the pair form): its paths and the sparse (m3, m1) pairs of each, with the
 * CG entries that make A[m3][m1] = sum_m2 CG[m1 m2 m3] Y_l2,m2 (see eq_tp.c). */
#ifndef FH_EQ_TP_INTERNAL_H
#define FH_EQ_TP_INTERNAL_H

#include "fh_equivariant.h"

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

/* The pair form's loop programs (eq_tp_pairs.c): a path's pairs in groups that share one row
 * (m3 for the forward, m1 for the backward), offsets premultiplied by the channel count. */
typedef struct {
    int row, n;      /* the shared row's offset (m c_in), the group's number of items */
} tp_group;
typedef struct {
    int q, row;      /* the pair's index within its path, the other row's offset */
} tp_item;

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
    int *by_m1;          /* per path, local pair indices ordered by m1 (for the backward pass) */
    int max_npair;
    double *abuf;        /* scratch: A of each pair of a path, broadcast to 4 lanes */
    double *t3;          /* scratch [(2 lmax_out + 1) c_in] */
    double *dbuf;        /* pair form: dL/dA of each pair of a path, 4 lanes, each direction */
    double *gRt;         /* pair form: one path's R gradient [c_in] */
    float *fbuf;         /* pair form in float (eq_tp_pairs_f.c): dbuf with 8 lanes, then gRt */
    int n_coeffs;        /* pair form: A values per edge, all paths (= pairs in total) */
    tp_group *fgrp, *bgrp;   /* pair form: groups by m3 (forward) and by m1 (backward) */
    tp_item *fitem, *bitem;  /* [n_coeffs]: path p's items from paths[p].pair0 */
    int *fgrp0, *bgrp0;      /* [n_paths + 1]: path p's groups fgrp0[p] .. fgrp0[p+1]-1 */
    double flops_edge, flops_edge_bwd;   /* per edge, forward and backward */
    double flops_node;                   /* full: per node mixing, forward */
};

/* The pair form's scratch and loop programs (made by fh_eq_tp_alloc once the paths, by_m1 and
 * max_npair are set; freed by fh_eq_tp_free); FH_OK, or FH_EFAIL out of memory. */
int eq_tp_pairs_prepare(fh_eq_tp *tp);
void eq_tp_pairs_release(fh_eq_tp *tp);

/* Sizes and node indices of an edge list, checked before any kernel runs. */
int eq_tp_check_edges(const fh_eq_tp *tp, int n_nodes, int n_edges, const int *sender,
                      const int *receiver, fh_err *err);

#endif
