/* TEMPORARY geometry generator for the first stilbene reference batch (until `fusionhop sample`
 * has its generators): geometries that need no Hessian, written as one multi-frame XYZ file
 * (Angstrom) whose comment lines carry "id=... origin=... torsion=...":
 *   torsion-scan    rigid rotation of one half about the central C=C bond, from the cis minimum
 *                   to 180 deg and from the trans minimum down to 40 deg, in 5 deg steps;
 *   torsion-random  random torsion angle (0..180 deg, either sense) + noise (sigma 0.02 A);
 *   twisted-pyr     torsion 60..120 deg with one central carbon pushed out of the plane of its
 *                   three neighbours by up to 0.4 Angstrom (pyramidalization) + noise (0.02 A):
 *                   the region where S1 meets S0;
 *   cis-noise, trans-noise  Gaussian Cartesian noise around the minima (sigma 0.020..0.035 A,
 *                   twice that on hydrogens), a stand-in for Wigner samples: 1-3 eV above the
 *                   minimum, like a 0 K Wigner ensemble (ids cis-noise2-/trans-noise2-; the
 *                   first version used sigma 0.03..0.07 A on all atoms, 3-10 eV above the
 *                   minimum, far too hot).
 * Noise on hydrogens is twice the stated sigma.
 * The torsion scans come first, then the random families interleaved so that a batch stopped
 * early has a bit of everything. Same seed -> same file.
 *
 *   stilbene_geoms --cis CIS.xyz --trans TRANS.xyz [--seed 1] [--nrandom 150] [--npyr 100]
 *                  [--nnoise 100] > GEOMS.xyz
 * Both inputs need the same atom order with the central C=C as atoms 1 and 2. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fh_units.h"
#include "fh_xyz.h"

#define NA_MAX 64
#define FH_PI 3.14159265358979323846

static uint64_t rng_state;
static double uniform(void) /* splitmix64 -> (0,1) */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(void)
{
    double u = uniform(), v = uniform();
    return sqrt(-2.0 * log(u)) * cos(2.0 * FH_PI * v);
}

typedef struct {
    int n;
    int z[NA_MAX];
    double x[NA_MAX][3]; /* Angstrom */
} geom;

static double dist(const double *a, const double *b)
{
    return sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                (a[2] - b[2]) * (a[2] - b[2]));
}

/* Atoms on atom 1's side of the central bond (graph search without the 0-1 bond). */
static void right_half(const geom *g, int *side)
{
    int stack[NA_MAX], top = 0;
    for (int a = 0; a < g->n; a++) side[a] = 0;
    side[1] = 1;
    stack[top++] = 1;
    while (top) {
        int a = stack[--top];
        for (int b = 0; b < g->n; b++) {
            if (side[b] || b == 0) continue;
            double lim = (g->z[a] == 1 || g->z[b] == 1) ? 1.25 : 1.75;
            if (dist(g->x[a], g->x[b]) < lim) {
                side[b] = 1;
                stack[top++] = b;
            }
        }
    }
}

/* The heavy neighbour of a central carbon on its own side (the ipso carbon). */
static int ipso_of(const geom *g, int c)
{
    for (int b = 0; b < g->n; b++)
        if (b != 0 && b != 1 && g->z[b] == 6 && dist(g->x[c], g->x[b]) < 1.75) return b;
    return -1;
}

static double dihedral(const double *p0, const double *p1, const double *p2, const double *p3)
{
    double b0[3], b1[3], b2[3], n1[3], n2[3], m[3];
    for (int k = 0; k < 3; k++) {
        b0[k] = p0[k] - p1[k];
        b1[k] = p2[k] - p1[k];
        b2[k] = p3[k] - p2[k];
    }
    double l = sqrt(b1[0] * b1[0] + b1[1] * b1[1] + b1[2] * b1[2]);
    for (int k = 0; k < 3; k++) b1[k] /= l;
    double v[3], w[3], d0 = b0[0] * b1[0] + b0[1] * b1[1] + b0[2] * b1[2],
                       d2 = b2[0] * b1[0] + b2[1] * b1[1] + b2[2] * b1[2];
    for (int k = 0; k < 3; k++) {
        v[k] = b0[k] - d0 * b1[k];
        w[k] = b2[k] - d2 * b1[k];
    }
    n1[0] = b1[1] * v[2] - b1[2] * v[1];
    n1[1] = b1[2] * v[0] - b1[0] * v[2];
    n1[2] = b1[0] * v[1] - b1[1] * v[0];
    (void)n2;
    (void)m;
    double x = v[0] * w[0] + v[1] * w[1] + v[2] * w[2];
    double y = n1[0] * w[0] + n1[1] * w[1] + n1[2] * w[2];
    return atan2(y, x) * 180.0 / FH_PI;
}

