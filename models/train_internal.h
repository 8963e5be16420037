/* Private pieces of the trainer (models/train_*.c): the optimiser state of the member being
 * trained and its checkpoint file. */
#ifndef FH_TRAIN_INTERNAL_H
#define FH_TRAIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fh_train.h"

/* Everything needed to continue training exactly where it stopped. */
typedef struct {
    int member;           /* member being trained (members before it are finished) */
    long epoch;           /* epochs completed for this member */
    long step;            /* optimiser steps taken for this member */
    double lr, best_val;
    long bad, plateau;    /* epochs without improvement: in total, since the last lr change */
    size_t np;
    int n_members;
    double *theta, *m1, *m2, *vmax, *ema, *best; /* [np] */
    double *done;         /* [n_members][np] weights of finished members */
    long *epochs_done;    /* [n_members] */
} train_state;

int train_state_alloc(train_state *st, size_t np, int n_members);
void train_state_free(train_state *st);

/* Write the checkpoint atomically (PATH.tmp renamed over PATH). `key` identifies the training
 * setup (configuration, architecture and data); a checkpoint with another key is refused. */
int train_ckpt_save(const char *path, const char *key, const train_state *st, fh_err *err);
/* Load into st (allocated with the right sizes). FH_EINPUT when it does not match. */
int train_ckpt_load(const char *path, const char *key, train_state *st, fh_err *err);

#endif
