/* ensemble.h5: the index of an output directory (layout in fh_h5md.h). It is written once at the
 * start of a run with every record allocated (contiguous, fixed-size), so the runner's updates as
 * trajectories start and finish are in-place overwrites followed by a flush: a kill at any moment
 * leaves an index that opens. External links let h5py users browse every trajectory from here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fh_file.h"
#include "fh_h5md.h"
#include "fh_units.h"
#include "fh_version.h"
#include "h5md_io.h"

struct fh_ens {
    char *dir;
    char *path;
    hid_t file;
    int writable;
    long ntraj;
    uint64_t seed;
    char *deck;
    hid_t d_status, d_reason, d_nsteps, d_time;
    fh_ens_record *rec;
};

int fh_ens_traj_path(const char *outdir, long index, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/%s/traj_%06ld.h5", outdir, FH_ENS_TRAJ_DIR, index);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static fh_ens *ens_new(const char *outdir)
{
    fh_ens *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->file = e->d_status = e->d_reason = e->d_nsteps = e->d_time = -1;
    e->dir = strdup(outdir);
    size_t n = strlen(outdir) + sizeof(FH_ENS_FILE) + 2;
    e->path = malloc(n);
    if (!e->dir || !e->path) {
        free(e->dir);
        free(e->path);
        free(e);
        return NULL;
    }
    snprintf(e->path, n, "%s/%s", outdir, FH_ENS_FILE);
    return e;
}

static void ens_free(fh_ens *e)
{
    if (!e) return;
    hid_t d[4] = {e->d_status, e->d_reason, e->d_nsteps, e->d_time};
    for (int i = 0; i < 4; i++)
        if (d[i] >= 0) H5Dclose(d[i]);
    if (e->file >= 0) H5Fclose(e->file);
    free(e->rec);
    free(e->deck);
    free(e->dir);
    free(e->path);
    free(e);
}

/* A fixed-size, fully allocated 1-D dataset of n elements of file type ftype. */
static hid_t fixed_dataset(hid_t loc, const char *name, hid_t ftype, long n)
{
    hsize_t dim = (hsize_t)n;
    hid_t space = H5Screate_simple(1, &dim, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t d = -1;
    if (space >= 0 && dcpl >= 0 && H5Pset_layout(dcpl, H5D_CONTIGUOUS) >= 0 &&
        H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0)
        d = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return d;
}

/* Write elements [first, first+count) of a 1-D dataset. */
static int write_elems(hid_t d, hid_t mtype, long first, long count, const void *buf)
{
    hid_t fs = H5Dget_space(d);
    hsize_t start = (hsize_t)first, cnt = (hsize_t)count;
    hid_t ms = H5Screate_simple(1, &cnt, NULL);
    int rc = -1;
    if (fs >= 0 && ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &cnt, NULL) >= 0 &&
        H5Dwrite(d, mtype, ms, fs, H5P_DEFAULT, buf) >= 0)
        rc = 0;
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    return rc;
}

static int read_all(hid_t d, hid_t mtype, long n, void *buf)
{
    hid_t fs = H5Dget_space(d);
    hssize_t np = fs >= 0 ? H5Sget_simple_extent_npoints(fs) : -1;
    if (fs >= 0) H5Sclose(fs);
    if (np != n) return -1;
    return H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0 ? -1 : 0;
}

