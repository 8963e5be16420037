/* The commands around the model, run as a user would: `fusionhop train` (progress lines, model
 * file; under `mpirun -n 2` bitwise reproducible and consistent with one rank), `fusionhop
 * predict` in JSON and TSV (values identical to the library's), usage and input errors (exit
 * code 2), and `fusionhop run` driving surface hopping on the trained model (the ML provider). */
#include <criterion/criterion.h>
#include "test_workdir.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fh_deck.h"
#include "fh_surfaces.h"
#include "fh_train.h"
#include "fh_xyz.h"
#include "test_train_util.h"

static void cleanup_dir(void);

static void setup_dir(void)
{
    workdir_make("test_train_cli");
    fh_err err = {0};
    char path[1200];
    snprintf(path, sizeof path, "%s/data.h5", dir);
    cr_assert_eq(tt_write_dataset(path, 24, 21, &err), FH_OK, "%s", err.msg);
    snprintf(path, sizeof path, "%s/train.inp", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "# tiny model for the command-line tests\n[model]\nchannels = 8\nlmax = 2\n"
               "correlation = 2\ncutoff = 4 Angstrom\nbessel = 6\nradial_mlp = 16,16\n"
               "readout_hidden = 8\n\n[train]\ndataset = data.h5\nepochs = 3\nbatch_size = 4\n"
               "patience = 0\nseed = 5\n");
    fclose(f);
    /* three frames to predict on */
    snprintf(path, sizeof path, "%s/frames.xyz", dir);
    f = fopen(path, "w");
    tm_seed(77);
    for (int k = 0; k < 3; k++) {
        double x[9];
        tt_geometry(x);
        fh_xyz_write_frame(f, 3, tt_z, x, "frame");
    }
    fclose(f);
}

static void cleanup_dir(void)
{
    cr_assert_eq(workdir_remove(), 0);
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what)) n++;
    return n;
}

static fh_model *load(const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fh_err err = {0};
    fh_model *m = NULL;
    cr_assert_eq(fh_model_load(path, &m, &err), FH_OK, "%s", err.msg);
    return m;
}

/* All numbers of one output line, in order (at most max). */
static int line_numbers(const char *line, double *v, int max)
{
    int nv = 0;
    const char *p = line;
    while (*p && *p != '\n' && nv < max) {
        if ((*p >= '0' && *p <= '9') || *p == '-') {
            char *end;
            v[nv++] = strtod(p, &end);
            p = end;
        } else {
            p++;
        }
    }
    return nv;
}

