/* The training loss: its weight gradient (with the force term's mixed second derivatives from a
 * finite-difference Hessian-vector product) against central finite differences of the loss
 * itself, for the central and the one-sided product, with some labels missing; the coupling
 * term's independence of the reference's wavefunction signs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

#include "fh_train.h"
#include "test_model_util.h"

#define NAT 5
#define NS 3
#define NP 3
static const int Z5[NAT] = {6, 8, 1, 1, 1};

typedef struct {
    fh_model *m;
    fh_model_ws *ws;
    double *theta;
    int type[NAT];
    double x[3 * NAT], E[NS], G[NS * 3 * NAT], H[NP * 3 * NAT];
    unsigned char hasE[NS], hasG[NS], hasH[NP];
    fh_train_sample s;
    fh_train_loss_cfg cfg;
} ctx;

static void setup(ctx *c, uint64_t seed)
{
    fh_err err = {0};
    memset(c, 0, sizeof *c);
    c->m = tm_small_model(NS, 1, seed, &err);
    cr_assert_not_null(c->m, "%s", err.msg);
    c->ws = fh_model_ws_alloc(c->m, &err);
    c->theta = fh_model_params(c->m, 0);
    fh_model_types(c->m, NAT, Z5, c->type, &err);
    tm_seed(seed);
    tm_molecule(NAT, 4.5, 1.6, c->x);
    /* labels: near the model's own values, so that the loss is in a realistic regime */
    double E0[NS], h0[NP * 3 * NAT];
    cr_assert_eq(fh_model_forward(c->ws, c->m, c->theta, NAT, c->type, c->x, 0, E0, h0, &err), FH_OK);
    for (int k = 0; k < NS; k++) c->E[k] = E0[k] + 0.05 * tm_normal();
    for (int i = 0; i < NS * 3 * NAT; i++) c->G[i] = 0.1 * tm_normal();
    for (int i = 0; i < NP * 3 * NAT; i++) c->H[i] = 0.5 * h0[i] + 0.05 * tm_normal();
    c->hasE[0] = 1, c->hasE[1] = 0, c->hasE[2] = 1;     /* state 1's energy missing */
    c->hasG[0] = 1, c->hasG[1] = 1, c->hasG[2] = 0;     /* state 2's gradient missing */
    c->hasH[0] = 1, c->hasH[1] = 0, c->hasH[2] = 1;     /* pair (0,2) missing */
    c->s = (fh_train_sample){NAT, c->type, c->x, c->E, c->hasE, c->G, c->hasG, c->H, c->hasH};
    c->cfg = fh_train_loss_cfg_default();
    c->cfg.w_energy = 2.0, c->cfg.w_force = 3.0, c->cfg.w_nac = 5.0, c->cfg.w_gap = 400.0;
}

static double loss(ctx *c)
{
    fh_err err = {0};
    fh_train_terms t = {0};
    cr_assert_eq(fh_train_sample_loss(c->ws, c->m, c->theta, &c->s, &c->cfg, NULL, &t, &err), FH_OK,
                 "%s", err.msg);
    return t.loss;
}

/* Relative error of the analytic gradient on a fixed sample of weights; also returns how much
 * of the gradient's norm (on that sample) comes from the force term. */
