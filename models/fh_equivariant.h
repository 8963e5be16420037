/* The equivariant core: the O(3)-equivariant building blocks of the fusion-block network.
 *
 * Every operation comes as forward + backward side by side. Backward passes ACCUMULATE (+=) into
 * their gradient outputs (so a tensor used twice simply receives two contributions); any gradient
 * pointer may be NULL when that gradient is not wanted. Parameters are never owned by the
 * operations: each takes `theta` (its slice of the caller's flat parameter vector, length
 * fh_eq_*_n_params) and its gradient `gtheta`, so the network can keep all weights in one array.
 * Operations allocate their workspaces once (for at most max_nodes / max_edges); forward and
 * backward never allocate. An operation's backward uses intermediates saved by its most recent
 * forward, so call them in pairs (forward, then backward) on the same instance; backward leaves
 * that state intact, so several reverse passes (e.g. one per electronic state) may follow one
 * forward. An instance holds
 * scratch space: use one per thread. No operation scales its weights implicitly; initialise
 * mixing/MLP weights with variance 1/fan_in (the number of summed inputs) to keep activations O(1).
 *
 * Conventions
 * - Irreps: a feature is a list of blocks (l, p), p = +1 ("e") or -1 ("o"), every block with the
 *   same number of channels C. Under a rotation R block (l,p) transforms with the real Wigner
 *   matrix D^l(R); under inversion it is multiplied by p.
 * - Layout of a feature array of n nodes: x[node][m_total][c], m_total running over the blocks in
 *   order and inside a block over m = -l..l; element (node, block b, m, c) is at
 *       x[(node * dim + fh_eq_irreps_offset(ir, b) + m + l) * C + c],  dim = fh_eq_irreps_dim(ir).
 *   Channels are innermost so every channel loop is contiguous and vectorises.
 * - Real spherical harmonics, "component" normalisation: sum_m Y_lm(u)^2 = 2l+1 for a unit u,
 *   Y_00 = 1, (Y_1,-1, Y_1,0, Y_1,1) = sqrt(3) (y, z, x). Y_l,m>0 ~ cos(m phi), Y_l,m<0 ~ sin(|m| phi),
 *   no Condon-Shortley phase. Parity of Y_l is (-1)^l.
 * - Real Clebsch-Gordan coefficients C^{l3}_{m1 m2 m3}: the orthonormal coupling (unitary, so
 *   sum_{m1 m2} C C' = delta) transformed from the complex ones to the real basis above; blocks
 *   with l1+l2+l3 odd (e.g. 1x1->1, the cross product) are made real by a factor -i.
 *   They couple as  z[m3] = sum_{m1,m2} C[m1,m2,m3] x[m1] y[m2].
 */
#ifndef FH_EQUIVARIANT_H
#define FH_EQUIVARIANT_H

#include <stddef.h>
#include "fh_error.h"

#define FH_EQ_LMAX 8           /* largest degree l anywhere (spherical harmonics, CG, features) */
#define FH_EQ_MAX_BLOCKS 64    /* most blocks in one irreps list */

/* ---------------------------------------------------------------------------------------------
 * Irreps: which (l, parity) blocks a feature has. */
typedef struct {
    int n;                      /* number of blocks */
    int l[FH_EQ_MAX_BLOCKS];    /* degree of block b */
    int p[FH_EQ_MAX_BLOCKS];    /* parity of block b: +1 even, -1 odd */
} fh_eq_irreps;

/* Parse "32x0e+32x1o" or "0e+1o+2e": every block must have the same multiplicity (returned in
 * *mul, 1 when no "Nx" is given; mul may be NULL). */
int fh_eq_irreps_parse(const char *text, fh_eq_irreps *ir, int *mul, fh_err *err);
/* Write e.g. "32x0e+32x1o" (mul <= 0: without multiplicities). Returns the length written. */
int fh_eq_irreps_format(const fh_eq_irreps *ir, int mul, char *buf, size_t size);
int fh_eq_irreps_dim(const fh_eq_irreps *ir);               /* sum over blocks of 2l+1 */
int fh_eq_irreps_offset(const fh_eq_irreps *ir, int block); /* sum of 2l+1 over earlier blocks */
int fh_eq_irreps_find(const fh_eq_irreps *ir, int l, int p); /* block index or -1 */
int fh_eq_irreps_lmax(const fh_eq_irreps *ir);
/* The spherical-harmonic irreps 0e+1o+2e+...+lmax(-1)^lmax. */
void fh_eq_irreps_sh(int lmax, fh_eq_irreps *ir);
/* Every (l, p) with l <= lmax_out reachable as in (x) Y_l2 (l2 <= lmax_sh) by the triangle and
 * parity rules, sorted by l then even before odd. */
