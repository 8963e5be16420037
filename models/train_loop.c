/* The training loop: committee members one after the other, each with Adam (or amsgrad) on
 * mini-batches, an exponential moving average of the weights, learning-rate decay on validation
 * plateaus and early stopping; a checkpoint after every epoch; a final test-split report of the
 * committee.
 *
 * Data parallelism: in every batch, geometry j is evaluated by rank j mod R; the ranks' gradient
 * and loss sums are combined by a reduction declared non-commutative (MPI then combines in rank
 * order) and broadcast, so every rank takes the same step and the result depends only on the
 * seed and the rank count. Everything random (initial weights, data order) is derived from
 * (seed, member, epoch), which also makes a resumed run identical to an uninterrupted one; the
 * initial weights may have a seed of their own (init_seed), so that a member can be redone from
 * other random weights on the same split.
 *
 * A committee is not always trained whole: with an init model, cfg->members names the members to
 * train and the others pass through unchanged. Why: the members of a committee can land in
 * different solutions, and the way out for one poor member is to redo it alone (cfg->reinit). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fh_units.h"
#include "fh_version.h"
#include "model_internal.h"
#include "train_internal.h"

fh_train_config fh_train_config_default(void)
{
    fh_train_config c;
    memset(&c, 0, sizeof c);
    c.train_fraction = 0.8, c.valid_fraction = 0.1;
    c.seed = 1;
    c.loss = fh_train_loss_cfg_default();
    c.amsgrad = 1;
    c.lr = 0.01, c.beta1 = 0.9, c.beta2 = 0.999, c.adam_eps = 1e-8;
    c.lr_factor = 0.8, c.lr_patience = 5, c.lr_min = 1e-6;
    c.ema = 1, c.ema_decay = 0.99;
    c.patience = 30, c.max_epochs = 200, c.batch_size = 5, c.committee = 1;
    return c;
}

typedef struct {
    const fh_train_config *cfg;
    MPI_Comm comm;
    int rank, size;
    MPI_Op sum_op;
    fh_model *m;
    fh_model_ws *ws;
    fh_train_data *d;
    size_t *idx, n_train, n_valid, n_test;
    size_t np;
    double *buf, *red;      /* [np + terms + 2]: gradient, terms, count, error flag */
    size_t nbuf;
    char key[40];
    double t_start;
    int init_members;       /* members the init model brought (0: no init model) */
} trainer;

static int trains(const fh_train_config *c, int k)
{
    return c->members == 0 || (c->members >> k & 1);
}

/* Does member k start from fresh random weights (rather than the init model's)? */
static int is_fresh(const trainer *T, int k)
{
    return !T->cfg->init_model[0] || k >= T->init_members || (T->cfg->reinit >> k & 1);
}

/* The first member not trained (the committee size if all are). */
static int next_untrained(const fh_train_config *c)
{
    int k = 0;
    while (k < c->committee && trains(c, k)) k++;
    return k;
}

static uint64_t init_seed(const fh_train_config *c)
{
    return c->use_init_seed ? c->init_seed : c->seed;
}

/* The first member >= k that is trained (the committee size if none). */
static int next_trained(const fh_train_config *c, int k)
{
    while (k < c->committee && !trains(c, k)) k++;
    return k;
}

static double wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void say(const trainer *T, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const trainer *T, const char *fmt, ...)
{
    if (T->rank != 0 || !T->cfg->log) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    T->cfg->log(T->cfg->log_ctx, line);
}

/* inout = in + inout, element-wise; declared non-commutative so that MPI applies it in rank
 * order (a fixed summation order for a given number of ranks). */
static void ordered_sum(void *in, void *inout, int *len, MPI_Datatype *type)
{
    (void)type;
    const double *a = in;
    double *b = inout;
    for (int i = 0; i < *len; i++) b[i] = a[i] + b[i];
}

/* Sum buf over the ranks into red (every rank gets the same numbers). */
static int reduce(trainer *T, size_t n)
{
    if (T->size == 1 || T->comm == MPI_COMM_NULL) {
        memcpy(T->red, T->buf, sizeof(double) * n);
        return FH_OK;
    }
    if (MPI_Reduce(T->buf, T->red, (int)n, MPI_DOUBLE, T->sum_op, 0, T->comm) != MPI_SUCCESS ||
        MPI_Bcast(T->red, (int)n, MPI_DOUBLE, 0, T->comm) != MPI_SUCCESS)
        return FH_EFAIL;
    return FH_OK;
}

enum { NTERMS = sizeof(fh_train_terms) / sizeof(double) };

/* Rank 0 writes files; every rank must learn whether that failed, or they would part ways. */
static int agree(trainer *T, int rc, fh_err *err)
{
    if (T->comm == MPI_COMM_NULL || T->size == 1) return rc;
    int r = rc;
    MPI_Bcast(&r, 1, MPI_INT, 0, T->comm);
    if (r && !rc) rc = fh_err_set(err, r, "rank 0 failed to write the checkpoint");
    return rc;
}

