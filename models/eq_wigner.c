/* Real Wigner D matrices from the spherical harmonics themselves: D^l(R) is the unique matrix with
 * Y_l(R u) = D^l(R) Y_l(u) for all u, found by least squares over a fixed, well-spread set of
 * sample directions. Why this way: it depends only on fh_eq_sph, not on the Clebsch-Gordan table,
 * so tests of CG equivariance and of whole networks against it are independent checks. Not a hot
 * path (GSL QR with allocation is fine here). */
#include <math.h>
#include <stdlib.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>
#include "fh_equivariant.h"

int fh_eq_wigner_d(int lmax, const double rot[9], double *D, fh_err *err)
{
    if (lmax < 0 || lmax > FH_EQ_LMAX)
        return fh_err_set(err, FH_EINPUT, "wigner_d: lmax %d outside 0..%d", lmax, FH_EQ_LMAX);
    const int npts = 8 * (2 * lmax + 1) + 16;
    int nsh = (lmax + 1) * (lmax + 1);
    double *u = malloc(sizeof(double) * 3 * npts), *ru = malloc(sizeof(double) * 3 * npts);
    double *Y = malloc(sizeof(double) * nsh * npts), *RY = malloc(sizeof(double) * nsh * npts);
    gsl_matrix *A = NULL;
    gsl_vector *tau = NULL, *rhs = NULL, *sol = NULL, *res = NULL;
    int rc = FH_OK;
    if (!u || !ru || !Y || !RY) {
        rc = fh_err_set(err, FH_EFAIL, "wigner_d: out of memory");
        goto done;
    }
    /* Fibonacci sphere: deterministic and nearly uniform. */
    const double golden = 3.14159265358979323846 * (3.0 - sqrt(5.0));
    for (int i = 0; i < npts; i++) {
        double z = 1.0 - (2.0 * i + 1.0) / npts, s = sqrt(1.0 - z * z);
        u[3 * i] = s * cos(golden * i), u[3 * i + 1] = s * sin(golden * i), u[3 * i + 2] = z;
        for (int k = 0; k < 3; k++)
            ru[3 * i + k] = rot[3 * k] * u[3 * i] + rot[3 * k + 1] * u[3 * i + 1] + rot[3 * k + 2] * u[3 * i + 2];
    }
    fh_eq_sph(lmax, npts, u, Y, NULL);
    fh_eq_sph(lmax, npts, ru, RY, NULL);
    long off = 0;
    for (int l = 0; l <= lmax; l++) {
        int d = 2 * l + 1, b = l * l;
        A = gsl_matrix_alloc(npts, d);
        tau = gsl_vector_alloc(d);
        rhs = gsl_vector_alloc(npts);
        sol = gsl_vector_alloc(d);
        res = gsl_vector_alloc(npts);
        if (!A || !tau || !rhs || !sol || !res) {
            rc = fh_err_set(err, FH_EFAIL, "wigner_d: out of memory");
            goto done;
        }
        for (int i = 0; i < npts; i++)
            for (int j = 0; j < d; j++) gsl_matrix_set(A, i, j, Y[(long)i * nsh + b + j]);
        gsl_linalg_QR_decomp(A, tau);
        /* Row a of D: RY[i][a] = sum_j D[a][j] Y[i][j]. */
        for (int a = 0; a < d; a++) {
            for (int i = 0; i < npts; i++) gsl_vector_set(rhs, i, RY[(long)i * nsh + b + a]);
            gsl_linalg_QR_lssolve(A, tau, rhs, sol, res);
            for (int j = 0; j < d; j++) D[off + a * d + j] = gsl_vector_get(sol, j);
        }
        off += (long)d * d;
        gsl_matrix_free(A), gsl_vector_free(tau), gsl_vector_free(rhs);
        gsl_vector_free(sol), gsl_vector_free(res);
        A = NULL, tau = rhs = sol = res = NULL;
    }
done:
    if (A) gsl_matrix_free(A);
    if (tau) gsl_vector_free(tau);
    if (rhs) gsl_vector_free(rhs);
    if (sol) gsl_vector_free(sol);
    if (res) gsl_vector_free(res);
    free(u), free(ru), free(Y), free(RY);
    return rc;
}
