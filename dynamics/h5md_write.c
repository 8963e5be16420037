/* Writing trajectory files (layout in fh_h5md.h). Frames and hops are buffered and appended in
 * blocks; each block is followed by a flush and then by an update of the committed counts, so that
 * a killed run leaves a file whose committed part is intact. Reopening first repairs the end of
 * allocated space a kill can leave behind (h5md_io.h), then truncates to a checkpoint's frame
 * count so a restarted trajectory continues exactly where its checkpoint was taken. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fh_h5md.h"
#include "fh_units.h"
#include "fh_version.h"
#include "h5md_io.h"

#define GROUP_MAX 128

struct fh_h5md_writer {
    char *path;
    hid_t file;
    hid_t tsh;
    char group[GROUP_MAX];
    int natoms, nstates, has_spread;
    long block;                       /* frames per block */
    hid_t dset[FH_SER_COUNT];         /* -1: series absent */
    long row[FH_SER_COUNT];           /* elements per frame */
    unsigned char *buf[FH_SER_COUNT]; /* block*row elements, native type */
    long nbuf, ndisk;                 /* frames buffered / on disk */
    hid_t hopd[FH_HOP_COUNT];
    fh_h5md_hop *hopbuf;
    long nhopbuf, caphop, nhopdisk;
};

const char *fh_traj_status_name(fh_traj_status s)
{
    switch (s) {
    case FH_TRAJ_PENDING: return "pending";
    case FH_TRAJ_RUNNING: return "running";
    case FH_TRAJ_DONE: return "done";
    case FH_TRAJ_FAILED: return "failed";
    }
    return "unknown";
}

int fh_traj_status_parse(const char *name, fh_traj_status *s)
{
    static const fh_traj_status all[] = {FH_TRAJ_PENDING, FH_TRAJ_RUNNING, FH_TRAJ_DONE,
                                         FH_TRAJ_FAILED};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(name, fh_traj_status_name(all[i])) == 0) {
            *s = all[i];
            return 0;
        }
    return -1;
}

/* ------------------------------------------------------------------------------------------------
 * Allocation */

static fh_h5md_writer *writer_new(const char *path)
{
    fh_h5md_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->path = strdup(path);
    w->file = w->tsh = -1;
    for (int s = 0; s < FH_SER_COUNT; s++) w->dset[s] = -1;
    for (int h = 0; h < FH_HOP_COUNT; h++) w->hopd[h] = -1;
    if (!w->path) {
        free(w);
        return NULL;
    }
    return w;
}

static void writer_free(fh_h5md_writer *w)
{
    if (!w) return;
    for (int s = 0; s < FH_SER_COUNT; s++) {
        if (w->dset[s] >= 0) H5Dclose(w->dset[s]);
        free(w->buf[s]);
    }
    for (int h = 0; h < FH_HOP_COUNT; h++)
        if (w->hopd[h] >= 0) H5Dclose(w->hopd[h]);
    if (w->tsh >= 0) H5Gclose(w->tsh);
    if (w->file >= 0) H5Fclose(w->file);
    free(w->hopbuf);
    free(w->path);
    free(w);
}

static int alloc_buffers(fh_h5md_writer *w, int frames_per_block, fh_err *err)
{
    w->block = frames_per_block > 0 ? frames_per_block : FH_H5MD_DEFAULT_BLOCK;
    const fh_h5md_series_def *def = fh_h5md_series_table();
    for (int s = 0; s < FH_SER_COUNT; s++) {
        w->row[s] = fh_h5md_shape_row(def[s].shape, w->natoms, w->nstates);
        if (w->dset[s] < 0) continue;
        w->buf[s] = malloc((size_t)(w->block * w->row[s]) * fh_h5io_size(def[s].type));
        if (!w->buf[s]) return fh_err_set(err, FH_EFAIL, "%s: out of memory", w->path);
    }
    return FH_OK;
}

/* ------------------------------------------------------------------------------------------------
 * Creation */

