/* Initial conditions for molecular trajectories: the S0 minimum, its Hessian from finite
 * differences of the provider's gradients, harmonic normal modes with translation and rotation
 * projected out, and Wigner samples of positions and velocities (T = 0 K or finite T).
 * Random numbers come in from the caller as standard normal deviates, so that a trajectory's
 * initial condition depends only on the stream it was given (seed, trajectory index). */
#ifndef FH_INITIAL_H
#define FH_INITIAL_H

#include "fh_error.h"
#include "fh_surfaces.h"

typedef struct {
    int natoms, ndof;  /* ndof = 3*natoms */
    int nmodes;        /* vibrational modes: 3N-6 (3N-5 for linear molecules) */
    double *x0;        /* [ndof] reference geometry, bohr */
    double *mass;      /* [ndof] masses per coordinate, electron masses */
    double *omega;     /* [nmodes] harmonic angular frequencies, a.u. (ascending) */
    double *mode;      /* [nmodes*ndof] orthonormal mass-weighted eigenvectors */
} fh_dyn_modes;

/* Hessian of state `state` at x by central differences of analytic gradients with step h (bohr),
 * symmetrised. H is [ndof*ndof] in hartree/bohr^2. 2*ndof gradient evaluations. */
int fh_dyn_hessian_fd(fh_surface *s, int state, const double *x, double h, double *H, fh_err *err);

/* Normal modes of H at x0; translations and rotations (about the centre of mass) are projected
 * out. Fails with FH_EINPUT when a vibrational frequency is imaginary beyond `imag_tol` (a.u. of
 * angular frequency): the geometry is not a minimum. */
int fh_dyn_modes_alloc(int natoms, const double *x0, const double *mass, const double *H,
                       double imag_tol, fh_dyn_modes **out, fh_err *err);
void fh_dyn_modes_free(fh_dyn_modes *m);

/* Number of standard normal deviates one Wigner sample consumes: 2 * nmodes. */
int fh_dyn_wigner_ndev(const fh_dyn_modes *m);
/* One Wigner sample of the harmonic oscillators at temperature T (kelvin; 0 for the ground state):
 * in mass-weighted normal coordinates q_k ~ N(0, coth(w/2kT)/(2w)), p_k ~ N(0, w coth(w/2kT)/2).
 * xi holds fh_dyn_wigner_ndev() standard normal deviates. Writes positions x (bohr) and
 * velocities v (bohr per a.u. of time); centre-of-mass motion and total angular momentum of the
 * sampled velocities are removed. */
void fh_dyn_wigner_sample(const fh_dyn_modes *m, double T, const double *xi, double *x, double *v);

/* Remove centre-of-mass velocity and rigid rotation (zero angular momentum) from v at x. */
void fh_dyn_remove_com_rotation(int natoms, const double *mass, const double *x, double *v);

/* Minimise the energy of `state` from x (in place) with BFGS until the largest gradient component
 * is below gtol (hartree/bohr) or maxiter steps; FH_EFAIL if it did not converge. */
int fh_dyn_optimize(fh_surface *s, int state, double *x, double gtol, int maxiter, fh_err *err);

#endif
