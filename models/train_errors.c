/* How far a trained model is from reference rows: the committee mean's errors on one row (the
 * terms of the training's test report, per row), and the checksum that says which rows a model
 * was trained on. Why separate from the loss: the same numbers serve the final test report and
 * `fusionhop dataset errors`, which measures a model on rows added after it was trained (active
 * learning: is the model good where the new data are?). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fh_train.h"
#include "model_internal.h"

int fh_train_row_errors(fh_model *m, const fh_train_data *d, size_t i,
                        const fh_train_loss_cfg *cfg, fh_train_terms *t, fh_err *err)
{
    const int N = fh_model_nstates(m), P = N * (N - 1) / 2, n3 = 3 * d->natoms;
    if (N != d->nstates)
        return fh_err_set(err, FH_EINPUT, "the model has %d states, the dataset %d", N,
                          d->nstates);
    double *G = malloc(sizeof(double) * (size_t)N * n3);
    double *H = malloc(sizeof(double) * (size_t)(P ? P : 1) * n3);
    if (!G || !H) {
        free(G), free(H);
        return fh_err_set(err, FH_EFAIL, "out of memory");
    }
    fh_train_sample s;
    fh_train_data_sample(d, i, &s);
    double E[FH_MODEL_MAX_STATES], sd[FH_MODEL_MAX_STATES];
    unsigned mask = 0;
    for (int k = 0; k < N; k++) mask |= (unsigned)(s.has_grad[k] != 0) << k;
    fh_model_request rq = {.grad_mask = mask, .energy = E, .grad = G, .hcoup = P ? H : NULL,
                           .energy_std = sd};
    int rc = fh_model_predict(m, d->natoms, d->z, s.x, &rq, err);
    if (rc == FH_OK) train_eval_terms(m, &s, cfg, E, G, P ? H : NULL, t, NULL, NULL, NULL);
    free(G), free(H);
    return rc;
}

void fh_train_data_checksum(const fh_train_data *d, size_t n, char out[40])
{
    const size_t N = (size_t)d->nstates, P = (size_t)d->npairs, n3 = 3 * (size_t)d->natoms;
    if (n > d->n) n = d->n;
    /* field by field over the first n rows: the arrays are row-major, so a prefix of rows is a
     * prefix of each array */
    uint64_t h = FH_MODEL_FNV_INIT;
    h = fh_model_fnv1a(d->z, sizeof(int) * (size_t)d->natoms, h);
    h = fh_model_fnv1a(d->x, sizeof(double) * n * n3, h);
    h = fh_model_fnv1a(d->energy, sizeof(double) * n * N, h);
    h = fh_model_fnv1a(d->grad, sizeof(double) * n * N * n3, h);
    h = fh_model_fnv1a(d->hcoup, sizeof(double) * n * P * n3, h);
    h = fh_model_fnv1a(d->has_energy, n * N, h);
    h = fh_model_fnv1a(d->has_grad, n * N, h);
    h = fh_model_fnv1a(d->has_hcoup, n * P, h);
    snprintf(out, 40, "%016llx", (unsigned long long)h);
}
