/* The tabulated radial MLPs of fh_model_predict (models/model_radial_table.c): the same function
 * as the network to the stated bounds (on the shipped stilbene model and on a small random one),
 * forces that are the exact gradient of the tabulated energy, tables that follow changed weights,
 * and the network itself for edges shorter than the first knot. */
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

static void predict(fh_model *m, int exact, int n, const int *z, const double *x, pred *p)
{
    fh_err err = {0};
    fh_model_set_exact_radial(m, exact);
    fh_model_request rq = {.grad_mask = 3u, .want_nac = 1, .energy = p->E, .grad = p->G,
                           .nac = p->nac, .energy_std = p->sd};
    cr_assert_eq(fh_model_predict(m, n, z, x, &rq, &err), FH_OK, "%s", err.msg);
}

/* A small random diabatic model (2 members) and a random molecule x of NAT atoms. */
static fh_model *small_model(uint64_t seed, uint64_t geom_seed, double *x)
{
    fh_err err = {0};
    fh_model *m = tm_small_model_kind(2, 1, 2, seed, &err);
    cr_assert_not_null(m, "%s", err.msg);
    tm_seed(geom_seed);
    tm_molecule(NAT, 4.0, 1.5, x);
    return m;
}

/* The bounds of the tabulated prediction against the network (measured on the shipped model:
 * 6.8e-13 hartree, 9.7e-10 and 8.3e-10 of the largest component). */
static void assert_close(double dE, double dG, double dN)
{
    cr_assert(dE < 1e-11, "energies differ by %.3e hartree", dE);
    cr_assert(dG < 1e-8, "gradients differ by %.3e of the largest", dG);
    cr_assert(dN < 1e-8, "NACs differ by %.3e of the largest", dN);
    cr_assert(dG > 0, "no table was used");
}

/* Largest differences, tabulated against exact, over `ngeom` displaced copies of x0. */
static void compare(fh_model *m, int n, const int *z, const double *x0, double amp, int ngeom,
                    double *dE, double *dG, double *dN)
{
    double x[3 * MAXAT];
    *dE = *dG = *dN = 0;
    tm_seed(11);
    for (int it = 0; it < ngeom; it++) {
        for (int i = 0; i < 3 * n; i++) x[i] = x0[i] + amp * (tm_uniform() - 0.5);
        pred t, e;
        predict(m, 0, n, z, x, &t);
        predict(m, 1, n, z, x, &e);
        for (int s = 0; s < 2; s++) *dE = fmax(*dE, fabs(t.E[s] - e.E[s]));
        *dG = fmax(*dG, tm_max_rel(t.G, e.G, 6 * (size_t)n));
        *dN = fmax(*dN, tm_max_rel(t.nac, e.nac, 3 * (size_t)n));
    }
}

Test(model_radial_table, shipped_model_matches_the_network)
{
    fh_err err = {0};
    fh_model *m = NULL;
    fh_xyz *g = NULL;
    cr_assert_eq(tm_load_shipped(&m, &g, &err), FH_OK, "%s", err.msg);
    cr_assert(g->natoms <= MAXAT);
    double dE, dG, dN;
    compare(m, g->natoms, g->z, g->x, 0.3, 10, &dE, &dG, &dN);
    assert_close(dE, dG, dN);
    fh_xyz_free(g);
    fh_model_free(m);
}

Test(model_radial_table, small_model_matches_the_network)
{
    double x0[3 * NAT], dE, dG, dN;
    fh_model *m = small_model(31, 3, x0);
    compare(m, NAT, Z6, x0, 0.5, 10, &dE, &dG, &dN);
    assert_close(dE, dG, dN);
    fh_model_free(m);
}

/* The interpolant is C^2 and its derivative is what the reverse pass uses: central differences
 * of the tabulated energies give the tabulated gradients. */
Test(model_radial_table, forces_are_the_gradient_of_the_tabulated_energy)
{
    double x[3 * NAT];
    fh_model *m = small_model(32, 4, x);
    pred p0, pp, pm;
    predict(m, 0, NAT, Z6, x, &p0);
    const double h = 1e-4;
    double fd[2 * 3 * NAT];
    for (int i = 0; i < 3 * NAT; i++) {
        double xi = x[i];
        x[i] = xi + h;
        predict(m, 0, NAT, Z6, x, &pp);
        x[i] = xi - h;
        predict(m, 0, NAT, Z6, x, &pm);
        x[i] = xi;
        for (int s = 0; s < 2; s++) fd[s * 3 * NAT + i] = (pp.E[s] - pm.E[s]) / (2 * h);
    }
    double e = tm_max_rel(p0.G, fd, 6 * NAT);
    cr_assert(e < 1e-6, "tabulated gradients vs finite differences: %.3e", e);
    fh_model_free(m);
}

Test(model_radial_table, tables_follow_changed_weights)
{
    double x[3 * NAT];
    fh_model *m = small_model(33, 5, x);
    pred before, after, exact;
    predict(m, 0, NAT, Z6, x, &before);
    double *th = fh_model_params(m, 1);
    for (size_t i = 0; i < fh_model_n_params(m); i++) th[i] *= 1.01;
    predict(m, 0, NAT, Z6, x, &after);
    predict(m, 1, NAT, Z6, x, &exact);
    cr_assert(fabs(after.E[0] - before.E[0]) > 1e-6, "the new weights changed nothing");
    cr_assert(fabs(after.E[0] - exact.E[0]) < 1e-11 && fabs(after.E[1] - exact.E[1]) < 1e-11,
              "stale table: %.3e hartree off", fabs(after.E[0] - exact.E[0]));
    cr_assert(tm_max_rel(after.G, exact.G, 6 * NAT) < 1e-8);
    fh_model_free(m);
}

/* Closer than the first knot (r_cut / 1024 = 0.004 bohr here) the network is evaluated: the
 * prediction is then bitwise the exact one. */
Test(model_radial_table, short_edges_use_the_network)
{
    double x[3 * NAT];
    fh_model *m = small_model(34, 6, x);
    for (int k = 0; k < 3; k++) x[3 + k] = x[k] + (k == 0 ? 0.002 : 0.0);
    pred t, e;
    predict(m, 0, NAT, Z6, x, &t);
    predict(m, 1, NAT, Z6, x, &e);
    cr_assert(memcmp(t.E, e.E, sizeof t.E) == 0 && memcmp(t.G, e.G, sizeof(double) * 6 * NAT) == 0,
              "an edge inside the first knot must use the network");
    x[3] = x[0] + 0.3;
    predict(m, 0, NAT, Z6, x, &t);
    predict(m, 1, NAT, Z6, x, &e);
    cr_assert(memcmp(t.G, e.G, sizeof(double) * 6 * NAT) != 0, "no table was used at 0.3 bohr");
    fh_model_free(m);
}
