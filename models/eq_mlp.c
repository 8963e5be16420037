/* The radial multilayer perceptron: maps each edge's radial basis to its tensor-product weights.
 * Edges are rows of one matrix, so every layer is a single matrix product (eq_gemm.c). No biases:
 * with silu(0) = 0 the output vanishes wherever the enveloped radial basis does, which keeps the
 * model smooth at the cutoff. Forward keeps each layer's input and silu' for the backward pass. */
#include <math.h>
#include <stdlib.h>
#include "fh_equivariant.h"
#include "eq_internal.h"

#define EQ_MLP_MAX_LAYERS 16

struct fh_eq_mlp {
    int n_layers;
    int sizes[EQ_MLP_MAX_LAYERS + 1];
    int max_rows, rows, widest;
    double *h[EQ_MLP_MAX_LAYERS];    /* input of layer l: [max_rows][sizes[l]] (h[0] = x copy) */
    double *ds[EQ_MLP_MAX_LAYERS];   /* silu'(a) of hidden layer l (1..L-1) */
    double *g0, *g1;                 /* backward scratch [max_rows][widest] */
};

double fh_eq_silu(double x, double *dsilu)
{
    double s = 1.0 / (1.0 + exp(-x));
    if (dsilu) *dsilu = s * (1.0 + x * (1.0 - s));
    return x * s;
}

/* exp on 4 lanes (the activation dominated the MLP when done with libm, one value at a time):
 * x = n ln2 + r, |r| <= ln2/2, n by the round-to-nearest of adding 1.5 2^52; exp(r) by its Taylor
 * series to r^13 (truncation < 1e-17 relative); 2^n assembled in the exponent bits. Accurate to
 * a few ulp for |x| <= 708 (clamped beyond: silu needs no more). */
typedef long long eq_i4 __attribute__((vector_size(32)));
EQ_INLINE eq_v4 exp4(eq_v4 x)
{
    const double shifter = 6755399441055744.0;   /* 1.5 * 2^52 */
    const double log2e = 1.4426950408889634, ln2_hi = 0.693147180369123816490,
                 ln2_lo = 1.90821492927058770002e-10;
    eq_v4 lo = eq_set1(-708.0), hi = eq_set1(708.0);
    eq_i4 below = x < lo, above = x > hi;   /* lane masks: all ones where true */
    x = (eq_v4)(((eq_i4)x & ~below) | ((eq_i4)lo & below));
    x = (eq_v4)(((eq_i4)x & ~above) | ((eq_i4)hi & above));
    eq_v4 t = x * eq_set1(log2e) + eq_set1(shifter);
    eq_v4 n = t - eq_set1(shifter);
    eq_v4 r = (x - n * eq_set1(ln2_hi)) - n * eq_set1(ln2_lo);
    /* sum_{k<=13} r^k / k!, Estrin's scheme (short dependency chains) */
    eq_v4 r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    eq_v4 p01 = eq_set1(1.0) + r;
    eq_v4 p23 = eq_set1(1.0 / 2) + eq_set1(1.0 / 6) * r;
    eq_v4 p45 = eq_set1(1.0 / 24) + eq_set1(1.0 / 120) * r;
    eq_v4 p67 = eq_set1(1.0 / 720) + eq_set1(1.0 / 5040) * r;
    eq_v4 p89 = eq_set1(1.0 / 40320) + eq_set1(1.0 / 362880) * r;
    eq_v4 p1011 = eq_set1(1.0 / 3628800) + eq_set1(1.0 / 39916800) * r;
    eq_v4 p1213 = eq_set1(1.0 / 479001600) + eq_set1(1.0 / 6227020800.0) * r;
    eq_v4 q0 = p01 + p23 * r2, q1 = p45 + p67 * r2, q2 = p89 + p1011 * r2;
    eq_v4 p = (q0 + q1 * r4) + (q2 + p1213 * r4) * r8;
    eq_i4 bits = ((eq_i4)t - (eq_i4)eq_set1(shifter) + 1023) << 52;
    return p * (eq_v4)bits;
}

/* silu and its derivative on 4 lanes. */
EQ_INLINE void silu4(eq_v4 x, eq_v4 *y, eq_v4 *d)
{
    eq_v4 one = eq_set1(1.0);
    eq_v4 s = one / (one + exp4(-x));
    *y = x * s;
    *d = s * (one + x * (one - s));
}

/* a <- silu(a), ds <- silu'(a) for n values (the last partial group of 4 through a buffer, so
 * every value goes through the same operations). */
FH_EQ_HOT static void silu_inplace(long n, double *a, double *ds)
{
    long i = 0;
    eq_v4 y, d;
    for (; i + 4 <= n; i += 4) {
        silu4(eq_load(a + i), &y, &d);
        eq_store(a + i, y);
        if (ds) eq_store(ds + i, d);
    }
    if (i < n) {
        double buf[4] = {0, 0, 0, 0}, dbuf[4];
        int w = (int)(n - i);
        for (int k = 0; k < w; k++) buf[k] = a[i + k];
        silu4(eq_load(buf), &y, &d);
        eq_store(buf, y);
        eq_store(dbuf, d);
        for (int k = 0; k < w; k++) {
            a[i + k] = buf[k];
            if (ds) ds[i + k] = dbuf[k];
        }
    }
}

void fh_eq_silu_array(long n, double *a, double *ds) { silu_inplace(n, a, ds); }

