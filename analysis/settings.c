/* Analysis settings: defaults, and the atom lists that come from decks and the command line
 * (1-based there, as chemists count; 0-based inside). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include "fh_analysis.h"
#include "fh_units.h"

void fh_ana_settings_default(fh_ana_settings *s)
{
    for (int i = 0; i < 4; i++) s->dihedral[i] = s->pyramid[i] = -1;
    s->ring[0] = s->ring[1] = -1;
    s->cis_max = 90.0;
    s->ring_max = 1.75 * FH_ANGSTROM_BOHR;
    s->excited_state = 1;
    s->ground_state = 0;
    s->nboot = 1000;
    s->seed = 1;
    s->max_drift = 0.0;
    s->max_spread = 0.0;
    s->max_points = 1000;
}

int fh_ana_parse_atoms(const char *text, int n, const char *what, int *out, fh_err *err)
{
    out[0] = -1;
    const char *p = text ? text : "";
    while (isspace((unsigned char)*p)) p++;
    if (!*p) return FH_OK;
    int got = 0;
    int tmp[8];
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || v > 1000000)
            return fh_err_set(err, FH_EINPUT, "%s: expected %d atom numbers (1-based), got '%s'",
                              what, n, text);
        if (got == n)
            return fh_err_set(err, FH_EINPUT, "%s: expected %d atom numbers, got more in '%s'", what,
                              n, text);
        tmp[got++] = (int)v - 1;
        p = end;
        while (isspace((unsigned char)*p) || *p == ',') p++;
    }
    if (got != n)
        return fh_err_set(err, FH_EINPUT, "%s: expected %d atom numbers, got %d in '%s'", what, n,
                          got, text);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (tmp[i] == tmp[j])
                return fh_err_set(err, FH_EINPUT, "%s: atom %d appears twice in '%s'", what,
                                  tmp[i] + 1, text);
    for (int i = 0; i < n; i++) out[i] = tmp[i];
    return FH_OK;
}
