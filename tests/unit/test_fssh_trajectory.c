/* The trajectory object as the ensemble runner uses it: energy conservation through hops (2D LVC
 * and Tully model 1), norm conservation in every step, frustrated-hop modes, the monitors and their
 * stop reasons, parameters, bitwise reproducibility, and bitwise checkpoint/restore. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fh_dynamics.h"
#include "fh_units.h"

#include "test_fssh_util.h"

/* LVC from the Franck-Condon point on the upper state, displaced along the coupling mode and with
 * a spread of coupling-mode velocities, so that trajectories pass the conical intersection at
 * various (not vanishing) distances. */
static void lvc_initial(uint64_t i, double x[2], double v[2])
{
    x[0] = -1.0;
    x[1] = 0.15 + 0.3 * fh_dyn_uniform(11, i, 0, 0);
    v[0] = 0.0;
    v[1] = (fh_dyn_uniform(11, i, 0, 1) - 0.5) * 2e-3;
}

/* Energy through hops in 2D (unequal masses, NAC not along the velocity): every accepted hop
 * conserves the total energy to rounding, with rescaling along the NAC and along the velocity,
 * and the total energy over whole trajectories stays within the integrator's error near the
 * cone; without rescaling the same hops change it by the gap, so the test has teeth. */
Test(fssh_trajectory, lvc_energy_conserved_through_hops)
{
    fh_surface *s = make("lvc");
    fh_dyn_rescale modes[3] = {FH_DYN_RESCALE_NAC, FH_DYN_RESCALE_VELOCITY, FH_DYN_RESCALE_NONE};
    for (int m = 0; m < 3; m++) {
        fh_dyn_params p = fh_dyn_params_default();
        p.dt = 2.5;
        p.rescale = modes[m];
        p.econs_step = p.econs_drift = 0; /* measured here instead */
        long hops = 0;
        double worst_drift = 0, worst_hop = 0, smallest_hop = 1, worst_norm = 0;
        for (uint64_t i = 0; i < 30; i++) {
            double x[2], v[2];
            lvc_initial(i, x, v);
            fh_dyn_traj *tr = start(s, &p, 1, i, x, v, 1);
            double e0 = fh_dyn_traj_total_energy(tr), jumps = 0;
            for (int step = 0; step < 2000; step++) {
                fh_dyn_step_info info;
                cr_assert_eq(fh_dyn_traj_step(tr, &info, NULL), FH_OK);
                cr_assert_eq(info.stop, FH_DYN_RUNNING, "%s", fh_dyn_traj_stop_message(tr));
                if (info.hopped) {
                    double ea = fh_dyn_traj_energies(tr)[info.hop_from];
                    double eb = fh_dyn_traj_energies(tr)[info.hop_to];
                    double want = modes[m] == FH_DYN_RESCALE_NONE ? eb - ea : 0.0;
                    worst_hop = fmax(worst_hop, fabs(info.hop_energy_change - want));
                    smallest_hop = fmin(smallest_hop, fabs(info.hop_energy_change));
                    jumps += info.hop_energy_change;
                }
                worst_drift = fmax(worst_drift, fabs(fh_dyn_traj_total_energy(tr) - e0 - jumps));
                worst_norm = fmax(worst_norm, info.norm_error);
            }
            hops += fh_dyn_traj_nhops(tr);
            fh_dyn_traj_free(tr);
        }
        const char *name = fh_dyn_rescale_name(modes[m]);
        cr_assert_geq(hops, 20, "%s: only %ld hops, nothing tested", name, hops);
        cr_assert(worst_hop < 1e-15, "%s: a hop changed the energy by %g Eh", name, worst_hop);
        cr_assert(worst_drift < 5e-4, "%s: total energy drifted by %g Eh", name, worst_drift);
        cr_assert(worst_norm < 1e-10, "%s: norm error %g in one step", name, worst_norm);
        if (modes[m] == FH_DYN_RESCALE_NONE)
            cr_assert(smallest_hop > 1e-6, "unrescaled hops must change the energy by the gap");
    }
    fh_surface_free(s);
}

/* Without NACs (kappa-TDC) a hop rescales the whole velocity (the direction is the momentum): the
 * energy is conserved and the velocity keeps its direction. The velocity before the hop comes from
 * replaying the step from a checkpoint with rescale = none. */
