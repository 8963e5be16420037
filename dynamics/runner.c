/* Ensemble runner: dynamic manager-worker distribution of trajectory indices over MPI ranks, with
 * rank 0 both handing out work (between its own integration steps, so no core idles) and keeping
 * the ensemble index; trajectory files, checkpoints and resume. See fh_runner.h for why results do
 * not depend on the number of ranks. */
#include "fh_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fh_h5md.h"
#include "fh_units.h"

#define TAG_REQUEST 101
#define TAG_REPLY 102
#define IC_COUNTER_BASE (1ull << 63) /* initial-condition stream; hop tests use 1, 2, ... */
#define WINDOW_ATTEMPTS 100 /* Wigner draws per trajectory before a window counts as unreachable */

/* What a worker reports about a finished trajectory (plain bytes: all ranks share one build). */
typedef struct {
    long index; /* -1: nothing finished (first request) */
    int status;
    long nsteps;
    double final_time;
    long computed; /* steps integrated by this invocation */
    int io_error;  /* the trajectory's output could not be written */
    char reason[FH_H5MD_REASON_MAX];
} result_msg;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void fh_run_normals(uint64_t seed, uint64_t index, int n, double *out)
{
    /* Box-Muller on pairs of uniforms; four uniforms per Philox counter. */
    for (int i = 0; i < n; i += 2) {
        uint64_t ctr = IC_COUNTER_BASE + (uint64_t)(i / 4);
        int w = i % 4;
        double u1 = fh_dyn_uniform(seed, index, ctr, w);
        double u2 = fh_dyn_uniform(seed, index, ctr, w + 1);
        double r = sqrt(-2.0 * log(1.0 - u1)), a = 6.283185307179586 * u2;
        out[i] = r * cos(a);
        if (i + 1 < n) out[i + 1] = r * sin(a);
    }
}

/* ---- one trajectory ---- */

typedef struct {
    fh_surface *s;
    const fh_run_config *c;
    int natoms_file; /* atoms in the file: natoms, or 1 pseudo-atom for model surfaces */
    int *species;
    double *masses;  /* per file atom, electron masses */
    double *pos, *vel;
    void (*poll)(void *);
    void *poll_ctx;
} traj_ctx;

static void to_file_coords(const traj_ctx *t, const double *q, double *out)
{
    int nd = t->s->ndof, n3 = 3 * t->natoms_file;
    for (int i = 0; i < n3; i++) out[i] = i < nd ? q[i] : 0.0;
}

static int write_frame(traj_ctx *t, fh_h5md_writer *w, fh_dyn_traj *tr, fh_err *err)
{
    int ns = fh_dyn_traj_nstates(tr);
    double pop[32];
    for (int i = 0; i < ns; i++) pop[i] = fh_dyn_traj_population(tr, i);
    to_file_coords(t, fh_dyn_traj_x(tr), t->pos);
    to_file_coords(t, fh_dyn_traj_v(tr), t->vel);
    double spread[32];
    for (int i = 0; i < ns; i++) spread[i] = fh_dyn_traj_energy_std(tr, i);
    fh_h5md_frame f = {
        .step = fh_dyn_traj_nsteps(tr),
        .time = fh_dyn_traj_time(tr),
        .pos = t->pos,
        .vel = t->vel,
        .active = fh_dyn_traj_active(tr),
        .epot = fh_dyn_traj_energies(tr),
        .ekin = fh_dyn_traj_kinetic(tr),
        .etot = fh_dyn_traj_total_energy(tr),
        .amp = fh_dyn_traj_amplitudes(tr),
        .pop = pop,
        .spread = (t->s->caps & FH_CAP_SPREAD) ? spread : NULL,
    };
    return fh_h5md_writer_append(w, &f, err);
}

