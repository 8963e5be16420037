/* The two-state diabatic readout. Kernels (fh_model_diab_forward/backward): energies, gradients
 * and the coupling against an independent reference (GSL's symmetric eigensolver on H(x) for
 * explicit smooth diabatic functions, central finite differences of its eigenvalues and
 * eigenvectors), and the backward kernel against central finite differences of a scalar of all
 * outputs. The network with this readout ([model] coupling = diabatic): forces and couplings
 * against finite differences of its own diabatic outputs, invariance and equivariance, the
 * training loss's weight gradient against finite differences, save -> load, and the committee
 * prediction. */
#include <criterion/criterion.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_matrix.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "fh_model.h"
#include "fh_train.h"
#include "test_model_util.h"

#define N3 6

/* H_e(x) = c_e + a_e.x + 1/2 x.B_e.x (B_e symmetric), e = 00, 11, 01: explicit, smooth */
typedef struct {
    double c[3], a[3][N3], B[3][N3][N3];
} diab_fn;

static double rnd(unsigned long *s)
{
    *s = *s * 6364136223846793005UL + 1442695040888963407UL;
    return (double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static void make_fn(diab_fn *f, unsigned long seed, double c00, double c11, double c01)
{
    unsigned long s = seed;
    f->c[0] = c00, f->c[1] = c11, f->c[2] = c01;
    for (int e = 0; e < 3; e++) {
        for (int i = 0; i < N3; i++) f->a[e][i] = 0.1 * rnd(&s);
        for (int i = 0; i < N3; i++)
            for (int j = 0; j <= i; j++) f->B[e][i][j] = f->B[e][j][i] = 0.05 * rnd(&s);
    }
}

static void eval_fn(const diab_fn *f, const double *x, double H[3], double *dH)
{
    for (int e = 0; e < 3; e++) {
        H[e] = f->c[e];
        for (int i = 0; i < N3; i++) {
            double bx = 0;
            for (int j = 0; j < N3; j++) bx += f->B[e][i][j] * x[j];
            H[e] += f->a[e][i] * x[i] + 0.5 * x[i] * bx;
            if (dH) dH[e * N3 + i] = f->a[e][i] + bx;
        }
    }
}

/* eigenvalues (ascending) and eigenvectors (columns) of the 2x2 matrix, by GSL */
static void eig(const double H[3], double E[2], double U[2][2])
{
    gsl_matrix *A = gsl_matrix_alloc(2, 2), *V = gsl_matrix_alloc(2, 2);
    gsl_vector *ev = gsl_vector_alloc(2);
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(2);
    gsl_matrix_set(A, 0, 0, H[0]);
    gsl_matrix_set(A, 1, 1, H[1]);
    gsl_matrix_set(A, 0, 1, H[2]);
    gsl_matrix_set(A, 1, 0, H[2]);
    gsl_eigen_symmv(A, ev, V, ws);
    gsl_eigen_symmv_sort(ev, V, GSL_EIGEN_SORT_VAL_ASC);
    for (int k = 0; k < 2; k++) {
        E[k] = gsl_vector_get(ev, k);
        for (int r = 0; r < 2; r++) U[r][k] = gsl_matrix_get(V, r, k);
    }
    gsl_eigen_symmv_free(ws);
    gsl_vector_free(ev);
    gsl_matrix_free(V);
    gsl_matrix_free(A);
}

static void check_against_eigensolver(double c00, double c11, double c01, unsigned long seed)
{
    diab_fn f;
    make_fn(&f, seed, c00, c11, c01);
    double x[N3], H[3], dH[3 * N3], E[2], g[2 * N3], h[N3], Eref[2], U[2][2];
    unsigned long s = seed + 99;
    for (int i = 0; i < N3; i++) x[i] = 0.3 * rnd(&s);
    eval_fn(&f, x, H, dH);
    fh_model_diab_forward(N3, 0.0, H, dH, E, g, h);
    eig(H, Eref, U);
    cr_assert(fabs(E[0] - Eref[0]) < 1e-13 && fabs(E[1] - Eref[1]) < 1e-13,
              "energies %.15g %.15g vs %.15g %.15g", E[0], E[1], Eref[0], Eref[1]);

    /* gradients: central differences of the eigenvalues; h: (E1 - E0) <u0|d u1/dx_i>, u1 at the
     * displaced points aligned to u1 at x (its sign is arbitrary) */
    const double step = 1e-5;
    double href[N3];
    for (int i = 0; i < N3; i++) {
        double xp[N3], Hp[3], Ep[2], Up[2][2], dE[2] = {0}, du1[2] = {0};
        for (int side = 1; side >= -1; side -= 2) {
            for (int j = 0; j < N3; j++) xp[j] = x[j];
            xp[i] += side * step;
            eval_fn(&f, xp, Hp, NULL);
            eig(Hp, Ep, Up);
            double sgn = Up[0][1] * U[0][1] + Up[1][1] * U[1][1] < 0 ? -1.0 : 1.0;
            for (int k = 0; k < 2; k++) dE[k] += side * Ep[k] / (2 * step);
            for (int r = 0; r < 2; r++) du1[r] += side * sgn * Up[r][1] / (2 * step);
        }
        for (int k = 0; k < 2; k++)
            cr_assert(fabs(g[k * N3 + i] - dE[k]) < 1e-8 * (1 + fabs(dE[k])),
                      "g[%d][%d] %.12g vs finite difference %.12g", k, i, g[k * N3 + i], dE[k]);
        href[i] = (Eref[1] - Eref[0]) * (U[0][0] * du1[0] + U[1][0] * du1[1]);
    }
    /* the same up to the states' signs: one global sign */
    double dot = 0, n2 = 0;
    for (int i = 0; i < N3; i++) dot += h[i] * href[i], n2 += href[i] * href[i];
    double sgn = dot < 0 ? -1.0 : 1.0;
    for (int i = 0; i < N3; i++)
        cr_assert(fabs(h[i] - sgn * href[i]) < 1e-7 * (1 + sqrt(n2)),
                  "h[%d] %.12g vs eigenvector difference %.12g", i, h[i], sgn * href[i]);
}

Test(model_diabatic, forward_matches_eigensolver_far_from_degeneracy)
{
    check_against_eigensolver(-0.2, 0.1, 0.03, 1);
    check_against_eigensolver(0.1, -0.2, -0.05, 2); /* diabatic order reversed */
}

Test(model_diabatic, forward_matches_eigensolver_near_the_cone)
{
    /* gap about 0.004 hartree (0.1 eV) where the coupling is large and turns quickly */
    check_against_eigensolver(0.0, 0.002, 0.001, 3);
}

Test(model_diabatic, coupling_turns_around_the_seam)
{
    /* H00 = -x0, H11 = x0, H01 = x1: a cone at the origin. At radius r and angle phi the gap is
     * 2r, the mixing angle phi/2, d01 = grad(phi/2) = (-sin phi, cos phi)/(2r), so
     * h = d01 * 2r = (-sin phi, cos phi): perpendicular to the radius, turning once around. */
    for (int k = 0; k < 8; k++) {
        double phi = 2 * 3.14159265358979323846 * k / 8, r = 1e-3;
        double H[3] = {-r * cos(phi), r * cos(phi), r * sin(phi)};
        double dH[3 * N3] = {0};
        dH[0] = -1, dH[N3] = 1, dH[2 * N3 + 1] = 1;
        double E[2], h[N3];
        fh_model_diab_forward(N3, 0.0, H, dH, E, NULL, h);
        cr_assert(fabs(E[1] - E[0] - 2 * r) < 1e-15, "gap %.3g, expected %.3g", E[1] - E[0], 2 * r);
        /* grad theta = (-sin phi, cos phi)/(2r); h = grad theta * 2r */
        cr_assert(fabs(h[0] + sin(phi)) < 1e-12 && fabs(h[1] - cos(phi)) < 1e-12,
                  "phi %g: h = (%g, %g), expected (%g, %g)", phi, h[0], h[1], -sin(phi), cos(phi));
    }
}

/* L = gE.E + v.g + gh.h */
static double scalar_of_outputs(double eps, const double H[3], const double *dH, const double gE[2],
                                const double *v, const double *gh)
{
    double E[2], g[2 * N3], h[N3];
    fh_model_diab_forward(N3, eps, H, dH, E, g, h);
    double L = gE[0] * E[0] + gE[1] * E[1];
    for (int i = 0; i < 2 * N3; i++) L += v[i] * g[i];
    for (int i = 0; i < N3; i++) L += gh[i] * h[i];
    return L;
}

Test(model_diabatic, backward_matches_finite_differences)
{
    unsigned long s = 7;
    double dH[3 * N3], v[2 * N3], gh[N3], gE[2] = {rnd(&s), rnd(&s)};
    for (int i = 0; i < 3 * N3; i++) dH[i] = rnd(&s);
    for (int i = 0; i < 2 * N3; i++) v[i] = rnd(&s);
    for (int i = 0; i < N3; i++) gh[i] = rnd(&s);
    /* far from the cone, near it, and at its apex with the guard (eps 1e-3: there D = eps) */
    const double cases[4][4] = {{-0.2, 0.1, 0.03, 0.0}, {0.0, 0.002, -0.001, 0.0},
                                {0.0, 0.002, -0.001, 1e-3}, {0.01, 0.01, 0.0, 1e-3}};
    for (int c = 0; c < 4; c++) {
        double H[3] = {cases[c][0], cases[c][1], cases[c][2]}, eps = cases[c][3], gH[3], wdH[3 * N3];
        fh_model_diab_backward(N3, eps, H, dH, gE, v, gh, gH, wdH);
        double scale = c == 0 ? 1e-5 : 1e-7; /* steps well inside the gap */
        for (int e = 0; e < 3; e++) {
            double Hp[3] = {H[0], H[1], H[2]}, Hm[3] = {H[0], H[1], H[2]};
            Hp[e] += scale, Hm[e] -= scale;
            double fd = (scalar_of_outputs(eps, Hp, dH, gE, v, gh) -
                         scalar_of_outputs(eps, Hm, dH, gE, v, gh)) / (2 * scale);
            cr_assert(fabs(gH[e] - fd) < 1e-6 * (1 + fabs(fd)), "case %d dL/dH[%d] %.12g vs %.12g",
                      c, e, gH[e], fd);
        }
        for (int i = 0; i < 3 * N3; i++) {
            double dp[3 * N3], dm[3 * N3];
            for (int j = 0; j < 3 * N3; j++) dp[j] = dm[j] = dH[j];
            dp[i] += 1e-4, dm[i] -= 1e-4;
            double fd = (scalar_of_outputs(eps, H, dp, gE, v, gh) -
                         scalar_of_outputs(eps, H, dm, gE, v, gh)) / 2e-4;
            cr_assert(fabs(wdH[i] - fd) < 1e-9 * (1 + fabs(fd)), "case %d dL/d(dH)[%d] %.12g vs %.12g",
                      c, i, wdH[i], fd);
        }
        /* optional outputs: without v and gh only the energies' adjoint remains */
        double gH2[3];
        fh_model_diab_backward(N3, eps, H, dH, gE, NULL, NULL, gH2, NULL);
        double D = sqrt(0.25 * (H[1] - H[0]) * (H[1] - H[0]) + H[2] * H[2] + eps * eps);
        double u = 0.5 * (H[1] - H[0]) / D, w = H[2] / D, gD = gE[1] - gE[0];
        cr_assert(fabs(gH2[0] - 0.5 * (gE[0] + gE[1] - gD * u)) < 1e-12 &&
                  fabs(gH2[1] - 0.5 * (gE[0] + gE[1] + gD * u)) < 1e-12 &&
                  fabs(gH2[2] - gD * w) < 1e-12, "energy-only adjoint");
    }
}

Test(model_diabatic, guard_keeps_the_gap_and_the_coupling_bounded)
{
    /* at the apex of the cone the gap is 2 eps and h is 0; a few eps away both are as without it */
    double dH[3 * N3] = {0}, E[2], h[N3], E0[2], h0[N3];
    dH[0] = -1, dH[N3] = 1, dH[2 * N3 + 1] = 1;
    const double apex[3] = {0.3, 0.3, 0.0}, eps = 1e-3;
    fh_model_diab_forward(N3, eps, apex, dH, E, NULL, h);
    cr_assert(fabs(E[1] - E[0] - 2 * eps) < 1e-15 && fabs(h[0]) + fabs(h[1]) < 1e-15);
    const double far[3] = {0.3 - 0.1, 0.3 + 0.1, 0.05};
    fh_model_diab_forward(N3, eps, far, dH, E, NULL, h);
    fh_model_diab_forward(N3, 0.0, far, dH, E0, NULL, h0);
    cr_assert(fabs((E[1] - E[0]) - (E0[1] - E0[0])) < 1e-4 * (E0[1] - E0[0]) &&
              tm_max_rel(h, h0, N3) < 1e-4, "the guard must not matter far from the apex");
}

/* ---- the network with the diabatic readout ---------------------------------------------------- */

#define NAT 6
static const int Z6[NAT] = {6, 6, 1, 1, 8, 1};

typedef struct {
    fh_model *m;
    fh_model_ws *ws;
    double *theta;
    int type[NAT];
    double x[3 * NAT];
    size_t head0;   /* the first weight of the last head added (0: none) */
} net;

/* flags: NET_EVEN with the even head (an unflipped part of H01), NET_RESID with the residual
 * coupling head, NET_RESID_EVEN with its even part too (nac_resid = 2), their weights set at
 * random (they start at zero) */
enum { NET_EVEN = 1, NET_RESID = 2, NET_RESID_EVEN = 4 };
/* Add a head with set at level (it starts at zero), then give its weights random values. */
static void add_random_head(fh_model *m, int members, uint64_t seed,
                            int (*set)(fh_model *, int, fh_err *), int level, const char *what)
{
    fh_err err = {0};
    size_t old = fh_model_n_params(m);
    cr_assert_eq(set(m, level, &err), FH_OK, "%s", err.msg);
    size_t np = fh_model_n_params(m);
    cr_assert(np > old, "the %s head added no weights", what);
    tm_seed(seed);
    for (int k = 0; k < members; k++)
        for (size_t i = old; i < np; i++) fh_model_params(m, k)[i] = 0.3 * tm_normal();
}

static void net_setup(net *c, int members, uint64_t seed, int flags)
{
    fh_err err = {0};
    c->m = tm_small_model_kind(2, 1, members, seed, &err);
    cr_assert_not_null(c->m, "%s", err.msg);
    const unsigned char flip[NAT] = {0, 1, 0, 1, 0, 1};
    cr_assert_eq(fh_model_set_nac_flip(c->m, NAT, flip, &err), FH_OK, "%s", err.msg);
    c->head0 = 0;
    if (flags & NET_EVEN) {
        c->head0 = fh_model_n_params(c->m);
        add_random_head(c->m, members, seed + 3, fh_model_set_nac_even, 1, "even");
    }
    if (flags & NET_RESID) {
        c->head0 = fh_model_n_params(c->m);
        add_random_head(c->m, members, seed + 4, fh_model_set_nac_resid, 1, "residual");
    }
    if (flags & NET_RESID_EVEN) {
        c->head0 = fh_model_n_params(c->m);
        add_random_head(c->m, members, seed + 6, fh_model_set_nac_resid, 2, "even residual");
    }
    cr_assert_eq(fh_model_n_outputs(c->m), 3);
    c->ws = fh_model_ws_alloc(c->m, &err);
    cr_assert_not_null(c->ws, "%s", err.msg);
    c->theta = fh_model_params(c->m, 0);
    cr_assert_eq(fh_model_types(c->m, NAT, Z6, c->type, &err), FH_OK);
    tm_seed(seed + 5);
    tm_molecule(NAT, 4.5, 1.6, c->x);
}

static void net_free(net *c)
{
    fh_model_ws_free(c->ws);
    fh_model_free(c->m);
}

/* A new workspace after a head was added (the parameter count changed); theta is member 0's. */
static void net_rebuild(net *c)
{
    fh_err err = {0};
    fh_model_ws_free(c->ws);
    c->ws = fh_model_ws_alloc(c->m, &err);
    cr_assert_not_null(c->ws, "%s", err.msg);
    c->theta = fh_model_params(c->m, 0);
}

/* Atoms C C H H O O with atom 2k+1 at minus atom 2k (random from seed): symmetric under the swap
 * of the flipped and unflipped atoms (atom a <-> a ^ 1) combined with the inversion. */
static void net_symmetric_geometry(net *c, uint64_t seed, double x[3 * NAT])
{
    fh_err err = {0};
    static const int Zs[NAT] = {6, 6, 1, 1, 8, 8};
    cr_assert_eq(fh_model_types(c->m, NAT, Zs, c->type, &err), FH_OK, "%s", err.msg);
    tm_seed(seed);
    for (int a = 0; a < NAT; a += 2)
        for (int k = 0; k < 3; k++) x[3 * a + k] = 1.2 * (a / 2 + 1) * (tm_uniform() - 0.5) + (k == a / 2 ? 1.4 : 0);
    for (int a = 1; a < NAT; a += 2)
        for (int k = 0; k < 3; k++) x[3 * a + k] = -x[3 * (a - 1) + k];
}

/* the diabatic elements at x by a plain forward pass */
static void net_H(net *c, const double *x, double H[3])
{
    fh_err err = {0};
    cr_assert_eq(fh_model_forward(c->ws, c->m, c->theta, NAT, c->type, x, 0, H, NULL, &err), FH_OK,
                 "%s", err.msg);
}

/* energies, both states' gradients and h of member 0 at x */
static void net_eval(net *c, const double *x, double E[2], double *g, double *h)
{
    fh_err err = {0};
    cr_assert_eq(fh_model_member_eval(c->ws, c->m, c->theta, NAT, c->type, x, 3u, E, g, h, NULL,
                                      NULL, &err), FH_OK, "%s", err.msg);
}

static void check_net_fd(int flags)
{
    net c;
    net_setup(&c, 1, 11, flags);
    fh_err err = {0};
    const int n3 = 3 * NAT;
    double E[2], g[2 * 3 * NAT], h[3 * NAT], H[3], dH[3 * 3 * NAT];
    cr_assert_eq(fh_model_member_eval(c.ws, c.m, c.theta, NAT, c.type, c.x, 3u, E, g, h, H, dH,
                                      &err), FH_OK, "%s", err.msg);
    const double eps = fh_model_get_hyper(c.m)->nac_gap_eps;
    double delta = 0.5 * (H[1] - H[0]), D = sqrt(delta * delta + H[2] * H[2] + eps * eps);
    cr_assert(fabs(H[2]) > 0.05 * D && fabs(delta) > 0.05 * D,
              "both the diagonal split and H01 must matter here (H = %g %g %g)", H[0], H[1], H[2]);
    cr_assert(fabs(E[0] - (0.5 * (H[0] + H[1]) - D)) < 1e-12 && E[1] > E[0]);
    /* references: central differences of the eigenvalues (with the guard: a -+ sqrt(Delta^2 +
     * H01^2 + eps^2)) and of the mixing angle theta = atan2(H01, Delta)/2 (d01 = grad theta;
     * h = 2 D0^2/D grad theta, D0 the unguarded half gap, = 2 D grad theta without the guard) */
    double gfd[2 * 3 * NAT], hfd[3 * NAT], dHfd[3 * 3 * NAT];
    const double step = 1e-5;
    for (int i = 0; i < n3; i++) {
        double xp[3 * NAT], Hs[2][3], Es[2][2], th[2];
        for (int side = 0; side < 2; side++) {
            memcpy(xp, c.x, sizeof xp);
            xp[i] += side ? -step : step;
            net_H(&c, xp, Hs[side]);
            double dl = 0.5 * (Hs[side][1] - Hs[side][0]);
            double Ds = sqrt(dl * dl + Hs[side][2] * Hs[side][2] + eps * eps);
            Es[side][0] = 0.5 * (Hs[side][0] + Hs[side][1]) - Ds;
            Es[side][1] = 0.5 * (Hs[side][0] + Hs[side][1]) + Ds;
            th[side] = 0.5 * atan2(Hs[side][2], dl);
        }
        for (int s = 0; s < 2; s++) gfd[s * n3 + i] = (Es[0][s] - Es[1][s]) / (2 * step);
        for (int e = 0; e < 3; e++) dHfd[e * n3 + i] = (Hs[0][e] - Hs[1][e]) / (2 * step);
        hfd[i] = 2 * (D * D - eps * eps) / D * (th[0] - th[1]) / (2 * step);
    }
    if (flags & (NET_RESID | NET_RESID_EVEN)) {
        /* plus the residual head's q (the forward's 1o output) times 2D / G_r */
        double Hq[3], q[3 * NAT], big = 0, hmax = 0;
        cr_assert_eq(fh_model_forward(c.ws, c.m, c.theta, NAT, c.type, c.x, 0, Hq, q, &err), FH_OK);
        for (int i = 0; i < n3; i++) {
            double r = 2 * D / FH_MODEL_RESID_GAP * q[i];
            if (fabs(r) > big) big = fabs(r);
            if (fabs(hfd[i]) > hmax) hmax = fabs(hfd[i]);
            hfd[i] += r;
        }
        cr_assert(big > 0.05 * hmax, "the residual must matter here (%.3e vs %.3e)", big, hmax);
    }
    /* h sums to zero over the atoms (translation invariance; with the residual head by its
     * projection) */
    for (int k = 0; k < 3; k++) {
        double sum = 0, nrm = 0;
        for (int a = 0; a < NAT; a++) sum += h[3 * a + k], nrm += fabs(h[3 * a + k]);
        cr_assert(fabs(sum) < 1e-12 * nrm, "h sums to %.3e (component %d)", sum, k);
    }
    double eg = tm_max_rel(g, gfd, 2 * n3), eh = tm_max_rel(h, hfd, n3), ed = tm_max_rel(dH, dHfd, 3 * n3);
    cr_assert(eg < 1e-7, "state gradients vs finite differences: %.3e", eg);
    cr_assert(ed < 1e-7, "diabatic gradients vs finite differences: %.3e", ed);
    cr_assert(eh < 1e-7, "coupling h vs finite differences of the mixing angle: %.3e", eh);
    /* fewer outputs (one reverse pass per output, seeded through the mixing angle, instead of one
     * per diabatic element): the same numbers to rounding, other rows untouched */
    for (int s = 0; s < 2; s++) {
        double g1[2 * 3 * NAT], E1[2], h1[3 * NAT];
        for (int i = 0; i < 2 * n3; i++) g1[i] = 7.0;
        cr_assert_eq(fh_model_member_eval(c.ws, c.m, c.theta, NAT, c.type, c.x, 1u << s, E1, g1, h1,
                                          NULL, NULL, &err), FH_OK);
        cr_assert(tm_max_rel(g1 + s * n3, g + s * n3, n3) < 1e-13 && tm_max_rel(h1, h, n3) < 1e-13,
                  "state %d: seeded passes differ from the element-wise ones", s);
        cr_assert(g1[(1 - s) * n3] == 7.0 && fabs(E1[0] - E[0]) < 1e-15 * fabs(E[0]));
        cr_assert_eq(fh_model_member_eval(c.ws, c.m, c.theta, NAT, c.type, c.x, 1u << s, E1, g1, NULL,
                                          NULL, NULL, &err), FH_OK);
        cr_assert(tm_max_rel(g1 + s * n3, g + s * n3, n3) < 1e-13);
    }
    net_free(&c);
}

Test(model_diabatic, network_forces_and_coupling_match_finite_differences) { check_net_fd(0); }
Test(model_diabatic, network_forces_and_coupling_match_finite_differences_even_head)
{
    check_net_fd(NET_EVEN);
}
Test(model_diabatic, network_forces_and_coupling_match_finite_differences_residual_head)
{
    check_net_fd(NET_EVEN | NET_RESID);
}
Test(model_diabatic, network_forces_and_coupling_match_finite_differences_even_residual)
{
    check_net_fd(NET_EVEN | NET_RESID | NET_RESID_EVEN);
}

static void check_net_equivariance(int flags)
{
    net c;
    net_setup(&c, 1, 12, flags);
    const int n3 = 3 * NAT;
    double E[2], g[2 * 3 * NAT], h[3 * NAT];
    net_eval(&c, c.x, E, g, h);
    for (int inv = 0; inv < 2; inv++) {
        double Q[9], xr[3 * NAT], Er[2], gr[2 * 3 * NAT], hr[3 * NAT], gq[2 * 3 * NAT], hq[3 * NAT];
        tm_seed(70 + inv);
        tm_rotation(Q, inv);
        tm_apply(Q, NAT, c.x, xr);
        for (int a = 0; a < NAT; a++)
            for (int k = 0; k < 3; k++) xr[3 * a + k] += 0.7 * (k + 1); /* and a translation */
        net_eval(&c, xr, Er, gr, hr);
        tm_apply(Q, 2 * NAT, g, gq);
        tm_apply(Q, NAT, h, hq);
        cr_assert(fabs(Er[0] - E[0]) < 1e-12 * fabs(E[0]) && fabs(Er[1] - E[1]) < 1e-12 * fabs(E[1]),
                  "energies not invariant (inversion %d): %.3e", inv, Er[0] - E[0]);
        double eg = tm_max_rel(gr, gq, 2 * n3), eh = tm_max_rel(hr, hq, n3);
        cr_assert(eg < 1e-10 && eh < 1e-10, "inversion %d: gradients %.3e, couplings %.3e", inv, eg, eh);
    }
    net_free(&c);
}

Test(model_diabatic, network_invariance_and_equivariance) { check_net_equivariance(0); }
Test(model_diabatic, network_invariance_and_equivariance_even_head) { check_net_equivariance(NET_EVEN); }
Test(model_diabatic, network_invariance_and_equivariance_residual_head)
{
    check_net_equivariance(NET_RESID);
}
Test(model_diabatic, network_invariance_and_equivariance_even_residual)
{
    check_net_equivariance(NET_RESID | NET_RESID_EVEN);
}

static void check_loss_gradient(int flags)
{
    net c;
    net_setup(&c, 1, 13, flags);
    fh_err err = {0};
    const int n3 = 3 * NAT;
    double E0[2], g0[2 * 3 * NAT], h0[3 * NAT];
    net_eval(&c, c.x, E0, g0, h0);
    /* labels near the model's own values; state 1's gradient missing */
    double El[2], Gl[2 * 3 * NAT], Hl[3 * NAT];
    tm_seed(31);
    for (int k = 0; k < 2; k++) El[k] = E0[k] + 0.05 * tm_normal();
    for (int i = 0; i < 2 * n3; i++) Gl[i] = g0[i] + 0.1 * tm_normal();
    for (int i = 0; i < n3; i++) Hl[i] = -0.7 * h0[i] + 0.05 * tm_normal(); /* other sign pattern */
    unsigned char hasE[2] = {1, 1}, hasG[2] = {1, 0}, hasH[1] = {1};
    fh_train_sample s = {NAT, c.type, c.x, El, hasE, Gl, hasG, Hl, hasH};
    fh_train_loss_cfg cfg = fh_train_loss_cfg_default();
    cfg.w_energy = 2.0, cfg.w_force = 3.0, cfg.w_nac = 5.0;
    cfg.force_hvp = FH_TRAIN_HVP_CENTRAL;
    size_t np = fh_model_n_params(c.m);
    double *gt = calloc(np, sizeof(double));
    fh_train_terms t = {0};
    cr_assert_eq(fh_train_sample_loss(c.ws, c.m, c.theta, &s, &cfg, gt, &t, &err), FH_OK, "%s", err.msg);
    cr_assert(t.l_energy > 0 && t.l_force > 0 && t.l_nac > 0, "every term must be active");
    tm_seed(99);
    double an[200], fd[200];
    for (int q = 0; q < 200; q++) {
        /* the last 40 from the last head added, which a uniform draw might miss */
        size_t i = q >= 160 && c.head0 ? c.head0 + (size_t)(tm_uniform() * (np - c.head0))
                                       : (size_t)(tm_uniform() * np);
        double keep = c.theta[i], st = 1e-6, L[2];
        for (int side = 0; side < 2; side++) {
            c.theta[i] = keep + (side ? -st : st);
            fh_train_terms ts = {0};
            cr_assert_eq(fh_train_sample_loss(c.ws, c.m, c.theta, &s, &cfg, NULL, &ts, &err), FH_OK);
            L[side] = ts.loss;
        }
        c.theta[i] = keep;
        fd[q] = (L[0] - L[1]) / (2 * st);
        an[q] = gt[i];
    }
    double e = tm_max_rel(an, fd, 200);
    cr_assert(e < 1e-6, "diabatic loss gradient vs finite differences %.3e", e);
    free(gt);
    net_free(&c);
}

Test(model_diabatic, training_loss_gradient_matches_finite_differences) { check_loss_gradient(0); }
Test(model_diabatic, training_loss_gradient_matches_finite_differences_even_head)
{
    check_loss_gradient(NET_EVEN);
}
Test(model_diabatic, training_loss_gradient_matches_finite_differences_residual_head)
{
    check_loss_gradient(NET_EVEN | NET_RESID);
}
Test(model_diabatic, training_loss_gradient_matches_finite_differences_even_residual)
{
    check_loss_gradient(NET_EVEN | NET_RESID | NET_RESID_EVEN);
}

/* The even head on a geometry symmetric under the swap of the flipped and unflipped atoms (atom
 * 2k+1 at minus atom 2k, like elements): without it H01 is odd under the swap, so zero there, and
 * the states cross wherever H00 = H11; adding it changes nothing (zero weights); trained (set at
 * random) it gives an unflipped, even part of H01 that is not zero there (a coupling of two states
 * of the same symmetry); on a swapped geometry that part keeps its sign while the odd part turns
 * (save and load with the head: save_load_and_committee_prediction). */
Test(model_diabatic, even_head_gives_an_even_h01)
{
    net c;
    net_setup(&c, 1, 15, 0);
    fh_err err = {0};
    double x[3 * NAT];
    net_symmetric_geometry(&c, 41, x);
    double H0[3], H1[3], H2[3];
    net_H(&c, x, H0);
    double scale = fabs(H0[0]) + fabs(H0[1]);
    cr_assert(fabs(H0[2]) < 1e-13 * scale, "without the head H01 = %.3e at a symmetric geometry", H0[2]);
    size_t old = fh_model_n_params(c.m);
    cr_assert_eq(fh_model_set_nac_even(c.m, 1, &err), FH_OK, "%s", err.msg);
    net_rebuild(&c);
    net_H(&c, x, H1);
    cr_assert(memcmp(H0, H1, sizeof H0) == 0, "a freshly added head changed the diabatic elements");
    size_t np = fh_model_n_params(c.m);
    for (size_t i = old; i < np; i++) c.theta[i] = 0.3 * tm_normal();
    net_H(&c, x, H2);
    cr_assert(H2[0] == H0[0] && H2[1] == H0[1], "the head changed H00 or H11");
    cr_assert(fabs(H2[2]) > 1e-4, "the even head gives no H01 at a symmetric geometry (%.3e)", H2[2]);
    /* a swapped copy of the geometry (atom order 1,0,3,2,5,4): the same even part, an odd part of
     * the opposite sign, so H01 changes; without the flips both would be the same */
    double xs[3 * NAT], xs0[3 * NAT], Hs[3], Ha[3], Hb[3];
    for (int a = 0; a < NAT; a++)
        for (int k = 0; k < 3; k++) xs0[3 * a + k] = x[3 * a + k] + 0.2 * (tm_uniform() - 0.5);
    for (int a = 0; a < NAT; a++)
        for (int k = 0; k < 3; k++) xs[3 * a + k] = xs0[3 * (a ^ 1) + k];
    net_H(&c, xs0, Ha);
    net_H(&c, xs, Hs);
    for (size_t i = old; i < np; i++) c.theta[i] = 0.0;
    net_H(&c, xs0, Hb);   /* the odd part alone */
    cr_assert(fabs(Hs[0] - Ha[0]) < 1e-12 * scale && fabs(Hs[1] - Ha[1]) < 1e-12 * scale);
    double even_part = Ha[2] - Hb[2];
    cr_assert(fabs(Hs[2] - (even_part - Hb[2])) < 1e-12 * scale,
              "H01 of the swapped geometry %.15g, expected even %.15g minus odd %.15g", Hs[2],
              even_part, Hb[2]);
    net_free(&c);
}

/* The residual head's even part at a geometry symmetric under the swap of the flipped and
 * unflipped atoms (atom a <-> a ^ 1 with x_(a^1) = -x_a, as in the test above): the flipped head
 * alone gives q_(a^1) = q_a (odd under the swap: inversion turns the vectors), the even part
 * q_(a^1) = -q_a. Stilbene's twisted S1 well needs the latter (fh_model.h). */
Test(model_diabatic, even_residual_gives_an_even_coupling)
{
    net c;
    net_setup(&c, 1, 17, NET_RESID);
    fh_err err = {0};
    double x[3 * NAT];
    net_symmetric_geometry(&c, 43, x);
    double H[3], q1[3 * NAT], q2[3 * NAT], q3[3 * NAT], big = 0;
    cr_assert_eq(fh_model_forward(c.ws, c.m, c.theta, NAT, c.type, x, 0, H, q1, &err), FH_OK, "%s", err.msg);
    for (int i = 0; i < 3 * NAT; i++) big = fmax(big, fabs(q1[i]));
    cr_assert(big > 1e-3, "the flipped residual head gives nothing here (%.3e)", big);
    for (int a = 0; a < NAT; a++)
        for (int k = 0; k < 3; k++)
            cr_assert(fabs(q1[3 * (a ^ 1) + k] - q1[3 * a + k]) < 1e-12 * big,
                      "flipped head: atom %d, component %d: %.3e vs %.3e", a, k, q1[3 * (a ^ 1) + k],
                      q1[3 * a + k]);
    /* raise to the even part: nothing changes until its weights do */
    size_t old = fh_model_n_params(c.m);
    cr_assert_eq(fh_model_set_nac_resid(c.m, 2, &err), FH_OK, "%s", err.msg);
    cr_assert_neq(fh_model_set_nac_resid(c.m, 1, &err), FH_OK, "lowering the level must fail");
    cr_assert_eq(fh_model_get_hyper(c.m)->nac_resid, 2);
    net_rebuild(&c);
    cr_assert_eq(fh_model_forward(c.ws, c.m, c.theta, NAT, c.type, x, 0, H, q2, &err), FH_OK);
    cr_assert(memcmp(q1, q2, sizeof q1) == 0, "a freshly added even part changed q");
    size_t np = fh_model_n_params(c.m);
    cr_assert(np > old, "the even part added no weights");
    tm_seed(8);
    for (size_t i = old; i < np; i++) c.theta[i] = 0.3 * tm_normal();
    cr_assert_eq(fh_model_forward(c.ws, c.m, c.theta, NAT, c.type, x, 0, H, q3, &err), FH_OK);
    double even_big = 0;
    for (int i = 0; i < 3 * NAT; i++) even_big = fmax(even_big, fabs(q3[i] - q1[i]));
    cr_assert(even_big > 1e-3, "the even part gives nothing at a symmetric geometry (%.3e)", even_big);
    for (int a = 0; a < NAT; a++)
        for (int k = 0; k < 3; k++) {
            double e_a = q3[3 * a + k] - q1[3 * a + k], e_b = q3[3 * (a ^ 1) + k] - q1[3 * (a ^ 1) + k];
            cr_assert(fabs(e_b + e_a) < 1e-12 * even_big, "even part: atom %d, component %d: %.3e vs %.3e",
                      a, k, e_b, e_a);
        }
    net_free(&c);
}

Test(model_diabatic, save_load_and_committee_prediction)
{
    net c;
    net_setup(&c, 2, 14, NET_EVEN | NET_RESID | NET_RESID_EVEN);
    fh_err err = {0};
    const int n3 = 3 * NAT;
    char path[1024];
    snprintf(path, sizeof path, "%s/test_model_diabatic_%d.h5", FH_TEST_BINARY_DIR, (int)getpid());
    cr_assert_eq(fh_model_save(c.m, path, &err), FH_OK, "%s", err.msg);
    fh_model *l = NULL;
    cr_assert_eq(fh_model_load(path, &l, &err), FH_OK, "%s", err.msg);
    unlink(path);
    cr_assert_eq(fh_model_get_hyper(l)->diabatic, 1);
    cr_assert_eq(fh_model_get_hyper(l)->nac_resid, 2);
    cr_assert_eq(memcmp(fh_model_get_hyper(l), fh_model_get_hyper(c.m), sizeof(fh_model_hyper)), 0);
    /* the radial MLPs evaluated, as by fh_model_member_eval below (tables: test_model_radial_table) */
    fh_model_set_exact_radial(c.m, 1);
    fh_model_set_exact_radial(l, 1);
    double E[2], sd[2], G[2 * 3 * NAT], nac[3 * NAT], E2[2], sd2[2], G2[2 * 3 * NAT], nac2[3 * NAT];
    fh_model_request rq = {.grad_mask = 3u, .want_nac = 1, .energy = E, .grad = G, .nac = nac,
                           .energy_std = sd};
    fh_model_request rq2 = {.grad_mask = 3u, .want_nac = 1, .energy = E2, .grad = G2, .nac = nac2,
                            .energy_std = sd2};
    cr_assert_eq(fh_model_predict(c.m, NAT, Z6, c.x, &rq, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(fh_model_predict(l, NAT, Z6, c.x, &rq2, &err), FH_OK, "%s", err.msg);
    cr_assert(memcmp(E, E2, sizeof E) == 0 && memcmp(G, G2, sizeof G) == 0 &&
              memcmp(nac, nac2, sizeof nac) == 0, "predictions differ after save/load");
    /* the committee: mean energies and gradients of the members; the NAC is the mean h, each
     * member's aligned to member 0's sign, over the mean gap */
    double Em[2][2], gm[2][2 * 3 * NAT], hm[2][3 * NAT];
    for (int k = 0; k < 2; k++)
        cr_assert_eq(fh_model_member_eval(c.ws, c.m, fh_model_params(c.m, k), NAT, c.type, c.x, 3u,
                                          Em[k], gm[k], hm[k], NULL, NULL, &err), FH_OK);
    double dot = 0;
    for (int i = 0; i < n3; i++) dot += hm[0][i] * hm[1][i];
    double sg = dot < 0 ? -1.0 : 1.0, gap = E[1] - E[0];
    for (int s = 0; s < 2; s++) {
        cr_assert(fabs(E[s] - 0.5 * (Em[0][s] + Em[1][s])) < 1e-12 * fabs(E[s]));
        cr_assert(fabs(sd[s] - 0.5 * fabs(Em[0][s] - Em[1][s])) < 1e-9, "spread of state %d", s);
    }
    double gmean[2 * 3 * NAT], nref[3 * NAT];
    for (int i = 0; i < 2 * n3; i++) gmean[i] = 0.5 * (gm[0][i] + gm[1][i]);
    for (int i = 0; i < n3; i++)
        nref[i] = 0.5 * (hm[0][i] + sg * hm[1][i]) * fh_model_nac_factor(gap, fh_model_get_hyper(c.m)->nac_gap_eps);
    cr_assert(tm_max_rel(G, gmean, 2 * n3) < 1e-12 && tm_max_rel(nac, nref, n3) < 1e-12);
    fh_model_free(l);
    net_free(&c);
}

/* The residual kernel's backward against central differences of S = sum gh . h_resid(H, q) over
 * H and q, near and far from the seam. */
Test(model_diabatic, residual_kernel_backward_matches_finite_differences)
{
    const double Hs[2][3] = {{-0.3, -0.1, 0.04}, {0.2, 0.2005, -0.0007}};
    unsigned long sd = 7;
    for (int c = 0; c < 2; c++) {
        double q[N3], gh[N3], H[3], gH[3] = {0}, gq[N3];
        for (int i = 0; i < N3; i++) q[i] = rnd(&sd), gh[i] = rnd(&sd);
        memcpy(H, Hs[c], sizeof H);
        fh_model_diab_resid_backward(N3, 1e-4, H, q, gh, gH, gq);
        const double st = 1e-7;
        for (int e = 0; e < 3 + N3; e++) {
            double S[2];
            for (int side = 0; side < 2; side++) {
                double Hp[3], qp[N3], h[N3] = {0};
                memcpy(Hp, H, sizeof Hp), memcpy(qp, q, sizeof qp);
                double *x = e < 3 ? &Hp[e] : &qp[e - 3];
                *x += side ? -st : st;
                fh_model_diab_resid_forward(N3, 1e-4, Hp, qp, h);
                S[side] = 0;
                for (int i = 0; i < N3; i++) S[side] += gh[i] * h[i];
            }
            double fd = (S[0] - S[1]) / (2 * st), an = e < 3 ? gH[e] : gq[e - 3];
            cr_assert(fabs(fd - an) < 1e-7 * (1 + fabs(fd)), "case %d, input %d: %.10g vs %.10g", c,
                      e, an, fd);
        }
    }
}

/* Adding the residual head keeps every prediction (zero weights); trained (set at random) it
 * changes the coupling only: energies and forces do not depend on it. */
Test(model_diabatic, residual_head_changes_only_the_coupling)
{
    net c;
    net_setup(&c, 1, 16, NET_EVEN);
    fh_err err = {0};
    const int n3 = 3 * NAT;
    double E0[2], g0[2 * 3 * NAT], h0[3 * NAT], E1[2], g1[2 * 3 * NAT], h1[3 * NAT];
    net_eval(&c, c.x, E0, g0, h0);
    size_t old = fh_model_n_params(c.m);
    cr_assert_eq(fh_model_set_nac_resid(c.m, 1, &err), FH_OK, "%s", err.msg);
    cr_assert_neq(fh_model_set_nac_resid(c.m, 0, &err), FH_OK, "removing the head must fail");
    net_rebuild(&c);
    net_eval(&c, c.x, E1, g1, h1);
    cr_assert(memcmp(E0, E1, sizeof E0) == 0 && memcmp(g0, g1, sizeof g0) == 0 &&
              memcmp(h0, h1, sizeof h0) == 0, "a freshly added residual head changed predictions");
    size_t np = fh_model_n_params(c.m);
    tm_seed(5);
    for (size_t i = old; i < np; i++) c.theta[i] = 0.3 * tm_normal();
    net_eval(&c, c.x, E1, g1, h1);
    cr_assert(memcmp(E0, E1, sizeof E0) == 0 && memcmp(g0, g1, sizeof g0) == 0,
              "the residual head changed energies or forces");
    cr_assert(tm_max_rel(h1, h0, n3) > 1e-3, "the residual head did not change the coupling");
    net_free(&c);
}
