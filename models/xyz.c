/* XYZ reader and writer. Strict like the deck parser: a malformed line is an input error that
 * names file and line, because a silently misread geometry would poison a whole ensemble. */
#include "fh_xyz.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fh_units.h"

void fh_xyz_free(fh_xyz *xyz)
{
    if (!xyz) return;
    for (int i = 0; i < xyz->nframes; i++) free(xyz->comments[i]);
    free(xyz->comments);
    free(xyz->z);
    free(xyz->x);
    free(xyz);
}

static char *chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = '\0';
    return s;
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s)) return 0;
    return 1;
}

int fh_xyz_read(const char *path, fh_xyz **out, fh_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) return fh_err_set(err, FH_EINPUT, "%s: error: cannot open: %s", path, strerror(errno));
    fh_xyz *g = calloc(1, sizeof *g);
    char *line = NULL; /* getline: lines of any length (a long comment line is valid XYZ) */
    size_t line_cap = 0;
    int lineno = 0, rc = FH_OK, cap = 0;
    while (g && rc == FH_OK && getline(&line, &line_cap, f) != -1) {
        lineno++;
        if (blank(line)) continue; /* tolerate blank lines between frames and at the end */
        char *end;
        long n = strtol(line, &end, 10);
        if (end == line || !blank(end) || n <= 0 || n > 1000000) {
            rc = fh_err_set(err, FH_EINPUT, "%s:%d: error: expected the number of atoms, got '%s'",
                            path, lineno, chomp(line));
            break;
        }
        if (g->nframes > 0 && n != g->natoms) {
            rc = fh_err_set(err, FH_EINPUT,
                            "%s:%d: error: frame %d has %ld atoms, the first frame has %d", path,
                            lineno, g->nframes + 1, n, g->natoms);
            break;
        }
        if (g->nframes == 0) {
            g->natoms = (int)n;
            g->z = calloc((size_t)n, sizeof *g->z);
        }
        if (g->nframes == cap) {
            cap = cap ? 2 * cap : 4;
            double *nx = realloc(g->x, (size_t)cap * (size_t)n * 3 * sizeof *nx);
            char **nc = realloc(g->comments, (size_t)cap * sizeof *nc);
            if (nx) g->x = nx;
            if (nc) g->comments = nc;
            if (!nx || !nc || !g->z) {
                rc = fh_err_set(err, FH_EFAIL, "%s: out of memory", path);
                break;
            }
        }
        int fr = g->nframes;
        if (getline(&line, &line_cap, f) == -1) {
            rc = fh_err_set(err, FH_EINPUT, "%s:%d: error: missing comment line", path, lineno + 1);
            break;
        }
        lineno++;
        g->comments[fr] = strdup(chomp(line));
        g->nframes++;
        for (int a = 0; a < n; a++) {
            if (getline(&line, &line_cap, f) == -1) {
                rc = fh_err_set(err, FH_EINPUT, "%s:%d: error: file ends after %d of %ld atoms",
                                path, lineno, a, n);
                break;
            }
            lineno++;
            char sym[16];
            double p[3];
            int used = 0;
            if (sscanf(line, "%15s %lf %lf %lf%n", sym, &p[0], &p[1], &p[2], &used) != 4 ||
                !blank(line + used)) {
                rc = fh_err_set(err, FH_EINPUT,
                                "%s:%d: error: expected 'symbol x y z' (Angstrom), got '%s'", path,
                                lineno, chomp(line));
                break;
            }
            int z = isdigit((unsigned char)sym[0]) ? atoi(sym) : fh_element_z(sym);
            if (z < 1 || z > FH_MAX_Z) {
                rc = fh_err_set(err, FH_EINPUT, "%s:%d: error: unknown element '%s'", path, lineno,
                                sym);
                break;
            }
            if (!isfinite(p[0]) || !isfinite(p[1]) || !isfinite(p[2])) {
                rc = fh_err_set(err, FH_EINPUT, "%s:%d: error: coordinate is not finite", path,
                                lineno);
                break;
            }
            if (fr == 0)
                g->z[a] = z;
            else if (g->z[a] != z) {
                rc = fh_err_set(err, FH_EINPUT,
                                "%s:%d: error: frame %d: atom %d is %s here but %s in the first "
                                "frame", path, lineno, fr + 1, a + 1, sym, fh_element_symbol(g->z[a]));
                break;
            }
            for (int k = 0; k < 3; k++)
                g->x[((size_t)fr * (size_t)n + (size_t)a) * 3 + (size_t)k] = p[k] * FH_ANGSTROM_BOHR;
        }
    }
    int rerr = ferror(f) ? errno : 0; /* EISDIR: a directory opens, but does not read */
    free(line);
    fclose(f);
    if (!g) return fh_err_set(err, FH_EFAIL, "%s: out of memory", path);
    if (rc == FH_OK && rerr)
        rc = fh_err_set(err, FH_EINPUT, "%s: error: cannot read: %s", path,
                        rerr == EISDIR ? "it is a directory" : strerror(rerr));
    if (rc == FH_OK && g->nframes == 0)
        rc = fh_err_set(err, FH_EINPUT, "%s: error: no geometry in file", path);
    if (rc != FH_OK) {
        fh_xyz_free(g);
        return rc;
    }
    *out = g;
    return FH_OK;
}

int fh_xyz_write_frame(FILE *f, int natoms, const int *z, const double *x, const char *comment)
{
    if (fprintf(f, "%d\n%s\n", natoms, comment ? comment : "") < 0) return FH_EFAIL;
    for (int a = 0; a < natoms; a++)
        if (fprintf(f, "%-2s %18.10f %18.10f %18.10f\n", fh_element_symbol(z[a]),
                    x[3 * a] * FH_BOHR_ANGSTROM, x[3 * a + 1] * FH_BOHR_ANGSTROM,
                    x[3 * a + 2] * FH_BOHR_ANGSTROM) < 0)
            return FH_EFAIL;
    return FH_OK;
}
