/* Analysis library on synthetic ensembles with known answers: internal coordinates of constructed
 * geometries, exact product counts and yields (with independently computed Wilson intervals), hop
 * statistics at known hop geometries, and trajectories that failed, are still running, were never
 * started or break energy conservation being reported and left out. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "ana_synth.h"
#include "fh_analysis.h"
#include "h5md_testutil.h"

Test(analysis, geometry_of_constructed_molecules)
{
    double x[SY_NATOMS * 3];
    const int dih[4] = {0, 1, 2, 3}, pyr[4] = {1, 6, 0, 2};
    const double phis[] = {-170.0, -90.0, -1e-3, 0.0, 45.0, 120.0, 179.9};
    for (size_t i = 0; i < sizeof phis / sizeof phis[0]; i++) {
        sy_geometry(phis[i], 3.0, 20.0, x);
        cr_expect(fabs(fh_ana_dihedral(x, dih) - phis[i]) < 1e-9, "phi %g -> %g", phis[i],
                  fh_ana_dihedral(x, dih));
    }
    sy_geometry(180.0, 3.0, 0.0, x);
    cr_expect(fabs(fabs(fh_ana_dihedral(x, dih)) - 180.0) < 1e-9);
    for (double th = 0.0; th <= 60.0; th += 15.0) {
        sy_geometry(10.0, 2.75, th, x);
        cr_expect(fabs(fh_ana_pyramidalization(x, pyr) - th) < 1e-9, "theta %g", th);
        cr_expect(fabs(fh_ana_distance(x, 4, 5) - 2.75) < 1e-12);
    }
}

Test(analysis, atom_lists_and_classification)
{
    int a[4];
    fh_err e = {0};
    cr_expect_eq(fh_ana_parse_atoms("7 8, 9 10", 4, "analysis.dihedral", a, &e), FH_OK);
    cr_expect(a[0] == 6 && a[1] == 7 && a[2] == 8 && a[3] == 9);
    cr_expect_eq(fh_ana_parse_atoms("  ", 4, "analysis.dihedral", a, &e), FH_OK);
    cr_expect_eq(a[0], -1);
    cr_expect_eq(fh_ana_parse_atoms("1 2 3", 4, "analysis.dihedral", a, &e), FH_EINPUT);
    cr_expect(strstr(e.msg, "analysis.dihedral") && strstr(e.msg, "4 atom numbers"), "%s", e.msg);
    cr_expect_eq(fh_ana_parse_atoms("1 2 3 0", 4, "x", a, &e), FH_EINPUT);
    cr_expect_eq(fh_ana_parse_atoms("1 2 2 4", 4, "x", a, &e), FH_EINPUT);
    cr_expect_eq(fh_ana_parse_atoms("1 2 3 4 5", 4, "x", a, &e), FH_EINPUT);
    cr_expect_eq(fh_ana_parse_atoms("1 b", 2, "x", a, &e), FH_EINPUT);

    fh_ana_settings s;
    fh_ana_settings_default(&s);
    cr_expect_eq(fh_ana_classify(&s, 10.0, 5.0), FH_PROD_CIS);
    cr_expect_eq(fh_ana_classify(&s, -89.0, -1.0), FH_PROD_CIS);
    cr_expect_eq(fh_ana_classify(&s, 91.0, 5.0), FH_PROD_TRANS);
    cr_expect_eq(fh_ana_classify(&s, -179.0, 5.0), FH_PROD_TRANS);
    cr_expect_eq(fh_ana_classify(&s, 30.0, 1.5 * FH_ANGSTROM_BOHR), FH_PROD_DHP);
    cr_expect_eq(fh_ana_classify(&s, NAN, 1.0), FH_PROD_NONE);
}

Test(analysis, delayed_exponential_fit_recovers_exact_parameters)
{
    const long n = 400;
    double t[400], p[400];
    const double t0 = 40.0, tau = 150.0;
    for (long i = 0; i < n; i++) {
        t[i] = 2.5 * i;
        p[i] = t[i] < t0 ? 0.9 : 0.9 * exp(-(t[i] - t0) / tau);
    }
    double a, ft0, ftau;
    fh_err e = {0};
    cr_assert_eq(fh_ana_fit_delayed_exp(t, p, n, &a, &ft0, &ftau, &e), FH_OK, "%s", e.msg);
    cr_expect(fabs(a - 0.9) < 1e-12);
    cr_expect(fabs(ftau - tau) < 1e-4 * tau, "tau %g", ftau);
    cr_expect(fabs(ft0 - t0) < 0.05, "t0 %g", ft0);
    for (long i = 0; i < n; i++) p[i] = 0.9;
    cr_expect_eq(fh_ana_fit_delayed_exp(t, p, n, &a, &ft0, &ftau, &e), FH_EFAIL, "no decay");
    cr_expect(strstr(e.msg, "no decay") != NULL, "%s", e.msg);
}

Test(analysis, wilson_interval_matches_reference_values)
{
    /* reference values computed independently (closed form, z = 1.959964) */
    double lo, hi;
    fh_ana_wilson(8, 20, &lo, &hi);
    cr_expect(fabs(lo - 0.2188) < 1e-4 && fabs(hi - 0.6134) < 1e-4, "8/20: %g %g", lo, hi);
    fh_ana_wilson(0, 10, &lo, &hi);
    cr_expect(fabs(lo) < 1e-12 && fabs(hi - 0.2775) < 1e-4, "0/10: %g %g", lo, hi);
    fh_ana_wilson(10, 10, &lo, &hi);
    cr_expect(fabs(lo - 0.7225) < 1e-4 && fabs(hi - 1.0) < 1e-12, "10/10: %g %g", lo, hi);
}

