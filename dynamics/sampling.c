/* Geometry generators for reference data (see fh_sampling.h). Geometric generators rotate one
 * fragment of the molecule rigidly about a bond (found by a graph search over covalent bonds), push
 * one atom out of the plane of its neighbours and add Gaussian noise; the random numbers of
 * geometry k come from the Philox stream of (seed, k) only. Wigner samples take their normal modes
 * from the provider's Hessian or from an ML model's (for OpenMolcas the finite-difference Hessian
 * costs 6N CASSCF gradients; a model's costs seconds). Lists made elsewhere come in as XYZ frames;
 * the geometries of another dataset (e.g. the same list at a cheaper level of theory for
 * pretraining) keep that dataset's ids and origins. */
#include "fh_sampling.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fh_bonds.h"
#include "fh_dynamics.h"
#include "fh_h5md.h"
#include "fh_units.h"
#include "fh_xyz.h"

#define PI 3.14159265358979323846

static const char *const kind_names[FH_SAMP_NKINDS] = {
    "torsion", "torsion_random", "twisted", "noise", "wigner", "trajectories", "xyz", "dataset"};
static const char *const origins[FH_SAMP_NKINDS] = {
    "torsion-scan", "torsion-random", "twisted-pyr", "noise", "wigner", "active-learning", "xyz",
    "dataset"};

const char *fh_samp_kind_name(fh_samp_kind k)
{
    return (int)k >= 0 && (int)k < FH_SAMP_NKINDS ? kind_names[k] : "unknown";
}

const char *fh_samp_origin(fh_samp_kind k)
{
    return (int)k >= 0 && (int)k < FH_SAMP_NKINDS ? origins[k] : "unknown";
}

int fh_samp_kind_parse(const char *name, fh_samp_kind *k)
{
    for (int i = 0; i < FH_SAMP_NKINDS; i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *k = (fh_samp_kind)i;
            return 0;
        }
    return -1;
}

/* ------------------------------------------------------------------------------------------------
 * Random numbers: counters 2^62 + kind * 2^40 + j keep every generator's stream apart from the
 * others and from the dynamics' own counters (hops count up from 1, initial conditions from 2^63). */

static uint64_t counter(fh_samp_kind kind, uint64_t j)
{
    return (1ull << 62) + ((uint64_t)kind << 40) + j;
}

double fh_samp_uniform(fh_samp_kind kind, uint64_t seed, uint64_t k, uint64_t j)
{
    return fh_dyn_uniform(seed, k, counter(kind, j), 2);
}

double fh_samp_normal(fh_samp_kind kind, uint64_t seed, uint64_t k, uint64_t j)
{
    double u = fh_dyn_uniform(seed, k, counter(kind, j), 0);
    double v = fh_dyn_uniform(seed, k, counter(kind, j), 1);
    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * PI * v); /* 1 - u lies in (0, 1] */
}

/* ------------------------------------------------------------------------------------------------
 * Geometry */