/* Loss terms (and with grad, the gradient sum) of the rows list[0..n) at weights theta, the work
 * spread over the ranks; on return red holds [gradient | terms | count | failures]. */
static int evaluate(trainer *T, const double *theta, const size_t *list, size_t n, int grad,
                    fh_err *err)
{
    size_t np = grad ? T->np : 0;
    memset(T->buf, 0, sizeof(double) * (np + NTERMS + 2));
    fh_train_terms *terms = (fh_train_terms *)(T->buf + np);
    int rc = FH_OK;
    for (size_t j = 0; j < n && rc == FH_OK; j++) {
        if ((int)(j % (size_t)T->size) != T->rank) continue;
        fh_train_sample s;
        fh_train_data_sample(T->d, list[j], &s);
        rc = fh_train_sample_loss(T->ws, T->m, theta, &s, &T->cfg->loss, grad ? T->buf : NULL, terms, err);
        if (rc) fh_err_prefix(err, "geometry %zu: ", list[j]);
        T->buf[np + NTERMS] += 1;
    }
    T->buf[np + NTERMS + 1] = rc != FH_OK;
    if (reduce(T, np + NTERMS + 2) != FH_OK) return fh_err_set(err, FH_EFAIL, "MPI reduction failed");
    if (rc) return rc;
    if (T->red[np + NTERMS + 1] > 0) return fh_err_set(err, FH_EFAIL, "another rank failed");
    return FH_OK;
}

static void append(char *text, size_t n, const char *fmt, ...);
static int cmp_double(const void *a, const void *b);

double fh_train_clip_grad(double *g, size_t n, double max_norm)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += g[i] * g[i];
    double norm = sqrt(s);
    if (max_norm > 0 && norm > max_norm) {
        double f = max_norm / norm;
        for (size_t i = 0; i < n; i++) g[i] *= f;
    }
    return norm;
}

static void adam_step(trainer *T, train_state *st, const double *g)
{
    const fh_train_config *c = T->cfg;
    st->step++;
    double bc1 = 1.0 - pow(c->beta1, (double)st->step), bc2 = 1.0 - pow(c->beta2, (double)st->step);
    double sbc2 = sqrt(bc2), lr = st->lr / bc1;
    for (size_t i = 0; i < T->np; i++) {
        st->m1[i] = c->beta1 * st->m1[i] + (1.0 - c->beta1) * g[i];
        st->m2[i] = c->beta2 * st->m2[i] + (1.0 - c->beta2) * g[i] * g[i];
        double v = st->m2[i];
        if (c->amsgrad) {
            if (v > st->vmax[i]) st->vmax[i] = v;
            v = st->vmax[i];
        }
        st->theta[i] -= lr * st->m1[i] / (sqrt(v) / sbc2 + c->adam_eps);
    }
    if (c->ema) {
        /* warm-up: a short average at first, the full decay later */
        double dk = (1.0 + st->step) / (10.0 + st->step);
        if (dk > c->ema_decay) dk = c->ema_decay;
        for (size_t i = 0; i < T->np; i++) st->ema[i] = dk * st->ema[i] + (1.0 - dk) * st->theta[i];
    }
}

static void fmt_terms(char *buf, size_t n, const fh_train_terms *t, int N)
{
    size_t u = 0;
    double e = 0, ne = 0;
    for (int s = 0; s < N; s++) e += t->e_abs[s], ne += t->e_n[s];
    u += (size_t)snprintf(buf + u, n - u, "E %.2f meV", ne ? 1e3 * FH_HARTREE_EV * e / ne : NAN);
    if (t->gap_n > 0 && u < n)
        u += (size_t)snprintf(buf + u, n - u, "  gap %.2f meV", 1e3 * FH_HARTREE_EV * t->gap_abs / t->gap_n);
    if (t->f_n > 0 && u < n)
        u += (size_t)snprintf(buf + u, n - u, "  F %.2f meV/A",
                              1e3 * FH_HARTREE_EV * FH_ANGSTROM_BOHR * t->f_abs / t->f_n);
    if (t->h_n > 0 && u < n) snprintf(buf + u, n - u, "  h %.3e Eh/bohr", t->h_abs / t->h_n);
}

/* Train member st->member from its current state to the end (or to a stop). Returns FH_OK with
 * *stopped set when stopped early by stop_after_*. */
