/* `fusionhop train DECK`: fit the multi-state model ([model]) to a reference dataset ([train]),
 * serially or data-parallel under mpirun, with a checkpoint every epoch: running the same command
 * again after a kill resumes where it stopped. Progress is one line per epoch on stderr; the model
 * file is written at the end with the test-split report. */
#include "fh_app.h"
#include "fh_deck.h"
#include "fh_file.h"
#include "fh_model.h"
#include "fh_train.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(void)
{
    printf("usage: fusionhop train DECK [-o MODEL_FILE] [--set section.key=value]... [--force]\n\n"
           "Train the model of DECK's [model] section on the dataset named in [train] (see\n"
           "`fusionhop help deck` for every key). Under `mpirun -n R` the geometries of each batch\n"
           "are shared by R ranks; results depend only on the seed and R.\n\n"
           "Writes MODEL_FILE (default: [train] output, else <deck name>.model.h5) and, after every\n"
           "epoch, a checkpoint (MODEL_FILE.ckpt); running the command again resumes from it, --force\n"
           "starts over. One progress line per epoch and a final test-split report go to stderr.\n");
}

/* "64,64,64" -> widths. */
static int parse_widths(const char *s, fh_model_hyper *h, fh_err *err)
{
    h->n_radial = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 4096 || h->n_radial >= FH_MODEL_MAX_RADIAL)
            return fh_err_set(err, FH_EINPUT, "[model] radial_mlp = '%s': need up to %d "
                              "comma-separated widths 1..4096", s, FH_MODEL_MAX_RADIAL);
        h->radial[h->n_radial++] = (int)v;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        while (*p == ' ') p++;
    }
    return FH_OK;
}

/* "2,15-26": a comma-separated list of 1-based numbers and ranges up to max -> 0-based values
 * in out[*n] (at most max of them); -1 if the text is not such a list. */
static int parse_list(const char *s, int max, int *out, int *n)
{
    *n = 0;
    const char *p = s;
    while (*p == ' ') p++;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end != p && *end == '-') {
            const char *q = end + 1;
            b = strtol(q, &end, 10);
            if (end == q) b = 0;
        }
        if (end == p || a < 1 || b < a || b > max || *n + (b - a + 1) > max) return -1;
        for (long k = a; k <= b; k++) out[(*n)++] = (int)k - 1;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        while (*p == ' ') p++;
    }
    return 0;
}

/* [model] nac_flip = "2,15-26" (1-based atoms and ranges) -> 0-based atoms in c->nac_flip. */
static int parse_flip(const char *s, fh_train_config *c, fh_err *err)
{
    if (parse_list(s, FH_MODEL_MAX_FLIP_ATOMS, c->nac_flip, &c->nac_flip_count))
        return fh_err_set(err, FH_EINPUT, "[model] nac_flip = '%s': need a comma-separated "
                          "list of atoms and ranges (e.g. 2,15-26), 1..%d", s,
                          FH_MODEL_MAX_FLIP_ATOMS);
    return FH_OK;
}

/* [train] KEY = "2,3" (1-based members) -> bit mask of 0-based members (0 for an empty list). */
static int parse_members(const char *key, const char *s, int committee, uint64_t *mask, fh_err *err)
{
    int list[FH_MODEL_MAX_MEMBERS], n = 0;
    *mask = 0;
    if (parse_list(s, committee, list, &n))
        return fh_err_set(err, FH_EINPUT, "[train] %s = '%s': need a comma-separated list of "
                          "members and ranges (e.g. 2,3) within the committee of %d", key, s,
                          committee);
    for (int k = 0; k < n; k++) *mask |= (uint64_t)1 << list[k];
    return FH_OK;
}

