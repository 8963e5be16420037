/* `fusionhop analyze` end to end on a synthetic ensemble: every table, the summaries and the plots
 * are written; a failed trajectory is reported in the summaries; settings come from --set; a
 * missing gnuplot only warns; bad settings and a missing directory are usage errors (exit 2); a
 * trajectory whose molecule fell apart is left out unless analysis.bond_break = 0. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ana_synth.h"
#include "fh_analysis.h"
#include "fh_app.h"
#include "fh_xyz.h"
#include "h5md_testutil.h"
#include "test_read_text.h"

/* leaver >= 0: in that trajectory atom 7 (H) flies off from 30 fs on; no_hops: all stay on S1 */
/* hops: 0 every trajectory hops, 1 none does, 2 only the first */
static const char *make_ensemble_hops(long leaver, int hops)
{
    const char *base = tu_scratch("ana_cmd");
    static char dir[600];
    snprintf(dir, sizeof dir, "%s", base);
    fh_ens *e = NULL;
    fh_err err = {0};
    const long n = 12;
    cr_assert_eq(fh_ens_create(dir, n, "[surface]\ntype = tully1\n[dynamics]\ntmax = 1 fs\n", 1, 0, &e, &err),
                 FH_OK, "%s", err.msg);
    for (long k = 0; k < n; k++) {
        sy_traj tr = {.hop_fs = 10.0 + 5.0 * k, .final_phi = k % 3 ? 170.0 : 10.0, .final_r = 6.0,
                      .theta = 5.0, .frustrated_at = 2, .status = FH_TRAJ_DONE, .reason = "tmax"};
        if (k == 4) tr.status = FH_TRAJ_FAILED, tr.reason = "nan: NaN in the energies";
        if (k == leaver) tr.leave_fs = 30.0;
        if (hops == 1 || (hops == 2 && k > 0)) tr.hop_fs = -1;
        cr_assert_eq(sy_write(dir, k, &tr, 2.0, 100.0, &err), FH_OK, "%s", err.msg);
        cr_assert_eq(sy_record(e, k, &tr, &err), FH_OK, "%s", err.msg);
    }
    fh_ens_close(e, &err);
    return dir;
}

static const char *make_ensemble_with(long leaver) { return make_ensemble_hops(leaver, 0); }
static const char *make_ensemble(void) { return make_ensemble_with(-1); }

static int run(char **argv)
{
    int argc = 0;
    while (argv[argc]) argc++;
    return fh_app_main(argc, argv);
}

static long file_size(const char *dir, const char *name)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static const char *tables[] = {"populations.tsv", "lifetime.tsv", "lifetime_curve.tsv", "products.tsv",
                               "yields.tsv", "hops.tsv", "hop_counts.tsv", "hop_histograms.tsv",
                               "first_hop.tsv", "quality.tsv", "torsion.tsv", "hops.xyz", "summary.txt",
                               "summary.json"};

