/* Equivariant linear map: mixes channels within each (l, p), never across degrees or parities
 * (Schur's lemma: anything else would break equivariance). One block of all nodes is one matrix
 * (rows = node x m, grouped, see eq_mat), so with shared weights the map is one product per pair of
 * blocks. With per-node-type weights each run of consecutive nodes of one type is one product
 * (molecule files usually list atoms of an element together, so runs are long).
 *
 * The _f variants (mixed-precision inference) take and give double but multiply in float: per
 * type, its nodes' rows (LF_ROWS at a time) are rounded to float, multiplied, and written back in
 * double; all nodes of a type at once, since atoms of different elements often alternate in a
 * molecule file (stilbene: runs of one or two). Only for channel counts up to LF_MAX (the scratch
 * lives on the stack); wider maps stay in double. */
#include <math.h>
#include <stdlib.h>
#include "fh_equivariant.h"
#include "eq_internal.h"

struct fh_eq_linear {
    fh_eq_irreps in, out;
    int c_in, c_out, n_types, bias;
    int dim_in, dim_out;
    int n_pairs;
    int pair_o[FH_EQ_MAX_BLOCKS * FH_EQ_MAX_BLOCKS], pair_i[FH_EQ_MAX_BLOCKS * FH_EQ_MAX_BLOCKS];
    int n_bias;                     /* number of 0e output blocks */
    int bias_block[FH_EQ_MAX_BLOCKS];
    size_t w_per_type;              /* n_pairs * c_in * c_out */
    size_t n_params;
};

static eq_mat block_mat(const double *x, const fh_eq_irreps *ir, int dim, int c, int b)
{
    eq_mat m;
    m.p = (double *)x + (long)fh_eq_irreps_offset(ir, b) * c;
    m.ld = c;
    m.group = 2 * ir->l[b] + 1;
    m.gstride = (long)dim * c;
    return m;
}

fh_eq_linear *fh_eq_linear_alloc(const fh_eq_irreps *in, int c_in, const fh_eq_irreps *out,
                                 int c_out, int n_types, int bias, fh_err *err)
{
    if (c_in < 1 || c_out < 1 || n_types < 1) {
        fh_err_set(err, FH_EINPUT, "linear: channels (%d, %d) and types (%d) must be positive", c_in,
                   c_out, n_types);
        return NULL;
    }
    fh_eq_linear *lin = calloc(1, sizeof *lin);
    if (!lin) {
        fh_err_set(err, FH_EFAIL, "linear: out of memory");
        return NULL;
    }
    lin->in = *in, lin->out = *out;
    lin->c_in = c_in, lin->c_out = c_out, lin->n_types = n_types, lin->bias = bias;
    lin->dim_in = fh_eq_irreps_dim(in), lin->dim_out = fh_eq_irreps_dim(out);
    for (int o = 0; o < out->n; o++) {
        for (int i = 0; i < in->n; i++)
            if (in->l[i] == out->l[o] && in->p[i] == out->p[o]) {
                lin->pair_o[lin->n_pairs] = o;
                lin->pair_i[lin->n_pairs] = i;
                lin->n_pairs++;
            }
        if (bias && out->l[o] == 0 && out->p[o] == 1) lin->bias_block[lin->n_bias++] = o;
    }
    lin->w_per_type = (size_t)lin->n_pairs * c_in * c_out;
    lin->n_params = (size_t)n_types * (lin->w_per_type + (size_t)lin->n_bias * c_out);
    return lin;
}

void fh_eq_linear_free(fh_eq_linear *lin) { free(lin); }

size_t fh_eq_linear_n_params(const fh_eq_linear *lin) { return lin->n_params; }

/* Weights of pair q and type t; biases of type t. */
static const double *lin_w(const fh_eq_linear *lin, const double *theta, int t, int q)
{
    return theta + (size_t)t * lin->w_per_type + (size_t)q * lin->c_in * lin->c_out;
}
static size_t lin_b_off(const fh_eq_linear *lin, int t)
{
    return (size_t)lin->n_types * lin->w_per_type + (size_t)t * lin->n_bias * lin->c_out;
}

