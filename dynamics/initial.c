/* Wigner initial conditions: Hessian by finite differences of gradients, normal modes with the
 * external (translation/rotation) space projected out, harmonic Wigner sampling, optimisation.
 * The projection shifts external directions to a huge eigenvalue instead of deleting them, so one
 * symmetric diagonalisation (GSL) separates internal from external modes robustly, also for
 * linear molecules. */
#include "fh_initial.h"

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_multimin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


int fh_dyn_hessian_fd(fh_surface *s, int state, const double *x, double h, double *H, fh_err *err)
{
    int n = s->ndof;
    double *xp = malloc((size_t)n * sizeof *xp);
    double *gp = malloc((size_t)s->nstates * (size_t)n * sizeof *gp);
    double *gm = malloc((size_t)s->nstates * (size_t)n * sizeof *gm);
    double *e = malloc((size_t)s->nstates * sizeof *e);
    int rc = (xp && gp && gm && e) ? FH_OK : fh_err_set(err, FH_EFAIL, "out of memory");
    if (rc == FH_OK) memcpy(xp, x, (size_t)n * sizeof *xp);
    for (int i = 0; i < n && rc == FH_OK; i++) {
        fh_surface_eval ev = {.x = xp, .grad_mask = 1u << state, .energy = e, .exact = 1};
        xp[i] = x[i] + h;
        ev.grad = gp;
        rc = fh_surface_evaluate(s, &ev, err);
        if (rc != FH_OK) break;
        xp[i] = x[i] - h;
        ev.grad = gm;
        rc = fh_surface_evaluate(s, &ev, err);
        xp[i] = x[i];
        for (int j = 0; j < n && rc == FH_OK; j++)
            H[i * n + j] = (gp[state * n + j] - gm[state * n + j]) / (2.0 * h);
    }
    if (rc == FH_OK)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++) {
                double a = 0.5 * (H[i * n + j] + H[j * n + i]);
                H[i * n + j] = H[j * n + i] = a;
            }
    free(xp);
    free(gp);
    free(gm);
    free(e);
    return rc;
}

/* Orthonormal mass-weighted translation and rotation vectors at x; returns how many (5 or 6). */
static int external_space(int natoms, const double *x, const double *mass, double *ext /* 6*n */)
{
    int n = 3 * natoms, next = 0;
    double com[3] = {0}, mt = 0;
    for (int a = 0; a < natoms; a++) {
        mt += mass[3 * a];
        for (int k = 0; k < 3; k++) com[k] += mass[3 * a] * x[3 * a + k];
    }
    for (int k = 0; k < 3; k++) com[k] /= mt;
    for (int v = 0; v < 6; v++) {
        double *e = ext + next * n;
        for (int a = 0; a < natoms; a++) {
            double sm = sqrt(mass[3 * a]), r[3];
            for (int k = 0; k < 3; k++) r[k] = x[3 * a + k] - com[k];
            for (int k = 0; k < 3; k++) {
                if (v < 3) {
                    e[3 * a + k] = (k == v) ? sm : 0.0;
                } else { /* (e_axis x r)_k */
                    int ax = v - 3;
                    double c[3] = {0};
                    c[0] = (ax == 1) * r[2] - (ax == 2) * r[1];
                    c[1] = (ax == 2) * r[0] - (ax == 0) * r[2];
                    c[2] = (ax == 0) * r[1] - (ax == 1) * r[0];
                    e[3 * a + k] = sm * c[k];
                }
            }
        }
        /* Gram-Schmidt against the ones kept so far; drop a dependent one (linear molecule). */
        for (int p = 0; p < next; p++) {
            double d = 0;
            for (int i = 0; i < n; i++) d += e[i] * ext[p * n + i];
            for (int i = 0; i < n; i++) e[i] -= d * ext[p * n + i];
        }
        double nn = 0;
        for (int i = 0; i < n; i++) nn += e[i] * e[i];
        if (nn < 1e-10 * mt) continue;
        for (int i = 0; i < n; i++) e[i] /= sqrt(nn);
        next++;
    }
    return next;
}

void fh_dyn_modes_free(fh_dyn_modes *m)
{
    if (!m) return;
    free(m->x0);
    free(m->mass);
    free(m->omega);
    free(m->mode);
    free(m);
}