/* Draw the initial condition of trajectory `index` and choose its state. */
static int initial_condition(traj_ctx *t, long index, double *x, double *v, int *state, fh_err *err)
{
    const fh_run_config *c = t->c;
    int nd = t->s->ndof;
    if (c->sampling == FH_RUN_SAMPLING_FIXED) {
        memcpy(x, c->x0, (size_t)nd * sizeof *x);
        memcpy(v, c->v0, (size_t)nd * sizeof *v);
        *state = c->state;
        return FH_OK;
    }
    int ndev = fh_dyn_wigner_ndev(c->modes);
    int use_window = c->window_max > c->window_min;
    int attempts = use_window ? WINDOW_ATTEMPTS : 1;
    double *xi = malloc((size_t)ndev * (size_t)attempts * sizeof *xi);
    double *e = malloc((size_t)t->s->nstates * sizeof *e);
    if (!xi || !e) {
        free(xi);
        free(e);
        return fh_err_set(err, FH_EFAIL, "out of memory");
    }
    /* attempt a uses deviates [a*ndev, (a+1)*ndev) of the stream: independent of other indices */
    fh_run_normals(c->seed, (uint64_t)index, ndev * attempts, xi);
    int rc = FH_OK, found = !use_window;
    *state = c->state;
    for (int a = 0; a < attempts && !found; a++) {
        fh_dyn_wigner_sample(c->modes, c->temperature, xi + (size_t)a * (size_t)ndev, x, v);
        fh_surface_eval ev = {.x = x, .energy = e};
        rc = fh_surface_evaluate(t->s, &ev, err);
        if (rc != FH_OK) break;
        for (int k = 1; k < t->s->nstates && !found; k++) {
            double de = e[k] - e[0];
            if (de >= c->window_min && de <= c->window_max) {
                *state = k;
                found = 1;
            }
        }
    }
    if (!use_window) fh_dyn_wigner_sample(c->modes, c->temperature, xi, x, v);
    if (rc == FH_OK && !found)
        rc = fh_err_set(err, FH_EFAIL,
                        "no Wigner sample in %d attempts had an excitation energy inside the window "
                        "[%.3f, %.3f] eV",
                        attempts, c->window_min * FH_HARTREE_EV, c->window_max * FH_HARTREE_EV);
    free(xi);
    free(e);
    return rc;
}

static void finish_record(fh_ens_record *rec, fh_dyn_traj *tr, fh_traj_status st, const char *why)
{
    rec->status = st;
    snprintf(rec->reason, sizeof rec->reason, "%.*s", (int)sizeof rec->reason - 1, why);
    rec->nsteps = tr ? fh_dyn_traj_nsteps(tr) : 0;
    rec->final_time = tr ? fh_dyn_traj_time(tr) : 0.0;
}

/* Whether a trajectory file belongs to this run: the same resolved deck, seed and index. A file
 * of another run (e.g. one restarted with --force and interrupted before it reached this
 * trajectory) must not be taken as finished nor resumed from its checkpoint. */
static int same_run(const fh_h5md_reader *r, const fh_run_config *c, long index)
{
    return strcmp(fh_h5md_reader_deck(r), c->deck_text ? c->deck_text : "") == 0 &&
           fh_h5md_reader_seed(r) == c->seed && fh_h5md_reader_traj_index(r) == index;
}

/* Run or resume trajectory `index`; the outcome goes into rec. Returns FH_OK unless the output
 * could not be written (then rec says failed too). */
