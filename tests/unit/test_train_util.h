/* A small analytic two-state problem for the training tests: a triatomic HCO whose diabatic
 * Hamiltonian depends on its three distances (three different elements, so the model's
 * permutation invariance puts no constraint on it),
 *   H = [[S + D, V], [V, S - D]],  S = 0.1((r1-2)^2 + (r2-2)^2) + 0.05 (r3-3.3)^2,
 *   D = 0.02 + 0.03 (r1 - r2),  V = 0.01 (r3 - 3.3) + 0.004        (hartree, bohr)
 * with r1 = |C-H|, r2 = |C-O|, r3 = |H-O|. Adiabatic energies E = S -+ R, R = sqrt(D^2+V^2),
 * their gradients, and the coupling h_01 = d_01 (E_1 - E_0) = (D grad V - V grad D)/R are exact;
 * the gap closes at r1 - r2 = -2/3, r3 = 2.9 (a conical intersection, outside the sampled region),
 * and is below 1 eV in about half of the geometries. Geometries: random displacements of 0.15 bohr and random orientations.
 * Header-only (included once per test executable). */
#ifndef TEST_TRAIN_UTIL_H
#define TEST_TRAIN_UTIL_H

#include <math.h>
#include <stdio.h>

#include "fh_dataset.h"
#include "fh_units.h"
#include "test_model_util.h"

static const int tt_z[3] = {6, 1, 8};

typedef struct {
    double S, D, V, gS[9], gD[9], gV[9];
} tt_parts;

static inline double tt_dist(const double *x, int i, int j, double *g /* [9] += dr/dx */, double c)
{
    double d[3], r = 0;
    for (int k = 0; k < 3; k++) d[k] = x[3 * j + k] - x[3 * i + k], r += d[k] * d[k];
    r = sqrt(r);
    for (int k = 0; k < 3; k++) {
        g[3 * j + k] += c * d[k] / r;
        g[3 * i + k] -= c * d[k] / r;
    }
    return r;
}

static inline void tt_eval_parts(const double *x, tt_parts *p)
{
    memset(p, 0, sizeof *p);
    double z[9] = {0};
    double r1 = tt_dist(x, 0, 1, z, 0), r2 = tt_dist(x, 0, 2, z, 0), r3 = tt_dist(x, 1, 2, z, 0);
    p->S = 0.1 * ((r1 - 2) * (r1 - 2) + (r2 - 2) * (r2 - 2)) + 0.05 * (r3 - 3.3) * (r3 - 3.3);
    p->D = 0.02 + 0.03 * (r1 - r2);
    p->V = 0.01 * (r3 - 3.3) + 0.004;
    tt_dist(x, 0, 1, p->gS, 0.2 * (r1 - 2));
    tt_dist(x, 0, 2, p->gS, 0.2 * (r2 - 2));
    tt_dist(x, 1, 2, p->gS, 0.1 * (r3 - 3.3));
    tt_dist(x, 0, 1, p->gD, 0.03);
    tt_dist(x, 0, 2, p->gD, -0.03);
    tt_dist(x, 1, 2, p->gV, 0.01);
}

/* Energies [2], gradients [2][9], NAC d_01 [9] (1/bohr) and h_01 [9]. */
static inline void tt_eval(const double *x, double *E, double *G, double *d, double *h)
{
    tt_parts p;
    tt_eval_parts(x, &p);
    double R = sqrt(p.D * p.D + p.V * p.V);
    E[0] = p.S - R, E[1] = p.S + R;
    for (int k = 0; k < 9; k++) {
        double gR = (p.D * p.gD[k] + p.V * p.gV[k]) / R;
        G[k] = p.gS[k] - gR;
        G[9 + k] = p.gS[k] + gR;
        double hk = (p.D * p.gV[k] - p.V * p.gD[k]) / R;
        if (h) h[k] = hk;
        if (d) d[k] = hk / (2 * R);
    }
}

/* The mixing angle, whose gradient is the NAC: d_01 = grad theta, theta = atan2(V, D)/2. */
static inline double tt_angle(const double *x)
{
    tt_parts p;
    tt_eval_parts(x, &p);
    return 0.5 * atan2(p.V, p.D);
}

static inline void tt_geometry(double *x)
{
    static const double eq[9] = {0, 0, 0, 2.0, 0, 0, -0.7, 1.9, 0};
    double y[9], Q[9];
    for (int k = 0; k < 9; k++) y[k] = eq[k] + 0.15 * tm_normal();
    tm_rotation(Q, 0);
    tm_apply(Q, 3, y, x);
    for (int k = 0; k < 3; k++) {
        double s = 2.0 * tm_normal();
        for (int a = 0; a < 3; a++) x[3 * a + k] += s;
    }
}

/* Write a dataset of n geometries (seeded) to path; energies shifted by -40 hartree; with_nac 0:
 * the rows have no couplings (their masks are zero). */
static inline int tt_write_dataset_nac(const char *path, int n, uint64_t seed, int with_nac,
                                       fh_err *err)
{
    int rc = fh_dataset_create(path, 3, 2, tt_z, "analytic HCO two-state model", 1, err);
    if (rc) return rc;
    tm_seed(seed);
    fh_dataset_record *rec = calloc((size_t)n, sizeof *rec);
    double *buf = calloc((size_t)n * (9 + 2 + 18 + 9), sizeof(double));
    char (*ids)[32] = calloc((size_t)n, 32);
    for (int i = 0; i < n; i++) {
        double *pos = buf + (size_t)i * 38, *E = pos + 9, *G = E + 2, *d = G + 18, x[9];
        tt_geometry(x);
        tt_eval(x, E, G, d, NULL);
        E[0] -= 40.0, E[1] -= 40.0;
        for (int k = 0; k < 9; k++) pos[k] = x[k] * FH_BOHR_ANGSTROM;
        snprintf(ids[i], 32, "geom%04d", i);
        rec[i].id = ids[i];
        rec[i].origin = "analytic";
        rec[i].status = FH_DATASET_OK;
        rec[i].pos = pos;
        rec[i].energy = E;
        rec[i].grad = G;
        rec[i].nac = with_nac ? d : NULL;
    }
    rc = fh_dataset_append(path, rec, (size_t)n, err);
    free(rec), free(buf), free(ids);
    return rc;
}

static inline int tt_write_dataset(const char *path, int n, uint64_t seed, fh_err *err)
{
    return tt_write_dataset_nac(path, n, seed, 1, err);
}

/* The small architecture of the tests. */
static inline fh_model_hyper tt_hyper(void)
{
    fh_model_hyper h = fh_model_hyper_default();
    h.nstates = 0;      /* from the data */
    h.n_elements = 0;
    h.channels = 8;
    h.lmax = 2;
    h.correlation = 2;
    h.n_layers = 2;
    h.r_cut = 4.0 * FH_ANGSTROM_BOHR;
    h.n_bessel = 6;
    h.n_radial = 2;
    h.radial[0] = h.radial[1] = 16;
    h.readout_hidden = 8;
    h.avg_neighbors = 0;   /* from the data */
    return h;
}

#endif
