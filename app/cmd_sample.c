/* `fusionhop sample DECK`: generate geometries ([sample] generator) and run the reference
 * calculations of the deck's provider on them, appending each result to the dataset as it
 * finishes. Under `mpirun -n R` rank r computes geometries r, r+R, ... with its own provider
 * (the dataset writer locks appends). Geometry k depends only on (seed, k) and ids already in the
 * dataset are skipped, so a killed run started again continues where it stopped. Lists made
 * elsewhere come in through generator = xyz (the frames' comments carry ids and origins). */
#include "fh_app.h"
#include "fh_batch.h"
#include "fh_deck.h"
#include "fh_runner.h"
#include "fh_sampling.h"
#include "fh_setup.h"
#include "fh_units.h"

#define FH_DEG (3.14159265358979323846 / 180.0) /* radians per degree */

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    printf("usage: fusionhop sample DECK [-o DATASET] [--set section.key=value]... [--retry-failed]\n\n"
           "Generate the geometries of DECK's [sample] generator and append the reference\n"
           "energies, gradients of all states and NACs of all pairs computed by its [surface]\n"
           "provider (openmolcas for real data) to DATASET (default: [sample] dataset).\n"
           "Generators: torsion (scan of [sample] dihedral from..to in count steps),\n"
           "torsion_random, twisted (random torsion + pyramidalization + noise), noise, wigner\n"
           "(normal modes of [surface] geometry, Hessian from the provider or from the ML model\n"
           "[sample] hessian_model; cached in DATASET.hessian*.txt), trajectories (frames of the\n"
           "run in [sample] source whose committee energy spread exceeds spread_min, or with\n"
           "frames = hops the last frame before each hop down to a lower state), xyz\n"
           "(the frames of the XYZ file [sample] source; comment tokens id=NAME origin=TAG) and\n"
           "dataset (the completed geometries of the dataset [sample] source, with their ids:\n"
           "the same list at another level of theory, e.g. for pretraining).\n"
           "count (default 10) caps trajectories, xyz and dataset (default: all). [sample] origin\n"
           "overrides the origin tag stored in the dataset. Query by committee: [sample]\n"
           "select_model = ML committee file orders the list by its energy spread, largest first,\n"
           "and select = N computes only the N of largest spread.\n"
           "Under `mpirun -n R` rank r computes geometries r, r+R, ...\n"
           "Running again resumes: geometries already in DATASET are skipped (failed ones too,\n"
           "unless --retry-failed). Exit status: 0 when every geometry of the list is done,\n"
           "1 when some failed (see the dataset's info column and the kept logs), 2 for input\n"
           "errors.\n\n"
           "  -o DATASET          dataset file (HDF5), created if missing\n"
           "  --set s.k=v         override a deck key (repeatable), e.g. --set sample.count=20\n"
           "  --retry-failed      recompute geometries that only have failed rows\n");
}

static int take_flag(int *argc, char **argv, const char *flag)
{
    for (int i = 1; i < *argc; i++)
        if (strcmp(argv[i], flag) == 0) {
            memmove(argv + i, argv + i + 1, (size_t)(*argc - i - 1) * sizeof *argv);
            (*argc)--;
            return 1;
        }
    return 0;
}

typedef struct {
    int rank, size;
} progress_ctx;

static void progress(const fh_batch_progress *p, void *ctx)
{
    const progress_ctx *c = ctx;
    char who[32] = "";
    if (c->size > 1) snprintf(who, sizeof who, " rank %d/%d:", c->rank, c->size);
    fprintf(stderr, "fusionhop sample:%s %zu/%zu done, %zu failed, %.3g s/geometry, ETA %.0f s%s%s%s\n",
            who, p->done, p->total, p->failed, p->mean_s, p->eta_s,
            p->last_status != FH_OK ? " (failed " : "", p->last_status != FH_OK ? p->last_id : "",
            p->last_status != FH_OK ? ")" : "");
}