/* 20 finished trajectories with known products and hop times, plus one failed, one running, one
 * never started, one with bad energy conservation. */
static const char *make_products_ensemble(void)
{
    const char *base = tu_scratch("ana_products");
    static char dir[600];
    snprintf(dir, sizeof dir, "%s", base);
    const long ntraj = 24;
    fh_ens *e = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_ens_create(dir, ntraj, "", 5, 0, &e, &err), FH_OK, "%s", err.msg);
    const double dhp_r = 1.5 * FH_ANGSTROM_BOHR, open_r = 3.5 * FH_ANGSTROM_BOHR;
    for (long k = 0; k < ntraj; k++) {
        sy_traj tr = {.hop_fs = 20.0 + 4.0 * k, .final_phi = 175.0, .final_r = open_r, .theta = 10.0 + k,
                      .frustrated_at = k % 5 == 0 ? 3 : -1, .status = FH_TRAJ_DONE, .reason = "tmax"};
        if (k < 8) tr.final_phi = 10.0;                       /* cis */
        else if (k < 15) tr.final_phi = -170.0;               /* trans; 13, 14 stay in S1 */
        else if (k < 20) tr.final_phi = 30.0, tr.final_r = dhp_r; /* DHP */
        if (k == 13 || k == 14) tr.hop_fs = -1.0;
        if (k == 20) tr.status = FH_TRAJ_FAILED, tr.reason = "econs_drift: |dE| = 0.7 eV";
        if (k == 21) tr.status = FH_TRAJ_RUNNING, tr.reason = "", tr.nframes = 30;
        if (k == 23) tr.drift_ev = 0.5; /* done, but excluded by max_drift */
        if (k == 22) continue;          /* never started: no file, index says pending */
        cr_assert_eq(sy_write(dir, k, &tr, 2.0, 200.0, &err), FH_OK, "%s", err.msg);
        cr_assert_eq(sy_record(e, k, &tr, &err), FH_OK, "%s", err.msg);
    }
    fh_ens_close(e, &err);
    return dir;
}

static void analysis_settings(fh_ana_settings *s)
{
    fh_ana_settings_default(s);
    s->dihedral[0] = 0, s->dihedral[1] = 1, s->dihedral[2] = 2, s->dihedral[3] = 3;
    s->ring[0] = 4, s->ring[1] = 5, s->nring = 1;
    s->pyramid[0] = 1, s->pyramid[1] = 6, s->pyramid[2] = 0, s->pyramid[3] = 2;
    s->nboot = 200;
    s->max_drift = 0.1 / FH_HARTREE_EV;
}

