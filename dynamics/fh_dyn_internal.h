/* The pieces of one surface-hopping step (see fh_dynamics.h for the algorithm), exposed to the
 * other files of dynamics/ and to the unit tests, not to users of the library. */
#ifndef FH_DYN_INTERNAL_H
#define FH_DYN_INTERNAL_H

/* --- electrons (electronic.c) --- */
typedef struct fh_dyn_elec_ws fh_dyn_elec_ws;
/* Workspace for n states (n > 2 uses GSL's Hermitian eigensolver; n <= 2 needs none). NULL: out
 * of memory. */
fh_dyn_elec_ws *fh_dyn_elec_ws_alloc(int n);
void fh_dyn_elec_ws_free(fh_dyn_elec_ws *ws);
/* c <- exp(-i H dtau) c for H = diag(e) - i T, T_ij = tdc[pair(i,j)] = -T_ji (i < j): exact and
 * unitary. c: [2n] interleaved Re/Im. */
void fh_dyn_elec_substep(fh_dyn_elec_ws *ws, int n, const double *e, const double *tdc,
                         double dtau, double *c);
/* One nuclear step of the electrons: nsub substeps of dt/nsub with e and tdc interpolated linearly
 * from (e0, tdc0) at the step's start to (e1, tdc1) at its end (values at each substep's middle).
 * g[n]: fewest-switches probabilities out of `active` accumulated over the substeps (g[active] = 0).
 * Returns the largest |sum |c|^2 - initial sum| seen after any substep. */
double fh_dyn_elec_step(fh_dyn_elec_ws *ws, int n, int nsub, double dt, const double *e0,
                        const double *e1, const double *tdc0, const double *tdc1, int active,
                        double *c, double *g);

/* --- couplings (coupling.c) --- */
/* kappa-TDC (Baeck-An) at the newest of three equally spaced times: tdc[pair(i,j)] =
 * 1/2 sqrt(Gdd/G) for G = e_new[j] - e_new[i] (i < j), Gdd = (G_new - 2 G_cur + G_prev)/dt^2, when
 * 0 < G < gap_max and Gdd/G > 0; else 0. */
void fh_dyn_ktdc(int n, const double *e_new, const double *e_cur, const double *e_prev,
                 double dt, double gap_max, double *tdc);
/* Flip each pair's NAC vector whose overlap with the reference is negative. */
void fh_dyn_align_nacs(int npairs, int ndof, double *nac, const double *ref);
/* tdc[p] = v . nac[p] */
void fh_dyn_tdc_from_nac(int npairs, int ndof, const double *nac, const double *v, double *tdc);

/* --- hops (hopping.c) --- */
/* The state chosen by uniform u from the probabilities g[n] out of `active`: the first j whose
 * cumulative sum of g (over j != active, in index order) exceeds u; `active` when none does. If the
 * total exceeds 1 the probabilities are scaled to sum to 1. */
int fh_dyn_hop_target(int n, int active, const double *g, double u);
/* Change v along dir (mass-weighted: v -= gamma dir/m) so that the kinetic energy changes by -de
 * (de = E_target - E_active), taking the smaller |gamma|. Returns 1 and updates v when possible,
 * 0 (v untouched) when there is not enough kinetic energy along dir. */
int fh_dyn_rescale_along(int ndof, const double *mass, double *v, const double *dir, double de);
/* Reverse the component of v along dir, keeping the kinetic energy: v -= 2 (v.dir)/(dir.M^-1.dir) dir/m. */
void fh_dyn_reflect_along(int ndof, const double *mass, double *v, const double *dir);
/* Kinetic energy sum m v^2 / 2. */
double fh_dyn_kinetic(int ndof, const double *mass, const double *v);

/* --- decoherence (decoherence.c) --- */
/* Granucci-Persico EDC over a time dt: c_j *= exp(-dt |e_j - e_a| / (1 + C/ekin)) for j != a, then
 * c_a rescaled so that the norm is unchanged. Nothing happens when ekin <= 0. */
void fh_dyn_edc(int n, int active, const double *e, double ekin, double c_param, double dt,
                double *c);

#endif