Test(train_cli, train_under_mpi_and_predict)
{
    setup_dir();
    cr_assert_eq(sh("%s train train.inp -o m1.h5 2> train1.log", FH_TEST_FUSIONHOP), 0);
    char *log = read_text_in(dir, "train1.log");
    cr_assert_eq(count(log, "member 1/1 epoch"), 3, "%s", log);
    cr_assert(strstr(log, "valid MAE: E ") && strstr(log, "test (") && strstr(log, "model written"), "%s", log);
    free(log);
    /* two ranks, twice: bitwise the same */
    cr_assert_eq(sh("mpirun -n 2 %s train train.inp -o m2a.h5 2> train2.log", FH_TEST_FUSIONHOP), 0);
    cr_assert_eq(sh("mpirun -n 2 %s train train.inp -o m2b.h5 2>/dev/null", FH_TEST_FUSIONHOP), 0);
    log = read_text_in(dir, "train2.log");
    cr_assert_eq(count(log, "member 1/1 epoch"), 3, "progress must come from rank 0 only:\n%s", log);
    cr_assert(strstr(log, "2 ranks") != NULL, "%s", log);
    free(log);
    fh_model *m1 = load("m1.h5"), *a = load("m2a.h5"), *b = load("m2b.h5");
    size_t np = fh_model_n_params(a);
    cr_assert_eq(memcmp(fh_model_params(a, 0), fh_model_params(b, 0), sizeof(double) * np), 0,
                 "2-rank training is not reproducible");
    /* one rank and two ranks differ only by the order of summation */
    double dmax = 0, wmax = 0;
    for (size_t i = 0; i < np; i++) {
        double d = fabs(fh_model_params(a, 0)[i] - fh_model_params(m1, 0)[i]);
        if (d > dmax) dmax = d;
        if (fabs(fh_model_params(m1, 0)[i]) > wmax) wmax = fabs(fh_model_params(m1, 0)[i]);
    }
    cr_assert(dmax < 1e-6 * wmax, "1 and 2 ranks differ by %.3e", dmax);

    /* predict: every frame, values as the library computes them */
    cr_assert_eq(sh("%s predict --model m1.h5 --xyz frames.xyz > out.json", FH_TEST_FUSIONHOP), 0);
    cr_assert_eq(sh("%s predict --model m1.h5 --xyz frames.xyz --format tsv > out.tsv", FH_TEST_FUSIONHOP), 0);
    char *js = read_text_in(dir, "out.json"), *ts = read_text_in(dir, "out.tsv");
    cr_assert_eq(count(js, "\n"), 3);
    cr_assert_eq(count(js, "{\"frame\":"), 3);
    cr_assert_eq(count(js, "\"energies\":["), 3);
    cr_assert_eq(count(js, "\"gradients\":[[["), 3);
    cr_assert_eq(count(js, "\"nac\":[[["), 3);
    cr_assert_eq(count(js, "\"energy_std\":["), 3);
    fh_xyz *xyz = NULL;
    char path[1200];
    snprintf(path, sizeof path, "%s/frames.xyz", dir);
    fh_err err = {0};
    cr_assert_eq(fh_xyz_read(path, &xyz, &err), FH_OK);
    const char *line = js;
    for (int f = 0; f < 3; f++) {
        double E[2], G[18], d[9], sd[2];
        fh_model_request rq = {.grad_mask = 3u, .want_nac = 1, .energy = E, .grad = G, .nac = d, .energy_std = sd};
        cr_assert_eq(fh_model_predict(m1, 3, xyz->z, xyz->x + 9 * f, &rq, &err), FH_OK);
        /* all numbers of the line in order: frame, energies, gradients, nac, energy_std */
        double v[64];
        int nv = line_numbers(line, v, 64);
        cr_assert_eq(nv, 1 + 2 + 18 + 9 + 2, "frame %d: %d numbers", f, nv);
        cr_assert(v[0] == f);
        cr_assert(v[1] == E[0] && v[2] == E[1], "energies differ from the library");
        for (int k = 0; k < 18; k++) cr_assert(v[3 + k] == G[k]);
        for (int k = 0; k < 9; k++) cr_assert(v[21 + k] == d[k]);
        cr_assert(v[30] == 0 && v[31] == 0, "a single member has no spread");
        line = strchr(line, '\n') + 1;
    }
    cr_assert_eq(count(ts, "\n"), 4);
    char *nl = strchr(ts, '\n');
    *nl = '\0';
    cr_assert_eq(count(ts, "\t"), 31, "TSV header: %s", ts);
    cr_assert(strncmp(ts, "frame\tE_0\tE_1\tstd_0\tstd_1\tgrad_0_a1_x", 36) == 0, "%s", ts);
    cr_assert(strstr(ts, "\tnac_0_1_a3_z") != NULL);
    free(js), free(ts);
    fh_xyz_free(xyz);
    fh_model_free(m1), fh_model_free(a), fh_model_free(b);
    cleanup_dir();
}

/* --member K: member K's own prediction (the weights it was trained to), not the mean. The
 * reference is independent of fh_model_keep_member: member K's weights copied by hand into a
 * committee of one. */