static double check(ctx *c, int hvp, double *force_share)
{
    fh_err err = {0};
    size_t np = fh_model_n_params(c->m);
    c->cfg.force_hvp = hvp;
    double *g = calloc(np, sizeof(double)), *gnf = calloc(np, sizeof(double));
    fh_train_terms t = {0};
    cr_assert_eq(fh_train_sample_loss(c->ws, c->m, c->theta, &c->s, &c->cfg, g, &t, &err), FH_OK);
    cr_assert(t.l_energy > 0 && t.l_force > 0 && t.l_nac > 0, "every term must be active");
    double wg = c->cfg.w_gap;
    c->cfg.w_gap = 0;
    fh_train_terms t0 = {0};
    cr_assert_eq(fh_train_sample_loss(c->ws, c->m, c->theta, &c->s, &c->cfg, NULL, &t0, &err), FH_OK);
    c->cfg.w_gap = wg;
    cr_assert(t.l_energy > 1.05 * t0.l_energy, "the gap term (states 0 and 2) must count: %.4e vs "
              "%.4e", t.l_energy, t0.l_energy);
    double wf = c->cfg.w_force;
    c->cfg.w_force = 0;
    cr_assert_eq(fh_train_sample_loss(c->ws, c->m, c->theta, &c->s, &c->cfg, gnf, NULL, &err), FH_OK);
    c->cfg.w_force = wf;
    tm_seed(99);
    int n = 200;
    double *an = malloc(sizeof(double) * n), *fd = malloc(sizeof(double) * n), num = 0, den = 0;
    for (int q = 0; q < n; q++) {
        size_t i = (size_t)(tm_uniform() * np);
        double keep = c->theta[i], step = 1e-6;
        c->theta[i] = keep + step;
        double up = loss(c);
        c->theta[i] = keep - step;
        double dn = loss(c);
        c->theta[i] = keep;
        fd[q] = (up - dn) / (2 * step);
        an[q] = g[i];
        num += (g[i] - gnf[i]) * (g[i] - gnf[i]);
        den += g[i] * g[i];
    }
    *force_share = sqrt(num / den);
    double e = tm_max_rel(an, fd, n);
    free(an), free(fd), free(g), free(gnf);
    return e;
}

Test(train_loss, gradient_matches_finite_differences_central)
{
    ctx c;
    setup(&c, 41);
    double share, e = check(&c, FH_TRAIN_HVP_CENTRAL, &share);
    cr_assert(share > 0.05, "the force term must carry a real part of the gradient (%.3f)", share);
    cr_assert(e < 1e-6, "central HVP: loss gradient vs finite differences %.3e", e);
    fh_model_ws_free(c.ws);
    fh_model_free(c.m);
}

Test(train_loss, gradient_matches_finite_differences_one_sided)
{
    ctx c;
    setup(&c, 42);
    double share, e = check(&c, FH_TRAIN_HVP_FORWARD, &share);
    cr_assert(share > 0.05, "the force term must carry a real part of the gradient (%.3f)", share);
    cr_assert(e < 1e-4, "one-sided HVP: loss gradient vs finite differences %.3e", e);
    fh_model_ws_free(c.ws);
    fh_model_free(c.m);
}

/* Huber energy and force terms: the loss is below the squared one (rho(d) <= d^2, so some errors
 * lie beyond the thresholds) and its gradient still matches finite differences. */
Test(train_loss, huber_terms_match_finite_differences)
{
    ctx c;
    setup(&c, 44);
    double l2 = loss(&c);
    c.cfg.huber_e = 0.02, c.cfg.huber_f = 0.08;
    double lh = loss(&c);
    cr_assert(lh < 0.95 * l2, "the Huber loss must be below the squared one: %.6e vs %.6e", lh, l2);
    double share, e = check(&c, FH_TRAIN_HVP_CENTRAL, &share);
    cr_assert(share > 0.05, "the force term must carry a real part of the gradient (%.3f)", share);
    cr_assert(e < 1e-6, "Huber: loss gradient vs finite differences %.3e", e);
    fh_model_ws_free(c.ws);
    fh_model_free(c.m);
}

/* The gap term follows the energy term's Huber threshold: with the energy weight 0 the energy
 * part of the loss is exactly w_gap rho(d) / n^2 for the one gap with both labels (states 0, 2). */
