/* exact_scatter: exact quantum branching probabilities for Tully's three two-state models at a fixed
 * energy, the reference the surface-hopping engine is validated against. Independent of the code
 * under test: the diabatic potentials are written out again here from Tully's paper, and the method
 * is a time-independent coupled-channel calculation, not trajectories.
 *
 * Method (a log-derivative / "R-matrix" sector propagator). The diabatic Schroedinger equation
 * psi'' = W(x) psi, W = 2m (V(x) - E), is solved on [xl, xr] cut into sectors of width h, in each
 * of which W is replaced by its value at the sector's middle. For constant W = Q diag(lambda) Q^T
 * every channel is solved exactly, which gives the sector's relation between end values and end
 * derivatives:
 *   psi'(a) = -Y1 psi(a) + Y2 psi(b),  psi'(b) = -Y2 psi(a) + Y1 psi(b),
 *   Y1 = Q diag(k coth kh) Q^T, Y2 = Q diag(k / sinh kh) Q^T, k = sqrt(lambda)
 * (k coth kh -> q cot qh and k/sinh kh -> q/sin qh in open channels, lambda = -q^2). Sectors are
 * combined exactly by eliminating the shared boundary, which stays stable in closed channels (no
 * exponentials are ever propagated), giving one relation between (psi, psi') at xl and xr. At xl and
 * xr the potential is constant; its eigenvectors are the asymptotic adiabatic states, in which the
 * solution is an incoming flux-normalised wave in the lower state plus reflected (left) and
 * transmitted (right) waves, decaying exponentials in closed channels. That gives 4 linear
 * equations for r_0, r_1, t_0, t_1; |r|^2 and |t|^2 of the open channels are the probabilities,
 * and their sum is 1 up to discretisation error (printed as a check). The error is O(h^2); the
 * default h = 5e-4 bohr converges the probabilities to ~1e-6.
 *
 * usage: exact_scatter --model {1,2,3} --momentum K [--step H]
 *        exact_scatter --model N --from K1 --to K2 --by DK [--step H]
 * prints: model momentum T_lower T_upper R_lower R_upper unitarity_error
 * Built with FH_EXACT_SCATTER_NO_MAIN defined, this file provides only the solver (for tests). */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXACT_MASS 2000.0

typedef struct {
    double t[2];     /* transmission probabilities into the lower/upper asymptotic state */
    double r[2];     /* reflection probabilities */
    double unitarity; /* |sum of probabilities - 1| */
} exact_result;

/* Diabatic potential: h[0] = V11, h[1] = V22, h[2] = V12. */
typedef void (*exact_potential)(double x, double h[3], const void *ctx);

/* Tully, J. Chem. Phys. 93, 1061 (1990), standard parameters. */
static void exact_tully_potential(double x, double h[3], const void *ctx)
{
    int model = *(const int *)ctx;
    if (model == 1) {
        double v = 0.01 * (1.0 - exp(-1.6 * fabs(x)));
        h[0] = x >= 0 ? v : -v;
        h[1] = -h[0];
        h[2] = 0.005 * exp(-1.0 * x * x);
    } else if (model == 2) {
        h[0] = 0.0;
        h[1] = -0.1 * exp(-0.28 * x * x) + 0.05;
        h[2] = 0.015 * exp(-0.06 * x * x);
    } else {
        h[0] = 6e-4;
        h[1] = -6e-4;
        h[2] = x < 0 ? 0.1 * exp(0.9 * x) : 0.1 * (2.0 - exp(-0.9 * x));
    }
}

/* 2x2 real matrices, row-major {a00, a01, a10, a11}. */
typedef struct {
    double a[4];
} m2;

static m2 m2_mul(m2 x, m2 y)
{
    m2 r = {{x.a[0] * y.a[0] + x.a[1] * y.a[2], x.a[0] * y.a[1] + x.a[1] * y.a[3],
             x.a[2] * y.a[0] + x.a[3] * y.a[2], x.a[2] * y.a[1] + x.a[3] * y.a[3]}};
    return r;
}

