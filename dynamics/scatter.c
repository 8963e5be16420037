/* Tully-model scattering ensembles (see fh_scatter.h). Each trajectory is an independent fh_dyn
 * trajectory keyed by (seed, index), so the branching ratios are reproducible bitwise and do not
 * depend on how the ensemble is split. */
#include "fh_scatter.h"

#include <math.h>
#include <stdio.h>

fh_scatter_config fh_scatter_default(int model, double momentum, long ntraj, uint64_t seed)
{
    fh_scatter_config c;
    c.model = model;
    c.momentum = momentum;
    c.ntraj = ntraj;
    c.seed = seed;
    c.x0 = model == 3 ? -15.0 : -10.0;
    c.dyn = fh_dyn_params_default();
    /* about 0.02 bohr per step at the initial speed; substeps of at most 0.25 a.u. */
    c.dyn.dt = momentum > 0 ? fmin(10.0, 40.0 / momentum) : 1.0;
    c.dyn.nsubsteps = (int)fmax(10.0, ceil(4.0 * c.dyn.dt));
    c.dyn.coupling = FH_DYN_COUPLING_NAC;
    c.dyn.rescale = FH_DYN_RESCALE_NAC;
    c.dyn.frustrated = FH_DYN_FRUSTRATED_KEEP;
    c.dyn.decoherence = FH_DYN_DECOHERENCE_NONE;
    /* free flight there and back at the initial speed (mass 2000), times 20 */
    c.dyn.tmax = momentum > 0 ? 20.0 * 4.0 * fabs(c.x0) * 2000.0 / momentum : 0.0;
    return c;
}

int fh_scatter_run(const fh_scatter_config *cfg, fh_scatter_result *res, fh_err *err)
{
    for (int i = 0; i < 4; i++) res->count[i] = 0, res->fraction[i] = 0.0;
    res->nsteps = res->nhops = 0;
    if (cfg->model < 1 || cfg->model > 3)
        return fh_err_set(err, FH_EINPUT, "scatter: model must be 1, 2 or 3, got %d", cfg->model);
    if (!(cfg->momentum > 0) || !isfinite(cfg->momentum))
        return fh_err_set(err, FH_EINPUT, "scatter: momentum must be positive, got %g",
                          cfg->momentum);
    if (cfg->ntraj < 1)
        return fh_err_set(err, FH_EINPUT, "scatter: ntraj must be >= 1, got %ld", cfg->ntraj);
    if (!(cfg->x0 < 0))
        return fh_err_set(err, FH_EINPUT, "scatter: x0 must be negative, got %g", cfg->x0);

    char type[16];
    snprintf(type, sizeof type, "tully%d", cfg->model);
    fh_surface_config sc = {0};
    sc.type = type;
    fh_surface *surf = NULL;
    int rc = fh_surface_alloc(&sc, &surf, err);
    if (rc != FH_OK) return rc;

    double x0 = cfg->x0, v0 = cfg->momentum / surf->mass[0];
    for (long i = 0; i < cfg->ntraj && rc == FH_OK; i++) {
        fh_dyn_traj *tr = fh_dyn_traj_alloc(surf, &cfg->dyn, cfg->seed, (uint64_t)i, err);
        if (!tr) {
            rc = err ? err->code : FH_EFAIL;
            break;
        }
        rc = fh_dyn_traj_start(tr, &x0, &v0, 0, err);
        while (rc == FH_OK) {
            rc = fh_dyn_traj_step(tr, NULL, err);
            if (rc != FH_OK) break;
            double x = fh_dyn_traj_x(tr)[0];
            int upper = fh_dyn_traj_active(tr) == 1;
            if (x > -x0) {
                res->count[upper ? FH_SCATTER_T_UPPER : FH_SCATTER_T_LOWER]++;
                break;
            }
            if (x < x0) {
                res->count[upper ? FH_SCATTER_R_UPPER : FH_SCATTER_R_LOWER]++;
                break;
            }
            if (fh_dyn_traj_stop_reason(tr) != FH_DYN_RUNNING) {
                rc = fh_err_set(err, FH_EFAIL, "scatter: trajectory %ld stopped inside the "
                                "interaction region (%s): %s", i,
                                fh_dyn_stop_name(fh_dyn_traj_stop_reason(tr)),
                                fh_dyn_traj_stop_message(tr));
            }
        }
        res->nsteps += fh_dyn_traj_nsteps(tr);
        res->nhops += fh_dyn_traj_nhops(tr);
        fh_dyn_traj_free(tr);
    }
    fh_surface_free(surf);
    if (rc != FH_OK) return rc;
    for (int i = 0; i < 4; i++) res->fraction[i] = (double)res->count[i] / (double)cfg->ntraj;
    return FH_OK;
}
