/* `fusionhop run` on bad input, as a user would meet it: an output directory whose ensemble.h5 is
 * not an index (garbage, a directory) fails at once with exit 2 instead of retrying for a minute as
 * if another job held it, and leaves the directory as it was; an ML model for one molecule with a
 * reference geometry of another atom count, or a geometry with atoms on top of each other, is
 * refused before anything is written (exit 2, naming the file), instead of an ensemble of
 * trajectories that all fail at their first step with exit 0. A repeated --range and stray
 * arguments to `help` are usage errors. */
#include <criterion/criterion.h>
#include "test_workdir.h"
#include <string.h>
#include <time.h>

#include "fh_model.h"

static void setup(void) { workdir_make("test_run_cmd"); }
static void teardown(void)
{
    if (workdir_remove()) {}
}

TestSuite(run_cmd, .init = setup, .fini = teardown);

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void expect_in(const char *file, const char *want)
{
    char *t = read_text_in(dir, file);
    cr_assert(strstr(t, want), "%s: expected '%s' in:\n%s", file, want, t);
    free(t);
}

/* t.inp: a tiny Tully model-1 deck of ntraj trajectories, 2 fs each. */
static void write_tully_deck(int ntraj)
{
    cr_assert_eq(sh("printf '[surface]\\ntype = tully1\\n[dynamics]\\nntraj = %d\\ntmax = 2 fs\\n"
                    "[initial]\\nsampling = fixed\\n' > t.inp", ntraj), 0);
}

Test(run_cmd, unreadable_index_fails_at_once_and_is_left_alone)
{
    write_tully_deck(2);
    cr_assert_eq(sh("%s run t.inp -o good 2>/dev/null", FH_TEST_FUSIONHOP), 0);
    /* garbage in place of the index */
    cr_assert_eq(sh("cp -r good g && echo garbage > g/ensemble.h5"), 0);
    double t0 = seconds();
    cr_assert_eq(sh("%s run t.inp -o g 2> e1.log", FH_TEST_FUSIONHOP), 2);
    cr_assert_lt(seconds() - t0, 20.0, "a file nobody holds is not retried for a minute");
    expect_in("e1.log", "g/ensemble.h5: cannot open (not an HDF5 file)");
    cr_assert_eq(sh("grep -qx garbage g/ensemble.h5 && cmp -s g/traj/traj_000000.h5 "
                    "good/traj/traj_000000.h5"), 0, "the directory is left as it was");
    /* a directory in place of the index */
    cr_assert_eq(sh("cp -r good d && rm d/ensemble.h5 && mkdir d/ensemble.h5"), 0);
    t0 = seconds();
    cr_assert_eq(sh("%s run t.inp -o d 2> e2.log", FH_TEST_FUSIONHOP), 2);
    cr_assert_lt(seconds() - t0, 20.0);
    expect_in("e2.log", "d/ensemble.h5");
    /* an index another process holds is still waited for (here 1 s) */
    cr_assert_eq(sh("(flock -x good/ensemble.h5 sleep 1 &) ; sleep 0.2; %s run t.inp -o good "
                    "2> e3.log", FH_TEST_FUSIONHOP), 0);
    expect_in("e3.log", "2 already finished");
}

/* A three-atom model (H, C, O) whose coupling sign flips make it a model of one molecule. */
static void write_model(const char *name)
{
    fh_model_hyper h = fh_model_hyper_default();
    h.nstates = 2;
    h.n_elements = 3;
    h.elements[0] = 1, h.elements[1] = 6, h.elements[2] = 8;
    h.channels = 4;
    h.lmax = 1;
    h.correlation = 2;
    h.n_layers = 1;
    h.r_cut = 4.0;
    h.n_bessel = 4;
    h.n_radial = 1;
    h.radial[0] = 8;
    h.readout_hidden = 4;
    h.avg_neighbors = 2.0;
    h.nac_flip_natoms = 3;
    h.nac_flip[0] = 0, h.nac_flip[1] = 1, h.nac_flip[2] = 1;
    fh_err err = {0};
    fh_model *m = NULL;
    cr_assert_eq(fh_model_alloc(&h, 1, 3, &m, &err), FH_OK, "%s", err.msg);
    fh_model_norm *nm = fh_model_get_norm(m);
    nm->scale[0] = nm->scale[1] = nm->nac_scale[0] = 1.0;
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(fh_model_save(m, path, &err), FH_OK, "%s", err.msg);
    fh_model_free(m);
}

