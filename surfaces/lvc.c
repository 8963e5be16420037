/* A two-dimensional two-state linear vibronic coupling (LVC) model with a conical intersection:
 * the smallest system in which hops rescale the velocity along a NAC that is not parallel to the
 * velocity, in which the NAC changes direction and sign around an intersection, and in which energy
 * conservation through hops is a real test. Coordinates q = (x, y): x the tuning mode, y the
 * coupling mode, masses 2000 and 3000 a.u. (unequal on purpose, to exercise the mass weighting).
 * Diabatic Hamiltonian (atomic units):
 *   H11 = kx/2 (x + a)^2 + ky/2 y^2
 *   H22 = kx/2 (x - a)^2 + ky/2 y^2 + delta
 *   H12 = c y
 * with kx = 0.02, ky = 0.01, a = 1, delta = 0.01, c = 0.005. The states are degenerate at the
 * conical intersection x = delta/(2 kx a) = 0.25 bohr, y = 0 (energy 0.015625 Eh); the upper state
 * at the Franck-Condon point (-1, 0) lies at 0.05 Eh. */
#include "fh_surf_two_state.h"
#include "fh_surfaces.h"

#include <stdlib.h>

#define LVC_KX 0.02
#define LVC_KY 0.01
#define LVC_A 1.0
#define LVC_DELTA 0.01
#define LVC_C 0.005

static int lvc_eval(fh_surface *self, fh_surface_eval *req, fh_err *err)
{
    (void)self;
    (void)err;
    double x = req->x[0], y = req->x[1];
    /* S = (H11 + H22)/2, D = (H11 - H22)/2, V = H12 and their gradients */
    double s = 0.5 * LVC_KX * (x * x + LVC_A * LVC_A) + 0.5 * LVC_KY * y * y + 0.5 * LVC_DELTA;
    double d = LVC_KX * LVC_A * x - 0.5 * LVC_DELTA;
    double v = LVC_C * y;
    double ds[2] = {LVC_KX * x, LVC_KY * y};
    double dd[2] = {LVC_KX * LVC_A, 0.0};
    double dv[2] = {0.0, LVC_C};
    fh_surf_two_state(2, s, d, v, ds, dd, dv, req->energy, req->grad_mask, req->grad,
                      req->want_nac ? req->nac : NULL);
    return FH_OK;
}

int fh_surf_lvc_create(const fh_surface_config *cfg, fh_surface *s, fh_err *err)
{
    if (cfg->nstates != 0 && cfg->nstates != 2)
        return fh_err_set(err, FH_EINPUT, "surface 'lvc' has 2 states, not %d", cfg->nstates);
    s->mass = malloc(2 * sizeof *s->mass);
    if (!s->mass) return fh_err_set(err, FH_EFAIL, "surface 'lvc': out of memory");
    s->mass[0] = 2000.0;
    s->mass[1] = 3000.0;
    s->nstates = 2;
    s->ndof = 2;
    s->natoms = 0;
    s->caps = FH_CAP_ENERGY | FH_CAP_GRADIENT | FH_CAP_NAC;
    s->eval = lvc_eval;
    s->destroy = NULL;
    s->impl = NULL;
    return FH_OK;
}
