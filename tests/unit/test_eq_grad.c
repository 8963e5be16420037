/* Every backward pass of the equivariant core against central finite differences of
 * L = <g, forward(...)> with a random g (relative error <= 1e-6), with respect to every input and
 * every parameter; plus the matrix product against a naive reference. Channel counts are chosen
 * not to be multiples of 4, so both the vector and the scalar tails of the kernels are exercised. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "test_eq_util.h"

#define TOL 1e-6
#define H 1e-5

/* ---- matrix product --------------------------------------------------------------------- */
Test(eq_gemm, matches_naive)
{
    eqt_seed(10);
    const int sizes[][3] = {{7, 13, 9}, {1, 1, 1}, {12, 24, 300}, {5, 8, 4}, {33, 3, 17}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int ab = 0; ab < 3; ab++) {
                    int m = sizes[s][0], n = sizes[s][1], k = sizes[s][2];
                    double alpha = ab == 2 ? -0.7 : 1.0, beta = ab == 0 ? 0.0 : (ab == 1 ? 1.0 : 0.3);
                    int lda = (ta ? m : k) + 2, ldb = (tb ? k : n) + 1, ldc = n + 3;
                    double *A = malloc(sizeof(double) * (ta ? k : m) * lda);
                    double *B = malloc(sizeof(double) * (tb ? n : k) * ldb);
                    double *C = malloc(sizeof(double) * m * ldc), *R = malloc(sizeof(double) * m * ldc);
                    eqt_fill(A, (size_t)(ta ? k : m) * lda, 1);
                    eqt_fill(B, (size_t)(tb ? n : k) * ldb, 1);
                    eqt_fill(C, (size_t)m * ldc, 1);
                    memcpy(R, C, sizeof(double) * m * ldc);
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++) {
                            double acc = 0;
                            for (int q = 0; q < k; q++)
                                acc += (ta ? A[q * lda + i] : A[i * lda + q]) * (tb ? B[j * ldb + q] : B[q * ldb + j]);
                            R[i * ldc + j] = alpha * acc + beta * R[i * ldc + j];
                        }
                    fh_eq_gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < ldc; j++)
                            cr_assert(fabs(C[i * ldc + j] - R[i * ldc + j]) < 1e-12 * (1 + k),
                                      "gemm %dx%dx%d ta=%d tb=%d ab=%d at (%d,%d)", m, n, k, ta, tb, ab, i, j);
                    free(A), free(B), free(C), free(R);
                }
}

/* ---- spherical harmonics ---------------------------------------------------------------- */
typedef struct {
    int lmax, n;
    double *v, *g, *Y;
} sph_ctx;
static double sph_loss(void *p)
{
    sph_ctx *c = p;
    fh_eq_sph(c->lmax, c->n, c->v, c->Y, NULL);
    return eqt_dot(c->g, c->Y, (size_t)c->n * fh_eq_sph_dim(c->lmax));
}
Test(eq_grad, spherical_harmonics)
{
    eqt_seed(11);
    sph_ctx c = {.lmax = 6, .n = 5};
    int nsh = fh_eq_sph_dim(c.lmax);
    c.v = malloc(sizeof(double) * 3 * c.n);
    c.g = malloc(sizeof(double) * nsh * c.n);
    c.Y = malloc(sizeof(double) * nsh * c.n);
    double *dY = malloc(sizeof(double) * 3 * nsh * c.n), *gv = calloc(3 * c.n, sizeof(double));
    eqt_fill(c.v, 3 * c.n, 1.5);
    eqt_fill(c.g, (size_t)nsh * c.n, 1);
    fh_eq_sph(c.lmax, c.n, c.v, c.Y, dY);
    fh_eq_sph_backward(c.lmax, c.n, dY, c.g, gv);
    double err = eqt_fd_check(sph_loss, &c, c.v, 3 * c.n, gv, H);
    cr_assert(err < TOL, "spherical harmonics gradient: rel err %.3e", err);
    /* along the z axis (x = y = 0, where (x+iy)^m is singular in angle form) */
    double vz[3] = {0, 0, 1.3}, Yz[64], dYz[192], gz[3] = {0, 0, 0};
    sph_ctx cz = {.lmax = 6, .n = 1, .v = vz, .g = c.g, .Y = Yz};
    fh_eq_sph(6, 1, vz, Yz, dYz);
    fh_eq_sph_backward(6, 1, dYz, c.g, gz);
    err = eqt_fd_check(sph_loss, &cz, vz, 3, gz, H);
    cr_assert(err < TOL, "spherical harmonics gradient on the z axis: rel err %.3e", err);
    free(c.v), free(c.g), free(c.Y), free(dY), free(gv);
}

