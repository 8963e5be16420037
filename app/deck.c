/* The deck parser. Strict by design: a typo in a 1 ps production deck should cost a second, not a
 * day, so every line is checked against the schema (app/schema.c) and every mistake in the deck is
 * reported at once, in GNU `file:line:col: error: ...` format, with a suggestion where one is likely.
 * Values are converted once, here, to atomic units; the rest of the program never sees a unit. */
#include "fh_deck.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_REPORTED 40

typedef struct {
    int given;    /* set in the deck or by --set */
    int seen;     /* written in the deck or by --set, even if its value was invalid */
    int has;      /* has a value (given or defaulted) */
    int line;     /* where it was given (0: default, -N: --set number N) */
    double real;  /* FH_KEY_REAL, atomic units */
    long integer; /* FH_KEY_INT, FH_KEY_BOOL */
    char *text;   /* STRING, CHOICE (lower-case), PATH (resolved); owned */
} value;

struct fh_deck {
    char *name;
    char *dir;
    int nkeys;
    const fh_deck_key *schema;
    value *values; /* [nkeys], parallel to the schema */
    int training;  /* the deck has a [train] section: only [model] and [train] keys are required */
    int sampling;  /* the deck has a [sample] section: [dynamics] keys are not required */
};

/* Diagnostics collected while parsing: every error, in order. */
typedef struct {
    char *buf;
    size_t len, cap;
    int count;
} diag;

