/* `fusionhop dataset`: look after a reference dataset without writing code. `info` counts rows per
 * origin with their cost and S1-S0 gap range (and, with --seed, how the training split by id
 * divides them, small gaps included: the NAC target is measured on test geometries with gaps
 * below 1 eV); `export` writes the geometries as a multi-frame XYZ file whose comment lines
 * (id=, origin=) `fusionhop sample` generator = xyz reads back; `withdraw` turns the rows of
 * given ids into failed rows (a calculation found wrong), so that training skips them and
 * `fusionhop sample --retry-failed` recomputes them. */
#include "fh_app.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fh_dataset.h"
#include "fh_file.h"
#include "fh_train.h"
#include "fh_units.h"
#include "fh_xyz.h"

#define MAX_ORIGINS 64
#define SMALL_GAP_EV 1.0

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fusionhop dataset info FILE [--seed S]\n"
            "       fusionhop dataset export FILE -o OUT.xyz [--origin TAG]\n"
            "       fusionhop dataset withdraw FILE --note TEXT ID...\n"
            "       fusionhop dataset errors FILE --model MODEL [--origin TAG] [--new | --trained]\n"
            "                                [--split train|valid|test [--seed S]] [--rows]\n"
            "                                [--member K] [--compare MODEL2]\n\n"
            "info      rows per origin: completed, failed, seconds per geometry, S1-S0 gap range\n"
            "          (eV) and the number of geometries with a gap below 1 eV; with --seed S, how\n"
            "          `fusionhop train` (seed S, train_fraction 0.8, valid_fraction 0.1) splits them\n"
            "export    the completed geometries as a multi-frame XYZ file (Angstrom; comment lines\n"
            "          id=ID origin=TAG E=E0,E1,... hartree), only those of one origin with --origin\n"
            "withdraw  mark the completed rows of each ID failed, with TEXT as the note: training\n"
            "          skips them, `fusionhop sample --retry-failed` computes them again\n"
            "errors    MODEL's committee-mean errors per origin: energy MAE per state, gap MAE\n"
            "          (meV), force MAE (meV/A), phase-free NAC cosine where the gap < 1 eV;\n"
            "          --new: only the rows added after those MODEL was trained on (checked by\n"
            "          the dataset checksum in the model file): an out-of-sample test;\n"
            "          --trained: only the rows MODEL was trained on (checked the same way): with\n"
            "          --split test, its training's test report on a dataset that has grown since;\n"
            "          --split PART: only the rows `fusionhop train` put into PART (the model's\n"
            "          seed, or --seed S; fractions 0.8 / 0.1): with PART test, the test report;\n"
            "          --rows: also one line per row (reference gap in eV, its errors, its NAC cosine);\n"
            "          --member K: committee member K (1-based) alone instead of the mean;\n"
            "          under the table, 95%% bootstrap intervals over the rows (1000 resamples);\n"
            "          --compare MODEL2: MODEL2 on the same rows, and the difference MODEL2 - MODEL\n"
            "          with its 95%% interval (paired: the same resamples), to tell a better model\n"
            "          from the noise of a small test part\n");
}

static double gap_ev(const fh_dataset *d, size_t r)
{
    const int N = d->nstates;
    if (N < 2 || !d->has_energy[r * N] || !d->has_energy[r * N + 1]) return NAN;
    return (d->energy[r * N + 1] - d->energy[r * N]) * FH_HARTREE_EV;
}

