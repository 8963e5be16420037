/* The ensemble runner's initial conditions on a molecule, end to end through `fusionhop run`
 * (serial, no mpirun; the MPI checks are tests/mpi/runner_ml_tests.sh): the ML provider with a
 * tiny three-state model fitted to an analytic H-C-O (tests/tools/runner_model), the optimised S0
 * minimum, Wigner samples.
 *  - the initial-condition stream (fh_run_normals): standard normal, deterministic, a prefix of a
 *    longer draw, different for other indices and seeds;
 *  - the excitation window: every trajectory starts in the lowest excited state whose vertical
 *    excitation energy lies in the window (checked against the model re-evaluated at the stored
 *    geometry); a sample whose first draw qualifies keeps that draw (the same geometry as without a
 *    window), one that does not is redrawn; the window is placed from the data so that all three
 *    cases occur;
 *  - a window no sample reaches fails every trajectory with a clear reason and the run completes;
 *  - the stored committee spread is each state's own (the model re-evaluated at the geometry);
 *  - frame 0 has zero total momentum and angular momentum (translation and rotation removed);
 *  - bad window settings are usage errors naming the keys;
 *  - the Hessian is cached in the output directory and read back; [initial] hessian_model gives
 *    the normal modes of another model than the provider. */
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

#include "fh_h5md.h"
#include "fh_model.h"
#include "fh_runner.h"
#include "fh_units.h"

#define NTRAJ 32

static void setup_dir(void)
{
    workdir_make("test_runner_ml");
}

static void cleanup_dir(void)
{
    cr_assert_eq(workdir_remove(), 0);
}

/* The fitted model and a deck running NTRAJ one-step trajectories from Wigner samples. */
static void make_model_and_deck(void)
{
    cr_assert_eq(sh("%s/tests/runner_model fit . --epochs 30 --members 2 > fit.log 2>&1",
                    FH_TEST_BINARY_DIR), 0, "runner_model fit failed");
    char path[1200];
    snprintf(path, sizeof path, "%s/deck.inp", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "[surface]\ntype = ml\nmodel = hco_model.h5\ngeometry = hco.xyz\n"
               "[dynamics]\nntraj = %d\ndt = 0.5 fs\ntmax = 0.5 fs\n"
               "[initial]\nseed = 77\nsampling = wigner\ntemperature = 0 K\noptimize = true\n"
               "state = 1\n[output]\nframe_every = 1\n", NTRAJ);
    fclose(f);
}

/* Frame 0 of trajectory i of run `out`. */
typedef struct {
    int status, active;
    char reason[FH_H5MD_REASON_MAX];
    long nframes;
    double x[9], v[9], e[3], mass[3], spread[3];
} frame0;

static void read_frame0(const char *out, long i, frame0 *f)
{
    char rdir[1200], path[1400];
    snprintf(rdir, sizeof rdir, "%s/%s", dir, out);
    fh_ens_traj_path(rdir, i, path, sizeof path);
    fh_h5md_reader *r = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_h5md_reader_open(path, &r, &err), FH_OK, "%s", err.msg);
    memset(f, 0, sizeof *f);
    f->status = fh_h5md_reader_status(r);
    snprintf(f->reason, sizeof f->reason, "%s", fh_h5md_reader_stop_reason(r));
    f->nframes = fh_h5md_reader_nframes(r);
    cr_assert_eq(fh_h5md_reader_natoms(r), 3);
    cr_assert_eq(fh_h5md_reader_nstates(r), 3);
    memcpy(f->mass, fh_h5md_reader_masses(r), sizeof f->mass);
    if (f->nframes > 0) {
        cr_assert_eq(fh_h5md_read_positions(r, 0, 1, f->x, &err), FH_OK, "%s", err.msg);
        cr_assert_eq(fh_h5md_read_velocities(r, 0, 1, f->v, &err), FH_OK, "%s", err.msg);
        cr_assert_eq(fh_h5md_read_epot(r, 0, 1, f->e, &err), FH_OK, "%s", err.msg);
        cr_assert_eq(fh_h5md_read_active(r, 0, 1, &f->active, &err), FH_OK, "%s", err.msg);
        cr_assert(fh_h5md_reader_has_spread(r), "a committee run stores the energy spread");
        cr_assert_eq(fh_h5md_read_spread(r, 0, 1, f->spread, &err), FH_OK, "%s", err.msg);
    }
    fh_h5md_reader_close(r);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A boundary halfway between the sorted values q-th and (q+1)-th of v (no value lies on it). */
