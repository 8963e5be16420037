/* The exact quantum reference (tests/tools/exact_scatter.c) is itself checked before anything is
 * compared with it: against the analytic transmission of the Eckart barrier, for flux conservation,
 * for convergence in the sector width, and for the channel thresholds. */
#include <criterion/criterion.h>

#define FH_EXACT_SCATTER_NO_MAIN
#include "../tools/exact_scatter.c"

static const double PI = 3.14159265358979323846;

/* One channel: V11 = U0 / cosh^2(alpha x), the second channel closed and uncoupled. */
typedef struct {
    double u0, alpha;
} eckart;

static void eckart_potential(double x, double h[3], const void *ctx)
{
    const eckart *e = ctx;
    double c = cosh(e->alpha * x);
    h[0] = e->u0 / (c * c);
    h[1] = 10.0;
    h[2] = 0.0;
}

/* Landau and Lifshitz, Quantum Mechanics, section 25 (hbar = 1, mass m, wavenumber k). */
static double eckart_transmission(double m, double u0, double alpha, double k)
{
    double s = sinh(PI * k / alpha);
    double arg = 8.0 * m * u0 / (alpha * alpha) - 1.0;
    double c = arg > 0 ? cosh(0.5 * PI * sqrt(arg)) : cos(0.5 * PI * sqrt(-arg));
    return s * s / (s * s + c * c);
}

Test(fssh_exact, eckart_barrier_matches_analytic_transmission)
{
    eckart e = {0.005, 1.0};
    /* below, at and above the barrier top (k = sqrt(2 m U0) = 4.47) */
    double ks[] = {3.5, 4.0, 4.47, 5.0, 6.0};
    for (int i = 0; i < 5; i++) {
        exact_result r;
        cr_assert_eq(exact_solve(eckart_potential, &e, 2000.0, -20, 20, 5e-4, ks[i], &r), 0);
        double want = eckart_transmission(2000.0, e.u0, e.alpha, ks[i]);
        cr_assert(fabs(r.t[0] - want) < 2e-6, "k = %g: T = %.8f, analytic %.8f", ks[i], r.t[0], want);
        cr_assert(fabs(r.r[0] - (1 - want)) < 2e-6);
        cr_assert_eq(r.t[1], 0.0);
        cr_assert_eq(r.r[1], 0.0);
    }
}

Test(fssh_exact, tully_models_conserve_flux_and_converge)
{
    int models[] = {1, 1, 2, 2, 3, 3, 3};
    double ks[] = {8, 20, 15, 45, 6, 20, 30};
    for (int i = 0; i < 7; i++) {
        exact_result a, b;
        cr_assert_eq(exact_tully(models[i], ks[i], 5e-4, &a), 0);
        cr_assert_eq(exact_tully(models[i], ks[i], 2.5e-4, &b), 0);
        cr_assert(a.unitarity < 1e-7, "model %d k %g: unitarity error %g", models[i], ks[i],
                  a.unitarity);
        for (int j = 0; j < 2; j++) {
            cr_assert(fabs(a.t[j] - b.t[j]) < 1e-5 && fabs(a.r[j] - b.r[j]) < 1e-5,
                      "model %d k %g not converged in the sector width", models[i], ks[i]);
            cr_assert(a.t[j] >= 0 && a.r[j] >= 0);
        }
    }
}

/* Closed channels stay closed: below the threshold k = sqrt(2 m * 2A) = 8.94 of model 1 nothing
 * ends on the upper state; in model 3 the upper state on the right opens at k = 28.3. */
Test(fssh_exact, thresholds)
{
    exact_result r;
    cr_assert_eq(exact_tully(1, 8.5, 5e-4, &r), 0);
    cr_assert_eq(r.t[1], 0.0);
    cr_assert_eq(r.r[1], 0.0);
    cr_assert_eq(exact_tully(3, 28.0, 5e-4, &r), 0);
    cr_assert_eq(r.t[1], 0.0);
    cr_assert(r.r[0] + r.r[1] > 0.3);
    cr_assert_eq(exact_tully(3, 29.0, 5e-4, &r), 0);
    cr_assert(r.t[1] > 0.3);
}
