/* Reading trajectory files back (for analysis and restarts). Only the committed part is visible:
 * after a crash a file may hold a torn block beyond the committed counts, which is ignored. Values
 * come back in atomic units, converted with the same factors the writer used. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fh_h5md.h"
#include "fh_units.h"
#include "h5md_io.h"

struct fh_h5md_reader {
    char *path;
    hid_t file;
    char group[128];
    int natoms, nstates, has_spread;
    long nframes, nhops;
    hid_t dset[FH_SER_COUNT];
    hid_t hopd[FH_HOP_COUNT];
    int *species;
    double *masses;
    fh_traj_status status;
    char reason[FH_H5MD_REASON_MAX];
    char version[64];
    char *deck;
    uint64_t seed;
    long index;
};

void fh_h5md_reader_close(fh_h5md_reader *r)
{
    if (!r) return;
    fh_h5io_quiet q;
    fh_h5io_quiet_begin(&q);
    for (int s = 0; s < FH_SER_COUNT; s++)
        if (r->dset[s] >= 0) H5Dclose(r->dset[s]);
    for (int h = 0; h < FH_HOP_COUNT; h++)
        if (r->hopd[h] >= 0) H5Dclose(r->hopd[h]);
    if (r->file >= 0) H5Fclose(r->file);
    fh_h5io_quiet_end(&q);
    free(r->species);
    free(r->masses);
    free(r->deck);
    free(r->path);
    free(r);
}

static int read_atoms(fh_h5md_reader *r)
{
    char p[200];
    r->species = malloc(sizeof *r->species * (size_t)r->natoms);
    r->masses = malloc(sizeof *r->masses * (size_t)r->natoms);
    if (!r->species || !r->masses) return -1;
    snprintf(p, sizeof p, "/particles/%s/species", r->group);
    hid_t d = H5Dopen2(r->file, p, H5P_DEFAULT);
    int rc = d >= 0 && H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, r->species) >= 0
                 ? 0 : -1;
    if (d >= 0) H5Dclose(d);
    snprintf(p, sizeof p, "/particles/%s/mass", r->group);
    d = H5Dopen2(r->file, p, H5P_DEFAULT);
    if (d < 0 || H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, r->masses) < 0)
        rc = -1;
    if (d >= 0) H5Dclose(d);
    for (int i = 0; i < r->natoms && !rc; i++) r->masses[i] *= FH_AMU_ME;
    return rc;
}

/* Status, provenance and committed counts; files without /tsh (other writers) are accepted. */
static void read_run_state(fh_h5md_reader *r, int64_t committed[2])
{
    r->status = FH_TRAJ_RUNNING; /* unknown means: not known to be finished */
    hid_t tsh = H5Lexists(r->file, "tsh", H5P_DEFAULT) > 0 ? H5Gopen2(r->file, "tsh", H5P_DEFAULT)
                                                           : -1;
    if (tsh >= 0) {
        char st[FH_H5MD_STATUS_SIZE + 1];
        fh_traj_status s;
        if (fh_h5io_read_attr_str(tsh, "status", st, sizeof st) == 0 &&
            fh_traj_status_parse(st, &s) == 0)
            r->status = s;
        fh_h5io_read_attr_str(tsh, "stop_reason", r->reason, sizeof r->reason);
        if (fh_h5io_read_attr_i64(tsh, "committed", committed, 2) < 0)
            committed[0] = committed[1] = -1;
        const fh_h5md_hop_def *hd = fh_h5md_hop_table();
        for (int h = 0; h < FH_HOP_COUNT; h++) {
            char p[64];
            snprintf(p, sizeof p, "hops/%s", hd[h].name);
            r->hopd[h] = H5Lexists(tsh, "hops", H5P_DEFAULT) > 0 &&
                                 H5Lexists(tsh, p, H5P_DEFAULT) > 0
                             ? H5Dopen2(tsh, p, H5P_DEFAULT) : -1;
        }
        H5Gclose(tsh);
    }
    hid_t par = H5Lexists(r->file, "parameters", H5P_DEFAULT) > 0
                    ? H5Gopen2(r->file, "parameters", H5P_DEFAULT) : -1;
    if (par >= 0) {
        if (H5Lexists(par, "deck", H5P_DEFAULT) > 0) r->deck = fh_h5io_read_dset_text(par, "deck");
        fh_h5io_read_attr_str(par, "version", r->version, sizeof r->version);
        int64_t idx = -1;
        if (fh_h5io_read_attr_i64(par, "trajectory", &idx, 0) == 0) r->index = (long)idx;
        fh_h5io_read_attr_u64(par, "seed", &r->seed);
        H5Gclose(par);
    }
}

