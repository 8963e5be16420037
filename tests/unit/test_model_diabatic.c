/* The two-state diabatic readout (fh_model_diab_forward/backward): energies, gradients and the
 * coupling against an independent reference (GSL's symmetric eigensolver on H(x) for explicit
 * smooth diabatic functions, central finite differences of its eigenvalues and eigenvectors), and
 * the backward kernel against central finite differences of a scalar of all outputs. */
#include <criterion/criterion.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_matrix.h>
#include <math.h>

#include "fh_model.h"

#define N3 6

/* H_e(x) = c_e + a_e.x + 1/2 x.B_e.x (B_e symmetric), e = 00, 11, 01: explicit, smooth */
typedef struct {
    double c[3], a[3][N3], B[3][N3][N3];
} diab_fn;

static double rnd(unsigned long *s)
{
    *s = *s * 6364136223846793005UL + 1442695040888963407UL;
    return (double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static void make_fn(diab_fn *f, unsigned long seed, double c00, double c11, double c01)
{
    unsigned long s = seed;
    f->c[0] = c00, f->c[1] = c11, f->c[2] = c01;
    for (int e = 0; e < 3; e++) {
        for (int i = 0; i < N3; i++) f->a[e][i] = 0.1 * rnd(&s);
        for (int i = 0; i < N3; i++)
            for (int j = 0; j <= i; j++) f->B[e][i][j] = f->B[e][j][i] = 0.05 * rnd(&s);
    }
}

static void eval_fn(const diab_fn *f, const double *x, double H[3], double *dH)
{
    for (int e = 0; e < 3; e++) {
        H[e] = f->c[e];
        for (int i = 0; i < N3; i++) {
            double bx = 0;
            for (int j = 0; j < N3; j++) bx += f->B[e][i][j] * x[j];
            H[e] += f->a[e][i] * x[i] + 0.5 * x[i] * bx;
            if (dH) dH[e * N3 + i] = f->a[e][i] + bx;
        }
    }
}

/* eigenvalues (ascending) and eigenvectors (columns) of the 2x2 matrix, by GSL */
static void eig(const double H[3], double E[2], double U[2][2])
{
    gsl_matrix *A = gsl_matrix_alloc(2, 2), *V = gsl_matrix_alloc(2, 2);
    gsl_vector *ev = gsl_vector_alloc(2);
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(2);
    gsl_matrix_set(A, 0, 0, H[0]);
    gsl_matrix_set(A, 1, 1, H[1]);
    gsl_matrix_set(A, 0, 1, H[2]);
    gsl_matrix_set(A, 1, 0, H[2]);
    gsl_eigen_symmv(A, ev, V, ws);
    gsl_eigen_symmv_sort(ev, V, GSL_EIGEN_SORT_VAL_ASC);
    for (int k = 0; k < 2; k++) {
        E[k] = gsl_vector_get(ev, k);
        for (int r = 0; r < 2; r++) U[r][k] = gsl_matrix_get(V, r, k);
    }
    gsl_eigen_symmv_free(ws);
    gsl_vector_free(ev);
    gsl_matrix_free(V);
    gsl_matrix_free(A);
}

static void check_against_eigensolver(double c00, double c11, double c01, unsigned long seed)
{
    diab_fn f;
    make_fn(&f, seed, c00, c11, c01);
    double x[N3], H[3], dH[3 * N3], E[2], g[2 * N3], h[N3], Eref[2], U[2][2];
    unsigned long s = seed + 99;
    for (int i = 0; i < N3; i++) x[i] = 0.3 * rnd(&s);
    eval_fn(&f, x, H, dH);
    fh_model_diab_forward(N3, H, dH, E, g, h);
    eig(H, Eref, U);
    cr_assert(fabs(E[0] - Eref[0]) < 1e-13 && fabs(E[1] - Eref[1]) < 1e-13,
              "energies %.15g %.15g vs %.15g %.15g", E[0], E[1], Eref[0], Eref[1]);

    /* gradients: central differences of the eigenvalues; h: (E1 - E0) <u0|d u1/dx_i>, u1 at the
     * displaced points aligned to u1 at x (its sign is arbitrary) */
    const double step = 1e-5;
    double href[N3];
    for (int i = 0; i < N3; i++) {
        double xp[N3], Hp[3], Ep[2], Up[2][2], dE[2] = {0}, du1[2] = {0};
        for (int side = 1; side >= -1; side -= 2) {
            for (int j = 0; j < N3; j++) xp[j] = x[j];
            xp[i] += side * step;
            eval_fn(&f, xp, Hp, NULL);
            eig(Hp, Ep, Up);
            double sgn = Up[0][1] * U[0][1] + Up[1][1] * U[1][1] < 0 ? -1.0 : 1.0;
            for (int k = 0; k < 2; k++) dE[k] += side * Ep[k] / (2 * step);
            for (int r = 0; r < 2; r++) du1[r] += side * sgn * Up[r][1] / (2 * step);
        }
        for (int k = 0; k < 2; k++)
            cr_assert(fabs(g[k * N3 + i] - dE[k]) < 1e-8 * (1 + fabs(dE[k])),
                      "g[%d][%d] %.12g vs finite difference %.12g", k, i, g[k * N3 + i], dE[k]);
        href[i] = (Eref[1] - Eref[0]) * (U[0][0] * du1[0] + U[1][0] * du1[1]);
    }
    /* the same up to the states' signs: one global sign */
    double dot = 0, n2 = 0;
    for (int i = 0; i < N3; i++) dot += h[i] * href[i], n2 += href[i] * href[i];
    double sgn = dot < 0 ? -1.0 : 1.0;
    for (int i = 0; i < N3; i++)
        cr_assert(fabs(h[i] - sgn * href[i]) < 1e-7 * (1 + sqrt(n2)),
                  "h[%d] %.12g vs eigenvector difference %.12g", i, h[i], sgn * href[i]);
}

Test(model_diabatic, forward_matches_eigensolver_far_from_degeneracy)
{
    check_against_eigensolver(-0.2, 0.1, 0.03, 1);
    check_against_eigensolver(0.1, -0.2, -0.05, 2); /* diabatic order reversed */
}

Test(model_diabatic, forward_matches_eigensolver_near_the_cone)
{
    /* gap about 0.004 hartree (0.1 eV) where the coupling is large and turns quickly */
    check_against_eigensolver(0.0, 0.002, 0.001, 3);
}

Test(model_diabatic, coupling_turns_around_the_seam)
{
    /* H00 = -x0, H11 = x0, H01 = x1: a cone at the origin. At radius r and angle phi the gap is
     * 2r, the mixing angle phi/2, d01 = grad(phi/2) = (-sin phi, cos phi)/(2r), so
     * h = d01 * 2r = (-sin phi, cos phi): perpendicular to the radius, turning once around. */
    for (int k = 0; k < 8; k++) {
        double phi = 2 * 3.14159265358979323846 * k / 8, r = 1e-3;
        double H[3] = {-r * cos(phi), r * cos(phi), r * sin(phi)};
        double dH[3 * N3] = {0};
        dH[0] = -1, dH[N3] = 1, dH[2 * N3 + 1] = 1;
        double E[2], h[N3];
        fh_model_diab_forward(N3, H, dH, E, NULL, h);
        cr_assert(fabs(E[1] - E[0] - 2 * r) < 1e-15, "gap %.3g, expected %.3g", E[1] - E[0], 2 * r);
        /* grad theta = (-sin phi, cos phi)/(2r); h = grad theta * 2r */
        cr_assert(fabs(h[0] + sin(phi)) < 1e-12 && fabs(h[1] - cos(phi)) < 1e-12,
                  "phi %g: h = (%g, %g), expected (%g, %g)", phi, h[0], h[1], -sin(phi), cos(phi));
    }
}

/* L = gE.E + v.g + gh.h */
static double scalar_of_outputs(const double H[3], const double *dH, const double gE[2],
                                const double *v, const double *gh)
{
    double E[2], g[2 * N3], h[N3];
    fh_model_diab_forward(N3, H, dH, E, g, h);
    double L = gE[0] * E[0] + gE[1] * E[1];
    for (int i = 0; i < 2 * N3; i++) L += v[i] * g[i];
    for (int i = 0; i < N3; i++) L += gh[i] * h[i];
    return L;
}

Test(model_diabatic, backward_matches_finite_differences)
{
    unsigned long s = 7;
    double dH[3 * N3], v[2 * N3], gh[N3], gE[2] = {rnd(&s), rnd(&s)};
    for (int i = 0; i < 3 * N3; i++) dH[i] = rnd(&s);
    for (int i = 0; i < 2 * N3; i++) v[i] = rnd(&s);
    for (int i = 0; i < N3; i++) gh[i] = rnd(&s);
    const double cases[2][3] = {{-0.2, 0.1, 0.03}, {0.0, 0.002, -0.001}};
    for (int c = 0; c < 2; c++) {
        double H[3] = {cases[c][0], cases[c][1], cases[c][2]}, gH[3], wdH[3 * N3];
        fh_model_diab_backward(N3, H, dH, gE, v, gh, gH, wdH);
        double scale = c == 0 ? 1e-5 : 1e-7; /* steps well inside the gap */
        for (int e = 0; e < 3; e++) {
            double Hp[3] = {H[0], H[1], H[2]}, Hm[3] = {H[0], H[1], H[2]};
            Hp[e] += scale, Hm[e] -= scale;
            double fd = (scalar_of_outputs(Hp, dH, gE, v, gh) -
                         scalar_of_outputs(Hm, dH, gE, v, gh)) / (2 * scale);
            cr_assert(fabs(gH[e] - fd) < 1e-6 * (1 + fabs(fd)), "case %d dL/dH[%d] %.12g vs %.12g",
                      c, e, gH[e], fd);
        }
        for (int i = 0; i < 3 * N3; i++) {
            double dp[3 * N3], dm[3 * N3];
            for (int j = 0; j < 3 * N3; j++) dp[j] = dm[j] = dH[j];
            dp[i] += 1e-4, dm[i] -= 1e-4;
            double fd = (scalar_of_outputs(H, dp, gE, v, gh) - scalar_of_outputs(H, dm, gE, v, gh)) /
                        2e-4;
            cr_assert(fabs(wdH[i] - fd) < 1e-9 * (1 + fabs(fd)), "case %d dL/d(dH)[%d] %.12g vs %.12g",
                      c, i, wdH[i], fd);
        }
        /* optional outputs: without v and gh only the energies' adjoint remains */
        double gH2[3];
        fh_model_diab_backward(N3, H, dH, gE, NULL, NULL, gH2, NULL);
        double D = sqrt(0.25 * (H[1] - H[0]) * (H[1] - H[0]) + H[2] * H[2]);
        double u = 0.5 * (H[1] - H[0]) / D, w = H[2] / D, gD = gE[1] - gE[0];
        cr_assert(fabs(gH2[0] - 0.5 * (gE[0] + gE[1] - gD * u)) < 1e-12 &&
                  fabs(gH2[1] - 0.5 * (gE[0] + gE[1] + gD * u)) < 1e-12 &&
                  fabs(gH2[2] - gD * w) < 1e-12, "energy-only adjoint");
    }
}
