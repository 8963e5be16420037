/* `fusionhop scatter` from the outside: the TSV it prints, reproducibility with a seed, and usage
 * errors (exit code 2 with a message naming the problem, never a crash). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Run the program with `args`; stdout into out, stderr into err (each up to n bytes). */
static int run(const char *args, char *out, char *err, size_t n)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s scatter %s 2>%s/scatter_stderr.txt", FH_TEST_FUSIONHOP, args,
             FH_TEST_BINARY_DIR);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    int status = pclose(p);
    char path[512];
    snprintf(path, sizeof path, "%s/scatter_stderr.txt", FH_TEST_BINARY_DIR);
    FILE *f = fopen(path, "r");
    got = f ? fread(err, 1, n - 1, f) : 0;
    err[got] = '\0';
    if (f) fclose(f);
    cr_assert(WIFEXITED(status), "fusionhop %s did not exit normally", args);
    return WEXITSTATUS(status);
}

Test(fssh_scatter_cmd, prints_the_tsv_line)
{
    char out[4096], err[4096];
    int rc = run("--model 1 --momentum 20 --ntraj 200 --seed 5", out, err, sizeof out);
    cr_assert_eq(rc, 0, "%s", err);
    char *nl = strchr(out, '\n');
    cr_assert_not_null(nl);
    *nl = '\0';
    cr_assert_str_eq(out, "model\tmomentum\tntraj\tT_lower\tT_upper\tR_lower\tR_upper\tseconds");
    int model, ntraj;
    double k, f[4], sec;
    cr_assert_eq(sscanf(nl + 1, "%d\t%lf\t%d\t%lf\t%lf\t%lf\t%lf\t%lf", &model, &k, &ntraj, &f[0],
                        &f[1], &f[2], &f[3], &sec), 8, "%s", nl + 1);
    cr_assert_eq(model, 1);
    cr_assert_eq(k, 20.0);
    cr_assert_eq(ntraj, 200);
    cr_assert(fabs(f[0] + f[1] + f[2] + f[3] - 1) < 1e-5);
    cr_assert(f[1] > 0.3 && f[1] < 0.7, "T_upper %g", f[1]); /* exact: 0.49 */
    cr_assert(sec >= 0);
}

Test(fssh_scatter_cmd, same_seed_same_numbers_and_decoherence_option)
{
    char a[4096], b[4096], c[4096], err[4096];
    cr_assert_eq(run("--model 3 --momentum 12 --ntraj 100 --seed 9 --decoherence edc", a, err, sizeof a), 0, "%s", err);
    cr_assert_eq(run("--model=3 --momentum=12 --ntraj=100 --seed=9 --decoherence=edc", b, err, sizeof b), 0, "%s", err);
    cr_assert_eq(run("--model 3 --momentum 12 --ntraj 100 --seed 9", c, err, sizeof c), 0, "%s", err);
    /* compare everything but the seconds column */
    *strrchr(a, '\t') = '\0';
    *strrchr(b, '\t') = '\0';
    *strrchr(c, '\t') = '\0';
    cr_assert_str_eq(a, b);
    cr_assert_str_neq(a, c, "EDC made no difference at all");
}

/* --coupling ktdc withholds the NACs: on model 1 the curvature-driven coupling sees only the convex
 * part of the gap (|x| < 0.27 bohr) and transfers far less than v.d at k = 25 (an independent
 * two-state propagation along the classical path gives 0.17 vs 0.64; docs/scattering.md). */
