/* The analytic model surfaces (Tully 1-3, LVC) checked against references written here
 * independently: energies against a numerical diagonalisation of the published diabatic
 * Hamiltonians, gradients against central finite differences of the energies, and NACs against
 * the finite-difference derivative coupling <psi_0(x)| d/dx psi_1(x)> of numerically computed
 * eigenvectors. Also the registry and the checks fh_surface_evaluate makes. */
#include <criterion/criterion.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_matrix.h>
#include <math.h>
#include <string.h>

#include "fh_surfaces.h"

/* Diabatic Hamiltonians, from Tully (1990) and the LVC definition in surfaces/lvc.c. */
static void diabatic(const char *type, const double *q, double H[4])
{
    double x = q[0];
    if (strcmp(type, "tully1") == 0) {
        double v = x > 0 ? 0.01 * (1 - exp(-1.6 * x)) : -0.01 * (1 - exp(1.6 * x));
        H[0] = v, H[3] = -v, H[1] = H[2] = 0.005 * exp(-x * x);
    } else if (strcmp(type, "tully2") == 0) {
        H[0] = 0, H[3] = -0.1 * exp(-0.28 * x * x) + 0.05, H[1] = H[2] = 0.015 * exp(-0.06 * x * x);
    } else if (strcmp(type, "tully3") == 0) {
        H[0] = 6e-4, H[3] = -6e-4;
        H[1] = H[2] = x < 0 ? 0.1 * exp(0.9 * x) : 0.1 * (2 - exp(-0.9 * x));
    } else { /* lvc */
        double y = q[1];
        H[0] = 0.01 * (x + 1) * (x + 1) + 0.005 * y * y;
        H[3] = 0.01 * (x - 1) * (x - 1) + 0.005 * y * y + 0.01;
        H[1] = H[2] = 0.005 * y;
    }
}

/* Eigenvalues (ascending) and eigenvectors (columns) with GSL. */
static void eig(const double H[4], double e[2], double v[4])
{
    gsl_matrix *m = gsl_matrix_alloc(2, 2), *evec = gsl_matrix_alloc(2, 2);
    gsl_vector *eval = gsl_vector_alloc(2);
    gsl_eigen_symmv_workspace *w = gsl_eigen_symmv_alloc(2);
    for (int i = 0; i < 4; i++) gsl_matrix_set(m, i / 2, i % 2, H[i]);
    gsl_eigen_symmv(m, eval, evec, w);
    gsl_eigen_symmv_sort(eval, evec, GSL_EIGEN_SORT_VAL_ASC);
    for (int i = 0; i < 2; i++) e[i] = gsl_vector_get(eval, i);
    for (int i = 0; i < 4; i++) v[i] = gsl_matrix_get(evec, i / 2, i % 2);
    gsl_eigen_symmv_free(w);
    gsl_vector_free(eval);
    gsl_matrix_free(m);
    gsl_matrix_free(evec);
}

static fh_surface *make(const char *type)
{
    fh_surface_config cfg = {0};
    cfg.type = type;
    fh_surface *s = NULL;
    fh_err err;
    int rc = fh_surface_alloc(&cfg, &s, &err);
    cr_assert_eq(rc, FH_OK, "%s: %s", type, err.msg);
    return s;
}

static void check_model(const char *type, const double *pts, int npts)
{
    fh_surface *s = make(type);
    int nd = s->ndof;
    cr_assert_eq(s->nstates, 2);
    cr_assert(s->caps & FH_CAP_NAC);
    for (int ip = 0; ip < npts; ip++) {
        const double *q = pts + ip * nd;
        double e[2], g[4], d[2], ref_e[2], vec[4], H[4];
        fh_surface_eval req = {.x = q, .grad_mask = 3u, .want_nac = 1, .energy = e, .grad = g,
                               .nac = d};
        fh_err err;
        cr_assert_eq(fh_surface_evaluate(s, &req, &err), FH_OK, "%s", err.msg);
        diabatic(type, q, H);
        eig(H, ref_e, vec);
        for (int i = 0; i < 2; i++)
            cr_assert(fabs(e[i] - ref_e[i]) < 1e-13, "%s point %d: E%d %.15g vs %.15g", type, ip, i,
                      e[i], ref_e[i]);
        for (int k = 0; k < nd; k++) {
            const double h = 1e-5;
            double qp[2], qm[2], ep[2], em[2], vp[4], vm[4];
            memcpy(qp, q, nd * sizeof *q);
            memcpy(qm, q, nd * sizeof *q);
            qp[k] += h, qm[k] -= h;
            diabatic(type, qp, H);
            eig(H, ep, vp);
            diabatic(type, qm, H);
            eig(H, em, vm);
            for (int i = 0; i < 2; i++) {
                double fd = (ep[i] - em[i]) / (2 * h);
                cr_assert(fabs(g[i * nd + k] - fd) < 1e-8 * (1 + fabs(fd)),
                          "%s point %d: dE%d/dq%d %.10g vs FD %.10g", type, ip, i, k,
                          g[i * nd + k], fd);
            }
            /* d_01 = <psi_0|d psi_1/dq>: align the displaced eigenvectors' signs with psi(q) */
            for (int col = 0; col < 2; col++) {
                double sp = vp[col] * vec[col] + vp[2 + col] * vec[2 + col];
                double sm = vm[col] * vec[col] + vm[2 + col] * vec[2 + col];
                if (sp < 0) vp[col] = -vp[col], vp[2 + col] = -vp[2 + col];
                if (sm < 0) vm[col] = -vm[col], vm[2 + col] = -vm[2 + col];
            }
            double dpsi1[2] = {(vp[1] - vm[1]) / (2 * h), (vp[3] - vm[3]) / (2 * h)};
            double fd_nac = vec[0] * dpsi1[0] + vec[2] * dpsi1[1];
            /* the provider's sign convention is its own: compare magnitudes here (the relative sign of
             * the components is checked in lvc_nac_direction) */
            cr_assert(fabs(fabs(d[k]) - fabs(fd_nac)) < 1e-6 * (1 + fabs(fd_nac)),
                      "%s point %d: d01[%d] %.10g vs FD %.10g", type, ip, k, d[k], fd_nac);
        }
    }
    fh_surface_free(s);
}

