/* A per-process working directory for tests that write files and run `fusionhop` or other tools
 * as subprocesses: `dir` is FH_TEST_BINARY_DIR/<name>_<pid>, and sh() runs a shell command inside
 * it. Include once per test file (the directory is a file-static). */
#ifndef TEST_WORKDIR_H
#define TEST_WORKDIR_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Runs a shell command in dir that must be refused as an input error: exit status 2, and its
 * standard error contains `want` (not checked when NULL). Fails the test naming the command, the
 * status and the message otherwise. Standard error goes to dir/expect_error.log. */
static void expect_error(const char *want, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), unused));
static void expect_error(const char *want, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = sh("%s 2> expect_error.log", cmd);
    char *e = read_text_in(dir, "expect_error.log");
    cr_assert_eq(st, 2, "`%s`: exit status %d, not 2; stderr: %s", cmd, st, e);
    cr_assert(!want || strstr(e, want), "`%s`: stderr lacks \"%s\": %s", cmd, want, e);
    free(e);
}

#endif
