/* Benchmark of the multi-state model on trans-stilbene (C14H12, 26 atoms), one core, at the
 * MACE-comparison hyperparameters (32x0e+32x1o, l_max 3, correlation 3, 5 Angstrom, 8 Bessel
 * functions, radial MLP [64,64,64]) and at the small shipped-default candidate (also with the
 * diabatic readout, with and without the even H01 part, nac_even_head):
 *   (a) a dynamics step: energies of all states + gradient of the active state + all NACs;
 *   (b) a full evaluation: energies + gradients of all states + NACs;
 *   (e) energy + forces of one state with a 1-state model (the like-for-like MACE comparison);
 *   (c) one training step per geometry (loss with energy, force and coupling terms and its
 *       gradient w.r.t. all weights, including the force term's mixed second derivatives).
 * It prints medians of repeated runs (thread CPU time), and GFLOP/s where the flop count is the
 * work done: the forward pass and the training step (the radial MLPs evaluated). (a) and (b) run
 * as the dynamics calls them, with tabulated radial MLPs and reverse passes that skip couplings
 * without a gradient, so their rate is printed only for the variant with the MLPs evaluated, as
 * an upper bound.
 * The shipped committee is measured in double and in mixed precision (fh_model_set_precision: the
 * tensor product and the radial tables in float), the dynamics' default.
 * Reference (issue): MACE 0.3.14, float64, one thread: 34 ms energy, 64 ms energy+forces,
 * 172 ms per training step. Usage: bench_model [repetitions (default 21) [NAME: only the
 * configurations whose name contains NAME]]; FH_BENCH_MODEL=FILE: the "shipped" row measures
 * that model file instead of inputs/models/stilbene.h5. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "fh_model.h"
#include "fh_train.h"
#include "fh_units.h"
#include "fh_xyz.h"

/* trans-stilbene, idealised planar, Angstrom (Z, x, y, z); used when the repository's optimised
 * geometry (inputs/geometries/trans-stilbene.xyz) is absent */
static const double stilbene[26][4] = {
    {6, -0.6700, 0.0000, 0.0}, {1, -1.1648, -0.9712, 0.0}, {6, -1.5340, 1.1893, 0.0},
    {6, -0.9687, 2.4591, 0.0}, {1, 0.1054, 2.5720, 0.0},   {6, -1.7857, 3.5836, 0.0},
    {1, -1.3464, 4.5702, 0.0}, {6, -3.1681, 3.4383, 0.0},  {1, -3.8029, 4.3121, 0.0},
    {6, -3.7335, 2.1685, 0.0}, {1, -4.8075, 2.0556, 0.0},  {6, -2.9164, 1.0440, 0.0},
    {1, -3.3557, 0.0573, 0.0}, {6, 0.6700, 0.0000, 0.0},   {1, 1.1648, 0.9712, 0.0},
    {6, 1.5340, -1.1893, 0.0}, {6, 0.9687, -2.4591, 0.0},  {1, -0.1054, -2.5720, 0.0},
    {6, 1.7857, -3.5836, 0.0}, {1, 1.3464, -4.5702, 0.0},  {6, 3.1681, -3.4383, 0.0},
    {1, 3.8029, -4.3121, 0.0}, {6, 3.7335, -2.1685, 0.0},  {1, 4.8075, -2.0556, 0.0},
    {6, 2.9164, -1.0440, 0.0}, {1, 3.3557, -0.0573, 0.0}};
enum { NAT = 26 };

static int n_reps = 21;
static const char *only;   /* run only the configurations whose name contains this */

typedef int (*bench_fn)(void *ctx);

/* Median over n_reps samples (after one warm-up call) of one call's time. */
static double median_time(bench_fn fn, void *ctx)
{
    if (fn(ctx) != FH_OK) return NAN;
    double *s = malloc(sizeof(double) * n_reps);
    for (int r = 0; r < n_reps; r++) {
        double t0 = bench_now();
        fn(ctx);
        s[r] = bench_now() - t0;
    }
    double m = bench_sort_median(s, n_reps);
    free(s);
    return m;
}

