/* Training data: the reference dataset's usable rows in atomic units with the gap-scaled
 * coupling targets h^ref_ij (the CI block <i|dH/dR|j>, or d_ij (E_j - E_i): fh_train.h); the seeded train/valid/test split; the
 * normalisation fitted to the training rows; the average neighbour count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fh_dataset.h"
#include "fh_train.h"
#include "fh_units.h"
#include "model_internal.h"

void fh_train_data_free(fh_train_data *d)
{
    if (!d) return;
    free(d->z), free(d->type), free(d->x), free(d->energy), free(d->grad), free(d->hcoup);
    free(d->has_energy), free(d->has_grad), free(d->has_hcoup), free(d->id);
    free(d);
}

static int finite_all(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

int fh_train_data_load(const char *path, int nac_target, fh_train_data **out, fh_err *err)
{
    *out = NULL;
    fh_dataset *ds = NULL;
    int rc = fh_dataset_read(path, &ds, err);
    if (rc) return rc;
    const int na = ds->natoms, N = ds->nstates, P = ds->npairs, n3 = 3 * na;
    size_t nok = fh_dataset_count_ok(ds);
    if (nok == 0) {
        fh_dataset_free(ds);
        return fh_err_set(err, FH_EINPUT, "%s: no usable rows (status OK) in the dataset", path);
    }
    if (N > FH_MODEL_MAX_STATES) {
        fh_dataset_free(ds);
        return fh_err_set(err, FH_EINPUT, "%s: %d states (the model allows %d)", path, N,
                          FH_MODEL_MAX_STATES);
    }
    fh_train_data *d = calloc(1, sizeof *d);
    if (!d) {
        fh_dataset_free(ds);
        return fh_err_set(err, FH_EFAIL, "out of memory");
    }
    d->natoms = na, d->nstates = N, d->npairs = P, d->n = nok;
    snprintf(d->path, sizeof d->path, "%s", path);
    d->z = malloc(sizeof(int) * na);
    d->type = calloc((size_t)na, sizeof(int));
    d->x = malloc(sizeof(double) * nok * n3);
    d->energy = malloc(sizeof(double) * nok * N);
    d->grad = malloc(sizeof(double) * nok * N * n3);
    d->hcoup = malloc(sizeof(double) * nok * (P ? P : 1) * n3);
    d->has_energy = calloc(nok * N, 1);
    d->has_grad = calloc(nok * N, 1);
    d->has_hcoup = calloc(nok * (P ? P : 1), 1);
    d->id = calloc(nok, sizeof *d->id);
    if (!d->z || !d->id || !d->type || !d->x || !d->energy || !d->grad || !d->hcoup || !d->has_energy ||
        !d->has_grad || !d->has_hcoup) {
        fh_train_data_free(d);
        fh_dataset_free(ds);
        return fh_err_set(err, FH_EFAIL, "out of memory (%zu geometries)", nok);
    }
    memcpy(d->z, ds->z, sizeof(int) * na);
    size_t r = 0;
    for (size_t i = 0; i < ds->n && rc == FH_OK; i++) {
        if (ds->status[i] != FH_DATASET_OK) continue;
        memcpy(d->id[r], ds->id[i], sizeof d->id[r]);
        for (int k = 0; k < n3; k++) d->x[r * n3 + k] = ds->pos[i * n3 + k] * FH_ANGSTROM_BOHR;
        if (!finite_all(d->x + r * n3, n3))
            rc = fh_err_set(err, FH_EINPUT, "%s: row %zu ('%s'): non-finite position", path, i, ds->id[i]);
        for (int s = 0; s < N; s++) {
            d->has_energy[r * N + s] = ds->has_energy[i * N + s] && isfinite(ds->energy[i * N + s]);
            d->energy[r * N + s] = d->has_energy[r * N + s] ? ds->energy[i * N + s] : 0.0;
            const double *g = ds->grad + (i * N + s) * n3;
            d->has_grad[r * N + s] = ds->has_grad[i * N + s] && finite_all(g, n3);
            for (int k = 0; k < n3; k++) d->grad[(r * N + s) * n3 + k] = d->has_grad[r * N + s] ? g[k] : 0.0;
        }
        for (int a = 0, p = 0; a < N; a++)
            for (int b = a + 1; b < N; b++, p++) {
                const double *nac = ds->nac + (i * P + p) * n3;
                int ok = ds->has_nac[i * P + p] && finite_all(nac, n3) && d->has_energy[r * N + a] &&
                         d->has_energy[r * N + b];
                const double *hci = ds->nac_ci + (i * P + p) * n3;
                int use_ci = nac_target == FH_TRAIN_NAC_CI && ds->has_nac_parts[i * P + p] &&
                             finite_all(hci, n3);
                if (use_ci) ok = 1;
                d->has_hcoup[r * P + p] = ok;
                double gap = ok && !use_ci ? d->energy[r * N + b] - d->energy[r * N + a] : 0.0;
                for (int k = 0; k < n3; k++)
                    d->hcoup[(r * P + p) * n3 + k] = use_ci ? hci[k] : ok ? nac[k] * gap : 0.0;
            }
        r++;
    }
    fh_dataset_free(ds);
    if (rc) {
        fh_train_data_free(d);
        return rc;
    }
    /* checksum of exactly what training sees */
    fh_train_data_checksum(d, d->n, d->checksum);
    *out = d;
    return FH_OK;
}