Test(fssh_trajectory, ktdc_hops_scale_the_velocity)
{
    fh_surface *s = make("lvc");
    fh_dyn_params p = fh_dyn_params_default();
    p.dt = 2.5;
    p.coupling = FH_DYN_COUPLING_KTDC;
    p.ktdc_gap = 1.0;
    fh_dyn_params pn = p;
    pn.rescale = FH_DYN_RESCALE_NONE;
    fh_dyn_traj *replay = fh_dyn_traj_alloc(s, &pn, 1, 0, NULL);
    double *ck = malloc(fh_dyn_traj_state_size(replay) * sizeof *ck);
    long hops = 0;
    for (uint64_t i = 0; i < 30; i++) {
        double x[2], v[2];
        lvc_initial(i, x, v);
        fh_dyn_traj *tr = start(s, &p, 1, i, x, v, 1);
        cr_assert_eq(fh_dyn_traj_uses_nac(tr), 0);
        for (int step = 0; step < 2000; step++) {
            fh_dyn_step_info info, rinfo;
            fh_dyn_traj_save(tr, ck);
            cr_assert_eq(fh_dyn_traj_step(tr, &info, NULL), FH_OK);
            if (!info.hopped) continue;
            hops++;
            cr_assert(fabs(info.hop_energy_change) < 1e-15, "%g", info.hop_energy_change);
            cr_assert_eq(fh_dyn_traj_restore(replay, ck, NULL), FH_OK);
            cr_assert_eq(fh_dyn_traj_step(replay, &rinfo, NULL), FH_OK);
            cr_assert(rinfo.hopped && rinfo.hop_to == info.hop_to);
            const double *va = fh_dyn_traj_v(tr), *vb = fh_dyn_traj_v(replay);
            double cross = va[0] * vb[1] - va[1] * vb[0], dot = va[0] * vb[0] + va[1] * vb[1];
            cr_assert(dot > 0 && fabs(cross) < 1e-12 * dot, "velocity turned by the hop");
            double ratio = sqrt(fh_dyn_traj_kinetic(tr) / fh_dyn_traj_kinetic(replay));
            cr_assert(fabs(va[0] - ratio * vb[0]) < 1e-12 * fabs(vb[0]) + 1e-18);
        }
        fh_dyn_traj_free(tr);
    }
    cr_assert_geq(hops, 10, "only %ld kappa-TDC hops", hops);
    free(ck);
    fh_dyn_traj_free(replay);
    fh_surface_free(s);
}

/* Tully model 1 through its crossing, rescaling along the NAC (with EDC) and along the velocity:
 * hops conserve energy to rounding and the total energy error is the Verlet error, which falls
 * as dt^2 (halving dt divides it by about 4). */
Test(fssh_trajectory, tully1_energy_and_norm_conserved_through_hops)
{
    fh_surface *s = make("tully1");
    fh_dyn_rescale modes[2] = {FH_DYN_RESCALE_NAC, FH_DYN_RESCALE_VELOCITY};
    for (int m = 0; m < 2; m++) {
        double worst_dt[2] = {0, 0};
        for (int h = 0; h < 2; h++) {
            fh_dyn_params p = fh_dyn_params_default();
            p.dt = h ? 1.0 : 2.0;
            p.rescale = modes[m];
            p.decoherence = m ? FH_DYN_DECOHERENCE_NONE : FH_DYN_DECOHERENCE_EDC;
            long hops = 0;
            double worst_hop = 0, worst_norm = 0;
            for (uint64_t i = 0; i < 40; i++) {
                double x = -6, v = 16.0 / 2000;
                fh_dyn_traj *tr = start(s, &p, 8, i, &x, &v, 0);
                double e0 = fh_dyn_traj_total_energy(tr);
                while (fabs(fh_dyn_traj_x(tr)[0]) < 6.5) {
                    fh_dyn_step_info info;
                    cr_assert_eq(fh_dyn_traj_step(tr, &info, NULL), FH_OK);
                    worst_dt[h] = fmax(worst_dt[h], fabs(fh_dyn_traj_total_energy(tr) - e0));
                    worst_norm = fmax(worst_norm, info.norm_error);
                    if (info.hopped) worst_hop = fmax(worst_hop, fabs(info.hop_energy_change));
                }
                hops += fh_dyn_traj_nhops(tr);
                fh_dyn_traj_free(tr);
            }
            cr_assert_geq(hops, 10, "%s: %ld hops", fh_dyn_rescale_name(modes[m]), hops);
            cr_assert(worst_hop < 1e-16, "hop energy change %g", worst_hop);
            cr_assert(worst_norm < 1e-10, "norm error %g", worst_norm);
        }
        cr_assert(worst_dt[0] < 3e-6, "%s: energy error %g Eh at dt = 2", fh_dyn_rescale_name(modes[m]),
                  worst_dt[0]);
        cr_assert(worst_dt[1] < worst_dt[0] / 3, "%s: error %g at dt = 1 vs %g at dt = 2",
                  fh_dyn_rescale_name(modes[m]), worst_dt[1], worst_dt[0]);
    }
    fh_surface_free(s);
}

