/* Active-learning frames (`[sample] generator = trajectories`, dynamics/fh_sampling.h): from a real
 * `fusionhop run` with a two-member ML committee (tests/tools/runner_model), the generator must take
 * exactly the frames whose largest per-state committee spread exceeds spread_min, every stride-th
 * of them in order of trajectory and frame, and with a count below their number an evenly spread
 * choice (entry floor(k n / count) of that list), not the first trajectories' frames. Ids carry a
 * hash of the coordinates, so the same deck run again on another model (the next round: same seed,
 * same trajectory and frame numbers) gives new ids instead of being skipped as done. Frames where
 * the molecule had fallen apart are left out with bond_break. The expected list is rebuilt here
 * from the trajectory files with the H5MD reader.
 * With `frames = hops` the generator takes instead the last frame at or before each hop down to a
 * lower state that took place: checked on a synthetic run (ana_synth.h's molecule, the real
 * trajectory writer) with hops between frames and on a frame, a frustrated and an upward hop
 * (left out), a hop after an atom flew off (left out with bond_break) and no committee spread. */
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

#include "fh_bonds.h"
#include "fh_h5md.h"
#include "fh_sampling.h"
#include "fh_xyz.h"
#include "ana_synth.h"

static void setup_dir(void)
{
    workdir_make("test_sample_active");
}

static void cleanup_dir(void)
{
    if (workdir_remove()) {}
}

#define NTRAJ 4
#define MAXF 64

/* Per run: every frame's positions and largest spread. */
typedef struct {
    long nframes[NTRAJ];
    double x[NTRAJ][MAXF][9], spread[NTRAJ][MAXF];
} run_frames;

