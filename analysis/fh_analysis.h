/* Analysis of trajectory ensembles: what a photochemist reports from an output directory.
 *
 * Pipeline: fh_ana_load reads ensemble.h5 and every trajectory file (or, without ensemble.h5, every
 * traj/traj_*.h5) into per-trajectory summaries, decides which trajectories enter the statistics
 * (status "done" and within the quality limits; all others are kept with the reason they are
 * excluded), and each fh_ana_* function below computes one table from that. fh_ana_write_all
 * writes every table as TSV plus summary.txt / summary.json, and fh_ana_plot draws PNGs with
 * gnuplot. Conventions:
 *   - states are 0-based (0 = S0); times and energies are atomic units in the structs, fs and eV
 *     in the files; angles in degrees; distances in bohr in the structs, Angstrom in the files;
 *   - trajectories that finished early (e.g. stopped in S0) keep their last frame for later times;
 *   - 95% intervals of ensemble averages come from bootstrap resampling of trajectories
 *     (settings.nboot resamples, seeded, so a report is reproducible). */
#ifndef FH_ANALYSIS_H
#define FH_ANALYSIS_H

#include <stdint.h>

#include "fh_error.h"
#include "fh_h5md.h"

/* ------------------------------------------------------------------------------------------------
 * Settings */

#define FH_ANA_MAX_PAIRS 8

typedef struct {
    int dihedral[4];     /* 0-based atoms of the cis/trans torsion; dihedral[0] < 0: unset */
    int ring[2 * FH_ANA_MAX_PAIRS]; /* 0-based atom pairs that may close the ring (the ring
                          * distance is the shortest of them: a phenyl ring can face either way) */
    int nring;           /* number of pairs (0: unset) */
    int pyramid[4];      /* centre and three neighbours; pyramid[0] < 0: unset */
    double cis_max;      /* degrees: |torsion| < cis_max is cis, else trans */
    double ring_max;     /* bohr: ring distance < ring_max is the ring-closed product (DHP) */
    int excited_state;   /* state whose decay is fitted, and whose hops to the ground state are
                          * analysed (default 1 = S1) */
    int ground_state;    /* default 0 */
    int nboot;           /* bootstrap resamples (default 1000) */
    uint64_t seed;       /* bootstrap seed */
    double max_drift;    /* hartree; > 0: exclude trajectories with max |E_tot(t) - E_tot(0)| above */
    double max_spread;   /* hartree; > 0: exclude trajectories whose committee spread exceeds it */
    double bond_break;   /* > 0: exclude trajectories whose molecule fell apart (more parts of the
                          * graph of atoms closer than bond_break x the sum of covalent radii
                          * than in the first frame; as [dynamics] bond_break); default 1.75 */
    long max_points;     /* at most this many time points in the population table (default 1000) */
} fh_ana_settings;

void fh_ana_settings_default(fh_ana_settings *s);
/* Stilbene in the atom order of inputs/geometries (atoms 1-2 the central C=C, then per half: H,
 * C-ipso, five ring C, five ring H): returns 1 and fills the unset geometric settings (dihedral
 * 4 1 2 16, ring pairs of the ortho carbons 5/9 x 17/21, pyramid 1 2 3 4) when species match that
 * order; returns 0 and changes nothing otherwise. */
int fh_ana_stilbene_defaults(fh_ana_settings *s, const int *species, int natoms);
/* Parse n 1-based atom numbers separated by blanks or commas ("7 8 9 10") into 0-based out[].
 * Errors (FH_EINPUT) name `what`. An empty string leaves out[0] = -1 (unset). */
int fh_ana_parse_atoms(const char *text, int n, const char *what, int *out, fh_err *err);
/* Parse 1 to FH_ANA_MAX_PAIRS pairs of 1-based atom numbers ("5 17, 5 21") into 0-based out[2k],
 * out[2k+1]; *npairs = 0 for an empty string. */
int fh_ana_parse_pairs(const char *text, const char *what, int *out, int *npairs, fh_err *err);

/* ------------------------------------------------------------------------------------------------
 * Geometry (positions in bohr, natoms*3, 0-based atom indices) */

double fh_ana_distance(const double *x, int a, int b);
/* The shortest distance over npairs pairs (pairs[2k], pairs[2k+1]). */
double fh_ana_min_distance(const double *x, const int *pairs, int npairs);
/* Dihedral a-b-c-d in degrees, in (-180, 180]. */
double fh_ana_dihedral(const double *x, const int idx[4]);
/* Pyramidalization at idx[0]: the angle in degrees between the bond idx[0]->idx[1] and the plane
 * through idx[0] spanned by the bonds to idx[2] and idx[3] (0 for a planar centre, in [0, 90]). */
double fh_ana_pyramidalization(const double *x, const int idx[4]);

/* ------------------------------------------------------------------------------------------------
 * Bootstrap (the intervals of every table here, and of `fusionhop dataset errors`) */