static int cmd_info(const char *path, int have_seed, unsigned long long seed)
{
    fh_dataset *d = NULL;
    fh_err err = {0};
    if (fh_dataset_read(path, &d, &err)) {
        fprintf(stderr, "fusionhop dataset: %s\n", err.msg);
        return FH_EXIT_USAGE;
    }
    char names[MAX_ORIGINS][FH_DATASET_ORIGIN_LEN];
    int no = 0, ok[MAX_ORIGINS] = {0}, bad[MAX_ORIGINS] = {0}, small[MAX_ORIGINS] = {0};
    double wall[MAX_ORIGINS] = {0}, gmin[MAX_ORIGINS], gmax[MAX_ORIGINS];
    for (size_t r = 0; r < d->n; r++) {
        int o = 0;
        while (o < no && strcmp(names[o], d->origin[r])) o++;
        if (o == no && no < MAX_ORIGINS) {
            snprintf(names[no], sizeof names[no], "%s", d->origin[r]);
            gmin[no] = INFINITY, gmax[no] = -INFINITY;
            no++;
        }
        if (o >= MAX_ORIGINS) o = MAX_ORIGINS - 1; /* the last row of the table takes the rest */
        if (d->status[r] != FH_DATASET_OK) {
            bad[o]++;
            continue;
        }
        ok[o]++;
        wall[o] += d->wall_s[r];
        double g = gap_ev(d, r);
        if (isfinite(g)) {
            gmin[o] = fmin(gmin[o], g), gmax[o] = fmax(gmax[o], g);
            small[o] += g < SMALL_GAP_EV;
        }
    }
    printf("%s: %zu rows, %zu completed; %s; %d atoms, %d states\n", path, d->n,
           fh_dataset_count_ok(d), d->level, d->natoms, d->nstates);
    printf("%-24s %6s %6s %8s %16s %8s\n", "origin", "ok", "failed", "s/geom", "S1-S0 gap (eV)",
           "gap<1eV");
    int tot_ok = 0, tot_bad = 0, tot_small = 0;
    double tot_wall = 0;
    for (int o = 0; o < no; o++) {
        char range[40] = "-";
        if (isfinite(gmin[o])) snprintf(range, sizeof range, "%.2f..%.2f", gmin[o], gmax[o]);
        printf("%-24s %6d %6d %8.0f %16s %8d\n", names[o], ok[o], bad[o],
               ok[o] ? wall[o] / ok[o] : 0.0, range, small[o]);
        tot_ok += ok[o], tot_bad += bad[o], tot_small += small[o], tot_wall += wall[o];
    }
    printf("%-24s %6d %6d %8.0f %16s %8d\n", "all", tot_ok, tot_bad,
           tot_ok ? tot_wall / tot_ok : 0.0, "", tot_small);
    printf("cost: %.1f hours of reference calculations (completed rows)\n", tot_wall / 3600);
    fh_dataset_free(d);

    if (!have_seed) return FH_EXIT_OK;
    fh_train_data *td = NULL;
    if (fh_train_data_load(path, FH_TRAIN_NAC_CI, &td, &err)) {
        fprintf(stderr, "fusionhop dataset: %s\n", err.msg);
        return FH_EXIT_USAGE;
    }
    size_t *idx = NULL, n[3];
    if (fh_train_split(td, 0.8, 0.1, seed, &idx, &n[0], &n[1], &n[2], &err)) {
        fprintf(stderr, "fusionhop dataset: %s\n", err.msg);
        fh_train_data_free(td);
        return FH_EXIT_USAGE;
    }
    static const char *part[3] = {"train", "valid", "test"};
    printf("split by id, seed %llu, fractions 0.8 / 0.1:", seed);
    for (size_t p = 0, k = 0; p < 3; p++) {
        int nsmall = 0;
        for (size_t j = 0; j < n[p]; j++, k++) {
            size_t i = idx[k];
            const int N = td->nstates;
            if (N >= 2 && td->has_energy[i * N] && td->has_energy[i * N + 1] &&
                (td->energy[i * N + 1] - td->energy[i * N]) * FH_HARTREE_EV < SMALL_GAP_EV)
                nsmall++;
        }
        printf(" %s %zu (gap<1eV %d)%s", part[p], n[p], nsmall, p < 2 ? "," : "\n");
    }
    free(idx);
    fh_train_data_free(td);
    return FH_EXIT_OK;
}

