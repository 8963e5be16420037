/* The bond graph (dynamics/bonds.c) and the bond_break monitor: parts of random atom clouds
 * against an independent breadth-first search, and a free-flight molecule whose hydrogen leaves
 * at a known speed, stopped in the step where it passes bond_break x (r_C + r_H), through a
 * checkpoint, and not stopped when the monitor is off or the molecule starts in two parts. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fh_bonds.h"
#include "fh_dynamics.h"
#include "fh_units.h"

#include "test_fssh_util.h"

/* Parts by breadth-first search over all pairs closer than factor (r_i + r_j): the reference. */
static int bfs_parts(int n, const int *z, const double *x, double factor, int *part)
{
    int *queue = malloc((size_t)n * sizeof *queue), nparts = 0;
    for (int i = 0; i < n; i++) part[i] = -1;
    for (int s = 0; s < n; s++) {
        if (part[s] >= 0) continue;
        int head = 0, tail = 0;
        queue[tail++] = s;
        part[s] = nparts;
        while (head < tail) {
            int i = queue[head++];
            for (int j = 0; j < n; j++) {
                if (part[j] >= 0) continue;
                double d2 = 0.0;
                for (int k = 0; k < 3; k++) d2 += pow(x[3 * i + k] - x[3 * j + k], 2);
                double lim = factor * (fh_bond_radius(z[i]) + fh_bond_radius(z[j])) *
                             FH_ANGSTROM_BOHR;
                if (d2 < lim * lim) part[j] = nparts, queue[tail++] = j;
            }
        }
        nparts++;
    }
    free(queue);
    return nparts;
}

Test(bonds, parts_of_random_clouds_match_a_breadth_first_search)
{
    enum { N = 40 };
    int z[N], label[N], ref[N];
    double x[3 * N];
    int seen_many = 0;
    for (int trial = 0; trial < 200; trial++) {
        double box = (4.0 + 0.05 * trial) * FH_ANGSTROM_BOHR; /* dense to sparse */
        for (int i = 0; i < N; i++) {
            z[i] = fh_dyn_uniform(5, (uint64_t)trial, (uint64_t)i, 0) < 0.5 ? 1 : 6;
            for (int k = 0; k < 3; k++)
                x[3 * i + k] = box * fh_dyn_uniform(5, (uint64_t)trial, (uint64_t)i, 1 + k);
        }
        int n = fh_bond_fragments(N, z, x, 1.25, label);
        int nref = bfs_parts(N, z, x, 1.25, ref);
        cr_assert_eq(n, nref, "trial %d", trial);
        /* the same partition, numbered in the same order (by each part's first atom) */
        for (int i = 0; i < N; i++) cr_assert_eq(label[i], ref[i], "trial %d atom %d", trial, i);
        if (n > 5) seen_many = 1;
    }
    cr_assert(seen_many, "the clouds should also fall into many parts");
}

/* CH2 at rest with one hydrogen leaving along +x at speed u: energies and forces zero. */
static int free_eval(fh_surface *self, fh_surface_eval *req, fh_err *err)
{
    (void)self, (void)err;
    req->energy[0] = 0.0;
    req->energy[1] = 1.0;
    for (int st = 0; st < 2; st++)
        if (req->grad_mask >> st & 1u) memset(req->grad + 9 * st, 0, 9 * sizeof *req->grad);
    if (req->want_nac) memset(req->nac, 0, 9 * sizeof *req->nac);
    return FH_OK;
}

static const int ch2_z[3] = {6, 1, 1};
static double ch2_mass[9];

static fh_surface free_ch2(void)
{
    fh_surface s = {0};
    s.name = "free-ch2";
    s.nstates = 2;
    s.ndof = 9;
    s.natoms = 3;
    s.z = (int *)ch2_z;
    s.caps = FH_CAP_ENERGY | FH_CAP_GRADIENT | FH_CAP_NAC;
    for (int k = 0; k < 9; k++) ch2_mass[k] = (k < 3 ? 12.0 : 1.008) * FH_AMU_ME;
    s.mass = ch2_mass;
    s.eval = free_eval;
    return s;
}

/* C at the origin, H1 at 1.09 A along +x, H2 at 1.09 A along -y (or far away: 5 A). */
static void ch2_start(double x[9], double v[9], double u, int h2_far)
{
    memset(x, 0, 9 * sizeof *x);
    memset(v, 0, 9 * sizeof *v);
    x[3] = 1.09 * FH_ANGSTROM_BOHR;
    x[7] = -(h2_far ? 5.0 : 1.09) * FH_ANGSTROM_BOHR;
    v[3] = u;
}