Test(fssh_scatter_cmd, coupling_rescale_and_frustrated_options)
{
    char nac[4096], ktdc[4096], vel[4096], rev[4096], err[4096];
    cr_assert_eq(run("--model 1 --momentum 25 --ntraj 400 --seed 3", nac, err, sizeof nac), 0, "%s", err);
    cr_assert_eq(run("--model 1 --momentum 25 --ntraj 400 --seed 3 --coupling ktdc", ktdc, err, sizeof ktdc), 0, "%s", err);
    cr_assert_eq(run("--model 1 --momentum 25 --ntraj 400 --seed 3 --rescale velocity --frustrated reverse_jt", vel, err, sizeof vel), 0, "%s", err);
    double fn[4], fk[4], fv[4];
    const char *fmt = "%*s\t%*s\t%*s\t%*s\t%*s\t%*s\t%*s\t%*s\n%*d\t%*g\t%*d\t%lf\t%lf\t%lf\t%lf";
    cr_assert_eq(sscanf(nac, fmt, &fn[0], &fn[1], &fn[2], &fn[3]), 4, "%s", nac);
    cr_assert_eq(sscanf(ktdc, fmt, &fk[0], &fk[1], &fk[2], &fk[3]), 4, "%s", ktdc);
    cr_assert_eq(sscanf(vel, fmt, &fv[0], &fv[1], &fv[2], &fv[3]), 4, "%s", vel);
    cr_assert(fn[1] > 0.55 && fn[1] < 0.72, "NAC T_upper %g (exact 0.62)", fn[1]);
    cr_assert(fk[1] > 0.10 && fk[1] < 0.25, "kTDC T_upper %g (two-state estimate 0.17)", fk[1]);
    /* in 1D the NAC is along v: rescaling along v is the same physics, and nothing is frustrated
     * at k = 25, so the numbers are the same trajectories' */
    for (int i = 0; i < 4; i++) cr_assert_float_eq(fv[i], fn[i], 1e-12);
    /* model 3 at k = 6: hops up are frustrated; reversing changes the reflected fractions */
    cr_assert_eq(run("--model 3 --momentum 6 --ntraj 200 --seed 3", nac, err, sizeof nac), 0, "%s", err);
    cr_assert_eq(run("--model 3 --momentum 6 --ntraj 200 --seed 3 --frustrated reverse", rev, err, sizeof rev), 0, "%s", err);
    *strrchr(nac, '\t') = '\0';
    *strrchr(rev, '\t') = '\0';
    cr_assert_str_neq(nac, rev, "--frustrated reverse changed nothing on model 3 at k = 6");
}

Test(fssh_scatter_cmd, help)
{
    char out[8192], err[4096];
    cr_assert_eq(run("--help", out, err, sizeof out), 0);
    cr_assert(strstr(out, "usage: fusionhop scatter") && strstr(out, "--decoherence"), "%s", out);
}

Test(fssh_scatter_cmd, usage_errors_exit_2_with_a_message)
{
    struct {
        const char *args, *says;
    } cases[] = {
        {"--momentum 20 --ntraj 10", "missing --model"},
        {"--model 1 --ntraj 10", "missing --momentum"},
        {"--model 1 --momentum 20", "missing --ntraj"},
        {"--model 4 --momentum 20 --ntraj 10", "--model must be 1, 2 or 3"},
        {"--model one --momentum 20 --ntraj 10", "--model must be 1, 2 or 3"},
        {"--model 1 --momentum -3 --ntraj 10", "--momentum must be a positive number"},
        {"--model 1 --momentum 2x --ntraj 10", "--momentum must be a positive number"},
        {"--model 1 --momentum nan --ntraj 10", "--momentum must be a positive number"},
        {"--model 1 --momentum 20 --ntraj 0", "--ntraj must be an integer >= 1"},
        {"--model 1 --momentum 20 --ntraj 1.5", "--ntraj must be an integer >= 1"},
        {"--model 1 --momentum 20 --ntraj 10 --seed -1", "--seed must be an integer"},
        {"--model 1 --momentum 20 --ntraj 10 --decoherence afssh", "--decoherence must be none or edc"},
        {"--model 1 --momentum 20 --ntraj 10 --dt 3", "unknown option '--dt'"},
        {"--model 1 --momentum 20 --ntraj 10 --coupling auto", "--coupling must be nac or ktdc"},
        {"--model 1 --momentum 20 --ntraj 10 --rescale along", "--rescale must be nac, velocity or none"},
        {"--model 1 --momentum 20 --ntraj 10 --frustrated bounce", "--frustrated must be keep, reverse"},
        {"--model 1 --momentum 20 --ntraj 10 --frustrated", "option '--frustrated' needs a value"},
        {"--model 1 --momentum 20 --ntraj", "option '--ntraj' needs a value"},
        {"--model 1 --momentum 20 --ntraj 10 extra", "unexpected argument 'extra'"},
        /* an overflowing momentum was a runtime failure (exit 1, "non-finite value") */
        {"--model 1 --momentum 1e200 --ntraj 10", "--momentum must be a positive number up to 1e+06"},
        /* a repeated option was silently "the last one wins" */
        {"--model 1 --momentum 20 --ntraj 10 --model 2", "option '--model' given twice"},
        {"--model 1 --momentum 20 --ntraj=10 --ntraj 3", "option '--ntraj' given twice"},
        {"--model 1 --momentum 20 --ntraj 10 --seed 1 --seed=2", "option '--seed' given twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[4096], err[4096];
        int rc = run(cases[i].args, out, err, sizeof out);
        cr_expect_eq(rc, 2, "'%s' exited with %d", cases[i].args, rc);
        cr_expect(strstr(err, cases[i].says) != NULL, "'%s': stderr was '%s'", cases[i].args, err);
        cr_expect_eq(out[0], '\0', "'%s' printed results", cases[i].args);
    }
}
