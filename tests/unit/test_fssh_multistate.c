/* Surface hopping with more than two states, through whole trajectories: a three-state ML model
 * (the committee fitted to an analytic H-C-O by tests/tools/runner_model) driven by the full
 * engine with NAC couplings, rescaling along the NAC and EDC decoherence, trajectories started on
 * the top state S2 with thermal velocities. Asserted at every step of every trajectory: the
 * electronic propagation is unitary (norm error <= 1e-10 per step, populations sum to 1), an
 * accepted hop conserves the total energy to rounding, the total energy changes by less than
 * 2 meV per step and drifts by less than 30 meV over 200 fs; and over the ensemble hops occur in
 * both directions between S2 and S1 (an upward hop drains kinetic energy along the NAC) while the
 * amplitude of S0, 4 eV below, takes part in the propagation (population above 1e-7; 3.9e-6
 * measured), so that the checks cover more than two coupled states. (Hops to S0 do not happen
 * in 200 fs on this model.) Measured: 24 hops (13 S2->S1, 11 S1->S2), norm error 9e-12, largest
 * step change 0.94 meV, drift 3.0 meV. The committee is trained for 60 epochs: after 30 or 40,
 * one trajectory crossed a rough spot of the briefly trained model (+-20 meV per step for ten
 * steps, no hop involved), a property of that model, not of the integrator. */
#include <criterion/criterion.h>
#include "test_subprocess_env.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fh_dynamics.h"
#include "fh_surfaces.h"
#include "fh_units.h"
#include "fh_xyz.h"

#define NTRAJ 12
#define NSTEPS 800 /* 0.25 fs: 200 fs */

static double gauss(uint64_t seed, uint64_t idx, uint64_t counter)
{
    double u1 = fh_dyn_uniform(seed, idx, counter, 0), u2 = fh_dyn_uniform(seed, idx, counter, 1);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

Test(fssh_multistate, three_states_unitary_and_energy_conserving_through_hops,
     .timeout = 300)
{
    char dir[1024], cmd[2300];
    snprintf(dir, sizeof dir, "%s/test_fssh_multistate_%d", FH_TEST_BINARY_DIR, (int)getpid());
    mkdir(dir, 0755);
    fh_test_subprocess_env();
    snprintf(cmd, sizeof cmd, "cd '%s' && %s/tests/runner_model fit . --epochs 60 --members 2 "
             "> fit.log 2>&1", dir, FH_TEST_BINARY_DIR);
    cr_assert_eq(system(cmd), 0, "runner_model fit failed");

    char path[1200];
    fh_err err = {0};
    fh_xyz *g = NULL;
    snprintf(path, sizeof path, "%s/hco.xyz", dir);
    cr_assert_eq(fh_xyz_read(path, &g, &err), FH_OK, "%s", err.msg);
    snprintf(path, sizeof path, "%s/hco_model.h5", dir);
    fh_surface_config cfg = {.type = "ml", .natoms = g->natoms, .z = g->z, .model_file = path};
    fh_surface *s = NULL;
    cr_assert_eq(fh_surface_alloc(&cfg, &s, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(s->nstates, 3);

    fh_dyn_params p = fh_dyn_params_default();
    p.dt = 0.25 * FH_FS_AUTIME;
    p.coupling = FH_DYN_COUPLING_NAC;
    p.rescale = FH_DYN_RESCALE_NAC;
    p.decoherence = FH_DYN_DECOHERENCE_EDC;
    p.spread_max = 0; /* the checks, not the model's domain, are the subject here */
    long down21 = 0, up12 = 0, hops = 0;
    double max_pop0 = 0;
    double worst_norm = 0, worst_hop = 0, worst_step = 0, worst_drift = 0;
    for (int t = 0; t < NTRAJ; t++) {
        double v[9], kT = 1500.0 * FH_KB_HARTREE;
        for (int i = 0; i < 9; i++) v[i] = sqrt(kT / s->mass[i]) * gauss(77, (uint64_t)t, (uint64_t)i);
        fh_dyn_traj *tr = fh_dyn_traj_alloc(s, &p, 5, (uint64_t)t, &err);
        cr_assert_not_null(tr, "%s", err.msg);
        cr_assert_eq(fh_dyn_traj_start(tr, g->x, v, 2 - t % 2, &err), FH_OK, "%s", err.msg);
        double e0 = fh_dyn_traj_total_energy(tr), eprev = e0;
        for (int k = 0; k < NSTEPS; k++) {
            fh_dyn_step_info info;
            cr_assert_eq(fh_dyn_traj_step(tr, &info, &err), FH_OK, "trajectory %d step %d: %s", t,
                         k, err.msg);
            cr_assert_eq(info.stop, FH_DYN_RUNNING, "trajectory %d stopped at step %d: %s", t, k,
                         fh_dyn_traj_stop_message(tr));
            double pop = 0;
            for (int st = 0; st < 3; st++) pop += fh_dyn_traj_population(tr, st);
            worst_norm = fmax(worst_norm, fmax(info.norm_error, fabs(pop - 1.0)));
            max_pop0 = fmax(max_pop0, fh_dyn_traj_population(tr, 0));
            if (info.hopped) {
                hops++;
                worst_hop = fmax(worst_hop, fabs(info.hop_energy_change));
                if (info.hop_from == 2 && info.hop_to == 1) down21++;
                if (info.hop_from == 1 && info.hop_to == 2) up12++;
            }
            double e = fh_dyn_traj_total_energy(tr);
            worst_step = fmax(worst_step, fabs(e - eprev));
            worst_drift = fmax(worst_drift, fabs(e - e0));
            eprev = e;
        }
        fh_dyn_traj_free(tr);
    }
    cr_log_info("%ld hops (2->1: %ld, 1->2: %ld); max S0 population %.2e; max norm error %.2e, "
                "hop energy change %.2e Eh, step change %.3f meV, drift %.3f meV", hops, down21,
                up12, max_pop0, worst_norm, worst_hop, worst_step * FH_HARTREE_EV * 1e3,
                worst_drift * FH_HARTREE_EV * 1e3);
    cr_assert(down21 > 0 && up12 > 0, "hops 2->1 %ld, 1->2 %ld: the test cannot tell", down21, up12);
    cr_assert(max_pop0 > 1e-7, "S0 never populated (%.2e): the third state takes no part", max_pop0);
    cr_assert(worst_norm <= 1e-10, "norm error %.3e", worst_norm);
    cr_assert(worst_hop <= 1e-10, "a hop changed the total energy by %.3e Eh", worst_hop);
    cr_assert(worst_step * FH_HARTREE_EV < 2e-3, "energy changed by %.3f meV in one step",
              worst_step * FH_HARTREE_EV * 1e3);
    cr_assert(worst_drift * FH_HARTREE_EV < 30e-3, "energy drifted by %.3f meV",
              worst_drift * FH_HARTREE_EV * 1e3);
    fh_surface_free(s);
    fh_xyz_free(g);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {}
}
