/* Deterministic model files for the ensemble-runner tests and benchmarks, so that the ML
 * provider's path through `fusionhop run` is exercised without the shipped model.
 *
 *   runner_model fit DIR [--epochs E] [--members K]
 *     A tiny three-state model FITTED to an analytic triatomic (H-C-O; the three elements are
 *     distinct, so the model's permutation symmetry puts no constraint on it): a harmonic ground
 *     state with its minimum at r(CH) = 2.1, r(CO) = 2.3, r(HO) = 3.81 bohr (H-C-O 120 deg) and
 *     two excited diabatic states about 4.0 and 4.2 eV up whose gaps vary linearly with the
 *     distances, coupled by small distance-dependent couplings:
 *       S   = 0.15 (r1-2.1)^2 + 0.25 (r2-2.3)^2 + 0.08 (r3-3.81)^2
 *       H11 = S,  H22 = S + 0.148 + 0.03 (r1-2.1) - 0.04 (r2-2.3),
 *       H33 = S + 0.155 + 0.05 (r2-2.3) + 0.03 (r3-3.81),
 *       H12 = 0.002 + 0.01 (r3-3.81),  H13 = 0.001,  H23 = 0.003 + 0.01 (r1-2.1)   (hartree, bohr)
 *     Adiabatic energies, gradients (Hellmann-Feynman) and NACs of 64 geometries (0.15 bohr
 *     displacements, random orientations) go to DIR/hco_data.h5; the model (arch "tiny", K
 *     members, E epochs) to DIR/hco_model.h5; a start geometry slightly off the minimum (for
 *     [initial] optimize = true) to DIR/hco.xyz. The fit is good to a few meV, so the model has
 *     a true minimum close to the analytic one, smooth surfaces and excitation energies that vary
 *     by ~0.1 eV across a Wigner ensemble.
 *
 *   runner_model random OUT.h5 GEOM.xyz [--arch tiny|stilbene] [--states N] [--members K]
 *                [--seed S] [--gap EV] [--scale EV] [--nac-scale EV_PER_ANGSTROM]
 *     An UNTRAINED model of a given architecture for timing: weights random from the seed and
 *     calibrated on the geometry (features O(1), as at the start of training);
 *     E_s = sum_i (s gap / natoms + scale network_i,s). "stilbene" is the small candidate of
 *     inputs/train/stilbene.inp (16x0e+16x1o, l_max 2, correlation 3, radial MLP [32,32],
 *     readout 16, 5 Angstrom). Its landscape has no physical minimum: use it with fixed starts. */
#include <gsl/gsl_eigen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fh_dataset.h"
#include "fh_model.h"
#include "fh_surfaces.h"
#include "fh_train.h"
#include "fh_units.h"
#include "fh_xyz.h"

static int usage(void)
{
    fprintf(stderr, "usage: runner_model fit DIR [--epochs E] [--members K]\n"
                    "       runner_model random OUT.h5 GEOM.xyz [--arch tiny|stilbene] [--states N]\n"
                    "                    [--members K] [--seed S] [--gap EV] [--scale EV]\n"
                    "                    [--nac-scale EV/A]\n");
    return 2;
}

static void arch(fh_model_hyper *h, int stilbene)
{
    h->lmax = 2;
    h->n_radial = 2;
    if (stilbene) {
        h->channels = 16;
        h->correlation = 3;
        h->r_cut = 5.0 * FH_ANGSTROM_BOHR;
        h->n_bessel = 8;
        h->radial[0] = h->radial[1] = 32;
        h->readout_hidden = 16;
    } else {
        h->channels = 8;
        h->correlation = 2;
        h->r_cut = 4.0 * FH_ANGSTROM_BOHR;
        h->n_bessel = 6;
        h->radial[0] = h->radial[1] = 16;
        h->readout_hidden = 8;
    }
}

/* ---- the analytic triatomic ---- */

static const int hco_z[3] = {6, 1, 8};

/* distance between atoms i and j and its gradient (added to g with factor c) */
static double dist(const double *x, int i, int j, double *g, double c)
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

