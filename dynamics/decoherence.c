/* Energy-based decoherence correction (Granucci and Persico, J. Chem. Phys. 126, 134114 (2007)):
 * plain fewest switches keeps the inactive amplitudes coherent forever, which is wrong once wave
 * packets on different surfaces separate; EDC damps them on the time scale
 * tau_j = (hbar/|E_j - E_a|)(1 + C/E_kin) and gives the population back to the active state. */
#include "fh_dyn_internal.h"

#include <math.h>

void fh_dyn_edc(int n, int active, const double *e, double ekin, double c_param, double dt,
                double *c)
{
    if (!(ekin > 0)) return;
    double total = 0.0, rest = 0.0;
    for (int j = 0; j < n; j++) total += c[2 * j] * c[2 * j] + c[2 * j + 1] * c[2 * j + 1];
    for (int j = 0; j < n; j++) {
        if (j == active) continue;
        double tau = (1.0 + c_param / ekin) / fabs(e[j] - e[active]);
        double f = exp(-dt / tau);
        c[2 * j] *= f;
        c[2 * j + 1] *= f;
        rest += c[2 * j] * c[2 * j] + c[2 * j + 1] * c[2 * j + 1];
    }
    double pa = c[2 * active] * c[2 * active] + c[2 * active + 1] * c[2 * active + 1];
    if (pa > 0) {
        double s = sqrt((total - rest) / pa);
        c[2 * active] *= s;
        c[2 * active + 1] *= s;
    }
}