void fh_eq_irreps_tp_reachable(const fh_eq_irreps *in, int lmax_sh, int lmax_out,
                               fh_eq_irreps *out);

/* ---------------------------------------------------------------------------------------------
 * Real spherical harmonics of vectors, with derivatives. */
static inline int fh_eq_sph_dim(int lmax) { return (lmax + 1) * (lmax + 1); }
/* Y[i][l*l + l + m] = Y_lm(vec_i / |vec_i|) for l <= lmax (<= FH_EQ_LMAX). If dY is not NULL it
 * receives dY[i][lm][k] = dY_lm / dvec_i[k] (the derivative w.r.t. the unnormalised vector).
 * A zero vector gives Y = (1, 0, ...) and dY = 0. */
void fh_eq_sph(int lmax, int n, const double *vec, double *Y, double *dY);
/* Reverse pass: gvec[i][k] += sum_lm gY[i][lm] * dY[i][lm][k], with dY from fh_eq_sph. */
void fh_eq_sph_backward(int lmax, int n, const double *dY, const double *gY, double *gvec);

/* Real Wigner matrices of a rotation: D[l] (row-major (2l+1)^2, stored consecutively for
 * l = 0..lmax at offset sum_{l'<l} (2l'+1)^2) such that Y_l(R u) = D^l(R) Y_l(u). Computed from the
 * spherical harmonics themselves (least squares on fixed sample directions), independently of the
 * CG coefficients; used by equivariance tests. rot is a row-major 3x3 rotation matrix. */
int fh_eq_wigner_d(int lmax, const double rot[9], double *D, fh_err *err);
static inline int fh_eq_wigner_size(int lmax)
{
    return (lmax + 1) * (2 * lmax + 1) * (2 * lmax + 3) / 3;
}

/* ---------------------------------------------------------------------------------------------
 * Real Clebsch-Gordan coefficients, stored sparsely; compute once and share between operations. */
typedef struct {
    int m1, m2, m3;   /* indices m + l (0 .. 2l) */
    double c;
} fh_eq_cg_entry;
typedef struct fh_eq_cg fh_eq_cg;

fh_eq_cg *fh_eq_cg_alloc(int lmax, fh_err *err);   /* all l1, l2, l3 <= lmax */
void fh_eq_cg_free(fh_eq_cg *cg);
int fh_eq_cg_lmax(const fh_eq_cg *cg);
/* Nonzero entries of block (l1, l2, l3), ordered by m3, then m1, then m2; NULL and *n = 0 when
 * the triangle rule fails or an l exceeds lmax. */
const fh_eq_cg_entry *fh_eq_cg_block(const fh_eq_cg *cg, int l1, int l2, int l3, int *n);
/* One coefficient by signed m (0 when outside the table). */
double fh_eq_cg_get(const fh_eq_cg *cg, int l1, int m1, int l2, int m2, int l3, int m3);

/* ---------------------------------------------------------------------------------------------
 * Radial basis: R_n(r) = sqrt(2/r_c) sin(n pi r / r_c) / r * f(r / r_c), n = 1..n_basis, with the
 * polynomial envelope f(x) = 1 - (p+1)(p+2)/2 x^p + p(p+2) x^(p+1) - p(p+1)/2 x^(p+2) for x < 1,
 * 0 beyond (f, f', f'' vanish at r_c: C^2 at the cutoff). */
typedef struct {
    int n_basis;
    double r_cut;   /* bohr */
    int p;          /* envelope power, e.g. 5 or 6 */
} fh_eq_radial;

/* R[i][n], and dR[i][n] = dR_n/dr (dR may be NULL). */
void fh_eq_radial_eval(const fh_eq_radial *rb, int n, const double *r, double *R, double *dR);
/* gr[i] += sum_n gR[i][n] dR[i][n]. */
void fh_eq_radial_backward(const fh_eq_radial *rb, int n, const double *dR, const double *gR,
                           double *gr);
/* The envelope f(x) alone and its derivative df/dx. */
double fh_eq_envelope(int p, double x, double *dfdx);

