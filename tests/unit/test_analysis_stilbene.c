/* Stilbene defaults: the shipped trans-stilbene geometry (inputs/geometries) is recognised by its
 * atom order, its central torsion 4-1-2-16 is 180 degrees (trans), and a copy with one half turned
 * by 180 degrees about the C=C bond is classified cis; ring pairs take the shortest distance. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fh_analysis.h"
#include "fh_units.h"
#include "h5md_testutil.h"

#define NA 26

static void read_stilbene(double *x, int *z)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/inputs/geometries/trans-stilbene.xyz", FH_TEST_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char line[512];
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_eq(atoi(line), NA);
    cr_assert_not_null(fgets(line, sizeof line, f));
    for (int a = 0; a < NA; a++) {
        char el[8];
        double v[3];
        cr_assert_not_null(fgets(line, sizeof line, f));
        cr_assert_eq(sscanf(line, "%7s %lf %lf %lf", el, &v[0], &v[1], &v[2]), 4);
        z[a] = fh_element_z(el);
        for (int k = 0; k < 3; k++) x[3 * a + k] = v[k] * FH_ANGSTROM_BOHR;
    }
    fclose(f);
}

/* Turn atoms 15-26 (the second half) by 180 degrees about the C1=C2 axis. */
static void turn_half(double *x)
{
    double o[3], u[3], n = 0;
    for (int k = 0; k < 3; k++) o[k] = x[k], u[k] = x[3 + k] - x[k], n += u[k] * u[k];
    for (int k = 0; k < 3; k++) u[k] /= sqrt(n);
    for (int a = 14; a < NA; a++) {
        double r[3], d = 0;
        for (int k = 0; k < 3; k++) r[k] = x[3 * a + k] - o[k], d += r[k] * u[k];
        for (int k = 0; k < 3; k++) x[3 * a + k] = o[k] + 2.0 * d * u[k] - r[k]; /* rotation by pi */
    }
}

static void write_traj(const char *dir, long k, const double *x, const int *z, fh_err *err)
{
    char path[1024];
    fh_ens_traj_path(dir, k, path, sizeof path);
    fh_h5md_config c = {.path = path, .natoms = NA, .nstates = 2, .species = z};
    fh_h5md_writer *w = NULL;
    cr_assert_eq(fh_h5md_writer_create(&c, &w, err), FH_OK, "%s", err->msg);
    double v[3 * NA] = {0}, ep[2] = {0, 0.1}, amp[4] = {1, 0, 0, 0};
    for (long f = 0; f < 3; f++) {
        fh_h5md_frame fr = {.step = f, .time = 10.0 * f, .pos = x, .vel = v, .active = 0, .epot = ep,
                            .amp = amp};
        cr_assert_eq(fh_h5md_writer_append(w, &fr, err), FH_OK, "%s", err->msg);
    }
    cr_assert_eq(fh_h5md_writer_set_status(w, FH_TRAJ_DONE, "tmax", err), FH_OK);
    cr_assert_eq(fh_h5md_writer_close(w, err), FH_OK);
}

Test(analysis_stilbene, defaults_from_the_shipped_atom_order)
{
    double x[3 * NA], xc[3 * NA];
    int z[NA];
    read_stilbene(x, z);
    fh_ana_settings s;
    fh_ana_settings_default(&s);
    cr_assert_eq(fh_ana_stilbene_defaults(&s, z, NA), 1);
    cr_expect(fabs(fabs(fh_ana_dihedral(x, s.dihedral)) - 180.0) < 1.0, "trans: %g", fh_ana_dihedral(x, s.dihedral));
    cr_expect(s.pyramid[0] == 0 && s.nring == 4);
    cr_expect(fh_ana_pyramidalization(x, s.pyramid) < 0.5, "planar minimum");
    memcpy(xc, x, sizeof x);
    turn_half(xc);
    cr_expect(fabs(fh_ana_dihedral(xc, s.dihedral)) < 1.0, "turned half: cis, %g", fh_ana_dihedral(xc, s.dihedral));
    double best = 1e30;
    const int ortho[4][2] = {{4, 16}, {4, 20}, {8, 16}, {8, 20}};
    for (int k = 0; k < 4; k++) {
        double d = fh_ana_distance(xc, ortho[k][0], ortho[k][1]);
        if (d < best) best = d;
    }
    cr_expect_eq(fh_ana_min_distance(xc, s.ring, s.nring), best);

    /* a molecule of another order keeps its settings unset */
    fh_ana_settings o;
    fh_ana_settings_default(&o);
    int zz[NA];
    memcpy(zz, z, sizeof zz);
    zz[2] = 6;
    cr_expect_eq(fh_ana_stilbene_defaults(&o, zz, NA), 0);
    cr_expect_eq(o.dihedral[0], -1);
    cr_expect_eq(fh_ana_stilbene_defaults(&o, z, 6), 0);

    /* an explicit setting wins over the default */
    fh_ana_settings_default(&o);
    o.dihedral[0] = 2, o.dihedral[1] = 0, o.dihedral[2] = 1, o.dihedral[3] = 14;
    fh_ana_stilbene_defaults(&o, z, NA);
    cr_expect(o.dihedral[0] == 2 && o.dihedral[3] == 14 && o.nring == 4);

    int pairs[16], np;
    fh_err err = {0};
    cr_expect_eq(fh_ana_parse_pairs("5 17, 5 21,9 17 9 21", "analysis.ring", pairs, &np, &err), FH_OK);
    cr_expect(np == 4 && pairs[0] == 4 && pairs[1] == 16 && pairs[7] == 20);
    cr_expect_eq(fh_ana_parse_pairs("5 17 9", "analysis.ring", pairs, &np, &err), FH_EINPUT);
    cr_expect(strstr(err.msg, "pairs") != NULL, "%s", err.msg);
    cr_expect_eq(fh_ana_parse_pairs("5 5", "analysis.ring", pairs, &np, &err), FH_EINPUT);
    cr_expect_eq(fh_ana_parse_pairs("", "analysis.ring", pairs, &np, &err), FH_OK);
    cr_expect_eq(np, 0);

    /* end to end: a trans and a cis trajectory, no settings given */
    const char *dir = tu_scratch("ana_stilbene");
    char d[600];
    snprintf(d, sizeof d, "%s", dir);
    fh_ens *e = NULL;
    cr_assert_eq(fh_ens_create(d, 2, "", 1, 0, &e, &err), FH_OK, "%s", err.msg);
    write_traj(d, 0, x, z, &err);
    write_traj(d, 1, xc, z, &err);
    for (long k = 0; k < 2; k++) {
        fh_ens_record r = {.index = k, .status = FH_TRAJ_DONE};
        fh_ens_set(e, &r, &err);
    }
    fh_ens_close(e, &err);
    fh_ana_settings_default(&s);
    fh_ana_ensemble *an = NULL;
    cr_assert_eq(fh_ana_load(d, &s, &an, &err), FH_OK, "%s", err.msg);
    cr_expect_eq(an->stilbene_defaults, 1);
    cr_expect_eq(an->traj[0].product, FH_PROD_TRANS);
    cr_expect_eq(an->traj[1].product, FH_PROD_CIS);
    fh_ana_free(an);
    tu_rmdir(d);
}
