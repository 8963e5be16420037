/* HDF5 helpers for the trajectory and ensemble files, and the one table of frame-aligned series
 * that writer and reader share (so a series is named, typed and unit-labelled in one place). */
#include "h5md_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fh_units.h"

/* ------------------------------------------------------------------------------------------------
 * Types and error silencing */

size_t fh_h5io_size(fh_h5io_type t)
{
    switch (t) {
    case FH_H5IO_F64: return sizeof(double);
    case FH_H5IO_I32: return sizeof(int32_t);
    case FH_H5IO_I64: return sizeof(int64_t);
    case FH_H5IO_U8: return 1;
    }
    return 0;
}

hid_t fh_h5io_mem_type(fh_h5io_type t)
{
    switch (t) {
    case FH_H5IO_F64: return H5T_NATIVE_DOUBLE;
    case FH_H5IO_I32: return H5T_NATIVE_INT32;
    case FH_H5IO_I64: return H5T_NATIVE_INT64;
    case FH_H5IO_U8: return H5T_NATIVE_UINT8;
    }
    return -1;
}

hid_t fh_h5io_file_type(fh_h5io_type t)
{
    switch (t) {
    case FH_H5IO_F64: return H5T_IEEE_F64LE;
    case FH_H5IO_I32: return H5T_STD_I32LE;
    case FH_H5IO_I64: return H5T_STD_I64LE;
    case FH_H5IO_U8: return H5T_STD_U8LE;
    }
    return -1;
}

void fh_h5io_quiet_begin(fh_h5io_quiet *q)
{
    q->func = NULL;
    q->data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void fh_h5io_quiet_end(const fh_h5io_quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

#define EOA_MARGIN ((hsize_t)1 << 20) /* h5clear --increment's default */

int fh_h5io_repair_eoa(hid_t file, const char *path)
{
    struct stat st;
    haddr_t eoa = 0;
    if (stat(path, &st) != 0 || H5Fget_eoa(file, &eoa) < 0) return -1;
    if ((haddr_t)st.st_size <= eoa) return 0; /* closed or flushed completely */
    return H5Fincrement_filesize(file, EOA_MARGIN) < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------------------------------------
 * Attributes */

/* Open attribute `name` on loc if it exists with the same type size, else (re)create it. */
static hid_t attr_open_or_create(hid_t loc, const char *name, hid_t ftype, hid_t space)
{
    if (H5Aexists(loc, name) > 0) {
        hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
        if (a < 0) return -1;
        hid_t t = H5Aget_type(a), s = H5Aget_space(a);
        int same = t >= 0 && s >= 0 && H5Tequal(t, ftype) > 0 && H5Sextent_equal(s, space) > 0;
        if (t >= 0) H5Tclose(t);
        if (s >= 0) H5Sclose(s);
        if (same) return a;
        H5Aclose(a);
        if (H5Adelete(loc, name) < 0) return -1;
    }
    return H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
}

static int attr_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, hid_t space,
                      const void *buf)
{
    hid_t a = attr_open_or_create(loc, name, ftype, space);
    if (a < 0) return -1;
    herr_t st = H5Awrite(a, mtype, buf);
    H5Aclose(a);
    return st < 0 ? -1 : 0;
}

static hid_t vlen_str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return -1;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

hid_t fh_h5io_fixstr_type(size_t size)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return -1;
    if (H5Tset_size(t, size) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 ||
        H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

int fh_h5io_attr_str(hid_t loc, const char *name, const char *value)
{
    const char *v = value ? value : "";
    return fh_h5io_attr_str_array(loc, name, &v, 0);
}

int fh_h5io_attr_str_array(hid_t loc, const char *name, const char *const *values, int n)
{
    hid_t t = vlen_str_type();
    if (t < 0) return -1;
    hsize_t dim = (hsize_t)n;
    hid_t s = n > 0 ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR);
    int rc = -1;
    if (s >= 0) rc = attr_write(loc, name, t, t, s, values);
    if (s >= 0) H5Sclose(s);
    H5Tclose(t);
    return rc;
}

int fh_h5io_attr_fixstr(hid_t loc, const char *name, const char *value, size_t size)
{
    char *buf = calloc(1, size);
    if (!buf) return -1;
    if (value) {
        size_t n = strlen(value);
        if (n > size - 1) n = size - 1;
        memcpy(buf, value, n);
    }
    hid_t t = fh_h5io_fixstr_type(size);
    hid_t s = H5Screate(H5S_SCALAR);
    int rc = -1;
    if (t >= 0 && s >= 0) rc = attr_write(loc, name, t, t, s, buf);
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    free(buf);
    return rc;
}

int fh_h5io_read_attr_str(hid_t loc, const char *name, char *buf, size_t size)
{
    if (size == 0) return -1;
    buf[0] = '\0';
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return -1;
    int rc = -1;
    hid_t t = H5Aget_type(a);
    if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
        if (H5Tis_variable_str(t) > 0) {
            hid_t mt = vlen_str_type();
            char *s = NULL;
            if (mt >= 0 && H5Aread(a, mt, &s) >= 0) {
                if (s) {
                    snprintf(buf, size, "%s", s);
                    H5free_memory(s);
                }
                rc = 0;
            }
            if (mt >= 0) H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(t);
            char *tmp = calloc(1, n + 1);
            hid_t mt = fh_h5io_fixstr_type(n + 1);
            if (tmp && mt >= 0 && H5Aread(a, mt, tmp) >= 0) {
                snprintf(buf, size, "%s", tmp);
                rc = 0;
            }
            if (mt >= 0) H5Tclose(mt);
            free(tmp);
        }
    }
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    return rc;
}

static int attr_ints(hid_t loc, const char *name, hid_t ftype, hid_t mtype, const void *v, int n)
{
    hsize_t dim = (hsize_t)n;
    hid_t s = n > 0 ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR);
    if (s < 0) return -1;
    int rc = attr_write(loc, name, ftype, mtype, s, v);
    H5Sclose(s);
    return rc;
}

