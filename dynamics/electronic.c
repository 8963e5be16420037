/* Electronic propagation in the adiabatic basis: i dc/dt = (diag(E) - iT) c, T_ij = v.d_ij. Each
 * substep applies the exact exponential of the (Hermitian) effective Hamiltonian, so the
 * propagation is unitary to rounding whatever the step; energies and couplings vary linearly
 * across a nuclear step and are taken at each substep's middle (exponential midpoint rule).
 * Two states use the closed form exp(-i h.sigma t); more use GSL's Hermitian eigensolver. */
#include "fh_dyn_internal.h"
#include "fh_surfaces.h"

#include <gsl/gsl_complex.h>
#include <gsl/gsl_complex_math.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_matrix.h>
#include <math.h>
#include <stdlib.h>

struct fh_dyn_elec_ws {
    int n;
    gsl_matrix_complex *h, *evec;
    gsl_vector *eval;
    gsl_eigen_hermv_workspace *w;
    double *tmp;     /* [2n] */
    double *e, *tdc; /* interpolated values, [n] and [npairs] */
};

fh_dyn_elec_ws *fh_dyn_elec_ws_alloc(int n)
{
    fh_dyn_elec_ws *ws = calloc(1, sizeof *ws);
    if (!ws) return NULL;
    ws->n = n;
    ws->e = malloc((size_t)n * sizeof *ws->e);
    ws->tdc = malloc((size_t)(fh_npairs(n) > 0 ? fh_npairs(n) : 1) * sizeof *ws->tdc);
    ws->tmp = malloc(2 * (size_t)n * sizeof *ws->tmp);
    int ok = ws->e && ws->tdc && ws->tmp;
    if (ok && n > 2) {
        ws->h = gsl_matrix_complex_alloc((size_t)n, (size_t)n);
        ws->evec = gsl_matrix_complex_alloc((size_t)n, (size_t)n);
        ws->eval = gsl_vector_alloc((size_t)n);
        ws->w = gsl_eigen_hermv_alloc((size_t)n);
        ok = ws->h && ws->evec && ws->eval && ws->w;
    }
    if (!ok) {
        fh_dyn_elec_ws_free(ws);
        return NULL;
    }
    return ws;
}

void fh_dyn_elec_ws_free(fh_dyn_elec_ws *ws)
{
    if (!ws) return;
    if (ws->h) gsl_matrix_complex_free(ws->h);
    if (ws->evec) gsl_matrix_complex_free(ws->evec);
    if (ws->eval) gsl_vector_free(ws->eval);
    if (ws->w) gsl_eigen_hermv_free(ws->w);
    free(ws->tmp);
    free(ws->e);
    free(ws->tdc);
    free(ws);
}

/* Two states: H = h0 + hz sigma_z + T sigma_y with h0 = (E0+E1)/2, hz = (E0-E1)/2, since
 * H_01 = -iT. exp(-iH t) = exp(-i h0 t) [cos(w t) - i sin(w t)/w (hz sigma_z + T sigma_y)],
 * w = sqrt(hz^2 + T^2); -i T sigma_y = [[0, -T], [T, 0]]. rotate2 applies the bracket only; the
 * common phase exp(-i h0 t) is applied by the caller (once per nuclear step in fh_dyn_elec_step,
 * which changes no population or coherence Re(c_i* c_j) in between). */
static void rotate2(const double *e, double t01, double dtau, double *c)
{
    double hz = 0.5 * (e[0] - e[1]);
    double w = sqrt(hz * hz + t01 * t01);
    double co = cos(w * dtau);
    double s = w * dtau > 1e-300 ? sin(w * dtau) / w : dtau;
    /* u00 = co - i hz s, u11 = co + i hz s, u01 = -T s, u10 = T s */
    double a_re = c[0], a_im = c[1], b_re = c[2], b_im = c[3];
    c[0] = co * a_re + hz * s * a_im - t01 * s * b_re;
    c[1] = co * a_im - hz * s * a_re - t01 * s * b_im;
    c[2] = t01 * s * a_re + co * b_re - hz * s * b_im;
    c[3] = t01 * s * a_im + co * b_im + hz * s * b_re;
}

/* c <- exp(-i phi) c */
static void phase(int n, double phi, double *c)
{
    double pc = cos(phi), ps = -sin(phi);
    for (int i = 0; i < n; i++) {
        double re = c[2 * i], im = c[2 * i + 1];
        c[2 * i] = pc * re - ps * im;
        c[2 * i + 1] = pc * im + ps * re;
    }
}