/* nboot x n resampling weights: row b holds how often each of the n items is drawn in resample b
 * (n draws with replacement). Deterministic in seed. malloc'ed; NULL when out of memory. */
int *fh_ana_boot_weights(long nboot, long n, uint64_t seed);
/* The q-quantile (0..1, linear interpolation) of v; sorts v in place. NaN when n == 0. */
double fh_ana_quantile(double *v, long n, double q);

/* ------------------------------------------------------------------------------------------------
 * Loaded ensemble */

typedef enum { FH_PROD_NONE = -1, FH_PROD_CIS = 0, FH_PROD_TRANS, FH_PROD_DHP, FH_PROD_COUNT } fh_ana_product;
const char *fh_ana_product_name(int product); /* "cis", "trans", "DHP", "unclassified" */
/* Product of a geometry from its torsion (degrees) and ring distance (bohr; < 0: not measured). */
int fh_ana_classify(const fh_ana_settings *s, double torsion_deg, double ring_dist);

typedef struct {
    long index;
    fh_traj_status status;
    char stop_reason[FH_H5MD_REASON_MAX];
    int used;                 /* enters the ensemble statistics */
    char excluded[FH_H5MD_REASON_MAX + 64]; /* why not ("" when used) */
    long nframes;
    double *time;             /* nframes, a.u. */
    int *active;              /* nframes */
    double *pop;              /* nframes*nstates, |c_i|^2 */
    double *torsion;          /* nframes, degrees (NULL: no dihedral set) */
    double *ring;             /* nframes, bohr (NULL: no ring set) */
    double *pyramid;          /* nframes, degrees (NULL: no pyramid set) */
    double max_dev_etot;      /* max |E_tot(t) - E_tot(0)|, hartree */
    double drift_etot;        /* E_tot(end) - E_tot(0), hartree */
    double max_spread;        /* max committee spread (active state), hartree; < 0: none stored */
    double apart_time;        /* a.u.: first frame with more parts than frame 0 (NaN: never, or
                               * not checked) */
    char apart[128];          /* which atom left, how far ("" when it did not) */
    long nhops;
    fh_h5md_hop *hops;
    int final_state;          /* active state of the last frame (-1: no frames) */
    int product;              /* fh_ana_product of the last frame (FH_PROD_NONE: unclassified) */
} fh_ana_traj;

typedef struct {
    char *dir;                /* the output directory analysed */
    int have_index;           /* ensemble.h5 was found */
    int stilbene_defaults;    /* the stilbene settings were filled in (fh_ana_stilbene_defaults) */
    char *deck;               /* resolved deck of the run ("" when unknown) */
    long ntraj;
    int nstates, natoms;      /* of the first readable trajectory */
    long nused;
    fh_ana_traj *traj;        /* ntraj, by trajectory index */
} fh_ana_ensemble;

/* Load OUTDIR (ensemble.h5 + traj/). Fails (FH_EINPUT) only if nothing can be found or the
 * settings do not fit the molecule; unreadable or unfinished trajectories are kept with their
 * exclusion reason. Unset geometric settings are filled in for stilbene (s is updated). */
int fh_ana_load(const char *outdir, fh_ana_settings *s, fh_ana_ensemble **out, fh_err *err);
void fh_ana_free(fh_ana_ensemble *e);
/* Counts of trajectories by status (index FH_TRAJ_*). */
void fh_ana_status_counts(const fh_ana_ensemble *e, long counts[4]);

/* ------------------------------------------------------------------------------------------------
 * Populations versus time */

typedef struct {
    long ngrid;
    int nstates;
    long nused;
    double *time;                 /* ngrid, a.u. */
    double *frac, *frac_lo, *frac_hi; /* ngrid*nstates: fraction in each active state, 95% band */
    double *pop, *pop_lo, *pop_hi;    /* ngrid*nstates: mean |c_i|^2, 95% band */
} fh_ana_populations;

int fh_ana_populations_compute(const fh_ana_ensemble *e, const fh_ana_settings *s, fh_ana_populations *p,
                       fh_err *err);
void fh_ana_populations_free(fh_ana_populations *p);

/* ------------------------------------------------------------------------------------------------
 * Excited-state lifetime: P(t) = A for t < t0, A exp(-(t - t0)/tau) after, with A = P(0), fitted by
 * nonlinear least squares (GSL multifit_nlinear) to the fraction of trajectories in the state. */

typedef struct {
    int ok;                       /* a fit converged */
    char note[256];               /* why not, or remarks */
    int state;
    double amplitude;             /* A */
    double t0, tau;               /* a.u. */
    double t0_err, tau_err;       /* bootstrap standard deviations, a.u. */
    double t0_lo, t0_hi, tau_lo, tau_hi; /* 95% bootstrap percentile intervals, a.u. */
    int nboot_ok;                 /* resamples whose fit converged */
} fh_ana_lifetime;

