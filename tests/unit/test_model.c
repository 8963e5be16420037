/* The multi-state network: position and weight gradients of the reverse pass against central
 * finite differences; invariance of energies and equivariance of gradients and couplings under
 * rotations with inversion, translations and permutations of like atoms; smoothness at the
 * cutoff; committee means, spread and sign alignment; the degeneracy guard; bad input. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

#include "fh_model.h"
#include "test_model_util.h"

#define NAT 6
static const int Z6[NAT] = {6, 6, 1, 1, 8, 1};

typedef struct {
    fh_model *m;
    fh_model_ws *ws;
    double *theta;
    int type[NAT];
    double x[3 * NAT];
    int N, P;
} ctx;

static void setup(ctx *c, int nstates, uint64_t seed)
{
    fh_err err = {0};
    c->m = tm_small_model(nstates, 1, seed, &err);
    cr_assert_not_null(c->m, "%s", err.msg);
    c->ws = fh_model_ws_alloc(c->m, &err);
    cr_assert_not_null(c->ws, "%s", err.msg);
    c->theta = fh_model_params(c->m, 0);
    cr_assert_eq(fh_model_types(c->m, NAT, Z6, c->type, &err), FH_OK, "%s", err.msg);
    tm_seed(seed);
    tm_molecule(NAT, 5.0, 1.6, c->x);
    c->N = nstates, c->P = nstates * (nstates - 1) / 2;
}

/* The same with the even coupling head (fh_model.h), its weights set at random (they start at
 * zero) so that both heads are exercised. */
static void setup_even(ctx *c, int nstates, uint64_t seed)
{
    fh_err err = {0};
    setup(c, nstates, seed);
    size_t old = fh_model_n_params(c->m);
    cr_assert_eq(fh_model_set_nac_even(c->m, 1, &err), FH_OK, "%s", err.msg);
    fh_model_ws_free(c->ws);
    c->ws = fh_model_ws_alloc(c->m, &err);
    cr_assert_not_null(c->ws, "%s", err.msg);
    c->theta = fh_model_params(c->m, 0);
    size_t np = fh_model_n_params(c->m);
    cr_assert(np > old, "the even head added no weights");
    for (size_t i = old; i < np; i++) c->theta[i] = 0.3 * tm_normal();
}

static void teardown(ctx *c)
{
    fh_model_ws_free(c->ws);
    fh_model_free(c->m);
}

/* Energies and couplings at positions x. */
static void eval(ctx *c, const double *x, double *E, double *h, int flags)
{
    fh_err err = {0};
    int rc = fh_model_forward(c->ws, c->m, c->theta, NAT, c->type, x, flags, E, h, &err);
    cr_assert_eq(rc, FH_OK, "%s", err.msg);
}

/* The scalar sum gE.E + gH.h. */
static double scalar(ctx *c, const double *x, const double *gE, const double *gH)
{
    double E[FH_MODEL_MAX_STATES], h[3 * 3 * NAT];
    eval(c, x, E, h, 0);
    double s = 0;
    for (int k = 0; k < c->N; k++) s += gE[k] * E[k];
    for (int k = 0; k < c->P * 3 * NAT; k++) s += gH[k] * h[k];
    return s;
}

static void check_position_gradients(int even)
{
    ctx c;
    if (even) setup_even(&c, 3, 11);
    else setup(&c, 3, 11);
    fh_err err = {0};
    double E[3], h[3 * 3 * NAT];
    /* each state separately, then a random combination of energies and couplings */
    for (int s = 0; s <= c.N; s++) {
        double gE[3] = {0}, gH[3 * 3 * NAT] = {0};
        if (s < c.N) gE[s] = 1.0;
        else {
            for (int k = 0; k < 3; k++) gE[k] = tm_normal();
            for (int k = 0; k < c.P * 3 * NAT; k++) gH[k] = tm_normal();
        }
        eval(&c, c.x, E, h, FH_MODEL_TANGENTS);
        double g[3 * NAT] = {0}, fd[3 * NAT];
        cr_assert_eq(fh_model_backward(c.ws, c.m, c.theta, gE, s < c.N ? NULL : gH, g, NULL, &err),
                     FH_OK, "%s", err.msg);
        const double step = 1e-5;
        for (int i = 0; i < 3 * NAT; i++) {
            double xp[3 * NAT];
            memcpy(xp, c.x, sizeof xp);
            xp[i] += step;
            double up = scalar(&c, xp, gE, gH);
            xp[i] -= 2 * step;
            double dn = scalar(&c, xp, gE, gH);
            fd[i] = (up - dn) / (2 * step);
        }
        double e = tm_max_rel(g, fd, 3 * NAT);
        cr_assert(e < 1e-6, "case %d: position gradient vs finite differences: %.3e", s, e);
        double nrm = 0;
        for (int i = 0; i < 3 * NAT; i++) nrm += fd[i] * fd[i];
        cr_assert(nrm > 1e-8, "gradient too small to be a real check");
    }
    teardown(&c);
}
Test(model, position_gradients_match_finite_differences) { check_position_gradients(0); }
Test(model, position_gradients_match_finite_differences_even_head) { check_position_gradients(1); }

