/* Private pieces of the model (models/model_*.c and models/train_*.c): the model struct, the
 * radial MLP with forward-mode tangents, the network's layer layout and a small seeded RNG. */
#ifndef FH_MODEL_INTERNAL_H
#define FH_MODEL_INTERNAL_H

#include <stdint.h>

#include "fh_equivariant.h"
#include "fh_model.h"

typedef struct model_rtab model_rtab;

struct fh_model {
    fh_model_hyper hp;
    int n_members;
    size_t n_params;           /* per member */
    double *params;            /* [n_members][n_params] */
    fh_model_norm norm;        /* arrays owned here */
    fh_model_provenance prov;
    fh_model_ws *ws;           /* lazily created for fh_model_predict */
    double *scratch;           /* predict buffers */
    size_t scratch_len;
    int *types;                /* predict: type of each atom */
    int types_len;
    model_rtab *rtab;          /* predict: [n_members][layers] tabulated radial MLPs, or NULL */
    int n_rtab;
    int exact_radial;          /* 1: predict evaluates the radial MLPs, no tables */
    int precision;             /* FH_MODEL_PRECISION_* of fh_model_predict */
};

/* ---- seeded random numbers (splitmix64; weights initialisation and data shuffles) -------- */
typedef struct {
    uint64_t s;
} model_rng;
void model_rng_seed(model_rng *r, uint64_t seed, uint64_t stream);
uint64_t model_rng_next(model_rng *r);
double model_rng_uniform(model_rng *r);   /* (0, 1) */
double model_rng_normal(model_rng *r);

/* ---- radial MLP: y = W_L silu(... silu(x W_1)), no biases (as fh_eq_mlp, same parameter
 * layout), with forward-mode tangents: given tx = dx/dr it also returns ty = dy/dr, so a position
 * gradient needs only sum_w gy[w] ty[w] per edge, whatever the number of reverse passes. ---- */
#define MODEL_MLP_MAX (FH_MODEL_MAX_RADIAL + 1)
typedef struct {
    int n_layers;
    int sizes[MODEL_MLP_MAX + 1];
    int cap_rows, rows, tangents;
    double *x[MODEL_MLP_MAX];   /* input of layer l: [2*cap][sizes[l]], primal rows then tangents */
    double *ds[MODEL_MLP_MAX];  /* silu' of the primal pre-activation of layer l >= 1 */
    double *g0, *g1;            /* backward scratch */
} model_mlp;
int model_mlp_init(model_mlp *m, int n_layers, const int *sizes, fh_err *err);
void model_mlp_release(model_mlp *m);
int model_mlp_reserve(model_mlp *m, int rows, fh_err *err);
size_t model_mlp_n_params(const model_mlp *m);
/* x [rows][n0] -> y [rows][nL]; with tx != NULL also ty = tangents (tx, ty [rows][...]). */
int model_mlp_forward(model_mlp *m, const double *theta, int rows, const double *x,
                      const double *tx, double *y, double *ty, fh_err *err);
/* gtheta += d(sum gy . y)/dtheta from the saved primal pass. */
void model_mlp_backward(model_mlp *m, const double *theta, const double *gy, double *gtheta);
double model_mlp_flops(const model_mlp *m, int rows, int tangents);

/* ---- the radial MLP tabulated for inference (model_radial_table.c): R, R' and R'' at n_knots
 * uniform knots up to r_cut, quintic Hermite in between ---- */
struct model_rtab {
    int nw, nk;                 /* weights per edge, knots */
    double h, inv_h;            /* knot spacing, bohr */
    fh_eq_radial rb;            /* the radial basis it was made with */
    double *v;                  /* [nk + 1][3][nw]: R, h R' and h^2 R'' at r_k; knot 0 unused */
    float *vf;                  /* the same in float (mixed precision, model_rtab_eval_f) */
    double *w;                  /* [nwts] the MLP weights it was made from */
    size_t nwts;
};
#define MODEL_RTAB_KNOTS 1024
int model_rtab_build(model_rtab *t, model_mlp *mlp, const fh_eq_radial *rb, const double *theta,
                     int n_knots, fh_err *err);
/* 1 if t was made from these MLP weights and this basis */
int model_rtab_current(const model_rtab *t, const model_mlp *mlp, const fh_eq_radial *rb,
                       const double *theta);