static m2 m2_sub(m2 x, m2 y)
{
    m2 r = {{x.a[0] - y.a[0], x.a[1] - y.a[1], x.a[2] - y.a[2], x.a[3] - y.a[3]}};
    return r;
}

static m2 m2_add(m2 x, m2 y)
{
    m2 r = {{x.a[0] + y.a[0], x.a[1] + y.a[1], x.a[2] + y.a[2], x.a[3] + y.a[3]}};
    return r;
}

static m2 m2_inv(m2 x)
{
    double det = x.a[0] * x.a[3] - x.a[1] * x.a[2];
    m2 r = {{x.a[3] / det, -x.a[1] / det, -x.a[2] / det, x.a[0] / det}};
    return r;
}

/* Eigen-decomposition of the symmetric [[p, b], [b, q]]: lam[0] <= lam[1], columns of Q. */
static void sym_eig(double p, double b, double q, double lam[2], m2 *Q)
{
    double mid = 0.5 * (p + q), half = 0.5 * (p - q);
    double r = sqrt(half * half + b * b);
    lam[0] = mid - r;
    lam[1] = mid + r;
    double th = 0.5 * atan2(b, half);
    double c = cos(th), s = sin(th);
    /* upper: (c, s); lower: (-s, c) */
    Q->a[0] = -s, Q->a[1] = c;
    Q->a[2] = c, Q->a[3] = s;
}

/* The sector functions y1 = k coth(kh), y2 = k/sinh(kh) for psi'' = lambda psi. */
static void sector_y(double lambda, double h, double *y1, double *y2)
{
    double z = lambda * h * h;
    if (fabs(z) < 1e-4) {
        *y1 = (1.0 + z / 3.0 - z * z / 45.0) / h;
        *y2 = (1.0 - z / 6.0 + 7.0 * z * z / 360.0) / h;
    } else if (lambda > 0) {
        double k = sqrt(lambda), e = exp(-k * h), e2 = e * e;
        *y1 = k * (1.0 + e2) / (1.0 - e2);
        *y2 = 2.0 * k * e / (1.0 - e2);
    } else {
        double q = sqrt(-lambda);
        *y1 = q * cos(q * h) / sin(q * h);
        *y2 = q / sin(q * h);
    }
}

/* Q diag(d) Q^T */
static m2 m2_qdq(const m2 *Q, double d0, double d1)
{
    m2 D = {{d0, 0.0, 0.0, d1}};
    m2 Qt = {{Q->a[0], Q->a[2], Q->a[1], Q->a[3]}};
    return m2_mul(m2_mul(*Q, D), Qt);
}

/* Solve the n x n complex system A x = b (A row-major, destroyed) by Gaussian elimination with
 * partial pivoting. Returns -1 when singular. */