Test(train_cli, predict_one_member)
{
    setup_dir();
    cr_assert_eq(sh("%s train train.inp -o c2.h5 --set train.committee=2 2>/dev/null", FH_TEST_FUSIONHOP), 0);
    cr_assert_eq(sh("%s predict --model c2.h5 --xyz frames.xyz > mean.json", FH_TEST_FUSIONHOP), 0);
    cr_assert_eq(sh("%s predict --model c2.h5 --xyz frames.xyz --member 2 > k2.json", FH_TEST_FUSIONHOP), 0);
    fh_model *c = load("c2.h5");
    cr_assert_eq(fh_model_n_members(c), 2);
    fh_xyz *xyz = NULL;
    char path[1200];
    snprintf(path, sizeof path, "%s/frames.xyz", dir);
    fh_err err = {0};
    cr_assert_eq(fh_xyz_read(path, &xyz, &err), FH_OK);
    double E2[3][2], Ec[3][2], sd[2], G[18], d[9];
    for (int f = 0; f < 3; f++) {
        fh_model_request rq = {.grad_mask = 3u, .want_nac = 1, .energy = Ec[f], .grad = G, .nac = d, .energy_std = sd};
        cr_assert_eq(fh_model_predict(c, 3, xyz->z, xyz->x + 9 * f, &rq, &err), FH_OK);
        cr_assert(sd[0] > 0, "two trained members should differ");
    }
    size_t np = fh_model_n_params(c);
    memcpy(fh_model_params(c, 0), fh_model_params(c, 1), sizeof(double) * np);
    cr_assert_eq(fh_model_set_members(c, 1, 0, &err), FH_OK, "%s", err.msg);
    char *js = read_text_in(dir, "k2.json"), *jm = read_text_in(dir, "mean.json");
    const char *line = js, *lm = jm;
    for (int f = 0; f < 3; f++) {
        fh_model_request rq = {.grad_mask = 3u, .want_nac = 1, .energy = E2[f], .grad = G, .nac = d, .energy_std = sd};
        cr_assert_eq(fh_model_predict(c, 3, xyz->z, xyz->x + 9 * f, &rq, &err), FH_OK);
        double v[64], w[64];
        cr_assert_eq(line_numbers(line, v, 64), 32);
        cr_assert_eq(line_numbers(lm, w, 64), 32);
        cr_assert(v[1] == E2[f][0] && v[2] == E2[f][1], "frame %d: not member 2's energies", f);
        cr_assert(w[1] == Ec[f][0] && w[2] == Ec[f][1], "frame %d: not the committee mean", f);
        cr_assert(v[1] != w[1], "frame %d: --member 2 printed the mean", f);
        for (int k = 0; k < 18; k++) cr_assert(v[3 + k] == G[k]);
        for (int k = 0; k < 9; k++) cr_assert(v[21 + k] == d[k]);
        cr_assert(v[30] == 0 && v[31] == 0, "one member has no spread");
        line = strchr(line, '\n') + 1, lm = strchr(lm, '\n') + 1;
    }
    free(js);
    /* --precision mixed: the dynamics' arithmetic, within 1e-6 of double's yet not bitwise it */
    cr_assert_eq(sh("%s predict --model c2.h5 --xyz frames.xyz --precision mixed > mixed.json", FH_TEST_FUSIONHOP), 0);
    char *jx = read_text_in(dir, "mixed.json");
    const char *lx = jx;
    lm = jm;
    int differ = 0;
    for (int f = 0; f < 3; f++) {
        double v[64], w[64];
        cr_assert_eq(line_numbers(lx, v, 64), 32);
        cr_assert_eq(line_numbers(lm, w, 64), 32);
        for (int k = 1; k < 32; k++) {
            cr_assert(fabs(v[k] - w[k]) < 1e-6 * (1 + fabs(w[k])), "frame %d value %d: %.17g vs %.17g", f, k, v[k], w[k]);
            differ |= v[k] != w[k];
        }
        lx = strchr(lx, '\n') + 1, lm = strchr(lm, '\n') + 1;
    }
    cr_assert(differ, "--precision mixed printed double's numbers bitwise");
    free(jx), free(jm);
    expect_error("--precision must be double or mixed, not 'half'",
                 "%s predict --model c2.h5 --xyz frames.xyz --precision half", FH_TEST_FUSIONHOP);
    /* a member the file does not have, or not a number: exit 2 and a message naming it */
    expect_error("--member 3: c2.h5: model: member 3 requested, the committee has 2 members",
                 "%s predict --model c2.h5 --xyz frames.xyz --member 3", FH_TEST_FUSIONHOP);
    expect_error("--member 'x2': expected a member number",
                 "%s predict --model c2.h5 --xyz frames.xyz --member x2", FH_TEST_FUSIONHOP);
    fh_xyz_free(xyz);
    fh_model_free(c);
    cleanup_dir();
}