/* Frustrated hops in Tully model 1 below the upper state's threshold (k = 6, kinetic energy
 * 0.009 Eh < the 0.01-0.02 Eh gap): keep the velocity, reverse it (in 1D the component along d is
 * all of it), or reverse it only under the Jasper-Truhlar criterion. Trajectories run in lock step
 * are identical up to their first frustrated hop, where the modes must differ as specified. */
Test(fssh_trajectory, frustrated_hop_modes)
{
    fh_surface *s = make("tully1");
    fh_dyn_params pk = fh_dyn_params_default(), pr, pj;
    pk.dt = 4;
    pr = pk, pj = pk;
    pr.frustrated = FH_DYN_FRUSTRATED_REVERSE;
    pj.frustrated = FH_DYN_FRUSTRATED_REVERSE_JT;
    int seen = 0, jt_reversed = 0, jt_kept = 0;
    for (uint64_t i = 0; i < 200 && seen < 20; i++) {
        double x = -5, v = 6.0 / 2000;
        fh_dyn_traj *a = start(s, &pk, 4, i, &x, &v, 0), *b = start(s, &pr, 4, i, &x, &v, 0),
                    *c = start(s, &pj, 4, i, &x, &v, 0);
        while (fabs(fh_dyn_traj_x(a)[0]) < 5.5) {
            fh_dyn_step_info ia, ib, ic;
            cr_assert_eq(fh_dyn_traj_step(a, &ia, NULL), FH_OK);
            cr_assert_eq(fh_dyn_traj_step(b, &ib, NULL), FH_OK);
            cr_assert_eq(fh_dyn_traj_step(c, &ic, NULL), FH_OK);
            cr_assert_eq(ia.frustrated, ib.frustrated);
            cr_assert_eq(ia.frustrated, ic.frustrated);
            if (!ia.frustrated) {
                cr_assert_eq(fh_dyn_traj_v(a)[0], fh_dyn_traj_v(b)[0]);
                continue;
            }
            seen++;
            double xa = fh_dyn_traj_x(a)[0], va = fh_dyn_traj_v(a)[0];
            cr_assert_eq(ia.reversed, 0);
            cr_assert_eq(ib.reversed, 1);
            cr_assert_eq(xa, fh_dyn_traj_x(b)[0]);
            cr_assert(fabs(fh_dyn_traj_v(b)[0] + va) < 1e-15 * fabs(va));
            /* Jasper-Truhlar: reverse iff (F_b.d)(v.d) < 0 with F_b the target state's force */
            double e[2], g[2], d;
            fh_surface_eval req = {.x = &xa, .grad_mask = 1u << ia.hop_to, .want_nac = 1,
                                   .energy = e, .grad = g, .nac = &d};
            cr_assert_eq(fh_surface_evaluate(s, &req, NULL), FH_OK);
            int want = (-g[ia.hop_to] * d) * (va * d) < 0;
            cr_assert_eq(ic.reversed, want);
            if (want) jt_reversed++; else jt_kept++;
            break;
        }
        fh_dyn_traj_free(a);
        fh_dyn_traj_free(b);
        fh_dyn_traj_free(c);
    }
    cr_assert_geq(seen, 10, "only %d frustrated hops seen", seen);
    cr_assert_gt(jt_reversed, 0);
    cr_assert_gt(jt_kept, 0, "the criterion never kept the velocity: not tested");
    fh_surface_free(s);
}

/* --- monitors --- */

