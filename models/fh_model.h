/* The multi-state fusion-block network: energies of N electronic states, their gradients by a
 * hand-written reverse pass, and gap-scaled nonadiabatic couplings h_ij = d_ij (E_j - E_i) as
 * equivariant per-atom vectors (l = 1, odd); a committee of K members with the same architecture;
 * HDF5 model files; and the trainer (fh_model_train_*) that fits it to a reference dataset.
 *
 * Architecture (MACE-like, built from the equivariant core, fh_equivariant.h):
 *   h0_i = embedding[type_i]                                     (C channels of 0e)
 *   per layer t = 1..T:
 *     m_i   = 1/avg_nb sum_{j in 5 A} TP(lin_up(h_j), Y(r_j - r_i), MLP(Bessel(|r_ij|)))
 *     A_i   = lin_A(m_i)                                          (irreps 0e+1o+2e+..., l <= lmax)
 *     h_i^t = lin_out(fusion(A_i)) + sc_type(h_i^{t-1})           (fusion block of order nu,
 *                                                                  per-element weights)
 *     readout_t: per-atom energies e_i,s (0e) and couplings v_i,p (1o); the last layer's readout
 *                is nonlinear (linear -> norm activation -> linear, width readout_hidden)
 *   E_s   = sum_i ( E0[type_i][s] + shift_s + scale_s sum_t e^t_i,s )
 *   h_p,i = sigma_i nac_scale_p sum_t v^t_i,p                   (pairs p = (0,1),(0,2),..,(1,2)..)
 * sigma_i = -1 for the atoms listed in nac_flip, +1 otherwise (all +1 without a list). Why: a
 * network that is equivariant and blind to atom order gives a symmetric geometry symmetric
 * couplings (h_pi(i) = g h_i for a symmetry operation g that permutes the atoms by pi), but h_ij
 * transforms as the product of the two states' symmetries: for stilbene's S0 (A) and S1 (B) it is
 * antisymmetric under the operation that swaps the two halves (measured on the reference data:
 * h_pi(i) = -g h_i to 0.92), so near the Franck-Condon and twisted geometries the best such
 * network can do is predict zero. Flipping the sign on one half makes the output antisymmetric
 * under that swap; the list ties the model to an atom order (natoms = nac_flip_natoms).
 * Even head (nac_even = 1, with the vector readout): a second, unflipped set of 1o readouts w,
 *   h_p,i = nac_scale_p sum_t (sigma_i v^t_i,p + w^t_i,p),
 * the sum of a part odd and a part even under the swap, so that geometries near a symmetric one
 * can have either (the flipped head alone forces the odd part; the measured couplings of some
 * geometries have an even part). Its weights come after all others and start at zero, so adding
 * it to a trained model (fh_model_set_nac_even) leaves the model's predictions as they were.
 * The NAC is recovered as d_ij = h_ij (E_j - E_i) / ((E_j - E_i)^2 + eps^2), eps = nac_gap_eps:
 * equal to h_ij / (E_j - E_i) when the gap is much larger than eps, bounded by |h_ij| / (2 eps) at
 * a degeneracy (the degeneracy guard), and smooth everywhere.
 * Diabatic readout (diabatic = 1, two states only): the network's invariant outputs are instead
 * a 2x2 diabatic Hamiltonian, H00 and H11 normalised like E_0 and E_1 above and
 * H01 = sum_i sigma_i nac_scale_0 sum_t e^t_i,01 (hartree; nac_scale_0 fitted as for the vector
 * head, the RMS of the h labels; sigma as above, so H01 is odd under
 * the swap of the two halves), with no 1o readout; the adiabatic energies, gradients and h
 * follow from H and its gradients (fh_model_diab_forward), which gives the conical intersection,
 * and the coupling that turns around it, by construction. With the even head (nac_even = 1) the
 * head is one more invariant readout f per layer, unflipped, added to H01:
 *   H01 = nac_scale_0 sum_i sum_t (sigma_i e^t_i,01 + f^t_i),
 * odd plus even under the swap, for intersections of two states of the same symmetry (where H01
 * need not vanish at a symmetric geometry); like the vector readout's, it starts at zero.
 * Residual coupling (nac_resid = 1, diabatic only): a flipped 1o readout of every layer's hidden
 * features, q_i = sigma_i nac_scale_0 sum_t r^t_i (hartree/bohr) minus its mean over the atoms
 * (so that h, like the reference's CI block, sums to zero: velocity rescaling along it keeps the
 * total momentum), adds to the coupling
 *   h = h_diab + (2 D / G_r) q,   G_r = FH_MODEL_RESID_GAP,  2 D = E1 - E0 (guarded),
 * i.e. d01 = grad(mixing angle) + q / G_r: the derivative coupling that is left between the two
 * quasi-diabatic states (from the other states and the orbitals). A 2x2 model alone gives h =
 * gap x d(angle), so a coupling as large as the reference's where the gap is several eV (stilbene's
 * twisted S1 well: |h| ~ 0.055 hartree/bohr at 2.2 eV) needs H01 to change by ~1.5 eV per bohr,
 * which the energies forbid; the round-12 committee gives half the reference there, even on its
 * training rows. The residual vanishes with the gap, so the cone and its turning coupling stay
 * those of H; energies and forces do not depend on it. Its weights come after all others and start
 * at zero (fh_model_set_nac_resid keeps a trained model's predictions).
 * With nac_resid = 2 the residual has an unflipped part too, a second 1o readout e^t_i:
 *   q_i = nac_scale_0 sum_t (sigma_i r^t_i + e^t_i), mean-free as above,
 * odd plus even under the swap of the flipped halves, as the even head is for H01. Why: in
 * stilbene's twisted S1 well (reference gaps 2.0-2.5 eV) S0 and S1 have the same symmetry under
 * the swap of the two halves: at the 70 near-symmetric rows (halves superimpose within 0.3 A
 * RMSD) only 4 % of |h_ref|^2 is odd (inputs/datasets/nac_symmetry.py), where the flipped residual
 * can only give odd vectors; at the Franck-Condon rows (gaps above 3 eV) 65-89 % is odd.
 *
 * Units: everything inside is atomic (bohr, hartree); positions are bohr at this interface.
 * Ownership: a model owns its hyperparameters, normalisation and every member's weights; an
 * evaluation workspace (fh_model_ws) owns the equivariant operations and the intermediates of
 * its most recent forward pass (so it is not shared between threads). */