typedef struct {
    fh_model *m;
    fh_model_ws *ws;
    fh_train_sample *sample;
    fh_train_loss_cfg lc;
    double *gtheta;
    int z[NAT], type[NAT];
    double x[3 * NAT];
    double E[FH_MODEL_MAX_STATES], std[FH_MODEL_MAX_STATES];
    double *G, *nac;
    unsigned mask;
} bctx;

static int run_predict(void *p)
{
    bctx *c = p;
    fh_err err;
    fh_model_request rq = {.grad_mask = c->mask, .want_nac = 1, .energy = c->E, .grad = c->G,
                           .nac = c->nac, .energy_std = c->std};
    int rc = fh_model_predict(c->m, NAT, c->z, c->x, &rq, &err);
    if (rc) fprintf(stderr, "predict: %s\n", err.msg);
    return rc;
}

static int run_forward(void *p)
{
    bctx *c = p;
    fh_err err;
    return fh_model_forward(c->ws, c->m, fh_model_params(c->m, 0), NAT, c->type, c->x, 0, c->E,
                            NULL, &err);
}

static int run_train_step(void *p)
{
    bctx *c = p;
    fh_err err;
    size_t np = fh_model_n_params(c->m);
    memset(c->gtheta, 0, sizeof(double) * np);
    fh_train_terms terms;
    int rc = fh_train_sample_loss(c->ws, c->m, fh_model_params(c->m, 0), c->sample, &c->lc,
                                  c->gtheta, &terms, &err);
    if (rc) fprintf(stderr, "training step: %s\n", err.msg);
    return rc;
}

static void load_geometry(bctx *c, const char **src)
{
    fh_xyz *xyz = NULL;
    fh_err err;
    char path[1024];
    snprintf(path, sizeof path, "%s/inputs/geometries/trans-stilbene.xyz", FH_TEST_SOURCE_DIR);
    if (fh_xyz_read(path, &xyz, &err) == FH_OK && xyz->natoms == NAT) {
        memcpy(c->z, xyz->z, sizeof c->z);
        memcpy(c->x, xyz->x, sizeof c->x);
        *src = "inputs/geometries/trans-stilbene.xyz";
    } else {
        for (int a = 0; a < NAT; a++) {
            c->z[a] = (int)stilbene[a][0];
            for (int k = 0; k < 3; k++) c->x[3 * a + k] = stilbene[a][k + 1] * FH_ANGSTROM_BOHR;
        }
        *src = "idealised planar (built in)";
    }
    fh_xyz_free(xyz);
}