Test(fssh_trajectory, energy_monitors_stop_with_a_reason)
{
    fh_surface *s = make("lvc");
    fh_dyn_params p = fh_dyn_params_default();
    p.dt = 5;
    p.econs_step = 1e-12;
    double x[2] = {-1, 0.01}, v[2] = {0, 0};
    fh_dyn_traj *tr = start(s, &p, 1, 0, x, v, 1);
    fh_dyn_step_info info;
    cr_assert_eq(fh_dyn_traj_step(tr, &info, NULL), FH_OK);
    cr_assert_eq(info.stop, FH_DYN_STOP_ECONS_STEP);
    cr_assert_eq(fh_dyn_traj_stop_reason(tr), FH_DYN_STOP_ECONS_STEP);
    cr_assert(strstr(fh_dyn_traj_stop_message(tr), "econs_step"), "%s", fh_dyn_traj_stop_message(tr));
    fh_err err;
    cr_assert_eq(fh_dyn_traj_step(tr, &info, &err), FH_EINPUT); /* no stepping past a stop */
    cr_assert(strstr(err.msg, "econs_step"), "%s", err.msg);
    fh_dyn_traj_free(tr);

    p.econs_step = 0; /* off */
    p.econs_drift = 1e-9;
    tr = start(s, &p, 1, 0, x, v, 1);
    int n = 0;
    while (fh_dyn_traj_stop_reason(tr) == FH_DYN_RUNNING && n < 1000) {
        cr_assert_eq(fh_dyn_traj_step(tr, &info, NULL), FH_OK);
        n++;
    }
    cr_assert_eq(fh_dyn_traj_stop_reason(tr), FH_DYN_STOP_ECONS_DRIFT);
    cr_assert_lt(n, 1000);
    fh_dyn_traj_free(tr);

    /* the default thresholds (0.5 eV) let a normal trajectory run */
    p = fh_dyn_params_default();
    p.dt = 5;
    tr = start(s, &p, 1, 0, x, v, 1);
    for (int i = 0; i < 500; i++) cr_assert_eq(fh_dyn_traj_step(tr, &info, NULL), FH_OK);
    cr_assert_eq(fh_dyn_traj_stop_reason(tr), FH_DYN_RUNNING);
    cr_assert_str_eq(fh_dyn_traj_stop_message(tr), "");
    fh_dyn_traj_free(tr);
    fh_surface_free(s);
}

Test(fssh_trajectory, tmax_and_user_stop)
{
    fh_surface *s = make("tully1");
    fh_dyn_params p = fh_dyn_params_default();
    p.dt = 10;
    p.tmax = 100;
    double x = -5, v = 0.01;
    fh_dyn_traj *tr = start(s, &p, 1, 0, &x, &v, 0);
    int n = 0;
    while (fh_dyn_traj_stop_reason(tr) == FH_DYN_RUNNING) {
        cr_assert_eq(fh_dyn_traj_step(tr, NULL, NULL), FH_OK);
        n++;
    }
    cr_assert_eq(n, 10);
    cr_assert_eq(fh_dyn_traj_stop_reason(tr), FH_DYN_STOP_TMAX);
    cr_assert_eq(fh_dyn_traj_time(tr), 100.0);
    fh_dyn_traj_free(tr);
    p.tmax = 0;
    tr = start(s, &p, 1, 0, &x, &v, 0);
    cr_assert_eq(fh_dyn_traj_step(tr, NULL, NULL), FH_OK);
    fh_dyn_traj_stop(tr, "left the box");
    cr_assert_eq(fh_dyn_traj_stop_reason(tr), FH_DYN_STOP_USER);
    cr_assert_str_eq(fh_dyn_traj_stop_message(tr), "left the box");
    cr_assert_str_eq(fh_dyn_stop_name(FH_DYN_STOP_USER), "user");
    fh_dyn_traj_free(tr);
    fh_surface_free(s);
}

/* Test providers: energies {0, 1}; beyond x = 0.5 either a NaN energy, a force so large that the
 * velocity overflows, or a committee spread growing with x. */
typedef struct {
    int kind; /* 0 NaN energy, 1 huge force, 2 spread */
} bad_impl;

static int bad_eval(fh_surface *self, fh_surface_eval *req, fh_err *err)
{
    (void)err;
    const bad_impl *b = self->impl;
    double x = req->x[0];
    req->energy[0] = (b->kind == 0 && x > 0.5) ? NAN : 0.0;
    req->energy[1] = 1.0;
    for (int st = 0; st < 2; st++)
        if (req->grad_mask >> st & 1u) req->grad[st] = (b->kind == 1 && x > 0.5) ? -1e308 : 0.0;
    if (req->want_nac) req->nac[0] = 0.0;
    if (req->energy_std) req->energy_std[0] = req->energy_std[1] = 0.01 * fabs(x);
    return FH_OK;
}

