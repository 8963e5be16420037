/* The reference dataset: one HDF5 file shared by sampling (which appends ab initio results as they
 * finish) and training (which reads them). Geometries are rows; any quantity may be missing per
 * geometry (masks), failed calculations are rows with a nonzero status and empty masks, and every
 * row has a unique id so that a resumed batch skips what is done. The layout is documented in
 * inputs/datasets/README.md.
 *
 * Kill safety: an append never modifies the file in place. It copies the file, appends to the copy,
 * closes and fsyncs it, then renames it over the original (atomic on POSIX), all under an exclusive
 * lock on PATH.lock. A kill at any moment leaves either the old or the new complete file.
 *
 * Units as stored (and as attributes in the file): positions Angstrom, energies hartree, gradients
 * hartree/bohr, NACs d_ij = <psi_i|grad psi_j> 1/bohr, CI part h_ij = <psi_i|dH/dR|psi_j>
 * hartree/bohr (so that the CI part of d_ij is h_ij/(E_j-E_i)), CSF part 1/bohr, wall time s. */
#ifndef FH_DATASET_H
#define FH_DATASET_H

#include <stddef.h>

#include "fh_error.h"

#define FH_DATASET_FORMAT "fusionhop-dataset"
#define FH_DATASET_VERSION 1
#define FH_DATASET_ID_LEN 64     /* bytes of an id, including the terminating NUL */
#define FH_DATASET_ORIGIN_LEN 32 /* bytes of an origin tag, including the NUL */
#define FH_DATASET_INFO_LEN 256  /* bytes of a per-row note (e.g. the log of a failure) */

/* Row status. */
enum { FH_DATASET_OK = 0, FH_DATASET_FAILED = 1 };

/* One geometry to append. Pointers are borrowed; a NULL array means "not present" (its mask is
 * all zero); a non-NULL array with a NULL mask means every entry is present. */
typedef struct {
    const char *id;               /* unique key, < FH_DATASET_ID_LEN bytes, required */
    const char *origin;           /* tag such as "torsion-scan", < FH_DATASET_ORIGIN_LEN bytes */
    const char *info;             /* free note (failure message, log path), may be NULL */
    int status;                   /* FH_DATASET_OK or FH_DATASET_FAILED */
    double wall_s;                /* seconds the reference calculation took */
    const double *pos;            /* [natoms*3] Angstrom, required */
    const double *energy;         /* [nstates] hartree */
    const unsigned char *has_energy;   /* [nstates] */
    const double *grad;           /* [nstates*natoms*3] hartree/bohr */
    const unsigned char *has_grad;     /* [nstates] */
    const double *nac;            /* [npairs*natoms*3] 1/bohr, pairs (0,1),(0,2),..,(1,2),.. */
    const unsigned char *has_nac;      /* [npairs] */
    const double *nac_ci;         /* [npairs*natoms*3] hartree/bohr, h_ij */
    const double *nac_csf;        /* [npairs*natoms*3] 1/bohr */
    const unsigned char *has_nac_parts; /* [npairs]: nac_ci and nac_csf present */
} fh_dataset_record;

/* A dataset (or a range of its rows) in memory. Arrays are row-major with the row first; entries
 * whose mask is zero hold NaN. */
typedef struct {
    int natoms, nstates, npairs;
    int *z;                       /* [natoms] atomic numbers */
    char level[256];              /* level of theory, e.g. "SA2-CASSCF(2,2)/6-31G" */
    size_t n;                     /* rows held */
    size_t first;                 /* index in the file of the first row held */
    double *pos;                  /* [n*natoms*3] Angstrom */
    double *energy;               /* [n*nstates] hartree */
    double *grad;                 /* [n*nstates*natoms*3] hartree/bohr */
    double *nac;                  /* [n*npairs*natoms*3] 1/bohr */
    double *nac_ci;               /* [n*npairs*natoms*3] hartree/bohr */
    double *nac_csf;              /* [n*npairs*natoms*3] 1/bohr */
    unsigned char *has_energy;    /* [n*nstates] */
    unsigned char *has_grad;      /* [n*nstates] */
    unsigned char *has_nac;       /* [n*npairs] */
    unsigned char *has_nac_parts; /* [n*npairs] */
    int *status;                  /* [n] */
    double *wall_s;               /* [n] */
    char (*id)[FH_DATASET_ID_LEN];         /* [n] */
    char (*origin)[FH_DATASET_ORIGIN_LEN]; /* [n] */
    char (*info)[FH_DATASET_INFO_LEN];     /* [n] */
} fh_dataset;

/* Header of a dataset file without its rows. */
typedef struct {
    int natoms, nstates;
    int z[256];                   /* first natoms entries used (natoms <= 256) */
    char level[256];
    size_t n;                     /* rows in the file */
} fh_dataset_info;

#define FH_DATASET_MAX_ATOMS 256
#define FH_DATASET_MAX_STATES 32

/* Create an empty dataset file. Fails (FH_EINPUT) if PATH exists, unless `overwrite`. */
int fh_dataset_create(const char *path, int natoms, int nstates, const int *z,
                      const char *level, int overwrite, fh_err *err);
/* Open PATH if it exists (checking natoms, nstates, z and level agree: FH_EINPUT otherwise) or
 * create it. */
int fh_dataset_open_or_create(const char *path, int natoms, int nstates, const int *z,
                              const char *level, fh_err *err);
/* Append rows atomically (all or none), see the kill-safety note above. */
int fh_dataset_append(const char *path, const fh_dataset_record *rec, size_t nrec, fh_err *err);

/* Turn the successful rows of `id` into failed ones (status FH_DATASET_FAILED, every mask
 * cleared, info = note), e.g. when a calculation turns out to have converged to the wrong
 * solution; the numbers stay in the file for the record, a batch may compute the id again
 * (retry_failed). Atomic like an append; *marked (may be NULL) counts the rows changed. */
int fh_dataset_mark_failed(const char *path, const char *id, const char *note, size_t *marked,
                           fh_err *err);

/* Header and row count. A missing, truncated or foreign file is FH_EINPUT with a message naming
 * the file and the problem. */
int fh_dataset_read_info(const char *path, fh_dataset_info *info, fh_err *err);
/* Load every row. */
int fh_dataset_read(const char *path, fh_dataset **out, fh_err *err);
/* Load rows [first, first+count). */
int fh_dataset_read_rows(const char *path, size_t first, size_t count, fh_dataset **out,
                         fh_err *err);
void fh_dataset_free(fh_dataset *d);

/* Row index of the first row with this id and status (status < 0: any status), or -1. */
long fh_dataset_find(const fh_dataset *d, const char *id, int status);
/* Number of rows with status FH_DATASET_OK. */
size_t fh_dataset_count_ok(const fh_dataset *d);

#endif
