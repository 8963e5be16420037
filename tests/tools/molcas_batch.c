/* TEMPORARY driver until `fusionhop sample` exists: runs every frame of a multi-frame XYZ file
 * through the OpenMolcas provider and appends the results to a dataset file, resumably (ids
 * already done are skipped). The id and origin of a frame come from its comment line
 * ("id=NAME origin=TAG ..."); frames without an id are named frameNNNNN. One progress line per
 * geometry on stdout. SIGINT/SIGTERM stop it after the current geometry.
 *
 *   molcas_batch --xyz GEOMS.xyz --dataset DATA.h5 [--basis 6-31G] [--nactel 2] [--nactorb 2]
 *                [--inactive 47] [--nstates 2] [--charge 0] [--spin 1] [--memory MB]
 *                [--scratch DIR] [--keep-dir DIR] [--timeout S] [--no-reuse] [--max N]
 *                [--retry-failed] [--level TEXT] [--orbital-cache DIR] */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fh_batch.h"
#include "fh_dataset.h"
#include "fh_surfaces.h"
#include "fh_xyz.h"

static volatile sig_atomic_t stop_flag = 0;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void progress(const fh_batch_progress *p, void *ctx)
{
    (void)ctx;
    time_t t = time(NULL);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", localtime(&t));
    printf("%s %zu/%zu done, %zu failed this run, last %.1f s (%s%s%s), mean %.1f s/geometry, "
           "ETA %.1f h\n",
           ts, p->done, p->total, p->failed, p->last_s, p->last_id ? p->last_id : "",
           p->last_status ? " FAILED: " : "", p->last_status ? p->last_msg : "", p->mean_s,
           p->eta_s / 3600.0);
    fflush(stdout);
}

/* Value of key=VALUE in a comment line (copied into buf), or NULL. */
static const char *comment_value(const char *comment, const char *key, char *buf, size_t size)
{
    size_t kl = strlen(key);
    for (const char *p = comment; p && *p; p++) {
        if ((p == comment || p[-1] == ' ' || p[-1] == '\t') && !strncmp(p, key, kl) &&
            p[kl] == '=') {
            p += kl + 1;
            size_t n = strcspn(p, " \t\r\n");
            if (n >= size) n = size - 1;
            memcpy(buf, p, n);
            buf[n] = '\0';
            return buf;
        }
    }
    return NULL;
}

static int usage(void)
{
    fprintf(stderr, "usage: molcas_batch --xyz GEOMS.xyz --dataset DATA.h5 [options] "
                    "(see the top of tests/tools/molcas_batch.c)\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *xyz_path = NULL, *data_path = NULL, *level = NULL;
    fh_surface_config cfg = {.type = "openmolcas", .nstates = 2};
    fh_molcas_config *mc = &cfg.molcas;
    mc->basis = "6-31G";
    mc->nactel = 2;
    mc->nactorb = 2;
    mc->ninactive = -1;
    mc->spin = 1;
    mc->memory_mb = 2000;
    mc->threads = 1;
    mc->scratch = "/dev/shm";
    mc->reuse_orbitals = 1;
    mc->timeout_s = 3600;
    fh_batch_opts o = {.grad_mask = 0, .want_nac = 1, .stop = &stop_flag,
                       .progress = progress};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int used = 1;
        if (!strcmp(a, "--xyz") && v) xyz_path = v;
        else if (!strcmp(a, "--dataset") && v) data_path = v;
        else if (!strcmp(a, "--basis") && v) mc->basis = v;
        else if (!strcmp(a, "--nactel") && v) mc->nactel = atoi(v);
        else if (!strcmp(a, "--nactorb") && v) mc->nactorb = atoi(v);
        else if (!strcmp(a, "--inactive") && v) mc->ninactive = atoi(v);
        else if (!strcmp(a, "--nstates") && v) cfg.nstates = atoi(v);
        else if (!strcmp(a, "--charge") && v) mc->charge = atoi(v);
        else if (!strcmp(a, "--spin") && v) mc->spin = atoi(v);
        else if (!strcmp(a, "--memory") && v) mc->memory_mb = atoi(v);
        else if (!strcmp(a, "--scratch") && v) mc->scratch = v;
        else if (!strcmp(a, "--keep-dir") && v) mc->keep_dir = v;
        else if (!strcmp(a, "--timeout") && v) mc->timeout_s = atof(v);
        else if (!strcmp(a, "--max") && v) o.max_new = (size_t)atol(v);
        else if (!strcmp(a, "--level") && v) level = v;
        else if (!strcmp(a, "--orbital-cache") && v) o.orbital_cache = v;
        else if (!strcmp(a, "--no-reuse")) mc->reuse_orbitals = 0, used = 0;
        else if (!strcmp(a, "--retry-failed")) o.retry_failed = 1, used = 0;
        else return usage();
        i += used;
    }
    if (!xyz_path || !data_path) return usage();

    fh_err err = {0};
    fh_xyz *xyz = NULL;
    if (fh_xyz_read(xyz_path, &xyz, &err)) {
        fprintf(stderr, "molcas_batch: %s\n", err.msg);
        return err.code;
    }
    cfg.natoms = xyz->natoms;
    cfg.z = xyz->z;
    if (mc->ninactive < 0) { /* default: every electron outside the active space paired */
        int nel = -mc->charge;
        for (int a = 0; a < xyz->natoms; a++) nel += xyz->z[a];
        mc->ninactive = (nel - mc->nactel) / 2;
    }
    char lvl[256];
    if (!level) {
        snprintf(lvl, sizeof lvl, "SA%d-CASSCF(%d,%d)/%s", cfg.nstates, mc->nactel, mc->nactorb,
                 mc->basis);
        level = lvl;
    }
    for (int s = 0; s < cfg.nstates; s++) o.grad_mask |= 1u << s;

    int n = xyz->nframes;
    char **ids = calloc((size_t)n, sizeof *ids), **origins = calloc((size_t)n, sizeof *origins);
    for (int k = 0; k < n; k++) {
        char buf[128];
        const char *id = comment_value(xyz->comments[k], "id", buf, sizeof buf);
        if (id) ids[k] = strdup(id);
        else {
            snprintf(buf, sizeof buf, "frame%05d", k);
            ids[k] = strdup(buf);
        }
        const char *org = comment_value(xyz->comments[k], "origin", buf, sizeof buf);
        origins[k] = strdup(org ? org : "");
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    fh_surface *s = NULL;
    int rc = fh_surface_alloc(&cfg, &s, &err);
    if (rc == FH_OK) {
        fh_batch_geoms g = {.n = n, .natoms = xyz->natoms, .x = xyz->x,
                            .id = (const char *const *)ids,
                            .origin = (const char *const *)origins};
        fh_batch_progress fin;
        printf("molcas_batch: %d geometries from %s into %s (%s)\n", n, xyz_path, data_path,
               level);
        fflush(stdout);
        rc = fh_surf_batch_run(s, data_path, level, &g, &o, &fin, &err);
        printf("molcas_batch: %s: %zu/%zu done (%zu skipped as already done), %zu failed this "
               "run, mean %.1f s/geometry\n", stop_flag ? "stopped" : "finished", fin.done,
               fin.total, fin.skipped, fin.failed, fin.mean_s);
    }
    if (rc) fprintf(stderr, "molcas_batch: %s\n", err.msg);
    fh_surface_free(s);
    for (int k = 0; k < n; k++) {
        free(ids[k]);
        free(origins[k]);
    }
    free(ids);
    free(origins);
    fh_xyz_free(xyz);
    return rc;
}
