/* The pieces of the surface-hopping step and the trajectory object: unitary electronic propagation
 * (against an independent Runge-Kutta integration, and to 1e-10 per step in real trajectories),
 * energy conservation through hops in 1D and 2D, velocity rescaling and frustrated-hop handling,
 * EDC, kappa-TDC on a known gap, NAC sign tracking, the monitors and their stop reasons, Philox
 * streams, bitwise reproducibility and bitwise checkpoint/restore. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fh_dyn_internal.h"
#include "fh_dynamics.h"
#include "fh_surf_two_state.h"
#include "fh_units.h"

#include "test_fssh_util.h"

/* --- random numbers --- */

Test(fssh_dynamics, philox_streams)
{
    double a = fh_dyn_uniform(1, 0, 1, 0);
    cr_assert_eq(a, fh_dyn_uniform(1, 0, 1, 0));
    cr_assert_neq(a, fh_dyn_uniform(2, 0, 1, 0));
    cr_assert_neq(a, fh_dyn_uniform(1, 1, 1, 0));
    cr_assert_neq(a, fh_dyn_uniform(1, 0, 2, 0));
    cr_assert_neq(a, fh_dyn_uniform(1, 0, 1, 1));
    double sum = 0, sum2 = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = fh_dyn_uniform(42, 7, (uint64_t)i, i & 3);
        cr_assert(u >= 0.0 && u < 1.0);
        sum += u, sum2 += u * u;
    }
    /* mean 1/2 and variance 1/12 within 5 standard errors */
    cr_assert(fabs(sum / n - 0.5) < 5 * sqrt(1.0 / 12 / n));
    cr_assert(fabs(sum2 / n - sum * sum / n / n - 1.0 / 12) < 5 * 0.0745 / sqrt(n));
}

/* --- electrons --- */

/* Independent reference: RK4 with a tiny step for i dc/dt = H c, H = diag(e) - iT. */
static void rk4_reference(int n, const double *e, const double *tdc, double t, double *c)
{
    int steps = 20000;
    double h = t / steps;
    double k[4][16], y[16];
    for (int s = 0; s < steps; s++) {
        for (int stage = 0; stage < 4; stage++) {
            double f = stage == 0 ? 0 : stage == 3 ? 1 : 0.5;
            for (int i = 0; i < 2 * n; i++) y[i] = c[i] + (stage ? f * h * k[stage - 1][i] : 0);
            for (int i = 0; i < n; i++) {
                /* dc_i/dt = -i e_i c_i - sum_j T_ij c_j */
                double re = e[i] * y[2 * i + 1], im = -e[i] * y[2 * i];
                for (int j = 0; j < n; j++) {
                    if (j == i) continue;
                    double tij = i < j ? tdc[fh_pair_index(n, i, j)] : -tdc[fh_pair_index(n, j, i)];
                    re -= tij * y[2 * j];
                    im -= tij * y[2 * j + 1];
                }
                k[stage][2 * i] = re;
                k[stage][2 * i + 1] = im;
            }
        }
        for (int i = 0; i < 2 * n; i++)
            c[i] += h / 6 * (k[0][i] + 2 * k[1][i] + 2 * k[2][i] + k[3][i]);
    }
}

static void check_exponential(int n)
{
    fh_dyn_elec_ws *ws = fh_dyn_elec_ws_alloc(n);
    cr_assert_not_null(ws);
    double e[4] = {-0.03, 0.01, 0.025, 0.04}, tdc[6] = {0.02, -0.013, 0.007, 0.011, -0.004, 0.009};
    double c[8] = {0.6, 0.1, -0.3, 0.5, 0.2, -0.1, 0.3, 0.35}, ref[8];
    double norm = 0;
    for (int i = 0; i < 2 * n; i++) norm += c[i] * c[i];
    for (int i = 0; i < 2 * n; i++) c[i] /= sqrt(norm);
    memcpy(ref, c, sizeof c);
    fh_dyn_elec_substep(ws, n, e, tdc, 37.0, c);
    rk4_reference(n, e, tdc, 37.0, ref);
    for (int i = 0; i < 2 * n; i++)
        cr_assert(fabs(c[i] - ref[i]) < 1e-10, "n = %d: c[%d] %.12f vs RK4 %.12f", n, i, c[i], ref[i]);
    /* unitarity over many substeps */
    for (int s = 0; s < 100000; s++) fh_dyn_elec_substep(ws, n, e, tdc, 0.5, c);
    norm = 0;
    for (int i = 0; i < 2 * n; i++) norm += c[i] * c[i];
    cr_assert(fabs(norm - 1) < 1e-10, "n = %d: norm drifted to %.15f", n, norm);
    fh_dyn_elec_ws_free(ws);
}

