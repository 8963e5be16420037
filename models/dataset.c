/* The reference dataset file (see fh_dataset.h for the why, inputs/datasets/README.md for the
 * layout). Every row quantity is its own HDF5 dataset with the row as the first, unlimited and
 * chunked, dimension; appends go to a copy of the file that replaces the original atomically. */
#include "fh_dataset.h"
#include "fh_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <hdf5.h>

#include "fh_version.h"

#define CHUNK_ROWS 64

/* The row datasets: name, element type, what one row is made of, units. */
enum { K_F64, K_U8, K_I32, K_STR };
enum { SHAPE_ONE, SHAPE_ATOMS3, SHAPE_STATES, SHAPE_PAIRS, SHAPE_STATES_ATOMS3,
       SHAPE_PAIRS_ATOMS3 };

typedef struct {
    const char *name;
    int kind;
    int shape;
    size_t strlen_; /* K_STR: bytes per entry */
    const char *units;
} column;

enum { C_ID, C_ORIGIN, C_INFO, C_STATUS, C_WALL, C_POS, C_ENERGY, C_GRAD, C_NAC, C_NAC_CI,
       C_NAC_CSF, C_HAS_ENERGY, C_HAS_GRAD, C_HAS_NAC, C_HAS_NAC_PARTS, C_COUNT };

static const column columns[C_COUNT] = {
    [C_ID] = {"id", K_STR, SHAPE_ONE, FH_DATASET_ID_LEN, NULL},
    [C_ORIGIN] = {"origin", K_STR, SHAPE_ONE, FH_DATASET_ORIGIN_LEN, NULL},
    [C_INFO] = {"info", K_STR, SHAPE_ONE, FH_DATASET_INFO_LEN, NULL},
    [C_STATUS] = {"status", K_I32, SHAPE_ONE, 0, NULL},
    [C_WALL] = {"wall_s", K_F64, SHAPE_ONE, 0, "s"},
    [C_POS] = {"positions", K_F64, SHAPE_ATOMS3, 0, "angstrom"},
    [C_ENERGY] = {"energies", K_F64, SHAPE_STATES, 0, "hartree"},
    [C_GRAD] = {"gradients", K_F64, SHAPE_STATES_ATOMS3, 0, "hartree/bohr"},
    [C_NAC] = {"nacs", K_F64, SHAPE_PAIRS_ATOMS3, 0, "1/bohr"},
    [C_NAC_CI] = {"nacs_ci", K_F64, SHAPE_PAIRS_ATOMS3, 0, "hartree/bohr"},
    [C_NAC_CSF] = {"nacs_csf", K_F64, SHAPE_PAIRS_ATOMS3, 0, "1/bohr"},
    [C_HAS_ENERGY] = {"has_energies", K_U8, SHAPE_STATES, 0, NULL},
    [C_HAS_GRAD] = {"has_gradients", K_U8, SHAPE_STATES, 0, NULL},
    [C_HAS_NAC] = {"has_nacs", K_U8, SHAPE_PAIRS, 0, NULL},
    [C_HAS_NAC_PARTS] = {"has_nac_parts", K_U8, SHAPE_PAIRS, 0, NULL},
};

/* ---- small helpers ---------------------------------------------------------------------- */

/* HDF5 prints its error stack by default; a library must not print, so it is silenced while
 * this file works and restored afterwards. */
typedef struct {
    H5E_auto2_t func;
    void *data;
} quiet;

