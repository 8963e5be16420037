/* Quality of an ensemble: how well total energy is conserved and how far the model's committee
 * disagrees, over every trajectory that has frames (used or not), so a reader can judge whether
 * the exclusion limits were sensible. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ana_internal.h"
#include "fh_dynamics.h"

static void stats(double *v, long n, double *mean, double *median, double *max)
{
    double sd;
    *max = NAN;
    for (long i = 0; i < n; i++)
        if (isnan(*max) || v[i] > *max) *max = v[i];
    fh_ana_mean_std(v, n, mean, &sd);
    *median = fh_ana_quantile(v, n, 0.5);
}

void fh_ana_quality_compute(const fh_ana_ensemble *e, fh_ana_quality *q)
{
    memset(q, 0, sizeof *q);
    double *d = malloc(sizeof *d * (size_t)(e->ntraj + 1)), *s = malloc(sizeof *s * (size_t)(e->ntraj + 1));
    if (!d || !s) {
        free(d);
        free(s);
        q->drift_mean = q->drift_median = q->drift_max = NAN;
        q->spread_mean = q->spread_median = q->spread_max = NAN;
        return;
    }
    for (long k = 0; k < e->ntraj; k++) {
        const fh_ana_traj *t = &e->traj[k];
        if (t->nframes < 1) continue;
        d[q->n++] = t->max_dev_etot;
        const char *stopped = fh_dyn_stop_name(FH_DYN_STOP_FRAGMENTED);
        if (!isnan(t->apart_time) || strncmp(t->stop_reason, stopped, strlen(stopped)) == 0)
            q->napart++;
        if (t->max_spread >= 0) s[q->nspread++] = t->max_spread;
    }
    stats(d, q->n, &q->drift_mean, &q->drift_median, &q->drift_max);
    stats(s, q->nspread, &q->spread_mean, &q->spread_median, &q->spread_max);
    free(d);
    free(s);
}