static double boundary(const double *v, int n, double q)
{
    double *s = malloc(sizeof *s * (size_t)n);
    memcpy(s, v, sizeof *s * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    int k = (int)(q * n);
    double b = 0.5 * (s[k] + s[k + 1]);
    free(s);
    return b;
}

Test(runner_ml, initial_condition_stream)
{
    enum { N = 20000 };
    double *a = malloc(sizeof *a * N), *b = malloc(sizeof *b * N), c[7];
    fh_run_normals(42, 5, N, a);
    fh_run_normals(42, 5, N, b);
    cr_assert(memcmp(a, b, sizeof *a * N) == 0, "not deterministic");
    fh_run_normals(42, 5, 7, c); /* an odd count: the last pair's second value is dropped */
    cr_assert(memcmp(a, c, sizeof c) == 0, "a short draw must be a prefix of a long one");
    double m = 0, v = 0, k4 = 0;
    for (int i = 0; i < N; i++) m += a[i];
    m /= N;
    for (int i = 0; i < N; i++) v += (a[i] - m) * (a[i] - m), k4 += pow(a[i] - m, 4);
    v /= N;
    k4 /= N * v * v;
    /* standard errors: mean 0.007, variance 0.01, kurtosis 0.035 */
    cr_assert(fabs(m) < 0.03 && fabs(v - 1) < 0.04 && fabs(k4 - 3) < 0.15,
              "not standard normal: mean %.4f variance %.4f kurtosis %.3f", m, v, k4);
    fh_run_normals(42, 6, N, b);
    int same = 0;
    for (int i = 0; i < N; i++) same += a[i] == b[i];
    cr_assert(same == 0, "index 5 and 6 share %d deviates", same);
    fh_run_normals(43, 5, N, b);
    for (int i = 0; i < N; i++) same += a[i] == b[i];
    cr_assert(same == 0, "seeds 42 and 43 share %d deviates", same);
    /* neighbouring deviates are uncorrelated */
    double r = 0;
    for (int i = 0; i + 1 < N; i++) r += a[i] * a[i + 1];
    cr_assert(fabs(r / N) < 0.03, "lag-1 correlation %.4f", r / N);
    free(a), free(b);
}

/* A run without a window, then one with a window placed from its excitation energies: the
 * state, the first draw kept iff it qualifies, zero momentum and angular momentum. */
static void check_window(void)
{
    cr_assert_eq(sh("%s run deck.inp -o plain 2> plain.log", FH_TEST_FUSIONHOP), 0);
    char *log = read_text_in(dir, "plain.log");
    cr_assert(strstr(log, "optimising the S0 minimum") && strstr(log, "32 done, 0 failed"), "%s", log);
    free(log);

    /* the first draws: excitation energies (eV) of S1 and S2 */
    static frame0 p[NTRAJ], w[NTRAJ];
    double g1[NTRAJ], g2[NTRAJ];
    for (int i = 0; i < NTRAJ; i++) {
        read_frame0("plain", i, &p[i]);
        cr_assert_eq(p[i].active, 1, "trajectory %d: without a window the state is [initial] state", i);
        g1[i] = (p[i].e[1] - p[i].e[0]) * FH_HARTREE_EV;
        g2[i] = (p[i].e[2] - p[i].e[0]) * FH_HARTREE_EV;
        if (i > 0) cr_assert(memcmp(p[i].x, p[0].x, sizeof p[i].x) != 0, "same Wigner sample twice");
    }
    /* a window from the upper part of the S1 energies to the lower part of the S2 energies */
    double lo = boundary(g1, NTRAJ, 0.6), hi = boundary(g2, NTRAJ, 0.25);
    cr_assert(hi > lo + 0.01, "S1 %.3f.., S2 ..%.3f eV: the model does not allow the test", lo, hi);
    cr_assert_eq(sh("%s run deck.inp -o win --set initial.window_min=%.9geV "
                    "--set initial.window_max=%.9geV 2> win.log", FH_TEST_FUSIONHOP, lo, hi), 0);

    fh_model *m = NULL;
    fh_err err = {0};
    char path[1200];
    snprintf(path, sizeof path, "%s/hco_model.h5", dir);
    cr_assert_eq(fh_model_load(path, &m, &err), FH_OK, "%s", err.msg);
    fh_model_set_precision(m, FH_MODEL_PRECISION_MIXED);   /* as the deck's [surface] precision */
    const int z[3] = {6, 1, 8};
    int kept1 = 0, kept2 = 0, redrawn = 0;
    for (int i = 0; i < NTRAJ; i++) {
        read_frame0("win", i, &w[i]);
        cr_assert_eq(w[i].status, FH_TRAJ_DONE, "trajectory %d: %s", i, w[i].reason);
        /* the model at the stored geometry (an independent evaluation) */
        double e[3], sd[3];
        fh_model_request rq = {.energy = e, .energy_std = sd};
        cr_assert_eq(fh_model_predict(m, 3, z, w[i].x, &rq, &err), FH_OK, "%s", err.msg);
        for (int s = 0; s < 3; s++) {
            cr_assert(fabs(e[s] - w[i].e[s]) < 1e-9, "trajectory %d: stored energies are not the "
                      "model's at the stored geometry", i);
            /* each state's own committee spread (the reader gives hartree), not the largest */
            cr_assert(fabs(sd[s] - w[i].spread[s]) < 1e-12, "trajectory %d state %d: stored "
                      "spread %.6e Eh, model %.6e Eh", i, s, w[i].spread[s], sd[s]);
        }
        cr_assert(sd[0] != sd[1] || sd[1] != sd[2], "trajectory %d: equal spreads cannot tell", i);
        int expect = -1;
        for (int s = 1; s < 3 && expect < 0; s++) {
            double g = (e[s] - e[0]) * FH_HARTREE_EV;
            if (g >= lo && g <= hi) expect = s;
        }
        cr_assert(expect > 0, "trajectory %d: no excitation energy in [%.4f, %.4f] eV (%.4f, %.4f)",
                  i, lo, hi, (e[1] - e[0]) * FH_HARTREE_EV, (e[2] - e[0]) * FH_HARTREE_EV);
        cr_assert_eq(w[i].active, expect, "trajectory %d: state %d, the lowest in the window is %d",
                     i, w[i].active, expect);
        /* the first draw is kept exactly when it qualifies */
        int first_ok = (g1[i] >= lo && g1[i] <= hi) || (g2[i] >= lo && g2[i] <= hi);
        int same = memcmp(w[i].x, p[i].x, sizeof p[i].x) == 0 && memcmp(w[i].v, p[i].v, sizeof p[i].v) == 0;
        cr_assert_eq(same, first_ok, "trajectory %d: first draw %s but %s", i,
                     first_ok ? "qualifies" : "does not qualify", same ? "kept" : "redrawn");
        if (same && expect == 1) kept1++;
        if (same && expect == 2) kept2++;
        if (!same) redrawn++;
    }
    cr_assert(kept1 > 0 && kept2 > 0 && redrawn > 0,
              "every case must occur: S1 %d, S2 %d, redrawn %d", kept1, kept2, redrawn);
    fh_model_free(m);

    /* frame 0: no centre-of-mass motion, no rotation */
    for (int i = 0; i < NTRAJ; i++) {
        double P[3] = {0}, L[3] = {0}, c[3] = {0}, mt = 0, pn = 0;
        for (int a = 0; a < 3; a++) {
            mt += w[i].mass[a];
            for (int k = 0; k < 3; k++) c[k] += w[i].mass[a] * w[i].x[3 * a + k];
        }
        for (int a = 0; a < 3; a++) {
            double r[3], *u = w[i].v + 3 * a, ma = w[i].mass[a];
            for (int k = 0; k < 3; k++) r[k] = w[i].x[3 * a + k] - c[k] / mt, P[k] += ma * u[k];
            L[0] += ma * (r[1] * u[2] - r[2] * u[1]);
            L[1] += ma * (r[2] * u[0] - r[0] * u[2]);
            L[2] += ma * (r[0] * u[1] - r[1] * u[0]);
            pn += ma * sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
        }
        for (int k = 0; k < 3; k++) {
            cr_assert(fabs(P[k]) < 1e-9 * pn, "trajectory %d: momentum %.3e (scale %.3e)", i, P[k], pn);
            cr_assert(fabs(L[k]) < 1e-9 * pn * 4, "trajectory %d: angular momentum %.3e", i, L[k]);
        }
    }
}

/* A window no sample reaches; bad window settings. */
static void check_unreachable_window(void)
{
    cr_assert_eq(sh("%s run deck.inp -o none --set dynamics.ntraj=3 --set initial.window_min=9.9eV "
                    "--set initial.window_max=10eV 2> none.log", FH_TEST_FUSIONHOP), 0,
                 "failed trajectories do not fail the run");
    char *log = read_text_in(dir, "none.log");
    cr_assert(strstr(log, "0 done, 3 failed") != NULL, "%s", log);
    free(log);
    const char *want = "no Wigner sample in 100 attempts had an excitation energy inside the "
                       "window [9.900, 10.000] eV";
    char rdir[1200];
    snprintf(rdir, sizeof rdir, "%s/none", dir);
    fh_ens *e = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_ens_open(rdir, 0, &e, &err), FH_OK, "%s", err.msg);
    for (long i = 0; i < 3; i++) {
        fh_ens_record rec;
        cr_assert_eq(fh_ens_get(e, i, &rec, &err), FH_OK);
        cr_assert_eq(rec.status, FH_TRAJ_FAILED);
        cr_assert(strcmp(rec.reason, want) == 0, "index: '%s'", rec.reason);
        frame0 f;
        read_frame0("none", i, &f);
        cr_assert(f.status == FH_TRAJ_FAILED && f.nframes == 0 && strcmp(f.reason, want) == 0,
                  "trajectory file: %s, %ld frames, '%s'", fh_traj_status_name(f.status), f.nframes,
                  f.reason);
    }
    fh_ens_close(e, NULL);
    /* a resume has nothing left to do */
    cr_assert_eq(sh("%s run deck.inp -o none --set dynamics.ntraj=3 --set initial.window_min=9.9eV "
                    "--set initial.window_max=10eV 2> again.log", FH_TEST_FUSIONHOP), 0);
    log = read_text_in(dir, "again.log");
    cr_assert(strstr(log, "0 done, 0 failed, 3 already finished") != NULL, "%s", log);
    free(log);

    /* bad window settings are usage errors */
    cr_assert_eq(sh("%s run deck.inp -o bad --set initial.window_min=3eV 2> bad1.log",
                    FH_TEST_FUSIONHOP), 2);
    log = read_text_in(dir, "bad1.log");
    cr_assert(strstr(log, "needs both window_min and window_max") != NULL, "%s", log);
    free(log);
    cr_assert_eq(sh("%s run deck.inp -o bad --set initial.window_min=4eV "
                    "--set initial.window_max=3eV 2> bad2.log", FH_TEST_FUSIONHOP), 2);
    log = read_text_in(dir, "bad2.log");
    cr_assert(strstr(log, "window_min < window_max") != NULL, "%s", log);
    free(log);
}