/* ---------------------------------------------------------------------------------------------
 * Dense matrix product, row-major, BLAS-like: C = alpha op(A) op(B) + beta C, op = transpose when
 * trans != 0; op(A) is m x k, op(B) k x n. Vectorised and register-blocked; used for the radial
 * MLP and every channel mixing. beta == 0 overwrites C (NaNs in C are not propagated). The fast
 * kernels serve alpha == 1 (any beta); other alphas take a slow scalar path. */
void fh_eq_gemm(int transa, int transb, int m, int n, int k, double alpha, const double *a,
                int lda, const double *b, int ldb, double beta, double *c, int ldc);

/* ---------------------------------------------------------------------------------------------
 * Radial multilayer perceptron: y = W_L silu(... silu(W_1 x)) per row (edge), no biases (so the
 * output vanishes where the radial basis does: smooth at the cutoff). Parameters: W_1 [n0][n1],
 * W_2 [n1][n2], ... concatenated row-major; rows are applied as x W. */
typedef struct fh_eq_mlp fh_eq_mlp;
fh_eq_mlp *fh_eq_mlp_alloc(int n_layers, const int *sizes, int max_rows, fh_err *err);
void fh_eq_mlp_free(fh_eq_mlp *mlp);
size_t fh_eq_mlp_n_params(const fh_eq_mlp *mlp);
int fh_eq_mlp_n_in(const fh_eq_mlp *mlp);
int fh_eq_mlp_n_out(const fh_eq_mlp *mlp);
/* x [rows][n0] -> y [rows][nL]. */
int fh_eq_mlp_forward(fh_eq_mlp *mlp, const double *theta, int rows, const double *x, double *y,
                      fh_err *err);
/* gx [rows][n0] += ..., gtheta += ... (from the saved forward state). */
int fh_eq_mlp_backward(fh_eq_mlp *mlp, const double *theta, const double *gy, double *gx,
                       double *gtheta, fh_err *err);
/* SiLU and its derivative (shared by the nonlinearities; libm exp). */
double fh_eq_silu(double x, double *dsilu);
/* In place: a[i] <- silu(a[i]) and, if ds is not NULL, ds[i] <- silu'(a[i]), 4 values at a time
 * with a vectorised exp (what the radial MLP uses; agrees with fh_eq_silu to a few ulp). */
void fh_eq_silu_array(long n, double *a, double *ds);

/* ---------------------------------------------------------------------------------------------
 * Equivariant linear map: channel mixing within each (l, p). For every output block o and every
 * input block i with the same (l, p): y_o[m][c'] += sum_c x_i[m][c] W_oi[c][c']. Output blocks with
 * no matching input stay 0 (plus bias). Optional per-node-type weights (n_types > 1, type[node] in
 * 0..n_types-1; type may be NULL when n_types == 1) and an optional bias on 0e output blocks.
 * Parameters: for each type, for each (o, i) pair in order of o then i: W_oi [c_in][c_out]; then
 * for each type the biases [n_0e_out_blocks][c_out]. */
typedef struct fh_eq_linear fh_eq_linear;
fh_eq_linear *fh_eq_linear_alloc(const fh_eq_irreps *in, int c_in, const fh_eq_irreps *out,
                                 int c_out, int n_types, int bias, fh_err *err);
void fh_eq_linear_free(fh_eq_linear *lin);
size_t fh_eq_linear_n_params(const fh_eq_linear *lin);
/* y [n][dim_out][c_out] is overwritten. */
void fh_eq_linear_forward(const fh_eq_linear *lin, const double *theta, int n, const int *type,
                          const double *x, double *y);
void fh_eq_linear_backward(const fh_eq_linear *lin, const double *theta, int n, const int *type,
                           const double *x, const double *gy, double *gx, double *gtheta);
/* The same for inference in mixed precision: double in and out, the products in float (within
 * about 1e-7 of each output's largest value; maps wider than 64 channels stay in double); the
 * backward gives the input gradient only (gx +=). */
void fh_eq_linear_forward_f(const fh_eq_linear *lin, const double *theta, int n, const int *type,
                            const double *x, double *y);
void fh_eq_linear_backward_f(const fh_eq_linear *lin, const double *theta, int n, const int *type,
                             const double *gy, double *gx);
/* Widening (fh_model_widen): the weights w_to of `to`, a map with the irreps and types of `from`
 * and as many or more channels on either side, from those of `from`: every old entry copied; an
 * entry from a new input channel into an old output channel 0, so that old outputs do not depend
 * on new channels; an entry into a new output channel drawn as rms * normal(ctx), rms that of
 * its old block. FH_EINPUT if the maps do not match. */
