/* fh_model_widen: a committee widened to more channels predicts what it predicted before (energies,
 * gradients, couplings, spread to 1e-12 relative; the old channels never read a new one), for
 * both readouts with every coupling head; the new connections do carry signal (the weight
 * gradient reaches the weights from new channels into old ones, which start at zero, and a step
 * along it changes the energy as that gradient predicts); and narrowing is refused. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "fh_model.h"
#include "test_model_util.h"

enum { NAT = 7, MAXS = 3 };
static const int Z7[NAT] = {6, 6, 1, 1, 8, 1, 1};

typedef struct {
    double E[MAXS], sd[MAXS], G[MAXS * 3 * NAT], nac[3 * 3 * NAT];
} pred;

static void predict(fh_model *m, const double *x, pred *p)
{
    fh_err err = {0};
    int N = fh_model_nstates(m);
    memset(p, 0, sizeof *p);
    fh_model_request rq = {.grad_mask = (1u << N) - 1, .want_nac = 1, .energy = p->E, .grad = p->G,
                           .nac = p->nac, .energy_std = p->sd};
    cr_assert_eq(fh_model_predict(m, NAT, Z7, x, &rq, &err), FH_OK, "%s", err.msg);
}

static fh_model *make(int nstates, int diabatic, int resid)
{
    fh_err err = {0};
    fh_model *m = tm_small_model_kind(nstates, diabatic, 3, 11, &err);
    cr_assert_not_null(m, "%s", err.msg);
    if (diabatic) {
        cr_assert_eq(fh_model_set_nac_even(m, 1, &err), FH_OK, "%s", err.msg);
        cr_assert_eq(fh_model_set_nac_resid(m, resid, &err), FH_OK, "%s", err.msg);
        /* the added heads start at zero: give them weights, so that widening must keep them */
        for (int k = 0; k < 3; k++) {
            double *w = fh_model_params(m, k);
            tm_seed(40 + k);
            for (size_t i = 0; i < fh_model_n_params(m); i++)
                if (w[i] == 0.0) w[i] = 0.3 * tm_normal();
        }
    }
    return m;
}

