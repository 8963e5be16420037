/* The reference dataset file: write, append, read back bit for bit, masks, resumable ids,
 * mismatches and corrupt files as clear errors, and kill safety (a writer SIGKILLed at random
 * moments never leaves a file that cannot be read or loses an append it completed). */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fh_dataset.h"

#define NA 3
#define NS 3
#define NP 3
static const int zs[NA] = {8, 1, 1};

static char dir[256];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/fh_test_dataset.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(dataset, .init = make_dir, .fini = remove_dir);

/* Row k's values: every number differs between rows and entries. */
typedef struct {
    double pos[NA * 3], e[NS], g[NS * NA * 3], nac[NP * NA * 3], ci[NP * NA * 3],
        csf[NP * NA * 3];
    unsigned char has_g[NS], has_nac[NP];
    char id[64];
    fh_dataset_record r;
} row;

static void make_row(row *w, int k, int variant)
{
    memset(w, 0, sizeof *w);
    for (int i = 0; i < NA * 3; i++) w->pos[i] = 0.1 * k + 0.01 * i + variant;
    for (int s = 0; s < NS; s++) w->e[s] = -76.0 + 0.1 * s + 1e-4 * k;
    for (int i = 0; i < NS * NA * 3; i++) w->g[i] = 1e-3 * i - 1e-5 * k;
    for (int i = 0; i < NP * NA * 3; i++) {
        w->nac[i] = 0.5 - 0.01 * i + 1e-6 * k;
        w->ci[i] = 0.02 * i + 1e-7 * k;
        w->csf[i] = -0.001 * i + 1e-8 * k;
    }
    for (int s = 0; s < NS; s++) w->has_g[s] = (unsigned char)((k + s) % 2);
    for (int p = 0; p < NP; p++) w->has_nac[p] = (unsigned char)(p != k % NP);
    snprintf(w->id, sizeof w->id, "geom-%05d", k);
    w->r = (fh_dataset_record){.id = w->id, .origin = k % 2 ? "torsion-scan" : "wigner-cis",
                               .info = "note", .status = FH_DATASET_OK, .wall_s = 10.0 + k,
                               .pos = w->pos, .energy = w->e, .grad = w->g, .has_grad = w->has_g,
                               .nac = w->nac, .has_nac = w->has_nac, .nac_ci = w->ci,
                               .nac_csf = w->csf, .has_nac_parts = w->has_nac};
}

/* Row r of d must equal make_row(k) exactly, with NaN where masked out. */
static void check_row(const fh_dataset *d, size_t r, int k)
{
    row w;
    make_row(&w, k, 0);
    cr_assert_str_eq(d->id[r], w.id);
    cr_assert_str_eq(d->origin[r], w.r.origin);
    cr_assert_str_eq(d->info[r], "note");
    cr_assert_eq(d->status[r], FH_DATASET_OK);
    cr_assert_eq(d->wall_s[r], 10.0 + k);
    for (int i = 0; i < NA * 3; i++) cr_assert_eq(d->pos[r * NA * 3 + i], w.pos[i]);
    for (int s = 0; s < NS; s++) {
        cr_assert_eq(d->energy[r * NS + s], w.e[s]);
        cr_assert_eq(d->has_energy[r * NS + s], 1);
        cr_assert_eq(d->has_grad[r * NS + s], w.has_g[s]);
        for (int i = 0; i < NA * 3; i++) {
            double v = d->grad[(r * NS + s) * NA * 3 + i];
            if (w.has_g[s]) cr_assert_eq(v, w.g[s * NA * 3 + i]);
            else cr_assert(isnan(v), "masked gradient must read as NaN");
        }
    }
    for (int p = 0; p < NP; p++) {
        cr_assert_eq(d->has_nac[r * NP + p], w.has_nac[p]);
        cr_assert_eq(d->has_nac_parts[r * NP + p], w.has_nac[p]);
        for (int i = 0; i < NA * 3; i++) {
            size_t o = (r * NP + p) * NA * 3 + i;
            if (w.has_nac[p]) {
                cr_assert_eq(d->nac[o], w.nac[p * NA * 3 + i]);
                cr_assert_eq(d->nac_ci[o], w.ci[p * NA * 3 + i]);
                cr_assert_eq(d->nac_csf[o], w.csf[p * NA * 3 + i]);
            } else {
                cr_assert(isnan(d->nac[o]) && isnan(d->nac_ci[o]) && isnan(d->nac_csf[o]));
            }
        }
    }
}

