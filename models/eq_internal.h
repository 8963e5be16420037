/* Private helpers of the equivariant core (models/eq_*.c): 4-wide double vectors and the
 * row-mapped matrix product.
 *
 * Why vectors by hand: the project builds with -std=c11 -O2 and no -march, where GCC neither
 * vectorises loops of runtime length nor contracts a*b+c. The hot loops (over channels, 16..64
 * doubles) therefore use GCC/Clang vector extensions: 4 doubles per operation, lowered to two SSE2
 * operations on baseline x86-64. The few hot kernels are also compiled for AVX2 (FH_EQ_HOT,
 * function multi-versioning chosen at load time); both versions perform the same IEEE operations
 * in the same order (no FMA), so results are bitwise identical whichever runs. The float kernels of
 * the mixed-precision inference (the *_f.c files) use 8-wide float vectors the same way. */
#ifndef FH_EQ_INTERNAL_H
#define FH_EQ_INTERNAL_H

#include <string.h>

#include "fh_equivariant.h"

/* The helpers below are always inlined, so the ABI note GCC gives for 32-byte vector arguments
 * without AVX does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

/* Small helpers of the hot kernels: always inlined, so they are compiled for each version. */
#define EQ_INLINE static inline __attribute__((always_inline))

typedef double eq_v4 __attribute__((vector_size(32)));

EQ_INLINE eq_v4 eq_load(const double *p)
{
    eq_v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}
EQ_INLINE void eq_store(double *p, eq_v4 v) { memcpy(p, &v, sizeof v); }
/* Broadcast written as 0 + a: GCC then emits one vbroadcastsd per value (the literal {a,a,a,a}
 * makes it build pairs with shuffles, a quarter slower in the matrix kernel). */
EQ_INLINE eq_v4 eq_set1(double a)
{
    eq_v4 z = {0.0, 0.0, 0.0, 0.0};
    return z + a;
}
EQ_INLINE double eq_hsum(eq_v4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

/* The same for 8 floats (the mixed-precision kernels, the *_f.c files). */
typedef float eq_v8f __attribute__((vector_size(32)));
EQ_INLINE eq_v8f eq_loadf(const float *p)
{
    eq_v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}
EQ_INLINE void eq_storef(float *p, eq_v8f v) { memcpy(p, &v, sizeof v); }
EQ_INLINE eq_v8f eq_set1f(float a)
{
    eq_v8f z = {0, 0, 0, 0, 0, 0, 0, 0};
    return z + a;
}
EQ_INLINE float eq_hsumf(eq_v8f v)
{
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

/* One row of k values to float, and n floats back to double (acc: added); inlined into the hot
 * kernels of the mixed-precision paths (eq_linear.c, eq_gemm.c). */
typedef float eq_v4f __attribute__((vector_size(16)));
EQ_INLINE void eq_row_to_float(size_t k, const double *s, float *d)
{
    size_t q = 0;
    for (; q + 4 <= k; q += 4) {
        eq_v4f f = __builtin_convertvector(eq_load(s + q), eq_v4f);
        memcpy(d + q, &f, sizeof f);
    }
    for (; q < k; q++) d[q] = (float)s[q];
}
EQ_INLINE void eq_row_from_float(size_t n, const float *s, double *d, int acc)
{
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        eq_v4f f;
        memcpy(&f, s + j, sizeof f);
        eq_v4 v = __builtin_convertvector(f, eq_v4);
        eq_store(d + j, acc ? eq_load(d + j) + v : v);
    }
    for (; j < n; j++) d[j] = acc ? d[j] + s[j] : s[j];
}

/* The same two as functions with an AVX2 version (defined in eq_tp_pairs_f.c), for callers that
 * are not hot kernels themselves (model_net.c, model_radial_table.c, eq_fusion_f.c): b = (float)
 * a; b = a. */
void eq_to_float(size_t n, const double *a, float *b);
void eq_from_float(size_t n, const float *a, double *b);

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define FH_EQ_HOT __attribute__((target_clones("avx2", "default")))
#else
#define FH_EQ_HOT
#endif

/* A matrix whose rows come in groups: row r starts at p + (r / group) * gstride + (r % group) * ld.
 * This addresses one block of a [node][m_total][c] feature array as a single (n * (2l+1)) x c
 * matrix: group = 2l+1, ld = c, gstride = dim * c. A plain matrix has group = rows, gstride = 0. */
typedef struct {
    double *p;
    long ld;
    long group;
    long gstride;
} eq_mat;

static inline eq_mat eq_mat_plain(const double *p, long ld)
{
    eq_mat m = {(double *)p, ld, 1L << 40, 0};
    return m;
}
static inline double *eq_row(eq_mat m, long r)
{
    return m.p + (r / m.group) * m.gstride + (r % m.group) * m.ld;
}

/* Walking the rows of an eq_mat in order without divisions. */
typedef struct {
    eq_mat m;
    double *row;   /* current row */
    double *base;  /* first row of the current group */
    long q;        /* index inside the group */
} eq_rowiter;
static inline eq_rowiter eq_rows_begin(eq_mat m)
{
    eq_rowiter it = {m, m.p, m.p, 0};
    return it;
}
static inline void eq_rows_next(eq_rowiter *it)
{
    if (++it->q == it->m.group) {
        it->q = 0;
        it->base += it->m.gstride;
        it->row = it->base;
    } else {
        it->row += it->m.ld;
    }
}

/* C[r][0..n) (+)= sum_k A[r][k] B[k][0..n) for r < m; B plain [k][ldb]; accumulate != 0 adds. */
void eq_gemm_nn(long m, int n, int k, eq_mat a, const double *b, int ldb, eq_mat c, int accumulate);
/* Same with B transposed: B is stored [n][ldb] and used as B^T. */
void eq_gemm_nt(long m, int n, int k, eq_mat a, const double *b, int ldb, eq_mat c, int accumulate);
/* C[i][j] (+)= sum_r A[r][i] B[r][j] over r < rows; C plain [m][ldc] with m = columns of A used. */
void eq_gemm_tn(long rows, int m, int n, eq_mat a, eq_mat b, double *c, int ldc, int accumulate);
/* A float matrix with grouped rows, as eq_mat. */
typedef struct {
    float *p;
    long ld, group, gstride;
} eq_matf;
static inline eq_matf eq_matf_plain(const float *p, long ld)
{
    eq_matf m = {(float *)p, ld, 1L << 40, 0};
    return m;
}
static inline float *eq_rowf(eq_matf m, long r)
{
    return m.p + (r / m.group) * m.gstride + (r % m.group) * m.ld;
}
/* C [m][n] = A [m][k] B [k][n] in float, B plain (mixed-precision inference). */
void eq_gemm_f(long m, int n, int k, eq_matf a, const float *b, int ldb, eq_matf c);

/* Widening (fh_eq_linear_widen, fh_eq_fusion_widen; eq_linear.c): b [k1][n1] from a [k0][n0]
 * (k1 >= k0, n1 >= n0): a copied into the top-left corner, rows k0.. of the old columns 0 (a new
 * input does not reach an old output), the new columns drawn as rms(a) * normal(ctx). And a row
 * of channel-wise weights: b [n1] from a [n0], the new entries drawn with the RMS of a. */
void eq_widen_mat(const double *a, int k0, int n0, double *b, int k1, int n1,
                  fh_eq_normal_fn normal, void *ctx);
void eq_widen_row(const double *a, int n0, double *b, int n1, fh_eq_normal_fn normal, void *ctx);

#endif
