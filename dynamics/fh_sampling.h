/* Geometry generators for reference data (`fusionhop sample`): scans and random displacements of a
 * torsion, the twisted and pyramidalized region where S1 meets S0, Cartesian noise, Wigner samples
 * of the harmonic normal modes (Hessian from the reference provider or from an ML model), frames
 * of earlier trajectories where the model committee disagrees (active learning), and the frames
 * of a multi-frame XYZ file (a list made elsewhere, e.g. around a conical intersection), and the
 * geometries of another dataset (the same list at another level of theory).
 *
 * Why per (seed, k): geometry k of a generator depends only on the seed and k (its random numbers
 * are the Philox stream of (seed, k), fh_dyn_uniform), never on how many geometries came before or
 * on which MPI rank computes it, so a resumed or re-partitioned run regenerates exactly the same
 * list and the dataset's ids stay meaningful. Each geometry gets the id
 * "<generator>-<tag>-s<seed>-<k>", where tag is a hash of the generator's parameters and the
 * reference geometry (and of the Hessian's model file, if any): two decks that differ in any of
 * them never share ids (a resumed run would otherwise skip geometries it never computed). Frames
 * of trajectories and XYZ files have ids of their own (see fh_samp_generate).
 *
 * Atomic units throughout (bohr, radians, hartree, kelvin); conversion happens in the app. */
#ifndef FH_SAMPLING_H
#define FH_SAMPLING_H

#include <stdint.h>

#include "fh_dataset.h"
#include "fh_error.h"
#include "fh_initial.h"
#include "fh_surfaces.h"

typedef enum {
    FH_SAMP_TORSION = 0,    /* scan of the dihedral a-b-c-d from `from` to `to` in `count` steps */
    FH_SAMP_TORSION_RANDOM, /* uniform torsion in [from, to] + Gaussian noise */
    FH_SAMP_TWISTED,        /* uniform torsion + pyramidalization of atom c + noise */
    FH_SAMP_NOISE,          /* Gaussian Cartesian noise around the reference */
    FH_SAMP_WIGNER,         /* Wigner samples of the normal modes at the reference geometry */
    FH_SAMP_TRAJECTORIES,   /* frames of a fusionhop run whose committee spread is large */
    FH_SAMP_XYZ,            /* frames of a multi-frame XYZ file */
    FH_SAMP_DATASET,        /* the completed geometries of another dataset (its ids, origins) */
    FH_SAMP_NKINDS
} fh_samp_kind;

/* Deck names: "torsion", "torsion_random", "twisted", "noise", "wigner", "trajectories", "xyz",
 * "dataset". */
const char *fh_samp_kind_name(fh_samp_kind k);
int fh_samp_kind_parse(const char *name, fh_samp_kind *k); /* 0, or -1 if unknown */
/* 1 for the generators that take an existing list (trajectories, xyz, dataset): count is a cap
 * there, 0 meaning all. */
int fh_samp_kind_takes_list(fh_samp_kind k);
/* Default origin tags stored in the dataset: "torsion-scan", "torsion-random", "twisted-pyr",
 * "noise", "wigner", "active-learning", "xyz", "dataset" (see fh_samp_config.origin for an
 * override; dataset keeps the source rows' origins). */
const char *fh_samp_origin(fh_samp_kind k);

typedef struct {
    fh_samp_kind kind;
    long count;          /* geometries; trajectories, xyz, dataset: at most this many, 0 for all */
    uint64_t seed;
    int dihedral[4];     /* 0-based atoms a b c d (torsion kinds); c's side of b-c is rotated */
    double from, to;     /* torsion range, radians */
    double noise;        /* Gaussian sigma per Cartesian coordinate, bohr (0: none) */
    double pyramid;      /* twisted: largest displacement of atom c out of its neighbours' plane */
    double temperature;  /* wigner: kelvin */
    int optimize;        /* wigner: minimise S0 from the reference first */
    const char *hessian_model; /* wigner: ML model file whose S0 Hessian (and minimum, with
                                  optimize) gives the normal modes; NULL or "": the provider's */
    const char *source;  /* trajectories: run directory (ensemble.h5 + traj/); xyz: XYZ file;
                            dataset: dataset file */
    double spread_min;   /* trajectories: hartree; a frame qualifies if a state's spread exceeds it */
    int at_hops;         /* trajectories: 1: instead, the last frame at or before each hop down to a
                            lower state (not frustrated); no committee needed; origin "hops" */
    int stride;          /* trajectories: every stride-th qualifying frame */
    double bond_break;   /* trajectories: > 0: leave out frames where the molecule fell apart (more
                            parts than in the trajectory's first frame, fh_bonds.h); 0: keep */
    const char *origin;  /* origin tag of every geometry instead of the generator's (xyz: instead
                            of the frames' origin=TAG); NULL or "": none. < FH_DATASET_ORIGIN_LEN
                            bytes, no white space. Ids do not depend on it. */
} fh_samp_config;

