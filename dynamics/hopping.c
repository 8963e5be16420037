/* The fewest-switches hop decision and what happens to the nuclei when a hop is accepted (energy
 * conserved by rescaling the velocity along a direction) or frustrated (velocity kept or its
 * component along the coupling reversed). Directions are mass-weighted so that momentum changes
 * along the coupling vector itself: v -> v - gamma M^-1 d. */
#include "fh_dyn_internal.h"

#include <math.h>

int fh_dyn_hop_target(int n, int active, const double *g, double u)
{
    double total = 0.0;
    for (int j = 0; j < n; j++)
        if (j != active) total += g[j];
    double scale = total > 1.0 ? 1.0 / total : 1.0;
    double cum = 0.0;
    for (int j = 0; j < n; j++) {
        if (j == active) continue;
        cum += g[j] * scale;
        if (u < cum) return j;
    }
    return active;
}

double fh_dyn_kinetic(int ndof, const double *mass, const double *v)
{
    double t = 0.0;
    for (int k = 0; k < ndof; k++) t += 0.5 * mass[k] * v[k] * v[k];
    return t;
}

int fh_dyn_rescale_along(int ndof, const double *mass, double *v, const double *dir, double de)
{
    /* T(gamma) = T - gamma B + gamma^2 A/2 with A = sum d^2/m, B = sum v.d; want T(gamma) = T - de */
    double a = 0.0, b = 0.0;
    for (int k = 0; k < ndof; k++) {
        a += dir[k] * dir[k] / mass[k];
        b += v[k] * dir[k];
    }
    if (!(a > 0)) return de == 0.0; /* no direction: only a degenerate hop conserves energy */
    double disc = b * b - 2.0 * a * de;
    if (disc < 0) return 0;
    /* the root of smaller |gamma|, (b -/+ sqrt(disc))/a, written without cancellation */
    double den = b >= 0 ? b + sqrt(disc) : b - sqrt(disc);
    double gamma = den != 0.0 ? 2.0 * de / den : 0.0;
    for (int k = 0; k < ndof; k++) v[k] -= gamma * dir[k] / mass[k];
    return 1;
}

void fh_dyn_reflect_along(int ndof, const double *mass, double *v, const double *dir)
{
    double a = 0.0, b = 0.0;
    for (int k = 0; k < ndof; k++) {
        a += dir[k] * dir[k] / mass[k];
        b += v[k] * dir[k];
    }
    if (!(a > 0)) return;
    double gamma = 2.0 * b / a;
    for (int k = 0; k < ndof; k++) v[k] -= gamma * dir[k] / mass[k];
}