Test(fssh_dynamics, electronic_propagator_is_the_exact_exponential)
{
    check_exponential(2); /* closed form */
    check_exponential(3); /* GSL Hermitian eigensolver */
    check_exponential(4);
}

/* The fewest-switches probability is the population flux out of the active state: with constant
 * e and T over a short step in which that population only falls, the g summed over the substeps is
 * the integral of (-dp/dt)/p, i.e. ln(p0/p1). */
Test(fssh_dynamics, hop_probability_is_the_population_flux)
{
    fh_dyn_elec_ws *ws = fh_dyn_elec_ws_alloc(2);
    double e[2] = {0, 0.01}, tdc[1] = {0.003}, g[2];
    double c[4] = {0.9, 0.0, 0.3, 0.31};
    double n0 = c[0] * c[0] + c[1] * c[1] + c[2] * c[2] + c[3] * c[3];
    for (int i = 0; i < 4; i++) c[i] /= sqrt(n0);
    double p0 = c[0] * c[0] + c[1] * c[1];
    fh_dyn_elec_step(ws, 2, 1000, 1.0, e, e, tdc, tdc, 0, c, g);
    double p1 = c[0] * c[0] + c[1] * c[1];
    cr_assert(p1 < p0);
    /* sum of dtau (-dp/dt)/p = ln(p0/p1) */
    cr_assert(fabs(g[1] - log(p0 / p1)) < 1e-4 * log(p0 / p1), "g %.10g, ln(p0/p1) %.10g", g[1],
              log(p0 / p1));
    cr_assert_eq(g[0], 0.0);
    fh_dyn_elec_ws_free(ws);
}

Test(fssh_dynamics, hop_target_selection)
{
    double g[3] = {0.1, 0.0, 0.3}; /* active state 1 */
    cr_assert_eq(fh_dyn_hop_target(3, 1, g, 0.05), 0);
    cr_assert_eq(fh_dyn_hop_target(3, 1, g, 0.1), 2);
    cr_assert_eq(fh_dyn_hop_target(3, 1, g, 0.39), 2);
    cr_assert_eq(fh_dyn_hop_target(3, 1, g, 0.4), 1);
    double big[2] = {0.0, 3.0}; /* total > 1 is scaled to 1 */
    cr_assert_eq(fh_dyn_hop_target(2, 0, big, 0.999), 1);
}

/* --- nuclei --- */

Test(fssh_dynamics, rescaling_conserves_energy_exactly)
{
    double m[3] = {1000, 2000, 25000}, v[3] = {0.01, -0.004, 0.0007}, d[3] = {0.3, 1.1, -0.2};
    double t0 = fh_dyn_kinetic(3, m, v), w[3];
    memcpy(w, v, sizeof v);
    cr_assert_eq(fh_dyn_rescale_along(3, m, w, d, 1e-3), 1);
    cr_assert(fabs(fh_dyn_kinetic(3, m, w) - (t0 - 1e-3)) < 1e-15);
    /* the change is along M^-1 d */
    double g0 = (v[0] - w[0]) * m[0] / d[0];
    for (int k = 1; k < 3; k++) cr_assert(fabs((v[k] - w[k]) * m[k] / d[k] - g0) < 1e-12 * fabs(g0));
    /* the smaller of the two roots: the velocity component along d keeps its sign */
    double b0 = 0, b1 = 0;
    for (int k = 0; k < 3; k++) b0 += v[k] * d[k], b1 += w[k] * d[k];
    cr_assert(b0 * b1 > 0);
    /* a hop down gives energy back */
    memcpy(w, v, sizeof v);
    cr_assert_eq(fh_dyn_rescale_along(3, m, w, d, -0.02), 1);
    cr_assert(fabs(fh_dyn_kinetic(3, m, w) - (t0 + 0.02)) < 1e-15);
    /* not enough kinetic energy along d: refused, v untouched */
    memcpy(w, v, sizeof v);
    cr_assert_eq(fh_dyn_rescale_along(3, m, w, d, t0), 0);
    cr_assert_eq(memcmp(w, v, sizeof v), 0);
    /* reflection keeps the kinetic energy and flips the component along d */
    memcpy(w, v, sizeof v);
    fh_dyn_reflect_along(3, m, w, d);
    cr_assert(fabs(fh_dyn_kinetic(3, m, w) - t0) < 1e-15);
    b1 = 0;
    for (int k = 0; k < 3; k++) b1 += w[k] * d[k];
    cr_assert(fabs(b1 + b0) < 1e-14);
}