Test(analysis, yields_are_exact_and_exclusions_reported)
{
    const char *dir = make_products_ensemble();
    fh_ana_settings s;
    analysis_settings(&s);
    fh_ana_ensemble *e = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_ana_load(dir, &s, &e, &err), FH_OK, "%s", err.msg);
    cr_expect_eq(e->ntraj, 24);
    cr_expect_eq(e->nused, 20);
    cr_expect_eq(e->nstates, 2);
    long st[4];
    fh_ana_status_counts(e, st);
    cr_expect(st[FH_TRAJ_DONE] == 21 && st[FH_TRAJ_FAILED] == 1 && st[FH_TRAJ_RUNNING] == 1 &&
              st[FH_TRAJ_PENDING] == 1, "%ld %ld %ld %ld", st[0], st[1], st[2], st[3]);
    cr_expect(strstr(e->traj[20].excluded, "failed: econs_drift") != NULL, "%s", e->traj[20].excluded);
    cr_expect(strstr(e->traj[21].excluded, "still running (30 frames") != NULL, "%s", e->traj[21].excluded);
    cr_expect_str_eq(e->traj[22].excluded, "not started");
    cr_expect(strstr(e->traj[23].excluded, "energy conservation") != NULL, "%s", e->traj[23].excluded);
    cr_expect(fabs(e->traj[23].max_dev_etot * FH_HARTREE_EV - 0.5) < 1e-9);

    fh_ana_yields y;
    fh_ana_yields_compute(e, &s, &y);
    cr_expect(y.classified);
    cr_expect_eq(y.n[0], 20);
    cr_expect_eq(y.count[0][FH_PROD_CIS], 8);
    cr_expect_eq(y.count[0][FH_PROD_TRANS], 7);
    cr_expect_eq(y.count[0][FH_PROD_DHP], 5);
    cr_expect_eq(y.n[1], 18, "13 and 14 never reached S0");
    cr_expect_eq(y.count[1][FH_PROD_TRANS], 5);
    cr_expect(fabs(y.yield[0][FH_PROD_CIS] - 0.4) < 1e-15);
    cr_expect(fabs(y.err[0][FH_PROD_CIS] - sqrt(0.4 * 0.6 / 20.0)) < 1e-15);
    cr_expect(fabs(y.lo[0][FH_PROD_CIS] - 0.2188) < 1e-4 && fabs(y.hi[0][FH_PROD_CIS] - 0.6134) < 1e-4);
    cr_expect(fabs(y.yield[1][FH_PROD_DHP] - 5.0 / 18.0) < 1e-15);

    fh_ana_hops h;
    cr_assert_eq(fh_ana_hops_compute(e, &s, &h, &err), FH_OK, "%s", err.msg);
    cr_expect_eq(h.down, 18);
    cr_expect_eq(h.up, 0);
    cr_expect_eq(h.frustrated, 4, "frustrated attempts in used trajectories 0, 5, 10, 15");
    cr_expect_eq(h.ndown_es, 18);
    cr_expect_eq(h.nfirst, 18);
    cr_expect_eq(h.nnever, 2);
    for (long i = 0; i < h.ndown_es; i++) {
        long k = h.traj[i];
        double hop = 20.0 + 4.0 * k; /* on the 2 fs frame grid already */
        double fin = k < 8 ? 10.0 : k < 15 ? -170.0 : 30.0;
        double phi = 5.0 + (fin - 5.0) * hop / 200.0;
        cr_expect(fabs(h.hop_time[i] * FH_AUTIME_FS - hop) < 1e-9);
        cr_expect(fabs(h.torsion[i] - phi) < 1e-6, "traj %ld torsion %g want %g", k, h.torsion[i], phi);
        cr_expect(fabs(h.pyramid[i] - (10.0 + k)) < 1e-6);
        cr_expect(fabs(h.gap[i] - 0.1) < 1e-12);
    }
    /* first hop: times 20 + 4k over the used k that hopped */
    double sum = 0;
    for (long k = 0; k < 20; k++)
        if (k != 13 && k != 14) sum += 20.0 + 4.0 * k;
    cr_expect(fabs(h.first_mean * FH_AUTIME_FS - sum / 18.0) < 1e-9);
    /* where: every gap 0.1; pyramidalization 10 + k over k = 0..19 but 13, 14: median (18+19)/2 */
    cr_expect(fabs(h.gap_median - 0.1) < 1e-12 && fabs(h.gap_min - 0.1) < 1e-12 &&
              fabs(h.gap_max - 0.1) < 1e-12);
    cr_expect(fabs(h.pyramid_median - 18.5) < 1e-6, "pyramidalization median %g", h.pyramid_median);
    double tor[18];
    for (long i = 0; i < 18; i++) tor[i] = fabs(h.torsion[i]);
    int below = 0, above = 0; /* the median splits the 18 |torsions| 9 : 9 */
    for (long i = 0; i < 18; i++) below += tor[i] < h.torsion_median, above += tor[i] > h.torsion_median;
    cr_expect(below == 9 && above == 9, "|torsion| median %g: %d below, %d above", h.torsion_median,
              below, above);
    fh_ana_hops_free(&h);

    fh_ana_quality q;
    fh_ana_quality_compute(e, &q);
    cr_expect_eq(q.n, 23, "every trajectory with frames");
    cr_expect(fabs(q.drift_max * FH_HARTREE_EV - 0.5) < 1e-9);
    cr_expect_eq(q.nspread, 0);
    fh_ana_free(e);
    tu_rmdir(dir);
}