Test(analysis_cmd, writes_report_tables_summaries_and_plots, .timeout = 120)
{
    const char *dir = make_ensemble();
    char res[700];
    snprintf(res, sizeof res, "%s/analysis", dir);
    char *argv[] = {"fusionhop", "analyze", (char *)dir, "--set", "analysis.dihedral=1 2 3 4",
                    "--set", "analysis.ring=5,6", "--set", "analysis.pyramid=2 7 1 3",
                    "--set", "analysis.nboot=100", NULL};
    cr_assert_eq(run(argv), FH_EXIT_OK);
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        cr_expect_gt(file_size(res, tables[i]), 20, "%s written", tables[i]);

    char *sum = read_text_in(res, "summary.txt");
    cr_assert_not_null(sum);
    cr_expect(strstr(sum, "failed 1") && strstr(sum, "used in the statistics: 11"), "%s", sum);
    cr_expect(strstr(sum, "traj 4: failed: nan: NaN in the energies") != NULL, "%s", sum);
    cr_expect(strstr(sum, "quantum yields") != NULL);
    cr_expect(strstr(sum, "S1->S0 hops at: gap median ") != NULL, "%s", sum);
    free(sum);
    char *yl = read_text_in(res, "yields.tsv");
    /* k = 0, 3, 6, 9 are cis; 3 of them used (none failed) -> 4 cis of 11 */
    cr_expect(strstr(yl, "all\tcis\t4\t11\t") != NULL, "%s", yl);
    cr_expect(strstr(yl, "all\ttrans\t7\t11\t") != NULL, "%s", yl);
    free(yl);
    char *q = read_text_in(res, "quality.tsv");
    cr_expect(strstr(q, "4\tfailed\t0\tfailed: nan: NaN in the energies") != NULL, "%s", q);
    free(q);

    /* hops.xyz: the geometry at each hop that took place (not the frustrated attempts at frame
     * 2), one frame per used trajectory, in order: trajectory k hops at 10 + 5k fs, on frame
     * ceil((10 + 5k) / 2) of its 2-fs frames */
    char xp[800];
    snprintf(xp, sizeof xp, "%s/hops.xyz", res);
    fh_xyz *xyz = NULL;
    fh_err xe = {0};
    cr_assert_eq(fh_xyz_read(xp, &xyz, &xe), FH_OK, "%s", xe.msg);
    cr_assert_eq(xyz->nframes, 11);
    cr_assert_eq(xyz->natoms, SY_NATOMS);
    for (int i = 0; i < xyz->nframes; i++) {
        long k = i < 4 ? i : i + 1; /* trajectory 4 failed */
        long fr = (long)ceil((10.0 + 5.0 * k) / 2.0 - 1e-9);
        double t = 2.0 * fr, x[SY_NATOMS * 3], r0 = 3.5 * FH_ANGSTROM_BOHR;
        double phi = 5.0 + ((k % 3 ? 170.0 : 10.0) - 5.0) * t / 100.0;
        sy_geometry(phi, r0 + (6.0 - r0) * t / 100.0, 5.0, x);
        const double *got = xyz->x + (size_t)i * SY_NATOMS * 3;
        double dmax = 0;
        for (int c = 0; c < SY_NATOMS * 3; c++) dmax = fmax(dmax, fabs(got[c] - x[c]));
        cr_expect(dmax < 1e-8, "frame %d: geometry off by %g bohr", i, dmax);
        char want[64];
        snprintf(want, sizeof want, "traj=%ld frame=%ld ", k, fr);
        const char *cm = xyz->comments[i];
        cr_expect(strncmp(cm, want, strlen(want)) == 0 && strstr(cm, "from=1 to=0"),
                  "comment %s, want %s...", cm, want);
    }
    fh_xyz_free(xyz);

    if (system("/usr/bin/python3 -c 1 >/dev/null 2>&1") == 0) {
        char cmd[1500];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import json,sys; d=json.load(open('%s/summary.json')); "
                 "assert d['trajectories']['failed']==1 and d['trajectories']['used']==11; "
                 "assert d['excluded'][0]['traj']==4; assert d['yields']['all']['cis']['count']==4; "
                 "assert d['lifetime']['fitted'] in (True, False); "
                 "assert d['hops']['gap_median_eV'] > 0\"",
                 res);
        cr_expect_eq(system(cmd), 0, "summary.json must be valid JSON with the counts");
    }
    if (system("gnuplot --version >/dev/null 2>&1") == 0) {
        const char *png[] = {"populations.png", "torsion.png", "hops.png"};
        for (int i = 0; i < 3; i++) {
            char *img = read_text_in(res, png[i]);
            cr_expect(img && file_size(res, png[i]) > 1000 && memcmp(img + 1, "PNG", 3) == 0,
                      "%s must be a PNG", png[i]);
            free(img);
        }
    } else {
        cr_log_warn("gnuplot not installed: PNGs not checked");
    }
    tu_rmdir(dir);
}

Test(analysis_cmd, missing_gnuplot_only_warns)
{
    const char *dir = make_ensemble();
    char res[700];
    snprintf(res, sizeof res, "%s/report", dir);
    setenv("FH_GNUPLOT", "/nonexistent/gnuplot", 1);
    char *argv[] = {"fusionhop", "analyze", (char *)dir, "-o", res, "--set", "analysis.nboot=50", NULL};
    cr_assert_eq(run(argv), FH_EXIT_OK);
    unsetenv("FH_GNUPLOT");
    cr_expect_gt(file_size(res, "populations.tsv"), 20);
    cr_expect_gt(file_size(res, "summary.json"), 20);
    cr_expect_eq(file_size(res, "populations.png"), -1);
    cr_expect_eq(file_size(res, "torsion.tsv"), -1, "no dihedral set: no torsion table");
    char *sum = read_text_in(res, "summary.txt");
    cr_expect(strstr(sum, "products: not classified") != NULL, "%s", sum);
    free(sum);
    tu_rmdir(dir);
}