enum { LF_MAX = 64, LF_ROWS = 64 };

/* One block pair of a map in float, for the nodes list[0..cnt) (nodes 0..cnt-1 if list is NULL):
 * y (+)= x W with W [k][n] (transpose = 0), or x W^T with W stored [n][k] (transpose = 1: the input
 * gradient gx = gy W^T). Node a's rows are x0 + a xs + m k and y0 + a ys + m n, m < group. */
FH_EQ_HOT static void nodes_f(const double *w, int k, int n, int transpose, int cnt,
                              const int *list, int group, const double *x0, long xs, double *y0,
                              long ys, int acc)
{
    float wf[LF_MAX * LF_MAX], xf[LF_ROWS * LF_MAX], yf[LF_ROWS * LF_MAX];
    if (transpose) {
        for (int j = 0; j < n; j++)
            for (int q = 0; q < k; q++) wf[q * n + j] = (float)w[(long)j * k + q];
    } else {
        for (int q = 0; q < k; q++) eq_row_to_float(n, w + (long)q * n, wf + q * n);
    }
    const int per = LF_ROWS / group;   /* nodes per chunk (group <= 2 l_max + 1 < LF_ROWS) */
    for (int a0 = 0; a0 < cnt; a0 += per) {
        int na = cnt - a0 < per ? cnt - a0 : per, R = 0;
        for (int a = a0; a < a0 + na; a++) {
            const double *src = x0 + (long)(list ? list[a] : a) * xs;
            for (int m = 0; m < group; m++, R++) eq_row_to_float(k, src + (long)m * k, xf + R * k);
        }
        eq_gemm_f(R, n, k, eq_matf_plain(xf, k), wf, n, eq_matf_plain(yf, n));
        R = 0;
        for (int a = a0; a < a0 + na; a++) {
            double *dst = y0 + (long)(list ? list[a] : a) * ys;
            for (int m = 0; m < group; m++, R++) eq_row_from_float(n, yf + R * n, dst + (long)m * n, acc);
        }
    }
}

/* The float path of fh_eq_linear_forward_f / backward_f: per type, all its nodes at once (the
 * weights converted once per type); 0, or -1 if out of memory (then the caller uses double). */
static int all_f(const fh_eq_linear *lin, const double *theta, int n, const int *type,
                 const double *x, double *y, int backward)
{
    const int ci = lin->c_in, co = lin->c_out;
    const int nt = (lin->n_types == 1 || !type) ? 1 : lin->n_types;
    int *idx = nt > 1 ? malloc(sizeof(int) * (size_t)(n > 0 ? n : 1)) : NULL;
    if (nt > 1 && !idx) return -1;
    for (int t = 0; t < nt; t++) {
        int cnt = n;
        if (idx) {
            cnt = 0;
            for (int a = 0; a < n; a++)
                if (type[a] == t) idx[cnt++] = a;
            if (!cnt) continue;
        }
        for (int o = 0; o < lin->out.n; o++) {
            const int group = 2 * lin->out.l[o] + 1;
            const long yoff = (long)fh_eq_irreps_offset(&lin->out, o) * co;
            int started = 0;
            for (int q = 0; q < lin->n_pairs; q++) {
                if (lin->pair_o[q] != o) continue;
                const long xoff = (long)fh_eq_irreps_offset(&lin->in, lin->pair_i[q]) * ci;
                if (backward)   /* x: gy, y: gx (+=) */
                    nodes_f(lin_w(lin, theta, t, q), co, ci, 1, cnt, idx, group, x + yoff,
                            (long)lin->dim_out * co, y + xoff, (long)lin->dim_in * ci, 1);
                else
                    nodes_f(lin_w(lin, theta, t, q), ci, co, 0, cnt, idx, group, x + xoff,
                            (long)lin->dim_in * ci, y + yoff, (long)lin->dim_out * co, started);
                started = 1;
            }
            if (!started && !backward)
                for (int a = 0; a < cnt; a++)
                    memset(y + (long)(idx ? idx[a] : a) * lin->dim_out * co + yoff, 0,
                           sizeof(double) * (size_t)group * co);
        }
    }
    free(idx);
    return 0;
}

