/* Irreps lists: which (l, parity) blocks a feature has, their sizes and offsets, and the text form
 * "32x0e+32x1o" used in model files and logs. All blocks of a feature share one channel count,
 * which keeps every kernel a loop over contiguous channels. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include "fh_equivariant.h"

int fh_eq_irreps_dim(const fh_eq_irreps *ir)
{
    int d = 0;
    for (int b = 0; b < ir->n; b++) d += 2 * ir->l[b] + 1;
    return d;
}

int fh_eq_irreps_offset(const fh_eq_irreps *ir, int block)
{
    int d = 0;
    for (int b = 0; b < block && b < ir->n; b++) d += 2 * ir->l[b] + 1;
    return d;
}

int fh_eq_irreps_find(const fh_eq_irreps *ir, int l, int p)
{
    for (int b = 0; b < ir->n; b++)
        if (ir->l[b] == l && ir->p[b] == p) return b;
    return -1;
}

int fh_eq_irreps_lmax(const fh_eq_irreps *ir)
{
    int lmax = -1;
    for (int b = 0; b < ir->n; b++)
        if (ir->l[b] > lmax) lmax = ir->l[b];
    return lmax;
}

void fh_eq_irreps_sh(int lmax, fh_eq_irreps *ir)
{
    ir->n = 0;
    for (int l = 0; l <= lmax && l <= FH_EQ_LMAX; l++) {
        ir->l[ir->n] = l;
        ir->p[ir->n] = (l % 2) ? -1 : 1;
        ir->n++;
    }
}

void fh_eq_irreps_tp_reachable(const fh_eq_irreps *in, int lmax_sh, int lmax_out,
                               fh_eq_irreps *out)
{
    out->n = 0;
    for (int l = 0; l <= lmax_out && l <= FH_EQ_LMAX; l++) {
        for (int p = 1; p >= -1; p -= 2) {
            int ok = 0;
            for (int b = 0; b < in->n && !ok; b++)
                for (int l2 = 0; l2 <= lmax_sh && !ok; l2++) {
                    int p2 = (l2 % 2) ? -1 : 1;
                    int lo = abs(in->l[b] - l2), hi = in->l[b] + l2;
                    if (l >= lo && l <= hi && in->p[b] * p2 == p) ok = 1;
                }
            if (ok && out->n < FH_EQ_MAX_BLOCKS) {
                out->l[out->n] = l;
                out->p[out->n] = p;
                out->n++;
            }
        }
    }
}

int fh_eq_irreps_parse(const char *text, fh_eq_irreps *ir, int *mul, fh_err *err)
{
    const char *s = text;
    int common = -1;
    ir->n = 0;
    if (!text || !*text) return fh_err_set(err, FH_EINPUT, "empty irreps string");
    while (*s) {
        while (isspace((unsigned char)*s)) s++;
        char *end;
        long a = strtol(s, &end, 10);
        if (end == s) return fh_err_set(err, FH_EINPUT, "irreps \"%s\": expected a number at \"%s\"", text, s);
        long m = 1, l = a;
        s = end;
        if (*s == 'x') {
            m = a;
            s++;
            l = strtol(s, &end, 10);
            if (end == s) return fh_err_set(err, FH_EINPUT, "irreps \"%s\": expected l after 'x'", text);
            s = end;
        }
        if (*s != 'e' && *s != 'o')
            return fh_err_set(err, FH_EINPUT, "irreps \"%s\": expected parity 'e' or 'o' after %ld", text, l);
        int p = (*s == 'e') ? 1 : -1;
        s++;
        if (l < 0 || l > FH_EQ_LMAX)
            return fh_err_set(err, FH_EINPUT, "irreps \"%s\": l = %ld outside 0..%d", text, l, FH_EQ_LMAX);
        if (m <= 0 || m > 100000)
            return fh_err_set(err, FH_EINPUT, "irreps \"%s\": multiplicity %ld out of range", text, m);
        if (common >= 0 && m != common)
            return fh_err_set(err, FH_EINPUT,
                              "irreps \"%s\": all blocks must have the same multiplicity (%d vs %ld)",
                              text, common, m);
        common = (int)m;
        if (ir->n >= FH_EQ_MAX_BLOCKS)
            return fh_err_set(err, FH_EINPUT, "irreps \"%s\": more than %d blocks", text, FH_EQ_MAX_BLOCKS);
        if (fh_eq_irreps_find(ir, (int)l, p) >= 0)
            return fh_err_set(err, FH_EINPUT, "irreps \"%s\": block %ld%c appears twice", text, l,
                              p > 0 ? 'e' : 'o');
        ir->l[ir->n] = (int)l;
        ir->p[ir->n] = p;
        ir->n++;
        while (isspace((unsigned char)*s)) s++;
        if (*s == '+') {
            s++;
            if (!*s) return fh_err_set(err, FH_EINPUT, "irreps \"%s\": trailing '+'", text);
        } else if (*s) {
            return fh_err_set(err, FH_EINPUT, "irreps \"%s\": unexpected \"%s\"", text, s);
        }
    }
    if (mul) *mul = common;
    return FH_OK;
}

int fh_eq_irreps_format(const fh_eq_irreps *ir, int mul, char *buf, size_t size)
{
    size_t used = 0;
    if (size) buf[0] = '\0';
    for (int b = 0; b < ir->n; b++) {
        int w;
        char *dst = used < size ? buf + used : NULL;
        size_t room = used < size ? size - used : 0;
        if (mul > 0)
            w = snprintf(dst, room, "%s%dx%d%c", b ? "+" : "", mul, ir->l[b], ir->p[b] > 0 ? 'e' : 'o');
        else
            w = snprintf(dst, room, "%s%d%c", b ? "+" : "", ir->l[b], ir->p[b] > 0 ? 'e' : 'o');
        if (w < 0) return -1;
        used += (size_t)w;
    }
    return (int)used;
}