Test(train_loss, gap_term_is_huber)
{
    ctx c;
    setup(&c, 45);
    fh_err err = {0};
    double E[NS], h[NP * 3 * NAT];
    cr_assert_eq(fh_model_forward(c.ws, c.m, c.theta, NAT, c.type, c.x, 0, E, h, &err), FH_OK);
    double d = (E[2] - E[0]) - (c.E[2] - c.E[0]), delta = 0.25 * fabs(d);
    cr_assert(fabs(d) > 1e-3, "the sample needs a gap error (%.3e)", d);
    c.cfg.w_energy = 0, c.cfg.huber_e = delta;
    fh_train_terms t = {0};
    cr_assert_eq(fh_train_sample_loss(c.ws, c.m, c.theta, &c.s, &c.cfg, NULL, &t, &err), FH_OK);
    double want = c.cfg.w_gap * delta * (2.0 * fabs(d) - delta) / (NAT * NAT);
    cr_assert(fabs(t.l_energy - want) < 1e-12 * want, "gap term %.15e, Huber %.15e (squared %.15e)",
              t.l_energy, want, c.cfg.w_gap * d * d / (NAT * NAT));
    fh_model_ws_free(c.ws);
    fh_model_free(c.m);
}

Test(train_loss, coupling_term_is_phase_free)
{
    ctx c;
    setup(&c, 43);
    c.hasH[1] = 1;
    double l0 = loss(&c);
    /* flip the sign of state 1's wavefunction: pairs (0,1) and (1,2) change sign */
    for (int i = 0; i < 3 * NAT; i++) {
        c.H[0 * 3 * NAT + i] = -c.H[0 * 3 * NAT + i];
        c.H[2 * 3 * NAT + i] = -c.H[2 * 3 * NAT + i];
    }
    double l1 = loss(&c);
    cr_assert(fabs(l1 - l0) < 1e-14 * fabs(l0), "loss changed under a state sign flip: %.17g %.17g", l0, l1);
    /* flipping a single pair is not a sign pattern of the states: the loss changes */
    for (int i = 0; i < 3 * NAT; i++) c.H[1 * 3 * NAT + i] = -c.H[1 * 3 * NAT + i];
    cr_assert(fabs(loss(&c) - l0) > 1e-6 * fabs(l0));
    fh_model_ws_free(c.ws);
    fh_model_free(c.m);
}

/* The coupling term written out: the minimum over the states' sign patterns of
 * sum_p w_p mean_q (h_pq - sigma_i sigma_j ref_pq)^2, with h from a forward pass of the model. */
static const int pair_i[NP] = {0, 0, 1}, pair_j[NP] = {1, 2, 2};
static double written_out_coupling_term(ctx *c, const double w[NP])
{
    fh_err err = {0};
    double E[NS], h[NP * 3 * NAT];
    cr_assert_eq(fh_model_forward(c->ws, c->m, c->theta, NAT, c->type, c->x, 0, E, h, &err), FH_OK);
    double best = INFINITY;
    for (int s1 = -1; s1 <= 1; s1 += 2)
        for (int s2 = -1; s2 <= 1; s2 += 2) {
            int sig[NS] = {1, s1, s2};
            double sum = 0;
            for (int p = 0; p < NP; p++) {
                double sq = 0;
                for (int q = 0; q < 3 * NAT; q++) {
                    double d = h[p * 3 * NAT + q] -
                               sig[pair_i[p]] * sig[pair_j[p]] * c->H[p * 3 * NAT + q];
                    sq += d * d;
                }
                sum += w[p] * sq / (3.0 * NAT);
            }
            if (sum < best) best = sum;
        }
    return best;
}

/* Coupling term focused on small gaps (nac_gap_scale G): against the term written out here, the
 * minimum over the states' sign patterns of sum_p w_p mean_q (h_pq - sigma_i sigma_j ref_pq)^2
 * with w_p = 1 / (1 + (gap_p / G)^2), and its gradient against finite differences. */
