/* Benchmark of the equivariant core at stilbene sizes: 26 atoms (trans-stilbene, idealised planar
 * geometry), directed edges within 5 Angstrom (394), 16..64 channels, l_max 2..3, nu = 2..3.
 * For the radial MLP, the interaction tensor product (channelwise and fully connected) and the
 * fusion block it prints the median time of forward and of forward+backward (all gradients), the
 * floating-point operations the kernels perform, and the achieved GFLOP/s next to the peak of one
 * core. Peak assumption: "cpu MHz" from /proc/cpuinfo x 16 double FLOP/cycle (two 256-bit FMA
 * pipes, AVX2, e.g. AMD Zen 2/3 or Intel Haswell..); the core's kernels use separate multiply and
 * add, which on Zen 3 (two FMUL + two FADD pipes) reach the same 16 FLOP/cycle.
 * Usage: bench_equivariant [repetitions (default 15)]. Single thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "bench_util.h"
#include "fh_equivariant.h"

/* trans-stilbene, Angstrom (Z, x, y, z) */
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
enum { NAT = 26, MAXE = 26 * 25 };

static int n_reps = 15;
static double peak_gflops = 0;

typedef void (*bench_fn)(void *ctx);

/* Median over n_reps samples of the time of one call; each sample repeats the call enough times
 * to last about 3 ms. The fastest sample goes to *best (the machine is shared: it shows what the
 * kernel does undisturbed). Times are this thread's CPU time. */
static double median_time(bench_fn fn, void *ctx, double *best)
{
    fn(ctx);
    double t0 = bench_now();
    fn(ctx);
    double one = bench_now() - t0;
    int inner = one > 0 ? (int)(3e-3 / one) : 1000;
    if (inner < 1) inner = 1;
    double *s = malloc(sizeof(double) * n_reps);
    for (int r = 0; r < n_reps; r++) {
        t0 = bench_now();
        for (int i = 0; i < inner; i++) fn(ctx);
        s[r] = (bench_now() - t0) / inner;
    }
    double m = bench_sort_median(s, n_reps);
    *best = s[0];
    free(s);
    return m;
}

/* One line: median time and GFLOP/s of forward and of forward+backward, the fraction of peak,
 * and the best sample's GFLOP/s in brackets. */
static void report(const char *name, double t_fwd, double b_fwd, double fl_fwd, double t_all,
                   double b_all, double fl_all)
{
    printf("%-52s fwd %8.1f us %5.1f GF/s (%3.0f%%) [%5.1f]   fwd+bwd %8.1f us %5.1f GF/s (%3.0f%%) [%5.1f]\n",
           name, 1e6 * t_fwd, fl_fwd / t_fwd * 1e-9, 100 * fl_fwd / t_fwd * 1e-9 / peak_gflops,
           fl_fwd / b_fwd * 1e-9, 1e6 * t_all, fl_all / t_all * 1e-9,
           100 * fl_all / t_all * 1e-9 / peak_gflops, fl_all / b_all * 1e-9);
}

static double *rnd(size_t n, double scale, unsigned *seed)
{
    double *v = malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        v[i] = scale * (((*seed >> 8) & 0xffff) / 32768.0 - 1.0);
    }
    return v;
}

/* ---- edges of the molecule ---- */
static int n_edges;
static int snd[MAXE], rcv[MAXE];
static double vec[MAXE * 3], rlen[MAXE];
static int atype[NAT];

static void build_graph(double rc_ang)
{
    n_edges = 0;
    for (int i = 0; i < NAT; i++) {
        atype[i] = stilbene[i][0] > 1.5;
        for (int j = 0; j < NAT; j++) {
            if (i == j) continue;
            double d[3], r2 = 0;
            for (int k = 0; k < 3; k++) {
                d[k] = (stilbene[j][k + 1] - stilbene[i][k + 1]) / 0.529177210903;
                r2 += d[k] * d[k];
            }
            if (sqrt(r2) * 0.529177210903 >= rc_ang) continue;
            snd[n_edges] = i, rcv[n_edges] = j;
            memcpy(vec + 3 * n_edges, d, sizeof d);
            rlen[n_edges] = sqrt(r2);
            n_edges++;
        }
    }
}