static int check_config(const fh_h5md_config *c, fh_err *err)
{
    if (!c || !c->path || !c->path[0])
        return fh_err_set(err, FH_EINPUT, "trajectory file: no file name given");
    if (c->natoms < 1 || c->nstates < 1)
        return fh_err_set(err, FH_EINPUT, "%s: need natoms >= 1 and nstates >= 1 (got %d, %d)",
                          c->path, c->natoms, c->nstates);
    if (!c->species) return fh_err_set(err, FH_EINPUT, "%s: no species given", c->path);
    if (c->frames_per_block < 0)
        return fh_err_set(err, FH_EINPUT, "%s: frames per block must be >= 0 (got %d)", c->path,
                          c->frames_per_block);
    const char *g = c->particle_group ? c->particle_group : "all";
    if (!g[0] || strchr(g, '/') || strlen(g) >= GROUP_MAX || strcmp(g, ".") == 0)
        return fh_err_set(err, FH_EINPUT, "%s: invalid particle group name '%s'", c->path, g);
    for (int i = 0; i < c->natoms; i++) {
        int z = c->species[i];
        if (z < 0 || z > FH_MAX_Z)
            return fh_err_set(err, FH_EINPUT, "%s: atom %d has invalid atomic number %d", c->path,
                              i + 1, z);
        if (c->masses ? !(c->masses[i] > 0.0) : z == 0)
            return fh_err_set(err, FH_EINPUT,
                              "%s: atom %d has no positive mass (model coordinates need masses)",
                              c->path, i + 1);
    }
    return FH_OK;
}

/* Write the time-independent metadata: /h5md, box, species, mass, /parameters. */
static int write_metadata(fh_h5md_writer *w, const fh_h5md_config *c)
{
    int rc = 0;
    hid_t h5md = fh_h5io_group_path(w->file, "h5md");
    if (h5md < 0) return -1;
    const int32_t version[2] = {1, 1}, units_version[2] = {1, 0};
    rc |= fh_h5io_attr_i32(h5md, "version", version, 2);
    H5Gclose(h5md);

    hid_t g = fh_h5io_group_path(w->file, "h5md/author");
    if (g < 0) return -1;
    const char *author = c->author ? c->author : getenv("USER");
    rc |= fh_h5io_attr_str(g, "name", author && author[0] ? author : "unknown");
    H5Gclose(g);
    g = fh_h5io_group_path(w->file, "h5md/creator");
    if (g < 0) return -1;
    rc |= fh_h5io_attr_str(g, "name", FH_PROGRAM);
    rc |= fh_h5io_attr_str(g, "version", FH_VERSION);
    H5Gclose(g);
    g = fh_h5io_group_path(w->file, "h5md/modules/units");
    if (g < 0) return -1;
    rc |= fh_h5io_attr_i32(g, "version", units_version, 2);
    H5Gclose(g);

    char path[GROUP_MAX + 32];
    snprintf(path, sizeof path, "particles/%s/box", w->group);
    g = fh_h5io_group_path(w->file, path);
    if (g < 0) return -1;
    const int32_t dim = 3;
    const char *boundary[3] = {"none", "none", "none"};
    rc |= fh_h5io_attr_i32(g, "dimension", &dim, 0);
    rc |= fh_h5io_attr_str_array(g, "boundary", boundary, 3);
    H5Gclose(g);

    snprintf(path, sizeof path, "particles/%s", w->group);
    g = fh_h5io_group_path(w->file, path);
    if (g < 0) return -1;
    hsize_t n = (hsize_t)c->natoms;
    hid_t space = H5Screate_simple(1, &n, NULL);
    int32_t *z = malloc(sizeof *z * (size_t)c->natoms);
    double *m = malloc(sizeof *m * (size_t)c->natoms);
    if (space < 0 || !z || !m) rc = -1;
    else {
        for (int i = 0; i < c->natoms; i++) {
            z[i] = c->species[i];
            m[i] = (c->masses ? c->masses[i] : fh_element_mass_au(c->species[i])) / FH_AMU_ME;
        }
        hid_t d = H5Dcreate2(g, "species", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT);
        if (d < 0 || H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, z) < 0) rc = -1;
        if (d >= 0) H5Dclose(d);
        d = H5Dcreate2(g, "mass", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (d < 0 || H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, m) < 0 ||
            fh_h5io_attr_str(d, "unit", "u") < 0)
            rc = -1;
        if (d >= 0) H5Dclose(d);
    }
    free(z);
    free(m);
    if (space >= 0) H5Sclose(space);
    H5Gclose(g);

    g = fh_h5io_group_path(w->file, "parameters");
    if (g < 0) return -1;
    rc |= fh_h5io_dset_text(g, "deck", c->deck_text ? c->deck_text : "");
    rc |= fh_h5io_attr_str(g, "program", FH_PROGRAM);
    rc |= fh_h5io_attr_str(g, "version", FH_VERSION);
    rc |= fh_h5io_attr_u64(g, "seed", c->seed);
    int64_t index = c->traj_index;
    rc |= fh_h5io_attr_i64(g, "trajectory", &index, 0);
    H5Gclose(g);
    return rc ? -1 : 0;
}