/* --- decoherence --- */

Test(fssh_dynamics, edc_damps_inactive_states_and_keeps_the_norm)
{
    double e[3] = {0.0, 0.02, 0.05};
    double c[6] = {0.5, 0.2, 0.4, -0.3, 0.1, 0.6};
    double n0 = 0;
    for (int i = 0; i < 6; i++) n0 += c[i] * c[i];
    double orig[6];
    memcpy(orig, c, sizeof c);
    double ekin = 0.05, cp = 0.1, dt = 10;
    fh_dyn_edc(3, 1, e, ekin, cp, dt, c);
    double n1 = 0;
    for (int i = 0; i < 6; i++) n1 += c[i] * c[i];
    cr_assert(fabs(n1 - n0) < 1e-15);
    for (int j = 0; j < 3; j += 2) {
        double tau = (1 + cp / ekin) / fabs(e[j] - e[1]);
        double f = exp(-dt / tau);
        cr_assert(fabs(c[2 * j] - f * orig[2 * j]) < 1e-15 && fabs(c[2 * j + 1] - f * orig[2 * j + 1]) < 1e-15);
    }
    /* the active amplitude keeps its phase and grows */
    cr_assert(fabs(c[2] * orig[3] - c[3] * orig[2]) < 1e-15);
    cr_assert(c[2] * c[2] + c[3] * c[3] > orig[2] * orig[2] + orig[3] * orig[3]);
    /* no kinetic energy: nothing happens */
    memcpy(c, orig, sizeof c);
    fh_dyn_edc(3, 1, e, 0.0, cp, dt, c);
    cr_assert_eq(memcmp(c, orig, sizeof c), 0);
}

/* --- couplings --- */

/* On a Landau-Zener gap G(t) = sqrt(a^2 t^2 + D^2) the exact coupling is a D / (2 G^2). */
Test(fssh_dynamics, ktdc_on_a_landau_zener_gap)
{
    double a = 1e-4, D = 0.01, dt = 0.5, tdc[1];
    for (double t = -300; t <= 300; t += 37) {
        double e_new[2] = {0, sqrt(a * a * t * t + D * D)};
        double e_cur[2] = {0, sqrt(a * a * (t - dt) * (t - dt) + D * D)};
        double e_prev[2] = {0, sqrt(a * a * (t - 2 * dt) * (t - 2 * dt) + D * D)};
        fh_dyn_ktdc(2, e_new, e_cur, e_prev, dt, 1.0, tdc);
        double exact = a * D / (2 * (a * a * t * t + D * D));
        cr_assert(fabs(tdc[0] - exact) < 0.02 * exact, "t %g: %g vs %g", t, tdc[0], exact);
        fh_dyn_ktdc(2, e_new, e_cur, e_prev, dt, 0.9 * e_new[1], tdc); /* gap above threshold */
        cr_assert_eq(tdc[0], 0.0);
        double conc[2] = {0, 2 * e_cur[1] - e_prev[1] - 1e-6}; /* concave: no coupling */
        fh_dyn_ktdc(2, conc, e_cur, e_prev, dt, 1.0, tdc);
        cr_assert_eq(tdc[0], 0.0);
    }
}

Test(fssh_dynamics, nac_alignment_flips_against_the_reference)
{
    double nac[4] = {1, 2, -3, 0.5}, ref[4] = {-1, -1, -3, 0};
    fh_dyn_align_nacs(2, 2, nac, ref);
    cr_assert(nac[0] == -1 && nac[1] == -2 && nac[2] == -3 && nac[3] == 0.5);
}

