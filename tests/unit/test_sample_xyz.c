/* The sampling features that replace hand-made batch drivers (dynamics/fh_sampling.h, `fusionhop
 * sample`): generator = xyz (frames of a multi-frame XYZ file: ids and origins from the comment
 * lines or content-hashed fallbacks, the reference's atoms enforced with errors naming file and
 * frame, count as a cap, resume by id, MPI ranks), hessian_model (Wigner normal modes from an ML
 * model's Hessian: bitwise the samples of a deck whose provider is that model, under another
 * cache file name and other ids), origin overrides, and the shipped sampling decks parsing.
 * Providers are ML models made by tests/tools/runner_model (no OpenMolcas). */
#include <criterion/criterion.h>
#include "test_workdir.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>

#include "fh_dataset.h"
#include "fh_deck.h"
#include "fh_sampling.h"
#include "fh_units.h"
#include "fh_xyz.h"

static void setup_dir(void)
{
    workdir_make("test_sample_xyz");
}

static void cleanup_dir(void)
{
    if (workdir_remove()) {}
}

static const char *in_dir(const char *name)
{
    static char path[4][1200];
    static int next = 0;
    next = (next + 1) % 4;
    snprintf(path[next], sizeof path[next], "%s/%s", dir, name);
    return path[next];
}

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(in_dir(name), "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static int grep(const char *file, const char *text)
{
    return sh("grep -q -- '%s' %s", text, file) == 0;
}

static fh_xyz *ethylene(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/inputs/geometries/ethylene.xyz", FH_TEST_SOURCE_DIR);
    fh_xyz *g = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_xyz_read(path, &g, &err), FH_OK, "%s", err.msg);
    return g;
}

/* Ethylene frame k: the reference with atom (k mod 6) moved by 0.01 (k + 1) bohr along x. */
static void frame(const fh_xyz *g, int k, double *x)
{
    memcpy(x, g->x, 18 * sizeof *x);
    x[3 * (k % 6)] += 0.01 * (k + 1);
}

/* An XYZ file of ethylene frames first..first+n-1 with the given comment lines (NULL: empty). */
static void write_frames(const char *name, const fh_xyz *g, int first, int n,
                         const char *const *comments)
{
    FILE *f = fopen(in_dir(name), "w");
    cr_assert_not_null(f);
    double x[18];
    for (int k = 0; k < n; k++) {
        frame(g, first + k, x);
        cr_assert_eq(fh_xyz_write_frame(f, 6, g->z, x, comments ? comments[k] : ""), FH_OK);
    }
    fclose(f);
}

/* A random ML committee of `members` for ethylene (2 states) in the test directory, with the
 * reference geometry ethylene.xyz beside it (the provider of the command tests). */
static void ethylene_model(const char *file, int members)
{
    cr_assert_eq(sh("cp %s/inputs/geometries/ethylene.xyz . && %s/tests/runner_model random %s "
                    "ethylene.xyz --arch tiny --states 2 --members %d > %s.log 2>&1",
                    FH_TEST_SOURCE_DIR, FH_TEST_BINARY_DIR, file, members, file), 0);
}

static fh_samp_set *xyz_list(const char *file, long count, const char *origin, const fh_xyz *g,
                             int expect, fh_err *err)
{
    fh_samp_config c = {.kind = FH_SAMP_XYZ, .count = count, .source = in_dir(file),
                        .origin = origin};
    fh_samp_set *set = NULL;
    int rc = fh_samp_generate(&c, NULL, 6, g->z, g->x, NULL, &set, err);
    cr_assert_eq(rc, expect, "%s: rc %d: %s", file, rc, err->msg);
    return set;
}

Test(sample_xyz, ids_and_origins_from_comments_or_hashes, .init = setup_dir, .fini = cleanup_dir)
{
    fh_xyz *g = ethylene();
    const char *com[] = {"id=scan-cis-010 origin=torsion-scan torsion=10.0", "origin=meci-noise",
                         "", "E=-78.1 id=last-one", "fragment xid=nope"};
    write_frames("a.xyz", g, 0, 5, com);
    fh_err err = {0};
    fh_samp_set *a = xyz_list("a.xyz", 0, NULL, g, FH_OK, &err);
    cr_assert_eq(a->n, 5, "count 0: every frame");
    cr_assert_str_eq(a->id[0], "scan-cis-010");
    cr_assert_str_eq(a->origin[0], "torsion-scan");
    cr_assert_str_eq(a->origin[1], "meci-noise");
    cr_assert_str_eq(a->origin[2], "xyz");
    cr_assert_str_eq(a->id[3], "last-one");
    cr_assert_str_eq(a->origin[3], "xyz");
    cr_assert_str_eq(a->origin[4], "xyz", "'xid=' is not an id= token");
    /* fallback ids: xyz-<8 hex digits>-<k>, distinct */
    int fallback[] = {1, 2, 4};
    for (int i = 0; i < 3; i++) {
        int k = fallback[i];
        unsigned tag = 0;
        int kk = -1, used = 0;
        cr_assert_eq(sscanf(a->id[k], "xyz-%8x-%d%n", &tag, &kk, &used), 2, "%s", a->id[k]);
        cr_assert_eq(kk, k);
        cr_assert_eq((size_t)used, strlen(a->id[k]));
        cr_assert_eq(strlen(a->id[k]), strlen("xyz-12345678-") + 1);
    }
    cr_assert_str_neq(a->id[1], a->id[2]);
    /* positions: the file's, in bohr (written with 6 decimals in Angstrom) */
    double x[18];
    for (int k = 0; k < 5; k++) {
        frame(g, k, x);
        for (int i = 0; i < 18; i++)
            cr_assert_lt(fabs(a->x[k * 18 + i] - x[i]), 1e-6 * FH_ANGSTROM_BOHR);
    }

    /* count caps: the first frames, same ids */
    fh_samp_set *b = xyz_list("a.xyz", 2, NULL, g, FH_OK, &err);
    cr_assert_eq(b->n, 2);
    for (int k = 0; k < 2; k++) cr_assert_str_eq(b->id[k], a->id[k]);
    fh_samp_set_free(b);

    /* frames appended to the file keep their ids; another file with other geometries at the same
     * indices gets other fallback ids */
    write_frames("longer.xyz", g, 0, 5, com);
    FILE *f = fopen(in_dir("longer.xyz"), "a");
    frame(g, 9, x);
    fh_xyz_write_frame(f, 6, g->z, x, "");
    fclose(f);
    b = xyz_list("longer.xyz", 0, NULL, g, FH_OK, &err);
    cr_assert_eq(b->n, 6);
    for (int k = 0; k < 5; k++) cr_assert_str_eq(b->id[k], a->id[k]);
    fh_samp_set_free(b);
    write_frames("other.xyz", g, 20, 5, NULL);
    b = xyz_list("other.xyz", 0, NULL, g, FH_OK, &err);
    for (int k = 0; k < 5; k++) {
        cr_assert_str_eq(b->origin[k], "xyz");
        for (int l = 0; l < 5; l++) cr_assert_str_neq(b->id[k], a->id[l]);
    }
    fh_samp_set_free(b);

    /* an origin override replaces every frame's origin, ids unchanged */
    b = xyz_list("a.xyz", 0, "al-round1", g, FH_OK, &err);
    for (int k = 0; k < 5; k++) {
        cr_assert_str_eq(b->origin[k], "al-round1");
        cr_assert_str_eq(b->id[k], a->id[k]);
    }
    fh_samp_set_free(b);
    fh_samp_set_free(a);
    fh_xyz_free(g);
}