static void sub(const double *a, const double *b, double *out)
{
    for (int k = 0; k < 3; k++) out[k] = a[k] - b[k];
}
static double dot(const double *a, const double *b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
static void cross(const double *a, const double *b, double *out)
{
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

double fh_samp_dihedral(const double *x, int a, int b, int c, int d)
{
    double b0[3], b1[3], b2[3], n1[3], n2[3], m[3];
    sub(x + 3 * a, x + 3 * b, b0);
    sub(x + 3 * c, x + 3 * b, b1);
    sub(x + 3 * d, x + 3 * c, b2);
    double l = sqrt(dot(b1, b1));
    for (int k = 0; k < 3; k++) b1[k] /= l;
    /* the components of b0 and b2 perpendicular to the axis, and the angle between them */
    double d0 = dot(b0, b1), d2 = dot(b2, b1);
    for (int k = 0; k < 3; k++) {
        n1[k] = b0[k] - d0 * b1[k];
        n2[k] = b2[k] - d2 * b1[k];
    }
    cross(b1, n1, m);
    return atan2(dot(m, n2), dot(n1, n2));
}

static int bonded(const int *z, const double *x, int i, int j)
{
    return fh_bond_within(z, x, i, j, 1.25);
}

int fh_samp_fragment(int natoms, const int *z, const double *x, int b, int c, int *side,
                     fh_err *err)
{
    if (!bonded(z, x, b, c))
        return fh_err_set(err, FH_EINPUT, "atoms %d and %d are not bonded: no torsion about them",
                          b + 1, c + 1);
    int *stack = malloc((size_t)natoms * sizeof *stack), top = 0;
    if (!stack) return fh_err_set(err, FH_EFAIL, "out of memory");
    for (int i = 0; i < natoms; i++) side[i] = 0;
    side[c] = 1;
    stack[top++] = c;
    int ring = 0;
    while (top) {
        int i = stack[--top];
        for (int j = 0; j < natoms; j++) {
            if (side[j] || j == i || !bonded(z, x, i, j)) continue;
            if (j == b) { /* only the bond c-b itself may lead back to b */
                if (i != c) ring = 1;
                continue;
            }
            side[j] = 1;
            stack[top++] = j;
        }
    }
    free(stack);
    if (ring)
        return fh_err_set(err, FH_EINPUT, "the bond %d-%d lies in a ring: its torsion cannot be "
                          "changed by rotating one fragment", b + 1, c + 1);
    return FH_OK;
}

void fh_samp_rotate(int natoms, double *x, const int *side, int b, int c, double angle)
{
    double ax[3], o[3];
    for (int k = 0; k < 3; k++) o[k] = x[3 * c + k];
    sub(x + 3 * c, x + 3 * b, ax);
    double l = sqrt(dot(ax, ax));
    for (int k = 0; k < 3; k++) ax[k] /= l;
    double co = cos(angle), si = sin(angle);
    for (int i = 0; i < natoms; i++) {
        if (!side[i] || i == c) continue;
        double v[3], cr[3]; /* Rodrigues' formula about the axis through c */
        sub(x + 3 * i, o, v);
        cross(ax, v, cr);
        double d = dot(ax, v);
        for (int k = 0; k < 3; k++)
            x[3 * i + k] = o[k] + v[k] * co + cr[k] * si + ax[k] * d * (1.0 - co);
    }
}

static double wrap(double a) /* to (-pi, pi] */
{
    a = fmod(a, 2.0 * PI);
    if (a > PI) a -= 2.0 * PI;
    if (a <= -PI) a += 2.0 * PI;
    return a;
}

void fh_samp_set_dihedral(int natoms, double *x, const int *side, const int dih[4], double phi)
{
    double now = fh_samp_dihedral(x, dih[0], dih[1], dih[2], dih[3]);
    fh_samp_rotate(natoms, x, side, dih[1], dih[2], wrap(phi - now));
}

int fh_samp_pyramidalize(int natoms, const int *z, double *x, int c, double delta, fh_err *err)
{
    int nb[3] = {-1, -1, -1};
    double dn[3] = {INFINITY, INFINITY, INFINITY};
    for (int j = 0; j < natoms; j++) { /* the three nearest bonded neighbours */
        if (j == c || !bonded(z, x, c, j)) continue;
        double v[3];
        sub(x + 3 * j, x + 3 * c, v);
        double r = dot(v, v);
        for (int m = 0; m < 3; m++)
            if (r < dn[m]) {
                for (int q = 2; q > m; q--) {
                    dn[q] = dn[q - 1];
                    nb[q] = nb[q - 1];
                }
                dn[m] = r;
                nb[m] = j;
                break;
            }
    }
    if (nb[2] < 0)
        return fh_err_set(err, FH_EINPUT, "atom %d has fewer than three bonded neighbours: it "
                          "cannot be pyramidalized", c + 1);
    double u[3], v[3], n[3];
    sub(x + 3 * nb[1], x + 3 * nb[0], u);
    sub(x + 3 * nb[2], x + 3 * nb[0], v);
    cross(u, v, n);
    double l = sqrt(dot(n, n));
    for (int k = 0; k < 3; k++) x[3 * c + k] += delta * n[k] / l;
    return FH_OK;
}

/* ------------------------------------------------------------------------------------------------
 * Generators */

static int needs_dihedral(fh_samp_kind k)
{
    return k == FH_SAMP_TORSION || k == FH_SAMP_TORSION_RANDOM || k == FH_SAMP_TWISTED;
}

int fh_samp_kind_takes_list(fh_samp_kind k)
{
    return k == FH_SAMP_TRAJECTORIES || k == FH_SAMP_XYZ || k == FH_SAMP_DATASET;
}

/* An origin tag fits the dataset's field and is one word of printable characters. */
static int origin_ok(const char *o)
{
    size_t n = strlen(o);
    if (n < 1 || n >= FH_DATASET_ORIGIN_LEN) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char)o[i])) return 0;
    return 1;
}

int fh_samp_config_check(const fh_samp_config *c, int natoms, fh_err *err)
{
    if ((int)c->kind < 0 || (int)c->kind >= FH_SAMP_NKINDS)
        return fh_err_set(err, FH_EINPUT, "unknown generator");
    if (c->count < 0 || (c->count == 0 && !fh_samp_kind_takes_list(c->kind)))
        return fh_err_set(err, FH_EINPUT, "count must be at least 1");
    if (natoms < 1) return fh_err_set(err, FH_EINPUT, "the generators need a molecule");
    if (needs_dihedral(c->kind)) {
        for (int i = 0; i < 4; i++) {
            if (c->dihedral[i] < 0 || c->dihedral[i] >= natoms)
                return fh_err_set(err, FH_EINPUT, "dihedral atom %d is not in 1..%d",
                                  c->dihedral[i] + 1, natoms);
            for (int j = 0; j < i; j++)
                if (c->dihedral[i] == c->dihedral[j])
                    return fh_err_set(err, FH_EINPUT, "dihedral names atom %d twice",
                                      c->dihedral[i] + 1);
        }
        if (!isfinite(c->from) || !isfinite(c->to))
            return fh_err_set(err, FH_EINPUT, "the torsion range needs 'from' and 'to'");
    }
    if (c->noise < 0 || c->pyramid < 0)
        return fh_err_set(err, FH_EINPUT, "noise and pyramid must not be negative");
    if (c->kind == FH_SAMP_TRAJECTORIES) {
        if (!c->source || !*c->source)
            return fh_err_set(err, FH_EINPUT, "generator trajectories needs 'source' (a run "
                              "directory)");
        if (c->stride < 1) return fh_err_set(err, FH_EINPUT, "stride must be at least 1");
    }
    if (c->kind == FH_SAMP_XYZ && (!c->source || !*c->source))
        return fh_err_set(err, FH_EINPUT, "generator xyz needs 'source' (a multi-frame XYZ file)");
    if (c->kind == FH_SAMP_DATASET && (!c->source || !*c->source))
        return fh_err_set(err, FH_EINPUT, "generator dataset needs 'source' (a dataset file)");
    if (c->origin && *c->origin && !origin_ok(c->origin))
        return fh_err_set(err, FH_EINPUT, "origin '%s' must be one word of at most %d printable "
                          "characters", c->origin, FH_DATASET_ORIGIN_LEN - 1);
    return FH_OK;
}

static void add_noise(const fh_samp_config *c, long k, int n3, uint64_t j0, double *x)
{
    if (c->noise <= 0) return;
    for (int i = 0; i < n3; i++)
        x[i] += c->noise * fh_samp_normal(c->kind, c->seed, (uint64_t)k, j0 + (uint64_t)i);
}

