/* Fewest-switches surface hopping (Tully 1990) for one trajectory, usable step by step by an
 * outside loop (the ensemble runner, `fusionhop scatter`, the tests).
 *
 * One step of length dt, from t to t + dt:
 *  1. nuclei: velocity Verlet on the active adiabatic surface (one provider call at the new
 *     geometry: all energies, the active state's gradient, NACs when they are used);
 *  2. couplings: T_ij = v.d_ij with each NAC's sign aligned to the previous step's (or to its linear
 *     extrapolation), or, without NACs, the curvature-driven kappa-TDC of Baeck and An
 *     (J. Chem. Phys. 146, 064107 (2017)): T_ij = 1/2 sqrt(Gdd/G) for the gap G = E_j - E_i (i < j),
 *     Gdd its second time derivative by finite differences over the last three steps, used only
 *     when G < ktdc_gap and Gdd/G > 0 (else 0);
 *  3. electrons: the amplitudes c (adiabatic basis) are propagated over nsubsteps substeps by the
 *     exact exponential of H = diag(E) - iT (unitary), with E and T interpolated linearly across
 *     the step; the fewest-switches probabilities g_a->j = sum over substeps of
 *     dtau * max(0, 2 T_aj Re(c_a* c_j)) / |c_a|^2 are accumulated;
 *  4. hop test: exactly ONE uniform random number is drawn per step, at every step, whether or not
 *     a hop is possible: u_n = Philox4x64-10(key = {seed, traj_index}, counter = {n, 0, 0, 0}), word
 *     0, top 53 bits -> [0, 1), where n = 1, 2, ... numbers the step (ending at t = n dt). State j is
 *     chosen when u_n falls in its slice of the cumulative probabilities. Nothing else is random, so
 *     a trajectory depends only on (seed, traj_index), not on where or when it runs, and a
 *     checkpoint needs no generator state;
 *  5. an accepted hop a -> b conserves total energy by rescaling the velocity (see fh_dyn_rescale)
 *     and the gradient of b is computed (one more provider call); a frustrated hop (not enough
 *     kinetic energy) is handled as fh_dyn_frustrated says (Jasper-Truhlar needs one more call);
 *  6. decoherence (optional): energy-based decoherence correction (Granucci and Persico,
 *     J. Chem. Phys. 126, 134114 (2007)): c_j *= exp(-dt/tau_j), tau_j = (1 + C/Ekin)/|E_j - E_a|
 *     for every inactive j, and c_a rescaled to keep the norm;
 *  7. monitoring: total energy change per step and drift from the start, NaN anywhere, the
 *     committee energy spread (providers with FH_CAP_SPREAD), provider failures (e.g. leaving the
 *     model's domain) and tmax stop the trajectory with a reason (fh_dyn_stop); nothing is silent.
 * All quantities are in atomic units: bohr, bohr/a.u. time, hartree, a.u. of time. */
#ifndef FH_DYNAMICS_H
#define FH_DYNAMICS_H

#include <stddef.h>
#include <stdint.h>

#include "fh_error.h"
#include "fh_surfaces.h"

typedef enum {
    FH_DYN_COUPLING_AUTO = 0, /* NACs when the provider has them, else kappa-TDC */
    FH_DYN_COUPLING_NAC,      /* T = v.d (provider must have FH_CAP_NAC) */
    FH_DYN_COUPLING_KTDC      /* kappa-TDC from the energy gaps only (NACs never requested) */
} fh_dyn_coupling;

typedef enum {
    FH_DYN_RESCALE_NAC = 0,  /* momentum change along the NAC d_ab; without NACs along the
                                momentum (the same as VELOCITY) */
    FH_DYN_RESCALE_VELOCITY, /* scale the whole velocity */
    FH_DYN_RESCALE_NONE      /* hop without changing v (total energy jumps by E_a - E_b; the
                                energy monitor follows the jump) */
} fh_dyn_rescale;

typedef enum {
    FH_DYN_FRUSTRATED_KEEP = 0,   /* keep the velocity */
    FH_DYN_FRUSTRATED_REVERSE,    /* reverse the velocity component along d_ab (without NACs: all
                                     of v, the direction being the momentum) */
    FH_DYN_FRUSTRATED_REVERSE_JT  /* reverse only if (F_b.d)(v.d) < 0, F_b the target state's force
                                     (Jasper and Truhlar, Chem. Phys. Lett. 369, 60 (2003)) */
} fh_dyn_frustrated;

typedef enum {
    FH_DYN_DECOHERENCE_NONE = 0,
    FH_DYN_DECOHERENCE_EDC /* Granucci-Persico energy-based decoherence correction */
} fh_dyn_decoherence;

