/* The radial MLP of a trained member, tabulated for inference.
 *
 * Why: the MLP maps one number, the edge length r, to the edge's tensor-product weights, yet with
 * its tangents it was the largest single cost of a dynamics step (two silu layers and three matrix
 * products per edge and layer, primal and tangent rows). A trained member's R(r) never changes, so
 * fh_model_predict samples R, R' and R'' once at uniform knots (R'' by central differences of the
 * exact R') and evaluates the quintic Hermite interpolant between them (as LAMMPS tabulates pair
 * styles): six multiply-adds per weight for R and six for dR/dr. The interpolant is C^2 and its
 * derivative is what the reverse pass uses, so forces stay the exact gradient of the energy that
 * is returned (energy conservation is unaffected). At 1024 knots it differs from the network by
 * about 1e-12 hartree in energies and 1e-9 of the largest gradient component on the shipped
 * stilbene model (tests/unit/test_model_radial_table.c); the cubic interpolant with R and R' only
 * was 1e-7 off in the gradients at 2048 knots. Training never uses a table: it needs the MLP's
 * parameter gradients. An edge shorter than the first knot (r_cut / 1024, under 0.01 bohr)
 * sends the whole layer back to the MLP. */
#include <stdlib.h>
#include <string.h>

#include "eq_internal.h"
#include "model_internal.h"

void model_rtab_free(model_rtab *t)
{
    free(t->v);
    free(t->vf);
    free(t->w);
    memset(t, 0, sizeof *t);
}

int model_rtab_current(const model_rtab *t, const model_mlp *mlp, const fh_eq_radial *rb,
                       const double *theta)
{
    int nw = mlp->sizes[mlp->n_layers];
    return t->v && t->nw == nw && t->nwts == model_mlp_n_params(mlp) && t->rb.n_basis == rb->n_basis
           && t->rb.r_cut == rb->r_cut && t->rb.p == rb->p
           && memcmp(t->w, theta, sizeof(double) * t->nwts) == 0;
}

int model_rtab_build(model_rtab *t, model_mlp *mlp, const fh_eq_radial *rb, const double *theta,
                     int n_knots, fh_err *err)
{
    model_rtab_free(t);
    const int nw = mlp->sizes[mlp->n_layers], nb = rb->n_basis, nk = n_knots;
    const size_t nwts = model_mlp_n_params(mlp), nr = 3 * (size_t)nk;
    double *r = malloc(sizeof(double) * nr);
    double *B = malloc(sizeof(double) * nr * nb), *dB = malloc(sizeof(double) * nr * nb);
    double *R = malloc(sizeof(double) * nr * nw), *dR = malloc(sizeof(double) * nr * nw);
    t->v = calloc((size_t)(nk + 1) * 3 * nw, sizeof(double));
    t->w = malloc(sizeof(double) * nwts);
    int rc = FH_OK;
    if (!r || !B || !dB || !R || !dR || !t->v || !t->w) {
        rc = fh_err_set(err, FH_EFAIL, "radial table: out of memory (%d knots)", nk);
        goto done;
    }
    t->nw = nw, t->nk = nk, t->nwts = nwts, t->rb = *rb;
    t->h = rb->r_cut / nk;
    t->inv_h = 1.0 / t->h;
    memcpy(t->w, theta, sizeof(double) * nwts);
    /* knots r_k = k h, k = 1..nk (r_nk = r_cut, where R and its first two derivatives vanish:
     * the envelope is C^2); knot 0 is unused. R'' from central differences of the exact R' at
     * r_k -+ delta: their error, delta^2 R'''' / 6, about 1e-8 of R'', enters times h^2. */
    const double delta = 1e-4;
    for (int k = 0; k < nk; k++) {
        r[k] = (k + 1) * t->h;
        r[nk + k] = r[k] - delta;
        r[2 * nk + k] = k + 1 < nk ? r[k] + delta : r[k];
    }
    fh_eq_radial_eval(rb, (int)nr, r, B, dB);
    rc = model_mlp_forward(mlp, theta, (int)nr, B, dB, R, dR, err);
    if (rc) goto done;
    const double h = t->h, h2 = h * h;
    for (int k = 1; k <= nk; k++) {
        double *vk = t->v + (size_t)k * 3 * nw;
        const double *d = dR + (size_t)(k - 1) * nw, *dm = dR + (size_t)(nk + k - 1) * nw;
        const double *dp = dR + (size_t)(2 * nk + k - 1) * nw;
        for (int w = 0; w < nw; w++) {
            vk[w] = R[(size_t)(k - 1) * nw + w];
            vk[nw + w] = h * d[w];
            vk[2 * nw + w] = k < nk ? h2 * (dp[w] - dm[w]) / (2 * delta) : 0.0;
        }
    }
    t->vf = malloc(sizeof(float) * (size_t)(nk + 1) * 3 * nw);
    if (!t->vf) {
        rc = fh_err_set(err, FH_EFAIL, "radial table: out of memory (%d knots)", nk);
        goto done;
    }
    eq_to_float((size_t)(nk + 1) * 3 * nw, t->v, t->vf);
done:
    free(r), free(B), free(dB), free(R), free(dR);
    if (rc) model_rtab_free(t);
    return rc;
}

