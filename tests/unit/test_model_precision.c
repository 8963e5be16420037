/* fh_model_predict in mixed precision (fh_model_set_precision: the message tensor product in
 * float): the same energies, gradients, NACs and spread as in double to the documented ~1e-7
 * (bounds 1e-6 hartree and 1e-5 of the largest component on the shipped model, measured 3e-9
 * hartree and 8e-8), yet not bitwise the same (the float path ran); still invariant under rotations
 * to that accuracy; and switching back to double gives double's results bitwise. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "fh_model.h"
#include "fh_xyz.h"
#include "test_model_util.h"

enum { NAT = 6, MAXAT = 32 };
static const int Z6[NAT] = {6, 6, 1, 1, 8, 1};

typedef struct {
    double E[2], sd[2], G[2 * 3 * MAXAT], nac[3 * MAXAT];
} pred;

static void predict(fh_model *m, fh_model_precision prec, int n, const int *z, const double *x,
                    pred *p)
{
    fh_err err = {0};
    fh_model_set_precision(m, prec);
    fh_model_request rq = {.grad_mask = 3u, .want_nac = 1, .energy = p->E, .grad = p->G,
                           .nac = p->nac, .energy_std = p->sd};
    cr_assert_eq(fh_model_predict(m, n, z, x, &rq, &err), FH_OK, "%s", err.msg);
}

static void assert_close(const pred *a, const pred *b, int n, double tol, const char *what)
{
    double dE = 0, dS = 0;
    for (int s = 0; s < 2; s++) {
        dE = fmax(dE, fabs(a->E[s] - b->E[s]));
        dS = fmax(dS, fabs(a->sd[s] - b->sd[s]));
    }
    double dG = tm_max_rel(a->G, b->G, 6 * (size_t)n), dN = tm_max_rel(a->nac, b->nac, 3 * (size_t)n);
    cr_assert(dE < 1e-6 && dS < 1e-6, "%s: energies differ by %.3e, spread by %.3e hartree", what, dE, dS);
    cr_assert(dG < tol, "%s: gradients differ by %.3e of the largest", what, dG);
    cr_assert(dN < tol, "%s: NACs differ by %.3e of the largest", what, dN);
}

/* mixed against double at n_geom displaced copies of x0; then rotated, and back to double */
static void check(fh_model *m, int n, const int *z, const double *x0, double amp, int n_geom,
                  double tol)
{
    double x[3 * MAXAT], xr[3 * MAXAT], Q[9];
    tm_seed(5);
    for (int it = 0; it < n_geom; it++) {
        for (int i = 0; i < 3 * n; i++) x[i] = x0[i] + amp * (tm_uniform() - 0.5);
        pred d, f, d2;
        predict(m, FH_MODEL_PRECISION_DOUBLE, n, z, x, &d);
        predict(m, FH_MODEL_PRECISION_MIXED, n, z, x, &f);
        assert_close(&f, &d, n, tol, "mixed vs double");
        cr_assert(memcmp(f.G, d.G, sizeof(double) * 6 * n) != 0, "mixed gave double's gradients bitwise");

        /* rotated (and inverted) molecule: rotated gradients and NACs, the same energies */
        tm_rotation(Q, it % 2);
        tm_apply(Q, n, x, xr);
        pred r, rot;
        predict(m, FH_MODEL_PRECISION_MIXED, n, z, xr, &r);
        memcpy(&rot, &f, sizeof rot);
        tm_apply(Q, n, f.G, rot.G);
        tm_apply(Q, n, f.G + 3 * n, rot.G + 3 * n);
        tm_apply(Q, n, f.nac, rot.nac);
        /* the NAC's sign is arbitrary (phase-free model): align it */
        double ov = 0;
        for (int i = 0; i < 3 * n; i++) ov += r.nac[i] * rot.nac[i];
        if (ov < 0)
            for (int i = 0; i < 3 * n; i++) r.nac[i] = -r.nac[i];
        assert_close(&r, &rot, n, tol, "mixed, rotated");

        predict(m, FH_MODEL_PRECISION_DOUBLE, n, z, x, &d2);
        cr_assert(memcmp(d2.E, d.E, sizeof d.E) == 0 && memcmp(d2.G, d.G, sizeof(double) * 6 * n) == 0 &&
                  memcmp(d2.nac, d.nac, sizeof(double) * 3 * n) == 0,
                  "double after mixed is not double's result bitwise");
    }
}

Test(model_precision, shipped_model)
{
    fh_err err = {0};
    fh_model *m = NULL;
    fh_xyz *g = NULL;
    cr_assert_eq(tm_load_shipped(&m, &g, &err), FH_OK, "%s", err.msg);
    cr_assert(g->natoms <= MAXAT);
    check(m, g->natoms, g->z, g->x, 0.3, 4, 1e-5);
    fh_xyz_free(g);
    fh_model_free(m);
}

/* A small random diabatic committee; with the radial MLPs evaluated too (no tables). Its random
 * weights make large intermediates cancel, so rounding shows more: 1.5e-5 of the largest
 * gradient (bound 1e-4; a wrong kernel is off by order 1). */
Test(model_precision, small_model_with_and_without_tables)
{
    fh_err err = {0};
    fh_model *m = tm_small_model_kind(2, 1, 2, 41, &err);
    cr_assert_not_null(m, "%s", err.msg);
    double x0[3 * NAT];
    tm_seed(9);
    tm_molecule(NAT, 4.0, 1.5, x0);
    check(m, NAT, Z6, x0, 0.5, 3, 1e-4);
    fh_model_set_exact_radial(m, 1);
    check(m, NAT, Z6, x0, 0.5, 3, 1e-4);
    fh_model_free(m);
}

/* Bitwise reproducible whatever came before (the ensemble's results must not depend on which
 * trajectories a rank ran first): a fresh model's first call (which builds its tables and
 * buffers) equals a later call at the same geometry after another one. */
Test(model_precision, results_do_not_depend_on_history)
{
    fh_err err = {0};
    fh_model *m = tm_small_model_kind(2, 1, 2, 43, &err);
    cr_assert_not_null(m, "%s", err.msg);
    double x[3 * NAT], y[3 * NAT];
    tm_seed(10);
    tm_molecule(NAT, 4.0, 1.5, x);
    for (int i = 0; i < 3 * NAT; i++) y[i] = x[i] + 0.2 * (tm_uniform() - 0.5);
    pred first, other, again;
    predict(m, FH_MODEL_PRECISION_MIXED, NAT, Z6, x, &first);
    predict(m, FH_MODEL_PRECISION_MIXED, NAT, Z6, y, &other);
    predict(m, FH_MODEL_PRECISION_MIXED, NAT, Z6, x, &again);
    cr_assert(memcmp(first.E, again.E, sizeof first.E) == 0 &&
              memcmp(first.G, again.G, sizeof(double) * 6 * NAT) == 0 &&
              memcmp(first.nac, again.nac, sizeof(double) * 3 * NAT) == 0,
              "mixed precision: the first call differs from a later one at the same geometry "
              "(dE %.3e hartree)", first.E[0] - again.E[0]);
    fh_model_free(m);
}