static void read_run(const char *out, run_frames *rf)
{
    char rdir[1200], path[1400];
    snprintf(rdir, sizeof rdir, "%s/%s", dir, out);
    fh_err err = {0};
    for (long t = 0; t < NTRAJ; t++) {
        fh_ens_traj_path(rdir, t, path, sizeof path);
        fh_h5md_reader *r = NULL;
        cr_assert_eq(fh_h5md_reader_open(path, &r, &err), FH_OK, "%s", err.msg);
        long nf = fh_h5md_reader_nframes(r);
        int ns = fh_h5md_reader_nstates(r);
        cr_assert(nf > 10 && nf <= MAXF && ns == 3, "trajectory %ld: %ld frames, %d states", t, nf, ns);
        double sp[MAXF * 3];
        cr_assert_eq(fh_h5md_read_spread(r, 0, nf, sp, &err), FH_OK, "%s", err.msg);
        cr_assert_eq(fh_h5md_read_positions(r, 0, nf, &rf->x[t][0][0], &err), FH_OK, "%s", err.msg);
        rf->nframes[t] = nf;
        for (long f = 0; f < nf; f++)
            rf->spread[t][f] = fmax(sp[3 * f], fmax(sp[3 * f + 1], sp[3 * f + 2]));
        fh_h5md_reader_close(r);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static fh_samp_set *generate_apart(const char *out, double spread_min, int stride, long count,
                                   double bond_break)
{
    char src[1200];
    snprintf(src, sizeof src, "%s/%s", dir, out);
    fh_samp_config c = {.kind = FH_SAMP_TRAJECTORIES, .count = count, .source = src,
                        .spread_min = spread_min, .stride = stride, .bond_break = bond_break};
    const int z[3] = {6, 1, 8};
    double x0[9] = {0};
    fh_samp_set *set = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_samp_generate(&c, NULL, 3, z, x0, NULL, &set, &err), FH_OK, "%s", err.msg);
    return set;
}

static fh_samp_set *generate(const char *out, double spread_min, int stride, long count)
{
    return generate_apart(out, spread_min, stride, count, 0.0);
}

Test(sample_active, frames_above_the_spread_evenly_chosen_with_content_ids, .init = setup_dir,
     .fini = cleanup_dir, .timeout = 300)
{
    /* a fitted 3-state committee, and an untrained one of the same atoms for "the next round" */
    cr_assert_eq(sh("%s/tests/runner_model fit . --epochs 30 --members 2 > fit.log 2>&1 && "
                    "%s/tests/runner_model random other.h5 hco.xyz --arch tiny --states 3 "
                    "--members 2 --seed 9 > other.log 2>&1", FH_TEST_BINARY_DIR, FH_TEST_BINARY_DIR),
                 0, "runner_model failed");
    char deck[1400];
    snprintf(deck, sizeof deck, "%s/run.inp", dir);
    FILE *f = fopen(deck, "w");
    cr_assert_not_null(f);
    fprintf(f, "[surface]\ntype = ml\nmodel = hco_model.h5\ngeometry = hco.xyz\n"
               "[dynamics]\nntraj = %d\ndt = 0.5 fs\ntmax = 20 fs\nspread_max = 0 eV\n"
               "econs_step = 0 eV\necons_drift = 0 eV\nbond_break = 0\n" /* the toy model */
               "[initial]\nseed = 5\nsampling = wigner\ntemperature = 300 K\noptimize = true\n"
               "state = 1\n[output]\nframe_every = 1\n", NTRAJ);
    fclose(f);
    cr_assert_eq(sh("%s run run.inp -o a 2> a.log", FH_TEST_FUSIONHOP), 0, "run a failed");
    cr_assert_eq(sh("%s run run.inp -o b --set surface.model=other.h5 2> b.log", FH_TEST_FUSIONHOP),
                 0, "run b failed");

    static run_frames ra, rb;
    read_run("a", &ra);
    read_run("b", &rb);

    /* spread_min at the median spread of run a: about half the frames qualify */
    static double all[NTRAJ * MAXF];
    int nall = 0;
    for (int t = 0; t < NTRAJ; t++)
        for (long fr = 0; fr < ra.nframes[t]; fr++) all[nall++] = ra.spread[t][fr];
    qsort(all, (size_t)nall, sizeof *all, cmp_double);
    double smin = 0.5 * (all[nall / 2] + all[nall / 2 + 1]);
    cr_assert(all[nall / 2 + 1] > all[nall / 2], "spreads tie at the median");

    /* the expected list: every 3rd qualifying frame, in order of trajectory and frame */
    int stride = 3, nq = 0, ne = 0;
    static int et[NTRAJ * MAXF], ef[NTRAJ * MAXF];
    for (int t = 0; t < NTRAJ; t++)
        for (int fr = 0; fr < ra.nframes[t]; fr++)
            if (ra.spread[t][fr] > smin && nq++ % stride == 0) et[ne] = t, ef[ne] = fr, ne++;
    cr_assert(ne >= 10, "only %d frames qualify", ne);
    int tmin = NTRAJ, tmax = -1;
    for (int k = 0; k < ne; k++) tmin = et[k] < tmin ? et[k] : tmin, tmax = et[k] > tmax ? et[k] : tmax;
    cr_assert(tmax > tmin, "all qualifying frames in one trajectory: the test cannot tell");

    /* count 0: all of them, in order */
    fh_samp_set *s = generate("a", smin, stride, 0);
    cr_assert_eq(s->n, ne);
    for (int k = 0; k < ne; k++) {
        cr_assert(memcmp(s->x + 9 * k, ra.x[et[k]][ef[k]], sizeof ra.x[0][0]) == 0,
                  "geometry %d is not frame %d of trajectory %d", k, ef[k], et[k]);
        char tail[64];
        snprintf(tail, sizeof tail, "-t%d-f%d", et[k], ef[k]);
        cr_assert(strncmp(s->id[k], "traj-", 5) == 0 && strstr(s->id[k], tail) &&
                  strlen(strstr(s->id[k], tail)) == strlen(tail), "id %s", s->id[k]);
        cr_assert_str_eq(s->origin[k], "active-learning");
        for (int q = 0; q < k; q++) cr_assert_str_neq(s->id[q], s->id[k]);
    }

    /* a cap: evenly spread over the list, the first and the later trajectories alike */
    long take = ne / 3;
    fh_samp_set *c = generate("a", smin, stride, take);
    cr_assert_eq(c->n, take);
    for (long k = 0; k < take; k++) {
        long j = (long)((double)k * ne / (double)take);
        cr_assert(memcmp(c->x + 9 * k, s->x + 9 * j, sizeof ra.x[0][0]) == 0 &&
                  strcmp(c->id[k], s->id[j]) == 0, "capped geometry %ld is not list entry %ld", k, j);
    }
    cr_assert(strcmp(c->id[take - 1], s->id[take - 1]) != 0, "the cap took the first frames");

    /* the next round: same deck, same trajectory and frame numbers, another model: new ids */
    fh_samp_set *n = generate("b", 0.0, 1, 0);
    cr_assert(n->n > 0);
    for (int k = 0; k < n->n; k++)
        for (int q = 0; q < s->n; q++) cr_assert_str_neq(n->id[k], s->id[q]);

    /* bond_break: the untrained model's molecule flies apart in some trajectories of run b (the
     * run had the guard off); frames with more parts than the trajectory's first are left out
     * before the stride */
    const int z[3] = {6, 1, 8};
    int label[3], napart = 0;
    nq = ne = 0;
    for (int t = 0; t < NTRAJ; t++) {
        int nfrag0 = fh_bond_fragments(3, z, rb.x[t][0], 1.75, label);
        for (int fr = 0; fr < rb.nframes[t]; fr++) {
            if (fh_bond_fragments(3, z, rb.x[t][fr], 1.75, label) > nfrag0) {
                napart++;
                continue;
            }
            if (nq++ % 2 == 0) et[ne] = t, ef[ne] = fr, ne++;
        }
    }
    cr_assert(napart > 0 && ne > 0, "%d frames apart, %d kept: the test cannot tell", napart, ne);
    fh_samp_set *b = generate_apart("b", 0.0, 2, 0, 1.75);
    cr_assert_eq(b->n, ne);
    cr_assert_eq(b->apart, napart);
    for (int k = 0; k < ne; k++)
        cr_assert(memcmp(b->x + 9 * k, rb.x[et[k]][ef[k]], sizeof rb.x[0][0]) == 0,
                  "geometry %d is not frame %d of trajectory %d", k, ef[k], et[k]);

    fh_samp_set_free(s);
    fh_samp_set_free(c);
    fh_samp_set_free(n);
    fh_samp_set_free(b);
}

/* Trajectory `index` of the synthetic run in out: frames every 2 fs up to 40 fs (torsion 5 + t
 * degrees, so every frame differs), the hops given (time fs, from, to, frustrated), atom 7 flying
 * off from leave_fs on (if > 0). */
static void write_hops_traj(fh_ens *e, const char *out, long index, int nh, const double (*hop)[4],
                            double leave_fs)
{
    fh_h5md_writer *w = NULL;
    fh_err err = {0};
    cr_assert_eq(sy_create(out, index, 8, &w, &err), FH_OK, "%s", err.msg);
    double x[SY_NATOMS * 3], v[SY_NATOMS * 3] = {0}, ep[2] = {0.0, 0.1}, amp[4] = {0, 0, 1, 0};
    int active = 1, next = 0;
    for (long k = 0; k <= 20; k++) {
        double t = 2.0 * k;
        for (; next < nh && hop[next][0] <= t; next++) {
            fh_h5md_hop h = {k, hop[next][0] * FH_FS_AUTIME, (int)hop[next][1], (int)hop[next][2],
                             (int)hop[next][3], -0.1};
            cr_assert_eq(fh_h5md_writer_hop(w, &h, &err), FH_OK, "%s", err.msg);
            if (!h.frustrated) active = h.to;
        }
        sy_geometry(5.0 + t + 40.0 * index, 3.0, 10.0, x);
        sy_leave(x, t, leave_fs);
        fh_h5md_frame f = {.step = k, .time = t * FH_FS_AUTIME, .pos = x, .vel = v, .active = active,
                           .epot = ep, .ekin = 0.05, .etot = 0.15, .amp = amp};
        cr_assert_eq(fh_h5md_writer_append(w, &f, &err), FH_OK, "%s", err.msg);
    }
    cr_assert_eq(fh_h5md_writer_set_status(w, FH_TRAJ_DONE, "tmax", &err), FH_OK, "%s", err.msg);
    cr_assert_eq(fh_h5md_writer_close(w, &err), FH_OK, "%s", err.msg);
    fh_ens_record r = {.index = index, .status = FH_TRAJ_DONE, .reason = "tmax"};
    cr_assert_eq(fh_ens_set(e, &r, &err), FH_OK, "%s", err.msg);
}

static fh_samp_set *hops_generate(const char *src, long count, double bond_break, const char *origin)
{
    fh_samp_config c = {.kind = FH_SAMP_TRAJECTORIES, .count = count, .source = src, .stride = 1,
                        .at_hops = 1, .bond_break = bond_break, .origin = origin};
    static const int z[SY_NATOMS] = {6, 6, 6, 6, 6, 6, 1};
    double x0[SY_NATOMS * 3] = {0};
    fh_samp_set *set = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_samp_generate(&c, NULL, SY_NATOMS, z, x0, NULL, &set, &err), FH_OK, "%s", err.msg);
    return set;
}