static int open_all(fh_h5md_reader *r)
{
    if (fh_h5md_find_particle_group(r->file, r->group, sizeof r->group) < 0) return -1;
    for (int s = 0; s < FH_SER_COUNT; s++) {
        char full[200];
        fh_h5md_series_path((fh_h5md_series)s, r->group, full, sizeof full);
        if (H5Lexists(r->file, "/observables", H5P_DEFAULT) <= 0) return -1;
        if (s == FH_SER_SPREAD && H5Lexists(r->file, "/observables/energy_spread", H5P_DEFAULT) <= 0)
            continue;
        r->dset[s] = H5Dopen2(r->file, full, H5P_DEFAULT);
        if (r->dset[s] < 0) return -1;
    }
    r->has_spread = r->dset[FH_SER_SPREAD] >= 0;
    long np = fh_h5io_series_row(r->dset[FH_SER_POSITION]);
    r->natoms = (int)(np / 3);
    r->nstates = (int)fh_h5io_series_row(r->dset[FH_SER_EPOT]);
    if (r->natoms < 1 || np != 3L * r->natoms || r->nstates < 1) return -1;
    const fh_h5md_series_def *def = fh_h5md_series_table();
    for (int s = 0; s < FH_SER_COUNT; s++)
        if (r->dset[s] >= 0 &&
            fh_h5io_series_row(r->dset[s]) != fh_h5md_shape_row(def[s].shape, r->natoms, r->nstates))
            return -1;
    if (read_atoms(r) < 0) return -1;

    int64_t committed[2] = {-1, -1};
    read_run_state(r, committed);
    r->nframes = committed[0] >= 0 ? (long)committed[0] : -1;
    for (int s = 0; s < FH_SER_COUNT; s++) {
        if (r->dset[s] < 0) continue;
        long n = fh_h5io_series_len(r->dset[s]);
        if (n < 0) return -1;
        if (r->nframes < 0 || n < r->nframes) r->nframes = n;
    }
    r->nhops = committed[1] >= 0 ? (long)committed[1] : -1;
    for (int h = 0; h < FH_HOP_COUNT; h++) {
        long n = r->hopd[h] >= 0 ? fh_h5io_series_len(r->hopd[h]) : 0;
        if (n < 0) n = 0;
        if (r->nhops < 0 || n < r->nhops) r->nhops = n;
    }
    return 0;
}

int fh_h5md_reader_open(const char *path, fh_h5md_reader **out, fh_err *err)
{
    *out = NULL;
    fh_h5md_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return fh_err_set(err, FH_EFAIL, "%s: out of memory", path);
    }
    r->file = -1;
    r->index = -1;
    for (int s = 0; s < FH_SER_COUNT; s++) r->dset[s] = -1;
    for (int h = 0; h < FH_HOP_COUNT; h++) r->hopd[h] = -1;
    int rc = FH_OK;
    fh_h5io_quiet q;
    fh_h5io_quiet_begin(&q);
    r->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (r->file < 0)
        rc = fh_err_set(err, FH_EINPUT, "%s: cannot open (missing, locked by a writer, or not HDF5)",
                        path);
    else if (open_all(r) < 0)
        rc = fh_err_set(err, FH_EINPUT, "%s: not a fusionhop H5MD trajectory (layout mismatch)", path);
    fh_h5io_quiet_end(&q);
    if (rc) {
        fh_h5md_reader_close(r);
        return rc;
    }
    *out = r;
    return FH_OK;
}

long fh_h5md_reader_nframes(const fh_h5md_reader *r) { return r->nframes; }
long fh_h5md_reader_nhops(const fh_h5md_reader *r) { return r->nhops; }
int fh_h5md_reader_natoms(const fh_h5md_reader *r) { return r->natoms; }
int fh_h5md_reader_nstates(const fh_h5md_reader *r) { return r->nstates; }
int fh_h5md_reader_has_spread(const fh_h5md_reader *r) { return r->has_spread; }
const int *fh_h5md_reader_species(const fh_h5md_reader *r) { return r->species; }
const double *fh_h5md_reader_masses(const fh_h5md_reader *r) { return r->masses; }
fh_traj_status fh_h5md_reader_status(const fh_h5md_reader *r) { return r->status; }
const char *fh_h5md_reader_stop_reason(const fh_h5md_reader *r) { return r->reason; }
const char *fh_h5md_reader_deck(const fh_h5md_reader *r) { return r->deck ? r->deck : ""; }
const char *fh_h5md_reader_version(const fh_h5md_reader *r) { return r->version; }
uint64_t fh_h5md_reader_seed(const fh_h5md_reader *r) { return r->seed; }
long fh_h5md_reader_traj_index(const fh_h5md_reader *r) { return r->index; }

