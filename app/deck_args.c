/* Command-line handling shared by every command that reads a deck (run, check, train, sample):
 * one place for `-o`, `--set` and `--force`, so they behave the same everywhere. */
#include "fh_app.h"
#include "fh_deck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char fh_default_deck_text[];
extern const char fh_default_deck_name[];

int fh_deck_args_parse(int argc, char **argv, fh_deck_args *a)
{
    memset(a, 0, sizeof *a);
    a->sets = calloc((size_t)argc + 1, sizeof *a->sets);
    if (!a->sets) return FH_EXIT_FAIL;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "-o") == 0 || strcmp(s, "--output") == 0 || strncmp(s, "--output=", 9) == 0) {
            int inline_value = strncmp(s, "--output=", 9) == 0;
            if (!inline_value && i + 1 >= argc) {
                fprintf(stderr, "fusionhop %s: option '%s' needs a directory\n", argv[0], s);
                return FH_EXIT_USAGE;
            }
            const char *v = inline_value ? s + 9 : argv[++i];
            if (!*v) { /* "" would mean the root directory for a run */
                fprintf(stderr, "fusionhop %s: option '-o' needs a non-empty name\n", argv[0]);
                return FH_EXIT_USAGE;
            }
            if (a->outdir) { /* not "the last one wins": which one was meant? */
                fprintf(stderr, "fusionhop %s: -o given twice ('%s' and '%s')\n", argv[0],
                        a->outdir, v);
                return FH_EXIT_USAGE;
            }
            a->outdir = v;
        } else if (strcmp(s, "--set") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "fusionhop %s: option '--set' needs section.key=value\n", argv[0]);
                return FH_EXIT_USAGE;
            }
            a->sets[a->nsets++] = argv[++i];
        } else if (strncmp(s, "--set=", 6) == 0) {
            a->sets[a->nsets++] = argv[i] + 6;
        } else if (strcmp(s, "--force") == 0) {
            a->force = 1;
        } else if (s[0] == '-' && s[1]) {
            fprintf(stderr, "fusionhop %s: unknown option '%s'; see 'fusionhop %s --help'\n",
                    argv[0], s, argv[0]);
            return FH_EXIT_USAGE;
        } else if (!a->deck) {
            a->deck = s;
        } else {
            fprintf(stderr, "fusionhop %s: more than one deck given ('%s' and '%s')\n", argv[0],
                    a->deck, s);
            return FH_EXIT_USAGE;
        }
    }
    return FH_EXIT_OK;
}

void fh_deck_args_free(fh_deck_args *a)
{
    free(a->sets);
    a->sets = NULL;
}

int fh_deck_args_load(const fh_deck_args *a, fh_deck **out)
{
    fh_err err = {0};
    int rc = a->deck ? fh_deck_load(a->deck, a->sets, a->nsets, out, &err)
                     : fh_deck_parse(fh_default_deck_name, fh_default_deck_text, a->sets, a->nsets,
                                     out, &err);
    if (rc != FH_OK) {
        fh_log("%s\n", err.msg);
        return rc == FH_EINPUT ? FH_EXIT_USAGE : FH_EXIT_FAIL;
    }
    return FH_EXIT_OK;
}
