/* Excited-state lifetime: the fraction of trajectories in the excited state is fitted to a delayed
 * exponential, P(t) = A for t < t0 and A exp(-(t - t0)/tau) after (A = P(0)), the usual model for
 * a wave packet that must first travel to the intersection seam. The fit is GSL's trust-region
 * nonlinear least squares in (t0, ln tau), so tau stays positive; its error is the spread of the
 * fits to bootstrap resamples of the ensemble. */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ana_internal.h"

typedef struct {
    const double *t, *p;
    long n;
    double a;
} fit_data;

static int model_f(const gsl_vector *x, void *data, gsl_vector *f)
{
    const fit_data *d = data;
    double t0 = gsl_vector_get(x, 0), tau = exp(gsl_vector_get(x, 1));
    for (long i = 0; i < d->n; i++) {
        double m = d->t[i] < t0 ? d->a : d->a * exp(-(d->t[i] - t0) / tau);
        gsl_vector_set(f, (size_t)i, m - d->p[i]);
    }
    return GSL_SUCCESS;
}

static int model_df(const gsl_vector *x, void *data, gsl_matrix *J)
{
    const fit_data *d = data;
    double t0 = gsl_vector_get(x, 0), tau = exp(gsl_vector_get(x, 1));
    for (long i = 0; i < d->n; i++) {
        double dt0 = 0.0, dlt = 0.0;
        if (d->t[i] >= t0) {
            double m = d->a * exp(-(d->t[i] - t0) / tau);
            dt0 = m / tau;
            dlt = m * (d->t[i] - t0) / tau;
        }
        gsl_matrix_set(J, (size_t)i, 0, dt0);
        gsl_matrix_set(J, (size_t)i, 1, dlt);
    }
    return GSL_SUCCESS;
}

/* Starting point from where P falls below 0.95 A and below A/e. */
static int initial_guess(const double *t, const double *p, long n, double a, double *t0, double *tau)
{
    long ia = -1, ie = -1;
    for (long i = 0; i < n; i++) {
        if (ia < 0 && p[i] < 0.95 * a) ia = i;
        if (ie < 0 && p[i] < a * exp(-1.0)) ie = i;
    }
    if (ia < 0) return -1; /* no decay within the data */
    const double c = 1.0 - log(1.0 / 0.95);
    if (ie > ia) {
        *tau = (t[ie] - t[ia]) / c;
        *t0 = t[ie] - *tau;
    } else if (ie == ia) {
        *tau = (t[ia] - t[0]) > 0 ? (t[ia] - t[0]) / 2.0 : 1.0;
        *t0 = t[0];
    } else {
        double ratio = p[n - 1] / a;
        *t0 = t[ia];
        *tau = ratio > 0 && ratio < 0.95 ? (t[n - 1] - t[ia]) / log(0.95 / ratio) : t[n - 1] - t[0];
    }
    double span = t[n - 1] - t[0];
    if (!(*tau > 1e-6 * span)) *tau = span > 0 ? 0.1 * span : 1.0;
    return 0;
}

int fh_ana_fit_delayed_exp(const double *t, const double *p, long n, double *amplitude, double *t0,
                           double *tau, fh_err *err)
{
    if (n < 3) return fh_err_set(err, FH_EFAIL, "too few time points to fit (%ld)", n);
    double a = p[0];
    if (!(a > 0.05)) return fh_err_set(err, FH_EFAIL, "the state is not populated at t = 0 (P = %.3g)", a);
    double g0, gtau;
    if (initial_guess(t, p, n, a, &g0, &gtau) < 0)
        return fh_err_set(err, FH_EFAIL, "no decay within the simulated time");
    fit_data d = {t, p, n, a};
    gsl_multifit_nlinear_fdf fdf = {.f = model_f, .df = model_df, .fvv = NULL, .n = (size_t)n, .p = 2,
                                    .params = &d};
    gsl_multifit_nlinear_parameters par = gsl_multifit_nlinear_default_parameters();
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    gsl_multifit_nlinear_workspace *ws =
        gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &par, (size_t)n, 2);
    gsl_vector *x = gsl_vector_alloc(2);
    int rc = FH_OK;
    if (!ws || !x) {
        rc = fh_err_set(err, FH_EFAIL, "out of memory");
    } else {
        gsl_vector_set(x, 0, g0);
        gsl_vector_set(x, 1, log(gtau));
        int info = 0;
        int st = gsl_multifit_nlinear_init(x, &fdf, ws);
        if (st == GSL_SUCCESS) st = gsl_multifit_nlinear_driver(200, 1e-10, 1e-10, 0.0, NULL, NULL, &info, ws);
        const gsl_vector *sol = gsl_multifit_nlinear_position(ws);
        double ft0 = gsl_vector_get(sol, 0), ftau = exp(gsl_vector_get(sol, 1));
        /* GSL_EMAXITER with a finite point is kept: the kink at t0 can make the last steps crawl */
        if ((st != GSL_SUCCESS && st != GSL_EMAXITER) || !isfinite(ft0) || !isfinite(ftau) || ftau <= 0)
            rc = fh_err_set(err, FH_EFAIL, "the delayed-exponential fit did not converge (%s)",
                            gsl_strerror(st));
        else {
            *amplitude = a;
            *t0 = ft0;
            *tau = ftau;
        }
    }
    if (x) gsl_vector_free(x);
    if (ws) gsl_multifit_nlinear_free(ws);
    gsl_set_error_handler(old);
    return rc;
}