/* Why a trajectory stopped. */
typedef enum {
    FH_DYN_RUNNING = 0,
    FH_DYN_STOP_TMAX,        /* reached tmax */
    FH_DYN_STOP_ECONS_STEP,  /* |E_tot(t+dt) - E_tot(t)| > econs_step */
    FH_DYN_STOP_ECONS_DRIFT, /* |E_tot(t) - E_tot(0)| > econs_drift */
    FH_DYN_STOP_NAN,         /* NaN/Inf in coordinates, velocities, amplitudes or energies */
    FH_DYN_STOP_SPREAD,      /* committee energy spread > spread_max (left the model's domain) */
    FH_DYN_STOP_PROVIDER,    /* the provider failed (message in fh_dyn_traj_stop_message) */
    FH_DYN_STOP_USER,        /* stopped by the caller (fh_dyn_traj_stop) */
    FH_DYN_STOP_FRAGMENTED   /* the molecule fell apart (bond_break) */
} fh_dyn_stop;

/* Parameters; all in atomic units. fh_dyn_params_default() gives the documented defaults. */
typedef struct {
    double dt;                      /* nuclear time step; default 0.5 fs = 20.67 a.u. */
    double tmax;                    /* stop at t >= tmax; <= 0: no limit (the caller stops); default 0 */
    int nsubsteps;                  /* electronic substeps per nuclear step; default 20 */
    fh_dyn_coupling coupling;       /* default AUTO */
    double ktdc_gap;                /* kappa-TDC only for gaps below this; default 0.5 eV */
    int nac_extrapolate;            /* align NAC signs with 2 d(t) - d(t-dt) instead of d(t); default 1
                                       (d(t) alone flips a NAC wrongly where it passes through zero) */
    fh_dyn_rescale rescale;         /* default NAC */
    fh_dyn_frustrated frustrated;   /* default KEEP */
    fh_dyn_decoherence decoherence; /* default NONE */
    double edc_c;                   /* EDC parameter C; default 0.1 Eh */
    double econs_step;              /* max |change of total energy| in one step; <= 0: off; default 0.5 eV */
    double econs_drift;             /* max |total energy - initial|; <= 0: off; default 0.5 eV */
    double spread_max;              /* max committee energy spread (any state); <= 0: off; default 0.5 eV */
    double bond_break;              /* molecules: stop when the graph of atoms closer than
                                       bond_break x (sum of covalent radii) has more parts than at
                                       the start (an atom or group flew off); <= 0: off; default
                                       1.75 */
} fh_dyn_params;

fh_dyn_params fh_dyn_params_default(void);
/* FH_EINPUT with a message naming the bad parameter. */
int fh_dyn_params_check(const fh_dyn_params *p, fh_err *err);

/* Names used by decks and command lines ("auto", "nac", "ktdc"; "nac", "velocity", "none";
 * "keep", "reverse", "reverse_jt"; "none", "edc"). *_parse return 0 or -1 when unknown. */
const char *fh_dyn_coupling_name(fh_dyn_coupling c);
const char *fh_dyn_rescale_name(fh_dyn_rescale r);
const char *fh_dyn_frustrated_name(fh_dyn_frustrated f);
const char *fh_dyn_decoherence_name(fh_dyn_decoherence d);
const char *fh_dyn_stop_name(fh_dyn_stop s); /* "running", "tmax", "econs_step", ... */
int fh_dyn_coupling_parse(const char *s, fh_dyn_coupling *out);
int fh_dyn_rescale_parse(const char *s, fh_dyn_rescale *out);
int fh_dyn_frustrated_parse(const char *s, fh_dyn_frustrated *out);
int fh_dyn_decoherence_parse(const char *s, fh_dyn_decoherence *out);

/* The uniform number in [0, 1) of (seed, traj_index, counter, word 0..3): Philox4x64-10, top 53 bits. */
double fh_dyn_uniform(uint64_t seed, uint64_t traj_index, uint64_t counter, int word);

typedef struct fh_dyn_traj fh_dyn_traj;

/* What happened in one step. */
typedef struct {
    int hopped;        /* 1: the active state changed */
    int hop_from;      /* state before the step */
    int hop_to;        /* target of the accepted or frustrated hop; -1 when none was attempted */
    int frustrated;    /* 1: a hop was attempted but rejected for lack of kinetic energy */
    int reversed;      /* 1: the velocity component along d was reversed after a frustrated hop */
    double hop_energy_change; /* total energy right after the accepted hop minus right before it:
                                 rounding only when rescaling, E_b - E_a with rescale = none */
    double random;     /* the uniform number of this step's hop test */
    double hop_prob;   /* total hopping probability out of the active state in this step */
    double norm_error; /* max over substeps of |sum_i |c_i|^2 - norm at the step's start| */
    fh_dyn_stop stop;  /* FH_DYN_RUNNING, or why the trajectory stopped in this step */
} fh_dyn_step_info;

