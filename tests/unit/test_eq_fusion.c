/* Symmetry of the equivariant core: the fusion block and the tensor product commute with random
 * rotations and with inversion (relative error <= 1e-12, Wigner matrices built from the harmonics
 * alone), the neighbour sum is invariant under permutations of edges and atoms, the fusion
 * parameter count follows the documented formula, and a small network assembled from the public
 * API (harmonics, radial basis, MLP, tensor product, linear, gate, fusion) gives an invariant
 * energy whose position gradient, by chaining the backward passes, matches finite differences and
 * rotates with the molecule. The fusion block in float (inference) agrees with it to 1e-5. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "test_eq_util.h"

#define SYM_TOL 1e-12

static void check_fusion_equivariance(fh_eq_tree_kind kind, int nu, const char *in_s,
                                      const char *out_s, int c, int lh, int ntypes)
{
    eqt_seed(40 + nu);
    fh_eq_cg *cg = fh_eq_cg_alloc(lh > 3 ? lh : 3, NULL);
    fh_eq_irreps in, out;
    fh_eq_irreps_parse(in_s, &in, NULL, NULL);
    fh_eq_irreps_parse(out_s, &out, NULL, NULL);
    fh_eq_fusion_tree tree;
    fh_err err;
    cr_assert_eq(fh_eq_fusion_tree_make(kind, nu, &tree, &err), FH_OK);
    const int n = 5, type[5] = {0, 1, 2, 1, 0};
    fh_eq_fusion *f = fh_eq_fusion_alloc(cg, &in, c, &out, &tree, lh, ntypes, n, &err);
    cr_assert_not_null(f, "%s", err.msg);
    size_t np = fh_eq_fusion_n_params(f);
    int din = fh_eq_irreps_dim(&in), dout = fh_eq_irreps_dim(&out);
    size_t nx = (size_t)n * din * c, ny = (size_t)n * dout * c;
    double *theta = malloc(sizeof(double) * np), *x = malloc(sizeof(double) * nx);
    double *gx_ = malloc(sizeof(double) * nx), *y = malloc(sizeof(double) * ny);
    double *gy = malloc(sizeof(double) * ny), *ygx = malloc(sizeof(double) * ny);
    double *D = malloc(sizeof(double) * fh_eq_wigner_size(3));
    eqt_fill(theta, np, 0.5);
    eqt_fill(x, nx, 1.0);
    const int *tp = ntypes > 1 ? type : NULL;
    cr_assert_eq(fh_eq_fusion_forward(f, theta, n, tp, x, y, &err), FH_OK);
    double ny2 = eqt_dot(y, y, ny);
    cr_assert(ny2 > 1e-3, "fusion output vanishes");
    for (int trial = 0; trial < 4; trial++) {
        double R[9];
        eqt_random_rotation(R);
        cr_assert_eq(fh_eq_wigner_d(3, R, D, NULL), FH_OK);
        int invert = trial % 2;   /* rotations, and rotations combined with inversion */
        eqt_transform(&in, c, n, D, invert, x, gx_);
        cr_assert_eq(fh_eq_fusion_forward(f, theta, n, tp, gx_, ygx, &err), FH_OK);
        eqt_transform(&out, c, n, D, invert, y, gy);
        double e = eqt_rel_err(ygx, gy, ny);
        cr_assert(e < SYM_TOL, "fusion (%s nu=%d) not equivariant (invert=%d): %.3e", kind ? "balanced" : "chain",
                  nu, invert, e);
    }
    /* pure inversion: odd outputs flip, even ones stay */
    double I3[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    fh_eq_wigner_d(3, I3, D, NULL);
    eqt_transform(&in, c, n, D, 1, x, gx_);
    fh_eq_fusion_forward(f, theta, n, tp, gx_, ygx, &err);
    eqt_transform(&out, c, n, D, 1, y, gy);
    cr_assert(eqt_rel_err(ygx, gy, ny) < SYM_TOL, "fusion not inversion-equivariant");

    /* in float (fh_eq_fusion_set_single, models/eq_fusion_f.c) against double: the output and
     * the input gradient within 1e-5 (about 1e-7 expected), not bitwise; and no weight gradient
     * after a float forward */
    double *gxd = calloc(nx, sizeof(double)), *gxf = calloc(nx, sizeof(double));
    double *gth = calloc(np, sizeof(double));
    eqt_fill(gy, ny, 1.0);
    fh_eq_fusion_forward(f, theta, n, tp, x, y, &err);
    cr_assert_eq(fh_eq_fusion_backward(f, theta, n, tp, x, gy, gxd, NULL, &err), FH_OK);
    fh_eq_fusion_set_single(f, 1);
    cr_assert_eq(fh_eq_fusion_forward(f, theta, n, tp, x, ygx, &err), FH_OK);
    cr_assert_eq(fh_eq_fusion_backward(f, theta, n, tp, x, gy, gxf, NULL, &err), FH_OK, "%s", err.msg);
    double ey = eqt_rel_err(ygx, y, ny), eg = eqt_rel_err(gxf, gxd, nx);
    cr_assert(ey < 1e-5 && eg < 1e-5, "fusion in float: output off by %.2e, input gradient by %.2e", ey, eg);
    cr_assert(ey > 0 && eg > 0, "fusion in float gave double's results bitwise");
    cr_assert_eq(fh_eq_fusion_backward(f, theta, n, tp, x, gy, gxf, gth, &err), FH_EFAIL);
    fh_eq_fusion_set_single(f, 0);
    free(gxd), free(gxf), free(gth);
    fh_eq_fusion_free(f);
    fh_eq_cg_free(cg);
    free(theta), free(x), free(gx_), free(y), free(gy), free(ygx), free(D);
}