typedef double (*fh_eq_normal_fn)(void *ctx);
int fh_eq_linear_widen(const fh_eq_linear *from, const fh_eq_linear *to, const double *w_from,
                       double *w_to, fh_eq_normal_fn normal, void *ctx, fh_err *err);

/* ---------------------------------------------------------------------------------------------
 * Tensor product of node features with edge spherical harmonics, summed over neighbours
 * ("interaction" / convolution):
 *   y[recv(e)]_k += sum_{paths (i, l2) -> k} w_e,path (x) [ CG: x[send(e)]_i (x) Y_e,l2 -> k ]
 * Paths: every input block i, every l2 <= lmax_sh, every output block k with |l_i - l2| <= l_k <=
 * l_i + l2 and p_k = p_i (-1)^l2; enumerated in order of i, then l2, then k.
 *   FH_EQ_TP_CHANNELWISE ("uvu"): weights R[e][path][c] per edge, path and channel (from the radial
 *     MLP); output channels = input channels; no parameters in theta.
 *   FH_EQ_TP_FULL ("uvw", fully connected): weights R[e][path] per edge and path (radial MLP) times a
 *     learnable mixing W_path [c_in][c_out] (theta, concatenated in path order):
 *     y_k[c'] = sum_paths sum_c W_path[c][c'] R[e][path] CG(x_i[c], Y).  (The mixing is applied after
 *     the neighbour sum: exact because it is linear, and cheaper.)
 * Edges may come in any order; y is overwritten. */
typedef enum { FH_EQ_TP_CHANNELWISE = 0, FH_EQ_TP_FULL = 1 } fh_eq_tp_kind;
typedef struct fh_eq_tp fh_eq_tp;
fh_eq_tp *fh_eq_tp_alloc(const fh_eq_cg *cg, fh_eq_tp_kind kind, const fh_eq_irreps *in, int c_in,
                         int lmax_sh, const fh_eq_irreps *out, int c_out, int max_nodes,
                         fh_err *err);
void fh_eq_tp_free(fh_eq_tp *tp);
int fh_eq_tp_n_paths(const fh_eq_tp *tp);
/* Per edge, the number of radial weights: n_paths * c_in (channelwise) or n_paths (full). */
int fh_eq_tp_n_weights(const fh_eq_tp *tp);
size_t fh_eq_tp_n_params(const fh_eq_tp *tp);
/* Describe path p: input block, l2, output block. */
void fh_eq_tp_path(const fh_eq_tp *tp, int p, int *in_block, int *l2, int *out_block);
/* x [n_nodes][dim_in][c_in], Y [n_edges][(lmax_sh+1)^2], R [n_edges][n_weights],
 * y [n_nodes][dim_out][c_out]. */
int fh_eq_tp_forward(fh_eq_tp *tp, const double *theta, int n_nodes, int n_edges,
                     const int *sender, const int *receiver, const double *x, const double *Y,
                     const double *R, double *y, fh_err *err);
/* Gradients: gx [n_nodes][..], gY [n_edges][..], gR [n_edges][n_weights], gtheta; all +=. */
int fh_eq_tp_backward(fh_eq_tp *tp, const double *theta, int n_nodes, int n_edges,
                      const int *sender, const int *receiver, const double *x, const double *Y,
                      const double *R, const double *gy, double *gx, double *gY, double *gR,
                      double *gtheta, fh_err *err);
/* Pair form (channelwise kind only; models/eq_tp_pairs.c): undirected neighbour pairs p with
 * i = pi[p], j = pj[p] and u_p = r_j - r_i. Both messages of each pair, j -> i with Y(u_p) and
 * i -> j with Y(-u_p) = (-1)^l Y(u_p), with the same radial weights R[p]: the same as two
 * fh_eq_tp_forward calls with the edges each way. The harmonics enter through their CG
 * contractions A [n_pairs][fh_eq_tp_n_coeffs], from fh_eq_tp_coeffs(Y [n_pairs][nsh] of u_p),
 * which depend on the geometry only (compute once, use for every pass). The backward takes
 * n_seeds independent output gradients at once, gy [n_seeds][n_nodes][dim_out][c], and gives each
 * its gx [n_seeds][n_nodes][dim_in][c], gY [n_seeds][n_pairs][nsh] (w.r.t. Y(u_p), both
 * directions), gR [n_seeds][n_pairs][n_weights] and, given dR = dR/d|u| [n_pairs][n_weights],
 * gr [n_seeds][n_pairs] = sum_w gR dR, the gradient through the pair's length without storing gR
 * (all +=; any of them may be NULL). */