/* ---- radial basis ----------------------------------------------------------------------- */
typedef struct {
    fh_eq_radial rb;
    int n;
    double *r, *g, *R;
} rad_ctx;
static double rad_loss(void *p)
{
    rad_ctx *c = p;
    fh_eq_radial_eval(&c->rb, c->n, c->r, c->R, NULL);
    return eqt_dot(c->g, c->R, (size_t)c->n * c->rb.n_basis);
}
Test(eq_grad, radial_basis)
{
    eqt_seed(12);
    rad_ctx c = {.rb = {.n_basis = 8, .r_cut = 9.4, .p = 5}, .n = 9};
    c.r = malloc(sizeof(double) * c.n);
    c.g = malloc(sizeof(double) * c.n * 8);
    c.R = malloc(sizeof(double) * c.n * 8);
    double *dR = malloc(sizeof(double) * c.n * 8), *gr = calloc(c.n, sizeof(double));
    for (int i = 0; i < c.n; i++) c.r[i] = 0.5 + 8.8 * eqt_uniform();
    c.r[c.n - 1] = 9.39;   /* close to the cutoff */
    eqt_fill(c.g, (size_t)c.n * 8, 1);
    fh_eq_radial_eval(&c.rb, c.n, c.r, c.R, dR);
    fh_eq_radial_backward(&c.rb, c.n, dR, c.g, gr);
    double err = eqt_fd_check(rad_loss, &c, c.r, c.n, gr, H);
    cr_assert(err < TOL, "radial gradient: rel err %.3e", err);
    /* envelope: f, f', f'' vanish at x = 1; f(0) = 1 */
    for (int p = 2; p <= 8; p++) {
        double d0, dm, dp;
        cr_assert_float_eq(fh_eq_envelope(p, 0.0, &d0), 1.0, 1e-15);
        double f1 = fh_eq_envelope(p, 1.0 - 1e-12, &dm);
        cr_assert(fabs(f1) < 1e-13 && fabs(dm) < 1e-9, "p=%d f(1)=%g f'(1)=%g", p, f1, dm);
        /* f'(1-h) = O(h^2) exactly when f'(1) = f''(1) = 0: halving h divides it by 4 */
        fh_eq_envelope(p, 1.0 - 2e-3, &dm);
        fh_eq_envelope(p, 1.0 - 1e-3, &dp);
        cr_assert(fabs(dm / dp - 4.0) < 0.05, "p=%d: f'(1-2h)/f'(1-h) = %g", p, dm / dp);
        double d;
        cr_assert_eq(fh_eq_envelope(p, 1.2, &d), 0.0);
        /* derivative of f against finite differences inside */
        double x = 0.63, fp = fh_eq_envelope(p, x + 1e-6, NULL), fm = fh_eq_envelope(p, x - 1e-6, NULL);
        fh_eq_envelope(p, x, &d);
        cr_assert(fabs(d - (fp - fm) / 2e-6) < 1e-7 * (1 + fabs(d)));
    }
    free(c.r), free(c.g), free(c.R), free(dR), free(gr);
}