static int cmd_export(const char *path, const char *out, const char *origin)
{
    /* OUT is replaced by the XYZ file: never when it is the dataset itself or another HDF5 file
     * (a dataset or model given to -o by mistake), nor a directory */
    struct stat st;
    if (!*out) {
        fprintf(stderr, "fusionhop dataset: -o needs a file name\n");
        return FH_EXIT_USAGE;
    }
    if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "fusionhop dataset: %s: is a directory (-o takes the XYZ file to write)\n",
                out);
        return FH_EXIT_USAGE;
    }
    if (fh_file_same(path, out)) {
        fprintf(stderr, "fusionhop dataset: -o %s is the dataset itself; not overwritten (export "
                "writes an XYZ file)\n", out);
        return FH_EXIT_USAGE;
    }
    if (fh_file_is_hdf5(out)) {
        fprintf(stderr, "fusionhop dataset: %s: an HDF5 file (a dataset or model?) exists there; "
                "not overwritten (export writes an XYZ file)\n", out);
        return FH_EXIT_USAGE;
    }
    fh_dataset *d = NULL;
    fh_err err = {0};
    if (fh_dataset_read(path, &d, &err)) {
        fprintf(stderr, "fusionhop dataset: %s\n", err.msg);
        return FH_EXIT_USAGE;
    }
    if (origin) { /* a mistyped origin must not replace OUT with an empty file */
        size_t r = 0;
        while (r < d->n && (d->status[r] != FH_DATASET_OK || strcmp(origin, d->origin[r]))) r++;
        if (r == d->n) {
            fprintf(stderr, "fusionhop dataset: %s: no completed rows of origin '%s' (see "
                    "'fusionhop dataset info %s'); %s not written\n", path, origin, path, out);
            fh_dataset_free(d);
            return FH_EXIT_USAGE;
        }
    }
    /* written to a temporary name and renamed: an existing OUT is never left half-written */
    char tmp[2048];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        int e = errno;
        fprintf(stderr, "fusionhop dataset: %s: cannot write: %s\n", out, strerror(e));
        fh_dataset_free(d);
        return e == ENOENT || e == ENOTDIR || e == EACCES ? FH_EXIT_USAGE : FH_EXIT_FAIL;
    }
    const int n3 = 3 * d->natoms, N = d->nstates;
    double *x = malloc(sizeof(double) * (size_t)n3);
    int rc = x ? FH_OK : FH_EFAIL;
    size_t written = 0;
    for (size_t r = 0; r < d->n && rc == FH_OK; r++) {
        if (d->status[r] != FH_DATASET_OK || (origin && strcmp(origin, d->origin[r]))) continue;
        for (int i = 0; i < n3; i++) x[i] = d->pos[r * (size_t)n3 + i] * FH_ANGSTROM_BOHR;
        char comment[512];
        int len = snprintf(comment, sizeof comment, "id=%s origin=%s E=", d->id[r], d->origin[r]);
        for (int s = 0; s < N && len < (int)sizeof comment - 32; s++)
            len += snprintf(comment + len, sizeof comment - (size_t)len, "%s%.10f", s ? "," : "",
                            d->has_energy[r * N + s] ? d->energy[r * N + s] : NAN);
        rc = fh_xyz_write_frame(f, d->natoms, d->z, x, comment);
        written++;
    }
    free(x);
    if (fclose(f) != 0 || rc != FH_OK || rename(tmp, out) != 0) {
        fprintf(stderr, "fusionhop dataset: %s: writing failed\n", out);
        remove(tmp);
        fh_dataset_free(d);
        return FH_EXIT_FAIL;
    }
    fprintf(stderr, "fusionhop dataset: %zu geometries written to %s\n", written, out);
    fh_dataset_free(d);
    return FH_EXIT_OK;
}

static int cmd_withdraw(const char *path, const char *note, char **ids, int nids)
{
    /* every ID first: a mistyped one withdraws nothing (not the ones before it) and says so */
    fh_dataset *d = NULL;
    fh_err rerr = {0};
    if (fh_dataset_read(path, &d, &rerr)) {
        fprintf(stderr, "fusionhop dataset: %s\n", rerr.msg);
        return rerr.code == FH_EFAIL ? FH_EXIT_FAIL : FH_EXIT_USAGE;
    }
    int unknown = 0;
    for (int k = 0; k < nids; k++)
        if (fh_dataset_find(d, ids[k], FH_DATASET_OK) < 0 &&
            fh_dataset_find(d, ids[k], FH_DATASET_FAILED) < 0) {
            fprintf(stderr, "fusionhop dataset: %s: no row with id '%s'\n", path, ids[k]);
            unknown++;
        }
    fh_dataset_free(d);
    if (unknown) {
        fprintf(stderr, "fusionhop dataset: nothing withdrawn\n");
        return FH_EXIT_USAGE;
    }
    for (int k = 0; k < nids; k++) {
        fh_err err = {0};
        size_t n = 0;
        if (fh_dataset_mark_failed(path, ids[k], note, &n, &err)) {
            fprintf(stderr, "fusionhop dataset: %s\n", err.msg);
            return err.code == FH_EINPUT ? FH_EXIT_USAGE : FH_EXIT_FAIL;
        }
        printf("%s: %zu row%s withdrawn\n", ids[k], n, n == 1 ? "" : "s");
    }
    return FH_EXIT_OK;
}