static void check_weight_gradients(int even)
{
    ctx c;
    if (even) setup_even(&c, 3, 12);
    else setup(&c, 3, 12);
    fh_err err = {0};
    size_t np = fh_model_n_params(c.m);
    double gE[3], gH[3 * 3 * NAT], E[3], h[3 * 3 * NAT];
    for (int k = 0; k < 3; k++) gE[k] = tm_normal();
    for (int k = 0; k < c.P * 3 * NAT; k++) gH[k] = tm_normal();
    eval(&c, c.x, E, h, 0);
    double *gt = calloc(np, sizeof(double));
    cr_assert_eq(fh_model_backward(c.ws, c.m, c.theta, gE, gH, NULL, gt, &err), FH_OK, "%s", err.msg);
    /* every parameter would be slow in a sanitizer build: a fixed random sample of 300 (plus the
     * first and last) covers every segment of the layout */
    int nchk = 302;
    double *an = malloc(sizeof(double) * nchk), *fd = malloc(sizeof(double) * nchk);
    const double step = 1e-6;
    for (int q = 0; q < nchk; q++) {
        size_t i = q == 0 ? 0 : q == 1 ? np - 1 : (size_t)(tm_uniform() * np);
        double keep = c.theta[i];
        c.theta[i] = keep + step;
        double up = scalar(&c, c.x, gE, gH);
        c.theta[i] = keep - step;
        double dn = scalar(&c, c.x, gE, gH);
        c.theta[i] = keep;
        fd[q] = (up - dn) / (2 * step);
        an[q] = gt[i];
    }
    double e = tm_max_rel(an, fd, nchk);
    cr_assert(e < 1e-6, "weight gradient vs finite differences: %.3e (of %zu parameters)", e, np);
    free(an), free(fd), free(gt);
    teardown(&c);
}
Test(model, weight_gradients_match_finite_differences) { check_weight_gradients(0); }
Test(model, weight_gradients_match_finite_differences_even_head) { check_weight_gradients(1); }

/* Energies, gradients of all states and couplings at x. */
static void full(ctx *c, const double *x, const int *type, double *E, double *G, double *h)
{
    fh_err err = {0};
    cr_assert_eq(fh_model_forward(c->ws, c->m, c->theta, NAT, type, x, FH_MODEL_TANGENTS, E, h, &err),
                 FH_OK, "%s", err.msg);
    for (int s = 0; s < c->N; s++) {
        double gE[FH_MODEL_MAX_STATES] = {0};
        gE[s] = 1;
        memset(G + 3 * NAT * s, 0, sizeof(double) * 3 * NAT);
        cr_assert_eq(fh_model_backward(c->ws, c->m, c->theta, gE, NULL, G + 3 * NAT * s, NULL, &err),
                     FH_OK, "%s", err.msg);
    }
}

