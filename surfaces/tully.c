/* Tully's three one-dimensional two-state models (J. C. Tully, J. Chem. Phys. 93, 1061 (1990)) with
 * the standard parameters and mass 2000 a.u.: the benchmark every surface-hopping code is checked
 * against, because exact quantum scattering results are cheap to compute for them. Diabatic
 * Hamiltonians (atomic units):
 *   1, simple avoided crossing:  H11 = sgn(x) A (1 - exp(-B|x|)), H22 = -H11, H12 = C exp(-D x^2),
 *                                A = 0.01, B = 1.6, C = 0.005, D = 1.0
 *   2, dual avoided crossing:    H11 = 0, H22 = -A exp(-B x^2) + E0, H12 = C exp(-D x^2),
 *                                A = 0.1, B = 0.28, C = 0.015, D = 0.06, E0 = 0.05
 *   3, extended coupling:        H11 = A, H22 = -A, H12 = B exp(Cx) (x < 0), B (2 - exp(-Cx)) (x >= 0),
 *                                A = 6e-4, B = 0.1, C = 0.9
 * The adiabatic energies, gradients and the NAC follow in closed form (fh_surf_two_state.h). */
#include "fh_surf_two_state.h"
#include "fh_surfaces.h"

#include <math.h>
#include <stdlib.h>

#define TULLY_MASS 2000.0

typedef struct {
    int model; /* 1, 2 or 3 */
} tully;

/* S, D, V of fh_surf_two_state and their x-derivatives. */
static void tully_sdv(int model, double x, double sdv[3], double dsdv[3])
{
    if (model == 1) {
        const double A = 0.01, B = 1.6, C = 0.005, D = 1.0;
        double e = exp(-B * fabs(x));
        double h11 = (x >= 0 ? 1.0 : -1.0) * A * (1.0 - e), dh11 = A * B * e;
        double h12 = C * exp(-D * x * x);
        sdv[0] = 0.0, dsdv[0] = 0.0;
        sdv[1] = h11, dsdv[1] = dh11; /* D = (H11 - H22)/2 = H11 */
        sdv[2] = h12, dsdv[2] = -2.0 * D * x * h12;
    } else if (model == 2) {
        const double A = 0.1, B = 0.28, C = 0.015, D = 0.06, E0 = 0.05;
        double g = A * exp(-B * x * x);
        double h22 = -g + E0, dh22 = 2.0 * B * x * g;
        double h12 = C * exp(-D * x * x);
        sdv[0] = 0.5 * h22, dsdv[0] = 0.5 * dh22;
        sdv[1] = -0.5 * h22, dsdv[1] = -0.5 * dh22;
        sdv[2] = h12, dsdv[2] = -2.0 * D * x * h12;
    } else {
        const double A = 6e-4, B = 0.1, C = 0.9;
        sdv[0] = 0.0, dsdv[0] = 0.0;
        sdv[1] = A, dsdv[1] = 0.0;
        if (x < 0) {
            double e = exp(C * x);
            sdv[2] = B * e, dsdv[2] = B * C * e;
        } else {
            double e = exp(-C * x);
            sdv[2] = B * (2.0 - e), dsdv[2] = B * C * e;
        }
    }
}

static int tully_eval(fh_surface *self, fh_surface_eval *req, fh_err *err)
{
    (void)err;
    const tully *t = self->impl;
    double sdv[3], dsdv[3];
    tully_sdv(t->model, req->x[0], sdv, dsdv);
    fh_surf_two_state(1, sdv[0], sdv[1], sdv[2], &dsdv[0], &dsdv[1], &dsdv[2], req->energy,
                      req->grad_mask, req->grad, req->want_nac ? req->nac : NULL);
    return FH_OK;
}

static void tully_destroy(fh_surface *self)
{
    free(self->impl);
    self->impl = NULL;
}

static int tully_create(int model, const fh_surface_config *cfg, fh_surface *s, fh_err *err)
{
    if (cfg->nstates != 0 && cfg->nstates != 2)
        return fh_err_set(err, FH_EINPUT, "surface 'tully%d' has 2 states, not %d", model,
                          cfg->nstates);
    tully *t = malloc(sizeof *t);
    s->mass = malloc(sizeof *s->mass);
    if (!t || !s->mass) {
        free(t);
        return fh_err_set(err, FH_EFAIL, "surface 'tully%d': out of memory", model);
    }
    t->model = model;
    s->mass[0] = TULLY_MASS;
    s->nstates = 2;
    s->ndof = 1;
    s->natoms = 0;
    s->caps = FH_CAP_ENERGY | FH_CAP_GRADIENT | FH_CAP_NAC;
    s->eval = tully_eval;
    s->destroy = tully_destroy;
    s->impl = t;
    return FH_OK;
}

int fh_surf_tully1_create(const fh_surface_config *cfg, fh_surface *s, fh_err *err)
{
    return tully_create(1, cfg, s, err);
}

int fh_surf_tully2_create(const fh_surface_config *cfg, fh_surface *s, fh_err *err)
{
    return tully_create(2, cfg, s, err);
}

int fh_surf_tully3_create(const fh_surface_config *cfg, fh_surface *s, fh_err *err)
{
    return tully_create(3, cfg, s, err);
}