/* ---- radial MLP ------------------------------------------------------------------------- */
typedef struct {
    fh_eq_mlp *mlp;
    int rows;
    double *x, *theta, *g, *y;
} mlp_ctx;
static double mlp_loss(void *p)
{
    mlp_ctx *c = p;
    fh_eq_mlp_forward(c->mlp, c->theta, c->rows, c->x, c->y, NULL);
    return eqt_dot(c->g, c->y, (size_t)c->rows * fh_eq_mlp_n_out(c->mlp));
}
Test(eq_grad, radial_mlp)
{
    eqt_seed(13);
    const int sizes[4] = {8, 13, 10, 22};
    fh_err err;
    mlp_ctx c = {.rows = 7};
    c.mlp = fh_eq_mlp_alloc(3, sizes, 16, &err);
    cr_assert_not_null(c.mlp, "%s", err.msg);
    size_t np = fh_eq_mlp_n_params(c.mlp);
    cr_assert_eq(np, (size_t)(8 * 13 + 13 * 10 + 10 * 22));
    c.x = malloc(sizeof(double) * c.rows * 8);
    c.theta = malloc(sizeof(double) * np);
    c.g = malloc(sizeof(double) * c.rows * 22);
    c.y = malloc(sizeof(double) * c.rows * 22);
    double *gx = calloc(c.rows * 8, sizeof(double)), *gt = calloc(np, sizeof(double));
    eqt_fill(c.x, (size_t)c.rows * 8, 1);
    eqt_fill(c.theta, np, 0.4);
    eqt_fill(c.g, (size_t)c.rows * 22, 1);
    cr_assert_eq(fh_eq_mlp_forward(c.mlp, c.theta, c.rows, c.x, c.y, NULL), FH_OK);
    cr_assert_eq(fh_eq_mlp_backward(c.mlp, c.theta, c.g, gx, gt, NULL), FH_OK);
    double ex = eqt_fd_check(mlp_loss, &c, c.x, (size_t)c.rows * 8, gx, H);
    double et = eqt_fd_check(mlp_loss, &c, c.theta, np, gt, H);
    cr_assert(ex < TOL && et < TOL, "MLP gradient: inputs %.3e, weights %.3e", ex, et);
    /* zero input -> zero output (no biases: smooth at the cutoff) */
    memset(c.x, 0, sizeof(double) * c.rows * 8);
    fh_eq_mlp_forward(c.mlp, c.theta, c.rows, c.x, c.y, NULL);
    for (int i = 0; i < c.rows * 22; i++) cr_assert_eq(c.y[i], 0.0);
    cr_assert_eq(fh_eq_mlp_forward(c.mlp, c.theta, 17, c.x, c.y, &err), FH_EINPUT);
    fh_eq_mlp_free(c.mlp);
    free(c.x), free(c.theta), free(c.g), free(c.y), free(gx), free(gt);
}

/* the vectorised silu agrees with the scalar one (values and derivatives, tails included) */
Test(eq_grad, silu_array)
{
    double a[11], ds[11];
    for (int i = 0; i < 11; i++) a[i] = -40.0 + 8.1 * i;
    a[5] = -800.0, a[7] = 750.0;   /* beyond the clamp of the vector exp */
    double ref[11], dref[11];
    for (int i = 0; i < 11; i++) ref[i] = fh_eq_silu(a[i], &dref[i]);
    fh_eq_silu_array(11, a, ds);
    for (int i = 0; i < 11; i++) {
        cr_assert(fabs(a[i] - ref[i]) <= 1e-14 * fabs(ref[i]) + 1e-300, "silu %d: %.17g vs %.17g", i, a[i], ref[i]);
        cr_assert(fabs(ds[i] - dref[i]) <= 1e-13 * fabs(dref[i]) + 1e-300, "silu' %d: %.17g vs %.17g", i, ds[i], dref[i]);
    }
}

