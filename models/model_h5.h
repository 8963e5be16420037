/* Small HDF5 helpers of the model file and the training checkpoint (model_h5.c): scalar and
 * array attributes, whole double/int datasets, every read checked for existence, type class and
 * shape so that a malformed file gives a message instead of garbage. Readers return FH_EINPUT with
 * the object's name in err; callers prefix the file name. */
#ifndef FH_MODEL_H5_H
#define FH_MODEL_H5_H

#include <hdf5.h>
#include <stdint.h>

#include "fh_error.h"

/* HDF5 prints its error stack by default; a library must not print. */
typedef struct {
    H5E_auto2_t func;
    void *data;
} model_h5_quiet;
void model_h5_quiet_begin(model_h5_quiet *q);
void model_h5_quiet_end(const model_h5_quiet *q);

int model_h5_put_str(hid_t obj, const char *name, const char *value);
int model_h5_put_int(hid_t obj, const char *name, long value);
int model_h5_put_u64(hid_t obj, const char *name, uint64_t value);
int model_h5_put_dbl(hid_t obj, const char *name, double value);
int model_h5_put_ints(hid_t obj, const char *name, int n, const int *v);
/* A dataset of rank 1..3 (dims) of doubles or ints. */
int model_h5_put_dset(hid_t loc, const char *name, int rank, const hsize_t *dims, const double *v);
int model_h5_put_dset_int(hid_t loc, const char *name, int rank, const hsize_t *dims, const int *v);

int model_h5_get_str(hid_t obj, const char *name, char *buf, size_t size, fh_err *err);
int model_h5_get_int(hid_t obj, const char *name, long *v, fh_err *err);
int model_h5_get_u64(hid_t obj, const char *name, uint64_t *v, fh_err *err);
int model_h5_get_dbl(hid_t obj, const char *name, double *v, fh_err *err);
/* An int array attribute of exactly n entries. */
int model_h5_get_ints(hid_t obj, const char *name, int n, int *v, fh_err *err);
/* A dataset that must have exactly this rank and these dims. */
int model_h5_get_dset(hid_t loc, const char *name, int rank, const hsize_t *dims, double *v,
                      fh_err *err);
int model_h5_get_dset_int(hid_t loc, const char *name, int rank, const hsize_t *dims, int *v,
                          fh_err *err);

#endif