static int run_one(traj_ctx *t, long index, fh_ens_record *rec, long *computed)
{
    const fh_run_config *c = t->c;
    fh_surface *s = t->s;
    fh_err err = {0};
    char path[4096];
    memset(rec, 0, sizeof *rec);
    rec->index = index;
    *computed = 0;
    fh_ens_traj_path(c->outdir, index, path, sizeof path);

    fh_dyn_traj *tr = fh_dyn_traj_alloc(s, &c->dyn, c->seed, (uint64_t)index, &err);
    if (!tr) {
        finish_record(rec, NULL, FH_TRAJ_FAILED, err.msg);
        return FH_EFAIL;
    }
    fh_h5md_writer *w = NULL;
    int rc = FH_OK, resumed = 0;

    /* Resume from the trajectory file's checkpoint when there is one. */
    struct stat st;
    if (!c->force && stat(path, &st) == 0) {
        fh_h5md_reader *r = NULL;
        if (fh_h5md_reader_open(path, &r, &err) == FH_OK && !same_run(r, c, index)) {
            fh_h5md_reader_close(r); /* left by another run: this trajectory starts afresh */
            r = NULL;
        }
        if (r) {
            long nf = 0, nh = 0;
            void *blob = NULL;
            size_t nb = 0;
            fh_traj_status fst = fh_h5md_reader_status(r);
            if (fst == FH_TRAJ_DONE || fst == FH_TRAJ_FAILED) {
                /* finished, but the index did not hear of it before a kill */
                rec->status = fst;
                snprintf(rec->reason, sizeof rec->reason, "%s", fh_h5md_reader_stop_reason(r));
                long n = fh_h5md_reader_nframes(r);
                if (n > 0) {
                    fh_h5md_read_steps(r, n - 1, 1, &rec->nsteps, &err);
                    fh_h5md_read_times(r, n - 1, 1, &rec->final_time, &err);
                }
                fh_h5md_reader_close(r);
                fh_dyn_traj_free(tr);
                return FH_OK;
            }
            if (fh_h5md_reader_checkpoint(r, &nf, &nh, &blob, &nb, &err) == FH_OK && blob &&
                nb == fh_dyn_traj_state_size(tr) * sizeof(double) &&
                fh_dyn_traj_restore(tr, blob, &err) == FH_OK) {
                resumed = 1;
            }
            free(blob);
            fh_h5md_reader_close(r);
            if (resumed && fh_h5md_writer_reopen(path, nf, c->flush_every, &w, &err) != FH_OK)
                resumed = 0;
        }
        fh_err_clear(&err);
    }

    if (!resumed) {
        double *x = malloc((size_t)s->ndof * sizeof *x), *v = malloc((size_t)s->ndof * sizeof *v);
        int state = 0;
        rc = (x && v) ? initial_condition(t, index, x, v, &state, &err)
                      : fh_err_set(&err, FH_EFAIL, "out of memory");
        if (rc == FH_OK) rc = fh_dyn_traj_start(tr, x, v, state, &err);
        free(x);
        free(v);
        fh_h5md_config hc = {
            .path = path,
            .force = 1, /* a file without a usable checkpoint is restarted from scratch */
            .natoms = t->natoms_file,
            .nstates = s->nstates,
            .species = t->species,
            .masses = t->masses,
            .has_spread = (s->caps & FH_CAP_SPREAD) != 0,
            .frames_per_block = c->flush_every,
            .deck_text = c->deck_text,
            .seed = c->seed,
            .traj_index = index,
        };
        fh_err werr = {0};
        if (fh_h5md_writer_create(&hc, &w, &werr) != FH_OK) {
            finish_record(rec, tr, FH_TRAJ_FAILED, werr.msg);
            fh_dyn_traj_free(tr);
            return FH_EFAIL;
        }
        if (rc != FH_OK) { /* could not even start: record why in the file and the index */
            finish_record(rec, tr, FH_TRAJ_FAILED, err.msg);
            fh_h5md_writer_set_status(w, FH_TRAJ_FAILED, err.msg, &werr);
            fh_h5md_writer_close(w, &werr);
            fh_dyn_traj_free(tr);
            return FH_OK;
        }
        if (write_frame(t, w, tr, &err) != FH_OK) goto io_error;
    }

    /* Integrate. */
    size_t nstate = fh_dyn_traj_state_size(tr);
    double *blob = malloc(nstate * sizeof *blob);
    if (!blob) {
        fh_err_set(&err, FH_EFAIL, "out of memory");
        goto io_error;
    }
    while (fh_dyn_traj_stop_reason(tr) == FH_DYN_RUNNING) {
        fh_dyn_step_info info;
        if (fh_dyn_traj_step(tr, &info, &err) != FH_OK) {
            fh_dyn_traj_stop(tr, err.msg);
            break;
        }
        (*computed)++;
        long n = fh_dyn_traj_nsteps(tr);
        if (info.hop_to >= 0 && (info.hopped || info.frustrated)) {
            const double *e = fh_dyn_traj_energies(tr);
            fh_h5md_hop h = {.step = n,
                             .time = fh_dyn_traj_time(tr),
                             .from = info.hop_from,
                             .to = info.hop_to,
                             .frustrated = info.frustrated,
                             .gap = e[info.hop_to] - e[info.hop_from]};
            if (fh_h5md_writer_hop(w, &h, &err) != FH_OK) break;
        }
        int stopped = fh_dyn_traj_stop_reason(tr) != FH_DYN_RUNNING;
        if ((n % c->frame_every == 0 || stopped) && write_frame(t, w, tr, &err) != FH_OK) break;
        if (!stopped && n % c->checkpoint_every == 0 && n % c->frame_every == 0) {
            fh_dyn_traj_save(tr, blob);
            if (fh_h5md_writer_checkpoint(w, blob, nstate * sizeof *blob, &err) != FH_OK) break;
        }
        if (t->poll) t->poll(t->poll_ctx);
    }
    free(blob);
    if (err.code != FH_OK && fh_dyn_traj_stop_reason(tr) == FH_DYN_RUNNING) goto io_error;

    fh_dyn_stop why = fh_dyn_traj_stop_reason(tr);
    const char *msg = fh_dyn_traj_stop_message(tr);
    char reason[FH_H5MD_REASON_MAX];
    snprintf(reason, sizeof reason, "%s%s%s", fh_dyn_stop_name(why), *msg ? ": " : "", msg);
    fh_traj_status fst = why == FH_DYN_STOP_TMAX ? FH_TRAJ_DONE : FH_TRAJ_FAILED;
    finish_record(rec, tr, fst, reason);
    fh_err_clear(&err);
    if (fh_h5md_writer_set_status(w, fst, reason, &err) != FH_OK) goto io_error;
    rc = fh_h5md_writer_close(w, &err);
    fh_dyn_traj_free(tr);
    if (rc != FH_OK) finish_record(rec, NULL, FH_TRAJ_FAILED, err.msg);
    return rc;

io_error:
    finish_record(rec, tr, FH_TRAJ_FAILED, err.msg);
    fh_h5md_writer_close(w, NULL);
    fh_dyn_traj_free(tr);
    return FH_EFAIL;
}

