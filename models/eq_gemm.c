/* Small dense matrix products for the equivariant core (radial MLP over edges, channel mixing
 * over nodes). Why our own: no optimised BLAS is linked, and these matrices are small (tens to a
 * few hundred rows and columns), so a register-blocked kernel (4 rows x 8 columns of C held in
 * 8 vector accumulators) gets most of the way. Rows may be "grouped" (see eq_mat) so one block of a
 * [node][m][c] feature array is multiplied without copying. Every element of C is summed in k
 * order by all code paths, so results do not depend on the blocking. */
#include "fh_equivariant.h"
#include "eq_internal.h"

#define EQ_KCHUNK 256   /* depth of a packed panel of B^T */

/* --- 4 rows x 8 / 4 / 1 columns, B rows at stride ldb ------------------------------------- */
EQ_INLINE void tile4x8(int k, const double *a0, const double *a1, const double *a2,
                           const double *a3, const double *b, long ldb, double *c0, double *c1,
                           double *c2, double *c3, int acc)
{
    eq_v4 s00 = eq_set1(0), s01 = s00, s10 = s00, s11 = s00;
    eq_v4 s20 = s00, s21 = s00, s30 = s00, s31 = s00;
    for (int q = 0; q < k; q++) {
        const double *bq = b + q * ldb;
        eq_v4 b0 = eq_load(bq), b1 = eq_load(bq + 4);
        eq_v4 t0 = eq_set1(a0[q]), t1 = eq_set1(a1[q]), t2 = eq_set1(a2[q]), t3 = eq_set1(a3[q]);
        s00 += t0 * b0;
        s01 += t0 * b1;
        s10 += t1 * b0;
        s11 += t1 * b1;
        s20 += t2 * b0;
        s21 += t2 * b1;
        s30 += t3 * b0;
        s31 += t3 * b1;
    }
    if (acc) {
        s00 += eq_load(c0), s01 += eq_load(c0 + 4);
        s10 += eq_load(c1), s11 += eq_load(c1 + 4);
        s20 += eq_load(c2), s21 += eq_load(c2 + 4);
        s30 += eq_load(c3), s31 += eq_load(c3 + 4);
    }
    eq_store(c0, s00), eq_store(c0 + 4, s01);
    eq_store(c1, s10), eq_store(c1 + 4, s11);
    eq_store(c2, s20), eq_store(c2 + 4, s21);
    eq_store(c3, s30), eq_store(c3 + 4, s31);
}

EQ_INLINE void tile4x4(int k, const double *a0, const double *a1, const double *a2,
                           const double *a3, const double *b, long ldb, double *c0, double *c1,
                           double *c2, double *c3, int acc)
{
    eq_v4 s0 = eq_set1(0), s1 = s0, s2 = s0, s3 = s0;
    for (int q = 0; q < k; q++) {
        eq_v4 b0 = eq_load(b + q * ldb);
        s0 += eq_set1(a0[q]) * b0;
        s1 += eq_set1(a1[q]) * b0;
        s2 += eq_set1(a2[q]) * b0;
        s3 += eq_set1(a3[q]) * b0;
    }
    if (acc) {
        s0 += eq_load(c0), s1 += eq_load(c1), s2 += eq_load(c2), s3 += eq_load(c3);
    }
    eq_store(c0, s0), eq_store(c1, s1), eq_store(c2, s2), eq_store(c3, s3);
}

/* One row, columns [0, n), B rows at stride ldb. */
EQ_INLINE void row1(int n, int k, const double *a0, const double *b, long ldb, double *c0,
                        int acc)
{
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        eq_v4 s = eq_set1(0);
        for (int q = 0; q < k; q++) s += eq_set1(a0[q]) * eq_load(b + q * ldb + j);
        if (acc) s += eq_load(c0 + j);
        eq_store(c0 + j, s);
    }
    for (; j < n; j++) {
        double s = 0;
        for (int q = 0; q < k; q++) s += a0[q] * b[q * ldb + j];
        c0[j] = acc ? c0[j] + s : s;
    }
}

