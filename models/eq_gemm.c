/* Small dense matrix products for the equivariant core (radial MLP over edges, channel mixing
 * over nodes). Why our own: no optimised BLAS is linked, and these matrices are small (tens to a
 * few hundred rows and columns), so a register-blocked kernel (4 rows x 8 columns of C held in
 * 8 vector accumulators) gets most of the way. Rows may be "grouped" (see eq_mat) so one block of a
 * [node][m][c] feature array is multiplied without copying. Every element of C is summed in k
 * order by all code paths, so results do not depend on the blocking. */
#include "fh_equivariant.h"
#include "eq_internal.h"

#define EQ_KC 128       /* depth of a packed block of A (and of a panel of B^T) */
#define EQ_NB 64        /* width of a packed panel of B^T */

/* Why A is packed with every value repeated 4 times: the kernel then needs only vector loads
 * (no broadcasts, which GCC 12 turns into two shuffles each), so a 4 x 8 tile does 8 multiplies
 * and 8 adds per 6 loads and runs at the machine's arithmetic peak. */
EQ_INLINE void pack4(int kc, const double *a0, const double *a1, const double *a2,
                     const double *a3, long stride, double *ap)
{
    for (int q = 0; q < kc; q++) {
        eq_store(ap + 16 * q, eq_set1(a0[q * stride]));
        eq_store(ap + 16 * q + 4, eq_set1(a1[q * stride]));
        eq_store(ap + 16 * q + 8, eq_set1(a2[q * stride]));
        eq_store(ap + 16 * q + 12, eq_set1(a3[q * stride]));
    }
}

/* --- 4 packed rows x 8 / 4 columns, B rows at stride ldb ----------------------------------- */
EQ_INLINE void tile4x8(int k, const double *ap, const double *b, long ldb, double *c0, double *c1,
                       double *c2, double *c3, int acc)
{
    eq_v4 s00 = eq_set1(0), s01 = s00, s10 = s00, s11 = s00;
    eq_v4 s20 = s00, s21 = s00, s30 = s00, s31 = s00;
    for (int q = 0; q < k; q++) {
        const double *bq = b + q * ldb, *aq = ap + 16 * q;
        eq_v4 b0 = eq_load(bq), b1 = eq_load(bq + 4);
        eq_v4 t0 = eq_load(aq), t1 = eq_load(aq + 4), t2 = eq_load(aq + 8), t3 = eq_load(aq + 12);
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

EQ_INLINE void tile4x4(int k, const double *ap, const double *b, long ldb, double *c0, double *c1,
                       double *c2, double *c3, int acc)
{
    eq_v4 s0 = eq_set1(0), s1 = s0, s2 = s0, s3 = s0;
    for (int q = 0; q < k; q++) {
        eq_v4 b0 = eq_load(b + q * ldb);
        const double *aq = ap + 16 * q;
        s0 += eq_load(aq) * b0;
        s1 += eq_load(aq + 4) * b0;
        s2 += eq_load(aq + 8) * b0;
        s3 += eq_load(aq + 12) * b0;
    }
    if (acc) {
        s0 += eq_load(c0), s1 += eq_load(c1), s2 += eq_load(c2), s3 += eq_load(c3);
    }
    eq_store(c0, s0), eq_store(c1, s1), eq_store(c2, s2), eq_store(c3, s3);
}

/* Row ii (0..3) of a packed block, columns [0, n). */
EQ_INLINE void row1p(int n, int k, const double *ap, int ii, const double *b, long ldb, double *c0,
                     int acc)
{
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        eq_v4 s = eq_set1(0);
        for (int q = 0; q < k; q++) s += eq_load(ap + 16 * q + 4 * ii) * eq_load(b + q * ldb + j);
        if (acc) s += eq_load(c0 + j);
        eq_store(c0 + j, s);
    }
    for (; j < n; j++) {
        double s = 0;
        for (int q = 0; q < k; q++) s += ap[16 * q + 4 * ii] * b[q * ldb + j];
        c0[j] = acc ? c0[j] + s : s;
    }
}

/* One unpacked row, columns [0, n). */
EQ_INLINE void row1(int n, int k, const double *a0, const double *b, long ldb, double *c0, int acc)
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

/* A (rows from a, columns a_off..a_off+k) times B (k x n at stride ldb) into C columns
 * c_off..c_off+n, in blocks of 4 rows and EQ_KC columns of A. */
FH_EQ_HOT static void gemm_rows(long m, int n, int k, eq_mat a, long a_off, const double *b,
                                long ldb, eq_mat c, long c_off, int acc)
{
    double ap[16 * EQ_KC];
    long r = 0;
    for (; r + 4 <= m; r += 4) {
        const double *a0 = eq_row(a, r) + a_off, *a1 = eq_row(a, r + 1) + a_off;
        const double *a2 = eq_row(a, r + 2) + a_off, *a3 = eq_row(a, r + 3) + a_off;
        double *c0 = eq_row(c, r) + c_off, *c1 = eq_row(c, r + 1) + c_off;
        double *c2 = eq_row(c, r + 2) + c_off, *c3 = eq_row(c, r + 3) + c_off;
        for (int k0 = 0; k0 < k; k0 += EQ_KC) {
            int kc = k - k0 < EQ_KC ? k - k0 : EQ_KC, ac = acc || k0 > 0;
            const double *bk = b + (long)k0 * ldb;
            pack4(kc, a0 + k0, a1 + k0, a2 + k0, a3 + k0, 1, ap);
            int j = 0;
            for (; j + 8 <= n; j += 8) tile4x8(kc, ap, bk + j, ldb, c0 + j, c1 + j, c2 + j, c3 + j, ac);
            for (; j + 4 <= n; j += 4) tile4x4(kc, ap, bk + j, ldb, c0 + j, c1 + j, c2 + j, c3 + j, ac);
            if (j < n) {
                row1p(n - j, kc, ap, 0, bk + j, ldb, c0 + j, ac);
                row1p(n - j, kc, ap, 1, bk + j, ldb, c1 + j, ac);
                row1p(n - j, kc, ap, 2, bk + j, ldb, c2 + j, ac);
                row1p(n - j, kc, ap, 3, bk + j, ldb, c3 + j, ac);
            }
        }
    }
    for (; r < m; r++) row1(n, k, eq_row(a, r) + a_off, b, ldb, eq_row(c, r) + c_off, acc);
}

void eq_gemm_nn(long m, int n, int k, eq_mat a, const double *b, int ldb, eq_mat c, int accumulate)
{
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        if (!accumulate)
            for (long r = 0; r < m; r++) memset(eq_row(c, r), 0, (size_t)n * sizeof(double));
        return;
    }
    gemm_rows(m, n, k, a, 0, b, ldb, c, 0, accumulate);
}

