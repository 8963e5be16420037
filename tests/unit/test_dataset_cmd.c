/* `fusionhop dataset` (app/cmd_dataset.c) on a small file made here: info counts rows per origin,
 * their cost, gap ranges and small gaps (and the split by id with --seed, as `fusionhop train`
 * makes it); export writes the completed geometries with id= and origin= comments that read back
 * to the same positions; withdraw turns rows into failed ones; errors reproduces the committee
 * mean's errors computed here from direct predictions; --new takes exactly the rows after those a
 * model file says it was trained on, --trained exactly those rows; the bootstrap intervals and
 * --compare's paired difference match resampling done here; bad arguments and files exit 2 with a
 * message naming the problem. */
#include <criterion/criterion.h>
#include "test_workdir.h"
#include <math.h>
#include <string.h>

#include "fh_analysis.h"
#include "fh_dataset.h"
#include "fh_train.h"
#include "fh_units.h"
#include "fh_xyz.h"
#include "test_train_util.h"

static void setup(void) { workdir_make("test_dataset_cmd"); }
static void teardown(void)
{
    if (workdir_remove()) {}
}

TestSuite(dataset_cmd, .init = setup, .fini = teardown);

#define NROWS 5
static const char *ids[NROWS] = {"a-0", "a-1", "b-0", "b-1", "b-2"};
static const char *origins[NROWS] = {"scan", "scan", "meci", "meci", "meci"};
static const int ok[NROWS] = {1, 1, 0, 1, 1};
static const double gaps_ev[NROWS] = {4.0, 3.0, 0, 0.5, 0.8};
static const double walls[NROWS] = {100, 200, 0, 300, 500};

/* Water-like three atoms; row k moves the first atom by 0.01 k Angstrom. */
static void position(int k, double *pos)
{
    const double p[9] = {0, 0, 0, 0.96, 0, 0, -0.24, 0.93, 0};
    memcpy(pos, p, sizeof p);
    pos[0] += 0.01 * k;
}

static void make_dataset(const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    const int z[3] = {8, 1, 1};
    fh_err err = {0};
    cr_assert_eq(fh_dataset_create(path, 3, 2, z, "test level", 0, &err), FH_OK, "%s", err.msg);
    for (int k = 0; k < NROWS; k++) {
        double pos[9], e[2] = {-76.0 - 0.001 * k, 0};
        position(k, pos);
        e[1] = e[0] + gaps_ev[k] / FH_HARTREE_EV;
        fh_dataset_record r = {.id = ids[k], .origin = origins[k], .pos = pos,
                               .status = ok[k] ? FH_DATASET_OK : FH_DATASET_FAILED,
                               .energy = ok[k] ? e : NULL, .wall_s = walls[k],
                               .info = ok[k] ? "" : "log=x.log crashed"};
        cr_assert_eq(fh_dataset_append(path, &r, 1, &err), FH_OK, "%s", err.msg);
    }
}

Test(dataset_cmd, info_counts_origins_cost_and_small_gaps)
{
    make_dataset("d.h5");
    cr_assert_eq(sh("%s dataset info d.h5 > info.txt 2> info.err", FH_TEST_FUSIONHOP), 0);
    char path[1200];
    snprintf(path, sizeof path, "%s/info.txt", dir);
    char *t = read_text(path);
    cr_assert(strstr(t, "5 rows, 4 completed; test level; 3 atoms, 2 states"), "%s", t);
    int o, f, g;
    double s;
    char *line = strstr(t, "\nscan ");
    cr_assert_not_null(line, "%s", t);
    cr_assert_eq(sscanf(line, " scan %d %d %lf %*s %d", &o, &f, &s, &g), 4, "%s", line);
    cr_assert(o == 2 && f == 0 && fabs(s - 150) < 0.6 && g == 0, "%s", line);
    cr_assert(strstr(line, "3.00..4.00"), "%s", line);
    line = strstr(t, "\nmeci ");
    cr_assert_not_null(line, "%s", t);
    cr_assert_eq(sscanf(line, " meci %d %d %lf %*s %d", &o, &f, &s, &g), 4, "%s", line);
    cr_assert(o == 2 && f == 1 && fabs(s - 400) < 0.6 && g == 2, "%s", line);
    cr_assert(strstr(line, "0.50..0.80"), "%s", line);
    cr_assert(strstr(t, "cost: 0.3 hours"), "%s", t); /* 1100 s */
    free(t);

    /* --seed: the split `fusionhop train` makes (by id) */
    cr_assert_eq(sh("%s dataset info d.h5 --seed 7 > split.txt", FH_TEST_FUSIONHOP), 0);
    snprintf(path, sizeof path, "%s/split.txt", dir);
    t = read_text(path);
    line = strstr(t, "split by id, seed 7");
    cr_assert_not_null(line, "%s", t);
    size_t n[3];
    int s0, s1, s2;
    cr_assert_eq(sscanf(line, "split by id, seed 7, fractions 0.8 / 0.1: train %zu (gap<1eV %d), "
                        "valid %zu (gap<1eV %d), test %zu (gap<1eV %d)", &n[0], &s0, &n[1], &s1,
                        &n[2], &s2), 6, "%s", line);
    cr_assert_eq(n[0] + n[1] + n[2], 4);
    cr_assert_eq(s0 + s1 + s2, 2);
    fh_train_data *td = NULL;
    fh_err err = {0};
    snprintf(path, sizeof path, "%s/d.h5", dir);
    cr_assert_eq(fh_train_data_load(path, FH_TRAIN_NAC_CI, &td, &err), FH_OK, "%s", err.msg);
    size_t *idx, m[3];
    cr_assert_eq(fh_train_split(td, 0.8, 0.1, 7, &idx, &m[0], &m[1], &m[2], &err), FH_OK);
    cr_assert(m[0] == n[0] && m[1] == n[1] && m[2] == n[2]);
    free(idx);
    fh_train_data_free(td);
    free(t);
}