#ifndef FH_MODEL_H
#define FH_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "fh_error.h"

#define FH_MODEL_FORMAT "fusionhop-model"
#define FH_MODEL_VERSION 1
#define FH_MODEL_MAX_ELEMENTS 36   /* H..Kr */
#define FH_MODEL_MAX_STATES 16
#define FH_MODEL_MAX_RADIAL 8      /* hidden layers of the radial MLP */
#define FH_MODEL_MAX_LAYERS 8      /* message-passing layers */
#define FH_MODEL_MAX_MEMBERS 64    /* committee size */
#define FH_MODEL_MAX_FLIP_ATOMS 1024 /* atoms of a model with coupling sign flips */

/* Architecture. Every field is stored in the model file. */
typedef struct {
    int nstates;                     /* N >= 1 */
    int n_elements;                  /* element types the model knows */
    int elements[FH_MODEL_MAX_ELEMENTS]; /* their atomic numbers, strictly ascending */
    int channels;                    /* C, channels of every hidden block */
    char hidden_irreps[64];          /* node features between layers, e.g. "0e+1o" */
    int lmax;                        /* degree of spherical harmonics and messages */
    int correlation;                 /* order nu of the fusion block */
    int tree;                        /* fusion tree: FH_EQ_TREE_CHAIN or FH_EQ_TREE_BALANCED */
    int n_layers;                    /* T */
    double r_cut;                    /* bohr */
    int n_bessel;                    /* radial basis functions */
    int envelope_p;                  /* polynomial envelope power */
    int n_radial;                    /* hidden layers of the radial MLP */
    int radial[FH_MODEL_MAX_RADIAL]; /* their widths */
    int readout_hidden;              /* width of the last layer's nonlinear readout */
    double avg_neighbors;            /* the neighbour sum is divided by this */
    double nac_gap_eps;              /* hartree, degeneracy guard of d = h/dE */
    int nac_flip_natoms;             /* 0: no coupling sign flips; else the molecule's atoms */
    unsigned char nac_flip[FH_MODEL_MAX_FLIP_ATOMS]; /* 1: atom's coupling sign flipped (sigma) */
    int diabatic;                    /* 1: two-state diabatic readout (see below), 0: direct h */
    int nac_even;                    /* 1: the coupling readout has the even head (see above) */
    int nac_resid;                   /* 1: diabatic readout with the residual coupling (above);
                                        2: with its even part too */
} fh_model_hyper;
/* hartree: the gap at which the residual head's output q is the whole coupling h (h = 2D q / G_r);
 * it only sets the size of the head's outputs */
#define FH_MODEL_RESID_GAP 0.1