/* [sample] -> generator configuration; errors name the deck. */
static int read_config(const fh_deck *d, const char *deck_name, int natoms, fh_samp_config *c,
                       fh_err *err)
{
    memset(c, 0, sizeof *c);
    const char *gen = fh_deck_string(d, "sample", "generator");
    if (!*gen || fh_samp_kind_parse(gen, &c->kind) != 0)
        return fh_err_set(err, FH_EINPUT, "%s: error: [sample] needs 'generator' (torsion, "
                          "torsion_random, twisted, noise, wigner, trajectories, xyz or dataset)", deck_name);
    /* unset count: 10 geometries, or every frame of a list (trajectories, xyz, dataset) */
    int frames = fh_samp_kind_takes_list(c->kind);
    c->count = fh_deck_has(d, "sample", "count") ? fh_deck_int(d, "sample", "count") : frames ? 0 : 10;
    c->seed = (uint64_t)fh_deck_int(d, "sample", "seed");
    c->from = fh_deck_real(d, "sample", "from") * FH_DEG;
    c->to = fh_deck_real(d, "sample", "to") * FH_DEG;
    c->noise = fh_deck_real(d, "sample", "noise");
    c->pyramid = fh_deck_real(d, "sample", "pyramid");
    c->temperature = fh_deck_real(d, "sample", "temperature");
    c->optimize = fh_deck_bool(d, "sample", "optimize");
    c->hessian_model = fh_deck_string(d, "sample", "hessian_model");
    c->origin = fh_deck_string(d, "sample", "origin");
    c->source = fh_deck_string(d, "sample", "source");
    c->spread_min = fh_deck_real(d, "sample", "spread_min");
    c->at_hops = strcmp(fh_deck_string(d, "sample", "frames"), "hops") == 0;
    c->stride = (int)fh_deck_int(d, "sample", "stride");
    c->bond_break = fh_deck_real(d, "sample", "bond_break");
    if (c->kind == FH_SAMP_TORSION || c->kind == FH_SAMP_TORSION_RANDOM || c->kind == FH_SAMP_TWISTED) {
        const char *s = fh_deck_string(d, "sample", "dihedral");
        char extra;
        if (sscanf(s, "%d %d %d %d %c", &c->dihedral[0], &c->dihedral[1], &c->dihedral[2],
                   &c->dihedral[3], &extra) != 4)
            return fh_err_set(err, FH_EINPUT, "%s: error: [sample] generator = %s needs dihedral "
                              "= 'a b c d' (four atom numbers, 1-based), not '%s'", deck_name, gen, s);
        for (int i = 0; i < 4; i++) c->dihedral[i]--;
    }
    int rc = fh_samp_config_check(c, natoms, err);
    if (rc != FH_OK) fh_err_prefix(err, "%s: error: [sample]: ", deck_name);
    return rc;
}

static void level_of_theory(const fh_deck *d, const fh_surface *s, char *buf, size_t n)
{
    const char *type = fh_deck_string(d, "surface", "type");
    if (strcmp(type, "openmolcas") == 0)
        snprintf(buf, n, "SA%d-CASSCF(%ld,%ld)/%s", s->nstates, fh_deck_int(d, "openmolcas", "nactel"),
                 fh_deck_int(d, "openmolcas", "nactorb"), fh_deck_string(d, "openmolcas", "basis"));
    else if (strcmp(type, "ml") == 0) {
        const char *m = fh_deck_string(d, "surface", "model"), *b = strrchr(m, '/');
        snprintf(buf, n, "ml:%s", b ? b + 1 : m);
    } else
        snprintf(buf, n, "%s", type);
}

/* [sample] diverse: keep `keep` geometries, farthest first from the dataset's completed rows. The
 * rows whose ids are in the list (computed by an earlier run of this same deck) are not
 * references, so that a resumed run picks the same geometries again. */
