/* Analysis settings: defaults, and the atom lists that come from decks and the command line
 * (1-based there, as chemists count; 0-based inside). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include "fh_analysis.h"
#include "fh_bonds.h"
#include "fh_units.h"

void fh_ana_settings_default(fh_ana_settings *s)
{
    for (int i = 0; i < 4; i++) s->dihedral[i] = s->pyramid[i] = -1;
    for (int i = 0; i < 2 * FH_ANA_MAX_PAIRS; i++) s->ring[i] = -1;
    s->nring = 0;
    s->cis_max = 90.0;
    s->ring_max = 1.75 * FH_ANGSTROM_BOHR;
    s->excited_state = 1;
    s->ground_state = 0;
    s->nboot = 1000;
    s->seed = 1;
    s->max_drift = 0.0;
    s->max_spread = 0.0;
    s->bond_break = FH_BOND_BREAK_DEFAULT;
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

int fh_ana_parse_pairs(const char *text, const char *what, int *out, int *npairs, fh_err *err)
{
    *npairs = 0;
    const char *p = text ? text : "";
    int v[2 * FH_ANA_MAX_PAIRS], n = 0;
    while (*p) {
        while (isspace((unsigned char)*p) || *p == ',') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long a = strtol(p, &end, 10);
        if (end == p || errno || a < 1 || a > 1000000)
            return fh_err_set(err, FH_EINPUT, "%s: expected pairs of atom numbers (1-based), got '%s'",
                              what, text);
        if (n == 2 * FH_ANA_MAX_PAIRS)
            return fh_err_set(err, FH_EINPUT, "%s: at most %d pairs, got more in '%s'", what,
                              FH_ANA_MAX_PAIRS, text);
        v[n++] = (int)a - 1;
        p = end;
    }
    if (n % 2)
        return fh_err_set(err, FH_EINPUT, "%s: expected pairs of atom numbers, got %d numbers in '%s'",
                          what, n, text);
    for (int k = 0; k < n; k += 2)
        if (v[k] == v[k + 1])
            return fh_err_set(err, FH_EINPUT, "%s: pair %d joins atom %d to itself", what, k / 2 + 1,
                              v[k] + 1);
    for (int i = 0; i < n; i++) out[i] = v[i];
    *npairs = n / 2;
    return FH_OK;
}

int fh_ana_stilbene_defaults(fh_ana_settings *s, const int *species, int natoms)
{
    /* 1-based: 1-2 the central C=C; 3-14 one half (H, C-ipso, five ring C, five ring H), 15-26
     * the other in the same order; the ortho carbons are 5, 9 and 17, 21 */
    static const int z[26] = {6, 6, 1, 6, 6, 6, 6, 6, 6, 1, 1, 1, 1, 1,
                              1, 6, 6, 6, 6, 6, 6, 1, 1, 1, 1, 1};
    if (natoms != 26) return 0;
    for (int i = 0; i < 26; i++)
        if (species[i] != z[i]) return 0;
    if (s->dihedral[0] < 0) {
        const int d[4] = {3, 0, 1, 15};
        for (int i = 0; i < 4; i++) s->dihedral[i] = d[i];
    }
    if (s->nring == 0) {
        const int r[8] = {4, 16, 4, 20, 8, 16, 8, 20};
        for (int i = 0; i < 8; i++) s->ring[i] = r[i];
        s->nring = 4;
    }
    if (s->pyramid[0] < 0) {
        const int p[4] = {0, 1, 2, 3};
        for (int i = 0; i < 4; i++) s->pyramid[i] = p[i];
    }
    return 1;
}
