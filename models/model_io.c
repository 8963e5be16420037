/* Model files (HDF5). Layout (every name below is checked on load):
 *   /                 attrs format = "fusionhop-model", format_version, program, created, units,
 *                     checksum (hex FNV-1a 64 of the weights, normalisation, sign flips and
 *                     the diabatic, nac_even and nac_resid flags when set, little-endian)
 *   /hyper            attrs nstates, channels, hidden_irreps, lmax, correlation, tree, n_layers,
 *                     r_cut_bohr, n_bessel, envelope_p, radial [n_radial], n_radial,
 *                     readout_hidden, avg_neighbors, nac_gap_eps_hartree, diabatic (optional,
 *                     1 = the two-state diabatic readout; absent = 0), nac_even (optional,
 *                     1 = the even coupling head; absent = 0), nac_resid (optional, 1 = the
 *                     residual coupling head of the diabatic readout, 2 = with its even part;
 *                     absent = 0)
 *   /elements         int [n_elements] atomic numbers
 *   /nac_flip         int [natoms], 0 or 1 (optional: the coupling sign flips, fh_model.h)
 *   /normalisation/   e0 [n_elements][nstates] hartree, shift [nstates] hartree,
 *                     scale [nstates] hartree, nac_scale [npairs] hartree/bohr (npairs > 0;
 *                     with the diabatic readout nac_scale[0] scales H01)
 *   /weights          double [members][n_params]
 *   /provenance       attrs dataset, dataset_checksum, date, version, command, epochs, n_train,
 *                     n_valid, n_test, seed, valid_energy_mae_hartree, valid_force_mae_hartree_bohr,
 *                     valid_nac_mae_hartree_bohr, nac_target (optional: "ci" or "total")
 * Save writes PATH.tmp and renames it over PATH, so a reader never sees half a file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fh_version.h"
#include "model_h5.h"
#include "model_internal.h"

#define UNITS_NOTE "positions bohr; energies hartree; gradients hartree/bohr; gap-scaled " \
                   "couplings h_ij = d_ij (E_j - E_i) hartree/bohr; NACs d_ij 1/bohr"

static uint64_t model_checksum(const fh_model *m)
{
    int N = m->hp.nstates, P = N * (N - 1) / 2;
    uint64_t h = FH_MODEL_FNV_INIT;
    h = fh_model_fnv1a(m->params, sizeof(double) * m->n_params * m->n_members, h);
    h = fh_model_fnv1a(m->norm.e0, sizeof(double) * m->hp.n_elements * N, h);
    h = fh_model_fnv1a(m->norm.shift, sizeof(double) * N, h);
    h = fh_model_fnv1a(m->norm.scale, sizeof(double) * N, h);
    h = fh_model_fnv1a(m->norm.nac_scale, sizeof(double) * P, h);
    if (m->hp.nac_flip_natoms) h = fh_model_fnv1a(m->hp.nac_flip, (size_t)m->hp.nac_flip_natoms, h);
    if (m->hp.diabatic) h = fh_model_fnv1a(&m->hp.diabatic, sizeof m->hp.diabatic, h);
    if (m->hp.nac_even) h = fh_model_fnv1a(&m->hp.nac_even, sizeof m->hp.nac_even, h);
    if (m->hp.nac_resid) h = fh_model_fnv1a(&m->hp.nac_resid, sizeof m->hp.nac_resid, h);
    return h;
}

static const char *tree_name(int tree) { return tree == FH_EQ_TREE_BALANCED ? "balanced" : "chain"; }

static int write_all(const fh_model *m, hid_t f)
{
    const fh_model_hyper *h = &m->hp;
    const fh_model_provenance *pv = &m->prov;
    int N = h->nstates, P = N * (N - 1) / 2, bad = 0;
    char date[40], sum[24];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    snprintf(sum, sizeof sum, "%016llx", (unsigned long long)model_checksum(m));
    bad |= model_h5_put_str(f, "format", FH_MODEL_FORMAT);
    bad |= model_h5_put_int(f, "format_version", FH_MODEL_VERSION);
    bad |= model_h5_put_str(f, "program", FH_PROGRAM " " FH_VERSION);
    bad |= model_h5_put_str(f, "created", date);
    bad |= model_h5_put_str(f, "units", UNITS_NOTE);
    bad |= model_h5_put_str(f, "checksum", sum);

    hid_t g = H5Gcreate2(f, "hyper", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return -1;
    bad |= model_h5_put_int(g, "nstates", N);
    bad |= model_h5_put_int(g, "channels", h->channels);
    bad |= model_h5_put_str(g, "hidden_irreps", h->hidden_irreps);
    bad |= model_h5_put_int(g, "lmax", h->lmax);
    bad |= model_h5_put_int(g, "correlation", h->correlation);
    bad |= model_h5_put_str(g, "tree", tree_name(h->tree));
    bad |= model_h5_put_int(g, "n_layers", h->n_layers);
    bad |= model_h5_put_dbl(g, "r_cut_bohr", h->r_cut);
    bad |= model_h5_put_int(g, "n_bessel", h->n_bessel);
    bad |= model_h5_put_int(g, "envelope_p", h->envelope_p);
    bad |= model_h5_put_int(g, "n_radial", h->n_radial);
    bad |= model_h5_put_ints(g, "radial", h->n_radial, h->radial);
    bad |= model_h5_put_int(g, "readout_hidden", h->readout_hidden);
    bad |= model_h5_put_dbl(g, "avg_neighbors", h->avg_neighbors);
    bad |= model_h5_put_dbl(g, "nac_gap_eps_hartree", h->nac_gap_eps);
    /* only when on, so that files of the direct readout stay as they were */
    if (h->diabatic) bad |= model_h5_put_int(g, "diabatic", h->diabatic);
    if (h->nac_even) bad |= model_h5_put_int(g, "nac_even", h->nac_even);
    if (h->nac_resid) bad |= model_h5_put_int(g, "nac_resid", h->nac_resid);
    H5Gclose(g);

    hsize_t d[2] = {(hsize_t)h->n_elements, (hsize_t)N};
    bad |= model_h5_put_dset_int(f, "elements", 1, d, h->elements);
    if (h->nac_flip_natoms) {
        int flip[FH_MODEL_MAX_FLIP_ATOMS];
        for (int a = 0; a < h->nac_flip_natoms; a++) flip[a] = h->nac_flip[a];
        hsize_t df = (hsize_t)h->nac_flip_natoms;
        bad |= model_h5_put_dset_int(f, "nac_flip", 1, &df, flip);
    }
    g = H5Gcreate2(f, "normalisation", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return -1;
    bad |= model_h5_put_dset(g, "e0", 2, d, m->norm.e0);
    hsize_t dn = (hsize_t)N, dp = (hsize_t)P;
    bad |= model_h5_put_dset(g, "shift", 1, &dn, m->norm.shift);
    bad |= model_h5_put_dset(g, "scale", 1, &dn, m->norm.scale);
    if (P) bad |= model_h5_put_dset(g, "nac_scale", 1, &dp, m->norm.nac_scale);
    H5Gclose(g);

    hsize_t dw[2] = {(hsize_t)m->n_members, (hsize_t)m->n_params};
    bad |= model_h5_put_dset(f, "weights", 2, dw, m->params);

    g = H5Gcreate2(f, "provenance", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return -1;
    bad |= model_h5_put_str(g, "dataset", pv->dataset);
    bad |= model_h5_put_str(g, "dataset_checksum", pv->dataset_checksum);
    bad |= model_h5_put_str(g, "date", pv->date[0] ? pv->date : date);
    bad |= model_h5_put_str(g, "version", pv->version[0] ? pv->version : FH_VERSION);
    bad |= model_h5_put_str(g, "command", pv->command);
    bad |= model_h5_put_int(g, "epochs", pv->epochs);
    bad |= model_h5_put_int(g, "n_train", pv->n_train);
    bad |= model_h5_put_int(g, "n_valid", pv->n_valid);
    bad |= model_h5_put_int(g, "n_test", pv->n_test);
    bad |= model_h5_put_u64(g, "seed", pv->seed);
    bad |= model_h5_put_dbl(g, "valid_energy_mae_hartree", pv->valid_energy_mae);
    bad |= model_h5_put_dbl(g, "valid_force_mae_hartree_bohr", pv->valid_force_mae);
    bad |= model_h5_put_dbl(g, "valid_nac_mae_hartree_bohr", pv->valid_nac_mae);
    if (pv->nac_target[0]) bad |= model_h5_put_str(g, "nac_target", pv->nac_target);
    H5Gclose(g);
    return bad ? -1 : 0;
}

int fh_model_save(const fh_model *m, const char *path, fh_err *err)
{
    size_t len = strlen(path);
    char *tmp = malloc(len + 5);
    if (!tmp) return fh_err_set(err, FH_EFAIL, "%s: out of memory", path);
    snprintf(tmp, len + 5, "%s.tmp", path);
    model_h5_quiet q;
    model_h5_quiet_begin(&q);
    int rc = FH_OK;
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        rc = fh_err_set(err, FH_EFAIL, "%s: cannot create the model file", tmp);
    } else {
        int bad = write_all(m, f);
        if (H5Fclose(f) < 0) bad = 1;
        if (bad) rc = fh_err_set(err, FH_EFAIL, "%s: writing the model file failed", tmp);
    }
    model_h5_quiet_end(&q);
    if (rc == FH_OK && rename(tmp, path) != 0)
        rc = fh_err_set(err, FH_EFAIL, "%s: cannot rename %s into place", path, tmp);
    if (rc != FH_OK) unlink(tmp);
    free(tmp);
    return rc;
}