static void diag_add(diag *dg, const char *where, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void diag_add(diag *dg, const char *where, int line, int col, const char *fmt, ...)
{
    char msg[1024], head[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(head, sizeof head, "%s:%d:%d: error: ", where, line, col);
    else
        snprintf(head, sizeof head, "%s: error: ", where);
    dg->count++;
    if (dg->count > MAX_REPORTED) return;
    size_t need = strlen(head) + strlen(msg) + 2;
    if (dg->len + need + 1 > dg->cap) {
        size_t cap = (dg->cap + need) * 2;
        char *nb = realloc(dg->buf, cap);
        if (!nb) return;
        dg->buf = nb;
        dg->cap = cap;
    }
    dg->len += (size_t)sprintf(dg->buf + dg->len, "%s%s\n", head, msg);
}

/* ---- small string helpers ---- */

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

static void lower(char *s)
{
    for (; *s; s++) *s = (char)tolower((unsigned char)*s);
}

/* Levenshtein distance, case-insensitive, for "did you mean" suggestions. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int m = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < m) m = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < m) m = d[i - 1][j - 1] + cost;
            d[i][j] = m;
        }
    return d[la][lb];
}

/* Closest of the candidates within a distance that makes a typo plausible, or NULL. */
static const char *closest(const char *word, const char **cands, int n)
{
    const char *best = NULL;
    int bestd = 99;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(word, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    int limit = strlen(word) <= 3 ? 1 : 2;
    return bestd <= limit ? best : NULL;
}

/* ---- schema look-ups ---- */

static int schema_count(const fh_deck_key *s)
{
    int n = 0;
    while (s[n].section) n++;
    return n;
}

static int section_known(const fh_deck_key *s, const char *sec)
{
    for (; s->section; s++)
        if (strcasecmp(s->section, sec) == 0) return 1;
    return 0;
}

static int key_index(const fh_deck_key *s, const char *sec, const char *key)
{
    for (int i = 0; s[i].section; i++)
        if (strcasecmp(s[i].section, sec) == 0 && strcasecmp(s[i].key, key) == 0) return i;
    return -1;
}

static const char *suggest_section(const fh_deck_key *s, const char *sec)
{
    const char *c[256];
    int n = 0;
    for (int i = 0; s[i].section && n < 256; i++)
        if (i == 0 || strcmp(s[i].section, s[i - 1].section) != 0) c[n++] = s[i].section;
    return closest(sec, c, n);
}

static const char *suggest_key(const fh_deck_key *s, const char *sec, const char *key)
{
    const char *c[256];
    int n = 0;
    for (int i = 0; s[i].section && n < 256; i++)
        if (strcasecmp(s[i].section, sec) == 0) c[n++] = s[i].key;
    return closest(key, c, n);
}

/* Section that has exactly this key, for "it belongs in [initial]". */
static const char *section_of_key(const fh_deck_key *s, const char *key)
{
    for (; s->section; s++)
        if (strcasecmp(s->key, key) == 0) return s->section;
    return NULL;
}

/* ---- value conversion ---- */

static void describe_range(const fh_deck_key *k, char *buf, size_t n)
{
    double f = 1.0;
    const char *u = "";
    if (k->type == FH_KEY_REAL && k->bare_unit && fh_unit_factor(k->unit, k->bare_unit, &f) == 0)
        u = k->bare_unit;
    if (k->type == FH_KEY_REAL)
        snprintf(buf, n, "[%g, %g]%s%s", k->min / f, k->max / f, *u ? " " : "", u);
    else
        snprintf(buf, n, "[%.0f, %.0f]", k->min, k->max);
}

static int in_range(const fh_deck_key *k, double v)
{
    return k->min > k->max || (v >= k->min && v <= k->max);
}

static char *resolve_path(const char *dir, const char *p)
{
    if (!p[0] || p[0] == '/' || !dir || !*dir) return xstrdup(p);
    size_t n = strlen(dir) + strlen(p) + 2;
    char *r = malloc(n);
    if (r) snprintf(r, n, "%s/%s", dir, p);
    return r;
}

static int parse_bool(const char *s, long *out)
{
    static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) return *out = 1, 0;
        if (strcasecmp(s, no[i]) == 0) return *out = 0, 0;
    }
    return -1;
}

/* Convert the text of one value for schema row k into v. Reports errors through dg at
 * (where, line, col) and returns -1 on error. */
static int convert(const fh_deck *d, const fh_deck_key *k, const char *text, value *v, diag *dg,
                   const char *where, int line, int col)
{
    char range[128];
    switch (k->type) {
    case FH_KEY_REAL: {
        char *end;
        errno = 0;
        double x = strtod(text, &end);
        if (end == text || errno == ERANGE || !isfinite(x)) {
            diag_add(dg, where, line, col, "'%s' is not a number (key '%s' in [%s] expects %s%s)",
                     text, k->key, k->section,
                     k->unit == FH_UNIT_NONE ? "a number" : "a ", k->unit == FH_UNIT_NONE ? ""
                                                                 : fh_unit_kind_name(k->unit));
            return -1;
        }
        char *unit = trim(end);
        double f = 1.0;
        if (*unit) {
            if (k->unit == FH_UNIT_NONE) {
                diag_add(dg, where, line, col + (int)(unit - text),
                         "key '%s' in [%s] is dimensionless; unexpected unit '%s'", k->key,
                         k->section, unit);
                return -1;
            }
            if (fh_unit_factor(k->unit, unit, &f) != 0) {
                diag_add(dg, where, line, col + (int)(unit - text),
                         "unit '%s' is not a %s unit (key '%s' in [%s] accepts %s)", unit,
                         fh_unit_kind_name(k->unit), k->key, k->section, fh_unit_allowed(k->unit));
                return -1;
            }
        } else if (k->bare_unit) {
            int rc = fh_unit_factor(k->unit, k->bare_unit, &f);
            assert(rc == 0);
            (void)rc;
        }
        x *= f;
        if (!isfinite(x)) { /* e.g. 1e308 Angstrom: finite as written, infinite in bohr */
            diag_add(dg, where, line, col, "value '%s' for '%s' in [%s] is too large", text, k->key,
                     k->section);
            return -1;
        }
        if (!in_range(k, x)) {
            describe_range(k, range, sizeof range);
            diag_add(dg, where, line, col, "value '%s' for '%s' in [%s] is out of range %s", text,
                     k->key, k->section, range);
            return -1;
        }
        v->real = x;
        return 0;
    }
    case FH_KEY_INT: {
        char *end;
        errno = 0;
        long x = strtol(text, &end, 10);
        if (end == text || *trim(end) || errno == ERANGE) {
            diag_add(dg, where, line, col, "'%s' is not an integer (key '%s' in [%s])", text,
                     k->key, k->section);
            return -1;
        }
        if (!in_range(k, (double)x)) {
            describe_range(k, range, sizeof range);
            diag_add(dg, where, line, col, "value '%s' for '%s' in [%s] is out of range %s", text,
                     k->key, k->section, range);
            return -1;
        }
        v->integer = x;
        return 0;
    }
    case FH_KEY_BOOL:
        if (parse_bool(text, &v->integer) != 0) {
            diag_add(dg, where, line, col,
                     "'%s' is not a boolean (key '%s' in [%s] expects true/false, yes/no, on/off)",
                     text, k->key, k->section);
            return -1;
        }
        return 0;
    case FH_KEY_CHOICE: {
        const char *c[64];
        char buf[1024];
        int n = 0;
        snprintf(buf, sizeof buf, "%s", k->choices);
        for (char *save, *t = strtok_r(buf, "|", &save); t && n < 64; t = strtok_r(NULL, "|", &save))
            c[n++] = t;
        for (int i = 0; i < n; i++)
            if (strcasecmp(c[i], text) == 0) {
                free(v->text);
                v->text = xstrdup(c[i]);
                lower(v->text);
                return 0;
            }
        const char *s = closest(text, c, n);
        if (s)
            diag_add(dg, where, line, col, "'%s' is not a valid '%s' in [%s]; did you mean '%s'?",
                     text, k->key, k->section, s);
        else
            diag_add(dg, where, line, col, "'%s' is not a valid '%s' in [%s] (choose one of: %s)",
                     text, k->key, k->section, k->choices);
        return -1;
    }
    case FH_KEY_STRING:
        free(v->text);
        v->text = xstrdup(text);
        return 0;
    case FH_KEY_PATH:
        free(v->text);
        v->text = resolve_path(d->dir, text);
        return 0;
    }
    return -1;
}

/* Strip a trailing comment (a '#' outside double quotes) and surrounding quotes of a value. */
static void strip_comment(char *s)
{
    int q = 0;
    for (; *s; s++) {
        if (*s == '"') q = !q;
        if (*s == '#' && !q) {
            *s = '\0';
            return;
        }
    }
}

static char *unquote(char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s[n - 1] = '\0';
        return s + 1;
    }
    return s;
}

