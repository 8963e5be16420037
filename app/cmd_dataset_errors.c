/* `fusionhop dataset errors FILE --model M [--origin TAG] [--new | --trained] [--split PART]
 * [--rows]`: how far a model's committee mean is from the reference rows of a dataset, per
 * origin: energy MAE per state, gap MAE, force MAE, and the phase-free NAC cosine where the
 * reference gap is below 1 eV (the numbers of the training's test report). Why: active learning
 * appends rows the model has not seen; --new measures it on exactly those (the rows after the ones
 * it was trained on, recognised by the dataset checksum in the model file), which is the honest
 * out-of-sample test of a region. --split test gives the training's test report broken down by
 * origin (with --trained exactly the rows that report was made from, on a dataset that has grown
 * since), and --rows row by row: which geometries an average like the NAC cosine over a few rows
 * comes from. Under the table, 95% bootstrap intervals over the rows: on a test part of 80-90
 * rows whose averages a handful of far-off geometries can move by several meV, they say which
 * differences mean something; --compare MODEL2 evaluates a second model on the same rows and
 * gives the paired difference with its interval (the same resamples for both models). */
#include "fh_app.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fh_analysis.h"
#include "fh_dataset.h"
#include "fh_model.h"
#include "fh_train.h"
#include "fh_units.h"

#define MAX_ORIGINS 64
#define NBOOT 1000  /* bootstrap resamples of the rows, seed 1 */

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

/* The table's numbers of a sum of row terms: the energy MAE of each state, the gap MAE (meV),
 * the force MAE (meV/A) and the NAC cosine, v[0 .. N+3); NaN where no row has the quantity. */
static void metrics(const fh_train_terms *t, int N, double *v)
{
    const double meV = 1e3 * FH_HARTREE_EV;
    for (int s = 0; s < N; s++) v[s] = t->e_n[s] ? meV * t->e_abs[s] / t->e_n[s] : NAN;
    v[N] = t->gap_n ? meV * t->gap_abs / t->gap_n : NAN;
    v[N + 1] = t->f_n ? meV * FH_ANGSTROM_BOHR * t->f_abs / t->f_n : NAN;
    v[N + 2] = t->nac_n > 0 ? t->nac_cos / t->nac_n : NAN;
}

/* The width of the table's column k (of N + 3): an energy column; gap, force, NAC (wider). */
static int column_width(int k, int N)
{
    static const int width[] = {7, 8, 9, 8};
    return width[k < N ? 0 : k - N + 1];
}

/* One line under the table: for each number, the 2.5 and 97.5 percentiles of its NBOOT bootstrap
 * values b[k * NBOOT ..] (NaNs, from resamples without such rows, left out), in the table's
 * columns. signed_: differences, printed with their sign. */
static void print_interval(const char *label, double *b, int N, int signed_)
{
    printf("%-26s", label);   /* the width of the origin and rows columns */
    for (int k = 0; k < N + 3; k++) {
        double *v = b + (size_t)k * NBOOT;
        long n = 0;
        for (long i = 0; i < NBOOT; i++)
            if (!isnan(v[i])) v[n++] = v[i];
        int w = column_width(k, N);
        char cell[64];
        const char *fmt = k == N + 2 ? (signed_ ? "%+.2f..%+.2f" : "%.2f..%.2f")
                                     : (signed_ ? "%+.0f..%+.0f" : "%.0f..%.0f");
        if (n == 0) snprintf(cell, sizeof cell, "-");
        else snprintf(cell, sizeof cell, fmt, fh_ana_quantile(v, n, 0.025),
                      fh_ana_quantile(v, n, 0.975));
        printf(" %*s", w, cell);   /* right-aligned under the table's column */
    }
    printf("\n");
}

/* One cell of the difference line, signed, or "-" where neither model has the quantity (NaN: no
 * rows of it, such as no gap below 1 eV for the NAC cosine). */
static void print_difference(double d, int width, int decimals)
{
    if (isnan(d)) printf(" %*s", width, "-");
    else printf(" %+*.*f", width, decimals, d);
}

/* The bootstrap lines: intervals of the model's numbers over the n rows' terms a[]; with b[] (a
 * second model on the same rows), its "all" row and the difference second - first, with the
 * interval of the difference from the same resamples. */
static int print_bootstrap(const fh_train_terms *a, const fh_train_terms *b, const char *model2,
                           long n, int N)
{
    int *w = fh_ana_boot_weights(NBOOT, n, 1);
    double *va = malloc(sizeof(double) * (size_t)(N + 3) * NBOOT);
    double *vd = malloc(sizeof(double) * (size_t)(N + 3) * NBOOT);
    if (!w || !va || !vd) {
        free(w), free(va), free(vd);
        fprintf(stderr, "fusionhop dataset errors: out of memory\n");
        return FH_EXIT_FAIL;
    }
    for (long r = 0; r < NBOOT; r++) {
        fh_train_terms sa, sb;
        memset(&sa, 0, sizeof sa), memset(&sb, 0, sizeof sb);
        for (long i = 0; i < n; i++)
            for (int c = 0; c < w[r * n + i]; c++) {
                fh_train_terms_add(&sa, &a[i]);
                if (b) fh_train_terms_add(&sb, &b[i]);
            }
        double ma[FH_MODEL_MAX_STATES + 3], mb[FH_MODEL_MAX_STATES + 3];
        metrics(&sa, N, ma);
        if (b) metrics(&sb, N, mb);
        for (int k = 0; k < N + 3; k++) {
            va[(size_t)k * NBOOT + r] = ma[k];
            if (b) vd[(size_t)k * NBOOT + r] = mb[k] - ma[k];
        }
    }
    printf("95%% interval (bootstrap of the %ld rows, %d resamples):\n", n, NBOOT);
    print_interval("", va, N, 0);
    if (b) {
        fh_train_terms sa, sb;
        memset(&sa, 0, sizeof sa), memset(&sb, 0, sizeof sb);
        for (long i = 0; i < n; i++) fh_train_terms_add(&sa, &a[i]), fh_train_terms_add(&sb, &b[i]);
        double ma[FH_MODEL_MAX_STATES + 3], mb[FH_MODEL_MAX_STATES + 3];
        metrics(&sa, N, ma), metrics(&sb, N, mb);
        printf("--compare %s on the same rows:\n", model2);
        print_row("all", (int)n, &sb, N);
        printf("%-26s", "difference MODEL2 - MODEL");
        for (int k = 0; k < N + 3; k++)
            print_difference(mb[k] - ma[k], column_width(k, N), k == N + 2 ? 3 : 1);
        printf("\n");
        print_interval("95% interval of difference", vd, N, 1);
    }
    free(w), free(va), free(vd);
    return FH_EXIT_OK;
}