static double torsion(const geom *g)
{
    int a = ipso_of(g, 0), b = ipso_of(g, 1);
    return dihedral(g->x[a], g->x[0], g->x[1], g->x[b]);
}

/* Rotate the right half about the 0->1 axis by ang degrees (Rodrigues). */
static void rotate_half(geom *g, const int *side, double ang)
{
    double ax[3], o[3];
    for (int k = 0; k < 3; k++) {
        o[k] = g->x[1][k];
        ax[k] = g->x[1][k] - g->x[0][k];
    }
    double l = sqrt(ax[0] * ax[0] + ax[1] * ax[1] + ax[2] * ax[2]);
    for (int k = 0; k < 3; k++) ax[k] /= l;
    double c = cos(ang * FH_PI / 180.0), s = sin(ang * FH_PI / 180.0);
    for (int a = 0; a < g->n; a++) {
        if (!side[a] || a == 1) continue;
        double v[3], cr[3];
        for (int k = 0; k < 3; k++) v[k] = g->x[a][k] - o[k];
        double d = v[0] * ax[0] + v[1] * ax[1] + v[2] * ax[2];
        cr[0] = ax[1] * v[2] - ax[2] * v[1];
        cr[1] = ax[2] * v[0] - ax[0] * v[2];
        cr[2] = ax[0] * v[1] - ax[1] * v[0];
        for (int k = 0; k < 3; k++) g->x[a][k] = o[k] + v[k] * c + cr[k] * s + ax[k] * d * (1 - c);
    }
}

/* Set the torsion to target degrees. */
static void set_torsion(geom *g, const int *side, double target)
{
    for (int it = 0; it < 3; it++) { /* the sense of rotation vs the dihedral sign: iterate */
        double d = target - torsion(g);
        while (d > 180) d -= 360;
        while (d < -180) d += 360;
        rotate_half(g, side, d);
    }
}

/* Gaussian noise, sigma for heavy atoms and twice that for hydrogens (light atoms move more). */
static void noise(geom *g, double sigma)
{
    for (int a = 0; a < g->n; a++) {
        double sa = g->z[a] == 1 ? 2 * sigma : sigma;
        for (int k = 0; k < 3; k++) g->x[a][k] += sa * gauss();
    }
}

/* Push central carbon c out of the plane of its three neighbours by delta Angstrom. */
static void pyramidalize(geom *g, int c, double delta)
{
    int nb[3], m = 0;
    for (int b = 0; b < g->n && m < 3; b++) {
        if (b == c) continue;
        double lim = g->z[b] == 1 ? 1.25 : 1.75;
        if (dist(g->x[c], g->x[b]) < lim) nb[m++] = b;
    }
    if (m < 3) return;
    double u[3], v[3], nrm[3];
    for (int k = 0; k < 3; k++) {
        u[k] = g->x[nb[1]][k] - g->x[nb[0]][k];
        v[k] = g->x[nb[2]][k] - g->x[nb[0]][k];
    }
    nrm[0] = u[1] * v[2] - u[2] * v[1];
    nrm[1] = u[2] * v[0] - u[0] * v[2];
    nrm[2] = u[0] * v[1] - u[1] * v[0];
    double l = sqrt(nrm[0] * nrm[0] + nrm[1] * nrm[1] + nrm[2] * nrm[2]);
    for (int k = 0; k < 3; k++) g->x[c][k] += delta * nrm[k] / l;
}

static void emit(const geom *g, const char *id, const char *origin)
{
    double x[NA_MAX * 3];
    for (int a = 0; a < g->n; a++)
        for (int k = 0; k < 3; k++) x[3 * a + k] = g->x[a][k] * FH_ANGSTROM_BOHR;
    char comment[256];
    snprintf(comment, sizeof comment, "id=%s origin=%s torsion=%.1f", id, origin, torsion(g));
    fh_xyz_write_frame(stdout, g->n, g->z, x, comment);
}