/* Assign one key (from a deck line or --set) after checking it against the schema. */
static void assign(fh_deck *d, const char *sec, int sec_known, const char *key, int keycol,
                   char *val, int quoted, int valcol, diag *dg, const char *where, int line,
                   int is_override)
{
    if (!sec_known) return; /* the section error was already reported */
    int ki = key_index(d->schema, sec, key);
    if (ki < 0) {
        const char *s = suggest_key(d->schema, sec, key);
        const char *other = section_of_key(d->schema, key);
        if (s)
            diag_add(dg, where, line, keycol, "unknown key '%s' in [%s]; did you mean '%s'?", key,
                     sec, s);
        else if (other)
            diag_add(dg, where, line, keycol, "unknown key '%s' in [%s]; it belongs in [%s]", key,
                     sec, other);
        else
            diag_add(dg, where, line, keycol, "unknown key '%s' in [%s]", key, sec);
        return;
    }
    value *v = &d->values[ki];
    if (v->seen && !is_override) {
        diag_add(dg, where, line, keycol, "duplicate key '%s' in [%s] (first set on line %d)", key,
                 sec, v->line);
        return;
    }
    v->seen = 1;
    v->line = is_override ? -line : line;
    /* An explicit "" sets a text or path key to nothing (e.g. --set train.init_model="" to
     * train from scratch with a deck that names an initial model); a bare empty value is a
     * mistake. */
    fh_key_type t = d->schema[ki].type;
    if (!*val && !(quoted && (t == FH_KEY_STRING || t == FH_KEY_PATH))) {
        diag_add(dg, where, line, valcol, "missing value for key '%s' in [%s]", key, sec);
        return;
    }
    if (convert(d, &d->schema[ki], val, v, dg, where, line, valcol) == 0) v->given = v->has = 1;
}

