/* Input decks: `[section]` headers, `key = value` lines, `#` comments, case-insensitive keys,
 * values with optional units. Every key is declared in one schema table (app/schema.c) with its
 * type, unit kind, range or choices, default and help; the parser is strict and reports every
 * error in GNU format (`deck.inp:12:5: error: ...`) before giving up. Values are stored resolved:
 * reals in atomic units, paths absolute (relative to the deck's directory).
 * Two kinds of deck share the schema: a training deck (it has a [train] section) needs only the
 * required keys of [model] and [train]; any other deck needs every required key. */
#ifndef FH_DECK_H
#define FH_DECK_H

#include <stdio.h>

#include "fh_error.h"
#include "fh_units.h"

typedef enum {
    FH_KEY_REAL,    /* number with optional unit of the row's unit kind */
    FH_KEY_INT,     /* integer */
    FH_KEY_BOOL,    /* true/false, yes/no, on/off, 1/0 */
    FH_KEY_STRING,  /* free text */
    FH_KEY_CHOICE,  /* one of the row's choices (case-insensitive) */
    FH_KEY_PATH     /* file name, resolved against the deck's directory */
} fh_key_type;

/* One schema row. */
typedef struct {
    const char *section;
    const char *key;
    fh_key_type type;
    fh_unit_kind unit;        /* FH_KEY_REAL: kind of quantity */
    const char *bare_unit;    /* FH_KEY_REAL: unit of a number written without one (NULL: a.u.) */
    const char *def;          /* default as deck text; NULL: required; "": optional, no default */
    double min, max;          /* allowed range, in atomic units for REAL (min > max: unbounded) */
    const char *choices;      /* FH_KEY_CHOICE: "a|b|c" */
    const char *help;
} fh_deck_key;

/* The schema: NULL-terminated (section == NULL) table. */
const fh_deck_key *fh_deck_schema(void);

typedef struct fh_deck fh_deck;

/* Parse deck text (name is used in messages and to resolve relative paths; text may come from a
 * file or be embedded). overrides: n strings "section.key=value" from --set, validated like deck
 * lines and reported as `--set:N:`. On error returns FH_EINPUT with every message in err->msg
 * (one per line, GNU format) and *out == NULL. */
int fh_deck_parse(const char *name, const char *text, char **overrides, int noverrides,
                  fh_deck **out, fh_err *err);
/* Read a file and parse it. */
int fh_deck_load(const char *path, char **overrides, int noverrides, fh_deck **out, fh_err *err);
void fh_deck_free(fh_deck *d);

/* Resolved values. Asking for a key that is not in the schema or has the wrong type aborts with
 * an assertion (a programming error, not an input error). */
double fh_deck_real(const fh_deck *d, const char *section, const char *key); /* atomic units */
long fh_deck_int(const fh_deck *d, const char *section, const char *key);
int fh_deck_bool(const fh_deck *d, const char *section, const char *key);
/* STRING, CHOICE (lower-case) and PATH (absolute); "" when optional and unset. */
const char *fh_deck_string(const fh_deck *d, const char *section, const char *key);
/* True when the key was given in the deck or by --set (not only defaulted). */
int fh_deck_given(const fh_deck *d, const char *section, const char *key);
/* True for a training deck (one with a [train] section). */
int fh_deck_is_training(const fh_deck *d);
/* True for a sampling deck (one with a [sample] section): it needs no [dynamics] keys. */
int fh_deck_is_sampling(const fh_deck *d);
/* True when the key has a value (given or defaulted). */
int fh_deck_has(const fh_deck *d, const char *section, const char *key);

/* The resolved deck as deck text: every key with its value (defaults filled in, units normalised
 * to atomic units and labelled); stored in every output file and printed by `fusionhop check`. */
char *fh_deck_resolved_text(const fh_deck *d); /* malloc'ed */
/* The directory of the deck (for resolving paths). */
const char *fh_deck_dir(const fh_deck *d);
/* Print the schema (for `fusionhop help deck`). */
void fh_deck_print_schema(FILE *f);

#endif