/* Whether every r lies inside the table. */
static int rtab_covers(const model_rtab *t, int rows, const double *r)
{
    for (int e = 0; e < rows; e++)
        if (!(r[e] >= t->h && r[e] < t->rb.r_cut)) return 0;
    return 1;
}

/* The interval k of r and the quintic Hermite basis on [r_k, r_k+1] in u = (r - r_k) / h for the
 * value, h R' and h^2 R'' at both ends (a), and its u-derivative over h (b), in the order of a
 * knot's rows: R_k, h R'_k, h^2 R''_k, h^2 R''_k+1, h R'_k+1, R_k+1. */
EQ_INLINE int rtab_basis(const model_rtab *t, double r, double a[6], double b[6])
{
    double s = r * t->inv_h;
    int k = (int)s;
    if (k >= t->nk) k = t->nk - 1;   /* r just below r_cut rounding up */
    double u = s - k, u2 = u * u, u3 = u2 * u, u4 = u3 * u, u5 = u4 * u, ih = t->inv_h;
    a[0] = 1 - 10 * u3 + 15 * u4 - 6 * u5, a[5] = 1 - a[0];
    a[1] = u - 6 * u3 + 8 * u4 - 3 * u5, a[4] = -4 * u3 + 7 * u4 - 3 * u5;
    a[2] = 0.5 * (u2 - 3 * u3 + 3 * u4 - u5), a[3] = 0.5 * (u3 - 2 * u4 + u5);
    b[0] = (-30 * u2 + 60 * u3 - 30 * u4) * ih, b[5] = -b[0];
    b[1] = (1 - 18 * u2 + 32 * u3 - 15 * u4) * ih, b[4] = (-12 * u2 + 28 * u3 - 15 * u4) * ih;
    b[2] = 0.5 * (2 * u - 9 * u2 + 12 * u3 - 5 * u4) * ih;
    b[3] = 0.5 * (3 * u2 - 8 * u3 + 5 * u4) * ih;
    return k;
}