Test(dataset_cmd, export_writes_completed_geometries_that_read_back)
{
    make_dataset("d.h5");
    cr_assert_eq(sh("%s dataset export d.h5 -o all.xyz 2> e.log", FH_TEST_FUSIONHOP), 0);
    cr_assert_eq(sh("%s dataset export d.h5 -o meci.xyz --origin meci 2> e2.log",
                    FH_TEST_FUSIONHOP), 0);
    char path[1200];
    fh_err err = {0};
    fh_xyz *g = NULL;
    snprintf(path, sizeof path, "%s/all.xyz", dir);
    cr_assert_eq(fh_xyz_read(path, &g, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(g->nframes, 4, "the failed row is left out");
    const int rows[4] = {0, 1, 3, 4};
    for (int k = 0; k < 4; k++) {
        char want[128];
        snprintf(want, sizeof want, "id=%s origin=%s E=", ids[rows[k]], origins[rows[k]]);
        cr_assert(strstr(g->comments[k], want), "frame %d: '%s'", k, g->comments[k]);
        double pos[9];
        position(rows[k], pos);
        for (int i = 0; i < 9; i++)
            cr_assert(fabs(g->x[k * 9 + i] * FH_BOHR_ANGSTROM - pos[i]) < 1e-6);
    }
    fh_xyz_free(g);
    snprintf(path, sizeof path, "%s/meci.xyz", dir);
    cr_assert_eq(fh_xyz_read(path, &g, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(g->nframes, 2);
    cr_assert(strstr(g->comments[0], "id=b-1 ") && strstr(g->comments[1], "id=b-2 "));
    fh_xyz_free(g);
}

/* export never replaces the dataset itself or another HDF5 file (a model, a dataset) given to -o by
 * mistake, nor an earlier export when --origin matches no row: exit 2, the file untouched. */
Test(dataset_cmd, export_never_overwrites_hdf5_files_or_earlier_results)
{
    make_dataset("d.h5");
    make_dataset("other.h5");
    char path[1200];
    snprintf(path, sizeof path, "%s/d.h5", dir);
    fh_dataset *d = NULL;
    fh_err err = {0};
    cr_assert_eq(sh("cp d.h5 d.orig && cp other.h5 other.orig"), 0);
    cr_assert_eq(sh("%s dataset export d.h5 -o d.h5 2> e1.txt", FH_TEST_FUSIONHOP), 2);
    cr_assert_eq(sh("%s dataset export d.h5 -o ./d.h5 2>/dev/null", FH_TEST_FUSIONHOP), 2);
    cr_assert_eq(sh("cmp -s d.h5 d.orig"), 0, "the dataset is untouched");
    cr_assert_eq(fh_dataset_read(path, &d, &err), FH_OK, "%s", err.msg);
    fh_dataset_free(d);
    cr_assert_eq(sh("%s dataset export d.h5 -o other.h5 2> e2.txt", FH_TEST_FUSIONHOP), 2);
    cr_assert_eq(sh("cmp -s other.h5 other.orig"), 0, "another HDF5 file is untouched");
    cr_assert_eq(sh("mkdir sub && %s dataset export d.h5 -o sub 2> e3.txt", FH_TEST_FUSIONHOP), 2);
    cr_assert_eq(sh("%s dataset export d.h5 -o nodir/x.xyz 2> e4.txt", FH_TEST_FUSIONHOP), 2);
    /* an earlier export survives a mistyped origin */
    cr_assert_eq(sh("%s dataset export d.h5 -o all.xyz 2>/dev/null && cp all.xyz all.orig",
                    FH_TEST_FUSIONHOP), 0);
    cr_assert_eq(sh("%s dataset export d.h5 -o all.xyz --origin mcei 2> e5.txt",
                    FH_TEST_FUSIONHOP), 2);
    cr_assert_eq(sh("cmp -s all.xyz all.orig"), 0, "the earlier export is untouched");
    static const char *want[5] = {"-o d.h5 is the dataset itself", "other.h5: an HDF5 file",
                                  "sub: is a directory", "nodir/x.xyz: cannot write",
                                  "no completed rows of origin 'mcei'"};
    for (int k = 0; k < 5; k++) {
        snprintf(path, sizeof path, "%s/e%d.txt", dir, k + 1);
        char *t = read_text(path);
        cr_assert(strstr(t, want[k]), "e%d: %s", k + 1, t);
        free(t);
    }
}

Test(dataset_cmd, withdraw_and_bad_arguments)
{
    make_dataset("d.h5");
    cr_assert_eq(sh("%s dataset withdraw d.h5 --note 'wrong solution' b-1 > w.txt",
                    FH_TEST_FUSIONHOP), 0);
    char path[1200];
    snprintf(path, sizeof path, "%s/d.h5", dir);
    fh_dataset *d = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_dataset_read(path, &d, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(fh_dataset_count_ok(d), 3);
    cr_assert_eq(fh_dataset_find(d, "b-1", FH_DATASET_OK), -1);
    long r = fh_dataset_find(d, "b-1", FH_DATASET_FAILED);
    cr_assert(r >= 0 && strstr(d->info[r], "wrong solution"), "the note is kept");
    fh_dataset_free(d);

    /* usage and input errors: exit 2, a message naming the problem */
    cr_assert_eq(sh("%s dataset withdraw d.h5 b-2 2> e1.txt", FH_TEST_FUSIONHOP), 2);
    cr_assert_eq(sh("%s dataset export d.h5 2> e2.txt", FH_TEST_FUSIONHOP), 2);
    cr_assert_eq(sh("%s dataset frobnicate d.h5 2> e3.txt", FH_TEST_FUSIONHOP), 2);
    cr_assert_eq(sh("%s dataset info d.h5 --seed x 2> e4.txt", FH_TEST_FUSIONHOP), 2);
    cr_assert_eq(sh("%s dataset info none.h5 2> e5.txt", FH_TEST_FUSIONHOP), 2);
    snprintf(path, sizeof path, "%s/e3.txt", dir);
    char *t = read_text(path);
    cr_assert(strstr(t, "wrong arguments for 'frobnicate'"), "%s", t);
    free(t);
    snprintf(path, sizeof path, "%s/e4.txt", dir);
    t = read_text(path);
    cr_assert(strstr(t, "--seed 'x' is not a number"), "%s", t);
    free(t);
    snprintf(path, sizeof path, "%s/e5.txt", dir);
    t = read_text(path);
    cr_assert(strstr(t, "none.h5"), "%s", t);
    free(t);
    /* a non-dataset file */
    cr_assert_eq(sh("echo hello > text.h5 && %s dataset info text.h5 2> e6.txt",
                    FH_TEST_FUSIONHOP), 2);
}

/* Input that used to be accepted silently: a mistyped id withdrew nothing (exit 0, and the ids
 * before it were withdrawn), a negative or too large --seed wrapped around or described a split
 * `fusionhop train` cannot make, a repeated option was "the last one wins". Exit 2, nothing done. */
Test(dataset_cmd, mistyped_ids_bad_seeds_and_repeated_options)
{
    make_dataset("d.h5");
    cr_assert_eq(sh("cp d.h5 d.orig"), 0);
    cr_assert_eq(sh("%s dataset withdraw d.h5 --note x a-0 a-9 > w.txt 2> e1.txt",
                    FH_TEST_FUSIONHOP), 2);
    cr_assert_eq(sh("cmp -s d.h5 d.orig"), 0, "nothing withdrawn, a-0 included");
    /* withdrawing a withdrawn row again is no error (the id is there, as a failed row) */
    cr_assert_eq(sh("%s dataset withdraw d.h5 --note x b-0 > w2.txt", FH_TEST_FUSIONHOP), 0);
    cr_assert_eq(sh("%s dataset info d.h5 --seed -5 2> e2.txt", FH_TEST_FUSIONHOP), 2);
    cr_assert_eq(sh("%s dataset info d.h5 --seed 4294967296 2> e3.txt", FH_TEST_FUSIONHOP), 2);
    cr_assert_eq(sh("%s dataset info d.h5 --seed 4294967295 > /dev/null", FH_TEST_FUSIONHOP), 0);
    cr_assert_eq(sh("%s dataset export d.h5 -o a.xyz -o b.xyz 2> e4.txt", FH_TEST_FUSIONHOP), 2);
    cr_assert_eq(sh("test ! -e a.xyz && test ! -e b.xyz"), 0);
    static const char *want[4] = {"d.h5: no row with id 'a-9'",
                                  "--seed '-5' is out of range 0..4294967295",
                                  "--seed '4294967296' is out of range", "-o given twice"};
    for (int k = 0; k < 4; k++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/e%d.txt", dir, k + 1);
        char *t = read_text(path);
        cr_assert(strstr(t, want[k]), "e%d: %s", k + 1, t);
        free(t);
    }
}

/* The numbers of one line of `dataset errors` (name, rows, E0, E1, gap, force, NAC cosine). */
typedef struct {
    int rows;
    double e0, e1, gap, f, cos;
} err_line;

static int find_line(const char *text, const char *name, err_line *l)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(text, key);
    if (!p) return 0;
    l->cos = NAN;
    int n = sscanf(p + strlen(key), "%d %lf %lf %lf %lf %lf", &l->rows, &l->e0, &l->e1, &l->gap,
                   &l->f, &l->cos);
    return n >= 5;
}

/* Expected errors of rows [from, to) of td, straight from fh_model_predict. */
static err_line expected(fh_model *m, const fh_train_data *td, size_t from, size_t to)
{
    const double meV = 1e3 * FH_HARTREE_EV;
    err_line l = {0};
    double nc = 0, fn = 0;
    for (size_t i = from; i < to; i++) {
        const double *x = td->x + i * 9, *Er = td->energy + i * 2, *Gr = td->grad + i * 18;
        const double *Hr = td->hcoup + i * 9;
        double E[2], G[18], d[9], h[9], sd[2];
        fh_model_request rq = {.grad_mask = 3, .want_nac = 1, .energy = E, .grad = G, .nac = d,
                               .hcoup = h, .energy_std = sd};
        fh_err err = {0};
        cr_assert_eq(fh_model_predict(m, 3, td->z, x, &rq, &err), FH_OK, "%s", err.msg);
        l.rows++;
        l.e0 += fabs(E[0] - Er[0]) * meV;
        l.e1 += fabs(E[1] - Er[1]) * meV;
        l.gap += fabs((E[1] - E[0]) - (Er[1] - Er[0])) * meV;
        for (int k = 0; k < 18; k++) l.f += fabs(G[k] - Gr[k]) * meV * FH_ANGSTROM_BOHR;
        fn += 18;
        double gap_ref = Er[1] - Er[0];
        if (gap_ref * FH_HARTREE_EV < 1.0) {
            /* phase-free: the sign of the reference that brings h closest to it */
            double hh = 0, dd = 0, dn = 0, rn = 0;
            for (int k = 0; k < 9; k++) {
                double dr = Hr[k] / gap_ref;
                hh += h[k] * Hr[k], dd += d[k] * dr, dn += d[k] * d[k], rn += dr * dr;
            }
            l.cos += (hh >= 0 ? 1 : -1) * dd / sqrt(dn * rn);
            nc++;
        }
    }
    l.e0 /= l.rows, l.e1 /= l.rows, l.gap /= l.rows, l.f /= fn;
    l.cos = nc ? l.cos / nc : NAN;
    return l;
}

static void expect_line(const char *text, const char *name, err_line want)
{
    err_line got;
    cr_assert(find_line(text, name, &got), "no line '%s' in:\n%s", name, text);
    cr_expect_eq(got.rows, want.rows, "%s rows", name);
    /* printed to 1 meV */
    cr_expect(fabs(got.e0 - want.e0) <= 0.5 + 1e-9 * want.e0, "%s E0 %g vs %g", name, got.e0,
              want.e0);
    cr_expect(fabs(got.e1 - want.e1) <= 0.5 + 1e-9 * want.e1, "%s E1 %g vs %g", name, got.e1,
              want.e1);
    cr_expect(fabs(got.gap - want.gap) <= 0.5 + 1e-9 * want.gap, "%s gap %g vs %g", name, got.gap,
              want.gap);
    cr_expect(fabs(got.f - want.f) <= 0.5 + 1e-9 * want.f, "%s F %g vs %g", name, got.f, want.f);
    if (isnan(want.cos))
        cr_expect(isnan(got.cos), "%s: no NAC cosine expected", name);
    else
        cr_expect(fabs(got.cos - want.cos) <= 0.005 + 1e-12, "%s cos %g vs %g", name, got.cos,
                  want.cos);
}

Test(dataset_cmd, errors_match_direct_predictions_and_new_rows_are_checked)
{
    char path[1200], mpath[1200], opath[1200];
    snprintf(path, sizeof path, "%s/e.h5", dir);
    snprintf(mpath, sizeof mpath, "%s/m.h5", dir);
    fh_err err = {0};
    cr_assert_eq(tt_write_dataset(path, 12, 5, &err), FH_OK, "%s", err.msg);
    /* two more rows of another origin, then a failed one (not counted) */
    fh_dataset *d = NULL;
    cr_assert_eq(fh_dataset_read(path, &d, &err), FH_OK, "%s", err.msg);
    for (int k = 0; k < 3; k++) {
        char id[16];
        snprintf(id, sizeof id, "x-%d", k);
        fh_dataset_record r = {.id = id, .origin = "extra", .pos = d->pos + k * 9,
                               .status = k < 2 ? FH_DATASET_OK : FH_DATASET_FAILED,
                               .energy = k < 2 ? d->energy + k * 2 : NULL,
                               .grad = k < 2 ? d->grad + k * 18 : NULL,
                               .nac = k < 2 ? d->nac + k * 9 : NULL, .info = ""};
        cr_assert_eq(fh_dataset_append(path, &r, 1, &err), FH_OK, "%s", err.msg);
    }
    fh_dataset_free(d);
    fh_train_data *td = NULL;
    cr_assert_eq(fh_train_data_load(path, FH_TRAIN_NAC_CI, &td, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(td->n, 14);
    /* a committee of two, "trained" on the first 8 rows */
    fh_model *m = tm_small_model(2, 2, 3, &err);
    cr_assert_not_null(m, "%s", err.msg);
    fh_model_provenance *pv = fh_model_get_provenance(m);
    pv->n_train = 6, pv->n_valid = 1, pv->n_test = 1;
    fh_train_data_checksum(td, 8, pv->dataset_checksum);
    snprintf(pv->nac_target, sizeof pv->nac_target, "ci");
    cr_assert_eq(fh_model_save(m, mpath, &err), FH_OK, "%s", err.msg);

    cr_assert_eq(sh("%s dataset errors e.h5 --model m.h5 --new > new.txt", FH_TEST_FUSIONHOP), 0);
    snprintf(opath, sizeof opath, "%s/new.txt", dir);
    char *t = read_text(opath);
    expect_line(t, "analytic", expected(m, td, 8, 12));
    expect_line(t, "extra", expected(m, td, 12, 14));
    expect_line(t, "all", expected(m, td, 8, 14));
    cr_expect(strstr(t, "the 6 completed rows added after its training rows"), "%s", t);
    free(t);
    err_line a = expected(m, td, 8, 12);
    cr_assert(!isnan(a.cos), "the data have rows with gaps below 1 eV");
    /* --trained: exactly the first 8 rows, the ones the model saw */
    cr_assert_eq(sh("%s dataset errors e.h5 --model m.h5 --trained > old.txt", FH_TEST_FUSIONHOP), 0);
    snprintf(opath, sizeof opath, "%s/old.txt", dir);
    t = read_text(opath);
    expect_line(t, "analytic", expected(m, td, 0, 8));
    expect_line(t, "all", expected(m, td, 0, 8));
    cr_expect(!strstr(t, "\nextra "), "%s", t);
    cr_expect(strstr(t, "the 8 completed rows it was trained on"), "%s", t);
    free(t);
    /* an origin outside the requested rows: exit 2, not an empty table */
    cr_assert_eq(sh("%s dataset errors e.h5 --model m.h5 --trained --origin extra 2> ox.txt",
                    FH_TEST_FUSIONHOP), 2);
    snprintf(opath, sizeof opath, "%s/ox.txt", dir);
    t = read_text(opath);
    cr_expect(strstr(t, "no completed rows of origin 'extra' among the model's training rows"), "%s", t);
    free(t);
    cr_assert_eq(sh("%s dataset errors e.h5 --model m.h5 --trained --new 2> both.txt",
                    FH_TEST_FUSIONHOP), 2);
    snprintf(opath, sizeof opath, "%s/both.txt", dir);
    t = read_text(opath);
    cr_expect(strstr(t, "--new and --trained exclude each other"), "%s", t);
    free(t);

    cr_assert_eq(sh("%s dataset errors e.h5 --model m.h5 --origin extra > x.txt",
                    FH_TEST_FUSIONHOP), 0);
    snprintf(opath, sizeof opath, "%s/x.txt", dir);
    t = read_text(opath);
    expect_line(t, "extra", expected(m, td, 12, 14));
    expect_line(t, "all", expected(m, td, 12, 14));
    cr_expect(!strstr(t, "\nanalytic "), "%s", t);
    free(t);

    /* a model whose training rows are not the first rows of the file: --new refuses */
    pv->n_train = 7;
    cr_assert_eq(fh_model_save(m, mpath, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(sh("%s dataset errors e.h5 --model m.h5 --new 2> bad.txt", FH_TEST_FUSIONHOP), 2);
    snprintf(opath, sizeof opath, "%s/bad.txt", dir);
    t = read_text(opath);
    cr_expect(strstr(t, "--new: the first 9 completed rows of e.h5 are not the rows m.h5 was "
                        "trained on"), "%s", t);
    free(t);
    cr_assert_eq(sh("%s dataset errors e.h5 --model m.h5 --trained 2> bad2.txt", FH_TEST_FUSIONHOP),
                 2);
    snprintf(opath, sizeof opath, "%s/bad2.txt", dir);
    t = read_text(opath);
    cr_expect(strstr(t, "--trained: the first 9 completed rows of e.h5 are not the rows m.h5 "
                        "was trained on"), "%s", t);
    free(t);
    /* a mistyped origin: exit 2, not an empty table with exit 0 */
    cr_assert_eq(sh("%s dataset errors e.h5 --model m.h5 --origin exrta > o.txt 2> o.err",
                    FH_TEST_FUSIONHOP), 2);
    snprintf(opath, sizeof opath, "%s/o.err", dir);
    t = read_text(opath);
    cr_expect(strstr(t, "e.h5: no completed rows of origin 'exrta'"), "%s", t);
    free(t);
    cr_assert_eq(sh("%s dataset errors e.h5 2> nomodel.txt", FH_TEST_FUSIONHOP), 2);
    cr_assert_eq(sh("%s dataset errors e.h5 --model none.h5 2> none.txt", FH_TEST_FUSIONHOP), 2);
    snprintf(opath, sizeof opath, "%s/none.txt", dir);
    t = read_text(opath);
    cr_expect(strstr(t, "none.h5"), "%s", t);
    free(t);
    fh_train_data_free(td);
    fh_model_free(m);
}

/* --split PART takes exactly the rows `fusionhop train` puts into PART (fh_train_split with the
 * model's seed, or --seed), and --rows prints each of them with its own errors. */
Test(dataset_cmd, errors_of_one_split_part_and_per_row)
{
    char path[1200], mpath[1200], opath[1200];
    snprintf(path, sizeof path, "%s/e.h5", dir);
    snprintf(mpath, sizeof mpath, "%s/m.h5", dir);
    fh_err err = {0};
    cr_assert_eq(tt_write_dataset(path, 40, 9, &err), FH_OK, "%s", err.msg);
    fh_train_data *td = NULL;
    cr_assert_eq(fh_train_data_load(path, FH_TRAIN_NAC_CI, &td, &err), FH_OK, "%s", err.msg);
    fh_model *m = tm_small_model(2, 2, 3, &err);
    cr_assert_not_null(m, "%s", err.msg);
    fh_model_provenance *pv = fh_model_get_provenance(m);
    pv->seed = 11;
    snprintf(pv->nac_target, sizeof pv->nac_target, "ci");
    cr_assert_eq(fh_model_save(m, mpath, &err), FH_OK, "%s", err.msg);

    static const char *part[3] = {"train", "valid", "test"};
    for (int seed_opt = 0; seed_opt < 2; seed_opt++) {
        uint64_t seed = seed_opt ? 4 : 11;
        size_t *idx = NULL, n[3];
        cr_assert_eq(fh_train_split(td, 0.8, 0.1, seed, &idx, &n[0], &n[1], &n[2], &err), FH_OK);
        cr_assert(n[1] > 0 && n[2] > 0, "40 rows: every part has some");
        for (int p = 1; p < 3; p++) {
            const size_t *rows = idx + (p == 1 ? n[0] : n[0] + n[1]);
            cr_assert_eq(sh("%s dataset errors e.h5 --model m.h5 --split %s %s --rows > s.txt",
                            FH_TEST_FUSIONHOP, part[p], seed_opt ? "--seed 4" : ""), 0);
            snprintf(opath, sizeof opath, "%s/s.txt", dir);
            char *t = read_text(opath);
            /* the part's totals: the sum of its rows' errors */
            err_line want = {0}, sum_cos = {0};
            int ncos = 0;
            for (size_t j = 0; j < n[p]; j++) {
                err_line one = expected(m, td, rows[j], rows[j] + 1);
                want.rows++;
                want.e0 += one.e0, want.e1 += one.e1, want.gap += one.gap, want.f += one.f;
                if (!isnan(one.cos)) sum_cos.cos += one.cos, ncos++;
                /* the row's own line: id, origin, reference gap, errors, cosine */
                char key[80];
                snprintf(key, sizeof key, "\n%s ", td->id[rows[j]]);
                const char *l = strstr(t, key);
                cr_assert(l, "no line for row %s in:\n%s", td->id[rows[j]], t);
                char org[64];
                double g, e0, e1, dg, f, c = NAN;
                int k = sscanf(l + strlen(key), "%63s %lf %lf %lf %lf %lf %lf", org, &g, &e0, &e1,
                               &dg, &f, &c);
                cr_assert(k >= 6, "%s", l);
                double gref = (td->energy[rows[j] * 2 + 1] - td->energy[rows[j] * 2]) * FH_HARTREE_EV;
                cr_expect(fabs(g - gref) < 1e-3, "%s gap %g vs %g", td->id[rows[j]], g, gref);
                cr_expect(fabs(e0 - one.e0) <= 0.5 + 1e-9, "%s E0 %g vs %g", org, e0, one.e0);
                cr_expect(fabs(dg - one.gap) <= 0.5 + 1e-9, "gap error %g vs %g", dg, one.gap);
                cr_expect(fabs(f - one.f) <= 0.5 + 1e-9, "force %g vs %g", f, one.f);
                if (isnan(one.cos)) cr_expect(k == 6, "no cosine for a large gap: %s", l);
                else cr_expect(fabs(c - one.cos) <= 5e-4 + 1e-12, "cos %g vs %g", c, one.cos);
            }
            want.e0 /= want.rows, want.e1 /= want.rows, want.gap /= want.rows, want.f /= want.rows;
            want.cos = ncos ? sum_cos.cos / ncos : NAN;
            expect_line(t, "all", want);
            /* no row of another part */
            for (size_t i = 0; i < td->n; i++) {
                int mine = 0;
                for (size_t j = 0; j < n[p]; j++) mine |= rows[j] == i;
                char key[80];
                snprintf(key, sizeof key, "\n%s ", td->id[i]);
                if (!mine) cr_expect(!strstr(t, key), "row %s is not in part %s", td->id[i], part[p]);
            }
            char head[96];
            snprintf(head, sizeof head, "seed %llu, fractions 0.8 / 0.1: part %s",
                     (unsigned long long)seed, part[p]);
            cr_expect(strstr(t, head), "%s", t);
            free(t);
        }
        free(idx);
    }
    /* --member 2: the second member alone (its weights in a committee of one), on the test part */
    {
        fh_model *m2 = NULL;
        cr_assert_eq(fh_model_copy(m, &m2, &err), FH_OK, "%s", err.msg);
        size_t np = fh_model_n_params(m2);
        memcpy(fh_model_params(m2, 0), fh_model_params(m2, 1), sizeof(double) * np);
        cr_assert_eq(fh_model_set_members(m2, 1, 0, &err), FH_OK, "%s", err.msg);
        size_t *idx = NULL, n[3];
        cr_assert_eq(fh_train_split(td, 0.8, 0.1, 11, &idx, &n[0], &n[1], &n[2], &err), FH_OK);
        err_line want = {0}, whole = {0};
        double sc = 0;
        int nc = 0;
        for (size_t j = n[0] + n[1]; j < n[0] + n[1] + n[2]; j++) {
            err_line one = expected(m2, td, idx[j], idx[j] + 1);
            want.rows++, want.e0 += one.e0, want.e1 += one.e1, want.gap += one.gap, want.f += one.f;
            if (!isnan(one.cos)) sc += one.cos, nc++;
            err_line mean = expected(m, td, idx[j], idx[j] + 1);
            whole.gap += fabs(mean.gap - one.gap);
        }
        want.e0 /= want.rows, want.e1 /= want.rows, want.gap /= want.rows, want.f /= want.rows;
        want.cos = nc ? sc / nc : NAN;
        cr_assert(whole.gap > 1e-3, "the member must differ from the committee mean");
        cr_assert_eq(sh("%s dataset errors e.h5 --model m.h5 --split test --member 2 > k.txt",
                        FH_TEST_FUSIONHOP), 0);
        snprintf(opath, sizeof opath, "%s/k.txt", dir);
        char *t = read_text(opath);
        expect_line(t, "all", want);
        cr_expect(strstr(t, "m.h5 (one member) on e.h5"), "%s", t);
        free(t);
        cr_assert_eq(sh("%s dataset errors e.h5 --model m.h5 --member 3 2> k.err", FH_TEST_FUSIONHOP),
                     2);
        snprintf(opath, sizeof opath, "%s/k.err", dir);
        t = read_text(opath);
        cr_expect(strstr(t, "--member 3: m.h5: model: member 3 requested, the committee has 2 members"), "%s", t);
        free(t);
        free(idx);
        fh_model_free(m2);
    }
    /* a part that does not exist, a seed without --split */
    cr_assert_eq(sh("%s dataset errors e.h5 --model m.h5 --split tset 2> p.err", FH_TEST_FUSIONHOP),
                 2);
    snprintf(opath, sizeof opath, "%s/p.err", dir);
    char *t = read_text(opath);
    cr_expect(strstr(t, "--split 'tset': expected train, valid or test"), "%s", t);
    free(t);
    cr_assert_eq(sh("%s dataset errors e.h5 --model m.h5 --seed 3 2> p.err", FH_TEST_FUSIONHOP), 2);
    fh_train_data_free(td);
    fh_model_free(m);
}

/* The two numbers of a printed interval "lo..hi" (the cells under the table). */
static void interval_cells(const char *line, double *lo, double *hi, int ncells)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", line);
    char *nl = strchr(buf, '\n');
    if (nl) *nl = 0;
    char *p = buf;
    for (int k = 0; k < ncells; k++) {
        char *dots = strstr(p, "..");
        cr_assert(dots, "cell %d of '%s'", k, line);
        *dots = ' ';
        dots[1] = ' ';
        char *end;
        lo[k] = strtod(p, &end);
        hi[k] = strtod(end, &end);
        cr_assert(end > dots, "cell %d of '%s'", k, line);
        p = end;
    }
}

static double quantile(double *v, int n, double q)
{
    for (int i = 1; i < n; i++) /* insertion sort: a thousand values */
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1], v[j - 1] = t;
        }
    double pos = q * (n - 1);
    int i = (int)pos;
    return i >= n - 1 ? v[n - 1] : v[i] + (pos - i) * (v[i + 1] - v[i]);
}

/* A printed interval lo..hi (to 1 meV) against the 2.5 and 97.5 percentiles of the B values v. */
static void expect_interval(double lo, double hi, double *v, int B, const char *what)
{
    double want_lo = quantile(v, B, 0.025), want_hi = quantile(v, B, 0.975);
    cr_expect(fabs(lo - want_lo) <= 0.5 + 1e-9 && fabs(hi - want_hi) <= 0.5 + 1e-9,
              "%s interval %g..%g, expected %g..%g", what, lo, hi, want_lo, want_hi);
}

/* --compare's two lines in the output t: the differences d[5] and their intervals lo/hi[5]. */
static void compare_lines(const char *t, double *d, double *lo, double *hi)
{
    const char *l = strstr(t, "\ndifference MODEL2 - MODEL");
    cr_assert(l, "%s", t);
    cr_assert_eq(sscanf(l + strlen("\ndifference MODEL2 - MODEL"), "%lf %lf %lf %lf %lf", &d[0], &d[1],
                        &d[2], &d[3], &d[4]), 5, "%s", l);
    l = strstr(l, "\n95% interval of difference");
    cr_assert(l, "%s", t);
    interval_cells(l + strlen("\n95% interval of difference"), lo, hi, 5);
}

/* Whether the line of t that starts with label (after a newline) ends in the cell "-". */
static int last_cell_is_dash(const char *t, const char *label)
{
    const char *l = strstr(t, label), *eol = l ? strchr(l + 1, '\n') : NULL;
    return eol && eol - l >= 2 && eol[-1] == '-' && eol[-2] == ' ';
}

/* Under the table, the 95% bootstrap interval of each number over the rows, and with --compare
 * MODEL2 that model's "all" row and the paired difference: both recomputed here from the rows'
 * gap and force errors (direct predictions) and the same resamples (fh_ana_boot_weights(1000, n,
 * 1)). A model against itself differs by exactly zero in every resample. A second model that is
 * not a model file: exit 2. */
Test(dataset_cmd, errors_bootstrap_intervals_and_paired_compare)
{
    char path[1200], mpath[1200], m2path[1200], opath[1200];
    snprintf(path, sizeof path, "%s/e.h5", dir);
    snprintf(mpath, sizeof mpath, "%s/m.h5", dir);
    snprintf(m2path, sizeof m2path, "%s/m2.h5", dir);
    fh_err err = {0};
    enum { N = 30, B = 1000 };
    cr_assert_eq(tt_write_dataset(path, N, 9, &err), FH_OK, "%s", err.msg);
    fh_train_data *td = NULL;
    cr_assert_eq(fh_train_data_load(path, FH_TRAIN_NAC_CI, &td, &err), FH_OK, "%s", err.msg);
    fh_model *m = tm_small_model(2, 2, 3, &err), *m2 = NULL;
    cr_assert_not_null(m, "%s", err.msg);
    snprintf(fh_model_get_provenance(m)->nac_target, sizeof fh_model_get_provenance(m)->nac_target,
             "ci");
    cr_assert_eq(fh_model_save(m, mpath, &err), FH_OK, "%s", err.msg);
    /* the second model: member 2's weights in both places */
    cr_assert_eq(fh_model_copy(m, &m2, &err), FH_OK, "%s", err.msg);
    memcpy(fh_model_params(m2, 0), fh_model_params(m2, 1), sizeof(double) * fh_model_n_params(m2));
    cr_assert_eq(fh_model_save(m2, m2path, &err), FH_OK, "%s", err.msg);

    double g1[N], g2[N], f1[N], f2[N];
    for (int i = 0; i < N; i++) {
        err_line a = expected(m, td, (size_t)i, (size_t)i + 1), b = expected(m2, td, (size_t)i, (size_t)i + 1);
        g1[i] = a.gap, g2[i] = b.gap, f1[i] = a.f, f2[i] = b.f;   /* every row has 18 components */
    }
    int *w = fh_ana_boot_weights(B, N, 1);
    cr_assert_not_null(w);
    double gap[B], dgap[B], dforce[B];
    for (int r = 0; r < B; r++) {
        double sg1 = 0, sg2 = 0, sf1 = 0, sf2 = 0;
        for (int i = 0; i < N; i++)
            sg1 += w[r * N + i] * g1[i], sg2 += w[r * N + i] * g2[i], sf1 += w[r * N + i] * f1[i],
            sf2 += w[r * N + i] * f2[i];
        gap[r] = sg1 / N, dgap[r] = (sg2 - sg1) / N, dforce[r] = (sf2 - sf1) / N;
    }
    free(w);

    cr_assert_eq(sh("%s dataset errors e.h5 --model m.h5 --compare m2.h5 > c.txt", FH_TEST_FUSIONHOP), 0);
    snprintf(opath, sizeof opath, "%s/c.txt", dir);
    char *t = read_text(opath);
    const char *l = strstr(t, "95% interval (bootstrap of the 30 rows, 1000 resamples):\n");
    cr_assert(l, "%s", t);
    double lo[5], hi[5];
    interval_cells(strchr(l, '\n') + 1, lo, hi, 4);
    expect_interval(lo[2], hi[2], gap, B, "gap");
    cr_expect(lo[2] < hi[2] && lo[0] <= hi[0] && lo[3] <= hi[3], "%s", l);
    /* the second model's table row, then the difference and its interval */
    l = strstr(t, "--compare m2.h5 on the same rows:\n");
    cr_assert(l, "%s", t);
    err_line all2 = expected(m2, td, 0, N), all1 = expected(m, td, 0, N);
    expect_line(l, "all", all2);
    double d[5];
    compare_lines(l, d, lo, hi);
    cr_expect(fabs(d[2] - (all2.gap - all1.gap)) <= 0.05 + 1e-9, "gap difference %g vs %g", d[2],
              all2.gap - all1.gap);
    expect_interval(lo[2], hi[2], dgap, B, "gap difference");
    expect_interval(lo[3], hi[3], dforce, B, "force difference");
    cr_expect(fabs(all2.gap - all1.gap) > 1.0, "the two models must differ: gap %g vs %g",
              all2.gap, all1.gap);
    free(t);

    /* against itself: zero difference in every resample */
    cr_assert_eq(sh("%s dataset errors e.h5 --model m.h5 --compare m.h5 > s.txt", FH_TEST_FUSIONHOP), 0);
    snprintf(opath, sizeof opath, "%s/s.txt", dir);
    t = read_text(opath);
    compare_lines(t, d, lo, hi);
    for (int k = 0; k < 5; k++)
        cr_expect(d[k] == 0 && lo[k] == 0 && hi[k] == 0, "column %d: %g, %g..%g\n%s", k, d[k], lo[k],
                  hi[k], t);
    free(t);
    expect_error("--compare: m3.h5", "%s dataset errors e.h5 --model m.h5 --compare m3.h5",
                 FH_TEST_FUSIONHOP);

    /* rows without couplings: no NAC cosine for either model, so its difference is "-" too */
    snprintf(path, sizeof path, "%s/e0.h5", dir);
    cr_assert_eq(tt_write_dataset_nac(path, 10, 9, 0, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(sh("%s dataset errors e0.h5 --model m.h5 --compare m2.h5 > n.txt", FH_TEST_FUSIONHOP), 0);
    snprintf(opath, sizeof opath, "%s/n.txt", dir);
    t = read_text(opath);
    cr_assert(!strstr(t, "nan"), "%s", t);
    cr_assert(last_cell_is_dash(t, "\ndifference MODEL2 - MODEL"), "%s", t);
    cr_assert(last_cell_is_dash(t, "\n95% interval of difference"), "%s", t);
    free(t);
    fh_train_data_free(td);
    fh_model_free(m), fh_model_free(m2);
}
