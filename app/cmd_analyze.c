/* `fusionhop analyze OUTDIR`: turn an ensemble into the numbers a photochemist reports. The
 * [analysis] settings come from the run's own deck (stored in ensemble.h5), or from --deck FILE,
 * and --set analysis.key=value overrides either, so the analysis of a finished run can be redone
 * with other criteria without touching the run. */
#include "fh_analysis.h"
#include "fh_app.h"
#include "fh_deck.h"
#include "fh_h5md.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Enough of a deck for the schema's required keys, when the run's deck is not available. */
static const char stub_deck[] = "[surface]\ntype = tully1\n[dynamics]\ntmax = 1 fs\n";

static void usage(void)
{
    printf("usage: fusionhop analyze OUTDIR [-o DIR] [--deck FILE] [--set analysis.key=value]...\n"
           "                        [--no-plots]\n\n"
           "Analyse the ensemble in OUTDIR (ensemble.h5 and traj/): populations versus time with\n"
           "95%% bootstrap bands, the excited-state lifetime (delayed-exponential fit with bootstrap\n"
           "error), products and quantum yields, hop statistics, energy-conservation and model-spread\n"
           "quality. Trajectories that failed, are still running or were not started are listed\n"
           "with the reason and left out of the statistics.\n\n"
           "Settings are the [analysis] keys of the run's deck (see `fusionhop help deck`):\n"
           "dihedral, ring, pyramid (1-based atom numbers), cis_max, ring_max, excited_state,\n"
           "nboot, seed, max_drift, max_spread, bond_break. For stilbene in the atom order of\n"
           "inputs/geometries, unset geometry keys default to dihedral 4 1 2 16, ring 5 17, 5 21,\n"
           "9 17, 9 21 (the shortest pair counts) and pyramid 1 2 3 4.\n\n"
           "  -o DIR        where to write the report (default OUTDIR/analysis)\n"
           "  --deck FILE   take the settings from this deck instead of the run's\n"
           "  --set s.k=v   override a deck key (repeatable), e.g. --set analysis.dihedral='3 1 2 4'\n"
           "  --no-plots    skip the gnuplot PNGs\n\n"
           "Output: populations.tsv, lifetime.tsv, lifetime_curve.tsv, products.tsv, yields.tsv,\n"
           "hops.tsv, hop_counts.tsv, hop_histograms.tsv, first_hop.tsv, quality.tsv, torsion.tsv,\n"
           "hops.xyz (molecules: the geometry at every hop, Angstrom),\n"
           "summary.txt, summary.json, and populations.png, torsion.png, hops.png (plots.gp).\n");
}

/* Remove option `name` (with a value when takes_value) from argv; its value into *value. */
static int take_option(int *argc, char **argv, const char *name, int takes_value, const char **value)
{
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], name) != 0) continue;
        int n = takes_value ? 2 : 1;
        if (takes_value) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "fusionhop analyze: option '%s' needs a value\n", name);
                return -1;
            }
            *value = argv[i + 1];
        } else {
            *value = name;
        }
        memmove(argv + i, argv + i + n, (size_t)(*argc - i - n + 1) * sizeof *argv);
        *argc -= n;
        return 1;
    }
    return 0;
}

/* The deck holding the settings: --deck, else the run's deck, else defaults; with --set. */
static int settings_deck(const char *outdir, const char *deck_file, char **sets, int nsets,
                         fh_deck **d)
{
    fh_err err = {0};
    int rc;
    if (deck_file) {
        rc = fh_deck_load(deck_file, sets, nsets, d, &err);
    } else {
        fh_ens *ens = NULL;
        fh_err ierr = {0};
        char *text = NULL;
        if (fh_ens_open(outdir, 0, &ens, &ierr) == FH_OK) {
            text = strdup(fh_ens_deck(ens));
            fh_ens_close(ens, NULL);
        }
        rc = FH_EINPUT;
        if (text && text[0]) {
            char name[4200];
            snprintf(name, sizeof name, "%s/%s", outdir, FH_ENS_FILE);
            rc = fh_deck_parse(name, text, sets, nsets, d, &err);
            if (rc != FH_OK)
                fh_log("fusionhop analyze: warning: the run's stored deck does not parse; using "
                       "default analysis settings:\n%s\n", err.msg);
        }
        free(text);
        if (rc != FH_OK) {
            fh_err_clear(&err);
            rc = fh_deck_parse("(analysis defaults)", stub_deck, sets, nsets, d, &err);
        }
    }
    if (rc != FH_OK) fh_log("%s\n", err.msg);
    return rc;
}

