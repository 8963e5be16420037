/* The command table and dispatch: adding a subcommand is a cmd_*.c file and one row here. */
#include "fh_app.h"
#include "fh_model.h"

#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const fh_command commands[] = {
    {"run", "run an ensemble of surface-hopping trajectories from a deck", fh_cmd_run},
    {"check", "validate a deck and print it resolved (defaults filled, units normalised)", fh_cmd_check},
    {"scatter", "surface hopping on Tully's models: transmission/reflection branching ratios", fh_cmd_scatter},
    {"analyze", "analyse an ensemble: populations, lifetime, yields, hops, quality, plots", fh_cmd_analyze},
    {"train", "train the multi-state model on a reference dataset (resumable, MPI data-parallel)", fh_cmd_train},
    {"sample", "generate geometries and append reference calculations to a dataset (resumable, MPI)", fh_cmd_sample},
    {"dataset", "inspect a reference dataset, export its geometries, withdraw wrong rows", fh_cmd_dataset},
    {"predict", "evaluate a model file on the frames of an XYZ file (energies, gradients, NACs, spread)", fh_cmd_predict},
    {"version", "print the program version", fh_cmd_version},
    {"help", "show help for a command, or `help deck` for every deck key", fh_cmd_help},
    {NULL, NULL, NULL},
};

const fh_command *fh_commands(void) { return commands; }

const fh_command *fh_command_find(const char *name)
{
    for (const fh_command *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0) return c;
    return NULL;
}

static int log_rank(void)
{
    int init = 0, fin = 0, rank = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
}

void fh_log(const char *fmt, ...)
{
    if (log_rank() != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

int fh_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
    }
    return 0;
}

int fh_parse_member(const char *cmd, const char *v, int *member)
{
    char *end = NULL;
    long k = strtol(v, &end, 10);
    if (!*v || *end || k < 1 || k > FH_MODEL_MAX_MEMBERS) {
        fprintf(stderr, "fusionhop %s: --member '%s': expected a member number 1..%d\n", cmd, v,
                FH_MODEL_MAX_MEMBERS);
        return FH_EXIT_USAGE;
    }
    *member = (int)k;
    return 0;
}

int fh_app_main(int argc, char **argv)
{
    if (argc < 2) {
        fh_cmd_help(1, (char *[]){"help", NULL});
        return FH_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return fh_cmd_help(1, (char *[]){"help", NULL});
    if (strcmp(argv[1], "--version") == 0) return fh_cmd_version(1, (char *[]){"version", NULL});
    const fh_command *c = fh_command_find(argv[1]);
    if (!c) {
        fprintf(stderr, "fusionhop: '%s' is not a command; see 'fusionhop help'\n", argv[1]);
        return FH_EXIT_USAGE;
    }
    return c->main(argc - 1, argv + 1);
}
