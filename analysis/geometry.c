/* Internal coordinates that tell products apart: distances, dihedrals, pyramidalization. Plain
 * vector formulas (atan2 form of the dihedral, so it is accurate near 0 and 180 degrees). */
#include <math.h>

#include "fh_analysis.h"

#define DEG_PER_RAD (180.0 / 3.14159265358979323846)

static void sub(const double *x, int a, int b, double v[3])
{
    for (int k = 0; k < 3; k++) v[k] = x[3 * a + k] - x[3 * b + k];
}

static void cross(const double a[3], const double b[3], double c[3])
{
    c[0] = a[1] * b[2] - a[2] * b[1];
    c[1] = a[2] * b[0] - a[0] * b[2];
    c[2] = a[0] * b[1] - a[1] * b[0];
}

static double dot(const double a[3], const double b[3]) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

double fh_ana_distance(const double *x, int a, int b)
{
    double v[3];
    sub(x, a, b, v);
    return sqrt(dot(v, v));
}

double fh_ana_min_distance(const double *x, const int *pairs, int npairs)
{
    double best = -1.0;
    for (int k = 0; k < npairs; k++) {
        double d = fh_ana_distance(x, pairs[2 * k], pairs[2 * k + 1]);
        if (best < 0 || d < best) best = d;
    }
    return best;
}

double fh_ana_dihedral(const double *x, const int idx[4])
{
    double b1[3], b2[3], b3[3], n1[3], n2[3], m[3];
    sub(x, idx[1], idx[0], b1);
    sub(x, idx[2], idx[1], b2);
    sub(x, idx[3], idx[2], b3);
    cross(b1, b2, n1);
    cross(b2, b3, n2);
    cross(n1, n2, m);
    double nb2 = sqrt(dot(b2, b2));
    double y = nb2 > 0 ? dot(m, b2) / nb2 : 0.0;
    double phi = atan2(y, dot(n1, n2)) * DEG_PER_RAD;
    return phi <= -180.0 ? phi + 360.0 : phi;
}

double fh_ana_pyramidalization(const double *x, const int idx[4])
{
    double a[3], b[3], c[3], n[3];
    sub(x, idx[1], idx[0], a);
    sub(x, idx[2], idx[0], b);
    sub(x, idx[3], idx[0], c);
    cross(b, c, n);
    double na = sqrt(dot(a, a)), nn = sqrt(dot(n, n));
    if (na == 0.0 || nn == 0.0) return NAN;
    double s = fabs(dot(a, n)) / (na * nn);
    if (s > 1.0) s = 1.0;
    return asin(s) * DEG_PER_RAD;
}