/* ---- distribution ---- */

typedef struct {
    MPI_Comm comm;
    int size;
    long *queue;
    long nqueue, next;
    int workers_left; /* workers that have not been told to stop */
    const char *outdir;
    fh_run_summary *sum;
    long total;       /* trajectories this invocation must finish */
    double t0, last_print;
    int progress;
    int io_errors;
} manager;

/* Whether another process holds HDF5's lock on PATH (a flock: shared by readers, exclusive by a
 * writer) in a way that keeps this one from opening it (writable: any lock). */
static int index_locked(const char *path, int writable)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    int locked = flock(fd, (writable ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd); /* releases the probe's lock, if it got one */
    return locked;
}

/* Open the index for an update, retrying while another process (a job-array task writing into
 * the same directory) holds it: each holder keeps it open for milliseconds only. A file that
 * fails to open while nobody holds it (not HDF5, truncated, a directory) fails at once, on the
 * second try in a row, instead of after the minute of retries meant for a busy one. */
static int open_index(const char *outdir, int writable, fh_ens **e, fh_err *err)
{
    int rc = FH_EFAIL, unlocked = 0;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", outdir, FH_ENS_FILE);
    for (int attempt = 0; attempt < 600; attempt++) {
        fh_err_clear(err);
        rc = fh_ens_open(outdir, writable, e, err);
        if (rc == FH_OK) return rc;
        unlocked = index_locked(path, writable) ? 0 : unlocked + 1;
        if (unlocked >= 2) return rc;
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    return rc;
}

static void record_result(manager *m, const result_msg *r)
{
    if (r->index < 0) return;
    fh_ens_record rec = {.index = r->index,
                         .status = (fh_traj_status)r->status,
                         .nsteps = r->nsteps,
                         .final_time = r->final_time};
    snprintf(rec.reason, sizeof rec.reason, "%s", r->reason);
    fh_err err = {0};
    fh_ens *e = NULL;
    if (open_index(m->outdir, 1, &e, &err) != FH_OK || fh_ens_set(e, &rec, &err) != FH_OK) {
        fprintf(stderr, "fusionhop run: cannot update the ensemble index: %s\n", err.msg);
        m->io_errors++;
    }
    if (e && fh_ens_close(e, &err) != FH_OK) m->io_errors++;
    if (r->io_error) m->io_errors++;
    if (rec.status == FH_TRAJ_DONE)
        m->sum->done++;
    else
        m->sum->failed++;
    m->sum->steps += r->computed;
}

static void print_progress(manager *m, int force)
{
    double t = now();
    if (!m->progress || (!force && t - m->last_print < 2.0)) return;
    m->last_print = t;
    long fin = m->sum->done + m->sum->failed;
    double el = t - m->t0, rate = el > 0 ? (double)m->sum->steps / el : 0;
    double eta = fin > 0 ? el / (double)fin * (double)(m->total - fin) : 0;
    fprintf(stderr, "fusionhop run: %ld/%ld trajectories finished (%ld failed), %.0f steps/s, ",
            fin, m->total, m->sum->failed, rate);
    if (fin > 0 && fin < m->total)
        fprintf(stderr, "ETA %02d:%02d:%02d\n", (int)(eta / 3600), (int)fmod(eta / 60, 60),
                (int)fmod(eta, 60));
    else
        fprintf(stderr, "elapsed %.1f s\n", el);
}

void fh_run_wait_all(MPI_Comm comm)
{
    MPI_Request req;
    MPI_Ibarrier(comm, &req);
    for (int flag = 0;;) {
        MPI_Test(&req, &flag, MPI_STATUS_IGNORE);
        if (flag) return;
        struct timespec ts = {0, 2000000L};
        nanosleep(&ts, NULL);
    }
}

static long take(manager *m) { return m->next < m->nqueue ? m->queue[m->next++] : -1; }

/* Answer every pending worker request (rank 0, between its own steps). */
static void serve(void *p)
{
    manager *m = p;
    for (;;) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQUEST, m->comm, &flag, &st);
        if (!flag) break;
        result_msg r;
        MPI_Recv(&r, (int)sizeof r, MPI_BYTE, st.MPI_SOURCE, TAG_REQUEST, m->comm, MPI_STATUS_IGNORE);
        record_result(m, &r);
        long next = take(m);
        MPI_Send(&next, 1, MPI_LONG, st.MPI_SOURCE, TAG_REPLY, m->comm);
        if (next < 0) m->workers_left--;
    }
    print_progress(m, 0);
}