/* Adiabatic energies E[3], gradients G[3][9], NACs D[3 pairs][9] (1/bohr) at x (bohr). */
static void hco_eval(const double *x, double *E, double *G, double *D)
{
    double g1[9] = {0}, g2[9] = {0}, g3[9] = {0};
    double r1 = dist(x, 0, 1, g1, 1), r2 = dist(x, 0, 2, g2, 1), r3 = dist(x, 1, 2, g3, 1);
    double a1 = r1 - 2.1, a2 = r2 - 2.3, a3 = r3 - 3.81;
    double S = 0.15 * a1 * a1 + 0.25 * a2 * a2 + 0.08 * a3 * a3;
    double H[3][3] = {{S, 0.002 + 0.01 * a3, 0.001},
                      {0, S + 0.148 + 0.03 * a1 - 0.04 * a2, 0.003 + 0.01 * a1},
                      {0, 0, S + 0.155 + 0.05 * a2 + 0.03 * a3}};
    H[1][0] = H[0][1], H[2][0] = H[0][2], H[2][1] = H[1][2];
    /* dH/dr_k for the three distances: dS/dr = (0.3 a1, 0.5 a2, 0.16 a3) on the diagonal */
    double dS[3] = {0.3 * a1, 0.5 * a2, 0.16 * a3};
    double dH[3][3][3] = {{{0}}}; /* [distance][i][j] */
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 3; i++) dH[r][i][i] = dS[r];
    dH[0][1][1] += 0.03, dH[1][1][1] -= 0.04;
    dH[1][2][2] += 0.05, dH[2][2][2] += 0.03;
    dH[2][0][1] = dH[2][1][0] = 0.01;
    dH[0][1][2] = dH[0][2][1] = 0.01;
    gsl_matrix *A = gsl_matrix_alloc(3, 3), *V = gsl_matrix_alloc(3, 3);
    gsl_vector *w = gsl_vector_alloc(3);
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(3);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) gsl_matrix_set(A, i, j, H[i][j]);
    gsl_eigen_symmv(A, w, V, ws);
    gsl_eigen_symmv_sort(w, V, GSL_EIGEN_SORT_VAL_ASC);
    double U[3][3]; /* U[state][diabat] */
    for (int s = 0; s < 3; s++) {
        E[s] = gsl_vector_get(w, s);
        for (int i = 0; i < 3; i++) U[s][i] = gsl_matrix_get(V, i, s);
    }
    const double *gr[3] = {g1, g2, g3};
    for (int a = 0; a < 3; a++)
        for (int b = a; b < 3; b++) {
            /* <a| dH/dx |b> = sum_r <a|dH_r|b> dr/dx */
            double m[3];
            for (int r = 0; r < 3; r++) {
                m[r] = 0;
                for (int i = 0; i < 3; i++)
                    for (int j = 0; j < 3; j++) m[r] += U[a][i] * dH[r][i][j] * U[b][j];
            }
            for (int k = 0; k < 9; k++) {
                double v = m[0] * gr[0][k] + m[1] * gr[1][k] + m[2] * gr[2][k];
                if (a == b) G[9 * a + k] = v;
                else D[9 * fh_pair_index(3, a, b) + k] = v / (E[b] - E[a]);
            }
        }
    gsl_matrix_free(A), gsl_matrix_free(V), gsl_vector_free(w), gsl_eigen_symmv_free(ws);
}

