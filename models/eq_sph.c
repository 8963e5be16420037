/* Real spherical harmonics of edge vectors and their derivatives with respect to the vector.
 *
 * Why this recursion: the solid harmonics R_lm(v) = |v|^l Y_lm(v/|v|) are polynomials,
 *   R_l,|m| ~ Q_l^m(z, r^2) Re (x + i y)^m,   R_l,-|m| ~ Q_l^m(z, r^2) Im (x + i y)^m,
 * where Q_l^m = P_l^m(cos t) / sin^m t obeys the stable three-term recursion in l
 *   Q_m^m = (2m-1)!!,  Q_{m+1}^m = (2m+1) z Q_m^m,
 *   (l-m) Q_l^m = (2l-1) z Q_{l-1}^m - (l+m-1) r^2 Q_{l-2}^m,
 * and (x + i y)^m by repeated complex multiplication. Carrying the Cartesian gradient through the
 * same recursion gives exact derivatives. At the unit vector u = v/|v|, Y = R(u) and, R being
 * homogeneous of degree l, dY/dv = (grad R(u) - l R(u) u) / |v|.
 * Normalisation "component": Y_lm = sqrt((2l+1) (l-|m|)!/(l+|m|)!) (sqrt 2 if m != 0) Q C_m|S_m,
 * so sum_m Y_lm^2 = 2l+1 (see fh_equivariant.h). */
#include <math.h>
#include <string.h>
#include "fh_equivariant.h"

/* Normalisation constants K[l][m], m >= 0. */
static void sph_norms(int lmax, double K[FH_EQ_LMAX + 1][FH_EQ_LMAX + 1])
{
    for (int l = 0; l <= lmax; l++)
        for (int m = 0; m <= l; m++) {
            double ratio = 1.0;   /* (l-m)! / (l+m)! */
            for (int t = l - m + 1; t <= l + m; t++) ratio /= t;
            K[l][m] = sqrt((2 * l + 1) * ratio) * (m > 0 ? sqrt(2.0) : 1.0);
        }
}

static void sph_one(int lmax, const double K[FH_EQ_LMAX + 1][FH_EQ_LMAX + 1], const double v[3],
                    double *Y, double *dY)
{
    int nsh = (lmax + 1) * (lmax + 1);
    double r = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    if (!(r > 0.0)) {
        memset(Y, 0, (size_t)nsh * sizeof(double));
        Y[0] = 1.0;
        if (dY) memset(dY, 0, (size_t)nsh * 3 * sizeof(double));
        return;
    }
    double u[3] = {v[0] / r, v[1] / r, v[2] / r};
    double x = u[0], y = u[1], z = u[2];

    /* C_m + i S_m = (x + i y)^m and their gradients (no z dependence). */
    double C[FH_EQ_LMAX + 1], S[FH_EQ_LMAX + 1];
    double dC[FH_EQ_LMAX + 1][2], dS[FH_EQ_LMAX + 1][2];
    C[0] = 1.0, S[0] = 0.0;
    dC[0][0] = dC[0][1] = dS[0][0] = dS[0][1] = 0.0;
    for (int m = 1; m <= lmax; m++) {
        C[m] = x * C[m - 1] - y * S[m - 1];
        S[m] = x * S[m - 1] + y * C[m - 1];
        dC[m][0] = m * C[m - 1], dC[m][1] = -m * S[m - 1];
        dS[m][0] = m * S[m - 1], dS[m][1] = m * C[m - 1];
    }

    for (int m = 0; m <= lmax; m++) {
        double q2 = 0, q1 = 0, g2[3] = {0, 0, 0}, g1[3] = {0, 0, 0};   /* Q_{l-2}, Q_{l-1} */
        for (int l = m; l <= lmax; l++) {
            double q, g[3];
            if (l == m) {
                q = 1.0;
                for (int t = 1; t <= 2 * m - 1; t += 2) q *= t;
                g[0] = g[1] = g[2] = 0.0;
            } else if (l == m + 1) {
                q = (2 * m + 1) * z * q1;
                g[0] = (2 * m + 1) * z * g1[0];
                g[1] = (2 * m + 1) * z * g1[1];
                g[2] = (2 * m + 1) * (q1 + z * g1[2]);
            } else {
                double a = 2 * l - 1, b = l + m - 1, inv = 1.0 / (l - m);
                q = (a * z * q1 - b * q2) * inv;   /* r^2 = 1 at the unit vector */
                for (int k = 0; k < 3; k++)
                    g[k] = (a * z * g1[k] - b * (2.0 * u[k] * q2 + g2[k])) * inv;
                g[2] += a * q1 * inv;
            }
            /* Store +m (cos) and -m (sin) components. */
            for (int sgn = (m == 0 ? 1 : -1); sgn <= 1; sgn += 2) {
                double f = sgn > 0 ? C[m] : S[m];
                const double *df = sgn > 0 ? dC[m] : dS[m];
                double R = K[l][m] * q * f;
                int idx = l * l + l + sgn * m;
                Y[idx] = R;
                if (dY) {
                    double gr[3] = {K[l][m] * (g[0] * f + q * df[0]), K[l][m] * (g[1] * f + q * df[1]),
                                    K[l][m] * g[2] * f};
                    for (int k = 0; k < 3; k++) dY[idx * 3 + k] = (gr[k] - l * R * u[k]) / r;
                }
            }
            q2 = q1, q1 = q;
            memcpy(g2, g1, sizeof g1);
            memcpy(g1, g, sizeof g);
        }
    }
}

void fh_eq_sph(int lmax, int n, const double *vec, double *Y, double *dY)
{
    double K[FH_EQ_LMAX + 1][FH_EQ_LMAX + 1];
    int nsh = (lmax + 1) * (lmax + 1);
    if (lmax < 0 || lmax > FH_EQ_LMAX) return;
    sph_norms(lmax, K);
    for (int i = 0; i < n; i++)
        sph_one(lmax, (const double(*)[FH_EQ_LMAX + 1])K, vec + 3 * i, Y + (long)i * nsh,
                dY ? dY + (long)i * nsh * 3 : NULL);
}

void fh_eq_sph_backward(int lmax, int n, const double *dY, const double *gY, double *gvec)
{
    int nsh = (lmax + 1) * (lmax + 1);
    for (int i = 0; i < n; i++) {
        const double *d = dY + (long)i * nsh * 3, *g = gY + (long)i * nsh;
        double s0 = 0, s1 = 0, s2 = 0;
        for (int j = 0; j < nsh; j++) {
            s0 += g[j] * d[3 * j];
            s1 += g[j] * d[3 * j + 1];
            s2 += g[j] * d[3 * j + 2];
        }
        gvec[3 * i] += s0;
        gvec[3 * i + 1] += s1;
        gvec[3 * i + 2] += s2;
    }
}
