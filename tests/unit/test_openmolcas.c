/* The OpenMolcas provider. One real, small calculation (ethylene, SA2-CASSCF(2,2)/STO-3G, twisted
 * and pyramidalized so that no gradient component vanishes by symmetry, atoms in an order that OpenMolcas
 * regroups by element): the parsed gradients of both states against central finite differences
 * of the energies along a random direction, and the NAC blocks against each other
 * (d = h/(E1-E0) + d_CSF, h translation-invariant). Failure modes (crash, timeout, truncated or
 * non-converged output, bad configuration) use fake pymolcas scripts and cost nothing. */
#include <criterion/criterion.h>
#include "test_read_text.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fh_h5md.h"
#include "fh_openmolcas.h"
#include "fh_surfaces.h"
#include "fh_units.h"

static char dir[256];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/fh_test_molcas.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(openmolcas, .init = make_dir, .fini = remove_dir);

/* Ethylene in the order C H H C H H (Angstrom): one CH2 twisted by 20 degrees, the other
 * pyramidalized, all atoms nudged off symmetry. */
static const int eth_z[6] = {6, 1, 1, 6, 1, 1};
static void ethylene(double *x)
{
    const double a[6][3] = {
        {0.007, 0.016, 0.676},  {0.024, 0.947, 1.241},   {0.039, -0.917, 1.239},
        {0.006, 0.001, -0.659}, {-0.332, 0.870, -1.242}, {0.330, -0.872, -1.238},
    };
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 3; k++) x[3 * i + k] = a[i][k] * FH_ANGSTROM_BOHR;
}

static fh_surface_config eth_config(void)
{
    fh_surface_config c = {.type = "openmolcas", .nstates = 2, .natoms = 6, .z = eth_z};
    c.molcas = (fh_molcas_config){.basis = "STO-3G", .nactel = 2, .nactorb = 2, .ninactive = 7,
                                  .spin = 1, .memory_mb = 500, .threads = 1,
                                  .reuse_orbitals = 1, .timeout_s = 600,
                                  .tight = 1};
    return c;
}

static int eval(fh_surface *s, const double *x, unsigned gm, int nac, double *e, double *g,
                double *d, fh_err *err)
{
    fh_surface_eval r = {.x = x, .grad_mask = gm, .want_nac = nac, .energy = e, .grad = g,
                         .nac = d};
    return fh_surface_evaluate(s, &r, err);
}

