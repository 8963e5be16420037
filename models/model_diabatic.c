/* The two-state diabatic readout: adiabatic energies, gradients and gap-scaled coupling from a
 * 2x2 diabatic Hamiltonian [[H00, H01], [H01, H11]] and its gradients, with the adjoint (the
 * reverse pass) beside it.
 *
 * Why: near a conical intersection the adiabatic coupling h = d01 (E1 - E0) turns with the angle
 * around the seam, so a network that predicts h directly as an equivariant vector must learn a
 * function that rotates through a full turn in a small region; the round-7 stilbene committee
 * reaches a NAC cosine of only 0.87 even on its training rows below 1 eV. Three smooth invariant
 * scalars give the cone, the rotation and the gap by construction (the diabatic networks of
 * Axelrod et al. 2022 for azobenzenes use the same idea). With Delta = (H11 - H00)/2, a =
 * (H00 + H11)/2, c = H01, D = sqrt(Delta^2 + c^2), u = Delta/D, w = c/D (cos and sin of twice
 * the mixing angle):
 *   E0 = a - D, E1 = a + D
 *   g0 = grad a - u grad Delta - w grad c,   g1 = grad a + u grad Delta + w grad c
 *   h  = u grad c - w grad Delta             (= d01 * 2D, d01 = <0|grad 1> = grad of the angle)
 * All outputs are linear in the gradients with coefficients that depend on the scalars only.
 * The degeneracy guard eps (the model's nac_gap_eps): D = sqrt(Delta^2 + c^2 + eps^2), so the
 * gap never falls below 2 eps and u, w, h stay smooth at the apex of the cone (they fall to 0 within
 * about eps of it). Without it the loss's derivatives carry 1/D and one training geometry where
 * the model's states happen to touch gives a step that wrecks the optimiser's moment estimates
 * (measured: stilbene, the 63rd epoch, the validation energy error from 0.15 to 11 eV and back to
 * 0.5 eV only after 150 epochs). eps = 0 is the exact 2x2 eigenproblem. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fh_model.h"

/* D, u and w; D is kept away from 0 so that the exact degeneracy with eps = 0 (a set of measure
 * zero) gives finite numbers. */
static double mixing(const double H[3], double eps, double *u, double *w)
{
    double delta = 0.5 * (H[1] - H[0]), c = H[2];
    double D = sqrt(delta * delta + c * c + eps * eps);
    if (D < 1e-300) D = 1e-300;
    *u = delta / D;
    *w = c / D;
    return D;
}

void fh_model_diab_forward(size_t n3, double eps, const double H[3], const double *dH, double E[2],
                           double *g, double *h)
{
    double u, w, D = mixing(H, eps, &u, &w), a = 0.5 * (H[0] + H[1]);
    E[0] = a - D;
    E[1] = a + D;
    const double *d00 = dH, *d11 = dH + n3, *d01 = dH + 2 * n3;
    for (size_t k = 0; k < n3; k++) {
        double ga = 0.5 * (d00[k] + d11[k]), gd = 0.5 * (d11[k] - d00[k]), gc = d01[k];
        double split = u * gd + w * gc;
        if (g) {
            g[k] = ga - split;
            g[n3 + k] = ga + split;
        }
        if (h) h[k] = u * gc - w * gd;
    }
}