static int read_settings(const fh_deck *d, fh_ana_settings *s)
{
    fh_err err = {0};
    fh_ana_settings_default(s);
    if (fh_ana_parse_atoms(fh_deck_string(d, "analysis", "dihedral"), 4, "analysis.dihedral", s->dihedral, &err) ||
        fh_ana_parse_pairs(fh_deck_string(d, "analysis", "ring"), "analysis.ring", s->ring, &s->nring, &err) ||
        fh_ana_parse_atoms(fh_deck_string(d, "analysis", "pyramid"), 4, "analysis.pyramid", s->pyramid, &err)) {
        fh_log("fusionhop analyze: %s\n", err.msg);
        return FH_EXIT_USAGE;
    }
    s->cis_max = fh_deck_real(d, "analysis", "cis_max");
    s->ring_max = fh_deck_real(d, "analysis", "ring_max");
    s->excited_state = (int)fh_deck_int(d, "analysis", "excited_state");
    s->nboot = (int)fh_deck_int(d, "analysis", "nboot");
    s->seed = (uint64_t)fh_deck_int(d, "analysis", "seed");
    if (fh_deck_has(d, "analysis", "max_drift")) s->max_drift = fh_deck_real(d, "analysis", "max_drift");
    if (fh_deck_has(d, "analysis", "max_spread")) s->max_spread = fh_deck_real(d, "analysis", "max_spread");
    s->bond_break = fh_deck_real(d, "analysis", "bond_break");
    return FH_EXIT_OK;
}

int fh_cmd_analyze(int argc, char **argv)
{
    if (fh_wants_help(argc, argv)) {
        usage();
        return FH_EXIT_OK;
    }
    const char *deck_file = NULL, *noplots = NULL;
    if (take_option(&argc, argv, "--deck", 1, &deck_file) < 0 ||
        take_option(&argc, argv, "--no-plots", 0, &noplots) < 0)
        return FH_EXIT_USAGE;
    fh_deck_args a;
    int rc = fh_deck_args_parse(argc, argv, &a);
    if (rc == FH_EXIT_OK && !a.deck) {
        fprintf(stderr, "fusionhop analyze: no output directory given; see 'fusionhop analyze --help'\n");
        rc = FH_EXIT_USAGE;
    }
    if (rc == FH_EXIT_OK && a.force) {
        fprintf(stderr, "fusionhop analyze: --force does not apply (the report is always rewritten)\n");
        rc = FH_EXIT_USAGE;
    }
    if (rc != FH_EXIT_OK) {
        fh_deck_args_free(&a);
        return rc;
    }
    const char *outdir = a.deck;
    fh_deck *d = NULL;
    fh_ana_settings s;
    fh_ana_ensemble *e = NULL;
    fh_ana_results res;
    int have_res = 0;
    char resdir[4200];
    if (a.outdir) snprintf(resdir, sizeof resdir, "%s", a.outdir);
    else snprintf(resdir, sizeof resdir, "%s/analysis", outdir);

    fh_err err = {0};
    struct stat st;
    if (stat(resdir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "fusionhop analyze: %s: not a directory (where the report goes; see -o)\n",
                resdir);
        fh_deck_args_free(&a);
        return FH_EXIT_USAGE;
    }
    if (settings_deck(outdir, deck_file, a.sets, a.nsets, &d) != FH_OK) rc = FH_EXIT_USAGE;
    else rc = read_settings(d, &s);
    if (rc == FH_EXIT_OK) {
        int lrc = fh_ana_load(outdir, &s, &e, &err);
        if (lrc != FH_OK) {
            fh_log("fusionhop analyze: %s\n", err.msg);
            rc = lrc == FH_EINPUT ? FH_EXIT_USAGE : FH_EXIT_FAIL;
        }
    }
    if (rc == FH_EXIT_OK) {
        fh_log("fusionhop analyze: %ld trajectories, %ld used in the statistics\n", e->ntraj, e->nused);
        if (fh_ana_compute(e, &s, &res, &err) != FH_OK) {
            fh_log("fusionhop analyze: %s\n", err.msg);
            rc = FH_EXIT_FAIL;
        } else {
            have_res = 1;
            if (fh_ana_write_all(resdir, e, &s, &res, &err) != FH_OK) {
                fh_log("fusionhop analyze: %s\n", err.msg);
                rc = FH_EXIT_FAIL;
            }
        }
    }
    if (rc == FH_EXIT_OK && !noplots && fh_ana_plot(resdir, e, &s, &res, &err) != FH_OK)
        fh_log("fusionhop analyze: warning: %s (the TSV tables and summaries are complete)\n", err.msg);
    if (rc == FH_EXIT_OK) fh_log("fusionhop analyze: report in %s (summary.txt, summary.json)\n", resdir);
    if (have_res) fh_ana_results_free(&res);
    fh_ana_free(e);
    fh_deck_free(d);
    fh_deck_args_free(&a);
    return rc;
}