int fh_dyn_modes_alloc(int natoms, const double *x0, const double *mass, const double *H,
                       double imag_tol, fh_dyn_modes **out, fh_err *err)
{
    *out = NULL;
    int n = 3 * natoms;
    double *ext = malloc((size_t)6 * (size_t)n * sizeof *ext);
    gsl_matrix *A = gsl_matrix_alloc((size_t)n, (size_t)n);
    gsl_matrix *V = gsl_matrix_alloc((size_t)n, (size_t)n);
    gsl_vector *w = gsl_vector_alloc((size_t)n);
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc((size_t)n);
    fh_dyn_modes *m = calloc(1, sizeof *m);
    int rc = FH_OK;
    if (!ext || !A || !V || !w || !ws || !m) {
        rc = fh_err_set(err, FH_EFAIL, "out of memory");
        goto done;
    }
    int next = external_space(natoms, x0, mass, ext);
    /* mass-weighted Hessian, projected: A = P Hm P + shift * (1 - P) */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            gsl_matrix_set(A, (size_t)i, (size_t)j, H[i * n + j] / sqrt(mass[i] * mass[j]));
    double *P = calloc((size_t)n * (size_t)n, sizeof *P), *T = calloc((size_t)n * (size_t)n, sizeof *T);
    if (!P || !T) {
        free(P);
        free(T);
        rc = fh_err_set(err, FH_EFAIL, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            double s = (i == j);
            for (int e = 0; e < next; e++) s -= ext[e * n + i] * ext[e * n + j];
            P[i * n + j] = s;
        }
    }
    for (int i = 0; i < n; i++) /* T = Hm P */
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < n; k++) s += gsl_matrix_get(A, (size_t)i, (size_t)k) * P[k * n + j];
            T[i * n + j] = s;
        }
    /* external directions get an eigenvalue above every internal one (10x the Frobenius norm),
     * but not so far above that it costs precision */
    double shift = 0;
    for (int i = 0; i < n * n; i++) shift += T[i] * T[i];
    shift = 10.0 * sqrt(shift) + 1e-30;
    for (int i = 0; i < n; i++) /* A = P T + shift (1 - P) */
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < n; k++) s += P[i * n + k] * T[k * n + j];
            s += shift * ((i == j) - P[i * n + j]);
            gsl_matrix_set(A, (size_t)i, (size_t)j, s);
        }
    free(P);
    free(T);
    gsl_eigen_symmv(A, w, V, ws);
    gsl_eigen_symmv_sort(w, V, GSL_EIGEN_SORT_VAL_ASC);
    m->natoms = natoms;
    m->ndof = n;
    m->nmodes = n - next;
    m->x0 = malloc((size_t)n * sizeof *m->x0);
    m->mass = malloc((size_t)n * sizeof *m->mass);
    m->omega = malloc((size_t)(m->nmodes ? m->nmodes : 1) * sizeof *m->omega);
    m->mode = malloc((size_t)(m->nmodes ? m->nmodes : 1) * (size_t)n * sizeof *m->mode);
    if (!m->x0 || !m->mass || !m->omega || !m->mode) {
        rc = fh_err_set(err, FH_EFAIL, "out of memory");
        goto done;
    }
    memcpy(m->x0, x0, (size_t)n * sizeof *x0);
    memcpy(m->mass, mass, (size_t)n * sizeof *mass);
    for (int k = 0; k < m->nmodes; k++) {
        double ev = gsl_vector_get(w, (size_t)k);
        if (ev < 0) {
            double wi = sqrt(-ev);
            if (wi > imag_tol) {
                rc = fh_err_set(err, FH_EINPUT,
                                "not a minimum: normal mode %d has an imaginary frequency of "
                                "%.1f cm-1",
                                k + 1, wi * 219474.6313632);
                goto done;
            }
            ev = imag_tol * imag_tol; /* a soft, numerically negative mode: treat as very soft */
        }
        m->omega[k] = sqrt(ev);
        for (int i = 0; i < n; i++) m->mode[k * n + i] = gsl_matrix_get(V, (size_t)i, (size_t)k);
    }
    *out = m;
    m = NULL;