Test(eq_fusion, equivariant_chain_nu3) { check_fusion_equivariance(FH_EQ_TREE_CHAIN, 3, "0e+1o+2e+3o", "0e+1o", 8, 3, 3); }
Test(eq_fusion, equivariant_chain_nu2) { check_fusion_equivariance(FH_EQ_TREE_CHAIN, 2, "0e+1o+1e+2e", "0e+0o+1o+1e+2e", 6, 3, 1); }
Test(eq_fusion, equivariant_balanced_nu4) { check_fusion_equivariance(FH_EQ_TREE_BALANCED, 4, "0e+1o+2e", "0e+1o", 5, 2, 3); }
Test(eq_fusion, equivariant_chain_nu3_wide) { check_fusion_equivariance(FH_EQ_TREE_CHAIN, 3, "0e+1o+2e", "0e+1o+2e", 21, 2, 1); }
Test(eq_fusion, equivariant_chain_nu4) { check_fusion_equivariance(FH_EQ_TREE_CHAIN, 4, "0e+1o", "0e+1o", 4, 2, 1); }

Test(eq_fusion, parameter_count_and_pruning)
{
    fh_eq_cg *cg = fh_eq_cg_alloc(4, NULL);
    fh_eq_irreps in, out;
    fh_eq_fusion_tree tree;
    fh_err err;
    const int c = 7;
    fh_eq_fusion_tree_make(FH_EQ_TREE_CHAIN, 2, &tree, NULL);
    /* 0e x 0e -> 0e: one path, one block; plus the order-1 weight */
    fh_eq_irreps_parse("0e", &in, NULL, NULL);
    fh_eq_irreps_parse("0e", &out, NULL, NULL);
    fh_eq_fusion *f = fh_eq_fusion_alloc(cg, &in, c, &out, &tree, 2, 1, 3, &err);
    cr_assert_not_null(f, "%s", err.msg);
    cr_assert_eq(fh_eq_fusion_n_params(f), (size_t)(c + c * c + c));
    fh_eq_fusion_free(f);
    /* 0e+1o, symmetric: (0e,0e) and (1o,1o) -> 0e; (0e,1o) only for 1o which is not asked */
    fh_eq_irreps_parse("0e+1o", &in, NULL, NULL);
    f = fh_eq_fusion_alloc(cg, &in, c, &out, &tree, 2, 3, 3, &err);
    cr_assert_not_null(f, "%s", err.msg);
    cr_assert_eq(fh_eq_fusion_n_params(f), (size_t)(3 * 2 * c + c * c + 3 * c));
    fh_eq_fusion_free(f);
    /* x (x) x for a single vector x has no 1e part (the cross product of x with itself is 0) */
    fh_eq_irreps_parse("1o", &in, NULL, NULL);
    fh_eq_irreps_parse("1e", &out, NULL, NULL);
    f = fh_eq_fusion_alloc(cg, &in, c, &out, &tree, 2, 1, 3, &err);
    cr_assert_null(f);
    cr_assert(strstr(err.msg, "1e cannot be produced") != NULL, "%s", err.msg);
    /* ... but a chain of order 3 over 0e+1o+1e reaches it and reports its tree */
    fh_eq_fusion_tree_make(FH_EQ_TREE_CHAIN, 3, &tree, NULL);
    fh_eq_irreps_parse("0e+1o+1e", &in, NULL, NULL);
    f = fh_eq_fusion_alloc(cg, &in, c, &out, &tree, 2, 1, 3, &err);
    cr_assert_not_null(f, "%s", err.msg);
    char desc[1024];
    fh_eq_fusion_describe(f, desc, sizeof desc);
    cr_assert(strstr(desc, "node 2 = (1 x 0), order 3, output") != NULL, "%s", desc);
    fh_eq_fusion_free(f);
    /* bad trees and sizes are input errors */
    cr_assert_eq(fh_eq_fusion_tree_make(FH_EQ_TREE_BALANCED, 5, &tree, &err), FH_EINPUT);
    tree.n_nodes = 2, tree.left[1] = 1, tree.right[1] = 0;
    cr_assert_null(fh_eq_fusion_alloc(cg, &in, c, &out, &tree, 2, 1, 3, &err));
    fh_eq_cg_free(cg);
}

