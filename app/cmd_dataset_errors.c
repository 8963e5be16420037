/* `fusionhop dataset errors FILE --model M [--origin TAG] [--new | --trained] [--split PART]
 * [--rows]`: how far a model's committee mean is from the reference rows of a dataset, per
 * origin: energy MAE per state, gap MAE, force MAE, and the phase-free NAC cosine where the
 * reference gap is below 1 eV (the numbers of the training's test report). Why: active learning
 * appends rows the model has not seen; --new measures it on exactly those (the rows after the ones
 * it was trained on, recognised by the dataset checksum in the model file), which is the honest
 * out-of-sample test of a region. --split test gives the training's test report broken down by
 * origin (with --trained exactly the rows that report was made from, on a dataset that has grown
 * since), and --rows row by row: which geometries an average like the NAC cosine over a few rows
 * comes from. */
#include "fh_app.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fh_dataset.h"
#include "fh_model.h"
#include "fh_train.h"
#include "fh_units.h"

#define MAX_ORIGINS 64

typedef struct {
    char name[FH_DATASET_ORIGIN_LEN];
    fh_train_terms t;
    int rows;
} origin_sum;

/* The error columns shared by the table and the per-row lines: energy MAE per state, gap and
 * force MAE. */
static void print_maes(const fh_train_terms *t, int N)
{
    const double meV = 1e3 * FH_HARTREE_EV;
    for (int s = 0; s < N; s++) printf(" %7.0f", t->e_n[s] ? meV * t->e_abs[s] / t->e_n[s] : NAN);
    printf(" %8.0f %9.0f", t->gap_n ? meV * t->gap_abs / t->gap_n : NAN,
           t->f_n ? meV * FH_ANGSTROM_BOHR * t->f_abs / t->f_n : NAN);
}

static void print_row(const char *name, int rows, const fh_train_terms *t, int N)
{
    printf("%-20s %5d", name, rows);
    print_maes(t, N);
    if (t->nac_n > 0)
        printf(" %7.2f (%.0f)\n", t->nac_cos / t->nac_n, t->nac_n);
    else
        printf("       -\n");
}

static void print_one(const char *id, const char *origin, double gap_ev, const fh_train_terms *t,
                      int N)
{
    printf("%-28s %-16s %6.3f", id, origin, gap_ev);
    print_maes(t, N);
    if (t->nac_n > 0)
        printf(" %7.3f\n", t->nac_cos / t->nac_n);
    else
        printf("       -\n");
}

