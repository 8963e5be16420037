/* Products and quantum yields. The end point of each used trajectory is classified by geometry
 * (load.c); yields are counted over all used trajectories and over those that ended in the ground
 * state, with the binomial standard error and the Wilson score interval (which stays inside [0, 1]
 * and is sensible for yields near 0 or 1, where the normal approximation is not). */
#include <math.h>
#include <string.h>

#include "fh_analysis.h"

void fh_ana_wilson(long k, long n, double *lo, double *hi)
{
    if (n <= 0) {
        *lo = *hi = NAN;
        return;
    }
    const double z = 1.959963984540054;
    double p = (double)k / (double)n, nn = (double)n;
    double den = 1.0 + z * z / nn;
    double centre = (p + z * z / (2.0 * nn)) / den;
    double half = z * sqrt(p * (1.0 - p) / nn + z * z / (4.0 * nn * nn)) / den;
    *lo = centre - half < 0.0 ? 0.0 : centre - half;
    *hi = centre + half > 1.0 ? 1.0 : centre + half;
}

void fh_ana_yields_compute(const fh_ana_ensemble *e, const fh_ana_settings *s, fh_ana_yields *y)
{
    memset(y, 0, sizeof *y);
    for (long k = 0; k < e->ntraj; k++) {
        const fh_ana_traj *t = &e->traj[k];
        if (!t->used) continue;
        if (t->torsion) y->classified = 1;
        int in_s0 = t->final_state == s->ground_state;
        y->n[0]++;
        y->n[1] += in_s0;
        if (t->product >= 0 && t->product < FH_PROD_COUNT) {
            y->count[0][t->product]++;
            if (in_s0) y->count[1][t->product]++;
        }
    }
    for (int set = 0; set < 2; set++)
        for (int p = 0; p < FH_PROD_COUNT; p++) {
            long n = y->n[set], c = y->count[set][p];
            double q = n > 0 ? (double)c / (double)n : NAN;
            y->yield[set][p] = q;
            y->err[set][p] = n > 0 ? sqrt(q * (1.0 - q) / (double)n) : NAN;
            fh_ana_wilson(c, n, &y->lo[set][p], &y->hi[set][p]);
        }
}
