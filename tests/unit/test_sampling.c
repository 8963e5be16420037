/* Geometry generators of `fusionhop sample` (dynamics/fh_sampling.h) and the command end to end.
 * Generators on cis-stilbene: the torsion scan hits the requested angles exactly and keeps every
 * distance inside each fragment (and the central bond); pyramidalization moves only its atom, by
 * the requested length; geometry k depends only on (seed, k). Wigner through a provider (the
 * fitted H-C-O ML model of tests/tools/runner_model): modes from an optimised minimum, cached
 * Hessian reused. The command: an untrained ML model on ethylene as a cheap provider, dataset rows
 * equal to the library's geometries, rerun with nothing to do, a grown list computing only the new
 * geometries, two MPI ranks, and bad deck values (exit 2). */
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

#include "fh_dataset.h"
#include "fh_sampling.h"
#include "fh_units.h"
#include "fh_xyz.h"

#define PI 3.14159265358979323846
#define DEG (PI / 180.0)

static fh_xyz *load(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/inputs/geometries/%s", FH_TEST_SOURCE_DIR, name);
    fh_xyz *g = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_xyz_read(path, &g, &err), FH_OK, "%s", err.msg);
    return g;
}

static double dist(const double *x, int i, int j)
{
    double s = 0;
    for (int k = 0; k < 3; k++) s += (x[3 * i + k] - x[3 * j + k]) * (x[3 * i + k] - x[3 * j + k]);
    return sqrt(s);
}

static double wrap(double a)
{
    while (a > PI) a -= 2 * PI;
    while (a <= -PI) a += 2 * PI;
    return a;
}

/* stilbene in the atom order of inputs/geometries: central C=C is atoms 1 2, torsion 4 1 2 16 */
static const int STIL_DIH[4] = {3, 0, 1, 15};

