/* `fusionhop check DECK`: validate a deck (with any --set overrides) and print it resolved, so a
 * user sees exactly what a run would use before spending hours on it. */
#include "fh_app.h"
#include "fh_deck.h"

#include <stdio.h>
#include <stdlib.h>

int fh_cmd_check(int argc, char **argv)
{
    if (fh_wants_help(argc, argv)) {
        printf("usage: fusionhop check [DECK] [--set section.key=value]...\n\n"
               "Validate DECK (default: the embedded default deck) and print it resolved: every\n"
               "key with its value, defaults filled in, quantities in atomic units (the unit the\n"
               "number was written in is kept as a comment). Exit code 2 when the deck has errors;\n"
               "all of them are reported. See 'fusionhop help deck' for every key.\n");
        return FH_EXIT_OK;
    }
    fh_deck_args a;
    int rc = fh_deck_args_parse(argc, argv, &a);
    if (rc == FH_EXIT_OK && a.outdir) {
        fprintf(stderr, "fusionhop check: '-o' does not apply to check (it writes nothing)\n");
        rc = FH_EXIT_USAGE;
    }
    fh_deck *d = NULL;
    if (rc == FH_EXIT_OK) rc = fh_deck_args_load(&a, &d);
    if (rc == FH_EXIT_OK) {
        char *text = fh_deck_resolved_text(d);
        if (!text) {
            rc = FH_EXIT_FAIL;
        } else {
            printf("# resolved deck: %s\n%s", a.deck ? a.deck : "(embedded default)", text);
            free(text);
        }
    }
    fh_deck_free(d);
    fh_deck_args_free(&a);
    return rc;
}