/* The rows of n consecutive nodes that share the weights of type t. */
static void forward_rows(const fh_eq_linear *lin, const double *theta, int t, int n,
                         const double *x, double *y)
{
    const int ci = lin->c_in, co = lin->c_out;
    for (int o = 0; o < lin->out.n; o++) {
        eq_mat ym = block_mat(y, &lin->out, lin->dim_out, co, o);
        long rows = (long)n * ym.group;
        int started = 0;
        for (int q = 0; q < lin->n_pairs; q++) {
            if (lin->pair_o[q] != o) continue;
            eq_mat xm = block_mat(x, &lin->in, lin->dim_in, ci, lin->pair_i[q]);
            eq_gemm_nn(rows, co, ci, xm, lin_w(lin, theta, t, q), co, ym, started);
            started = 1;
        }
        if (!started)
            for (long r = 0; r < rows; r++) memset(eq_row(ym, r), 0, sizeof(double) * co);
    }
}

/* Length of the run of nodes from a on that have the same type. */
static int type_run(const int *type, int n, int a)
{
    int b = a + 1;
    while (b < n && type[b] == type[a]) b++;
    return b - a;
}

static void forward_all(const fh_eq_linear *lin, const double *theta, int n, const int *type,
                        const double *x, double *y, int single)
{
    const int ci = lin->c_in, co = lin->c_out;
    if (single && all_f(lin, theta, n, type, x, y, 0) == 0) {
        /* done in float */
    } else if (lin->n_types == 1 || !type) {
        forward_rows(lin, theta, 0, n, x, y);
    } else {
        for (int a = 0, len; a < n; a += len) {
            len = type_run(type, n, a);
            forward_rows(lin, theta, type[a], len, x + (long)a * lin->dim_in * ci,
                         y + (long)a * lin->dim_out * co);
        }
    }
    for (int k = 0; k < lin->n_bias; k++) {
        int o = lin->bias_block[k];
        long off = (long)fh_eq_irreps_offset(&lin->out, o) * co;
        for (int a = 0; a < n; a++) {
            int t = (lin->n_types == 1 || !type) ? 0 : type[a];
            const double *b = theta + lin_b_off(lin, t) + (size_t)k * co;
            double *ya = y + (long)a * lin->dim_out * co + off;
            for (int c = 0; c < co; c++) ya[c] += b[c];
        }
    }
}

void fh_eq_linear_forward(const fh_eq_linear *lin, const double *theta, int n, const int *type,
                          const double *x, double *y)
{
    forward_all(lin, theta, n, type, x, y, 0);
}

void fh_eq_linear_forward_f(const fh_eq_linear *lin, const double *theta, int n, const int *type,
                            const double *x, double *y)
{
    forward_all(lin, theta, n, type, x, y, lin->c_in <= LF_MAX && lin->c_out <= LF_MAX);
}

static void backward_rows(const fh_eq_linear *lin, const double *theta, int t, int n,
                          const double *x, const double *gy, double *gx, double *gtheta)
{
    const int ci = lin->c_in, co = lin->c_out;
    for (int q = 0; q < lin->n_pairs; q++) {
        int o = lin->pair_o[q], i = lin->pair_i[q];
        eq_mat gym = block_mat(gy, &lin->out, lin->dim_out, co, o);
        long rows = (long)n * gym.group;
        if (gx)
            eq_gemm_nt(rows, ci, co, gym, lin_w(lin, theta, t, q), co,
                       block_mat(gx, &lin->in, lin->dim_in, ci, i), 1);
        if (gtheta)
            eq_gemm_tn(rows, ci, co, block_mat(x, &lin->in, lin->dim_in, ci, i), gym,
                       gtheta + (size_t)t * lin->w_per_type + (size_t)q * ci * co, co, 1);
    }
}