static int csolve(int n, double complex *A, double complex *b)
{
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++)
            if (cabs(A[r * n + c]) > cabs(A[piv * n + c])) piv = r;
        if (cabs(A[piv * n + c]) == 0.0) return -1;
        if (piv != c) {
            for (int k = 0; k < n; k++) {
                double complex t = A[c * n + k];
                A[c * n + k] = A[piv * n + k];
                A[piv * n + k] = t;
            }
            double complex t = b[c];
            b[c] = b[piv];
            b[piv] = t;
        }
        for (int r = c + 1; r < n; r++) {
            double complex f = A[r * n + c] / A[c * n + c];
            for (int k = c; k < n; k++) A[r * n + k] -= f * A[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (int r = n - 1; r >= 0; r--) {
        double complex s = b[r];
        for (int k = r + 1; k < n; k++) s -= A[r * n + k] * b[k];
        b[r] = s / A[r * n + r];
    }
    return 0;
}

/* Scattering at incoming momentum k (a.u.) in the lower asymptotic state from the left. */
static int exact_solve(exact_potential pot, const void *ctx, double mass, double xl, double xr,
                       double step, double k, exact_result *out)
{
    double hl[3], hr[3], epsl[2], epsr[2];
    m2 UL, UR;
    pot(xl, hl, ctx);
    pot(xr, hr, ctx);
    sym_eig(hl[0], hl[2], hl[1], epsl, &UL);
    sym_eig(hr[0], hr[2], hr[1], epsr, &UR);
    double E = epsl[0] + k * k / (2.0 * mass);

    /* the whole interval's propagator Z1..Z4 */
    long nsec = (long)ceil((xr - xl) / step);
    double h = (xr - xl) / (double)nsec;
    m2 Z1 = {{0}}, Z2 = {{0}}, Z3 = {{0}}, Z4 = {{0}};
    for (long s = 0; s < nsec; s++) {
        double v[3], lam[2], y1[2], y2[2];
        m2 Q;
        pot(xl + ((double)s + 0.5) * h, v, ctx);
        sym_eig(2.0 * mass * (v[0] - E), 2.0 * mass * v[2], 2.0 * mass * (v[1] - E), lam, &Q);
        sector_y(lam[0], h, &y1[0], &y2[0]);
        sector_y(lam[1], h, &y1[1], &y2[1]);
        m2 Y1 = m2_qdq(&Q, y1[0], y1[1]), Y2 = m2_qdq(&Q, y2[0], y2[1]);
        if (s == 0) {
            Z1 = Y1, Z2 = Y2, Z3 = Y2, Z4 = Y1;
            continue;
        }
        /* eliminate the shared boundary: A = Z (left part), B = this sector */
        m2 G = m2_inv(m2_add(Z4, Y1));
        m2 n1 = m2_sub(Z1, m2_mul(m2_mul(Z2, G), Z3));
        m2 n2 = m2_mul(m2_mul(Z2, G), Y2);
        m2 n3 = m2_mul(m2_mul(Y2, G), Z3);
        m2 n4 = m2_sub(Y1, m2_mul(m2_mul(Y2, G), Y2));
        Z1 = n1, Z2 = n2, Z3 = n3, Z4 = n4;
    }

    /* asymptotic channel functions (values at the boundary and derivatives) */
    double complex gL[2], dgL[2], hR[2], dhR[2], f0 = 0, df0 = 0;
    int openL[2], openR[2];
    for (int j = 0; j < 2; j++) {
        double wl = 2.0 * mass * (E - epsl[j]), wr = 2.0 * mass * (E - epsr[j]);
        openL[j] = wl > 0;
        openR[j] = wr > 0;
        if (openL[j]) {
            double q = sqrt(wl);
            gL[j] = 1.0 / sqrt(q), dgL[j] = -I * sqrt(q); /* exp(-iqx)/sqrt(q) */
            if (j == 0) f0 = 1.0 / sqrt(q), df0 = I * sqrt(q); /* incoming exp(iqx)/sqrt(q) */
        } else {
            gL[j] = 1.0, dgL[j] = sqrt(-wl); /* exp(kappa (x - xl)) */
        }
        if (openR[j]) {
            double q = sqrt(wr);
            hR[j] = 1.0 / sqrt(q), dhR[j] = I * sqrt(q);
        } else {
            hR[j] = 1.0, dhR[j] = -sqrt(-wr); /* exp(-kappa (x - xr)) */
        }
    }
    if (!openL[0]) return -1;

    /* unknowns (r0, r1, t0, t1); see the header comment */
    double complex A[16], b[4];
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            double ul = UL.a[i * 2 + j], ur = UR.a[i * 2 + j];
            double z1ul = Z1.a[i * 2] * UL.a[j] + Z1.a[i * 2 + 1] * UL.a[2 + j];
            double z2ur = Z2.a[i * 2] * UR.a[j] + Z2.a[i * 2 + 1] * UR.a[2 + j];
            double z3ul = Z3.a[i * 2] * UL.a[j] + Z3.a[i * 2 + 1] * UL.a[2 + j];
            double z4ur = Z4.a[i * 2] * UR.a[j] + Z4.a[i * 2 + 1] * UR.a[2 + j];
            A[i * 4 + j] = ul * dgL[j] + z1ul * gL[j];
            A[i * 4 + 2 + j] = -z2ur * hR[j];
            A[(2 + i) * 4 + j] = z3ul * gL[j];
            A[(2 + i) * 4 + 2 + j] = ur * dhR[j] - z4ur * hR[j];
        }
        double z1ul0 = Z1.a[i * 2] * UL.a[0] + Z1.a[i * 2 + 1] * UL.a[2];
        double z3ul0 = Z3.a[i * 2] * UL.a[0] + Z3.a[i * 2 + 1] * UL.a[2];
        b[i] = -UL.a[i * 2] * df0 - z1ul0 * f0;
        b[2 + i] = -z3ul0 * f0;
    }
    if (csolve(4, A, b) != 0) return -1;
    double sum = 0.0;
    for (int j = 0; j < 2; j++) {
        out->r[j] = openL[j] ? creal(b[j] * conj(b[j])) : 0.0;
        out->t[j] = openR[j] ? creal(b[2 + j] * conj(b[2 + j])) : 0.0;
        sum += out->r[j] + out->t[j];
    }
    out->unitarity = fabs(sum - 1.0);
    return 0;
}

