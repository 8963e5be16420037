/* The ML provider: energies, gradients, NACs and the committee's energy spread from a trained
 * fusion-block model file (models/fh_model.h). The molecule (atomic numbers) comes from the
 * deck's reference geometry; every element must be known to the model, and the number of states
 * is the model's (a deck that asks for another number is refused). */
#include "fh_model.h"
#include "fh_surfaces.h"
#include "fh_units.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    fh_model *m;
    fh_model_precision precision;   /* the deck's ([surface] precision) */
} ml_impl;

static int ml_eval(fh_surface *self, fh_surface_eval *req, fh_err *err)
{
    ml_impl *ml = self->impl;
    fh_model_request rq = {.grad_mask = req->grad_mask, .want_nac = req->want_nac,
                           .energy = req->energy, .grad = req->grad, .nac = req->nac,
                           .energy_std = req->energy_std};
    fh_model_set_precision(ml->m, req->exact ? FH_MODEL_PRECISION_DOUBLE : ml->precision);
    return fh_model_predict(ml->m, self->natoms, self->z, req->x, &rq, err);
}

static void ml_destroy(fh_surface *self)
{
    ml_impl *ml = self->impl;
    if (ml) fh_model_free(ml->m);
    free(ml);
    self->impl = NULL;
}

int fh_surf_ml_create(const fh_surface_config *cfg, fh_surface *s, fh_err *err)
{
    if (!cfg->model_file || !*cfg->model_file)
        return fh_err_set(err, FH_EINPUT, "surface 'ml' needs a model file");
    if (cfg->natoms < 1 || !cfg->z)
        return fh_err_set(err, FH_EINPUT, "surface 'ml' needs the molecule (a reference geometry)");
    fh_model *m = NULL;
    int rc = fh_model_load(cfg->model_file, &m, err);
    if (rc) return rc;
    int N = fh_model_nstates(m);
    if (cfg->nstates != 0 && cfg->nstates != N) {
        fh_model_free(m);
        return fh_err_set(err, FH_EINPUT, "the model %s has %d states, not %d", cfg->model_file, N,
                          cfg->nstates);
    }
    int *type = malloc(sizeof(int) * cfg->natoms);
    rc = type ? fh_model_types(m, cfg->natoms, cfg->z, type, err) : fh_err_set(err, FH_EFAIL, "out of memory");
    free(type);
    /* a model with coupling sign flips is for one molecule: another one would fail every step */
    int nflip = fh_model_get_hyper(m)->nac_flip_natoms;
    if (!rc && nflip && nflip != cfg->natoms)
        rc = fh_err_set(err, FH_EINPUT, "the model is for a molecule of %d atoms (its coupling sign "
                        "flips, nac_flip), the geometry has %d", nflip, cfg->natoms);
    if (rc) {
        fh_model_free(m);
        return fh_err_prefix(err, "the geometry does not fit the model %s: ", cfg->model_file);
    }
    ml_impl *ml = malloc(sizeof *ml);
    if (!ml) {
        fh_model_free(m);
        return fh_err_set(err, FH_EFAIL, "surface 'ml': out of memory");
    }
    ml->m = m;
    ml->precision = cfg->ml_mixed ? FH_MODEL_PRECISION_MIXED : FH_MODEL_PRECISION_DOUBLE;
    s->impl = ml;
    s->destroy = ml_destroy;
    s->nstates = N;
    s->natoms = cfg->natoms;
    s->ndof = 3 * cfg->natoms;
    s->caps = FH_CAP_ENERGY | FH_CAP_GRADIENT | FH_CAP_SPREAD | (N > 1 ? FH_CAP_NAC : 0);
    s->mass = malloc(sizeof(double) * s->ndof);
    s->z = malloc(sizeof(int) * cfg->natoms);
    if (!s->mass || !s->z) return fh_err_set(err, FH_EFAIL, "surface 'ml': out of memory");
    memcpy(s->z, cfg->z, sizeof(int) * cfg->natoms);
    for (int a = 0; a < cfg->natoms; a++)
        for (int k = 0; k < 3; k++) s->mass[3 * a + k] = fh_element_mass_au(cfg->z[a]);
    s->eval = ml_eval;
    return FH_OK;
}