/* Directory part of PATH into out ("." when none). */
static void dir_of(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(out, n, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    else snprintf(out, n, ".");
}

/* Whether A and B name the same file, which need not exist yet (same directory, same name). */
static int same_path(const char *a, const char *b)
{
    if (!*a || !*b) return 0;
    if (strcmp(a, b) == 0 || fh_file_same(a, b)) return 1;
    const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
    if (strcmp(sa ? sa + 1 : a, sb ? sb + 1 : b) != 0) return 0;
    char da[4096], db[4096];
    dir_of(a, da, sizeof da);
    dir_of(b, db, sizeof db);
    return fh_file_same(da, db);
}

/* The files training writes (the model, the checkpoint it removes at the end) must not be the
 * files it reads, nor each other, and an existing file in the model's place must be a model
 * (retraining replaces a model; anything else only with --force). */
static int check_outputs(const fh_train_config *c, const char *deck, fh_err *err)
{
    const struct {
        const char *what, *path;
    } in[2] = {{"the [train] dataset", c->dataset}, {"the [train] init_model", c->init_model}};
    for (int k = 0; k < 2; k++) {
        if (same_path(c->output, in[k].path))
            return fh_err_set(err, FH_EINPUT, "%s: error: the model file %s is %s; choose another "
                              "output (-o or [train] output)", deck, c->output, in[k].what);
        if (same_path(c->checkpoint, in[k].path))
            return fh_err_set(err, FH_EINPUT, "%s: error: the checkpoint %s is %s; choose another "
                              "[train] checkpoint", deck, c->checkpoint, in[k].what);
    }
    if (same_path(c->checkpoint, c->output))
        return fh_err_set(err, FH_EINPUT, "%s: error: the checkpoint and the model file are both %s "
                          "(the checkpoint is deleted when the model is written); choose another "
                          "[train] checkpoint", deck, c->output);
    struct stat st;
    if (!c->force && stat(c->output, &st) == 0) {
        fh_model *m = NULL;
        fh_err lerr = {0};
        if (S_ISDIR(st.st_mode))
            return fh_err_set(err, FH_EINPUT, "%s: error: the model file %s is a directory", deck,
                              c->output);
        if (fh_model_load(c->output, &m, &lerr) != FH_OK)
            return fh_err_set(err, FH_EINPUT, "%s: error: %s exists and is not a fusionhop model "
                              "(%s); not overwritten: choose another output, or --force", deck,
                              c->output, lerr.msg);
        fh_model_free(m);
    }
    return FH_OK;
}

static void log_line(void *ctx, const char *line)
{
    (void)ctx;
    fh_log("%s\n", line);
}

static int train(const fh_deck_args *a)
{
    fh_err err = {0};
    fh_deck *d = NULL;
    int rc = fh_deck_load(a->deck, a->sets, a->nsets, &d, &err);
    if (rc == FH_OK && !fh_deck_is_training(d))
        rc = fh_err_set(&err, FH_EINPUT, "%s: error: not a training deck (no [train] section)",
                        a->deck);
    if (rc != FH_OK) {
        fh_log("%s\n", err.msg);
        fh_deck_free(d);
        return rc == FH_EINPUT ? FH_EXIT_USAGE : FH_EXIT_FAIL;
    }
    fh_model_hyper h = fh_model_hyper_default();
    h.nstates = (int)fh_deck_int(d, "model", "nstates");
    h.n_elements = 0;
    h.channels = (int)fh_deck_int(d, "model", "channels");
    snprintf(h.hidden_irreps, sizeof h.hidden_irreps, "%s", fh_deck_string(d, "model", "hidden_irreps"));
    h.lmax = (int)fh_deck_int(d, "model", "lmax");
    h.correlation = (int)fh_deck_int(d, "model", "correlation");
    h.tree = strcmp(fh_deck_string(d, "model", "tree"), "balanced") == 0 ? 1 : 0;
    h.n_layers = (int)fh_deck_int(d, "model", "layers");
    h.r_cut = fh_deck_real(d, "model", "cutoff");
    h.n_bessel = (int)fh_deck_int(d, "model", "bessel");
    h.envelope_p = (int)fh_deck_int(d, "model", "envelope");
    h.readout_hidden = (int)fh_deck_int(d, "model", "readout_hidden");
    h.avg_neighbors = fh_deck_real(d, "model", "avg_neighbors");
    h.nac_gap_eps = fh_deck_real(d, "model", "nac_gap_eps");
    h.diabatic = strcmp(fh_deck_string(d, "model", "coupling"), "diabatic") == 0;
    h.nac_even = fh_deck_bool(d, "model", "nac_even_head");
    h.nac_resid = fh_deck_bool(d, "model", "nac_residual_even") ? 2 : fh_deck_bool(d, "model", "nac_residual");
    rc = parse_widths(fh_deck_string(d, "model", "radial_mlp"), &h, &err);

    fh_train_config c = fh_train_config_default();
    const char *ds = fh_deck_string(d, "train", "dataset");
    if (rc == FH_OK && !*ds)
        rc = fh_err_set(&err, FH_EINPUT, "%s: error: [train] needs 'dataset' (the reference "
                        "dataset file)", a->deck);
    snprintf(c.dataset, sizeof c.dataset, "%s", ds);
    const char *out = a->outdir ? a->outdir : fh_deck_string(d, "train", "output");
    if (*out) {
        snprintf(c.output, sizeof c.output, "%s", out);
    } else {
        const char *base = strrchr(a->deck, '/');
        base = base ? base + 1 : a->deck;
        const char *dot = strrchr(base, '.');
        int len = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
        snprintf(c.output, sizeof c.output, "%.*s.model.h5", len, base);
    }
    const char *ck = fh_deck_string(d, "train", "checkpoint");
    if (*ck) snprintf(c.checkpoint, sizeof c.checkpoint, "%s", ck);
    else snprintf(c.checkpoint, sizeof c.checkpoint, "%.1000s.ckpt", c.output);
    snprintf(c.init_model, sizeof c.init_model, "%s", fh_deck_string(d, "train", "init_model"));
    snprintf(c.command, sizeof c.command, "fusionhop train %s", a->deck);
    c.train_fraction = fh_deck_real(d, "train", "train_fraction");
    c.valid_fraction = fh_deck_real(d, "train", "valid_fraction");
    c.seed = (uint64_t)fh_deck_int(d, "train", "seed");
    c.loss.w_energy = fh_deck_real(d, "train", "energy_weight");
    c.loss.w_force = fh_deck_real(d, "train", "force_weight");
    c.loss.huber_e = fh_deck_real(d, "train", "energy_huber");
    c.loss.huber_f = fh_deck_real(d, "train", "force_huber");
    c.loss.w_nac = fh_deck_real(d, "train", "nac_weight");
    c.loss.nac_gap_scale = fh_deck_real(d, "train", "nac_gap_scale");
    c.loss.nac_norm_scale = fh_deck_real(d, "train", "nac_norm_scale");
    c.loss.w_gap = fh_deck_real(d, "train", "gap_weight");
    c.nac_target = strcmp(fh_deck_string(d, "train", "nac_target"), "total") == 0
                       ? FH_TRAIN_NAC_TOTAL : FH_TRAIN_NAC_CI;
    c.loss.force_hvp = strcmp(fh_deck_string(d, "train", "force_hvp"), "central") == 0
                           ? FH_TRAIN_HVP_CENTRAL : FH_TRAIN_HVP_FORWARD;
    c.loss.hvp_step = fh_deck_real(d, "train", "hvp_step");
    c.amsgrad = strcmp(fh_deck_string(d, "train", "optimizer"), "amsgrad") == 0;
    c.lr = fh_deck_real(d, "train", "lr");
    c.lr_factor = fh_deck_real(d, "train", "lr_factor");
    c.lr_patience = (int)fh_deck_int(d, "train", "lr_patience");
    c.lr_min = fh_deck_real(d, "train", "lr_min");
    c.ema = fh_deck_bool(d, "train", "ema");
    c.ema_decay = fh_deck_real(d, "train", "ema_decay");
    c.patience = (int)fh_deck_int(d, "train", "patience");
    const char *sel = fh_deck_string(d, "train", "select");
    c.select = strcmp(sel, "energy_force") == 0 ? FH_TRAIN_SELECT_ENERGY_FORCE
               : strcmp(sel, "energy") == 0     ? FH_TRAIN_SELECT_ENERGY
                                                : FH_TRAIN_SELECT_LOSS;
    c.max_epochs = (int)fh_deck_int(d, "train", "epochs");
    c.batch_size = (int)fh_deck_int(d, "train", "batch_size");
    c.clip_grad = fh_deck_real(d, "train", "clip_grad");
    c.committee = (int)fh_deck_int(d, "train", "committee");
    c.max_samples = (int)fh_deck_int(d, "train", "max_geometries");
    if (rc == FH_OK) rc = parse_flip(fh_deck_string(d, "model", "nac_flip"), &c, &err);
    if (rc == FH_OK)
        rc = parse_members("members", fh_deck_string(d, "train", "members"), c.committee, &c.members, &err);
    if (rc == FH_OK)
        rc = parse_members("reinit", fh_deck_string(d, "train", "reinit"), c.committee, &c.reinit, &err);
    c.use_init_seed = fh_deck_given(d, "train", "init_seed");
    if (c.use_init_seed) c.init_seed = (uint64_t)fh_deck_int(d, "train", "init_seed");
    c.widen = (int)fh_deck_int(d, "train", "widen_channels");
    c.force = a->force;
    c.log = log_line;
    if (rc == FH_OK && c.widen && !c.init_model[0])
        rc = fh_err_set(&err, FH_EINPUT, "%s: error: [train] widen_channels = %d needs an "
                        "init_model to widen", a->deck, c.widen);
    if (rc == FH_OK && c.train_fraction + c.valid_fraction > 1.0 + 1e-12)
        rc = fh_err_set(&err, FH_EINPUT, "%s: error: [train] train_fraction + valid_fraction = %g "
                        "exceeds 1", a->deck, c.train_fraction + c.valid_fraction);
    if (rc == FH_OK) rc = check_outputs(&c, a->deck, &err);
    fh_train_result res;
    if (rc == FH_OK) rc = fh_train_run(&h, &c, MPI_COMM_WORLD, &res, &err);
    if (rc != FH_OK) fh_log("fusionhop train: %s\n", err.msg);
    fh_deck_free(d);
    return rc == FH_OK ? FH_EXIT_OK : rc == FH_EINPUT ? FH_EXIT_USAGE : FH_EXIT_FAIL;
}

int fh_cmd_train(int argc, char **argv)
{
    if (fh_wants_help(argc, argv)) {
        usage();
        return FH_EXIT_OK;
    }
    fh_deck_args a;
    int rc = fh_deck_args_parse(argc, argv, &a);
    if (rc == FH_EXIT_OK && !a.deck) {
        fprintf(stderr, "fusionhop train: a deck is required; see 'fusionhop train --help'\n");
        rc = FH_EXIT_USAGE;
    }
    if (rc != FH_EXIT_OK) {
        fh_deck_args_free(&a);
        return rc;
    }
    int init = 0;
    MPI_Initialized(&init);
    if (!init) MPI_Init(NULL, NULL);
    rc = train(&a);
    fh_deck_args_free(&a);
    if (!init) MPI_Finalize();
    return rc;
}