Test(sample_xyz, bad_frames_name_file_and_frame, .init = setup_dir, .fini = cleanup_dir)
{
    fh_xyz *g = ethylene();
    fh_err err = {0};
    /* frame 1 has the atoms in another order than the reference */
    write_file("swapped.xyz", "6\nfirst\nC 0 0 0.6695\nH 0 0.93 1.23\nC 0 0 -0.6695\n"
                              "H 0 -0.93 1.23\nH 0 0.93 -1.23\nH 0 -0.93 -1.23\n");
    xyz_list("swapped.xyz", 0, NULL, g, FH_EINPUT, &err);
    cr_assert(strstr(err.msg, in_dir("swapped.xyz")) && strstr(err.msg, "frame 1") &&
              strstr(err.msg, "atom 2"), "%s", err.msg);
    /* frame 2 differs from frame 1 (and so from the reference) */
    write_frames("second.xyz", g, 0, 2, NULL);
    FILE *f = fopen(in_dir("second.xyz"), "a");
    fputs("6\nthird\nC 0 0 0.6695\nC 0 0 -0.6695\nH 0 0.93 1.23\nO 0 -0.93 1.23\n"
          "H 0 0.93 -1.23\nH 0 -0.93 -1.23\n", f);
    fclose(f);
    xyz_list("second.xyz", 0, NULL, g, FH_EINPUT, &err);
    cr_assert(strstr(err.msg, in_dir("second.xyz")) && strstr(err.msg, "frame 3"), "%s", err.msg);
    /* too few atoms */
    write_file("short.xyz", "2\n\nC 0 0 0.6695\nC 0 0 -0.6695\n");
    xyz_list("short.xyz", 0, NULL, g, FH_EINPUT, &err);
    cr_assert(strstr(err.msg, in_dir("short.xyz")) && strstr(err.msg, "frame 1 has 2 atoms"),
              "%s", err.msg);
    /* one id twice */
    const char *dup[] = {"id=p", "id=q", "id=p"};
    write_frames("dup.xyz", g, 0, 3, dup);
    xyz_list("dup.xyz", 0, NULL, g, FH_EINPUT, &err);
    cr_assert(strstr(err.msg, "frames 1 and 3") && strstr(err.msg, "'p'"), "%s", err.msg);
    /* ... but not when the cap leaves the second one out */
    fh_samp_set_free(xyz_list("dup.xyz", 2, NULL, g, FH_OK, &err));
    /* an id or origin that does not fit the dataset */
    char longid[120] = "id=";
    memset(longid + 3, 'x', 70);
    const char *lid[] = {"id=ok", longid};
    write_frames("longid.xyz", g, 0, 2, lid);
    xyz_list("longid.xyz", 0, NULL, g, FH_EINPUT, &err);
    cr_assert(strstr(err.msg, "frame 2") && strstr(err.msg, "id="), "%s", err.msg);
    const char *lor[] = {"origin=abcdefghijklmnopqrstuvwxyz0123456789"};
    write_frames("longorigin.xyz", g, 0, 1, lor);
    xyz_list("longorigin.xyz", 0, NULL, g, FH_EINPUT, &err);
    cr_assert(strstr(err.msg, "frame 1") && strstr(err.msg, "origin="), "%s", err.msg);
    /* a missing source and a bad override */
    fh_samp_config c = {.kind = FH_SAMP_XYZ};
    cr_assert_eq(fh_samp_config_check(&c, 6, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "source"), "%s", err.msg);
    c.source = "x.xyz";
    c.origin = "two words";
    cr_assert_eq(fh_samp_config_check(&c, 6, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "origin"), "%s", err.msg);
    c.origin = "abcdefghijklmnopqrstuvwxyz0123456"; /* 32 characters */
    cr_assert_eq(fh_samp_config_check(&c, 6, &err), FH_EINPUT);
    c.origin = "abcdefghijklmnopqrstuvwxyz01234"; /* 31 */
    cr_assert_eq(fh_samp_config_check(&c, 6, &err), FH_OK, "%s", err.msg);
    /* count 0 means "all" only for lists of frames */
    fh_samp_config w = {.kind = FH_SAMP_NOISE, .count = 0};
    cr_assert_eq(fh_samp_config_check(&w, 6, &err), FH_EINPUT);
    fh_xyz_free(g);
}

/* ------------------------------------------------------------------------------------------------
 * The command */

static fh_dataset *read_dataset(const char *name)
{
    fh_dataset *d = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_dataset_read(in_dir(name), &d, &err), FH_OK, "%s", err.msg);
    return d;
}