/* Split "/a/b/c" into parent "/a/b" and leaf "c" (in place). */
static const char *split_leaf(char *path)
{
    char *slash = strrchr(path, '/');
    *slash = '\0';
    return slash + 1;
}

/* Create the frame series, with step/time hard-linked into every time-dependent group. */
static int create_series(fh_h5md_writer *w)
{
    const fh_h5md_series_def *def = fh_h5md_series_table();
    char step_path[GROUP_MAX + 64], time_path[GROUP_MAX + 64];
    fh_h5md_series_path(FH_SER_STEP, w->group, step_path, sizeof step_path);
    fh_h5md_series_path(FH_SER_TIME, w->group, time_path, sizeof time_path);
    for (int s = 0; s < FH_SER_COUNT; s++) {
        if (s == FH_SER_SPREAD && !w->has_spread) continue;
        char full[GROUP_MAX + 64];
        fh_h5md_series_path((fh_h5md_series)s, w->group, full, sizeof full);
        const char *leaf = split_leaf(full);
        hid_t g = fh_h5io_group_path(w->file, full);
        if (g < 0) return -1;
        hsize_t inner[2];
        int rank = 1;
        switch (def[s].shape) {
        case FH_SHAPE_SCALAR: break;
        case FH_SHAPE_ATOMS3: inner[0] = (hsize_t)w->natoms, inner[1] = 3, rank = 3; break;
        case FH_SHAPE_STATES: inner[0] = (hsize_t)w->nstates, rank = 2; break;
        case FH_SHAPE_STATES2: inner[0] = (hsize_t)w->nstates, inner[1] = 2, rank = 3; break;
        }
        size_t rowbytes = fh_h5io_size(def[s].type) *
                          (size_t)fh_h5md_shape_row(def[s].shape, w->natoms, w->nstates);
        w->dset[s] = fh_h5io_series_create(g, leaf, def[s].type, rank, inner,
                                           fh_h5io_chunk_rows(rowbytes));
        int rc = w->dset[s] < 0 ? -1 : 0;
        if (!rc && def[s].unit) rc = fh_h5io_attr_str(w->dset[s], "unit", def[s].unit);
        if (!rc && s != FH_SER_STEP && s != FH_SER_TIME) {
            rc = fh_h5io_attr_str(g, "description", def[s].description);
            if (s != FH_SER_POSITION) {
                if (H5Lcreate_hard(w->file, step_path, g, "step", H5P_DEFAULT, H5P_DEFAULT) < 0 ||
                    H5Lcreate_hard(w->file, time_path, g, "time", H5P_DEFAULT, H5P_DEFAULT) < 0)
                    rc = -1;
            }
        }
        H5Gclose(g);
        if (rc) return -1;
    }
    return 0;
}

