/* Trajectory files in H5MD 1.1 layout and the ensemble index file (ensemble.h5).
 *
 * Why H5MD: one self-describing HDF5 file per trajectory that h5py, MDAnalysis and VMD plugins read
 * without our code, with labelled units, appendable time series and room for our own groups.
 *
 * Layout of a trajectory file (units are attributes `unit`, variable-length strings):
 *   /h5md                  attr version = int32[2] {1,1}
 *     author               attr name  ($USER or "unknown" unless configured)
 *     creator              attr name = "fusionhop", version = FH_VERSION
 *     modules/units        attr version = int32[2] {1,0}
 *   /particles/<group>     (group name from the config, default "all")
 *     box                  attr dimension = 3, boundary = {"none","none","none"} (no edges: not periodic)
 *     species              int32[natoms], atomic numbers; 0 marks a model coordinate (see below)
 *     mass                 float64[natoms], unit "u" (dalton)
 *     position/{step,time,value}   step int64[n], time float64[n] "fs", value float64[n][natoms][3] "Angstrom"
 *     velocity/{step,time,value}   value "Angstrom fs-1"; step and time are hard links to position's
 *   /observables/<name>/{step,time,value}   frame-aligned only; step/time hard links to position's:
 *     active_state         int32[n], 0-based (0 = ground state S0)
 *     potential_energy     float64[n][nstates] "eV", adiabatic energies of all states
 *     kinetic_energy       float64[n] "eV"
 *     total_energy         float64[n] "eV"
 *     populations          float64[n][nstates], electronic populations |c_i|^2 (or as given)
 *     amplitudes           float64[n][nstates][2], complex amplitudes c_i as (real, imaginary)
 *     energy_spread        float64[n][nstates] "eV", committee spread (only when configured)
 *   /tsh                   irregular events and run state (not H5MD-defined)
 *     attr status          fixed string: pending | running | done | failed
 *     attr stop_reason     fixed string (FH_H5MD_REASON_MAX bytes)
 *     attr committed       int64[2] {frames, hops} safely on disk (see "Crash safety")
 *     hops/{step,time,from,to,frustrated,energy_gap}   one row per hop attempt that hopped or was
 *                          frustrated; time "fs"; energy_gap = E_to - E_from in "eV"
 *     checkpoint/slot0, slot1   uint8 blobs (the runner's serialised state, opaque here);
 *                          attr record = int64[4] {current slot or -1, frames, hops, bytes}
 *   /parameters            dataset deck (resolved deck text); attrs program, version, seed (uint64),
 *                          trajectory (int64 index)
 *
 * Non-molecular model surfaces (1D Tully models, 2D LVC) are stored as one pseudo-atom (natoms = 1,
 * species 0) whose x (and y) hold the model coordinates, converted like any length (bohr ->
 * Angstrom), with the model mass in "u".
 *
 * Crash safety: frames and hops are buffered and written in blocks; after each block the file is
 * flushed, then the `committed` counts are updated and flushed again. After a kill -9 the file opens
 * and every frame up to the last committed block is intact; readers use the committed counts (a torn
 * last block beyond them is ignored, and reopening for append truncates it). Checkpoints alternate
 * between two slots, so a kill while writing one leaves the previous one valid. Data chunks are
 * never compressed, so committed data never moves; chunks of up to 128 frames keep the chunk index
 * of a 2000-frame series inside one index node. (A stress run of 300 SIGKILLs at random moments
 * during writes of up to 40000 frames, index splits included, lost no committed frame; the ctest
 * kill test repeats 24 of them.)
 * Note: HDF5 1.10 locks files it has open for writing; to look at a file while it is being written
 * set HDF5_USE_FILE_LOCKING=FALSE in the reader's environment.
 *
 * Everything passed in or read back is in atomic units (bohr, bohr per a.u. of time, a.u. of time,
 * hartree, electron masses); conversion to Angstrom, fs, eV and u happens only in the file. */
#ifndef FH_H5MD_H
#define FH_H5MD_H

#include <stddef.h>
#include <stdint.h>

#include "fh_error.h"

/* Status of a trajectory, shared by trajectory files and ensemble.h5. */
typedef enum {
    FH_TRAJ_PENDING = 0,
    FH_TRAJ_RUNNING = 1,
    FH_TRAJ_DONE = 2,
    FH_TRAJ_FAILED = 3
} fh_traj_status;

/* "pending", "running", "done", "failed" ("unknown" out of range). */
const char *fh_traj_status_name(fh_traj_status s);
/* Parse a status name (case-sensitive); returns 0, or -1 if unknown. */
int fh_traj_status_parse(const char *name, fh_traj_status *s);

#define FH_H5MD_REASON_MAX 256      /* bytes for a stop reason, including the terminating NUL */
#define FH_H5MD_DEFAULT_BLOCK 20    /* frames per output block when the config says 0 */

/* ------------------------------------------------------------------------------------------------
 * Writer */