int fh_samp_geometry(const fh_samp_config *c, int natoms, const int *z, const double *x0, long k,
                     double *x, fh_err *err)
{
    int rc = fh_samp_config_check(c, natoms, err), n3 = 3 * natoms;
    if (rc != FH_OK) return rc;
    memcpy(x, x0, (size_t)n3 * sizeof *x);
    if (c->kind == FH_SAMP_NOISE) {
        add_noise(c, k, n3, 0, x);
        return FH_OK;
    }
    if (!needs_dihedral(c->kind))
        return fh_err_set(err, FH_EINPUT, "generator %s needs more than the geometry",
                          fh_samp_kind_name(c->kind));
    int *side = malloc((size_t)natoms * sizeof *side);
    if (!side) return fh_err_set(err, FH_EFAIL, "out of memory");
    rc = fh_samp_fragment(natoms, z, x0, c->dihedral[1], c->dihedral[2], side, err);
    if (rc == FH_OK) {
        double phi;
        if (c->kind == FH_SAMP_TORSION)
            phi = c->count > 1 ? c->from + (c->to - c->from) * (double)k / (double)(c->count - 1)
                               : c->from;
        else
            phi = c->from + (c->to - c->from) * fh_samp_uniform(c->kind, c->seed, (uint64_t)k, 0);
        fh_samp_set_dihedral(natoms, x, side, c->dihedral, phi);
        if (c->kind == FH_SAMP_TWISTED && c->pyramid > 0) {
            double u = fh_samp_uniform(c->kind, c->seed, (uint64_t)k, 1);
            rc = fh_samp_pyramidalize(natoms, z, x, c->dihedral[2], c->pyramid * (2.0 * u - 1.0),
                                      err);
        }
        /* the scan is exact (no noise); the random kinds get noise on top */
        if (rc == FH_OK && c->kind != FH_SAMP_TORSION) add_noise(c, k, n3, 0, x);
    }
    free(side);
    return rc;
}

/* ------------------------------------------------------------------------------------------------
 * Wigner: Hessian cache */

/* The cache holds the reference geometry it was made for (input, bohr), the geometry the Hessian
 * belongs to (the optimised minimum when optimising, else the same), then H (hartree/bohr^2). */
static int cache_read(const char *path, int n, const double *x0, int optimize, double *xm, double *H)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int nn = 0, opt = -1, ok = fscanf(f, "fusionhop-hessian %d %d", &nn, &opt) == 2 && nn == n &&
                                opt == optimize;
    for (int i = 0; ok && i < n; i++) {
        double v;
        ok = fscanf(f, "%lf", &v) == 1 && fabs(v - x0[i]) <= 1e-10 * fmax(1.0, fabs(x0[i]));
    }
    for (int i = 0; ok && i < n; i++) ok = fscanf(f, "%lf", &xm[i]) == 1 && isfinite(xm[i]);
    for (long i = 0; ok && i < (long)n * n; i++) ok = fscanf(f, "%lf", &H[i]) == 1 && isfinite(H[i]);
    fclose(f);
    return ok ? 0 : -1;
}

static void write_vec(FILE *f, int n, const double *v, int per_line)
{
    for (int i = 0; i < n; i++) fprintf(f, "%.17g%c", v[i], (i + 1) % per_line == 0 || i == n - 1 ? '\n' : ' ');
}

static int cache_write(const char *path, int n, const double *x0, int optimize, const double *xm,
                       const double *H, fh_err *err)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return fh_err_set(err, FH_EINPUT, "Hessian cache path too long");
    FILE *f = fopen(tmp, "w");
    if (!f) return fh_err_set(err, FH_EFAIL, "cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "fusionhop-hessian %d %d\n", n, optimize);
    write_vec(f, n, x0, 3);
    write_vec(f, n, xm, 3);
    for (int i = 0; i < n; i++) write_vec(f, n, H + (long)i * n, n);
    int bad = ferror(f);
    if (fclose(f) || bad || rename(tmp, path)) {
        remove(tmp);
        return fh_err_set(err, FH_EFAIL, "cannot write %s", path);
    }
    return FH_OK;
}

int fh_samp_modes_alloc(fh_surface *s, const double *x0, int optimize, const char *cache,
                        fh_dyn_modes **out, fh_err *err)
{
    *out = NULL;
    int n = s->ndof, rc = FH_OK;
    if (s->natoms < 2 || !(s->caps & FH_CAP_GRADIENT))
        return fh_err_set(err, FH_EINPUT, "Wigner sampling needs a molecular provider with "
                          "gradients");
    double *H = malloc((size_t)n * (size_t)n * sizeof *H), *xm = malloc((size_t)n * sizeof *xm);
    if (!H || !xm) rc = fh_err_set(err, FH_EFAIL, "out of memory");
    if (rc == FH_OK && (!cache || cache_read(cache, n, x0, optimize, xm, H) != 0)) {
        memcpy(xm, x0, (size_t)n * sizeof *xm);
        if (optimize) rc = fh_dyn_optimize(s, 0, xm, 1e-5, 2000, err);
        if (rc == FH_OK) rc = fh_dyn_hessian_fd(s, 0, xm, 5e-3, H, err);
        if (rc == FH_OK && cache) rc = cache_write(cache, n, x0, optimize, xm, H, err);
    }
    if (rc == FH_OK) {
        rc = fh_dyn_modes_alloc(s->natoms, xm, s->mass, H, 50.0 / FH_HARTREE_CM1, out, err);
        if (rc == FH_EINPUT) fh_err_prefix(err, "the reference geometry (optimize = true?): ");
    }
    free(H);
    free(xm);
    return rc;
}

/* ------------------------------------------------------------------------------------------------
 * Lists */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

#define FNV_START 0xcbf29ce484222325ull

static uint32_t fold(uint64_t h) { return (uint32_t)(h ^ (h >> 32)); }

