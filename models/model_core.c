/* The model object: hyperparameters (defaults and validation), the committee's weights, the
 * normalisation and provenance; element look-up; the seeded generator used for initial weights.
 * Everything that evaluates the network lives in model_net.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fh_units.h"
#include "model_internal.h"

/* ---- random numbers ---------------------------------------------------------------------- */

void model_rng_seed(model_rng *r, uint64_t seed, uint64_t stream)
{
    r->s = seed * 0x9e3779b97f4a7c15ULL ^ (stream + 1) * 0xd1b54a32d192ed03ULL;
}

uint64_t model_rng_next(model_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double model_rng_uniform(model_rng *r)
{
    return ((double)(model_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double model_rng_normal(model_rng *r)
{
    double u = model_rng_uniform(r), v = model_rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* ---- hyperparameters --------------------------------------------------------------------- */

fh_model_hyper fh_model_hyper_default(void)
{
    fh_model_hyper h;
    memset(&h, 0, sizeof h);
    h.nstates = 2;
    h.channels = 32;
    snprintf(h.hidden_irreps, sizeof h.hidden_irreps, "0e+1o");
    h.lmax = 3;
    h.correlation = 3;
    h.tree = FH_EQ_TREE_CHAIN;
    h.n_layers = 2;
    h.r_cut = 5.0 * FH_ANGSTROM_BOHR;
    h.n_bessel = 8;
    h.envelope_p = 5;
    h.n_radial = 3;
    h.radial[0] = h.radial[1] = h.radial[2] = 64;
    h.readout_hidden = 16;
    h.avg_neighbors = 10.0;
    h.nac_gap_eps = 1e-4;
    return h;
}

int fh_model_hyper_check(const fh_model_hyper *h, fh_err *err)
{
#define BAD(...) return fh_err_set(err, FH_EINPUT, "model hyperparameters: " __VA_ARGS__)
    if (h->nstates < 1 || h->nstates > FH_MODEL_MAX_STATES)
        BAD("nstates %d outside 1..%d", h->nstates, FH_MODEL_MAX_STATES);
    if (h->n_elements < 1 || h->n_elements > FH_MODEL_MAX_ELEMENTS)
        BAD("%d elements (need 1..%d)", h->n_elements, FH_MODEL_MAX_ELEMENTS);
    for (int k = 0; k < h->n_elements; k++) {
        if (h->elements[k] < 1 || h->elements[k] > FH_MAX_Z)
            BAD("element Z = %d outside 1..%d", h->elements[k], FH_MAX_Z);
        if (k > 0 && h->elements[k] <= h->elements[k - 1])
            BAD("elements must be distinct and ascending (Z = %d after %d)", h->elements[k],
                h->elements[k - 1]);
    }
    if (h->channels < 1 || h->channels > 1024) BAD("channels %d outside 1..1024", h->channels);
    if (!memchr(h->hidden_irreps, '\0', sizeof h->hidden_irreps)) BAD("hidden irreps too long");
    fh_eq_irreps H;
    int mul = 1;
    fh_err e2 = {0};
    if (fh_eq_irreps_parse(h->hidden_irreps, &H, &mul, &e2) != FH_OK)
        BAD("hidden irreps '%s': %s", h->hidden_irreps, e2.msg);
    if (mul != 1 && mul != h->channels)
        BAD("hidden irreps '%s' have multiplicity %d but channels = %d", h->hidden_irreps, mul,
            h->channels);
    if (!model_irreps_has(&H, 0, 1)) BAD("hidden irreps '%s' lack 0e (energies)", h->hidden_irreps);
    if (h->diabatic != 0 && h->diabatic != 1) BAD("diabatic %d is neither 0 nor 1", h->diabatic);
    if (h->diabatic && h->nstates != 2)
        BAD("the diabatic readout is for 2 states, not %d", h->nstates);
    if (h->nac_even != 0 && h->nac_even != 1) BAD("nac_even %d is neither 0 nor 1", h->nac_even);
    if (h->nac_even && h->nstates < 2) BAD("the even coupling head needs 2 or more states");
    if (h->nac_resid < 0 || h->nac_resid > 2) BAD("nac_resid %d is not 0, 1 or 2", h->nac_resid);
    if (h->nac_resid && !h->diabatic) BAD("the residual coupling head is for the diabatic readout");
    if (h->nac_resid && !model_irreps_has(&H, 1, -1))
        BAD("hidden irreps '%s' lack 1o (the residual coupling head)", h->hidden_irreps);
    if (h->nstates > 1 && !h->diabatic && !model_irreps_has(&H, 1, -1))
        BAD("hidden irreps '%s' lack 1o (couplings of %d states)", h->hidden_irreps, h->nstates);
    if (h->lmax < 1 || h->lmax > FH_EQ_LMAX - 1) BAD("lmax %d outside 1..%d", h->lmax, FH_EQ_LMAX - 1);
    if (fh_eq_irreps_lmax(&H) > FH_EQ_LMAX - 1) BAD("hidden irreps exceed l = %d", FH_EQ_LMAX - 1);
    fh_eq_fusion_tree tree;
    if (h->tree != FH_EQ_TREE_CHAIN && h->tree != FH_EQ_TREE_BALANCED) BAD("unknown tree %d", h->tree);
    if (fh_eq_fusion_tree_make((fh_eq_tree_kind)h->tree, h->correlation, &tree, &e2) != FH_OK)
        BAD("correlation %d: %s", h->correlation, e2.msg);
    if (h->n_layers < 1 || h->n_layers > FH_MODEL_MAX_LAYERS)
        BAD("%d layers outside 1..%d", h->n_layers, FH_MODEL_MAX_LAYERS);
    if (!(h->r_cut > 0.5 && h->r_cut < 100.0)) BAD("cutoff %g bohr outside (0.5, 100)", h->r_cut);
    if (h->n_bessel < 1 || h->n_bessel > 128) BAD("%d Bessel functions outside 1..128", h->n_bessel);
    if (h->envelope_p < 2 || h->envelope_p > 16) BAD("envelope power %d outside 2..16", h->envelope_p);
    if (h->n_radial < 0 || h->n_radial > FH_MODEL_MAX_RADIAL)
        BAD("%d radial MLP layers outside 0..%d", h->n_radial, FH_MODEL_MAX_RADIAL);
    for (int k = 0; k < h->n_radial; k++)
        if (h->radial[k] < 1 || h->radial[k] > 4096) BAD("radial MLP width %d outside 1..4096", h->radial[k]);
    if (h->readout_hidden < 1 || h->readout_hidden > 4096)
        BAD("readout width %d outside 1..4096", h->readout_hidden);
    if (!(h->avg_neighbors > 0 && h->avg_neighbors < 1e6)) BAD("avg_neighbors %g must be positive",
                                                                h->avg_neighbors);
    if (!(h->nac_gap_eps > 0 && h->nac_gap_eps < 1.0))
        BAD("nac_gap_eps %g hartree outside (0, 1)", h->nac_gap_eps);
    if (h->nac_flip_natoms < 0 || h->nac_flip_natoms > FH_MODEL_MAX_FLIP_ATOMS)
        BAD("nac_flip for %d atoms outside 0..%d", h->nac_flip_natoms, FH_MODEL_MAX_FLIP_ATOMS);
    for (int a = 0; a < h->nac_flip_natoms; a++)
        if (h->nac_flip[a] > 1) BAD("nac_flip of atom %d is %d (0 or 1)", a + 1, h->nac_flip[a]);
#undef BAD
    return FH_OK;
}

/* ---- the model object -------------------------------------------------------------------- */

void fh_model_free(fh_model *m)
{
    if (!m) return;
    fh_model_ws_free(m->ws);
    model_free_tables(m);
    free(m->params);
    free(m->norm.e0), free(m->norm.shift), free(m->norm.scale), free(m->norm.nac_scale);
    free(m->scratch);
    free(m->types);
    free(m);
}

static int alloc_norm(fh_model *m)
{
    int N = m->hp.nstates, P = N * (N - 1) / 2;
    m->norm.e0 = calloc((size_t)m->hp.n_elements * N, sizeof(double));
    m->norm.shift = calloc((size_t)N, sizeof(double));
    m->norm.scale = malloc(sizeof(double) * N);
    m->norm.nac_scale = malloc(sizeof(double) * (P ? P : 1));
    if (!m->norm.e0 || !m->norm.shift || !m->norm.scale || !m->norm.nac_scale) return 0;
    for (int s = 0; s < N; s++) m->norm.scale[s] = 1.0;
    for (int p = 0; p < P; p++) m->norm.nac_scale[p] = 1.0;
    return 1;
}

int fh_model_alloc(const fh_model_hyper *h, int n_members, uint64_t seed, fh_model **out,
                   fh_err *err)
{
    *out = NULL;
    int rc = fh_model_hyper_check(h, err);
    if (rc) return rc;
    if (n_members < 1 || n_members > FH_MODEL_MAX_MEMBERS)
        return fh_err_set(err, FH_EINPUT, "model: committee of %d members (allowed 1..%d)",
                          n_members, FH_MODEL_MAX_MEMBERS);
    fh_model *m = calloc(1, sizeof *m);
    if (!m) return fh_err_set(err, FH_EFAIL, "model: out of memory");
    /* canonical copy: unused entries zero, so that equal architectures compare equal */
    memset(&m->hp, 0, sizeof m->hp);
    m->hp.nstates = h->nstates;
    m->hp.n_elements = h->n_elements;
    memcpy(m->hp.elements, h->elements, sizeof(int) * h->n_elements);
    m->hp.channels = h->channels;
    snprintf(m->hp.hidden_irreps, sizeof m->hp.hidden_irreps, "%s", h->hidden_irreps);
    m->hp.lmax = h->lmax;
    m->hp.correlation = h->correlation;
    m->hp.tree = h->tree;
    m->hp.n_layers = h->n_layers;
    m->hp.r_cut = h->r_cut;
    m->hp.n_bessel = h->n_bessel;
    m->hp.envelope_p = h->envelope_p;
    m->hp.n_radial = h->n_radial;
    memcpy(m->hp.radial, h->radial, sizeof(int) * h->n_radial);
    m->hp.readout_hidden = h->readout_hidden;
    m->hp.avg_neighbors = h->avg_neighbors;
    m->hp.nac_gap_eps = h->nac_gap_eps;
    m->hp.nac_flip_natoms = h->nac_flip_natoms;
    memcpy(m->hp.nac_flip, h->nac_flip, (size_t)h->nac_flip_natoms);
    m->hp.diabatic = h->diabatic;
    m->hp.nac_even = h->nac_even;
    m->hp.nac_resid = h->nac_resid;
    m->ws = fh_model_ws_alloc(m, err);
    if (!m->ws) {
        fh_model_free(m);
        return err ? err->code : FH_EFAIL;
    }
    m->n_params = model_ws_n_params(m->ws);
    m->n_members = n_members;
    m->params = malloc(sizeof(double) * m->n_params * n_members);
    if (!m->params || !alloc_norm(m)) {
        fh_model_free(m);
        return fh_err_set(err, FH_EFAIL, "model: out of memory (%zu parameters)", m->n_params);
    }
    for (int k = 0; k < n_members; k++) fh_model_init_params(m, k, seed);
    m->prov.seed = seed;
    m->prov.valid_energy_mae = m->prov.valid_force_mae = m->prov.valid_nac_mae = NAN;
    *out = m;
    return FH_OK;
}

int fh_model_set_nac_flip(fh_model *m, int natoms, const unsigned char *flip, fh_err *err)
{
    fh_model_hyper h = m->hp;
    h.nac_flip_natoms = natoms;
    memset(h.nac_flip, 0, sizeof h.nac_flip);
    if (natoms > 0 && natoms <= FH_MODEL_MAX_FLIP_ATOMS) memcpy(h.nac_flip, flip, (size_t)natoms);
    int rc = fh_model_hyper_check(&h, err);
    if (rc) return rc;
    m->hp = h;
    return FH_OK;
}

/* Switch m to the architecture h, which adds a head whose weights come after all others
 * (model_net.c): each member's weights are copied, the new ones start at zero, so the model's
 * predictions stay as they were. */
/* A workspace (the layout of the weights) for the architecture h alone, or NULL (err set). */
static fh_model_ws *ws_of(const fh_model_hyper *h, fh_err *err)
{
    fh_model *tmp = calloc(1, sizeof *tmp);
    if (!tmp) {
        fh_err_set(err, FH_EFAIL, "model: out of memory");
        return NULL;
    }
    tmp->hp = *h;
    fh_model_ws *ws = fh_model_ws_alloc(tmp, err);
    free(tmp);
    return ws;
}

static int add_zero_head(fh_model *m, const fh_model_hyper *h, fh_err *err)
{
    int rc = fh_model_hyper_check(h, err);
    if (rc) return rc;
    fh_model_ws *ws = ws_of(h, err);
    if (!ws) return err ? err->code : FH_EFAIL;
    size_t np = model_ws_n_params(ws), old = m->n_params;
    double *p = calloc(np * m->n_members, sizeof(double));
    if (!p) {
        fh_model_ws_free(ws);
        return fh_err_set(err, FH_EFAIL, "model: out of memory");
    }
    for (int k = 0; k < m->n_members; k++)
        memcpy(p + (size_t)k * np, m->params + (size_t)k * old, sizeof(double) * old);
    free(m->params);
    fh_model_ws_free(m->ws);
    m->params = p, m->n_params = np, m->ws = ws, m->hp = *h;
    return FH_OK;
}

int fh_model_set_nac_even(fh_model *m, int on, fh_err *err)
{
    if (on == m->hp.nac_even) return FH_OK;
    if (!on)
        return fh_err_set(err, FH_EINPUT, "model: it has the even coupling head; removing it "
                          "would drop trained weights");
    fh_model_hyper h = m->hp;
    h.nac_even = 1;
    return add_zero_head(m, &h, err);
}

int fh_model_set_nac_resid(fh_model *m, int level, fh_err *err)
{
    if (level == m->hp.nac_resid) return FH_OK;
    if (level < 0 || level > 2)
        return fh_err_set(err, FH_EINPUT, "model: residual coupling level %d is not 0, 1 or 2", level);
    if (level < m->hp.nac_resid)
        return fh_err_set(err, FH_EINPUT, "model: it has the residual coupling head%s; removing it "
                          "would drop trained weights", m->hp.nac_resid == 2 ? " with the even part" : "");
    fh_model_hyper h = m->hp;
    h.nac_resid = level;
    return add_zero_head(m, &h, err);
}

int fh_model_widen(fh_model *m, int channels, uint64_t seed, fh_err *err)
{
    if (channels == m->hp.channels) return FH_OK;
    if (channels < m->hp.channels)
        return fh_err_set(err, FH_EINPUT, "model: cannot narrow %d channels to %d (trained weights "
                          "would be lost)", m->hp.channels, channels);
    fh_model_hyper h = m->hp;
    h.channels = channels;
    int rc = fh_model_hyper_check(&h, err);
    if (rc) return rc;
    fh_model_ws *wa = ws_of(&m->hp, err), *wb = wa ? ws_of(&h, err) : NULL;
    double *p = NULL;
    if (!wb) {
        rc = err ? err->code : FH_EFAIL;
        goto out;
    }
    size_t np = model_ws_n_params(wb);
    p = malloc(sizeof(double) * np * m->n_members);
    if (!p) {
        rc = fh_err_set(err, FH_EFAIL, "model: out of memory");
        goto out;
    }
    for (int k = 0; k < m->n_members && rc == FH_OK; k++) {
        model_rng rng;
        model_rng_seed(&rng, seed, (uint64_t)k);
        rc = model_ws_widen_params(wa, wb, m->params + (size_t)k * m->n_params, p + (size_t)k * np,
                                   &rng, err);
    }
    if (rc == FH_OK) {
        model_free_tables(m);
        free(m->scratch), m->scratch = NULL, m->scratch_len = 0;
        free(m->params), m->params = p, p = NULL;
        fh_model_ws_free(m->ws), m->ws = wb, wb = NULL;
        m->n_params = np, m->hp = h;
    }
out:
    fh_model_ws_free(wa), fh_model_ws_free(wb);
    free(p);
    return rc;
}

int fh_model_copy(const fh_model *src, fh_model **out, fh_err *err)
{
    int rc = fh_model_alloc(&src->hp, src->n_members, 0, out, err);
    if (rc) return rc;
    fh_model *m = *out;
    int N = src->hp.nstates, P = N * (N - 1) / 2;
    memcpy(m->params, src->params, sizeof(double) * src->n_params * src->n_members);
    memcpy(m->norm.e0, src->norm.e0, sizeof(double) * src->hp.n_elements * N);
    memcpy(m->norm.shift, src->norm.shift, sizeof(double) * N);
    memcpy(m->norm.scale, src->norm.scale, sizeof(double) * N);
    memcpy(m->norm.nac_scale, src->norm.nac_scale, sizeof(double) * (P ? P : 1));
    m->prov = src->prov;
    return FH_OK;
}

const fh_model_hyper *fh_model_get_hyper(const fh_model *m) { return &m->hp; }
int fh_model_nstates(const fh_model *m) { return m->hp.nstates; }
int fh_model_n_members(const fh_model *m) { return m->n_members; }
size_t fh_model_n_params(const fh_model *m) { return m->n_params; }
double *fh_model_params(fh_model *m, int member) { return m->params + (size_t)member * m->n_params; }
const double *fh_model_params_const(const fh_model *m, int member)
{
    return m->params + (size_t)member * m->n_params;
}
fh_model_norm *fh_model_get_norm(fh_model *m) { return &m->norm; }
const fh_model_norm *fh_model_get_norm_const(const fh_model *m) { return &m->norm; }
fh_model_provenance *fh_model_get_provenance(fh_model *m) { return &m->prov; }

void fh_model_init_params(fh_model *m, int member, uint64_t seed)
{
    model_rng rng;
    model_rng_seed(&rng, seed, (uint64_t)member);
    model_ws_init_params(m->ws, fh_model_params(m, member), &rng);
}

int fh_model_set_members(fh_model *m, int n_members, uint64_t seed, fh_err *err)
{
    if (n_members < 1 || n_members > FH_MODEL_MAX_MEMBERS)
        return fh_err_set(err, FH_EINPUT, "model: committee of %d members (allowed 1..%d)",
                          n_members, FH_MODEL_MAX_MEMBERS);
    double *p = realloc(m->params, sizeof(double) * m->n_params * n_members);
    if (!p) return fh_err_set(err, FH_EFAIL, "model: out of memory");
    m->params = p;
    int old = m->n_members;
    m->n_members = n_members;
    for (int k = old; k < n_members; k++) fh_model_init_params(m, k, seed);
    return FH_OK;
}

int fh_model_keep_member(fh_model *m, int k, fh_err *err)
{
    if (k < 0 || k >= m->n_members)
        return fh_err_set(err, FH_EINPUT, "model: member %d requested, the committee has %d member%s",
                          k + 1, m->n_members, m->n_members == 1 ? "" : "s");
    if (k > 0) memcpy(m->params, m->params + (size_t)k * m->n_params, sizeof(double) * m->n_params);
    m->n_members = 1; /* the buffer keeps its size; set_members reallocates when it grows again */
    return FH_OK;
}

int fh_model_types(const fh_model *m, int natoms, const int *z, int *type, fh_err *err)
{
    for (int a = 0; a < natoms; a++) {
        type[a] = -1;
        for (int k = 0; k < m->hp.n_elements; k++)
            if (m->hp.elements[k] == z[a]) type[a] = k;
        if (type[a] < 0) {
            char known[256] = "";
            for (int k = 0; k < m->hp.n_elements; k++) {
                if (k) strncat(known, " ", sizeof known - strlen(known) - 1);
                strncat(known, fh_element_symbol(m->hp.elements[k]), sizeof known - strlen(known) - 1);
            }
            return fh_err_set(err, FH_EINPUT, "atom %d is %s, which the model does not know "
                              "(elements: %s)", a + 1, fh_element_symbol(z[a]), known);
        }
    }
    return FH_OK;
}

uint64_t fh_model_fnv1a(const void *data, size_t n, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