/* ---- loading ------------------------------------------------------------------------------ */

static int get_intv(hid_t g, const char *name, int *v, fh_err *err)
{
    long l;
    int rc = model_h5_get_int(g, name, &l, err);
    if (rc) return rc;
    if (l < -1000000000L || l > 1000000000L)
        return fh_err_set(err, FH_EINPUT, "attribute '%s' = %ld out of range", name, l);
    *v = (int)l;
    return FH_OK;
}

/* Length of a one-dimensional dataset; -1 when it cannot be opened or has another rank. */
static hssize_t dset_length(hid_t f, const char *name)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
    hssize_t n = sp >= 0 && H5Sget_simple_extent_ndims(sp) == 1
                     ? H5Sget_simple_extent_npoints(sp) : -1;
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    return n;
}

static int read_hyper(hid_t f, fh_model_hyper *h, fh_err *err)
{
    memset(h, 0, sizeof *h);
    hid_t g = H5Lexists(f, "hyper", H5P_DEFAULT) > 0 ? H5Gopen2(f, "hyper", H5P_DEFAULT) : -1;
    if (g < 0) return fh_err_set(err, FH_EINPUT, "missing group 'hyper'");
    char tree[32] = "";
    int rc = get_intv(g, "nstates", &h->nstates, err);
    if (!rc) rc = get_intv(g, "channels", &h->channels, err);
    if (!rc) rc = model_h5_get_str(g, "hidden_irreps", h->hidden_irreps, sizeof h->hidden_irreps, err);
    if (!rc) rc = get_intv(g, "lmax", &h->lmax, err);
    if (!rc) rc = get_intv(g, "correlation", &h->correlation, err);
    if (!rc) rc = model_h5_get_str(g, "tree", tree, sizeof tree, err);
    if (!rc) rc = get_intv(g, "n_layers", &h->n_layers, err);
    if (!rc) rc = model_h5_get_dbl(g, "r_cut_bohr", &h->r_cut, err);
    if (!rc) rc = get_intv(g, "n_bessel", &h->n_bessel, err);
    if (!rc) rc = get_intv(g, "envelope_p", &h->envelope_p, err);
    if (!rc) rc = get_intv(g, "n_radial", &h->n_radial, err);
    if (!rc && (h->n_radial < 0 || h->n_radial > FH_MODEL_MAX_RADIAL))
        rc = fh_err_set(err, FH_EINPUT, "n_radial = %d outside 0..%d", h->n_radial, FH_MODEL_MAX_RADIAL);
    if (!rc) rc = model_h5_get_ints(g, "radial", h->n_radial, h->radial, err);
    if (!rc) rc = get_intv(g, "readout_hidden", &h->readout_hidden, err);
    if (!rc) rc = model_h5_get_dbl(g, "avg_neighbors", &h->avg_neighbors, err);
    if (!rc) rc = model_h5_get_dbl(g, "nac_gap_eps_hartree", &h->nac_gap_eps, err);
    h->diabatic = 0; /* absent in files of the direct readout */
    if (!rc && H5Aexists(g, "diabatic") > 0) rc = get_intv(g, "diabatic", &h->diabatic, err);
    h->nac_even = 0;
    if (!rc && H5Aexists(g, "nac_even") > 0) rc = get_intv(g, "nac_even", &h->nac_even, err);
    h->nac_resid = 0;
    if (!rc && H5Aexists(g, "nac_resid") > 0) rc = get_intv(g, "nac_resid", &h->nac_resid, err);
    H5Gclose(g);
    if (rc) return fh_err_prefix(err, "hyper: ");
    if (strcmp(tree, "chain") == 0) h->tree = FH_EQ_TREE_CHAIN;
    else if (strcmp(tree, "balanced") == 0) h->tree = FH_EQ_TREE_BALANCED;
    else return fh_err_set(err, FH_EINPUT, "hyper: unknown tree '%s'", tree);
    /* elements */
    if (H5Lexists(f, "elements", H5P_DEFAULT) <= 0)
        return fh_err_set(err, FH_EINPUT, "missing dataset 'elements'");
    hssize_t ne = dset_length(f, "elements");
    if (ne < 1 || ne > FH_MODEL_MAX_ELEMENTS)
        return fh_err_set(err, FH_EINPUT, "dataset 'elements' must list 1..%d atomic numbers",
                          FH_MODEL_MAX_ELEMENTS);
    h->n_elements = (int)ne;
    hsize_t dn = (hsize_t)ne;
    rc = model_h5_get_dset_int(f, "elements", 1, &dn, h->elements, err);
    if (rc) return rc;
    if (H5Lexists(f, "nac_flip", H5P_DEFAULT) > 0) {
        hssize_t nf = dset_length(f, "nac_flip");
        if (nf < 1 || nf > FH_MODEL_MAX_FLIP_ATOMS)
            return fh_err_set(err, FH_EINPUT, "dataset 'nac_flip' must hold 1..%d atoms",
                              FH_MODEL_MAX_FLIP_ATOMS);
        int flip[FH_MODEL_MAX_FLIP_ATOMS];
        hsize_t df = (hsize_t)nf;
        rc = model_h5_get_dset_int(f, "nac_flip", 1, &df, flip, err);
        if (rc) return rc;
        for (hssize_t a = 0; a < nf; a++) {
            if (flip[a] != 0 && flip[a] != 1)
                return fh_err_set(err, FH_EINPUT, "nac_flip of atom %d is %d (0 or 1)", (int)a + 1,
                                  flip[a]);
            h->nac_flip[a] = (unsigned char)flip[a];
        }
        h->nac_flip_natoms = (int)nf;
    }
    return fh_model_hyper_check(h, err);
}