/* The defaults: 2 states, 32x0e+32x1o, lmax 3, correlation 3 (chain), 2 layers, 5 Angstrom,
 * 8 Bessel functions, envelope p = 5, radial MLP [64,64,64], readout 16, avg_neighbors 10,
 * nac_gap_eps 1e-4 hartree; no elements (set them). */
fh_model_hyper fh_model_hyper_default(void);
/* Check every field (FH_EINPUT naming the field). */
int fh_model_hyper_check(const fh_model_hyper *h, fh_err *err);

/* Where a model came from (stored in the file; informational). */
typedef struct {
    char dataset[1024];       /* path of the training dataset */
    char dataset_checksum[40];/* hex digest of the rows trained on */
    char date[40];            /* ISO 8601, UTC */
    char version[64];         /* program version */
    char command[256];        /* e.g. "fusionhop train stilbene.inp" */
    long epochs;              /* epochs trained (per member, the largest) */
    long n_train, n_valid, n_test;
    uint64_t seed;
    double valid_energy_mae;  /* hartree, final validation errors (NaN when unknown) */
    double valid_force_mae;   /* hartree/bohr */
    double valid_nac_mae;     /* hartree/bohr (phase-free, on h) */
    char nac_target[16];      /* what h was fitted to: "ci" (the CI block <i|dH/dR|j>) or "total"
                                 (the full NAC times the gap); "" in files from before the choice */
} fh_model_provenance;

typedef struct fh_model fh_model;

/* A model with K members whose weights are initialised at random from `seed` (member k from
 * (seed, k)); normalisation starts neutral (E0 = 0, shift 0, scale 1, nac_scale 1). */
int fh_model_alloc(const fh_model_hyper *h, int n_members, uint64_t seed, fh_model **out,
                   fh_err *err);
void fh_model_free(fh_model *m);
/* Set the coupling sign flips (see the top): flip [natoms], 1 = flipped; natoms 0 removes them.
 * Keeps the weights (fine-tuning a model trained without flips starts from its couplings with
 * the flipped atoms' signs reversed). */
int fh_model_set_nac_flip(fh_model *m, int natoms, const unsigned char *flip, fh_err *err);
/* Add the even coupling head (see the top) to a model without one: every member's weights are
 * kept and the new head's start at zero, so predictions do not change. on = 0 on a model with the
 * head is an error (its weights would be lost); setting what is already set does nothing. */
int fh_model_set_nac_even(fh_model *m, int on, fh_err *err);
/* Raise the residual coupling head to level 1 (the flipped head) or 2 (with the even part;
 * diabatic readout): the new weights start at zero, so predictions stay as they were. Lowering
 * the level is an error (trained weights would be lost); the same level does nothing. */
int fh_model_set_nac_resid(fh_model *m, int level, fh_err *err);
/* Widen every member's hidden features to `channels` (more than it has; Net2Net-like): old weights
 * are kept, weights from a new channel into an old one start at zero, and every weight into a new
 * channel is drawn from (seed, member) with the RMS of its old block. The old channels, hence
 * every prediction, stay as they were (to rounding); training then gives the new channels a part.
 * Fewer channels than the model has is an error; the same number does nothing. */
int fh_model_widen(fh_model *m, int channels, uint64_t seed, fh_err *err);
/* A copy (weights, normalisation, provenance). */
int fh_model_copy(const fh_model *src, fh_model **out, fh_err *err);

const fh_model_hyper *fh_model_get_hyper(const fh_model *m);
int fh_model_nstates(const fh_model *m);
int fh_model_n_members(const fh_model *m);
size_t fh_model_n_params(const fh_model *m);   /* per member */
/* Member k's weights (length fh_model_n_params), owned by the model. */
double *fh_model_params(fh_model *m, int member);
const double *fh_model_params_const(const fh_model *m, int member);
/* Re-initialise member k's weights from (seed, k). */
void fh_model_init_params(fh_model *m, int member, uint64_t seed);
/* Data-dependent start for member k's freshly initialised weights, on ngeom geometries of one
 * molecule (x [ngeom][natoms][3] bohr): each layer's radial weights are rescaled so that its
 * messages have unit RMS, then its fusion block by a common factor so that its output has unit
 * RMS. Keeps the features O(1) at the start of training whatever the molecule's size,
 * distances and neighbour count. */
int fh_model_calibrate(fh_model *m, int member, int ngeom, int natoms, const int *type,
                       const double *x, fh_err *err);
/* Change the committee size (new members initialised from (seed, k)); keeps existing ones. */
int fh_model_set_members(fh_model *m, int n_members, uint64_t seed, fh_err *err);
/* Keep only member k (0-based) as a committee of one: its predictions alone, e.g. to see where
 * the members disagree. Normalisation and provenance are shared by all members and stay. */