/* n states: H = Q diag(lambda) Q^+, c <- Q exp(-i lambda dtau) Q^+ c. */
static void substep_general(fh_dyn_elec_ws *ws, int n, const double *e, const double *tdc,
                            double dtau, double *c)
{
    for (int i = 0; i < n; i++) {
        gsl_matrix_complex_set(ws->h, (size_t)i, (size_t)i, gsl_complex_rect(e[i], 0.0));
        for (int j = i + 1; j < n; j++) {
            double t = tdc[fh_pair_index(n, i, j)];
            /* H_ij = -i T_ij, H_ji = -i T_ji = i T_ij */
            gsl_matrix_complex_set(ws->h, (size_t)i, (size_t)j, gsl_complex_rect(0.0, -t));
            gsl_matrix_complex_set(ws->h, (size_t)j, (size_t)i, gsl_complex_rect(0.0, t));
        }
    }
    gsl_eigen_hermv(ws->h, ws->eval, ws->evec, ws->w);
    /* tmp = exp(-i lambda dtau) Q^+ c */
    for (int k = 0; k < n; k++) {
        double re = 0.0, im = 0.0;
        for (int i = 0; i < n; i++) {
            gsl_complex q = gsl_matrix_complex_get(ws->evec, (size_t)i, (size_t)k);
            double qr = GSL_REAL(q), qi = -GSL_IMAG(q); /* conj */
            re += qr * c[2 * i] - qi * c[2 * i + 1];
            im += qr * c[2 * i + 1] + qi * c[2 * i];
        }
        double ph = -gsl_vector_get(ws->eval, (size_t)k) * dtau;
        double pc = cos(ph), ps = sin(ph);
        ws->tmp[2 * k] = pc * re - ps * im;
        ws->tmp[2 * k + 1] = pc * im + ps * re;
    }
    for (int i = 0; i < n; i++) {
        double re = 0.0, im = 0.0;
        for (int k = 0; k < n; k++) {
            gsl_complex q = gsl_matrix_complex_get(ws->evec, (size_t)i, (size_t)k);
            double qr = GSL_REAL(q), qi = GSL_IMAG(q);
            re += qr * ws->tmp[2 * k] - qi * ws->tmp[2 * k + 1];
            im += qr * ws->tmp[2 * k + 1] + qi * ws->tmp[2 * k];
        }
        c[2 * i] = re;
        c[2 * i + 1] = im;
    }
}

void fh_dyn_elec_substep(fh_dyn_elec_ws *ws, int n, const double *e, const double *tdc,
                         double dtau, double *c)
{
    if (n == 1) {
        phase(1, e[0] * dtau, c);
    } else if (n == 2) {
        rotate2(e, tdc[0], dtau, c);
        phase(2, 0.5 * (e[0] + e[1]) * dtau, c);
    } else {
        substep_general(ws, n, e, tdc, dtau, c);
    }
}

static double norm2(int n, const double *c)
{
    double s = 0.0;
    for (int i = 0; i < 2 * n; i++) s += c[i] * c[i];
    return s;
}

double fh_dyn_elec_step(fh_dyn_elec_ws *ws, int n, int nsub, double dt, const double *e0,
                        const double *e1, const double *tdc0, const double *tdc1, int active,
                        double *c, double *g)
{
    int np = fh_npairs(n);
    double dtau = dt / nsub;
    double start = norm2(n, c), worst = 0.0, phi = 0.0;
    for (int j = 0; j < n; j++) g[j] = 0.0;
    for (int k = 0; k < nsub; k++) {
        double f = (k + 0.5) / nsub;
        for (int i = 0; i < n; i++) ws->e[i] = e0[i] + f * (e1[i] - e0[i]);
        for (int p = 0; p < np; p++) ws->tdc[p] = tdc0[p] + f * (tdc1[p] - tdc0[p]);
        if (n == 2) { /* the common phase is collected and applied after the last substep */
            rotate2(ws->e, ws->tdc[0], dtau, c);
            phi += 0.5 * (ws->e[0] + ws->e[1]) * dtau;
        } else {
            fh_dyn_elec_substep(ws, n, ws->e, ws->tdc, dtau, c);
        }
        double dev = fabs(norm2(n, c) - start);
        if (dev > worst) worst = dev;
        /* fewest switches: population flux out of the active state into j, 2 T_aj Re(c_a* c_j) */
        double ca_re = c[2 * active], ca_im = c[2 * active + 1];
        double pa = ca_re * ca_re + ca_im * ca_im;
        if (pa <= 0.0) continue;
        for (int j = 0; j < n; j++) {
            if (j == active) continue;
            double t = active < j ? ws->tdc[fh_pair_index(n, active, j)]
                                  : -ws->tdc[fh_pair_index(n, j, active)];
            double re = ca_re * c[2 * j] + ca_im * c[2 * j + 1]; /* Re(c_a* c_j) */
            double flux = 2.0 * t * re;
            if (flux > 0) g[j] += dtau * flux / pa;
        }
    }
    if (n == 2) phase(2, phi, c);
    return worst;
}