/* FNV-1a hash of a file's bytes (the Hessian's model file: it names the model's exact weights). */
static int file_hash(const char *path, uint64_t *out, fh_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return fh_err_set(err, FH_EINPUT, "cannot open %s: %s", path, strerror(errno));
    uint64_t h = FNV_START;
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) h = fnv(h, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) return fh_err_set(err, FH_EINPUT, "cannot read %s", path);
    *out = h;
    return FH_OK;
}

static int has_hessian_model(const fh_samp_config *c)
{
    return c->kind == FH_SAMP_WIGNER && c->hessian_model && *c->hessian_model;
}

int fh_samp_hessian_cache_path(const fh_samp_config *c, const char *dataset, char **out,
                               fh_err *err)
{
    *out = NULL;
    const char *base = "";
    uint64_t h = 0;
    if (has_hessian_model(c)) {
        int rc = file_hash(c->hessian_model, &h, err);
        if (rc != FH_OK) return fh_err_prefix(err, "hessian_model: ");
        base = strrchr(c->hessian_model, '/');
        base = base ? base + 1 : c->hessian_model;
    }
    size_t len = strlen(dataset) + strlen(base) + 40;
    char *p = malloc(len);
    if (!p) return fh_err_set(err, FH_EFAIL, "out of memory");
    if (has_hessian_model(c))
        snprintf(p, len, "%s.hessian-%s-%08x.txt", dataset, base, (unsigned)fold(h));
    else
        snprintf(p, len, "%s.hessian.txt", dataset);
    *out = p;
    return FH_OK;
}

/* Hash of everything geometry k depends on besides (seed, k); model_hash: of the Hessian's
 * model file (wigner with hessian_model only; the provider's Hessian adds nothing, which keeps
 * the ids of datasets made before models could supply it). */
static uint32_t param_tag(const fh_samp_config *c, int n3, const double *x0, uint64_t model_hash)
{
    uint64_t h = FNV_START;
    h = fnv(h, &c->kind, sizeof c->kind);
    h = fnv(h, x0, (size_t)n3 * sizeof *x0);
    if (needs_dihedral(c->kind)) {
        h = fnv(h, c->dihedral, sizeof c->dihedral);
        h = fnv(h, &c->from, sizeof c->from);
        h = fnv(h, &c->to, sizeof c->to);
    }
    if (c->kind == FH_SAMP_TORSION) h = fnv(h, &c->count, sizeof c->count);
    if (c->kind != FH_SAMP_TORSION && c->kind != FH_SAMP_WIGNER) h = fnv(h, &c->noise, sizeof c->noise);
    if (c->kind == FH_SAMP_TWISTED) h = fnv(h, &c->pyramid, sizeof c->pyramid);
    if (c->kind == FH_SAMP_WIGNER) {
        h = fnv(h, &c->temperature, sizeof c->temperature);
        h = fnv(h, &c->optimize, sizeof c->optimize);
        if (has_hessian_model(c)) {
            static const char mark[] = "hessian_model";
            h = fnv(h, mark, sizeof mark);
            h = fnv(h, &model_hash, sizeof model_hash);
        }
    }
    return fold(h);
}

/* Room for n geometries (n >= 1); the set keeps its contents. */
static int set_reserve(fh_samp_set *s, int n, fh_err *err)
{
    double *x = realloc(s->x, (size_t)n * (size_t)s->natoms * 3 * sizeof *x);
    if (x) s->x = x;
    char(*id)[FH_DATASET_ID_LEN] = x ? realloc(s->id, (size_t)n * sizeof *id) : NULL;
    if (id) s->id = id;
    char(*origin)[FH_DATASET_ORIGIN_LEN] = id ? realloc(s->origin, (size_t)n * sizeof *origin) : NULL;
    if (origin) s->origin = origin;
    return origin ? FH_OK : fh_err_set(err, FH_EFAIL, "out of memory");
}

static int set_alloc(int n, int natoms, fh_samp_set **out, fh_err *err)
{
    fh_samp_set *s = calloc(1, sizeof *s);
    if (!s) return fh_err_set(err, FH_EFAIL, "out of memory");
    s->natoms = natoms;
    int rc = set_reserve(s, n > 0 ? n : 1, err);
    if (rc != FH_OK) {
        fh_samp_set_free(s);
        return rc;
    }
    *out = s;
    return FH_OK;
}

void fh_samp_set_free(fh_samp_set *set)
{
    if (!set) return;
    free(set->x);
    free(set->id);
    free(set->origin);
    free(set);
}

static const char *origin_of(const fh_samp_config *c)
{
    if (c->origin && *c->origin) return c->origin;
    if (c->kind == FH_SAMP_TRAJECTORIES && c->at_hops) return "hops";
    return fh_samp_origin(c->kind);
}

/* at_hops: 1 for the last frame at or before each hop down to a lower state that took place
 * (not frustrated): where the dynamics decided to leave the upper surface. */
static int hop_frames(fh_h5md_reader *r, long nf, char *pick, fh_err *err)
{
    long nh = fh_h5md_reader_nhops(r);
    if (nh <= 0 || nf <= 0) return FH_OK;
    double *t = malloc((size_t)nf * sizeof *t);
    fh_h5md_hop *h = malloc((size_t)nh * sizeof *h);
    int rc = t && h ? FH_OK : fh_err_set(err, FH_EFAIL, "out of memory");
    if (rc == FH_OK) rc = fh_h5md_read_times(r, 0, nf, t, err);
    if (rc == FH_OK) rc = fh_h5md_read_hops(r, h, err);
    for (long i = 0; rc == FH_OK && i < nh; i++) {
        if (!h[i].frustrated && h[i].to < h[i].from) pick[fh_h5md_frame_at(t, nf, h[i].time)] = 1;
    }
    free(t);
    free(h);
    return rc;
}

