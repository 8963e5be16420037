/* The network of one committee member: forward pass (energies of all states and gap-scaled
 * couplings) and its hand-written reverse pass, side by side. See fh_model.h for the formulas.
 *
 * Edges. Neighbours are found as unordered pairs p = (i < j) with u_p = r_j - r_i inside the
 * cutoff. The radial basis and the radial MLP depend only on |u_p|, so they run once per pair;
 * the tensor product's pair form (fh_eq_tp_forward_pairs) sends both messages of a pair with the
 * same radial weights, j -> i with Y(u_p) and i -> j with Y(-u_p) = (-1)^l Y(u_p) (a message from
 * s to r always uses Y(r_s - r_r)), from one evaluation of the CG-contracted harmonics.
 *
 * Position gradients. The radial MLP carries forward-mode tangents dR/dr (model_radial.c), so a
 * reverse pass for positions touches the MLP only through one dot product per pair; the
 * spherical harmonics' derivatives are kept from the forward pass. A reverse pass for the
 * weights runs the MLP backwards as usual. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eq_internal.h"
#include "model_internal.h"

struct fh_model_ws {
    fh_model_hyper hp;
    int N, P, C, M, T, nt;            /* scalar outputs (the states, or H00, H11, H01 of the
                                         diabatic readout), 1o outputs (pairs, or 0 if diabatic),
                                         channels, readout width, layers, types */
    int W, nW;                        /* even head (nac_even): outputs (P, or 1 if diabatic) and
                                         values per atom (3 W, or W if diabatic); 0 without it */
    int R;                            /* 1: residual coupling head (nac_resid), one 1o output */
    int Re;                           /* 1: with its unflipped even part too (nac_resid = 2) */
    fh_eq_cg *cg;
    fh_eq_irreps H, RO;               /* hidden features, last readout */
    int dimH, dimRO, nsh, lmax_all;
    fh_eq_radial rb;
    model_layer L[FH_MODEL_MAX_LAYERS];
    size_t n_params, o_emb;
    int cap_atoms, cap_pairs;
    /* calibration: with stats set, forward passes accumulate sums of squares of each layer's
     * messages and fusion outputs */
    int stats;
    double stat_m[FH_MODEL_MAX_LAYERS], stat_nm[FH_MODEL_MAX_LAYERS];
    double stat_p[FH_MODEL_MAX_LAYERS], stat_np[FH_MODEL_MAX_LAYERS];
    /* last forward */
    int natoms, npairs, tangents, have_forward;
    /* the pairs and edge features (u, r, Y, dY if edges_tangents, each layer's A) are those of
     * x_edges while edges_valid: a forward at the same geometry reuses them */
    double *x_edges;
    int edges_valid, edges_tangents;
    int *type, *pi, *pj;
    double *h[FH_MODEL_MAX_LAYERS + 1];  /* layer inputs/outputs [cap_atoms][dim][C] */
    double *tmp_h;
    double *z1, *a1;                  /* last readout [cap_atoms][dimRO][M] */
    double *eo, *ho, *e_atom, *hv;    /* [atoms][N], [atoms][3][P] */
    double *hw;                       /* even head (nac_even) [atoms][nW] */
    double *hr;                       /* residual head (nac_resid) [atoms][3] */
    double *hre;                      /* its even part (nac_resid = 2) [atoms][3] */
    double *u, *r, *Y, *dY, *B, *dB;
    /* backward scratch */
    double *gh0, *gh1, *gxu, *gm, *ga, *gp, *gz1, *ga1, *ge, *ghv, *gR, *gY, *gr, *gu;
    double *ghw, *ghr, *ghre;
    /* inference: the current member's tabulated radial MLPs [T] (model_radial_table.c), or NULL;
     * radial_tabulated: the last forward used them (no parameter gradients then) */
    const model_rtab *rtab;
    int radial_tabulated;
    /* inference in mixed precision (model_ws_use_single): the tensor product's output and its
     * gradient in float [cap_atoms][max dim][C], the input gradient likewise; af_valid: each
     * layer's Af matches A (the edge features of x_edges) */
    int single, af_valid;
    float *mf, *gxuf;
};

/* The linear maps: in float in mixed precision (model_ws_use_single), never with weight gradients */
static void lin_forward(const fh_model_ws *ws, const fh_eq_linear *lin, const double *theta, int n,
                        const int *type, const double *x, double *y)
{
    if (ws->single)
        fh_eq_linear_forward_f(lin, theta, n, type, x, y);
    else
        fh_eq_linear_forward(lin, theta, n, type, x, y);
}

static void lin_backward(const fh_model_ws *ws, const fh_eq_linear *lin, const double *theta, int n,
                         const int *type, const double *x, const double *gy, double *gx,
                         double *gtheta)
{
    if (ws->single && !gtheta)
        fh_eq_linear_backward_f(lin, theta, n, type, gy, gx);
    else
        fh_eq_linear_backward(lin, theta, n, type, x, gy, gx, gtheta);
}

int model_irreps_has(const fh_eq_irreps *ir, int l, int p)
{
    return fh_eq_irreps_find(ir, l, p) >= 0;
}

/* ---- construction -------------------------------------------------------------------------- */

static void free_bufs(fh_model_ws *ws)
{
    double **bufs[] = {&ws->tmp_h, &ws->z1, &ws->a1, &ws->eo, &ws->ho, &ws->e_atom,
                       &ws->hv, &ws->hw, &ws->u, &ws->r, &ws->Y, &ws->dY, &ws->B, &ws->dB,
                       &ws->gh0, &ws->gh1, &ws->gxu, &ws->gm, &ws->ga, &ws->gp, &ws->gz1,
                       &ws->ga1, &ws->ge, &ws->ghv, &ws->gR, &ws->gY, &ws->gr, &ws->gu,
                       &ws->ghw, &ws->hr, &ws->ghr, &ws->hre, &ws->ghre};
    for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++) {
        free(*bufs[k]);
        *bufs[k] = NULL;
    }
    for (int t = 0; t <= FH_MODEL_MAX_LAYERS; t++) {
        free(ws->h[t]);
        ws->h[t] = NULL;
    }
    for (int t = 0; t < ws->T; t++) {
        model_layer *L = &ws->L[t];
        free(L->xu), free(L->m), free(L->a), free(L->p), free(L->R), free(L->tR), free(L->A);
        L->xu = L->m = L->a = L->p = L->R = L->tR = L->A = NULL;
        free(L->xuf), free(L->Rf), free(L->tRf), free(L->Af);
        L->xuf = L->Rf = L->tRf = L->Af = NULL;
    }
    free(ws->mf), free(ws->gxuf);
    ws->mf = ws->gxuf = NULL;
    ws->af_valid = 0;
    free(ws->type), free(ws->pi), free(ws->pj), free(ws->x_edges);
    ws->type = ws->pi = ws->pj = NULL;
    ws->x_edges = NULL;
    ws->edges_valid = 0;
}

void fh_model_ws_free(fh_model_ws *ws)
{
    if (!ws) return;
    free_bufs(ws);
    for (int t = 0; t < ws->T; t++) {
        model_layer *L = &ws->L[t];
        fh_eq_linear_free(L->lin_up), fh_eq_linear_free(L->lin_msg);
        fh_eq_linear_free(L->lin_out), fh_eq_linear_free(L->sc);
        fh_eq_linear_free(L->ro1), fh_eq_linear_free(L->roE), fh_eq_linear_free(L->roH);
        fh_eq_linear_free(L->roW), fh_eq_linear_free(L->roR), fh_eq_linear_free(L->roRe);
        fh_eq_tp_free(L->tp);
        fh_eq_fusion_free(L->fus);
        model_mlp_release(&L->mlp);
    }
    fh_eq_cg_free(ws->cg);
    free(ws);
}

static double *dalloc(size_t n, int *ok)
{
    double *p = malloc(sizeof(double) * (n > 0 ? n : 1));
    if (!p) *ok = 0;
    return p;
}

static float *falloc(size_t n, int *ok)
{
    float *p = malloc(sizeof(float) * (n > 0 ? n : 1));
    if (!p) *ok = 0;
    return p;
}