static int create_tsh(fh_h5md_writer *w)
{
    w->tsh = fh_h5io_group_path(w->file, "tsh");
    if (w->tsh < 0) return -1;
    hid_t g = fh_h5io_group_path(w->tsh, "hops");
    if (g < 0) return -1;
    int rc = fh_h5io_attr_str(g, "description",
                              "surface hops and frustrated hop attempts; energy_gap = E_to - E_from");
    const fh_h5md_hop_def *def = fh_h5md_hop_table();
    for (int h = 0; h < FH_HOP_COUNT && !rc; h++) {
        w->hopd[h] = fh_h5io_series_create(g, def[h].name, def[h].type, 1, NULL, 64);
        if (w->hopd[h] < 0) rc = -1;
        else if (def[h].unit) rc = fh_h5io_attr_str(w->hopd[h], "unit", def[h].unit);
    }
    H5Gclose(g);
    const int64_t committed[2] = {0, 0};
    if (!rc) rc = fh_h5io_attr_i64(w->tsh, "committed", committed, 2);
    if (!rc) rc = fh_h5io_attr_fixstr(w->tsh, "status", "running", FH_H5MD_STATUS_SIZE);
    if (!rc) rc = fh_h5io_attr_fixstr(w->tsh, "stop_reason", "", FH_H5MD_REASON_MAX);
    return rc;
}

int fh_h5md_writer_create(const fh_h5md_config *cfg, fh_h5md_writer **out, fh_err *err)
{
    *out = NULL;
    int rc = check_config(cfg, err);
    if (rc) return rc;
    if (!cfg->force && access(cfg->path, F_OK) == 0)
        return fh_err_set(err, FH_EINPUT,
                          "%s: file exists; refusing to overwrite it (use --force, or resume the run)",
                          cfg->path);
    fh_h5md_writer *w = writer_new(cfg->path);
    if (!w) return fh_err_set(err, FH_EFAIL, "%s: out of memory", cfg->path);
    snprintf(w->group, sizeof w->group, "%s", cfg->particle_group ? cfg->particle_group : "all");
    w->natoms = cfg->natoms;
    w->nstates = cfg->nstates;
    w->has_spread = cfg->has_spread ? 1 : 0;

    fh_h5io_quiet q;
    fh_h5io_quiet_begin(&q);
    errno = 0;
    w->file = H5Fcreate(cfg->path, cfg->force ? H5F_ACC_TRUNC : H5F_ACC_EXCL, H5P_DEFAULT,
                        H5P_DEFAULT);
    if (w->file < 0)
        rc = fh_err_set(err, FH_EFAIL, "%s: cannot create file (%s)", cfg->path,
                        errno ? strerror(errno) : "HDF5 error");
    else if (write_metadata(w, cfg) || create_series(w) || create_tsh(w) ||
             H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0)
        rc = fh_err_set(err, FH_EFAIL, "%s: cannot write the file layout", cfg->path);
    if (!rc) rc = alloc_buffers(w, cfg->frames_per_block, err);
    fh_h5io_quiet_end(&q);
    if (rc) {
        writer_free(w);
        return rc;
    }
    *out = w;
    return FH_OK;
}

/* ------------------------------------------------------------------------------------------------
 * Appending */

long fh_h5md_writer_nframes(const fh_h5md_writer *w) { return w->ndisk + w->nbuf; }