int fh_ana_lifetime_compute(const fh_ana_ensemble *e, const fh_ana_settings *s, const fh_ana_populations *p,
                    fh_ana_lifetime *lt, fh_err *err)
{
    memset(lt, 0, sizeof *lt);
    lt->state = s->excited_state;
    lt->t0_err = lt->tau_err = lt->t0_lo = lt->t0_hi = lt->tau_lo = lt->tau_hi = NAN;
    lt->t0 = lt->tau = lt->amplitude = NAN;
    if (p->ngrid < 3 || e->nused == 0) {
        snprintf(lt->note, sizeof lt->note, "no finished trajectories to fit");
        return FH_OK;
    }
    const long ng = p->ngrid, ns = p->nstates, nu = e->nused, nb = s->nboot;
    double *curve = malloc(sizeof *curve * (size_t)ng);
    if (!curve) return fh_err_set(err, FH_EFAIL, "out of memory");
    for (long g = 0; g < ng; g++) curve[g] = p->frac[g * ns + s->excited_state];
    fh_err ferr = {0};
    if (fh_ana_fit_delayed_exp(p->time, curve, ng, &lt->amplitude, &lt->t0, &lt->tau, &ferr)) {
        snprintf(lt->note, sizeof lt->note, "%.200s", ferr.msg);
        free(curve);
        return FH_OK;
    }
    lt->ok = 1;

    /* bootstrap: the same resamples as the population bands */
    long *frames = malloc(sizeof *frames * (size_t)(ng * nu));
    unsigned char *in = malloc((size_t)(ng * nu));
    int *w = fh_ana_boot_weights(nb, nu, s->seed);
    double *bt0 = malloc(sizeof *bt0 * (size_t)nb), *btau = malloc(sizeof *btau * (size_t)nb);
    int rc = FH_OK;
    if (!frames || !in || !w || !bt0 || !btau) {
        rc = fh_err_set(err, FH_EFAIL, "out of memory");
        goto done;
    }
    fh_ana_grid_frames(e, p->time, ng, frames);
    for (long k = 0, j = 0; k < e->ntraj; k++) {
        const fh_ana_traj *t = &e->traj[k];
        if (!t->used) continue;
        for (long g = 0; g < ng; g++) in[g * nu + j] = t->active[frames[g * nu + j]] == s->excited_state;
        j++;
    }
    long nok = 0;
    for (long b = 0; b < nb; b++) {
        const int *wb = w + b * nu;
        for (long g = 0; g < ng; g++) {
            long c = 0;
            const unsigned char *ig = in + g * nu;
            for (long j = 0; j < nu; j++) c += wb[j] * ig[j];
            curve[g] = (double)c / (double)nu;
        }
        double a, t0, tau;
        if (fh_ana_fit_delayed_exp(p->time, curve, ng, &a, &t0, &tau, &ferr) == FH_OK) {
            bt0[nok] = t0;
            btau[nok] = tau;
            nok++;
        }
    }
    lt->nboot_ok = (int)nok;
    if (nok >= 2) {
        double m;
        fh_ana_mean_std(bt0, nok, &m, &lt->t0_err);
        fh_ana_mean_std(btau, nok, &m, &lt->tau_err);
        lt->t0_lo = fh_ana_quantile(bt0, nok, 0.025);
        lt->t0_hi = fh_ana_quantile(bt0, nok, 0.975);
        lt->tau_lo = fh_ana_quantile(btau, nok, 0.025);
        lt->tau_hi = fh_ana_quantile(btau, nok, 0.975);
    }
    if (nok < nb)
        snprintf(lt->note, sizeof lt->note, "%ld of %ld bootstrap fits did not converge", nb - nok, nb);
done:
    free(curve);
    free(frames);
    free(in);
    free(w);
    free(bt0);
    free(btau);
    return rc;
}