/* Allocate every per-atom and per-pair buffer for the current capacities. */
static int alloc_bufs(fh_model_ws *ws, fh_err *err)
{
    const size_t A = (size_t)ws->cap_atoms, Pr = (size_t)ws->cap_pairs, C = (size_t)ws->C;
    const size_t nb = (size_t)ws->hp.n_bessel, nsh = (size_t)ws->nsh;
    const size_t M = (size_t)ws->M, N = (size_t)ws->N, P = (size_t)(ws->P ? ws->P : 1);
    int maxdim = ws->dimH, maxnw = 1;
    for (int t = 0; t < ws->T; t++) {
        if (ws->L[t].dim_msg > maxdim) maxdim = ws->L[t].dim_msg;
        if (ws->L[t].nw > maxnw) maxnw = ws->L[t].nw;
    }
    const size_t D = (size_t)maxdim;
    int ok = 1;
    ws->h[0] = dalloc(A * C, &ok);
    for (int t = 1; t <= ws->T; t++) ws->h[t] = dalloc(A * ws->dimH * C, &ok);
    for (int t = 0; t < ws->T; t++) {
        model_layer *L = &ws->L[t];
        L->xu = dalloc(A * L->dim_in * C, &ok);
        L->m = dalloc(A * L->dim_msg * C, &ok);
        L->a = dalloc(A * L->dim_msg * C, &ok);
        L->p = dalloc(A * ws->dimH * C, &ok);
        L->R = dalloc(Pr * L->nw, &ok);
        L->A = dalloc(Pr * fh_eq_tp_n_coeffs(L->tp), &ok);
        L->tR = dalloc(Pr * L->nw, &ok);
        L->xuf = falloc(A * L->dim_in * C, &ok);
        L->Rf = falloc(Pr * L->nw, &ok);
        L->tRf = falloc(Pr * L->nw, &ok);
        L->Af = falloc(Pr * fh_eq_tp_n_coeffs(L->tp), &ok);
    }
    ws->mf = falloc(A * D * C, &ok);
    ws->gxuf = falloc(A * D * C, &ok);
    ws->af_valid = 0;
    ws->tmp_h = dalloc(A * ws->dimH * C, &ok);
    ws->z1 = dalloc(A * ws->dimRO * M, &ok);
    ws->a1 = dalloc(A * ws->dimRO * M, &ok);
    ws->eo = dalloc(A * N, &ok);
    ws->ho = dalloc(A * 3 * P, &ok);
    ws->e_atom = dalloc(A * N, &ok);
    ws->hv = dalloc(A * 3 * P, &ok);
    ws->hw = dalloc(A * 3 * P, &ok);
    ws->u = dalloc(Pr * 3, &ok);
    ws->r = dalloc(Pr, &ok);
    ws->Y = dalloc(Pr * nsh, &ok);
    ws->dY = dalloc(Pr * nsh * 3, &ok);
    ws->B = dalloc(Pr * nb, &ok);
    ws->dB = dalloc(Pr * nb, &ok);
    ws->gh0 = dalloc(A * D * C, &ok);
    ws->gh1 = dalloc(A * D * C, &ok);
    ws->gxu = dalloc(A * D * C, &ok);
    ws->gm = dalloc(A * D * C, &ok);
    ws->ga = dalloc(A * D * C, &ok);
    ws->gp = dalloc(A * D * C, &ok);
    ws->gz1 = dalloc(A * ws->dimRO * M, &ok);
    ws->ga1 = dalloc(A * ws->dimRO * M, &ok);
    ws->ge = dalloc(A * N, &ok);
    ws->ghv = dalloc(A * 3 * P, &ok);
    ws->ghw = dalloc(A * 3 * P, &ok);
    ws->hr = dalloc(A * 3, &ok);
    ws->ghr = dalloc(A * 3, &ok);
    ws->hre = dalloc(A * 3, &ok);
    ws->ghre = dalloc(A * 3, &ok);
    ws->gR = dalloc(Pr * maxnw, &ok);
    ws->gY = dalloc(Pr * nsh, &ok);
    ws->gr = dalloc(Pr, &ok);
    ws->gu = dalloc(Pr * 3, &ok);
    ws->type = malloc(sizeof(int) * A);
    ws->x_edges = dalloc(A * 3, &ok);
    ws->pi = malloc(sizeof(int) * (Pr ? Pr : 1));
    ws->pj = malloc(sizeof(int) * (Pr ? Pr : 1));
    if (!ok || !ws->type || !ws->pi || !ws->pj) {
        free_bufs(ws);
        return fh_err_set(err, FH_EFAIL, "model: out of memory (%zu atoms, %zu pairs)", A, Pr);
    }
    for (int t = 0; t < ws->T; t++) {
        int rc = model_mlp_reserve(&ws->L[t].mlp, ws->cap_pairs, err);
        if (rc) return rc;
    }
    return FH_OK;
}

/* (Re)create the fusion blocks, whose workspaces depend on the number of atoms. */
static int build_fusions(fh_model_ws *ws, fh_err *err)
{
    fh_eq_fusion_tree tree;
    int rc = fh_eq_fusion_tree_make((fh_eq_tree_kind)ws->hp.tree, ws->hp.correlation, &tree, err);
    if (rc) return rc;
    for (int t = 0; t < ws->T; t++) {
        model_layer *L = &ws->L[t];
        fh_eq_fusion_free(L->fus);
        L->fus = fh_eq_fusion_alloc(ws->cg, &L->msg, ws->C, &ws->H, &tree, ws->lmax_all, ws->nt,
                                    ws->cap_atoms, err);
        if (!L->fus) return fh_err_prefix(err, "model layer %d: ", t + 1);
    }
    return FH_OK;
}

/* Make room for natoms atoms and npairs pairs (grows by half again to avoid reallocating every
 * step when the neighbour count fluctuates). */
static int reserve(fh_model_ws *ws, int natoms, int npairs, fh_err *err)
{
    int grow_atoms = natoms > ws->cap_atoms, grow_pairs = npairs > ws->cap_pairs;
    if (!grow_atoms && !grow_pairs) return FH_OK;
    free_bufs(ws);
    if (grow_atoms) ws->cap_atoms = natoms;
    if (grow_pairs) ws->cap_pairs = npairs + npairs / 2 + 8;
    int rc = alloc_bufs(ws, err);
    if (rc == FH_OK && grow_atoms) rc = build_fusions(ws, err);
    if (rc) {
        ws->cap_atoms = ws->cap_pairs = 0;
        ws->have_forward = 0;
    }
    return rc;
}

static fh_eq_linear *lin(const fh_eq_irreps *in, int ci, const char *out_s, const fh_eq_irreps *out,
                         int co, int nt, int *ok, fh_err *err)
{
    fh_eq_irreps o;
    if (out_s) {
        fh_eq_irreps_parse(out_s, &o, NULL, NULL);
        out = &o;
    }
    fh_eq_linear *l = fh_eq_linear_alloc(in, ci, out, co, nt, 0, err);
    if (!l) *ok = 0;
    return l;
}

