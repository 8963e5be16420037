/* Runs a list of geometries through a provider into a dataset file, resumably (fh_batch.h). */
#include "fh_batch.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fh_dataset.h"
#include "fh_openmolcas.h"
#include "fh_units.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* 0: not in the dataset, 1: done (an OK row), 2: only failed rows. */
static int id_state(const fh_dataset *d, const char *id)
{
    if (!d) return 0;
    if (fh_dataset_find(d, id, FH_DATASET_OK) >= 0) return 1;
    return fh_dataset_find(d, id, -1) >= 0 ? 2 : 0;
}

static unsigned char todo_of(int state, int retry_failed)
{
    return !(state == 1 || (state == 2 && !retry_failed));
}

int fh_surf_batch_todo(const char *path, const fh_batch_geoms *g, int retry_failed,
                       unsigned char *todo, fh_err *err)
{
    fh_dataset *have = NULL;
    struct stat st;
    if (stat(path, &st) == 0) {
        int rc = fh_dataset_read(path, &have, err);
        if (rc) return rc;
    }
    for (int k = 0; k < g->n; k++) todo[k] = todo_of(id_state(have, g->id[k]), retry_failed);
    fh_dataset_free(have);
    return FH_OK;
}

/* The orbital cache: for each geometry computed with OpenMolcas in this process, its coordinates
 * and a copy of its converged orbitals; the next calculation starts from the nearest. */
typedef struct {
    const char *dir;
    int natoms, n, cap;
    double *x;  /* [cap*natoms*3] */
    char **file;
} orb_cache;

static int cache_nearest(const orb_cache *c, const double *x)
{
    int best = -1;
    double bd = INFINITY;
    size_t nd = (size_t)c->natoms * 3;
    for (int k = 0; k < c->n; k++) {
        double d2 = 0;
        for (size_t i = 0; i < nd; i++) {
            double t = x[i] - c->x[(size_t)k * nd + i];
            d2 += t * t;
        }
        if (d2 < bd) {
            bd = d2;
            best = k;
        }
    }
    return best;
}

static int cache_grow(orb_cache *c)
{
    if (c->n < c->cap) return 0;
    int cap = c->cap ? 2 * c->cap : 64;
    double *nx = realloc(c->x, (size_t)cap * c->natoms * 3 * sizeof *nx);
    if (!nx) return -1;
    c->x = nx;
    char **nf = realloc(c->file, (size_t)cap * sizeof *nf);
    if (!nf) return -1;
    c->file = nf;
    c->cap = cap;
    return 0;
}

static void cache_add(orb_cache *c, fh_surface *s, const double *x, const char *id)
{
    if (cache_grow(c)) return;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s.RasOrb", c->dir, id);
    if (fh_surf_molcas_save_orbitals(s, path) != FH_OK) return;
    c->file[c->n] = strdup(path);
    if (!c->file[c->n]) return;
    memcpy(c->x + (size_t)c->n * c->natoms * 3, x, (size_t)c->natoms * 3 * sizeof *x);
    c->n++;
}

/* Orbitals saved by an earlier run of the batch: <id>.RasOrb next to a successful row. */
static void cache_load(orb_cache *c, const fh_dataset *d)
{
    char path[2048];
    size_t nd = (size_t)c->natoms * 3;
    for (size_t r = 0; r < d->n; r++) {
        if (d->status[r] != FH_DATASET_OK) continue;
        snprintf(path, sizeof path, "%s/%s.RasOrb", c->dir, d->id[r]);
        if (access(path, R_OK) != 0) continue;
        if (cache_grow(c)) return;
        c->file[c->n] = strdup(path);
        if (!c->file[c->n]) return;
        for (size_t i = 0; i < nd; i++) c->x[c->n * nd + i] = d->pos[r * nd + i] * FH_ANGSTROM_BOHR;
        c->n++;
    }
}

/* The reason of a failure without the log's path, which the row's info names once already
 * (the provider's message carries it as "[log kept: PATH] " and the parser's as "PATH: "):
 * without this the 256-byte info field was full before the reason began. */
static void drop_path(const char *msg, const char *path, char *out, size_t size)
{
    char kept[2200], named[2200];
    snprintf(kept, sizeof kept, "[log kept: %s] ", path);
    snprintf(named, sizeof named, "%s: ", path);
    size_t n = 0, lk = strlen(kept), ln = strlen(named);
    while (*msg && n + 1 < size) {
        if (strncmp(msg, kept, lk) == 0) msg += lk;
        else if (strncmp(msg, named, ln) == 0) msg += ln;
        else out[n++] = *msg++;
    }
    out[n] = '\0';
}

static void cache_free(orb_cache *c)
{
    for (int k = 0; k < c->n; k++) free(c->file[k]);
    free(c->file);
    free(c->x);
}