/* The normal modes' cache and [initial] hessian_model: the run "plain" (check_window) left its
 * Hessian in plain/initial-hessian-<deck hash>.txt and a second invocation reads it instead of
 * optimising again; a run whose provider is another (untrained) model but whose hessian_model is
 * the fitted one starts every trajectory at bitwise the same positions and velocities as "plain". */
static void check_hessian_cache_and_model(void)
{
    cr_assert_eq(sh("test $(ls plain/initial-hessian-*.txt | wc -l) = 1"), 0, "one Hessian cache");
    cr_assert_eq(sh("%s run deck.inp -o plain 2> again.log", FH_TEST_FUSIONHOP), 0);
    char *log = read_text_in(dir, "again.log");
    cr_assert(strstr(log, "normal modes from the Hessian in plain/initial-hessian-") &&
              !strstr(log, "optimising"), "%s", log);
    free(log);

    cr_assert_eq(sh("%s/tests/runner_model random other.h5 hco.xyz --arch tiny --states 3 "
                    "--members 2 --seed 5 > other.log 2>&1", FH_TEST_BINARY_DIR), 0);
    cr_assert_eq(sh("sed -e 's/model = hco_model.h5/model = other.h5/' -e "
                    "'s/^optimize = true/optimize = true\\nhessian_model = hco_model.h5/' deck.inp "
                    "> other.inp && grep -q '^hessian_model = hco_model.h5' other.inp"), 0);
    cr_assert_eq(sh("%s run other.inp -o other 2> other_run.log", FH_TEST_FUSIONHOP), 0);
    log = read_text_in(dir, "other_run.log");
    cr_assert(strstr(log, "optimising the S0 minimum of") && strstr(log, "hco_model.h5"), "%s", log);
    free(log);
    for (long i = 0; i < NTRAJ; i++) {
        frame0 a, b;
        read_frame0("plain", i, &a);
        read_frame0("other", i, &b);
        cr_assert_eq(memcmp(a.x, b.x, sizeof a.x), 0, "trajectory %ld: positions differ", i);
        cr_assert_eq(memcmp(a.v, b.v, sizeof a.v), 0, "trajectory %ld: velocities differ", i);
        cr_assert(a.e[0] != b.e[0], "the dynamics ran on the other provider");
    }
}

/* One fitted model for all (fitting is the slow part under the sanitizers). */
Test(runner_ml, excitation_window_on_a_molecule, .timeout = 300)
{
    setup_dir();
    make_model_and_deck();
    check_window();
    check_unreachable_window();
    check_hessian_cache_and_model();
    cleanup_dir();
}