int fh_model_keep_member(fh_model *m, int k, fh_err *err);

/* Normalisation (owned by the model): e0 [n_elements][nstates] hartree, shift [nstates]
 * hartree per atom, scale [nstates] hartree, nac_scale [npairs] hartree/bohr. */
typedef struct {
    double *e0, *shift, *scale, *nac_scale;
} fh_model_norm;
fh_model_norm *fh_model_get_norm(fh_model *m);
const fh_model_norm *fh_model_get_norm_const(const fh_model *m);
fh_model_provenance *fh_model_get_provenance(fh_model *m);

/* Atomic numbers -> type indices; FH_EINPUT naming the atom when an element is unknown. */
int fh_model_types(const fh_model *m, int natoms, const int *z, int *type, fh_err *err);

/* ---------------------------------------------------------------------------------------------
 * One member: forward and reverse pass. */
typedef struct fh_model_ws fh_model_ws;
fh_model_ws *fh_model_ws_alloc(const fh_model *m, fh_err *err);
void fh_model_ws_free(fh_model_ws *ws);

enum {
    FH_MODEL_TANGENTS = 1   /* forward also prepares position gradients (needed by a backward
                               with gx != NULL; costs about one more radial-MLP pass) */
};
/* Energies [nstates] (hartree) and gap-scaled couplings hcoup [npairs][natoms][3] (hartree/bohr,
 * NULL: not wanted) of one member with weights theta at positions x [natoms][3] (bohr). Saves the
 * intermediates for fh_model_backward. The workspace grows on demand. With the diabatic readout
 * `energy` receives the fh_model_n_outputs = 3 elements H00, H11, H01 (hartree) and hcoup the
 * residual head's q [natoms][3] (hartree/bohr) when the model has it (nac_resid), else nothing;
 * fh_model_member_eval gives the adiabatic quantities of either kind. At the positions and types
 * of the previous forward on this workspace (the next committee member) the neighbour pairs and
 * edge features are reused, not recomputed: same results, less work. */
int fh_model_forward(fh_model_ws *ws, const fh_model *m, const double *theta, int natoms,
                     const int *type, const double *x, int flags, double *energy, double *hcoup,
                     fh_err *err);
/* Reverse pass of the most recent forward, for the scalar  sum_s gE[s] E_s + sum gH . hcoup:
 * gx [natoms][3] += its gradient w.r.t. positions (needs FH_MODEL_TANGENTS), gtheta += its
 * gradient w.r.t. the weights. gE, gH, gx, gtheta may be NULL. May be called several times after
 * one forward (e.g. once per state). */
int fh_model_backward(fh_model_ws *ws, const fh_model *m, const double *theta, const double *gE,
                      const double *gH, double *gx, double *gtheta, fh_err *err);
/* Scalar outputs of fh_model_forward (and seeds gE of fh_model_backward): nstates, or 3 with the
 * diabatic readout. */
int fh_model_n_outputs(const fh_model *m);
/* One member's adiabatic energies E [nstates], the gradients g [nstates][natoms][3] of the states
 * in grad_mask (others untouched; g may be NULL without a mask) and, with hcoup non-NULL, the
 * couplings [npairs][natoms][3], for either readout: the forward, then one backward pass per
 * gradient (direct readout); with the diabatic readout one per wanted output (a state's gradient,
 * h) when fewer than three are wanted and dH is NULL, else one per diabatic element, whose values
 * H [3] and gradients dH [3][natoms][3] are then also returned (caller's arrays, or NULL; H is
 * filled in either case). */
int fh_model_member_eval(fh_model_ws *ws, const fh_model *m, const double *theta, int natoms,
                         const int *type, const double *x, unsigned grad_mask, double *E,
                         double *g, double *hcoup, double *H, double *dH, fh_err *err);
/* Floating-point operations of the most recent forward (backward = 0) or of one backward with
 * position gradients only (1) or with weight gradients too (2); for benchmarks. */
double fh_model_flops(const fh_model_ws *ws, int backward);
/* Number of neighbour pairs of the most recent forward. */
int fh_model_ws_npairs(const fh_model_ws *ws);

/* ---------------------------------------------------------------------------------------------
 * Committee prediction (what the dynamics and `fusionhop predict` use). */