/* Frames of a run whose committee spread is large (or, with at_hops, the frames at or before its
 * hops down). Two passes: the qualifying frames (every
 * stride-th of them, in order of trajectory and frame) are listed first, then `count` of them are
 * taken evenly spread over the list, so that a cap does not spend itself on the first
 * trajectories. Ids carry a hash of the frame's coordinates: the next active-learning round reruns
 * the same deck (same seed, trajectory and frame numbers) on a new model, and its frames must not
 * be mistaken for the ones already computed. */
typedef struct {
    long traj, frame;
} frame_ref;

/* bond_break: 1 for each frame of the trajectory where the molecule has more parts than in the
 * first frame (the run went on after an atom flew off: no use as data). */
static int apart_frames(fh_h5md_reader *r, long nf, double factor, char *apart, fh_err *err)
{
    int natoms = fh_h5md_reader_natoms(r);
    const int *z = fh_h5md_reader_species(r);
    memset(apart, 0, (size_t)nf);
    for (int i = 0; i < natoms; i++)
        if (z[i] <= 0) return FH_OK; /* model coordinates, not a molecule */
    double *x = malloc((size_t)nf * (size_t)natoms * 3 * sizeof *x);
    int *label = malloc((size_t)natoms * sizeof *label), rc = FH_OK, nfrag0 = 0;
    if (!x || !label) rc = fh_err_set(err, FH_EFAIL, "out of memory");
    if (rc == FH_OK) rc = fh_h5md_read_positions(r, 0, nf, x, err);
    for (long f = 0; rc == FH_OK && f < nf; f++) {
        int nfrag = fh_bond_fragments(natoms, z, x + (size_t)f * natoms * 3, factor, label);
        if (f == 0) nfrag0 = nfrag;
        apart[f] = nfrag > nfrag0;
    }
    free(x);
    free(label);
    return rc;
}

static int pick_frames(const fh_samp_config *c, int natoms, frame_ref **out, long *nout,
                         int *napart, fh_err *err)
{
    *out = NULL;
    *nout = 0;
    fh_ens *e = NULL;
    int rc = fh_ens_open(c->source, 0, &e, err);
    if (rc != FH_OK) return rc;
    long ntraj = fh_ens_ntraj(e), qualifying = 0, n = 0, cap = 0;
    fh_ens_close(e, NULL);
    frame_ref *list = NULL;
    for (long t = 0; t < ntraj && rc == FH_OK; t++) {
        char path[4200];
        if (fh_ens_traj_path(c->source, t, path, sizeof path) != 0) {
            rc = fh_err_set(err, FH_EINPUT, "%s: path too long", c->source);
            break;
        }
        FILE *probe = fopen(path, "rb");
        if (!probe) continue; /* not started */
        fclose(probe);
        fh_h5md_reader *r = NULL;
        if ((rc = fh_h5md_reader_open(path, &r, err)) != FH_OK) break;
        long nf = fh_h5md_reader_nframes(r);
        int ns = fh_h5md_reader_nstates(r);
        if (!c->at_hops && !fh_h5md_reader_has_spread(r))
            rc = fh_err_set(err, FH_EINPUT, "%s has no committee energy spread (the run's model is "
                            "not a committee; [sample] frames = hops needs none)", path);
        else if (fh_h5md_reader_natoms(r) != natoms)
            rc = fh_err_set(err, FH_EINPUT, "%s has %d atoms, the reference geometry %d", path,
                            fh_h5md_reader_natoms(r), natoms);
        double *sp = NULL;
        char *apart = NULL, *pick = NULL;
        if (rc == FH_OK && nf > 0) {
            sp = c->at_hops ? NULL : malloc((size_t)nf * (size_t)ns * sizeof *sp);
            apart = calloc((size_t)nf, 1);
            pick = calloc((size_t)nf, 1);
            if ((!c->at_hops && !sp) || !apart || !pick)
                rc = fh_err_set(err, FH_EFAIL, "out of memory");
            if (rc == FH_OK && c->at_hops) rc = hop_frames(r, nf, pick, err);
            if (rc == FH_OK && !c->at_hops) rc = fh_h5md_read_spread(r, 0, nf, sp, err);
            for (long f = 0; rc == FH_OK && !c->at_hops && f < nf; f++) {
                double m = 0;
                for (int st = 0; st < ns; st++) m = fmax(m, sp[f * ns + st]);
                pick[f] = m > c->spread_min;
            }
            if (rc == FH_OK && c->bond_break > 0)
                rc = apart_frames(r, nf, c->bond_break, apart, err);
        }
        for (long f = 0; rc == FH_OK && f < nf; f++) {
            if (!pick[f]) continue;
            if (apart[f]) {
                (*napart)++;
                continue;
            }
            if (qualifying++ % c->stride != 0) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                frame_ref *grown = realloc(list, (size_t)cap * sizeof *list);
                if (!grown) {
                    rc = fh_err_set(err, FH_EFAIL, "out of memory");
                    break;
                }
                list = grown;
            }
            list[n].traj = t;
            list[n].frame = f;
            n++;
        }
        free(sp);
        free(apart);
        free(pick);
        fh_h5md_reader_close(r);
    }
    if (rc != FH_OK) {
        free(list);
        return rc;
    }
    *out = list;
    *nout = n;
    return FH_OK;
}

