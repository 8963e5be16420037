/* Reference calculations for a list of geometries, appended to a dataset file as each finishes:
 * the reusable core of `fusionhop sample`.
 * Resumable: geometries whose id already has a successful row in the dataset are skipped, so a
 * killed batch restarted with the same list continues where it stopped and loses nothing. A
 * failed calculation becomes a row with status FH_DATASET_FAILED (and the log path in its info);
 * it never stops the batch. For OpenMolcas the starting orbitals of each geometry are those of the
 * nearest geometry already computed in this batch (an orbital cache on the scratch disk). */
#ifndef FH_BATCH_H
#define FH_BATCH_H

#include <signal.h>
#include <stddef.h>

#include "fh_surfaces.h"

typedef struct {
    size_t total;      /* geometries in the list */
    size_t done;       /* with a successful row (including those found at the start) */
    size_t skipped;    /* already done at the start */
    size_t failed;     /* failures in this run */
    size_t run;        /* calculations attempted in this run */
    double last_s;     /* seconds of the last calculation */
    double mean_s;     /* mean seconds per calculation in this run */
    double eta_s;      /* estimated seconds to finish the list */
    const char *last_id;
    int last_status;   /* FH_OK or the failure code of the last calculation */
    const char *last_msg; /* failure message of the last calculation, "" if none */
} fh_batch_progress;

typedef void (*fh_batch_progress_fn)(const fh_batch_progress *p, void *ctx);

typedef struct {
    int n;                       /* geometries */
    int natoms;
    const double *x;             /* [n*natoms*3] bohr */
    const char *const *id;       /* [n] unique keys */
    const char *const *origin;   /* [n] tags, e.g. "torsion-scan" */
} fh_batch_geoms;

typedef struct {
    unsigned grad_mask;          /* gradients wanted (bit s: state s) */
    int want_nac;                /* NACs of all pairs */
    int retry_failed;            /* rerun ids that have only failed rows (default: skip them) */
    size_t max_new;              /* stop after this many calculations (0: no limit) */
    const char *orbital_cache;   /* OpenMolcas: directory for per-geometry orbitals (NULL: none,
                                    the provider reuses the previous geometry's) */
    volatile sig_atomic_t *stop; /* checked between geometries; nonzero stops the batch */
    fh_batch_progress_fn progress;
    void *ctx;
} fh_batch_opts;

/* Sets todo[k] to 1 for the geometries of g that fh_surf_batch_run would compute now (no
 * successful row in the dataset at path; no row at all unless retry_failed), 0 for the others.
 * A missing dataset means all. Lets parallel callers share out only the work that is left. */
int fh_surf_batch_todo(const char *path, const fh_batch_geoms *g, int retry_failed,
                       unsigned char *todo, fh_err *err);

/* Runs the geometries not yet done through the provider and appends each result to the dataset
 * at `path` (created if missing, with `level` as its level of theory). Returns FH_OK when the
 * list was processed (failures of single geometries included, counted in *final), an error if
 * the dataset cannot be used. */
int fh_surf_batch_run(fh_surface *s, const char *path, const char *level,
                      const fh_batch_geoms *g, const fh_batch_opts *o, fh_batch_progress *final,
                      fh_err *err);

#endif
