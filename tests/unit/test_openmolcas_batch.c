/* The resumable batch runner (fh_surf_batch_run) with a fake pymolcas: a shell script that prints
 * a complete OpenMolcas-style log whose numbers encode the geometry (its first coordinate), and
 * fails for one marked geometry. Checks: rows land in the dataset with the parsed values in our
 * conventions (NAC sign flipped from ALASKA's, CI/CSF parts kept), a failure becomes a failed row
 * without stopping the batch, a stopped batch resumes without redoing anything, failures are
 * retried only when asked, orbitals of close geometries (only) are reused, also across runs
 * through the cache, and the progress callback counts correctly. Costs well under a second. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fh_batch.h"
#include "fh_dataset.h"
#include "fh_openmolcas.h"
#include "fh_units.h"

static char dir[256];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/fh_test_batch.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(batch, .init = make_dir, .fini = remove_dir);

/* The log: E0 = -1 - X, E1 = -0.5 - X where X is atom 1's x coordinate (bohr) as written in the
 * input; gradient rows (a+1)*0.01*(state+1); ALASKA NAC blocks CI = 0.2, CSF = 0.1 per entry,
 * total = CI/(E0-E1) + CSF. A geometry whose x starts with 9.0 fails without output. */
static const char *script =
    "X=$(awk '/^  C1 /{print $2}' fh.input)\n"
    "case \"$X\" in 9.0*) echo crashed >&2; exit 3;; esac\n"
    "echo orbitals > fh.RasOrb\n"
    "IT=12; grep -q FileOrb fh.input && IT=5\n"
    "awk -v X=\"$X\" -v IT=$IT 'BEGIN{\n"
    "  e0=-1-X; e1=-0.5-X;\n"
    "  printf \"::    RASSCF root number  1 Total energy:  %.10f\\n\", e0;\n"
    "  printf \"::    RASSCF root number  2 Total energy:  %.10f\\n\", e1;\n"
    "  printf \"      Convergence after %d iterations\\n\", IT;\n"
    "  split(\"C1 C4 H2 H3 H5 H6\", L, \" \");\n"
    "  for (s=1; s<=2; s++) {\n"
    "    printf \" *              Molecular gradients               *\\n ----\\n\";\n"
    "    for (k=1; k<=6; k++) { a=substr(L[k],2)+0;\n"
    "      printf \"  %s  %.14E %.14E %.14E\\n\", L[k], a*0.01*s, -a*0.01*s, 0.5*a*0.01*s }\n"
    "    printf \" ----\\n\" }\n"
    "  printf \" *              CI derivative coupling               *\\n\";\n"
    "  for (k=1; k<=6; k++) printf \"  %s  0.2 0.2 0.2\\n\", L[k];\n"
    "  printf \" *              CSF derivative coupling               *\\n\";\n"
    "  for (k=1; k<=6; k++) printf \"  %s  0.1 0.1 0.1\\n\", L[k];\n"
    "  printf \"               Energy difference: %.6E\\n\", e0-e1;\n"
    "  printf \" *              Total derivative coupling              *\\n\";\n"
    "  t=0.2/(e0-e1)+0.1;\n"
    "  for (k=1; k<=6; k++) printf \"  %s  %.14E %.14E %.14E\\n\", L[k], t, t, t;\n"
    "  printf \"    Happy landing\\n\" }'\n";

static const int zs[6] = {6, 1, 1, 6, 1, 1};