static void bench_config(const char *name, fh_model_hyper h, int nstates, int force_hvp)
{
    if (only && !strstr(name, only)) return;
    bctx c;
    memset(&c, 0, sizeof c);
    const char *src;
    load_geometry(&c, &src);
    fh_err err;
    h.nstates = nstates;
    h.n_elements = 2, h.elements[0] = 1, h.elements[1] = 6;
    if (fh_model_alloc(&h, 1, 1, &c.m, &err) != FH_OK || !(c.ws = fh_model_ws_alloc(c.m, &err))) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        exit(1);
    }
    fh_model_types(c.m, NAT, c.z, c.type, &err);
    int N = nstates, P = N * (N - 1) / 2;
    c.G = calloc((size_t)N * 3 * NAT, sizeof(double));
    c.nac = calloc((size_t)(P ? P : 1) * 3 * NAT, sizeof(double));
    c.gtheta = calloc(fh_model_n_params(c.m), sizeof(double));

    /* flop counts of one forward (tangents on/off) and backward (positions / weights) */
    fh_model_forward(c.ws, c.m, fh_model_params(c.m, 0), NAT, c.type, c.x, FH_MODEL_TANGENTS, c.E,
                     NULL, &err);
    double f_fwd_t = fh_model_flops(c.ws, 0), f_bx = fh_model_flops(c.ws, 1), f_bt = fh_model_flops(c.ws, 2);
    fh_model_forward(c.ws, c.m, fh_model_params(c.m, 0), NAT, c.type, c.x, 0, c.E, NULL, &err);
    double f_fwd = fh_model_flops(c.ws, 0);
    printf("%s: %d states, %zu weights, %d pairs within the cutoff\n", name, N,
           fh_model_n_params(c.m), fh_model_ws_npairs(c.ws));

    double t = median_time(run_forward, &c);
    printf("  energies only (one forward)        %8.2f ms  %6.2f GFLOP/s\n", 1e3 * t, f_fwd / t * 1e-9);
    /* position reverse passes: one per state's gradient; the diabatic readout one more for h in
     * (a) and one per diabatic element in (b) */
    int pass_a = h.diabatic ? 2 : 1, pass_b = h.diabatic ? 3 : N, nout = fh_model_n_outputs(c.m);
    /* (a) and (b) as the dynamics calls them (fh_model_predict: radial MLPs from tables, reverse
     * passes that skip couplings without a gradient), so no flop rate: the count would not be
     * the work done. The same with the MLPs evaluated and the rate of that count for reference. */
    for (int exact = 0; exact < 2; exact++) {
        fh_model_set_exact_radial(c.m, exact);
        c.mask = N > 1 ? 1u << 1 : 1u;
        double ta = median_time(run_predict, &c);
        c.mask = (1u << N) - 1;
        double tb = median_time(run_predict, &c);
        if (!exact) {
            printf("  (a) dynamics step (E all, grad S%d, NACs) %6.2f ms\n", N > 1 ? 1 : 0, 1e3 * ta);
            printf("  (b) full evaluation (E, all grads, NACs) %6.2f ms\n", 1e3 * tb);
        } else {
            printf("      the same with the radial MLPs evaluated: (a) %.2f ms, (b) %.2f ms (at most "
                   "%.1f / %.1f GFLOP/s)\n", 1e3 * ta, 1e3 * tb, (f_fwd_t + pass_a * f_bx) / ta * 1e-9,
                   (f_fwd_t + pass_b * f_bx) / tb * 1e-9);
        }
    }
    fh_model_set_exact_radial(c.m, 0);

    /* (c): a training sample with every label present, at a displaced geometry */
    fh_train_sample s;
    memset(&s, 0, sizeof s);
    double xr[3 * NAT], Eref[FH_MODEL_MAX_STATES], *Gref = calloc((size_t)N * 3 * NAT, sizeof(double));
    double *Href = calloc((size_t)(P ? P : 1) * 3 * NAT, sizeof(double));
    unsigned char hasE[FH_MODEL_MAX_STATES], hasG[FH_MODEL_MAX_STATES], hasH[128];
    for (int i = 0; i < 3 * NAT; i++) xr[i] = c.x[i] + 0.02 * sin(1.7 * i);
    for (int k = 0; k < N; k++) Eref[k] = c.E[k] + 0.01 * k, hasE[k] = hasG[k] = 1;
    for (int i = 0; i < N * 3 * NAT; i++) Gref[i] = 0.01 * cos(0.3 * i);
    for (int i = 0; i < P * 3 * NAT; i++) Href[i] = 0.005 * sin(0.7 * i);
    for (int p = 0; p < P; p++) hasH[p] = 1;
    s.natoms = NAT, s.type = c.type, s.x = xr, s.energy = Eref, s.grad = Gref, s.hcoup = Href;
    s.has_energy = hasE, s.has_grad = hasG, s.has_hcoup = hasH;
    c.sample = &s;
    c.lc = fh_train_loss_cfg_default();
    c.lc.force_hvp = force_hvp;
    t = median_time(run_train_step, &c);
    /* forward with tangents, one position pass per scalar output (states, or the diabatic
     * elements), one weight pass at R, per output one (central: two) forward + weight pass at the
     * displaced geometry */
    int nd = force_hvp == FH_TRAIN_HVP_CENTRAL ? 2 : 1;
    double f_train = f_fwd_t + nout * f_bx + f_bt + nd * nout * (f_fwd + f_bt);
    printf("  (c) training step (E+F+NAC loss, all weights, %s HVP) %6.2f ms  %6.2f GFLOP/s\n",
           force_hvp == FH_TRAIN_HVP_CENTRAL ? "central" : "one-sided", 1e3 * t, f_train / t * 1e-9);
    free(Gref), free(Href);
    free(c.G), free(c.nac), free(c.gtheta);
    fh_model_ws_free(c.ws);
    fh_model_free(c.m);
}