/* [train] members / reinit / init_seed from the deck: member 2 of a committee redone from new
 * random weights, member 1 printed byte for byte as before (and with init_seed = seed, member 2
 * too: the same start, split and data order); lists outside the committee exit 2 naming the key. */
Test(train_cli, redo_one_member_from_the_deck)
{
    setup_dir();
    cr_assert_eq(sh("%s train train.inp -o c2.h5 --set train.committee=2 2>/dev/null", FH_TEST_FUSIONHOP), 0);
    cr_assert_eq(sh("%s train train.inp -o r2.h5 --set train.committee=2 --set train.init_model=c2.h5 "
                    "--set train.members=2 --set train.reinit=2 --set train.init_seed=6 2> r2.log",
                    FH_TEST_FUSIONHOP), 0);
    char *log = read_text_in(dir, "r2.log");
    cr_assert(strstr(log, "member 2/2 epoch") && !strstr(log, "member 1/2 epoch") &&
              strstr(log, "member(s) 1 kept unchanged from ./c2.h5"), "%s", log);
    free(log);
    for (int k = 1; k <= 2; k++)
        for (int f = 0; f < 2; f++)
            cr_assert_eq(sh("%s predict --model %s --xyz frames.xyz --member %d > p%d%d.json",
                            FH_TEST_FUSIONHOP, f ? "r2.h5" : "c2.h5", k, k, f), 0);
    char *a = read_text_in(dir, "p10.json"), *b = read_text_in(dir, "p11.json");
    cr_assert_str_eq(a, b, "member 1 changed");
    free(a), free(b);
    a = read_text_in(dir, "p20.json"), b = read_text_in(dir, "p21.json");
    cr_assert(strcmp(a, b) != 0, "member 2 was not redone");
    free(a), free(b);
    /* with the deck's own seed (5) the redone member 2 is the original one again */
    cr_assert_eq(sh("%s train train.inp -o r5.h5 --set train.committee=2 --set train.init_model=c2.h5 "
                    "--set train.members=2 --set train.reinit=2 --set train.init_seed=5 2>/dev/null && "
                    "%s predict --model r5.h5 --xyz frames.xyz --member 2 > p25.json",
                    FH_TEST_FUSIONHOP, FH_TEST_FUSIONHOP), 0);
    a = read_text_in(dir, "p20.json"), b = read_text_in(dir, "p25.json");
    cr_assert_str_eq(a, b, "init_seed = seed should reproduce member 2");
    free(a), free(b);
    expect_error("[train] members = '3': need a comma-separated list of members and ranges (e.g. 2,3) "
                 "within the committee of 2",
                 "%s train train.inp -o r3.h5 --set train.committee=2 --set train.init_model=c2.h5 "
                 "--set train.members=3", FH_TEST_FUSIONHOP);
    expect_error("member 1 is not trained",
                 "%s train train.inp -o r3.h5 --set train.committee=2 --set "
                 "train.init_model=c2.h5 --set train.members=2 --set train.reinit=1",
                 FH_TEST_FUSIONHOP);
    cleanup_dir();
}

/* [train] widen_channels: fine-tuning starts from the init model widened (fh_model_widen; that it
 * predicts the same is test_model_widen's); the written model has the new width. Without an
 * init model, or narrower than it, exit 2 with a message naming the key or the widths. */