static void parse_text(fh_deck *d, const char *text, diag *dg)
{
    char *copy = xstrdup(text);
    char sec[128] = "";
    int sec_known = 0, have_sec = 0;
    int section_line[256] = {0}; /* first line of each schema section seen */
    int line = 0;
    for (char *p = copy; p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        line++;
        char *raw = p;
        p = nl ? nl + 1 : NULL;
        size_t rl = strlen(raw);
        if (rl && raw[rl - 1] == '\r') raw[rl - 1] = '\0';
        strip_comment(raw);
        char *s = trim(raw);
        if (!*s) continue;
        int col = (int)(s - raw) + 1;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close) {
                diag_add(dg, d->name, line, col, "section header without closing ']'");
                have_sec = 1, sec_known = 0;
                continue;
            }
            char *rest = trim(close + 1);
            if (*rest) {
                diag_add(dg, d->name, line, (int)(rest - raw) + 1,
                         "unexpected text after section header");
            }
            *close = '\0';
            char *name = trim(s + 1);
            int ncol = (int)(name - raw) + 1;
            snprintf(sec, sizeof sec, "%s", name);
            lower(sec);
            have_sec = 1;
            sec_known = *sec && section_known(d->schema, sec);
            if (sec_known && strcmp(sec, "train") == 0) d->training = 1;
            if (sec_known && strcmp(sec, "sample") == 0) d->sampling = 1;
            if (!*sec) {
                diag_add(dg, d->name, line, col, "empty section name");
            } else if (!sec_known) {
                const char *sg = suggest_section(d->schema, sec);
                if (sg)
                    diag_add(dg, d->name, line, ncol, "unknown section [%s]; did you mean [%s]?",
                             name, sg);
                else
                    diag_add(dg, d->name, line, ncol, "unknown section [%s]", name);
            } else {
                int first = -1;
                for (int i = 0; i < d->nkeys && i < 256; i++)
                    if (strcmp(d->schema[i].section, sec) == 0) {
                        first = i;
                        break;
                    }
                if (first >= 0 && section_line[first]) {
                    diag_add(dg, d->name, line, ncol, "section [%s] appears twice (first on line %d)",
                             sec, section_line[first]);
                    sec_known = 0; /* do not report its keys as duplicates as well */
                } else if (first >= 0) {
                    section_line[first] = line;
                }
            }
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            diag_add(dg, d->name, line, col, "expected 'key = value' or '[section]', got '%s'", s);
            continue;
        }
        *eq = '\0';
        char *key = trim(s);
        char *val = trim(eq + 1);
        int valcol = (int)(val - raw) + 1;
        val = unquote(val);
        int quoted = val != trim(eq + 1);
        if (quoted) valcol++;
        if (!*key) {
            diag_add(dg, d->name, line, col, "missing key before '='");
            continue;
        }
        for (char *c = key; *c; c++)
            if (!(isalnum((unsigned char)*c) || *c == '_')) {
                diag_add(dg, d->name, line, col, "invalid key '%s' (letters, digits and '_' only)",
                         key);
                key = NULL;
                break;
            }
        if (!key) continue;
        if (!have_sec) {
            const char *other = section_of_key(d->schema, key);
            if (other)
                diag_add(dg, d->name, line, col, "key '%s' outside any section; it belongs in [%s]",
                         key, other);
            else
                diag_add(dg, d->name, line, col, "key '%s' outside any section", key);
            continue;
        }
        assign(d, sec, sec_known, key, col, val, quoted, valcol, dg, d->name, line, 0);
    }
    free(copy);
}

static void parse_overrides(fh_deck *d, char **ov, int n, diag *dg)
{
    for (int i = 0; i < n; i++) {
        char *copy = xstrdup(ov[i]);
        char *eq = strchr(copy, '=');
        char *dot = strchr(copy, '.');
        if (!eq || !dot || dot > eq) {
            diag_add(dg, "--set", i + 1, 1, "expected 'section.key=value', got '%s'", ov[i]);
            free(copy);
            continue;
        }
        *dot = '\0';
        *eq = '\0';
        char *sec = trim(copy), *key = trim(dot + 1), *raw = trim(eq + 1), *val = unquote(raw);
        int quoted = val != raw;
        lower(sec);
        int known = section_known(d->schema, sec);
        if (!known) {
            const char *sg = suggest_section(d->schema, sec);
            if (sg)
                diag_add(dg, "--set", i + 1, 1, "unknown section [%s]; did you mean [%s]?", sec, sg);
            else
                diag_add(dg, "--set", i + 1, 1, "unknown section [%s]", sec);
        }
        assign(d, sec, known, key, (int)(key - copy) + 1, val, quoted, (int)(val - copy) + 1, dg,
               "--set", i + 1, 1);
        free(copy);
    }
}

static void apply_defaults(fh_deck *d, diag *dg)
{
    for (int i = 0; i < d->nkeys; i++) {
        const fh_deck_key *k = &d->schema[i];
        value *v = &d->values[i];
        if (v->given || v->seen) continue;
        int needed = !d->training || strcmp(k->section, "model") == 0 ||
                     strcmp(k->section, "train") == 0;
        if (d->sampling && !d->training && strcmp(k->section, "dynamics") == 0) needed = 0;
        if (!k->def && needed) {
            diag_add(dg, d->name, 0, 0, "missing required key '%s' in [%s] (%s)", k->key,
                     k->section, k->help);
            continue;
        }
        if (!k->def || !*k->def) continue; /* optional (or not needed here), no default */
        if (convert(d, k, k->def, v, dg, "schema default", 0, 0) == 0) v->has = 1;
    }
}

