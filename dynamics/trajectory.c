/* One surface-hopping trajectory, advanced step by step by an outside loop (see fh_dynamics.h for
 * the algorithm and when random numbers are drawn). The object holds the complete dynamical state
 * so that a checkpoint is a flat copy of it and restore + continue is bitwise identical to never
 * stopping; scratch arrays are kept apart from the state. */
#include "fh_bonds.h"
#include "fh_dyn_internal.h"
#include "fh_dynamics.h"
#include "fh_units.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fh_dyn_traj {
    fh_surface *surf; /* not owned */
    fh_dyn_params p;
    int n, ndof, np;
    int use_nac;    /* resolved coupling */
    int has_spread; /* provider gives a committee spread */

    /* --- the dynamical state: everything here goes into a checkpoint --- */
    uint64_t seed, index;
    int started;
    long step;
    double t;
    double *x, *v, *acc;    /* [ndof]; acc = -grad E_active / m */
    double *c;              /* [2n] amplitudes, Re/Im interleaved */
    int active;
    double *e, *e_prev;     /* [n] energies at t and t - dt */
    int have_prev;          /* e_prev and nac_prev are valid (at least one step done) */
    double *tdc;            /* [np] couplings T_ij (i < j) at t */
    double *nac, *nac_prev; /* [np*ndof] sign-aligned NACs at t and t - dt (use_nac only) */
    double e_ref;           /* total energy at the start (moved by hops that do not rescale) */
    double e_last;          /* total energy at t */
    double spread;          /* committee energy spread at t (max over states) */
    long nhops, nfrustrated;
    fh_dyn_stop stop;
    int nfrag0;             /* parts of the molecule at the start (bond_break; 0: not checked) */

    /* --- not state --- */
    char stop_msg[512];
    double *x1, *v1, *acc1, *e1, *tdc1, *nac1, *ref, *dir, *grad, *std, *g;
    int *label;             /* [natoms] fh_bond_fragments scratch (NULL: not a molecule) */
    fh_dyn_elec_ws *ws;
};

void fh_dyn_traj_free(fh_dyn_traj *tr)
{
    if (!tr) return;
    double *arrays[] = {tr->x,   tr->v,   tr->acc,  tr->c,   tr->e,    tr->e_prev, tr->tdc,
                        tr->nac, tr->nac_prev,      tr->x1,  tr->v1,   tr->acc1,   tr->e1,
                        tr->tdc1, tr->nac1, tr->ref, tr->dir, tr->grad, tr->std,   tr->g};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) free(arrays[i]);
    fh_dyn_elec_ws_free(tr->ws);
    free(tr->label);
    free(tr);
}

static double *zalloc(size_t n) { return calloc(n > 0 ? n : 1, sizeof(double)); }