Test(sample_xyz_cmd, frames_resume_mpi_origin_and_errors, .init = setup_dir, .fini = cleanup_dir)
{
    fh_xyz *g = ethylene();
    ethylene_model("eth.h5", 2);
    const char *com[] = {"id=f-0 origin=torsion-scan", "id=f-1", "", "id=f-3 origin=meci",
                         "origin=cis-noise"};
    write_frames("list.xyz", g, 0, 5, com);
    write_file("x.inp", "[surface]\ntype = ml\nmodel = eth.h5\ngeometry = ethylene.xyz\n"
                        "[sample]\ndataset = x.h5\ngenerator = xyz\nsource = list.xyz\n");
    /* a cap first, then the whole list (no count: every frame) computes only the rest */
    cr_assert_eq(sh("%s sample x.inp --set sample.count=3 2> a.log", FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("a.log", "3/3 done, 0 failed"));
    cr_assert_eq(sh("%s sample x.inp 2> b.log", FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("b.log", "5/5 done (3 already there), 0 failed"));
    fh_err err = {0};
    fh_samp_set *set = xyz_list("list.xyz", 0, NULL, g, FH_OK, &err);
    fh_dataset *d = read_dataset("x.h5");
    cr_assert_eq(d->n, 5);
    const char *want_origin[] = {"torsion-scan", "xyz", "xyz", "meci", "cis-noise"};
    for (int k = 0; k < 5; k++) {
        long r = fh_dataset_find(d, set->id[k], FH_DATASET_OK);
        cr_assert_geq(r, 0, "id %s missing", set->id[k]);
        cr_assert_str_eq(d->origin[r], want_origin[k]);
        for (int i = 0; i < 18; i++)
            cr_assert_lt(fabs(d->pos[r * 18 + i] - set->x[k * 18 + i] * FH_BOHR_ANGSTROM), 1e-12);
        cr_assert(d->has_grad[r * 2] && d->has_grad[r * 2 + 1] && d->has_nac[r]);
    }
    cr_assert_geq(fh_dataset_find(d, "f-3", FH_DATASET_OK), 0);
    fh_dataset_free(d);

    /* two MPI ranks from scratch, with an origin override: the same rows, the new origin */
    cr_assert_eq(sh("mpirun --oversubscribe -n 2 %s sample x.inp -o mpi.h5 --set "
                    "sample.origin=al-round1 2> m.log", FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("m.log", "rank 1/2"));
    fh_dataset *a = read_dataset("x.h5"), *b = read_dataset("mpi.h5");
    cr_assert_eq(b->n, 5);
    for (size_t r = 0; r < 5; r++) {
        long q = fh_dataset_find(a, b->id[r], FH_DATASET_OK);
        cr_assert_geq(q, 0);
        cr_assert_str_eq(b->origin[r], "al-round1");
        cr_assert_eq(memcmp(a->pos + q * 18, b->pos + r * 18, 18 * sizeof(double)), 0);
        cr_assert_eq(memcmp(a->energy + q * 2, b->energy + r * 2, 2 * sizeof(double)), 0);
    }
    fh_dataset_free(a);
    fh_dataset_free(b);

    /* a resumed two-rank run shares out what is left, not the whole list: with frames 0, 2 and 4
     * done (as a killed two-rank run leaves them), each rank computes one of frames 1 and 3 */
    FILE *ev = fopen(in_dir("even.xyz"), "w");
    cr_assert_not_null(ev);
    for (int k = 0; k < 5; k += 2) { /* the ids the full list gives these frames */
        char idc[128];
        snprintf(idc, sizeof idc, "id=%s", set->id[k]);
        cr_assert_eq(fh_xyz_write_frame(ev, 6, g->z, set->x + k * 18, idc), FH_OK);
    }
    fclose(ev);
    cr_assert_eq(sh("%s sample x.inp -o resume.h5 --set sample.source=even.xyz 2> r1.log",
                    FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("r1.log", "3/3 done, 0 failed"));
    cr_assert_eq(sh("mpirun --oversubscribe -n 2 %s sample x.inp -o resume.h5 2> r2.log",
                    FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("r2.log", "; 2 to compute"));
    cr_assert(grep("r2.log", "rank 0/2: 1/1 done") && grep("r2.log", "rank 1/2: 1/1 done"));
    cr_assert(grep("r2.log", "5/5 done (3 already there), 0 failed"));
    b = read_dataset("resume.h5");
    cr_assert_eq(b->n, 5);
    fh_dataset_free(b);

    /* bad input: exit 2, the file and frame named */
    FILE *f = fopen(in_dir("list.xyz"), "a");
    fputs("6\nid=bad\nC 0 0 0.6695\nC 0 0 -0.6695\nH 0 0.93 1.23\nH 0 -0.93 1.23\n"
          "H 0 0.93 -1.23\nN 0 -0.93 -1.23\n", f);
    fclose(f);
    cr_assert_eq(sh("%s sample x.inp 2> e1.log", FH_TEST_FUSIONHOP), 2);
    cr_assert(grep("e1.log", "list.xyz") && grep("e1.log", "frame 6"));
    write_file("swapped.xyz", "6\nfirst\nH 0 0.93 1.23\nC 0 0 0.6695\nC 0 0 -0.6695\n"
                              "H 0 -0.93 1.23\nH 0 0.93 -1.23\nH 0 -0.93 -1.23\n");
    cr_assert_eq(sh("%s sample x.inp --set sample.source=swapped.xyz 2> e2.log", FH_TEST_FUSIONHOP), 2);
    cr_assert(grep("e2.log", "swapped.xyz: error: frame 1: atom 1 is H"));
    cr_assert_eq(sh("%s sample x.inp --set sample.source=none.xyz 2> e3.log", FH_TEST_FUSIONHOP), 2);
    cr_assert(grep("e3.log", "none.xyz"));
    cr_assert_eq(sh("%s sample x.inp --set sample.source= 2> e4.log", FH_TEST_FUSIONHOP), 2);
    cr_assert(grep("e4.log", "source"));
    cr_assert_eq(sh("%s sample x.inp --set 'sample.origin=a b' 2> e5.log", FH_TEST_FUSIONHOP), 2);
    cr_assert(grep("e5.log", "origin"));
    /* nothing was added by the failed runs (the whole file is read: a bad frame fails the run
     * even beyond count) */
    cr_assert_eq(sh("%s sample x.inp --set sample.count=5 2> e6.log", FH_TEST_FUSIONHOP), 2);
    cr_assert(grep("e6.log", "frame 6"));
    write_frames("list.xyz", g, 0, 5, com);
    cr_assert_eq(sh("%s sample x.inp 2> c.log", FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("c.log", "5/5 done (5 already there), 0 failed"));
    fh_samp_set_free(set);
    fh_xyz_free(g);
}


/* k of a Wigner id "wigner-<tag>-s<seed>-<k>" */
static long id_index(const char *id)
{
    const char *dash = strrchr(id, '-');
    cr_assert_not_null(dash);
    return strtol(dash + 1, NULL, 10);
}

Test(sample_cmd, wigner_modes_from_hessian_model, .init = setup_dir, .fini = cleanup_dir)
{
    /* hco_model.h5: a model fitted to an analytic H-C-O surface with a true minimum; other.h5:
     * an untrained model of the same atoms, the reference provider of deck B */
    cr_assert_eq(sh("%s/tests/runner_model fit . --epochs 30 --members 2 > fit.log 2>&1 && "
                    "%s/tests/runner_model random other.h5 hco.xyz --arch tiny --states 2 "
                    "--members 2 --seed 3 > other.log 2>&1", FH_TEST_BINARY_DIR,
                    FH_TEST_BINARY_DIR), 0);
    const char *common = "[sample]\ngenerator = wigner\ncount = 6\nseed = 9\ntemperature = 0 K\n"
                         "optimize = true\n";
    char text[1024];
    snprintf(text, sizeof text, "[surface]\ntype = ml\nmodel = hco_model.h5\ngeometry = hco.xyz\n"
                                "%sdataset = a.h5\n", common);
    write_file("a.inp", text);
    snprintf(text, sizeof text, "[surface]\ntype = ml\nmodel = other.h5\ngeometry = hco.xyz\n"
                                "%sdataset = b.h5\nhessian_model = hco_model.h5\n"
                                "origin = wigner-cis\n", common);
    write_file("b.inp", text);
    cr_assert_eq(sh("%s sample a.inp 2> a.log", FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("a.log", "6/6 done, 0 failed"));
    cr_assert_eq(sh("%s sample b.inp 2> b.log", FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("b.log", "6/6 done, 0 failed"));
    cr_assert(grep("b.log", "gradients of .*hco_model.h5"));

    /* the caches: b's is named after the model, holds the same Hessian as a's (the provider's
     * there), and b has no provider cache */
    fh_samp_config c = {.kind = FH_SAMP_WIGNER, .hessian_model = in_dir("hco_model.h5")};
    char *bcache = NULL, *acache = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_samp_hessian_cache_path(&c, in_dir("b.h5"), &bcache, &err), FH_OK, "%s", err.msg);
    c.hessian_model = NULL;
    cr_assert_eq(fh_samp_hessian_cache_path(&c, in_dir("a.h5"), &acache, &err), FH_OK);
    cr_assert_str_eq(acache, in_dir("a.h5.hessian.txt"));
    cr_assert(strstr(bcache, "b.h5.hessian-hco_model.h5-"), "%s", bcache);
    struct stat st;
    cr_assert_eq(stat(bcache, &st), 0, "no model Hessian cache %s", bcache);
    cr_assert_neq(stat(in_dir("b.h5.hessian.txt"), &st), 0, "a provider cache was written");
    char *ha = read_text(acache), *hb = read_text(bcache);
    cr_assert_str_eq(ha, hb, "the model's Hessian differs from the provider's (same model)");
    free(ha);
    free(hb);

    /* the samples: bitwise those of deck a, under other ids, with the deck's origin; the labels
     * are other.h5's (not a's) */
    fh_dataset *a = read_dataset("a.h5"), *b = read_dataset("b.h5");
    cr_assert_eq(a->n, 6);
    cr_assert_eq(b->n, 6);
    for (size_t r = 0; r < 6; r++) {
        size_t q = 0;
        while (q < 6 && id_index(a->id[q]) != id_index(b->id[r])) q++;
        cr_assert_lt(q, 6, "no sample %ld in a.h5", id_index(b->id[r]));
        cr_assert_eq(memcmp(a->pos + q * 9, b->pos + r * 9, 9 * sizeof(double)), 0,
                     "sample %ld differs", id_index(b->id[r]));
        cr_assert_str_neq(a->id[q], b->id[r]);
        cr_assert_str_eq(a->origin[q], "wigner");
        cr_assert_str_eq(b->origin[r], "wigner-cis");
        cr_assert_neq(a->energy[q * a->nstates], b->energy[r * b->nstates]);
    }
    /* the samples are not all the same geometry */
    cr_assert_neq(memcmp(b->pos, b->pos + 9, 9 * sizeof(double)), 0);
    fh_dataset_free(a);
    fh_dataset_free(b);

    /* a rerun reads the model cache and has nothing to do */
    struct stat st0;
    cr_assert_eq(stat(bcache, &st0), 0);
    cr_assert_eq(sh("%s sample b.inp 2> c.log", FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("c.log", "6/6 done (6 already there)"));
    cr_assert_eq(stat(bcache, &st), 0);
    cr_assert_eq(st0.st_ino, st.st_ino, "the cache was rewritten");

    /* another model file (other bytes): another cache name; a missing one: exit 2 */
    cr_assert_eq(sh("cp hco_model.h5 m2.h5 && printf x >> m2.h5"), 0);
    char *ccache = NULL;
    c.hessian_model = in_dir("m2.h5");
    cr_assert_eq(fh_samp_hessian_cache_path(&c, in_dir("b.h5"), &ccache, &err), FH_OK);
    cr_assert(strstr(ccache, "b.h5.hessian-m2.h5-"), "%s", ccache);
    cr_assert_eq(sh("mkdir -p sub && cp m2.h5 sub/hco_model.h5"), 0);
    c.hessian_model = in_dir("sub/hco_model.h5");
    free(ccache);
    cr_assert_eq(fh_samp_hessian_cache_path(&c, in_dir("b.h5"), &ccache, &err), FH_OK);
    cr_assert_str_neq(ccache, bcache, "same name, other bytes: the cache must differ");
    cr_assert_eq(sh("%s sample b.inp --set sample.hessian_model=none.h5 2> e.log",
                    FH_TEST_FUSIONHOP), 2);
    cr_assert(grep("e.log", "none.h5"));
    free(ccache);
    free(acache);
    free(bcache);
}

/* generator = dataset: the completed rows of another dataset (the same list at another level of
 * theory), with their ids and origins; failed rows are skipped, a row recomputed after a failure
 * is taken; count caps; atoms must match. */
Test(sample_dataset, completed_rows_with_ids_and_origins, .init = setup_dir, .fini = cleanup_dir)
{
    fh_xyz *g = ethylene();
    fh_err err = {0};
    const char *path = in_dir("src.h5");
    cr_assert_eq(fh_dataset_create(path, 6, 2, g->z, "test level", 0, &err), FH_OK, "%s", err.msg);
    double pos[4][18], e[2] = {-78.0, -77.7};
    const char *ids[4] = {"r-ok1", "r-bad", "r-ok2", "r-bad"};
    const char *orig[4] = {"torsion-scan", "meci", "meci", "meci-redo"};
    int status[4] = {FH_DATASET_OK, FH_DATASET_FAILED, FH_DATASET_OK, FH_DATASET_OK};
    for (int k = 0; k < 4; k++) {
        double x[18];
        frame(g, k, x);
        for (int i = 0; i < 18; i++) pos[k][i] = x[i] * FH_BOHR_ANGSTROM;
        fh_dataset_record r = {.id = ids[k], .origin = orig[k], .status = status[k],
                               .pos = pos[k], .energy = status[k] == FH_DATASET_OK ? e : NULL};
        cr_assert_eq(fh_dataset_append(path, &r, 1, &err), FH_OK, "row %d: %s", k, err.msg);
    }
    fh_samp_config c = {.kind = FH_SAMP_DATASET, .source = path};
    fh_samp_set *set = NULL;
    cr_assert_eq(fh_samp_generate(&c, NULL, 6, g->z, g->x, NULL, &set, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(set->n, 3);
    const int row[3] = {0, 2, 3};
    for (int k = 0; k < 3; k++) {
        cr_assert_str_eq(set->id[k], ids[row[k]]);
        cr_assert_str_eq(set->origin[k], orig[row[k]]);
        double x[18];
        frame(g, row[k], x);
        for (int i = 0; i < 18; i++) cr_assert_lt(fabs(set->x[k * 18 + i] - x[i]), 1e-12);
    }
    fh_samp_set_free(set);

    /* count caps, the origin override replaces the rows' origins */
    c.count = 2;
    c.origin = "sto3g-pre";
    cr_assert_eq(fh_samp_generate(&c, NULL, 6, g->z, g->x, NULL, &set, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(set->n, 2);
    cr_assert_str_eq(set->id[1], "r-ok2");
    cr_assert_str_eq(set->origin[0], "sto3g-pre");
    fh_samp_set_free(set);

    /* another molecule: an error naming the file and the atom */
    int z2[6];
    memcpy(z2, g->z, sizeof z2);
    z2[5] = 9;
    c.count = 0;
    set = NULL;
    cr_assert_eq(fh_samp_generate(&c, NULL, 6, z2, g->x, NULL, &set, &err), FH_EINPUT);
    cr_assert_null(set);
    cr_assert(strstr(err.msg, "src.h5") && strstr(err.msg, "atom 6"), "%s", err.msg);
    /* no source, a missing file */
    c.source = "";
    cr_assert_eq(fh_samp_generate(&c, NULL, 6, g->z, g->x, NULL, &set, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "source"), "%s", err.msg);
    c.source = in_dir("none.h5");
    cr_assert_neq(fh_samp_generate(&c, NULL, 6, g->z, g->x, NULL, &set, &err), FH_OK);
    cr_assert(strstr(err.msg, "none.h5"), "%s", err.msg);
    fh_xyz_free(g);
}

/* Query by committee (fh_samp_select_by_spread, [sample] select_model/select): the list is ordered
 * by the committee's largest energy spread, largest first, ids and geometries travelling together,
 * select keeps the first ones; a one-member model is refused; the command computes exactly the
 * selected geometries. */
Test(sample_select, orders_by_committee_spread_and_keeps_the_largest, .init = setup_dir,
     .fini = cleanup_dir)
{
    fh_xyz *g = ethylene();
    ethylene_model("eth.h5", 3);
    ethylene_model("one.h5", 1);
    const char *com[] = {"id=q0", "id=q1", "id=q2", "id=q3", "id=q4", "id=q5"};
    write_frames("pool.xyz", g, 0, 6, com);
    fh_err err = {0};
    fh_samp_set *all = xyz_list("pool.xyz", 0, NULL, g, FH_OK, &err);
    /* the spreads, independently */
    fh_surface_config sc = {.type = "ml", .natoms = 6, .z = g->z, .model_file = in_dir("eth.h5")};
    fh_surface *m = NULL;
    cr_assert_eq(fh_surface_alloc(&sc, &m, &err), FH_OK, "%s", err.msg);
    double sp[6], e[2], sd[2];
    for (int k = 0; k < 6; k++) {
        fh_surface_eval q = {.x = all->x + k * 18, .energy = e, .energy_std = sd};
        cr_assert_eq(fh_surface_evaluate(m, &q, &err), FH_OK, "%s", err.msg);
        sp[k] = fmax(sd[0], sd[1]);
    }
    fh_surface_free(m);

    fh_samp_set *sel = xyz_list("pool.xyz", 0, NULL, g, FH_OK, &err);
    double *got = NULL;
    cr_assert_eq(fh_samp_select_by_spread(sel, g->z, in_dir("eth.h5"), 0, &got, &err), FH_OK,
                 "%s", err.msg);
    cr_assert_eq(sel->n, 6);
    for (int j = 0; j < 6; j++) {
        int k = sel->id[j][1] - '0';
        cr_assert_eq(got[j], sp[k], "the spread of %s", sel->id[j]);
        if (j > 0) cr_assert_geq(got[j - 1], got[j], "largest first");
        cr_assert_eq(memcmp(sel->x + j * 18, all->x + k * 18, 18 * sizeof(double)), 0,
                     "%s keeps its geometry", sel->id[j]);
    }
    cr_assert(got[0] > got[5], "spreads differ: %g %g", got[0], got[5]);
    char top[3][FH_DATASET_ID_LEN];
    for (int j = 0; j < 3; j++) memcpy(top[j], sel->id[j], FH_DATASET_ID_LEN);
    free(got);
    fh_samp_set_free(sel);
    sel = xyz_list("pool.xyz", 0, NULL, g, FH_OK, &err);
    cr_assert_eq(fh_samp_select_by_spread(sel, g->z, in_dir("eth.h5"), 3, NULL, &err), FH_OK);
    cr_assert_eq(sel->n, 3);
    for (int j = 0; j < 3; j++) cr_assert_str_eq(sel->id[j], top[j]);
    fh_samp_set_free(sel);
    sel = xyz_list("pool.xyz", 0, NULL, g, FH_OK, &err);
    cr_assert_eq(fh_samp_select_by_spread(sel, g->z, in_dir("one.h5"), 3, NULL, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "one member"), "%s", err.msg);
    cr_assert_eq(sel->n, 6, "a refused selection leaves the list alone");
    fh_samp_set_free(sel);
    fh_samp_set_free(all);

    /* the command: only the three of largest spread are computed (the provider is the model) */
    write_file("s.inp", "[surface]\ntype = ml\nmodel = eth.h5\ngeometry = ethylene.xyz\n"
                        "[sample]\ndataset = s.h5\ngenerator = xyz\nsource = pool.xyz\n"
                        "select_model = eth.h5\nselect = 3\n");
    cr_assert_eq(sh("%s sample s.inp 2> s.log", FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("s.log", "3 of 6 geometries selected by the committee spread"));
    cr_assert(grep("s.log", "3/3 done, 0 failed"));
    fh_dataset *d = read_dataset("s.h5");
    cr_assert_eq(d->n, 3);
    for (int j = 0; j < 3; j++) cr_assert_geq(fh_dataset_find(d, top[j], FH_DATASET_OK), 0);
    fh_dataset_free(d);
    /* select without select_model is an input error */
    write_file("t.inp", "[surface]\ntype = ml\nmodel = eth.h5\ngeometry = ethylene.xyz\n"
                        "[sample]\ndataset = t.h5\ngenerator = xyz\nsource = pool.xyz\n"
                        "select = 3\n");
    cr_assert_eq(sh("%s sample t.inp 2> t.log", FH_TEST_FUSIONHOP), 2);
    cr_assert(grep("t.log", "select needs select_model"));
    fh_xyz_free(g);
}

/* Generated geometries where two atoms not bonded in the reference come closer than their
 * covalent radii are left out (counted in dropped); the rest keep their ids. */
Test(sample_select, clashing_geometries_are_left_out)
{
    fh_xyz *g = ethylene();
    fh_err err = {0};
    fh_samp_config c = {.kind = FH_SAMP_NOISE, .count = 200, .seed = 3,
                        .noise = 0.6 * FH_ANGSTROM_BOHR};
    fh_samp_set *set = NULL;
    cr_assert_eq(fh_samp_generate(&c, NULL, 6, g->z, g->x, NULL, &set, &err), FH_OK, "%s", err.msg);
    cr_assert_gt(set->dropped, 10, "0.6 Angstrom noise must squeeze some atoms together");
    cr_assert_eq(set->n + set->dropped, 200);
    static const double rcov[7] = {0, 0.31, 0, 0, 0, 0, 0.76};
    int seen_gap = 0;
    for (int k = 0; k < set->n; k++) {
        const double *x = set->x + k * 18;
        for (int i = 0; i < 6; i++)
            for (int j = i + 1; j < 6; j++) {
                double r0 = 0, r = 0;
                for (int q = 0; q < 3; q++) {
                    r0 += pow(g->x[3 * i + q] - g->x[3 * j + q], 2);
                    r += pow(x[3 * i + q] - x[3 * j + q], 2);
                }
                double sum = (rcov[g->z[i]] + rcov[g->z[j]]) * FH_ANGSTROM_BOHR;
                if (sqrt(r0) >= 1.25 * sum) cr_assert_geq(sqrt(r), sum, "%s: atoms %d %d", set->id[k], i + 1, j + 1);
            }
        long idx = -1;
        cr_assert_eq(sscanf(strrchr(set->id[k], '-') + 1, "%ld", &idx), 1);
        if (idx != k) seen_gap = 1;
    }
    cr_assert(seen_gap, "kept geometries keep their own ids (indices with gaps)");
    fh_samp_set_free(set);
    fh_xyz_free(g);
}

Test(sample_decks, shipped_sampling_decks_parse)
{
    struct {
        const char *file, *generator, *origin, *geometry;
        long count, seed;
    } decks[] = {
        {"sample_torsion.inp", "twisted", "", "trans-stilbene.xyz", 100, 11},
        {"sample_wigner_cis.inp", "wigner", "wigner-cis", "cis-stilbene.xyz", 150, 21},
        {"sample_wigner_trans.inp", "wigner", "wigner-trans", "trans-stilbene.xyz", 150, 22},
        {"sample_xyz.inp", "xyz", "", "trans-stilbene.xyz", -1, -1},
        {"sample_sto3g.inp", "xyz", "", "trans-stilbene.xyz", -1, -1},
        {"sample_qbc.inp", "torsion_random", "qbc-torsion", "trans-stilbene.xyz", 3000, 41},
    };
    for (size_t i = 0; i < sizeof decks / sizeof decks[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/inputs/stilbene/%s", FH_TEST_SOURCE_DIR, decks[i].file);
        fh_deck *d = NULL;
        fh_err err = {0};
        cr_assert_eq(fh_deck_load(path, NULL, 0, &d, &err), FH_OK, "%s: %s", decks[i].file, err.msg);
        cr_assert(fh_deck_is_sampling(d));
        cr_assert_str_eq(fh_deck_string(d, "surface", "type"), "openmolcas");
        cr_assert_str_eq(fh_deck_string(d, "sample", "generator"), decks[i].generator);
        cr_assert_str_eq(fh_deck_string(d, "sample", "origin"), decks[i].origin);
        const char *geom = fh_deck_string(d, "surface", "geometry");
        cr_assert(strstr(geom, decks[i].geometry), "%s", geom);
        /* the default level of theory, or STO-3G (pretraining) into a dataset of its own */
        int sto = strstr(decks[i].file, "sto3g") != NULL;
        cr_assert_str_eq(fh_deck_string(d, "openmolcas", "basis"), sto ? "STO-3G" : "6-31G");
        cr_assert(strstr(fh_deck_string(d, "sample", "dataset"),
                         sto ? "/datasets/stilbene_sa2cas22_sto3g.h5"
                             : "/datasets/stilbene_sa2cas22_631g.h5"), "%s", decks[i].file);
        if (decks[i].count > 0) cr_assert_eq(fh_deck_int(d, "sample", "count"), decks[i].count);
        else cr_assert_not(fh_deck_has(d, "sample", "count"), "xyz: every frame");
        if (decks[i].seed > 0) cr_assert_eq(fh_deck_int(d, "sample", "seed"), decks[i].seed);
        if (strcmp(decks[i].generator, "wigner") == 0) {
            cr_assert(strstr(fh_deck_string(d, "sample", "hessian_model"),
                             "/models/stilbene.h5"));
            cr_assert_eq(fh_deck_real(d, "sample", "temperature"), 0.0);
        }
        if (strstr(decks[i].file, "qbc")) {
            cr_assert(strstr(fh_deck_string(d, "sample", "select_model"), "/models/stilbene.h5"));
            cr_assert_eq(fh_deck_int(d, "sample", "select"), 40);
        }
        if (strcmp(decks[i].generator, "xyz") == 0)
            cr_assert(strstr(fh_deck_string(d, "sample", "source"),
                             "/datasets/stilbene_batch1.xyz"));
        fh_deck_free(d);
    }
}

/* RMSD after superposition by an independent method: Kabsch, the SVD of the correlation matrix
 * (the library uses Horn's quaternion eigenproblem). */
static double kabsch_rmsd(int n, const double *a, const double *b)
{
    double ca[3] = {0}, cb[3] = {0};
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) ca[k] += a[3 * i + k] / n, cb[k] += b[3 * i + k] / n;
    gsl_matrix *h = gsl_matrix_calloc(3, 3), *v = gsl_matrix_alloc(3, 3);
    gsl_vector *s = gsl_vector_alloc(3), *w = gsl_vector_alloc(3);
    double ga = 0, gb = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < 3; j++) {
            double p = a[3 * i + j] - ca[j];
            ga += p * p;
            gb += (b[3 * i + j] - cb[j]) * (b[3 * i + j] - cb[j]);
            for (int k = 0; k < 3; k++)
                *gsl_matrix_ptr(h, j, k) += p * (b[3 * i + k] - cb[k]);
        }
    gsl_matrix *u = gsl_matrix_alloc(3, 3);
    gsl_matrix_memcpy(u, h);
    gsl_linalg_SV_decomp(u, v, s, w);
    /* det(U V^T) < 0: the best proper rotation gives up the smallest singular value */
    gsl_permutation *p = gsl_permutation_alloc(3);
    int sg = 0;
    gsl_matrix *uu = gsl_matrix_alloc(3, 3), *vv = gsl_matrix_alloc(3, 3);
    gsl_matrix_memcpy(uu, u);
    gsl_matrix_memcpy(vv, v);
    gsl_linalg_LU_decomp(uu, p, &sg);
    double du = gsl_linalg_LU_det(uu, sg);
    gsl_linalg_LU_decomp(vv, p, &sg);
    double dv = gsl_linalg_LU_det(vv, sg);
    double sum = gsl_vector_get(s, 0) + gsl_vector_get(s, 1) +
                 (du * dv < 0 ? -1 : 1) * gsl_vector_get(s, 2);
    gsl_matrix_free(h), gsl_matrix_free(v), gsl_matrix_free(u), gsl_matrix_free(uu),
        gsl_matrix_free(vv);
    gsl_vector_free(s), gsl_vector_free(w);
    gsl_permutation_free(p);
    double e = (ga + gb - 2 * sum) / n;
    return e > 0 ? sqrt(e) : 0;
}

/* [sample] diverse: the RMSD after superposition against Kabsch, then farthest-point picks that
 * ignore rigid motions, and a command whose rerun picks (and so skips) the same geometries. */
Test(sample_diverse, farthest_first_blind_to_rigid_motion_and_resumable, .init = setup_dir,
     .fini = cleanup_dir)
{
    fh_xyz *g = ethylene();
    double a[18], b[18];
    for (int t = 0; t < 20; t++) {
        for (int i = 0; i < 18; i++) {
            a[i] = g->x[i] + 0.3 * fh_samp_normal(FH_SAMP_NOISE, 5, (uint64_t)t, (uint64_t)i);
            b[i] = g->x[i] + 0.3 * fh_samp_normal(FH_SAMP_NOISE, 6, (uint64_t)t, (uint64_t)i);
        }
        double want = kabsch_rmsd(6, a, b);
        cr_assert_lt(fabs(fh_samp_rmsd(6, a, b) - want), 1e-9, "pair %d: %.12f vs %.12f", t,
                     fh_samp_rmsd(6, a, b), want);
        cr_assert_gt(want, 0.05);
    }
    /* a rotated and shifted copy is at distance zero; a mirror image of a non-planar geometry
     * is not (proper rotations only) */
    const double c = cos(0.7), s = sin(0.7);
    for (int i = 0; i < 6; i++) {
        b[3 * i] = c * a[3 * i] - s * a[3 * i + 1] + 1.5;
        b[3 * i + 1] = s * a[3 * i] + c * a[3 * i + 1] - 0.4;
        b[3 * i + 2] = a[3 * i + 2] + 2.0;
    }
    cr_assert_lt(fh_samp_rmsd(6, a, b), 1e-6);
    for (int i = 0; i < 18; i++) b[i] = i % 3 == 2 ? -a[i] : a[i];
    cr_assert_gt(fh_samp_rmsd(6, a, b), 0.01);

    /* the pool: 0 the reference turned and shifted, 1 near the reference, 2 far (A), 3 near A,
     * 4 farther still (B); the reference is the only dataset row */
    double pool[5][18];
    for (int k = 0; k < 5; k++) memcpy(pool[k], g->x, sizeof pool[k]);
    for (int i = 0; i < 6; i++) {
        pool[0][3 * i] = c * g->x[3 * i] - s * g->x[3 * i + 1] + 0.8;
        pool[0][3 * i + 1] = s * g->x[3 * i] + c * g->x[3 * i + 1];
    }
    pool[1][3 * 1 + 2] += 0.05;
    pool[2][3 * 2] += 0.6;
    pool[3][3 * 2] += 0.6;
    pool[3][3 * 4 + 1] += 0.05;
    pool[4][3 * 3 + 1] += 1.0;
    FILE *f = fopen(in_dir("pool.xyz"), "w");
    cr_assert_not_null(f);
    for (int k = 0; k < 5; k++) {
        char com[32];
        snprintf(com, sizeof com, "id=p%d", k);
        cr_assert_eq(fh_xyz_write_frame(f, 6, g->z, pool[k], com), FH_OK);
    }
    fclose(f);
    fh_err err = {0};
    fh_samp_set *set = xyz_list("pool.xyz", 0, NULL, g, FH_OK, &err);
    double dist[4];
    cr_assert_eq(fh_samp_select_diverse(set, g->x, 1, 4, dist, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(set->n, 4);
    cr_assert_str_eq(set->id[0], "p4", "the farthest first");
    cr_assert(strcmp(set->id[1], "p2") == 0 || strcmp(set->id[1], "p3") == 0, "then A: %s",
              set->id[1]);
    for (int j = 0; j < 4; j++) /* so the picks are p1-p4, A's twin among the last two */
        cr_assert_str_neq(set->id[j], "p0", "the turned reference is no news");
    for (int j = 1; j < 4; j++) cr_assert_geq(dist[j - 1], dist[j], "distances fall");
    cr_assert_lt(dist[3], 0.05, "the last picks are near something already there");
    double want0 = fh_samp_rmsd(6, pool[4], g->x);
    cr_assert_lt(fabs(dist[0] - want0), 1e-5, "%g vs %g", dist[0], want0);
    fh_samp_set_free(set);
    /* without references the first geometry comes first */
    set = xyz_list("pool.xyz", 0, NULL, g, FH_OK, &err);
    cr_assert_eq(fh_samp_select_diverse(set, NULL, 0, 2, NULL, &err), FH_OK, "%s", err.msg);
    cr_assert_str_eq(set->id[0], "p0");
    cr_assert_str_eq(set->id[1], "p4");
    fh_samp_set_free(set);

    /* the command: 2 of 5 computed; a rerun picks the same two (its own rows are no references)
     * and computes nothing */
    ethylene_model("eth.h5", 2);
    write_file("d.inp", "[surface]\ntype = ml\nmodel = eth.h5\ngeometry = ethylene.xyz\n"
                        "[sample]\ndataset = d.h5\ngenerator = xyz\nsource = pool.xyz\n"
                        "diverse = 2\n");
    cr_assert_eq(sh("%s sample d.inp 2> d1.log", FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("d1.log", "2 of 5 geometries picked farthest from 0 dataset rows"));
    cr_assert(grep("d1.log", "2/2 done, 0 failed"));
    cr_assert_eq(sh("%s sample d.inp 2> d2.log", FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("d2.log", "2 of 5 geometries picked farthest from 0 dataset rows"));
    cr_assert(grep("d2.log", "2/2 done (2 already there), 0 failed"));
    fh_dataset *d = read_dataset("d.h5");
    cr_assert_eq(d->n, 2);
    cr_assert_geq(fh_dataset_find(d, "p0", FH_DATASET_OK), 0);
    cr_assert_geq(fh_dataset_find(d, "p4", FH_DATASET_OK), 0);
    fh_dataset_free(d);
    /* another deck's pool against that dataset: its rows are references now */
    write_file("e.inp", "[surface]\ntype = ml\nmodel = eth.h5\ngeometry = ethylene.xyz\n"
                        "[sample]\ndataset = d.h5\ngenerator = xyz\nsource = more.xyz\n"
                        "diverse = 1\n");
    f = fopen(in_dir("more.xyz"), "w");
    cr_assert_not_null(f);
    cr_assert_eq(fh_xyz_write_frame(f, 6, g->z, pool[3], "id=q3"), FH_OK);
    cr_assert_eq(fh_xyz_write_frame(f, 6, g->z, pool[1], "id=q1"), FH_OK);
    fclose(f);
    cr_assert_eq(sh("%s sample e.inp 2> e.log", FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("e.log", "1 of 2 geometries picked farthest from 2 dataset rows"));
    d = read_dataset("d.h5");
    cr_assert_geq(fh_dataset_find(d, "q3", FH_DATASET_OK), 0, "A's twin is far from p0 and p4");
    cr_assert_lt(fh_dataset_find(d, "q1", FH_DATASET_OK), 0);
    fh_dataset_free(d);
    fh_xyz_free(g);
}
