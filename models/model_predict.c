/* Committee prediction: every member's forward pass, one reverse pass per requested gradient,
 * then means, the energy spread, and NACs from the gap-scaled couplings.
 *
 * Couplings of different members may differ by the sign pattern of the states (training is
 * phase-free: the loss takes the best of the 2^(N-1) sign patterns), so before averaging each
 * member's h is flipped to the pattern that maximises its overlap with member 0's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

double fh_model_nac_factor(double gap, double eps)
{
    /* 1/gap for |gap| >> eps; bounded by 1/(2 eps); odd and smooth in the gap. */
    return gap / (gap * gap + eps * eps);
}

unsigned model_sign_pattern(int N, size_t n3, const double *h, const double *ref,
                            const unsigned char *mask, const double *weight)
{
    const int P = N * (N - 1) / 2;
    double ov[FH_MODEL_MAX_STATES * (FH_MODEL_MAX_STATES - 1) / 2];
    for (int p = 0; p < P; p++) {
        double s = 0;
        if (!mask || mask[p])
            for (size_t k = 0; k < n3; k++) s += h[(size_t)p * n3 + k] * ref[(size_t)p * n3 + k];
        ov[p] = weight ? weight[p] * s : s;
    }
    unsigned best = 0;
    double best_v = -INFINITY;
    for (unsigned pat = 0; pat < (1u << (N - 1)); pat++) {
        unsigned flips = pat << 1;
        double v = 0;
        for (int i = 0, p = 0; i < N; i++)
            for (int j = i + 1; j < N; j++, p++) v += model_pair_sign(flips, i, j) * ov[p];
        if (v > best_v) best_v = v, best = flips;
    }
    return best;
}

/* The tabulated radial MLPs of every member (model_radial_table.c). */
void model_free_tables(fh_model *m)
{
    for (int i = 0; i < m->n_rtab; i++) model_rtab_free(&m->rtab[i]);
    free(m->rtab);
    m->rtab = NULL, m->n_rtab = 0;
}

void fh_model_set_exact_radial(fh_model *m, int exact)
{
    m->exact_radial = exact != 0;
    if (exact) model_free_tables(m);
}

void fh_model_set_precision(fh_model *m, fh_model_precision p) { m->precision = p; }

int fh_model_predict(fh_model *m, int natoms, const int *z, const double *x, fh_model_request *req,
                     fh_err *err)
{
    const int N = m->hp.nstates, P = N * (N - 1) / 2, K = m->n_members, n3 = 3 * natoms;
    if (natoms < 1) return fh_err_set(err, FH_EINPUT, "model: no atoms");
    if (!req->energy) return fh_err_set(err, FH_EINPUT, "model: no energy output");
    if (N < 32 && (req->grad_mask >> N)) return fh_err_set(err, FH_EINPUT, "model: gradient of a "
                                                           "state >= %d requested", N);
    if (req->grad_mask && !req->grad) return fh_err_set(err, FH_EINPUT, "model: no gradient output");
    int want_h = P > 0 && (req->want_nac || req->hcoup);
    if (req->want_nac && P > 0 && !req->nac) return fh_err_set(err, FH_EINPUT, "model: no NAC output");

    if (natoms > m->types_len) {
        free(m->types);
        m->types = malloc(sizeof(int) * natoms);
        m->types_len = m->types ? natoms : 0;
        if (!m->types) return fh_err_set(err, FH_EFAIL, "model: out of memory");
    }
    int rc = fh_model_types(m, natoms, z, m->types, err);
    if (rc) return rc;
    size_t hn = (size_t)P * n3;
    size_t need = (size_t)K * N + 3 * hn + (size_t)N * n3 + 1;
    if (need > m->scratch_len) {
        free(m->scratch);
        m->scratch = malloc(sizeof(double) * need);
        m->scratch_len = m->scratch ? need : 0;
        if (!m->scratch) return fh_err_set(err, FH_EFAIL, "model: out of memory");
    }
    double *Ek = m->scratch, *hk = Ek + (size_t)K * N, *h0 = hk + hn, *hsum = h0 + hn;
    double *g = hsum + hn;
    if (want_h) memset(hsum, 0, sizeof(double) * hn);
    for (int s = 0; s < N; s++)
        if ((req->grad_mask >> s) & 1u) memset(req->grad + (size_t)s * n3, 0, sizeof(double) * n3);

    const int T = model_ws_n_layers(m->ws);
    if (!m->exact_radial && m->n_rtab != K * T) {
        model_free_tables(m);
        m->rtab = calloc((size_t)K * T, sizeof(model_rtab));
        if (!m->rtab) return fh_err_set(err, FH_EFAIL, "model: out of memory");
        m->n_rtab = K * T;
    }
    for (int k = 0; k < K; k++) {
        const double *theta = fh_model_params_const(m, k);
        model_rtab *tabs = m->exact_radial ? NULL : m->rtab + (size_t)k * T;
        if (tabs && (rc = model_ws_make_tables(m->ws, theta, tabs, err))) return rc;
        model_ws_use_tables(m->ws, tabs);
        model_ws_use_single(m->ws, m->precision == FH_MODEL_PRECISION_MIXED);
        rc = fh_model_member_eval(m->ws, m, theta, natoms, m->types, x, req->grad_mask,
                                  Ek + (size_t)k * N, g, want_h ? hk : NULL, NULL, NULL, err);
        model_ws_use_tables(m->ws, NULL);
        model_ws_use_single(m->ws, 0);
        if (rc) return rc;
        for (int s = 0; s < N; s++) {
            if (!((req->grad_mask >> s) & 1u)) continue;
            double *gs = req->grad + (size_t)s * n3;
            for (int i = 0; i < n3; i++) gs[i] += g[(size_t)s * n3 + i] / K;
        }
        if (want_h) {
            if (k == 0) memcpy(h0, hk, sizeof(double) * hn);
            unsigned flips = k == 0 ? 0u : model_sign_pattern(N, (size_t)n3, hk, h0, NULL, NULL);
            for (int i = 0, p = 0; i < N; i++)
                for (int j = i + 1; j < N; j++, p++) {
                    double sg = model_pair_sign(flips, i, j);
                    for (int q = 0; q < n3; q++) hsum[(size_t)p * n3 + q] += sg * hk[(size_t)p * n3 + q];
                }
        }
    }
    for (int s = 0; s < N; s++) {
        double mean = 0, var = 0;
        for (int k = 0; k < K; k++) mean += Ek[(size_t)k * N + s];
        mean /= K;
        for (int k = 0; k < K; k++) var += (Ek[(size_t)k * N + s] - mean) * (Ek[(size_t)k * N + s] - mean);
        req->energy[s] = mean;
        if (req->energy_std) req->energy_std[s] = sqrt(var / K);
    }
    if (want_h) {
        for (size_t q = 0; q < hn; q++) hsum[q] /= K;
        if (req->hcoup) memcpy(req->hcoup, hsum, sizeof(double) * hn);
        if (req->want_nac)
            for (int i = 0, p = 0; i < N; i++)
                for (int j = i + 1; j < N; j++, p++) {
                    double f = fh_model_nac_factor(req->energy[j] - req->energy[i], m->hp.nac_gap_eps);
                    for (int q = 0; q < n3; q++) req->nac[(size_t)p * n3 + q] = f * hsum[(size_t)p * n3 + q];
                }
    }
    return FH_OK;
}