int fh_h5io_attr_i32(hid_t loc, const char *name, const int32_t *v, int n)
{
    return attr_ints(loc, name, H5T_STD_I32LE, H5T_NATIVE_INT32, v, n);
}

int fh_h5io_attr_i64(hid_t loc, const char *name, const int64_t *v, int n)
{
    return attr_ints(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, v, n);
}

int fh_h5io_attr_u64(hid_t loc, const char *name, uint64_t v)
{
    return attr_ints(loc, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v, 0);
}

static int read_attr_num(hid_t loc, const char *name, hid_t mtype, void *v, int n)
{
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t s = H5Aget_space(a);
    hssize_t npts = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
    int want = n > 0 ? n : 1;
    int rc = -1;
    if (npts == want && H5Aread(a, mtype, v) >= 0) rc = 0;
    if (s >= 0) H5Sclose(s);
    H5Aclose(a);
    return rc;
}

int fh_h5io_read_attr_i64(hid_t loc, const char *name, int64_t *v, int n)
{
    return read_attr_num(loc, name, H5T_NATIVE_INT64, v, n);
}

int fh_h5io_read_attr_u64(hid_t loc, const char *name, uint64_t *v)
{
    return read_attr_num(loc, name, H5T_NATIVE_UINT64, v, 0);
}

/* ------------------------------------------------------------------------------------------------
 * Text datasets and groups */

int fh_h5io_dset_text(hid_t loc, const char *name, const char *text)
{
    hid_t t = vlen_str_type();
    hid_t s = H5Screate(H5S_SCALAR);
    int rc = -1;
    if (t >= 0 && s >= 0) {
        hid_t d = H5Dcreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        const char *v = text ? text : "";
        if (d >= 0) {
            if (H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0) rc = 0;
            H5Dclose(d);
        }
    }
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    return rc;
}

char *fh_h5io_read_dset_text(hid_t loc, const char *name)
{
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return NULL;
    char *out = NULL;
    hid_t t = H5Dget_type(d);
    hid_t mt = vlen_str_type();
    char *s = NULL;
    if (t >= 0 && mt >= 0 && H5Tis_variable_str(t) > 0 &&
        H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s) >= 0) {
        out = strdup(s ? s : "");
        if (s) H5free_memory(s);
    }
    if (mt >= 0) H5Tclose(mt);
    if (t >= 0) H5Tclose(t);
    H5Dclose(d);
    return out;
}