Test(run_cmd, ml_geometry_that_cannot_run_is_refused_before_the_run)
{
    write_model("m.h5");
    cr_assert_eq(sh("printf '[surface]\\ntype = ml\\nmodel = m.h5\\ngeometry = g.xyz\\n"
                    "[dynamics]\\nntraj = 1\\ntmax = 1 fs\\n[initial]\\nsampling = fixed\\n' > ml.inp"),
                 0);
    /* the molecule the model is for: runs */
    cr_assert_eq(sh("printf '3\\n\\nC 0 0 0\\nH 1.1 0 0\\nO -0.6 1.0 0\\n' > g.xyz && "
                    "%s run ml.inp -o ok 2> e0.log", FH_TEST_FUSIONHOP), 0);
    expect_in("e0.log", "1 done, 0 failed");
    /* four atoms for a three-atom model */
    cr_assert_eq(sh("printf '4\\n\\nC 0 0 0\\nH 1.1 0 0\\nO -0.6 1.0 0\\nH 0 0 1.1\\n' > g4.xyz && "
                    "%s run ml.inp -o r4 --set surface.geometry=g4.xyz 2> e1.log",
                    FH_TEST_FUSIONHOP), 2);
    expect_in("e1.log", "molecule of 3 atoms");
    expect_in("e1.log", "the geometry has 4");
    /* two atoms in one place */
    cr_assert_eq(sh("printf '3\\n\\nC 0 0 0\\nH 1.1 0 0\\nO 1.1 0 0\\n' > gd.xyz && "
                    "%s run ml.inp -o rd --set surface.geometry=gd.xyz 2> e2.log",
                    FH_TEST_FUSIONHOP), 2);
    expect_in("e2.log", "gd.xyz:5: error: atoms 2 and 3 (lines 4 and 5)");
    cr_assert_eq(sh("test ! -e r4 && test ! -e rd"), 0, "nothing is written");
}

/* -o: a file where the output directory should be was an I/O failure (exit 1); an empty name
 * (--output=) made the root directory the output directory; a second -o silently replaced the
 * first. All are usage errors now, for every command that takes -o, and nothing is written. */
Test(run_cmd, output_option_errors)
{
    write_tully_deck(2);
    cr_assert_eq(sh("echo keep > afile"), 0);
    cr_assert_eq(sh("%s run t.inp -o afile 2> e1.log", FH_TEST_FUSIONHOP), 2);
    expect_in("e1.log", "afile: not a directory");
    cr_assert_eq(sh("grep -qx keep afile"), 0, "the file is untouched");
    cr_assert_eq(sh("%s run t.inp --output= 2> e2.log", FH_TEST_FUSIONHOP), 2);
    expect_in("e2.log", "needs a non-empty name");
    cr_assert_eq(sh("%s run t.inp -o x1 --output=x2 2> e3.log", FH_TEST_FUSIONHOP), 2);
    expect_in("e3.log", "-o given twice ('x1' and 'x2')");
    cr_assert_eq(sh("test ! -e x1 && test ! -e x2 && test ! -e t"), 0, "nothing is written");
    cr_assert_eq(sh("%s run t.inp -o r 2>/dev/null", FH_TEST_FUSIONHOP), 0);
    cr_assert_eq(sh("%s analyze r --no-plots -o afile 2> e4.log", FH_TEST_FUSIONHOP), 2);
    expect_in("e4.log", "afile: not a directory");
    cr_assert_eq(sh("%s analyze r --no-plots -o a1 -o a2 2> e5.log", FH_TEST_FUSIONHOP), 2);
    expect_in("e5.log", "-o given twice");
}

Test(run_cmd, repeated_range_and_extra_help_arguments_are_usage_errors)
{
    write_tully_deck(4);
    cr_assert_eq(sh("%s run t.inp -o r --range 0:1 --range 1:2 2> e1.log", FH_TEST_FUSIONHOP), 2);
    expect_in("e1.log", "--range given twice");
    cr_assert_eq(sh("test -e r"), 1, "nothing is written");
    cr_assert_eq(sh("%s run t.inp -o r --range 1:3 2> e2.log", FH_TEST_FUSIONHOP), 0);
    cr_assert_eq(sh("%s help deck extra > h.out 2> e3.log", FH_TEST_FUSIONHOP), 2);
    expect_in("e3.log", "unexpected argument 'extra'");
    cr_assert_eq(sh("%s help run > h.out 2> e4.log", FH_TEST_FUSIONHOP), 0);
}
