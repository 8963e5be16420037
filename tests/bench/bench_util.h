/* What the benchmarks here share: this thread's CPU time, and the median of repeated samples
 * (the machine is shared, so every figure is a median of repeats). Header only: each
 * tests/bench/bench_*.c is a program of its own. */
#ifndef FH_BENCH_UTIL_H
#define FH_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

/* Seconds of CPU time of the calling thread. */
static inline double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v[0..n) ascending (so v[0] is the fastest sample, v[n-1] the slowest) and returns the
 * median v[n/2]. */
static inline double bench_sort_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), bench_cmp_double);
    return v[n / 2];
}

#endif