static int from_trajectories(const fh_samp_config *c, int natoms, fh_samp_set *set, fh_err *err)
{
    frame_ref *list = NULL;
    long n = 0;
    int rc = pick_frames(c, natoms, &list, &n, &set->apart, err);
    if (rc != FH_OK) return rc;
    long take = c->count > 0 && c->count < n ? c->count : n;
    int n3 = 3 * natoms;
    if (take > 0) rc = set_reserve(set, (int)take, err);
    fh_h5md_reader *r = NULL;
    long open_traj = -1;
    for (long k = 0; rc == FH_OK && k < take; k++) {
        /* evenly spread: the k-th of `take` picks list entry floor(k n / take) */
        const frame_ref *q = &list[(long)((double)k * (double)n / (double)take)];
        if (q->traj != open_traj) {
            if (r) fh_h5md_reader_close(r);
            r = NULL;
            char path[4200];
            fh_ens_traj_path(c->source, q->traj, path, sizeof path);
            if ((rc = fh_h5md_reader_open(path, &r, err)) != FH_OK) break;
            open_traj = q->traj;
        }
        double *x = set->x + (size_t)set->n * n3;
        if ((rc = fh_h5md_read_positions(r, q->frame, 1, x, err)) != FH_OK) break;
        uint64_t h = fnv(FNV_START, x, (size_t)n3 * sizeof *x);
        snprintf(set->id[set->n], FH_DATASET_ID_LEN, "traj-%08x-t%ld-f%ld", (unsigned)fold(h),
                 q->traj, q->frame);
        snprintf(set->origin[set->n], FH_DATASET_ORIGIN_LEN, "%s", origin_of(c));
        set->n++;
    }
    if (r) fh_h5md_reader_close(r);
    free(list);
    return rc;
}

/* The value of the token key=VALUE of an XYZ comment line (a token starts the line or follows
 * white space), copied into buf; its length, or -1 when absent. */
