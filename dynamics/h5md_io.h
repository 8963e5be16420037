/* Internal: small HDF5 helpers shared by the trajectory writer, its reader and ensemble.h5, and
 * the table of frame-aligned series that writer and reader agree on. Not a public header.
 * All helpers return 0 on success and -1 on failure (HDF5's convention); the public functions turn
 * that into an fh_err naming the file and the object. */
#ifndef FH_H5MD_IO_H
#define FH_H5MD_IO_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "fh_h5md.h"

/* Element types of the series we store. */
typedef enum { FH_H5IO_F64, FH_H5IO_I32, FH_H5IO_I64, FH_H5IO_U8 } fh_h5io_type;

size_t fh_h5io_size(fh_h5io_type t);
hid_t fh_h5io_mem_type(fh_h5io_type t);   /* native type (not to be closed) */
hid_t fh_h5io_file_type(fh_h5io_type t);  /* little-endian file type (not to be closed) */

/* HDF5 prints its error stack by default; libraries must not print. Silence it for the duration
 * of one public call and restore whatever the caller had. */
typedef struct {
    H5E_auto2_t func;
    void *data;
} fh_h5io_quiet;
void fh_h5io_quiet_begin(fh_h5io_quiet *q);
void fh_h5io_quiet_end(const fh_h5io_quiet *q);

/* Opening a file for writing after its writer was killed: HDF5 flushes the superblock, which
 * holds the end of allocated space (EOA), separately from the chunks and index nodes, so a kill
 * between the two leaves blocks that are written and referenced beyond the stored EOA. New
 * allocations would then land on them (a later write fails with "addr overflow", or silently
 * overwrites). When the file is longer than its EOA, move the EOA past the end of the file plus
 * a margin for a block that was allocated but not yet written. Call right after H5Fopen. */
int fh_h5io_repair_eoa(hid_t file, const char *path);

/* Attributes. Strings: `str` writes a variable-length UTF-8 string (write-once metadata such as
 * units); `fixstr` writes (or overwrites in place) a fixed-size NUL-terminated string of `size`
 * bytes, for values updated during a run. */
/* A fixed-size NUL-terminated UTF-8 string type of `size` bytes (to be closed). */
hid_t fh_h5io_fixstr_type(size_t size);
int fh_h5io_attr_str(hid_t loc, const char *name, const char *value);
int fh_h5io_attr_str_array(hid_t loc, const char *name, const char *const *values, int n);
int fh_h5io_attr_fixstr(hid_t loc, const char *name, const char *value, size_t size);
/* Reads either kind of string attribute into buf (truncated to size-1 bytes). */
int fh_h5io_read_attr_str(hid_t loc, const char *name, char *buf, size_t size);
/* Integer array attributes (n == 0: scalar), created or overwritten in place. */
int fh_h5io_attr_i32(hid_t loc, const char *name, const int32_t *v, int n);
int fh_h5io_attr_i64(hid_t loc, const char *name, const int64_t *v, int n);
int fh_h5io_attr_u64(hid_t loc, const char *name, uint64_t v);
int fh_h5io_read_attr_i64(hid_t loc, const char *name, int64_t *v, int n);
int fh_h5io_read_attr_u64(hid_t loc, const char *name, uint64_t *v);

/* A scalar variable-length string dataset, and reading it back (malloc'ed). */
int fh_h5io_dset_text(hid_t loc, const char *name, const char *text);
char *fh_h5io_read_dset_text(hid_t loc, const char *name);

/* Groups: create every missing group along `path` (relative to loc); returns the last (to close). */
hid_t fh_h5io_group_path(hid_t loc, const char *path);

/* Extendable series: first dimension unlimited (starts at 0), then `rank-1` inner dimensions;
 * chunks of chunk_rows rows. Returns the dataset (to close) or -1. */
hid_t fh_h5io_series_create(hid_t loc, const char *name, fh_h5io_type t, int rank,
                            const hsize_t *inner, hsize_t chunk_rows);
/* Rows per chunk for frame series with rows of `rowbytes` bytes (see h5md_io.c for why). */
hsize_t fh_h5io_chunk_rows(size_t rowbytes);
/* Length of the first dimension, or -1. */
long fh_h5io_series_len(hid_t dset);
/* Grow the dataset to first+count rows and write rows [first, first+count) from buf (native). */
int fh_h5io_series_write(hid_t dset, fh_h5io_type t, long first, long count, const void *buf);
/* Read rows [first, first+count) into buf (native). */
int fh_h5io_series_read(hid_t dset, fh_h5io_type t, long first, long count, void *buf);
/* Set the length of the first dimension (truncate or grow). */
int fh_h5io_series_resize(hid_t dset, long n);
/* Elements per row of an open series (product of the inner dimensions), or -1. */
long fh_h5io_series_row(hid_t dset);

/* ------------------------------------------------------------------------------------------------
 * The frame-aligned series of a trajectory file, in the order of this enum. */
typedef enum {
    FH_SER_STEP,
    FH_SER_TIME,
    FH_SER_POSITION,
    FH_SER_VELOCITY,
    FH_SER_ACTIVE,
    FH_SER_EPOT,
    FH_SER_EKIN,
    FH_SER_ETOT,
    FH_SER_POP,
    FH_SER_AMP,
    FH_SER_SPREAD,
    FH_SER_COUNT
} fh_h5md_series;

typedef enum { FH_SHAPE_SCALAR, FH_SHAPE_ATOMS3, FH_SHAPE_STATES, FH_SHAPE_STATES2 } fh_h5md_shape;

typedef struct {
    const char *name;     /* for messages */
    int in_particles;     /* path relative to /particles/<group>/ (1) or to / (0) */
    const char *path;     /* dataset path */
    fh_h5io_type type;
    fh_h5md_shape shape;
    const char *unit;     /* unit attribute, or NULL */
    double factor;        /* stored value = atomic-unit value * factor */
    const char *description;
} fh_h5md_series_def;

const fh_h5md_series_def *fh_h5md_series_table(void);
/* Full path of series s for a particle group name into buf. */
void fh_h5md_series_path(fh_h5md_series s, const char *group, char *buf, size_t size);
/* Elements per frame of a series shape. */
long fh_h5md_shape_row(fh_h5md_shape shape, int natoms, int nstates);

/* The hop datasets under /tsh/hops. */
typedef enum { FH_HOP_STEP, FH_HOP_TIME, FH_HOP_FROM, FH_HOP_TO, FH_HOP_FRUSTRATED, FH_HOP_GAP,
               FH_HOP_COUNT } fh_h5md_hopfield;
typedef struct {
    const char *name;
    fh_h5io_type type;
    const char *unit;
    double factor;
} fh_h5md_hop_def;
const fh_h5md_hop_def *fh_h5md_hop_table(void);

/* Name of the (first) particle group under /particles into buf; 0 or -1. */
int fh_h5md_find_particle_group(hid_t file, char *buf, size_t size);

#define FH_H5MD_STATUS_SIZE 16   /* bytes of the fixed status string attributes/datasets */

#endif