Test(openmolcas, ethylene_gradients_match_finite_differences_and_nac_is_consistent,
     .timeout = 600)
{
    cr_assert_eq(access("/usr/bin/pymolcas", X_OK), 0, "OpenMolcas (pymolcas) is not installed");
    fh_surface_config c = eth_config();
    char keep[512];
    snprintf(keep, sizeof keep, "%s/logs", dir);
    c.molcas.keep_dir = keep;
    fh_surface *s = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_surface_alloc(&c, &s, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(s->nstates, 2);
    cr_assert_eq(s->ndof, 18);
    cr_assert(s->caps & FH_CAP_NAC);

    double x[18], e[2], g[36], d[18];
    ethylene(x);
    fh_surf_molcas_set_label(s, "center");
    cr_assert_eq(eval(s, x, 3u, 1, e, g, d, &err), FH_OK, "%s", err.msg);
    fh_molcas_details det;
    cr_assert_eq(fh_surf_molcas_details(s, &det, &err), FH_OK);
    cr_assert_eq(det.status, FH_OK);
    cr_assert_eq(det.have_nac_parts, 1);
    cr_assert(det.wall_s > 0);
    cr_assert_eq(access(det.log_path, R_OK), 0, "log kept at %s", det.log_path);
    cr_assert(strstr(det.log_path, "center.log"));
    /* S0 below S1, a sensible CASSCF energy for ethylene/STO-3G */
    cr_assert(e[0] < e[1] && e[0] > -78.0 && e[0] < -76.5, "energies %.8f %.8f", e[0], e[1]);

    /* gradients vs central differences of the energies along a random direction */
    double v[18], xp[18], xm[18], ep[2], em[2], nv = 0;
    srand(7);
    for (int i = 0; i < 18; i++) {
        v[i] = (double)rand() / RAND_MAX - 0.5;
        nv += v[i] * v[i];
    }
    const double h = 2e-3; /* bohr */
    for (int i = 0; i < 18; i++) {
        v[i] /= sqrt(nv);
        xp[i] = x[i] + h * v[i];
        xm[i] = x[i] - h * v[i];
    }
    fh_surf_molcas_set_label(s, "plus");
    cr_assert_eq(eval(s, xp, 0u, 0, ep, NULL, NULL, &err), FH_OK, "%s", err.msg);
    fh_surf_molcas_set_label(s, "minus");
    cr_assert_eq(eval(s, xm, 0u, 0, em, NULL, NULL, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(fh_surf_molcas_details(s, &det, &err), FH_OK);
    cr_assert_eq(det.reused_orbitals, 1, "later runs start from the previous orbitals");
    for (int st = 0; st < 2; st++) {
        double an = 0;
        for (int i = 0; i < 18; i++) an += g[18 * st + i] * v[i];
        double fd = (ep[st] - em[st]) / (2 * h);
        cr_assert(fabs(an) > 1e-3, "state %d: directional derivative too small to test", st);
        cr_assert(fabs(fd - an) < 1e-4 + 2e-3 * fabs(an),
                  "state %d: analytic %.8f vs finite difference %.8f hartree/bohr", st, an, fd);
    }

    /* NAC: total = CI part / (E1-E0) + CSF part; the CI part (h) is translation-invariant */
    double gap = e[1] - e[0], norm = 0, hsum[3] = {0};
    for (int i = 0; i < 18; i++) {
        double rebuilt = det.nac_ci[i] / gap + det.nac_csf[i];
        cr_assert(fabs(d[i] - rebuilt) < 1e-8 + 1e-6 * fabs(d[i]), "nac[%d] %.10f vs %.10f", i,
                  d[i], rebuilt);
        norm += d[i] * d[i];
        hsum[i % 3] += det.nac_ci[i];
    }
    cr_assert(sqrt(norm) > 1e-2 && sqrt(norm) < 10.0, "|d01| = %g 1/bohr", sqrt(norm));
    for (int k = 0; k < 3; k++) cr_assert(fabs(hsum[k]) < 1e-6, "sum of h over atoms %g", hsum[k]);

    /* the stored log parses to the same numbers (energies from the log: 8 decimals) */
    double e2[2], g2[36], d2[18], ci2[18], csf2[18];
    fh_molcas_output o = {.natoms = 6, .nstates = 2, .grad_mask = 3u, .want_nac = 1,
                          .energy = e2, .grad = g2, .nac = d2, .nac_ci = ci2, .nac_csf = csf2};
    char logp[600];
    snprintf(logp, sizeof logp, "%s/center.log", keep);
    cr_assert_eq(fh_molcas_parse_log(logp, NULL, &o, &err), FH_OK, "%s", err.msg);
    for (int st = 0; st < 2; st++) cr_assert(fabs(e2[st] - e[st]) < 1e-8);
    for (int i = 0; i < 36; i++) cr_assert_eq(g2[i], g[i]);
    for (int i = 0; i < 18; i++) cr_assert(fabs(d2[i] - d[i]) < 1e-7 * (1 + fabs(d[i])));
    fh_surface_free(s);
}

/* A fake pymolcas: a shell script with the given body. */
static fh_surface *fake(const char *name, const char *body, double timeout, fh_err *err)
{
    char script[600], cmd[700];
    snprintf(script, sizeof script, "%s/%s.sh", dir, name);
    FILE *f = fopen(script, "w");
    cr_assert_not_null(f);
    fprintf(f, "%s\n", body);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/bin/sh %s", script);
    fh_surface_config c = eth_config();
    c.molcas.pymolcas = cmd;
    c.molcas.timeout_s = timeout;
    c.molcas.scratch = dir;
    fh_surface *s = NULL;
    cr_assert_eq(fh_surface_alloc(&c, &s, err), FH_OK, "%s", err->msg);
    return s;
}

static void expect_failure(const char *name, const char *body, double timeout,
                           const char *expect)
{
    fh_err err = {0};
    fh_surface *s = fake(name, body, timeout, &err);
    double x[18], e[2], g[36], d[18];
    ethylene(x);
    int rc = eval(s, x, 3u, 1, e, g, d, &err);
    cr_assert_eq(rc, FH_EFAIL, "%s: must fail", name);
    cr_assert(strstr(err.msg, expect), "%s: message '%s' lacks '%s'", name, err.msg, expect);
    fh_molcas_details det;
    cr_assert_eq(fh_surf_molcas_details(s, &det, &err), FH_OK);
    cr_assert_eq(det.status, FH_EFAIL);
    cr_assert_eq(access(det.log_path, R_OK), 0, "%s: failure log kept (%s)", name, det.log_path);
    fh_surface_free(s);
}

#define HEAD "cat <<'EOF'\n::    RASSCF root number  1 Total energy:    -77.0\n" \
             "::    RASSCF root number  2 Total energy:    -76.6\n"

Test(openmolcas, failures_are_reported_with_the_log_kept, .timeout = 60)
{
    expect_failure("crash", "echo 'segmentation fault' >&2; exit 139", 0, "0 of 2 RASSCF");
    expect_failure("noconv", HEAD "--- Stop Module: rasscf at now /rc=_RC_NOT_CONVERGED_ ---\nEOF",
                   0, "OpenMolcas failed");
    expect_failure("truncated", HEAD "--- Stop Module: rasscf at now /rc=_RC_ALL_IS_WELL_ ---\n"
                   " *              Molecular gradients               *\n"
                   "  C1  1.0E-03 2.0E-03 3.0E-03\nEOF", 0, "malformed gradient block");
    expect_failure("nograds", HEAD "    Happy landing\nEOF", 0, "0 of 2 gradients");
    double t0 = (double)time(NULL);
    expect_failure("hang", "sleep 60", 1.0, "timed out");
    cr_assert((double)time(NULL) - t0 < 20, "the timeout must stop the run promptly");
}

/* An SCF that stops with an error (OpenMolcas's "inconsistency in gradient" at twisted stilbene
 * geometries): the provider runs once more without &SCF and without FileOrb, so that RASSCF
 * starts from SEWARD's guess orbitals. The fake fails any input with &SCF, checks that the retry
 * names no orbital file, and counts its runs; without the fallback the geometry fails. When the
 * retry fails too, the message says both. */
#define SCF_FAILS "echo run >> \"$R/runs.txt\"\n" \
    "if grep -q '^&SCF' fh.input; then echo 'scf orbitals' > fh.ScfOrb; " \
    "echo '--- Stop Module: scf at now /rc=-6 ---'; exit 1; fi\n" \
    "grep -q FileOrb fh.input && { echo 'the retry names an orbital file' >&2; exit 2; }\n"

Test(openmolcas, a_failed_scf_is_retried_without_it, .timeout = 60)
{
    fh_err err = {0};
    char body[1200], runs[600];
    snprintf(body, sizeof body, "R='%s'\n" SCF_FAILS HEAD "    Happy landing\nEOF", dir);
    fh_surface *s = fake("scf", body, 0, &err);
    double x[18], e[2], g[36], d[18];
    ethylene(x);
    cr_assert_eq(eval(s, x, 0u, 0, e, g, d, &err), FH_OK, "%s", err.msg);
    cr_expect(fabs(e[0] + 77.0) < 1e-12 && fabs(e[1] + 76.6) < 1e-12, "%g %g", e[0], e[1]);
    snprintf(runs, sizeof runs, "%s/runs.txt", dir);
    char *t = read_text(runs);
    cr_assert(t && strcmp(t, "run\nrun\n") == 0, "two runs expected: '%s'", t ? t : "(none)");
    free(t);
    fh_surface_free(s);

    /* the retry fails as well: one error naming both */
    remove(runs);
    snprintf(body, sizeof body, "R='%s'\n" SCF_FAILS "exit 3", dir);
    s = fake("scf2", body, 0, &err);
    cr_assert_eq(eval(s, x, 0u, 0, e, g, d, &err), FH_EFAIL);
    cr_expect(strstr(err.msg, "the SCF failed, and RASSCF from guess orbitals") != NULL, "%s", err.msg);
    fh_surface_free(s);
}

static void pause_25ms(void)
{
    struct timespec ts = {0, 25000000};
    nanosleep(&ts, NULL);
}

/* The state letter of process pid in /proc/PID/stat (R, S, T, Z, ...), 0 when there is no such
 * process, '?' when its line cannot be read. */
static char process_state(long pid)
{
    char path[64], state = '?';
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1) state = '?';
    fclose(f);
    return state;
}

/* Whether process pid is gone (a zombie nobody reaps counts as gone). */
static int process_gone(long pid)
{
    char state = process_state(pid);
    return state == 0 || state == 'Z' || state == 'X';
}

static long read_pid(const char *name)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1) pid = 0;
        fclose(f);
    }
    return pid;
}