/* Write buffered frames and hops, flush, then commit the new counts and flush again. */
static int write_block(fh_h5md_writer *w, fh_err *err)
{
    const fh_h5md_series_def *def = fh_h5md_series_table();
    for (int s = 0; s < FH_SER_COUNT; s++) {
        if (w->dset[s] < 0) continue;
        if (fh_h5io_series_write(w->dset[s], def[s].type, w->ndisk, w->nbuf, w->buf[s]) < 0)
            return fh_err_set(err, FH_EFAIL, "%s: cannot append to %s", w->path, def[s].name);
    }
    if (w->nhopbuf > 0) {
        const fh_h5md_hop_def *hd = fh_h5md_hop_table();
        double *d = malloc(sizeof *d * (size_t)w->nhopbuf);
        int64_t *l = malloc(sizeof *l * (size_t)w->nhopbuf);
        int32_t *i32 = malloc(sizeof *i32 * (size_t)w->nhopbuf);
        int rc = d && l && i32 ? 0 : -1;
        for (int h = 0; h < FH_HOP_COUNT && !rc; h++) {
            void *buf = hd[h].type == FH_H5IO_F64 ? (void *)d
                        : hd[h].type == FH_H5IO_I64 ? (void *)l : (void *)i32;
            for (long k = 0; k < w->nhopbuf; k++) {
                const fh_h5md_hop *e = &w->hopbuf[k];
                switch ((fh_h5md_hopfield)h) {
                case FH_HOP_STEP: l[k] = e->step; break;
                case FH_HOP_TIME: d[k] = e->time * hd[h].factor; break;
                case FH_HOP_FROM: i32[k] = e->from; break;
                case FH_HOP_TO: i32[k] = e->to; break;
                case FH_HOP_FRUSTRATED: i32[k] = e->frustrated ? 1 : 0; break;
                case FH_HOP_GAP: d[k] = e->gap * hd[h].factor; break;
                case FH_HOP_COUNT: break;
                }
            }
            rc = fh_h5io_series_write(w->hopd[h], hd[h].type, w->nhopdisk, w->nhopbuf, buf);
        }
        free(d);
        free(l);
        free(i32);
        if (rc) return fh_err_set(err, FH_EFAIL, "%s: cannot append hops", w->path);
    }
    if (H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0)
        return fh_err_set(err, FH_EFAIL, "%s: flush failed", w->path);
    const int64_t committed[2] = {w->ndisk + w->nbuf, w->nhopdisk + w->nhopbuf};
    if (fh_h5io_attr_i64(w->tsh, "committed", committed, 2) < 0 ||
        H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0)
        return fh_err_set(err, FH_EFAIL, "%s: cannot commit frames", w->path);
    w->ndisk += w->nbuf;
    w->nbuf = 0;
    w->nhopdisk += w->nhopbuf;
    w->nhopbuf = 0;
    return FH_OK;
}

int fh_h5md_writer_flush(fh_h5md_writer *w, fh_err *err)
{
    if (w->nbuf == 0 && w->nhopbuf == 0) return FH_OK;
    fh_h5io_quiet q;
    fh_h5io_quiet_begin(&q);
    int rc = write_block(w, err);
    fh_h5io_quiet_end(&q);
    return rc;
}

static void put_f64(unsigned char *dst, long k, double v) { memcpy(dst + k * sizeof v, &v, sizeof v); }

int fh_h5md_writer_append(fh_h5md_writer *w, const fh_h5md_frame *f, fh_err *err)
{
    if (!f->pos || !f->vel || !f->epot || !f->amp || (w->has_spread && !f->spread))
        return fh_err_set(err, FH_EINPUT, "%s: frame at step %ld lacks a required array", w->path,
                          f->step);
    if (f->active < 0 || f->active >= w->nstates)
        return fh_err_set(err, FH_EINPUT, "%s: active state %d out of range at step %ld", w->path,
                          f->active, f->step);
    const fh_h5md_series_def *def = fh_h5md_series_table();
    const long k = w->nbuf;
    for (int s = 0; s < FH_SER_COUNT; s++) {
        if (w->dset[s] < 0) continue;
        const long row = w->row[s], base = k * row;
        unsigned char *b = w->buf[s];
        const double fac = def[s].factor;
        switch ((fh_h5md_series)s) {
        case FH_SER_STEP: {
            int64_t v = f->step;
            memcpy(b + (size_t)base * sizeof v, &v, sizeof v);
            break;
        }
        case FH_SER_ACTIVE: {
            int32_t v = f->active;
            memcpy(b + (size_t)base * sizeof v, &v, sizeof v);
            break;
        }
        case FH_SER_TIME: put_f64(b, base, f->time * fac); break;
        case FH_SER_EKIN: put_f64(b, base, f->ekin * fac); break;
        case FH_SER_ETOT: put_f64(b, base, f->etot * fac); break;
        case FH_SER_POSITION:
            for (long i = 0; i < row; i++) put_f64(b, base + i, f->pos[i] * fac);
            break;
        case FH_SER_VELOCITY:
            for (long i = 0; i < row; i++) put_f64(b, base + i, f->vel[i] * fac);
            break;
        case FH_SER_EPOT:
            for (long i = 0; i < row; i++) put_f64(b, base + i, f->epot[i] * fac);
            break;
        case FH_SER_SPREAD:
            for (long i = 0; i < row; i++) put_f64(b, base + i, f->spread[i] * fac);
            break;
        case FH_SER_AMP:
            for (long i = 0; i < row; i++) put_f64(b, base + i, f->amp[i]);
            break;
        case FH_SER_POP:
            for (long i = 0; i < row; i++) {
                double re = f->amp[2 * i], im = f->amp[2 * i + 1];
                put_f64(b, base + i, f->pop ? f->pop[i] : re * re + im * im);
            }
            break;
        case FH_SER_COUNT: break;
        }
    }
    w->nbuf++;
    if (w->nbuf >= w->block) return fh_h5md_writer_flush(w, err);
    return FH_OK;
}