Test(train_cli, widen_the_init_model)
{
    setup_dir();
    cr_assert_eq(sh("%s train train.inp -o c.h5 2>/dev/null", FH_TEST_FUSIONHOP), 0);
    cr_assert_eq(sh("%s train train.inp -o w.h5 --set train.init_model=c.h5 "
                    "--set train.widen_channels=12 --set train.epochs=1 2> w.log", FH_TEST_FUSIONHOP), 0);
    fh_model *a = load("c.h5"), *b = load("w.h5");
    cr_assert(fh_model_get_hyper(a)->channels == 8 && fh_model_get_hyper(b)->channels == 12,
              "channels %d -> %d", fh_model_get_hyper(a)->channels, fh_model_get_hyper(b)->channels);
    cr_assert_gt(fh_model_n_params(b), fh_model_n_params(a));
    fh_model_free(a), fh_model_free(b);
    expect_error("widen_channels = 12 needs an init_model",
                 "%s train train.inp -o x.h5 --set train.widen_channels=12", FH_TEST_FUSIONHOP);
    expect_error("cannot narrow 12 channels to 10",
                 "%s train train.inp -o x.h5 --set train.init_model=w.h5 --set "
                 "train.widen_channels=10", FH_TEST_FUSIONHOP);
    cleanup_dir();
}

Test(train_cli, usage_and_input_errors)
{
    setup_dir();
    expect_error("--model FILE and --xyz FILE are required", "%s predict --xyz frames.xyz",
                 FH_TEST_FUSIONHOP);
    expect_error("nothere.h5", "%s predict --model nothere.h5 --xyz frames.xyz", FH_TEST_FUSIONHOP);
    expect_error("bad.h5: model file: not an HDF5 file",
                 "echo garbage > bad.h5; %s predict --model bad.h5 --xyz frames.xyz",
                 FH_TEST_FUSIONHOP);
    cr_assert_eq(sh("%s predict --model data.h5 --xyz frames.xyz --format csv 2>/dev/null", FH_TEST_FUSIONHOP), 2);
    /* a repeated option was "the last one wins" */
    expect_error("option '--model' given twice",
                 "%s predict --model a.h5 --xyz frames.xyz --model=b.h5", FH_TEST_FUSIONHOP);
    cr_assert_eq(sh("%s predict --format tsv --model a.h5 --xyz frames.xyz --format json 2>/dev/null",
                    FH_TEST_FUSIONHOP), 2);
    cr_assert_eq(sh("%s train 2>/dev/null", FH_TEST_FUSIONHOP), 2);
    expect_error("needs 'dataset'",
                 "printf '[train]\\nepochs = 2\\n' > nodata.inp; %s train nodata.inp",
                 FH_TEST_FUSIONHOP);
    expect_error("radial_mlp",
                 "printf '[model]\\nradial_mlp = 16,x\\n[train]\\ndataset = data.h5\\n' > badmlp.inp; "
                 "%s train badmlp.inp", FH_TEST_FUSIONHOP);
    /* deck errors name the file and the line */
    expect_error("typo.inp:2", "printf '[model]\\nchanels = 8\\n' > typo.inp; %s train typo.inp",
                 FH_TEST_FUSIONHOP);
    /* coupling sign flips: a bad list, an atom the molecule lacks, then a model that keeps them */
    expect_error("nac_flip = '2,x'",
                 "%s train train.inp -o f.h5 --set model.nac_flip=2,x", FH_TEST_FUSIONHOP);
    expect_error("atom 4, but the dataset's molecule has 3 atoms",
                 "%s train train.inp -o f.h5 --set model.nac_flip=2-5", FH_TEST_FUSIONHOP);
    cr_assert_eq(sh("%s train train.inp -o f.h5 --set model.nac_flip=2-3 2>/dev/null",
                    FH_TEST_FUSIONHOP), 0);
    fh_model *m = load("f.h5");
    const fh_model_hyper *h = fh_model_get_hyper(m);
    cr_assert(h->nac_flip_natoms == 3 && !h->nac_flip[0] && h->nac_flip[1] && h->nac_flip[2],
              "flips not kept: %d atoms, %d %d %d", h->nac_flip_natoms, h->nac_flip[0],
              h->nac_flip[1], h->nac_flip[2]);
    fh_model_free(m);
    /* the diabatic readout: trains and is stored; fine-tuning across readouts is refused */
    cr_assert_eq(sh("%s train train.inp -o d.h5 --set model.coupling=diabatic 2>/dev/null",
                    FH_TEST_FUSIONHOP), 0);
    m = load("d.h5");
    cr_assert_eq(fh_model_get_hyper(m)->diabatic, 1);
    fh_model_free(m);
    expect_error("f.h5 has the vector coupling readout, the deck asks for the diabatic",
                 "%s train train.inp -o g.h5 --set model.coupling=diabatic --set "
                 "train.init_model=f.h5", FH_TEST_FUSIONHOP);
    expect_error("'sideways' is not a valid 'coupling' in [model]",
                 "%s train train.inp -o g.h5 --set model.coupling=sideways", FH_TEST_FUSIONHOP);
    cleanup_dir();
}