/* ---- radial MLP ---- */
typedef struct {
    fh_eq_mlp *mlp;
    double *th, *x, *y, *gy, *gx, *gt;
    int backward;
} mlp_ctx;
static void run_mlp(void *p)
{
    mlp_ctx *c = p;
    fh_eq_mlp_forward(c->mlp, c->th, n_edges, c->x, c->y, NULL);
    if (c->backward) fh_eq_mlp_backward(c->mlp, c->th, c->gy, c->gx, c->gt, NULL);
}
static void bench_mlp(int n_out, const char *label)
{
    int sizes[5] = {8, 64, 64, 64, n_out};
    mlp_ctx c = {0};
    unsigned seed = 1;
    c.mlp = fh_eq_mlp_alloc(4, sizes, n_edges, NULL);
    size_t np = fh_eq_mlp_n_params(c.mlp);
    c.th = rnd(np, 0.2, &seed);
    c.x = rnd((size_t)n_edges * 8, 1, &seed);
    c.y = rnd((size_t)n_edges * n_out, 1, &seed);
    c.gy = rnd((size_t)n_edges * n_out, 1, &seed);
    c.gx = rnd((size_t)n_edges * 8, 1, &seed);
    c.gt = rnd(np, 1, &seed);
    double fl = 2.0 * n_edges * np;
    double bf, bb, tf = median_time(run_mlp, &c, &bf);
    c.backward = 1;
    double tb = median_time(run_mlp, &c, &bb);
    /* backward: weight gradients and input gradients of every layer */
    double flb = fl + 4.0 * n_edges * np;
    char name[128];
    snprintf(name, sizeof name, "radial MLP [8,64,64,64,%d] (%s)", n_out, label);
    report(name, tf, bf, fl, tb, bb, flb);
    fh_eq_mlp_free(c.mlp);
    free(c.th), free(c.x), free(c.y), free(c.gy), free(c.gx), free(c.gt);
}

/* ---- tensor product ---- */
typedef struct {
    fh_eq_tp *tp;
    double *th, *x, *Y, *R, *y, *gy, *gx, *gY, *gR, *gt;
    int backward;
} tp_ctx;
static void run_tp(void *p)
{
    tp_ctx *c = p;
    fh_eq_tp_forward(c->tp, c->th, NAT, n_edges, snd, rcv, c->x, c->Y, c->R, c->y, NULL);
    if (c->backward)
        fh_eq_tp_backward(c->tp, c->th, NAT, n_edges, snd, rcv, c->x, c->Y, c->R, c->gy, c->gx,
                          c->gY, c->gR, c->gt, NULL);
}
static void bench_tp(const fh_eq_cg *cg, fh_eq_tp_kind kind, const char *in_s, int C, int lsh,
                     const char *out_s)
{
    fh_eq_irreps in, out;
    fh_eq_irreps_parse(in_s, &in, NULL, NULL);
    fh_eq_irreps_parse(out_s, &out, NULL, NULL);
    tp_ctx c = {0};
    fh_err err;
    c.tp = fh_eq_tp_alloc(cg, kind, &in, C, lsh, &out, C, NAT, &err);
    if (!c.tp) {
        printf("tensor product: %s\n", err.msg);
        return;
    }
    unsigned seed = 2;
    int din = fh_eq_irreps_dim(&in), dout = fh_eq_irreps_dim(&out), nsh = fh_eq_sph_dim(lsh);
    int nw = fh_eq_tp_n_weights(c.tp);
    size_t np = fh_eq_tp_n_params(c.tp);
    c.th = rnd(np, 0.2, &seed);
    c.x = rnd((size_t)NAT * din * C, 1, &seed);
    c.Y = malloc(sizeof(double) * n_edges * nsh);
    fh_eq_sph(lsh, n_edges, vec, c.Y, NULL);
    c.R = rnd((size_t)n_edges * nw, 1, &seed);
    c.y = rnd((size_t)NAT * dout * C, 1, &seed);
    c.gy = rnd((size_t)NAT * dout * C, 1, &seed);
    c.gx = rnd((size_t)NAT * din * C, 1, &seed);
    c.gY = rnd((size_t)n_edges * nsh, 1, &seed);
    c.gR = rnd((size_t)n_edges * nw, 1, &seed);
    c.gt = rnd(np, 1, &seed);
    double bf, bb, tf = median_time(run_tp, &c, &bf);
    c.backward = 1;
    double tb = median_time(run_tp, &c, &bb);
    double ff = fh_eq_tp_flops(c.tp, NAT, n_edges, 0), fb = ff + fh_eq_tp_flops(c.tp, NAT, n_edges, 1);
    char name[160];
    snprintf(name, sizeof name, "TP %s %dx(%s) x Y<=%d -> %s, %d paths", kind ? "full" : "chan", C,
             in_s, lsh, out_s, fh_eq_tp_n_paths(c.tp));
    report(name, tf, bf, ff, tb, bb, fb);
    fh_eq_tp_free(c.tp);
    free(c.th), free(c.x), free(c.Y), free(c.R), free(c.y), free(c.gy), free(c.gx), free(c.gY);
    free(c.gR), free(c.gt);
}

