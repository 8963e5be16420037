/* `fusionhop run [DECK]`: run (or resume) an ensemble of surface-hopping trajectories, serially or
 * under mpirun. Everything that can be wrong with the input is checked before any trajectory
 * starts, so a typo never costs a queue slot. */
#include "fh_app.h"
#include "fh_deck.h"
#include "fh_runner.h"
#include "fh_setup.h"
#include "fh_units.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--range") != 0) continue;
        char *end;
        if (i + 1 >= *argc || (*first = strtol(argv[i + 1], &end, 10), *end != ':') ||
            (*last = strtol(end + 1, &end, 10), *end) || *first < 0 || *last <= *first) {
            fprintf(stderr, "fusionhop run: --range needs FIRST:LAST with 0 <= FIRST < LAST\n");
            return FH_EXIT_USAGE;
        }
        memmove(argv + i, argv + i + 2, (size_t)(*argc - i - 2) * sizeof *argv);
        *argc -= 2;
        return FH_EXIT_OK;
    }
    return FH_EXIT_OK;
}

/* Reference geometry -> (optional optimisation) -> Hessian -> normal modes; computed on rank 0
 * and broadcast, since on an ab initio provider it is the expensive part. */
static int prepare_modes(fh_surface *s, const fh_deck *d, const fh_xyz *geom, fh_dyn_modes **modes,
                         fh_err *err)
{
    int rank, n = s->ndof, rc = FH_OK;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    double *x = malloc((size_t)n * sizeof *x), *H = malloc((size_t)n * (size_t)n * sizeof *H);
    if (!x || !H) rc = fh_err_set(err, FH_EFAIL, "out of memory");
    if (rc == FH_OK && rank == 0) {
        memcpy(x, geom->x, (size_t)n * sizeof *x);
        if (fh_deck_bool(d, "initial", "optimize")) {
            fh_log("fusionhop run: optimising the S0 minimum\n");
            rc = fh_dyn_optimize(s, 0, x, 1e-5, 2000, err);
        }
        if (rc == FH_OK) {
            fh_log("fusionhop run: Hessian by finite differences (%d gradients)\n", 2 * n);
            rc = fh_dyn_hessian_fd(s, 0, x, 5e-3, H, err);
        }
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rc == FH_OK) {
        MPI_Bcast(x, n, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        MPI_Bcast(H, n * n, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        rc = fh_dyn_modes_alloc(s->natoms, x, s->mass, H, 50.0 / FH_HARTREE_CM1, modes, err);
        if (rc == FH_EINPUT)
            fh_err_prefix(err, "the reference geometry (set [initial] optimize = true?): ");
    } else if (rank != 0) {
        fh_err_set(err, rc, "rank 0 failed to prepare the initial conditions");
    }
    free(x);
    free(H);
    return rc;
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
        if ((rc = prepare_modes(s, d, geom, &modes, &err)) != FH_OK) goto out;
        c.modes = modes;
    }
    outdir = fh_setup_outdir(d, deck_name, a->outdir);
    deck_text = fh_deck_resolved_text(d);
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