/* --- tensor product: rotation/inversion equivariance and permutation invariance -------------- */
typedef struct {
    int n, ne;
    int snd[64], rcv[64];
    double vec[64 * 3];
} graph;

static void make_graph(const double *pos, int n, double rc, graph *g)
{
    g->n = n, g->ne = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j) continue;
            double d[3] = {pos[3 * j] - pos[3 * i], pos[3 * j + 1] - pos[3 * i + 1], pos[3 * j + 2] - pos[3 * i + 2]};
            if (d[0] * d[0] + d[1] * d[1] + d[2] * d[2] >= rc * rc) continue;
            g->snd[g->ne] = i, g->rcv[g->ne] = j;   /* message i -> j along j - i */
            memcpy(g->vec + 3 * g->ne, d, sizeof d);
            g->ne++;
        }
}

Test(eq_tp, equivariance_and_permutation)
{
    eqt_seed(50);
    const int n = 6, c = 6, lsh = 3;
    fh_eq_cg *cg = fh_eq_cg_alloc(3, NULL);
    fh_eq_irreps in, out;
    fh_eq_irreps_parse("0e+1o+2e", &in, NULL, NULL);
    fh_eq_irreps_tp_reachable(&in, lsh, 3, &out);
    fh_err err;
    for (int kind = 0; kind < 2; kind++) {
        int co = kind ? 5 : c;
        fh_eq_tp *tp = fh_eq_tp_alloc(cg, kind, &in, c, lsh, &out, co, n, &err);
        cr_assert_not_null(tp, "%s", err.msg);
        double pos[3 * 6];
        eqt_fill(pos, 3 * n, 1.5);
        graph g;
        make_graph(pos, n, 3.5, &g);
        cr_assert(g.ne > 6);
        int din = fh_eq_irreps_dim(&in), dout = fh_eq_irreps_dim(&out), nsh = fh_eq_sph_dim(lsh);
        int nw = fh_eq_tp_n_weights(tp);
        size_t np = fh_eq_tp_n_params(tp), nx = (size_t)n * din * c, ny = (size_t)n * dout * co;
        double *theta = malloc(sizeof(double) * (np ? np : 1)), *x = malloc(sizeof(double) * nx);
        double *Y = malloc(sizeof(double) * g.ne * nsh), *Rw = malloc(sizeof(double) * g.ne * nw);
        double *y = malloc(sizeof(double) * ny), *y2 = malloc(sizeof(double) * ny), *gy = malloc(sizeof(double) * ny);
        double *gx_ = malloc(sizeof(double) * nx), *D = malloc(sizeof(double) * fh_eq_wigner_size(3));
        eqt_fill(theta, np, 0.5), eqt_fill(x, nx, 1.0);
        /* radial weights: any function of the edge length (rotation invariant) */
        for (int e = 0; e < g.ne; e++) {
            double r = sqrt(eqt_dot(g.vec + 3 * e, g.vec + 3 * e, 3));
            for (int w = 0; w < nw; w++) Rw[e * nw + w] = sin(0.7 * r * (w + 1)) + 0.1 * w;
        }
        fh_eq_sph(lsh, g.ne, g.vec, Y, NULL);
        cr_assert_eq(fh_eq_tp_forward(tp, theta, n, g.ne, g.snd, g.rcv, x, Y, Rw, y, &err), FH_OK);
        for (int trial = 0; trial < 4; trial++) {
            double R[9], rv[64 * 3];
            int invert = trial % 2;
            eqt_random_rotation(R);
            fh_eq_wigner_d(3, R, D, NULL);
            for (int e = 0; e < g.ne; e++) {
                eqt_matvec3(R, g.vec + 3 * e, rv + 3 * e);
                if (invert)
                    for (int k = 0; k < 3; k++) rv[3 * e + k] = -rv[3 * e + k];
            }
            fh_eq_sph(lsh, g.ne, rv, Y, NULL);
            eqt_transform(&in, c, n, D, invert, x, gx_);
            fh_eq_tp_forward(tp, theta, n, g.ne, g.snd, g.rcv, gx_, Y, Rw, y2, &err);
            eqt_transform(&out, co, n, D, invert, y, gy);
            double e = eqt_rel_err(y2, gy, ny);
            cr_assert(e < SYM_TOL, "tensor product (kind %d) not equivariant (invert %d): %.3e", kind, invert, e);
        }
        /* permute the edge list and relabel the atoms: same messages on the same atoms */
        int perm[6] = {3, 0, 5, 1, 4, 2}, snd2[64], rcv2[64];
        double *x2 = malloc(sizeof(double) * nx), *Y2 = malloc(sizeof(double) * g.ne * nsh);
        double *R2 = malloc(sizeof(double) * g.ne * nw), *y3 = malloc(sizeof(double) * ny);
        fh_eq_sph(lsh, g.ne, g.vec, Y, NULL);
        for (int a = 0; a < n; a++) memcpy(x2 + (size_t)perm[a] * din * c, x + (size_t)a * din * c, sizeof(double) * din * c);
        for (int e = 0; e < g.ne; e++) {
            int e2 = (e * 7 + 3) % g.ne;   /* 7 is coprime with the edge count below */
            snd2[e2] = perm[g.snd[e]], rcv2[e2] = perm[g.rcv[e]];
            memcpy(Y2 + e2 * nsh, Y + e * nsh, sizeof(double) * nsh);
            memcpy(R2 + e2 * nw, Rw + e * nw, sizeof(double) * nw);
        }
        cr_assert(g.ne % 7 != 0);
        fh_eq_tp_forward(tp, theta, n, g.ne, snd2, rcv2, x2, Y2, R2, y3, &err);
        for (int a = 0; a < n; a++) {
            double e = eqt_rel_err(y3 + (size_t)perm[a] * dout * co, y + (size_t)a * dout * co, (size_t)dout * co);
            cr_assert(e < SYM_TOL, "neighbour sum depends on the order (atom %d): %.3e", a, e);
        }
        fh_eq_tp_free(tp);
        free(theta), free(x), free(Y), free(Rw), free(y), free(y2), free(gy), free(gx_), free(D);
        free(x2), free(Y2), free(R2), free(y3);
    }
    fh_eq_cg_free(cg);
}