FH_EQ_HOT int model_rtab_eval(const model_rtab *t, int rows, const double *r, double *R, double *tR)
{
    const int nw = t->nw;
    if (!rtab_covers(t, rows, r)) return 0;
    for (int e = 0; e < rows; e++) {
        double a[6], b[6];
        int k = rtab_basis(t, r[e], a, b);
        const double *v0 = t->v + (size_t)k * 3 * nw, *d0 = v0 + nw, *c0 = d0 + nw;
        const double *v1 = c0 + nw, *d1 = v1 + nw, *c1 = d1 + nw;
        double *Re = R + (size_t)e * nw, *tRe = tR + (size_t)e * nw;
        eq_v4 A0 = eq_set1(a[0]), A1 = eq_set1(a[1]), A2 = eq_set1(a[2]), A3 = eq_set1(a[3]);
        eq_v4 A4 = eq_set1(a[4]), A5 = eq_set1(a[5]), B0 = eq_set1(b[0]), B1 = eq_set1(b[1]);
        eq_v4 B2 = eq_set1(b[2]), B3 = eq_set1(b[3]), B4 = eq_set1(b[4]), B5 = eq_set1(b[5]);
        int w = 0;
        for (; w + 4 <= nw; w += 4) {
            eq_v4 p0 = eq_load(v0 + w), p1 = eq_load(d0 + w), p2 = eq_load(c0 + w);
            eq_v4 p3 = eq_load(c1 + w), p4 = eq_load(d1 + w), p5 = eq_load(v1 + w);
            eq_store(Re + w, A0 * p0 + A1 * p1 + A2 * p2 + A3 * p3 + A4 * p4 + A5 * p5);
            eq_store(tRe + w, B0 * p0 + B1 * p1 + B2 * p2 + B3 * p3 + B4 * p4 + B5 * p5);
        }
        for (; w < nw; w++) {
            Re[w] = a[0] * v0[w] + a[1] * d0[w] + a[2] * c0[w] + a[3] * c1[w] + a[4] * d1[w] + a[5] * v1[w];
            tRe[w] = b[0] * v0[w] + b[1] * d0[w] + b[2] * c0[w] + b[3] * c1[w] + b[4] * d1[w] + b[5] * v1[w];
        }
    }
    return 1;
}

/* model_rtab_eval from the float table, in float: half the table's memory traffic and no
 * conversion of R and tR for the single-precision tensor product. The basis weights are
 * computed in double as above, then rounded. */
FH_EQ_HOT int model_rtab_eval_f(const model_rtab *t, int rows, const double *r, float *R, float *tR)
{
    const int nw = t->nw;
    if (!rtab_covers(t, rows, r)) return 0;
    for (int e = 0; e < rows; e++) {
        double a[6], b[6];
        int k = rtab_basis(t, r[e], a, b);
        const float *v0 = t->vf + (size_t)k * 3 * nw, *d0 = v0 + nw, *c0 = d0 + nw;
        const float *v1 = c0 + nw, *d1 = v1 + nw, *c1 = d1 + nw;
        float *Re = R + (size_t)e * nw, *tRe = tR + (size_t)e * nw;
        eq_v8f A0 = eq_set1f((float)a[0]), A1 = eq_set1f((float)a[1]), A2 = eq_set1f((float)a[2]);
        eq_v8f A3 = eq_set1f((float)a[3]), A4 = eq_set1f((float)a[4]), A5 = eq_set1f((float)a[5]);
        eq_v8f B0 = eq_set1f((float)b[0]), B1 = eq_set1f((float)b[1]), B2 = eq_set1f((float)b[2]);
        eq_v8f B3 = eq_set1f((float)b[3]), B4 = eq_set1f((float)b[4]), B5 = eq_set1f((float)b[5]);
        int w = 0;
        for (; w + 8 <= nw; w += 8) {
            eq_v8f p0 = eq_loadf(v0 + w), p1 = eq_loadf(d0 + w), p2 = eq_loadf(c0 + w);
            eq_v8f p3 = eq_loadf(c1 + w), p4 = eq_loadf(d1 + w), p5 = eq_loadf(v1 + w);
            eq_storef(Re + w, A0 * p0 + A1 * p1 + A2 * p2 + A3 * p3 + A4 * p4 + A5 * p5);
            eq_storef(tRe + w, B0 * p0 + B1 * p1 + B2 * p2 + B3 * p3 + B4 * p4 + B5 * p5);
        }
        for (; w < nw; w++) {
            Re[w] = (float)(a[0] * v0[w] + a[1] * d0[w] + a[2] * c0[w] + a[3] * c1[w] + a[4] * d1[w] + a[5] * v1[w]);
            tRe[w] = (float)(b[0] * v0[w] + b[1] * d0[w] + b[2] * c0[w] + b[3] * c1[w] + b[4] * d1[w] + b[5] * v1[w]);
        }
    }
    return 1;
}