static int train_member(trainer *T, train_state *st, long *epochs_run, int *stopped, fh_err *err)
{
    const fh_train_config *c = T->cfg;
    const int k = st->member, K = fh_model_n_members(T->m);
    const size_t B = (size_t)c->batch_size;
    size_t *order = malloc(sizeof(size_t) * (T->n_train ? T->n_train : 1));
    double *gnorm = c->clip_grad > 0 ? malloc(sizeof(double) * (T->n_train / B + 1)) : NULL;
    if (!order || (c->clip_grad > 0 && !gnorm)) {
        free(order), free(gnorm);
        return fh_err_set(err, FH_EFAIL, "out of memory");
    }
    const size_t *valid = T->n_valid ? T->idx + T->n_train : T->idx;
    const size_t n_valid = T->n_valid ? T->n_valid : T->n_train;
    int rc = FH_OK;
    *stopped = 0;
    while (st->epoch < c->max_epochs && rc == FH_OK) {
        double t0 = wall();
        memcpy(order, T->idx, sizeof(size_t) * T->n_train);
        model_rng rng;
        model_rng_seed(&rng, c->seed ^ 0x7a11ULL, ((uint64_t)k << 32) + (uint64_t)st->epoch);
        for (size_t i = T->n_train; i > 1; i--) {
            size_t j = (size_t)(model_rng_next(&rng) % i), t = order[i - 1];
            order[i - 1] = order[j], order[j] = t;
        }
        double train_loss = 0;
        size_t nbatch = 0, nclipped = 0;
        for (size_t b0 = 0; b0 < T->n_train && rc == FH_OK; b0 += B) {
            size_t nb = T->n_train - b0 < B ? T->n_train - b0 : B;
            rc = evaluate(T, st->theta, order + b0, nb, 1, err);
            if (rc) break;
            double cnt = T->red[T->np + NTERMS];
            for (size_t i = 0; i < T->np; i++) T->red[i] /= cnt;
            train_loss += ((fh_train_terms *)(T->red + T->np))->loss;
            if (c->clip_grad > 0) {
                double norm = fh_train_clip_grad(T->red, T->np, c->clip_grad);
                gnorm[nbatch] = norm;
                nclipped += norm > c->clip_grad;
            }
            nbatch++;
            adam_step(T, st, T->red);
        }
        if (rc) break;
        train_loss /= T->n_train;
        const double *eval = c->ema ? st->ema : st->theta;
        rc = evaluate(T, eval, valid, n_valid, 0, err);
        if (rc) break;
        fh_train_terms vt = *(fh_train_terms *)T->red;
        double vscore = c->select == FH_TRAIN_SELECT_ENERGY_FORCE ? vt.l_energy + vt.l_force
                        : c->select == FH_TRAIN_SELECT_ENERGY     ? vt.l_energy
                                                                  : vt.loss;
        double vloss = vscore / T->red[NTERMS];
        st->epoch++;
        (*epochs_run)++;
        int improved = vloss < st->best_val;
        if (improved) {
            st->best_val = vloss;
            memcpy(st->best, eval, sizeof(double) * T->np);
            st->bad = st->plateau = 0;
        } else {
            st->bad++, st->plateau++;
        }
        if (st->plateau >= c->lr_patience && st->lr > c->lr_min) {
            st->lr = st->lr * c->lr_factor < c->lr_min ? c->lr_min : st->lr * c->lr_factor;
            st->plateau = 0;
        }
        char mae[320];
        fmt_terms(mae, sizeof mae, &vt, fh_model_nstates(T->m));
        if (c->clip_grad > 0 && nbatch > 0) {
            qsort(gnorm, nbatch, sizeof *gnorm, cmp_double);
            append(mae, sizeof mae, "  |grad| median %.3g max %.3g, %zu/%zu clipped",
                   gnorm[nbatch / 2], gnorm[nbatch - 1], nclipped, nbatch);
        }
        say(T, "member %d/%d epoch %4ld  lr %.2e  loss train %.4e valid %.4e%s  valid MAE: %s  "
            "[%.1f s]", k + 1, K, st->epoch, st->lr, train_loss, vloss, improved ? "*" : " ", mae,
            wall() - t0);
        int stop = c->patience > 0 && st->bad >= c->patience;
        if (stop) say(T, "member %d/%d: early stop, no improvement for %ld epochs", k + 1, K, st->bad);
        if (stop || st->epoch >= c->max_epochs) break;
        if ((c->stop_after_epochs > 0 && *epochs_run >= c->stop_after_epochs) ||
            (c->stop_after_s > 0 && wall() - T->t_start > c->stop_after_s)) {
            *stopped = 1;
            break;
        }
        if (T->rank == 0) rc = train_ckpt_save(c->checkpoint, T->key, st, err);
        rc = agree(T, rc, err);
    }
    free(order);
    free(gnorm);
    return rc;
}

/* printf onto the end of the string text (buffer of n bytes). */
static void append(char *text, size_t n, const char *fmt, ...)
{
    size_t u = strlen(text);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text + u, n - u, fmt, ap);
    va_end(ap);
}