static int select_diverse(fh_samp_set *set, const char *dataset, long keep, fh_err *err)
{
    fh_dataset *d = NULL;
    FILE *probe = fopen(dataset, "rb");
    if (probe) {
        fclose(probe);
        int rc = fh_dataset_read(dataset, &d, err);
        if (rc != FH_OK) return rc;
        if (d->natoms != set->natoms) {
            int na = d->natoms;
            fh_dataset_free(d);
            return fh_err_set(err, FH_EINPUT, "%s has %d atoms, the geometries %d", dataset, na,
                              set->natoms);
        }
    }
    const size_t n3 = 3 * (size_t)set->natoms, nrow = d ? d->n : 0;
    double *ref = malloc(sizeof *ref * (nrow + 1) * n3);
    double *dist = malloc(sizeof *dist * ((size_t)set->n + 1));
    int nref = 0, before = set->n, rc = FH_OK;
    if (!ref || !dist) rc = fh_err_set(err, FH_EFAIL, "out of memory");
    for (size_t r = 0; rc == FH_OK && r < nrow; r++) {
        int own = 0;
        for (int k = 0; k < set->n && !own; k++) own = strcmp(d->id[r], set->id[k]) == 0;
        if (own || d->status[r] != FH_DATASET_OK) continue;
        for (size_t i = 0; i < n3; i++) ref[nref * n3 + i] = d->pos[r * n3 + i] / FH_BOHR_ANGSTROM;
        nref++;
    }
    if (rc == FH_OK) rc = fh_samp_select_diverse(set, ref, nref, keep, dist, err);
    if (rc == FH_OK && set->n > 0)
        fh_log("fusionhop sample: %d of %d geometries picked farthest from %d dataset rows and "
               "each other (distance at the pick, RMSD: first %.3f, last %.3f Angstrom)\n", set->n,
               before, nref, dist[0] * FH_BOHR_ANGSTROM, dist[set->n - 1] * FH_BOHR_ANGSTROM);
    free(ref);
    free(dist);
    fh_dataset_free(d);
    return rc;
}