/* R, tR [rows][nw] at the edge lengths r; 0 (nothing written) if an r lies outside the table */
int model_rtab_eval(const model_rtab *t, int rows, const double *r, double *R, double *tR);
/* The same from the float table into float R, tR (mixed precision; within ~1e-7 relative) */
int model_rtab_eval_f(const model_rtab *t, int rows, const double *r, float *R, float *tR);
void model_rtab_free(model_rtab *t);
/* every member's tables (model_predict.c) */
void model_free_tables(fh_model *m);

/* ---- the network --------------------------------------------------------------------------- */
typedef struct {
    fh_eq_irreps in, msg;        /* input features, messages (0e+1o+2e+.. natural parity) */
    int dim_in, dim_msg;
    fh_eq_linear *lin_up, *lin_msg, *lin_out, *sc;
    fh_eq_tp *tp;
    fh_eq_fusion *fus;
    model_mlp mlp;
    int nw;                      /* radial weights per edge */
    fh_eq_linear *ro1;           /* last layer only: hidden -> readout_hidden */
    fh_eq_linear *roE, *roH;     /* -> N energies (0e), -> P couplings (1o; NULL if P = 0) */
    fh_eq_linear *roW;           /* -> P couplings, the unflipped even head (nac_even), or NULL */
    fh_eq_linear *roR;           /* hidden -> 1o, the residual coupling head (nac_resid), or NULL */
    fh_eq_linear *roRe;          /* hidden -> 1o, its unflipped even part (nac_resid = 2), or NULL */
    size_t o_up, o_mlp, o_msg, o_fus, o_out, o_sc, o_ro1, o_act, o_roE, o_roH, o_roW, o_roR, o_roRe;
    /* intermediates of the last forward, [cap_atoms][...][C] */
    double *xu, *m, *a, *p;
    double *R, *tR;              /* [cap_pairs][nw] radial weights and d/dr */
    double *A;                   /* [cap_pairs][n_coeffs] CG-contracted harmonics (fh_eq_tp_coeffs) */
    /* the tensor product in single precision (fh_model_set_precision): float copies of its
     * inputs xu, R, tR, A; used_f: the last forward took that path */
    float *xuf, *Rf, *tRf, *Af;
    int used_f;
} model_layer;

/* Sign patterns of the states (bit s set: state s flipped; state 0 never): the sign of pair
 * (i, j), and the pattern maximising sum_p w_p sigma_i sigma_j <h_p, ref_p> over pairs with
 * mask[p] (mask NULL: all; weight NULL: w_p = 1), h and ref [P][n3] (model_predict.c): the pattern
 * that minimises sum_p w_p |h_p - sigma_i sigma_j ref_p|^2. */
static inline double model_pair_sign(unsigned flips, int i, int j)
{
    return (((flips >> i) ^ (flips >> j)) & 1u) ? -1.0 : 1.0;
}
unsigned model_sign_pattern(int N, size_t n3, const double *h, const double *ref,
                            const unsigned char *mask, const double *weight);

/* Training (train_loss.c): loss terms, errors and (optional) seeds from predictions. */
#include "fh_train.h"
void train_eval_terms(const fh_model *m, const fh_train_sample *s, const fh_train_loss_cfg *cfg,
                      const double *E, const double *g, const double *h, fh_train_terms *t,
                      double *gE, double *v, double *gH);

/* Whether a flat irreps list has an (l, p) block. */
int model_irreps_has(const fh_eq_irreps *ir, int l, int p);
/* The architecture's parameter count, and random initial weights (fan-in scaled normals; norm
 * activation biases 0) drawn from rng in a fixed order (model_net.c). */
size_t model_ws_n_params(const fh_model_ws *ws);
/* The residual coupling head's q [natoms][3] (hartree/bohr) of the most recent forward (nac_resid;
 * as fh_model_forward's hcoup gives it), without another pass. */
void model_ws_resid(const fh_model_ws *ws, const fh_model *m, double *q);
void model_ws_init_params(fh_model_ws *ws, double *theta, model_rng *rng);
/* The weights w_to of the architecture `to` (that of `from` with more channels) from w_from, the
 * network unchanged: see fh_model_widen. */
int model_ws_widen_params(const fh_model_ws *from, const fh_model_ws *to, const double *w_from,
                          double *w_to, model_rng *rng, fh_err *err);
void model_ws_use_tables(fh_model_ws *ws, const model_rtab *tabs);
/* single = 1: forward passes run the message tensor product in float (predict only: no
 * parameter gradients then), as fh_model_set_precision describes. */
void model_ws_use_single(fh_model_ws *ws, int single);
int model_ws_make_tables(fh_model_ws *ws, const double *theta, model_rtab *tabs, fh_err *err);
int model_ws_n_layers(const fh_model_ws *ws);

#endif