fh_eq_mlp *fh_eq_mlp_alloc(int n_layers, const int *sizes, int max_rows, fh_err *err)
{
    if (n_layers < 1 || n_layers > EQ_MLP_MAX_LAYERS) {
        fh_err_set(err, FH_EINPUT, "radial MLP: %d layers (allowed 1..%d)", n_layers, EQ_MLP_MAX_LAYERS);
        return NULL;
    }
    for (int l = 0; l <= n_layers; l++)
        if (sizes[l] < 1) {
            fh_err_set(err, FH_EINPUT, "radial MLP: layer width %d must be positive", sizes[l]);
            return NULL;
        }
    if (max_rows < 1) {
        fh_err_set(err, FH_EINPUT, "radial MLP: max_rows %d must be positive", max_rows);
        return NULL;
    }
    fh_eq_mlp *m = calloc(1, sizeof *m);
    if (!m) goto oom;
    m->n_layers = n_layers;
    m->max_rows = max_rows;
    for (int l = 0; l <= n_layers; l++) {
        m->sizes[l] = sizes[l];
        if (sizes[l] > m->widest) m->widest = sizes[l];
    }
    for (int l = 0; l < n_layers; l++) {
        m->h[l] = malloc(sizeof(double) * (size_t)max_rows * sizes[l]);
        if (!m->h[l]) goto oom;
        if (l > 0) {
            m->ds[l] = malloc(sizeof(double) * (size_t)max_rows * sizes[l]);
            if (!m->ds[l]) goto oom;
        }
    }
    m->g0 = malloc(sizeof(double) * (size_t)max_rows * m->widest);
    m->g1 = malloc(sizeof(double) * (size_t)max_rows * m->widest);
    if (!m->g0 || !m->g1) goto oom;
    return m;
oom:
    fh_err_set(err, FH_EFAIL, "radial MLP: out of memory");
    fh_eq_mlp_free(m);
    return NULL;
}

void fh_eq_mlp_free(fh_eq_mlp *m)
{
    if (!m) return;
    for (int l = 0; l < EQ_MLP_MAX_LAYERS; l++) {
        free(m->h[l]);
        free(m->ds[l]);
    }
    free(m->g0);
    free(m->g1);
    free(m);
}

size_t fh_eq_mlp_n_params(const fh_eq_mlp *m)
{
    size_t n = 0;
    for (int l = 0; l < m->n_layers; l++) n += (size_t)m->sizes[l] * m->sizes[l + 1];
    return n;
}

int fh_eq_mlp_n_in(const fh_eq_mlp *m) { return m->sizes[0]; }
int fh_eq_mlp_n_out(const fh_eq_mlp *m) { return m->sizes[m->n_layers]; }

int fh_eq_mlp_forward(fh_eq_mlp *m, const double *theta, int rows, const double *x, double *y,
                      fh_err *err)
{
    if (rows < 0 || rows > m->max_rows)
        return fh_err_set(err, FH_EINPUT, "radial MLP: %d rows exceed the allocated %d", rows, m->max_rows);
    m->rows = rows;
    memcpy(m->h[0], x, sizeof(double) * (size_t)rows * m->sizes[0]);
    const double *w = theta;
    for (int l = 0; l < m->n_layers; l++) {
        int ni = m->sizes[l], no = m->sizes[l + 1];
        int last = (l == m->n_layers - 1);
        double *a = last ? y : m->h[l + 1];
        eq_gemm_nn(rows, no, ni, eq_mat_plain(m->h[l], ni), w, no, eq_mat_plain(a, no), 0);
        if (!last) silu_inplace((long)rows * no, a, m->ds[l + 1]);
        w += (size_t)ni * no;
    }
    return FH_OK;
}

int fh_eq_mlp_backward(fh_eq_mlp *m, const double *theta, const double *gy, double *gx,
                       double *gtheta, fh_err *err)
{
    (void)err;
    int rows = m->rows, L = m->n_layers;
    /* Offsets of each layer's weights. */
    size_t off[EQ_MLP_MAX_LAYERS];
    size_t o = 0;
    for (int l = 0; l < L; l++) {
        off[l] = o;
        o += (size_t)m->sizes[l] * m->sizes[l + 1];
    }
    const double *g = gy;   /* gradient w.r.t. the output of layer l (pre-activation for last) */
    double *bufs[2] = {m->g0, m->g1};
    int which = 0;
    for (int l = L - 1; l >= 0; l--) {
        int ni = m->sizes[l], no = m->sizes[l + 1];
        if (gtheta)
            eq_gemm_tn(rows, ni, no, eq_mat_plain(m->h[l], ni), eq_mat_plain(g, no),
                       gtheta + off[l], no, 1);
        if (l == 0) {
            if (gx) eq_gemm_nt(rows, ni, no, eq_mat_plain(g, no), theta + off[l], no,
                               eq_mat_plain(gx, ni), 1);
            break;
        }
        /* gradient w.r.t. h[l], then through silu: into a scratch buffer. */
        double *gh = bufs[which];
        which ^= 1;
        eq_gemm_nt(rows, ni, no, eq_mat_plain(g, no), theta + off[l], no, eq_mat_plain(gh, ni), 0);
        const double *ds = m->ds[l];
        for (long i = 0; i < (long)rows * ni; i++) gh[i] *= ds[i];
        g = gh;
    }
    return FH_OK;
}
