/* `fusionhop help [COMMAND|deck]`: the command list, one command's help, or the deck schema. */
#include "fh_app.h"
#include "fh_deck.h"

#include <stdio.h>
#include <string.h>

int fh_cmd_help(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: fusionhop help [COMMAND|deck]\n\nShow the commands, a command's help, or "
               "every deck key with its default and meaning.\n");
        return FH_EXIT_OK;
    }
    if (argc > 2) {
        fprintf(stderr, "fusionhop help: unexpected argument '%s' (usage: fusionhop help "
                        "[COMMAND|deck])\n", argv[2]);
        return FH_EXIT_USAGE;
    }
    if (argc > 1 && strcmp(argv[1], "deck") == 0) {
        fh_deck_print_schema(stdout);
        return FH_EXIT_OK;
    }
    if (argc > 1) {
        const fh_command *c = fh_command_find(argv[1]);
        if (!c) {
            fprintf(stderr, "fusionhop help: no command '%s'\n", argv[1]);
            return FH_EXIT_USAGE;
        }
        return c->main(2, (char *[]){argv[1], "--help", NULL});
    }
    printf("usage: fusionhop <command> [options]\n\n"
           "Machine-learned nonadiabatic molecular dynamics (fewest-switches surface hopping).\n\n"
           "Commands:\n");
    for (const fh_command *c = fh_commands(); c->name; c++) printf("  %-9s %s\n", c->name, c->summary);
    printf("\n'fusionhop COMMAND --help' for a command; 'fusionhop help deck' for every deck key.\n"
           "Exit codes: 0 success, 1 runtime failure, 2 usage or input error.\n");
    return FH_EXIT_OK;
}