static char *dirname_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return xstrdup(".");
    if (slash == path) return xstrdup("/");
    size_t n = (size_t)(slash - path);
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, path, n);
        r[n] = '\0';
    }
    return r;
}

int fh_deck_parse(const char *name, const char *text, char **overrides, int noverrides,
                  fh_deck **out, fh_err *err)
{
    *out = NULL;
    fh_deck *d = calloc(1, sizeof *d);
    if (!d) return fh_err_set(err, FH_EFAIL, "out of memory");
    d->schema = fh_deck_schema();
    d->nkeys = schema_count(d->schema);
    d->name = xstrdup(name);
    d->dir = dirname_of(name);
    d->values = calloc((size_t)d->nkeys, sizeof *d->values);
    if (!d->name || !d->dir || !d->values) {
        fh_deck_free(d);
        return fh_err_set(err, FH_EFAIL, "out of memory");
    }
    diag dg = {0};
    parse_text(d, text, &dg);
    parse_overrides(d, overrides, noverrides, &dg);
    apply_defaults(d, &dg);
    if (dg.count) {
        if (dg.count > MAX_REPORTED)
            fh_err_set(err, FH_EINPUT, "%s%s: error: %d more errors not shown\n", dg.buf, name,
                       dg.count - MAX_REPORTED);
        else
            fh_err_set(err, FH_EINPUT, "%s", dg.buf);
        /* drop the final newline: callers print the message with one */
        if (err) {
            size_t n = strlen(err->msg);
            if (n && err->msg[n - 1] == '\n') err->msg[n - 1] = '\0';
        }
        free(dg.buf);
        fh_deck_free(d);
        return FH_EINPUT;
    }
    free(dg.buf);
    *out = d;
    return FH_OK;
}

int fh_deck_load(const char *path, char **overrides, int noverrides, fh_deck **out, fh_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return fh_err_set(err, FH_EINPUT, "%s: error: cannot open deck: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (size_t n; buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0;) {
        len += n;
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            } else {
                buf = nb;
            }
        }
    }
    int rerr = ferror(f) ? errno : 0; /* EISDIR: a directory opens, but does not read */
    fclose(f);
    if (!buf) return fh_err_set(err, FH_EFAIL, "%s: out of memory", path);
    if (rerr) {
        free(buf);
        return fh_err_set(err, FH_EINPUT, "%s: error: cannot read deck: %s", path,
                          rerr == EISDIR ? "it is a directory" : strerror(rerr));
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        free(buf);
        return fh_err_set(err, FH_EINPUT, "%s: error: not a text file (contains NUL bytes)", path);
    }
    int rc = fh_deck_parse(path, buf, overrides, noverrides, out, err);
    free(buf);
    return rc;
}

void fh_deck_free(fh_deck *d)
{
    if (!d) return;
    if (d->values)
        for (int i = 0; i < d->nkeys; i++) free(d->values[i].text);
    free(d->values);
    free(d->name);
    free(d->dir);
    free(d);
}

/* ---- accessors ---- */

static const value *lookup(const fh_deck *d, const char *sec, const char *key, fh_key_type t)
{
    int i = key_index(d->schema, sec, key);
    assert(i >= 0 && "deck key not in schema");
    int ok = d->schema[i].type == t ||
             (t == FH_KEY_STRING && (d->schema[i].type == FH_KEY_CHOICE ||
                                     d->schema[i].type == FH_KEY_PATH));
    assert(ok && "deck key read with the wrong type");
    (void)ok;
    return &d->values[i];
}

double fh_deck_real(const fh_deck *d, const char *s, const char *k)
{
    return lookup(d, s, k, FH_KEY_REAL)->real;
}

long fh_deck_int(const fh_deck *d, const char *s, const char *k)
{
    return lookup(d, s, k, FH_KEY_INT)->integer;
}

int fh_deck_bool(const fh_deck *d, const char *s, const char *k)
{
    return (int)lookup(d, s, k, FH_KEY_BOOL)->integer;
}

const char *fh_deck_string(const fh_deck *d, const char *s, const char *k)
{
    const value *v = lookup(d, s, k, FH_KEY_STRING);
    return v->text ? v->text : "";
}

int fh_deck_given(const fh_deck *d, const char *s, const char *k)
{
    int i = key_index(d->schema, s, k);
    assert(i >= 0);
    return d->values[i].given;
}

int fh_deck_is_training(const fh_deck *d) { return d->training; }
int fh_deck_is_sampling(const fh_deck *d) { return d->sampling; }