int fh_h5md_writer_hop(fh_h5md_writer *w, const fh_h5md_hop *h, fh_err *err)
{
    if (h->from < 0 || h->from >= w->nstates || h->to < 0 || h->to >= w->nstates)
        return fh_err_set(err, FH_EINPUT, "%s: hop %d -> %d out of range at step %ld", w->path,
                          h->from, h->to, h->step);
    if (w->nhopbuf == w->caphop) {
        long cap = w->caphop ? 2 * w->caphop : 16;
        fh_h5md_hop *p = realloc(w->hopbuf, sizeof *p * (size_t)cap);
        if (!p) return fh_err_set(err, FH_EFAIL, "%s: out of memory", w->path);
        w->hopbuf = p;
        w->caphop = cap;
    }
    w->hopbuf[w->nhopbuf++] = *h;
    return FH_OK;
}

/* ------------------------------------------------------------------------------------------------
 * Status, checkpoints, closing */

int fh_h5md_writer_set_status(fh_h5md_writer *w, fh_traj_status s, const char *reason, fh_err *err)
{
    int rc = fh_h5md_writer_flush(w, err);
    if (rc) return rc;
    fh_h5io_quiet q;
    fh_h5io_quiet_begin(&q);
    if (fh_h5io_attr_fixstr(w->tsh, "status", fh_traj_status_name(s), FH_H5MD_STATUS_SIZE) < 0 ||
        fh_h5io_attr_fixstr(w->tsh, "stop_reason", reason ? reason : "", FH_H5MD_REASON_MAX) < 0 ||
        H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0)
        rc = fh_err_set(err, FH_EFAIL, "%s: cannot record the status", w->path);
    fh_h5io_quiet_end(&q);
    return rc;
}

int fh_h5md_writer_checkpoint(fh_h5md_writer *w, const void *data, size_t nbytes, fh_err *err)
{
    int rc = fh_h5md_writer_flush(w, err);
    if (rc) return rc;
    fh_h5io_quiet q;
    fh_h5io_quiet_begin(&q);
    hid_t g = fh_h5io_group_path(w->tsh, "checkpoint");
    int64_t record[4] = {-1, 0, 0, 0};
    if (g >= 0 && H5Aexists(g, "record") > 0 && fh_h5io_read_attr_i64(g, "record", record, 4) < 0)
        record[0] = -1;
    const char *slot = record[0] == 0 ? "slot1" : "slot0";
    hid_t d = -1;
    if (g >= 0) {
        if (H5Lexists(g, slot, H5P_DEFAULT) > 0)
            d = H5Dopen2(g, slot, H5P_DEFAULT);
        else
            d = fh_h5io_series_create(g, slot, FH_H5IO_U8, 1, NULL, 64 * 1024); /* bytes */
    }
    /* Data first (into the slot not in use), then the record that points at it. */
    if (d < 0 || fh_h5io_series_resize(d, (long)nbytes) < 0 ||
        fh_h5io_series_write(d, FH_H5IO_U8, 0, (long)nbytes, data) < 0 ||
        H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0)
        rc = fh_err_set(err, FH_EFAIL, "%s: cannot write the checkpoint", w->path);
    if (!rc) {
        const int64_t rec[4] = {record[0] == 0 ? 1 : 0, w->ndisk, w->nhopdisk, (int64_t)nbytes};
        if (fh_h5io_attr_i64(g, "record", rec, 4) < 0 || H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0)
            rc = fh_err_set(err, FH_EFAIL, "%s: cannot commit the checkpoint", w->path);
    }
    if (d >= 0) H5Dclose(d);
    if (g >= 0) H5Gclose(g);
    fh_h5io_quiet_end(&q);
    return rc;
}

