/* A per-process working directory for tests that write files and run `fusionhop` or other tools
 * as subprocesses: `dir` is FH_TEST_BINARY_DIR/<name>_<pid>, and sh() runs a shell command inside
 * it. Include once per test file (the directory is a file-static). */
#ifndef TEST_WORKDIR_H
#define TEST_WORKDIR_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_read_text.h"
#include "test_subprocess_env.h"

static char dir[1024];

/* Creates dir for this process and sets the subprocess environment. */
static inline void workdir_make(const char *name)
{
    snprintf(dir, sizeof dir, "%s/%s_%d", FH_TEST_BINARY_DIR, name, (int)getpid());
    mkdir(dir, 0755);
    fh_test_subprocess_env();
}

/* Removes dir and everything in it; the status of `rm -rf`. */
static inline int workdir_remove(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

/* Runs a shell command in dir; its exit status (-1 if it did not exit normally). */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd, "cd '%s' && ", dir);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