static int load(const char *path, geom *g)
{
    fh_err err = {0};
    fh_xyz *xyz = NULL;
    if (fh_xyz_read(path, &xyz, &err)) {
        fprintf(stderr, "stilbene_geoms: %s\n", err.msg);
        return -1;
    }
    if (xyz->natoms > NA_MAX) {
        fh_xyz_free(xyz);
        return -1;
    }
    g->n = xyz->natoms;
    for (int a = 0; a < g->n; a++) {
        g->z[a] = xyz->z[a];
        for (int k = 0; k < 3; k++) g->x[a][k] = xyz->x[3 * a + k] * FH_BOHR_ANGSTROM;
    }
    fh_xyz_free(xyz);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cis_path = NULL, *trans_path = NULL;
    unsigned long seed = 1;
    int nrandom = 150, npyr = 100, nnoise = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--cis")) cis_path = argv[i + 1];
        else if (!strcmp(argv[i], "--trans")) trans_path = argv[i + 1];
        else if (!strcmp(argv[i], "--seed")) seed = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--nrandom")) nrandom = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--npyr")) npyr = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--nnoise")) nnoise = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "stilbene_geoms: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    geom cis, trans;
    if (!cis_path || !trans_path || load(cis_path, &cis) || load(trans_path, &trans)) {
        fprintf(stderr, "usage: stilbene_geoms --cis CIS.xyz --trans TRANS.xyz [--seed N]\n");
        return 2;
    }
    if (cis.n != trans.n || ipso_of(&cis, 0) < 0 || ipso_of(&cis, 1) < 0) {
        fprintf(stderr, "stilbene_geoms: the two geometries must match, atoms 1-2 the C=C\n");
        return 2;
    }
    rng_state = seed * 0x2545F4914F6CDD1Dull + 1;
    int side[NA_MAX];
    right_half(&cis, side);
    char id[64];

    /* torsion scans (the sign of the dihedral follows the minimum's) */
    double tc = torsion(&cis), sc = tc < 0 ? -1 : 1;
    for (int phi = (int)ceil(fabs(tc) / 5.0) * 5; phi <= 180; phi += 5) {
        geom g = cis;
        set_torsion(&g, side, sc * phi);
        snprintf(id, sizeof id, "scan-cis-%03d", phi);
        emit(&g, id, "torsion-scan");
    }
    double tt = torsion(&trans), st = tt < 0 ? -1 : 1;
    for (int phi = 180; phi >= 40; phi -= 5) {
        geom g = trans;
        set_torsion(&g, side, st * phi);
        snprintf(id, sizeof id, "scan-trans-%03d", phi);
        emit(&g, id, "torsion-scan");
    }

    /* random families, interleaved */
    int nmax = nrandom;
    if (npyr > nmax) nmax = npyr;
    if (nnoise > nmax) nmax = nnoise;
    for (int k = 0; k < nmax; k++) {
        if (k < nnoise) {
            geom g = cis;
            noise(&g, 0.02 + 0.015 * uniform());
            snprintf(id, sizeof id, "cis-noise2-%04d", k);
            emit(&g, id, "cis-noise");
        }
        if (k < npyr) {
            double phi = 60 + 60 * uniform();
            geom g = phi < 90 || uniform() < 0.5 ? cis : trans;
            double sgn = uniform() < 0.5 ? -1 : 1;
            set_torsion(&g, side, sgn * phi);
            pyramidalize(&g, uniform() < 0.5 ? 0 : 1, 0.4 * (2 * uniform() - 1));
            noise(&g, 0.02);
            snprintf(id, sizeof id, "twisted-pyr-%04d", k);
            emit(&g, id, "twisted-pyr");
        }
        if (k < nnoise) {
            geom g = trans;
            noise(&g, 0.02 + 0.015 * uniform());
            snprintf(id, sizeof id, "trans-noise2-%04d", k);
            emit(&g, id, "trans-noise");
        }
        if (k < nrandom) {
            double phi = 180 * uniform();
            geom g = phi < 40 || uniform() < 0.5 ? cis : trans;
            double sgn = uniform() < 0.5 ? -1 : 1;
            set_torsion(&g, side, sgn * phi);
            noise(&g, 0.02);
            snprintf(id, sizeof id, "torsion-random-%04d", k);
            emit(&g, id, "torsion-random");
        }
    }
    return 0;
}