/* Whether the file of a trajectory the index records as finished still holds it: there, readable,
 * this run's, finished (and, when done, with frames). A file lost or damaged after the index heard
 * of it (a full disk, an interrupted copy) is run again, which gives the same trajectory: its
 * random numbers depend only on (seed, index). */
static int finished_file_ok(const fh_run_config *c, long index)
{
    char path[4096];
    fh_ens_traj_path(c->outdir, index, path, sizeof path);
    fh_h5md_reader *r = NULL;
    fh_err err = {0};
    if (fh_h5md_reader_open(path, &r, &err) != FH_OK) return 0;
    fh_traj_status s = fh_h5md_reader_status(r);
    int ok = same_run(r, c, index) &&
             (s == FH_TRAJ_FAILED || (s == FH_TRAJ_DONE && fh_h5md_reader_nframes(r) > 0));
    fh_h5md_reader_close(r);
    return ok;
}

static int setup_outputs(const fh_run_config *c, manager *m, fh_err *err)
{
    long last = c->last > 0 ? c->last : c->ntraj;
    struct stat st;
    char idx[4096];
    snprintf(idx, sizeof idx, "%s/%s", c->outdir, FH_ENS_FILE);
    int exists = stat(idx, &st) == 0;
    fh_ens *e = NULL;
    int rc;
    if (exists && !c->force) {
        rc = open_index(c->outdir, 0, &e, err);
        if (rc != FH_OK) return rc;
        if (strcmp(fh_ens_deck(e), c->deck_text ? c->deck_text : "") != 0 ||
            fh_ens_ntraj(e) != c->ntraj || fh_ens_seed(e) != c->seed) {
            fh_ens_close(e, NULL);
            return fh_err_set(err, FH_EINPUT,
                              "%s holds a run with a different deck; resume it with the same deck, "
                              "write elsewhere with -o, or overwrite it with --force",
                              c->outdir);
        }
    } else {
        rc = fh_ens_create(c->outdir, c->ntraj, c->deck_text, c->seed, c->force, &e, err);
        if (rc != FH_OK) return rc;
    }
    m->queue = malloc((size_t)(last - c->first + 1) * sizeof *m->queue);
    if (!m->queue) rc = fh_err_set(err, FH_EFAIL, "out of memory");
    for (long i = c->first; i < last && rc == FH_OK; i++) {
        fh_ens_record rec;
        if ((rc = fh_ens_get(e, i, &rec, err)) != FH_OK) break;
        int finished = !c->force && (rec.status == FH_TRAJ_DONE || rec.status == FH_TRAJ_FAILED);
        if (finished && !finished_file_ok(c, i)) {
            char path[4096];
            fh_ens_traj_path(c->outdir, i, path, sizeof path);
            fprintf(stderr, "fusionhop run: trajectory %ld is recorded as finished but its file %s "
                    "is missing, unreadable or not this run's: running it again\n", i, path);
            finished = 0;
        }
        if (finished)
            m->sum->skipped++;
        else
            m->queue[m->nqueue++] = i;
    }
    m->total = m->nqueue;
    fh_err cerr = {0};
    if (fh_ens_close(e, &cerr) != FH_OK && rc == FH_OK) rc = fh_err_set(err, FH_EFAIL, "%s", cerr.msg);
    return rc;
}