typedef struct {
    const char *path;            /* file to create */
    int force;                   /* 1: overwrite an existing file; 0: refuse (FH_EINPUT) */
    const char *particle_group;  /* name under /particles; NULL: "all" */
    int natoms;                  /* >= 1 */
    int nstates;                 /* >= 1 */
    const int *species;          /* natoms atomic numbers (0: model coordinate) */
    const double *masses;        /* natoms masses in electron masses; NULL: element table */
    int has_spread;              /* 1: write /observables/energy_spread */
    int frames_per_block;        /* frames buffered before each append + flush; 0: default */
    const char *deck_text;       /* resolved deck (NULL: empty) */
    uint64_t seed;               /* ensemble seed */
    long traj_index;             /* trajectory index in the ensemble */
    const char *author;          /* NULL: $USER, else "unknown" */
} fh_h5md_config;

/* One output frame; all arrays are read during fh_h5md_writer_append only. */
typedef struct {
    long step;                   /* integration step */
    double time;                 /* a.u. */
    const double *pos;           /* natoms*3, bohr */
    const double *vel;           /* natoms*3, bohr per a.u. of time */
    int active;                  /* active state, 0-based */
    const double *epot;          /* nstates adiabatic energies, hartree */
    double ekin;                 /* hartree */
    double etot;                 /* hartree */
    const double *amp;           /* nstates amplitudes as (re, im) pairs (layout of double complex) */
    const double *pop;           /* nstates populations; NULL: |amp_i|^2 */
    const double *spread;        /* nstates committee spread, hartree (only if has_spread) */
} fh_h5md_frame;

/* One hop event (successful or frustrated). */
typedef struct {
    long step;
    double time;                 /* a.u. */
    int from, to;                /* 0-based states */
    int frustrated;              /* 1: not enough kinetic energy, the hop was rejected */
    double gap;                  /* E_to - E_from at the hop, hartree */
} fh_h5md_hop;

typedef struct fh_h5md_writer fh_h5md_writer;

/* Create a new trajectory file (status "running"). Fails with FH_EINPUT if the file exists and
 * cfg->force is 0, or if the config is invalid; FH_EFAIL on I/O errors. */
int fh_h5md_writer_create(const fh_h5md_config *cfg, fh_h5md_writer **out, fh_err *err);

/* Reopen an existing trajectory file to continue it (checkpoint restart): frame series are truncated
 * to `nframes` (<= the committed count), hops to those with step <= the step of the last kept frame
 * (none if nframes == 0), a checkpoint taken after `nframes` is dropped, and the status is set back
 * to "running". frames_per_block 0: default. */
int fh_h5md_writer_reopen(const char *path, long nframes, int frames_per_block,
                          fh_h5md_writer **out, fh_err *err);

/* Append a frame (buffered; written with its block). */
int fh_h5md_writer_append(fh_h5md_writer *w, const fh_h5md_frame *f, fh_err *err);
/* Record a hop (buffered with the current block). */
int fh_h5md_writer_hop(fh_h5md_writer *w, const fh_h5md_hop *h, fh_err *err);
/* Write buffered frames and hops and flush the file (also done automatically per block). */
int fh_h5md_writer_flush(fh_h5md_writer *w, fh_err *err);
/* Flush, then record the status and stop reason (reason may be NULL) and flush again. */
int fh_h5md_writer_set_status(fh_h5md_writer *w, fh_traj_status s, const char *reason, fh_err *err);
/* Flush, then store an opaque checkpoint blob tagged with the current frame and hop counts. */
int fh_h5md_writer_checkpoint(fh_h5md_writer *w, const void *data, size_t nbytes, fh_err *err);
/* Frames appended so far (written plus buffered). */
long fh_h5md_writer_nframes(const fh_h5md_writer *w);
/* Flush and close; w may be NULL. The writer is freed even when the final flush fails. */
int fh_h5md_writer_close(fh_h5md_writer *w, fh_err *err);

/* ------------------------------------------------------------------------------------------------
 * Reader (read-only; values converted back to atomic units) */

typedef struct fh_h5md_reader fh_h5md_reader;

int fh_h5md_reader_open(const char *path, fh_h5md_reader **out, fh_err *err);
void fh_h5md_reader_close(fh_h5md_reader *r);

long fh_h5md_reader_nframes(const fh_h5md_reader *r);   /* committed frames */
long fh_h5md_reader_nhops(const fh_h5md_reader *r);     /* committed hops */
int fh_h5md_reader_natoms(const fh_h5md_reader *r);
int fh_h5md_reader_nstates(const fh_h5md_reader *r);
int fh_h5md_reader_has_spread(const fh_h5md_reader *r);
const int *fh_h5md_reader_species(const fh_h5md_reader *r);    /* natoms */
const double *fh_h5md_reader_masses(const fh_h5md_reader *r);  /* natoms, electron masses */
fh_traj_status fh_h5md_reader_status(const fh_h5md_reader *r);
const char *fh_h5md_reader_stop_reason(const fh_h5md_reader *r);
const char *fh_h5md_reader_deck(const fh_h5md_reader *r);      /* resolved deck text */
const char *fh_h5md_reader_version(const fh_h5md_reader *r);   /* program version that wrote it */
uint64_t fh_h5md_reader_seed(const fh_h5md_reader *r);
long fh_h5md_reader_traj_index(const fh_h5md_reader *r);