static int create_layout(fh_ens *e, const char *deck_text)
{
    int rc = 0;
    hid_t g = fh_h5io_group_path(e->file, "parameters");
    if (g < 0) return -1;
    int64_t n = e->ntraj;
    rc |= fh_h5io_dset_text(g, "deck", deck_text ? deck_text : "");
    rc |= fh_h5io_attr_str(g, "program", FH_PROGRAM);
    rc |= fh_h5io_attr_str(g, "version", FH_VERSION);
    rc |= fh_h5io_attr_u64(g, "seed", e->seed);
    rc |= fh_h5io_attr_i64(g, "ntraj", &n, 0);
    H5Gclose(g);
    if (rc) return -1;

    g = fh_h5io_group_path(e->file, "trajectories");
    if (g < 0) return -1;
    hid_t tstat = fh_h5io_fixstr_type(FH_H5MD_STATUS_SIZE);
    hid_t treas = fh_h5io_fixstr_type(FH_H5MD_REASON_MAX);
    hid_t d_index = fixed_dataset(g, "index", H5T_STD_I64LE, e->ntraj);
    e->d_status = fixed_dataset(g, "status", tstat, e->ntraj);
    e->d_reason = fixed_dataset(g, "stop_reason", treas, e->ntraj);
    e->d_nsteps = fixed_dataset(g, "nsteps", H5T_STD_I64LE, e->ntraj);
    e->d_time = fixed_dataset(g, "final_time", H5T_IEEE_F64LE, e->ntraj);
    if (d_index < 0 || e->d_status < 0 || e->d_reason < 0 || e->d_nsteps < 0 || e->d_time < 0 ||
        fh_h5io_attr_str(e->d_time, "unit", "fs") < 0)
        rc = -1;
    /* Initial records: pending, written in slices to bound memory. */
    const long slice = 4096;
    int64_t *iv = malloc(sizeof *iv * slice);
    char *sv = calloc((size_t)slice, FH_H5MD_STATUS_SIZE);
    char *rv = calloc((size_t)slice, FH_H5MD_REASON_MAX);
    double *tv = calloc((size_t)slice, sizeof *tv);
    int64_t *zv = calloc((size_t)slice, sizeof *zv);
    if (!iv || !sv || !rv || !tv || !zv) rc = -1;
    for (long k = 0; k < slice && !rc; k++) strcpy(sv + k * FH_H5MD_STATUS_SIZE, "pending");
    for (long first = 0; first < e->ntraj && !rc; first += slice) {
        long cnt = e->ntraj - first < slice ? e->ntraj - first : slice;
        for (long k = 0; k < cnt; k++) iv[k] = first + k;
        if (write_elems(d_index, H5T_NATIVE_INT64, first, cnt, iv) < 0 ||
            write_elems(e->d_status, tstat, first, cnt, sv) < 0 ||
            write_elems(e->d_reason, treas, first, cnt, rv) < 0 ||
            write_elems(e->d_nsteps, H5T_NATIVE_INT64, first, cnt, zv) < 0 ||
            write_elems(e->d_time, H5T_NATIVE_DOUBLE, first, cnt, tv) < 0)
            rc = -1;
    }
    free(iv);
    free(sv);
    free(rv);
    free(tv);
    free(zv);
    if (d_index >= 0) H5Dclose(d_index);
    if (tstat >= 0) H5Tclose(tstat);
    if (treas >= 0) H5Tclose(treas);
    H5Gclose(g);
    if (rc) return -1;

    /* External links, relative to the directory of ensemble.h5 (HDF5 resolves them there). */
    g = fh_h5io_group_path(e->file, "traj");
    if (g < 0) return -1;
    for (long k = 0; k < e->ntraj && !rc; k++) {
        char target[64], name[32];
        snprintf(target, sizeof target, "%s/traj_%06ld.h5", FH_ENS_TRAJ_DIR, k);
        snprintf(name, sizeof name, "traj_%06ld", k);
        if (H5Lcreate_external(target, "/", g, name, H5P_DEFAULT, H5P_DEFAULT) < 0) rc = -1;
    }
    H5Gclose(g);
    return rc;
}