int fh_dataset_errors(const char *path, const char *model, const fh_dataset_errors_opts *o)
{
    const char *origin = o->origin;
    const int only_new = o->only_new, only_trained = o->only_trained;
    fh_err err = {0};
    fh_model *m = NULL, *m2 = NULL;
    fh_dataset *d = NULL;
    fh_train_terms *rt = NULL, *rt2 = NULL; /* the terms of each row in the table, per model */
    long nrt = 0;
    fh_train_data *td = NULL;
    origin_sum *sum = NULL;
    unsigned char *in_part = NULL;
    int rc = FH_EXIT_USAGE;
    if (fh_model_load(model, &m, &err) || fh_dataset_read(path, &d, &err)) {
        fprintf(stderr, "fusionhop dataset errors: %s\n", err.msg);
        goto done;
    }
    if (o->compare && fh_model_load(o->compare, &m2, &err)) {
        fprintf(stderr, "fusionhop dataset errors: --compare: %s\n", err.msg);
        goto done;
    }
    if (o->member > 0 && fh_model_keep_member(m, o->member - 1, &err)) { /* member K alone */
        fprintf(stderr, "fusionhop dataset errors: --member %d: %s: %s\n", o->member, model, err.msg);
        goto done;
    }
    if (m2 && o->member > 0 && fh_model_keep_member(m2, o->member - 1, &err)) {
        fprintf(stderr, "fusionhop dataset errors: --member %d: %s: %s\n", o->member, o->compare,
                err.msg);
        goto done;
    }
    const fh_model_provenance *pv = fh_model_get_provenance(m);
    int target = strcmp(pv->nac_target, "total") == 0 ? FH_TRAIN_NAC_TOTAL : FH_TRAIN_NAC_CI;
    if (fh_train_data_load(path, target, &td, &err) || fh_train_data_set_types(td, m, &err)) {
        fprintf(stderr, "fusionhop dataset errors: %s: %s\n", path, err.msg);
        goto done;
    }
    if (m2) { /* the second model must read the rows the same way: same types and coupling target */
        const fh_model_provenance *p2 = fh_model_get_provenance(m2);
        int target2 = strcmp(p2->nac_target, "total") == 0 ? FH_TRAIN_NAC_TOTAL : FH_TRAIN_NAC_CI;
        if (target2 != target) {
            fprintf(stderr, "fusionhop dataset errors: --compare %s learned the %s coupling, %s the "
                    "%s one: their NAC errors are not comparable\n", o->compare, p2->nac_target,
                    model, pv->nac_target);
            goto done;
        }
        int same = 1;
        if (fh_train_data_set_types(td, m2, &err)) {
            fprintf(stderr, "fusionhop dataset errors: --compare %s: %s\n", o->compare, err.msg);
            goto done;
        }
        int *types2 = malloc(sizeof(int) * (size_t)td->natoms);
        if (!types2) {
            fprintf(stderr, "fusionhop dataset errors: out of memory\n");
            rc = FH_EXIT_FAIL;
            goto done;
        }
        memcpy(types2, td->type, sizeof(int) * (size_t)td->natoms);
        fh_train_data_set_types(td, m, &err);   /* succeeded above */
        for (int a = 0; a < td->natoms; a++) same &= types2[a] == td->type[a];
        free(types2);
        if (!same) {
            fprintf(stderr, "fusionhop dataset errors: --compare %s orders its elements unlike %s; "
                    "compare models trained on the same dataset\n", o->compare, model);
            goto done;
        }
    }
    /* the rows of td are the completed rows of d, in order */
    size_t *row = malloc(sizeof(size_t) * (td->n ? td->n : 1));
    sum = calloc(MAX_ORIGINS + 1, sizeof *sum);
    rt = calloc(td->n ? td->n : 1, sizeof *rt);
    rt2 = m2 ? calloc(td->n ? td->n : 1, sizeof *rt2) : NULL;
    if (!row || !sum || !rt || (m2 && !rt2)) {
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
        fh_train_terms t2;
        if (m2 && fh_train_row_errors(m2, td, k, &cfg, &t2, &err)) {
            fprintf(stderr, "fusionhop dataset errors: row %zu (%s): %s: %s\n", row[k], td->id[k],
                    o->compare, err.msg);
            free(row);
            rc = FH_EXIT_FAIL;
            goto done;
        }
        rt[nrt] = t;
        if (m2) rt2[nrt] = t2;
        nrt++;
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
    rc = nrt > 1 ? print_bootstrap(rt, rt2, o->compare, nrt, N) : FH_EXIT_OK;
done:
    free(in_part);
    free(sum);
    free(rt), free(rt2);
    fh_model_free(m2);
    fh_train_data_free(td);
    fh_dataset_free(d);
    fh_model_free(m);
    return rc;
}