/* Columns [0, n) of a 4-row block. */
EQ_INLINE void rows4(int n, int k, const double *a0, const double *a1, const double *a2,
                         const double *a3, const double *b, long ldb, double *c0, double *c1,
                         double *c2, double *c3, int acc)
{
    int j = 0;
    for (; j + 8 <= n; j += 8)
        tile4x8(k, a0, a1, a2, a3, b + j, ldb, c0 + j, c1 + j, c2 + j, c3 + j, acc);
    for (; j + 4 <= n; j += 4)
        tile4x4(k, a0, a1, a2, a3, b + j, ldb, c0 + j, c1 + j, c2 + j, c3 + j, acc);
    if (j < n) {
        row1(n - j, k, a0, b + j, ldb, c0 + j, acc);
        row1(n - j, k, a1, b + j, ldb, c1 + j, acc);
        row1(n - j, k, a2, b + j, ldb, c2 + j, acc);
        row1(n - j, k, a3, b + j, ldb, c3 + j, acc);
    }
}

/* A (rows from a, columns a_off..a_off+k) times B (k x n at stride ldb) into C columns [0, n). */
FH_EQ_HOT static void gemm_rows(long m, int n, int k, eq_mat a, long a_off, const double *b, long ldb,
                      eq_mat c, long c_off, int acc)
{
    long r = 0;
    for (; r + 4 <= m; r += 4)
        rows4(n, k, eq_row(a, r) + a_off, eq_row(a, r + 1) + a_off, eq_row(a, r + 2) + a_off,
              eq_row(a, r + 3) + a_off, b, ldb, eq_row(c, r) + c_off, eq_row(c, r + 1) + c_off,
              eq_row(c, r + 2) + c_off, eq_row(c, r + 3) + c_off, acc);
    for (; r < m; r++) row1(n, k, eq_row(a, r) + a_off, b, ldb, eq_row(c, r) + c_off, acc);
}

void eq_gemm_nn(long m, int n, int k, eq_mat a, const double *b, int ldb, eq_mat c,
                          int accumulate)
{
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        if (!accumulate)
            for (long r = 0; r < m; r++) memset(eq_row(c, r), 0, (size_t)n * sizeof(double));
        return;
    }
    gemm_rows(m, n, k, a, 0, b, ldb, c, 0, accumulate);
}

void eq_gemm_nt(long m, int n, int k, eq_mat a, const double *b, int ldb, eq_mat c,
                          int accumulate)
{
    double panel[EQ_KCHUNK * 8];
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        eq_gemm_nn(m, n, 0, a, b, ldb, c, accumulate);
        return;
    }
    for (int j = 0; j < n; j += 8) {
        int w = n - j < 8 ? n - j : 8;
        for (int k0 = 0; k0 < k; k0 += EQ_KCHUNK) {
            int kc = k - k0 < EQ_KCHUNK ? k - k0 : EQ_KCHUNK;
            for (int q = 0; q < kc; q++)
                for (int jj = 0; jj < w; jj++)
                    panel[q * 8 + jj] = b[(long)(j + jj) * ldb + k0 + q];
            gemm_rows(m, w, kc, a, k0, panel, 8, c, j, accumulate || k0 > 0);
        }
    }
}