static fh_surface bad_surface(bad_impl *impl, double *mass)
{
    fh_surface s = {0};
    s.name = "bad-test";
    s.nstates = 2;
    s.ndof = 1;
    s.caps = FH_CAP_ENERGY | FH_CAP_GRADIENT | FH_CAP_NAC | (impl->kind == 2 ? FH_CAP_SPREAD : 0);
    s.mass = mass;
    s.eval = bad_eval;
    s.impl = impl;
    return s;
}

static fh_dyn_stop run_until_stop(fh_surface *s, const fh_dyn_params *p, fh_dyn_traj **out)
{
    double x = 0, v = 0.05;
    fh_dyn_traj *tr = start(s, p, 1, 0, &x, &v, 0);
    for (int i = 0; i < 1000 && fh_dyn_traj_stop_reason(tr) == FH_DYN_RUNNING; i++)
        cr_assert_eq(fh_dyn_traj_step(tr, NULL, NULL), FH_OK);
    *out = tr;
    return fh_dyn_traj_stop_reason(tr);
}

Test(fssh_trajectory, nan_provider_failure_and_spread_stop_the_trajectory)
{
    double mass = 1.0;
    fh_dyn_params p = fh_dyn_params_default();
    p.dt = 1;
    fh_dyn_traj *tr;

    bad_impl nan_energy = {0};
    fh_surface s = bad_surface(&nan_energy, &mass);
    cr_assert_eq(run_until_stop(&s, &p, &tr), FH_DYN_STOP_PROVIDER);
    cr_assert(strstr(fh_dyn_traj_stop_message(tr), "non-finite energy"), "%s",
              fh_dyn_traj_stop_message(tr));
    cr_assert(fh_dyn_traj_x(tr)[0] <= 0.5); /* the bad point was never accepted */
    fh_dyn_traj_free(tr);

    bad_impl huge = {1};
    s = bad_surface(&huge, &mass);
    cr_assert_eq(run_until_stop(&s, &p, &tr), FH_DYN_STOP_NAN);
    cr_assert(strstr(fh_dyn_traj_stop_message(tr), "non-finite"), "%s", fh_dyn_traj_stop_message(tr));
    fh_dyn_traj_free(tr);

    bad_impl spread = {2};
    s = bad_surface(&spread, &mass);
    p.spread_max = 0.005;
    cr_assert_eq(run_until_stop(&s, &p, &tr), FH_DYN_STOP_SPREAD);
    cr_assert(fh_dyn_traj_energy_spread(tr) > 0.005 && fh_dyn_traj_x(tr)[0] > 0.5);
    fh_dyn_traj_free(tr);
    p.spread_max = 0; /* off */
    double x = 0, v = 0.05;
    tr = start(&s, &p, 1, 0, &x, &v, 0);
    for (int i = 0; i < 100; i++) cr_assert_eq(fh_dyn_traj_step(tr, NULL, NULL), FH_OK);
    cr_assert_eq(fh_dyn_traj_stop_reason(tr), FH_DYN_RUNNING);
    fh_dyn_traj_free(tr);
}

/* --- parameters --- */