void eq_gemm_nt(long m, int n, int k, eq_mat a, const double *b, int ldb, eq_mat c, int accumulate)
{
    double panel[EQ_KC * EQ_NB];
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        eq_gemm_nn(m, n, 0, a, b, ldb, c, accumulate);
        return;
    }
    /* B^T in panels of EQ_KC x EQ_NB, then the plain kernel */
    for (int j = 0; j < n; j += EQ_NB) {
        int w = n - j < EQ_NB ? n - j : EQ_NB;
        for (int k0 = 0; k0 < k; k0 += EQ_KC) {
            int kc = k - k0 < EQ_KC ? k - k0 : EQ_KC;
            for (int jj = 0; jj < w; jj++) {
                const double *bj = b + (long)(j + jj) * ldb + k0;
                for (int q = 0; q < kc; q++) panel[q * EQ_NB + jj] = bj[q];
            }
            gemm_rows(m, w, kc, a, k0, panel, EQ_NB, c, j, accumulate || k0 > 0);
        }
    }
}

/* 4 packed columns of A x 8 columns of B whose rows are given by pointers (rows of a grouped
 * matrix are not evenly spaced). */
EQ_INLINE void tile4x8_rows(int k, const double *ap, const double *const *brow, int j, double *c0,
                            double *c1, double *c2, double *c3, int acc)
{
    eq_v4 s00 = eq_set1(0), s01 = s00, s10 = s00, s11 = s00;
    eq_v4 s20 = s00, s21 = s00, s30 = s00, s31 = s00;
    for (int q = 0; q < k; q++) {
        const double *bq = brow[q] + j, *aq = ap + 16 * q;
        eq_v4 b0 = eq_load(bq), b1 = eq_load(bq + 4);
        eq_v4 t0 = eq_load(aq), t1 = eq_load(aq + 4), t2 = eq_load(aq + 8), t3 = eq_load(aq + 12);
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

/* C[i][j] (+)= sum over all rows r of A[r][i] B[r][j]: EQ_KC rows at a time; 4 columns of A packed,
 * times 8-column tiles of B read in place. */
FH_EQ_HOT void eq_gemm_tn(long rows, int m, int n, eq_mat a, eq_mat b, double *c, int ldc,
                          int accumulate)
{
    double ap[16 * EQ_KC];
    const double *arow[EQ_KC], *brow[EQ_KC];
    if (m <= 0 || n <= 0) return;
    if (rows <= 0) {
        if (!accumulate)
            for (int i = 0; i < m; i++) memset(c + (long)i * ldc, 0, sizeof(double) * n);
        return;
    }
    eq_rowiter ra = eq_rows_begin(a), rb = eq_rows_begin(b);
    for (long r0 = 0; r0 < rows; r0 += EQ_KC) {
        int rc = rows - r0 < EQ_KC ? (int)(rows - r0) : EQ_KC, ac = accumulate || r0 > 0;
        for (int q = 0; q < rc; q++) {
            arow[q] = ra.row, brow[q] = rb.row;
            eq_rows_next(&ra);
            eq_rows_next(&rb);
        }
        for (int i = 0; i < m; i += 4) {
            int h = m - i < 4 ? m - i : 4;
            for (int q = 0; q < rc; q++)
                for (int ii = 0; ii < 4; ii++)
                    eq_store(ap + 16 * q + 4 * ii, eq_set1(ii < h ? arow[q][i + ii] : 0.0));
            double *c0 = c + (long)i * ldc;
            int j = 0;
            if (h == 4)
                for (; j + 8 <= n; j += 8)
                    tile4x8_rows(rc, ap, brow, j, c0 + j, c0 + ldc + j, c0 + 2 * ldc + j, c0 + 3 * ldc + j, ac);
            for (int ii = 0; ii < h; ii++) {
                double *ci = c0 + (long)ii * ldc;
                for (int jj = j; jj < n; jj++) {
                    double sum = 0;
                    for (int q = 0; q < rc; q++) sum += ap[16 * q + 4 * ii] * brow[q][jj];
                    ci[jj] = ac ? ci[jj] + sum : sum;
                }
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

/* ---- single precision (mixed-precision inference, eq_linear.c) ---------------------------- */
/* C [m][n] = A [m][k] B [k][n], float, plain row-major matrices. Unpacked (A's values broadcast
 * from memory): the matrices here are a few dozen rows of at most 64 columns, where packing costs
 * as much as it saves. Tiles of 4 rows x 16 columns, then 4 x 8, then scalar columns. */
FH_EQ_HOT void eq_gemm_f(long m, int n, int k, eq_matf a, const float *b, int ldb, eq_matf c)
{
    long r = 0;
    for (; r + 4 <= m; r += 4) {
        const float *a0 = eq_rowf(a, r), *a1 = eq_rowf(a, r + 1), *a2 = eq_rowf(a, r + 2);
        const float *a3 = eq_rowf(a, r + 3);
        float *c0 = eq_rowf(c, r), *c1 = eq_rowf(c, r + 1), *c2 = eq_rowf(c, r + 2), *c3 = eq_rowf(c, r + 3);
        int j = 0;
        for (; j + 16 <= n; j += 16) {
            eq_v8f s00 = eq_set1f(0), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00;
            eq_v8f s30 = s00, s31 = s00;
            for (int q = 0; q < k; q++) {
                eq_v8f b0 = eq_loadf(b + (long)q * ldb + j), b1 = eq_loadf(b + (long)q * ldb + j + 8);
                eq_v8f t0 = eq_set1f(a0[q]), t1 = eq_set1f(a1[q]), t2 = eq_set1f(a2[q]), t3 = eq_set1f(a3[q]);
                s00 += t0 * b0, s01 += t0 * b1, s10 += t1 * b0, s11 += t1 * b1;
                s20 += t2 * b0, s21 += t2 * b1, s30 += t3 * b0, s31 += t3 * b1;
            }
            eq_storef(c0 + j, s00), eq_storef(c0 + j + 8, s01);
            eq_storef(c1 + j, s10), eq_storef(c1 + j + 8, s11);
            eq_storef(c2 + j, s20), eq_storef(c2 + j + 8, s21);
            eq_storef(c3 + j, s30), eq_storef(c3 + j + 8, s31);
        }
        for (; j + 8 <= n; j += 8) {
            eq_v8f s0 = eq_set1f(0), s1 = s0, s2 = s0, s3 = s0;
            for (int q = 0; q < k; q++) {
                eq_v8f b0 = eq_loadf(b + (long)q * ldb + j);
                s0 += eq_set1f(a0[q]) * b0, s1 += eq_set1f(a1[q]) * b0, s2 += eq_set1f(a2[q]) * b0, s3 += eq_set1f(a3[q]) * b0;
            }
            eq_storef(c0 + j, s0), eq_storef(c1 + j, s1), eq_storef(c2 + j, s2), eq_storef(c3 + j, s3);
        }
        for (; j < n; j++) {
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (int q = 0; q < k; q++) {
                float bq = b[(long)q * ldb + j];
                s0 += a0[q] * bq, s1 += a1[q] * bq, s2 += a2[q] * bq, s3 += a3[q] * bq;
            }
            c0[j] = s0, c1[j] = s1, c2[j] = s2, c3[j] = s3;
        }
    }
    for (; r < m; r++) {
        const float *a0 = eq_rowf(a, r);
        float *c0 = eq_rowf(c, r);
        int j = 0;
        for (; j + 8 <= n; j += 8) {
            eq_v8f s0 = eq_set1f(0);
            for (int q = 0; q < k; q++) s0 += eq_set1f(a0[q]) * eq_loadf(b + (long)q * ldb + j);
            eq_storef(c0 + j, s0);
        }
        for (; j < n; j++) {
            float s0 = 0;
            for (int q = 0; q < k; q++) s0 += a0[q] * b[(long)q * ldb + j];
            c0[j] = s0;
        }
    }
}