int fh_run_ensemble(fh_surface *s, const fh_run_config *cfg, MPI_Comm comm, fh_run_summary *sum,
                    fh_err *err)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    memset(sum, 0, sizeof *sum);
    double t0 = now();
    fh_run_config c = *cfg;
    if (c.frame_every < 1) c.frame_every = 1;
    if (c.checkpoint_every < 1) c.checkpoint_every = 100;
    if (c.last <= 0 || c.last > c.ntraj) c.last = c.ntraj;
    if (c.first < 0) c.first = 0;
    if (c.sampling == FH_RUN_SAMPLING_WIGNER && !c.modes) {
        return fh_err_set(err, FH_EINPUT, "Wigner sampling needs normal modes");
    }

    traj_ctx t = {.s = s, .c = &c};
    t.natoms_file = s->natoms > 0 ? s->natoms : 1;
    t.species = calloc((size_t)t.natoms_file, sizeof *t.species);
    t.masses = calloc((size_t)t.natoms_file, sizeof *t.masses);
    t.pos = calloc((size_t)t.natoms_file * 3, sizeof *t.pos);
    t.vel = calloc((size_t)t.natoms_file * 3, sizeof *t.vel);
    int rc = (t.species && t.masses && t.pos && t.vel) ? FH_OK
                                                       : fh_err_set(err, FH_EFAIL, "out of memory");
    for (int a = 0; rc == FH_OK && a < t.natoms_file; a++) {
        t.species[a] = s->natoms > 0 ? s->z[a] : 0;
        t.masses[a] = s->mass[s->natoms > 0 ? 3 * a : 0];
    }

    manager m = {.comm = comm, .size = size, .sum = sum, .t0 = t0, .last_print = t0, .progress = cfg->progress,
                 .outdir = c.outdir};
    if (rank == 0 && rc == FH_OK) rc = setup_outputs(&c, &m, err);
    MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
    if (rc != FH_OK) {
        if (rank != 0) fh_err_set(err, rc, "rank 0 could not set up the output directory");
        goto done;
    }
    MPI_Barrier(comm); /* the trajectory directory exists before anyone writes into it */

    if (rank == 0) {
        m.workers_left = size - 1;
        if (size > 1) {
            t.poll = serve;
            t.poll_ctx = &m;
        }
        for (long i; (i = take(&m)) >= 0;) {
            fh_ens_record rec;
            long computed;
            int io = run_one(&t, i, &rec, &computed) != FH_OK;
            result_msg r = {.index = i, .status = rec.status, .nsteps = rec.nsteps,
                            .final_time = rec.final_time, .computed = computed, .io_error = io};
            snprintf(r.reason, sizeof r.reason, "%s", rec.reason);
            record_result(&m, &r);
            serve(&m);
        }
        while (m.workers_left > 0) { /* answer the remaining requests with "stop" */
            result_msg r;
            MPI_Status st;
            /* poll instead of a blocking receive: Open MPI's blocking receive spins, which would
             * take a core from the workers still integrating their last trajectories */
            for (int flag = 0;;) {
                MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQUEST, comm, &flag, &st);
                if (flag) break;
                struct timespec ts = {0, 2000000L};
                nanosleep(&ts, NULL);
            }
            MPI_Recv(&r, (int)sizeof r, MPI_BYTE, st.MPI_SOURCE, TAG_REQUEST, comm, &st);
            record_result(&m, &r);
            long stop = -1;
            MPI_Send(&stop, 1, MPI_LONG, st.MPI_SOURCE, TAG_REPLY, comm);
            m.workers_left--;
            print_progress(&m, 0);
        }
        print_progress(&m, 1);
    } else {
        result_msg r = {.index = -1};
        for (;;) {
            long next;
            MPI_Send(&r, (int)sizeof r, MPI_BYTE, 0, TAG_REQUEST, comm);
            MPI_Recv(&next, 1, MPI_LONG, 0, TAG_REPLY, comm, MPI_STATUS_IGNORE);
            if (next < 0) break;
            fh_ens_record rec;
            long computed;
            int io = run_one(&t, next, &rec, &computed) != FH_OK;
            memset(&r, 0, sizeof r);
            r.io_error = io;
            r.index = next;
            r.status = rec.status;
            r.nsteps = rec.nsteps;
            r.final_time = rec.final_time;
            r.computed = computed;
            snprintf(r.reason, sizeof r.reason, "%s", rec.reason);
        }
    }
    sum->seconds = now() - t0;
    fh_run_wait_all(comm); /* workers done early wait here for rank 0's last trajectory */
    if (rank == 0 && m.io_errors)
        rc = fh_err_set(err, FH_EFAIL, "%d trajectories could not write their output", m.io_errors);
    MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
    MPI_Bcast(sum, (int)sizeof *sum, MPI_BYTE, 0, comm);
done:
    free(m.queue);
    free(t.species);
    free(t.masses);
    free(t.pos);
    free(t.vel);
    return rc;
}