Test(surfaces_analytic, tully1_energies_gradients_nacs)
{
    /* not x = 0 itself: the second derivative of H11 jumps there, which spoils central FDs */
    double pts[] = {-10, -3, -1.2, -0.3, -1e-3, 1e-3, 0.4, 1.0, 2.5, 8};
    check_model("tully1", pts, sizeof pts / sizeof pts[0]);
}

Test(surfaces_analytic, tully2_energies_gradients_nacs)
{
    double pts[] = {-10, -4, -1.5, -0.2, 0.0, 0.7, 1.6, 3, 10};
    check_model("tully2", pts, sizeof pts / sizeof pts[0]);
}

Test(surfaces_analytic, tully3_energies_gradients_nacs)
{
    double pts[] = {-12, -6, -5.7, -2, -0.5, -1e-3, 1e-3, 0.5, 2, 6, 12}; /* H12 kinks at 0 */
    check_model("tully3", pts, sizeof pts / sizeof pts[0]);
}

Test(surfaces_analytic, lvc_energies_gradients_nacs)
{
    double pts[] = {-1, 0, 0.25, 0.3, 0.2, -0.1, 1, 0.5, -0.5, -0.4, 0.3, 0.02, 0.25, -0.05};
    check_model("lvc", pts, sizeof pts / sizeof pts[0] / 2);
}

/* In 2D the NAC's direction matters (rescaling is along it): check the full vector, not only the
 * component magnitudes, against the FD coupling up to one overall sign. */
Test(surfaces_analytic, lvc_nac_direction)
{
    fh_surface *s = make("lvc");
    double pts[][2] = {{0.3, 0.2}, {-0.4, -0.3}, {0.25, 0.05}, {1.0, -0.6}};
    for (int ip = 0; ip < 4; ip++) {
        double e[2], d[2], H[4], ref_e[2], vec[4], fd[2];
        fh_surface_eval req = {.x = pts[ip], .want_nac = 1, .energy = e, .nac = d};
        fh_err err;
        cr_assert_eq(fh_surface_evaluate(s, &req, &err), FH_OK);
        diabatic("lvc", pts[ip], H);
        eig(H, ref_e, vec);
        for (int k = 0; k < 2; k++) {
            const double h = 1e-5;
            double qp[2] = {pts[ip][0], pts[ip][1]}, qm[2] = {pts[ip][0], pts[ip][1]}, ep[2], vp[4],
                   vm[4];
            qp[k] += h, qm[k] -= h;
            diabatic("lvc", qp, H);
            eig(H, ep, vp);
            diabatic("lvc", qm, H);
            eig(H, ep, vm);
            if (vp[1] * vec[1] + vp[3] * vec[3] < 0) vp[1] = -vp[1], vp[3] = -vp[3];
            if (vm[1] * vec[1] + vm[3] * vec[3] < 0) vm[1] = -vm[1], vm[3] = -vm[3];
            fd[k] = vec[0] * (vp[1] - vm[1]) / (2 * h) + vec[2] * (vp[3] - vm[3]) / (2 * h);
        }
        double sgn = d[0] * fd[0] + d[1] * fd[1] >= 0 ? 1 : -1;
        for (int k = 0; k < 2; k++)
            cr_assert(fabs(d[k] - sgn * fd[k]) < 1e-6 * (1 + fabs(fd[k])), "point %d k %d: %g vs %g",
                      ip, k, d[k], sgn * fd[k]);
    }
    fh_surface_free(s);
}

Test(surfaces_analytic, tully_mass_and_shape)
{
    const char *names[] = {"tully1", "tully2", "tully3"};
    for (int i = 0; i < 3; i++) {
        fh_surface *s = make(names[i]);
        cr_assert_eq(s->ndof, 1);
        cr_assert_eq(s->natoms, 0);
        cr_assert_eq(s->mass[0], 2000.0);
        fh_surface_free(s);
    }
    fh_surface *s = make("lvc");
    cr_assert_eq(s->ndof, 2);
    cr_assert_eq(s->mass[0], 2000.0);
    cr_assert_eq(s->mass[1], 3000.0);
    /* the conical intersection: degenerate at (0.25, 0), split linearly around it */
    double e[2], q[2] = {0.25, 0.0};
    fh_surface_eval req = {.x = q, .energy = e};
    cr_assert_eq(fh_surface_evaluate(s, &req, NULL), FH_OK);
    cr_assert(fabs(e[1] - e[0]) < 1e-15 && fabs(e[0] - 0.015625) < 1e-15);
    q[1] = 1e-3;
    cr_assert_eq(fh_surface_evaluate(s, &req, NULL), FH_OK);
    cr_assert(fabs((e[1] - e[0]) - 2 * 0.005 * 1e-3) < 1e-12);
    fh_surface_free(s);
}