static long comment_value(const char *comment, const char *key, char *buf, size_t size)
{
    size_t kl = strlen(key);
    for (const char *p = comment; *p; p++) {
        if (p != comment && !isspace((unsigned char)p[-1])) continue;
        if (strncmp(p, key, kl) != 0 || p[kl] != '=') continue;
        p += kl + 1;
        size_t n = 0;
        while (p[n] && !isspace((unsigned char)p[n])) n++;
        size_t m = n < size ? n : size - 1;
        memcpy(buf, p, m);
        buf[m] = '\0';
        return (long)n;
    }
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A list made elsewhere (WHAT in PATH) must hold the reference's atoms in the same order; NEED
 * names who needs that in the message. */
static int same_atoms(const char *path, const char *what, const char *need, int n, const int *zs,
                      int natoms, const int *z, fh_err *err)
{
    if (n != natoms)
        return fh_err_set(err, FH_EINPUT, "%s: error: %s has %d atoms, the reference geometry %d "
                          "(%s the reference's atoms in the same order)", path, what, n, natoms,
                          need);
    for (int a = 0; a < natoms; a++)
        if (zs[a] != z[a])
            return fh_err_set(err, FH_EINPUT, "%s: error: %s: atom %d is %s, in the reference "
                              "geometry %s (%s the reference's atoms in the same order)", path,
                              what, a + 1, fh_element_symbol(zs[a]), fh_element_symbol(z[a]), need);
    return FH_OK;
}

static int from_xyz(const fh_samp_config *c, int natoms, const int *z, fh_samp_set **out,
                    fh_err *err)
{
    const char *path = c->source;
    fh_xyz *g = NULL;
    int rc = fh_xyz_read(path, &g, err);
    if (rc != FH_OK) return rc;
    rc = same_atoms(path, "frame 1", "the frames need", g->natoms, g->z, natoms, z, err);
    int n = c->count > 0 && c->count < g->nframes ? (int)c->count : g->nframes, n3 = 3 * natoms;
    fh_samp_set *set = NULL;
    if (rc == FH_OK) rc = set_alloc(n, natoms, &set, err);
    for (int k = 0; rc == FH_OK && k < n; k++) {
        const double *x = g->x + (size_t)k * n3;
        memcpy(set->x + (size_t)k * n3, x, (size_t)n3 * sizeof *x);
        char buf[FH_DATASET_ID_LEN];
        long len = comment_value(g->comments[k], "id", buf, sizeof buf);
        if (len == 0 || len >= FH_DATASET_ID_LEN) {
            rc = fh_err_set(err, FH_EINPUT, "%s: error: frame %d: id= needs 1 to %d characters",
                            path, k + 1, FH_DATASET_ID_LEN - 1);
            break;
        }
        if (len > 0) {
            memcpy(set->id[k], buf, (size_t)len + 1);
        } else {
            uint64_t h = FNV_START;
            h = fnv(h, z, (size_t)natoms * sizeof *z);
            h = fnv(h, x, (size_t)n3 * sizeof *x);
            snprintf(set->id[k], FH_DATASET_ID_LEN, "xyz-%08x-%d", (unsigned)fold(h), k);
        }
        char obuf[FH_DATASET_ORIGIN_LEN];
        len = comment_value(g->comments[k], "origin", obuf, sizeof obuf);
        if (len == 0 || len >= FH_DATASET_ORIGIN_LEN) {
            rc = fh_err_set(err, FH_EINPUT, "%s: error: frame %d: origin= needs 1 to %d "
                            "characters", path, k + 1, FH_DATASET_ORIGIN_LEN - 1);
            break;
        }
        const char *o = c->origin && *c->origin ? c->origin : len > 0 ? obuf : fh_samp_origin(c->kind);
        snprintf(set->origin[k], FH_DATASET_ORIGIN_LEN, "%s", o);
        set->n++;
    }
    /* two frames with one id: the second would be taken as done */
    const char **sorted = rc == FH_OK ? malloc((size_t)(n > 0 ? n : 1) * sizeof *sorted) : NULL;
    if (rc == FH_OK && !sorted) rc = fh_err_set(err, FH_EFAIL, "out of memory");
    if (rc == FH_OK) {
        for (int k = 0; k < n; k++) sorted[k] = set->id[k];
        qsort(sorted, (size_t)n, sizeof *sorted, cmp_str);
        for (int k = 1; k < n && rc == FH_OK; k++)
            if (strcmp(sorted[k - 1], sorted[k]) == 0) {
                int first = -1, second = -1;
                for (int q = 0; q < n; q++)
                    if (strcmp(set->id[q], sorted[k]) == 0) {
                        if (first < 0) first = q;
                        else if (second < 0) second = q;
                    }
                rc = fh_err_set(err, FH_EINPUT, "%s: error: frames %d and %d have the same id '%s'",
                                path, first + 1, second + 1, sorted[k]);
            }
    }
    free(sorted);
    fh_xyz_free(g);
    if (rc != FH_OK) {
        fh_samp_set_free(set);
        return rc;
    }
    *out = set;
    return FH_OK;
}

/* The completed geometries of another dataset, in its row order, with its ids and origins (an id
 * completed twice, e.g. recomputed after a check, counts once, at its first row). */
static int from_dataset(const fh_samp_config *c, int natoms, const int *z, fh_samp_set **out,
                        fh_err *err)
{
    const char *path = c->source;
    fh_dataset *d = NULL;
    int rc = fh_dataset_read(path, &d, err);
    if (rc != FH_OK) return rc;
    rc = same_atoms(path, "the dataset", "the dataset needs", d->natoms, d->z, natoms, z, err);
    size_t nok = 0;
    for (size_t r = 0; rc == FH_OK && r < d->n; r++)
        if (d->status[r] == FH_DATASET_OK && fh_dataset_find(d, d->id[r], FH_DATASET_OK) == (long)r)
            nok++;
    int n = c->count > 0 && (size_t)c->count < nok ? (int)c->count : (int)nok, n3 = 3 * natoms;
    fh_samp_set *set = NULL;
    if (rc == FH_OK) rc = set_alloc(n, natoms, &set, err);
    for (size_t r = 0; rc == FH_OK && r < d->n && set->n < n; r++) {
        if (d->status[r] != FH_DATASET_OK || fh_dataset_find(d, d->id[r], FH_DATASET_OK) != (long)r)
            continue;
        int k = set->n;
        for (int i = 0; i < n3; i++)
            set->x[(size_t)k * n3 + i] = d->pos[r * (size_t)n3 + i] * FH_ANGSTROM_BOHR;
        snprintf(set->id[k], FH_DATASET_ID_LEN, "%s", d->id[r]);
        snprintf(set->origin[k], FH_DATASET_ORIGIN_LEN, "%s",
                 c->origin && *c->origin ? c->origin : d->origin[r]);
        set->n++;
    }
    fh_dataset_free(d);
    if (rc != FH_OK) {
        fh_samp_set_free(set);
        return rc;
    }
    *out = set;
    return FH_OK;
}

/* ------------------------------------------------------------------------------------------------
 * Query by committee */

typedef struct {
    double spread;
    int k;
} ranked;

static int by_spread_desc(const void *a, const void *b)
{
    const ranked *p = a, *q = b;
    if (p->spread != q->spread) return p->spread > q->spread ? -1 : 1;
    return (p->k > q->k) - (p->k < q->k);
}

int fh_samp_select_by_spread(fh_samp_set *set, const int *z, const char *model_file, long keep,
                             double **spread, fh_err *err)
{
    if (spread) *spread = NULL;
    if (keep < 0) return fh_err_set(err, FH_EINPUT, "select must not be negative");
    fh_surface_config sc = {.type = "ml", .natoms = set->natoms, .z = z, .model_file = model_file};
    fh_surface *m = NULL;
    int rc = fh_surface_alloc(&sc, &m, err);
    if (rc != FH_OK) return fh_err_prefix(err, "select_model %s: ", model_file);
    if (!(m->caps & FH_CAP_SPREAD)) {
        fh_surface_free(m);
        return fh_err_set(err, FH_EINPUT, "select_model %s: no committee spread to select by",
                          model_file);
    }
    const int n = set->n, n3 = 3 * set->natoms, N = m->nstates;
    ranked *r = malloc(sizeof *r * (size_t)(n > 0 ? n : 1));
    double *e = malloc(sizeof *e * (size_t)N), *sd = malloc(sizeof *sd * (size_t)N);
    if (!r || !e || !sd) rc = fh_err_set(err, FH_EFAIL, "out of memory");
    for (int k = 0; rc == FH_OK && k < n; k++) {
        fh_surface_eval q = {.x = set->x + (size_t)k * n3, .energy = e, .energy_std = sd};
        rc = fh_surface_evaluate(m, &q, err);
        r[k].k = k, r[k].spread = 0;
        for (int st = 0; rc == FH_OK && st < N; st++) r[k].spread = fmax(r[k].spread, sd[st]);
    }
    fh_surface_free(m);
    free(e), free(sd);
    double largest = 0;
    for (int k = 0; rc == FH_OK && k < n; k++) largest = fmax(largest, r[k].spread);
    if (rc == FH_OK && n > 0 && largest == 0)
        rc = fh_err_set(err, FH_EINPUT, "select_model %s: one member, no committee spread to "
                        "select by", model_file);
    int nkeep = keep > 0 && keep < n ? (int)keep : n;
    double *x = NULL, *out = NULL;
    char(*id)[FH_DATASET_ID_LEN] = NULL;
    char(*origin)[FH_DATASET_ORIGIN_LEN] = NULL;
    if (rc == FH_OK) {
        qsort(r, (size_t)n, sizeof *r, by_spread_desc);
        x = malloc(sizeof *x * (size_t)(nkeep > 0 ? nkeep : 1) * (size_t)n3);
        id = malloc(sizeof *id * (size_t)(nkeep > 0 ? nkeep : 1));
        origin = malloc(sizeof *origin * (size_t)(nkeep > 0 ? nkeep : 1));
        out = spread ? malloc(sizeof *out * (size_t)(nkeep > 0 ? nkeep : 1)) : NULL;
        if (!x || !id || !origin || (spread && !out)) rc = fh_err_set(err, FH_EFAIL, "out of memory");
    }
    if (rc == FH_OK) {
        for (int j = 0; j < nkeep; j++) {
            int k = r[j].k;
            memcpy(x + (size_t)j * n3, set->x + (size_t)k * n3, sizeof *x * (size_t)n3);
            memcpy(id[j], set->id[k], sizeof id[j]);
            memcpy(origin[j], set->origin[k], sizeof origin[j]);
            if (out) out[j] = r[j].spread;
        }
        free(set->x), free(set->id), free(set->origin);
        set->x = x, set->id = id, set->origin = origin, set->n = nkeep;
        if (spread) *spread = out;
    } else {
        free(x), free(id), free(origin), free(out);
    }
    free(r);
    return rc;
}

/* The normal modes of a Wigner configuration: from an ML provider of c->hessian_model for these
 * atoms, or from s. */
static int wigner_modes(const fh_samp_config *c, fh_surface *s, int natoms, const int *z,
                        const double *x0, const char *cache, fh_dyn_modes **modes, fh_err *err)
{
    if (!has_hessian_model(c)) {
        if (!s || s->natoms != natoms)
            return fh_err_set(err, FH_EINPUT, "Wigner sampling needs the provider of the molecule");
        return fh_samp_modes_alloc(s, x0, c->optimize, cache, modes, err);
    }
    fh_surface_config sc = {.type = "ml", .natoms = natoms, .z = z, .model_file = c->hessian_model};
    fh_surface *m = NULL;
    int rc = fh_surface_alloc(&sc, &m, err);
    if (rc == FH_OK) rc = fh_samp_modes_alloc(m, x0, c->optimize, cache, modes, err);
    if (rc != FH_OK) fh_err_prefix(err, "hessian_model %s: ", c->hessian_model);
    fh_surface_free(m);
    return rc;
}

/* Why: a rigid torsion of one half of a molecule can push it through the other (cis-stilbene's
 * rings from the trans geometry), and noise or soft modes can squeeze atoms together. Such a
 * geometry is no use as data (and is exactly what a committee is most unsure about). Two atoms
 * not bonded in the reference closer than the sum of their covalent radii is a clash. */
static int clashes(const int *z, const double *x0, const double *x, int natoms)
{
    for (int i = 0; i < natoms; i++)
        for (int j = i + 1; j < natoms; j++) {
            if (!bonded(z, x0, i, j) && fh_bond_within(z, x, i, j, 1.0)) return 1;
        }
    return 0;
}

static void drop_clashes(fh_samp_set *set, const int *z, const double *x0)
{
    int n3 = 3 * set->natoms, kept = 0;
    for (int k = 0; k < set->n; k++) {
        if (clashes(z, x0, set->x + (size_t)k * n3, set->natoms)) continue;
        if (kept != k) {
            memmove(set->x + (size_t)kept * n3, set->x + (size_t)k * n3, sizeof *set->x * (size_t)n3);
            memcpy(set->id[kept], set->id[k], sizeof set->id[kept]);
            memcpy(set->origin[kept], set->origin[k], sizeof set->origin[kept]);
        }
        kept++;
    }
    set->dropped = set->n - kept;
    set->n = kept;
}

int fh_samp_generate(const fh_samp_config *c, fh_surface *s, int natoms, const int *z,
                     const double *x0, const char *cache, fh_samp_set **out, fh_err *err)
{
    *out = NULL;
    int rc = fh_samp_config_check(c, natoms, err);
    if (rc != FH_OK) return rc;
    if (c->count > 10000000) return fh_err_set(err, FH_EINPUT, "count is too large");
    if (c->kind == FH_SAMP_XYZ) return from_xyz(c, natoms, z, out, err);
    if (c->kind == FH_SAMP_DATASET) return from_dataset(c, natoms, z, out, err);
    fh_samp_set *set = NULL;
    if ((rc = set_alloc((int)c->count, natoms, &set, err)) != FH_OK) return rc;
    int n3 = 3 * natoms;
    if (c->kind == FH_SAMP_TRAJECTORIES) {
        rc = from_trajectories(c, natoms, set, err);
    } else {
        fh_dyn_modes *modes = NULL;
        double *xi = NULL, *v = NULL;
        uint64_t model_hash = 0;
        if (c->kind == FH_SAMP_WIGNER) {
            if (has_hessian_model(c) && (rc = file_hash(c->hessian_model, &model_hash, err)) != FH_OK)
                fh_err_prefix(err, "hessian_model: ");
            if (rc == FH_OK) rc = wigner_modes(c, s, natoms, z, x0, cache, &modes, err);
            if (rc == FH_OK) {
                xi = malloc((size_t)fh_dyn_wigner_ndev(modes) * sizeof *xi);
                v = malloc((size_t)n3 * sizeof *v);
                if (!xi || !v) rc = fh_err_set(err, FH_EFAIL, "out of memory");
            }
        }
        uint32_t tag = param_tag(c, n3, x0, model_hash);
        for (long k = 0; k < c->count && rc == FH_OK; k++) {
            double *x = set->x + (size_t)k * n3;
            if (c->kind == FH_SAMP_WIGNER) {
                int nd = fh_dyn_wigner_ndev(modes);
                for (int j = 0; j < nd; j++) xi[j] = fh_samp_normal(c->kind, c->seed, (uint64_t)k, (uint64_t)j);
                fh_dyn_wigner_sample(modes, c->temperature, xi, x, v);
            } else {
                rc = fh_samp_geometry(c, natoms, z, x0, k, x, err);
            }
            snprintf(set->id[k], FH_DATASET_ID_LEN, "%s-%08x-s%llu-%ld", fh_samp_kind_name(c->kind),
                     (unsigned)tag, (unsigned long long)c->seed, k);
            snprintf(set->origin[k], FH_DATASET_ORIGIN_LEN, "%s", origin_of(c));
            set->n++;
        }
        free(xi);
        free(v);
        fh_dyn_modes_free(modes);
        if (rc == FH_OK) drop_clashes(set, z, x0);
    }
    if (rc != FH_OK) {
        fh_samp_set_free(set);
        return rc;
    }
    *out = set;
    return FH_OK;
}