int fh_surf_batch_run(fh_surface *s, const char *path, const char *level,
                      const fh_batch_geoms *g, const fh_batch_opts *o, fh_batch_progress *final,
                      fh_err *err)
{
    fh_batch_progress p = {0};
    p.total = (size_t)g->n;
    p.last_msg = "";
    if (final) *final = p;
    if (g->natoms != s->natoms || s->natoms < 1)
        return fh_err_set(err, FH_EINPUT, "batch: geometries have %d atoms, the provider %d",
                          g->natoms, s->natoms);
    int rc = fh_dataset_open_or_create(path, s->natoms, s->nstates, s->z, level, err);
    if (rc) return rc;
    fh_dataset *have = NULL;
    rc = fh_dataset_read(path, &have, err);
    if (rc) return rc;

    int na = s->natoms, ndof = s->ndof, ns = s->nstates, np = fh_npairs(ns);
    fh_molcas_details det;
    int is_molcas = fh_surf_molcas_details(s, &det, NULL) == FH_OK;
    orb_cache cache = {.dir = o->orbital_cache, .natoms = na};
    if (is_molcas && cache.dir && mkdir(cache.dir, 0755) && errno != EEXIST) cache.dir = NULL;
    if (is_molcas && cache.dir) cache_load(&cache, have);

    double *energy = calloc((size_t)ns, sizeof *energy);
    double *grad = calloc((size_t)ns * ndof, sizeof *grad);
    double *nac = calloc((size_t)(np ? np : 1) * ndof, sizeof *nac);
    double *pos = calloc((size_t)ndof, sizeof *pos);
    unsigned char *has_grad = calloc((size_t)ns, 1);
    if (!energy || !grad || !nac || !pos || !has_grad) rc = fh_err_set(err, FH_EFAIL, "out of memory");

    /* what is to be done, decided once: 1 = run it */
    unsigned char *todo = calloc((size_t)(g->n ? g->n : 1), 1);
    if (!todo && rc == FH_OK) rc = fh_err_set(err, FH_EFAIL, "out of memory");
    size_t left = 0;
    for (int k = 0; rc == FH_OK && k < g->n; k++) {
        int st = id_state(have, g->id[k]);
        if (st == 1) p.done++, p.skipped++;
        todo[k] = todo_of(st, o->retry_failed);
        left += todo[k];
    }
    double tsum = 0;
    for (int k = 0; rc == FH_OK && k < g->n; k++) {
        if (o->stop && *o->stop) break;
        if (o->max_new && p.run >= o->max_new) break;
        if (!todo[k]) continue;
        left--;

        const double *x = g->x + (size_t)k * ndof;
        if (is_molcas) {
            fh_surf_molcas_set_label(s, g->id[k]);
            int near = cache_nearest(&cache, x);
            if (near >= 0)
                fh_surf_molcas_set_guess(s, cache.file[near], cache.x + (size_t)near * ndof);
        }
        fh_surface_eval req = {.x = x, .grad_mask = o->grad_mask, .want_nac = o->want_nac && np,
                               .energy = energy, .grad = grad, .nac = nac};
        fh_err e = {0};
        double t0 = now_s();
        int r = fh_surface_evaluate(s, &req, &e);
        double wall = now_s() - t0;
        if (is_molcas) {
            fh_surf_molcas_details(s, &det, NULL);
            wall = det.wall_s; /* running time: a pause (SIGSTOP) is not the geometry's cost */
        }
        for (int i = 0; i < ndof; i++) pos[i] = x[i] * FH_BOHR_ANGSTROM;
        for (int t = 0; t < ns; t++) has_grad[t] = (o->grad_mask >> t) & 1u;

        fh_dataset_record rec = {.id = g->id[k], .origin = g->origin ? g->origin[k] : "",
                                 .status = r == FH_OK ? FH_DATASET_OK : FH_DATASET_FAILED,
                                 .wall_s = wall, .pos = pos};
        char info[FH_DATASET_INFO_LEN];
        if (r == FH_OK) {
            rec.energy = energy;
            if (o->grad_mask) {
                rec.grad = grad;
                rec.has_grad = has_grad;
            }
            if (req.want_nac) {
                rec.nac = nac;
                if (is_molcas && det.have_nac_parts) {
                    rec.nac_ci = det.nac_ci;
                    rec.nac_csf = det.nac_csf;
                }
            }
            if (is_molcas) {
                snprintf(info, sizeof info, "rasscf_iterations=%d reused_orbitals=%d",
                         det.rasscf_iterations, det.reused_orbitals);
                rec.info = info;
                if (cache.dir) cache_add(&cache, s, x, g->id[k]);
            }
        } else {
            if (is_molcas && det.log_path[0]) {
                char why[sizeof e.msg];
                drop_path(e.msg, det.log_path, why, sizeof why);
                snprintf(info, sizeof info, "log=%.120s %.130s", det.log_path, why);
            } else snprintf(info, sizeof info, "%.250s", e.msg);
            rec.info = info;
            p.failed++;
        }
        rc = fh_dataset_append(path, &rec, 1, err);
        if (rc) break;

        p.run++;
        if (r == FH_OK) p.done++;
        tsum += wall;
        p.last_s = wall;
        p.mean_s = tsum / (double)p.run;
        p.eta_s = p.mean_s * (double)left;
        p.last_id = g->id[k];
        p.last_status = r;
        p.last_msg = r == FH_OK ? "" : e.msg;
        if (o->progress) o->progress(&p, o->ctx);
    }
    if (final) {
        *final = p;
        final->last_id = NULL;
        final->last_msg = "";
    }
    cache_free(&cache);
    free(todo);
    fh_dataset_free(have);
    free(energy);
    free(grad);
    free(nac);
    free(pos);
    free(has_grad);
    return rc;
}
