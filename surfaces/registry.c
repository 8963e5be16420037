/* The provider registry: one table row per source of electronic structure, so that the dynamics
 * and the app never name a provider in code. fh_surface_evaluate is the single door through which
 * every evaluation passes: it checks the request against the provider's capabilities and the
 * results for NaN/Inf, so that no provider has to repeat those checks and none can slip a bad
 * number into the dynamics silently. */
#include "fh_surfaces.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Constructors, one per provider file. */
int fh_surf_tully1_create(const fh_surface_config *cfg, fh_surface *s, fh_err *err);
int fh_surf_tully2_create(const fh_surface_config *cfg, fh_surface *s, fh_err *err);
int fh_surf_tully3_create(const fh_surface_config *cfg, fh_surface *s, fh_err *err);
int fh_surf_lvc_create(const fh_surface_config *cfg, fh_surface *s, fh_err *err);
int fh_surf_molcas_create(const fh_surface_config *cfg, fh_surface *s, fh_err *err);
int fh_surf_ml_create(const fh_surface_config *cfg, fh_surface *s, fh_err *err);

static const fh_surface_type types[] = {
    {"tully1", "Tully's model 1, simple avoided crossing (1D, 2 states, mass 2000 a.u.)",
     fh_surf_tully1_create},
    {"tully2", "Tully's model 2, dual avoided crossing (1D, 2 states, mass 2000 a.u.)",
     fh_surf_tully2_create},
    {"tully3", "Tully's model 3, extended coupling with reflection (1D, 2 states, mass 2000 a.u.)",
     fh_surf_tully3_create},
    {"lvc", "2D two-state linear vibronic coupling model with a conical intersection",
     fh_surf_lvc_create},
    {"ml", "multi-state fusion-block network from a model file (energies, gradients, NACs, "
     "committee spread)", fh_surf_ml_create},
    {"openmolcas", "SA-CASSCF energies, gradients and NACs from OpenMolcas (pymolcas) on the fly",
     fh_surf_molcas_create},
    {NULL, NULL, NULL},
};

const fh_surface_type *fh_surface_types(void) { return types; }

const fh_surface_type *fh_surface_type_find(const char *name)
{
    if (!name) return NULL;
    for (const fh_surface_type *t = types; t->name; t++)
        if (strcmp(t->name, name) == 0) return t;
    return NULL;
}

void fh_surface_free(fh_surface *s)
{
    if (!s) return;
    if (s->destroy) s->destroy(s);
    free(s->mass);
    free(s->z);
    free(s);
}

int fh_surface_alloc(const fh_surface_config *cfg, fh_surface **out, fh_err *err)
{
    *out = NULL;
    if (!cfg || !cfg->type)
        return fh_err_set(err, FH_EINPUT, "surface: no provider type given");
    const fh_surface_type *t = fh_surface_type_find(cfg->type);
    if (!t) {
        char known[512] = "";
        for (const fh_surface_type *k = types; k->name; k++) {
            if (k != types) strncat(known, ", ", sizeof known - strlen(known) - 1);
            strncat(known, k->name, sizeof known - strlen(known) - 1);
        }
        return fh_err_set(err, FH_EINPUT, "surface: unknown provider type '%s' (known: %s)",
                          cfg->type, known);
    }
    fh_surface *s = calloc(1, sizeof *s);
    if (!s) return fh_err_set(err, FH_EFAIL, "surface: out of memory");
    s->name = t->name;
    /* A failing constructor frees its own impl; mass and z are freed here. */
    int rc = t->create(cfg, s, err);
    if (rc == FH_OK && (s->nstates < 1 || s->nstates > 32 || s->ndof < 1 || !s->mass || !s->eval))
        rc = fh_err_set(err, FH_EFAIL, "surface '%s': constructor left the provider incomplete",
                        t->name);
    if (rc != FH_OK) {
        if (s->impl && s->destroy) s->destroy(s);
        free(s->mass);
        free(s->z);
        free(s);
        return rc;
    }
    *out = s;
    return FH_OK;
}

static int all_finite(const double *a, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

int fh_surface_evaluate(fh_surface *s, fh_surface_eval *req, fh_err *err)
{
    int n = s->nstates, nd = s->ndof;
    if (!req || !req->x || !req->energy)
        return fh_err_set(err, FH_EINPUT, "surface '%s': request without coordinates or energy "
                          "output", s->name);
    if (n < 32 && (req->grad_mask >> n) != 0)
        return fh_err_set(err, FH_EINPUT, "surface '%s': gradient of a state >= %d requested",
                          s->name, n);
    if (req->grad_mask && (!(s->caps & FH_CAP_GRADIENT) || !req->grad))
        return fh_err_set(err, FH_EINPUT, "surface '%s': gradients requested but %s", s->name,
                          req->grad ? "the provider cannot compute them" : "no output array given");
    if (req->want_nac && (!(s->caps & FH_CAP_NAC) || !req->nac))
        return fh_err_set(err, FH_EINPUT, "surface '%s': NACs requested but %s", s->name,
                          req->nac ? "the provider cannot compute them" : "no output array given");
    if (!all_finite(req->x, nd))
        return fh_err_set(err, FH_EFAIL, "surface '%s': non-finite coordinate", s->name);

    int rc = s->eval(s, req, err);
    if (rc != FH_OK) return fh_err_prefix(err, "surface '%s': ", s->name);

    if (!all_finite(req->energy, n))
        return fh_err_set(err, FH_EFAIL, "surface '%s': non-finite energy", s->name);
    for (int st = 0; st < n; st++)
        if ((req->grad_mask >> st) & 1u)
            if (!all_finite(req->grad + (size_t)st * nd, nd))
                return fh_err_set(err, FH_EFAIL, "surface '%s': non-finite gradient of state %d",
                                  s->name, st);
    if (req->want_nac && !all_finite(req->nac, fh_npairs(n) * nd))
        return fh_err_set(err, FH_EFAIL, "surface '%s': non-finite NAC", s->name);
    if (req->energy_std && (s->caps & FH_CAP_SPREAD) && !all_finite(req->energy_std, n))
        return fh_err_set(err, FH_EFAIL, "surface '%s': non-finite energy spread", s->name);
    return FH_OK;
}