/* geometry k of set is frame f of trajectory t of run src, with an id ending in -t<t>-f<f> */
static void expect_frame(const fh_samp_set *set, int k, const char *src, long t, long f)
{
    char path[1400], tail[64];
    fh_ens_traj_path(src, t, path, sizeof path);
    fh_h5md_reader *r = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_h5md_reader_open(path, &r, &err), FH_OK, "%s", err.msg);
    double x[SY_NATOMS * 3];
    cr_assert_eq(fh_h5md_read_positions(r, f, 1, x, &err), FH_OK, "%s", err.msg);
    fh_h5md_reader_close(r);
    cr_assert(memcmp(set->x + (size_t)k * SY_NATOMS * 3, x, sizeof x) == 0,
              "geometry %d is not frame %ld of trajectory %ld", k, f, t);
    snprintf(tail, sizeof tail, "-t%ld-f%ld", t, f);
    const char *p = strstr(set->id[k], tail);
    cr_assert(strncmp(set->id[k], "traj-", 5) == 0 && p && strlen(p) == strlen(tail),
              "id %s, want ...%s", set->id[k], tail);
}

Test(sample_active, hop_frames_are_the_last_frames_before_each_hop_down, .init = setup_dir,
     .fini = cleanup_dir, .timeout = 60)
{
    char src[1200];
    snprintf(src, sizeof src, "%s/hops", dir);
    fh_ens *e = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_ens_create(src, 4, "", 5, 0, &e, &err), FH_OK, "%s", err.msg);
    /* trajectory 0: down at 5 fs (between frames 2 and 3), a frustrated attempt at 9 fs, back up
     * at 13 fs, down again at 20 fs (on frame 10) */
    const double h0[4][4] = {{5.0, 1, 0, 0}, {9.0, 0, 1, 1}, {13.0, 0, 1, 0}, {20.0, 1, 0, 0}};
    write_hops_traj(e, src, 0, 4, h0, 0.0);
    write_hops_traj(e, src, 1, 0, NULL, 0.0); /* never hops */
    /* trajectory 2: down at 0.5 fs (frame 0), up at 7 fs, a frustrated attempt down at 23 fs,
     * down at 31 fs (frame 15) after atom 7 has flown off (from 10 fs on) */
    const double h2[4][4] = {{0.5, 1, 0, 0}, {7.0, 0, 1, 0}, {23.0, 1, 0, 1}, {31.0, 1, 0, 0}};
    write_hops_traj(e, src, 2, 4, h2, 10.0);
    fh_ens_close(e, &err); /* trajectory 3 never started: no file */

    fh_samp_set *s = hops_generate(src, 0, 1.75, NULL);
    cr_assert_eq(s->n, 3);
    cr_expect_eq(s->apart, 1);
    expect_frame(s, 0, src, 0, 2);
    expect_frame(s, 1, src, 0, 10);
    expect_frame(s, 2, src, 2, 0);
    for (int k = 0; k < s->n; k++) cr_expect_str_eq(s->origin[k], "hops");

    /* without the guard the hop after the atom left counts too; a cap spreads evenly, and an
     * origin tag replaces "hops" */
    fh_samp_set *a = hops_generate(src, 0, 0.0, NULL);
    cr_assert_eq(a->n, 4);
    expect_frame(a, 3, src, 2, 15);
    fh_samp_set *c = hops_generate(src, 2, 0.0, "hops-r1");
    cr_assert_eq(c->n, 2);
    expect_frame(c, 0, src, 0, 2);
    expect_frame(c, 1, src, 2, 0);
    cr_expect_str_eq(c->origin[1], "hops-r1");

    /* the spread selection needs a committee's spread, which this run does not have */
    fh_samp_config sc = {.kind = FH_SAMP_TRAJECTORIES, .source = src, .stride = 1};
    static const int z[SY_NATOMS] = {6, 6, 6, 6, 6, 6, 1};
    double x0[SY_NATOMS * 3] = {0};
    fh_samp_set *none = NULL;
    cr_expect_eq(fh_samp_generate(&sc, NULL, SY_NATOMS, z, x0, NULL, &none, &err), FH_EINPUT);
    cr_expect(strstr(err.msg, "no committee energy spread") && strstr(err.msg, "frames = hops"), "%s",
              err.msg);
    fh_samp_set_free(s);
    fh_samp_set_free(a);
    fh_samp_set_free(c);
}
