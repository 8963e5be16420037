/* The fusionhop program: git-style subcommands, each in its own file (app/cmd_*.c) and one row of
 * the command table in app/commands.c. Exit codes: 0 success, 1 runtime failure, 2 usage or input
 * error. Diagnostics go to stderr (rank 0 only under MPI); results go to files. */
#ifndef FH_APP_H
#define FH_APP_H

enum { FH_EXIT_OK = 0, FH_EXIT_FAIL = 1, FH_EXIT_USAGE = 2 };

typedef struct {
    const char *name;
    const char *summary;                 /* one line for `fusionhop help` */
    int (*main)(int argc, char **argv);  /* argv[0] is the command name */
} fh_command;

/* NULL-terminated command table. */
const fh_command *fh_commands(void);
const fh_command *fh_command_find(const char *name);

/* Entry point shared by main.c and the tests: runs `fusionhop argv...`. */
int fh_app_main(int argc, char **argv);

/* stderr diagnostics, silenced on MPI ranks other than 0. */
void fh_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True when argv holds -h or --help (before a "--"). */
int fh_wants_help(int argc, char **argv);
/* The value of --member K (a committee member, 1-based) of command cmd: 0, or FH_EXIT_USAGE
 * after saying on stderr what is wrong with v. */
int fh_parse_member(const char *cmd, const char *v, int *member);

/* Arguments shared by the commands that read a deck: `[DECK] [-o DIR] [--set s.k=v]... [--force]`. */
typedef struct {
    const char *deck;   /* NULL: the embedded default deck */
    const char *outdir; /* -o DIR, or NULL */
    char **sets;        /* --set values (pointers into argv) */
    int nsets;
    int force;          /* --force: overwrite existing output */
} fh_deck_args;

struct fh_deck;
/* Parse deck-command arguments; unknown options are usage errors (message printed, returns 2). */
int fh_deck_args_parse(int argc, char **argv, fh_deck_args *a);
void fh_deck_args_free(fh_deck_args *a);
/* Load the deck named by a (or the embedded default) with its overrides. Prints every error to
 * stderr and returns the exit code (0, or 2 for input errors). */
int fh_deck_args_load(const fh_deck_args *a, struct fh_deck **out);

/* Subcommands. */
int fh_cmd_run(int argc, char **argv);
int fh_cmd_check(int argc, char **argv);
int fh_cmd_version(int argc, char **argv);
int fh_cmd_scatter(int argc, char **argv);
int fh_cmd_analyze(int argc, char **argv);
int fh_cmd_help(int argc, char **argv);
int fh_cmd_train(int argc, char **argv);
int fh_cmd_predict(int argc, char **argv);
int fh_cmd_sample(int argc, char **argv);
int fh_cmd_dataset(int argc, char **argv);
/* `fusionhop dataset errors` (cmd_dataset_errors.c): MODEL's errors on the completed rows of
 * DATASET (of one ORIGIN when not NULL; with only_new, the rows after those it was trained on;
 * with only_trained, those rows alone).
 * Prints the table; returns the exit code. */
typedef struct {
    const char *origin; /* only this origin (NULL: all) */
    int only_new;       /* only the rows appended after the model's training rows */
    int only_trained;   /* only the rows the model was trained on (its train, valid and test) */
    const char *split;  /* "train", "valid", "test": only the rows of that part (NULL: all) */
    int have_seed;      /* split with this seed instead of the model's */
    unsigned long long seed;
    int per_row;        /* one line per row too */
    int member;         /* > 0: only this committee member (1-based), not the committee mean */
    const char *compare; /* a second model on the same rows: its errors and the paired
                            difference with a bootstrap interval (NULL: none) */
} fh_dataset_errors_opts;
int fh_dataset_errors(const char *dataset, const char *model, const fh_dataset_errors_opts *o);

#endif