Test(fssh_fragment, leaving_hydrogen_stops_the_trajectory_in_the_step_it_leaves)
{
    fh_surface s = free_ch2();
    fh_dyn_params p = fh_dyn_params_default();
    p.tmax = 200.0 * FH_FS_AUTIME;
    double u = 0.01 * FH_ANGSTROM_BOHR / FH_FS_AUTIME; /* 0.01 A/fs */
    double x[9], v[9];
    ch2_start(x, v, u, 0);
    /* free flight: C-H = 1.09 A + u t passes 1.75 (0.76 + 0.31) A = 1.8725 A at 78.25 fs */
    double t_leave = (1.75 * (0.76 + 0.31) - 1.09) / 0.01 * FH_FS_AUTIME;
    fh_dyn_traj *tr = start(&s, &p, 1, 0, x, v, 1);
    double *ck = malloc(fh_dyn_traj_state_size(tr) * sizeof *ck);
    while (fh_dyn_traj_stop_reason(tr) == FH_DYN_RUNNING) {
        if (fh_dyn_traj_time(tr) < 40.0 * FH_FS_AUTIME) fh_dyn_traj_save(tr, ck);
        cr_assert_eq(fh_dyn_traj_step(tr, NULL, NULL), FH_OK);
    }
    cr_assert_eq(fh_dyn_traj_stop_reason(tr), FH_DYN_STOP_FRAGMENTED, "%s",
                 fh_dyn_traj_stop_message(tr));
    double t = fh_dyn_traj_time(tr);
    cr_assert(t >= t_leave && t < t_leave + p.dt, "stopped at %g a.u., H left at %g a.u.", t,
              t_leave);
    cr_assert(strstr(fh_dyn_traj_stop_message(tr), "H2 is 1.8"), "%s",
              fh_dyn_traj_stop_message(tr));
    cr_assert_str_eq(fh_dyn_stop_name(FH_DYN_STOP_FRAGMENTED), "fragmented");

    /* from a checkpoint taken before 40 fs: the same stop in the same step */
    fh_err err;
    fh_dyn_traj *re = fh_dyn_traj_alloc(&s, &p, 1, 0, &err);
    cr_assert_not_null(re, "%s", err.msg);
    cr_assert_eq(fh_dyn_traj_restore(re, ck, &err), FH_OK, "%s", err.msg);
    while (fh_dyn_traj_stop_reason(re) == FH_DYN_RUNNING)
        cr_assert_eq(fh_dyn_traj_step(re, NULL, NULL), FH_OK);
    cr_assert_eq(fh_dyn_traj_stop_reason(re), FH_DYN_STOP_FRAGMENTED);
    cr_assert_eq(fh_dyn_traj_time(re), t);
    fh_dyn_traj_free(re);
    fh_dyn_traj_free(tr);
    free(ck);

    /* off: the same flight runs to tmax */
    p.bond_break = 0.0;
    tr = start(&s, &p, 1, 0, x, v, 1);
    while (fh_dyn_traj_stop_reason(tr) == FH_DYN_RUNNING)
        cr_assert_eq(fh_dyn_traj_step(tr, NULL, NULL), FH_OK);
    cr_assert_eq(fh_dyn_traj_stop_reason(tr), FH_DYN_STOP_TMAX);
    fh_dyn_traj_free(tr);
}

Test(fssh_fragment, parts_present_at_the_start_do_not_count)
{
    fh_surface s = free_ch2();
    fh_dyn_params p = fh_dyn_params_default();
    p.tmax = 200.0 * FH_FS_AUTIME;
    double x[9], v[9];
    ch2_start(x, v, 0.0, 1); /* H2 5 A away from the start, nothing moves */
    fh_dyn_traj *tr = start(&s, &p, 1, 0, x, v, 1);
    while (fh_dyn_traj_stop_reason(tr) == FH_DYN_RUNNING)
        cr_assert_eq(fh_dyn_traj_step(tr, NULL, NULL), FH_OK);
    cr_assert_eq(fh_dyn_traj_stop_reason(tr), FH_DYN_STOP_TMAX, "%s",
                 fh_dyn_traj_stop_message(tr));
    fh_dyn_traj_free(tr);

    /* ... but a third part does */
    ch2_start(x, v, 0.01 * FH_ANGSTROM_BOHR / FH_FS_AUTIME, 1);
    tr = start(&s, &p, 1, 0, x, v, 1);
    while (fh_dyn_traj_stop_reason(tr) == FH_DYN_RUNNING)
        cr_assert_eq(fh_dyn_traj_step(tr, NULL, NULL), FH_OK);
    cr_assert_eq(fh_dyn_traj_stop_reason(tr), FH_DYN_STOP_FRAGMENTED);
    cr_assert(strstr(fh_dyn_traj_stop_message(tr), "3 parts, 2 at the start"), "%s",
              fh_dyn_traj_stop_message(tr));
    fh_dyn_traj_free(tr);
}