int fh_h5md_writer_close(fh_h5md_writer *w, fh_err *err)
{
    if (!w) return FH_OK;
    int rc = fh_h5md_writer_flush(w, err);
    fh_h5io_quiet q;
    fh_h5io_quiet_begin(&q);
    writer_free(w);
    fh_h5io_quiet_end(&q);
    return rc;
}

/* ------------------------------------------------------------------------------------------------
 * Reopening for a restart */

int fh_h5md_find_particle_group(hid_t file, char *buf, size_t size)
{
    hid_t g = H5Gopen2(file, "particles", H5P_DEFAULT);
    if (g < 0) return -1;
    ssize_t n = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, 0, buf, size, H5P_DEFAULT);
    H5Gclose(g);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Open the existing series and hop datasets and infer natoms/nstates from their shapes. */
static int open_existing(fh_h5md_writer *w)
{
    if (fh_h5md_find_particle_group(w->file, w->group, sizeof w->group) < 0) return -1;
    for (int s = 0; s < FH_SER_COUNT; s++) {
        char full[GROUP_MAX + 64];
        fh_h5md_series_path((fh_h5md_series)s, w->group, full, sizeof full);
        if (s == FH_SER_SPREAD && H5Lexists(w->file, "/observables/energy_spread", H5P_DEFAULT) <= 0)
            continue;
        w->dset[s] = H5Dopen2(w->file, full, H5P_DEFAULT);
        if (w->dset[s] < 0) return -1;
    }
    w->has_spread = w->dset[FH_SER_SPREAD] >= 0;
    w->natoms = (int)(fh_h5io_series_row(w->dset[FH_SER_POSITION]) / 3);
    w->nstates = (int)fh_h5io_series_row(w->dset[FH_SER_EPOT]);
    if (w->natoms < 1 || w->nstates < 1) return -1;
    w->tsh = H5Gopen2(w->file, "tsh", H5P_DEFAULT);
    if (w->tsh < 0) return -1;
    const fh_h5md_hop_def *hd = fh_h5md_hop_table();
    for (int h = 0; h < FH_HOP_COUNT; h++) {
        char p[64];
        snprintf(p, sizeof p, "hops/%s", hd[h].name);
        w->hopd[h] = H5Dopen2(w->tsh, p, H5P_DEFAULT);
        if (w->hopd[h] < 0) return -1;
    }
    return 0;
}

/* Truncate everything to nframes frames and the hops up to the last kept frame. */
static int truncate_to(fh_h5md_writer *w, long nframes, int64_t committed_hops, fh_err *err)
{
    long last_step = -1;
    if (nframes > 0) {
        int64_t st;
        if (fh_h5io_series_read(w->dset[FH_SER_STEP], FH_H5IO_I64, nframes - 1, 1, &st) < 0)
            return fh_err_set(err, FH_EFAIL, "%s: cannot read steps", w->path);
        last_step = (long)st;
    }
    long keep = 0;
    if (committed_hops > 0) {
        int64_t *steps = malloc(sizeof *steps * (size_t)committed_hops);
        if (!steps) return fh_err_set(err, FH_EFAIL, "%s: out of memory", w->path);
        if (fh_h5io_series_read(w->hopd[FH_HOP_STEP], FH_H5IO_I64, 0, committed_hops, steps) < 0) {
            free(steps);
            return fh_err_set(err, FH_EFAIL, "%s: cannot read hops", w->path);
        }
        while (keep < committed_hops && nframes > 0 && steps[keep] <= last_step) keep++;
        free(steps);
    }
    for (int s = 0; s < FH_SER_COUNT; s++)
        if (w->dset[s] >= 0 && fh_h5io_series_resize(w->dset[s], nframes) < 0)
            return fh_err_set(err, FH_EFAIL, "%s: cannot truncate series", w->path);
    for (int h = 0; h < FH_HOP_COUNT; h++)
        if (fh_h5io_series_resize(w->hopd[h], keep) < 0)
            return fh_err_set(err, FH_EFAIL, "%s: cannot truncate hops", w->path);
    w->ndisk = nframes;
    w->nhopdisk = keep;
    return FH_OK;
}

