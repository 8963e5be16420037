/* Internal to analysis/: mean and deviation, and the common time grid (the bootstrap weights and
 * quantiles are public, fh_analysis.h). Not a public header. */
#ifndef FH_ANA_INTERNAL_H
#define FH_ANA_INTERNAL_H

#include <stdint.h>

#include "fh_analysis.h"

/* Mean and sample standard deviation of v (NaN-free). */
void fh_ana_mean_std(const double *v, long n, double *mean, double *std);

/* For the used trajectories of e (in order), the frame shown at each grid time: the last frame at
 * or before it (the last frame for times after the trajectory ended). frames: ngrid*nused. */
int fh_ana_grid_frames(const fh_ana_ensemble *e, const double *grid, long ngrid, long *frames);

/* RESDIR/hops.xyz: the geometry at every hop that took place (frame fh_h5md_frame_at of its time)
 * of the used trajectories, in order of trajectory and time; nothing for model coordinates. */
int fh_ana_write_hop_frames(const char *resdir, const fh_ana_ensemble *e, fh_err *err);

#endif
