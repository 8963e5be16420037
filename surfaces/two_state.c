/* Closed-form adiabatic quantities of a 2x2 diabatic Hamiltonian (see fh_surf_two_state.h):
 * exact, cheap, and differentiable, which is what analytic test models need. */
#include "fh_surf_two_state.h"

#include <math.h>

void fh_surf_two_state(int ndof, double s, double d, double v, const double *ds,
                       const double *dd, const double *dv, double *energy, unsigned grad_mask,
                       double *grad, double *nac)
{
    double r2 = d * d + v * v;
    double r = sqrt(r2);
    energy[0] = s - r;
    energy[1] = s + r;
    for (int k = 0; k < ndof; k++) {
        double dr = (d * dd[k] + v * dv[k]) / r;
        if (grad_mask & 1u) grad[k] = ds[k] - dr;
        if (grad_mask & 2u) grad[ndof + k] = ds[k] + dr;
        if (nac) nac[k] = 0.5 * (d * dv[k] - v * dd[k]) / r2;
    }
}
