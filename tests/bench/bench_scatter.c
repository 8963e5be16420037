/* bench_scatter: surface-hopping throughput on Tully's model 1 at k = 20 a.u. (the settings of
 * `fusionhop scatter`), one core. Prints the median over repeats of trajectories per second and
 * nuclear steps per second.
 * usage: bench_scatter [ntraj (default 2000)] [repeats (default 7)] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_util.h"
#include "fh_scatter.h"

int main(int argc, char **argv)
{
    long ntraj = argc > 1 ? atol(argv[1]) : 2000;
    int repeats = argc > 2 ? atoi(argv[2]) : 7;
    if (ntraj < 1 || repeats < 1 || repeats > 100) {
        fprintf(stderr, "usage: bench_scatter [ntraj] [repeats]\n");
        return 2;
    }
    double rate[100], steps[100];
    fh_scatter_result res = {0};
    for (int r = 0; r < repeats; r++) {
        fh_scatter_config cfg = fh_scatter_default(1, 20.0, ntraj, 1 + (uint64_t)r);
        fh_err err;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (fh_scatter_run(&cfg, &res, &err) != FH_OK) {
            fprintf(stderr, "bench_scatter: %s\n", err.msg);
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        rate[r] = (double)ntraj / s;
        steps[r] = (double)res.nsteps / s;
    }
    bench_sort_median(rate, repeats);
    bench_sort_median(steps, repeats);
    printf("bench_scatter: Tully model 1, k = 20 a.u., %ld trajectories x %d repeats, one core\n",
           ntraj, repeats);
    printf("trajectories_per_second\t%.0f\t(median; min %.0f, max %.0f)\n", rate[repeats / 2],
           rate[0], rate[repeats - 1]);
    printf("steps_per_second\t%.3g\t(median; %.0f steps per trajectory)\n", steps[repeats / 2],
           (double)res.nsteps / (double)ntraj);
    return 0;
}
