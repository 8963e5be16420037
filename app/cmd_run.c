/* `fusionhop run [DECK]`: run (or resume) an ensemble of surface-hopping trajectories, serially or
 * under mpirun. Everything that can be wrong with the input is checked before any trajectory
 * starts, so a typo never costs a queue slot. */
#include "fh_app.h"
#include "fh_deck.h"
#include "fh_file.h"
#include "fh_model.h"
#include "fh_runner.h"
#include "fh_sampling.h"
#include "fh_setup.h"
#include "fh_units.h"

#include <errno.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(void)
{
    printf("usage: fusionhop run [DECK] [-o DIR] [--set section.key=value]... [--force]\n"
           "                    [--range FIRST:LAST]\n\n"
           "Run the ensemble of surface-hopping trajectories that DECK describes (default: the\n"
           "embedded default deck, a Tully model-1 ensemble). Under `mpirun -n R` trajectories are\n"
           "handed out dynamically to R ranks; results do not depend on R.\n\n"
           "Output (DIR, default ./<deck name>): ensemble.h5 (index: status and stop reason of\n"
           "every trajectory, resolved deck) and traj/traj_NNNNNN.h5 (H5MD, one per trajectory).\n"
           "Running again on an existing DIR resumes: finished trajectories are skipped, partial\n"
           "ones continue from their last checkpoint. --force starts over instead.\n\n"
           "  -o DIR              output directory\n"
           "  --set s.k=v         override a deck key (repeatable), e.g. --set dynamics.ntraj=4\n"
           "  --force             overwrite an existing run in DIR\n"
           "  --range FIRST:LAST  run only trajectory indices FIRST..LAST-1 (job arrays writing\n"
           "                      into one DIR; see README)\n");
}

/* Pull `--range A:B` out of argv (other options are shared with every deck command). */
static int take_range(int *argc, char **argv, long *first, long *last)
{
    int seen = 0;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--range") != 0) continue;
        if (seen) {
            fprintf(stderr, "fusionhop run: option --range given twice\n");
            return FH_EXIT_USAGE;
        }
        seen = 1;
        char *end;
        if (i + 1 >= *argc || (*first = strtol(argv[i + 1], &end, 10), *end != ':') ||
            (*last = strtol(end + 1, &end, 10), *end) || *first < 0 || *last <= *first) {
            fprintf(stderr, "fusionhop run: --range needs FIRST:LAST with 0 <= FIRST < LAST\n");
            return FH_EXIT_USAGE;
        }
        memmove(argv + i, argv + i + 2, (size_t)(*argc - i - 2) * sizeof *argv);
        *argc -= 2;
        i--;
    }
    return FH_EXIT_OK;
}

/* Reference geometry -> (optional optimisation) -> Hessian -> normal modes, from the provider or
 * from the ML model [initial] hessian_model (an ab initio provider's finite-difference Hessian
 * costs 2 x 3N gradients: hours for OpenMolcas). Why the cache: rank 0 computes it once and keeps
 * it in OUTDIR/initial-hessian-<hash of the resolved deck>.txt, so that the other ranks, a resumed
 * run and job-array tasks started after it read it instead of computing it again (tasks started
 * together each compute the same one); another deck, another file. */