/* ---- linear ----------------------------------------------------------------------------- */
typedef struct {
    fh_eq_linear *lin;
    int n, dout, co;
    const int *type;
    double *x, *theta, *g, *y;
} lin_ctx;
static double lin_loss(void *p)
{
    lin_ctx *c = p;
    fh_eq_linear_forward(c->lin, c->theta, c->n, c->type, c->x, c->y);
    return eqt_dot(c->g, c->y, (size_t)c->n * c->dout * c->co);
}
Test(eq_grad, linear)
{
    eqt_seed(14);
    fh_eq_irreps in, out;
    fh_eq_irreps_parse("0e+1o+2e+1e", &in, NULL, NULL);
    fh_eq_irreps_parse("1o+0e+2o+1e", &out, NULL, NULL);
    const int ci = 5, co = 6, n = 4, type[4] = {2, 0, 1, 2};
    for (int nt = 1; nt <= 3; nt += 2) {
        fh_err err;
        lin_ctx c = {.n = n, .dout = fh_eq_irreps_dim(&out), .co = co, .type = nt > 1 ? type : NULL};
        c.lin = fh_eq_linear_alloc(&in, ci, &out, co, nt, 1, &err);
        cr_assert_not_null(c.lin, "%s", err.msg);
        size_t np = fh_eq_linear_n_params(c.lin);
        cr_assert_eq(np, (size_t)nt * (3 * ci * co + co));
        int din = fh_eq_irreps_dim(&in);
        c.x = malloc(sizeof(double) * n * din * ci);
        c.theta = malloc(sizeof(double) * np);
        c.g = malloc(sizeof(double) * n * c.dout * co);
        c.y = malloc(sizeof(double) * n * c.dout * co);
        double *gx = calloc((size_t)n * din * ci, sizeof(double)), *gt = calloc(np, sizeof(double));
        eqt_fill(c.x, (size_t)n * din * ci, 1);
        eqt_fill(c.theta, np, 0.5);
        eqt_fill(c.g, (size_t)n * c.dout * co, 1);
        fh_eq_linear_forward(c.lin, c.theta, n, c.type, c.x, c.y);
        /* the 2o block has no input: exactly zero */
        int o2 = fh_eq_irreps_offset(&out, 2);
        for (int a = 0; a < n; a++)
            for (int i = 0; i < 5 * co; i++) cr_assert_eq(c.y[((long)a * c.dout + o2) * co + i], 0.0);
        fh_eq_linear_backward(c.lin, c.theta, n, c.type, c.x, c.g, gx, gt);
        double ex = eqt_fd_check(lin_loss, &c, c.x, (size_t)n * din * ci, gx, H);
        double et = eqt_fd_check(lin_loss, &c, c.theta, np, gt, H);
        cr_assert(ex < TOL && et < TOL, "linear (%d types) gradient: inputs %.3e, weights %.3e", nt, ex, et);
        /* the float products (mixed-precision inference): within 1e-5 of double, not bitwise;
         * the input gradient accumulates (+=) as in double */
        double *yf = malloc(sizeof(double) * n * c.dout * co), *gxf = malloc(sizeof(double) * n * din * ci);
        for (size_t i = 0; i < (size_t)n * din * ci; i++) gxf[i] = 1.0;
        fh_eq_linear_forward_f(c.lin, c.theta, n, c.type, c.x, yf);
        fh_eq_linear_backward_f(c.lin, c.theta, n, c.type, c.g, gxf);
        for (size_t i = 0; i < (size_t)n * din * ci; i++) gxf[i] -= 1.0;
        double ey = eqt_rel_err(yf, c.y, (size_t)n * c.dout * co), eg = eqt_rel_err(gxf, gx, (size_t)n * din * ci);
        cr_assert(ey < 1e-5 && eg < 1e-5 && ey > 0 && eg > 0,
                  "linear (%d types) in float: output off by %.2e, input gradient by %.2e", nt, ey, eg);
        for (int a = 0; a < n; a++)
            for (int i = 0; i < 5 * co; i++) cr_assert_eq(yf[((long)a * c.dout + o2) * co + i], 0.0);
        free(yf), free(gxf);
        fh_eq_linear_free(c.lin);
        free(c.x), free(c.theta), free(c.g), free(c.y), free(gx), free(gt);
    }
}