/* A provider whose NAC signs flip at random (as phases of ab initio wavefunctions do) gives bitwise
 * the same nuclei and populations as the smooth one: the sign tracking keeps the couplings in one
 * gauge (possibly the mirror one, when the very first NAC came flipped, which changes the sign of
 * c_1 and T_01 together and nothing observable). */
typedef struct {
    fh_surface *inner;
    unsigned long calls;
} flipper;

static int flip_eval(fh_surface *self, fh_surface_eval *req, fh_err *err)
{
    flipper *f = self->impl;
    int rc = fh_surface_evaluate(f->inner, req, err);
    f->calls++;
    if (rc == FH_OK && req->want_nac && fh_dyn_uniform(99, 0, f->calls, 0) < 0.5)
        for (int k = 0; k < self->ndof; k++) req->nac[k] = -req->nac[k];
    return rc;
}

Test(fssh_dynamics, nac_sign_tracking_undoes_provider_phase_flips)
{
    fh_surface *lvc = make("lvc");
    flipper f = {lvc, 0};
    fh_surface s = *lvc;
    s.name = "flipper";
    s.eval = flip_eval;
    s.destroy = NULL;
    s.impl = &f;
    fh_dyn_params p = fh_dyn_params_default();
    p.dt = 10;
    long hops = 0;
    for (int extrap = 0; extrap < 2; extrap++) {
        p.nac_extrapolate = extrap;
        double x[2] = {-1.0, 0.05}, v[2] = {0.0, 0.0};
        for (uint64_t idx = 0; idx < 20; idx++) {
            fh_dyn_traj *a = start(lvc, &p, 3, idx, x, v, 1), *b = start(&s, &p, 3, idx, x, v, 1);
            for (int step = 0; step < 400; step++) {
                cr_assert_eq(fh_dyn_traj_step(a, NULL, NULL), FH_OK);
                cr_assert_eq(fh_dyn_traj_step(b, NULL, NULL), FH_OK);
            }
            cr_assert_eq(memcmp(fh_dyn_traj_x(a), fh_dyn_traj_x(b), 2 * sizeof(double)), 0);
            cr_assert_eq(memcmp(fh_dyn_traj_v(a), fh_dyn_traj_v(b), 2 * sizeof(double)), 0);
            cr_assert_eq(fh_dyn_traj_active(a), fh_dyn_traj_active(b));
            cr_assert_eq(fh_dyn_traj_nhops(a), fh_dyn_traj_nhops(b));
            for (int i = 0; i < 2; i++)
                cr_assert_eq(fh_dyn_traj_population(a, i), fh_dyn_traj_population(b, i));
            hops += fh_dyn_traj_nhops(a);
            fh_dyn_traj_free(a);
            fh_dyn_traj_free(b);
        }
    }
    cr_assert_gt(hops, 5, "the comparison needs hops to mean something");
    cr_assert_gt(f.calls, 1000);
    fh_surface_free(lvc);
}

/* Without extrapolation, alignment with d(t) wrongly flips a NAC that passes through zero (Tully
 * model 2 between its crossings, where d = 0 at x = 0); the default extrapolation does not. */
Test(fssh_dynamics, nac_tracking_through_a_zero_of_the_nac)
{
    fh_surface *s = make("tully2");
    fh_dyn_params p = fh_dyn_params_default();
    p.dt = 1;
    double x = -3, v = 0.02;
    for (int extrap = 0; extrap < 2; extrap++) {
        p.nac_extrapolate = extrap;
        fh_dyn_traj *tr = start(s, &p, 1, 0, &x, &v, 0);
        int flipped = 0;
        while (fh_dyn_traj_x(tr)[0] < 3) {
            cr_assert_eq(fh_dyn_traj_step(tr, NULL, NULL), FH_OK);
            double xx = fh_dyn_traj_x(tr)[0], d = fh_dyn_traj_nac(tr)[0], e[2], raw;
            fh_surface_eval req = {.x = &xx, .want_nac = 1, .energy = e, .nac = &raw};
            cr_assert_eq(fh_surface_evaluate(s, &req, NULL), FH_OK);
            if (d != raw) flipped = 1;
        }
        cr_assert_eq(flipped, extrap ? 0 : 1, "extrapolate = %d", extrap);
        fh_dyn_traj_free(tr);
    }
    fh_surface_free(s);
}
