/* Training of the multi-state model (`fusionhop train`): the per-geometry loss and its gradient
 * with respect to the weights, the reference dataset turned into training samples, the
 * normalisation fitted to the training split, and the optimisation loop (Adam/amsgrad, plateau
 * decay, EMA, early stopping, per-epoch checkpoints with resume, MPI data parallelism).
 *
 * Loss of one geometry with n atoms (all quantities atomic units; only present labels count):
 *   L = w_E mean_s ((E_s - E_s^ref) / n)^2
 *     + w_F mean_{s,atoms,xyz} (dE_s/dR - g_s^ref)^2
 *     + w_C min_sigma mean_{pairs,atoms,xyz} (h_ij - sigma_i sigma_j h_ij^ref)^2
 * with h^ref_ij = d^ref_ij (E^ref_j - E^ref_i) and sigma over the 2^(N-1) sign patterns of the
 * states (sigma_0 = +1): the reference's wavefunction phases are arbitrary, so the coupling term
 * takes the best pattern for all pairs together. A batch's loss is the mean over its geometries.
 * With huber_e / huber_f > 0 the energy / force squares d^2 become Huber's rho(d) = d^2 for
 * |d| <= delta, delta (2|d| - delta) beyond (delta: the energy error in hartree, not per atom;
 * the gradient component error in hartree/bohr): the few far-off geometries of a dataset then pull
 * on the fit linearly, not quadratically. With nac_gap_scale = G > 0 the coupling term of pair ij
 * is weighted 1 / (1 + (gap_ref / G)^2) (inside the min: the sign pattern minimises the weighted
 * sum): the couplings drive the hops where the gap is small, so the head spends itself there.
 * With nac_norm_scale = S > 0 it is weighted (also) 1 / (1 + |h^ref_ij|^2 / S^2): for |h^ref| >> S
 * the term becomes the relative error |h - h^ref|^2 / |h^ref|^2 (times S^2), so geometries with
 * weak couplings count for their direction as much as those at the seam, whose |h| is several times
 * larger (the squared error otherwise weights each geometry by |h^ref|^2).
 *
 * The force term's weight gradient needs mixed second derivatives d/dtheta (v . dE_s/dR) with
 * v = dL/d(dE_s/dR). They are taken as a finite-difference Hessian-vector product of two reverse
 * passes: d/dtheta (v . dE_s/dR) = [dE_s/dtheta (R + eps v) - dE_s/dtheta (R - eps v)] / (2 eps)
 * (central) or [dE_s/dtheta (R + eps v) - dE_s/dtheta (R)] / eps (one-sided, the default: one
 * extra forward and reverse pass per state with force labels), eps chosen so that the largest
 * atomic displacement is hvp_step. */
#ifndef FH_TRAIN_H
#define FH_TRAIN_H

#include <mpi.h>
#include <stdint.h>

#include "fh_dataset.h"
#include "fh_model.h"

/* One geometry with its labels (borrowed pointers; atomic units). */
typedef struct {
    int natoms;
    const int *type;                  /* [natoms] model type indices */
    const double *x;                  /* [natoms][3] bohr */
    const double *energy;             /* [N] hartree */
    const unsigned char *has_energy;  /* [N] */
    const double *grad;               /* [N][natoms][3] hartree/bohr */
    const unsigned char *has_grad;    /* [N] */
    const double *hcoup;              /* [P][natoms][3] h_ij^ref, hartree/bohr */
    const unsigned char *has_hcoup;   /* [P] */
} fh_train_sample;

enum { FH_TRAIN_HVP_FORWARD = 0, FH_TRAIN_HVP_CENTRAL = 1 };