/* --- a small network from the public API: energy, forces, symmetry ----------------------------- */
enum { NA = 6, C = 8, LSH = 2, NB = 6 };
typedef struct {
    fh_eq_cg *cg;
    fh_eq_radial rb;
    fh_eq_mlp *mlp;
    fh_eq_tp *tp;
    fh_eq_linear *lin, *lin2;
    fh_eq_fusion *fus;
    fh_eq_irreps ir0, ir1, irg, iro;
    double *th_mlp, *th_lin, *th_lin2, *th_fus, emb[2][C], readout[C];
    int type[NA];
    /* activations */
    graph g;
    double x0[NA * C], r[64], Rb[64 * NB], dRb[64 * NB], Y[64 * 9], dY[64 * 9 * 3];
    double *Rw, *m, *a, *b, *bg, *gates, *fo;
} net;

static void net_init(net *N)
{
    fh_err err;
    memset(N, 0, sizeof *N);
    N->cg = fh_eq_cg_alloc(3, &err);
    N->rb = (fh_eq_radial){.n_basis = NB, .r_cut = 4.0, .p = 5};
    fh_eq_irreps_parse("0e", &N->ir0, NULL, NULL);
    fh_eq_irreps_tp_reachable(&N->ir0, LSH, 2, &N->ir1);          /* 0e+1o+2e */
    N->tp = fh_eq_tp_alloc(N->cg, FH_EQ_TP_CHANNELWISE, &N->ir0, C, LSH, &N->ir1, C, NA, &err);
    cr_assert_not_null(N->tp, "%s", err.msg);
    int sizes[3] = {NB, 16, fh_eq_tp_n_weights(N->tp)};
    N->mlp = fh_eq_mlp_alloc(2, sizes, 64, &err);
    /* gates for the l > 0 blocks come from the same linear map as extra 0e blocks */
    fh_eq_irreps_parse("0e+1o+2e", &N->irg, NULL, NULL);
    N->lin = fh_eq_linear_alloc(&N->ir1, C, &N->ir1, C, 2, 0, &err);
    fh_eq_irreps gates;
    fh_eq_irreps_parse("0e", &gates, NULL, NULL);
    N->lin2 = fh_eq_linear_alloc(&N->ir1, C, &gates, 2 * C, 1, 1, &err);   /* 2 gated blocks x C */
    fh_eq_irreps_parse("0e+1o", &N->iro, NULL, NULL);
    fh_eq_fusion_tree tree;
    fh_eq_fusion_tree_make(FH_EQ_TREE_CHAIN, 3, &tree, NULL);
    N->fus = fh_eq_fusion_alloc(N->cg, &N->ir1, C, &N->iro, &tree, 2, 2, NA, &err);
    cr_assert_not_null(N->fus, "%s", err.msg);
    N->th_mlp = malloc(sizeof(double) * fh_eq_mlp_n_params(N->mlp));
    N->th_lin = malloc(sizeof(double) * fh_eq_linear_n_params(N->lin));
    N->th_lin2 = malloc(sizeof(double) * fh_eq_linear_n_params(N->lin2));
    N->th_fus = malloc(sizeof(double) * fh_eq_fusion_n_params(N->fus));
    eqt_seed(60);
    eqt_fill(N->th_mlp, fh_eq_mlp_n_params(N->mlp), 0.5);
    eqt_fill(N->th_lin, fh_eq_linear_n_params(N->lin), 0.4);
    eqt_fill(N->th_lin2, fh_eq_linear_n_params(N->lin2), 0.4);
    eqt_fill(N->th_fus, fh_eq_fusion_n_params(N->fus), 0.4);
    eqt_fill(&N->emb[0][0], 2 * C, 1.0);
    eqt_fill(N->readout, C, 1.0);
    for (int i = 0; i < NA; i++) N->type[i] = i % 3 == 0;
    int d1 = fh_eq_irreps_dim(&N->ir1);
    N->Rw = malloc(sizeof(double) * 64 * sizes[2]);
    N->m = malloc(sizeof(double) * NA * d1 * C);
    N->a = malloc(sizeof(double) * NA * d1 * C);
    N->b = malloc(sizeof(double) * NA * d1 * C);
    N->gates = malloc(sizeof(double) * NA * 2 * C);
    N->bg = malloc(sizeof(double) * NA * d1 * C);
    N->fo = malloc(sizeof(double) * NA * 4 * C);
}

