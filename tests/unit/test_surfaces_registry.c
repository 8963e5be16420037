/* The provider registry and the checks every evaluation passes through: unknown names and bad
 * configurations are input errors naming the problem, requests the provider cannot serve are
 * refused, and NaN from a provider never reaches the caller silently. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fh_surfaces.h"

Test(surfaces_registry, lists_the_analytic_models)
{
    const char *want[] = {"tully1", "tully2", "tully3", "lvc"};
    for (int i = 0; i < 4; i++) {
        const fh_surface_type *t = fh_surface_type_find(want[i]);
        cr_assert_not_null(t, "%s missing", want[i]);
        cr_assert_str_eq(t->name, want[i]);
        cr_assert(t->help && strlen(t->help) > 10);
    }
    int n = 0;
    for (const fh_surface_type *t = fh_surface_types(); t->name; t++) n++;
    cr_assert_geq(n, 4);
    cr_assert_null(fh_surface_type_find("tully4"));
    cr_assert_null(fh_surface_type_find(NULL));
}

Test(surfaces_registry, unknown_type_is_an_input_error)
{
    fh_surface_config cfg = {0};
    cfg.type = "tully9";
    fh_surface *s = (fh_surface *)1;
    fh_err err;
    cr_assert_eq(fh_surface_alloc(&cfg, &s, &err), FH_EINPUT);
    cr_assert_null(s);
    cr_assert(strstr(err.msg, "tully9") && strstr(err.msg, "tully1"), "%s", err.msg);
    cfg.type = NULL;
    cr_assert_eq(fh_surface_alloc(&cfg, &s, &err), FH_EINPUT);
}

Test(surfaces_registry, wrong_state_count_is_an_input_error)
{
    fh_surface_config cfg = {0};
    cfg.type = "tully2";
    cfg.nstates = 3;
    fh_surface *s = NULL;
    fh_err err;
    cr_assert_eq(fh_surface_alloc(&cfg, &s, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "tully2") && strstr(err.msg, "3"), "%s", err.msg);
    cfg.type = "lvc";
    cr_assert_eq(fh_surface_alloc(&cfg, &s, &err), FH_EINPUT);
    cfg.nstates = 2;
    cr_assert_eq(fh_surface_alloc(&cfg, &s, &err), FH_OK);
    fh_surface_free(s);
}

Test(surfaces_registry, evaluate_checks_requests)
{
    fh_surface_config cfg = {0};
    cfg.type = "tully1";
    fh_surface *s = NULL;
    cr_assert_eq(fh_surface_alloc(&cfg, &s, NULL), FH_OK);
    double x = 0.3, e[2], g[2], d[1];
    fh_err err;
    fh_surface_eval req = {.x = &x, .energy = e};
    cr_assert_eq(fh_surface_evaluate(s, &req, &err), FH_OK);
    req.grad_mask = 1u; /* gradient without an output array */
    cr_assert_eq(fh_surface_evaluate(s, &req, &err), FH_EINPUT);
    req.grad = g;
    cr_assert_eq(fh_surface_evaluate(s, &req, &err), FH_OK);
    req.grad_mask = 4u; /* state 2 of a 2-state model */
    cr_assert_eq(fh_surface_evaluate(s, &req, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "tully1"), "%s", err.msg);
    req.grad_mask = 0;
    req.want_nac = 1; /* NAC without an output array */
    cr_assert_eq(fh_surface_evaluate(s, &req, &err), FH_EINPUT);
    req.nac = d;
    cr_assert_eq(fh_surface_evaluate(s, &req, &err), FH_OK);
    x = NAN;
    cr_assert_eq(fh_surface_evaluate(s, &req, &err), FH_EFAIL);
    cr_assert(strstr(err.msg, "non-finite"), "%s", err.msg);
    req.x = NULL;
    cr_assert_eq(fh_surface_evaluate(s, &req, &err), FH_EINPUT);
    fh_surface_free(s);
}

/* A provider that returns NaN energies beyond x = 1 and cannot compute NACs. */
static int nan_eval(fh_surface *self, fh_surface_eval *req, fh_err *err)
{
    (void)self, (void)err;
    req->energy[0] = req->x[0] > 1 ? NAN : 0.0;
    req->energy[1] = 1.0;
    return FH_OK;
}

Test(surfaces_registry, nan_from_a_provider_is_caught)
{
    fh_surface *s = calloc(1, sizeof *s);
    s->name = "nan-test";
    s->nstates = 2;
    s->ndof = 1;
    s->caps = FH_CAP_ENERGY | FH_CAP_GRADIENT;
    s->mass = malloc(sizeof(double));
    s->mass[0] = 1.0;
    s->eval = nan_eval;
    double x = 0.5, e[2], d[1];
    fh_err err;
    fh_surface_eval req = {.x = &x, .energy = e};
    cr_assert_eq(fh_surface_evaluate(s, &req, &err), FH_OK);
    x = 2.0;
    cr_assert_eq(fh_surface_evaluate(s, &req, &err), FH_EFAIL);
    cr_assert(strstr(err.msg, "nan-test") && strstr(err.msg, "energy"), "%s", err.msg);
    x = 0.5;
    req.want_nac = 1, req.nac = d; /* capability missing */
    cr_assert_eq(fh_surface_evaluate(s, &req, &err), FH_EINPUT);
    fh_surface_free(s);
}