typedef struct {
    double w_energy, w_force, w_nac;
    int force_hvp;      /* FH_TRAIN_HVP_* */
    double hvp_step;    /* bohr, largest atomic displacement of the Hessian-vector product */
    double w_gap;       /* weight of the squared per-atom gap errors (E_j - E_i), part of the
                           energy term: the gap drives the hops, its error is not the sum of the
                           states' */
    double huber_e;     /* hartree: Huber threshold of the energy errors; 0 = squares */
    double huber_f;     /* hartree/bohr: of the gradient components; 0 = squares */
    double nac_norm_scale; /* hartree/bohr S: pair ij's coupling term weighted 1 / (1 + |h_ref|^2 /
                              S^2) (|h_ref|: the norm over all atoms); 0 = 1 */
    double nac_gap_scale; /* hartree G: pair ij's coupling term weighted 1 / (1 + (gap_ref/G)^2)
                             (gap_ref = E^ref_j - E^ref_i, where both are labelled); 0 = 1 */
} fh_train_loss_cfg;
/* w_E = 1, w_F = 1, w_C = 1, one-sided, 1e-5 bohr, no gap term, squares (no Huber), equal
 * coupling weights. */
fh_train_loss_cfg fh_train_loss_cfg_default(void);

/* Loss terms and error sums of one or more geometries (accumulated: += by every call). */
typedef struct {
    double loss, l_energy, l_force, l_nac;
    double e_abs[FH_MODEL_MAX_STATES], e_n[FH_MODEL_MAX_STATES]; /* |E - E^ref| sums, counts */
    double gap_abs, gap_n;            /* |(E_j - E_i) - ref| over pairs with both energies */
    double f_abs, f_n;                /* |dE/dR - g^ref| over components */
    double h_abs, h_n;                /* phase-free |h - h^ref| over components */
    double nac_cos, nac_rel, nac_n;   /* NACs where the reference gap < 1 eV: phase-free cosine
                                         similarity and | |d| - |d^ref| | / |d^ref|, per pair */
} fh_train_terms;
void fh_train_terms_add(fh_train_terms *to, const fh_train_terms *from);

/* Loss of one geometry with weights theta; gtheta (may be NULL) += its gradient; terms (may be
 * NULL) += its terms and errors. Uses ws for several forward/backward passes. */
int fh_train_sample_loss(fh_model_ws *ws, const fh_model *m, const double *theta,
                         const fh_train_sample *s, const fh_train_loss_cfg *cfg, double *gtheta,
                         fh_train_terms *terms, fh_err *err);

/* Scale g[0..n) down to the L2 norm max_norm where it is longer (max_norm <= 0: never); returns
 * its norm before. The trainer applies it to every batch's mean gradient ([train] clip_grad). */
double fh_train_clip_grad(double *g, size_t n, double max_norm);

/* ---------------------------------------------------------------------------------------------
 * Training data: the rows of a reference dataset with status OK, in atomic units, with h^ref. */
typedef struct {
    int natoms, nstates, npairs;
    size_t n;                          /* geometries */
    int *z;                            /* [natoms] atomic numbers (one molecule per dataset) */
    int *type;                         /* [natoms] model types (fh_train_data_set_types) */
    double *x, *energy, *grad, *hcoup; /* [n][natoms][3] bohr, [n][N], [n][N][natoms][3],
                                          [n][P][natoms][3] */
    unsigned char *has_energy, *has_grad, *has_hcoup;
    char (*id)[FH_DATASET_ID_LEN];     /* [n] the rows' ids (they decide the split) */
    char checksum[40];                 /* hex FNV-1a of the rows used */
    char path[1024];
} fh_train_data;
/* What the coupling head learns, h_ij^ref:
 * FH_TRAIN_NAC_CI: the CI block <psi_i|dH/dR|psi_j> where the dataset has it (OpenMolcas rows),
 *   else d_ij (E_j - E_i). Why the default: h_CI is the smooth quantity (no 1/gap, no CSF term),
 *   sums to zero over the atoms (translation-invariant, so velocity rescaling along h/gap keeps
 *   the total momentum), and at the small gaps where hops happen d_ij = h_CI/(E_j - E_i) is the
 *   whole NAC (stilbene MECI region: cosine >= 0.998 with the total). At large gaps the CSF term
 *   times the gap is as large as h_CI (Franck-Condon stilbene) and has a net translation part.
 * FH_TRAIN_NAC_TOTAL: the total NAC the dataset stores, times the gap. */