/* The shipped stilbene committee (inputs/models/stilbene.h5) as the dynamics calls it:
 * fh_model_predict with every member, the committee mean, the aligned couplings and the spread.
 * (a) is the dynamics step on S1; the per-member figure divides by the committee size. */
typedef struct {
    fh_model *m;
    int z[NAT];
    double x[3 * NAT], E[2], g[2 * 3 * NAT], d[3 * NAT], sd[2];
    unsigned mask;
    int nac;
} shipped_ctx;

static int shipped_call(void *p)
{
    shipped_ctx *c = p;
    fh_err err;
    fh_model_request rq = {.grad_mask = c->mask, .want_nac = c->nac, .energy = c->E, .grad = c->g,
                           .nac = c->nac ? c->d : NULL, .energy_std = c->sd};
    return fh_model_predict(c->m, NAT, c->z, c->x, &rq, &err);
}

static void bench_shipped(void)
{
    const char *name = "shipped stilbene committee (inputs/models/stilbene.h5)";
    if (only && !strstr(name, only)) return;
    shipped_ctx c;
    memset(&c, 0, sizeof c);
    bctx g;
    const char *src;
    load_geometry(&g, &src);
    memcpy(c.z, g.z, sizeof c.z);
    memcpy(c.x, g.x, sizeof c.x);
    /* FH_BENCH_MODEL=FILE measures another committee the same way (a candidate for shipping) */
    char path[1024];
    snprintf(path, sizeof path, "%s/inputs/models/stilbene.h5", FH_TEST_SOURCE_DIR);
    if (getenv("FH_BENCH_MODEL")) {
        snprintf(path, sizeof path, "%s", getenv("FH_BENCH_MODEL"));
        printf("model %s (FH_BENCH_MODEL)\n", path);
    }
    fh_err err;
    if (fh_model_load(path, &c.m, &err) != FH_OK) {
        printf("%s: not measured: %s\n\n", name, err.msg);
        return;
    }
    int K = fh_model_n_members(c.m);
    /* double and mixed precision (the dynamics' default), each measured twice, alternating */
    double tm[2][3] = {{0}}, tq;
    for (int round = 0; round < 2; round++)
        for (int mixed = 0; mixed < 2; mixed++) {
            fh_model_set_precision(c.m, mixed ? FH_MODEL_PRECISION_MIXED : FH_MODEL_PRECISION_DOUBLE);
            c.mask = 0, c.nac = 0;
            tq = median_time(shipped_call, &c), tm[mixed][0] += 0.5 * tq;
            c.mask = 2u, c.nac = 1;
            tq = median_time(shipped_call, &c), tm[mixed][1] += 0.5 * tq;
            c.mask = 3u, c.nac = 1;
            tq = median_time(shipped_call, &c), tm[mixed][2] += 0.5 * tq;
        }
    double te = tm[0][0], ta = tm[0][1], tb = tm[0][2];
    fh_model_set_precision(c.m, FH_MODEL_PRECISION_DOUBLE);
    fh_model_set_exact_radial(c.m, 1);   /* the radial MLPs evaluated, not tabulated */
    c.mask = 2u, c.nac = 1;
    double ta_x = median_time(shipped_call, &c);
    c.mask = 3u, c.nac = 1;
    double tb_x = median_time(shipped_call, &c);
    printf("%s, %d members; in double ([surface] precision = double):\n", name, K);
    printf("  energies + spread:                  %7.3f ms (%.3f ms per member)\n", 1e3 * te,
           1e3 * te / K);
    printf("  (a) dynamics step (S1 active):      %7.3f ms (%.3f ms per member)\n", 1e3 * ta,
           1e3 * ta / K);
    printf("  (b) full evaluation:                %7.3f ms (%.3f ms per member)\n", 1e3 * tb,
           1e3 * tb / K);
    printf("  in mixed precision (the dynamics' default: tensor product and radial tables in float):\n");
    printf("  energies + spread:                  %7.3f ms (%.3f ms per member)\n", 1e3 * tm[1][0],
           1e3 * tm[1][0] / K);
    printf("  (a) dynamics step (S1 active):      %7.3f ms (%.3f ms per member; %.2f of double)\n",
           1e3 * tm[1][1], 1e3 * tm[1][1] / K, tm[1][1] / ta);
    printf("  (b) full evaluation:                %7.3f ms (%.3f ms per member; %.2f of double)\n",
           1e3 * tm[1][2], 1e3 * tm[1][2] / K, tm[1][2] / tb);
    printf("  in double with the radial MLPs evaluated instead of tabulated (fh_model_set_exact_radial):\n");
    printf("  (a) dynamics step (S1 active):      %7.3f ms (%.3f ms per member)\n", 1e3 * ta_x,
           1e3 * ta_x / K);
    printf("  (b) full evaluation:                %7.3f ms (%.3f ms per member)\n\n", 1e3 * tb_x,
           1e3 * tb_x / K);
    fh_model_free(c.m);
}