/* A trajectory on surface s (not owned; must outlive the trajectory). The parameters are copied.
 * Fails with FH_EINPUT on bad parameters or when coupling = NAC and the provider has no NACs. */
fh_dyn_traj *fh_dyn_traj_alloc(fh_surface *s, const fh_dyn_params *p, uint64_t seed,
                               uint64_t traj_index, fh_err *err);
void fh_dyn_traj_free(fh_dyn_traj *tr);

/* Start at t = 0 from x0, v0 ([ndof] bohr, bohr/a.u.) with all population on active_state. One
 * provider call. FH_EINPUT for a bad state or non-finite input, FH_EFAIL when the provider fails. */
int fh_dyn_traj_start(fh_dyn_traj *tr, const double *x0, const double *v0, int active_state,
                      fh_err *err);
/* Advance by dt. Returns FH_OK also when the trajectory stops in this step (info->stop and
 * fh_dyn_traj_stop_reason say why); FH_EINPUT when not started or already stopped. info may be NULL. */
int fh_dyn_traj_step(fh_dyn_traj *tr, fh_dyn_step_info *info, fh_err *err);
/* Mark the trajectory stopped by the caller (reason FH_DYN_STOP_USER) with a short message. */
void fh_dyn_traj_stop(fh_dyn_traj *tr, const char *why);

/* Current state. Arrays are owned by the trajectory and valid until the next step/restore. */
double fh_dyn_traj_time(const fh_dyn_traj *tr);
long fh_dyn_traj_nsteps(const fh_dyn_traj *tr);
int fh_dyn_traj_nstates(const fh_dyn_traj *tr);
int fh_dyn_traj_ndof(const fh_dyn_traj *tr);
const double *fh_dyn_traj_x(const fh_dyn_traj *tr);          /* [ndof] bohr */
const double *fh_dyn_traj_v(const fh_dyn_traj *tr);          /* [ndof] bohr/a.u. */
const double *fh_dyn_traj_amplitudes(const fh_dyn_traj *tr); /* [2*nstates]: Re c0, Im c0, Re c1, ... */
double fh_dyn_traj_population(const fh_dyn_traj *tr, int state); /* |c_state|^2 */
int fh_dyn_traj_active(const fh_dyn_traj *tr);
const double *fh_dyn_traj_energies(const fh_dyn_traj *tr);   /* [nstates] hartree */
/* [npairs*ndof] sign-aligned NACs of the current step (1/bohr); NULL when NACs are not used. */
const double *fh_dyn_traj_nac(const fh_dyn_traj *tr);
/* [npairs] time-derivative couplings T_ij (i < j) at the current time, 1/a.u. time */
const double *fh_dyn_traj_tdc(const fh_dyn_traj *tr);
double fh_dyn_traj_kinetic(const fh_dyn_traj *tr);          /* hartree */
double fh_dyn_traj_total_energy(const fh_dyn_traj *tr);     /* kinetic + active state energy */
double fh_dyn_traj_energy_spread(const fh_dyn_traj *tr);    /* max committee std; 0 without one */
double fh_dyn_traj_energy_std(const fh_dyn_traj *tr, int state); /* committee std of a state */
long fh_dyn_traj_nhops(const fh_dyn_traj *tr);
long fh_dyn_traj_nfrustrated(const fh_dyn_traj *tr);
int fh_dyn_traj_uses_nac(const fh_dyn_traj *tr);            /* resolved coupling: 1 NAC, 0 kTDC */
fh_dyn_stop fh_dyn_traj_stop_reason(const fh_dyn_traj *tr);
const char *fh_dyn_traj_stop_message(const fh_dyn_traj *tr); /* "" while running */
uint64_t fh_dyn_traj_seed(const fh_dyn_traj *tr);
uint64_t fh_dyn_traj_index(const fh_dyn_traj *tr);

/* Checkpoint: the FULL dynamical state (time, step count, x, v, forces, amplitudes, active state,
 * energies, couplings and their history, energy references, counters, stop reason, seed and
 * trajectory index) as a flat array of fh_dyn_traj_state_size() doubles (integers are stored
 * exactly; 64-bit keys as two 32-bit halves). Restoring it into a trajectory allocated on the same
 * surface with the same parameters, then stepping, gives bitwise the same trajectory as never
 * stopping. The restored trajectory takes the checkpoint's seed and traj_index. The stop message
 * is not stored (a restored stopped trajectory reports its reason's name). */
size_t fh_dyn_traj_state_size(const fh_dyn_traj *tr);
void fh_dyn_traj_save(const fh_dyn_traj *tr, double *state);
/* FH_EINPUT when the array does not fit this trajectory (other nstates/ndof/layout/coupling). */
int fh_dyn_traj_restore(fh_dyn_traj *tr, const double *state, fh_err *err);

#endif
