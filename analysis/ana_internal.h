/* Internal to analysis/: bootstrap resampling and the common time grid. Not a public header. */
#ifndef FH_ANA_INTERNAL_H
#define FH_ANA_INTERNAL_H

#include <stdint.h>

#include "fh_analysis.h"

/* nboot x n resampling weights: row b holds how often each of the n items is drawn in resample b
 * (n draws with replacement). Deterministic in seed. malloc'ed; NULL when out of memory. */
int *fh_ana_boot_weights(long nboot, long n, uint64_t seed);
/* The q-quantile (0..1, linear interpolation) of v; sorts v in place. NaN when n == 0. */
double fh_ana_quantile(double *v, long n, double q);
/* Mean and sample standard deviation of v (NaN-free). */
void fh_ana_mean_std(const double *v, long n, double *mean, double *std);

/* For the used trajectories of e (in order), the frame shown at each grid time: the last frame at
 * or before it (the last frame for times after the trajectory ended). frames: ngrid*nused. */
int fh_ana_grid_frames(const fh_ana_ensemble *e, const double *grid, long ngrid, long *frames);

#endif