int fh_deck_has(const fh_deck *d, const char *s, const char *k)
{
    int i = key_index(d->schema, s, k);
    assert(i >= 0);
    return d->values[i].has;
}

const char *fh_deck_dir(const fh_deck *d) { return d->dir; }

/* ---- printing ---- */

static void format_value(const fh_deck_key *k, const value *v, char *buf, size_t n)
{
    switch (k->type) {
    case FH_KEY_REAL:
        if (k->unit == FH_UNIT_NONE)
            snprintf(buf, n, "%.17g", v->real);
        else
            snprintf(buf, n, "%.17g %s", v->real, fh_unit_au_name(k->unit));
        break;
    case FH_KEY_INT: snprintf(buf, n, "%ld", v->integer); break;
    case FH_KEY_BOOL: snprintf(buf, n, "%s", v->integer ? "true" : "false"); break;
    default: {
        const char *t = v->text ? v->text : "";
        int quote = strpbrk(t, "#\" \t") != NULL || !*t;
        snprintf(buf, n, quote ? "\"%s\"" : "%s", t);
        break;
    }
    }
}

char *fh_deck_resolved_text(const fh_deck *d)
{
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    out[0] = '\0';
    const char *cur = NULL;
    for (int i = 0; i < d->nkeys; i++) {
        const fh_deck_key *k = &d->schema[i];
        const value *v = &d->values[i];
        char line[2048], val[1536], note[128] = "";
        if (!cur || strcmp(cur, k->section) != 0) {
            snprintf(line, sizeof line, "%s[%s]\n", cur ? "\n" : "", k->section);
            cur = k->section;
        } else {
            line[0] = '\0';
        }
        size_t ll = strlen(line);
        if (!v->has) {
            snprintf(line + ll, sizeof line - ll, "# %s = (unset)\n", k->key);
        } else {
            format_value(k, v, val, sizeof val);
            double f;
            if (k->type == FH_KEY_REAL && k->bare_unit && k->unit != FH_UNIT_NONE &&
                strcasecmp(k->bare_unit, fh_unit_au_name(k->unit)) != 0 &&
                fh_unit_factor(k->unit, k->bare_unit, &f) == 0)
                snprintf(note, sizeof note, "  # %.10g %s", v->real / f, k->bare_unit);
            if (!v->given && !*note) snprintf(note, sizeof note, "  # default");
            snprintf(line + ll, sizeof line - ll, "%s = %s%s\n", k->key, val, note);
        }
        size_t need = strlen(line);
        if (len + need + 1 > cap) {
            char *nb = realloc(out, cap = (cap + need) * 2);
            if (!nb) {
                free(out);
                return NULL;
            }
            out = nb;
        }
        memcpy(out + len, line, need + 1);
        len += need;
    }
    return out;
}

void fh_deck_print_schema(FILE *f)
{
    static const char *type_names[] = {"real", "integer", "boolean", "string", "choice", "path"};
    const fh_deck_key *s = fh_deck_schema();
    const char *cur = NULL;
    fprintf(f, "Deck keys by section. Numbers may carry units; a bare number is in the unit shown.\n"
               "Keys are case-insensitive; '#' starts a comment.\n");
    for (; s->section; s++) {
        if (!cur || strcmp(cur, s->section) != 0) {
            fprintf(f, "\n[%s]\n", s->section);
            cur = s->section;
        }
        char def[256], rng[160] = "";
        if (!s->def)
            snprintf(def, sizeof def, "required");
        else if (!*s->def)
            snprintf(def, sizeof def, "optional");
        else
            snprintf(def, sizeof def, "default %s", s->def);
        if (s->type == FH_KEY_CHOICE)
            snprintf(rng, sizeof rng, ", one of %s", s->choices);
        else if ((s->type == FH_KEY_REAL || s->type == FH_KEY_INT) && s->min <= s->max) {
            char r[128];
            describe_range(s, r, sizeof r);
            snprintf(rng, sizeof rng, ", range %s", r);
        }
        char unit[128] = "";
        if (s->type == FH_KEY_REAL && s->unit != FH_UNIT_NONE)
            snprintf(unit, sizeof unit, ", %s in %s%s%s", fh_unit_kind_name(s->unit),
                     fh_unit_allowed(s->unit), s->bare_unit ? "; bare numbers in " : "",
                     s->bare_unit ? s->bare_unit : "");
        fprintf(f, "  %-14s %s (%s%s%s)\n", s->key, s->help, type_names[s->type], unit, rng);
        fprintf(f, "  %-14s   %s\n", "", def);
    }
}
