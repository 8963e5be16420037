/* Radial basis of edge lengths: Bessel functions sin(n pi r/r_c)/r (normalised by sqrt(2/r_c),
 * as in DimeNet/MACE) times a polynomial envelope that brings value, slope and curvature to zero at
 * the cutoff, so energies and forces are continuous when a neighbour leaves the sphere. The sines
 * of all n come from the Chebyshev recursion sin((n+1)t) = 2 cos t sin(nt) - sin((n-1)t). */
#include <math.h>
#include "fh_equivariant.h"

double fh_eq_envelope(int p, double x, double *dfdx)
{
    if (x >= 1.0) {
        if (dfdx) *dfdx = 0.0;
        return 0.0;
    }
    double xp = pow(x, p);   /* x^p */
    double a = 0.5 * (p + 1.0) * (p + 2.0), b = p * (p + 2.0), c = 0.5 * p * (p + 1.0);
    double f = 1.0 - a * xp + b * xp * x - c * xp * x * x;
    if (dfdx) {
        double xpm1 = p > 0 ? pow(x, p - 1) : 0.0;
        *dfdx = -a * p * xpm1 + b * (p + 1) * xp - c * (p + 2) * xp * x;
    }
    return f;
}

void fh_eq_radial_eval(const fh_eq_radial *rb, int n, const double *r, double *R, double *dR)
{
    const double pi = 3.14159265358979323846;
    const double rc = rb->r_cut, pref = sqrt(2.0 / rc);
    const int nb = rb->n_basis;
    for (int i = 0; i < n; i++) {
        double ri = r[i], *Ri = R + (long)i * nb, *dRi = dR ? dR + (long)i * nb : NULL;
        double dfdx, f = fh_eq_envelope(rb->p, ri / rc, &dfdx), df = dfdx / rc;
        if (ri < 1e-12) {
            /* sin(k r)/r -> k at r = 0 (never a real edge, but keep it finite). */
            for (int k = 0; k < nb; k++) {
                Ri[k] = pref * (k + 1) * pi / rc * f;
                if (dRi) dRi[k] = 0.0;
            }
            continue;
        }
        double t = pi * ri / rc, ct = cos(t), st = sin(t);
        double s_prev = 0.0, s = st, c_prev = 1.0, c = ct;   /* sin/cos of (n-1)t and nt */
        for (int k = 0; k < nb; k++) {
            double kk = (k + 1) * pi / rc;
            double B = pref * s / ri;
            Ri[k] = B * f;
            if (dRi) {
                double dB = pref * (kk * c / ri - s / (ri * ri));
                dRi[k] = dB * f + B * df;
            }
            double s_next = 2.0 * ct * s - s_prev, c_next = 2.0 * ct * c - c_prev;
            s_prev = s, s = s_next;
            c_prev = c, c = c_next;
        }
    }
}

void fh_eq_radial_backward(const fh_eq_radial *rb, int n, const double *dR, const double *gR,
                           double *gr)
{
    const int nb = rb->n_basis;
    for (int i = 0; i < n; i++) {
        double s = 0.0;
        for (int k = 0; k < nb; k++) s += gR[(long)i * nb + k] * dR[(long)i * nb + k];
        gr[i] += s;
    }
}