static void net_free(net *N)
{
    fh_eq_mlp_free(N->mlp), fh_eq_tp_free(N->tp), fh_eq_linear_free(N->lin);
    fh_eq_linear_free(N->lin2), fh_eq_fusion_free(N->fus), fh_eq_cg_free(N->cg);
    free(N->th_mlp), free(N->th_lin), free(N->th_lin2), free(N->th_fus);
    free(N->Rw), free(N->m), free(N->a), free(N->b), free(N->gates), free(N->bg), free(N->fo);
}

/* E = sum_atoms readout . fusion(gate(linear(TP(embedding, Y, MLP(radial)))))_0e */
static double net_energy(net *N, const double *pos)
{
    make_graph(pos, NA, N->rb.r_cut, &N->g);
    int ne = N->g.ne;
    for (int e = 0; e < ne; e++) N->r[e] = sqrt(eqt_dot(N->g.vec + 3 * e, N->g.vec + 3 * e, 3));
    for (int i = 0; i < NA; i++) memcpy(N->x0 + i * C, N->emb[N->type[i]], sizeof(double) * C);
    fh_eq_sph(LSH, ne, N->g.vec, N->Y, N->dY);
    fh_eq_radial_eval(&N->rb, ne, N->r, N->Rb, N->dRb);
    fh_eq_mlp_forward(N->mlp, N->th_mlp, ne, N->Rb, N->Rw, NULL);
    fh_eq_tp_forward(N->tp, NULL, NA, ne, N->g.snd, N->g.rcv, N->x0, N->Y, N->Rw, N->m, NULL);
    fh_eq_linear_forward(N->lin, N->th_lin, NA, N->type, N->m, N->a);
    fh_eq_linear_forward(N->lin2, N->th_lin2, NA, NULL, N->m, N->gates);
    fh_eq_gate_forward(&N->ir1, C, NA, N->a, N->gates, N->bg);
    fh_eq_fusion_forward(N->fus, N->th_fus, NA, N->type, N->bg, N->fo, NULL);
    double E = 0;
    for (int i = 0; i < NA; i++) E += eqt_dot(N->readout, N->fo + (size_t)i * 4 * C, C);
    return E;
}

