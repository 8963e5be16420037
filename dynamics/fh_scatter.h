/* Scattering on Tully's one-dimensional models: an ensemble of surface-hopping trajectories sent
 * in from the left on the lower adiabatic state with a fixed momentum, each followed until it
 * leaves the interaction region, and counted as transmitted or reflected on the lower or upper
 * state. Used by `fusionhop scatter`, the validation tests and the benchmark. */
#ifndef FH_SCATTER_H
#define FH_SCATTER_H

#include <stdint.h>

#include "fh_dynamics.h"

typedef struct {
    int model;           /* Tully model 1, 2 or 3 */
    double momentum;     /* initial momentum, a.u. (> 0) */
    long ntraj;          /* number of trajectories */
    uint64_t seed;       /* ensemble seed; trajectory i uses (seed, i) */
    double x0;           /* start (bohr, < 0); the region left is x < x0 or x > -x0 */
    fh_dyn_params dyn;   /* integrator settings */
} fh_scatter_config;

typedef struct {
    long count[4];       /* T_lower, T_upper, R_lower, R_upper */
    double fraction[4];  /* count / ntraj */
    long nsteps;         /* nuclear steps over all trajectories */
    long nhops;          /* accepted hops over all trajectories */
} fh_scatter_result;

enum { FH_SCATTER_T_LOWER = 0, FH_SCATTER_T_UPPER, FH_SCATTER_R_LOWER, FH_SCATTER_R_UPPER };

/* The settings `fusionhop scatter` uses: x0 = -10 bohr (-15 for model 3, whose coupling decays
 * slowly to the left), dt = min(10, 40/k) a.u. (~0.02 bohr per step at the initial speed),
 * max(10, ceil(4 dt)) substeps (at most 0.25 a.u. each), NAC coupling, rescaling along the NAC, frustrated hops keep the velocity, no decoherence, tmax
 * 20 times the free flight time there and back. */
fh_scatter_config fh_scatter_default(int model, double momentum, long ntraj, uint64_t seed);
/* Run the ensemble. FH_EINPUT for a bad configuration; FH_EFAIL when a trajectory stops for any
 * reason other than leaving the interaction region (err names the trajectory and the reason). */
int fh_scatter_run(const fh_scatter_config *cfg, fh_scatter_result *res, fh_err *err);

#endif