static int sample(const fh_deck_args *a, int retry_failed)
{
    fh_err err = {0};
    fh_deck *d = NULL;
    fh_surface *s = NULL;
    fh_xyz *geom = NULL;
    fh_samp_set *set = NULL;
    char *cache = NULL, *orbitals = NULL;
    const char **ids = NULL, **orig = NULL;
    double *xs = NULL;
    unsigned char *todo = NULL;
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int rc = fh_deck_args_load(a, &d);
    if (rc != FH_EXIT_OK) return rc;
    const char *deck_name = a->deck;
    fh_samp_config c;
    const char *dataset = a->outdir ? a->outdir : fh_deck_string(d, "sample", "dataset");
    if (!fh_deck_is_sampling(d)) {
        rc = fh_err_set(&err, FH_EINPUT, "%s: error: a sampling deck needs a [sample] section",
                        deck_name);
        goto out;
    }
    if (!*dataset) {
        rc = fh_err_set(&err, FH_EINPUT, "%s: error: no dataset: set [sample] dataset or give -o",
                        deck_name);
        goto out;
    }
    if ((rc = fh_setup_surface(d, deck_name, &s, &geom, &err)) != FH_OK) goto out;
    if (!geom || s->natoms < 1) {
        rc = fh_err_set(&err, FH_EINPUT, "%s: error: [surface] type = %s is not a molecule; "
                        "sampling needs a molecular provider and [surface] geometry", deck_name,
                        s->name);
        goto out;
    }
    if ((rc = read_config(d, deck_name, s->natoms, &c, &err)) != FH_OK) goto out;

    size_t len = strlen(dataset) + 32;
    orbitals = malloc(len);
    if (!orbitals) {
        rc = fh_err_set(&err, FH_EFAIL, "out of memory");
        goto out;
    }
    snprintf(orbitals, len, "%s.orbitals", dataset);
    if ((rc = fh_samp_hessian_cache_path(&c, dataset, &cache, &err)) != FH_OK) {
        fh_err_prefix(&err, "%s: error: [sample] ", deck_name);
        goto out;
    }

    /* rank 0 first: it alone computes (and caches) a Hessian; the others then read the cache */
    for (int turn = 0; turn < 2; turn++) {
        if ((turn == 0) == (rank == 0)) {
            if (c.kind == FH_SAMP_WIGNER && rank == 0)
                fh_log("fusionhop sample: normal modes (Hessian from %d gradients of %s unless "
                       "cached in %s)\n", 2 * s->ndof, *c.hessian_model ? c.hessian_model :
                       "the provider", cache);
            rc = fh_samp_generate(&c, s, s->natoms, s->z, geom->x, cache, &set, &err);
        }
        int r0 = rc;
        MPI_Bcast(&r0, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (r0 != FH_OK) {
            if (rank != 0) rc = fh_err_set(&err, r0, "rank 0 failed to generate the geometries");
            goto out;
        }
    }
    int bad = rc != FH_OK, anybad = 0;
    MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (anybad) {
        if (rc == FH_OK) rc = fh_err_set(&err, FH_EFAIL, "another rank failed to generate the geometries");
        goto out;
    }

    if (set->dropped > 0)
        fh_log("fusionhop sample: %d generated geometries left out: atoms not bonded in [surface] "
               "geometry closer than their covalent radii\n", set->dropped);
    if (set->apart > 0)
        fh_log("fusionhop sample: %d frames left out: the molecule had fallen apart ([sample] "
               "bond_break)\n", set->apart);
    /* query by committee: every rank orders its (identical) list the same way */
    const char *select_model = fh_deck_string(d, "sample", "select_model");
    if (!*select_model && fh_deck_int(d, "sample", "select") > 0) {
        rc = fh_err_set(&err, FH_EINPUT, "%s: error: [sample] select needs select_model (the "
                        "committee whose spread selects)", deck_name);
        goto out;
    }
    if (*select_model) {
        int before = set->n;
        double *spread = NULL;
        rc = fh_samp_select_by_spread(set, s->z, select_model, fh_deck_int(d, "sample", "select"),
                                      &spread, &err);
        if (rc != FH_OK) {
            fh_err_prefix(&err, "%s: error: [sample] ", deck_name);
            free(spread);
            goto out;
        }
        if (set->n > 0)
            fh_log("fusionhop sample: %d of %d geometries selected by the committee spread of %s "
                   "(%.3f..%.3f eV)\n", set->n, before, select_model,
                   spread[set->n - 1] * FH_HARTREE_EV, spread[0] * FH_HARTREE_EV);
        free(spread);
    }
    if (fh_deck_int(d, "sample", "diverse") > 0 &&
        (rc = select_diverse(set, dataset, fh_deck_int(d, "sample", "diverse"), &err)) != FH_OK) {
        fh_err_prefix(&err, "%s: error: [sample] diverse: ", deck_name);
        goto out;
    }
    char level[300];
    level_of_theory(d, s, level, sizeof level);
    /* create the dataset once, before the ranks append concurrently */
    int n3 = 3 * s->natoms, mine = 0;
    todo = calloc((size_t)set->n + 1, 1);
    ids = calloc((size_t)set->n + 1, sizeof *ids);
    orig = calloc((size_t)set->n + 1, sizeof *orig);
    xs = malloc(((size_t)set->n + 1) * (size_t)n3 * sizeof *xs);
    if (!todo || !ids || !orig || !xs) {
        rc = fh_err_set(&err, FH_EFAIL, "out of memory");
        goto out;
    }
    for (int k = 0; k < set->n; k++) ids[k] = set->id[k], orig[k] = set->origin[k];
    fh_batch_geoms all = {.n = set->n, .natoms = s->natoms, .x = set->x, .id = ids, .origin = orig};
    int r0 = FH_OK;
    if (rank == 0) {
        r0 = fh_dataset_open_or_create(dataset, s->natoms, s->nstates, s->z, level, &err);
        if (r0 == FH_OK) r0 = fh_surf_batch_todo(dataset, &all, retry_failed, todo, &err);
    }
    MPI_Bcast(&r0, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (r0 != FH_OK) {
        rc = rank == 0 ? r0 : fh_err_set(&err, r0, "rank 0 could not open the dataset");
        goto out;
    }
    MPI_Bcast(todo, set->n, MPI_UNSIGNED_CHAR, 0, MPI_COMM_WORLD);

    /* this rank's share of what is left to do (a resumed run keeps both ranks busy):
     * pending geometries rank, rank+size, ... */
    int pending = 0; /* compacted in place: entry mine <= k */
    for (int k = 0; k < set->n; k++) {
        if (!todo[k]) continue;
        if (pending++ % size != rank) continue;
        ids[mine] = set->id[k];
        orig[mine] = set->origin[k];
        memcpy(xs + (size_t)mine * n3, set->x + (size_t)k * n3, (size_t)n3 * sizeof *xs);
        mine++;
    }
    fh_log("fusionhop sample: %d geometries (%s) of %s on %d rank%s into %s; %d to compute\n",
           set->n, fh_samp_kind_name(c.kind), level, size, size > 1 ? "s" : "", dataset, pending);

    fh_batch_geoms g = {.n = mine, .natoms = s->natoms, .x = xs, .id = ids, .origin = orig};
    progress_ctx pc = {rank, size};
    fh_batch_opts o = {.want_nac = (s->caps & FH_CAP_NAC) && s->nstates > 1,
                       .retry_failed = retry_failed,
                       .orbital_cache = strcmp(s->name, "openmolcas") == 0 ? orbitals : NULL,
                       .progress = progress,
                       .ctx = &pc};
    if (s->caps & FH_CAP_GRADIENT)
        for (int st = 0; st < s->nstates; st++) o.grad_mask |= 1u << st;
    fh_batch_progress fin = {0};
    if (mine > 0) rc = fh_surf_batch_run(s, dataset, level, &g, &o, &fin, &err);
    else fin.total = 0;

    /* totals over the ranks; the geometries done before this run are counted once, here */
    unsigned long loc[5] = {fin.total, fin.done, fin.skipped, fin.failed, (unsigned long)(rc != FH_OK)},
                  tot[5];
    if (rank == 0) {
        unsigned long before = (unsigned long)(set->n - pending);
        loc[0] += before, loc[1] += before, loc[2] += before;
    }
    fh_run_wait_all(MPI_COMM_WORLD); /* ranks done early sleep instead of spinning */
    MPI_Allreduce(loc, tot, 5, MPI_UNSIGNED_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (rc != FH_OK) goto out;
    if (tot[4]) {
        rc = fh_err_set(&err, FH_EFAIL, "another rank failed (see its messages)");
        goto out;
    }
    fh_log("fusionhop sample: %lu/%lu done (%lu already there), %lu failed in this run\n",
           tot[1], tot[0], tot[2], tot[3]);
    if (tot[1] < tot[0]) rc = fh_err_set(&err, FH_EFAIL, "%lu geometries are not done",
                                              tot[0] - tot[1]);
out:
    if (rc != FH_OK && err.msg[0]) {
        if (rank == 0 || rc != FH_EINPUT) fprintf(stderr, "fusionhop sample: %s\n", err.msg);
    }
    free(ids);
    free(orig);
    free(xs);
    free(todo);
    free(cache);
    free(orbitals);
    fh_samp_set_free(set);
    fh_xyz_free(geom);
    fh_surface_free(s);
    fh_deck_free(d);
    return rc == FH_OK ? FH_EXIT_OK : rc == FH_EINPUT ? FH_EXIT_USAGE : FH_EXIT_FAIL;
}

int fh_cmd_sample(int argc, char **argv)
{
    if (fh_wants_help(argc, argv)) {
        usage();
        return FH_EXIT_OK;
    }
    int retry = take_flag(&argc, argv, "--retry-failed");
    fh_deck_args a;
    int rc = fh_deck_args_parse(argc, argv, &a);
    if (rc != FH_EXIT_OK) return rc;
    if (!a.deck || a.force) {
        fprintf(stderr, "fusionhop sample: %s\n", !a.deck ? "needs a DECK (see fusionhop sample "
                "--help)" : "--force is not an option of sample (the dataset is only appended to)");
        fh_deck_args_free(&a);
        return FH_EXIT_USAGE;
    }
    int init = 0;
    MPI_Initialized(&init);
    if (!init) MPI_Init(NULL, NULL);
    rc = sample(&a, retry);
    fh_deck_args_free(&a);
    if (!init) MPI_Finalize();
    return rc;
}