/* dE/dpos by chaining the backward passes (after net_energy at the same positions). */
static void net_forces(net *N, double *gpos)
{
    int ne = N->g.ne, d1 = fh_eq_irreps_dim(&N->ir1), nw = fh_eq_tp_n_weights(N->tp);
    double *gfo = calloc(NA * 4 * C, sizeof(double)), *gbg = calloc(NA * d1 * C, sizeof(double));
    double *ga = calloc(NA * d1 * C, sizeof(double)), *gg = calloc(NA * 2 * C, sizeof(double));
    double *gm = calloc(NA * d1 * C, sizeof(double)), *gY = calloc(ne * 9, sizeof(double));
    double *gRw = calloc(ne * nw, sizeof(double)), *gRb = calloc(ne * NB, sizeof(double));
    double *gr = calloc(ne, sizeof(double)), *gvec = calloc(3 * ne, sizeof(double));
    for (int i = 0; i < NA; i++) memcpy(gfo + (size_t)i * 4 * C, N->readout, sizeof(double) * C);
    fh_eq_fusion_backward(N->fus, N->th_fus, NA, N->type, N->bg, gfo, gbg, NULL, NULL);
    fh_eq_gate_backward(&N->ir1, C, NA, N->a, N->gates, gbg, ga, gg);
    fh_eq_linear_backward(N->lin, N->th_lin, NA, N->type, N->m, ga, gm, NULL);
    fh_eq_linear_backward(N->lin2, N->th_lin2, NA, NULL, N->m, gg, gm, NULL);
    fh_eq_tp_backward(N->tp, NULL, NA, ne, N->g.snd, N->g.rcv, N->x0, N->Y, N->Rw, gm, NULL, gY, gRw, NULL, NULL);
    fh_eq_mlp_backward(N->mlp, N->th_mlp, gRw, gRb, NULL, NULL);
    fh_eq_radial_backward(&N->rb, ne, N->dRb, gRb, gr);
    fh_eq_sph_backward(LSH, ne, N->dY, gY, gvec);
    memset(gpos, 0, sizeof(double) * 3 * NA);
    for (int e = 0; e < ne; e++)
        for (int k = 0; k < 3; k++) {
            double gv = gvec[3 * e + k] + gr[e] * N->g.vec[3 * e + k] / N->r[e];
            gpos[3 * N->g.rcv[e] + k] += gv;
            gpos[3 * N->g.snd[e] + k] -= gv;
        }
    free(gfo), free(gbg), free(ga), free(gg), free(gm), free(gY), free(gRw), free(gRb), free(gr), free(gvec);
}

