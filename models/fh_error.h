/* Errors as codes plus a message, GSL-style: libraries never print or exit; they fill an fh_err
 * and return its code, and the caller (ultimately app/) decides what to show and which exit code
 * to use. Codes equal the program's exit codes so the app can pass them straight through. */
#ifndef FH_ERROR_H
#define FH_ERROR_H

enum {
    FH_OK = 0,     /* success */
    FH_EFAIL = 1,  /* runtime failure: I/O, a provider crashed, no convergence, out of memory */
    FH_EINPUT = 2  /* bad input or usage: malformed deck, file, option */
};

typedef struct {
    int code;
    char msg[4096]; /* several lines when a parser reports all errors at once */
} fh_err;

/* Record an error (printf-style message) and return its code. A NULL err is allowed. */
int fh_err_set(fh_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix the current message, e.g. with the file name that was being read. */
int fh_err_prefix(fh_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fh_err_clear(fh_err *err);

#endif