done:
    fh_dyn_modes_free(m);
    free(ext);
    gsl_matrix_free(A);
    gsl_matrix_free(V);
    gsl_vector_free(w);
    gsl_eigen_symmv_free(ws);
    return rc;
}

int fh_dyn_wigner_ndev(const fh_dyn_modes *m) { return 2 * m->nmodes; }

void fh_dyn_wigner_sample(const fh_dyn_modes *m, double T, const double *xi, double *x, double *v)
{
    int n = m->ndof;
    memcpy(x, m->x0, (size_t)n * sizeof *x);
    memset(v, 0, (size_t)n * sizeof *v);
    for (int k = 0; k < m->nmodes; k++) {
        double w = m->omega[k];
        double f = 1.0; /* coth(w / 2kT), 1 at T = 0 */
        if (T > 0) f = 1.0 / tanh(w / (2.0 * 3.166811563e-6 * T));
        double q = xi[2 * k] * sqrt(f / (2.0 * w));
        double p = xi[2 * k + 1] * sqrt(f * w / 2.0);
        for (int i = 0; i < n; i++) {
            double sm = sqrt(m->mass[i]);
            x[i] += q * m->mode[k * n + i] / sm;
            v[i] += p * m->mode[k * n + i] / sm;
        }
    }
    fh_dyn_remove_com_rotation(m->natoms, m->mass, x, v);
}

/* Solve the 3x3 system I w = L (inertia tensor, symmetric positive semidefinite) by Cramer's rule;
 * a singular direction (linear molecule) is left out by regularising. */
static void solve3(double I[3][3], const double L[3], double w[3])
{
    double tr = I[0][0] + I[1][1] + I[2][2];
    for (int k = 0; k < 3; k++) I[k][k] += 1e-12 * tr;
    double det = I[0][0] * (I[1][1] * I[2][2] - I[1][2] * I[2][1]) -
                 I[0][1] * (I[1][0] * I[2][2] - I[1][2] * I[2][0]) +
                 I[0][2] * (I[1][0] * I[2][1] - I[1][1] * I[2][0]);
    if (fabs(det) < 1e-300) {
        w[0] = w[1] = w[2] = 0;
        return;
    }
    for (int c = 0; c < 3; c++) {
        double M[3][3];
        memcpy(M, I, sizeof M);
        for (int r = 0; r < 3; r++) M[r][c] = L[r];
        w[c] = (M[0][0] * (M[1][1] * M[2][2] - M[1][2] * M[2][1]) -
                M[0][1] * (M[1][0] * M[2][2] - M[1][2] * M[2][0]) +
                M[0][2] * (M[1][0] * M[2][1] - M[1][1] * M[2][0])) /
               det;
    }
}

void fh_dyn_remove_com_rotation(int natoms, const double *mass, const double *x, double *v)
{
    double mt = 0, com[3] = {0}, vcom[3] = {0};
    for (int a = 0; a < natoms; a++) {
        double ma = mass[3 * a];
        mt += ma;
        for (int k = 0; k < 3; k++) {
            com[k] += ma * x[3 * a + k];
            vcom[k] += ma * v[3 * a + k];
        }
    }
    for (int k = 0; k < 3; k++) {
        com[k] /= mt;
        vcom[k] /= mt;
    }
    double L[3] = {0}, I[3][3] = {{0}};
    for (int a = 0; a < natoms; a++) {
        double ma = mass[3 * a], r[3], u[3];
        for (int k = 0; k < 3; k++) {
            v[3 * a + k] -= vcom[k];
            r[k] = x[3 * a + k] - com[k];
            u[k] = v[3 * a + k];
        }
        L[0] += ma * (r[1] * u[2] - r[2] * u[1]);
        L[1] += ma * (r[2] * u[0] - r[0] * u[2]);
        L[2] += ma * (r[0] * u[1] - r[1] * u[0]);
        double r2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) I[i][j] += ma * ((i == j) * r2 - r[i] * r[j]);
    }
    double w[3];
    solve3(I, L, w);
    for (int a = 0; a < natoms; a++) {
        double r[3];
        for (int k = 0; k < 3; k++) r[k] = x[3 * a + k] - com[k];
        v[3 * a + 0] -= w[1] * r[2] - w[2] * r[1];
        v[3 * a + 1] -= w[2] * r[0] - w[0] * r[2];
        v[3 * a + 2] -= w[0] * r[1] - w[1] * r[0];
    }
}