void fh_model_diab_backward(size_t n3, double eps, const double H[3], const double *dH,
                            const double gE[2], const double *v, const double *gh, double gH[3],
                            double *wdH)
{
    double u, w, D = mixing(H, eps, &u, &w);
    const double *d00 = dH, *d11 = dH + n3, *d01 = dH + 2 * n3;
    /* Su = dL/du, Sw = dL/dw through the gradient outputs */
    double Su = 0, Sw = 0;
    for (size_t k = 0; k < n3; k++) {
        double gd = 0.5 * (d11[k] - d00[k]), gc = d01[k];
        double dv = v ? v[n3 + k] - v[k] : 0, q = gh ? gh[k] : 0;
        Su += dv * gd + q * gc;
        Sw += dv * gc - q * gd;
        if (wdH) {
            /* adjoints of grad a, grad Delta, grad c, then of grad H00, grad H11, grad H01 */
            double A = v ? v[k] + v[n3 + k] : 0;
            double B = u * dv - w * q, C = w * dv + u * q;
            wdH[k] = 0.5 * (A - B);
            wdH[n3 + k] = 0.5 * (A + B);
            wdH[2 * n3 + k] = C;
        }
    }
    /* du/dDelta = (1 - u^2)/D, du/dc = dw/dDelta = -u w/D, dw/dc = (1 - w^2)/D */
    double gD = gE[1] - gE[0], ga = gE[0] + gE[1];
    double gdelta = gD * u + (Su * (1 - u * u) - Sw * u * w) / D;
    double gc = gD * w + (Sw * (1 - w * w) - Su * u * w) / D;
    gH[0] = 0.5 * (ga - gdelta);
    gH[1] = 0.5 * (ga + gdelta);
    gH[2] = gc;
}

/* The residual coupling: h += (2D / G_r) q. Backward: dL/dq = (2D / G_r) gh, and through D
 * (dD/dDelta = u, dD/dc = w; Delta = (H11 - H00)/2) dL/dH += (2 / G_r) (q . gh) dD/dH. */
void fh_model_diab_resid_forward(size_t n3, double eps, const double H[3], const double *q,
                                 double *h)
{
    double u, w, f = 2.0 * mixing(H, eps, &u, &w) / FH_MODEL_RESID_GAP;
    for (size_t k = 0; k < n3; k++) h[k] += f * q[k];
}

void fh_model_diab_resid_backward(size_t n3, double eps, const double H[3], const double *q,
                                  const double *gh, double gH[3], double *gq)
{
    double u, w, D = mixing(H, eps, &u, &w), f = 2.0 * D / FH_MODEL_RESID_GAP, s = 0;
    for (size_t k = 0; k < n3; k++) {
        s += q[k] * gh[k];
        if (gq) gq[k] = f * gh[k];
    }
    double gD = 2.0 * s / FH_MODEL_RESID_GAP;
    gH[0] -= 0.5 * gD * u;
    gH[1] += 0.5 * gD * u;
    gH[2] += gD * w;
}

/* ---- one member's adiabatic outputs, either readout ------------------------------------------- */

int fh_model_n_outputs(const fh_model *m)
{
    const fh_model_hyper *hp = fh_model_get_hyper(m);
    return hp->diabatic ? 3 : hp->nstates;
}

static int direct_eval(fh_model_ws *ws, const fh_model *m, const double *theta, int natoms,
                       const int *type, const double *x, unsigned grad_mask, double *E, double *g,
                       double *hcoup, fh_err *err)
{
    const int N = fh_model_nstates(m);
    const size_t n3 = 3 * (size_t)natoms;
    int rc = fh_model_forward(ws, m, theta, natoms, type, x, grad_mask ? FH_MODEL_TANGENTS : 0, E,
                              hcoup, err);
    for (int s = 0; s < N && rc == FH_OK; s++) {
        if (!((grad_mask >> s) & 1u)) continue;
        double seed[FH_MODEL_MAX_STATES] = {0};
        seed[s] = 1.0;
        memset(g + s * n3, 0, sizeof(double) * n3);
        rc = fh_model_backward(ws, m, theta, seed, NULL, g + s * n3, NULL, err);
    }
    return rc;
}

/* Fewer reverse passes when fewer than three outputs are wanted and dH is not: every output is
 * linear in the elements' gradients (top of this file), so one pass with the seeds
 * (dE_s or h) / d(grad H_e) gives it; the dynamics (one state's gradient and h) needs two. */