int fh_ens_create(const char *outdir, long ntraj, const char *deck_text, uint64_t seed, int force,
                  fh_ens **out, fh_err *err)
{
    *out = NULL;
    if (ntraj < 1) return fh_err_set(err, FH_EINPUT, "%s: ntraj must be >= 1", outdir);
    fh_ens *e = ens_new(outdir);
    if (!e) return fh_err_set(err, FH_EFAIL, "%s: out of memory", outdir);
    e->ntraj = ntraj;
    e->seed = seed;
    e->writable = 1;
    int rc = FH_OK;
    char trajdir[4096];
    snprintf(trajdir, sizeof trajdir, "%s/%s", outdir, FH_ENS_TRAJ_DIR);
    if (fh_file_mkdirs(outdir) < 0 || fh_file_mkdirs(trajdir) < 0)
        rc = fh_err_set(err, FH_EFAIL, "%s: cannot create directory (%s)", trajdir, strerror(errno));
    else if (!force && access(e->path, F_OK) == 0)
        rc = fh_err_set(err, FH_EINPUT,
                        "%s: file exists; refusing to overwrite it (use --force, or resume the run)",
                        e->path);
    e->deck = strdup(deck_text ? deck_text : "");
    e->rec = calloc((size_t)ntraj, sizeof *e->rec);
    if (!rc && (!e->deck || !e->rec)) rc = fh_err_set(err, FH_EFAIL, "%s: out of memory", e->path);
    for (long k = 0; k < ntraj && !rc; k++) {
        e->rec[k].index = k;
        e->rec[k].status = FH_TRAJ_PENDING;
    }
    if (rc) {
        ens_free(e);
        return rc;
    }
    fh_h5io_quiet q;
    fh_h5io_quiet_begin(&q);
    e->file = H5Fcreate(e->path, force ? H5F_ACC_TRUNC : H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (e->file < 0)
        rc = fh_err_set(err, FH_EFAIL, "%s: cannot create file", e->path);
    else if (create_layout(e, deck_text) < 0 || H5Fflush(e->file, H5F_SCOPE_GLOBAL) < 0)
        rc = fh_err_set(err, FH_EFAIL, "%s: cannot write the ensemble index", e->path);
    fh_h5io_quiet_end(&q);
    if (rc) {
        ens_free(e);
        return rc;
    }
    *out = e;
    return FH_OK;
}

/* Read every record into memory. */
static int load(fh_ens *e)
{
    hid_t g = H5Gopen2(e->file, "parameters", H5P_DEFAULT);
    if (g < 0) return -1;
    int64_t n = 0;
    int rc = fh_h5io_read_attr_i64(g, "ntraj", &n, 0);
    if (!rc) rc = fh_h5io_read_attr_u64(g, "seed", &e->seed);
    e->deck = fh_h5io_read_dset_text(g, "deck");
    H5Gclose(g);
    if (rc || !e->deck || n < 1) return -1;
    e->ntraj = (long)n;

    g = H5Gopen2(e->file, "trajectories", H5P_DEFAULT);
    if (g < 0) return -1;
    e->d_status = H5Dopen2(g, "status", H5P_DEFAULT);
    e->d_reason = H5Dopen2(g, "stop_reason", H5P_DEFAULT);
    e->d_nsteps = H5Dopen2(g, "nsteps", H5P_DEFAULT);
    e->d_time = H5Dopen2(g, "final_time", H5P_DEFAULT);
    hid_t d_index = H5Dopen2(g, "index", H5P_DEFAULT);
    H5Gclose(g);
    e->rec = calloc((size_t)n, sizeof *e->rec);
    int64_t *iv = malloc(sizeof *iv * (size_t)n), *sv = malloc(sizeof *sv * (size_t)n);
    double *tv = malloc(sizeof *tv * (size_t)n);
    char *st = malloc((size_t)n * FH_H5MD_STATUS_SIZE), *rs = malloc((size_t)n * FH_H5MD_REASON_MAX);
    hid_t tstat = fh_h5io_fixstr_type(FH_H5MD_STATUS_SIZE);
    hid_t treas = fh_h5io_fixstr_type(FH_H5MD_REASON_MAX);
    rc = e->rec && iv && sv && tv && st && rs && d_index >= 0 && e->d_status >= 0 &&
                 e->d_reason >= 0 && e->d_nsteps >= 0 && e->d_time >= 0
             ? 0 : -1;
    if (!rc &&
        (read_all(d_index, H5T_NATIVE_INT64, e->ntraj, iv) < 0 ||
         read_all(e->d_status, tstat, e->ntraj, st) < 0 ||
         read_all(e->d_reason, treas, e->ntraj, rs) < 0 ||
         read_all(e->d_nsteps, H5T_NATIVE_INT64, e->ntraj, sv) < 0 ||
         read_all(e->d_time, H5T_NATIVE_DOUBLE, e->ntraj, tv) < 0))
        rc = -1;
    for (long k = 0; k < e->ntraj && !rc; k++) {
        fh_ens_record *r = &e->rec[k];
        r->index = (long)iv[k];
        char *s = st + k * FH_H5MD_STATUS_SIZE;
        s[FH_H5MD_STATUS_SIZE - 1] = '\0';
        if (fh_traj_status_parse(s, &r->status) < 0) r->status = FH_TRAJ_PENDING;
        char *reason = rs + k * FH_H5MD_REASON_MAX;
        reason[FH_H5MD_REASON_MAX - 1] = '\0';
        snprintf(r->reason, sizeof r->reason, "%s", reason);
        r->nsteps = (long)sv[k];
        r->final_time = tv[k] * FH_FS_AUTIME;
    }
    if (d_index >= 0) H5Dclose(d_index);
    if (tstat >= 0) H5Tclose(tstat);
    if (treas >= 0) H5Tclose(treas);
    free(iv);
    free(sv);
    free(tv);
    free(st);
    free(rs);
    return rc;
}

int fh_ens_open(const char *outdir, int writable, fh_ens **out, fh_err *err)
{
    *out = NULL;
    fh_ens *e = ens_new(outdir);
    if (!e) return fh_err_set(err, FH_EFAIL, "%s: out of memory", outdir);
    e->writable = writable ? 1 : 0;
    int rc = FH_OK;
    fh_h5io_quiet q;
    fh_h5io_quiet_begin(&q);
    if (access(e->path, F_OK) != 0)
        rc = fh_err_set(err, FH_EINPUT, "%s: no such file", e->path);
    else if ((e->file = H5Fopen(e->path, writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        rc = fh_err_set(err, FH_EINPUT, "%s: cannot open (%s)", e->path,
                        fh_file_is_hdf5(e->path) ? "locked by a running job, or damaged"
                                                 : "not an HDF5 file");
    else if (writable && fh_h5io_repair_eoa(e->file, e->path) < 0)
        rc = fh_err_set(err, FH_EFAIL, "%s: cannot repair the end of allocated space", e->path);
    else if (load(e) < 0)
        rc = fh_err_set(err, FH_EINPUT, "%s: not a fusionhop ensemble index", e->path);
    fh_h5io_quiet_end(&q);
    if (rc) {
        ens_free(e);
        return rc;
    }
    *out = e;
    return FH_OK;
}

long fh_ens_ntraj(const fh_ens *e) { return e->ntraj; }
uint64_t fh_ens_seed(const fh_ens *e) { return e->seed; }
const char *fh_ens_deck(const fh_ens *e) { return e->deck; }
const char *fh_ens_dir(const fh_ens *e) { return e->dir; }

int fh_ens_get(const fh_ens *e, long index, fh_ens_record *rec, fh_err *err)
{
    if (index < 0 || index >= e->ntraj)
        return fh_err_set(err, FH_EINPUT, "%s: trajectory %ld out of range (0..%ld)", e->path, index,
                          e->ntraj - 1);
    *rec = e->rec[index];
    return FH_OK;
}

int fh_ens_set(fh_ens *e, const fh_ens_record *rec, fh_err *err)
{
    long k = rec->index;
    if (k < 0 || k >= e->ntraj)
        return fh_err_set(err, FH_EINPUT, "%s: trajectory %ld out of range (0..%ld)", e->path, k,
                          e->ntraj - 1);
    if (!e->writable) return fh_err_set(err, FH_EFAIL, "%s: opened read-only", e->path);
    char st[FH_H5MD_STATUS_SIZE] = {0}, reason[FH_H5MD_REASON_MAX] = {0};
    snprintf(st, sizeof st, "%s", fh_traj_status_name(rec->status));
    snprintf(reason, sizeof reason, "%s", rec->reason);
    int64_t nsteps = rec->nsteps;
    double tfs = rec->final_time * FH_AUTIME_FS;
    int rc = FH_OK;
    fh_h5io_quiet q;
    fh_h5io_quiet_begin(&q);
    hid_t tstat = fh_h5io_fixstr_type(FH_H5MD_STATUS_SIZE);
    hid_t treas = fh_h5io_fixstr_type(FH_H5MD_REASON_MAX);
    if (tstat < 0 || treas < 0 || write_elems(e->d_reason, treas, k, 1, reason) < 0 ||
        write_elems(e->d_nsteps, H5T_NATIVE_INT64, k, 1, &nsteps) < 0 ||
        write_elems(e->d_time, H5T_NATIVE_DOUBLE, k, 1, &tfs) < 0 ||
        write_elems(e->d_status, tstat, k, 1, st) < 0 || H5Fflush(e->file, H5F_SCOPE_GLOBAL) < 0)
        rc = fh_err_set(err, FH_EFAIL, "%s: cannot update trajectory %ld", e->path, k);
    if (tstat >= 0) H5Tclose(tstat);
    if (treas >= 0) H5Tclose(treas);
    fh_h5io_quiet_end(&q);
    if (!rc) {
        e->rec[k] = *rec;
        snprintf(e->rec[k].reason, sizeof e->rec[k].reason, "%s", reason);
    }
    return rc;
}

int fh_ens_close(fh_ens *e, fh_err *err)
{
    if (!e) return FH_OK;
    int rc = FH_OK;
    fh_h5io_quiet q;
    fh_h5io_quiet_begin(&q);
    if (e->writable && e->file >= 0 && H5Fflush(e->file, H5F_SCOPE_GLOBAL) < 0)
        rc = fh_err_set(err, FH_EFAIL, "%s: flush failed", e->path);
    ens_free(e);
    fh_h5io_quiet_end(&q);
    return rc;
}
