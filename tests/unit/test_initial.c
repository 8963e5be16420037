/* Initial conditions: finite-difference Hessian against the analytic one, normal-mode frequencies
 * against closed forms (diatomic, equilateral triatomic, linear triatomic), Wigner sample moments
 * against the harmonic oscillator's, zero momentum and angular momentum, and optimisation.
 * The provider is a ball-and-spring molecule defined here, with analytic gradients. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fh_initial.h"

typedef struct {
    int natoms;
    double k;
    double *r0; /* [natoms*natoms] rest lengths; 0: no spring */
} springs;

static int springs_eval(fh_surface *s, fh_surface_eval *ev, fh_err *err)
{
    (void)err;
    springs *m = s->impl;
    int n = m->natoms;
    double e = 0;
    double *g = ev->grad;
    if (g) memset(g, 0, (size_t)s->ndof * sizeof *g);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double r0 = m->r0[i * n + j];
            if (r0 <= 0) continue;
            double d[3], r = 0;
            for (int k = 0; k < 3; k++) {
                d[k] = ev->x[3 * i + k] - ev->x[3 * j + k];
                r += d[k] * d[k];
            }
            r = sqrt(r);
            e += 0.5 * m->k * (r - r0) * (r - r0);
            if (g)
                for (int k = 0; k < 3; k++) {
                    double f = m->k * (r - r0) * d[k] / r;
                    g[3 * i + k] += f;
                    g[3 * j + k] -= f;
                }
        }
    ev->energy[0] = e;
    return FH_OK;
}

static void springs_hessian(const springs *m, const double *x, double *H)
{
    int n = m->natoms, nd = 3 * n;
    memset(H, 0, (size_t)nd * (size_t)nd * sizeof *H);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double r0 = m->r0[i * n + j];
            if (r0 <= 0) continue;
            double u[3], r = 0;
            for (int k = 0; k < 3; k++) {
                u[k] = x[3 * i + k] - x[3 * j + k];
                r += u[k] * u[k];
            }
            r = sqrt(r);
            for (int k = 0; k < 3; k++) u[k] /= r;
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) {
                    double h = m->k * (u[a] * u[b] + (1 - r0 / r) * ((a == b) - u[a] * u[b]));
                    H[(3 * i + a) * nd + 3 * i + b] += h;
                    H[(3 * j + a) * nd + 3 * j + b] += h;
                    H[(3 * i + a) * nd + 3 * j + b] -= h;
                    H[(3 * j + a) * nd + 3 * i + b] -= h;
                }
        }
}

static fh_surface *make(int natoms, double k, double mass, springs *m)
{
    fh_surface *s = calloc(1, sizeof *s);
    s->name = "springs";
    s->nstates = 1;
    s->natoms = natoms;
    s->ndof = 3 * natoms;
    s->caps = FH_CAP_ENERGY | FH_CAP_GRADIENT;
    s->mass = malloc((size_t)s->ndof * sizeof *s->mass);
    for (int i = 0; i < s->ndof; i++) s->mass[i] = mass;
    s->eval = springs_eval;
    m->natoms = natoms;
    m->k = k;
    m->r0 = calloc((size_t)natoms * (size_t)natoms, sizeof *m->r0);
    s->impl = m;
    return s;
}

static void unmake(fh_surface *s, springs *m)
{
    free(m->r0);
    free(s->mass);
    free(s);
}

/* Deterministic standard normal deviates for the tests (xorshift + Box-Muller). */
static unsigned long long rng_state = 88172645463325252ull;
static double uniform(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return ((rng_state >> 11) + 0.5) / 9007199254740992.0;
}
static double normal(void) { return sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform()); }

/* Equilateral triangle of side a in the xy plane, slightly rotated out of axes. */
static void triangle(double a, double *x)
{
    double p[3][3] = {{0, 0, 0}, {a, 0, 0}, {a / 2, a * sqrt(3) / 2, 0}};
    double c = cos(0.3), s = sin(0.3);
    for (int i = 0; i < 3; i++) {
        x[3 * i] = c * p[i][0] - s * p[i][2] + 0.1;
        x[3 * i + 1] = p[i][1] - 0.2;
        x[3 * i + 2] = s * p[i][0] + c * p[i][2] + 0.3;
    }
}