enum { FH_TRAIN_NAC_CI = 0, FH_TRAIN_NAC_TOTAL = 1 };
/* Read PATH (fh_dataset format); rows whose status is not OK are skipped; nac_target is a
 * FH_TRAIN_NAC_* value. */
int fh_train_data_load(const char *path, int nac_target, fh_train_data **out, fh_err *err);
/* Map the atoms to the model's types (FH_EINPUT when the model lacks an element or the number of
 * states differs). */
int fh_train_data_set_types(fh_train_data *d, const fh_model *m, fh_err *err);
void fh_train_data_free(fh_train_data *d);
/* The sample view of row i. */
void fh_train_data_sample(const fh_train_data *d, size_t i, fh_train_sample *s);
/* Hex FNV-1a of the first n rows (all when n >= d->n), the digest a model file keeps as its
 * provenance dataset_checksum: a dataset that only grew since still gives it for the rows the
 * model was trained on. */
void fh_train_data_checksum(const fh_train_data *d, size_t n, char out[40]);
/* Errors of the mean of model m's committee on row i (t is overwritten): energies per state, gap,
 * gradients, coupling h, and the phase-free NAC cosine and norm error where the reference gap is
 * below 1 eV, as in the training's test report. FH_EINPUT when the numbers of states differ. */
int fh_train_row_errors(fh_model *m, const fh_train_data *d, size_t i,
                        const fh_train_loss_cfg *cfg, fh_train_terms *t, fh_err *err);
/* Split the first d->n rows into train/valid/test. Why by id: a row's part depends only on (seed, its id), through
 * a hash u in [0, 1) (train if u < f_train, valid if u < f_train + f_valid, test otherwise), so a
 * geometry stays in its part while the dataset grows (active learning appends rows: a test
 * geometry never turns into a training one), and datasets that share ids (the same geometries
 * at two levels of theory, `fusionhop sample` generator = dataset) split alike, so pretraining on
 * one never sees the other's test geometries. The parts' sizes follow the fractions only on
 * average; at least one row trains. idx (malloc'ed) lists train, valid, test rows, each part in
 * row order. */
int fh_train_split(const fh_train_data *d, double f_train, double f_valid, uint64_t seed,
                   size_t **idx, size_t *n_train, size_t *n_valid, size_t *n_test, fh_err *err);
/* Elements of the dataset, ascending (for the model's hyperparameters). */
int fh_train_data_elements(const fh_train_data *d, int *elements);
/* Normalisation from the rows idx[0..n): per-element reference energies (ridge least squares),
 * shifts, scales (RMS force components per state, else per-atom energy spread) and coupling
 * scales (RMS of h^ref); and the average number of neighbours within r_cut. */
int fh_train_fit_norm(const fh_train_data *d, const size_t *idx, size_t n, fh_model *m,
                      fh_err *err);
double fh_train_avg_neighbors(const fh_train_data *d, const size_t *idx, size_t n, double r_cut);

/* ---------------------------------------------------------------------------------------------
 * The optimisation loop. */
/* The validation score: the whole loss, or its energy and force terms only. Why the second: with
 * few geometries near the intersection the coupling term's validation part starts rising long
 * before the energies and forces stop improving (stilbene: the energy MAE went on from 75 to 65
 * meV for 150 epochs after the loss's best epoch), and the coupling head is the least sensitive
 * part to the epoch chosen. */
/* the validation score: the whole loss, its energy and force terms, or its energy term alone (with
 * the gap term: where the gap is the binding target and the forces have room) */
