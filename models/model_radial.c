/* The radial MLP of the model, with forward-mode tangents.
 *
 * Why not fh_eq_mlp: a position gradient needs dR/dr for every edge weight. Reverse mode would
 * run the MLP backwards once per requested state; forward mode runs the tangent dR/dr alongside
 * the primal pass once (the same matrices: the tangent rows are stacked under the primal rows so
 * each layer stays one matrix product), after which every reverse pass needs only a dot product
 * per edge. The parameter layout is fh_eq_mlp's: W_1 [n0][n1], W_2 [n1][n2], ... row-major, no
 * biases (the output vanishes with the enveloped basis at the cutoff). */
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

int model_mlp_init(model_mlp *m, int n_layers, const int *sizes, fh_err *err)
{
    memset(m, 0, sizeof *m);
    if (n_layers < 1 || n_layers > MODEL_MLP_MAX)
        return fh_err_set(err, FH_EINPUT, "radial MLP: %d layers (allowed 1..%d)", n_layers,
                          MODEL_MLP_MAX);
    m->n_layers = n_layers;
    for (int l = 0; l <= n_layers; l++) {
        if (sizes[l] < 1)
            return fh_err_set(err, FH_EINPUT, "radial MLP: layer width %d must be positive", sizes[l]);
        m->sizes[l] = sizes[l];
    }
    return FH_OK;
}

void model_mlp_release(model_mlp *m)
{
    for (int l = 0; l < MODEL_MLP_MAX; l++) {
        free(m->x[l]);
        free(m->ds[l]);
        m->x[l] = m->ds[l] = NULL;
    }
    free(m->g0);
    free(m->g1);
    m->g0 = m->g1 = NULL;
    m->cap_rows = 0;
}

int model_mlp_reserve(model_mlp *m, int rows, fh_err *err)
{
    if (rows <= m->cap_rows) return FH_OK;
    model_mlp_release(m);
    int widest = 1;
    for (int l = 0; l <= m->n_layers; l++)
        if (m->sizes[l] > widest) widest = m->sizes[l];
    for (int l = 0; l < m->n_layers; l++) {
        m->x[l] = malloc(sizeof(double) * 2 * (size_t)rows * m->sizes[l]);
        if (l > 0) m->ds[l] = malloc(sizeof(double) * (size_t)rows * m->sizes[l]);
        if (!m->x[l] || (l > 0 && !m->ds[l])) goto oom;
    }
    m->g0 = malloc(sizeof(double) * (size_t)rows * widest);
    m->g1 = malloc(sizeof(double) * (size_t)rows * widest);
    if (!m->g0 || !m->g1) goto oom;
    m->cap_rows = rows;
    return FH_OK;
oom:
    model_mlp_release(m);
    return fh_err_set(err, FH_EFAIL, "radial MLP: out of memory (%d rows)", rows);
}

size_t model_mlp_n_params(const model_mlp *m)
{
    size_t n = 0;
    for (int l = 0; l < m->n_layers; l++) n += (size_t)m->sizes[l] * m->sizes[l + 1];
    return n;
}

double model_mlp_flops(const model_mlp *m, int rows, int tangents)
{
    double f = 0;
    for (int l = 0; l < m->n_layers; l++) f += 2.0 * m->sizes[l] * m->sizes[l + 1];
    return f * rows * (tangents ? 2 : 1);
}

int model_mlp_forward(model_mlp *m, const double *theta, int rows, const double *x,
                      const double *tx, double *y, double *ty, fh_err *err)
{
    int rc = model_mlp_reserve(m, rows, err);
    if (rc) return rc;
    m->rows = rows;
    m->tangents = tx != NULL && ty != NULL;
    const int nr = m->tangents ? 2 * rows : rows;   /* stacked rows */
    memcpy(m->x[0], x, sizeof(double) * (size_t)rows * m->sizes[0]);
    if (m->tangents)
        memcpy(m->x[0] + (size_t)rows * m->sizes[0], tx, sizeof(double) * (size_t)rows * m->sizes[0]);
    const double *w = theta;
    for (int l = 0; l < m->n_layers; l++) {
        int ni = m->sizes[l], no = m->sizes[l + 1];
        if (l == m->n_layers - 1) {
            fh_eq_gemm(0, 0, rows, no, ni, 1.0, m->x[l], ni, w, no, 0.0, y, no);
            if (m->tangents)
                fh_eq_gemm(0, 0, rows, no, ni, 1.0, m->x[l] + (size_t)rows * ni, ni, w, no, 0.0, ty, no);
            break;
        }
        double *a = m->x[l + 1];
        fh_eq_gemm(0, 0, nr, no, ni, 1.0, m->x[l], ni, w, no, 0.0, a, no);
        double *ds = m->ds[l + 1];
        for (size_t i = 0; i < (size_t)rows * no; i++) a[i] = fh_eq_silu(a[i], &ds[i]);
        if (m->tangents) {
            double *ta = a + (size_t)rows * no;
            for (size_t i = 0; i < (size_t)rows * no; i++) ta[i] *= ds[i];
        }
        w += (size_t)ni * no;
    }
    return FH_OK;
}

void model_mlp_backward(model_mlp *m, const double *theta, const double *gy, double *gtheta)
{
    const int rows = m->rows, L = m->n_layers;
    size_t off[MODEL_MLP_MAX];
    size_t o = 0;
    for (int l = 0; l < L; l++) {
        off[l] = o;
        o += (size_t)m->sizes[l] * m->sizes[l + 1];
    }
    const double *g = gy;   /* gradient w.r.t. the pre-activation output of layer l */
    double *bufs[2] = {m->g0, m->g1};
    int which = 0;
    for (int l = L - 1; l >= 0; l--) {
        int ni = m->sizes[l], no = m->sizes[l + 1];
        /* gW_l += x_l^T g (primal rows only) */
        fh_eq_gemm(1, 0, ni, no, rows, 1.0, m->x[l], ni, g, no, 1.0, gtheta + off[l], no);
        if (l == 0) break;
        double *gh = bufs[which];
        which ^= 1;
        fh_eq_gemm(0, 1, rows, ni, no, 1.0, g, no, theta + off[l], no, 0.0, gh, ni);
        const double *ds = m->ds[l];
        for (size_t i = 0; i < (size_t)rows * ni; i++) gh[i] *= ds[i];
        g = gh;
    }
}