int fh_cmd_dataset(int argc, char **argv)
{
    if (fh_wants_help(argc, argv)) {
        usage(stdout);
        return FH_EXIT_OK;
    }
    if (argc < 3) {
        usage(stderr);
        return FH_EXIT_USAGE;
    }
    const char *sub = argv[1], *path = argv[2];
    const char *out = NULL, *origin = NULL, *note = NULL, *model = NULL, *compare = NULL;
    int have_seed = 0, only_new = 0, only_trained = 0, per_row = 0;
    const char *split = NULL;
    int member = 0;
    unsigned long long seed = 0;
    char **ids = malloc(sizeof(char *) * (size_t)argc);
    int nids = 0, rc = FH_EXIT_OK;
    if (!ids) return FH_EXIT_FAIL;
    for (int i = 3; i < argc && rc == FH_EXIT_OK; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "--new")) {
            only_new = 1;
        } else if (!strcmp(a, "--trained")) {
            only_trained = 1;
        } else if (!strcmp(a, "--rows")) {
            per_row = 1;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--origin") || !strcmp(a, "--note") ||
                   !strcmp(a, "--seed") || !strcmp(a, "--model") || !strcmp(a, "--split") ||
                   !strcmp(a, "--member") || !strcmp(a, "--compare")) {
            if (!has_value) {
                fprintf(stderr, "fusionhop dataset: %s needs a value\n", a);
                rc = FH_EXIT_USAGE;
                break;
            }
            const char *v = argv[++i];
            for (int j = 3; j < i - 1; j++)
                if (!strcmp(argv[j], a)) { /* not "the last one wins" */
                    fprintf(stderr, "fusionhop dataset: %s given twice\n", a);
                    rc = FH_EXIT_USAGE;
                }
            if (rc != FH_EXIT_OK) break;
            if (!strcmp(a, "-o")) out = v;
            else if (!strcmp(a, "--origin")) origin = v;
            else if (!strcmp(a, "--note")) note = v;
            else if (!strcmp(a, "--model")) model = v;
            else if (!strcmp(a, "--compare")) compare = v;
            else if (!strcmp(a, "--member")) {
                if (fh_parse_member("dataset", v, &member)) rc = FH_EXIT_USAGE;
            } else if (!strcmp(a, "--split")) {
                split = v;
                if (strcmp(v, "train") && strcmp(v, "valid") && strcmp(v, "test")) {
                    fprintf(stderr, "fusionhop dataset: --split '%s': expected train, valid or "
                            "test\n", v);
                    rc = FH_EXIT_USAGE;
                }
            }
            else {
                char *end = NULL;
                errno = 0;
                seed = strtoull(v, &end, 10);
                if (!*v || *end) {
                    fprintf(stderr, "fusionhop dataset: --seed '%s' is not a number\n", v);
                    rc = FH_EXIT_USAGE;
                } else if (v[0] == '-' || errno == ERANGE || seed > 4294967295ULL) {
                    /* strtoull wraps "-5" around; [train] seed is 0..2^32-1 */
                    fprintf(stderr, "fusionhop dataset: --seed '%s' is out of range 0..4294967295 "
                            "(the [train] seed)\n", v);
                    rc = FH_EXIT_USAGE;
                }
                have_seed = 1;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "fusionhop dataset: unknown option '%s'\n", a);
            rc = FH_EXIT_USAGE;
        } else {
            ids[nids++] = argv[i];
        }
    }
    if (rc == FH_EXIT_OK) {
        int no_eval = !model && !only_new && !only_trained && !split && !per_row && !member &&
                      !compare;
        if (!strcmp(sub, "info") && nids == 0 && !out && !origin && !note && no_eval) {
            rc = cmd_info(path, have_seed, seed);
        } else if (!strcmp(sub, "export") && nids == 0 && out && !note && !have_seed && no_eval) {
            rc = cmd_export(path, out, origin);
        } else if (!strcmp(sub, "withdraw") && nids > 0 && note && *note && !out && !origin &&
                   !have_seed && no_eval) {
            rc = cmd_withdraw(path, note, ids, nids);
        } else if (!strcmp(sub, "errors") && only_new && only_trained) {
            fprintf(stderr, "fusionhop dataset: errors: --new and --trained exclude each other "
                    "(the rows after a model's training rows, or those rows)\n");
            rc = FH_EXIT_USAGE;
        } else if (!strcmp(sub, "errors") && nids == 0 && model && !out && !note &&
                   (!have_seed || split)) {
            fh_dataset_errors_opts o = {.origin = origin, .only_new = only_new,
                                        .only_trained = only_trained, .split = split,
                                        .have_seed = have_seed, .seed = seed, .per_row = per_row,
                                        .member = member, .compare = compare};
            rc = fh_dataset_errors(path, model, &o);
        } else {
            fprintf(stderr, "fusionhop dataset: wrong arguments for '%s'\n", sub);
            usage(stderr);
            rc = FH_EXIT_USAGE;
        }
    }
    free(ids);
    return rc;
}