Test(initial, hessian_fd_matches_analytic_away_from_minimum)
{
    springs m;
    fh_surface *s = make(3, 0.4, 1000.0, &m);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) m.r0[i * 3 + j] = (i != j) ? 2.0 : 0;
    double x[9], H[81], Ha[81];
    triangle(2.3, x); /* stretched: nonzero forces, off-diagonal curvature terms matter */
    x[4] += 0.2;
    fh_err err = {0};
    cr_assert_eq(fh_dyn_hessian_fd(s, 0, x, 1e-4, H, &err), FH_OK, "%s", err.msg);
    springs_hessian(&m, x, Ha);
    for (int i = 0; i < 81; i++) cr_expect(fabs(H[i] - Ha[i]) < 1e-8, "H[%d] %g vs %g", i, H[i], Ha[i]);
    unmake(s, &m);
}

Test(initial, frequencies_match_closed_forms)
{
    fh_err err = {0};
    double k = 0.3, mass = 12 * 1822.888486209;
    /* equilateral triangle: breathing w^2 = 3k/m, degenerate pair w^2 = 3k/(2m) */
    springs m;
    fh_surface *s = make(3, k, mass, &m);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) m.r0[i * 3 + j] = (i != j) ? 2.5 : 0;
    double x[9], H[81];
    triangle(2.5, x);
    springs_hessian(&m, x, H);
    fh_dyn_modes *nm;
    cr_assert_eq(fh_dyn_modes_alloc(3, x, s->mass, H, 1e-6, &nm, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(nm->nmodes, 3);
    cr_expect_float_eq(nm->omega[0], sqrt(1.5 * k / mass), 1e-9 * sqrt(k / mass));
    cr_expect_float_eq(nm->omega[1], sqrt(1.5 * k / mass), 1e-9 * sqrt(k / mass));
    cr_expect_float_eq(nm->omega[2], sqrt(3.0 * k / mass), 1e-9 * sqrt(k / mass));
    /* modes are orthonormal and orthogonal to mass-weighted translations */
    for (int a = 0; a < 3; a++) {
        for (int b = 0; b < 3; b++) {
            double d = 0;
            for (int i = 0; i < 9; i++) d += nm->mode[a * 9 + i] * nm->mode[b * 9 + i];
            cr_expect(fabs(d - (a == b)) < 1e-10);
        }
        for (int c = 0; c < 3; c++) {
            double d = 0;
            for (int at = 0; at < 3; at++) d += nm->mode[a * 9 + 3 * at + c];
            cr_expect(fabs(d) < 1e-10, "mode %d has translation along %d: %g", a, c, d);
        }
    }
    fh_dyn_modes_free(nm);
    unmake(s, &m);

    /* linear symmetric triatomic A-A-A, springs only between neighbours: 3N-5 = 4 modes;
     * stretches w^2 = k/m (symmetric) and 3k/m (antisymmetric), two zero-curvature bends */
    s = make(3, k, mass, &m);
    m.r0[0 * 3 + 1] = m.r0[1 * 3 + 2] = 2.0;
    double xl[9] = {0, 0, 0, 2.0, 0, 0, 4.0, 0, 0};
    double Hl[81];
    springs_hessian(&m, xl, Hl);
    cr_assert_eq(fh_dyn_modes_alloc(3, xl, s->mass, Hl, 1e-6, &nm, &err), FH_OK, "%s", err.msg);
    cr_expect_eq(nm->nmodes, 4);
    cr_expect_float_eq(nm->omega[2], sqrt(k / mass), 1e-9 * sqrt(k / mass));
    cr_expect_float_eq(nm->omega[3], sqrt(3 * k / mass), 1e-9 * sqrt(k / mass));
    fh_dyn_modes_free(nm);
    unmake(s, &m);
}

Test(initial, imaginary_frequency_is_reported)
{
    fh_err err = {0};
    springs m;
    fh_surface *s = make(2, 0.3, 1000, &m);
    double x[6] = {0, 0, 0, 2, 0, 0}, H[36];
    m.r0[1] = 2;
    springs_hessian(&m, x, H);
    for (int i = 0; i < 36; i++) H[i] = -H[i];
    fh_dyn_modes *nm = NULL;
    cr_expect_eq(fh_dyn_modes_alloc(2, x, s->mass, H, 1e-6, &nm, &err), FH_EINPUT);
    cr_expect(strstr(err.msg, "imaginary frequency") != NULL, "%s", err.msg);
    cr_expect_null(nm);
    unmake(s, &m);
}

static void wigner_moments(double T)
{
    fh_err err = {0};
    double k = 0.3, mass = 1822.888486209;
    springs m;
    fh_surface *s = make(3, k, mass, &m);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) m.r0[i * 3 + j] = (i != j) ? 2.5 : 0;
    double x0[9], H[81];
    triangle(2.5, x0);
    springs_hessian(&m, x0, H);
    fh_dyn_modes *nm;
    cr_assert_eq(fh_dyn_modes_alloc(3, x0, s->mass, H, 1e-6, &nm, &err), FH_OK, "%s", err.msg);
    int ns = 20000, nd = fh_dyn_wigner_ndev(nm);
    double varq[3] = {0}, ekin = 0, *xi = malloc((size_t)nd * sizeof *xi);
    for (int t = 0; t < ns; t++) {
        double x[9], v[9];
        for (int i = 0; i < nd; i++) xi[i] = normal();
        fh_dyn_wigner_sample(nm, T, xi, x, v);
        double p[3] = {0}, L[3] = {0};
        for (int a = 0; a < 3; a++)
            for (int c = 0; c < 3; c++) p[c] += mass * v[3 * a + c];
        for (int a = 0; a < 3; a++) {
            L[0] += mass * (x[3 * a + 1] * v[3 * a + 2] - x[3 * a + 2] * v[3 * a + 1]);
            L[1] += mass * (x[3 * a + 2] * v[3 * a + 0] - x[3 * a + 0] * v[3 * a + 2]);
            L[2] += mass * (x[3 * a + 0] * v[3 * a + 1] - x[3 * a + 1] * v[3 * a + 0]);
        }
        for (int c = 0; c < 3; c++) {
            cr_assert(fabs(p[c]) < 1e-10, "momentum %g", p[c]);
            cr_assert(fabs(L[c]) < 1e-8, "angular momentum %g", L[c]);
        }
        for (int q = 0; q < 3; q++) {
            double d = 0;
            for (int i = 0; i < 9; i++) d += sqrt(mass) * (x[i] - x0[i]) * nm->mode[q * 9 + i];
            varq[q] += d * d / ns;
        }
        for (int i = 0; i < 9; i++) ekin += 0.5 * mass * v[i] * v[i] / ns;
    }
    double ekin_exact = 0;
    for (int q = 0; q < 3; q++) {
        double w = nm->omega[q], f = T > 0 ? 1 / tanh(w / (2 * 3.166811563e-6 * T)) : 1;
        double want = f / (2 * w);
        /* 20000 samples: relative standard error of a variance ~ sqrt(2/n) = 1% */
        cr_expect(fabs(varq[q] / want - 1) < 0.04, "mode %d: var %g want %g", q, varq[q], want);
        ekin_exact += w * f / 4;
    }
    /* removing the small angular momentum of a displaced sample lowers KE slightly: 5% slack */
    cr_expect(fabs(ekin / ekin_exact - 1) < 0.05, "kinetic energy %g want %g", ekin, ekin_exact);
    free(xi);
    fh_dyn_modes_free(nm);
    unmake(s, &m);
}

Test(initial, wigner_moments_zero_kelvin) { wigner_moments(0); }
Test(initial, wigner_moments_finite_temperature) { wigner_moments(2000); }

Test(initial, optimisation_finds_the_minimum)
{
    fh_err err = {0};
    springs m;
    fh_surface *s = make(3, 0.3, 1000, &m);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) m.r0[i * 3 + j] = (i != j) ? 2.5 : 0;
    double x[9];
    triangle(2.5, x);
    x[0] += 0.3;
    x[4] -= 0.2;
    x[8] += 0.25;
    cr_assert_eq(fh_dyn_optimize(s, 0, x, 1e-7, 500, &err), FH_OK, "%s", err.msg);
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++) {
            double r = 0;
            for (int c = 0; c < 3; c++) r += pow(x[3 * i + c] - x[3 * j + c], 2);
            cr_expect(fabs(sqrt(r) - 2.5) < 1e-5, "bond %d-%d = %g", i, j, sqrt(r));
        }
    unmake(s, &m);
}