static int read_provenance(hid_t f, fh_model_provenance *pv, fh_err *err)
{
    hid_t g = H5Lexists(f, "provenance", H5P_DEFAULT) > 0 ? H5Gopen2(f, "provenance", H5P_DEFAULT) : -1;
    if (g < 0) return fh_err_set(err, FH_EINPUT, "missing group 'provenance'");
    int rc = model_h5_get_str(g, "dataset", pv->dataset, sizeof pv->dataset, err);
    if (!rc) rc = model_h5_get_str(g, "dataset_checksum", pv->dataset_checksum, sizeof pv->dataset_checksum, err);
    if (!rc) rc = model_h5_get_str(g, "date", pv->date, sizeof pv->date, err);
    if (!rc) rc = model_h5_get_str(g, "version", pv->version, sizeof pv->version, err);
    if (!rc) rc = model_h5_get_str(g, "command", pv->command, sizeof pv->command, err);
    if (!rc) rc = model_h5_get_int(g, "epochs", &pv->epochs, err);
    if (!rc) rc = model_h5_get_int(g, "n_train", &pv->n_train, err);
    if (!rc) rc = model_h5_get_int(g, "n_valid", &pv->n_valid, err);
    if (!rc) rc = model_h5_get_int(g, "n_test", &pv->n_test, err);
    if (!rc) rc = model_h5_get_u64(g, "seed", &pv->seed, err);
    if (!rc) rc = model_h5_get_dbl(g, "valid_energy_mae_hartree", &pv->valid_energy_mae, err);
    if (!rc) rc = model_h5_get_dbl(g, "valid_force_mae_hartree_bohr", &pv->valid_force_mae, err);
    if (!rc) rc = model_h5_get_dbl(g, "valid_nac_mae_hartree_bohr", &pv->valid_nac_mae, err);
    pv->nac_target[0] = '\0';
    if (!rc && H5Aexists(g, "nac_target") > 0)
        rc = model_h5_get_str(g, "nac_target", pv->nac_target, sizeof pv->nac_target, err);
    H5Gclose(g);
    return rc ? fh_err_prefix(err, "provenance: ") : FH_OK;
}