/* A generated list; x is [n*natoms*3] bohr. */
typedef struct {
    int n, natoms;
    double *x;
    char (*id)[FH_DATASET_ID_LEN];
    char (*origin)[FH_DATASET_ORIGIN_LEN];
    int dropped;  /* generated geometries left out: two atoms not bonded in the reference came
                     closer than the sum of their covalent radii (e.g. a rigid torsion that puts
                     one ring through the other); their ids are not reused */
    int apart;    /* trajectories: qualifying frames left out because the molecule fell apart */
} fh_samp_set;

/* Query by committee: order the list by decreasing committee energy spread of the ML model in
 * model_file (the largest standard deviation over the states; ties keep the list order) and keep
 * the first `keep` (0: all). Why: with a pool of candidates (any generator, e.g. thousands of
 * random torsions), the reference calculations go first to the geometries the current model
 * knows least, the most valuable data per ab initio hour. Ids and origins travel with their
 * geometries. spread (may be NULL) receives the kept geometries' spreads [set->n], hartree;
 * pass NULL unless a caller wants them. FH_EINPUT for a model without a committee, or of other
 * atoms. */
int fh_samp_select_by_spread(fh_samp_set *set, const int *z, const char *model_file, long keep,
                             double **spread, fh_err *err);

/* Farthest-point selection (dynamics/sample_diverse.c): keep `keep` geometries of the set (0:
 * all), chosen one at a time as the one farthest from the nref reference geometries ref
 * [nref*natoms*3] (e.g. the dataset's rows) and from those kept before it, in that order; ties
 * go to the earlier geometry. Distance: fh_samp_rmsd. Why: active-learning frames come in runs
 * of neighbouring frames, and a model errs most where the data are farthest away. dist (may be
 * NULL) receives each kept geometry's distance at its pick [keep], bohr (INFINITY for the first
 * when nref is 0). A resumed run must pass the same references: leave out the rows it computed
 * itself. */
int fh_samp_select_diverse(fh_samp_set *set, const double *ref, int nref, long keep,
                           double *dist, fh_err *err);
/* RMSD of two geometries [natoms*3] after the best superposition (translation and proper
 * rotation; atoms in the given order, no permutations). */
double fh_samp_rmsd(int natoms, const double *a, const double *b);

/* ------------------------------------------------------------------------------------------------
 * Geometry operations (x is [natoms*3] bohr; atoms 0-based) */

/* Dihedral angle a-b-c-d in radians, (-pi, pi]. */
double fh_samp_dihedral(const double *x, int a, int b, int c, int d);
/* side[i] = 1 for the atoms bonded (directly or not) to c without crossing the bond b-c, c
 * included; bonds by covalent radii (distance < 1.25 (r_i + r_j)). FH_EINPUT if b and c are not
 * bonded or b-c lies in a ring (b reachable from c). */
int fh_samp_fragment(int natoms, const int *z, const double *x, int b, int c, int *side,
                     fh_err *err);
/* Rotate the atoms with side[i] = 1 about the axis b->c by `angle` radians; the dihedral a-b-c-d
 * of any a, d with side[a] = 0, side[d] = 1 grows by `angle`. Distances within each side are kept. */