/* One fit of P(t) (n points) to the delayed exponential; FH_EFAIL if it cannot be fitted. */
int fh_ana_fit_delayed_exp(const double *t, const double *p, long n, double *amplitude,
                           double *t0, double *tau, fh_err *err);
int fh_ana_lifetime_compute(const fh_ana_ensemble *e, const fh_ana_settings *s,
                    const fh_ana_populations *p, fh_ana_lifetime *lt, fh_err *err);

/* ------------------------------------------------------------------------------------------------
 * Products and quantum yields: set 0 = all used trajectories, set 1 = those ending in the ground
 * state. Errors: binomial standard error sqrt(y(1-y)/n) and the 95% Wilson score interval. */

typedef struct {
    int classified;               /* a dihedral was set */
    long n[2];
    long count[2][FH_PROD_COUNT];
    double yield[2][FH_PROD_COUNT], err[2][FH_PROD_COUNT];
    double lo[2][FH_PROD_COUNT], hi[2][FH_PROD_COUNT];
} fh_ana_yields;

void fh_ana_yields_compute(const fh_ana_ensemble *e, const fh_ana_settings *s, fh_ana_yields *y);
/* Wilson score interval for k successes in n trials at z = 1.96. */
void fh_ana_wilson(long k, long n, double *lo, double *hi);

/* ------------------------------------------------------------------------------------------------
 * Hops */

typedef struct {
    long up, down, frustrated;    /* over used trajectories */
    long ndown_es;                /* successful hops excited_state -> ground_state */
    double *torsion, *pyramid, *gap; /* ndown_es each: at those hops (degrees, degrees, |gap| a.u.);
                                      * torsion/pyramid NaN when not measured */
    long *traj;                   /* ndown_es: trajectory index of each */
    double *hop_time;             /* ndown_es, a.u. */
    long nfirst;                  /* used trajectories that hopped to the ground state */
    long nnever;                  /* used trajectories that never did */
    double *first_time;           /* nfirst: time of the first hop to the ground state, a.u. */
    long *first_traj;             /* nfirst */
    double first_mean, first_median, first_std, first_min, first_max; /* a.u. (NaN if nfirst = 0) */
    /* where the excited_state -> ground_state hops happen, over the ndown_es hops (NaN if none or
     * not measured): |gap| median and range (a.u.), |torsion| and pyramidalization medians (deg) */
    double gap_median, gap_min, gap_max, torsion_median, pyramid_median;
} fh_ana_hops;

int fh_ana_hops_compute(const fh_ana_ensemble *e, const fh_ana_settings *s, fh_ana_hops *h, fh_err *err);
void fh_ana_hops_free(fh_ana_hops *h);

/* Histogram of n values (NaN skipped) in nbins bins on [lo, hi); values outside are clamped into
 * the end bins. counts has nbins entries. */
void fh_ana_histogram(const double *v, long n, double lo, double hi, int nbins, long *counts);

/* ------------------------------------------------------------------------------------------------
 * Quality */

typedef struct {
    long n;                                 /* trajectories with frames */
    double drift_mean, drift_median, drift_max; /* of max |E_tot(t) - E_tot(0)|, hartree */
    long napart;                            /* trajectories whose molecule fell apart (frames
                                             * or the run's bond_break stop) */
    long nspread;                           /* trajectories with a committee spread */
    double spread_mean, spread_median, spread_max; /* of the max spread, hartree */
} fh_ana_quality;

void fh_ana_quality_compute(const fh_ana_ensemble *e, fh_ana_quality *q);

/* ------------------------------------------------------------------------------------------------
 * Output */

/* Everything, computed from a loaded ensemble. */
typedef struct {
    fh_ana_populations pop;
    fh_ana_lifetime life;
    fh_ana_yields yields;
    fh_ana_hops hops;
    fh_ana_quality quality;
} fh_ana_results;

int fh_ana_compute(const fh_ana_ensemble *e, const fh_ana_settings *s, fh_ana_results *r,
                   fh_err *err);
void fh_ana_results_free(fh_ana_results *r);

/* Write into resdir (created if needed): populations.tsv, lifetime.tsv, products.tsv, yields.tsv,
 * hops.tsv, hop_counts.tsv, hop_histograms.tsv, first_hop.tsv, quality.tsv, torsion.tsv,
 * summary.txt, summary.json. */
int fh_ana_write_all(const char *resdir, const fh_ana_ensemble *e, const fh_ana_settings *s,
                     const fh_ana_results *r, fh_err *err);
/* Draw populations.png, torsion.png (when a dihedral is set) and hops.png with gnuplot, from the
 * TSV files in resdir (the gnuplot scripts are kept as *.gp). The gnuplot executable is $FH_GNUPLOT
 * or "gnuplot". FH_EFAIL with a message if gnuplot is missing or fails: callers treat that as a
 * warning, since the TSV files are complete without plots. */
int fh_ana_plot(const char *resdir, const fh_ana_ensemble *e, const fh_ana_settings *s,
                const fh_ana_results *r, fh_err *err);

#endif