/* The timeout counts running time: a run paused with SIGSTOP for longer than the timeout (the
 * cores lent to something else, a suspended job) goes on when continued and is judged by its own
 * outcome, not failed as timed out; and the seconds it reports (the dataset's cost per geometry)
 * leave the pause out. */
Test(openmolcas, a_paused_run_does_not_time_out, .timeout = 60)
{
    char body[1000];
    snprintf(body, sizeof body, "echo $$ > %s/paused.pid.tmp; mv %s/paused.pid.tmp %s/paused.pid\n"
             "kill -STOP $$\necho 'continued' >&2\nexit 1", dir, dir, dir);
    pid_t helper = fork();
    cr_assert_geq(helper, 0);
    if (helper == 0) { /* waits until the fake program has stopped itself, then 2.5 s more */
        long pid = 0;
        for (int i = 0; i < 400 && !pid; i++) pause_25ms(), pid = read_pid("paused.pid");
        char state = '?';
        for (int i = 0; i < 400 && state != 'T'; i++) pause_25ms(), state = process_state(pid);
        struct timespec ts = {2, 500000000};
        nanosleep(&ts, NULL);
        if (pid > 0) kill((pid_t)pid, SIGCONT);
        _exit(state == 'T' ? 0 : 1);
    }
    fh_err err = {0};
    fh_surface *s = fake("paused", body, 1.0, &err);
    double x[18], e[2], g[36], d[18];
    ethylene(x);
    double t0 = (double)time(NULL);
    int rc = eval(s, x, 3u, 1, e, g, d, &err);
    double took = (double)time(NULL) - t0;
    int hst = 0;
    waitpid(helper, &hst, 0);
    cr_assert(WIFEXITED(hst) && WEXITSTATUS(hst) == 0, "the fake program never stopped");
    cr_assert_eq(rc, FH_EFAIL);
    cr_assert_null(strstr(err.msg, "timed out"), "a paused run must not time out: %s", err.msg);
    cr_assert_geq(took, 2.0, "the run should have waited for the pause (%g s)", took);
    fh_molcas_details det;
    cr_assert_eq(fh_surf_molcas_details(s, &det, &err), FH_OK);
    cr_assert_lt(det.wall_s, 1.5, "the 2.5 s pause counted as running time (%g s)", det.wall_s);
    fh_surface_free(s);
}