static void check_same(int nstates, int diabatic, int resid)
{
    fh_err err = {0};
    fh_model *m = make(nstates, diabatic, resid);
    const size_t n0 = fh_model_n_params(m);
    double x[3 * NAT];
    pred before[3], after;
    tm_seed(3);
    for (int g = 0; g < 3; g++) {
        tm_molecule(NAT, 4.5, 1.6, x);
        predict(m, x, &before[g]);
    }
    cr_assert_eq(fh_model_widen(m, 7, 5, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(fh_model_get_hyper(m)->channels, 7);
    cr_assert_gt(fh_model_n_params(m), n0 + n0 / 2, "%zu weights after widening 4 -> 7, %zu before",
                 fh_model_n_params(m), n0);
    tm_seed(3);
    const int P = nstates * (nstates - 1) / 2;
    for (int g = 0; g < 3; g++) {
        tm_molecule(NAT, 4.5, 1.6, x);
        predict(m, x, &after);
        const pred *b = &before[g];
        for (int s = 0; s < nstates; s++) {
            cr_assert(fabs(after.E[s] - b->E[s]) < 1e-12 * fmax(1.0, fabs(b->E[s])),
                      "state %d energy %.15g, %.15g before widening", s, after.E[s], b->E[s]);
            cr_assert(fabs(after.sd[s] - b->sd[s]) < 1e-12, "state %d spread %.3e vs %.3e", s,
                      after.sd[s], b->sd[s]);
        }
        double dG = tm_max_rel(after.G, b->G, (size_t)nstates * 3 * NAT);
        double dN = tm_max_rel(after.nac, b->nac, (size_t)P * 3 * NAT);
        cr_assert(dG < 1e-12 && dN < 1e-12, "gradients differ by %.2e, NACs by %.2e of the largest",
                  dG, dN);
    }
    fh_model_free(m);
}

Test(model_widen, vector_readout_predicts_the_same) { check_same(3, 0, 0); }
Test(model_widen, diabatic_readout_with_coupling_heads_predicts_the_same) { check_same(2, 1, 2); }

/* The weights from new channels into old ones start at exactly zero; the energy's gradient with
 * respect to them is not zero, and moving them along it changes the energy by the first-order
 * amount (a central difference of the energy along that direction). */
Test(model_widen, new_connections_get_a_gradient)
{
    fh_err err = {0};
    fh_model *m = make(2, 1, 1);
    cr_assert_eq(fh_model_keep_member(m, 0, &err), FH_OK, "%s", err.msg);
    size_t n_old_zero = 0;
    for (size_t i = 0; i < fh_model_n_params(m); i++) n_old_zero += fh_model_params(m, 0)[i] == 0.0;
    cr_assert_eq(fh_model_widen(m, 6, 9, &err), FH_OK, "%s", err.msg);
    const size_t np = fh_model_n_params(m);
    double *w = fh_model_params(m, 0);
    double *g = calloc(np, sizeof(double)), *dir = calloc(np, sizeof(double)), *wp = malloc(sizeof(double) * np);
    int type[NAT];
    cr_assert_eq(fh_model_types(m, NAT, Z7, type, &err), FH_OK, "%s", err.msg);
    fh_model_ws *ws = fh_model_ws_alloc(m, &err);
    cr_assert_not_null(ws, "%s", err.msg);
    double x[3 * NAT], H[3], gE[3] = {1.0, 0.0, 0.0};   /* d H00 / d theta */
    tm_seed(8);
    tm_molecule(NAT, 4.5, 1.6, x);
    cr_assert_eq(fh_model_forward(ws, m, w, NAT, type, x, 0, H, NULL, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(fh_model_backward(ws, m, w, gE, NULL, NULL, g, &err), FH_OK, "%s", err.msg);
    size_t n_zero = 0, n_reached = 0;
    double g2 = 0;
    for (size_t i = 0; i < np; i++)
        if (w[i] == 0.0) {
            n_zero++;
            if (g[i] != 0.0) n_reached++;
            dir[i] = g[i];
            g2 += g[i] * g[i];
        }
    cr_assert_gt(n_zero, n_old_zero + 20, "only %zu zero weights after widening (%zu before)", n_zero,
                 n_old_zero);
    cr_assert_gt(n_reached, (n_zero - n_old_zero) / 4, "the gradient reaches %zu of %zu zero weights",
                 n_reached, n_zero);
    /* central difference along dir against the directional derivative g . dir = |g|^2 */
    const double eps = 1e-4 / sqrt(g2);
    double Hp[3], Hm[3];
    for (size_t i = 0; i < np; i++) wp[i] = w[i] + eps * dir[i];
    cr_assert_eq(fh_model_forward(ws, m, wp, NAT, type, x, 0, Hp, NULL, &err), FH_OK, "%s", err.msg);
    for (size_t i = 0; i < np; i++) wp[i] = w[i] - eps * dir[i];
    cr_assert_eq(fh_model_forward(ws, m, wp, NAT, type, x, 0, Hm, NULL, &err), FH_OK, "%s", err.msg);
    double fd = (Hp[0] - Hm[0]) / (2 * eps);
    cr_assert(fabs(fd - g2) < 1e-6 * g2, "directional derivative %.10e by differences, %.10e analytic",
              fd, g2);
    fh_model_ws_free(ws);
    free(g), free(dir), free(wp);
    fh_model_free(m);
}

Test(model_widen, narrowing_is_refused_and_the_same_width_is_kept)
{
    fh_err err = {0};
    fh_model *m = make(2, 0, 0);
    const size_t n0 = fh_model_n_params(m);
    cr_assert_eq(fh_model_widen(m, 4, 1, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(fh_model_n_params(m), n0);
    cr_assert_eq(fh_model_widen(m, 3, 1, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "cannot narrow 4 channels to 3"), "message: %s", err.msg);
    cr_assert_eq(fh_model_n_params(m), n0);
    fh_model_free(m);
}