int fh_train_data_set_types(fh_train_data *d, const fh_model *m, fh_err *err)
{
    if (fh_model_nstates(m) != d->nstates)
        return fh_err_set(err, FH_EINPUT, "%s: the dataset has %d states but the model %d", d->path,
                          d->nstates, fh_model_nstates(m));
    int rc = fh_model_types(m, d->natoms, d->z, d->type, err);
    return rc ? fh_err_prefix(err, "%s: ", d->path) : FH_OK;
}

void fh_train_data_sample(const fh_train_data *d, size_t i, fh_train_sample *s)
{
    const int N = d->nstates, P = d->npairs, n3 = 3 * d->natoms;
    s->natoms = d->natoms;
    s->type = d->type;
    s->x = d->x + i * n3;
    s->energy = d->energy + i * N;
    s->has_energy = d->has_energy + i * N;
    s->grad = d->grad + i * N * n3;
    s->has_grad = d->has_grad + i * N;
    s->hcoup = P ? d->hcoup + i * P * n3 : NULL;
    s->has_hcoup = P ? d->has_hcoup + i * P : NULL;
}

int fh_train_data_elements(const fh_train_data *d, int *elements)
{
    int n = 0;
    for (int zz = 1; zz <= FH_MAX_Z; zz++)
        for (int a = 0; a < d->natoms; a++)
            if (d->z[a] == zz) {
                elements[n++] = zz;
                break;
            }
    return n;
}

/* A row's place in [0, 1): the seed and the id through FNV-1a and a splitmix64 finalizer. */
static double split_position(uint64_t seed, const char *id)
{
    uint64_t h = fh_model_fnv1a(&seed, sizeof seed, FH_MODEL_FNV_INIT);
    h = fh_model_fnv1a(id, strlen(id), h);
    h ^= h >> 30, h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27, h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return (double)(h >> 11) * 0x1.0p-53;
}

int fh_train_split(const fh_train_data *d, double f_train, double f_valid, uint64_t seed,
                   size_t **idx, size_t *n_train, size_t *n_valid, size_t *n_test, fh_err *err)
{
    const size_t n = d->n;
    if (!(f_train > 0 && f_valid >= 0 && f_train + f_valid <= 1.0 + 1e-12))
        return fh_err_set(err, FH_EINPUT, "split fractions train %g, valid %g must be positive and "
                          "sum to at most 1", f_train, f_valid);
    if (n == 0) return fh_err_set(err, FH_EINPUT, "no rows to split");
    size_t *v = malloc(sizeof(size_t) * n);
    unsigned char *part = malloc(n);
    if (!v || !part) {
        free(v), free(part);
        return fh_err_set(err, FH_EFAIL, "out of memory");
    }
    size_t count[3] = {0, 0, 0}, first = 0;
    double u_min = 2.0;
    for (size_t i = 0; i < n; i++) {
        double u = split_position(seed, d->id[i]);
        part[i] = u < f_train ? 0 : u < f_train + f_valid ? 1 : 2;
        count[part[i]]++;
        if (u < u_min) u_min = u, first = i;
    }
    if (count[0] == 0) { /* a tiny dataset: the row nearest to the training part trains */
        count[part[first]]--, count[0]++;
        part[first] = 0;
    }
    size_t at[3] = {0, count[0], count[0] + count[1]};
    for (size_t i = 0; i < n; i++) v[at[part[i]]++] = i;
    free(part);
    *idx = v, *n_train = count[0], *n_valid = count[1], *n_test = count[2];
    return FH_OK;
}