/* The files training writes never replace the files it reads or each other: -o naming the dataset
 * or an existing file that is not a model, a checkpoint that is the model file (deleted when the
 * model is written) or the init_model: exit 2, naming the file, which is left as it was. A model
 * in the model's place is still replaced by retraining (the active-learning loop does that). */
Test(train_cli, outputs_never_replace_inputs_or_other_files)
{
    setup_dir();
    cr_assert_eq(sh("cp data.h5 data.orig && echo notes > notes.txt"), 0);
    expect_error("train.inp: error: the model file data.h5 is the [train] dataset",
                 "%s train train.inp -o data.h5", FH_TEST_FUSIONHOP);
    cr_assert_eq(sh("%s train train.inp -o ./data.h5 --force 2>/dev/null", FH_TEST_FUSIONHOP), 2);
    expect_error("train.inp: error: the checkpoint ./data.h5 is the [train] dataset",
                 "%s train train.inp -o m.h5 --set train.checkpoint=data.h5", FH_TEST_FUSIONHOP);
    cr_assert_eq(sh("cmp -s data.h5 data.orig"), 0, "the dataset is untouched");
    expect_error("train.inp: error: the checkpoint and the model file are both m.h5",
                 "%s train train.inp -o m.h5 --set train.checkpoint=./m.h5", FH_TEST_FUSIONHOP);
    expect_error("train.inp: error: notes.txt exists and is not a fusionhop model",
                 "%s train train.inp -o notes.txt", FH_TEST_FUSIONHOP);
    cr_assert_eq(sh("grep -qx notes notes.txt"), 0, "the text file is untouched");
    /* a model is replaced by retraining; then it cannot be its own fine-tuning checkpoint */
    cr_assert_eq(sh("%s train train.inp -o m.h5 2>/dev/null", FH_TEST_FUSIONHOP), 0);
    cr_assert_eq(sh("%s train train.inp -o m.h5 --set train.epochs=2 2>/dev/null",
                    FH_TEST_FUSIONHOP), 0);
    expect_error("train.inp: error: the checkpoint ./m.h5 is the [train] init_model",
                 "cp m.h5 m.orig && %s train train.inp -o m2.h5 --set train.init_model=m.h5 "
                 "--set train.checkpoint=m.h5", FH_TEST_FUSIONHOP);
    cr_assert_eq(sh("cmp -s m.h5 m.orig"), 0, "the initial model is untouched");
    cleanup_dir();
}

