/* The training loss of one geometry and its gradient with respect to the weights (formulas in
 * fh_train.h). Passes, for a geometry with force labels on n_G states:
 *   forward at R (with tangents), one position reverse pass per labelled state (dE_s/dR),
 *   one weight reverse pass at R with the energy and coupling seeds (plus, one-sided, the
 *   -1/eps_s terms of the Hessian-vector products), and per labelled state one forward + weight
 *   reverse pass at R + eps_s v_s (central: also at R - eps_s v_s).
 * With the diabatic readout the same runs over the three diabatic elements instead of the states
 * (their position gradients always, when any force or coupling label is there). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fh_train.h"
#include "fh_units.h"
#include "model_internal.h"

fh_train_loss_cfg fh_train_loss_cfg_default(void)
{
    fh_train_loss_cfg c = {.w_energy = 1.0, .w_force = 1.0, .w_nac = 1.0,
                           .force_hvp = FH_TRAIN_HVP_FORWARD, .hvp_step = 1e-5, .w_gap = 0.0,
                           .huber_e = 0.0, .huber_f = 0.0, .nac_gap_scale = 0.0,
                           .nac_norm_scale = 0.0};
    return c;
}

/* Huber's rho(d) with threshold delta (0: d^2) and its derivative. */
static double rho(double d, double delta)
{
    if (delta <= 0 || fabs(d) <= delta) return d * d;
    return delta * (2.0 * fabs(d) - delta);
}

static double rho_d(double d, double delta)
{
    if (delta <= 0 || fabs(d) <= delta) return 2.0 * d;
    return d > 0 ? 2.0 * delta : -2.0 * delta;
}

/* Weight of pair (i, j) = pair p in the coupling term: 1 / (1 + (gap_ref / G)^2) with G =
 * nac_gap_scale where both reference energies are there (the couplings matter to the dynamics
 * where the gap is small; far from the seam they only take up the head's capacity), times
 * 1 / (1 + |h_ref|^2 / S^2) with S = nac_norm_scale (a relative error for strong couplings: the
 * direction of a weak one counts as much); each factor 1 when off. */
static double nac_pair_weight(const fh_train_sample *s, const fh_train_loss_cfg *cfg, int i, int j,
                              int p)
{
    double w = 1.0;
    if (cfg->nac_gap_scale > 0 && s->has_energy && s->has_energy[i] && s->has_energy[j]) {
        double x = (s->energy[j] - s->energy[i]) / cfg->nac_gap_scale;
        w /= 1.0 + x * x;
    }
    if (cfg->nac_norm_scale > 0 && s->has_hcoup && s->has_hcoup[p]) {
        const double *r = s->hcoup + (size_t)p * 3 * s->natoms;
        double r2 = 0;
        for (int q = 0; q < 3 * s->natoms; q++) r2 += r[q] * r[q];
        w /= 1.0 + r2 / (cfg->nac_norm_scale * cfg->nac_norm_scale);
    }
    return w;
}

void fh_train_terms_add(fh_train_terms *to, const fh_train_terms *from)
{
    /* every field of fh_train_terms is a double */
    const double *f = (const double *)from;
    double *t = (double *)to;
    for (size_t k = 0; k < sizeof *to / sizeof(double); k++) t[k] += f[k];
}

/* Loss terms and error sums of one geometry from predicted energies E [N], gradients g
 * [N][n3] (rows of states with force labels) and couplings h [P][n3]; when the seed arrays are
 * given, also dL/dE (gE), dL/d(dE/dR) (v) and dL/dh (gH). Shared by the training step and the
 * committee's test report. */