/* Solve the small symmetric positive definite system A x = b (Cholesky, in place). */
static int spd_solve(int n, double *A, double *b)
{
    for (int j = 0; j < n; j++) {
        double s = A[j * n + j];
        for (int k = 0; k < j; k++) s -= A[j * n + k] * A[j * n + k];
        if (!(s > 0)) return -1;
        A[j * n + j] = sqrt(s);
        for (int i = j + 1; i < n; i++) {
            double t = A[i * n + j];
            for (int k = 0; k < j; k++) t -= A[i * n + k] * A[j * n + k];
            A[i * n + j] = t / A[j * n + j];
        }
    }
    for (int i = 0; i < n; i++) {
        double t = b[i];
        for (int k = 0; k < i; k++) t -= A[i * n + k] * b[k];
        b[i] = t / A[i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) {
        double t = b[i];
        for (int k = i + 1; k < n; k++) t -= A[k * n + i] * b[k];
        b[i] = t / A[i * n + i];
    }
    return 0;
}

int fh_train_fit_norm(const fh_train_data *d, const size_t *idx, size_t n, fh_model *m,
                      fh_err *err)
{
    const fh_model_hyper *h = fh_model_get_hyper(m);
    const int N = d->nstates, P = d->npairs, nt = h->n_elements, na = d->natoms, n3 = 3 * na;
    fh_model_norm *nm = fh_model_get_norm(m);
    double cnt[FH_MODEL_MAX_ELEMENTS] = {0};
    for (int a = 0; a < na; a++) cnt[d->type[a]] += 1;
    for (int s = 0; s < N; s++) {
        /* E0: ridge least squares of E_s ~ sum_t cnt_t E0_t (one molecule: the minimum-norm
         * solution; the ridge only fixes the null space) */
        double A[FH_MODEL_MAX_ELEMENTS * FH_MODEL_MAX_ELEMENTS] = {0}, b[FH_MODEL_MAX_ELEMENTS] = {0};
        size_t ne = 0;
        for (size_t q = 0; q < n; q++) {
            size_t i = idx[q];
            if (!d->has_energy[i * N + s]) continue;
            for (int t = 0; t < nt; t++) {
                b[t] += cnt[t] * d->energy[i * N + s];
                for (int u = 0; u < nt; u++) A[t * nt + u] += cnt[t] * cnt[u];
            }
            ne++;
        }
        double tr = 0;
        for (int t = 0; t < nt; t++) tr += A[t * nt + t];
        for (int t = 0; t < nt; t++) A[t * nt + t] += 1e-10 * (tr > 0 ? tr : 1.0) + 1e-300;
        if (ne == 0 || spd_solve(nt, A, b) != 0)
            for (int t = 0; t < nt; t++) b[t] = 0.0;
        for (int t = 0; t < nt; t++) nm->e0[t * N + s] = b[t];
        /* shift: mean per-atom residual; spread of it as the fallback scale */
        double e_ref = 0, mean = 0, var = 0;
        for (int t = 0; t < nt; t++) e_ref += cnt[t] * b[t];
        for (size_t q = 0; q < n; q++) {
            size_t i = idx[q];
            if (d->has_energy[i * N + s]) mean += (d->energy[i * N + s] - e_ref) / na;
        }
        mean = ne ? mean / ne : 0.0;
        for (size_t q = 0; q < n; q++) {
            size_t i = idx[q];
            if (!d->has_energy[i * N + s]) continue;
            double r = (d->energy[i * N + s] - e_ref) / na - mean;
            var += r * r;
        }
        nm->shift[s] = mean;
        /* scale: RMS force component of the state */
        double f2 = 0, nf = 0;
        for (size_t q = 0; q < n; q++) {
            size_t i = idx[q];
            if (!d->has_grad[i * N + s]) continue;
            for (int k = 0; k < n3; k++) f2 += d->grad[(i * N + s) * n3 + k] * d->grad[(i * N + s) * n3 + k];
            nf += n3;
        }
        double sc = nf > 0 ? sqrt(f2 / nf) : (ne > 1 ? sqrt(var / ne) : 0.0);
        nm->scale[s] = sc > 1e-12 ? sc : 1.0;
    }
    for (int p = 0; p < P; p++) {
        double h2 = 0, nh = 0;
        for (size_t q = 0; q < n; q++) {
            size_t i = idx[q];
            if (!d->has_hcoup[i * P + p]) continue;
            for (int k = 0; k < n3; k++) h2 += d->hcoup[(i * P + p) * n3 + k] * d->hcoup[(i * P + p) * n3 + k];
            nh += n3;
        }
        double sc = nh > 0 ? sqrt(h2 / nh) : 0.0;
        nm->nac_scale[p] = sc > 1e-12 ? sc : 1.0;
    }
    /* With the diabatic readout the same nac_scale[0] scales H01, as scale_s scales the states:
     * the RMS of the labels of its gradient's part that h measures (h ~ grad H01 where the states
     * mix), just as scale_s is the RMS of the force labels. The mean of the states' scales instead
     * (6 times larger on stilbene) started H01 at several eV and the gap error at 2.6 eV. */
    (void)err;
    return FH_OK;
}

double fh_train_avg_neighbors(const fh_train_data *d, const size_t *idx, size_t n, double r_cut)
{
    const int na = d->natoms, n3 = 3 * na;
    double pairs = 0;
    for (size_t q = 0; q < n; q++) {
        const double *x = d->x + idx[q] * n3;
        for (int i = 0; i < na; i++)
            for (int j = i + 1; j < na; j++) {
                double r2 = 0;
                for (int k = 0; k < 3; k++) r2 += (x[3 * j + k] - x[3 * i + k]) * (x[3 * j + k] - x[3 * i + k]);
                pairs += r2 < r_cut * r_cut;
            }
    }
    double avg = n ? 2.0 * pairs / ((double)n * na) : 0.0;
    return avg > 0 ? avg : 1.0;
}
