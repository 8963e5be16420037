/* Equivariant nonlinearities. A pointwise function may act only on invariants, so: scalars go
 * through silu (even) or tanh (odd: f(-x) = -f(x) keeps the parity); a block with l > 0 is
 * multiplied per channel by an invariant factor -- a sigmoid of a separate gate scalar (gate) or of
 * its own smooth norm plus a bias (norm nonlinearity). */
#include <math.h>
#include "fh_equivariant.h"

#define EQ_NORM_EPS 1e-3

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

int fh_eq_gate_n_gates(const fh_eq_irreps *ir)
{
    int n = 0;
    for (int b = 0; b < ir->n; b++) n += ir->l[b] > 0;
    return n;
}

/* Scalar block: y = silu(x) (even) or tanh(x) (odd); returns f and sets *df. */
static double scalar_act(int p, double x, double *df)
{
    if (p > 0) return fh_eq_silu(x, df);
    double t = tanh(x);
    *df = 1.0 - t * t;
    return t;
}

void fh_eq_gate_forward(const fh_eq_irreps *ir, int c, int n, const double *x, const double *g,
                        double *y)
{
    int dim = fh_eq_irreps_dim(ir), ng = fh_eq_gate_n_gates(ir);
    for (int a = 0; a < n; a++) {
        const double *xa = x + (long)a * dim * c, *ga = g + (long)a * ng * c;
        double *ya = y + (long)a * dim * c;
        int gi = 0;
        for (int b = 0; b < ir->n; b++) {
            int off = fh_eq_irreps_offset(ir, b) * c, d = 2 * ir->l[b] + 1;
            if (ir->l[b] == 0) {
                double df;
                for (int k = 0; k < c; k++) ya[off + k] = scalar_act(ir->p[b], xa[off + k], &df);
            } else {
                const double *gb = ga + gi * c;
                for (int k = 0; k < c; k++) {
                    double s = sigmoid(gb[k]);
                    for (int m = 0; m < d; m++) ya[off + m * c + k] = s * xa[off + m * c + k];
                }
                gi++;
            }
        }
    }
}

void fh_eq_gate_backward(const fh_eq_irreps *ir, int c, int n, const double *x, const double *g,
                         const double *gy, double *gx, double *gg)
{
    int dim = fh_eq_irreps_dim(ir), ng = fh_eq_gate_n_gates(ir);
    for (int a = 0; a < n; a++) {
        const double *xa = x + (long)a * dim * c, *ga = g + (long)a * ng * c;
        const double *gya = gy + (long)a * dim * c;
        double *gxa = gx ? gx + (long)a * dim * c : NULL, *gga = gg ? gg + (long)a * ng * c : NULL;
        int gi = 0;
        for (int b = 0; b < ir->n; b++) {
            int off = fh_eq_irreps_offset(ir, b) * c, d = 2 * ir->l[b] + 1;
            if (ir->l[b] == 0) {
                if (gxa)
                    for (int k = 0; k < c; k++) {
                        double df;
                        scalar_act(ir->p[b], xa[off + k], &df);
                        gxa[off + k] += gya[off + k] * df;
                    }
            } else {
                const double *gb = ga + gi * c;
                for (int k = 0; k < c; k++) {
                    double s = sigmoid(gb[k]), dot = 0.0;
                    for (int m = 0; m < d; m++) {
                        dot += gya[off + m * c + k] * xa[off + m * c + k];
                        if (gxa) gxa[off + m * c + k] += s * gya[off + m * c + k];
                    }
                    if (gga) gga[gi * c + k] += dot * s * (1.0 - s);
                }
                gi++;
            }
        }
    }
}

void fh_eq_normact_forward(const fh_eq_irreps *ir, int c, int n, const double *theta,
                           const double *x, double *y)
{
    int dim = fh_eq_irreps_dim(ir);
    for (int a = 0; a < n; a++) {
        const double *xa = x + (long)a * dim * c;
        double *ya = y + (long)a * dim * c;
        int gi = 0;
        for (int b = 0; b < ir->n; b++) {
            int off = fh_eq_irreps_offset(ir, b) * c, d = 2 * ir->l[b] + 1;
            if (ir->l[b] == 0) {
                double df;
                for (int k = 0; k < c; k++) ya[off + k] = scalar_act(ir->p[b], xa[off + k], &df);
                continue;
            }
            const double *bias = theta + gi * c;
            for (int k = 0; k < c; k++) {
                double s2 = EQ_NORM_EPS * EQ_NORM_EPS;
                for (int m = 0; m < d; m++) s2 += xa[off + m * c + k] * xa[off + m * c + k];
                double f = sigmoid(sqrt(s2) - EQ_NORM_EPS + bias[k]);
                for (int m = 0; m < d; m++) ya[off + m * c + k] = f * xa[off + m * c + k];
            }
            gi++;
        }
    }
}

void fh_eq_normact_backward(const fh_eq_irreps *ir, int c, int n, const double *theta,
                            const double *x, const double *gy, double *gx, double *gtheta)
{
    int dim = fh_eq_irreps_dim(ir);
    for (int a = 0; a < n; a++) {
        const double *xa = x + (long)a * dim * c, *gya = gy + (long)a * dim * c;
        double *gxa = gx ? gx + (long)a * dim * c : NULL;
        int gi = 0;
        for (int b = 0; b < ir->n; b++) {
            int off = fh_eq_irreps_offset(ir, b) * c, d = 2 * ir->l[b] + 1;
            if (ir->l[b] == 0) {
                if (gxa)
                    for (int k = 0; k < c; k++) {
                        double df;
                        scalar_act(ir->p[b], xa[off + k], &df);
                        gxa[off + k] += gya[off + k] * df;
                    }
                continue;
            }
            const double *bias = theta + gi * c;
            for (int k = 0; k < c; k++) {
                double s2 = EQ_NORM_EPS * EQ_NORM_EPS, dot = 0.0;
                for (int m = 0; m < d; m++) {
                    s2 += xa[off + m * c + k] * xa[off + m * c + k];
                    dot += gya[off + m * c + k] * xa[off + m * c + k];
                }
                double nrm = sqrt(s2);
                double f = sigmoid(nrm - EQ_NORM_EPS + bias[k]), df = f * (1.0 - f);
                /* y_m = f x_m, f = sigmoid(|x| - eps + b): dL/dx_m = f gy_m + dot df x_m/|x|. */
                if (gxa)
                    for (int m = 0; m < d; m++)
                        gxa[off + m * c + k] += f * gya[off + m * c + k] + dot * df * xa[off + m * c + k] / nrm;
                if (gtheta) gtheta[gi * c + k] += dot * df;
            }
            gi++;
        }
    }
}