static fh_surface *fake_provider(void)
{
    char path[400], cmd[500];
    snprintf(path, sizeof path, "%s/fake.sh", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(script, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/bin/sh %s", path);
    fh_surface_config c = {.type = "openmolcas", .nstates = 2, .natoms = 6, .z = zs};
    c.molcas = (fh_molcas_config){.basis = "STO-3G", .nactel = 2, .nactorb = 2, .ninactive = 7,
                                  .spin = 1, .scratch = dir, .pymolcas = cmd,
                                  .reuse_orbitals = 1, .timeout_s = 30};
    fh_surface *s = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_surface_alloc(&c, &s, &err), FH_OK, "%s", err.msg);
    return s;
}

#define NG 5
static double xs[NG * 18];
static const char *ids[NG] = {"g0", "g1", "g2-bad", "g3", "g4"};
static const char *origins[NG] = {"torsion-scan", "torsion-scan", "cis-noise", "cis-noise",
                                  "twisted-pyr"};

static void make_geoms(void)
{
    for (int k = 0; k < NG; k++)
        for (int i = 0; i < 18; i++) xs[18 * k + i] = 0.1 * i + 0.01 * k + 0.5;
    xs[18 * 2] = 9.0; /* the geometry the fake program fails on */
    xs[18 * 4 + 4] += 1.0; /* one atom of g4 is 1 bohr away from every other geometry */
}

typedef struct {
    int calls;
    fh_batch_progress last;
} counter;

static void on_progress(const fh_batch_progress *p, void *ctx)
{
    counter *c = ctx;
    c->calls++;
    c->last = *p;
}

Test(batch, appends_parsed_results_resumes_and_keeps_failures, .timeout = 60)
{
    make_geoms();
    fh_surface *s = fake_provider();
    char path[400];
    snprintf(path, sizeof path, "%s/data.h5", dir);
    fh_batch_geoms g = {.n = NG, .natoms = 6, .x = xs, .id = ids, .origin = origins};
    counter cnt = {0};
    char cache[400];
    snprintf(cache, sizeof cache, "%s/orbitals", dir);
    fh_batch_opts o = {.grad_mask = 3u, .want_nac = 1, .max_new = 2, .progress = on_progress,
                       .ctx = &cnt, .orbital_cache = cache};
    fh_batch_progress fin;
    fh_err err = {0};

    /* first run stops after two calculations */
    cr_assert_eq(fh_surf_batch_run(s, path, "fake level", &g, &o, &fin, &err), FH_OK, "%s",
                 err.msg);
    cr_assert_eq(fin.run, 2);
    cr_assert_eq(fin.done, 2);
    cr_assert_eq(cnt.calls, 2);
    cr_assert_eq(cnt.last.total, NG);

    /* second run, as a new process would (a fresh provider): skips the two, fails on g2 without
     * stopping, does g3 and g4 starting from the orbitals the first run left in the cache */
    fh_surface_free(s);
    s = fake_provider();
    o.max_new = 0;
    cnt.calls = 0;
    cr_assert_eq(fh_surf_batch_run(s, path, "fake level", &g, &o, &fin, &err), FH_OK, "%s",
                 err.msg);
    cr_assert_eq(fin.skipped, 2);
    cr_assert_eq(fin.run, 3);
    cr_assert_eq(fin.failed, 1);
    cr_assert_eq(fin.done, 4);
    cr_assert_eq(cnt.calls, 3);
    cr_assert_eq(cnt.last.eta_s, 0.0);

    fh_dataset *d = NULL;
    cr_assert_eq(fh_dataset_read(path, &d, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(d->n, 5);
    cr_assert_str_eq(d->level, "fake level");
    const char *order[5] = {"g0", "g1", "g2-bad", "g3", "g4"};
    for (int r = 0; r < 5; r++) cr_assert_str_eq(d->id[r], order[r]);
    cr_assert_eq(d->status[2], FH_DATASET_FAILED);
    cr_assert(strstr(d->info[2], "log="), "failure rows name the kept log: %s", d->info[2]);
    /* ... once, with the reason after it (the fake exits 3 without output) */
    const char *path_end = strchr(d->info[2], ' ');
    cr_assert_not_null(path_end);
    char logp[300];
    snprintf(logp, sizeof logp, "%.*s", (int)(path_end - d->info[2] - 4), d->info[2] + 4);
    cr_assert(strstr(path_end, logp) == NULL, "the log path repeated: %s", d->info[2]);
    cr_assert(strstr(path_end, "RASSCF root energies found"), "no reason after the path: %s",
              d->info[2]);
    cr_assert_eq(d->has_energy[2 * 2], 0);
    cr_assert_str_eq(d->origin[4], "twisted-pyr");
    for (int r = 0; r < 5; r++) {
        if (r == 2) continue;
        int k = r;
        double X = xs[18 * k];
        cr_assert(fabs(d->energy[2 * r] - (-1 - X)) < 1e-9, "row %d E0 %.10f", r,
                  d->energy[2 * r]);
        cr_assert(fabs(d->energy[2 * r + 1] - (-0.5 - X)) < 1e-9);
        for (int a = 0; a < 6; a++) {
            /* positions in Angstrom, gradient rows mapped back by label */
            cr_assert(fabs(d->pos[18 * r + 3 * a] - xs[18 * k + 3 * a] * FH_BOHR_ANGSTROM) <
                      1e-9);
            for (int st = 0; st < 2; st++) {
                double want = (a + 1) * 0.01 * (st + 1);
                cr_assert(fabs(d->grad[(2 * r + st) * 18 + 3 * a] - want) < 1e-12,
                          "row %d state %d atom %d", r, st, a);
                cr_assert(fabs(d->grad[(2 * r + st) * 18 + 3 * a + 1] + want) < 1e-12);
            }
            /* our d01 = -ALASKA's total; CI part as printed; CSF part sign flipped */
            double t = 0.2 / (-0.5) + 0.1;
            cr_assert(fabs(d->nac[18 * r + 3 * a] + t) < 1e-12, "nac %.12f", d->nac[18 * r]);
            cr_assert_eq(d->nac_ci[18 * r + 3 * a], 0.2);
            cr_assert_eq(d->nac_csf[18 * r + 3 * a], -0.1);
            double gap = d->energy[2 * r + 1] - d->energy[2 * r];
            cr_assert(fabs(d->nac[18 * r + 3 * a] -
                           (d->nac_ci[18 * r + 3 * a] / gap + d->nac_csf[18 * r + 3 * a])) <
                      1e-12, "d = h/(E1-E0) + d_csf");
        }
        /* earlier orbitals are used when the geometries are close (all but g4, which is too far
         * from every other one), not for the first geometry */
        cr_assert(strstr(d->info[r], r == 0 || r == 4 ? "rasscf_iterations=12 reused_orbitals=0"
                                                      : "rasscf_iterations=5 reused_orbitals=1"),
                  "row %d: %s", r, d->info[r]);
    }
    fh_dataset_free(d);

    /* third run: nothing to do; the failure is not retried unless asked */
    cr_assert_eq(fh_surf_batch_run(s, path, "fake level", &g, &o, &fin, &err), FH_OK, "%s",
                 err.msg);
    cr_assert_eq(fin.run, 0);
    xs[18 * 2] = 0.77; /* "fixed": the retry succeeds */
    o.retry_failed = 1;
    cr_assert_eq(fh_surf_batch_run(s, path, "fake level", &g, &o, &fin, &err), FH_OK, "%s",
                 err.msg);
    cr_assert_eq(fin.run, 1);
    cr_assert_eq(fin.done, 5);
    cr_assert_eq(fh_dataset_read(path, &d, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(d->n, 6);
    cr_assert_eq(fh_dataset_find(d, "g2-bad", FH_DATASET_OK), 5);
    fh_dataset_free(d);

    /* a different level of theory for the same file is refused */
    cr_assert_eq(fh_surf_batch_run(s, path, "other level", &g, &o, &fin, &err), FH_EINPUT);
    fh_surface_free(s);
}

Test(batch, stop_flag_ends_between_geometries)
{
    make_geoms();
    fh_surface *s = fake_provider();
    char path[400];
    snprintf(path, sizeof path, "%s/stop.h5", dir);
    fh_batch_geoms g = {.n = NG, .natoms = 6, .x = xs, .id = ids, .origin = origins};
    volatile sig_atomic_t stop = 1;
    fh_batch_opts o = {.grad_mask = 1u, .stop = &stop};
    fh_batch_progress fin;
    fh_err err = {0};
    cr_assert_eq(fh_surf_batch_run(s, path, "L", &g, &o, &fin, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(fin.run, 0);
    fh_dataset_info info;
    cr_assert_eq(fh_dataset_read_info(path, &info, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(info.n, 0);
    fh_surface_free(s);
}
