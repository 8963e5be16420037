/* Time-derivative couplings T_ij: from NAC vectors (T = v.d, with the arbitrary sign of each NAC
 * made continuous along the trajectory, since a provider's wavefunction phases may flip from one
 * geometry to the next), or, without NACs, from the curvature of the energy gaps (kappa-TDC,
 * Baeck and An 2017), which needs nothing but the energies the dynamics already has. */
#include "fh_dyn_internal.h"
#include "fh_surfaces.h"

#include <math.h>
#include <stddef.h>

void fh_dyn_ktdc(int n, const double *e_new, const double *e_cur, const double *e_prev,
                 double dt, double gap_max, double *tdc)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            int p = fh_pair_index(n, i, j);
            double g1 = e_new[j] - e_new[i], g0 = e_cur[j] - e_cur[i], gm = e_prev[j] - e_prev[i];
            double gdd = (g1 - 2.0 * g0 + gm) / (dt * dt);
            double ratio = g1 > 0 ? gdd / g1 : 0.0;
            tdc[p] = (g1 > 0 && g1 < gap_max && ratio > 0) ? 0.5 * sqrt(ratio) : 0.0;
        }
}

void fh_dyn_align_nacs(int npairs, int ndof, double *nac, const double *ref)
{
    for (int p = 0; p < npairs; p++) {
        double *d = nac + (size_t)p * ndof;
        const double *r = ref + (size_t)p * ndof;
        double s = 0.0;
        for (int k = 0; k < ndof; k++) s += d[k] * r[k];
        if (s < 0)
            for (int k = 0; k < ndof; k++) d[k] = -d[k];
    }
}

void fh_dyn_tdc_from_nac(int npairs, int ndof, const double *nac, const double *v, double *tdc)
{
    for (int p = 0; p < npairs; p++) {
        const double *d = nac + (size_t)p * ndof;
        double s = 0.0;
        for (int k = 0; k < ndof; k++) s += v[k] * d[k];
        tdc[p] = s;
    }
}