/* Frame series for frames [first, first+count) (must lie within nframes). Output sizes:
 * steps/times/active/ekin/etot: count; epot/populations/spread: count*nstates;
 * amplitudes: count*nstates*2 (re, im); positions/velocities: count*natoms*3. */
int fh_h5md_read_steps(const fh_h5md_reader *r, long first, long count, long *out, fh_err *err);
int fh_h5md_read_times(const fh_h5md_reader *r, long first, long count, double *out, fh_err *err);
int fh_h5md_read_active(const fh_h5md_reader *r, long first, long count, int *out, fh_err *err);
int fh_h5md_read_epot(const fh_h5md_reader *r, long first, long count, double *out, fh_err *err);
int fh_h5md_read_ekin(const fh_h5md_reader *r, long first, long count, double *out, fh_err *err);
int fh_h5md_read_etot(const fh_h5md_reader *r, long first, long count, double *out, fh_err *err);
int fh_h5md_read_populations(const fh_h5md_reader *r, long first, long count, double *out,
                             fh_err *err);
int fh_h5md_read_amplitudes(const fh_h5md_reader *r, long first, long count, double *out,
                            fh_err *err);
int fh_h5md_read_spread(const fh_h5md_reader *r, long first, long count, double *out, fh_err *err);
int fh_h5md_read_positions(const fh_h5md_reader *r, long first, long count, double *out,
                           fh_err *err);
int fh_h5md_read_velocities(const fh_h5md_reader *r, long first, long count, double *out,
                            fh_err *err);
/* All committed hops: out has room for fh_h5md_reader_nhops(r) entries. */
int fh_h5md_read_hops(const fh_h5md_reader *r, fh_h5md_hop *out, fh_err *err);
/* The frame that shows an event at `time` (a.u.; e.g. a hop): the last of the n frame times at or
 * before it (within 1e-9 relative), 0 if none; frames may be written less often than every step. */
long fh_h5md_frame_at(const double *times, long n, double time);
/* The current checkpoint: *data (malloc'ed, caller frees) and its size, and the frame and hop counts
 * it belongs to. Without a checkpoint: FH_OK with *data = NULL, *nbytes = 0, *nframes = 0. */
int fh_h5md_reader_checkpoint(const fh_h5md_reader *r, long *nframes, long *nhops, void **data,
                              size_t *nbytes, fh_err *err);

/* ------------------------------------------------------------------------------------------------
 * ensemble.h5: the index of an output directory.
 *   /parameters   dataset deck (resolved deck text); attrs program, version, seed, ntraj
 *   /trajectories index int64[ntraj], status fixed string[16] (pending|running|done|failed),
 *                 stop_reason fixed string[FH_H5MD_REASON_MAX], nsteps int64, final_time float64 "fs"
 *   /traj/traj_NNNNNN  external links to traj/traj_NNNNNN.h5 (relative to the directory; dangling
 *                 until that trajectory has started)
 * Updates overwrite fixed-size records in place and flush, so a kill leaves a readable index. */

#define FH_ENS_FILE "ensemble.h5"
#define FH_ENS_TRAJ_DIR "traj"

typedef struct {
    long index;
    fh_traj_status status;
    char reason[FH_H5MD_REASON_MAX];
    long nsteps;                 /* integration steps done */
    double final_time;           /* a.u. */
} fh_ens_record;

typedef struct fh_ens fh_ens;

/* Create OUTDIR/ensemble.h5 (and OUTDIR/traj/, OUTDIR itself if missing) with ntraj pending
 * records. Fails with FH_EINPUT if ensemble.h5 exists and force is 0. */
int fh_ens_create(const char *outdir, long ntraj, const char *deck_text, uint64_t seed, int force,
                  fh_ens **out, fh_err *err);
/* Open OUTDIR/ensemble.h5, read-only or for updates (writable = 1). */
int fh_ens_open(const char *outdir, int writable, fh_ens **out, fh_err *err);
long fh_ens_ntraj(const fh_ens *e);
uint64_t fh_ens_seed(const fh_ens *e);
const char *fh_ens_deck(const fh_ens *e);
const char *fh_ens_dir(const fh_ens *e);
/* The record of trajectory `index` (0 <= index < ntraj). */
int fh_ens_get(const fh_ens *e, long index, fh_ens_record *rec, fh_err *err);
/* Overwrite the record rec->index and flush (writable handles only). */
int fh_ens_set(fh_ens *e, const fh_ens_record *rec, fh_err *err);
/* Close; e may be NULL. */
int fh_ens_close(fh_ens *e, fh_err *err);
/* OUTDIR/traj/traj_NNNNNN.h5 into buf; returns 0, or -1 if it does not fit. */
int fh_ens_traj_path(const char *outdir, long index, char *buf, size_t size);

#endif