Test(train_cli, surface_hopping_on_the_trained_model)
{
    setup_dir();
    cr_assert_eq(sh("%s train train.inp -o m.h5 2>/dev/null", FH_TEST_FUSIONHOP), 0);
    /* the provider directly */
    char path[1200];
    snprintf(path, sizeof path, "%s/m.h5", dir);
    fh_surface_config cfg = {.type = "ml", .natoms = 3, .z = tt_z, .model_file = path};
    fh_surface *s = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_surface_alloc(&cfg, &s, &err), FH_OK, "%s", err.msg);
    cr_assert(s->nstates == 2 && s->ndof == 9 && (s->caps & FH_CAP_NAC) && (s->caps & FH_CAP_SPREAD));
    cr_assert(fabs(s->mass[3] - fh_element_mass_au(1)) < 1e-9);
    double x[9], E[2], G[18], d[9], sd[2], E2[2], G2[18], d2[9];
    tm_seed(5);
    tt_geometry(x);
    fh_surface_eval rq = {.x = x, .grad_mask = 2u, .want_nac = 1, .energy = E, .grad = G, .nac = d, .energy_std = sd};
    cr_assert_eq(fh_surface_evaluate(s, &rq, &err), FH_OK, "%s", err.msg);
    fh_model *m = load("m.h5");
    fh_model_request mr = {.grad_mask = 2u, .want_nac = 1, .energy = E2, .grad = G2, .nac = d2};
    cr_assert_eq(fh_model_predict(m, 3, tt_z, x, &mr, &err), FH_OK);
    cr_assert(memcmp(E, E2, sizeof E) == 0 && memcmp(G + 9, G2 + 9, 9 * sizeof(double)) == 0 &&
              memcmp(d, d2, sizeof d) == 0, "the provider must return the model's numbers");
    fh_model_free(m);
    fh_surface_free(s);
    cfg.nstates = 3;
    cr_assert_eq(fh_surface_alloc(&cfg, &s, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "2 states, not 3") != NULL, "%s", err.msg);
    cfg.nstates = 0;
    int z2[3] = {6, 1, 7};
    cfg.z = z2;
    cr_assert_eq(fh_surface_alloc(&cfg, &s, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "atom 3 is N") != NULL, "%s", err.msg);

    /* a short ensemble through the runner */
    cr_assert_eq(sh("head -5 frames.xyz > start.xyz && printf '[surface]\\ntype = ml\\nmodel = m.h5\\n"
                    "geometry = start.xyz\\n[dynamics]\\nntraj = 2\\ndt = 0.25 fs\\ntmax = 5 fs\\n"
                    "[initial]\\nsampling = fixed\\nstate = 1\\n' > run.inp && "
                    "%s run run.inp -o run 2> run.log", FH_TEST_FUSIONHOP), 0);
    char *log = read_text_in(dir, "run.log");
    cr_assert(strstr(log, "2 done") != NULL, "%s", log);
    free(log);
    cleanup_dir();
}

/* The shipped training decks parse: the stilbene model and its STO-3G pretraining, same
 * architecture, datasets and outputs where the README and pretrain_compare.sh expect them. */
Test(train_cli, shipped_training_decks_parse)
{
    const char *files[2] = {"stilbene.inp", "stilbene_sto3g.inp"};
    const char *data[2] = {"/datasets/stilbene_sa2cas22_631g.h5", "/datasets/stilbene_sa2cas22_sto3g.h5"};
    const char *out[2] = {"/models/stilbene.h5", "/models/stilbene_sto3g.h5"};
    for (int i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/inputs/train/%s", FH_TEST_SOURCE_DIR, files[i]);
        fh_deck *d = NULL;
        fh_err err = {0};
        cr_assert_eq(fh_deck_load(path, NULL, 0, &d, &err), FH_OK, "%s: %s", files[i], err.msg);
        cr_assert(strstr(fh_deck_string(d, "train", "dataset"), data[i]), "%s", files[i]);
        cr_assert(strstr(fh_deck_string(d, "train", "output"), out[i]), "%s", files[i]);
        cr_assert_eq(fh_deck_int(d, "model", "channels"), 16);
        cr_assert_eq(fh_deck_int(d, "model", "lmax"), 2);
        fh_deck_free(d);
    }
}