/* A caller killed with SIGKILL in the middle of a calculation takes the OpenMolcas run (and what
 * it started) with it: nothing keeps computing for nobody; the next provider cleans up the work
 * directories it left. */
Test(openmolcas, killing_the_caller_stops_the_run, .timeout = 60)
{
    char body[2000];
    snprintf(body, sizeof body, "echo $$ > %s/fake.pid.tmp; mv %s/fake.pid.tmp %s/fake.pid\n"
             "sleep 300 &\necho $! > %s/sleep.pid.tmp; mv %s/sleep.pid.tmp %s/sleep.pid\nwait",
             dir, dir, dir, dir, dir, dir);
    pid_t caller = fork();
    cr_assert_geq(caller, 0);
    if (caller == 0) {
        fh_err err = {0};
        fh_surface *s = fake("slow", body, 0, &err);
        double x[18], e[2], g[36], d[18];
        ethylene(x);
        eval(s, x, 3u, 1, e, g, d, &err);
        _exit(0);
    }
    long fake_pid = 0, sleep_pid = 0;
    for (int i = 0; i < 400 && !(fake_pid && sleep_pid); i++) {
        pause_25ms();
        fake_pid = read_pid("fake.pid"), sleep_pid = read_pid("sleep.pid");
    }
    cr_assert(fake_pid > 0 && sleep_pid > 0, "the fake program did not start");
    cr_assert_not(process_gone(fake_pid));
    kill(caller, SIGKILL);
    waitpid(caller, NULL, 0);
    int gone = 0;
    for (int i = 0; i < 200 && !gone; i++) {
        pause_25ms();
        gone = process_gone(fake_pid) && process_gone(sleep_pid);
    }
    if (!gone) kill((pid_t)sleep_pid, SIGKILL), kill((pid_t)fake_pid, SIGKILL);
    cr_assert(gone, "OpenMolcas (pid %ld, child %ld) outlived its killed caller", fake_pid,
              sleep_pid);

    /* The killed caller's work directories are still there; the next provider on this scratch
     * removes them, and leaves those of live processes (pid 1) and of other hosts alone. */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "test -n \"$(ls -d %s/fhmolcas.%ld.* 2>/dev/null)\" && "
             "test -n \"$(ls -d %s/fhmolcas-orb.%ld.* 2>/dev/null)\"", dir, (long)caller, dir,
             (long)caller);
    cr_assert_eq(system(cmd), 0, "the killed run's work directories should exist");
    char host[256] = "host";
    gethostname(host, sizeof host - 1);
    for (char *c = host; *c; c++)
        if (*c == '.' || *c == '/') *c = '_';
    snprintf(cmd, sizeof cmd, "mkdir %s/fhmolcas.1.%s.abcdef %s/fhmolcas.%ld.otherhost.abcdef",
             dir, host, dir, (long)caller);
    cr_assert_eq(system(cmd), 0);
    fh_err err = {0};
    fh_surface *s = fake("next", "exit 1", 0, &err);
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -d %s/fhmolcas.%ld.%s.* %s/fhmolcas-orb.%ld.* "
             "2>/dev/null)\"", dir, (long)caller, host, dir, (long)caller);
    cr_assert_eq(system(cmd), 0, "the killed run's work directories should be removed");
    snprintf(cmd, sizeof cmd, "test -d %s/fhmolcas.1.%s.abcdef && "
             "test -d %s/fhmolcas.%ld.otherhost.abcdef", dir, host, dir, (long)caller);
    cr_assert_eq(system(cmd), 0, "directories of live processes or other hosts must stay");
    fh_surface_free(s);
}