enum { FH_TRAIN_SELECT_LOSS = 0, FH_TRAIN_SELECT_ENERGY_FORCE = 1, FH_TRAIN_SELECT_ENERGY = 2 };

typedef struct {
    char dataset[1024];        /* reference dataset */
    char output[1024];         /* model file to write */
    char checkpoint[1024];     /* checkpoint file ("" = output + ".ckpt") */
    char init_model[1024];     /* "" or a model file whose weights (and architecture and
                                  normalisation) start the training; each state's shift moves
                                  so that its first member has no mean training-split error */
    char command[256];         /* recorded in the provenance */
    int nac_target;            /* FH_TRAIN_NAC_* (0: ci) */
    double train_fraction, valid_fraction;
    uint64_t seed;
    fh_train_loss_cfg loss;
    int amsgrad;
    double lr, beta1, beta2, adam_eps;
    double lr_factor;          /* multiply lr by this after lr_patience epochs without improvement */
    int lr_patience;
    double lr_min;
    int ema;                   /* exponential moving average of the weights (used for validation
                                  and the final model) */
    double ema_decay;
    int patience;              /* early stopping: epochs without validation improvement (0: off) */
    int select;                /* FH_TRAIN_SELECT_*: the validation score that picks the kept
                                  epoch and drives the plateau and early stopping */
    int max_epochs;
    int batch_size;            /* geometries per optimiser step */
    double clip_grad;          /* largest L2 norm of a batch's mean gradient: longer ones are
                                  scaled down to it before the Adam step (0: off). Why: one row
                                  where the model is far off (a hole the data has just found) gives
                                  a gradient many orders above the rest, and Adam's second moment
                                  (for amsgrad: its maximum, kept for good) then shrinks every
                                  later step */
    int committee;             /* members trained independently */
    uint64_t members;          /* bit k: train member k (0: all); the others keep the init
                                  model's weights unchanged, so one member can be redone alone */
    uint64_t reinit;           /* bit k: member k starts from fresh weights (init_seed, k) even
                                  where the init model has it */
    int use_init_seed;         /* fresh weights from init_seed (0: from seed) */
    uint64_t init_seed;        /* seed of fresh weights; the split and data order keep seed */
    int widen;                 /* > 0: widen the init model to this many channels first
                                  (fh_model_widen, seeded by init_seed); 0: as it is */
    int force;                 /* ignore (overwrite) an existing checkpoint */
    int max_samples;           /* use at most this many rows (0: all) */
    int nac_flip_count;        /* atoms listed in nac_flip (0: the model's own flips, if any) */
    int nac_flip[FH_MODEL_MAX_FLIP_ATOMS]; /* atoms (0-based) whose coupling sign the model flips
                                  (fh_model.h); set on the new or init model for the dataset's
                                  atom count */
    double stop_after_s;       /* stop (checkpointed, resumable) after this many seconds (0: off) */
    long stop_after_epochs;    /* stop (checkpointed, resumable) after this many epochs in this
                                  call (0: off); for tests of resuming */
    /* progress: one line per epoch and the final report go to this callback (rank 0 only) */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
} fh_train_config;
fh_train_config fh_train_config_default(void);

typedef struct {
    int members_done;
    long epochs;               /* epochs run in this call, all members */
    int resumed;               /* started from a checkpoint */
    int finished;              /* all members trained (model written); 0: stopped early by
                                  stop_after_*, resumable from the checkpoint */
    fh_train_terms test;       /* test-split errors of the final model (committee mean) */
    double test_loss;
    size_t n_train, n_valid, n_test;
} fh_train_result;

/* Train a committee with architecture *h (elements and avg_neighbors <= 0 are filled from the
 * data) and write cfg->output. Collective over comm. */
int fh_train_run(const fh_model_hyper *h, const fh_train_config *cfg, MPI_Comm comm,
                 fh_train_result *res, fh_err *err);

#endif