void fh_samp_rotate(int natoms, double *x, const int *side, int b, int c, double angle);
/* Set the dihedral a-b-c-d to `phi` radians by rotating c's fragment. */
void fh_samp_set_dihedral(int natoms, double *x, const int *side, const int dih[4], double phi);
/* Move atom c by `delta` bohr along the normal of the plane of its three nearest bonded
 * neighbours (pyramidalization); FH_EINPUT unless c has at least three bonded neighbours. */
int fh_samp_pyramidalize(int natoms, const int *z, double *x, int c, double delta, fh_err *err);

/* Standard normal deviate j of the stream of (seed, k) for generator kind: Box-Muller of
 * fh_dyn_uniform words at counters owned by the sampler. */
double fh_samp_normal(fh_samp_kind kind, uint64_t seed, uint64_t k, uint64_t j);
/* Uniform number j in [0, 1) of the same stream (its own counters). */
double fh_samp_uniform(fh_samp_kind kind, uint64_t seed, uint64_t k, uint64_t j);

/* Check a configuration against a molecule of natoms atoms (FH_EINPUT with a clear message). */
int fh_samp_config_check(const fh_samp_config *c, int natoms, fh_err *err);

/* Geometry k of a geometric generator (torsion, torsion_random, twisted, noise) from the
 * reference x0 into x. */
int fh_samp_geometry(const fh_samp_config *c, int natoms, const int *z, const double *x0, long k,
                     double *x, fh_err *err);

/* Normal modes for Wigner sampling at x0 (or at the S0 minimum found from x0 when `optimize`):
 * the Hessian of S0 by central differences of s's gradients (step 5e-3 bohr, 6N gradients), read
 * from the text file `cache` instead when it was made for this same x0 and optimize flag, and
 * written there after computing it (cache NULL: no caching). A resumed run thus repeats neither
 * the optimisation nor the Hessian. FH_EINPUT when the geometry is not a minimum. */
int fh_samp_modes_alloc(fh_surface *s, const double *x0, int optimize, const char *cache,
                        fh_dyn_modes **out, fh_err *err);

/* The Hessian cache file of a Wigner configuration for a dataset, malloc'ed into *out:
 * "<dataset>.hessian.txt" for the provider's Hessian, "<dataset>.hessian-<model file name>-<tag>.txt"
 * with c->hessian_model (tag: a hash of the model file's bytes, so a retrained model never reads
 * the Hessian of its predecessor, nor a model's Hessian the provider's). FH_EINPUT when the
 * model file cannot be read. */
int fh_samp_hessian_cache_path(const fh_samp_config *c, const char *dataset, char **out,
                               fh_err *err);

/* The whole list of a generator. `s` is needed by wigner only (it may be NULL otherwise); `cache`
 * is the Hessian cache file for wigner (NULL: none). Wigner with c->hessian_model takes the modes
 * from an "ml" provider of that model for the same atoms (s is then not evaluated) and its ids
 * carry a hash of the model file. Trajectories: frames of c->source whose largest committee
 * energy spread over the states exceeds spread_min (with at_hops instead: the last frame at or
 * before each hop down that took place) (and, with bond_break, where the molecule has
 * not fallen apart), in order of trajectory index and frame, every stride-th; with count (0: all)
 * below their number, entry floor(k n / count) of that list for k = 0..count-1 (evenly spread over the run). Ids "traj-<hash of the coordinates>-t<T>-f<F>":
 * the next active-learning round (same deck, new model) never reuses an id. They need the same
 * atoms as the reference.
 * Xyz: the frames of the XYZ file c->source (Angstrom), the first count of them (0: all), with the
 * reference's atoms in the same order (FH_EINPUT naming the file and frame otherwise). A frame
 * whose comment line holds `id=NAME` keeps that id (ids must be unique in the file), else it is
 * "xyz-<tag>-<k>" with tag a hash of the atoms and that frame's coordinates (ids stay put when
 * frames are appended; different geometries never share one); `origin=TAG` in the comment sets
 * its origin (default "xyz"). */
int fh_samp_generate(const fh_samp_config *c, fh_surface *s, int natoms, const int *z,
                     const double *x0, const char *cache, fh_samp_set **out, fh_err *err);
void fh_samp_set_free(fh_samp_set *set);

#endif