/* ------------------------------------------------------------------------------------------------
 * Series */

/* Read rows of a float series and convert back to atomic units. */
static int read_f64(const fh_h5md_reader *r, fh_h5md_series s, long first, long count, double *out,
                    fh_err *err)
{
    const fh_h5md_series_def *def = &fh_h5md_series_table()[s];
    if (r->dset[s] < 0)
        return fh_err_set(err, FH_EINPUT, "%s: the file has no %s series", r->path, def->name);
    if (first < 0 || count < 0 || first + count > r->nframes)
        return fh_err_set(err, FH_EINPUT, "%s: frames [%ld, %ld) outside the %ld frames", r->path,
                          first, first + count, r->nframes);
    fh_h5io_quiet q;
    fh_h5io_quiet_begin(&q);
    int rc = fh_h5io_series_read(r->dset[s], FH_H5IO_F64, first, count, out);
    fh_h5io_quiet_end(&q);
    if (rc < 0) return fh_err_set(err, FH_EFAIL, "%s: cannot read %s", r->path, def->name);
    if (def->factor != 1.0) {
        long n = count * fh_h5md_shape_row(def->shape, r->natoms, r->nstates);
        for (long i = 0; i < n; i++) out[i] /= def->factor;
    }
    return FH_OK;
}

int fh_h5md_read_steps(const fh_h5md_reader *r, long first, long count, long *out, fh_err *err)
{
    if (first < 0 || count < 0 || first + count > r->nframes)
        return fh_err_set(err, FH_EINPUT, "%s: frames [%ld, %ld) outside the %ld frames", r->path,
                          first, first + count, r->nframes);
    int64_t *tmp = malloc(sizeof *tmp * (size_t)(count > 0 ? count : 1));
    if (!tmp) return fh_err_set(err, FH_EFAIL, "%s: out of memory", r->path);
    fh_h5io_quiet q;
    fh_h5io_quiet_begin(&q);
    int rc = fh_h5io_series_read(r->dset[FH_SER_STEP], FH_H5IO_I64, first, count, tmp);
    fh_h5io_quiet_end(&q);
    for (long i = 0; i < count && rc == 0; i++) out[i] = (long)tmp[i];
    free(tmp);
    return rc < 0 ? fh_err_set(err, FH_EFAIL, "%s: cannot read steps", r->path) : FH_OK;
}

int fh_h5md_read_active(const fh_h5md_reader *r, long first, long count, int *out, fh_err *err)
{
    if (first < 0 || count < 0 || first + count > r->nframes)
        return fh_err_set(err, FH_EINPUT, "%s: frames [%ld, %ld) outside the %ld frames", r->path,
                          first, first + count, r->nframes);
    int32_t *tmp = malloc(sizeof *tmp * (size_t)(count > 0 ? count : 1));
    if (!tmp) return fh_err_set(err, FH_EFAIL, "%s: out of memory", r->path);
    fh_h5io_quiet q;
    fh_h5io_quiet_begin(&q);
    int rc = fh_h5io_series_read(r->dset[FH_SER_ACTIVE], FH_H5IO_I32, first, count, tmp);
    fh_h5io_quiet_end(&q);
    for (long i = 0; i < count && rc == 0; i++) out[i] = tmp[i];
    free(tmp);
    return rc < 0 ? fh_err_set(err, FH_EFAIL, "%s: cannot read active states", r->path) : FH_OK;
}

int fh_h5md_read_times(const fh_h5md_reader *r, long first, long count, double *out, fh_err *err)
{
    return read_f64(r, FH_SER_TIME, first, count, out, err);
}
int fh_h5md_read_epot(const fh_h5md_reader *r, long first, long count, double *out, fh_err *err)
{
    return read_f64(r, FH_SER_EPOT, first, count, out, err);
}
int fh_h5md_read_ekin(const fh_h5md_reader *r, long first, long count, double *out, fh_err *err)
{
    return read_f64(r, FH_SER_EKIN, first, count, out, err);
}
int fh_h5md_read_etot(const fh_h5md_reader *r, long first, long count, double *out, fh_err *err)
{
    return read_f64(r, FH_SER_ETOT, first, count, out, err);
}
int fh_h5md_read_populations(const fh_h5md_reader *r, long first, long count, double *out,
                             fh_err *err)
{
    return read_f64(r, FH_SER_POP, first, count, out, err);
}
int fh_h5md_read_amplitudes(const fh_h5md_reader *r, long first, long count, double *out,
                            fh_err *err)
{
    return read_f64(r, FH_SER_AMP, first, count, out, err);
}
int fh_h5md_read_spread(const fh_h5md_reader *r, long first, long count, double *out, fh_err *err)
{
    return read_f64(r, FH_SER_SPREAD, first, count, out, err);
}
int fh_h5md_read_positions(const fh_h5md_reader *r, long first, long count, double *out,
                           fh_err *err)
{
    return read_f64(r, FH_SER_POSITION, first, count, out, err);
}
int fh_h5md_read_velocities(const fh_h5md_reader *r, long first, long count, double *out,
                            fh_err *err)
{
    return read_f64(r, FH_SER_VELOCITY, first, count, out, err);
}