typedef struct {
    unsigned grad_mask;   /* bit s: gradient of state s wanted */
    int want_nac;         /* NACs d_ij of all pairs wanted */
    double *energy;       /* [nstates] out: committee mean, hartree (required) */
    double *grad;         /* [nstates][natoms][3] out: mean gradient, hartree/bohr; rows of
                             unrequested states untouched */
    double *nac;          /* [npairs][natoms][3] out: d_ij, 1/bohr */
    double *hcoup;        /* [npairs][natoms][3] out: mean gap-scaled couplings h_ij, hartree/bohr */
    double *energy_std;   /* [nstates] out: committee standard deviation (divisor K; 0 if K = 1) */
} fh_model_request;
/* Members' couplings are sign-aligned to member 0 (the state sign pattern that maximises their
 * overlap, since training is phase-free) before averaging; d_ij uses the mean energies. */
int fh_model_predict(fh_model *m, int natoms, const int *z, const double *x, fh_model_request *req,
                     fh_err *err);
/* By default fh_model_predict evaluates each member's radial MLP from a table (R, R' and R'' at
 * 1024 knots up to the cutoff, quintic Hermite in between; made on first use, remade whenever the
 * weights change): the dynamics step is about a quarter faster, and the function differs from the
 * network's by about 1e-12 hartree in energies and 1e-9 of the largest gradient component
 * (tests/unit/test_model_radial_table.c). exact = 1 evaluates the MLPs instead. */
void fh_model_set_exact_radial(fh_model *m, int exact);
/* Arithmetic of fh_model_predict. DOUBLE (the default of a loaded model): everything in double.
 * MIXED: the bulk of the work in single precision -- the message tensor product, the linear maps,
 * the fusion blocks (forward and reverse) and the radial tables -- while the harmonics, radial
 * basis, activations, readouts' outputs and all sums over the molecule stay double. Energies and
 * gradients then differ from DOUBLE's by about 1e-7 relative (tests/unit/test_model_precision.c),
 * far below the model's own error, and a dynamics step takes about 0.6 of the time (README,
 * "Measured figures"). Results stay bitwise reproducible. Training always runs in double. */
typedef enum { FH_MODEL_PRECISION_DOUBLE = 0, FH_MODEL_PRECISION_MIXED = 1 } fh_model_precision;
void fh_model_set_precision(fh_model *m, fh_model_precision p);
/* d_ij from h_ij and the gap E_j - E_i, with the degeneracy guard (see the top of this file). */
double fh_model_nac_factor(double gap, double eps);

/* The kernels of the two-state diabatic readout (model_diabatic.c; deck: [model] coupling =
 * diabatic): from a 2x2 diabatic Hamiltonian H = (H00, H11, H01) and its gradients dH [3][n3], the
 * adiabatic energies E [2] (E0 <= E1), their gradients g [2][n3] and the gap-scaled coupling
 * h = d01 (E1 - E0) [n3], d01 = <0|grad 1> (g or h may be NULL); eps >= 0 is the degeneracy guard
 * (the gap is never below 2 eps; the model passes its nac_gap_eps). The backward kernel takes the
 * adjoints dL/dE (gE [2]), dL/dg (v [2][n3] or NULL) and dL/dh (gh [n3] or NULL) and writes
 * dL/dH (gH [3]) and dL/d(dH) (wdH [3][n3], or NULL to skip). */
void fh_model_diab_forward(size_t n3, double eps, const double H[3], const double *dH, double E[2],
                           double *g, double *h);
void fh_model_diab_backward(size_t n3, double eps, const double H[3], const double *dH,
                            const double gE[2], const double *v, const double *gh, double gH[3],
                            double *wdH);
/* The residual coupling (nac_resid): h [n3] += (2 D / FH_MODEL_RESID_GAP) q; its backward adds
 * dL/dH to gH [3] (through D) and writes dL/dq (gq [n3]) from dL/dh (gh). */
void fh_model_diab_resid_forward(size_t n3, double eps, const double H[3], const double *q,
                                 double *h);
void fh_model_diab_resid_backward(size_t n3, double eps, const double H[3], const double *q,
                                  const double *gh, double gH[3], double *gq);

/* ---------------------------------------------------------------------------------------------
 * Model files (HDF5). Save writes PATH.tmp and renames it (atomic). Load validates format,
 * version, every hyperparameter, array shapes, element list, finiteness and a checksum of the
 * weights: a corrupt, truncated or mismatched file is FH_EINPUT with a message naming the file
 * and the problem. */
int fh_model_save(const fh_model *m, const char *path, fh_err *err);
int fh_model_load(const char *path, fh_model **out, fh_err *err);
/* 64-bit FNV-1a digest of bytes (used for weights and dataset checksums). */
uint64_t fh_model_fnv1a(const void *data, size_t n, uint64_t h);
#define FH_MODEL_FNV_INIT 0xcbf29ce484222325ULL

#endif