/* splitmix64 normals, seeded: the data are the same on every machine */
static uint64_t rs = 12345;
static double uniform(void)
{
    uint64_t z = (rs += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static double normal(void)
{
    double u = uniform(), v = uniform();
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* random rotation (quaternion) applied to 3 atoms */
static void rotate(double *x)
{
    double q[4], n = 0;
    for (int k = 0; k < 4; k++) q[k] = normal(), n += q[k] * q[k];
    for (int k = 0; k < 4; k++) q[k] /= sqrt(n);
    double a = q[0], b = q[1], c = q[2], d = q[3];
    double R[3][3] = {{a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)},
                      {2 * (b * c + a * d), a * a - b * b + c * c - d * d, 2 * (c * d - a * b)},
                      {2 * (b * d - a * c), 2 * (c * d + a * b), a * a - b * b - c * c + d * d}};
    for (int at = 0; at < 3; at++) {
        double y[3];
        for (int i = 0; i < 3; i++)
            y[i] = R[i][0] * x[3 * at] + R[i][1] * x[3 * at + 1] + R[i][2] * x[3 * at + 2];
        memcpy(x + 3 * at, y, sizeof y);
    }
}

static const double hco_eq[9] = {0, 0, 0, 2.1, 0, 0, -1.15, 1.9918584287042087, 0};

static int fit(const char *dir, int epochs, int members)
{
    char data[1024], model[1024], xyz[1024];
    snprintf(data, sizeof data, "%.1000s/hco_data.h5", dir);
    snprintf(model, sizeof model, "%.1000s/hco_model.h5", dir);
    snprintf(xyz, sizeof xyz, "%.1000s/hco.xyz", dir);
    fh_err err = {0};
    int rc = fh_dataset_create(data, 3, 3, hco_z, "analytic three-state H-C-O", 1, &err);
    enum { NGEOM = 64 };
    static double buf[NGEOM][9 + 3 + 27 + 27];
    static char ids[NGEOM][32];
    fh_dataset_record rec[NGEOM];
    memset(rec, 0, sizeof rec);
    for (int i = 0; i < NGEOM && rc == FH_OK; i++) {
        double x[9], *pos = buf[i], *E = pos + 9, *G = E + 3, *D = G + 27;
        for (int k = 0; k < 9; k++) x[k] = hco_eq[k] + 0.15 * normal();
        rotate(x);
        hco_eval(x, E, G, D);
        for (int s = 0; s < 3; s++) E[s] -= 113.0; /* a molecule-like offset */
        for (int k = 0; k < 9; k++) pos[k] = x[k] * FH_BOHR_ANGSTROM;
        snprintf(ids[i], sizeof ids[i], "hco%03d", i);
        rec[i] = (fh_dataset_record){.id = ids[i], .origin = "analytic", .status = FH_DATASET_OK,
                                     .pos = pos, .energy = E, .grad = G, .nac = D};
    }
    if (rc == FH_OK) rc = fh_dataset_append(data, rec, NGEOM, &err);
    fh_model_hyper h = fh_model_hyper_default();
    h.nstates = 0;
    h.n_elements = 0;
    h.avg_neighbors = 0;
    arch(&h, 0);
    fh_train_config c = fh_train_config_default();
    snprintf(c.dataset, sizeof c.dataset, "%s", data);
    snprintf(c.output, sizeof c.output, "%s", model);
    snprintf(c.checkpoint, sizeof c.checkpoint, "%.1000s.ckpt", model);
    snprintf(c.command, sizeof c.command, "runner_model fit");
    c.max_epochs = epochs;
    c.committee = members;
    c.batch_size = 4;
    c.lr = 0.01;
    c.lr_patience = 10;
    c.patience = 0;
    c.train_fraction = 0.75, c.valid_fraction = 0.125;
    c.seed = 3;
    c.force = 1;
    fh_train_result res;
    if (rc == FH_OK) rc = fh_train_run(&h, &c, MPI_COMM_NULL, &res, &err);
    if (rc == FH_OK) {
        const fh_train_terms *t = &res.test;
        printf("runner_model: %s: %d members, %d epochs; test MAE E0 %.1f meV, gap %.1f meV, "
               "force %.2e hartree/bohr\n", model, members, epochs,
               t->e_abs[0] / t->e_n[0] * FH_HARTREE_EV * 1e3,
               t->gap_abs / t->gap_n * FH_HARTREE_EV * 1e3, t->f_abs / t->f_n);
        /* start geometry: the minimum, bent a little (the optimiser has work to do) */
        double x[9];
        memcpy(x, hco_eq, sizeof x);
        x[3] += 0.08, x[7] -= 0.1, x[6] += 0.05;
        FILE *f = fopen(xyz, "w");
        if (!f || fh_xyz_write_frame(f, 3, hco_z, x, "H-C-O near the analytic minimum") != FH_OK ||
            fclose(f) != 0)
            rc = fh_err_set(&err, FH_EFAIL, "cannot write %s", xyz);
    }
    if (rc != FH_OK) fprintf(stderr, "runner_model: %s\n", err.msg);
    return rc == FH_OK ? 0 : 1;
}

static int random_model(int argc, char **argv)
{
    if (argc < 4) return usage();
    const char *out = argv[2], *gpath = argv[3], *a = "tiny";
    int nstates = 2, members = 1;
    unsigned long long seed = 1;
    double gap_ev = 4.0, scale_ev = 0.5, nac_ev_a = 0.05;
    for (int i = 4; i < argc; i++) {
        if (i + 1 >= argc) return usage();
        const char *k = argv[i], *v = argv[++i];
        if (!strcmp(k, "--arch")) a = v;
        else if (!strcmp(k, "--states")) nstates = atoi(v);
        else if (!strcmp(k, "--members")) members = atoi(v);
        else if (!strcmp(k, "--seed")) seed = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--gap")) gap_ev = atof(v);
        else if (!strcmp(k, "--scale")) scale_ev = atof(v);
        else if (!strcmp(k, "--nac-scale")) nac_ev_a = atof(v);
        else return usage();
    }
    if (strcmp(a, "tiny") && strcmp(a, "stilbene")) return usage();
    fh_err err = {0};
    fh_xyz *g = NULL;
    if (fh_xyz_read(gpath, &g, &err) != FH_OK) {
        fprintf(stderr, "runner_model: %s\n", err.msg);
        return 2;
    }
    fh_model_hyper h = fh_model_hyper_default();
    h.nstates = nstates;
    arch(&h, strcmp(a, "stilbene") == 0);
    for (int i = 0; i < g->natoms; i++) { /* elements of the geometry, ascending */
        int z = g->z[i], k = 0;
        while (k < h.n_elements && h.elements[k] < z) k++;
        if (k < h.n_elements && h.elements[k] == z) continue;
        memmove(h.elements + k + 1, h.elements + k, (size_t)(h.n_elements - k) * sizeof(int));
        h.elements[k] = z;
        h.n_elements++;
    }
    long nb = 0; /* neighbours within the cutoff at the geometry */
    for (int i = 0; i < g->natoms; i++)
        for (int j = 0; j < g->natoms; j++) {
            double r2 = 0;
            for (int k = 0; k < 3 && i != j; k++)
                r2 += (g->x[3 * i + k] - g->x[3 * j + k]) * (g->x[3 * i + k] - g->x[3 * j + k]);
            if (i != j && r2 < h.r_cut * h.r_cut) nb++;
        }
    h.avg_neighbors = nb > 0 ? (double)nb / g->natoms : 1.0;
    fh_model *m = NULL;
    int rc = fh_model_alloc(&h, members, (uint64_t)seed, &m, &err);
    int *type = malloc((size_t)g->natoms * sizeof *type);
    if (rc == FH_OK) rc = fh_model_types(m, g->natoms, g->z, type, &err);
    for (int k = 0; k < members && rc == FH_OK; k++)
        rc = fh_model_calibrate(m, k, 1, g->natoms, type, g->x, &err);
    if (rc == FH_OK) {
        fh_model_norm *n = fh_model_get_norm(m);
        for (int s = 0; s < nstates; s++) {
            n->shift[s] = s * gap_ev / FH_HARTREE_EV / g->natoms;
            n->scale[s] = scale_ev / FH_HARTREE_EV;
        }
        for (int p = 0; p < nstates * (nstates - 1) / 2; p++)
            n->nac_scale[p] = nac_ev_a / FH_HARTREE_EV * FH_BOHR_ANGSTROM;
        fh_model_provenance *pv = fh_model_get_provenance(m);
        snprintf(pv->command, sizeof pv->command, "runner_model random (untrained, arch %s, seed %llu)",
                 a, seed);
        pv->seed = (uint64_t)seed;
        rc = fh_model_save(m, out, &err);
    }
    if (rc != FH_OK) fprintf(stderr, "runner_model: %s\n", err.msg);
    free(type);
    fh_model_free(m);
    fh_xyz_free(g);
    return rc == FH_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "fit")) {
        int epochs = 60, members = 2;
        for (int i = 3; i + 1 < argc; i += 2) {
            if (!strcmp(argv[i], "--epochs")) epochs = atoi(argv[i + 1]);
            else if (!strcmp(argv[i], "--members")) members = atoi(argv[i + 1]);
            else return usage();
        }
        return fit(argv[2], epochs, members);
    }
    if (argc >= 2 && !strcmp(argv[1], "random")) return random_model(argc, argv);
    return usage();
}