fh_dyn_traj *fh_dyn_traj_alloc(fh_surface *s, const fh_dyn_params *p, uint64_t seed,
                               uint64_t traj_index, fh_err *err)
{
    if (!s || !p) {
        fh_err_set(err, FH_EINPUT, "dynamics: no surface or parameters");
        return NULL;
    }
    if (fh_dyn_params_check(p, err) != FH_OK) return NULL;
    int has_nac = (s->caps & FH_CAP_NAC) != 0;
    if (p->coupling == FH_DYN_COUPLING_NAC && !has_nac) {
        fh_err_set(err, FH_EINPUT,
                   "dynamics: coupling = nac, but surface '%s' gives no NACs (use ktdc or auto)",
                   s->name);
        return NULL;
    }
    if (!(s->caps & FH_CAP_GRADIENT)) {
        fh_err_set(err, FH_EINPUT, "dynamics: surface '%s' gives no gradients", s->name);
        return NULL;
    }
    fh_dyn_traj *tr = calloc(1, sizeof *tr);
    if (!tr) {
        fh_err_set(err, FH_EFAIL, "dynamics: out of memory");
        return NULL;
    }
    tr->surf = s;
    tr->p = *p;
    tr->n = s->nstates;
    tr->ndof = s->ndof;
    tr->np = fh_npairs(s->nstates);
    tr->use_nac = p->coupling == FH_DYN_COUPLING_NAC || (p->coupling == FH_DYN_COUPLING_AUTO && has_nac);
    tr->has_spread = (s->caps & FH_CAP_SPREAD) != 0;
    tr->seed = seed;
    tr->index = traj_index;
    size_t n = (size_t)tr->n, nd = (size_t)tr->ndof, np = (size_t)tr->np;
    size_t nnac = tr->use_nac ? np * nd : 0;
    tr->x = zalloc(nd), tr->v = zalloc(nd), tr->acc = zalloc(nd);
    tr->c = zalloc(2 * n), tr->e = zalloc(n), tr->e_prev = zalloc(n), tr->tdc = zalloc(np);
    tr->x1 = zalloc(nd), tr->v1 = zalloc(nd), tr->acc1 = zalloc(nd), tr->e1 = zalloc(n);
    tr->tdc1 = zalloc(np), tr->dir = zalloc(nd), tr->grad = zalloc(n * nd), tr->std = zalloc(n);
    tr->g = zalloc(n);
    if (nnac) {
        tr->nac = zalloc(nnac);
        tr->nac_prev = zalloc(nnac);
        tr->nac1 = zalloc(nnac);
        tr->ref = zalloc(nnac);
    }
    tr->ws = fh_dyn_elec_ws_alloc(tr->n);
    /* bond_break watches molecules only (model surfaces have no atoms) */
    int watch = p->bond_break > 0 && s->natoms > 0 && s->z && s->ndof == 3 * s->natoms;
    if (watch) tr->label = malloc((size_t)s->natoms * sizeof *tr->label);
    int ok = (!watch || tr->label) && tr->x && tr->v && tr->acc &&
             tr->c && tr->e && tr->e_prev && tr->tdc && tr->x1 &&
             tr->v1 && tr->acc1 && tr->e1 && tr->tdc1 && tr->dir && tr->grad && tr->std && tr->g &&
             tr->ws && (!nnac || (tr->nac && tr->nac_prev && tr->nac1 && tr->ref));
    if (!ok) {
        fh_dyn_traj_free(tr);
        fh_err_set(err, FH_EFAIL, "dynamics: out of memory");
        return NULL;
    }
    return tr;
}

/* One provider call: energies into e, the gradients of `mask` into tr->grad, NACs into nac when
 * wanted, the committee spread into *spread. */
static int evaluate(fh_dyn_traj *tr, const double *x, unsigned mask, int want_nac, double *e,
                    double *nac, double *spread, fh_err *err)
{
    fh_surface_eval req;
    memset(&req, 0, sizeof req);
    req.x = x;
    req.grad_mask = mask;
    req.want_nac = want_nac;
    req.energy = e;
    req.grad = tr->grad;
    req.nac = want_nac ? nac : NULL;
    req.energy_std = tr->has_spread ? tr->std : NULL;
    int rc = fh_surface_evaluate(tr->surf, &req, err);
    if (rc != FH_OK) return rc;
    if (spread) {
        *spread = 0.0;
        for (int i = 0; tr->has_spread && i < tr->n; i++)
            if (tr->std[i] > *spread) *spread = tr->std[i];
    }
    return FH_OK;
}

static void set_stop(fh_dyn_traj *tr, fh_dyn_stop why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_stop(fh_dyn_traj *tr, fh_dyn_stop why, const char *fmt, ...)
{
    tr->stop = why;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tr->stop_msg, sizeof tr->stop_msg, fmt, ap);
    va_end(ap);
}