int fh_dataset_errors(const char *path, const char *model, const fh_dataset_errors_opts *o)
{
    const char *origin = o->origin;
    const int only_new = o->only_new, only_trained = o->only_trained;
    fh_err err = {0};
    fh_model *m = NULL;
    fh_dataset *d = NULL;
    fh_train_data *td = NULL;
    origin_sum *sum = NULL;
    unsigned char *in_part = NULL;
    int rc = FH_EXIT_USAGE;
    if (fh_model_load(model, &m, &err) || fh_dataset_read(path, &d, &err)) {
        fprintf(stderr, "fusionhop dataset errors: %s\n", err.msg);
        goto done;
    }
    if (o->member > 0 && fh_model_keep_member(m, o->member - 1, &err)) { /* member K alone */
        fprintf(stderr, "fusionhop dataset errors: --member %d: %s: %s\n", o->member, model, err.msg);
        goto done;
    }
    const fh_model_provenance *pv = fh_model_get_provenance(m);
    int target = strcmp(pv->nac_target, "total") == 0 ? FH_TRAIN_NAC_TOTAL : FH_TRAIN_NAC_CI;
    if (fh_train_data_load(path, target, &td, &err) || fh_train_data_set_types(td, m, &err)) {
        fprintf(stderr, "fusionhop dataset errors: %s: %s\n", path, err.msg);
        goto done;
    }
    /* the rows of td are the completed rows of d, in order */
    size_t *row = malloc(sizeof(size_t) * (td->n ? td->n : 1));
    sum = calloc(MAX_ORIGINS + 1, sizeof *sum);
    if (!row || !sum) {
        free(row);
        fprintf(stderr, "fusionhop dataset errors: out of memory\n");
        rc = FH_EXIT_FAIL;
        goto done;
    }
    for (size_t r = 0, k = 0; r < d->n && k < td->n; r++)
        if (d->status[r] == FH_DATASET_OK) row[k++] = r;
    /* --new: rows [used, n); --trained: rows [0, used), where the model's training saw the
     * first `used` completed rows (recognised by their checksum) */
    size_t first = 0, end = td->n;
    if (only_new || only_trained) {
        const char *opt = only_new ? "--new" : "--trained";
        long used = pv->n_train + pv->n_valid + pv->n_test;
        char ck[40];
        if (used > 0 && (size_t)used <= td->n) fh_train_data_checksum(td, (size_t)used, ck);
        if (used <= 0 || (size_t)used > td->n || strcmp(ck, pv->dataset_checksum) != 0) {
            fprintf(stderr,
                    "fusionhop dataset errors: %s: the first %ld completed rows of %s are not "
                    "the rows %s was trained on (its dataset checksum %s); the dataset was "
                    "changed other than by appending, or the model comes from another dataset\n",
                    opt, used, path, model, pv->dataset_checksum);
            free(row);
            goto done;
        }
        if (only_new) first = (size_t)used;
        else end = (size_t)used;
    }
    if (origin) { /* a mistyped origin is an input error, not an empty table */
        size_t k = first;
        while (k < end && strcmp(d->origin[row[k]], origin) != 0) k++;
        if (k == end) {
            fprintf(stderr, "fusionhop dataset errors: %s: no completed rows of origin '%s'%s (see "
                    "'fusionhop dataset info %s')\n", path, origin,
                    only_new ? " after the model's training rows"
                    : only_trained ? " among the model's training rows" : "", path);
            free(row);
            goto done;
        }
    }
    if (o->split) { /* in_part[k]: row k is in the requested part */
        int want = !strcmp(o->split, "train") ? 0 : !strcmp(o->split, "valid") ? 1 : 2;
        uint64_t seed = o->have_seed ? (uint64_t)o->seed : pv->seed;
        size_t *idx = NULL, n[3];
        in_part = calloc(td->n ? td->n : 1, 1);
        if (!in_part || fh_train_split(td, 0.8, 0.1, seed, &idx, &n[0], &n[1], &n[2], &err)) {
            fprintf(stderr, "fusionhop dataset errors: %s: %s\n", path,
                    in_part ? err.msg : "out of memory");
            free(row);
            rc = FH_EXIT_FAIL;
            goto done;
        }
        size_t from = want == 0 ? 0 : want == 1 ? n[0] : n[0] + n[1];
        for (size_t j = from; j < from + n[want]; j++) in_part[idx[j]] = 1;
        free(idx);
        printf("split by id, seed %llu, fractions 0.8 / 0.1: part %s\n", (unsigned long long)seed,
               o->split);
    }
    const int N = td->nstates;
    int no = 0;
    if (o->per_row) {
        printf("%-28s %-16s %6s", "id", "origin", "gap");
        for (int s = 0; s < N; s++) printf("     E%d", s);
        printf("      gap     force  NAC cos\n%-28s %-16s %6s", "", "", "eV");
        for (int s = 0; s < N; s++) printf("    meV");
        printf("      meV    meV/A\n");
    }
    fh_train_loss_cfg cfg = fh_train_loss_cfg_default();
    for (size_t k = first; k < end; k++) {
        const char *org = d->origin[row[k]];
        if (origin && strcmp(org, origin) != 0) continue;
        if (in_part && !in_part[k]) continue;
        int j = 0;
        while (j < no && strcmp(sum[j].name, org) != 0) j++;
        if (j == no) {
            if (no < MAX_ORIGINS) snprintf(sum[no++].name, sizeof sum[0].name, "%s", org);
            else j = -1; /* more origins than the table holds: counted in "all" only */
        }
        fh_train_terms t;
        if (fh_train_row_errors(m, td, k, &cfg, &t, &err)) {
            fprintf(stderr, "fusionhop dataset errors: row %zu (%s): %s\n", row[k], td->id[k],
                    err.msg);
            free(row);
            rc = FH_EXIT_FAIL;
            goto done;
        }
        if (o->per_row) {
            double gap = N >= 2 && td->has_energy[k * N] && td->has_energy[k * N + 1]
                             ? (td->energy[k * N + 1] - td->energy[k * N]) * FH_HARTREE_EV
                             : NAN;
            print_one(td->id[k], org, gap, &t, N);
        }
        if (j >= 0) {
            fh_train_terms_add(&sum[j].t, &t);
            sum[j].rows++;
        }
        fh_train_terms_add(&sum[MAX_ORIGINS].t, &t);
        sum[MAX_ORIGINS].rows++;
    }
    free(row);
    printf("%s%s on %s: %s%zu completed rows%s%s%s%s\n", model,
           o->member > 0 ? " (one member)" : "", path, only_new || only_trained ? "the " : "",
           end - first, only_new ? " added after its training rows"
                        : only_trained ? " it was trained on" : "",
           origin ? ", one origin" : "", o->split ? ", split part " : "", o->split ? o->split : "");
    printf("%-20s %5s", "origin", "rows");
    for (int s = 0; s < N; s++) printf("     E%d", s);
    printf("  gap MAE  force MAE  NAC cos (n, gap < 1 eV)\n");
    printf("%-20s %5s", "", "");
    for (int s = 0; s < N; s++) printf("    meV");
    printf("      meV    meV/A\n");
    for (int j = 0; j < no; j++) print_row(sum[j].name, sum[j].rows, &sum[j].t, N);
    if (sum[MAX_ORIGINS].rows == 0)
        printf("(no rows)\n");
    else
        print_row("all", sum[MAX_ORIGINS].rows, &sum[MAX_ORIGINS].t, N);
    rc = FH_EXIT_OK;
done:
    free(in_part);
    free(sum);
    fh_train_data_free(td);
    fh_dataset_free(d);
    fh_model_free(m);
    return rc;
}