typedef struct {
    net *N;
    double *pos;
} pos_ctx;
static double pos_loss(void *p)
{
    pos_ctx *c = p;
    return net_energy(c->N, c->pos);
}

Test(eq_network, forces_and_symmetry)
{
    static net N;
    net_init(&N);
    double pos[3 * NA], g[3 * NA];
    eqt_seed(61);
    eqt_fill(pos, 3 * NA, 1.3);
    double E = net_energy(&N, pos);
    cr_assert(N.g.ne > 10 && N.g.ne < 64, "%d edges", N.g.ne);
    cr_assert(fabs(E) > 1e-6);
    net_forces(&N, g);
    pos_ctx pc = {&N, pos};
    double err = eqt_fd_check(pos_loss, &pc, pos, 3 * NA, g, 1e-5);
    cr_assert(err < 1e-6, "dE/dpos from chained backward passes: rel err %.3e", err);
    /* rotation (+ inversion) and translation: same energy, rotated gradient */
    for (int t = 0; t < 4; t++) {
        double R[9], p2[3 * NA], g2[3 * NA], Rg[3 * NA];
        eqt_random_rotation(R);
        double sg = (t % 2) ? -1.0 : 1.0;
        for (int i = 0; i < NA; i++) {
            eqt_matvec3(R, pos + 3 * i, p2 + 3 * i);
            eqt_matvec3(R, g + 3 * i, Rg + 3 * i);
            for (int k = 0; k < 3; k++) p2[3 * i + k] = sg * p2[3 * i + k] + 0.37 * (k + 1), Rg[3 * i + k] *= sg;
        }
        double E2 = net_energy(&N, p2);
        net_forces(&N, g2);
        cr_assert(fabs(E2 - E) < SYM_TOL * fabs(E), "energy not invariant: %.17g vs %.17g", E2, E);
        cr_assert(eqt_rel_err(g2, Rg, 3 * NA) < 1e-11, "forces not equivariant: %.3e", eqt_rel_err(g2, Rg, 3 * NA));
    }
    /* permutation of like atoms (types 0: atoms 1, 2, 4, 5) */
    double p3[3 * NA];
    memcpy(p3, pos, sizeof p3);
    memcpy(p3 + 3 * 1, pos + 3 * 5, 3 * sizeof(double));
    memcpy(p3 + 3 * 5, pos + 3 * 1, 3 * sizeof(double));
    memcpy(p3 + 3 * 2, pos + 3 * 4, 3 * sizeof(double));
    memcpy(p3 + 3 * 4, pos + 3 * 2, 3 * sizeof(double));
    double E3 = net_energy(&N, p3);
    cr_assert(fabs(E3 - E) < SYM_TOL * fabs(E), "energy not permutation invariant: %.17g vs %.17g", E3, E);
    net_free(&N);
}