fh_model_ws *fh_model_ws_alloc(const fh_model *m, fh_err *err)
{
    const fh_model_hyper *hp = &m->hp;
    if (fh_model_hyper_check(hp, err)) return NULL;
    fh_model_ws *ws = calloc(1, sizeof *ws);
    if (!ws) {
        fh_err_set(err, FH_EFAIL, "model: out of memory");
        return NULL;
    }
    ws->hp = *hp;
    ws->N = hp->diabatic ? 3 : hp->nstates;
    ws->P = hp->diabatic ? 0 : hp->nstates * (hp->nstates - 1) / 2;
    /* even head: P vectors (1o) per atom with the vector readout, one scalar (0e, into H01) with
     * the diabatic one */
    ws->W = !hp->nac_even ? 0 : hp->diabatic ? 1 : ws->P;
    ws->nW = hp->diabatic ? ws->W : 3 * ws->W;
    ws->R = hp->diabatic && hp->nac_resid ? 1 : 0;
    ws->Re = ws->R && hp->nac_resid == 2 ? 1 : 0;
    ws->C = hp->channels, ws->M = hp->readout_hidden, ws->T = hp->n_layers;
    ws->nt = hp->n_elements;
    ws->nsh = fh_eq_sph_dim(hp->lmax);
    ws->rb.n_basis = hp->n_bessel, ws->rb.r_cut = hp->r_cut, ws->rb.p = hp->envelope_p;
    fh_eq_irreps_parse(hp->hidden_irreps, &ws->H, NULL, NULL);
    fh_eq_irreps_parse(ws->P ? "0e+1o" : "0e", &ws->RO, NULL, NULL);
    ws->dimH = fh_eq_irreps_dim(&ws->H), ws->dimRO = fh_eq_irreps_dim(&ws->RO);
    ws->lmax_all = hp->lmax > fh_eq_irreps_lmax(&ws->H) ? hp->lmax : fh_eq_irreps_lmax(&ws->H);
    ws->cg = fh_eq_cg_alloc(ws->lmax_all, err);
    if (!ws->cg) goto fail;

    const int C = ws->C, nt = ws->nt;
    int ok = 1;
    for (int t = 0; t < ws->T; t++) {
        model_layer *L = &ws->L[t];
        if (t == 0) fh_eq_irreps_parse("0e", &L->in, NULL, NULL);
        else L->in = ws->H;
        /* messages: natural-parity blocks reachable from the input and Y_l, l <= lmax */
        fh_eq_irreps reach;
        fh_eq_irreps_tp_reachable(&L->in, hp->lmax, hp->lmax, &reach);
        L->msg.n = 0;
        for (int b = 0; b < reach.n; b++)
            if (reach.p[b] == ((reach.l[b] % 2) ? -1 : 1)) {
                L->msg.l[L->msg.n] = reach.l[b], L->msg.p[L->msg.n] = reach.p[b];
                L->msg.n++;
            }
        L->dim_in = fh_eq_irreps_dim(&L->in), L->dim_msg = fh_eq_irreps_dim(&L->msg);

        L->lin_up = lin(&L->in, C, NULL, &L->in, C, 1, &ok, err);
        if (!ok) goto fail;

        L->tp = fh_eq_tp_alloc(ws->cg, FH_EQ_TP_CHANNELWISE, &L->in, C, hp->lmax, &L->msg, C, 1, err);
        if (!L->tp) goto fail;
        L->nw = fh_eq_tp_n_weights(L->tp);
        int sizes[MODEL_MLP_MAX + 1];
        sizes[0] = hp->n_bessel;
        for (int k = 0; k < hp->n_radial; k++) sizes[k + 1] = hp->radial[k];
        sizes[hp->n_radial + 1] = L->nw;
        if (model_mlp_init(&L->mlp, hp->n_radial + 1, sizes, err)) goto fail;
        L->lin_msg = lin(&L->msg, C, NULL, &L->msg, C, 1, &ok, err);
        L->lin_out = lin(&ws->H, C, NULL, &ws->H, C, 1, &ok, err);
        L->sc = lin(&L->in, C, NULL, &ws->H, C, nt, &ok, err);
        if (!ok) goto fail;
        if (t == ws->T - 1) {
            L->ro1 = lin(&ws->H, C, NULL, &ws->RO, ws->M, 1, &ok, err);
            L->roE = lin(&ws->RO, ws->M, "0e", NULL, ws->N, 1, &ok, err);
            if (ws->P) L->roH = lin(&ws->RO, ws->M, "1o", NULL, ws->P, 1, &ok, err);
            if (hp->nac_even) L->roW = lin(&ws->RO, ws->M, ws->P ? "1o" : "0e", NULL, ws->W, 1, &ok, err);
        } else {
            L->roE = lin(&ws->H, C, "0e", NULL, ws->N, 1, &ok, err);
            if (ws->P) L->roH = lin(&ws->H, C, "1o", NULL, ws->P, 1, &ok, err);
            if (hp->nac_even) L->roW = lin(&ws->H, C, ws->P ? "1o" : "0e", NULL, ws->W, 1, &ok, err);
        }
        /* the residual head reads the hidden features of every layer (the last layer's nonlinear
         * readout has no 1o part in the diabatic readout) */
        if (ws->R) L->roR = lin(&ws->H, C, "1o", NULL, 1, 1, &ok, err);
        if (ws->Re) L->roRe = lin(&ws->H, C, "1o", NULL, 1, 1, &ok, err);
        if (!ok) goto fail;
    }
    /* Fusion blocks (for one atom for now; grown with the molecule), then the offsets after them. */
    ws->cap_atoms = 1;
    if (build_fusions(ws, err)) goto fail;
    ws->cap_atoms = 0;
    ws->o_emb = 0;
    size_t off = (size_t)nt * C;
    for (int t = 0; t < ws->T; t++) {
        model_layer *L = &ws->L[t];
        L->o_up = off, off += fh_eq_linear_n_params(L->lin_up);
        L->o_mlp = off, off += model_mlp_n_params(&L->mlp);
        L->o_msg = off, off += fh_eq_linear_n_params(L->lin_msg);
        L->o_fus = off, off += fh_eq_fusion_n_params(L->fus);
        L->o_out = off, off += fh_eq_linear_n_params(L->lin_out);
        L->o_sc = off, off += fh_eq_linear_n_params(L->sc);
        if (L->ro1) {
            L->o_ro1 = off, off += fh_eq_linear_n_params(L->ro1);
            L->o_act = off, off += (size_t)fh_eq_gate_n_gates(&ws->RO) * ws->M;
        }
        L->o_roE = off, off += fh_eq_linear_n_params(L->roE);
        if (L->roH) L->o_roH = off, off += fh_eq_linear_n_params(L->roH);
    }
    /* the even coupling head last, so that adding it to a trained model keeps every other offset */
    for (int t = 0; t < ws->T; t++)
        if (ws->L[t].roW) ws->L[t].o_roW = off, off += fh_eq_linear_n_params(ws->L[t].roW);
    /* then the residual head, for the same reason */
    for (int t = 0; t < ws->T; t++)
        if (ws->L[t].roR) ws->L[t].o_roR = off, off += fh_eq_linear_n_params(ws->L[t].roR);
    /* then its even part */
    for (int t = 0; t < ws->T; t++)
        if (ws->L[t].roRe) ws->L[t].o_roRe = off, off += fh_eq_linear_n_params(ws->L[t].roRe);
    ws->n_params = off;
    if (m->n_params && m->n_params != ws->n_params) {
        fh_err_set(err, FH_EFAIL, "model: %zu parameters expected, architecture has %zu",
                   m->n_params, ws->n_params);
        goto fail;
    }
    return ws;
fail:
    fh_err_prefix(err, "model: ");
    fh_model_ws_free(ws);
    return NULL;
}

size_t model_ws_n_params(const fh_model_ws *ws) { return ws->n_params; }
int fh_model_ws_npairs(const fh_model_ws *ws) { return ws->npairs; }

/* ---- initial weights ------------------------------------------------------------------------ */

static void fill(double *v, size_t n, double std, model_rng *rng)
{
    for (size_t i = 0; i < n; i++) v[i] = std * model_rng_normal(rng);
}

/* Second moment of silu(x) for x ~ N(0, 1) is 0.3548: weights scaled by 1/sqrt(that) keep the
 * MLP's activations at unit variance from layer to layer. */
#define SILU_GAIN 1.6790

/* Typical neighbour distances for the data-free normalisation of the initial weights: a quarter
 * of the cutoff to the cutoff. */
enum { INIT_NR = 64 };
static void init_grid(const fh_eq_radial *rb, double *r)
{
    for (int i = 0; i < INIT_NR; i++) r[i] = rb->r_cut * (0.25 + 0.7 * (i + 0.5) / INIT_NR);
}

static double rms(const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += v[i] * v[i];
    s = sqrt(s / (n ? n : 1));
    return s > 0 ? s : 1.0;
}

/* Radial MLP of layer L: fan-in scaled normals with the silu gain, then the output columns
 * rescaled so that on typical distances the weight of a tensor-product path has RMS
 * 1/sqrt(number of paths into its output block): messages start with unit variance. */