Test(fssh_trajectory, parameters_defaults_and_validation)
{
    fh_dyn_params p = fh_dyn_params_default();
    cr_assert(fabs(p.dt - 0.5 / FH_AUTIME_FS) < 1e-9);
    cr_assert_eq(p.nsubsteps, 20);
    cr_assert_eq(p.coupling, FH_DYN_COUPLING_AUTO);
    cr_assert_eq(p.rescale, FH_DYN_RESCALE_NAC);
    cr_assert_eq(p.frustrated, FH_DYN_FRUSTRATED_KEEP);
    cr_assert_eq(p.decoherence, FH_DYN_DECOHERENCE_NONE);
    cr_assert_eq(p.edc_c, 0.1);
    cr_assert(fabs(p.econs_step * FH_HARTREE_EV - 0.5) < 1e-12);
    cr_assert_eq(fh_dyn_params_check(&p, NULL), FH_OK);
    fh_err err;
    fh_dyn_params q = p;
    q.dt = 0;
    cr_assert_eq(fh_dyn_params_check(&q, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "dt"), "%s", err.msg);
    q = p;
    q.nsubsteps = 0;
    cr_assert_eq(fh_dyn_params_check(&q, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "nsubsteps"), "%s", err.msg);
    q = p;
    q.edc_c = -1;
    cr_assert_eq(fh_dyn_params_check(&q, &err), FH_EINPUT);

    fh_dyn_coupling c;
    fh_dyn_rescale r;
    fh_dyn_frustrated f;
    fh_dyn_decoherence d;
    cr_assert_eq(fh_dyn_coupling_parse("KTDC", &c), 0);
    cr_assert_eq(c, FH_DYN_COUPLING_KTDC);
    cr_assert_str_eq(fh_dyn_coupling_name(c), "ktdc");
    cr_assert_eq(fh_dyn_rescale_parse("velocity", &r), 0);
    cr_assert_str_eq(fh_dyn_rescale_name(r), "velocity");
    cr_assert_eq(fh_dyn_frustrated_parse("reverse_jt", &f), 0);
    cr_assert_str_eq(fh_dyn_frustrated_name(f), "reverse_jt");
    cr_assert_eq(fh_dyn_decoherence_parse("edc", &d), 0);
    cr_assert_str_eq(fh_dyn_decoherence_name(d), "edc");
    cr_assert_eq(fh_dyn_decoherence_parse("afssh", &d), -1);

    /* coupling = nac needs NACs; auto falls back to kappa-TDC */
    double mass = 1.0;
    bad_impl ok = {2};
    fh_surface s = bad_surface(&ok, &mass);
    s.caps &= ~(unsigned)FH_CAP_NAC;
    q = p;
    q.coupling = FH_DYN_COUPLING_NAC;
    cr_assert_null(fh_dyn_traj_alloc(&s, &q, 1, 0, &err));
    cr_assert(strstr(err.msg, "NAC"), "%s", err.msg);
    fh_dyn_traj *tr = fh_dyn_traj_alloc(&s, &p, 1, 0, &err);
    cr_assert_not_null(tr);
    cr_assert_eq(fh_dyn_traj_uses_nac(tr), 0);
    cr_assert_null(fh_dyn_traj_nac(tr));
    double x = 0, v = 0, bad = NAN;
    cr_assert_eq(fh_dyn_traj_start(tr, &x, &v, 2, &err), FH_EINPUT);
    cr_assert_eq(fh_dyn_traj_start(tr, &bad, &v, 0, &err), FH_EINPUT);
    cr_assert_eq(fh_dyn_traj_step(tr, NULL, &err), FH_EINPUT); /* not started */
    fh_dyn_traj_free(tr);
}

/* --- reproducibility and checkpoints --- */

static void run_steps(fh_dyn_traj *tr, int n, fh_dyn_step_info *log)
{
    for (int i = 0; i < n; i++) cr_assert_eq(fh_dyn_traj_step(tr, log ? &log[i] : NULL, NULL), FH_OK);
}

Test(fssh_trajectory, fixed_seed_is_bitwise_reproducible)
{
    fh_surface *s = make("lvc");
    fh_dyn_params p = fh_dyn_params_default();
    p.dt = 5;
    p.decoherence = FH_DYN_DECOHERENCE_EDC;
    double x[2], v[2];
    lvc_initial(3, x, v);
    fh_dyn_traj *a = start(s, &p, 123, 3, x, v, 1), *b = start(s, &p, 123, 3, x, v, 1),
                *c = start(s, &p, 123, 4, x, v, 1);
    fh_dyn_step_info la[600], lb[600], lc[600];
    run_steps(a, 600, la);
    run_steps(b, 600, lb);
    run_steps(c, 600, lc);
    size_t n = fh_dyn_traj_state_size(a);
    double *sa = malloc(n * sizeof *sa), *sb = malloc(n * sizeof *sb);
    fh_dyn_traj_save(a, sa);
    fh_dyn_traj_save(b, sb);
    cr_assert_eq(memcmp(sa, sb, n * sizeof *sa), 0);
    cr_assert_eq(memcmp(la, lb, sizeof la), 0);
    /* another trajectory index draws other numbers */
    int same = 0;
    for (int i = 0; i < 600; i++) same += la[i].random == lc[i].random;
    cr_assert_eq(same, 0);
    cr_assert_geq(fh_dyn_traj_nhops(a), 1);
    free(sa);
    free(sb);
    fh_dyn_traj_free(a);
    fh_dyn_traj_free(b);
    fh_dyn_traj_free(c);
    fh_surface_free(s);
}