static void quiet_begin(quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void quiet_end(const quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

static int npairs_of(int nstates) { return nstates * (nstates - 1) / 2; }

/* Dimensions after the row dimension; returns their number. */
static int row_dims(int shape, int natoms, int nstates, hsize_t *d)
{
    int np = npairs_of(nstates);
    switch (shape) {
    case SHAPE_ATOMS3: d[0] = (hsize_t)natoms; d[1] = 3; return 2;
    case SHAPE_STATES: d[0] = (hsize_t)nstates; return 1;
    case SHAPE_PAIRS: d[0] = (hsize_t)np; return 1;
    case SHAPE_STATES_ATOMS3: d[0] = (hsize_t)nstates; d[1] = (hsize_t)natoms; d[2] = 3; return 3;
    case SHAPE_PAIRS_ATOMS3: d[0] = (hsize_t)np; d[1] = (hsize_t)natoms; d[2] = 3; return 3;
    default: return 0;
    }
}

static size_t row_elems(int shape, int natoms, int nstates)
{
    hsize_t d[3];
    int r = row_dims(shape, natoms, nstates, d);
    size_t e = 1;
    for (int k = 0; k < r; k++) e *= (size_t)d[k];
    return e;
}

/* Pair columns do not exist when there is a single state. */
static int column_exists(int c, int nstates)
{
    int s = columns[c].shape;
    return !(npairs_of(nstates) == 0 && (s == SHAPE_PAIRS || s == SHAPE_PAIRS_ATOMS3));
}

static size_t elem_size(int c)
{
    switch (columns[c].kind) {
    case K_F64: return sizeof(double);
    case K_U8: return 1;
    case K_I32: return sizeof(int);
    default: return columns[c].strlen_;
    }
}

static hid_t mem_type(int c)
{
    switch (columns[c].kind) {
    case K_F64: return H5Tcopy(H5T_NATIVE_DOUBLE);
    case K_U8: return H5Tcopy(H5T_NATIVE_UCHAR);
    case K_I32: return H5Tcopy(H5T_NATIVE_INT);
    default: {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, columns[c].strlen_);
        H5Tset_strpad(t, H5T_STR_NULLTERM);
        return t;
    }
    }
}

static hid_t file_type(int c)
{
    switch (columns[c].kind) {
    case K_F64: return H5Tcopy(H5T_IEEE_F64LE);
    case K_U8: return H5Tcopy(H5T_STD_U8LE);
    case K_I32: return H5Tcopy(H5T_STD_I32LE);
    default: return mem_type(c);
    }
}

static int write_str_attr(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(value) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = a < 0 ? -1 : H5Awrite(a, t, value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return st < 0 ? -1 : 0;
}

static int write_int_attr(hid_t obj, const char *name, int value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_INT, &value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return st < 0 ? -1 : 0;
}

static int read_int_attr(hid_t obj, const char *name, int *value)
{
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    herr_t st = H5Aread(a, H5T_NATIVE_INT, value);
    H5Aclose(a);
    return st < 0 ? -1 : 0;
}

static int read_str_attr(hid_t obj, const char *name, char *buf, size_t size)
{
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t ft = H5Aget_type(a);
    int ok = H5Tget_class(ft) == H5T_STRING && !H5Tis_variable_str(ft);
    size_t n = ok ? H5Tget_size(ft) : 0;
    int rc = -1;
    if (ok && n > 0) {
        char *tmp = calloc(n + 1, 1);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, n);
        if (tmp && H5Aread(a, mt, tmp) >= 0) {
            snprintf(buf, size, "%s", tmp);
            rc = 0;
        }
        H5Tclose(mt);
        free(tmp);
    }
    H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

/* ---- header ----------------------------------------------------------------------------- */

static int create_layout(hid_t f, int natoms, int nstates, const int *z, const char *level)
{
    if (write_str_attr(f, "format", FH_DATASET_FORMAT) || write_int_attr(f, "format_version",
        FH_DATASET_VERSION) || write_int_attr(f, "natoms", natoms) ||
        write_int_attr(f, "nstates", nstates) || write_int_attr(f, "npairs", npairs_of(nstates)) ||
        write_str_attr(f, "level_of_theory", level ? level : "") ||
        write_str_attr(f, "program", FH_PROGRAM " " FH_VERSION) ||
        write_str_attr(f, "nac_convention",
                       "nacs[i<j] = <psi_i|d psi_j/dR> (CI + CSF parts); nacs_ci = "
                       "<psi_i|dH/dR|psi_j>; nacs = nacs_ci/(E_j-E_i) + nacs_csf"))
        return -1;

    hsize_t dz = (hsize_t)natoms;
    hid_t sp = H5Screate_simple(1, &dz, NULL);
    hid_t ds = H5Dcreate2(f, "elements", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                          H5P_DEFAULT);
    herr_t st = ds < 0 ? -1 : H5Dwrite(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, z);
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(sp);
    if (st < 0) return -1;

    for (int c = 0; c < C_COUNT; c++) {
        if (!column_exists(c, nstates)) continue;
        hsize_t dims[4] = {0}, maxd[4], chunk[4];
        int r = 1 + row_dims(columns[c].shape, natoms, nstates, dims + 1);
        maxd[0] = H5S_UNLIMITED;
        chunk[0] = CHUNK_ROWS;
        for (int k = 1; k < r; k++) {
            maxd[k] = dims[k];
            chunk[k] = dims[k];
        }
        hid_t s = H5Screate_simple(r, dims, maxd);
        hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(pl, r, chunk);
        H5Pset_shuffle(pl);
        H5Pset_deflate(pl, 4);
        hid_t ft = file_type(c);
        hid_t d = H5Dcreate2(f, columns[c].name, ft, s, H5P_DEFAULT, pl, H5P_DEFAULT);
        int bad = d < 0;
        if (!bad && columns[c].units) bad = write_str_attr(d, "units", columns[c].units);
        if (d >= 0) H5Dclose(d);
        H5Tclose(ft);
        H5Pclose(pl);
        H5Sclose(s);
        if (bad) return -1;
    }
    return 0;
}

/* Checks that an open file is a dataset and fills info (rows counted from "id"). */
static int read_header(hid_t f, const char *path, fh_dataset_info *info, fh_err *err)
{
    char fmt[64] = "";
    int ver = 0;
    memset(info, 0, sizeof *info);
    if (read_str_attr(f, "format", fmt, sizeof fmt) || strcmp(fmt, FH_DATASET_FORMAT))
        return fh_err_set(err, FH_EINPUT, "%s: not a fusionhop dataset (no format attribute \"%s\")",
                          path, FH_DATASET_FORMAT);
    if (read_int_attr(f, "format_version", &ver) || ver < 1 || ver > FH_DATASET_VERSION)
        return fh_err_set(err, FH_EINPUT, "%s: unsupported dataset format version %d (this "
                          "program reads up to %d)", path, ver, FH_DATASET_VERSION);
    if (read_int_attr(f, "natoms", &info->natoms) || read_int_attr(f, "nstates", &info->nstates)
        || info->natoms < 1 || info->natoms > FH_DATASET_MAX_ATOMS || info->nstates < 1 ||
        info->nstates > FH_DATASET_MAX_STATES)
        return fh_err_set(err, FH_EINPUT, "%s: missing or invalid natoms/nstates attributes",
                          path);
    if (read_str_attr(f, "level_of_theory", info->level, sizeof info->level))
        info->level[0] = '\0';

    hid_t ds = H5Dopen2(f, "elements", H5P_DEFAULT);
    int bad = ds < 0;
    if (!bad) {
        hid_t sp = H5Dget_space(ds);
        hsize_t d = 0;
        bad = H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, &d, NULL) < 0 ||
              d != (hsize_t)info->natoms ||
              H5Dread(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, info->z) < 0;
        H5Sclose(sp);
        H5Dclose(ds);
    }
    if (bad) return fh_err_set(err, FH_EINPUT, "%s: missing or malformed 'elements'", path);
    for (int a = 0; a < info->natoms; a++)
        if (info->z[a] < 1 || info->z[a] > 118)
            return fh_err_set(err, FH_EINPUT, "%s: invalid atomic number %d in 'elements'", path,
                              info->z[a]);

    /* Every row column must exist with the expected shape and the same number of rows. */
    for (int c = 0; c < C_COUNT; c++) {
        if (!column_exists(c, info->nstates)) continue;
        hsize_t want[4], dims[4];
        int r = 1 + row_dims(columns[c].shape, info->natoms, info->nstates, want + 1);
        hid_t d = H5Dopen2(f, columns[c].name, H5P_DEFAULT);
        if (d < 0)
            return fh_err_set(err, FH_EINPUT, "%s: dataset '%s' is missing (truncated or corrupt "
                              "file?)", path, columns[c].name);
        hid_t sp = H5Dget_space(d);
        int rr = H5Sget_simple_extent_ndims(sp);
        int shape_ok = rr == r && H5Sget_simple_extent_dims(sp, dims, NULL) >= 0;
        for (int k = 1; shape_ok && k < r; k++) shape_ok = dims[k] == want[k];
        H5Sclose(sp);
        H5Dclose(d);
        if (!shape_ok)
            return fh_err_set(err, FH_EINPUT, "%s: dataset '%s' has the wrong shape", path,
                              columns[c].name);
        if (c == C_ID) info->n = (size_t)dims[0];
        else if ((size_t)dims[0] != info->n)
            return fh_err_set(err, FH_EINPUT, "%s: dataset '%s' has %zu rows but 'id' has %zu "
                              "(corrupt file)", path, columns[c].name, (size_t)dims[0], info->n);
    }
    return FH_OK;
}

static int open_file(const char *path, unsigned flags, hid_t *out, fh_err *err)
{
    if (access(path, F_OK) != 0)
        return fh_err_set(err, FH_EINPUT, "%s: %s", path, strerror(errno));
    if (H5Fis_hdf5(path) <= 0)
        return fh_err_set(err, FH_EINPUT, "%s: not an HDF5 file, or truncated/corrupt", path);
    hid_t f = H5Fopen(path, flags, H5P_DEFAULT);
    if (f < 0) return fh_err_set(err, FH_EINPUT, "%s: cannot open as HDF5 (corrupt?)", path);
    *out = f;
    return FH_OK;
}

int fh_dataset_read_info(const char *path, fh_dataset_info *info, fh_err *err)
{
    quiet q;
    quiet_begin(&q);
    hid_t f;
    int rc = open_file(path, H5F_ACC_RDONLY, &f, err);
    if (rc == FH_OK) {
        rc = read_header(f, path, info, err);
        H5Fclose(f);
    }
    quiet_end(&q);
    return rc;
}

/* ---- creating and appending ------------------------------------------------------------- */

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Exclusive advisory lock on PATH.lock so that several processes may append to one file. */
static int lock_take(const char *path, fh_err *err)
{
    char lp[4096];
    snprintf(lp, sizeof lp, "%s.lock", path);
    int fd = open(lp, O_CREAT | O_RDWR, 0644);
    if (fd < 0) return fh_err_set(err, FH_EFAIL, "%s: %s", lp, strerror(errno)), -1;
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            fh_err_set(err, FH_EFAIL, "%s: cannot lock: %s", lp, strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

static void lock_release(int fd)
{
    flock(fd, LOCK_UN);
    close(fd);
}

static void tmp_name(const char *path, char *buf, size_t size)
{
    snprintf(buf, size, "%s.tmp.%ld", path, (long)getpid());
}

/* Copies named PATH.tmp.* exist only while their writer holds the lock; one found by the lock
 * holder was left by a writer that was killed, and is removed. */
static void remove_stale_tmps(const char *path)
{
    char dir[4096], prefix[1024];
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else snprintf(dir, sizeof dir, ".");
    if (!dir[0]) snprintf(dir, sizeof dir, "/");
    snprintf(prefix, sizeof prefix, "%s.tmp.", slash ? slash + 1 : path);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    size_t pl = strlen(prefix);
    char full[8192];
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, prefix, pl)) {
            snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
            unlink(full);
        }
    closedir(d);
}

int fh_dataset_create(const char *path, int natoms, int nstates, const int *z, const char *level,
                      int overwrite, fh_err *err)
{
    if (natoms < 1 || natoms > FH_DATASET_MAX_ATOMS || nstates < 1 ||
        nstates > FH_DATASET_MAX_STATES || !z)
        return fh_err_set(err, FH_EINPUT, "%s: invalid dataset size (natoms %d, nstates %d)",
                          path, natoms, nstates);
    if (!overwrite && access(path, F_OK) == 0)
        return fh_err_set(err, FH_EINPUT, "%s: exists already", path);
    char tmp[4096];
    tmp_name(path, tmp, sizeof tmp);
    quiet q;
    quiet_begin(&q);
    /* Free space tracked across opens: every append rewrites the last (compressed) chunk of each
     * dataset, and without persistent tracking the old chunk's space leaks (13x the data). */
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_file_space_strategy(fcpl, H5F_FSPACE_STRATEGY_FSM_AGGR, 1, 1);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    H5Pclose(fcpl);
    int rc = FH_OK;
    if (f < 0) rc = fh_err_set(err, FH_EFAIL, "%s: cannot create HDF5 file", tmp);
    else {
        if (create_layout(f, natoms, nstates, z, level))
            rc = fh_err_set(err, FH_EFAIL, "%s: cannot write the dataset layout", tmp);
        if (H5Fclose(f) < 0 && rc == FH_OK) rc = fh_err_set(err, FH_EFAIL, "%s: close failed", tmp);
    }
    quiet_end(&q);
    if (rc == FH_OK && (fsync_path(tmp) || rename(tmp, path)))
        rc = fh_err_set(err, FH_EFAIL, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (rc != FH_OK) unlink(tmp);
    return rc;
}

int fh_dataset_open_or_create(const char *path, int natoms, int nstates, const int *z,
                              const char *level, fh_err *err)
{
    if (access(path, F_OK) != 0) return fh_dataset_create(path, natoms, nstates, z, level, 0, err);
    fh_dataset_info info;
    int rc = fh_dataset_read_info(path, &info, err);
    if (rc) return rc;
    if (info.natoms != natoms || info.nstates != nstates)
        return fh_err_set(err, FH_EINPUT, "%s: holds %d atoms and %d states, expected %d and %d",
                          path, info.natoms, info.nstates, natoms, nstates);
    for (int a = 0; a < natoms; a++)
        if (info.z[a] != z[a])
            return fh_err_set(err, FH_EINPUT, "%s: atom %d is Z=%d in the file, expected Z=%d",
                              path, a + 1, info.z[a], z[a]);
    if (level && strcmp(level, info.level))
        return fh_err_set(err, FH_EINPUT, "%s: level of theory is \"%s\", expected \"%s\"", path,
                          info.level, level);
    return FH_OK;
}

/* Fills the buffer of column c for nrec records (NaN/zero where absent). */
static void fill_column(int c, const fh_dataset_record *rec, size_t nrec, int natoms, int nstates,
                        void *buf)
{
    size_t e = row_elems(columns[c].shape, natoms, nstates);
    size_t ne3 = (size_t)natoms * 3;
    for (size_t r = 0; r < nrec; r++) {
        const fh_dataset_record *R = rec + r;
        if (columns[c].kind == K_STR) {
            char *s = (char *)buf + r * columns[c].strlen_;
            const char *v = c == C_ID ? R->id : c == C_ORIGIN ? R->origin : R->info;
            memset(s, 0, columns[c].strlen_);
            if (v) snprintf(s, columns[c].strlen_, "%s", v);
            continue;
        }
        if (c == C_STATUS) {
            ((int *)buf)[r] = R->status;
            continue;
        }
        if (c == C_WALL) {
            ((double *)buf)[r] = R->wall_s;
            continue;
        }
        if (columns[c].kind == K_U8) {
            unsigned char *m = (unsigned char *)buf + r * e;
            const double *data = c == C_HAS_ENERGY ? R->energy : c == C_HAS_GRAD ? R->grad
                                 : c == C_HAS_NAC ? R->nac : R->nac_ci;
            const unsigned char *mask = c == C_HAS_ENERGY ? R->has_energy
                                        : c == C_HAS_GRAD ? R->has_grad
                                        : c == C_HAS_NAC ? R->has_nac : R->has_nac_parts;
            if (c == C_HAS_NAC_PARTS && !R->nac_csf) data = NULL;
            for (size_t k = 0; k < e; k++) m[k] = data && (!mask || mask[k]) ? 1 : 0;
            continue;
        }
        /* doubles, possibly per state/pair blocks with masks */
        double *out = (double *)buf + r * e;
        const double *data = NULL;
        const unsigned char *mask = NULL;
        size_t block = e; /* elements per mask entry */
        switch (c) {
        case C_POS: data = R->pos; break;
        case C_ENERGY: data = R->energy; mask = R->has_energy; block = 1; break;
        case C_GRAD: data = R->grad; mask = R->has_grad; block = ne3; break;
        case C_NAC: data = R->nac; mask = R->has_nac; block = ne3; break;
        case C_NAC_CI: data = R->nac_csf ? R->nac_ci : NULL; mask = R->has_nac_parts; block = ne3;
            break;
        case C_NAC_CSF: data = R->nac_ci ? R->nac_csf : NULL; mask = R->has_nac_parts;
            block = ne3; break;
        default: break;
        }
        for (size_t k = 0; k < e; k++)
            out[k] = data && (!mask || mask[k / block]) ? data[k] : NAN;
    }
}

/* Reads (write = 0) or writes rows [first, first + n) of column c, open as d, from or into buf;
 * the one place that selects rows of a column. */
static int transfer_rows(hid_t d, int c, size_t first, size_t n, void *buf, int write)
{
    hid_t sp = H5Dget_space(d);
    hsize_t dims[4], start[4] = {0}, count[4];
    int r = H5Sget_simple_extent_ndims(sp);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    start[0] = first;
    count[0] = n;
    for (int k = 1; k < r; k++) count[k] = dims[k];
    H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t ms = H5Screate_simple(r, count, NULL);
    hid_t mt = mem_type(c);
    herr_t e = write ? H5Dwrite(d, mt, ms, sp, H5P_DEFAULT, buf)
                     : H5Dread(d, mt, ms, sp, H5P_DEFAULT, buf);
    H5Tclose(mt);
    H5Sclose(ms);
    H5Sclose(sp);
    return e < 0 ? -1 : 0;
}

static int append_column(hid_t f, int c, const void *buf, size_t nrec)
{
    hid_t d = H5Dopen2(f, columns[c].name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t sp = H5Dget_space(d);
    hsize_t dims[4];
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    hsize_t n0 = dims[0];
    dims[0] = n0 + nrec;
    int rc = H5Dset_extent(d, dims) < 0 ? -1 : 0;
    if (rc == 0) rc = transfer_rows(d, c, (size_t)n0, nrec, (void *)buf, 1);
    H5Dclose(d);
    return rc;
}

static int read_column(hid_t f, int c, void *buf, size_t first, size_t count_rows)
{
    if (count_rows == 0) return 0;
    hid_t d = H5Dopen2(f, columns[c].name, H5P_DEFAULT);
    if (d < 0) return -1;
    int rc = transfer_rows(d, c, first, count_rows, buf, 0);
    H5Dclose(d);
    return rc;
}

/* Checks the records themselves and that no OK id is repeated (in the file or among them). */
static int check_records(hid_t f, const char *path, const fh_dataset_info *info,
                         const fh_dataset_record *rec, size_t nrec, fh_err *err)
{
    for (size_t r = 0; r < nrec; r++) {
        if (!rec[r].id || !rec[r].id[0] || strlen(rec[r].id) >= FH_DATASET_ID_LEN)
            return fh_err_set(err, FH_EINPUT, "%s: record %zu: id missing or longer than %d "
                              "bytes", path, r, FH_DATASET_ID_LEN - 1);
        if (rec[r].origin && strlen(rec[r].origin) >= FH_DATASET_ORIGIN_LEN)
            return fh_err_set(err, FH_EINPUT, "%s: record %s: origin longer than %d bytes", path,
                              rec[r].id, FH_DATASET_ORIGIN_LEN - 1);
        if (!rec[r].pos)
            return fh_err_set(err, FH_EINPUT, "%s: record %s: positions missing", path,
                              rec[r].id);
        if (rec[r].status != FH_DATASET_OK && rec[r].status != FH_DATASET_FAILED)
            return fh_err_set(err, FH_EINPUT, "%s: record %s: invalid status %d", path,
                              rec[r].id, rec[r].status);
    }
    size_t n = info->n;
    char (*ids)[FH_DATASET_ID_LEN] = n ? malloc(n * FH_DATASET_ID_LEN) : NULL;
    int *st = n ? malloc(n * sizeof *st) : NULL;
    int rc = FH_OK;
    if (n && (!ids || !st)) rc = fh_err_set(err, FH_EFAIL, "out of memory");
    else if (n && (read_column(f, C_ID, ids, 0, n) || read_column(f, C_STATUS, st, 0, n)))
        rc = fh_err_set(err, FH_EINPUT, "%s: cannot read ids (corrupt file?)", path);
    for (size_t r = 0; rc == FH_OK && r < nrec; r++) {
        if (rec[r].status != FH_DATASET_OK) continue;
        for (size_t k = 0; rc == FH_OK && k < n; k++)
            if (st[k] == FH_DATASET_OK && !strcmp(ids[k], rec[r].id))
                rc = fh_err_set(err, FH_EINPUT, "%s: id \"%s\" is already in the dataset", path,
                                rec[r].id);
        for (size_t k = 0; rc == FH_OK && k < r; k++)
            if (rec[k].status == FH_DATASET_OK && !strcmp(rec[k].id, rec[r].id))
                rc = fh_err_set(err, FH_EINPUT, "%s: id \"%s\" appears twice", path, rec[r].id);
    }
    free(ids);
    free(st);
    return rc;
}

/* Runs `edit` on a copy of the file and replaces the original with it, under the lock: the
 * one way the file is ever changed (see the kill-safety note in fh_dataset.h). */
typedef int (*edit_fn)(hid_t f, const char *path, const fh_dataset_info *info, void *ctx,
                       fh_err *err);

static int transact(const char *path, edit_fn edit, void *ctx, fh_err *err)
{
    int lock = lock_take(path, err);
    if (lock < 0) return err ? err->code : FH_EFAIL;
    char tmp[4096];
    tmp_name(path, tmp, sizeof tmp);
    remove_stale_tmps(path);
    int rc = FH_OK;
    if (access(path, F_OK) != 0)
        rc = fh_err_set(err, FH_EINPUT, "%s: %s (create the dataset first)", path,
                        strerror(errno));
    else if (fh_file_copy(path, tmp))
        rc = fh_err_set(err, FH_EFAIL, "%s: cannot copy to %s: %s", path, tmp, strerror(errno));
    if (rc) {
        lock_release(lock);
        return rc;
    }
    quiet q;
    quiet_begin(&q);
    hid_t f;
    fh_dataset_info info;
    rc = open_file(tmp, H5F_ACC_RDWR, &f, err);
    if (rc == FH_OK) {
        rc = read_header(f, path, &info, err);
        if (rc == FH_OK) rc = edit(f, path, &info, ctx, err);
        if (H5Fclose(f) < 0 && rc == FH_OK) rc = fh_err_set(err, FH_EFAIL, "%s: close failed", tmp);
    }
    quiet_end(&q);
    if (rc == FH_OK && (fsync_path(tmp) || rename(tmp, path)))
        rc = fh_err_set(err, FH_EFAIL, "%s: cannot replace %s: %s", tmp, path, strerror(errno));
    if (rc != FH_OK) unlink(tmp);
    lock_release(lock);
    return rc;
}

typedef struct {
    const fh_dataset_record *rec;
    size_t nrec;
} append_ctx;

static int append_edit(hid_t f, const char *path, const fh_dataset_info *info, void *ctx,
                       fh_err *err)
{
    const append_ctx *a = ctx;
    int rc = check_records(f, path, info, a->rec, a->nrec, err);
    if (rc) return rc;
    size_t maxe = row_elems(SHAPE_PAIRS_ATOMS3, info->natoms, info->nstates);
    size_t m2 = row_elems(SHAPE_STATES_ATOMS3, info->natoms, info->nstates);
    if (m2 > maxe) maxe = m2;
    if (maxe < FH_DATASET_INFO_LEN) maxe = FH_DATASET_INFO_LEN;
    void *buf = malloc(a->nrec * maxe * sizeof(double));
    if (!buf) return fh_err_set(err, FH_EFAIL, "out of memory");
    /* "id" last: a reader counts rows by it. */
    for (int c = C_COUNT - 1; rc == FH_OK && c >= 0; c--) {
        if (!column_exists(c, info->nstates)) continue;
        fill_column(c, a->rec, a->nrec, info->natoms, info->nstates, buf);
        if (append_column(f, c, buf, a->nrec))
            rc = fh_err_set(err, FH_EFAIL, "%s: cannot append to '%s'", path, columns[c].name);
    }
    free(buf);
    return rc;
}

int fh_dataset_append(const char *path, const fh_dataset_record *rec, size_t nrec, fh_err *err)
{
    if (nrec == 0) return FH_OK;
    append_ctx a = {rec, nrec};
    return transact(path, append_edit, &a, err);
}

/* Overwrites row `row` of column c with buf (one row's worth). */
static int write_row(hid_t f, int c, size_t row, const void *buf)
{
    hid_t d = H5Dopen2(f, columns[c].name, H5P_DEFAULT);
    if (d < 0) return -1;
    int rc = transfer_rows(d, c, row, 1, (void *)buf, 1);
    H5Dclose(d);
    return rc;
}

typedef struct {
    const char *id, *note;
    size_t marked;
} mark_ctx;

static int mark_edit(hid_t f, const char *path, const fh_dataset_info *info, void *ctx,
                     fh_err *err)
{
    mark_ctx *m = ctx;
    size_t n = info->n;
    if (n == 0) return FH_OK;
    char (*ids)[FH_DATASET_ID_LEN] = malloc(n * FH_DATASET_ID_LEN);
    int *st = malloc(n * sizeof *st);
    int rc = FH_OK;
    if (!ids || !st) rc = fh_err_set(err, FH_EFAIL, "out of memory");
    else if (read_column(f, C_ID, ids, 0, n) || read_column(f, C_STATUS, st, 0, n))
        rc = fh_err_set(err, FH_EINPUT, "%s: cannot read ids (corrupt file?)", path);
    unsigned char zeros[FH_DATASET_MAX_STATES * FH_DATASET_MAX_STATES] = {0};
    char note[FH_DATASET_INFO_LEN] = {0};
    snprintf(note, sizeof note, "%s", m->note ? m->note : "");
    int failed = FH_DATASET_FAILED;
    for (size_t r = 0; rc == FH_OK && r < n; r++) {
        if (st[r] != FH_DATASET_OK || strcmp(ids[r], m->id)) continue;
        int bad = write_row(f, C_STATUS, r, &failed) || write_row(f, C_INFO, r, note) ||
                  write_row(f, C_HAS_ENERGY, r, zeros) || write_row(f, C_HAS_GRAD, r, zeros);
        if (!bad && column_exists(C_HAS_NAC, info->nstates))
            bad = write_row(f, C_HAS_NAC, r, zeros) || write_row(f, C_HAS_NAC_PARTS, r, zeros);
        if (bad) rc = fh_err_set(err, FH_EFAIL, "%s: cannot rewrite row %zu", path, r);
        m->marked++;
    }
    free(ids);
    free(st);
    return rc;
}

int fh_dataset_mark_failed(const char *path, const char *id, const char *note, size_t *marked,
                           fh_err *err)
{
    if (marked) *marked = 0;
    if (!id || !id[0]) return fh_err_set(err, FH_EINPUT, "%s: no id given", path);
    mark_ctx m = {id, note, 0};
    int rc = transact(path, mark_edit, &m, err);
    if (rc == FH_OK && marked) *marked = m.marked;
    return rc;
}

/* ---- reading ---------------------------------------------------------------------------- */

void fh_dataset_free(fh_dataset *d)
{
    if (!d) return;
    free(d->z);
    free(d->pos);
    free(d->energy);
    free(d->grad);
    free(d->nac);
    free(d->nac_ci);
    free(d->nac_csf);
    free(d->has_energy);
    free(d->has_grad);
    free(d->has_nac);
    free(d->has_nac_parts);
    free(d->status);
    free(d->wall_s);
    free(d->id);
    free(d->origin);
    free(d->info);
    free(d);
}

static void **column_ptr(fh_dataset *d, int c)
{
    switch (c) {
    case C_ID: return (void **)&d->id;
    case C_ORIGIN: return (void **)&d->origin;
    case C_INFO: return (void **)&d->info;
    case C_STATUS: return (void **)&d->status;
    case C_WALL: return (void **)&d->wall_s;
    case C_POS: return (void **)&d->pos;
    case C_ENERGY: return (void **)&d->energy;
    case C_GRAD: return (void **)&d->grad;
    case C_NAC: return (void **)&d->nac;
    case C_NAC_CI: return (void **)&d->nac_ci;
    case C_NAC_CSF: return (void **)&d->nac_csf;
    case C_HAS_ENERGY: return (void **)&d->has_energy;
    case C_HAS_GRAD: return (void **)&d->has_grad;
    case C_HAS_NAC: return (void **)&d->has_nac;
    default: return (void **)&d->has_nac_parts;
    }
}

int fh_dataset_read_rows(const char *path, size_t first, size_t count, fh_dataset **out,
                         fh_err *err)
{
    *out = NULL;
    quiet q;
    quiet_begin(&q);
    hid_t f;
    fh_dataset_info info;
    int rc = open_file(path, H5F_ACC_RDONLY, &f, err);
    if (rc) {
        quiet_end(&q);
        return rc;
    }
    rc = read_header(f, path, &info, err);
    if (rc == FH_OK && (first > info.n || count > info.n - first))
        rc = fh_err_set(err, FH_EINPUT, "%s: rows %zu..%zu requested, the file has %zu", path,
                        first, first + count, info.n);
    fh_dataset *d = rc == FH_OK ? calloc(1, sizeof *d) : NULL;
    if (rc == FH_OK && !d) rc = fh_err_set(err, FH_EFAIL, "out of memory");
    if (rc == FH_OK) {
        d->natoms = info.natoms;
        d->nstates = info.nstates;
        d->npairs = npairs_of(info.nstates);
        d->n = count;
        d->first = first;
        snprintf(d->level, sizeof d->level, "%s", info.level);
        d->z = malloc((size_t)info.natoms * sizeof *d->z);
        if (!d->z) rc = fh_err_set(err, FH_EFAIL, "out of memory");
        else memcpy(d->z, info.z, (size_t)info.natoms * sizeof *d->z);
    }
    for (int c = 0; rc == FH_OK && c < C_COUNT; c++) {
        if (!column_exists(c, info.nstates)) continue;
        size_t bytes = count * row_elems(columns[c].shape, info.natoms, info.nstates) *
                       elem_size(c);
        void **p = column_ptr(d, c);
        *p = malloc(bytes ? bytes : 1);
        if (!*p) rc = fh_err_set(err, FH_EFAIL, "out of memory");
        else if (read_column(f, c, *p, first, count))
            rc = fh_err_set(err, FH_EINPUT, "%s: cannot read '%s' (corrupt file?)", path,
                            columns[c].name);
    }
    H5Fclose(f);
    quiet_end(&q);
    if (rc) {
        fh_dataset_free(d);
        return rc;
    }
    /* Strings are stored NUL-terminated, but a foreign writer might fill every byte. */
    for (size_t r = 0; r < count; r++) {
        d->id[r][FH_DATASET_ID_LEN - 1] = '\0';
        d->origin[r][FH_DATASET_ORIGIN_LEN - 1] = '\0';
        d->info[r][FH_DATASET_INFO_LEN - 1] = '\0';
    }
    *out = d;
    return FH_OK;
}

int fh_dataset_read(const char *path, fh_dataset **out, fh_err *err)
{
    fh_dataset_info info;
    *out = NULL;
    int rc = fh_dataset_read_info(path, &info, err);
    if (rc) return rc;
    return fh_dataset_read_rows(path, 0, info.n, out, err);
}

long fh_dataset_find(const fh_dataset *d, const char *id, int status)
{
    for (size_t r = 0; r < d->n; r++)
        if ((status < 0 || d->status[r] == status) && !strcmp(d->id[r], id)) return (long)r;
    return -1;
}

size_t fh_dataset_count_ok(const fh_dataset *d)
{
    size_t n = 0;
    for (size_t r = 0; r < d->n; r++) n += d->status[r] == FH_DATASET_OK;
    return n;
}