static void init_mlp(const fh_model_ws *ws, const model_layer *L, double *theta, model_rng *rng)
{
    double r[INIT_NR], *B = malloc(sizeof(double) * INIT_NR * ws->rb.n_basis);
    double *y = malloc(sizeof(double) * INIT_NR * L->nw);
    model_mlp tmp;
    int ok = B && y && model_mlp_init(&tmp, L->mlp.n_layers, L->mlp.sizes, NULL) == FH_OK &&
             model_mlp_reserve(&tmp, INIT_NR, NULL) == FH_OK;
    double brms = 1.0;
    if (ok) {
        init_grid(&ws->rb, r);
        fh_eq_radial_eval(&ws->rb, INIT_NR, r, B, NULL);
        brms = rms(B, (size_t)INIT_NR * ws->rb.n_basis);
    }
    size_t o = L->o_mlp, last = o;
    for (int l = 0; l < L->mlp.n_layers; l++) {
        size_t len = (size_t)L->mlp.sizes[l] * L->mlp.sizes[l + 1];
        fill(theta + o, len, (l == 0 ? 1.0 / brms : SILU_GAIN) / sqrt((double)L->mlp.sizes[l]), rng);
        last = o;
        o += len;
    }
    if (ok && model_mlp_forward(&tmp, theta + L->o_mlp, INIT_NR, B, NULL, y, NULL, NULL) == FH_OK) {
        const int C = ws->C, np = fh_eq_tp_n_paths(L->tp), nin = L->mlp.sizes[L->mlp.n_layers - 1];
        int into[FH_EQ_MAX_BLOCKS] = {0};
        for (int p = 0; p < np; p++) {
            int i, l2, k;
            fh_eq_tp_path(L->tp, p, &i, &l2, &k);
            into[k]++;
        }
        for (int p = 0; p < np; p++) {
            int i, l2, k;
            fh_eq_tp_path(L->tp, p, &i, &l2, &k);
            for (int c = 0; c < C; c++) {
                int col = p * C + c;
                double s = 0;
                for (int q = 0; q < INIT_NR; q++) s += y[q * L->nw + col] * y[q * L->nw + col];
                s = sqrt(s / INIT_NR);
                double f = s > 0 ? 1.0 / (s * sqrt((double)into[k])) : 1.0;
                for (int j = 0; j < nin; j++) theta[last + (size_t)j * L->nw + col] *= f;
            }
        }
    }
    if (ok) model_mlp_release(&tmp);
    free(B), free(y);
}

/* Fusion block of layer L: normals N(0, 1/C), then one common factor for the whole block, found
 * by bisection, so that unit-variance random inputs give unit-RMS outputs (the block's terms of
 * order nu grow like the input to the nu-th power, so without this the features of a deep or
 * high-order model would explode or vanish at the start of training). */
static void init_fusion(fh_model_ws *ws, model_layer *L, double *theta, model_rng *rng)
{
    const size_t n = fh_eq_fusion_n_params(L->fus);
    const int C = ws->C, nx = L->dim_msg * C, ny = ws->dimH * C, ns = 16;
    fill(theta + L->o_fus, n, 1.0 / sqrt((double)C), rng);
    double *w0 = malloc(sizeof(double) * (n ? n : 1)), *x = malloc(sizeof(double) * ns * nx);
    double *y = malloc(sizeof(double) * ny);
    if (!w0 || !x || !y) goto out;
    memcpy(w0, theta + L->o_fus, sizeof(double) * n);
    for (int i = 0; i < ns * nx; i++) x[i] = model_rng_normal(rng);
    double lo = -7.0, hi = 7.0;   /* log of the factor */
    for (int it = 0; it < 40; it++) {
        double mid = 0.5 * (lo + hi), f = exp(mid), s2 = 0;
        for (size_t i = 0; i < n; i++) theta[L->o_fus + i] = f * w0[i];
        for (int q = 0; q < ns; q++) {
            int type = q % ws->nt;
            if (fh_eq_fusion_forward(L->fus, theta + L->o_fus, 1, &type, x + (size_t)q * nx, y, NULL))
                goto out;
            for (int i = 0; i < ny; i++) s2 += y[i] * y[i];
        }
        if (sqrt(s2 / ((double)ns * ny)) > 1.0) hi = mid;
        else lo = mid;
    }
    for (size_t i = 0; i < n; i++) theta[L->o_fus + i] = exp(0.5 * (lo + hi)) * w0[i];
out:
    free(w0), free(x), free(y);
}

void model_ws_init_params(fh_model_ws *ws, double *theta, model_rng *rng)
{
    const double C = ws->C, M = ws->M;
    fill(theta + ws->o_emb, (size_t)ws->nt * ws->C, 1.0, rng);
    for (int t = 0; t < ws->T; t++) {
        model_layer *L = &ws->L[t];
        fill(theta + L->o_up, fh_eq_linear_n_params(L->lin_up), 1.0 / sqrt(C), rng);
        init_mlp(ws, L, theta, rng);
    fill(theta + L->o_msg, fh_eq_linear_n_params(L->lin_msg), 1.0 / sqrt(C), rng);
        init_fusion(ws, L, theta, rng);
        fill(theta + L->o_out, fh_eq_linear_n_params(L->lin_out), 1.0 / sqrt(C), rng);
        fill(theta + L->o_sc, fh_eq_linear_n_params(L->sc), 1.0 / sqrt(C), rng);
        double ci = C;
        if (L->ro1) {
            fill(theta + L->o_ro1, fh_eq_linear_n_params(L->ro1), 1.0 / sqrt(C), rng);
            memset(theta + L->o_act, 0, sizeof(double) * fh_eq_gate_n_gates(&ws->RO) * ws->M);
            ci = M;
        }
        fill(theta + L->o_roE, fh_eq_linear_n_params(L->roE), 1.0 / sqrt(ci), rng);
        if (L->roH) fill(theta + L->o_roH, fh_eq_linear_n_params(L->roH), 1.0 / sqrt(ci), rng);
        /* the even head starts at zero: the couplings start as those of the flipped head alone */
        if (L->roW) memset(theta + L->o_roW, 0, sizeof(double) * fh_eq_linear_n_params(L->roW));
        /* so does the residual head: the coupling starts as that of the 2x2 model */
        if (L->roR) memset(theta + L->o_roR, 0, sizeof(double) * fh_eq_linear_n_params(L->roR));
        if (L->roRe) memset(theta + L->o_roRe, 0, sizeof(double) * fh_eq_linear_n_params(L->roRe));
    }
}

/* ---- widening (fh_model_widen) ------------------------------------------------------------- */

static double widen_normal(void *ctx) { return model_rng_normal((model_rng *)ctx); }

/* Every block as the linear maps and the fusion block widen theirs (fh_eq_linear_widen): old
 * weights kept, new channels fed with random weights of the old RMS but read by nothing old. The
 * radial MLP's output columns are the tensor product's weights, path p channel c at p C + c. */