int fh_dyn_traj_start(fh_dyn_traj *tr, const double *x0, const double *v0, int active_state,
                      fh_err *err)
{
    int n = tr->n, nd = tr->ndof;
    if (active_state < 0 || active_state >= n)
        return fh_err_set(err, FH_EINPUT, "dynamics: initial state %d outside 0..%d",
                          active_state, n - 1);
    for (int k = 0; k < nd; k++)
        if (!isfinite(x0[k]) || !isfinite(v0[k]))
            return fh_err_set(err, FH_EINPUT, "dynamics: non-finite initial coordinate or velocity");
    memcpy(tr->x, x0, (size_t)nd * sizeof *x0);
    memcpy(tr->v, v0, (size_t)nd * sizeof *v0);
    int rc = evaluate(tr, tr->x, 1u << active_state, tr->use_nac, tr->e, tr->nac, &tr->spread, err);
    if (rc != FH_OK) return fh_err_prefix(err, "dynamics: initial geometry: ");
    for (int k = 0; k < nd; k++)
        tr->acc[k] = -tr->grad[(size_t)active_state * nd + k] / tr->surf->mass[k];
    memset(tr->c, 0, 2 * (size_t)n * sizeof *tr->c);
    tr->c[2 * active_state] = 1.0;
    tr->active = active_state;
    memcpy(tr->e_prev, tr->e, (size_t)n * sizeof *tr->e);
    if (tr->use_nac) {
        memcpy(tr->nac_prev, tr->nac, (size_t)tr->np * nd * sizeof *tr->nac);
        fh_dyn_tdc_from_nac(tr->np, nd, tr->nac, tr->v, tr->tdc);
    } else {
        memset(tr->tdc, 0, (size_t)tr->np * sizeof *tr->tdc);
    }
    tr->have_prev = 0;
    tr->step = 0;
    tr->t = 0.0;
    tr->e_ref = tr->e_last = fh_dyn_kinetic(nd, tr->surf->mass, tr->v) + tr->e[active_state];
    tr->nhops = tr->nfrustrated = 0;
    tr->stop = FH_DYN_RUNNING;
    tr->stop_msg[0] = '\0';
    tr->started = 1;
    tr->nfrag0 = tr->label ? fh_bond_fragments(tr->surf->natoms, tr->surf->z, tr->x,
                                               tr->p.bond_break, tr->label)
                           : 0;
    if (tr->has_spread && tr->p.spread_max > 0 && tr->spread > tr->p.spread_max)
        set_stop(tr, FH_DYN_STOP_SPREAD,
                 "committee energy spread %.3e Eh above spread_max %.3e Eh at the start",
                 tr->spread, tr->p.spread_max);
    return FH_OK;
}

/* The direction of momentum change for a hop a -> b: d_ab when NACs are used, else the momentum
 * M v (so that "along it" means scaling or reversing the whole velocity). */
static void hop_direction(fh_dyn_traj *tr, int a, int b)
{
    int nd = tr->ndof;
    if (tr->use_nac) {
        int i = a < b ? a : b, j = a < b ? b : a;
        memcpy(tr->dir, tr->nac + (size_t)fh_pair_index(tr->n, i, j) * nd,
               (size_t)nd * sizeof *tr->dir);
    } else {
        for (int k = 0; k < nd; k++) tr->dir[k] = tr->surf->mass[k] * tr->v[k];
    }
}

/* Try to hop to state b; on success the active state changes and the force is recomputed. */
static void attempt_hop(fh_dyn_traj *tr, int b, fh_dyn_step_info *info)
{
    int a = tr->active, nd = tr->ndof;
    const double *mass = tr->surf->mass;
    double de = tr->e[b] - tr->e[a];
    double before = fh_dyn_kinetic(nd, mass, tr->v) + tr->e[a];
    info->hop_to = b;
    hop_direction(tr, a, b);
    int ok;
    fh_dyn_rescale mode = tr->p.rescale;
    if (mode == FH_DYN_RESCALE_NAC) {
        ok = fh_dyn_rescale_along(nd, mass, tr->v, tr->dir, de);
    } else if (mode == FH_DYN_RESCALE_VELOCITY) {
        double kin = fh_dyn_kinetic(nd, mass, tr->v);
        ok = kin > 0 && kin - de >= 0;
        if (ok) {
            double s = sqrt((kin - de) / kin);
            for (int k = 0; k < nd; k++) tr->v[k] *= s;
        }
    } else {
        ok = 1;
        tr->e_ref += de;
        tr->e_last += de;
    }
    fh_err err;
    fh_err_clear(&err);
    if (ok) {
        tr->active = b;
        tr->nhops++;
        info->hopped = 1;
        info->hop_energy_change = fh_dyn_kinetic(nd, mass, tr->v) + tr->e[b] - before;
        if (evaluate(tr, tr->x, 1u << b, 0, tr->e1, NULL, NULL, &err) != FH_OK) {
            set_stop(tr, FH_DYN_STOP_PROVIDER, "after a hop at t = %.6g a.u.: %s", tr->t, err.msg);
            return;
        }
        for (int k = 0; k < nd; k++) tr->acc[k] = -tr->grad[(size_t)b * nd + k] / mass[k];
        return;
    }
    tr->nfrustrated++;
    info->frustrated = 1;
    int reverse = tr->p.frustrated == FH_DYN_FRUSTRATED_REVERSE;
    if (tr->p.frustrated == FH_DYN_FRUSTRATED_REVERSE_JT) {
        if (evaluate(tr, tr->x, 1u << b, 0, tr->e1, NULL, NULL, &err) != FH_OK) {
            set_stop(tr, FH_DYN_STOP_PROVIDER, "after a frustrated hop at t = %.6g a.u.: %s",
                     tr->t, err.msg);
            return;
        }
        double fd = 0.0, vd = 0.0; /* F_b.d with F_b = -grad E_b, and v.d */
        for (int k = 0; k < nd; k++) {
            fd -= tr->grad[(size_t)b * nd + k] * tr->dir[k];
            vd += tr->v[k] * tr->dir[k];
        }
        reverse = fd * vd < 0;
    }
    if (reverse) {
        fh_dyn_reflect_along(nd, mass, tr->v, tr->dir);
        info->reversed = 1;
    }
}

