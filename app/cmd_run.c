/* `fusionhop run [DECK]`: the ensemble runner (issue 6). */
#include "fh_app.h"
#include "fh_deck.h"

#include <stdio.h>

int fh_cmd_run(int argc, char **argv)
{
    if (fh_wants_help(argc, argv)) {
        printf("usage: fusionhop run [DECK] [-o DIR] [--set section.key=value]... [--force]\n");
        return FH_EXIT_OK;
    }
    fh_deck_args a;
    int rc = fh_deck_args_parse(argc, argv, &a);
    fh_deck *d = NULL;
    if (rc == FH_EXIT_OK) rc = fh_deck_args_load(&a, &d);
    if (rc == FH_EXIT_OK) {
        fprintf(stderr, "fusionhop run: not implemented yet\n");
        rc = FH_EXIT_FAIL;
    }
    fh_deck_free(d);
    fh_deck_args_free(&a);
    return rc;
}
