/* Helpers shared by the surface-hopping tests: build a registry provider, start a trajectory. */
#ifndef TEST_FSSH_UTIL_H
#define TEST_FSSH_UTIL_H

#include <criterion/criterion.h>

#include "fh_dynamics.h"
#include "fh_surfaces.h"

static inline fh_surface *make(const char *type)
{
    fh_surface_config cfg = {0};
    cfg.type = type;
    fh_surface *s = NULL;
    fh_err err;
    cr_assert_eq(fh_surface_alloc(&cfg, &s, &err), FH_OK, "%s", err.msg);
    return s;
}

static inline fh_dyn_traj *start(fh_surface *s, const fh_dyn_params *p, uint64_t seed,
                                 uint64_t idx, const double *x, const double *v, int state)
{
    fh_err err;
    fh_dyn_traj *tr = fh_dyn_traj_alloc(s, p, seed, idx, &err);
    cr_assert_not_null(tr, "%s", err.msg);
    cr_assert_eq(fh_dyn_traj_start(tr, x, v, state, &err), FH_OK, "%s", err.msg);
    return tr;
}

#endif