Test(train_loss, gap_weighted_coupling_term)
{
    ctx c;
    setup(&c, 45);
    fh_err err = {0};
    c.hasE[1] = 1, c.hasH[1] = 1; /* every pair and energy labelled */
    c.E[1] = c.E[0] + 0.01, c.E[2] = c.E[0] + 0.2; /* gaps 0.01, 0.2, 0.19 hartree */
    c.cfg.w_gap = 0;
    double G = 0.05;
    c.cfg.nac_gap_scale = G;
    double w[NP];
    for (int p = 0; p < NP; p++) {
        double gap = c.E[pair_j[p]] - c.E[pair_i[p]];
        w[p] = 1.0 / (1.0 + (gap / G) * (gap / G));
    }
    double best = written_out_coupling_term(&c, w);
    fh_train_terms t = {0};
    cr_assert_eq(fh_train_sample_loss(c.ws, c.m, c.theta, &c.s, &c.cfg, NULL, &t, &err), FH_OK);
    double want = c.cfg.w_nac * best / NP;
    cr_assert(fabs(t.l_nac - want) < 1e-12 * want, "coupling term %.15e, written out %.15e", t.l_nac,
              want);
    c.cfg.w_gap = 400.0; /* check() wants the gap term on */
    double share, e = check(&c, FH_TRAIN_HVP_CENTRAL, &share);
    cr_assert(e < 1e-6, "gap-weighted couplings: loss gradient vs finite differences %.3e", e);
    fh_model_ws_free(c.ws);
    fh_model_free(c.m);
}

/* Coupling term relative to the reference's size (nac_norm_scale S, with nac_gap_scale G on too):
 * against the term written out here, with w_p = 1 / (1 + (gap_p / G)^2) / (1 + |ref_p|^2 / S^2),
 * and its gradient against finite differences. */
Test(train_loss, norm_weighted_coupling_term)
{
    ctx c;
    setup(&c, 46);
    fh_err err = {0};
    c.hasE[1] = 1, c.hasH[1] = 1;
    c.E[1] = c.E[0] + 0.01, c.E[2] = c.E[0] + 0.2;
    for (int q = 0; q < 3 * NAT; q++) c.H[2 * 3 * NAT + q] *= 3.0; /* pairs of different size */
    double nrm[NP];
    for (int p = 0; p < NP; p++) {
        nrm[p] = 0;
        for (int q = 0; q < 3 * NAT; q++) nrm[p] += c.H[p * 3 * NAT + q] * c.H[p * 3 * NAT + q];
        nrm[p] = sqrt(nrm[p]);
    }
    cr_assert(nrm[2] > 1.5 * nrm[0] && nrm[0] > 0, "sizes %g %g", nrm[0], nrm[2]);
    c.cfg.w_gap = 0;
    double G = 0.05, S = nrm[0];
    c.cfg.nac_gap_scale = G, c.cfg.nac_norm_scale = S;
    double w[NP];
    for (int p = 0; p < NP; p++) {
        double gap = c.E[pair_j[p]] - c.E[pair_i[p]];
        w[p] = 1.0 / (1.0 + (gap / G) * (gap / G)) / (1.0 + nrm[p] * nrm[p] / (S * S));
    }
    double best = written_out_coupling_term(&c, w);
    fh_train_terms t = {0};
    cr_assert_eq(fh_train_sample_loss(c.ws, c.m, c.theta, &c.s, &c.cfg, NULL, &t, &err), FH_OK);
    double want = c.cfg.w_nac * best / NP;
    cr_assert(fabs(t.l_nac - want) < 1e-12 * want, "coupling term %.15e, written out %.15e", t.l_nac,
              want);
    c.cfg.w_gap = 400.0;
    double share, e = check(&c, FH_TRAIN_HVP_CENTRAL, &share);
    cr_assert(e < 1e-6, "norm-weighted couplings: loss gradient vs finite differences %.3e", e);
    fh_model_ws_free(c.ws);
    fh_model_free(c.m);
}