void train_eval_terms(const fh_model *m, const fh_train_sample *s, const fh_train_loss_cfg *cfg,
                      const double *E, const double *g, const double *h, fh_train_terms *t,
                      double *gE, double *v, double *gH)
{
    const int N = fh_model_nstates(m), P = N * (N - 1) / 2, n = s->natoms, n3 = 3 * n;
    int nE = 0, nG = 0, nH = 0;
    for (int k = 0; k < N; k++) {
        nE += s->has_energy && s->has_energy[k];
        nG += s->has_grad && s->has_grad[k];
    }
    for (int p = 0; p < P; p++) nH += s->has_hcoup && s->has_hcoup[p];
    memset(t, 0, sizeof *t);
    /* energies */
    for (int k = 0; k < N; k++) {
        if (!(s->has_energy && s->has_energy[k])) continue;
        double d = E[k] - s->energy[k];
        t->l_energy += cfg->w_energy * rho(d, cfg->huber_e) / ((double)n * n * nE);
        if (gE) gE[k] = cfg->w_energy * rho_d(d, cfg->huber_e) / ((double)n * n * nE);
        t->e_abs[k] += fabs(d), t->e_n[k] += 1;
    }
    int nGap = 0;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) nGap += s->has_energy && s->has_energy[i] && s->has_energy[j];
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (s->has_energy && s->has_energy[i] && s->has_energy[j]) {
                double d = (E[j] - E[i]) - (s->energy[j] - s->energy[i]);
                t->gap_abs += fabs(d);
                t->gap_n += 1;
                if (cfg->w_gap == 0) continue;
                /* the energy term's Huber threshold: a squared gap term would let the few
                 * geometries with gap errors of several hundred meV set the direction */
                t->l_energy += cfg->w_gap * rho(d, cfg->huber_e) / ((double)n * n * nGap);
                double gd = cfg->w_gap * rho_d(d, cfg->huber_e) / ((double)n * n * nGap);
                if (gE) gE[j] += gd, gE[i] -= gd;
            }
    /* forces: v_s = dL/d(dE_s/dR) */
    for (int k = 0; k < N && g; k++) {
        if (!(s->has_grad && s->has_grad[k])) continue;
        const double *gk = g + (size_t)k * n3, *rk = s->grad + (size_t)k * n3;
        for (int i = 0; i < n3; i++) {
            double d = gk[i] - rk[i];
            t->l_force += cfg->w_force * rho(d, cfg->huber_f) / ((double)n3 * nG);
            if (v) v[(size_t)k * n3 + i] = cfg->w_force * rho_d(d, cfg->huber_f) / (n3 * nG);
            t->f_abs += fabs(d);
        }
        t->f_n += n3;
    }
    /* couplings, phase-free */
    if (P && nH && h) {
        double wp[FH_MODEL_MAX_STATES * (FH_MODEL_MAX_STATES - 1) / 2];
        for (int i = 0, p = 0; i < N; i++)
            for (int j = i + 1; j < N; j++, p++) wp[p] = nac_pair_weight(s, cfg, i, j, p);
        unsigned flips = model_sign_pattern(N, (size_t)n3, h, s->hcoup, s->has_hcoup, wp);
        for (int i = 0, p = 0; i < N; i++)
            for (int j = i + 1; j < N; j++, p++) {
                if (!s->has_hcoup[p]) continue;
                double sg = model_pair_sign(flips, i, j), w = cfg->w_nac * wp[p];
                const double *hp = h + (size_t)p * n3, *rp = s->hcoup + (size_t)p * n3;
                for (int q = 0; q < n3; q++) {
                    double d = hp[q] - sg * rp[q];
                    t->l_nac += w * d * d / ((double)n3 * nH);
                    if (gH) gH[(size_t)p * n3 + q] = w * 2.0 * d / ((double)n3 * nH);
                    t->h_abs += fabs(d);
                }
                t->h_n += n3;
                /* NAC errors where the reference gap is below 1 eV */
                if (!(s->has_energy && s->has_energy[i] && s->has_energy[j])) continue;
                double gap_ref = s->energy[j] - s->energy[i], gap = E[j] - E[i];
                if (!(fabs(gap_ref) < 1.0 / FH_HARTREE_EV) || gap_ref == 0) continue;
                double f = fh_model_nac_factor(gap, fh_model_get_hyper(m)->nac_gap_eps);
                double dot = 0, nd = 0, nr = 0;
                for (int q = 0; q < n3; q++) {
                    double dp = f * hp[q], dr = rp[q] / gap_ref;
                    dot += dp * dr, nd += dp * dp, nr += dr * dr;
                }
                if (nr > 0 && nd > 0) {
                    t->nac_cos += sg * dot / sqrt(nd * nr);
                    t->nac_rel += fabs(sqrt(nd) - sqrt(nr)) / sqrt(nr);
                    t->nac_n += 1;
                }
            }
    }
    t->loss = t->l_energy + t->l_force + t->l_nac;
}