/* ---- optimisation (GSL BFGS) ---- */

typedef struct {
    fh_surface *s;
    int state;
    double *e, *g, *x;
    int rc;
    fh_err *err;
} opt_ctx;

static void opt_eval(const gsl_vector *v, opt_ctx *c, double *f, gsl_vector *df)
{
    int n = c->s->ndof;
    for (int i = 0; i < n; i++) c->x[i] = gsl_vector_get(v, (size_t)i);
    fh_surface_eval ev = {.x = c->x, .grad_mask = 1u << c->state, .energy = c->e, .grad = c->g,
                          .exact = 1};
    if (c->rc == FH_OK) c->rc = fh_surface_evaluate(c->s, &ev, c->err);
    if (c->rc != FH_OK) { /* make the minimiser stop: NaN ends the iteration */
        if (f) *f = NAN;
        if (df) gsl_vector_set_all(df, NAN);
        return;
    }
    if (f) *f = c->e[c->state];
    if (df)
        for (int i = 0; i < n; i++) gsl_vector_set(df, (size_t)i, c->g[c->state * n + i]);
}

static double opt_f(const gsl_vector *v, void *p)
{
    double f;
    opt_eval(v, p, &f, NULL);
    return f;
}
static void opt_df(const gsl_vector *v, void *p, gsl_vector *df) { opt_eval(v, p, NULL, df); }
static void opt_fdf(const gsl_vector *v, void *p, double *f, gsl_vector *df)
{
    opt_eval(v, p, f, df);
}

int fh_dyn_optimize(fh_surface *s, int state, double *x, double gtol, int maxiter, fh_err *err)
{
    int n = s->ndof;
    opt_ctx c = {.s = s, .state = state, .rc = FH_OK, .err = err};
    c.e = malloc((size_t)s->nstates * sizeof *c.e);
    c.g = malloc((size_t)s->nstates * (size_t)n * sizeof *c.g);
    c.x = malloc((size_t)n * sizeof *c.x);
    gsl_vector *v = gsl_vector_alloc((size_t)n);
    gsl_multimin_fdfminimizer *mz =
        gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, (size_t)n);
    int rc = FH_OK;
    if (!c.e || !c.g || !c.x || !v || !mz) {
        rc = fh_err_set(err, FH_EFAIL, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) gsl_vector_set(v, (size_t)i, x[i]);
    gsl_multimin_function_fdf fn = {opt_f, opt_df, opt_fdf, (size_t)n, &c};
    gsl_multimin_fdfminimizer_set(mz, &fn, v, 0.01, 0.1);
    int converged = 0;
    for (int it = 0; it < maxiter && c.rc == FH_OK; it++) {
        double gmax = 0;
        for (int i = 0; i < n; i++) gmax = fmax(gmax, fabs(gsl_vector_get(mz->gradient, (size_t)i)));
        if (gmax < gtol) {
            converged = 1;
            break;
        }
        if (gsl_multimin_fdfminimizer_iterate(mz) != GSL_SUCCESS) {
            /* the line search made no progress: restart once from here, then give up */
            gsl_multimin_fdfminimizer_restart(mz);
            if (gsl_multimin_fdfminimizer_iterate(mz) != GSL_SUCCESS) break;
        }
    }
    if (c.rc != FH_OK) {
        rc = c.rc;
        goto done;
    }
    for (int i = 0; i < n; i++) x[i] = gsl_vector_get(mz->x, (size_t)i);
    if (!converged) {
        double gmax = 0;
        for (int i = 0; i < n; i++) gmax = fmax(gmax, fabs(gsl_vector_get(mz->gradient, (size_t)i)));
        if (gmax >= gtol)
            rc = fh_err_set(err, FH_EFAIL,
                            "geometry optimisation did not converge: largest gradient %.2e "
                            "hartree/bohr after %d iterations (tolerance %.1e)",
                            gmax, maxiter, gtol);
    }
done:
    gsl_multimin_fdfminimizer_free(mz);
    gsl_vector_free(v);
    free(c.e);
    free(c.g);
    free(c.x);
    return rc;
}
