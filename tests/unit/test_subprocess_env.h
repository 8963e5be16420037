/* Environment for tests that run `fusionhop` or `mpirun` as subprocesses: Open MPI must be allowed
 * to run as root (CI does) and to oversubscribe the cores, and LeakSanitizer cannot trace a
 * process that has started Open MPI's threads (it crashes at exit), so sanitizer builds skip leak
 * detection in those subprocesses; the library code they run is leak-checked in-process by the
 * other unit tests. */
#ifndef TEST_SUBPROCESS_ENV_H
#define TEST_SUBPROCESS_ENV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void fh_test_subprocess_env(void)
{
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
    const char *old = getenv("ASAN_OPTIONS");
    if (old && strstr(old, "detect_leaks=0")) return;
    char opts[1024];
    snprintf(opts, sizeof opts, "%s%sdetect_leaks=0", old ? old : "", old && *old ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
}

#endif
