/* Error records: see fh_error.h for why errors are values, not prints. */
#include "fh_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int fh_err_set(fh_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int fh_err_prefix(fh_err *err, const char *fmt, ...)
{
    if (!err) return FH_EFAIL;
    char head[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t nh = strlen(head), room = sizeof err->msg - 1;
    if (nh > room) nh = room;
    memcpy(err->msg, head, nh);
    size_t no = strnlen(old, room - nh);
    memcpy(err->msg + nh, old, no);
    err->msg[nh + no] = '\0';
    return err->code;
}

void fh_err_clear(fh_err *err)
{
    if (err) {
        err->code = FH_OK;
        err->msg[0] = '\0';
    }
}