Test(analysis, without_index_trajectory_files_are_scanned)
{
    const char *dir = make_products_ensemble();
    char p[700];
    snprintf(p, sizeof p, "%s/ensemble.h5", dir);
    cr_assert_eq(unlink(p), 0);
    fh_ana_settings s;
    analysis_settings(&s);
    fh_ana_ensemble *e = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_ana_load(dir, &s, &e, &err), FH_OK, "%s", err.msg);
    cr_expect_eq(e->have_index, 0);
    cr_expect_eq(e->ntraj, 23, "the never-started one has no file");
    cr_expect_eq(e->nused, 20);
    fh_ana_free(e);
    s.dihedral[3] = 7; /* atom 8 does not exist */
    cr_expect_eq(fh_ana_load(dir, &s, &e, &err), FH_EINPUT);
    cr_expect(strstr(err.msg, "analysis.dihedral") && strstr(err.msg, "atom 8"), "%s", err.msg);
    cr_expect_eq(fh_ana_load("/nonexistent/dir", &s, &e, &err), FH_EINPUT);
    tu_rmdir(dir);
}

/* A hydrogen that flies off (a model surface with no data for the stretched bond) makes the
 * trajectory unusable: excluded from the frame where it passes bond_break x (r_C + r_H), and
 * counted with the runs the dynamics stopped for it; bond_break = 0 keeps it. */
Test(analysis, trajectories_whose_molecule_fell_apart_are_excluded)
{
    const char *dir = tu_scratch("ana_apart");
    fh_ens *e = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_ens_create(dir, 3, "", 5, 0, &e, &err), FH_OK, "%s", err.msg);
    for (long k = 0; k < 3; k++) {
        sy_traj tr = {.hop_fs = -1.0, .final_phi = 10.0, .final_r = 3.5 * FH_ANGSTROM_BOHR,
                      .theta = 10.0, .frustrated_at = -1, .status = FH_TRAJ_DONE,
                      .reason = "tmax"};
        if (k >= 1) tr.leave_fs = 50.0;
        if (k == 2) {
            tr.status = FH_TRAJ_FAILED, tr.reason = "fragmented: the molecule fell apart";
            tr.nframes = 29;
        }
        cr_assert_eq(sy_write(dir, k, &tr, 2.0, 200.0, &err), FH_OK, "%s", err.msg);
        cr_assert_eq(sy_record(e, k, &tr, &err), FH_OK, "%s", err.msg);
    }
    fh_ens_close(e, &err);

    fh_ana_settings s;
    analysis_settings(&s);
    fh_ana_ensemble *a = NULL;
    cr_assert_eq(fh_ana_load(dir, &s, &a, &err), FH_OK, "%s", err.msg);
    cr_expect_eq(a->nused, 1);
    cr_expect(a->traj[0].used && isnan(a->traj[0].apart_time));
    /* 1.32 A + 0.1 A/fs (t - 50 fs) passes 1.75 x 1.07 A at 55.5 fs: the 56 fs frame */
    cr_expect(fabs(a->traj[1].apart_time * FH_AUTIME_FS - 56.0) < 1e-9, "%g",
              a->traj[1].apart_time * FH_AUTIME_FS);
    cr_expect(strstr(a->traj[1].excluded, "fell apart at t = 56.0 fs: H7 is 1.92 Angstrom") != NULL,
              "%s", a->traj[1].excluded);
    cr_expect(strstr(a->traj[2].excluded, "failed: fragmented") != NULL, "%s", a->traj[2].excluded);
    fh_ana_quality q;
    fh_ana_quality_compute(a, &q);
    cr_expect_eq(q.napart, 2);
    fh_ana_free(a);

    s.bond_break = 0.0;
    cr_assert_eq(fh_ana_load(dir, &s, &a, &err), FH_OK, "%s", err.msg);
    cr_expect_eq(a->nused, 2);
    cr_expect(a->traj[1].used && isnan(a->traj[1].apart_time));
    fh_ana_quality_compute(a, &q);
    cr_expect_eq(q.napart, 1, "only the run the dynamics stopped");
    fh_ana_free(a);
    tu_rmdir(dir);
}