static void check_equivariance(int even)
{
    ctx c;
    if (even) setup_even(&c, 3, 13);
    else setup(&c, 3, 13);
    double E[3], G[3 * 3 * NAT], h[3 * 3 * NAT];
    full(&c, c.x, c.type, E, G, h);
    for (int trial = 0; trial < 4; trial++) {
        /* rotation, with inversion in odd trials, plus a translation */
        double Q[9], xr[3 * NAT], E2[3], G2[3 * 3 * NAT], h2[3 * 3 * NAT], Gq[3 * 3 * NAT], hq[3 * 3 * NAT];
        tm_rotation(Q, trial % 2);
        tm_apply(Q, NAT, c.x, xr);
        double shift[3] = {3 * tm_normal(), 3 * tm_normal(), 3 * tm_normal()};
        for (int a = 0; a < NAT; a++)
            for (int k = 0; k < 3; k++) xr[3 * a + k] += shift[k];
        full(&c, xr, c.type, E2, G2, h2);
        tm_apply(Q, c.N * NAT, G, Gq);
        tm_apply(Q, c.P * NAT, h, hq);
        double eE = tm_max_rel(E2, E, 3), eG = tm_max_rel(G2, Gq, 3 * 3 * NAT);
        double eh = tm_max_rel(h2, hq, 3 * 3 * NAT);
        cr_assert(eE < 1e-10 && eG < 1e-10 && eh < 1e-10,
                  "trial %d (inversion %d): energies %.2e, gradients %.2e, couplings %.2e", trial,
                  trial % 2, eE, eG, eh);
    }
    /* permutation of like atoms: swap the two carbons and two of the hydrogens */
    int perm[NAT] = {1, 0, 5, 3, 4, 2};
    double xp[3 * NAT], E3[3], G3[3 * 3 * NAT], h3[3 * 3 * NAT];
    int tp[NAT];
    for (int a = 0; a < NAT; a++) {
        memcpy(xp + 3 * a, c.x + 3 * perm[a], sizeof(double) * 3);
        tp[a] = c.type[perm[a]];
    }
    full(&c, xp, tp, E3, G3, h3);
    double Gp[3 * 3 * NAT], hp[3 * 3 * NAT];
    for (int s = 0; s < 3; s++)
        for (int a = 0; a < NAT; a++) {
            memcpy(Gp + 3 * (NAT * s + a), G + 3 * (NAT * s + perm[a]), sizeof(double) * 3);
            memcpy(hp + 3 * (NAT * s + a), h + 3 * (NAT * s + perm[a]), sizeof(double) * 3);
        }
    double eE = tm_max_rel(E3, E, 3), eG = tm_max_rel(G3, Gp, 3 * 3 * NAT), eh = tm_max_rel(h3, hp, 3 * 3 * NAT);
    cr_assert(eE < 1e-12 && eG < 1e-12 && eh < 1e-12, "permutation: %.2e %.2e %.2e", eE, eG, eh);
    teardown(&c);
}
Test(model, invariance_and_equivariance) { check_equivariance(0); }
Test(model, invariance_and_equivariance_even_head) { check_equivariance(1); }

/* Coupling sign flips (fh_model.h): a molecule symmetric under inversion, whose atom pairs (a,
 * a+3) are swapped by it. Unflipped, the couplings share the geometry's symmetry (h_a+3 = -h_a);
 * with atoms 4-6 flipped they are antisymmetric under it (h_a+3 = +h_a), the symmetry of
 * stilbene's S0-S1 coupling. Energies do not change; the reverse pass takes the same signs. */