hid_t fh_h5io_group_path(hid_t loc, const char *path)
{
    char *copy = strdup(path);
    if (!copy) return -1;
    hid_t cur = H5Oopen(loc, ".", H5P_DEFAULT);
    char *save = NULL;
    for (char *part = strtok_r(copy, "/", &save); part && cur >= 0;
         part = strtok_r(NULL, "/", &save)) {
        hid_t next;
        if (H5Lexists(cur, part, H5P_DEFAULT) > 0)
            next = H5Gopen2(cur, part, H5P_DEFAULT);
        else
            next = H5Gcreate2(cur, part, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Oclose(cur);
        cur = next;
    }
    free(copy);
    return cur;
}

/* ------------------------------------------------------------------------------------------------
 * Extendable series */

hsize_t fh_h5io_chunk_rows(size_t rowbytes)
{
    /* At most 256 KiB per chunk, within [16, 128] rows. 128 rows keep a 2000-frame trajectory in
     * 16 chunks, well inside one chunk-index node (64 entries), so appending never restructures
     * the index. Chunks are never compressed, so a chunk keeps its address when a later block
     * fills it up (a crash cannot move data already committed). */
    size_t rows = rowbytes ? (256 * 1024) / rowbytes : 1;
    if (rows < 16) rows = 16;
    if (rows > 128) rows = 128;
    return (hsize_t)rows;
}

hid_t fh_h5io_series_create(hid_t loc, const char *name, fh_h5io_type t, int rank,
                            const hsize_t *inner, hsize_t chunk_rows)
{
    hsize_t dims[4] = {0}, maxdims[4], chunk[4];
    if (rank < 1 || rank > 4 || chunk_rows < 1) return -1;
    dims[0] = 0;
    maxdims[0] = H5S_UNLIMITED;
    chunk[0] = chunk_rows;
    for (int i = 1; i < rank; i++) dims[i] = maxdims[i] = chunk[i] = inner[i - 1];
    hid_t space = H5Screate_simple(rank, dims, maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t d = -1;
    if (space >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, rank, chunk) >= 0)
        d = H5Dcreate2(loc, name, fh_h5io_file_type(t), space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return d;
}

long fh_h5io_series_len(hid_t dset)
{
    hid_t s = H5Dget_space(dset);
    if (s < 0) return -1;
    hsize_t dims[8];
    int rank = H5Sget_simple_extent_ndims(s);
    long n = -1;
    if (rank >= 1 && rank <= 8 && H5Sget_simple_extent_dims(s, dims, NULL) >= 0) n = (long)dims[0];
    H5Sclose(s);
    return n;
}

long fh_h5io_series_row(hid_t dset)
{
    hid_t s = H5Dget_space(dset);
    if (s < 0) return -1;
    hsize_t dims[8];
    int rank = H5Sget_simple_extent_ndims(s);
    long n = -1;
    if (rank >= 1 && rank <= 8 && H5Sget_simple_extent_dims(s, dims, NULL) >= 0) {
        n = 1;
        for (int i = 1; i < rank; i++) n *= (long)dims[i];
    }
    H5Sclose(s);
    return n;
}

int fh_h5io_series_resize(hid_t dset, long n)
{
    hid_t s = H5Dget_space(dset);
    if (s < 0) return -1;
    hsize_t dims[8];
    int rank = H5Sget_simple_extent_ndims(s);
    int ok = rank >= 1 && rank <= 8 && H5Sget_simple_extent_dims(s, dims, NULL) >= 0;
    H5Sclose(s);
    if (!ok) return -1;
    dims[0] = (hsize_t)n;
    return H5Dset_extent(dset, dims) < 0 ? -1 : 0;
}

/* Select rows [first, first+count) of dset's file space; returns the file space (to close). */
static hid_t select_rows(hid_t dset, long first, long count, int *rank_out, hsize_t *dims)
{
    hid_t fs = H5Dget_space(dset);
    if (fs < 0) return -1;
    int rank = H5Sget_simple_extent_ndims(fs);
    if (rank < 1 || rank > 8 || H5Sget_simple_extent_dims(fs, dims, NULL) < 0) {
        H5Sclose(fs);
        return -1;
    }
    hsize_t start[8] = {0}, cnt[8];
    start[0] = (hsize_t)first;
    cnt[0] = (hsize_t)count;
    for (int i = 1; i < rank; i++) cnt[i] = dims[i];
    if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0) {
        H5Sclose(fs);
        return -1;
    }
    *rank_out = rank;
    dims[0] = (hsize_t)count;
    return fs;
}

int fh_h5io_series_write(hid_t dset, fh_h5io_type t, long first, long count, const void *buf)
{
    if (count <= 0) return 0;
    if (fh_h5io_series_resize(dset, first + count) < 0) return -1;
    int rank = 0;
    hsize_t dims[8];
    hid_t fs = select_rows(dset, first, count, &rank, dims);
    if (fs < 0) return -1;
    hid_t ms = H5Screate_simple(rank, dims, NULL);
    int rc = -1;
    if (ms >= 0 && H5Dwrite(dset, fh_h5io_mem_type(t), ms, fs, H5P_DEFAULT, buf) >= 0) rc = 0;
    if (ms >= 0) H5Sclose(ms);
    H5Sclose(fs);
    return rc;
}

int fh_h5io_series_read(hid_t dset, fh_h5io_type t, long first, long count, void *buf)
{
    if (count <= 0) return 0;
    int rank = 0;
    hsize_t dims[8];
    hid_t fs = select_rows(dset, first, count, &rank, dims);
    if (fs < 0) return -1;
    hid_t ms = H5Screate_simple(rank, dims, NULL);
    int rc = -1;
    if (ms >= 0 && H5Dread(dset, fh_h5io_mem_type(t), ms, fs, H5P_DEFAULT, buf) >= 0) rc = 0;
    if (ms >= 0) H5Sclose(ms);
    H5Sclose(fs);
    return rc;
}

/* ------------------------------------------------------------------------------------------------
 * The series tables */

#define VEL_FACTOR (FH_BOHR_ANGSTROM / FH_AUTIME_FS)

static const fh_h5md_series_def series[FH_SER_COUNT] = {
    [FH_SER_STEP] = {"step", 1, "position/step", FH_H5IO_I64, FH_SHAPE_SCALAR, NULL, 1.0,
                     "integration step of each frame"},
    [FH_SER_TIME] = {"time", 1, "position/time", FH_H5IO_F64, FH_SHAPE_SCALAR, "fs", FH_AUTIME_FS,
                     "simulation time of each frame"},
    [FH_SER_POSITION] = {"position", 1, "position/value", FH_H5IO_F64, FH_SHAPE_ATOMS3, "Angstrom",
                         FH_BOHR_ANGSTROM, "nuclear positions"},
    [FH_SER_VELOCITY] = {"velocity", 1, "velocity/value", FH_H5IO_F64, FH_SHAPE_ATOMS3,
                         "Angstrom fs-1", VEL_FACTOR, "nuclear velocities"},
    [FH_SER_ACTIVE] = {"active_state", 0, "observables/active_state/value", FH_H5IO_I32,
                       FH_SHAPE_SCALAR, NULL, 1.0, "active adiabatic state, 0-based (0 = S0)"},
    [FH_SER_EPOT] = {"potential_energy", 0, "observables/potential_energy/value", FH_H5IO_F64,
                     FH_SHAPE_STATES, "eV", FH_HARTREE_EV, "adiabatic energies of all states"},
    [FH_SER_EKIN] = {"kinetic_energy", 0, "observables/kinetic_energy/value", FH_H5IO_F64,
                     FH_SHAPE_SCALAR, "eV", FH_HARTREE_EV, "nuclear kinetic energy"},
    [FH_SER_ETOT] = {"total_energy", 0, "observables/total_energy/value", FH_H5IO_F64,
                     FH_SHAPE_SCALAR, "eV", FH_HARTREE_EV,
                     "kinetic energy plus potential energy of the active state"},
    [FH_SER_POP] = {"populations", 0, "observables/populations/value", FH_H5IO_F64,
                    FH_SHAPE_STATES, NULL, 1.0, "electronic populations |c_i|^2"},
    [FH_SER_AMP] = {"amplitudes", 0, "observables/amplitudes/value", FH_H5IO_F64,
                    FH_SHAPE_STATES2, NULL, 1.0,
                    "complex electronic amplitudes c_i, last axis (real, imaginary)"},
    [FH_SER_SPREAD] = {"energy_spread", 0, "observables/energy_spread/value", FH_H5IO_F64,
                       FH_SHAPE_STATES, "eV", FH_HARTREE_EV,
                       "committee spread (standard deviation) of the state energies"},
};

const fh_h5md_series_def *fh_h5md_series_table(void) { return series; }

void fh_h5md_series_path(fh_h5md_series s, const char *group, char *buf, size_t size)
{
    if (series[s].in_particles)
        snprintf(buf, size, "/particles/%s/%s", group, series[s].path);
    else
        snprintf(buf, size, "/%s", series[s].path);
}

long fh_h5md_shape_row(fh_h5md_shape shape, int natoms, int nstates)
{
    switch (shape) {
    case FH_SHAPE_SCALAR: return 1;
    case FH_SHAPE_ATOMS3: return 3L * natoms;
    case FH_SHAPE_STATES: return nstates;
    case FH_SHAPE_STATES2: return 2L * nstates;
    }
    return 0;
}

static const fh_h5md_hop_def hops[FH_HOP_COUNT] = {
    [FH_HOP_STEP] = {"step", FH_H5IO_I64, NULL, 1.0},
    [FH_HOP_TIME] = {"time", FH_H5IO_F64, "fs", FH_AUTIME_FS},
    [FH_HOP_FROM] = {"from", FH_H5IO_I32, NULL, 1.0},
    [FH_HOP_TO] = {"to", FH_H5IO_I32, NULL, 1.0},
    [FH_HOP_FRUSTRATED] = {"frustrated", FH_H5IO_I32, NULL, 1.0},
    [FH_HOP_GAP] = {"energy_gap", FH_H5IO_F64, "eV", FH_HARTREE_EV},
};

const fh_h5md_hop_def *fh_h5md_hop_table(void) { return hops; }
