/* Bootstrap over trajectories: the error of an ensemble average comes from how much it changes
 * when the ensemble is redrawn with replacement. Weights (draw counts) are drawn once from a
 * seeded GSL generator so every table of one report uses the same resamples, reproducibly. */
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>

#include "ana_internal.h"

int *fh_ana_boot_weights(long nboot, long n, uint64_t seed)
{
    int *w = calloc((size_t)(nboot * n > 0 ? nboot * n : 1), sizeof *w);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!w || !rng) {
        free(w);
        if (rng) gsl_rng_free(rng);
        return NULL;
    }
    gsl_rng_set(rng, (unsigned long)seed);
    for (long b = 0; b < nboot; b++)
        for (long k = 0; k < n; k++) w[b * n + (long)gsl_rng_uniform_int(rng, (unsigned long)n)]++;
    gsl_rng_free(rng);
    return w;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double fh_ana_quantile(double *v, long n, double q)
{
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double pos = q * (double)(n - 1);
    long i = (long)floor(pos);
    if (i >= n - 1) return v[n - 1];
    double f = pos - (double)i;
    return v[i] + f * (v[i + 1] - v[i]);
}

void fh_ana_mean_std(const double *v, long n, double *mean, double *std)
{
    double m = 0.0, s = 0.0;
    for (long i = 0; i < n; i++) m += v[i];
    m = n > 0 ? m / (double)n : NAN;
    for (long i = 0; i < n; i++) s += (v[i] - m) * (v[i] - m);
    *mean = m;
    *std = n > 1 ? sqrt(s / (double)(n - 1)) : NAN;
}
