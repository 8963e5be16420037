/* Training checkpoints: the optimiser state of the member in training and the weights of the
 * finished members, written after every epoch to PATH.tmp and renamed over PATH, so a kill at any
 * moment leaves the previous complete checkpoint. A resumed run continues bitwise identically,
 * because everything random is derived from (seed, member, epoch). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model_h5.h"
#include "train_internal.h"

#define CKPT_FORMAT "fusionhop-train-checkpoint"

int train_state_alloc(train_state *st, size_t np, int n_members)
{
    memset(st, 0, sizeof *st);
    st->np = np, st->n_members = n_members;
    double **arrs[] = {&st->theta, &st->m1, &st->m2, &st->vmax, &st->ema, &st->best};
    for (size_t k = 0; k < sizeof arrs / sizeof *arrs; k++)
        if (!(*arrs[k] = calloc(np, sizeof(double)))) return FH_EFAIL;
    st->done = calloc(np * n_members, sizeof(double));
    st->epochs_done = calloc((size_t)n_members, sizeof(long));
    return st->done && st->epochs_done ? FH_OK : FH_EFAIL;
}

void train_state_free(train_state *st)
{
    free(st->theta), free(st->m1), free(st->m2), free(st->vmax), free(st->ema), free(st->best);
    free(st->done), free(st->epochs_done);
    memset(st, 0, sizeof *st);
}

static const char *vec_names[6] = {"theta", "adam_m", "adam_v", "adam_vmax", "ema", "best"};

static double *vec(const train_state *st, int k)
{
    double *v[6] = {st->theta, st->m1, st->m2, st->vmax, st->ema, st->best};
    return v[k];
}

int train_ckpt_save(const char *path, const char *key, const train_state *st, fh_err *err)
{
    size_t len = strlen(path) + 5;
    char *tmp = malloc(len);
    if (!tmp) return fh_err_set(err, FH_EFAIL, "out of memory");
    snprintf(tmp, len, "%s.tmp", path);
    model_h5_quiet q;
    model_h5_quiet_begin(&q);
    int bad = 0;
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        bad = 1;
    } else {
        bad |= model_h5_put_str(f, "format", CKPT_FORMAT);
        bad |= model_h5_put_str(f, "key", key);
        bad |= model_h5_put_int(f, "member", st->member);
        bad |= model_h5_put_int(f, "n_members", st->n_members);
        bad |= model_h5_put_int(f, "n_params", (long)st->np);
        bad |= model_h5_put_int(f, "epoch", st->epoch);
        bad |= model_h5_put_int(f, "step", st->step);
        bad |= model_h5_put_int(f, "bad_epochs", st->bad);
        bad |= model_h5_put_int(f, "plateau_epochs", st->plateau);
        bad |= model_h5_put_dbl(f, "lr", st->lr);
        bad |= model_h5_put_dbl(f, "best_valid_loss", st->best_val);
        hsize_t d1 = st->np, d2[2] = {(hsize_t)st->n_members, st->np}, dk = (hsize_t)st->n_members;
        for (int k = 0; k < 6; k++) bad |= model_h5_put_dset(f, vec_names[k], 1, &d1, vec(st, k));
        bad |= model_h5_put_dset(f, "finished_members", 2, d2, st->done);
        double ep[64];
        for (int k = 0; k < st->n_members && k < 64; k++) ep[k] = (double)st->epochs_done[k];
        bad |= model_h5_put_dset(f, "epochs_done", 1, &dk, ep);
        if (H5Fclose(f) < 0) bad = 1;
    }
    model_h5_quiet_end(&q);
    int rc = FH_OK;
    if (bad) rc = fh_err_set(err, FH_EFAIL, "%s: writing the training checkpoint failed", tmp);
    else if (rename(tmp, path) != 0) rc = fh_err_set(err, FH_EFAIL, "%s: cannot rename the checkpoint into place", path);
    if (rc) unlink(tmp);
    free(tmp);
    return rc;
}

int train_ckpt_load(const char *path, const char *key, train_state *st, fh_err *err)
{
    model_h5_quiet q;
    model_h5_quiet_begin(&q);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int rc = FH_OK;
    char fmt[64] = "", k2[64] = "";
    long member = 0, nm = 0, np = 0;
    if (f < 0) {
        rc = fh_err_set(err, FH_EINPUT, "not an HDF5 file, or a truncated one");
    } else {
        if (model_h5_get_str(f, "format", fmt, sizeof fmt, err) || strcmp(fmt, CKPT_FORMAT) != 0)
            rc = fh_err_set(err, FH_EINPUT, "not a training checkpoint");
        if (!rc) rc = model_h5_get_str(f, "key", k2, sizeof k2, err);
        if (!rc && strcmp(k2, key) != 0)
            rc = fh_err_set(err, FH_EINPUT, "written for a different deck, architecture or dataset "
                            "(remove it, or use --force to start over)");
        if (!rc) rc = model_h5_get_int(f, "member", &member, err);
        if (!rc) rc = model_h5_get_int(f, "n_members", &nm, err);
        if (!rc) rc = model_h5_get_int(f, "n_params", &np, err);
        if (!rc && (nm != st->n_members || np != (long)st->np || member < 0 || member > nm))
            rc = fh_err_set(err, FH_EINPUT, "sizes do not match the model");
        if (!rc) rc = model_h5_get_int(f, "epoch", &st->epoch, err);
        if (!rc) rc = model_h5_get_int(f, "step", &st->step, err);
        if (!rc) rc = model_h5_get_int(f, "bad_epochs", &st->bad, err);
        if (!rc) rc = model_h5_get_int(f, "plateau_epochs", &st->plateau, err);
        if (!rc) rc = model_h5_get_dbl(f, "lr", &st->lr, err);
        if (!rc) rc = model_h5_get_dbl(f, "best_valid_loss", &st->best_val, err);
        hsize_t d1 = st->np, d2[2] = {(hsize_t)st->n_members, st->np}, dk = (hsize_t)st->n_members;
        for (int k = 0; k < 6 && !rc; k++) rc = model_h5_get_dset(f, vec_names[k], 1, &d1, vec(st, k), err);
        if (!rc) rc = model_h5_get_dset(f, "finished_members", 2, d2, st->done, err);
        double ep[64];
        if (!rc && st->n_members <= 64) rc = model_h5_get_dset(f, "epochs_done", 1, &dk, ep, err);
        for (int k = 0; k < st->n_members && k < 64 && !rc; k++) st->epochs_done[k] = (long)ep[k];
        H5Fclose(f);
    }
    model_h5_quiet_end(&q);
    st->member = (int)member;
    if (rc) {
        fh_err_prefix(err, "%s: checkpoint: ", path);
        if (err) err->code = FH_EINPUT;
        return FH_EINPUT;
    }
    return FH_OK;
}