/* The weight gradient of sum_e gH[e] H_e + sum_e w_e . dH_e/dR for the network's scalar outputs
 * H_e (e < nout; w [nout][n3]): one weight reverse pass at R with the seeds gH (plus, one-sided,
 * the -1/eps_e terms), then per output with w_e != 0 a forward + weight reverse pass at
 * R + eps_e w_e (central: also at R - eps_e w_e), eps_e = hvp_step / max |w_e|. The forward at R
 * must be the most recent. */
static int weight_grad(fh_model_ws *ws, const fh_model *m, const double *theta,
                       const fh_train_sample *s, const fh_train_loss_cfg *cfg, int nout,
                       double *gH, const double *w, const double *gcoup, double *xd,
                       double *gtheta, fh_err *err)
{
    const int n3 = 3 * s->natoms;
    double eps[FH_MODEL_MAX_STATES + 1] = {0};
    for (int e = 0; e < nout; e++) {
        double wmax = 0;
        for (int i = 0; i < n3; i++)
            if (fabs(w[(size_t)e * n3 + i]) > wmax) wmax = fabs(w[(size_t)e * n3 + i]);
        if (wmax > 0) eps[e] = cfg->hvp_step / wmax;
        if (eps[e] > 0 && cfg->force_hvp == FH_TRAIN_HVP_FORWARD) gH[e] -= 1.0 / eps[e];
    }
    int rc = fh_model_backward(ws, m, theta, gH, gcoup, NULL, gtheta, err);
    for (int e = 0; e < nout && rc == FH_OK; e++) {
        if (eps[e] == 0) continue;
        int central = cfg->force_hvp == FH_TRAIN_HVP_CENTRAL;
        for (int side = 1; side >= (central ? -1 : 1) && rc == FH_OK; side -= 2) {
            for (int i = 0; i < n3; i++) xd[i] = s->x[i] + side * eps[e] * w[(size_t)e * n3 + i];
            double Ed[FH_MODEL_MAX_STATES + 1], e1[FH_MODEL_MAX_STATES + 1] = {0};
            e1[e] = side / (eps[e] * (central ? 2.0 : 1.0));
            rc = fh_model_forward(ws, m, theta, s->natoms, s->type, xd, 0, Ed, NULL, err);
            if (rc == FH_OK) rc = fh_model_backward(ws, m, theta, e1, NULL, NULL, gtheta, err);
        }
    }
    return rc;
}

/* The diabatic readout (fh_model.h): the adiabatic E, g, h from H and its three position
 * gradients, the loss on them, its adjoints taken back to H and dH (fh_model_diab_backward),
 * then the weight gradient of sum_e gH_e H_e + w_e . dH_e/dR as for the states of the direct
 * readout. The gradients of all three elements are needed whenever any force or coupling label
 * is there: E0, E1 and h each depend on all of them. */