int model_ws_widen_params(const fh_model_ws *from, const fh_model_ws *to, const double *w_from,
                          double *w_to, model_rng *rng, fh_err *err)
{
    const int C0 = from->C, C1 = to->C;
    for (size_t i = 0; i < to->n_params; i++) w_to[i] = NAN;
    for (int t = 0; t < from->nt; t++)
        eq_widen_row(w_from + from->o_emb + (size_t)t * C0, C0, w_to + to->o_emb + (size_t)t * C1,
                     C1, widen_normal, rng);
    int rc = FH_OK;
    for (int t = 0; t < from->T && rc == FH_OK; t++) {
        const model_layer *A = &from->L[t], *B = &to->L[t];
        const fh_eq_linear *la[] = {A->lin_up, A->lin_msg, A->lin_out, A->sc, A->ro1,
                                    A->roE, A->roH, A->roW, A->roR, A->roRe};
        const fh_eq_linear *lb[] = {B->lin_up, B->lin_msg, B->lin_out, B->sc, B->ro1,
                                    B->roE, B->roH, B->roW, B->roR, B->roRe};
        const size_t oa[] = {A->o_up, A->o_msg, A->o_out, A->o_sc, A->o_ro1,
                             A->o_roE, A->o_roH, A->o_roW, A->o_roR, A->o_roRe};
        const size_t ob[] = {B->o_up, B->o_msg, B->o_out, B->o_sc, B->o_ro1,
                             B->o_roE, B->o_roH, B->o_roW, B->o_roR, B->o_roRe};
        for (int k = 0; k < (int)(sizeof la / sizeof la[0]) && rc == FH_OK; k++)
            if (la[k]) rc = fh_eq_linear_widen(la[k], lb[k], w_from + oa[k], w_to + ob[k],
                                               widen_normal, rng, err);
        if (rc == FH_OK) rc = fh_eq_fusion_widen(A->fus, B->fus, w_from + A->o_fus, w_to + B->o_fus,
                                                 widen_normal, rng, err);
        if (rc) break;
        if (A->ro1)
            memcpy(w_to + B->o_act, w_from + A->o_act,
                   sizeof(double) * fh_eq_gate_n_gates(&from->RO) * from->M);
        /* radial MLP: hidden layers as they are, the output layer per path and channel */
        const int np = fh_eq_tp_n_paths(A->tp), nl = A->mlp.n_layers;
        if (fh_eq_tp_n_paths(B->tp) != np || A->nw != np * C0 || B->nw != np * C1 || B->mlp.n_layers != nl)
            return fh_err_set(err, FH_EINPUT, "model layer %d: cannot widen its radial MLP", t + 1);
        size_t last = 0;
        for (int l = 0; l < nl - 1; l++) last += (size_t)A->mlp.sizes[l] * A->mlp.sizes[l + 1];
        memcpy(w_to + B->o_mlp, w_from + A->o_mlp, sizeof(double) * last);
        const int nin = A->mlp.sizes[nl - 1];
        for (int j = 0; j < nin; j++)
            for (int p = 0; p < np; p++)
                eq_widen_row(w_from + A->o_mlp + last + (size_t)j * A->nw + (size_t)p * C0, C0,
                             w_to + B->o_mlp + last + (size_t)j * B->nw + (size_t)p * C1, C1,
                             widen_normal, rng);
    }
    if (rc) return fh_err_prefix(err, "widening: ");
    for (size_t i = 0; i < to->n_params; i++)
        if (isnan(w_to[i]))
            return fh_err_set(err, FH_EFAIL, "widening: weight %zu of %zu left unset (layout "
                              "mismatch)", i, to->n_params);
    return FH_OK;
}

/* ---- data-dependent start ------------------------------------------------------------------- */

static int stats_pass(fh_model_ws *ws, const fh_model *m, const double *theta, int ngeom,
                      int natoms, const int *type, const double *x, fh_err *err)
{
    double E[FH_MODEL_MAX_STATES];
    memset(ws->stat_m, 0, sizeof ws->stat_m), memset(ws->stat_nm, 0, sizeof ws->stat_nm);
    memset(ws->stat_p, 0, sizeof ws->stat_p), memset(ws->stat_np, 0, sizeof ws->stat_np);
    ws->stats = 1;
    int rc = FH_OK;
    for (int g = 0; g < ngeom && rc == FH_OK; g++)
        rc = fh_model_forward(ws, m, theta, natoms, type, x + (size_t)g * 3 * natoms, 0, E, NULL, err);
    ws->stats = 0;
    return rc;
}

int fh_model_calibrate(fh_model *m, int member, int ngeom, int natoms, const int *type,
                       const double *x, fh_err *err)
{
    fh_model_ws *ws = m->ws;
    double *theta = fh_model_params(m, member);
    int rc = FH_OK;
    for (int t = 0; t < ws->T && rc == FH_OK; t++) {
        model_layer *L = &ws->L[t];
        /* messages are linear in the radial MLP's last layer */
        rc = stats_pass(ws, m, theta, ngeom, natoms, type, x, err);
        if (rc) break;
        double rm = ws->stat_nm[t] > 0 ? sqrt(ws->stat_m[t] / ws->stat_nm[t]) : 0.0;
        if (rm > 0) {
            size_t o = L->o_mlp;
            for (int l = 0; l + 1 < L->mlp.n_layers; l++) o += (size_t)L->mlp.sizes[l] * L->mlp.sizes[l + 1];
            size_t len = (size_t)L->mlp.sizes[L->mlp.n_layers - 1] * L->nw;
            for (size_t i = 0; i < len; i++) theta[o + i] /= rm;
        }
        /* the fusion block is not linear in its weights: bisection on a common factor */
        size_t n = fh_eq_fusion_n_params(L->fus);
        double *w0 = malloc(sizeof(double) * (n ? n : 1));
        if (!w0) return fh_err_set(err, FH_EFAIL, "out of memory");
        memcpy(w0, theta + L->o_fus, sizeof(double) * n);
        double lo = -5.0, hi = 5.0;
        for (int it = 0; it < 24 && rc == FH_OK; it++) {
            double mid = 0.5 * (lo + hi), f = exp(mid);
            for (size_t i = 0; i < n; i++) theta[L->o_fus + i] = f * w0[i];
            rc = stats_pass(ws, m, theta, ngeom, natoms, type, x, err);
            double rp = ws->stat_np[t] > 0 ? sqrt(ws->stat_p[t] / ws->stat_np[t]) : 0.0;
            if (rp > 1.0) hi = mid;
            else lo = mid;
        }
        for (size_t i = 0; i < n; i++) theta[L->o_fus + i] = exp(0.5 * (lo + hi)) * w0[i];
        free(w0);
    }
    return rc;
}

/* ---- forward --------------------------------------------------------------------------------- */