/* ---- tensor products -------------------------------------------------------------------- */
typedef struct {
    fh_eq_tp *tp;
    int nn, ne, dout, co;
    int *snd, *rcv;
    double *x, *Y, *R, *theta, *g, *y;
} tp_ctx;
static double tp_loss(void *p)
{
    tp_ctx *c = p;
    cr_assert_eq(fh_eq_tp_forward(c->tp, c->theta, c->nn, c->ne, c->snd, c->rcv, c->x, c->Y, c->R,
                                  c->y, NULL), FH_OK);
    return eqt_dot(c->g, c->y, (size_t)c->nn * c->dout * c->co);
}
static void tp_grad_case(fh_eq_tp_kind kind, int ci, int co, const char *in_s, int lsh)
{
    eqt_seed(15 + kind);
    fh_eq_cg *cg = fh_eq_cg_alloc(4, NULL);
    fh_eq_irreps in, out;
    fh_eq_irreps_parse(in_s, &in, NULL, NULL);
    fh_eq_irreps_tp_reachable(&in, lsh, 3, &out);
    fh_err err;
    tp_ctx c = {.nn = 5, .ne = 11, .co = co};
    c.tp = fh_eq_tp_alloc(cg, kind, &in, ci, lsh, &out, co, c.nn, &err);
    cr_assert_not_null(c.tp, "%s", err.msg);
    int din = fh_eq_irreps_dim(&in), nsh = fh_eq_sph_dim(lsh), nw = fh_eq_tp_n_weights(c.tp);
    size_t np = fh_eq_tp_n_params(c.tp);
    c.dout = fh_eq_irreps_dim(&out);
    c.snd = malloc(sizeof(int) * c.ne), c.rcv = malloc(sizeof(int) * c.ne);
    for (int e = 0; e < c.ne; e++) {
        c.snd[e] = e % c.nn;
        c.rcv[e] = (e * 3 + 1) % c.nn;
    }
    double *vec = malloc(sizeof(double) * 3 * c.ne);
    c.x = malloc(sizeof(double) * c.nn * din * ci);
    c.Y = malloc(sizeof(double) * c.ne * nsh);
    c.R = malloc(sizeof(double) * c.ne * nw);
    c.theta = malloc(sizeof(double) * (np ? np : 1));
    c.g = malloc(sizeof(double) * c.nn * c.dout * co);
    c.y = malloc(sizeof(double) * c.nn * c.dout * co);
    eqt_fill(vec, 3 * c.ne, 1);
    fh_eq_sph(lsh, c.ne, vec, c.Y, NULL);
    eqt_fill(c.x, (size_t)c.nn * din * ci, 1);
    eqt_fill(c.R, (size_t)c.ne * nw, 1);
    eqt_fill(c.theta, np, 0.5);
    eqt_fill(c.g, (size_t)c.nn * c.dout * co, 1);
    double *gx = calloc((size_t)c.nn * din * ci, sizeof(double));
    double *gY = calloc((size_t)c.ne * nsh, sizeof(double)), *gR = calloc((size_t)c.ne * nw, sizeof(double));
    double *gt = calloc(np ? np : 1, sizeof(double));
    tp_loss(&c);
    cr_assert_eq(fh_eq_tp_backward(c.tp, c.theta, c.nn, c.ne, c.snd, c.rcv, c.x, c.Y, c.R, c.g, gx,
                                   gY, gR, gt, NULL), FH_OK);
    double ex = eqt_fd_check(tp_loss, &c, c.x, (size_t)c.nn * din * ci, gx, H);
    double eY = eqt_fd_check(tp_loss, &c, c.Y, (size_t)c.ne * nsh, gY, H);
    double eR = eqt_fd_check(tp_loss, &c, c.R, (size_t)c.ne * nw, gR, H);
    double et = np ? eqt_fd_check(tp_loss, &c, c.theta, np, gt, H) : 0.0;
    cr_assert(ex < TOL && eY < TOL && eR < TOL && et < TOL,
              "tensor product (kind %d) gradient: x %.3e, Y %.3e, R %.3e, theta %.3e", kind, ex, eY, eR, et);
    /* bad edges are reported, not followed */
    c.rcv[3] = c.nn;
    cr_assert_eq(fh_eq_tp_forward(c.tp, c.theta, c.nn, c.ne, c.snd, c.rcv, c.x, c.Y, c.R, c.y, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "edge 3") != NULL, "%s", err.msg);
    fh_eq_tp_free(c.tp);
    fh_eq_cg_free(cg);
    free(c.snd), free(c.rcv), free(vec), free(c.x), free(c.Y), free(c.R), free(c.theta), free(c.g), free(c.y);
    free(gx), free(gY), free(gR), free(gt);
}
Test(eq_grad, tensor_product_channelwise) { tp_grad_case(FH_EQ_TP_CHANNELWISE, 6, 6, "0e+1o+2e", 2); }
/* 21 channels: the 16-wide, 4-wide and scalar parts of the kernels */
Test(eq_grad, tensor_product_channelwise_wide) { tp_grad_case(FH_EQ_TP_CHANNELWISE, 21, 21, "0e+1o", 3); }
Test(eq_grad, tensor_product_full_wide) { tp_grad_case(FH_EQ_TP_FULL, 21, 3, "0e+2e", 2); }
Test(eq_grad, tensor_product_full) { tp_grad_case(FH_EQ_TP_FULL, 5, 7, "0e+1o+1e", 3); }

