/* Why this exists: FSSH with EDC decoherence on Tully's model 3 reflects too little for k >= 20
 * (docs/scattering.md). This tool shows, independently of the FSSH code in dynamics/, that the
 * deficit belongs to the method and not to our implementation: it follows the one classical path
 * every trajectory takes on the lower surface before it hops, propagates the two adiabatic
 * amplitudes along it (RK4, T = v d), optionally with the Granucci-Persico damping of the upper
 * amplitude (tau = (1 + C/E_kin)/|E_1 - E_0|, C = 0.1 hartree), and accumulates the fewest-switches
 * hop probabilities g = max(0, 2 Re(c_1* T c_0) dt / |c_0|^2) (energetically forbidden hops
 * excluded). 1 - prod(1 - g) is the fraction of trajectories that hop up on the first passage, which
 * in model 3 at these momenta is the total reflection.
 *
 *   build/tests/edc_first_passage [k ...]     (default k = 10 15 20 25 28 30; atomic units)
 *
 * test_fssh_tully includes this file (with FH_EDC_FIRST_PASSAGE_NO_MAIN) and compares. */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const double A = 6e-4, B = 0.1, C = 0.9, MASS = 2000.0, C_EDC = 0.1;

static double v12(double x) { return x < 0 ? B * exp(C * x) : B * (2 - exp(-C * x)); }
static double dv12(double x) { return x < 0 ? B * C * exp(C * x) : B * C * exp(-C * x); }
static double half_gap(double x) { return sqrt(A * A + v12(x) * v12(x)); } /* E_1 = -E_0 */
static double nac(double x) { return 0.5 * A * dv12(x) / (A * A + v12(x) * v12(x)); }

/* dc/dt = -i E c - T c with T antisymmetric (T_01 = v d). */
static void deriv(double x, double v, const double complex c[2], double complex out[2])
{
    double w = half_gap(x), t = v * nac(x);
    out[0] = I * w * c[0] - t * c[1];
    out[1] = -I * w * c[1] + t * c[0];
}

/* The first-passage hop fraction at momentum k (a.u.); upper_end = |c_1|^2 at x = 6 bohr. */
static double first_passage(double k, int edc, double *upper_end)
{
    const double dt = 0.25, x_end = 6.0;
    double x = -15.0, etot = k * k / (2 * MASS) - half_gap(x), stay = 1.0;
    double complex c[2] = {1.0, 0.0};
    while (x < x_end) {
        double v = sqrt(2 * (etot + half_gap(x)) / MASS);
        double xm = x + 0.5 * v * dt, vm = sqrt(2 * (etot + half_gap(xm)) / MASS);
        double xe = x + v * dt, ve = sqrt(2 * (etot + half_gap(xe)) / MASS);
        double complex k1[2], k2[2], k3[2], k4[2], t[2], n[2];
        deriv(x, v, c, k1);
        for (int i = 0; i < 2; i++) t[i] = c[i] + 0.5 * dt * k1[i];
        deriv(xm, vm, t, k2);
        for (int i = 0; i < 2; i++) t[i] = c[i] + 0.5 * dt * k2[i];
        deriv(xm, vm, t, k3);
        for (int i = 0; i < 2; i++) t[i] = c[i] + dt * k3[i];
        deriv(xe, ve, t, k4);
        for (int i = 0; i < 2; i++) n[i] = c[i] + dt / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
        double complex m0 = 0.5 * (c[0] + n[0]), m1 = 0.5 * (c[1] + n[1]);
        double flux = 2 * creal(conj(m1) * vm * nac(xm) * m0);
        double g = flux > 0 ? flux * dt / fmax(cabs(m0) * cabs(m0), 1e-300) : 0.0;
        if (etot - half_gap(xe) < 0) g = 0.0; /* the upper state is closed here */
        stay *= 1 - fmin(g, 1.0);
        c[0] = n[0], c[1] = n[1], x = xe;
        if (edc) {
            double ekin = etot + half_gap(x), tau = (1 + C_EDC / ekin) / (2 * half_gap(x));
            c[1] *= exp(-dt / tau);
            c[0] *= sqrt(fmax(0.0, 1 - cabs(c[1]) * cabs(c[1]))) / cabs(c[0]);
        }
    }
    *upper_end = cabs(c[1]) * cabs(c[1]);
    return 1 - stay;
}

#ifndef FH_EDC_FIRST_PASSAGE_NO_MAIN
int main(int argc, char **argv)
{
    double ks[16] = {10, 15, 20, 25, 28, 30};
    int nk = 6;
    if (argc > 1) {
        nk = 0;
        for (int i = 1; i < argc && nk < 16; i++) ks[nk++] = atof(argv[i]);
    }
    printf("k\thops_plain\thops_edc\tupper_pop_end_plain\n");
    for (int i = 0; i < nk; i++) {
        double u0, u1;
        double p0 = first_passage(ks[i], 0, &u0), p1 = first_passage(ks[i], 1, &u1);
        printf("%g\t%.3f\t%.3f\t%.3f\n", ks[i], p0, p1, u0);
    }
    return 0;
}
#endif