int main(int argc, char **argv)
{
    if (argc > 1) n_reps = atoi(argv[1]) > 0 ? atoi(argv[1]) : 21;
    if (argc > 2) only = argv[2];
    bctx c0;
    const char *src;
    load_geometry(&c0, &src);
    printf("trans-stilbene, 26 atoms (%s); one thread; median of %d runs (thread CPU time)\n", src,
           n_reps);
    printf("MACE 0.3.14 reference (issue): 34 ms energy, 64 ms energy+forces, 172 ms training step\n\n");
    fh_model_hyper mace = fh_model_hyper_default();   /* the MACE-comparison hyperparameters */
    bench_config("MACE-comparison 32x0e+32x1o lmax 3 nu 3 [64,64,64]", mace, 1, FH_TRAIN_HVP_FORWARD);
    bench_config("MACE-comparison 32x0e+32x1o lmax 3 nu 3 [64,64,64]", mace, 2, FH_TRAIN_HVP_FORWARD);
    fh_model_hyper small = fh_model_hyper_default();
    small.channels = 16, small.lmax = 2, small.correlation = 3;
    small.n_radial = 2, small.radial[0] = small.radial[1] = 32;
    bench_config("small 16x0e+16x1o lmax 2 nu 3 [32,32]", small, 2, FH_TRAIN_HVP_FORWARD);
    fh_model_hyper diab = small;
    diab.diabatic = 1;
    bench_config("small, diabatic readout ([model] coupling = diabatic)", diab, 2,
                 FH_TRAIN_HVP_FORWARD);
    fh_model_hyper diab_even = diab;   /* the round-9 candidate's readout */
    diab_even.nac_even = 1;
    bench_config("small, diabatic readout with the even H01 part (nac_even_head)", diab_even, 2,
                 FH_TRAIN_HVP_FORWARD);
    fh_model_hyper diab_resid = diab_even;   /* round 13's: plus the residual coupling head */
    diab_resid.nac_resid = 1;
    bench_config("small, diabatic readout, even H01 part and residual coupling (nac_residual)",
                 diab_resid, 2, FH_TRAIN_HVP_FORWARD);
    /* the capacity candidates measured against the small one on the stilbene data */
    fh_model_hyper wide = small;
    wide.channels = 24;
    bench_config("wide 24x0e+24x1o lmax 2 nu 3 [32,32]", wide, 2, FH_TRAIN_HVP_FORWARD);
    fh_model_hyper mid = small;
    mid.channels = 32;
    bench_config("mid 32x0e+32x1o lmax 2 nu 3 [32,32]", mid, 2, FH_TRAIN_HVP_FORWARD);
    bench_shipped();
    return 0;
}