/* The reverse pass skips couplings whose gradient is exactly zero (an output block without a
 * gradient). With gy only on the scalar block, or only on the vector block, the input and weight
 * gradients must still match central differences of gy . y, with both tree kinds. */
typedef struct {
    fh_eq_fusion *f;
    double *theta, *x, *y;
    const double *seed;
    const int *type;
    int n;
    size_t ny;
} fus_ctx;

static double fus_loss(void *p)
{
    fus_ctx *c = p;
    fh_eq_fusion_forward(c->f, c->theta, c->n, c->type, c->x, c->y, NULL);
    return eqt_dot(c->seed, c->y, c->ny);
}

Test(eq_fusion, zero_output_blocks_are_skipped_exactly)
{
    eqt_seed(77);
    fh_eq_cg *cg = fh_eq_cg_alloc(3, NULL);
    fh_eq_irreps in, out;
    fh_eq_irreps_parse("0e+1o+2e", &in, NULL, NULL);
    fh_eq_irreps_parse("0e+1o", &out, NULL, NULL);
    fh_err err;
    const int n = 3, c = 3, type[3] = {0, 1, 0};
    for (int kind = 0; kind < 2; kind++) {
        fh_eq_fusion_tree tree;
        cr_assert_eq(fh_eq_fusion_tree_make(kind, kind ? 4 : 3, &tree, &err), FH_OK);
        fh_eq_fusion *f = fh_eq_fusion_alloc(cg, &in, c, &out, &tree, 2, 2, n, &err);
        cr_assert_not_null(f, "%s", err.msg);
        size_t np = fh_eq_fusion_n_params(f), nx = (size_t)n * 9 * c, ny = (size_t)n * 4 * c;
        double *theta = malloc(sizeof(double) * np), *x = malloc(sizeof(double) * nx);
        double *y = malloc(sizeof(double) * ny), *seed = malloc(sizeof(double) * ny);
        double *gx = malloc(sizeof(double) * nx), *gt = malloc(sizeof(double) * np);
        eqt_fill(theta, np, 0.5), eqt_fill(x, nx, 1.0);
        for (int part = 0; part < 2; part++) {   /* 0: gy on 0e only, 1: on 1o only */
            eqt_fill(seed, ny, 1.0);
            for (int a = 0; a < n; a++)
                for (int i = 0; i < 4 * c; i++)
                    if ((i < c) != (part == 0)) seed[a * 4 * c + i] = 0.0;
            memset(gx, 0, sizeof(double) * nx), memset(gt, 0, sizeof(double) * np);
            cr_assert_eq(fh_eq_fusion_forward(f, theta, n, type, x, y, &err), FH_OK);
            cr_assert_eq(fh_eq_fusion_backward(f, theta, n, type, x, seed, gx, gt, &err), FH_OK);
            fus_ctx ctx = {f, theta, x, y, seed, type, n, ny};
            double ex = eqt_fd_check(fus_loss, &ctx, x, nx, gx, 1e-5);
            double et = eqt_fd_check(fus_loss, &ctx, theta, np, gt, 1e-5);
            cr_assert(ex < 1e-7 && et < 1e-7, "tree %d, gradient on %s only: off by %.2e (input), "
                      "%.2e (weights)", kind, part ? "1o" : "0e", ex, et);
        }
        free(theta), free(x), free(y), free(seed), free(gx), free(gt);
        fh_eq_fusion_free(f);
    }
    fh_eq_cg_free(cg);
}
