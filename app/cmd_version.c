/* `fusionhop version`: program name and version. */
#include "fh_app.h"
#include "fh_version.h"

#include <stdio.h>

int fh_cmd_version(int argc, char **argv)
{
    if (fh_wants_help(argc, argv)) {
        printf("usage: fusionhop version\n\nPrint the program version.\n");
        return FH_EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "fusionhop version: unexpected argument '%s'\n", argv[1]);
        return FH_EXIT_USAGE;
    }
    printf("%s %s\n", FH_PROGRAM, FH_VERSION);
    return FH_EXIT_OK;
}