Test(model, coupling_sign_flips)
{
    ctx c;
    setup(&c, 2, 16);
    fh_err err = {0};
    const int z[NAT] = {6, 1, 8, 6, 1, 8};
    int type[NAT];
    cr_assert_eq(fh_model_types(c.m, NAT, z, type, &err), FH_OK, "%s", err.msg);
    double x[3 * NAT];
    tm_molecule(3, 3.0, 1.6, x);
    for (int a = 0; a < 3; a++) x[3 * a] += 2.5;   /* away from the centre of inversion */
    for (int k = 0; k < 9; k++) x[9 + k] = -x[k];
    double E0[2], E1[2], h0[3 * NAT], h1[3 * NAT];
    cr_assert_eq(fh_model_forward(c.ws, c.m, c.theta, NAT, type, x, 0, E0, h0, &err), FH_OK, "%s",
                 err.msg);
    double g0[4096] = {0}, g1[4096] = {0}, seed[3 * NAT], seedf[3 * NAT];
    size_t np = fh_model_n_params(c.m);
    cr_assert(np <= 4096);
    for (int k = 0; k < 3 * NAT; k++) seed[k] = tm_normal(), seedf[k] = k >= 9 ? -seed[k] : seed[k];
    cr_assert_eq(fh_model_backward(c.ws, c.m, c.theta, NULL, seedf, NULL, g0, &err), FH_OK);
    const unsigned char flip[NAT] = {0, 0, 0, 1, 1, 1};
    cr_assert_eq(fh_model_set_nac_flip(c.m, NAT, flip, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(fh_model_forward(c.ws, c.m, c.theta, NAT, type, x, 0, E1, h1, &err), FH_OK, "%s",
                 err.msg);
    cr_assert_eq(fh_model_backward(c.ws, c.m, c.theta, NULL, seed, NULL, g1, &err), FH_OK);
    double norm = 0, sym0 = 0, sym1 = 0, dflip = 0;
    for (int k = 0; k < 9; k++) {
        norm = fmax(norm, fabs(h0[k]));
        sym0 = fmax(sym0, fabs(h0[9 + k] + h0[k]));
        sym1 = fmax(sym1, fabs(h1[9 + k] - h1[k]));
        dflip = fmax(dflip, fabs(h1[k] - h0[k]) + fabs(h1[9 + k] + h0[9 + k]));
    }
    cr_assert(norm > 1e-3, "couplings vanish (%.2e): nothing tested", norm);
    cr_assert(sym0 < 1e-12 * norm && sym1 < 1e-12 * norm && dflip == 0,
              "unflipped h_a+3 + h_a %.2e, flipped h_a+3 - h_a %.2e, flip mismatch %.2e", sym0,
              sym1, dflip);
    cr_assert(E0[0] == E1[0] && E0[1] == E1[1], "the flips changed the energies");
    cr_assert(tm_max_rel(g1, g0, (int)np) < 1e-14, "reverse pass: flipped seed != flipped output");
    /* the flips tie the model to the molecule's atom count */
    cr_assert_eq(fh_model_forward(c.ws, c.m, c.theta, NAT - 1, type, x, 0, E1, h1, &err),
                 FH_EINPUT);
    cr_assert(strstr(err.msg, "for a molecule of 6 atoms, not 5") != NULL, "%s", err.msg);
    const unsigned char bad[NAT] = {0, 0, 0, 1, 1, 2};
    cr_assert_eq(fh_model_set_nac_flip(c.m, NAT, bad, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "nac_flip of atom 6 is 2") != NULL, "%s", err.msg);
    teardown(&c);
}

/* The even head (fh_model.h) on the inversion-symmetric molecule of the test above, atoms 4-6
 * flipped: added to a model it changes nothing (its weights start at zero); trained (here: set at
 * random) its part of h is the unflipped, even one (w_a+3 = -w_a) while the flipped head's part
 * stays odd, so h itself is neither: the flipped head alone could not give such couplings. */
Test(model, even_coupling_head)
{
    ctx c;
    setup(&c, 2, 17);
    fh_err err = {0};
    const int z[NAT] = {6, 1, 8, 6, 1, 8};
    int type[NAT];
    cr_assert_eq(fh_model_types(c.m, NAT, z, type, &err), FH_OK, "%s", err.msg);
    double x[3 * NAT];
    tm_molecule(3, 3.0, 1.6, x);
    for (int a = 0; a < 3; a++) x[3 * a] += 2.5;
    for (int k = 0; k < 9; k++) x[9 + k] = -x[k];
    const unsigned char flip[NAT] = {0, 0, 0, 1, 1, 1};
    cr_assert_eq(fh_model_set_nac_flip(c.m, NAT, flip, &err), FH_OK, "%s", err.msg);
    double E0[2], E1[2], h0[3 * NAT], h1[3 * NAT];
    cr_assert_eq(fh_model_forward(c.ws, c.m, c.theta, NAT, type, x, 0, E0, h0, &err), FH_OK, "%s",
                 err.msg);
    size_t old = fh_model_n_params(c.m);
    double *keep = malloc(sizeof(double) * old);
    memcpy(keep, c.theta, sizeof(double) * old);
    cr_assert_eq(fh_model_set_nac_even(c.m, 1, &err), FH_OK, "%s", err.msg);
    cr_assert(fh_model_get_hyper(c.m)->nac_even == 1);
    fh_model_ws_free(c.ws);
    c.ws = fh_model_ws_alloc(c.m, &err);
    cr_assert_not_null(c.ws, "%s", err.msg);
    c.theta = fh_model_params(c.m, 0);
    size_t np = fh_model_n_params(c.m);
    cr_assert(np > old && memcmp(keep, c.theta, sizeof(double) * old) == 0,
              "adding the head moved the other weights");
    cr_assert_eq(fh_model_forward(c.ws, c.m, c.theta, NAT, type, x, 0, E1, h1, &err), FH_OK);
    cr_assert(memcmp(E0, E1, sizeof E0) == 0 && memcmp(h0, h1, sizeof h0) == 0,
              "a freshly added head changed the predictions");
    for (size_t i = old; i < np; i++) c.theta[i] = 0.3 * tm_normal();
    cr_assert_eq(fh_model_forward(c.ws, c.m, c.theta, NAT, type, x, 0, E1, h1, &err), FH_OK);
    cr_assert(memcmp(E0, E1, sizeof E0) == 0, "the coupling head changed the energies");
    double norm = 0, odd = 0, even = 0, mixed = 0;
    for (int k = 0; k < 9; k++) {
        double w = h1[k] - h0[k], w3 = h1[9 + k] - h0[9 + k];   /* the even head's part */
        norm = fmax(norm, fabs(w));
        even = fmax(even, fabs(w3 + w));
        odd = fmax(odd, fabs(h0[9 + k] - h0[k]));
        mixed = fmax(mixed, fabs(h1[9 + k] - h1[k]));
    }
    cr_assert(norm > 1e-3, "the even head gives nothing (%.2e)", norm);
    cr_assert(even < 1e-12 * norm && odd < 1e-12 * norm,
              "even part w_a+3 + w_a %.2e, odd part h_a+3 - h_a %.2e (of %.2e)", even, odd, norm);
    cr_assert(mixed > 1e-3, "h with both heads is still odd (%.2e)", mixed);
    /* removing a trained head is refused; a one-state model has no coupling to give it (the
     * diabatic readout's even head: test_model_diabatic.c) */
    cr_assert_eq(fh_model_set_nac_even(c.m, 0, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "even coupling head") != NULL, "%s", err.msg);
    fh_model *d = tm_small_model_kind(1, 0, 1, 3, &err);
    cr_assert_not_null(d, "%s", err.msg);
    cr_assert_eq(fh_model_set_nac_even(d, 1, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "needs 2 or more states") != NULL, "%s", err.msg);
    fh_model_free(d);
    free(keep);
    teardown(&c);
}

Test(model, smooth_at_the_cutoff)
{
    ctx c;
    setup(&c, 2, 14);
    /* two far groups; move atom 5 along x across the cutoff distance from atom 4 */
    double x[3 * NAT] = {0, 0, 0, 2.5, 0, 0, 0, 2.0, 0, 2.5, 2.0, 0, 30, 0, 0, 0, 0, 0};
    double rc = fh_model_get_hyper(c.m)->r_cut, E1[2], E2[2];
    x[15] = 30 + rc - 1e-5;
    eval(&c, x, E1, NULL, 0);
    x[15] = 30 + rc + 1e-5;
    eval(&c, x, E2, NULL, 0);
    cr_assert(fabs(E1[0] - E2[0]) < 1e-12 && fabs(E1[1] - E2[1]) < 1e-12,
              "energy jumps at the cutoff: %.3e", fabs(E1[0] - E2[0]));
    x[15] = 30 + rc - 0.5;
    eval(&c, x, E1, NULL, 0);
    cr_assert(fabs(E1[0] - E2[0]) > 1e-9, "the pair inside the cutoff must matter");
    teardown(&c);
}

/* Independent reference for the committee: members evaluated one by one. */
Test(model, committee_mean_spread_and_sign_alignment)
{
    fh_err err = {0};
    const int K = 3, N = 3, P = 3;
    fh_model *m = tm_small_model(N, K, 21, &err);
    cr_assert_not_null(m, "%s", err.msg);
    fh_model_set_exact_radial(m, 1);   /* as the members below (tables: test_model_radial_table) */
    fh_model_ws *ws = fh_model_ws_alloc(m, &err);
    double x[3 * NAT];
    tm_seed(5);
    tm_molecule(NAT, 5.0, 1.6, x);
    int type[NAT];
    fh_model_types(m, NAT, Z6, type, &err);
    double Ek[3][3], Gk[3][3 * NAT], hk[3][P * 3 * NAT];
    for (int k = 0; k < K; k++) {
        const double *th = fh_model_params(m, k);
        cr_assert_eq(fh_model_forward(ws, m, th, NAT, type, x, FH_MODEL_TANGENTS, Ek[k], hk[k], &err), FH_OK);
        double gE[3] = {0, 1, 0};
        memset(Gk[k], 0, sizeof Gk[k]);
        cr_assert_eq(fh_model_backward(ws, m, th, gE, NULL, Gk[k], NULL, &err), FH_OK);
    }
    double E[3], sd[3], G[3 * 3 * NAT], nac[P * 3 * NAT], hc[P * 3 * NAT];
    for (int i = 0; i < 3 * 3 * NAT; i++) G[i] = 777;
    fh_model_request rq = {.grad_mask = 2u, .want_nac = 1, .energy = E, .grad = G, .nac = nac,
                           .hcoup = hc, .energy_std = sd};
    cr_assert_eq(fh_model_predict(m, NAT, Z6, x, &rq, &err), FH_OK, "%s", err.msg);
    for (int s = 0; s < N; s++) {
        double mean = (Ek[0][s] + Ek[1][s] + Ek[2][s]) / 3, var = 0;
        for (int k = 0; k < K; k++) var += (Ek[k][s] - mean) * (Ek[k][s] - mean);
        cr_assert(fabs(E[s] - mean) < 1e-12 * fabs(mean) + 1e-14);
        cr_assert(fabs(sd[s] - sqrt(var / 3)) < 1e-10 * sqrt(var / 3) + 1e-14);
        cr_assert(sd[s] > 0);
    }
    for (int i = 0; i < 3 * NAT; i++) {
        cr_assert(fabs(G[3 * NAT + i] - (Gk[0][i] + Gk[1][i] + Gk[2][i]) / 3) < 1e-12);
        cr_assert(G[i] == 777 && G[6 * NAT + i] == 777, "unrequested gradient rows must be untouched");
    }
    /* sign alignment, by brute force over the patterns of states 1 and 2 */
    double href[P * 3 * NAT];
    memcpy(href, hk[0], sizeof href);
    for (int k = 1; k < K; k++) {
        double best = -INFINITY;
        int bs1 = 1, bs2 = 1;
        for (int s1 = -1; s1 <= 1; s1 += 2)
            for (int s2 = -1; s2 <= 1; s2 += 2) {
                double sg[3] = {s1, s2, s1 * s2}, v = 0;   /* pairs (0,1), (0,2), (1,2) */
                for (int p = 0; p < P; p++)
                    for (int i = 0; i < 3 * NAT; i++) v += sg[p] * hk[k][p * 3 * NAT + i] * hk[0][p * 3 * NAT + i];
                if (v > best) best = v, bs1 = s1, bs2 = s2;
            }
        double sg[3] = {bs1, bs2, bs1 * bs2};
        for (int p = 0; p < P; p++)
            for (int i = 0; i < 3 * NAT; i++) href[p * 3 * NAT + i] += sg[p] * hk[k][p * 3 * NAT + i];
    }
    int pi[3] = {0, 0, 1}, pj[3] = {1, 2, 2};
    for (int p = 0; p < P; p++) {
        double gap = E[pj[p]] - E[pi[p]], eps = fh_model_get_hyper(m)->nac_gap_eps;
        for (int i = 0; i < 3 * NAT; i++) {
            double hr = href[p * 3 * NAT + i] / 3;
            cr_assert(fabs(hc[p * 3 * NAT + i] - hr) < 1e-12 * (1 + fabs(hr)));
            cr_assert(fabs(nac[p * 3 * NAT + i] - hr * gap / (gap * gap + eps * eps)) < 1e-9 * (1 + fabs(hr / gap)));
        }
    }
    fh_model_ws_free(ws);
    fh_model_free(m);
}

Test(model, degeneracy_guard)
{
    double eps = 1e-3;
    cr_assert(fabs(fh_model_nac_factor(0.1, eps) * 0.1 - 1) < 1e-4);
    cr_assert(fabs(fh_model_nac_factor(-0.2, eps) * -0.2 - 1) < 1e-4);
    cr_assert_eq(fh_model_nac_factor(0.0, eps), 0.0);
    for (int k = -1000; k <= 1000; k++) {
        double g = k * 1e-5, f = fh_model_nac_factor(g, eps);
        cr_assert(isfinite(f) && fabs(f) <= 1.0 / (2 * eps) * (1 + 1e-12));
    }
}

Test(model, bad_input_is_reported)
{
    ctx c;
    setup(&c, 2, 15);
    fh_err err = {0};
    int z[NAT] = {6, 6, 1, 1, 17, 1}, type[NAT];
    cr_assert_eq(fh_model_types(c.m, NAT, z, type, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "atom 5 is Cl") != NULL, "%s", err.msg);
    double x[3 * NAT];
    memcpy(x, c.x, sizeof x);
    memcpy(x + 9, x + 3, 3 * sizeof(double));
    double E[2];
    cr_assert_eq(fh_model_forward(c.ws, c.m, c.theta, NAT, c.type, x, 0, E, NULL, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "coincide") != NULL, "%s", err.msg);
    fh_model_hyper h = *fh_model_get_hyper(c.m);
    snprintf(h.hidden_irreps, sizeof h.hidden_irreps, "0e+2e");
    cr_assert_eq(fh_model_hyper_check(&h, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "lack 1o") != NULL, "%s", err.msg);
    h = *fh_model_get_hyper(c.m);
    h.elements[1] = 1;
    cr_assert_eq(fh_model_hyper_check(&h, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "ascending") != NULL, "%s", err.msg);
    double g[3 * NAT];
    cr_assert_eq(fh_model_forward(c.ws, c.m, c.theta, NAT, c.type, c.x, 0, E, NULL, &err), FH_OK);
    cr_assert_eq(fh_model_backward(c.ws, c.m, c.theta, E, NULL, g, NULL, &err), FH_EFAIL,
                 "position gradients without tangents must be refused");
    teardown(&c);
}

/* A forward at the geometry of the previous one reuses its pairs and edge features (the committee
 * members of one prediction): whatever came before (another geometry, no tangents, other types,
 * other weights), the results are bitwise those of a fresh workspace. */
Test(model, same_geometry_reuses_edge_features)
{
    ctx c, f;
    setup(&c, 2, 16);
    setup(&f, 2, 16);   /* the same model and molecule; f->ws is used once per comparison */
    const size_t n3 = 3 * NAT;
    double E[2], G[2 * 3 * NAT], h[3 * NAT], E0[2], G0[2 * 3 * NAT], h0[3 * NAT];
    double xo[3 * NAT];
    for (size_t k = 0; k < n3; k++) xo[k] = c.x[k] + 0.05 * tm_normal();
    int types2[NAT];
    memcpy(types2, c.type, sizeof types2);
    int t = types2[0];
    types2[0] = types2[4], types2[4] = t;   /* C <-> O: same positions, other elements */
    for (int trial = 0; trial < 4; trial++) {
        const int *ty = trial == 2 ? types2 : c.type;
        if (trial == 0) eval(&c, c.x, E, h, 0);                  /* no tangents at this geometry */
        if (trial == 1) full(&c, xo, c.type, E, G, h);           /* another geometry */
        if (trial == 2) full(&c, c.x, c.type, E, G, h);          /* other types next */
        if (trial == 3) {                                        /* other weights next */
            full(&c, c.x, c.type, E, G, h);
            for (size_t i = 0; i < fh_model_n_params(c.m); i += 7) c.theta[i] *= 1.01;
        }
        full(&c, c.x, ty, E, G, h);
        fh_err err = {0};
        fh_model_ws_free(f.ws);
        f.ws = fh_model_ws_alloc(f.m, &err);
        cr_assert_not_null(f.ws, "%s", err.msg);
        if (trial == 3) memcpy(f.theta, c.theta, sizeof(double) * fh_model_n_params(c.m));
        full(&f, c.x, ty, E0, G0, h0);
        cr_assert(!memcmp(E, E0, sizeof E) && !memcmp(G, G0, sizeof G) && !memcmp(h, h0, sizeof h),
                  "trial %d: reused edge features give other results", trial);
    }
    teardown(&c);
    teardown(&f);
}
