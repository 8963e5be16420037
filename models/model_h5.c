/* HDF5 helpers for model files and training checkpoints (see model_h5.h). */
#include "model_h5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void model_h5_quiet_begin(model_h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void model_h5_quiet_end(const model_h5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

static int put_attr(hid_t obj, const char *name, hid_t ftype, hid_t mtype, hid_t space,
                    const void *v)
{
    hid_t a = H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = a < 0 ? -1 : H5Awrite(a, mtype, v);
    if (a >= 0) H5Aclose(a);
    return st < 0 ? -1 : 0;
}

int model_h5_put_str(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(value) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    hid_t sp = H5Screate(H5S_SCALAR);
    int rc = put_attr(obj, name, t, t, sp, value);
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

int model_h5_put_int(hid_t obj, const char *name, long value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    int rc = put_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_LONG, sp, &value);
    H5Sclose(sp);
    return rc;
}

int model_h5_put_u64(hid_t obj, const char *name, uint64_t value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    int rc = put_attr(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, sp, &value);
    H5Sclose(sp);
    return rc;
}

int model_h5_put_dbl(hid_t obj, const char *name, double value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    int rc = put_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, sp, &value);
    H5Sclose(sp);
    return rc;
}

int model_h5_put_ints(hid_t obj, const char *name, int n, const int *v)
{
    hsize_t d = (hsize_t)(n > 0 ? n : 1);
    int zero = 0;
    hid_t sp = H5Screate_simple(1, &d, NULL);
    int rc = put_attr(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT, sp, n > 0 ? v : &zero);
    H5Sclose(sp);
    return rc;
}

static int put_dset(hid_t loc, const char *name, int rank, const hsize_t *dims, hid_t ft, hid_t mt,
                    const void *v)
{
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = d < 0 ? -1 : H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    return st < 0 ? -1 : 0;
}

int model_h5_put_dset(hid_t loc, const char *name, int rank, const hsize_t *dims, const double *v)
{
    return put_dset(loc, name, rank, dims, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v);
}

int model_h5_put_dset_int(hid_t loc, const char *name, int rank, const hsize_t *dims, const int *v)
{
    return put_dset(loc, name, rank, dims, H5T_STD_I32LE, H5T_NATIVE_INT, v);
}

/* ---- readers ------------------------------------------------------------------------------ */

/* Open attribute `name`, checking its class and its number of elements. */
static hid_t open_attr(hid_t obj, const char *name, H5T_class_t cls, hssize_t npoints, fh_err *err)
{
    if (H5Aexists(obj, name) <= 0) {
        fh_err_set(err, FH_EINPUT, "missing attribute '%s'", name);
        return -1;
    }
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) {
        fh_err_set(err, FH_EINPUT, "unreadable attribute '%s'", name);
        return -1;
    }
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    int ok = t >= 0 && sp >= 0 && H5Tget_class(t) == cls && H5Sget_simple_extent_npoints(sp) == npoints;
    if (ok && cls == H5T_STRING) ok = !H5Tis_variable_str(t);
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    if (!ok) {
        H5Aclose(a);
        fh_err_set(err, FH_EINPUT, "attribute '%s' has the wrong type or size", name);
        return -1;
    }
    return a;
}

int model_h5_get_str(hid_t obj, const char *name, char *buf, size_t size, fh_err *err)
{
    hid_t a = open_attr(obj, name, H5T_STRING, 1, err);
    if (a < 0) return FH_EINPUT;
    hid_t ft = H5Aget_type(a);
    size_t n = H5Tget_size(ft);
    H5Tclose(ft);
    char *tmp = calloc(n + 1, 1);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, n);
    int rc = tmp && H5Aread(a, mt, tmp) >= 0 ? FH_OK : fh_err_set(err, FH_EINPUT, "attribute '%s' "
                                                                   "unreadable", name);
    if (rc == FH_OK) snprintf(buf, size, "%s", tmp);
    H5Tclose(mt);
    free(tmp);
    H5Aclose(a);
    return rc;
}

static int get_scalar(hid_t obj, const char *name, H5T_class_t cls, hid_t mt, void *v, fh_err *err)
{
    hid_t a = open_attr(obj, name, cls, 1, err);
    if (a < 0) return FH_EINPUT;
    int rc = H5Aread(a, mt, v) >= 0 ? FH_OK : fh_err_set(err, FH_EINPUT, "attribute '%s' unreadable", name);
    H5Aclose(a);
    return rc;
}

int model_h5_get_int(hid_t obj, const char *name, long *v, fh_err *err)
{
    return get_scalar(obj, name, H5T_INTEGER, H5T_NATIVE_LONG, v, err);
}

int model_h5_get_u64(hid_t obj, const char *name, uint64_t *v, fh_err *err)
{
    return get_scalar(obj, name, H5T_INTEGER, H5T_NATIVE_UINT64, v, err);
}

int model_h5_get_dbl(hid_t obj, const char *name, double *v, fh_err *err)
{
    return get_scalar(obj, name, H5T_FLOAT, H5T_NATIVE_DOUBLE, v, err);
}

int model_h5_get_ints(hid_t obj, const char *name, int n, int *v, fh_err *err)
{
    int dummy = 0;
    hid_t a = open_attr(obj, name, H5T_INTEGER, n > 0 ? n : 1, err);
    if (a < 0) return FH_EINPUT;
    int rc = H5Aread(a, H5T_NATIVE_INT, n > 0 ? (void *)v : (void *)&dummy) >= 0
                 ? FH_OK : fh_err_set(err, FH_EINPUT, "attribute '%s' unreadable", name);
    H5Aclose(a);
    return rc;
}

static int get_dset(hid_t loc, const char *name, int rank, const hsize_t *dims, H5T_class_t cls,
                    hid_t mt, void *v, fh_err *err)
{
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return fh_err_set(err, FH_EINPUT, "missing dataset '%s'", name);
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return fh_err_set(err, FH_EINPUT, "unreadable dataset '%s'", name);
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    int ok = t >= 0 && sp >= 0 && H5Tget_class(t) == cls && H5Sget_simple_extent_ndims(sp) == rank;
    hsize_t got[8] = {0};
    if (ok) {
        H5Sget_simple_extent_dims(sp, got, NULL);
        for (int k = 0; k < rank; k++) ok &= got[k] == dims[k];
    }
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    int rc = FH_OK;
    if (!ok) {
        char want[128] = "", have[128] = "";
        for (int k = 0; k < rank; k++) {
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%llu", k ? "x" : "",
                     (unsigned long long)dims[k]);
            snprintf(have + strlen(have), sizeof have - strlen(have), "%s%llu", k ? "x" : "",
                     (unsigned long long)got[k]);
        }
        rc = fh_err_set(err, FH_EINPUT, "dataset '%s' has the wrong type or shape (%s, expected %s)",
                        name, have, want);
    } else if (H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        rc = fh_err_set(err, FH_EINPUT, "dataset '%s' could not be read (truncated or corrupt file?)",
                        name);
    }
    H5Dclose(d);
    return rc;
}

int model_h5_get_dset(hid_t loc, const char *name, int rank, const hsize_t *dims, double *v,
                      fh_err *err)
{
    return get_dset(loc, name, rank, dims, H5T_FLOAT, H5T_NATIVE_DOUBLE, v, err);
}

int model_h5_get_dset_int(hid_t loc, const char *name, int rank, const hsize_t *dims, int *v,
                          fh_err *err)
{
    return get_dset(loc, name, rank, dims, H5T_INTEGER, H5T_NATIVE_INT, v, err);
}