static int all_finite(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

static int read_model(hid_t f, fh_model **out, fh_err *err)
{
    char fmt[64] = "", sum[40] = "";
    long ver = 0;
    if (model_h5_get_str(f, "format", fmt, sizeof fmt, err) || strcmp(fmt, FH_MODEL_FORMAT) != 0)
        return fh_err_set(err, FH_EINPUT, "not a fusionhop model file (format attribute is not "
                          "\"%s\")", FH_MODEL_FORMAT);
    if (model_h5_get_int(f, "format_version", &ver, err) || ver < 1 || ver > FH_MODEL_VERSION)
        return fh_err_set(err, FH_EINPUT, "unsupported model format version %ld (this program "
                          "reads 1..%d)", ver, FH_MODEL_VERSION);
    int rc = model_h5_get_str(f, "checksum", sum, sizeof sum, err);
    if (rc) return rc;
    fh_model_hyper h;
    rc = read_hyper(f, &h, err);
    if (rc) return rc;
    /* members from the weights' shape */
    if (H5Lexists(f, "weights", H5P_DEFAULT) <= 0) return fh_err_set(err, FH_EINPUT, "missing dataset 'weights'");
    hid_t d = H5Dopen2(f, "weights", H5P_DEFAULT);
    hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dw[2] = {0, 0};
    int ok = sp >= 0 && H5Sget_simple_extent_ndims(sp) == 2 && H5Sget_simple_extent_dims(sp, dw, NULL) == 2;
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    if (!ok || dw[0] < 1 || dw[0] > FH_MODEL_MAX_MEMBERS)
        return fh_err_set(err, FH_EINPUT, "dataset 'weights' must be [members 1..%d][parameters]",
                          FH_MODEL_MAX_MEMBERS);
    fh_model *m = NULL;
    rc = fh_model_alloc(&h, (int)dw[0], 0, &m, err);
    if (rc) return rc;
    if (dw[1] != m->n_params) {
        rc = fh_err_set(err, FH_EINPUT, "the weights have %llu parameters per member but the "
                        "architecture in 'hyper' needs %zu (mismatched or corrupt file)",
                        (unsigned long long)dw[1], m->n_params);
        fh_model_free(m);
        return rc;
    }
    int N = h.nstates, P = N * (N - 1) / 2;
    rc = model_h5_get_dset(f, "weights", 2, dw, m->params, err);
    hid_t g = -1;
    if (!rc) {
        g = H5Lexists(f, "normalisation", H5P_DEFAULT) > 0 ? H5Gopen2(f, "normalisation", H5P_DEFAULT) : -1;
        if (g < 0) rc = fh_err_set(err, FH_EINPUT, "missing group 'normalisation'");
    }
    hsize_t de[2] = {(hsize_t)h.n_elements, (hsize_t)N}, dn = (hsize_t)N, dp = (hsize_t)P;
    if (!rc) rc = model_h5_get_dset(g, "e0", 2, de, m->norm.e0, err);
    if (!rc) rc = model_h5_get_dset(g, "shift", 1, &dn, m->norm.shift, err);
    if (!rc) rc = model_h5_get_dset(g, "scale", 1, &dn, m->norm.scale, err);
    if (!rc && P) rc = model_h5_get_dset(g, "nac_scale", 1, &dp, m->norm.nac_scale, err);
    if (g >= 0) H5Gclose(g);
    if (rc) fh_err_prefix(err, g >= 0 ? "normalisation: " : "");
    if (!rc) rc = read_provenance(f, &m->prov, err);
    if (!rc && (!all_finite(m->params, m->n_params * m->n_members) ||
                !all_finite(m->norm.e0, (size_t)h.n_elements * N) || !all_finite(m->norm.shift, N) ||
                !all_finite(m->norm.scale, N) || !all_finite(m->norm.nac_scale, P)))
        rc = fh_err_set(err, FH_EINPUT, "weights or normalisation contain NaN or Inf");
    char have[24];
    snprintf(have, sizeof have, "%016llx", (unsigned long long)model_checksum(m));
    if (!rc && strcmp(have, sum) != 0)
        rc = fh_err_set(err, FH_EINPUT, "checksum mismatch (file says %s, weights give %s): the "
                        "file is corrupt", sum, have);
    if (rc) {
        fh_model_free(m);
        return rc;
    }
    *out = m;
    return FH_OK;
}

int fh_model_load(const char *path, fh_model **out, fh_err *err)
{
    *out = NULL;
    if (access(path, R_OK) != 0)
        return fh_err_set(err, FH_EINPUT, "%s: cannot read the model file (missing or no "
                          "permission)", path);
    model_h5_quiet q;
    model_h5_quiet_begin(&q);
    int rc;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        rc = fh_err_set(err, FH_EINPUT, "not an HDF5 file, or a truncated one");
    } else {
        rc = read_model(f, out, err);
        H5Fclose(f);
    }
    model_h5_quiet_end(&q);
    if (rc) {
        fh_err_prefix(err, "%s: model file: ", path);
        if (err) err->code = FH_EINPUT;
        return FH_EINPUT;
    }
    return FH_OK;
}