static int prepare_modes(fh_surface *s, const fh_deck *d, const fh_xyz *geom, const char *outdir,
                         const char *deck_text, fh_dyn_modes **modes, fh_err *err)
{
    int rank, rc = FH_OK;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    uint64_t h = fh_model_fnv1a(deck_text, deck_text ? strlen(deck_text) : 0, FH_MODEL_FNV_INIT);
    char cache[4200];
    snprintf(cache, sizeof cache, "%s/initial-hessian-%016llx.txt", outdir, (unsigned long long)h);
    const char *model = fh_deck_string(d, "initial", "hessian_model");
    fh_surface *src = s, *ml = NULL;
    if (*model) {
        fh_surface_config sc = {.type = "ml", .natoms = s->natoms, .z = s->z, .model_file = model};
        rc = fh_surface_alloc(&sc, &ml, err);
        if (rc != FH_OK) {
            fh_err_prefix(err, "[initial] hessian_model %s: ", model);
            return rc;
        }
        src = ml;
    }
    int optimize = fh_deck_bool(d, "initial", "optimize");
    /* rank 0 first (it computes and writes the cache), then the others (they read it) */
    for (int turn = 0; turn < 2; turn++) {
        if ((turn == 0) == (rank == 0)) {
            if (rank == 0) {
                if (fh_file_mkdirs(outdir) != 0)
                    rc = fh_err_set(err, FH_EFAIL, "cannot create %s: %s", outdir, strerror(errno));
                else if (access(cache, R_OK) == 0)
                    fh_log("fusionhop run: normal modes from the Hessian in %s\n", cache);
                else if (optimize)
                    fh_log("fusionhop run: optimising the S0 minimum of %s, then its Hessian by "
                           "finite differences (%d gradients), kept in %s\n",
                           *model ? model : "the provider", 2 * s->ndof, cache);
                else
                    fh_log("fusionhop run: Hessian of %s by finite differences (%d gradients), "
                           "kept in %s\n", *model ? model : "the provider", 2 * s->ndof, cache);
            }
            if (rc == FH_OK) rc = fh_samp_modes_alloc(src, geom->x, optimize, cache, modes, err);
        }
        int r0 = rc;
        MPI_Bcast(&r0, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (r0 != FH_OK) {
            if (rank != 0) rc = fh_err_set(err, r0, "rank 0 failed to prepare the initial conditions");
            break;
        }
    }
    if (rc == FH_EINPUT && *model) fh_err_prefix(err, "[initial] hessian_model %s: ", model);
    fh_surface_free(ml);
    return rc;
}

/* An existing file where the output directory should be is an input error, not an I/O failure. */
static int check_outdir(const char *outdir, fh_err *err)
{
    struct stat st;
    if (!outdir) return fh_err_set(err, FH_EFAIL, "out of memory");
    if (stat(outdir, &st) == 0 && !S_ISDIR(st.st_mode))
        return fh_err_set(err, FH_EINPUT, "%s: not a directory (the output directory of the run; "
                          "see -o or [output] dir)", outdir);
    return FH_OK;
}

static int run(const fh_deck_args *a, long first, long last)
{
    fh_err err = {0};
    fh_deck *d = NULL;
    fh_surface *s = NULL;
    fh_xyz *geom = NULL;
    fh_dyn_modes *modes = NULL;
    char *outdir = NULL, *deck_text = NULL;
    double *x0 = NULL, *v0 = NULL;
    const char *deck_name = a->deck ? a->deck : "inputs/default.inp";
    int rc = fh_deck_args_load(a, &d);
    if (rc != FH_EXIT_OK) return rc;

    fh_run_config c = {0};
    if (!fh_deck_has(d, "surface", "type") || !fh_deck_has(d, "dynamics", "tmax")) {
        rc = fh_err_set(&err, FH_EINPUT, "%s: error: a run needs [surface] type and [dynamics] "
                        "tmax (this is a %s deck)", deck_name,
                        fh_deck_is_training(d) ? "training" : "sampling");
        goto out;
    }
    if ((rc = fh_setup_surface(d, deck_name, &s, &geom, &err)) != FH_OK) goto out;
    if ((rc = fh_setup_dyn_params(d, &c.dyn, &err)) != FH_OK) {
        fh_err_prefix(&err, "%s: [dynamics]: ", deck_name);
        goto out;
    }
    c.seed = (uint64_t)fh_deck_int(d, "initial", "seed");
    c.ntraj = fh_deck_int(d, "dynamics", "ntraj");
    c.first = first;
    c.last = last;
    if (last > c.ntraj) {
        rc = fh_err_set(&err, FH_EINPUT, "--range %ld:%ld goes beyond ntraj = %ld", first, last,
                        c.ntraj);
        goto out;
    }
    c.state = (int)fh_deck_int(d, "initial", "state");
    if (c.state >= s->nstates) {
        rc = fh_err_set(&err, FH_EINPUT, "%s: error: [initial] state = %d, but the provider has %d "
                        "states (0..%d)", deck_name, c.state, s->nstates, s->nstates - 1);
        goto out;
    }
    c.window_min = fh_deck_has(d, "initial", "window_min") ? fh_deck_real(d, "initial", "window_min") : 0;
    c.window_max = fh_deck_has(d, "initial", "window_max") ? fh_deck_real(d, "initial", "window_max") : 0;
    if (fh_deck_has(d, "initial", "window_min") != fh_deck_has(d, "initial", "window_max") ||
        (fh_deck_has(d, "initial", "window_max") && c.window_max <= c.window_min)) {
        rc = fh_err_set(&err, FH_EINPUT, "%s: error: [initial] needs both window_min and "
                        "window_max, with window_min < window_max", deck_name);
        goto out;
    }
    c.temperature = fh_deck_real(d, "initial", "temperature");
    c.sampling = strcmp(fh_deck_string(d, "initial", "sampling"), "fixed") == 0
                     ? FH_RUN_SAMPLING_FIXED : FH_RUN_SAMPLING_WIGNER;
    x0 = calloc((size_t)s->ndof, sizeof *x0);
    v0 = calloc((size_t)s->ndof, sizeof *v0);
    if (c.sampling == FH_RUN_SAMPLING_FIXED) {
        if (geom) memcpy(x0, geom->x, (size_t)s->ndof * sizeof *x0);
        if (!geom) {
            x0[0] = fh_deck_real(d, "initial", "position");
            v0[0] = fh_deck_real(d, "initial", "momentum") / s->mass[0];
        }
        c.x0 = x0;
        c.v0 = v0;
    } else {
        if (!geom) {
            rc = fh_err_set(&err, FH_EINPUT, "%s: error: [initial] sampling = wigner needs a "
                            "molecule; model surface '%s' needs sampling = fixed", deck_name, s->name);
            goto out;
        }
        outdir = fh_setup_outdir(d, deck_name, a->outdir);
        deck_text = fh_deck_resolved_text(d);
        if ((rc = check_outdir(outdir, &err)) != FH_OK) goto out;
        if ((rc = prepare_modes(s, d, geom, outdir, deck_text, &modes, &err)) != FH_OK) goto out;
        c.modes = modes;
    }
    if (!outdir) outdir = fh_setup_outdir(d, deck_name, a->outdir);
    if (!deck_text) deck_text = fh_deck_resolved_text(d);
    if ((rc = check_outdir(outdir, &err)) != FH_OK) goto out;
    c.outdir = outdir;
    c.deck_text = deck_text;
    c.frame_every = (int)fh_deck_int(d, "output", "frame_every");
    c.flush_every = (int)fh_deck_int(d, "output", "flush_every");
    c.checkpoint_every = (int)fh_deck_int(d, "output", "checkpoint_every");
    c.force = a->force;
    c.progress = 1;

    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    fh_log("fusionhop run: %ld trajectories of %s on %d rank%s into %s/\n", c.ntraj, s->name, size,
           size > 1 ? "s" : "", outdir);
    fh_run_summary sum;
    rc = fh_run_ensemble(s, &c, MPI_COMM_WORLD, &sum, &err);
    if (rc == FH_OK)
        fh_log("fusionhop run: %ld done, %ld failed, %ld already finished; %ld steps in %.1f s "
               "(%.0f trajectory-steps/s)\n", sum.done, sum.failed, sum.skipped, sum.steps,
               sum.seconds, sum.seconds > 0 ? (double)sum.steps / sum.seconds : 0.0);
out:
    if (rc != FH_OK) fh_log("fusionhop run: %s\n", err.msg);
    free(x0);
    free(v0);
    free(outdir);
    free(deck_text);
    fh_dyn_modes_free(modes);
    fh_xyz_free(geom);
    fh_surface_free(s);
    fh_deck_free(d);
    return rc == FH_OK ? FH_EXIT_OK : rc == FH_EINPUT ? FH_EXIT_USAGE : FH_EXIT_FAIL;
}

int fh_cmd_run(int argc, char **argv)
{
    if (fh_wants_help(argc, argv)) {
        usage();
        return FH_EXIT_OK;
    }
    long first = 0, last = 0;
    int rc = take_range(&argc, argv, &first, &last);
    fh_deck_args a;
    if (rc == FH_EXIT_OK) rc = fh_deck_args_parse(argc, argv, &a);
    if (rc == FH_EXIT_OK && a.force && last > 0) {
        /* --force recreates the whole index, which would reset the other tasks' records */
        fprintf(stderr, "fusionhop run: --force cannot be combined with --range; start over "
                        "without --range (or remove the output directory) first\n");
        fh_deck_args_free(&a);
        rc = FH_EXIT_USAGE;
    }
    if (rc != FH_EXIT_OK) return rc;
    int init = 0;
    MPI_Initialized(&init);
    if (!init) MPI_Init(NULL, NULL);
    rc = run(&a, first, last);
    fh_deck_args_free(&a);
    if (!init) MPI_Finalize();
    return rc;
}