Test(analysis_cmd, bad_settings_are_usage_errors)
{
    const char *dir = make_ensemble();
    char *a1[] = {"fusionhop", "analyze", (char *)dir, "--set", "analysis.dihedral=1 2 3", "--no-plots", NULL};
    cr_expect_eq(run(a1), FH_EXIT_USAGE);
    char *a2[] = {"fusionhop", "analyze", (char *)dir, "--set", "analysis.dihedral=1 2 3 99", "--no-plots", NULL};
    cr_expect_eq(run(a2), FH_EXIT_USAGE, "atom 99 does not exist");
    char *a3[] = {"fusionhop", "analyze", (char *)dir, "--set", "analysis.nboot=1", "--no-plots", NULL};
    cr_expect_eq(run(a3), FH_EXIT_USAGE, "nboot below its range");
    char *a4[] = {"fusionhop", "analyze", "/nonexistent/run", "--no-plots", NULL};
    cr_expect_eq(run(a4), FH_EXIT_USAGE);
    char *a5[] = {"fusionhop", "analyze", NULL};
    cr_expect_eq(run(a5), FH_EXIT_USAGE);
    char *a6[] = {"fusionhop", "analyze", "--help", NULL};
    cr_expect_eq(run(a6), FH_EXIT_OK);
    tu_rmdir(dir);
}

Test(analysis_cmd, a_molecule_that_fell_apart_is_left_out_unless_bond_break_is_0, .timeout = 120)
{
    const char *dir = make_ensemble_with(7);
    char res[700];
    snprintf(res, sizeof res, "%s/analysis", dir);
    char *argv[] = {"fusionhop", "analyze", (char *)dir, "--set", "analysis.dihedral=1 2 3 4",
                    "--set", "analysis.nboot=50", "--no-plots", NULL};
    cr_assert_eq(run(argv), FH_EXIT_OK);
    char *sum = read_text_in(res, "summary.txt");
    cr_assert_not_null(sum);
    /* the H passes 1.75 x 1.07 A at 35.5 fs: the 36 fs frame */
    cr_expect(strstr(sum, "used in the statistics: 10") &&
              strstr(sum, "traj 7: the molecule fell apart at t = 36.0 fs: H7") &&
              strstr(sum, "molecule fell apart (bond_break 1.75 x covalent radii): 1 of 12"),
              "%s", sum);
    free(sum);
    if (system("/usr/bin/python3 -c 1 >/dev/null 2>&1") == 0) {
        char cmd[1500];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import json; d=json.load(open('%s/summary.json')); "
                 "assert d['quality']['fell_apart']==1\"", res);
        cr_expect_eq(system(cmd), 0, "summary.json: quality.fell_apart must be 1");
    }
    char *keep[] = {"fusionhop", "analyze", (char *)dir, "--set", "analysis.dihedral=1 2 3 4",
                    "--set", "analysis.nboot=50", "--set", "analysis.bond_break=0", "--no-plots",
                    NULL};
    cr_assert_eq(run(keep), FH_EXIT_OK);
    sum = read_text_in(res, "summary.txt");
    cr_expect(strstr(sum, "used in the statistics: 11") &&
              strstr(sum, "frames not checked (bond_break 0); runs the dynamics stopped for it: "
                          "0 of 12"),
              "%s", sum);
    free(sum);
    tu_rmdir(dir);
}

/* `fusionhop analyze` on make_ensemble_hops(-1, hops) (12 trajectories); its summary.txt. */
static char *analyze_hops(int hops)
{
    const char *dir = make_ensemble_hops(-1, hops);
    char res[700];
    snprintf(res, sizeof res, "%s/analysis", dir);
    char *argv[] = {"fusionhop", "analyze", (char *)dir, "--set", "analysis.dihedral=1 2 3 4",
                    "--set", "analysis.ring=5,6", "--set", "analysis.nboot=20", NULL};
    cr_assert_eq(run(argv), FH_EXIT_OK);
    char *sum = read_text_in(res, "summary.txt");
    cr_assert_not_null(sum);
    return sum;
}

/* No trajectory ended in S0: the summary says so instead of printing NaN yields for that set
 * (summary.json has null there). */
Test(analysis_cmd, no_trajectory_in_s0_gives_no_nan_yields, .timeout = 120)
{
    char *sum = analyze_hops(1);
    cr_expect(strstr(sum, "quantum yields, trajectories that ended in S0 (n = 0): none"), "%s", sum);
    cr_expect(strstr(sum, "quantum yields, all used trajectories (n = 11):"), "%s", sum);
    cr_expect(!strstr(sum, " nan ") && !strstr(sum, "nan\n"), "no NaN printed:\n%s", sum);
    free(sum);
}

/* one hop to S0 in the whole ensemble: its spread is not defined, and the report says so */
Test(analysis_cmd, one_hop_gives_no_nan_std, .timeout = 120)
{
    char *sum = analyze_hops(2);
    cr_expect(strstr(sum, "first hop to S0: mean 10 fs, median 10 fs, std - (n = 1), range 10-10 fs (n = 1; never: 10)"),
              "%s", sum);
    cr_expect(!strstr(sum, " nan ") && !strstr(sum, "nan fs"), "no NaN printed:\n%s", sum);
    free(sum);
}