/* Surface hopping on the fly with OpenMolcas through `fusionhop run` (inputs/ethylene/onthefly.inp,
 * shortened to one trajectory of two 0.5 fs steps from rest on S1): the run completes, the total
 * energy holds over the steps, and the stored energies are the provider's at the stored geometry
 * (the orbital guesses differ: 5e-5 hartree). */
Test(openmolcas, surface_hopping_on_the_fly, .timeout = 600)
{
    cr_assert_eq(access("/usr/bin/pymolcas", X_OK), 0, "OpenMolcas (pymolcas) is not installed");
    char cmd[4096];
    /* Leak checking is off for this one subprocess: in the sanitizer build, LeakSanitizer's
     * tracer crashes (signal 11) at the exit of an MPI-initialised fusionhop that has forked
     * OpenMolcas, after the run has completed; the cause is not found yet. The other sanitized
     * tests check leaks. */
    snprintf(cmd, sizeof cmd, "cd '%s' && ASAN_OPTIONS=detect_leaks=0 %s run "
             "%s/inputs/ethylene/onthefly.inp -o otf "
             "--set dynamics.ntraj=1 --set dynamics.tmax=1fs --set initial.sampling=fixed "
             "--set openmolcas.scratch=%s > otf.log 2>&1", dir, FH_TEST_FUSIONHOP,
             FH_TEST_SOURCE_DIR, dir);
    int st = system(cmd);
    char path[1400];
    snprintf(path, sizeof path, "%s/otf.log", dir);
    char *log = read_text(path);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fusionhop run failed:\n%s", log);
    cr_assert(strstr(log, "1 done, 0 failed"), "%s", log);
    free(log);

    char rdir[600];
    snprintf(rdir, sizeof rdir, "%s/otf", dir);
    fh_ens_traj_path(rdir, 0, path, sizeof path);
    fh_h5md_reader *r = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_h5md_reader_open(path, &r, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(fh_h5md_reader_nframes(r), 3);
    double etot[3], epot[6], x[18];
    int active[3];
    cr_assert_eq(fh_h5md_read_etot(r, 0, 3, etot, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(fh_h5md_read_epot(r, 0, 3, epot, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(fh_h5md_read_active(r, 0, 3, active, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(fh_h5md_read_positions(r, 2, 1, x, &err), FH_OK, "%s", err.msg);
    fh_h5md_reader_close(r);
    cr_assert_eq(active[0], 1, "starts on S1");
    for (int k = 1; k < 3; k++)
        cr_assert(fabs(etot[k] - etot[0]) < 1e-4, "frame %d: total energy moved by %.2e hartree", k,
                  etot[k] - etot[0]);
    fh_surface *s = NULL;
    fh_surface_config c = eth_config();
    static const int deck_z[6] = {6, 6, 1, 1, 1, 1}; /* inputs/geometries/ethylene.xyz's order */
    c.z = deck_z;
    c.molcas.scratch = dir;
    cr_assert_eq(fh_surface_alloc(&c, &s, &err), FH_OK, "%s", err.msg);
    double e[2];
    cr_assert_eq(eval(s, x, 0u, 0, e, NULL, NULL, &err), FH_OK, "%s", err.msg);
    for (int k = 0; k < 2; k++)
        cr_assert(fabs(e[k] - epot[4 + k]) < 5e-5, "S%d at frame 2: stored %.8f, recomputed %.8f", k,
                  epot[4 + k], e[k]);
    fh_surface_free(s);
}

Test(openmolcas, bad_configuration_is_an_input_error)
{
    fh_surface_config c = eth_config();
    fh_surface *s = NULL;
    fh_err err = {0};
    c.molcas.ninactive = 6;
    cr_assert_eq(fh_surface_alloc(&c, &s, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "electrons"), "%s", err.msg);
    c = eth_config();
    c.molcas.pymolcas = "/nonexistent/pymolcas";
    cr_assert_eq(fh_surface_alloc(&c, &s, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "not found"), "%s", err.msg);
    c = eth_config();
    c.molcas.basis = NULL;
    cr_assert_eq(fh_surface_alloc(&c, &s, &err), FH_EINPUT);
    c = eth_config();
    c.natoms = 0;
    cr_assert_eq(fh_surface_alloc(&c, &s, &err), FH_EINPUT);
    c = eth_config();
    c.molcas.scratch = "/nonexistent/scratch";
    cr_assert_eq(fh_surface_alloc(&c, &s, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "scratch"), "%s", err.msg);
    cr_assert_null(s);
}