/* Identity of a training setup: everything that changes the result. */
static void setup_key(const trainer *T, char *key, size_t n)
{
    const fh_train_config *c = T->cfg;
    const fh_model_hyper *h = fh_model_get_hyper(T->m);
    char text[4096];
    snprintf(text, sizeof text,
             "%s|%.17g|%.17g|%llu|%.17g|%.17g|%.17g|%d|%.17g|%d|%.17g|%.17g|%.17g|%.17g|%.17g|%d|"
             "%.17g|%d|%.17g|%d|%d|%d|%d|%s|%d|%zu|split-by-id|%.17g",
             T->d->checksum, c->train_fraction, c->valid_fraction, (unsigned long long)c->seed,
             c->loss.w_energy, c->loss.w_force, c->loss.w_nac, c->loss.force_hvp, c->loss.hvp_step,
             c->amsgrad, c->lr, c->beta1, c->beta2, c->adam_eps, c->lr_factor, c->lr_patience,
             c->lr_min, c->ema, c->ema_decay, c->patience, c->max_epochs, c->batch_size,
             c->committee, c->init_model, c->max_samples, T->np, c->loss.w_gap);
    /* settings added later: only when on, so that the keys of earlier setups stay as they were */
    if (c->select != FH_TRAIN_SELECT_LOSS) append(text, sizeof text, "|select%d", c->select);
    if (c->loss.huber_e > 0 || c->loss.huber_f > 0)
        append(text, sizeof text, "|huber%.17g,%.17g", c->loss.huber_e, c->loss.huber_f);
    if (c->loss.nac_gap_scale > 0) append(text, sizeof text, "|nacgap%.17g", c->loss.nac_gap_scale);
    if (c->loss.nac_norm_scale > 0)
        append(text, sizeof text, "|nacnorm%.17g", c->loss.nac_norm_scale);
    if (c->clip_grad > 0) append(text, sizeof text, "|clip%.17g", c->clip_grad);
    if (c->members || c->reinit || c->use_init_seed)
        append(text, sizeof text, "|members%llx,%llx,%llu", (unsigned long long)c->members,
               (unsigned long long)c->reinit, (unsigned long long)init_seed(c));
    uint64_t hs = fh_model_fnv1a(text, strlen(text), FH_MODEL_FNV_INIT);
    hs = fh_model_fnv1a(h, sizeof *h, hs);
    const fh_model_norm *nm = fh_model_get_norm_const(T->m);
    int N = h->nstates, P = N * (N - 1) / 2;
    hs = fh_model_fnv1a(nm->e0, sizeof(double) * h->n_elements * N, hs);
    hs = fh_model_fnv1a(nm->scale, sizeof(double) * N, hs);
    hs = fh_model_fnv1a(nm->nac_scale, sizeof(double) * P, hs);
    snprintf(key, n, "%016llx", (unsigned long long)hs);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v [n] (sorted in place); 0 for n = 0. */
static double median(double *v, size_t n)
{
    if (n == 0) return 0.0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Fine-tuning from a model of another level of theory (e.g. STO-3G pretraining): its energies
 * are off by a nearly constant amount per state (the basis set's energy zero). Move each state's
 * shift so that the init model's first member has no median error on the training split; the
 * scales, and with them what the network has learned, stay. The median, not the mean: on data of
 * the model's own level the move is then near zero for a model trained with the Huber loss,
 * whereas the mean error of such a model is pulled by its few far-off geometries (round 9 of the
 * stilbene model: mean -30 / +60 meV) and moving by it costs the warm start accuracy. */
static int rezero_offsets(trainer *T, fh_err *err)
{
    const int N = fh_model_nstates(T->m), na = T->d->natoms;
    fh_model_ws *ws = fh_model_ws_alloc(T->m, err);
    if (!ws) return err ? err->code : FH_EFAIL;
    double e[FH_MODEL_MAX_STATES];
    double *res = malloc(sizeof(double) * (T->n_train ? T->n_train : 1) * (size_t)N);
    size_t cnt[FH_MODEL_MAX_STATES] = {0};
    if (!res) {
        fh_model_ws_free(ws);
        return fh_err_set(err, FH_EFAIL, "out of memory");
    }
    int rc = FH_OK;
    for (size_t q = 0; q < T->n_train && rc == FH_OK; q++) {
        size_t i = T->idx[q];
        rc = fh_model_forward(ws, T->m, fh_model_params(T->m, 0), na, T->d->type,
                              T->d->x + i * 3 * (size_t)na, 0, e, NULL, err);
        for (int s = 0; rc == FH_OK && s < N; s++)
            if (T->d->has_energy[i * N + s])
                res[s * T->n_train + cnt[s]++] = T->d->energy[i * N + s] - e[s];
    }
    fh_model_ws_free(ws);
    if (rc) {
        free(res);
        return rc;
    }
    fh_model_norm *nm = fh_model_get_norm(T->m);
    char text[256] = "";
    for (int s = 0; s < N; s++) {
        double d = median(res + s * T->n_train, cnt[s]);
        nm->shift[s] += d / na;
        size_t len = strlen(text);
        snprintf(text + len, sizeof text - len, "%s S%d %+.4f eV", s ? "," : "", s, d * FH_HARTREE_EV);
    }
    free(res);
    say(T, "init model %s: energy zero moved to the training data (median error):%s",
        T->cfg->init_model, text);
    return FH_OK;
}

/* The deck's coupling sign flips (atom list) on the model, sized by the dataset's molecule. */
static int set_flips(trainer *T, fh_err *err)
{
    const fh_train_config *c = T->cfg;
    if (!c->nac_flip_count) return FH_OK;
    const int na = T->d->natoms;
    if (na > FH_MODEL_MAX_FLIP_ATOMS)
        return fh_err_set(err, FH_EINPUT, "nac_flip: at most %d atoms (the dataset has %d)",
                          FH_MODEL_MAX_FLIP_ATOMS, na);
    unsigned char flip[FH_MODEL_MAX_FLIP_ATOMS] = {0};
    for (int k = 0; k < c->nac_flip_count; k++) {
        if (c->nac_flip[k] < 0 || c->nac_flip[k] >= na)
            return fh_err_set(err, FH_EINPUT, "nac_flip: atom %d, but the dataset's molecule has "
                              "%d atoms", c->nac_flip[k] + 1, na);
        flip[c->nac_flip[k]] = 1;
    }
    return fh_model_set_nac_flip(T->m, na, flip, err);
}

/* Build the model: from the init file, or from h with elements, states and the neighbour count
 * filled from the data; normalisation fitted to the training split. */
static int build_model(trainer *T, const fh_model_hyper *h0, fh_err *err)
{
    const fh_train_config *c = T->cfg;
    int rc;
    if (c->init_model[0]) {
        /* members beyond the file's start from (seed, k); extra ones in the file are dropped */
        rc = fh_model_load(c->init_model, &T->m, err);
        if (!rc && fh_model_get_hyper(T->m)->diabatic != h0->diabatic)
            rc = fh_err_set(err, FH_EINPUT, "init model %s has the %s coupling readout, the deck "
                            "asks for the %s one ([model] coupling; their weights differ)",
                            c->init_model, fh_model_get_hyper(T->m)->diabatic ? "diabatic" : "vector",
                            h0->diabatic ? "diabatic" : "vector");
        /* the even head is added (at zero) to an init model without one, never dropped */
        if (!rc && fh_model_get_hyper(T->m)->nac_even && !h0->nac_even)
            rc = fh_err_set(err, FH_EINPUT, "init model %s has the even coupling head; the deck "
                            "does not ask for it ([model] nac_even_head = true keeps it)",
                            c->init_model);
        if (!rc && h0->nac_even) rc = fh_model_set_nac_even(T->m, 1, err);
        /* the same for the residual coupling head */
        const int resid = rc ? 0 : fh_model_get_hyper(T->m)->nac_resid;
        if (!rc && resid > h0->nac_resid)
            rc = fh_err_set(err, FH_EINPUT, "init model %s has the residual coupling head%s; the "
                            "deck does not ask for it ([model] %s = true keeps it)", c->init_model,
                            resid == 2 ? " with its even part" : "",
                            resid == 2 ? "nac_residual_even" : "nac_residual");
        if (!rc && h0->nac_resid) rc = fh_model_set_nac_resid(T->m, h0->nac_resid, err);
        if (!rc && c->widen) rc = fh_model_widen(T->m, c->widen, init_seed(c), err);
        if (!rc) rc = set_flips(T, err);
        if (!rc) T->init_members = fh_model_n_members(T->m);
        if (!rc) rc = fh_train_data_set_types(T->d, T->m, err);
        /* members kept as they are keep the energy zero they were trained with too (with the
         * diabatic readout a shift is more than a constant: it moves the seam) */
        if (!rc && next_untrained(c) == c->committee) rc = rezero_offsets(T, err);
        if (!rc) rc = fh_model_set_members(T->m, c->committee, init_seed(c), err);
        for (int k = 0; k < c->committee && k < T->init_members && !rc; k++)
            if (c->reinit >> k & 1) fh_model_init_params(T->m, k, init_seed(c));
        return rc;
    }
    fh_model_hyper h = *h0;
    if (h.nstates == 0) h.nstates = T->d->nstates;
    if (h.n_elements == 0) h.n_elements = fh_train_data_elements(T->d, h.elements);
    if (!(h.avg_neighbors > 0))
        h.avg_neighbors = fh_train_avg_neighbors(T->d, T->idx, T->n_train, h.r_cut);
    rc = fh_model_alloc(&h, c->committee, init_seed(c), &T->m, err);
    if (!rc) rc = set_flips(T, err);
    if (!rc) rc = fh_train_data_set_types(T->d, T->m, err);
    if (!rc) rc = fh_train_fit_norm(T->d, T->idx, T->n_train, T->m, err);
    return rc;
}

/* Errors of the committee (energies, gradients, couplings all from the committee mean, as the
 * dynamics sees them) on rows list[0..n), summed over the ranks into *out. */
static int committee_errors(trainer *T, const size_t *list, size_t n, fh_train_terms *out, fh_err *err)
{
    memset(T->buf, 0, sizeof(double) * (NTERMS + 2));
    int rc = FH_OK;
    for (size_t j = 0; j < n && rc == FH_OK; j++) {
        if ((int)(j % (size_t)T->size) != T->rank) continue;
        fh_train_terms t;
        rc = fh_train_row_errors(T->m, T->d, list[j], &T->cfg->loss, &t, err);
        if (rc) break;
        fh_train_terms_add((fh_train_terms *)T->buf, &t);
        T->buf[NTERMS] += 1;
    }
    T->buf[NTERMS + 1] = rc != FH_OK;
    if (reduce(T, NTERMS + 2) != FH_OK) return fh_err_set(err, FH_EFAIL, "MPI reduction failed");
    if (rc) return rc;
    if (T->red[NTERMS + 1] > 0) return fh_err_set(err, FH_EFAIL, "another rank failed");
    *out = *(fh_train_terms *)T->red;
    return FH_OK;
}

/* The final report of the test-split errors. */
static void test_report(const trainer *T, const fh_train_terms *t)
{
    const int N = fh_model_nstates(T->m), P = N * (N - 1) / 2;
    if (T->n_test == 0) {
        say(T, "test: no test geometries (train_fraction + valid_fraction = %g; the split by id "
            "put none of the %zu rows in the test part)", T->cfg->train_fraction +
            T->cfg->valid_fraction, T->d->n);
        return;
    }
    char line[1024];
    size_t u = (size_t)snprintf(line, sizeof line, "test (%zu geometries): energy MAE", T->n_test);
    for (int s = 0; s < N && u < sizeof line; s++)
        u += (size_t)snprintf(line + u, sizeof line - u, " S%d %.2f meV", s,
                              t->e_n[s] ? 1e3 * FH_HARTREE_EV * t->e_abs[s] / t->e_n[s] : NAN);
    if (t->gap_n > 0 && u < sizeof line)
        u += (size_t)snprintf(line + u, sizeof line - u, "; gap MAE %.2f meV",
                              1e3 * FH_HARTREE_EV * t->gap_abs / t->gap_n);
    if (t->f_n > 0 && u < sizeof line)
        u += (size_t)snprintf(line + u, sizeof line - u, "; force MAE %.2f meV/A (%.3e Eh/bohr)",
                              1e3 * FH_HARTREE_EV * FH_ANGSTROM_BOHR * t->f_abs / t->f_n, t->f_abs / t->f_n);
    if (t->h_n > 0 && u < sizeof line)
        u += (size_t)snprintf(line + u, sizeof line - u, "; coupling h MAE %.3e Eh/bohr", t->h_abs / t->h_n);
    say(T, "%s", line);
    if (P > 0) {
        if (t->nac_n > 0)
            say(T, "test NACs where the gap < 1 eV (%.0f pair geometries): phase-free cosine "
                "similarity %.4f, relative norm error %.4f", t->nac_n, t->nac_cos / t->nac_n,
                t->nac_rel / t->nac_n);
        else
            say(T, "test NACs: no test geometry with a reference gap below 1 eV");
    }
}

/* Start member k: its initial weights (calibrated on up to 16 training geometries unless they
 * come from an init model: a committee larger than the init model's has its extra members
 * calibrated as fresh ones, as are the reinit ones) and a fresh optimiser. */
static int fresh_member(trainer *T, train_state *st, int k, fh_err *err)
{
    if (is_fresh(T, k)) {
        size_t ng = T->n_train < 16 ? T->n_train : 16, n3 = 3 * (size_t)T->d->natoms;
        double *x = malloc(sizeof(double) * (ng ? ng : 1) * n3);
        if (!x) return fh_err_set(err, FH_EFAIL, "out of memory");
        for (size_t g = 0; g < ng; g++) memcpy(x + g * n3, T->d->x + T->idx[g] * n3, sizeof(double) * n3);
        int rc = fh_model_calibrate(T->m, k, (int)ng, T->d->natoms, T->d->type, x, err);
        free(x);
        if (rc) return rc;
    }
    st->member = k;
    st->epoch = st->step = st->bad = st->plateau = 0;
    st->lr = T->cfg->lr;
    st->best_val = INFINITY;
    memcpy(st->theta, fh_model_params(T->m, k), sizeof(double) * T->np);
    memcpy(st->ema, st->theta, sizeof(double) * T->np);
    memcpy(st->best, st->theta, sizeof(double) * T->np);
    memset(st->m1, 0, sizeof(double) * T->np);
    memset(st->m2, 0, sizeof(double) * T->np);
    memset(st->vmax, 0, sizeof(double) * T->np);
    return FH_OK;
}

/* The trained committee: weights, provenance (with its validation errors), test report, file. */
static int finish(trainer *T, const train_state *st, fh_train_result *res, fh_err *err)
{
    const fh_train_config *cfg = T->cfg;
    long maxep = 0;
    for (int k = 0; k < cfg->committee; k++) {
        memcpy(fh_model_params(T->m, k), st->done + (size_t)k * T->np, sizeof(double) * T->np);
        if (st->epochs_done[k] > maxep) maxep = st->epochs_done[k];
    }
    fh_model_provenance *pv = fh_model_get_provenance(T->m);
    snprintf(pv->dataset, sizeof pv->dataset, "%s", cfg->dataset);
    snprintf(pv->dataset_checksum, sizeof pv->dataset_checksum, "%s", T->d->checksum);
    snprintf(pv->version, sizeof pv->version, "%s %s", FH_PROGRAM, FH_VERSION);
    snprintf(pv->command, sizeof pv->command, "%s", cfg->command);
    snprintf(pv->nac_target, sizeof pv->nac_target, "%s",
             cfg->nac_target == FH_TRAIN_NAC_TOTAL ? "total" : "ci");
    time_t now = time(NULL);
    strftime(pv->date, sizeof pv->date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    pv->epochs = maxep;
    pv->n_train = (long)T->n_train, pv->n_valid = (long)T->n_valid, pv->n_test = (long)T->n_test;
    pv->seed = cfg->seed;
    fh_train_terms vt;
    int rc = committee_errors(T, T->idx + T->n_train, T->n_valid, &vt, err);
    if (rc) return rc;
    double ne = 0, ea = 0;
    for (int s = 0; s < FH_MODEL_MAX_STATES; s++) ea += vt.e_abs[s], ne += vt.e_n[s];
    pv->valid_energy_mae = ne > 0 ? ea / ne : NAN;
    pv->valid_force_mae = vt.f_n > 0 ? vt.f_abs / vt.f_n : NAN;
    pv->valid_nac_mae = vt.h_n > 0 ? vt.h_abs / vt.h_n : NAN;
    rc = committee_errors(T, T->idx + T->n_train + T->n_valid, T->n_test, &res->test, err);
    if (rc) return rc;
    res->test_loss = T->n_test ? res->test.loss / T->n_test : NAN;
    test_report(T, &res->test);
    if (T->rank == 0) {
        rc = fh_model_save(T->m, cfg->output, err);
        if (!rc) {
            unlink(cfg->checkpoint);
            say(T, "model written to %s", cfg->output);
        }
    }
    return agree(T, rc, err);
}

/* The member lists name members of the committee only (a non-empty members list then trains at
 * least one); the deck parser checks the same, callers of the library may not have. */
static int check_members(const fh_train_config *c, fh_err *err)
{
    if (c->committee < 1 || c->committee > FH_MODEL_MAX_MEMBERS) return FH_OK; /* reported below */
    uint64_t all = c->committee == 64 ? ~(uint64_t)0 : ((uint64_t)1 << c->committee) - 1;
    if ((c->members & ~all) || (c->reinit & ~all))
        return fh_err_set(err, FH_EINPUT, "[train] members / reinit name a member beyond the "
                          "committee of %d", c->committee);
    return FH_OK;
}

int fh_train_run(const fh_model_hyper *h, const fh_train_config *cfg, MPI_Comm comm,
                 fh_train_result *res, fh_err *err)
{
    memset(res, 0, sizeof *res);
    trainer T;
    memset(&T, 0, sizeof T);
    T.cfg = cfg;
    T.comm = comm;
    T.size = 1;
    T.t_start = wall();
    if (comm != MPI_COMM_NULL) {
        MPI_Comm_rank(comm, &T.rank);
        MPI_Comm_size(comm, &T.size);
        MPI_Op_create(ordered_sum, 0, &T.sum_op);
    }
    if (cfg->committee < 1 || cfg->committee > FH_MODEL_MAX_MEMBERS || cfg->batch_size < 1 ||
        cfg->max_epochs < 1 || !(cfg->lr > 0) || !cfg->output[0] || !cfg->checkpoint[0]) {
        if (comm != MPI_COMM_NULL) MPI_Op_free(&T.sum_op);
        return fh_err_set(err, FH_EINPUT, "training: committee 1..%d, batch_size >= 1, epochs >= 1, "
                          "lr > 0, an output and a checkpoint path are required", FH_MODEL_MAX_MEMBERS);
    }
    train_state st;
    memset(&st, 0, sizeof st);
    int rc = check_members(cfg, err);
    if (!rc) rc = fh_train_data_load(cfg->dataset, cfg->nac_target, &T.d, err);
    if (!rc && cfg->max_samples > 0 && T.d->n > (size_t)cfg->max_samples) T.d->n = (size_t)cfg->max_samples;
    if (!rc) rc = fh_train_split(T.d, cfg->train_fraction, cfg->valid_fraction, cfg->seed, &T.idx,
                                 &T.n_train, &T.n_valid, &T.n_test, err);
    if (!rc) rc = build_model(&T, h, err);
    for (int k = 0; k < cfg->committee && !rc; k++)
        if (!trains(cfg, k) && is_fresh(&T, k))
            rc = fh_err_set(err, FH_EINPUT, "[train] members: member %d is not trained, but %s",
                            k + 1, !cfg->init_model[0] ? "there is no init_model to take it from"
                            : k >= T.init_members ? "the init model has fewer members"
                            : "it is in reinit (fresh weights)");
    if (!rc) {
        T.ws = fh_model_ws_alloc(T.m, err);
        if (!T.ws) rc = err ? err->code : FH_EFAIL;
    }
    if (!rc) {
        T.np = fh_model_n_params(T.m);
        T.nbuf = T.np + NTERMS + 2;
        T.buf = malloc(sizeof(double) * T.nbuf);
        T.red = malloc(sizeof(double) * T.nbuf);
        if (!T.buf || !T.red || train_state_alloc(&st, T.np, cfg->committee) != FH_OK)
            rc = fh_err_set(err, FH_EFAIL, "out of memory (%zu weights)", T.np);
    }
    if (!rc) {
        setup_key(&T, T.key, sizeof T.key);
        res->n_train = T.n_train, res->n_valid = T.n_valid, res->n_test = T.n_test;
        const fh_model_hyper *hp = fh_model_get_hyper(T.m);
        say(&T, "fusionhop train: %zu geometries (%zu train, %zu valid, %zu test) from %s; %d "
            "states, %d atoms; %zu weights per member, %d member%s; %d rank%s", T.d->n, T.n_train,
            T.n_valid, T.n_test, cfg->dataset, hp->nstates, T.d->natoms, T.np, cfg->committee,
            cfg->committee > 1 ? "s" : "", T.size, T.size > 1 ? "s" : "");
        if (cfg->select == FH_TRAIN_SELECT_ENERGY_FORCE)
            say(&T, "fusionhop train: the validation score (valid, *) is the energy and force "
                "terms of the loss only");
        if (cfg->select == FH_TRAIN_SELECT_ENERGY)
            say(&T, "fusionhop train: the validation score (valid, *) is the energy term of the "
                "loss only (energies and gaps)");
        if (cfg->loss.huber_e > 0 || cfg->loss.huber_f > 0)
            say(&T, "fusionhop train: Huber loss, errors beyond %.4g meV (energies) and %.4g "
                "meV/A (gradient components) count linearly (0: squared)",
                1e3 * FH_HARTREE_EV * cfg->loss.huber_e,
                1e3 * FH_HARTREE_EV * FH_ANGSTROM_BOHR * cfg->loss.huber_f);
        if (next_untrained(cfg) < cfg->committee) {
            char kept[512] = "";
            for (int k = 0; k < cfg->committee; k++)
                if (!trains(cfg, k)) append(kept, sizeof kept, "%s%d", kept[0] ? "," : "", k + 1);
            say(&T, "fusionhop train: member(s) %s kept unchanged from %s", kept, cfg->init_model);
        }
        if (cfg->loss.nac_gap_scale > 0)
            say(&T, "fusionhop train: coupling term weighted 1 / (1 + (gap / %.4g eV)^2) per pair",
                FH_HARTREE_EV * cfg->loss.nac_gap_scale);
        if (cfg->loss.nac_norm_scale > 0)
            say(&T, "fusionhop train: coupling term weighted 1 / (1 + |h_ref|^2 / (%.4g eV/A)^2) "
                "per pair", FH_HARTREE_EV * FH_ANGSTROM_BOHR * cfg->loss.nac_norm_scale);
        if (cfg->clip_grad > 0)
            say(&T, "fusionhop train: batch gradients longer than %.4g are scaled down to it",
                cfg->clip_grad);
    }
    /* resume? */
    int have_ckpt = !rc && !cfg->force && access(cfg->checkpoint, F_OK) == 0;
    if (have_ckpt) {
        rc = train_ckpt_load(cfg->checkpoint, T.key, &st, err);
        if (!rc) {
            res->resumed = 1;
            say(&T, "resuming from %s: member %d, %ld epochs done", cfg->checkpoint, st.member + 1, st.epoch);
        }
    }
    if (!rc && !have_ckpt) {
        /* members not trained here are finished already: the init model's weights */
        for (int k = 0; k < cfg->committee; k++)
            if (!trains(cfg, k))
                memcpy(st.done + (size_t)k * T.np, fh_model_params(T.m, k), sizeof(double) * T.np);
        int k0 = next_trained(cfg, 0);
        if (k0 < cfg->committee) rc = fresh_member(&T, &st, k0, err);
        else st.member = cfg->committee;
    }
    int stopped = 0;
    while (!rc && st.member < cfg->committee) {
        int k = st.member;
        rc = train_member(&T, &st, &res->epochs, &stopped, err);
        if (rc) break;
        if (!stopped) {
            memcpy(st.done + (size_t)k * T.np, st.best, sizeof(double) * T.np);
            st.epochs_done[k] = st.epoch;
            res->members_done = k + 1;
            int next = next_trained(cfg, k + 1);
            if (next < cfg->committee) rc = fresh_member(&T, &st, next, err);
            else st.member = cfg->committee;
        }
        if (rc) break;
        if (T.rank == 0) rc = train_ckpt_save(cfg->checkpoint, T.key, &st, err);
        rc = agree(&T, rc, err);
        if (stopped) {
            say(&T, "stopped after %ld epochs; resume from %s by running again", res->epochs,
                cfg->checkpoint);
            break;
        }
    }
    if (rc == FH_OK && !stopped) {
        rc = finish(&T, &st, res, err);
        res->finished = rc == FH_OK;
    }
    train_state_free(&st);
    free(T.buf), free(T.red), free(T.idx);
    fh_model_ws_free(T.ws);
    fh_model_free(T.m);
    fh_train_data_free(T.d);
    if (comm != MPI_COMM_NULL) MPI_Op_free(&T.sum_op);
    return rc;
}