long fh_h5md_frame_at(const double *times, long n, double time)
{
    long f = 0;
    double tol = 1e-9 * (fabs(time) + 1.0);
    while (f + 1 < n && times[f + 1] <= time + tol) f++;
    return f;
}

int fh_h5md_read_hops(const fh_h5md_reader *r, fh_h5md_hop *out, fh_err *err)
{
    long n = r->nhops;
    if (n <= 0) return FH_OK;
    double *d = malloc(sizeof *d * (size_t)n);
    int64_t *l = malloc(sizeof *l * (size_t)n);
    int32_t *i32 = malloc(sizeof *i32 * (size_t)n);
    int rc = d && l && i32 ? FH_OK : fh_err_set(err, FH_EFAIL, "%s: out of memory", r->path);
    const fh_h5md_hop_def *hd = fh_h5md_hop_table();
    fh_h5io_quiet q;
    fh_h5io_quiet_begin(&q);
    for (int h = 0; h < FH_HOP_COUNT && !rc; h++) {
        void *buf = hd[h].type == FH_H5IO_F64 ? (void *)d
                    : hd[h].type == FH_H5IO_I64 ? (void *)l : (void *)i32;
        if (fh_h5io_series_read(r->hopd[h], hd[h].type, 0, n, buf) < 0) {
            rc = fh_err_set(err, FH_EFAIL, "%s: cannot read hops/%s", r->path, hd[h].name);
            break;
        }
        for (long k = 0; k < n; k++) {
            fh_h5md_hop *e = &out[k];
            switch ((fh_h5md_hopfield)h) {
            case FH_HOP_STEP: e->step = (long)l[k]; break;
            case FH_HOP_TIME: e->time = d[k] / hd[h].factor; break;
            case FH_HOP_FROM: e->from = i32[k]; break;
            case FH_HOP_TO: e->to = i32[k]; break;
            case FH_HOP_FRUSTRATED: e->frustrated = i32[k]; break;
            case FH_HOP_GAP: e->gap = d[k] / hd[h].factor; break;
            case FH_HOP_COUNT: break;
            }
        }
    }
    fh_h5io_quiet_end(&q);
    free(d);
    free(l);
    free(i32);
    return rc;
}

int fh_h5md_reader_checkpoint(const fh_h5md_reader *r, long *nframes, long *nhops, void **data,
                              size_t *nbytes, fh_err *err)
{
    *nframes = 0;
    *nhops = 0;
    *data = NULL;
    *nbytes = 0;
    int rc = FH_OK;
    fh_h5io_quiet q;
    fh_h5io_quiet_begin(&q);
    hid_t g = H5Lexists(r->file, "tsh", H5P_DEFAULT) > 0 &&
                      H5Lexists(r->file, "tsh/checkpoint", H5P_DEFAULT) > 0
                  ? H5Gopen2(r->file, "tsh/checkpoint", H5P_DEFAULT) : -1;
    int64_t rec[4] = {-1, 0, 0, 0};
    if (g >= 0 && fh_h5io_read_attr_i64(g, "record", rec, 4) < 0) rec[0] = -1;
    if (g >= 0 && rec[0] >= 0) {
        const char *slot = rec[0] == 1 ? "slot1" : "slot0";
        hid_t d = H5Dopen2(g, slot, H5P_DEFAULT);
        void *buf = malloc(rec[3] > 0 ? (size_t)rec[3] : 1);
        if (d < 0 || !buf || fh_h5io_series_len(d) < rec[3] ||
            fh_h5io_series_read(d, FH_H5IO_U8, 0, (long)rec[3], buf) < 0) {
            free(buf);
            rc = fh_err_set(err, FH_EFAIL, "%s: cannot read the checkpoint", r->path);
        } else {
            *data = buf;
            *nbytes = (size_t)rec[3];
            *nframes = (long)rec[1];
            *nhops = (long)rec[2];
        }
        if (d >= 0) H5Dclose(d);
    }
    if (g >= 0) H5Gclose(g);
    fh_h5io_quiet_end(&q);
    return rc;
}