static void backward_all(const fh_eq_linear *lin, const double *theta, int n, const int *type,
                         const double *x, const double *gy, double *gx, double *gtheta, int single)
{
    const int ci = lin->c_in, co = lin->c_out;
    if (single && gx && !gtheta && all_f(lin, theta, n, type, gy, gx, 1) == 0) {
        /* done in float */
    } else if (lin->n_types == 1 || !type) {
        backward_rows(lin, theta, 0, n, x, gy, gx, gtheta);
    } else {
        for (int a = 0, len; a < n; a += len) {
            len = type_run(type, n, a);
            backward_rows(lin, theta, type[a], len, x ? x + (long)a * lin->dim_in * ci : NULL,
                          gy + (long)a * lin->dim_out * co, gx ? gx + (long)a * lin->dim_in * ci : NULL,
                          gtheta);
        }
    }
    if (gtheta)
        for (int k = 0; k < lin->n_bias; k++) {
            long off = (long)fh_eq_irreps_offset(&lin->out, lin->bias_block[k]) * co;
            for (int a = 0; a < n; a++) {
                int t = (lin->n_types == 1 || !type) ? 0 : type[a];
                double *gb = gtheta + lin_b_off(lin, t) + (size_t)k * co;
                const double *g = gy + (long)a * lin->dim_out * co + off;
                for (int c = 0; c < co; c++) gb[c] += g[c];
            }
        }
}

void fh_eq_linear_backward(const fh_eq_linear *lin, const double *theta, int n, const int *type,
                           const double *x, const double *gy, double *gx, double *gtheta)
{
    backward_all(lin, theta, n, type, x, gy, gx, gtheta, 0);
}

void fh_eq_linear_backward_f(const fh_eq_linear *lin, const double *theta, int n, const int *type,
                             const double *gy, double *gx)
{
    backward_all(lin, theta, n, type, NULL, gy, gx, NULL, lin->c_in <= LF_MAX && lin->c_out <= LF_MAX);
}

/* ---- widening ------------------------------------------------------------------------------ */

static double rms_of(const double *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * a[i];
    return n ? sqrt(s / (double)n) : 0.0;
}

void eq_widen_mat(const double *a, int k0, int n0, double *b, int k1, int n1,
                  fh_eq_normal_fn normal, void *ctx)
{
    const double rms = rms_of(a, (size_t)k0 * n0);
    for (int i = 0; i < k1; i++)
        for (int j = 0; j < n1; j++)
            b[(size_t)i * n1 + j] = j >= n0 ? rms * normal(ctx) : i < k0 ? a[(size_t)i * n0 + j] : 0.0;
}

void eq_widen_row(const double *a, int n0, double *b, int n1, fh_eq_normal_fn normal, void *ctx)
{
    const double rms = rms_of(a, (size_t)n0);
    for (int j = 0; j < n1; j++) b[j] = j < n0 ? a[j] : rms * normal(ctx);
}

int fh_eq_linear_widen(const fh_eq_linear *from, const fh_eq_linear *to, const double *w_from,
                       double *w_to, fh_eq_normal_fn normal, void *ctx, fh_err *err)
{
    if (to->n_types != from->n_types || to->n_pairs != from->n_pairs || to->n_bias != from->n_bias ||
        to->dim_in != from->dim_in || to->dim_out != from->dim_out || to->c_in < from->c_in ||
        to->c_out < from->c_out)
        return fh_err_set(err, FH_EINPUT, "linear map: cannot widen %dx%d channels to %dx%d "
                          "(irreps or types differ, or fewer channels)", from->c_in, from->c_out,
                          to->c_in, to->c_out);
    for (int t = 0; t < from->n_types; t++)
        for (int q = 0; q < from->n_pairs; q++)
            eq_widen_mat(lin_w(from, w_from, t, q), from->c_in, from->c_out,
                         w_to + (size_t)t * to->w_per_type + (size_t)q * to->c_in * to->c_out,
                         to->c_in, to->c_out, normal, ctx);
    for (int t = 0; t < from->n_types; t++)
        for (int k = 0; k < from->n_bias; k++)
            eq_widen_row(w_from + lin_b_off(from, t) + (size_t)k * from->c_out, from->c_out,
                         w_to + lin_b_off(to, t) + (size_t)k * to->c_out, to->c_out, normal, ctx);
    return FH_OK;
}
