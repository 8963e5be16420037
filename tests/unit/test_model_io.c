/* Model files: save -> load gives bitwise identical predictions and the same hyperparameters,
 * normalisation and provenance; corrupt, truncated, mismatched and foreign files are FH_EINPUT
 * with a message naming the file and the problem, never a crash. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fh_model.h"
#include "test_model_util.h"

#define NAT 6
static const int Z6[NAT] = {6, 6, 1, 1, 8, 1};

static void tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/test_model_io_%d_%s", FH_TEST_BINARY_DIR, (int)getpid(), name);
}

typedef struct {
    double E[3], sd[3], G[3 * 3 * NAT], nac[3 * 3 * NAT];
} pred;

static void predict(fh_model *m, const double *x, pred *p)
{
    fh_err err = {0};
    fh_model_request rq = {.grad_mask = 7u, .want_nac = 1, .energy = p->E, .grad = p->G,
                           .nac = p->nac, .energy_std = p->sd};
    cr_assert_eq(fh_model_predict(m, NAT, Z6, x, &rq, &err), FH_OK, "%s", err.msg);
}

static fh_model *saved_model(const char *path, double *x)
{
    fh_err err = {0};
    fh_model *m = tm_small_model(3, 2, 31, &err);
    cr_assert_not_null(m, "%s", err.msg);
    fh_model_provenance *pv = fh_model_get_provenance(m);
    snprintf(pv->dataset, sizeof pv->dataset, "/data/stilbene.h5");
    snprintf(pv->dataset_checksum, sizeof pv->dataset_checksum, "0123456789abcdef");
    snprintf(pv->command, sizeof pv->command, "fusionhop train test.inp");
    pv->epochs = 17, pv->n_train = 80, pv->n_valid = 10, pv->n_test = 10;
    pv->valid_energy_mae = 1.5e-4, pv->valid_force_mae = 2.5e-3, pv->valid_nac_mae = 3.5e-3;
    fh_model_params(m, 0)[0] = 1234.5678;   /* a marker to find the weights in the file */
    const unsigned char flip[NAT] = {0, 1, 0, 1, 0, 1};   /* coupling sign flips are stored too */
    cr_assert_eq(fh_model_set_nac_flip(m, NAT, flip, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(fh_model_save(m, path, &err), FH_OK, "%s", err.msg);
    tm_seed(3);
    tm_molecule(NAT, 5.0, 1.6, x);
    return m;
}

Test(model_io, save_load_identical_predictions)
{
    char path[1024];
    tmp_path(path, sizeof path, "a.h5");
    double x[3 * NAT];
    fh_model *m = saved_model(path, x);
    fh_err err = {0};
    fh_model *l = NULL;
    cr_assert_eq(fh_model_load(path, &l, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(fh_model_n_members(l), 2);
    cr_assert_eq(fh_model_n_params(l), fh_model_n_params(m));
    cr_assert_eq(memcmp(fh_model_get_hyper(l), fh_model_get_hyper(m), sizeof(fh_model_hyper)), 0,
                 "hyperparameters differ after loading");
    const fh_model_provenance *a = fh_model_get_provenance(l);
    cr_assert_str_eq(a->dataset, "/data/stilbene.h5");
    cr_assert_str_eq(a->command, "fusionhop train test.inp");
    cr_assert(a->epochs == 17 && a->n_train == 80 && a->valid_force_mae == 2.5e-3 && a->seed == 31);
    cr_assert(strlen(a->date) >= 20 && strlen(a->version) > 0);
    pred p1, p2;
    predict(m, x, &p1);
    predict(l, x, &p2);
    cr_assert_eq(memcmp(&p1, &p2, sizeof p1), 0, "predictions differ after save/load");
    cr_assert(p1.sd[0] > 0, "a 2-member committee with different weights has a spread");
    fh_model_free(m);
    fh_model_free(l);
    unlink(path);
}

/* The even coupling head (fh_model.h) is stored: hyperparameters, weights and predictions
 * survive the round trip, and the flag is part of the checksum. */
Test(model_io, save_load_even_coupling_head)
{
    char path[1024];
    tmp_path(path, sizeof path, "even.h5");
    double x[3 * NAT];
    fh_model *m = saved_model(path, x);
    fh_err err = {0};
    size_t old = fh_model_n_params(m);
    cr_assert_eq(fh_model_set_nac_even(m, 1, &err), FH_OK, "%s", err.msg);
    for (int k = 0; k < 2; k++)
        for (size_t i = old; i < fh_model_n_params(m); i++) fh_model_params(m, k)[i] = 0.2 * tm_normal();
    cr_assert_eq(fh_model_save(m, path, &err), FH_OK, "%s", err.msg);
    fh_model *l = NULL;
    cr_assert_eq(fh_model_load(path, &l, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(fh_model_get_hyper(l)->nac_even, 1);
    cr_assert_eq(fh_model_n_params(l), fh_model_n_params(m));
    cr_assert_eq(memcmp(fh_model_get_hyper(l), fh_model_get_hyper(m), sizeof(fh_model_hyper)), 0);
    pred p1, p2;
    predict(m, x, &p1);
    predict(l, x, &p2);
    cr_assert_eq(memcmp(&p1, &p2, sizeof p1), 0, "predictions differ after save/load");
    fh_model_free(l);
    /* a file whose flag was removed no longer matches its checksum (and its weight count) */
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert(f >= 0);
    cr_assert(H5Adelete_by_name(f, "hyper", "nac_even", H5P_DEFAULT) >= 0);
    H5Fclose(f);
    l = NULL;
    cr_assert_eq(fh_model_load(path, &l, &err), FH_EINPUT, "a file without its nac_even flag loaded");
    cr_assert_null(l);
    fh_model_free(m);
    unlink(path);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void expect_bad(const char *path, const char *what)
{
    fh_err err = {0};
    fh_model *l = NULL;
    int rc = fh_model_load(path, &l, &err);
    cr_assert_eq(rc, FH_EINPUT, "%s: expected FH_EINPUT, got %d (%s)", what, rc, err.msg);
    cr_assert_null(l);
    cr_assert(strstr(err.msg, path) != NULL, "%s: message must name the file: %s", what, err.msg);
}

Test(model_io, corrupt_weights_fail_the_checksum)
{
    char path[1024];
    tmp_path(path, sizeof path, "b.h5");
    double x[3 * NAT];
    fh_model *m = saved_model(path, x);
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    long n = file_size(path);
    unsigned char *buf = malloc((size_t)n);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    double marker = 1234.5678;
    long at = -1;
    for (long i = 0; i + 8 <= n && at < 0; i++)
        if (memcmp(buf + i, &marker, 8) == 0) at = i;
    cr_assert(at >= 0, "weights not found in the file");
    /* flip one bit of a later weight */
    fseek(f, at + 8 * 40 + 3, SEEK_SET);
    unsigned char b = buf[at + 8 * 40 + 3] ^ 0x10;
    fwrite(&b, 1, 1, f);
    fclose(f);
    fh_err err = {0};
    fh_model *l = NULL;
    cr_assert_eq(fh_model_load(path, &l, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "checksum mismatch") != NULL, "%s", err.msg);
    free(buf);
    fh_model_free(m);
    unlink(path);
}

Test(model_io, damaged_files_never_crash)
{
    char path[1024], bad[1024];
    tmp_path(path, sizeof path, "c.h5");
    tmp_path(bad, sizeof bad, "c_bad.h5");
    double x[3 * NAT];
    fh_model *m = saved_model(path, x);
    long n = file_size(path);
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc((size_t)n);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    /* truncated at several lengths */
    long cuts[] = {0, 7, 512, n / 3, n / 2, n - 100};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        f = fopen(bad, "wb");
        fwrite(buf, 1, (size_t)cuts[k], f);
        fclose(f);
        expect_bad(bad, "truncated file");
    }
    /* a byte overwritten at many places: either a clean load (unused bytes) with the same
     * predictions, or FH_EINPUT */
    pred p0;
    predict(m, x, &p0);
    int failed = 0;
    for (long pos = 0; pos < n; pos += n / 97 + 1) {
        f = fopen(bad, "wb");
        fwrite(buf, 1, (size_t)n, f);
        fseek(f, pos, SEEK_SET);
        unsigned char b = buf[pos] ^ 0xa5;
        fwrite(&b, 1, 1, f);
        fclose(f);
        fh_err err = {0};
        fh_model *l = NULL;
        int rc = fh_model_load(bad, &l, &err);
        cr_assert(rc == FH_OK || rc == FH_EINPUT, "byte %ld: code %d (%s)", pos, rc, err.msg);
        if (rc == FH_OK) {
            pred p1;
            predict(l, x, &p1);
            cr_assert_eq(memcmp(&p0, &p1, sizeof p0), 0, "byte %ld: loaded but predicts differently", pos);
            fh_model_free(l);
        } else {
            failed++;
        }
    }
    cr_assert(failed > 0, "some of the damaged files must be rejected");
    free(buf);
    fh_model_free(m);
    unlink(path);
    unlink(bad);
}

/* Overwrite an integer hyperparameter in a saved file. */
static void set_hyper(const char *path, const char *name, long v)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = H5Gopen2(f, "hyper", H5P_DEFAULT);
    hid_t a = H5Aopen(g, name, H5P_DEFAULT);
    cr_assert(a >= 0 && H5Awrite(a, H5T_NATIVE_LONG, &v) >= 0, "cannot modify %s", name);
    H5Aclose(a);
    H5Gclose(g);
    H5Fclose(f);
}

/* A fresh model file whose stored coupling sign flip of atom 2 is 2. */
static void m2_bad_flip(const char *path)
{
    double x[3 * NAT];
    fh_model_free(saved_model(path, x));
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "nac_flip", H5P_DEFAULT);
    cr_assert(f >= 0 && d >= 0, "the model file lacks /nac_flip");
    int v[NAT] = {0, 2, 0, 1, 0, 1};
    cr_assert(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    H5Fclose(f);
}

Test(model_io, mismatched_and_foreign_files)
{
    char path[1024];
    tmp_path(path, sizeof path, "d.h5");
    double x[3 * NAT];
    fh_model *m = saved_model(path, x);
    /* hyperparameters that do not match the stored weights */
    set_hyper(path, "channels", 5);
    fh_err err = {0};
    fh_model *l = NULL;
    cr_assert_eq(fh_model_load(path, &l, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "architecture") != NULL, "%s", err.msg);
    /* an out-of-range hyperparameter */
    set_hyper(path, "nstates", 0);
    cr_assert_eq(fh_model_load(path, &l, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "nstates 0") != NULL, "%s", err.msg);
    /* a coupling sign flip that is neither 0 nor 1 */
    m2_bad_flip(path);
    cr_assert_eq(fh_model_load(path, &l, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "nac_flip of atom 2 is 2") != NULL, "%s", err.msg);
    /* an HDF5 file that is not a model */
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    cr_assert_eq(fh_model_load(path, &l, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "not a fusionhop model file") != NULL, "%s", err.msg);
    /* text */
    FILE *t = fopen(path, "w");
    fprintf(t, "26\nstilbene\n");
    fclose(t);
    expect_bad(path, "text file");
    unlink(path);
    expect_bad(path, "missing file");
    fh_model_free(m);
}