/* Tully model `model` at momentum k; the interval reaches where the coupling is negligible. */
static int exact_tully(int model, double k, double step, exact_result *out)
{
    double xmax = model == 1 ? 15.0 : model == 2 ? 20.0 : 25.0;
    return exact_solve(exact_tully_potential, &model, EXACT_MASS, -xmax, xmax, step, k, out);
}

#ifndef FH_EXACT_SCATTER_NO_MAIN
static void usage(FILE *f)
{
    fprintf(f, "usage: exact_scatter --model {1,2,3} --momentum K [--step H]\n"
               "       exact_scatter --model {1,2,3} --from K1 --to K2 --by DK [--step H]\n"
               "Exact branching probabilities (fixed energy, coupled channels) of Tully's models;\n"
               "H: sector width in bohr (default 5e-4). Prints TSV:\n"
               "model momentum T_lower T_upper R_lower R_upper unitarity_error\n");
}

int main(int argc, char **argv)
{
    int model = 0;
    double k = -1, from = -1, to = -1, by = -1, step = 5e-4;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        const char *o = argv[i], *v = argv[++i];
        char *end;
        double x = strtod(v, &end);
        if (*end != '\0' || end == v) {
            fprintf(stderr, "exact_scatter: bad number '%s' for %s\n", v, o);
            return 2;
        }
        if (strcmp(o, "--model") == 0) model = (int)x;
        else if (strcmp(o, "--momentum") == 0) k = x;
        else if (strcmp(o, "--from") == 0) from = x;
        else if (strcmp(o, "--to") == 0) to = x;
        else if (strcmp(o, "--by") == 0) by = x;
        else if (strcmp(o, "--step") == 0) step = x;
        else {
            fprintf(stderr, "exact_scatter: unknown option %s\n", o);
            return 2;
        }
    }
    if (model < 1 || model > 3 || !(step > 0) || (k <= 0 && !(from > 0 && to >= from && by > 0))) {
        usage(stderr);
        return 2;
    }
    if (k > 0) from = to = k, by = 1;
    printf("model\tmomentum\tT_lower\tT_upper\tR_lower\tR_upper\tunitarity_error\n");
    for (double kk = from; kk <= to + 1e-9 * by; kk += by) {
        exact_result r;
        if (exact_tully(model, kk, step, &r) != 0) {
            fprintf(stderr, "exact_scatter: no solution at k = %g\n", kk);
            return 1;
        }
        printf("%d\t%g\t%.6f\t%.6f\t%.6f\t%.6f\t%.1e\n", model, kk, r.t[0], r.t[1], r.r[0], r.r[1],
               r.unitarity);
    }
    return 0;
}
#endif