static int diabatic_seeded(fh_model_ws *ws, const fh_model *m, const double *theta, int natoms,
                           const double H[3], unsigned grad_mask, double *E, double *g,
                           double *hcoup, fh_err *err)
{
    const size_t n3 = 3 * (size_t)natoms;
    double eps = fh_model_get_hyper(m)->nac_gap_eps;
    double u, w, D = mixing(H, eps, &u, &w), a = 0.5 * (H[0] + H[1]);
    E[0] = a - D;
    E[1] = a + D;
    const double seeds[3][3] = {{0.5 + 0.5 * u, 0.5 - 0.5 * u, -w},  /* g0 */
                                {0.5 - 0.5 * u, 0.5 + 0.5 * u, w},   /* g1 */
                                {0.5 * w, -0.5 * w, u}};             /* h */
    int rc = FH_OK;
    for (int o = 0; o < 3 && rc == FH_OK; o++) {
        double *out = o < 2 ? ((grad_mask >> o) & 1u ? g + o * n3 : NULL) : hcoup;
        if (!out) continue;
        memset(out, 0, sizeof(double) * n3);
        rc = fh_model_backward(ws, m, theta, seeds[o], NULL, out, NULL, err);
    }
    return rc;
}

int fh_model_member_eval(fh_model_ws *ws, const fh_model *m, const double *theta, int natoms,
                         const int *type, const double *x, unsigned grad_mask, double *E,
                         double *g, double *hcoup, double *H, double *dH, fh_err *err)
{
    if (!fh_model_get_hyper(m)->diabatic)
        return direct_eval(ws, m, theta, natoms, type, x, grad_mask, E, g, hcoup, err);
    const size_t n3 = 3 * (size_t)natoms;
    int nwant = (int)(grad_mask & 1u) + (int)((grad_mask >> 1) & 1u) + (hcoup != NULL);
    double Hl[3], *Hd = H ? H : Hl;
    const double eps = fh_model_get_hyper(m)->nac_gap_eps;
    /* scratch: the residual head's q [n3] (when it is there and h is wanted), both states'
     * gradients [2][n3], and dH [3][n3] unless the caller's */
    const int resid = fh_model_get_hyper(m)->nac_resid && hcoup;
    const int seeded = !dH && nwant < 3;
    size_t nbuf = (resid ? 1 : 0) + (seeded ? 0 : dH ? 2 : 5);
    double *buf = NULL;
    if (nbuf) {
        buf = malloc(sizeof(double) * nbuf * n3);
        if (!buf) return fh_err_set(err, FH_EFAIL, "model: out of memory");
    }
    double *q = resid ? buf : NULL, *gg = resid ? buf + n3 : buf;
    int rc = fh_model_forward(ws, m, theta, natoms, type, x, nwant ? FH_MODEL_TANGENTS : 0, Hd, q,
                              err);
    if (rc == FH_OK && seeded) {
        rc = diabatic_seeded(ws, m, theta, natoms, Hd, grad_mask, E, g, hcoup, err);
        if (rc == FH_OK && resid) fh_model_diab_resid_forward(n3, eps, Hd, q, hcoup);
    }
    if (rc || seeded) {
        free(buf);
        return rc;
    }
    if (!dH) dH = gg + 2 * n3;
    for (int e = 0; e < 3 && rc == FH_OK && nwant; e++) {
        double seed[3] = {0};
        seed[e] = 1.0;
        memset(dH + e * n3, 0, sizeof(double) * n3);
        rc = fh_model_backward(ws, m, theta, seed, NULL, dH + e * n3, NULL, err);
    }
    if (rc == FH_OK) {
        if (!nwant) memset(dH, 0, sizeof(double) * 3 * n3);
        fh_model_diab_forward(n3, eps, Hd, dH, E, gg, hcoup);
        if (resid) fh_model_diab_resid_forward(n3, eps, Hd, q, hcoup);
        for (int s = 0; s < 2; s++)
            if ((grad_mask >> s) & 1u) memcpy(g + s * n3, gg + s * n3, sizeof(double) * n3);
    }
    free(buf);
    return rc;
}