/* ---- fusion block ---- */
typedef struct {
    fh_eq_fusion *f;
    double *th, *x, *y, *gy, *gx, *gt;
    int backward;
} fus_ctx;
static void run_fus(void *p)
{
    fus_ctx *c = p;
    fh_eq_fusion_forward(c->f, c->th, NAT, atype, c->x, c->y, NULL);
    if (c->backward) fh_eq_fusion_backward(c->f, c->th, NAT, atype, c->x, c->gy, c->gx, c->gt, NULL);
}
static void bench_fusion(const fh_eq_cg *cg, const char *in_s, int C, int nu, int lh, const char *out_s)
{
    fh_eq_irreps in, out;
    fh_eq_irreps_parse(in_s, &in, NULL, NULL);
    fh_eq_irreps_parse(out_s, &out, NULL, NULL);
    fh_eq_fusion_tree tree;
    fh_eq_fusion_tree_make(FH_EQ_TREE_CHAIN, nu, &tree, NULL);
    fus_ctx c = {0};
    fh_err err;
    c.f = fh_eq_fusion_alloc(cg, &in, C, &out, &tree, lh, 2, NAT, &err);
    if (!c.f) {
        printf("fusion: %s\n", err.msg);
        return;
    }
    unsigned seed = 3;
    int din = fh_eq_irreps_dim(&in), dout = fh_eq_irreps_dim(&out);
    size_t np = fh_eq_fusion_n_params(c.f);
    c.th = rnd(np, 0.2, &seed);
    c.x = rnd((size_t)NAT * din * C, 1, &seed);
    c.y = rnd((size_t)NAT * dout * C, 1, &seed);
    c.gy = rnd((size_t)NAT * dout * C, 1, &seed);
    c.gx = rnd((size_t)NAT * din * C, 1, &seed);
    c.gt = rnd(np, 1, &seed);
    double bf, bb, tf = median_time(run_fus, &c, &bf);
    c.backward = 1;
    double tb = median_time(run_fus, &c, &bb);
    double ff = fh_eq_fusion_flops(c.f, NAT, 0), fb = ff + fh_eq_fusion_flops(c.f, NAT, 1);
    char name[160];
    snprintf(name, sizeof name, "fusion nu=%d %dx(%s) -> %s, lh %d, %zu par", nu, C, in_s, out_s, lh, np);
    report(name, tf, bf, ff, tb, bb, fb);
    fh_eq_fusion_free(c.f);
    free(c.th), free(c.x), free(c.y), free(c.gy), free(c.gx), free(c.gt);
}

static double cpu_mhz(char *model, size_t n)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    double mhz = 0;
    snprintf(model, n, "unknown");
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) {
        char *c = strchr(line, ':');
        if (!c) continue;
        if (!strncmp(line, "model name", 10) && !strcmp(model, "unknown")) {
            snprintf(model, n, "%s", c + 2);
            model[strcspn(model, "\n")] = 0;
        }
        if (!strncmp(line, "cpu MHz", 7) && mhz == 0) mhz = atof(c + 1);
    }
    fclose(f);
    return mhz;
}

int main(int argc, char **argv)
{
    if (argc > 1) n_reps = atoi(argv[1]) > 0 ? atoi(argv[1]) : 15;
    char model[256];
    double mhz = cpu_mhz(model, sizeof model);
    int avx2 = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    avx2 = __builtin_cpu_supports("avx2");
#endif
    peak_gflops = mhz * 1e-3 * 16.0;
    printf("CPU: %s, %.0f MHz; AVX2 kernels: %s\n", model, mhz, avx2 ? "yes" : "no (SSE2: peak halves)");
    printf("Peak per core assumed: %.0f MHz x 16 double FLOP/cycle = %.1f GFLOP/s\n", mhz, peak_gflops);
    build_graph(5.0);
    printf("stilbene: %d atoms, %d directed edges within 5 Angstrom; median of %d samples (thread CPU\n"
           "time), %% of peak, [best sample GF/s]; fwd+bwd = forward then all gradients\n\n", NAT,
           n_edges, n_reps);

    fh_eq_cg *cg = fh_eq_cg_alloc(4, NULL);
    /* radial MLP producing channelwise TP weights (paths x C) */
    bench_mlp(8 * 16, "C=16, 8 paths");
    bench_mlp(10 * 32, "C=32, 10 paths");
    bench_mlp(10 * 64, "C=64, 10 paths");
    printf("\n");
    for (int C = 16; C <= 64; C *= 2) {
        bench_tp(cg, FH_EQ_TP_CHANNELWISE, "0e", C, 3, "0e+1o+2e+3o");
        bench_tp(cg, FH_EQ_TP_CHANNELWISE, "0e+1o", C, 2, "0e+1o+2e");
        bench_tp(cg, FH_EQ_TP_CHANNELWISE, "0e+1o", C, 3, "0e+1o+2e+3o");
        bench_tp(cg, FH_EQ_TP_FULL, "0e+1o", C, 3, "0e+1o+2e+3o");
    }
    printf("\n");
    for (int C = 16; C <= 64; C *= 2) {
        bench_fusion(cg, "0e+1o+2e", C, 2, 2, "0e+1o");
        bench_fusion(cg, "0e+1o+2e", C, 3, 2, "0e+1o");
        bench_fusion(cg, "0e+1o+2e+3o", C, 2, 3, "0e+1o");
        bench_fusion(cg, "0e+1o+2e+3o", C, 3, 3, "0e+1o");
    }
    fh_eq_cg_free(cg);
    return 0;
}