/* ---- nonlinearities --------------------------------------------------------------------- */
typedef struct {
    fh_eq_irreps ir;
    int c, n, norm;
    double *x, *gate, *theta, *g, *y;
} act_ctx;
static double act_loss(void *p)
{
    act_ctx *c = p;
    if (c->norm) fh_eq_normact_forward(&c->ir, c->c, c->n, c->theta, c->x, c->y);
    else fh_eq_gate_forward(&c->ir, c->c, c->n, c->x, c->gate, c->y);
    return eqt_dot(c->g, c->y, (size_t)c->n * fh_eq_irreps_dim(&c->ir) * c->c);
}
Test(eq_grad, gate_and_norm_nonlinearities)
{
    eqt_seed(17);
    act_ctx c = {.c = 5, .n = 3};
    fh_eq_irreps_parse("0e+1o+0o+2e", &c.ir, NULL, NULL);
    int dim = fh_eq_irreps_dim(&c.ir), ng = fh_eq_gate_n_gates(&c.ir);
    cr_assert_eq(ng, 2);
    size_t nx = (size_t)c.n * dim * c.c, ngt = (size_t)c.n * ng * c.c, nt = (size_t)ng * c.c;
    c.x = malloc(sizeof(double) * nx), c.gate = malloc(sizeof(double) * ngt);
    c.theta = malloc(sizeof(double) * nt), c.g = malloc(sizeof(double) * nx), c.y = malloc(sizeof(double) * nx);
    eqt_fill(c.x, nx, 1), eqt_fill(c.gate, ngt, 1), eqt_fill(c.theta, nt, 1), eqt_fill(c.g, nx, 1);
    for (int norm = 0; norm < 2; norm++) {
        c.norm = norm;
        double *gx = calloc(nx, sizeof(double)), *gg = calloc(ngt, sizeof(double)), *gt = calloc(nt, sizeof(double));
        act_loss(&c);
        if (norm) fh_eq_normact_backward(&c.ir, c.c, c.n, c.theta, c.x, c.g, gx, gt);
        else fh_eq_gate_backward(&c.ir, c.c, c.n, c.x, c.gate, c.g, gx, gg);
        double ex = eqt_fd_check(act_loss, &c, c.x, nx, gx, H);
        double e2 = norm ? eqt_fd_check(act_loss, &c, c.theta, nt, gt, H)
                         : eqt_fd_check(act_loss, &c, c.gate, ngt, gg, H);
        cr_assert(ex < TOL && e2 < TOL, "%s gradient: x %.3e, gates/bias %.3e", norm ? "norm" : "gate", ex, e2);
        free(gx), free(gg), free(gt);
    }
    free(c.x), free(c.gate), free(c.theta), free(c.g), free(c.y);
}