static int all_finite(const double *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

/* bond_break: more parts than at the start stops the trajectory, naming the atom that left. */
static int fell_apart(fh_dyn_traj *tr)
{
    if (!tr->label || tr->nfrag0 < 1) return 0;
    const fh_surface *s = tr->surf;
    int nfrag = fh_bond_fragments(s->natoms, s->z, tr->x, tr->p.bond_break, tr->label);
    if (nfrag <= tr->nfrag0) return 0;
    char who[128];
    fh_bond_describe_apart(s->natoms, s->z, tr->x, tr->label, nfrag, who, sizeof who);
    set_stop(tr, FH_DYN_STOP_FRAGMENTED,
             "the molecule fell apart at t = %.6g a.u. (%.1f fs): %s (bond_break %.2f x covalent "
             "radii; %d parts, %d at the start)",
             tr->t, tr->t / FH_FS_AUTIME, who, tr->p.bond_break, nfrag, tr->nfrag0);
    return 1;
}

static void monitor(fh_dyn_traj *tr)
{
    size_t n = (size_t)tr->n, nd = (size_t)tr->ndof;
    double etot = fh_dyn_traj_total_energy(tr);
    const fh_dyn_params *p = &tr->p;
    if (!all_finite(tr->x, nd) || !all_finite(tr->v, nd) || !all_finite(tr->c, 2 * n) ||
        !all_finite(tr->e, n) || !all_finite(tr->tdc, (size_t)tr->np) || !isfinite(etot))
        set_stop(tr, FH_DYN_STOP_NAN, "non-finite value at t = %.6g a.u.", tr->t);
    else if (p->econs_step > 0 && fabs(etot - tr->e_last) > p->econs_step)
        set_stop(tr, FH_DYN_STOP_ECONS_STEP,
                 "total energy changed by %.3e Eh in one step at t = %.6g a.u. (econs_step %.3e Eh)",
                 etot - tr->e_last, tr->t, p->econs_step);
    else if (p->econs_drift > 0 && fabs(etot - tr->e_ref) > p->econs_drift)
        set_stop(tr, FH_DYN_STOP_ECONS_DRIFT,
                 "total energy drifted by %.3e Eh at t = %.6g a.u. (econs_drift %.3e Eh)",
                 etot - tr->e_ref, tr->t, p->econs_drift);
    else if (tr->has_spread && p->spread_max > 0 && tr->spread > p->spread_max)
        set_stop(tr, FH_DYN_STOP_SPREAD,
                 "committee energy spread %.3e Eh at t = %.6g a.u. (spread_max %.3e Eh)",
                 tr->spread, tr->t, p->spread_max);
    else if (fell_apart(tr))
        ;
    else if (p->tmax > 0 && tr->t >= p->tmax * (1.0 - 1e-12))
        set_stop(tr, FH_DYN_STOP_TMAX, "reached tmax = %.6g a.u.", p->tmax);
    tr->e_last = etot;
}

int fh_dyn_traj_step(fh_dyn_traj *tr, fh_dyn_step_info *info, fh_err *err)
{
    fh_dyn_step_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    info->hop_from = tr->active;
    info->hop_to = -1;
    if (!tr->started) return fh_err_set(err, FH_EINPUT, "dynamics: trajectory not started");
    if (tr->stop != FH_DYN_RUNNING) {
        info->stop = tr->stop;
        return fh_err_set(err, FH_EINPUT, "dynamics: trajectory already stopped (%s)",
                          fh_dyn_stop_name(tr->stop));
    }
    int n = tr->n, nd = tr->ndof, np = tr->np, a = tr->active;
    const double *mass = tr->surf->mass;
    double dt = tr->p.dt;

    /* 1. nuclei: velocity Verlet on the active surface */
    for (int k = 0; k < nd; k++) tr->x1[k] = tr->x[k] + tr->v[k] * dt + 0.5 * tr->acc[k] * dt * dt;
    double spread1 = 0.0;
    fh_err perr;
    fh_err_clear(&perr);
    if (evaluate(tr, tr->x1, 1u << a, tr->use_nac, tr->e1, tr->nac1, &spread1, &perr) != FH_OK) {
        set_stop(tr, FH_DYN_STOP_PROVIDER, "at t = %.6g a.u.: %s", tr->t + dt, perr.msg);
        info->stop = tr->stop;
        return FH_OK;
    }
    for (int k = 0; k < nd; k++) {
        tr->acc1[k] = -tr->grad[(size_t)a * nd + k] / mass[k];
        tr->v1[k] = tr->v[k] + 0.5 * (tr->acc[k] + tr->acc1[k]) * dt;
    }

    /* 2. couplings at t + dt */
    if (tr->use_nac) {
        size_t m = (size_t)np * nd;
        const double *ref = tr->nac;
        if (tr->p.nac_extrapolate && tr->have_prev) {
            for (size_t i = 0; i < m; i++) tr->ref[i] = 2.0 * tr->nac[i] - tr->nac_prev[i];
            ref = tr->ref;
        }
        fh_dyn_align_nacs(np, nd, tr->nac1, ref);
        fh_dyn_tdc_from_nac(np, nd, tr->nac1, tr->v1, tr->tdc1);
    } else if (tr->have_prev) {
        fh_dyn_ktdc(n, tr->e1, tr->e, tr->e_prev, dt, tr->p.ktdc_gap, tr->tdc1);
    } else {
        memset(tr->tdc1, 0, (size_t)np * sizeof *tr->tdc1);
    }

    /* 3. electrons over [t, t + dt] */
    info->norm_error = fh_dyn_elec_step(tr->ws, n, tr->p.nsubsteps, dt, tr->e, tr->e1, tr->tdc,
                                        tr->tdc1, a, tr->c, tr->g);

    /* the step is taken: t + dt becomes the current time */
    memcpy(tr->e_prev, tr->e, (size_t)n * sizeof *tr->e);
    memcpy(tr->e, tr->e1, (size_t)n * sizeof *tr->e);
    if (tr->use_nac) {
        memcpy(tr->nac_prev, tr->nac, (size_t)np * nd * sizeof *tr->nac);
        memcpy(tr->nac, tr->nac1, (size_t)np * nd * sizeof *tr->nac);
    }
    memcpy(tr->tdc, tr->tdc1, (size_t)np * sizeof *tr->tdc);
    memcpy(tr->x, tr->x1, (size_t)nd * sizeof *tr->x);
    memcpy(tr->v, tr->v1, (size_t)nd * sizeof *tr->v);
    memcpy(tr->acc, tr->acc1, (size_t)nd * sizeof *tr->acc);
    tr->spread = spread1;
    tr->have_prev = 1;
    tr->step++;
    tr->t = (double)tr->step * dt;

    /* 4. hop test: one uniform number per step, always drawn */
    double u = fh_dyn_uniform(tr->seed, tr->index, (uint64_t)tr->step, 0);
    info->random = u;
    for (int j = 0; j < n; j++)
        if (j != a) info->hop_prob += tr->g[j];
    int b = fh_dyn_hop_target(n, a, tr->g, u);
    if (b != a) attempt_hop(tr, b, info);
    if (tr->stop != FH_DYN_RUNNING) {
        info->stop = tr->stop;
        return FH_OK;
    }

    /* 5. decoherence, with the (possibly new) active state and kinetic energy */
    if (tr->p.decoherence == FH_DYN_DECOHERENCE_EDC)
        fh_dyn_edc(n, tr->active, tr->e, fh_dyn_kinetic(nd, mass, tr->v), tr->p.edc_c, dt, tr->c);

    /* 6. monitoring */
    monitor(tr);
    info->stop = tr->stop;
    return FH_OK;
}

void fh_dyn_traj_stop(fh_dyn_traj *tr, const char *why)
{
    if (tr->stop == FH_DYN_RUNNING) set_stop(tr, FH_DYN_STOP_USER, "%s", why ? why : "stopped");
}

double fh_dyn_traj_time(const fh_dyn_traj *tr) { return tr->t; }
long fh_dyn_traj_nsteps(const fh_dyn_traj *tr) { return tr->step; }
int fh_dyn_traj_nstates(const fh_dyn_traj *tr) { return tr->n; }
int fh_dyn_traj_ndof(const fh_dyn_traj *tr) { return tr->ndof; }
const double *fh_dyn_traj_x(const fh_dyn_traj *tr) { return tr->x; }
const double *fh_dyn_traj_v(const fh_dyn_traj *tr) { return tr->v; }
const double *fh_dyn_traj_amplitudes(const fh_dyn_traj *tr) { return tr->c; }
double fh_dyn_traj_population(const fh_dyn_traj *tr, int state)
{
    if (state < 0 || state >= tr->n) return 0.0;
    return tr->c[2 * state] * tr->c[2 * state] + tr->c[2 * state + 1] * tr->c[2 * state + 1];
}
int fh_dyn_traj_active(const fh_dyn_traj *tr) { return tr->active; }
const double *fh_dyn_traj_energies(const fh_dyn_traj *tr) { return tr->e; }
const double *fh_dyn_traj_nac(const fh_dyn_traj *tr) { return tr->use_nac ? tr->nac : NULL; }
const double *fh_dyn_traj_tdc(const fh_dyn_traj *tr) { return tr->tdc; }
double fh_dyn_traj_kinetic(const fh_dyn_traj *tr)
{
    return fh_dyn_kinetic(tr->ndof, tr->surf->mass, tr->v);
}
double fh_dyn_traj_total_energy(const fh_dyn_traj *tr)
{
    return fh_dyn_traj_kinetic(tr) + tr->e[tr->active];
}
double fh_dyn_traj_energy_spread(const fh_dyn_traj *tr) { return tr->spread; }
double fh_dyn_traj_energy_std(const fh_dyn_traj *tr, int state)
{
    return tr->has_spread && state >= 0 && state < tr->n ? tr->std[state] : 0.0;
}
long fh_dyn_traj_nhops(const fh_dyn_traj *tr) { return tr->nhops; }
long fh_dyn_traj_nfrustrated(const fh_dyn_traj *tr) { return tr->nfrustrated; }
int fh_dyn_traj_uses_nac(const fh_dyn_traj *tr) { return tr->use_nac; }
fh_dyn_stop fh_dyn_traj_stop_reason(const fh_dyn_traj *tr) { return tr->stop; }
const char *fh_dyn_traj_stop_message(const fh_dyn_traj *tr) { return tr->stop_msg; }
uint64_t fh_dyn_traj_seed(const fh_dyn_traj *tr) { return tr->seed; }
uint64_t fh_dyn_traj_index(const fh_dyn_traj *tr) { return tr->index; }

/* --- checkpoints --- */

#define CKPT_MAGIC 4846002.0 /* "FH" layout 2 (layout 1 had no nfrag0) */
#define CKPT_HEAD 21

size_t fh_dyn_traj_state_size(const fh_dyn_traj *tr)
{
    size_t n = (size_t)tr->n, nd = (size_t)tr->ndof, np = (size_t)tr->np;
    return CKPT_HEAD + 3 * nd + 2 * n + 3 * n + np + (tr->use_nac ? 2 * np * nd : 0);
}

/* Walk the layout once for both directions, so save and restore cannot disagree. */
static void io_block(double *buf, size_t *k, double *field, size_t count, int save)
{
    if (save)
        memcpy(buf + *k, field, count * sizeof *field);
    else
        memcpy(field, buf + *k, count * sizeof *field);
    *k += count;
}

static void io_arrays(fh_dyn_traj *tr, double *buf, int save)
{
    size_t n = (size_t)tr->n, nd = (size_t)tr->ndof, np = (size_t)tr->np, k = CKPT_HEAD;
    io_block(buf, &k, tr->x, nd, save);
    io_block(buf, &k, tr->v, nd, save);
    io_block(buf, &k, tr->acc, nd, save);
    io_block(buf, &k, tr->c, 2 * n, save);
    io_block(buf, &k, tr->e, n, save);
    io_block(buf, &k, tr->e_prev, n, save);
    io_block(buf, &k, tr->tdc, np, save);
    io_block(buf, &k, tr->std, n, save);
    if (tr->use_nac) {
        io_block(buf, &k, tr->nac, np * nd, save);
        io_block(buf, &k, tr->nac_prev, np * nd, save);
    }
}

void fh_dyn_traj_save(const fh_dyn_traj *tr, double *st)
{
    st[0] = CKPT_MAGIC;
    st[1] = tr->n;
    st[2] = tr->ndof;
    st[3] = tr->use_nac;
    st[4] = (double)fh_dyn_traj_state_size(tr);
    st[5] = (double)(tr->seed >> 32);
    st[6] = (double)(tr->seed & 0xffffffffu);
    st[7] = (double)(tr->index >> 32);
    st[8] = (double)(tr->index & 0xffffffffu);
    st[9] = tr->started;
    st[10] = (double)tr->step;
    st[11] = tr->t;
    st[12] = tr->active;
    st[13] = tr->have_prev;
    st[14] = tr->e_ref;
    st[15] = tr->e_last;
    st[16] = tr->spread;
    st[17] = (double)tr->nhops;
    st[18] = (double)tr->nfrustrated;
    st[19] = (double)tr->stop;
    st[20] = tr->nfrag0;
    io_arrays((fh_dyn_traj *)tr, st, 1);
}

int fh_dyn_traj_restore(fh_dyn_traj *tr, const double *st, fh_err *err)
{
    if (st[0] != CKPT_MAGIC || st[1] != tr->n || st[2] != tr->ndof || st[3] != tr->use_nac ||
        st[4] != (double)fh_dyn_traj_state_size(tr))
        return fh_err_set(err, FH_EINPUT,
                          "dynamics: checkpoint does not fit this trajectory (layout %g, %g states, "
                          "%g coordinates, NACs %g; expected %d states, %d coordinates, NACs %d)",
                          st[0], st[1], st[2], st[3], tr->n, tr->ndof, tr->use_nac);
    if (!(st[12] >= 0 && st[12] < tr->n) || !(st[19] >= 0 && st[19] <= FH_DYN_STOP_FRAGMENTED) ||
        !(st[20] >= 0) ||
        !(st[10] >= 0))
        return fh_err_set(err, FH_EINPUT, "dynamics: corrupt checkpoint");
    tr->seed = ((uint64_t)st[5] << 32) | (uint64_t)st[6];
    tr->index = ((uint64_t)st[7] << 32) | (uint64_t)st[8];
    tr->started = (int)st[9];
    tr->step = (long)st[10];
    tr->t = st[11];
    tr->active = (int)st[12];
    tr->have_prev = (int)st[13];
    tr->e_ref = st[14];
    tr->e_last = st[15];
    tr->spread = st[16];
    tr->nhops = (long)st[17];
    tr->nfrustrated = (long)st[18];
    tr->stop = (fh_dyn_stop)(int)st[19];
    tr->nfrag0 = (int)st[20];
    io_arrays(tr, (double *)st, 0);
    if (tr->stop == FH_DYN_RUNNING)
        tr->stop_msg[0] = '\0';
    else
        snprintf(tr->stop_msg, sizeof tr->stop_msg, "stopped before the checkpoint (%s)",
                 fh_dyn_stop_name(tr->stop));
    return FH_OK;
}