/* C[i][j] over a 4 x 8 tile: sum over all rows r of A[r][i] B[r][j]. */
FH_EQ_HOT void eq_gemm_tn(long rows, int m, int n, eq_mat a, eq_mat b, double *c, int ldc,
                          int accumulate)
{
    if (m <= 0 || n <= 0) return;
    for (int i = 0; i < m; i += 4) {
        int h = m - i < 4 ? m - i : 4;
        int j = 0;
        for (; j + 8 <= n && h == 4; j += 8) {
            eq_v4 s00 = eq_set1(0), s01 = s00, s10 = s00, s11 = s00;
            eq_v4 s20 = s00, s21 = s00, s30 = s00, s31 = s00;
            for (long r = 0; r < rows; r++) {
                const double *ar = eq_row(a, r) + i, *br = eq_row(b, r) + j;
                eq_v4 b0 = eq_load(br), b1 = eq_load(br + 4);
                eq_v4 t0 = eq_set1(ar[0]), t1 = eq_set1(ar[1]), t2 = eq_set1(ar[2]),
                      t3 = eq_set1(ar[3]);
                s00 += t0 * b0;
                s01 += t0 * b1;
                s10 += t1 * b0;
                s11 += t1 * b1;
                s20 += t2 * b0;
                s21 += t2 * b1;
                s30 += t3 * b0;
                s31 += t3 * b1;
            }
            double *c0 = c + (long)i * ldc + j, *c1 = c0 + ldc, *c2 = c1 + ldc, *c3 = c2 + ldc;
            if (accumulate) {
                s00 += eq_load(c0), s01 += eq_load(c0 + 4);
                s10 += eq_load(c1), s11 += eq_load(c1 + 4);
                s20 += eq_load(c2), s21 += eq_load(c2 + 4);
                s30 += eq_load(c3), s31 += eq_load(c3 + 4);
            }
            eq_store(c0, s00), eq_store(c0 + 4, s01);
            eq_store(c1, s10), eq_store(c1 + 4, s11);
            eq_store(c2, s20), eq_store(c2 + 4, s21);
            eq_store(c3, s30), eq_store(c3 + 4, s31);
        }
        for (; j + 4 <= n; j += 4) {
            for (int ii = 0; ii < h; ii++) {
                eq_v4 s = eq_set1(0);
                for (long r = 0; r < rows; r++)
                    s += eq_set1(eq_row(a, r)[i + ii]) * eq_load(eq_row(b, r) + j);
                double *cr = c + (long)(i + ii) * ldc + j;
                if (accumulate) s += eq_load(cr);
                eq_store(cr, s);
            }
        }
        for (; j < n; j++) {
            for (int ii = 0; ii < h; ii++) {
                double s = 0;
                for (long r = 0; r < rows; r++) s += eq_row(a, r)[i + ii] * eq_row(b, r)[j];
                double *cr = c + (long)(i + ii) * ldc + j;
                *cr = accumulate ? *cr + s : s;
            }
        }
    }
}

void fh_eq_gemm(int transa, int transb, int m, int n, int k, double alpha, const double *a,
                int lda, const double *b, int ldb, double beta, double *c, int ldc)
{
    if (m <= 0 || n <= 0) return;
    /* Scale C by beta first, then accumulate alpha op(A) op(B). */
    if (beta == 0.0) {
        for (int i = 0; i < m; i++) memset(c + (long)i * ldc, 0, (size_t)n * sizeof(double));
    } else if (beta != 1.0) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[(long)i * ldc + j] *= beta;
    }
    if (k <= 0 || alpha == 0.0) return;
    eq_mat cm = eq_mat_plain(c, ldc);
    if (alpha == 1.0) {
        if (transa) {
            if (transb) {
                /* C += A^T B^T = (B A)^T: rare; do it element-wise. */
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        double s = 0;
                        for (int q = 0; q < k; q++) s += a[(long)q * lda + i] * b[(long)j * ldb + q];
                        c[(long)i * ldc + j] += s;
                    }
                return;
            }
            eq_gemm_tn(k, m, n, eq_mat_plain(a, lda), eq_mat_plain(b, ldb), c, ldc, 1);
        } else if (transb) {
            eq_gemm_nt(m, n, k, eq_mat_plain(a, lda), b, ldb, cm, 1);
        } else {
            eq_gemm_nn(m, n, k, eq_mat_plain(a, lda), b, ldb, cm, 1);
        }
        return;
    }
    /* General alpha: row by row through a scratch row (m x n products are small here). */
    double row[512];
    for (int j0 = 0; j0 < n; j0 += 512) {
        int w = n - j0 < 512 ? n - j0 : 512;
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < w; j++) {
                double s = 0;
                for (int q = 0; q < k; q++) {
                    double av = transa ? a[(long)q * lda + i] : a[(long)i * lda + q];
                    double bv = transb ? b[(long)(j0 + j) * ldb + q] : b[(long)q * ldb + j0 + j];
                    s += av * bv;
                }
                row[j] = s;
            }
            for (int j = 0; j < w; j++) c[(long)i * ldc + j0 + j] += alpha * row[j];
        }
    }
}