Test(sampling, torsion_scan_exact_and_rigid)
{
    fh_xyz *g = load("cis-stilbene.xyz");
    int n = g->natoms, *side = malloc((size_t)n * sizeof *side);
    fh_err err = {0};
    cr_assert_eq(fh_samp_fragment(n, g->z, g->x, 0, 1, side, &err), FH_OK, "%s", err.msg);
    int nside = 0;
    for (int i = 0; i < n; i++) nside += side[i];
    cr_assert_eq(nside, 13, "one half of stilbene is C2H + C6H5 = 13 atoms, got %d", nside);
    cr_assert(side[1] && !side[0] && side[15] && !side[3]);

    fh_samp_config c = {.kind = FH_SAMP_TORSION, .count = 13, .seed = 1, .from = -10 * DEG,
                        .to = 180 * DEG, .noise = 0.1};
    memcpy(c.dihedral, STIL_DIH, sizeof c.dihedral);
    fh_samp_set *set = NULL;
    cr_assert_eq(fh_samp_generate(&c, NULL, n, g->z, g->x, NULL, &set, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(set->n, 13);
    for (int k = 0; k < set->n; k++) {
        const double *x = set->x + (size_t)k * 3 * n;
        double want = c.from + (c.to - c.from) * k / 12.0;
        double got = fh_samp_dihedral(x, 3, 0, 1, 15);
        cr_assert_lt(fabs(wrap(got - want)), 1e-10, "k=%d: torsion %.12f deg, want %.12f", k,
                     got / DEG, want / DEG);
        /* every distance within a fragment, and the rotation axis bond, unchanged (no noise) */
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++)
                if (side[i] == side[j] || (i == 1 && j == 0))
                    cr_assert_lt(fabs(dist(x, i, j) - dist(g->x, i, j)), 1e-10,
                                 "k=%d: distance %d-%d changed", k, i + 1, j + 1);
        for (int i = 0; i < n; i++) /* the fixed fragment does not move at all */
            if (!side[i])
                for (int q = 0; q < 3; q++) cr_assert_eq(x[3 * i + q], g->x[3 * i + q]);
        cr_assert_str_eq(set->origin[k], "torsion-scan");
    }
    /* the ids are distinct */
    for (int k = 0; k < set->n; k++)
        for (int l = 0; l < k; l++) cr_assert_str_neq(set->id[k], set->id[l]);
    fh_samp_set_free(set);
    free(side);
    fh_xyz_free(g);
}

Test(sampling, fragment_errors)
{
    fh_xyz *g = load("cis-stilbene.xyz");
    int side[64];
    fh_err err = {0};
    /* atoms 1 and 16 are not bonded */
    cr_assert_eq(fh_samp_fragment(g->natoms, g->z, g->x, 0, 15, side, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "not bonded"), "%s", err.msg);
    /* a bond of a phenyl ring: atom 4 (ipso) and its ring neighbour closest to it */
    int nb = -1;
    for (int j = 0; j < g->natoms; j++)
        if (j != 3 && j != 0 && g->z[j] == 6 && dist(g->x, 3, j) < 1.6 * FH_ANGSTROM_BOHR) nb = j;
    cr_assert_geq(nb, 0);
    cr_assert_eq(fh_samp_fragment(g->natoms, g->z, g->x, 3, nb, side, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "ring"), "%s", err.msg);
    fh_xyz_free(g);
}

Test(sampling, pyramidalization_moves_one_atom)
{
    fh_xyz *g = load("trans-stilbene.xyz");
    int n = g->natoms;
    double *x = malloc((size_t)3 * n * sizeof *x);
    memcpy(x, g->x, (size_t)3 * n * sizeof *x);
    fh_err err = {0};
    cr_assert_eq(fh_samp_pyramidalize(n, g->z, x, 1, 0.4, &err), FH_OK, "%s", err.msg);
    for (int i = 0; i < n; i++) {
        double m = 0;
        for (int q = 0; q < 3; q++) m += (x[3 * i + q] - g->x[3 * i + q]) * (x[3 * i + q] - g->x[3 * i + q]);
        if (i == 1) cr_assert_lt(fabs(sqrt(m) - 0.4), 1e-12, "moved by %g", sqrt(m));
        else cr_assert_eq(m, 0.0, "atom %d moved", i + 1);
    }
    /* the displacement is along the normal of the neighbours' plane: the three neighbours (the
     * other central carbon, its ipso carbon and its H) are equidistant from the plane shift, so
     * the out-of-plane height of atom 2 above the plane of its neighbours grows by 0.4 bohr
     * (trans-stilbene is planar at its centre, so that height was about 0) */
    int nbr[3], m = 0;
    for (int j = 0; j < n && m < 3; j++)
        if (j != 1 && dist(g->x, 1, j) < (g->z[j] == 1 ? 1.25 : 1.75) * FH_ANGSTROM_BOHR) nbr[m++] = j;
    cr_assert_eq(m, 3);
    double u[3], v[3], nn[3], w[3], w0[3];
    for (int q = 0; q < 3; q++) {
        u[q] = x[3 * nbr[1] + q] - x[3 * nbr[0] + q];
        v[q] = x[3 * nbr[2] + q] - x[3 * nbr[0] + q];
        w[q] = x[3 + q] - x[3 * nbr[0] + q];
        w0[q] = g->x[3 + q] - g->x[3 * nbr[0] + q];
    }
    nn[0] = u[1] * v[2] - u[2] * v[1];
    nn[1] = u[2] * v[0] - u[0] * v[2];
    nn[2] = u[0] * v[1] - u[1] * v[0];
    double l = sqrt(nn[0] * nn[0] + nn[1] * nn[1] + nn[2] * nn[2]);
    double h = (w[0] * nn[0] + w[1] * nn[1] + w[2] * nn[2]) / l;
    double h0 = (w0[0] * nn[0] + w0[1] * nn[1] + w0[2] * nn[2]) / l;
    cr_assert_lt(fabs(fabs(h - h0) - 0.4), 1e-12, "height change %g", h - h0);
    /* an atom with two neighbours (a hydrogen has one) cannot be pyramidalized */
    cr_assert_eq(fh_samp_pyramidalize(n, g->z, x, 2, 0.4, &err), FH_EINPUT);
    free(x);
    fh_xyz_free(g);
}

Test(sampling, determinism_per_seed_and_index)
{
    fh_xyz *g = load("cis-stilbene.xyz");
    int n = g->natoms, n3 = 3 * n;
    fh_err err = {0};
    fh_samp_config c = {.kind = FH_SAMP_TWISTED, .count = 6, .seed = 42, .from = 60 * DEG,
                        .to = 120 * DEG, .noise = 0.05, .pyramid = 0.5};
    memcpy(c.dihedral, STIL_DIH, sizeof c.dihedral);
    fh_samp_set *a = NULL, *b = NULL, *other = NULL;
    cr_assert_eq(fh_samp_generate(&c, NULL, n, g->z, g->x, NULL, &a, &err), FH_OK, "%s", err.msg);
    c.count = 3; /* a shorter list holds the same first geometries */
    cr_assert_eq(fh_samp_generate(&c, NULL, n, g->z, g->x, NULL, &b, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(memcmp(a->x, b->x, (size_t)3 * n3 * sizeof *a->x), 0);
    for (int k = 0; k < 3; k++) cr_assert_str_eq(a->id[k], b->id[k]);
    /* geometry 4 alone equals entry 4 of the list */
    double *x = malloc((size_t)n3 * sizeof *x);
    cr_assert_eq(fh_samp_geometry(&c, n, g->z, g->x, 4, x, &err), FH_OK);
    cr_assert_eq(memcmp(x, a->x + 4 * n3, (size_t)n3 * sizeof *x), 0);
    /* another seed gives other geometries and other ids */
    c.seed = 43;
    c.count = 6;
    cr_assert_eq(fh_samp_generate(&c, NULL, n, g->z, g->x, NULL, &other, &err), FH_OK);
    for (int k = 0; k < 6; k++) {
        cr_assert_neq(memcmp(other->x + k * n3, a->x + k * n3, (size_t)n3 * sizeof *x), 0);
        cr_assert_str_neq(other->id[k], a->id[k]);
    }
    /* the twisted torsions lie in the range (noise 0.05 bohr moves them by a few degrees at most)
     * and spread over it */
    double lo = 1e9, hi = -1e9;
    for (int k = 0; k < 6; k++) {
        double t = fabs(fh_samp_dihedral(a->x + k * n3, 3, 0, 1, 15)) / DEG;
        cr_assert(t > 50 && t < 130, "torsion %g deg", t);
        lo = fmin(lo, t);
        hi = fmax(hi, t);
    }
    cr_assert_gt(hi - lo, 10.0);
    /* other parameters: other ids (a resumed run must not take them as done) */
    c.seed = 42;
    c.pyramid = 0.6;
    fh_samp_set *p = NULL;
    cr_assert_eq(fh_samp_generate(&c, NULL, n, g->z, g->x, NULL, &p, &err), FH_OK);
    cr_assert_str_neq(p->id[0], a->id[0]);
    fh_samp_set_free(p);
    free(x);
    fh_samp_set_free(a);
    fh_samp_set_free(b);
    fh_samp_set_free(other);
    fh_xyz_free(g);
}

Test(sampling, bad_config)
{
    fh_xyz *g = load("ethylene.xyz");
    fh_err err = {0};
    fh_samp_config c = {.kind = FH_SAMP_TORSION, .count = 3, .dihedral = {2, 0, 1, 6}};
    double x[18];
    cr_assert_eq(fh_samp_geometry(&c, 6, g->z, g->x, 0, x, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "atom 7"), "%s", err.msg);
    c.dihedral[3] = 2;
    cr_assert_eq(fh_samp_geometry(&c, 6, g->z, g->x, 0, x, &err), FH_EINPUT);
    c.kind = FH_SAMP_TRAJECTORIES;
    c.stride = 1;
    cr_assert_eq(fh_samp_config_check(&c, 6, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "source"), "%s", err.msg);
    fh_xyz_free(g);
}

/* ------------------------------------------------------------------------------------------------
 * The command */

static void setup_dir(void)
{
    workdir_make("test_sampling");
}
static void cleanup_dir(void)
{
    if (workdir_remove()) {}
}

static void write_file(const char *name, const char *text)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static int grep(const char *file, const char *text)
{
    return sh("grep -q -- '%s' %s", text, file) == 0;
}

Test(sample_cmd, torsion_dataset_resume_mpi_and_errors, .init = setup_dir, .fini = cleanup_dir)
{
    cr_assert_eq(sh("cp %s/inputs/geometries/ethylene.xyz . && %s/tests/runner_model random "
                    "eth.h5 ethylene.xyz --arch tiny --states 2 --members 2 > model.log 2>&1",
                    FH_TEST_SOURCE_DIR, FH_TEST_BINARY_DIR), 0);
    write_file("scan.inp", "[surface]\ntype = ml\nmodel = eth.h5\ngeometry = ethylene.xyz\n"
                           "[sample]\ndataset = scan.h5\ngenerator = torsion_random\ncount = 4\n"
                           "seed = 5\ndihedral = 3 1 2 5\nfrom = 0\nto = 90\nnoise = 0.01 Angstrom\n");
    cr_assert_eq(sh("%s sample scan.inp 2> a.log", FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("a.log", "4/4 done, 0 failed"));
    fh_dataset *d = NULL;
    fh_err err = {0};
    char path[1200];
    snprintf(path, sizeof path, "%s/scan.h5", dir);
    cr_assert_eq(fh_dataset_read(path, &d, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(d->n, 4);
    cr_assert_eq(d->nstates, 2);
    cr_assert_str_eq(d->level, "ml:eth.h5");
    /* the rows hold the library's geometries (Angstrom), all states' gradients and the NAC */
    fh_xyz *g = load("ethylene.xyz");
    fh_samp_config c = {.kind = FH_SAMP_TORSION_RANDOM, .count = 4, .seed = 5, .from = 0,
                        .to = 90 * DEG, .noise = 0.01 * FH_ANGSTROM_BOHR, .dihedral = {2, 0, 1, 4}};
    fh_samp_set *set = NULL;
    cr_assert_eq(fh_samp_generate(&c, NULL, 6, g->z, g->x, NULL, &set, &err), FH_OK);
    for (int k = 0; k < 4; k++) {
        long r = fh_dataset_find(d, set->id[k], FH_DATASET_OK);
        cr_assert_geq(r, 0, "id %s missing", set->id[k]);
        cr_assert_str_eq(d->origin[r], "torsion-random");
        for (int i = 0; i < 18; i++)
            cr_assert_lt(fabs(d->pos[r * 18 + i] - set->x[k * 18 + i] * FH_BOHR_ANGSTROM), 1e-12);
        cr_assert(d->has_energy[r * 2] && d->has_energy[r * 2 + 1]);
        cr_assert(d->has_grad[r * 2] && d->has_grad[r * 2 + 1]);
        cr_assert(d->has_nac[r]);
    }
    fh_samp_set_free(set);
    fh_dataset_free(d);

    /* rerun: nothing to do; a longer list computes only the new geometries */
    cr_assert_eq(sh("%s sample scan.inp 2> b.log", FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("b.log", "4/4 done (4 already there), 0 failed"));
    cr_assert_eq(sh("%s sample scan.inp --set sample.count=7 2> c.log", FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("c.log", "7/7 done (4 already there), 0 failed"));
    fh_dataset_info info;
    cr_assert_eq(fh_dataset_read_info(path, &info, &err), FH_OK);
    cr_assert_eq(info.n, 7);

    /* two MPI ranks into another dataset: the same 7 rows (order aside) */
    cr_assert_eq(sh("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun "
                    "--oversubscribe -n 2 %s sample scan.inp -o mpi.h5 --set sample.count=7 "
                    "2> m.log", FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("m.log", "rank 1/2"));
    fh_dataset *a = NULL, *b = NULL;
    char p2[1200];
    snprintf(p2, sizeof p2, "%s/mpi.h5", dir);
    cr_assert_eq(fh_dataset_read(path, &a, &err), FH_OK);
    cr_assert_eq(fh_dataset_read(p2, &b, &err), FH_OK);
    cr_assert_eq(b->n, 7);
    for (size_t r = 0; r < 7; r++) {
        long q = fh_dataset_find(a, b->id[r], FH_DATASET_OK);
        cr_assert_geq(q, 0);
        cr_assert_eq(memcmp(a->pos + q * 18, b->pos + r * 18, 18 * sizeof(double)), 0);
        cr_assert_eq(memcmp(a->energy + q * 2, b->energy + r * 2, 2 * sizeof(double)), 0);
    }
    fh_dataset_free(a);
    fh_dataset_free(b);

    /* bad input: exit 2 with the problem named */
    cr_assert_eq(sh("%s sample scan.inp --set sample.dihedral='1 2 3' 2> e1.log", FH_TEST_FUSIONHOP), 2);
    cr_assert(grep("e1.log", "dihedral"));
    cr_assert_eq(sh("%s sample scan.inp --set sample.dihedral='3 1 2 9' 2> e2.log", FH_TEST_FUSIONHOP), 2);
    cr_assert(grep("e2.log", "atom 9"));
    cr_assert_eq(sh("%s sample scan.inp --set sample.dihedral='3 1 5 6' 2> e3.log", FH_TEST_FUSIONHOP), 2);
    cr_assert(grep("e3.log", "not bonded"));
    cr_assert_eq(sh("%s sample scan.inp --set sample.generator=spiral 2> e4.log", FH_TEST_FUSIONHOP), 2);
    cr_assert_eq(sh("%s sample scan.inp --set sample.count=0 2> e5.log", FH_TEST_FUSIONHOP), 2);
    cr_assert_eq(sh("%s sample scan.inp --set sample.generator=trajectories 2> e6.log", FH_TEST_FUSIONHOP), 2);
    cr_assert(grep("e6.log", "source"));
    cr_assert_eq(sh("%s sample 2> e7.log", FH_TEST_FUSIONHOP), 2);
    cr_assert_eq(sh("%s sample --help > h.log", FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("h.log", "usage: fusionhop sample"));
    fh_xyz_free(g);
}

Test(sample_cmd, wigner_with_cached_hessian, .init = setup_dir, .fini = cleanup_dir)
{
    cr_assert_eq(sh("%s/tests/runner_model fit . --epochs 30 --members 2 > fit.log 2>&1",
                    FH_TEST_BINARY_DIR), 0);
    write_file("w.inp", "[surface]\ntype = ml\nmodel = hco_model.h5\ngeometry = hco.xyz\n"
                        "[sample]\ndataset = w.h5\ngenerator = wigner\ncount = 20\nseed = 9\n"
                        "temperature = 0 K\noptimize = true\n");
    cr_assert_eq(sh("%s sample w.inp 2> a.log", FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("a.log", "20/20 done, 0 failed"));
    struct stat st0, st1;
    char cache[1200];
    snprintf(cache, sizeof cache, "%s/w.h5.hessian.txt", dir);
    cr_assert_eq(stat(cache, &st0), 0, "no Hessian cache");
    /* a rerun reads the cache (the file is not rewritten) and has nothing to do */
    cr_assert_eq(sh("%s sample w.inp 2> b.log", FH_TEST_FUSIONHOP), 0);
    cr_assert(grep("b.log", "20/20 done (20 already there)"));
    cr_assert_eq(stat(cache, &st1), 0);
    cr_assert_eq(st0.st_mtime, st1.st_mtime);
    cr_assert_eq(st0.st_ino, st1.st_ino, "the cache was rewritten");

    /* the samples spread around the minimum with the zero-point amplitude: the mean geometry is
     * close to the minimum (within 4 standard errors per coordinate) and not all equal */
    fh_dataset *d = NULL;
    fh_err err = {0};
    char path[1200];
    snprintf(path, sizeof path, "%s/w.h5", dir);
    cr_assert_eq(fh_dataset_read(path, &d, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(d->n, 20);
    FILE *f = fopen(cache, "r");
    int n = 0, opt = 0;
    cr_assert_eq(fscanf(f, "fusionhop-hessian %d %d", &n, &opt), 2);
    cr_assert_eq(n, 9);
    double x0[9], xm[9];
    for (int i = 0; i < 9; i++) cr_assert_eq(fscanf(f, "%lf", &x0[i]), 1);
    for (int i = 0; i < 9; i++) cr_assert_eq(fscanf(f, "%lf", &xm[i]), 1);
    fclose(f);
    /* compare internal coordinates (the samples are not re-centred): the three distances */
    for (int p = 0; p < 3; p++) {
        int i = p, j = (p + 1) % 3;
        double rm = dist(xm, i, j) * FH_BOHR_ANGSTROM, s = 0, s2 = 0;
        for (size_t r = 0; r < d->n; r++) {
            double v = dist(d->pos + r * 9, i, j) - rm;
            s += v;
            s2 += v * v;
        }
        double mean = s / 20, sd = sqrt(s2 / 20 - mean * mean);
        cr_assert_gt(sd, 1e-3, "distance %d-%d does not vary (sd %g Angstrom)", i + 1, j + 1, sd);
        cr_assert_lt(sd, 0.2, "distance %d-%d varies too much (sd %g Angstrom)", i + 1, j + 1, sd);
        cr_assert_lt(fabs(mean), 4 * sd / sqrt(20.0) + 0.01, "distance %d-%d mean off by %g",
                     i + 1, j + 1, mean);
    }
    fh_dataset_free(d);
}
