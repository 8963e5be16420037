/* The ensemble runner: many independent surface-hopping trajectories, distributed dynamically over
 * MPI ranks (rank 0 hands out trajectory indices and also runs trajectories itself), one H5MD file
 * per trajectory plus the ensemble index, periodic checkpoints, and resume of an interrupted run.
 * A trajectory depends only on (seed, index): its initial condition uses the Philox stream of
 * (seed, index) at counters 2^63 + k, its hops the counters 1, 2, ... (see fh_dynamics.h). Hence
 * results are bitwise identical for any number of ranks and across restarts. */
#ifndef FH_RUNNER_H
#define FH_RUNNER_H

#include <mpi.h>
#include <stdint.h>

#include "fh_dynamics.h"
#include "fh_initial.h"

typedef enum {
    FH_RUN_SAMPLING_WIGNER = 0, /* Wigner samples of cfg->modes at cfg->temperature */
    FH_RUN_SAMPLING_FIXED       /* every trajectory starts at cfg->x0, cfg->v0 */
} fh_run_sampling;

typedef struct {
    fh_dyn_params dyn;
    uint64_t seed;
    long ntraj;             /* trajectories in the ensemble */
    long first, last;       /* this invocation runs indices [first, last); last <= 0: ntraj */
    int state;              /* initial active state (without a window) */
    double window_min;      /* excitation window (hartree); used when window_max > window_min */
    double window_max;
    fh_run_sampling sampling;
    double temperature;     /* kelvin */
    const fh_dyn_modes *modes; /* WIGNER */
    const double *x0, *v0;  /* FIXED: [ndof] */
    const char *outdir;
    const char *deck_text;  /* resolved deck, stored in every file */
    int frame_every;        /* steps per frame */
    int flush_every;        /* frames per output block */
    int checkpoint_every;   /* steps per checkpoint */
    int force;              /* overwrite an existing output directory's run */
    int progress;           /* progress lines on stderr (rank 0) */
} fh_run_config;

typedef struct {
    long done, failed, skipped; /* skipped: already finished before this invocation */
    long steps;                 /* integration steps computed by this invocation, all ranks */
    double seconds;
} fh_run_summary;

/* A barrier that sleeps while it waits: Open MPI's blocking collectives spin, and a rank that
 * finished its share would take a core from the ranks (or the OpenMolcas runs) still working.
 * Call it before a collective that ends a long, unevenly shared phase. */
void fh_run_wait_all(MPI_Comm comm);

/* Run (or resume) the ensemble. Collective over comm; every rank gets the same return code. */
int fh_run_ensemble(fh_surface *s, const fh_run_config *cfg, MPI_Comm comm, fh_run_summary *sum,
                    fh_err *err);

/* Standard normal deviates of the initial-condition stream of (seed, index): n values. */
void fh_run_normals(uint64_t seed, uint64_t index, int n, double *out);

#endif