int fh_eq_tp_n_coeffs(const fh_eq_tp *tp);
void fh_eq_tp_coeffs(const fh_eq_tp *tp, int n_pairs, const double *Y, double *A);
int fh_eq_tp_forward_pairs(const fh_eq_tp *tp, int n_nodes, int n_pairs, const int *pi,
                           const int *pj, const double *x, const double *A, const double *R,
                           double *y, fh_err *err);
int fh_eq_tp_backward_pairs(fh_eq_tp *tp, int n_nodes, int n_pairs, const int *pi, const int *pj,
                            const double *x, const double *A, const double *R, const double *dR,
                            int n_seeds, const double *gy, double *gx, double *gY, double *gR,
                            double *gr, fh_err *err);
/* The pair form in single precision (models/eq_tp_pairs_f.c), for inference: x, A, R, dR, gy
 * and y, gx in float, one seed, no gR; gY and gr summed in double. Same layouts and contract as
 * the two above (y overwritten; gx, gY, gr +=, each may be NULL); results within about 1e-7 of
 * each output's largest value of the double kernels'. */
int fh_eq_tp_forward_pairs_f(const fh_eq_tp *tp, int n_nodes, int n_pairs, const int *pi,
                             const int *pj, const float *x, const float *A, const float *R,
                             float *y, fh_err *err);
int fh_eq_tp_backward_pairs_f(fh_eq_tp *tp, int n_nodes, int n_pairs, const int *pi,
                              const int *pj, const float *x, const float *A, const float *R,
                              const float *dR, const float *gy, float *gx, double *gY, double *gr,
                              fh_err *err);
/* Floating-point operations of a forward (backward = 0) or of a backward pass with all gradients
 * (backward = 1), as performed by the kernels (for benchmarks). */
double fh_eq_tp_flops(const fh_eq_tp *tp, int n_nodes, int n_edges, int backward);

/* ---------------------------------------------------------------------------------------------
 * Equivariant nonlinearities (no allocation, no saved state; they take x again in backward).
 * Gate: 0e blocks -> silu(x), 0o blocks -> tanh(x) (odd, keeps parity), every block with l > 0
 * -> x * sigmoid(g), g [n][n_gated][c] the gate scalars (one 0e block of gates per gated block, in
 * block order). n_gated = fh_eq_gate_n_gates(ir). */
int fh_eq_gate_n_gates(const fh_eq_irreps *ir);
void fh_eq_gate_forward(const fh_eq_irreps *ir, int c, int n, const double *x, const double *g,
                        double *y);
void fh_eq_gate_backward(const fh_eq_irreps *ir, int c, int n, const double *x, const double *g,
                         const double *gy, double *gx, double *gg);
/* Norm nonlinearity: scalars as in the gate; a block with l > 0 -> x * sigmoid(|x| + b), with the
 * smooth norm |x| = sqrt(sum_m x_m^2 + eps^2) - eps per channel, eps = 1e-3, and a learnable bias
 * b (theta [n_gated][c], one row per block with l > 0). */
void fh_eq_normact_forward(const fh_eq_irreps *ir, int c, int n, const double *theta,
                           const double *x, double *y);
void fh_eq_normact_backward(const fh_eq_irreps *ir, int c, int n, const double *theta,
                            const double *x, const double *gy, double *gx, double *gtheta);