/* ---- fusion block ----------------------------------------------------------------------- */
typedef struct {
    fh_eq_fusion *f;
    int n, dout, c;
    const int *type;
    double *x, *theta, *g, *y;
} fus_ctx;
static double fus_loss(void *p)
{
    fus_ctx *c = p;
    cr_assert_eq(fh_eq_fusion_forward(c->f, c->theta, c->n, c->type, c->x, c->y, NULL), FH_OK);
    return eqt_dot(c->g, c->y, (size_t)c->n * c->dout * c->c);
}
static void fusion_grad_case(fh_eq_tree_kind kind, int nu, const char *in_s, const char *out_s,
                             int c_, int lh, int ntypes)
{
    eqt_seed(18 + nu);
    fh_eq_cg *cg = fh_eq_cg_alloc(4, NULL);
    fh_eq_irreps in, out;
    fh_eq_irreps_parse(in_s, &in, NULL, NULL);
    fh_eq_irreps_parse(out_s, &out, NULL, NULL);
    fh_eq_fusion_tree tree;
    fh_err err;
    cr_assert_eq(fh_eq_fusion_tree_make(kind, nu, &tree, &err), FH_OK);
    const int type[3] = {1, 0, 1};
    fus_ctx c = {.n = 3, .c = c_, .type = ntypes > 1 ? type : NULL};
    c.f = fh_eq_fusion_alloc(cg, &in, c.c, &out, &tree, lh, ntypes, 4, &err);
    cr_assert_not_null(c.f, "%s", err.msg);
    size_t np = fh_eq_fusion_n_params(c.f);
    int din = fh_eq_irreps_dim(&in);
    c.dout = fh_eq_irreps_dim(&out);
    size_t nx = (size_t)c.n * din * c.c, ny = (size_t)c.n * c.dout * c.c;
    c.x = malloc(sizeof(double) * nx), c.theta = malloc(sizeof(double) * np);
    c.g = malloc(sizeof(double) * ny), c.y = malloc(sizeof(double) * ny);
    eqt_fill(c.x, nx, 1), eqt_fill(c.theta, np, 0.5), eqt_fill(c.g, ny, 1);
    double *gx = calloc(nx, sizeof(double)), *gt = calloc(np, sizeof(double));
    fus_loss(&c);
    cr_assert_eq(fh_eq_fusion_backward(c.f, c.theta, c.n, c.type, c.x, c.g, gx, gt, NULL), FH_OK);
    double ex = eqt_fd_check(fus_loss, &c, c.x, nx, gx, H);
    double et = eqt_fd_check(fus_loss, &c, c.theta, np, gt, H);
    char desc[2048];
    fh_eq_fusion_describe(c.f, desc, sizeof desc);
    cr_assert(ex < TOL && et < TOL, "fusion gradient: x %.3e, theta %.3e\n%s", ex, et, desc);
    /* several reverse passes after one forward give the same gradients */
    double *gx2 = calloc(nx, sizeof(double)), *gt2 = calloc(np, sizeof(double));
    memset(gx, 0, sizeof(double) * nx), memset(gt, 0, sizeof(double) * np);
    fus_loss(&c);
    fh_eq_fusion_backward(c.f, c.theta, c.n, c.type, c.x, c.g, gx, gt, NULL);
    fh_eq_fusion_backward(c.f, c.theta, c.n, c.type, c.x, c.g, gx2, gt2, NULL);
    cr_assert(memcmp(gx, gx2, sizeof(double) * nx) == 0 && memcmp(gt, gt2, sizeof(double) * np) == 0);
    free(gx2), free(gt2);
    fh_eq_fusion_free(c.f);
    fh_eq_cg_free(cg);
    free(c.x), free(c.theta), free(c.g), free(c.y), free(gx), free(gt);
}
Test(eq_grad, fusion_chain_nu3) { fusion_grad_case(FH_EQ_TREE_CHAIN, 3, "0e+1o+2e", "0e+1o", 5, 2, 2); }
Test(eq_grad, fusion_balanced_nu4) { fusion_grad_case(FH_EQ_TREE_BALANCED, 4, "0e+1o", "0e+1o+1e", 6, 2, 1); }
/* 21 channels: the 16-wide, 4-wide and scalar parts of the kernels */
Test(eq_grad, fusion_chain_nu3_wide) { fusion_grad_case(FH_EQ_TREE_CHAIN, 3, "0e+1o", "0e+1o", 21, 2, 2); }
Test(eq_grad, fusion_chain_nu2_odd_inputs) { fusion_grad_case(FH_EQ_TREE_CHAIN, 2, "0e+1o+1e+2o", "0e+0o+1o+1e", 4, 3, 1); }