int fh_h5md_writer_reopen(const char *path, long nframes, int frames_per_block,
                          fh_h5md_writer **out, fh_err *err)
{
    *out = NULL;
    if (frames_per_block < 0)
        return fh_err_set(err, FH_EINPUT, "%s: frames per block must be >= 0", path);
    fh_h5md_writer *w = writer_new(path);
    if (!w) return fh_err_set(err, FH_EFAIL, "%s: out of memory", path);
    int rc = FH_OK;
    fh_h5io_quiet q;
    fh_h5io_quiet_begin(&q);
    int64_t committed[2] = {0, 0};
    w->file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (w->file < 0)
        rc = fh_err_set(err, FH_EINPUT, "%s: cannot open for appending (missing, locked or not HDF5)",
                        path);
    else if (fh_h5io_repair_eoa(w->file, path) < 0)
        rc = fh_err_set(err, FH_EFAIL, "%s: cannot repair the end of allocated space", path);
    else if (open_existing(w) < 0 || fh_h5io_read_attr_i64(w->tsh, "committed", committed, 2) < 0)
        rc = fh_err_set(err, FH_EINPUT, "%s: not a fusionhop trajectory file", path);
    else if (nframes < 0 || nframes > committed[0])
        rc = fh_err_set(err, FH_EINPUT, "%s: cannot resume at frame %ld: %ld frames are committed",
                        path, nframes, (long)committed[0]);
    if (!rc) rc = truncate_to(w, nframes, committed[1], err);
    if (!rc && H5Lexists(w->tsh, "checkpoint", H5P_DEFAULT) > 0) {
        /* A checkpoint taken after the resume point no longer matches the file. */
        hid_t g = H5Gopen2(w->tsh, "checkpoint", H5P_DEFAULT);
        int64_t rec[4];
        if (g < 0 || fh_h5io_read_attr_i64(g, "record", rec, 4) < 0)
            rc = fh_err_set(err, FH_EFAIL, "%s: unreadable checkpoint record", path);
        else if (rec[0] >= 0 && rec[1] > nframes) {
            rec[0] = -1;
            if (fh_h5io_attr_i64(g, "record", rec, 4) < 0)
                rc = fh_err_set(err, FH_EFAIL, "%s: cannot drop a stale checkpoint", path);
        }
        if (g >= 0) H5Gclose(g);
    }
    if (!rc) {
        const int64_t now[2] = {w->ndisk, w->nhopdisk};
        if (fh_h5io_attr_i64(w->tsh, "committed", now, 2) < 0 ||
            fh_h5io_attr_fixstr(w->tsh, "status", "running", FH_H5MD_STATUS_SIZE) < 0 ||
            fh_h5io_attr_fixstr(w->tsh, "stop_reason", "", FH_H5MD_REASON_MAX) < 0 ||
            H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0)
            rc = fh_err_set(err, FH_EFAIL, "%s: cannot reset the file for appending", path);
    }
    if (!rc) rc = alloc_buffers(w, frames_per_block, err);
    fh_h5io_quiet_end(&q);
    if (rc) {
        writer_free(w);
        return rc;
    }
    *out = w;
    return FH_OK;
}
