/* `fusionhop run` on bad input, as a user would meet it: an output directory whose ensemble.h5 is
 * not an index (garbage, a directory) fails at once with exit 2 instead of retrying for a minute as
 * if another job held it, and leaves the directory as it was. */
#include <criterion/criterion.h>
#include "test_workdir.h"
#include <string.h>
#include <time.h>

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

Test(run_cmd, unreadable_index_fails_at_once_and_is_left_alone)
{
    cr_assert_eq(sh("printf '[surface]\\ntype = tully1\\n[dynamics]\\nntraj = 2\\ntmax = 2 fs\\n"
                    "[initial]\\nsampling = fixed\\n' > t.inp"), 0);
    cr_assert_eq(sh("%s run t.inp -o good 2>/dev/null", FH_TEST_FUSIONHOP), 0);
    /* garbage in place of the index */
    cr_assert_eq(sh("cp -r good g && echo garbage > g/ensemble.h5"), 0);
    double t0 = seconds();
    cr_assert_eq(sh("%s run t.inp -o g 2> e1.log", FH_TEST_FUSIONHOP), 2);
    cr_assert_lt(seconds() - t0, 20.0, "a file nobody holds is not retried for a minute");
    expect_in("e1.log", "g/ensemble.h5: cannot open");
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