static int diabatic_sample_loss(fh_model_ws *ws, const fh_model *m, const double *theta,
                                const fh_train_sample *s, const fh_train_loss_cfg *cfg,
                                double *gtheta, fh_train_terms *terms, fh_err *err)
{
    const int n3 = 3 * s->natoms;
    double *buf = calloc((size_t)n3 * 15 + 1, sizeof(double)); /* dH g h v gh w xd q gq */
    if (!buf) return fh_err_set(err, FH_EFAIL, "training: out of memory");
    double *dH = buf, *g = dH + 3 * n3, *h = g + 2 * n3, *v = h + n3, *gh = v + 2 * n3;
    double *w = gh + n3, *xd = w + 3 * n3, *q = xd + n3, *gq = q + n3;
    const int resid = fh_model_get_hyper(m)->nac_resid;
    double H[3], E[2], gE[2] = {0}, gH[3];
    int any = 0;
    for (int k = 0; k < 2; k++) any |= s->has_grad && s->has_grad[k];
    any |= s->has_hcoup && s->has_hcoup[0];
    int rc = fh_model_member_eval(ws, m, theta, s->natoms, s->type, s->x, any ? 3u : 0u, E, g,
                                  any ? h : NULL, H, dH, err);
    fh_train_terms t;
    if (rc == FH_OK) {
        train_eval_terms(m, s, cfg, E, g, any ? h : NULL, &t, gE, v, gh);
        if (gtheta) {
            const double eps = fh_model_get_hyper(m)->nac_gap_eps;
            fh_model_diab_backward((size_t)n3, eps, H, dH, gE, v, gh, gH, w);
            /* member_eval ended with backward passes: the forward at R is still the latest */
            if (resid && any) {
                model_ws_resid(ws, m, q);
                fh_model_diab_resid_backward((size_t)n3, eps, H, q, gh, gH, gq);
            }
            rc = weight_grad(ws, m, theta, s, cfg, 3, gH, w, resid && any ? gq : NULL, xd, gtheta,
                             err);
        }
    }
    free(buf);
    if (rc == FH_OK && terms) fh_train_terms_add(terms, &t);
    return rc;
}

int fh_train_sample_loss(fh_model_ws *ws, const fh_model *m, const double *theta,
                         const fh_train_sample *s, const fh_train_loss_cfg *cfg, double *gtheta,
                         fh_train_terms *terms, fh_err *err)
{
    if (fh_model_get_hyper(m)->diabatic)
        return diabatic_sample_loss(ws, m, theta, s, cfg, gtheta, terms, err);
    const int N = fh_model_nstates(m), P = N * (N - 1) / 2, n = s->natoms, n3 = 3 * n;
    size_t len = (size_t)N * n3 * 2 + (size_t)P * n3 * 2 + n3 + 1;
    double *buf = calloc(len, sizeof(double));
    if (!buf) return fh_err_set(err, FH_EFAIL, "training: out of memory");
    double *g = buf, *v = g + (size_t)N * n3, *h = v + (size_t)N * n3, *gH = h + (size_t)P * n3;
    double *xd = gH + (size_t)P * n3;
    double E[FH_MODEL_MAX_STATES], gE[FH_MODEL_MAX_STATES] = {0};
    unsigned grad_mask = 0;
    for (int k = 0; k < N; k++)
        if (s->has_grad && s->has_grad[k]) grad_mask |= 1u << k;
    int rc = fh_model_member_eval(ws, m, theta, n, s->type, s->x, grad_mask, E, g, P ? h : NULL,
                                  NULL, NULL, err);
    if (rc) {
        free(buf);
        return rc;
    }
    fh_train_terms t;
    train_eval_terms(m, s, cfg, E, g, h, &t, gE, v, gH);
    int nH = 0;
    for (int p = 0; p < P; p++) nH += s->has_hcoup && s->has_hcoup[p];

    if (gtheta) {
        /* states without force labels (or with a zero force weight) have v_s = 0: no product */
        rc = weight_grad(ws, m, theta, s, cfg, N, gE, v, P && nH ? gH : NULL, xd, gtheta, err);
    }
    free(buf);
    if (rc == FH_OK && terms) fh_train_terms_add(terms, &t);
    return rc;
}