static void path_of(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

Test(dataset, create_append_read_back)
{
    char path[512];
    path_of(path, sizeof path, "d.h5");
    fh_err e = {0};
    cr_assert_eq(fh_dataset_create(path, NA, NS, zs, "test level", 0, &e), FH_OK, "%s", e.msg);
    fh_dataset_info info;
    cr_assert_eq(fh_dataset_read_info(path, &info, &e), FH_OK, "%s", e.msg);
    cr_assert_eq(info.n, 0);
    cr_assert_eq(info.natoms, NA);
    cr_assert_eq(info.nstates, NS);
    cr_assert_eq(info.z[0], 8);
    cr_assert_str_eq(info.level, "test level");

    /* one by one, then several at once */
    row w[6];
    for (int k = 0; k < 6; k++) make_row(&w[k], k, 0);
    for (int k = 0; k < 3; k++)
        cr_assert_eq(fh_dataset_append(path, &w[k].r, 1, &e), FH_OK, "%s", e.msg);
    fh_dataset_record many[3] = {w[3].r, w[4].r, w[5].r};
    cr_assert_eq(fh_dataset_append(path, many, 3, &e), FH_OK, "%s", e.msg);

    fh_dataset *d = NULL;
    cr_assert_eq(fh_dataset_read(path, &d, &e), FH_OK, "%s", e.msg);
    cr_assert_eq(d->n, 6);
    cr_assert_eq(d->npairs, NP);
    for (int k = 0; k < 6; k++) check_row(d, (size_t)k, k);
    cr_assert_eq(fh_dataset_find(d, "geom-00004", FH_DATASET_OK), 4);
    cr_assert_eq(fh_dataset_find(d, "nope", -1), -1);
    cr_assert_eq(fh_dataset_count_ok(d), 6);
    fh_dataset_free(d);

    /* by index */
    cr_assert_eq(fh_dataset_read_rows(path, 2, 3, &d, &e), FH_OK, "%s", e.msg);
    cr_assert_eq(d->n, 3);
    cr_assert_eq(d->first, 2);
    for (int k = 0; k < 3; k++) check_row(d, (size_t)k, k + 2);
    fh_dataset_free(d);
    cr_assert_eq(fh_dataset_read_rows(path, 5, 2, &d, &e), FH_EINPUT);
    cr_assert_null(d);
    cr_assert(strstr(e.msg, "the file has 6"), "%s", e.msg);
}

Test(dataset, missing_quantities_and_failures)
{
    char path[512];
    path_of(path, sizeof path, "m.h5");
    fh_err e = {0};
    cr_assert_eq(fh_dataset_open_or_create(path, NA, NS, zs, "L", &e), FH_OK, "%s", e.msg);
    row w;
    make_row(&w, 7, 0);
    /* energies only */
    fh_dataset_record r = {.id = "only-energies", .origin = "meci", .pos = w.pos,
                           .energy = w.e, .wall_s = 1.5};
    /* a failed calculation: no data, a note */
    fh_dataset_record f = {.id = "broken", .origin = "al-round1", .pos = w.pos,
                           .status = FH_DATASET_FAILED, .info = "log=/x/y.log no convergence"};
    cr_assert_eq(fh_dataset_append(path, &r, 1, &e), FH_OK, "%s", e.msg);
    cr_assert_eq(fh_dataset_append(path, &f, 1, &e), FH_OK, "%s", e.msg);
    /* the failed id may be retried and succeed later */
    fh_dataset_record ok = w.r;
    ok.id = "broken";
    cr_assert_eq(fh_dataset_append(path, &ok, 1, &e), FH_OK, "%s", e.msg);

    fh_dataset *d = NULL;
    cr_assert_eq(fh_dataset_read(path, &d, &e), FH_OK, "%s", e.msg);
    cr_assert_eq(d->n, 3);
    for (int s = 0; s < NS; s++) {
        cr_assert_eq(d->has_energy[s], 1);
        cr_assert_eq(d->has_grad[s], 0);
        cr_assert_eq(d->has_energy[NS + s], 0);
        cr_assert(isnan(d->energy[NS + s]));
    }
    for (int p = 0; p < NP; p++) cr_assert_eq(d->has_nac[p], 0);
    cr_assert_eq(d->status[1], FH_DATASET_FAILED);
    cr_assert_str_eq(d->info[1], "log=/x/y.log no convergence");
    cr_assert_str_eq(d->origin[1], "al-round1");
    cr_assert_eq(fh_dataset_find(d, "broken", FH_DATASET_OK), 2);
    cr_assert_eq(fh_dataset_find(d, "broken", FH_DATASET_FAILED), 1);
    cr_assert_eq(fh_dataset_count_ok(d), 2);
    fh_dataset_free(d);
}

/* Appends rewrite the last chunk of every dataset; the file must not keep the old copies. */
Test(dataset, many_appends_do_not_bloat_the_file)
{
    char path[512];
    path_of(path, sizeof path, "grow.h5");
    fh_err e = {0};
    cr_assert_eq(fh_dataset_create(path, NA, NS, zs, "L", 0, &e), FH_OK, "%s", e.msg);
    row w;
    size_t raw = 0;
    for (int k = 0; k < 150; k++) {
        make_row(&w, k, 0);
        for (int i = 0; i < NS * NA * 3; i++) w.g[i] = sin(1.0 + k * 7.0 + i); /* incompressible */
        cr_assert_eq(fh_dataset_append(path, &w.r, 1, &e), FH_OK, "%s", e.msg);
        raw += sizeof w.pos + sizeof w.e + sizeof w.g + sizeof w.nac + sizeof w.ci + sizeof w.csf +
               FH_DATASET_ID_LEN + FH_DATASET_ORIGIN_LEN + FH_DATASET_INFO_LEN + 16;
    }
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    cr_assert_lt(size, (long)(2 * raw) + 100000, "file %ld bytes for %zu bytes of rows", size,
                 raw);
}

Test(dataset, mark_failed_withdraws_a_row)
{
    char path[512];
    path_of(path, sizeof path, "w.h5");
    fh_err e = {0};
    cr_assert_eq(fh_dataset_create(path, NA, NS, zs, "L", 0, &e), FH_OK, "%s", e.msg);
    row w[3];
    for (int k = 0; k < 3; k++) {
        make_row(&w[k], k, 0);
        cr_assert_eq(fh_dataset_append(path, &w[k].r, 1, &e), FH_OK, "%s", e.msg);
    }
    size_t marked = 99;
    cr_assert_eq(fh_dataset_mark_failed(path, "geom-00001", "superseded: wrong solution",
                                        &marked, &e), FH_OK, "%s", e.msg);
    cr_assert_eq(marked, 1);
    cr_assert_eq(fh_dataset_mark_failed(path, "geom-00001", "again", &marked, &e), FH_OK);
    cr_assert_eq(marked, 0, "a failed row is not marked twice");
    cr_assert_eq(fh_dataset_mark_failed(path, "no-such-id", "x", &marked, &e), FH_OK);
    cr_assert_eq(marked, 0);
    cr_assert_eq(fh_dataset_mark_failed(path, "", "x", &marked, &e), FH_EINPUT);

    fh_dataset *d = NULL;
    cr_assert_eq(fh_dataset_read(path, &d, &e), FH_OK, "%s", e.msg);
    cr_assert_eq(d->n, 3);
    cr_assert_eq(fh_dataset_count_ok(d), 2);
    cr_assert_eq(d->status[1], FH_DATASET_FAILED);
    cr_assert_str_eq(d->info[1], "superseded: wrong solution");
    for (int st = 0; st < NS; st++) {
        cr_assert_eq(d->has_energy[NS + st], 0);
        cr_assert_eq(d->has_grad[NS + st], 0);
    }
    for (int p = 0; p < NP; p++) cr_assert_eq(d->has_nac[NP + p] | d->has_nac_parts[NP + p], 0);
    check_row(d, 0, 0); /* the neighbours are untouched */
    check_row(d, 2, 2);
    fh_dataset_free(d);

    /* the id can be computed again */
    cr_assert_eq(fh_dataset_append(path, &w[1].r, 1, &e), FH_OK, "%s", e.msg);
    cr_assert_eq(fh_dataset_read(path, &d, &e), FH_OK, "%s", e.msg);
    cr_assert_eq(fh_dataset_find(d, "geom-00001", FH_DATASET_OK), 3);
    check_row(d, 3, 1);
    fh_dataset_free(d);
}

Test(dataset, bad_records_and_mismatches_leave_the_file_unchanged)
{
    char path[512];
    path_of(path, sizeof path, "b.h5");
    fh_err e = {0};
    cr_assert_eq(fh_dataset_create(path, NA, NS, zs, "L", 0, &e), FH_OK, "%s", e.msg);
    row w;
    make_row(&w, 1, 0);
    cr_assert_eq(fh_dataset_append(path, &w.r, 1, &e), FH_OK, "%s", e.msg);

    /* an id that is already done */
    cr_assert_eq(fh_dataset_append(path, &w.r, 1, &e), FH_EINPUT);
    cr_assert(strstr(e.msg, "already in the dataset"), "%s", e.msg);
    /* the same id twice in one append: all or nothing */
    row v;
    make_row(&v, 2, 0);
    fh_dataset_record two[2] = {v.r, v.r};
    cr_assert_eq(fh_dataset_append(path, two, 2, &e), FH_EINPUT);
    /* an id that is too long, and one that is missing */
    fh_dataset_record bad = v.r;
    char longid[100];
    memset(longid, 'a', 99);
    longid[99] = '\0';
    bad.id = longid;
    cr_assert_eq(fh_dataset_append(path, &bad, 1, &e), FH_EINPUT);
    bad.id = NULL;
    cr_assert_eq(fh_dataset_append(path, &bad, 1, &e), FH_EINPUT);

    fh_dataset_info info;
    cr_assert_eq(fh_dataset_read_info(path, &info, &e), FH_OK, "%s", e.msg);
    cr_assert_eq(info.n, 1, "rejected appends must not add rows");

    /* mismatched molecule or level of theory */
    int z2[NA] = {8, 1, 9};
    cr_assert_eq(fh_dataset_open_or_create(path, NA, NS, z2, "L", &e), FH_EINPUT);
    cr_assert(strstr(e.msg, "atom 3"), "%s", e.msg);
    cr_assert_eq(fh_dataset_open_or_create(path, NA, 2, zs, "L", &e), FH_EINPUT);
    cr_assert_eq(fh_dataset_open_or_create(path, NA, NS, zs, "other", &e), FH_EINPUT);
    cr_assert(strstr(e.msg, "level of theory"), "%s", e.msg);
    cr_assert_eq(fh_dataset_open_or_create(path, NA, NS, zs, "L", &e), FH_OK, "%s", e.msg);
    /* create refuses to overwrite unless asked */
    cr_assert_eq(fh_dataset_create(path, NA, NS, zs, "L", 0, &e), FH_EINPUT);
    cr_assert_eq(fh_dataset_create(path, NA, NS, zs, "L", 1, &e), FH_OK, "%s", e.msg);
    cr_assert_eq(fh_dataset_read_info(path, &info, &e), FH_OK, "%s", e.msg);
    cr_assert_eq(info.n, 0);
    cr_assert_eq(fh_dataset_create(path, 0, NS, zs, "L", 1, &e), FH_EINPUT);
}

Test(dataset, single_state_has_no_pair_columns)
{
    char path[512];
    path_of(path, sizeof path, "s.h5");
    fh_err e = {0};
    cr_assert_eq(fh_dataset_create(path, NA, 1, zs, "", 0, &e), FH_OK, "%s", e.msg);
    double pos[NA * 3] = {0, 0, 0, 1, 0, 0, 0, 1, 0}, en = -1.0, g[NA * 3] = {0.1};
    fh_dataset_record r = {.id = "a", .pos = pos, .energy = &en, .grad = g};
    cr_assert_eq(fh_dataset_append(path, &r, 1, &e), FH_OK, "%s", e.msg);
    fh_dataset *d = NULL;
    cr_assert_eq(fh_dataset_read(path, &d, &e), FH_OK, "%s", e.msg);
    cr_assert_eq(d->npairs, 0);
    cr_assert_null(d->nac);
    cr_assert_eq(d->energy[0], -1.0);
    cr_assert_eq(d->grad[0], 0.1);
    cr_assert_eq(d->has_grad[0], 1);
    fh_dataset_free(d);
}

Test(dataset, corrupt_and_foreign_files_are_clear_errors)
{
    char path[512], trunc[512], garbage[512], foreign[512], missing[512];
    path_of(path, sizeof path, "good.h5");
    path_of(trunc, sizeof trunc, "trunc.h5");
    path_of(garbage, sizeof garbage, "garbage.h5");
    path_of(foreign, sizeof foreign, "foreign.h5");
    path_of(missing, sizeof missing, "missing.h5");
    fh_err e = {0};
    cr_assert_eq(fh_dataset_create(path, NA, NS, zs, "L", 0, &e), FH_OK, "%s", e.msg);
    row w;
    for (int k = 0; k < 40; k++) {
        make_row(&w, k, 0);
        cr_assert_eq(fh_dataset_append(path, &w.r, 1, &e), FH_OK, "%s", e.msg);
    }
    /* truncated copies at several lengths */
    FILE *in = fopen(path, "rb");
    cr_assert_not_null(in);
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    char *buf = malloc((size_t)size);
    fseek(in, 0, SEEK_SET);
    cr_assert_eq(fread(buf, 1, (size_t)size, in), (size_t)size);
    fclose(in);
    for (int cut = 1; cut < 8; cut++) {
        FILE *out = fopen(trunc, "wb");
        fwrite(buf, 1, (size_t)(size * cut / 8), out);
        fclose(out);
        fh_dataset *d = NULL;
        int rc = fh_dataset_read(trunc, &d, &e);
        cr_assert_eq(rc, FH_EINPUT, "a file cut to %d/8 must be an input error", cut);
        cr_assert_null(d);
        cr_assert(strstr(e.msg, trunc), "the message must name the file: %s", e.msg);
    }
    free(buf);

    FILE *g = fopen(garbage, "w");
    fputs("this is not HDF5\n", g);
    fclose(g);
    fh_dataset *d = NULL;
    cr_assert_eq(fh_dataset_read(garbage, &d, &e), FH_EINPUT);
    cr_assert(strstr(e.msg, "not an HDF5 file"), "%s", e.msg);
    row v;
    make_row(&v, 99, 0);
    cr_assert_eq(fh_dataset_append(garbage, &v.r, 1, &e), FH_EINPUT);

    hid_t f = H5Fcreate(foreign, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    cr_assert_eq(fh_dataset_read(foreign, &d, &e), FH_EINPUT);
    cr_assert(strstr(e.msg, "not a fusionhop dataset"), "%s", e.msg);

    cr_assert_eq(fh_dataset_read(missing, &d, &e), FH_EINPUT);
    cr_assert(strstr(e.msg, "missing.h5"), "%s", e.msg);
    cr_assert_eq(fh_dataset_append(missing, &v.r, 1, &e), FH_EINPUT);
}

Test(dataset, kill_during_appends_loses_nothing_completed, .timeout = 120)
{
    char path[512];
    path_of(path, sizeof path, "k.h5");
    fh_err e = {0};
    cr_assert_eq(fh_dataset_create(path, NA, NS, zs, "L", 0, &e), FH_OK, "%s", e.msg);
    int completed = -1; /* last row the writers reported done */
    srand(12345);
    for (int round = 0; round < 12; round++) {
        /* each round the child continues the file from where the last one was killed */
        fh_dataset_info info;
        cr_assert_eq(fh_dataset_read_info(path, &info, &e), FH_OK, "round %d: %s", round, e.msg);
        int start = (int)info.n;
        int p[2];
        cr_assert_eq(pipe(p), 0);
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            /* rows continue from `start` so that ids stay unique */
            fh_err ce = {0};
            row w;
            for (int k = start; k < start + 100000; k++) {
                make_row(&w, k, 0);
                if (fh_dataset_append(path, &w.r, 1, &ce)) _exit(3);
                if (write(p[1], &k, sizeof k) != sizeof k) _exit(4);
            }
            _exit(0);
        }
        close(p[1]);
        /* let it complete a few appends, then kill at a random moment within the next one */
        int want = 2 + rand() % 4, got = 0, k;
        while (got < want && read(p[0], &k, sizeof k) == sizeof k) {
            completed = k;
            got++;
        }
        struct timespec ts = {0, (long)(rand() % 3000) * 1000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        while (read(p[0], &k, sizeof k) == sizeof k) completed = k; /* reported before death */
        close(p[0]);
        cr_assert(WIFSIGNALED(status), "round %d: the writer failed on its own (status %d)",
                  round, status);

        fh_dataset *d = NULL;
        cr_assert_eq(fh_dataset_read(path, &d, &e), FH_OK, "round %d: killed file must read: %s",
                     round, e.msg);
        cr_assert_geq((long)d->n, (long)completed + 1, "round %d: lost completed appends",
                      round);
        for (size_t r = 0; r < d->n; r++) check_row(d, r, (int)r);
        fh_dataset_free(d);
    }
    /* after all the kills the file still takes appends and leaves no temporary copies behind */
    fh_dataset_info info;
    cr_assert_eq(fh_dataset_read_info(path, &info, &e), FH_OK, "%s", e.msg);
    row w;
    make_row(&w, (int)info.n, 0);
    cr_assert_eq(fh_dataset_append(path, &w.r, 1, &e), FH_OK, "%s", e.msg);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q '\\.tmp\\.'", dir);
    cr_assert_neq(system(cmd), 0, "stale temporary files were left");
}