static void check_restart(const char *type, fh_dyn_params p, const double *x, const double *v,
                          int state, int before, int after)
{
    fh_surface *s = make(type);
    fh_dyn_traj *a = start(s, &p, 9, 17, x, v, state);
    run_steps(a, before, NULL);
    size_t n = fh_dyn_traj_state_size(a);
    double *ck = malloc(n * sizeof *ck), *sa = malloc(n * sizeof *sa), *sb = malloc(n * sizeof *sb);
    fh_dyn_traj_save(a, ck);
    long hops_at_ck = fh_dyn_traj_nhops(a);
    fh_dyn_step_info *la = malloc(after * sizeof *la), *lb = malloc(after * sizeof *lb);
    run_steps(a, after, la);
    fh_dyn_traj_save(a, sa);

    /* a fresh object with another seed and index: the checkpoint carries them */
    fh_err err;
    fh_dyn_traj *b = fh_dyn_traj_alloc(s, &p, 1, 2, &err);
    cr_assert_eq(fh_dyn_traj_restore(b, ck, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(fh_dyn_traj_seed(b), 9);
    cr_assert_eq(fh_dyn_traj_index(b), 17);
    run_steps(b, after, lb);
    fh_dyn_traj_save(b, sb);
    cr_assert_eq(memcmp(sa, sb, n * sizeof *sa), 0, "%s: restored trajectory differs", type);
    cr_assert_eq(memcmp(la, lb, after * sizeof *la), 0);
    cr_assert_gt(fh_dyn_traj_nhops(a), hops_at_ck, "%s: no hop after the checkpoint", type);
    free(ck), free(sa), free(sb), free(la), free(lb);
    fh_dyn_traj_free(a);
    fh_dyn_traj_free(b);
    fh_surface_free(s);
}

Test(fssh_trajectory, checkpoint_restore_is_bitwise_identical)
{
    double x[2], v[2];
    fh_dyn_params p = fh_dyn_params_default();
    p.dt = 5;
    p.decoherence = FH_DYN_DECOHERENCE_EDC;
    lvc_initial(5, x, v);
    check_restart("lvc", p, x, v, 1, 37, 700); /* NACs with extrapolated sign tracking */
    p.coupling = FH_DYN_COUPLING_KTDC;          /* energy history for kappa-TDC */
    p.rescale = FH_DYN_RESCALE_VELOCITY;
    p.ktdc_gap = 1.0;
    check_restart("lvc", p, x, v, 1, 37, 700);
    p = fh_dyn_params_default();
    p.dt = 2;
    double x1 = -4, v1 = 0.01;
    check_restart("tully1", p, &x1, &v1, 0, 150, 400);
}

Test(fssh_trajectory, checkpoint_is_refused_by_another_kind_of_trajectory)
{
    fh_surface *lvc = make("lvc"), *t1 = make("tully1");
    fh_dyn_params p = fh_dyn_params_default();
    double x[2] = {-1, 0}, v[2] = {0, 0};
    fh_dyn_traj *a = start(lvc, &p, 1, 0, x, v, 1);
    size_t n = fh_dyn_traj_state_size(a);
    double *ck = malloc(n * sizeof *ck);
    fh_dyn_traj_save(a, ck);
    fh_err err;
    fh_dyn_traj *b = fh_dyn_traj_alloc(t1, &p, 1, 0, &err);
    cr_assert_eq(fh_dyn_traj_restore(b, ck, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "checkpoint"), "%s", err.msg);
    fh_dyn_params q = p; /* same surface, kappa-TDC: other layout */
    q.coupling = FH_DYN_COUPLING_KTDC;
    fh_dyn_traj *c = fh_dyn_traj_alloc(lvc, &q, 1, 0, &err);
    cr_assert_eq(fh_dyn_traj_restore(c, ck, &err), FH_EINPUT);
    ck[0] = 1.0; /* not a checkpoint */
    fh_dyn_traj *d = fh_dyn_traj_alloc(lvc, &p, 1, 0, &err);
    cr_assert_eq(fh_dyn_traj_restore(d, ck, &err), FH_EINPUT);
    free(ck);
    fh_dyn_traj_free(a);
    fh_dyn_traj_free(b);
    fh_dyn_traj_free(c);
    fh_dyn_traj_free(d);
    fh_surface_free(lvc);
    fh_surface_free(t1);
}