static void add_to(double *y, const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

/* Cartesian component k (x, y, z) of an l = 1 block stored as m = -1, 0, 1 ~ (y, z, x). */
static const int cart_m[3] = {2, 0, 1};

/* sigma_a of the coupling output (fh_model.h): -1 on flipped atoms */
static double flip_sign(const fh_model *m, int a)
{
    return m->hp.nac_flip_natoms && m->hp.nac_flip[a] ? -1.0 : 1.0;
}

/* Scalar output s of the network, atom a: s-th output = sum_a (offset + factor * e_atom[a][s]).
 * States: E0 of the element plus the shift, times the scale; the diabatic H01 (s = 2): no offset,
 * sigma_a times nac_scale_0. */
static double out_factor(const fh_model *m, int s, int a)
{
    if (m->hp.diabatic && s == 2) return flip_sign(m, a) * m->norm.nac_scale[0];
    return m->norm.scale[s];
}
static double out_offset(const fh_model *m, int s, int type)
{
    if (m->hp.diabatic && s == 2) return 0.0;
    return m->norm.e0[(size_t)type * m->hp.nstates + s] + m->norm.shift[s];
}

static int forward_layers(fh_model_ws *ws, const fh_model *m, const double *theta, int tangents,
                          double *energy, double *hcoup, fh_err *err);

int fh_model_forward(fh_model_ws *ws, const fh_model *m, const double *theta, int natoms,
                     const int *type, const double *x, int flags, double *energy, double *hcoup,
                     fh_err *err)
{
    ws->have_forward = 0;
    if (natoms < 1) return fh_err_set(err, FH_EINPUT, "model: no atoms");
    if (m->hp.nac_flip_natoms && natoms != m->hp.nac_flip_natoms)
        return fh_err_set(err, FH_EINPUT, "model: its coupling sign flips (nac_flip) are for a "
                          "molecule of %d atoms, not %d", m->hp.nac_flip_natoms, natoms);
    for (int a = 0; a < natoms; a++)
        if (type[a] < 0 || type[a] >= ws->nt)
            return fh_err_set(err, FH_EINPUT, "model: atom %d has type %d (model knows %d elements)",
                              a + 1, type[a], ws->nt);
    /* 1. neighbour pairs and edge features, unless this is the geometry of the last forward (the
     * committee members, one after another) */
    const int tangents = (flags & FH_MODEL_TANGENTS) != 0;
    if (ws->edges_valid && natoms == ws->natoms && (ws->edges_tangents || !tangents) &&
        !memcmp(x, ws->x_edges, sizeof(double) * 3 * natoms) &&
        !memcmp(type, ws->type, sizeof(int) * natoms))
        return forward_layers(ws, m, theta, tangents, energy, hcoup, err);
    ws->edges_valid = 0;
    const double rc2 = ws->hp.r_cut * ws->hp.r_cut;
    int np = 0;
    for (int i = 0; i < natoms; i++)
        for (int j = i + 1; j < natoms; j++) {
            double d0 = x[3 * j] - x[3 * i], d1 = x[3 * j + 1] - x[3 * i + 1], d2 = x[3 * j + 2] - x[3 * i + 2];
            double r2 = d0 * d0 + d1 * d1 + d2 * d2;
            if (r2 < rc2) np++;
            if (r2 < 1e-12)
                return fh_err_set(err, FH_EINPUT, "model: atoms %d and %d coincide", i + 1, j + 1);
        }
    int rc = reserve(ws, natoms, np, err);
    if (rc) return rc;
    np = 0;
    for (int i = 0; i < natoms; i++)
        for (int j = i + 1; j < natoms; j++) {
            double d[3] = {x[3 * j] - x[3 * i], x[3 * j + 1] - x[3 * i + 1], x[3 * j + 2] - x[3 * i + 2]};
            double r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
            if (r2 >= rc2) continue;
            ws->pi[np] = i, ws->pj[np] = j;
            memcpy(ws->u + 3 * np, d, sizeof d);
            ws->r[np] = sqrt(r2);
            np++;
        }
    ws->natoms = natoms, ws->npairs = np;
    memcpy(ws->type, type, sizeof(int) * natoms);
    fh_eq_sph(ws->hp.lmax, np, ws->u, ws->Y, tangents ? ws->dY : NULL);
    for (int t = 0; t < ws->T; t++) fh_eq_tp_coeffs(ws->L[t].tp, np, ws->Y, ws->L[t].A);
    ws->af_valid = 0;
    memcpy(ws->x_edges, x, sizeof(double) * 3 * natoms);
    ws->edges_tangents = tangents;
    ws->edges_valid = 1;
    return forward_layers(ws, m, theta, tangents, energy, hcoup, err);
}

/* The message tensor product in float (fh_model_set_precision): its inputs rounded to float (R
 * and tR unless the float table wrote them), the messages back to double; the harmonics'
 * contractions once per geometry for all layers. */
static int tp_forward_single(fh_model_ws *ws, model_layer *L, int conv_tR, int conv_R, fh_err *err)
{
    const int n = ws->natoms, np = ws->npairs, C = ws->C;
    if (!ws->af_valid) {
        for (int t = 0; t < ws->T; t++)
            eq_to_float((size_t)np * fh_eq_tp_n_coeffs(ws->L[t].tp), ws->L[t].A, ws->L[t].Af);
        ws->af_valid = 1;
    }
    eq_to_float((size_t)n * L->dim_in * C, L->xu, L->xuf);
    if (conv_R) eq_to_float((size_t)np * L->nw, L->R, L->Rf);
    if (conv_tR) eq_to_float((size_t)np * L->nw, L->tR, L->tRf);
    int rc = fh_eq_tp_forward_pairs_f(L->tp, n, np, ws->pi, ws->pj, L->xuf, L->Af, L->Rf, ws->mf, err);
    if (!rc) eq_from_float((size_t)n * L->dim_msg * C, ws->mf, L->m);
    return rc;
}

/* The layers, readouts and outputs of fh_model_forward, on the pairs and edge features in ws. */
static int forward_layers(fh_model_ws *ws, const fh_model *m, const double *theta, int tangents,
                          double *energy, double *hcoup, fh_err *err)
{
    const int natoms = ws->natoms, np = ws->npairs, C = ws->C, N = ws->N, P = ws->P;
    const int *type = ws->type, *tp = ws->nt > 1 ? ws->type : NULL;
    int rc;
    ws->tangents = tangents;
    ws->radial_tabulated = 0;
    /* here rather than in model_ws_use_single: reserve() may have rebuilt the fusion blocks */
    for (int t = 0; t < ws->T; t++) fh_eq_fusion_set_single(ws->L[t].fus, ws->single);
    int have_basis = 0;   /* the radial basis is needed only where no table is used */

    /* 3. embedding */
    for (int a = 0; a < natoms; a++)
        memcpy(ws->h[0] + (size_t)a * C, theta + ws->o_emb + (size_t)type[a] * C, sizeof(double) * C);

    /* 4. layers */
    const double inv_nb = 1.0 / ws->hp.avg_neighbors;
    memset(ws->e_atom, 0, sizeof(double) * natoms * N);
    if (P) memset(ws->hv, 0, sizeof(double) * natoms * 3 * P);
    if (ws->nW) memset(ws->hw, 0, sizeof(double) * natoms * ws->nW);
    if (ws->R) memset(ws->hr, 0, sizeof(double) * natoms * 3);
    if (ws->Re) memset(ws->hre, 0, sizeof(double) * natoms * 3);
    for (int t = 0; t < ws->T; t++) {
        model_layer *L = &ws->L[t];
        const double *hin = ws->h[t];
        double *hout = ws->h[t + 1];
        int rf_done = 0;   /* Rf, tRf written by the float table */
        if (ws->rtab && ws->single && model_rtab_eval_f(&ws->rtab[t], np, ws->r, L->Rf, L->tRf)) {
            ws->radial_tabulated = 1;
            rf_done = 1;
        } else if (ws->rtab && model_rtab_eval(&ws->rtab[t], np, ws->r, L->R, L->tR)) {
            ws->radial_tabulated = 1;
        } else {
            if (!have_basis) fh_eq_radial_eval(&ws->rb, np, ws->r, ws->B, ws->tangents ? ws->dB : NULL);
            have_basis = 1;
            rc = model_mlp_forward(&L->mlp, theta + L->o_mlp, np, ws->B,
                                   ws->tangents ? ws->dB : NULL, L->R, ws->tangents ? L->tR : NULL, err);
            if (rc) return rc;
        }
        lin_forward(ws, L->lin_up, theta + L->o_up, natoms, NULL, hin, L->xu);
        L->used_f = ws->single;
        if (L->used_f)
            rc = tp_forward_single(ws, L, tangents && !rf_done, !rf_done, err);
        else
            rc = fh_eq_tp_forward_pairs(L->tp, natoms, np, ws->pi, ws->pj, L->xu, L->A, L->R, L->m, err);
        if (rc) return rc;
        size_t nm = (size_t)natoms * L->dim_msg * C;
        for (size_t i = 0; i < nm; i++) L->m[i] *= inv_nb;
        lin_forward(ws, L->lin_msg, theta + L->o_msg, natoms, NULL, L->m, L->a);
        rc = fh_eq_fusion_forward(L->fus, theta + L->o_fus, natoms, tp, L->a, L->p, err);
        if (rc) return rc;
        lin_forward(ws, L->lin_out, theta + L->o_out, natoms, NULL, L->p, hout);
        lin_forward(ws, L->sc, theta + L->o_sc, natoms, tp, hin, ws->tmp_h);
        add_to(hout, ws->tmp_h, (size_t)natoms * ws->dimH * C);
        if (ws->stats) {
            size_t nm2 = (size_t)natoms * L->dim_msg * C, nh = (size_t)natoms * ws->dimH * C;
            for (size_t i = 0; i < nm2; i++) ws->stat_m[t] += L->m[i] * L->m[i];
            for (size_t i = 0; i < nh; i++) ws->stat_p[t] += L->p[i] * L->p[i];
            ws->stat_nm[t] += (double)nm2, ws->stat_np[t] += (double)nh;
        }
        /* readout */
        const double *rin = hout;
        if (L->ro1) {
            lin_forward(ws, L->ro1, theta + L->o_ro1, natoms, NULL, hout, ws->z1);
            fh_eq_normact_forward(&ws->RO, ws->M, natoms, theta + L->o_act, ws->z1, ws->a1);
            rin = ws->a1;
        }
        lin_forward(ws, L->roE, theta + L->o_roE, natoms, NULL, rin, ws->eo);
        add_to(ws->e_atom, ws->eo, (size_t)natoms * N);
        if (P) {
            lin_forward(ws, L->roH, theta + L->o_roH, natoms, NULL, rin, ws->ho);
            add_to(ws->hv, ws->ho, (size_t)natoms * 3 * P);
        }
        if (L->roW) {
            lin_forward(ws, L->roW, theta + L->o_roW, natoms, NULL, rin, ws->ho);
            add_to(ws->hw, ws->ho, (size_t)natoms * ws->nW);
        }
        if (L->roR) {
            lin_forward(ws, L->roR, theta + L->o_roR, natoms, NULL, hout, ws->ho);
            add_to(ws->hr, ws->ho, (size_t)natoms * 3);
        }
        if (L->roRe) {
            lin_forward(ws, L->roRe, theta + L->o_roRe, natoms, NULL, hout, ws->ho);
            add_to(ws->hre, ws->ho, (size_t)natoms * 3);
        }
    }

    /* 5. outputs */
    const fh_model_norm *nm = &m->norm;
    for (int s = 0; s < N; s++) {
        double e = 0.0;
        for (int a = 0; a < natoms; a++)
            e += out_offset(m, s, type[a]) + out_factor(m, s, a) * ws->e_atom[a * N + s];
        energy[s] = e;
    }
    /* the diabatic even head: an unflipped part of H01 */
    if (m->hp.diabatic && ws->nW)
        for (int a = 0; a < natoms; a++) energy[2] += nm->nac_scale[0] * ws->hw[a];
    if (hcoup)
        for (int p = 0; p < P; p++)
            for (int a = 0; a < natoms; a++)
                for (int k = 0; k < 3; k++) {
                    size_t q = ((size_t)a * 3 + cart_m[k]) * P + p;
                    hcoup[((size_t)p * natoms + a) * 3 + k] = nm->nac_scale[p] *
                        (flip_sign(m, a) * ws->hv[q] + (m->hp.nac_even ? ws->hw[q] : 0.0));
                }
    ws->have_forward = 1;
    /* the residual head's q (diabatic readout) */
    if (hcoup && ws->R) model_ws_resid(ws, m, hcoup);
    return FH_OK;
}

/* The tables of one member's layers for the forward passes that follow (NULL: the exact MLPs).
 * model_ws_make_tables (re)builds those that are missing or were made from other weights. */
void model_ws_use_tables(fh_model_ws *ws, const model_rtab *tabs) { ws->rtab = tabs; }
void model_ws_use_single(fh_model_ws *ws, int single) { ws->single = single != 0; }

int model_ws_make_tables(fh_model_ws *ws, const double *theta, model_rtab *tabs, fh_err *err)
{
    for (int t = 0; t < ws->T; t++) {
        model_layer *L = &ws->L[t];
        if (model_rtab_current(&tabs[t], &L->mlp, &ws->rb, theta + L->o_mlp)) continue;
        int rc = model_rtab_build(&tabs[t], &L->mlp, &ws->rb, theta + L->o_mlp, MODEL_RTAB_KNOTS, err);
        if (rc) return rc;
    }
    return FH_OK;
}

int model_ws_n_layers(const fh_model_ws *ws) { return ws->T; }

/* q_a = nac_scale_0 sigma_a r_a minus its mean over the atoms: like the CI-block coupling it
 * sums to zero, so velocity rescaling along h keeps the total momentum (h(H), the gradient of
 * invariants, already does). The backward applies the same projection to the seed. */
void model_ws_resid(const fh_model_ws *ws, const fh_model *m, double *q)
{
    double mean[3] = {0, 0, 0};
    for (int a = 0; a < ws->natoms; a++)
        for (int k = 0; k < 3; k++) {
            double v = ws->R ? m->norm.nac_scale[0] * flip_sign(m, a) * ws->hr[a * 3 + cart_m[k]] : 0.0;
            if (ws->Re) v += m->norm.nac_scale[0] * ws->hre[a * 3 + cart_m[k]];
            q[(size_t)a * 3 + k] = v;
            mean[k] += v / ws->natoms;
        }
    for (int a = 0; a < ws->natoms; a++)
        for (int k = 0; k < 3; k++) q[(size_t)a * 3 + k] -= mean[k];
}

/* ---- backward -------------------------------------------------------------------------------- */

int fh_model_backward(fh_model_ws *ws, const fh_model *m, const double *theta, const double *gE,
                      const double *gH, double *gx, double *gtheta, fh_err *err)
{
    if (!ws->have_forward) return fh_err_set(err, FH_EFAIL, "model: backward without a forward pass");
    if (gx && !ws->tangents)
        return fh_err_set(err, FH_EFAIL, "model: position gradients need a forward with tangents");
    if (!gx && !gtheta) return FH_OK;
    if (gtheta && ws->radial_tabulated)
        return fh_err_set(err, FH_EFAIL, "model: parameter gradients after a forward with tabulated "
                          "radial functions");
    for (int t = 0; t < ws->T && gtheta; t++)
        if (ws->L[t].used_f)
            return fh_err_set(err, FH_EFAIL, "model: parameter gradients after a forward in single "
                              "precision");
    const int n = ws->natoms, np = ws->npairs, C = ws->C, N = ws->N, P = ws->P, nsh = ws->nsh;
    const int *tp = ws->nt > 1 ? ws->type : NULL;
    const fh_model_norm *nm = &m->norm;
    const double inv_nb = 1.0 / ws->hp.avg_neighbors;

    /* seeds on the per-atom outputs */
    for (int a = 0; a < n; a++)
        for (int s = 0; s < N; s++) ws->ge[a * N + s] = gE ? out_factor(m, s, a) * gE[s] : 0.0;
    if (ws->nW) memset(ws->ghw, 0, sizeof(double) * n * ws->nW);
    if (m->hp.diabatic && ws->nW && gE)
        for (int a = 0; a < n; a++) ws->ghw[a] = nm->nac_scale[0] * gE[2];
    if (P) {
        memset(ws->ghv, 0, sizeof(double) * n * 3 * P);
        if (gH)
            for (int p = 0; p < P; p++)
                for (int a = 0; a < n; a++)
                    for (int k = 0; k < 3; k++) {
                        size_t q = ((size_t)a * 3 + cart_m[k]) * P + p;
                        double g = nm->nac_scale[p] * gH[((size_t)p * n + a) * 3 + k];
                        ws->ghv[q] = flip_sign(m, a) * g;
                        ws->ghw[q] = g;
                    }
    }
    if (ws->R) {
        memset(ws->ghr, 0, sizeof(double) * n * 3);
        double mean[3] = {0, 0, 0};   /* the mean-free projection of model_ws_resid */
        for (int a = 0; a < n && gH; a++)
            for (int k = 0; k < 3; k++) mean[k] += gH[(size_t)a * 3 + k] / n;
        if (ws->Re) memset(ws->ghre, 0, sizeof(double) * n * 3);
        if (gH)
            for (int a = 0; a < n; a++)
                for (int k = 0; k < 3; k++) {
                    double g = nm->nac_scale[0] * (gH[(size_t)a * 3 + k] - mean[k]);
                    ws->ghr[a * 3 + cart_m[k]] = flip_sign(m, a) * g;
                    if (ws->Re) ws->ghre[a * 3 + cart_m[k]] = g;
                }
    }
    if (gx) {
        memset(ws->gr, 0, sizeof(double) * np);
        memset(ws->gY, 0, sizeof(double) * np * nsh);
    }
    double *gcur = ws->gh0, *gprev = ws->gh1;   /* gradient w.r.t. h[t+1], then h[t] */
    memset(gcur, 0, sizeof(double) * n * ws->dimH * C);
    for (int t = ws->T - 1; t >= 0; t--) {
        model_layer *L = &ws->L[t];
        const double *hin = ws->h[t], *hout = ws->h[t + 1];
        /* readout of hout */
        if (L->ro1) {
            memset(ws->ga1, 0, sizeof(double) * n * ws->dimRO * ws->M);
            memset(ws->gz1, 0, sizeof(double) * n * ws->dimRO * ws->M);
            lin_backward(ws, L->roE, theta + L->o_roE, n, NULL, ws->a1, ws->ge, ws->ga1,
                         gtheta ? gtheta + L->o_roE : NULL);
            if (P) lin_backward(ws, L->roH, theta + L->o_roH, n, NULL, ws->a1, ws->ghv, ws->ga1,
                                gtheta ? gtheta + L->o_roH : NULL);
            if (L->roW) lin_backward(ws, L->roW, theta + L->o_roW, n, NULL, ws->a1, ws->ghw,
                                     ws->ga1, gtheta ? gtheta + L->o_roW : NULL);
            fh_eq_normact_backward(&ws->RO, ws->M, n, theta + L->o_act, ws->z1, ws->ga1, ws->gz1,
                                   gtheta ? gtheta + L->o_act : NULL);
            lin_backward(ws, L->ro1, theta + L->o_ro1, n, NULL, hout, ws->gz1, gcur,
                         gtheta ? gtheta + L->o_ro1 : NULL);
        } else {
            lin_backward(ws, L->roE, theta + L->o_roE, n, NULL, hout, ws->ge, gcur,
                         gtheta ? gtheta + L->o_roE : NULL);
            if (P) lin_backward(ws, L->roH, theta + L->o_roH, n, NULL, hout, ws->ghv, gcur,
                                gtheta ? gtheta + L->o_roH : NULL);
            if (L->roW) lin_backward(ws, L->roW, theta + L->o_roW, n, NULL, hout, ws->ghw, gcur,
                                     gtheta ? gtheta + L->o_roW : NULL);
        }
        if (L->roR && gH)
            lin_backward(ws, L->roR, theta + L->o_roR, n, NULL, hout, ws->ghr, gcur,
                         gtheta ? gtheta + L->o_roR : NULL);
        if (L->roRe && gH)
            lin_backward(ws, L->roRe, theta + L->o_roRe, n, NULL, hout, ws->ghre, gcur,
                         gtheta ? gtheta + L->o_roRe : NULL);
        /* h_out = lin_out(p) + sc(h_in) */
        memset(gprev, 0, sizeof(double) * n * L->dim_in * C);
        memset(ws->gp, 0, sizeof(double) * n * ws->dimH * C);
        lin_backward(ws, L->lin_out, theta + L->o_out, n, NULL, L->p, gcur, ws->gp,
                     gtheta ? gtheta + L->o_out : NULL);
        /* the first layer's input is the embedding: its gradient matters for the weights only */
        const int need_gin = t > 0 || gtheta;
        if (need_gin)
            lin_backward(ws, L->sc, theta + L->o_sc, n, tp, hin, gcur, gprev,
                         gtheta ? gtheta + L->o_sc : NULL);
        /* p = fusion(a), a = lin_msg(m) */
        memset(ws->ga, 0, sizeof(double) * n * L->dim_msg * C);
        int rc = fh_eq_fusion_backward(L->fus, theta + L->o_fus, n, tp, L->a, ws->gp, ws->ga,
                                       gtheta ? gtheta + L->o_fus : NULL, err);
        if (rc) return rc;
        memset(ws->gm, 0, sizeof(double) * n * L->dim_msg * C);
        lin_backward(ws, L->lin_msg, theta + L->o_msg, n, NULL, L->m, ws->ga, ws->gm,
                     gtheta ? gtheta + L->o_msg : NULL);
        for (size_t i = 0; i < (size_t)n * L->dim_msg * C; i++) ws->gm[i] *= inv_nb;
        /* m = TP(j -> i) + TP(i -> j) */
        memset(ws->gxu, 0, sizeof(double) * n * L->dim_in * C);
        if (gtheta) memset(ws->gR, 0, sizeof(double) * np * L->nw);
        double *gxu = need_gin ? ws->gxu : NULL;
        if (L->used_f) {
            const size_t nm = (size_t)n * L->dim_msg * C, nx = (size_t)n * L->dim_in * C;
            eq_to_float(nm, ws->gm, ws->mf);
            if (gxu) memset(ws->gxuf, 0, sizeof(float) * nx);
            rc = fh_eq_tp_backward_pairs_f(L->tp, n, np, ws->pi, ws->pj, L->xuf, L->Af, L->Rf,
                                           gx ? L->tRf : NULL, ws->mf, gxu ? ws->gxuf : NULL,
                                           gx ? ws->gY : NULL, gx ? ws->gr : NULL, err);
            if (!rc && gxu) eq_from_float(nx, ws->gxuf, gxu);
        } else {
            rc = fh_eq_tp_backward_pairs(L->tp, n, np, ws->pi, ws->pj, L->xu, L->A, L->R,
                                         gx ? L->tR : NULL, 1, ws->gm, gxu, gx ? ws->gY : NULL,
                                         gtheta ? ws->gR : NULL, gx ? ws->gr : NULL, err);
        }
        if (rc) return rc;
        if (need_gin)
            lin_backward(ws, L->lin_up, theta + L->o_up, n, NULL, hin, ws->gxu, gprev,
                         gtheta ? gtheta + L->o_up : NULL);
        if (gtheta) model_mlp_backward(&L->mlp, theta + L->o_mlp, ws->gR, gtheta + L->o_mlp);
        double *sw = gcur;
        gcur = gprev, gprev = sw;
    }
    /* embedding */
    if (gtheta)
        for (int a = 0; a < n; a++) {
            double *g = gtheta + ws->o_emb + (size_t)ws->type[a] * C;
            for (int c = 0; c < C; c++) g[c] += gcur[(size_t)a * C + c];
        }
    /* positions: through Y(u), Y(-u) and |u| */
    if (gx) {
        memset(ws->gu, 0, sizeof(double) * np * 3);
        fh_eq_sph_backward(ws->hp.lmax, np, ws->dY, ws->gY, ws->gu);
        for (int p = 0; p < np; p++) {
            double *gu = ws->gu + 3 * p, f = ws->gr[p] / ws->r[p];
            const double *u = ws->u + 3 * p;
            int i = ws->pi[p], j = ws->pj[p];
            for (int k = 0; k < 3; k++) {
                double g = gu[k] + f * u[k];
                gx[3 * j + k] += g;
                gx[3 * i + k] -= g;
            }
        }
    }
    return FH_OK;
}

/* Multiply-adds of a channel mixing over n nodes (2 flop each). */
static double lin_flops(const fh_eq_irreps *in, int ci, const fh_eq_irreps *out, int co, int n)
{
    double f = 0;
    for (int o = 0; o < out->n; o++)
        for (int i = 0; i < in->n; i++)
            if (in->l[i] == out->l[o] && in->p[i] == out->p[o]) f += 2.0 * (2 * out->l[o] + 1) * ci * co;
    return f * n;
}

double fh_model_flops(const fh_model_ws *ws, int backward)
{
    /* Channel mixings and the radial MLP counted exactly; tensor products and fusion blocks as
     * counted by the equivariant core (for their backward: with every gradient, so a weight pass,
     * which skips the harmonics' gradient, is slightly overcounted). A backward for weights also
     * forms the weight gradients of every mixing and of the MLP (twice the forward's products). */
    const int n = ws->natoms, np = ws->npairs, C = ws->C, M = ws->M;
    fh_eq_irreps e0, v1;
    fh_eq_irreps_parse("0e", &e0, NULL, NULL);
    fh_eq_irreps_parse("1o", &v1, NULL, NULL);
    double f = 0;
    for (int t = 0; t < ws->T; t++) {
        const model_layer *L = &ws->L[t];
        double lin = lin_flops(&L->in, C, &L->in, C, n) + lin_flops(&L->msg, C, &L->msg, C, n) +
                     lin_flops(&ws->H, C, &ws->H, C, n) + lin_flops(&L->in, C, &ws->H, C, n);
        const fh_eq_irreps *ri = L->ro1 ? &ws->RO : &ws->H;
        int rc = L->ro1 ? M : C;
        if (L->ro1) lin += lin_flops(&ws->H, C, &ws->RO, M, n);
        lin += lin_flops(ri, rc, &e0, ws->N, n) + (ws->P ? lin_flops(ri, rc, &v1, ws->P, n) : 0);
        if (L->roW) lin += lin_flops(ri, rc, ws->P ? &v1 : &e0, ws->W, n);
        if (L->roR) lin += lin_flops(&ws->H, C, &v1, 1, n);
        if (L->roRe) lin += lin_flops(&ws->H, C, &v1, 1, n);
        double mlp = model_mlp_flops(&L->mlp, np, 0);
        if (backward == 0) {
            f += lin + mlp * (ws->tangents ? 2 : 1);
            f += 2 * fh_eq_tp_flops(L->tp, n, np, 0) + fh_eq_fusion_flops(L->fus, n, 0);
        } else {
            f += lin * (backward == 2 ? 2 : 1) + (backward == 2 ? 2 * mlp : 2.0 * np * L->nw);
            f += 2 * fh_eq_tp_flops(L->tp, n, np, 1) + fh_eq_fusion_flops(L->fus, n, 1);
        }
    }
    return f;
}
