/* Lifetime and populations on synthetic ensembles with a known delayed-exponential decay, hop times
 * t0 + Exp(tau): (1) drawn at random with a fixed seed, the fit must agree with the truth within its
 * bootstrap error, and the error must have the size sampling theory gives (~tau/sqrt(N));
 * (2) at the exact quantiles of the distribution (a sample without sampling noise), the fit must hit
 * tau much more closely than that error. The population table must equal the exact counts, and a
 * report must be bitwise reproducible. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>

#include "ana_synth.h"
#include "fh_analysis.h"
#include "h5md_testutil.h"

#define NTRAJ 300
static const double T0 = 50.0, TAU = 200.0, DT = 4.0, TMAX = 800.0;

/* A small deterministic uniform generator (64-bit LCG, top 53 bits). */
static double uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
}

static double hop[NTRAJ];

static const char *make_decay_ensemble(int stratified)
{
    const char *base = tu_scratch("ana_decay");
    static char dir[600];
    snprintf(dir, sizeof dir, "%s", base);
    fh_ens *e = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_ens_create(dir, NTRAJ, "", 1, 0, &e, &err), FH_OK, "%s", err.msg);
    uint64_t seed = 20240607;
    for (long k = 0; k < NTRAJ; k++) {
        /* stratified: quantile (j+0.5)/N, visited in a scrambled order (index -> 7k mod N) */
        double u = stratified ? ((double)((7 * k) % NTRAJ) + 0.5) / NTRAJ : uniform(&seed);
        double t = T0 - TAU * log(u);
        hop[k] = t <= TMAX ? t : -1.0;
        sy_traj tr = {.hop_fs = hop[k], .final_phi = 170.0, .final_r = 5.0, .theta = 0.0,
                      .frustrated_at = -1, .status = FH_TRAJ_DONE, .reason = "tmax"};
        cr_assert_eq(sy_write(dir, k, &tr, DT, TMAX, &err), FH_OK, "%s", err.msg);
        cr_assert_eq(sy_record(e, k, &tr, &err), FH_OK, "%s", err.msg);
    }
    fh_ens_close(e, &err);
    return dir;
}

static void check_decay(int stratified)
{
    const char *dir = make_decay_ensemble(stratified);
    fh_ana_settings s;
    fh_ana_settings_default(&s);
    s.nboot = 300;
    fh_ana_ensemble *e = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_ana_load(dir, &s, &e, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(e->nused, NTRAJ);

    fh_ana_results r;
    cr_assert_eq(fh_ana_compute(e, &s, &r, &err), FH_OK, "%s", err.msg);
    const fh_ana_populations *p = &r.pop;
    cr_assert_eq(p->ngrid, (long)(TMAX / DT) + 1);
    /* populations: exact fractions from the hop frames; bands bracket them; |c|^2 equals them */
    for (long g = 0; g < p->ngrid; g++) {
        long in_s1 = 0;
        for (long k = 0; k < NTRAJ; k++) {
            long hf = hop[k] >= 0 ? (long)ceil(hop[k] / DT - 1e-9) : -1;
            in_s1 += !(hf >= 0 && g >= hf);
        }
        double want = (double)in_s1 / NTRAJ;
        cr_expect(fabs(p->time[g] * FH_AUTIME_FS - g * DT) < 1e-9);
        cr_expect(fabs(p->frac[g * 2 + 1] - want) < 1e-12, "t=%g: %g vs %g", g * DT, p->frac[g * 2 + 1], want);
        cr_expect(fabs(p->frac[g * 2] + p->frac[g * 2 + 1] - 1.0) < 1e-12);
        cr_expect(fabs(p->pop[g * 2 + 1] - want) < 1e-12);
        cr_expect(p->frac_lo[g * 2 + 1] <= want + 1e-12 && want <= p->frac_hi[g * 2 + 1] + 1e-12);
        if (want > 0.2 && want < 0.8)
            cr_expect(p->frac_hi[g * 2 + 1] - p->frac_lo[g * 2 + 1] > 0.05, "a band of finite width");
    }

    const fh_ana_lifetime *l = &r.life;
    cr_assert(l->ok, "%s", l->note);
    double tau = l->tau * FH_AUTIME_FS, dtau = l->tau_err * FH_AUTIME_FS;
    double t0 = l->t0 * FH_AUTIME_FS, dt0 = l->t0_err * FH_AUTIME_FS;
    cr_log_info("tau = %.2f +- %.2f fs (true %.0f), t0 = %.2f +- %.2f fs (true %.0f)", tau, dtau, TAU, t0,
                dt0, T0);
    cr_expect(fabs(tau - TAU) < 3.0 * dtau, "tau %g +- %g vs %g", tau, dtau, TAU);
    /* frames every DT: a hop shows at the next frame, on average DT/2 late */
    cr_expect(fabs(t0 - T0) < 3.0 * dt0 + DT, "t0 %g +- %g vs %g", t0, dt0, T0);
    cr_expect(dtau > 0.4 * TAU / sqrt(NTRAJ) && dtau < 2.5 * TAU / sqrt(NTRAJ), "tau error %g", dtau);
    cr_expect(l->tau_lo * FH_AUTIME_FS < tau && tau < l->tau_hi * FH_AUTIME_FS);
    cr_expect(l->nboot_ok > 0.95 * s.nboot);
    if (stratified) {
        cr_expect(fabs(tau - TAU) < 0.3 * dtau, "noise-free sample: tau %g vs %g", tau, TAU);
        cr_expect(fabs(t0 - (T0 + 0.5 * DT)) < 0.3 * dt0 + 0.5 * DT, "t0 %g", t0);
    }

    /* the same settings give bitwise the same answer */
    fh_ana_results r2;
    cr_assert_eq(fh_ana_compute(e, &s, &r2, &err), FH_OK);
    cr_expect(r2.life.tau == l->tau && r2.life.tau_err == l->tau_err && r2.pop.frac_lo[7] == p->frac_lo[7]);
    fh_ana_results_free(&r2);
    fh_ana_results_free(&r);
    fh_ana_free(e);
    tu_rmdir(dir);
}

Test(analysis_lifetime, random_sample_within_bootstrap_error, .timeout = 120) { check_decay(0); }

Test(analysis_lifetime, exact_quantiles_recover_tau_closely, .timeout = 120) { check_decay(1); }