/* ---------------------------------------------------------------------------------------------
 * Fusion block (Li, Zheng, Thiede, Liu, Kondor, arXiv 2211.07482): contracts nu copies of an atom's
 * features along a fusion diagram, a binary tree of CG couplings. Because all leaves are the same
 * feature, identical subtrees are evaluated once, so a diagram is given as a small DAG:
 * node 0 is the input (a leaf, correlation order 1) and node n >= 1 couples nodes left[n] and
 * right[n] (< n); its correlation order is the sum of theirs. Each node n >= 1 computes, per atom,
 *   z_n,k[m3][c] = sum_{paths (i, j) -> k} w_n[type][path][c] sum CG[m1 m2 m3] h_a,i[m1][c] h_b,j[m2][c]
 *   h_n,k = z_n,k M_n,k            (learnable channel mixing C x C on the internal edge)
 * and the block output is  y_k = sum over output nodes n of h_n,k  (+ w_0[type][k] (x) x_k when the
 * leaf is an output: the order-1 term). The sum over outputs of orders 1..nu mirrors MACE's
 * symmetric contraction: with l_hidden large enough the chain reaches the same products of nu
 * copies, but its weights factorise along the tree (one per coupling and channel, plus the
 * mixing) instead of one per complete coupling path. Internal blocks are all (l, p) with l <= l_hidden that some path can fill and that some
 * parent (or the output) needs (pruned top-down). When left == right, the coupling is symmetric:
 * paths (i, j) and (j, i) are the same up to sign, so only i <= j is kept, and (i, i) -> k with
 * 2 l_i + l_k odd vanishes identically and is dropped.
 * Trees: chain (left-deep): n = (n-1, 0) for n = 1..nu-1, cost nu-1 couplings;
 *        balanced (nu = 4): 1 = (0,0), 2 = (1,0), 3 = (1,1) -- order 4 from two order-2 copies.
 * Parameters, in order: for n = 1..: w_n [n_types][paths_n][c], M_n [blocks_n][c][c]; then w_0
 * [n_types][blocks of out also in in][c] when the leaf is an output. Count:
 *   sum_n (n_types paths_n c + blocks_n c^2) + n_types |out & in| c.  (fh_eq_fusion_describe prints
 * the tree, blocks, paths and this count.) */
#define FH_EQ_FUSION_MAX_NODES 8
typedef struct {
    int n_nodes;                          /* including the leaf 0 */
    int left[FH_EQ_FUSION_MAX_NODES];     /* children of node n >= 1 */
    int right[FH_EQ_FUSION_MAX_NODES];
    int is_output[FH_EQ_FUSION_MAX_NODES];
} fh_eq_fusion_tree;
typedef enum { FH_EQ_TREE_CHAIN = 0, FH_EQ_TREE_BALANCED = 1 } fh_eq_tree_kind;
/* A tree of correlation order nu (1..FH_EQ_FUSION_MAX_NODES) with every node an output. */
int fh_eq_fusion_tree_make(fh_eq_tree_kind kind, int nu, fh_eq_fusion_tree *tree, fh_err *err);

typedef struct fh_eq_fusion fh_eq_fusion;
fh_eq_fusion *fh_eq_fusion_alloc(const fh_eq_cg *cg, const fh_eq_irreps *in, int c,
                                 const fh_eq_irreps *out, const fh_eq_fusion_tree *tree,
                                 int l_hidden, int n_types, int max_nodes, fh_err *err);
void fh_eq_fusion_free(fh_eq_fusion *f);
size_t fh_eq_fusion_n_params(const fh_eq_fusion *f);
/* Floating-point operations of a forward (backward = 0) or of a backward pass with all gradients
 * (backward = 1) over n atoms, as performed by the kernels (for benchmarks). */
double fh_eq_fusion_flops(const fh_eq_fusion *f, int n, int backward);
/* Human-readable: nodes, their blocks and paths, parameter count. */
int fh_eq_fusion_describe(const fh_eq_fusion *f, char *buf, size_t size);
/* x [n][dim_in][c] -> y [n][dim_out][c] (overwritten); type may be NULL when n_types == 1. */
int fh_eq_fusion_forward(fh_eq_fusion *f, const double *theta, int n, const int *type,
                         const double *x, double *y, fh_err *err);
int fh_eq_fusion_backward(fh_eq_fusion *f, const double *theta, int n, const int *type,
                          const double *x, const double *gy, double *gx, double *gtheta,
                          fh_err *err);
/* single = 1: forward passes, and reverse passes for the input gradient, run in float
 * (mixed-precision inference, models/eq_fusion_f.c; about 1e-7 relative; blocks wider than 64
 * channels stay in double); a reverse pass with a weight gradient after such a forward is an
 * error. Default 0. */
void fh_eq_fusion_set_single(fh_eq_fusion *f, int single);
/* Widening, as fh_eq_linear_widen: `to` is the block of `from` (same irreps, tree, types) with
 * as many or more channels. Old weights copied; channel-wise weights of new channels drawn with
 * the RMS of their old block; mixing entries from a new channel into an old one 0, into a new one
 * drawn likewise. The old channels' outputs then do not depend on the new channels. */
int fh_eq_fusion_widen(const fh_eq_fusion *from, const fh_eq_fusion *to, const double *w_from,
                       double *w_to, fh_eq_normal_fn normal, void *ctx, fh_err *err);

#endif
