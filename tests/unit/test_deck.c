/* Deck parser: the malformed decks in tests/decks (each with the exact expected messages), unit
 * conversion, defaults, overrides, path resolution, and the resolved deck round trip. */
#include <criterion/criterion.h>
#include "test_read_text.h"
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fh_deck.h"


static const char *valid =
    "# a complete small deck\n"
    "[Surface]\n"
    "TYPE = Tully2   # case-insensitive keys and choices\n"
    "[dynamics]\n"
    "ntraj = 8\n"
    "dt = 20 au\n"
    "tmax = 0.1 ps\n"
    "[initial]\n"
    "seed = 42\n"
    "temperature = 300 K\n"
    "optimize = yes\n"
    "position = -1.0 Angstrom\n"
    "window_min = 0.1 hartree\n"
    "window_max = 100 kcal/mol\n"
    "[output]\n"
    "dir = \"out dir # not a comment\"\n";

Test(deck, malformed_decks_report_exact_messages)
{
    const char *dir = FH_TEST_SOURCE_DIR "/tests/decks";
    DIR *dp = opendir(dir);
    cr_assert_not_null(dp);
    int n = 0;
    for (struct dirent *e; (e = readdir(dp));) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".inp") != 0) continue;
        char path[1024], exp_path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(exp_path, sizeof exp_path, "%s/%.*s.expected", dir, (int)(l - 4), e->d_name);
        char *text = read_text(path), *expected = read_text(exp_path);
        fh_deck *d = (fh_deck *)0x1;
        fh_err err = {0};
        int rc = fh_deck_parse(e->d_name, text, NULL, 0, &d, &err);
        cr_expect_eq(rc, FH_EINPUT, "%s: expected an input error", e->d_name);
        cr_expect_null(d, "%s: no deck on error", e->d_name);
        size_t el = strlen(expected);
        if (el && expected[el - 1] == '\n') expected[el - 1] = '\0';
        cr_expect_str_eq(err.msg, expected, "%s: messages differ:\n got:\n%s\n want:\n%s",
                         e->d_name, err.msg, expected);
        free(text);
        free(expected);
        n++;
    }
    closedir(dp);
    cr_assert_geq(n, 20, "at least 20 malformed decks, found %d", n);
}

Test(deck, units_defaults_and_case)
{
    fh_deck *d;
    fh_err err = {0};
    cr_assert_eq(fh_deck_parse("/some/where/deck.inp", valid, NULL, 0, &d, &err), FH_OK, "%s",
                 err.msg);
    cr_expect_str_eq(fh_deck_string(d, "surface", "type"), "tully2");
    cr_expect_eq(fh_deck_int(d, "dynamics", "ntraj"), 8);
    cr_expect_float_eq(fh_deck_real(d, "dynamics", "dt"), 20.0, 1e-15);
    cr_expect_float_eq(fh_deck_real(d, "dynamics", "tmax"), 100.0 / 0.024188843265857, 1e-9);
    cr_expect_float_eq(fh_deck_real(d, "initial", "temperature"), 300.0, 1e-12);
    cr_expect_eq(fh_deck_bool(d, "initial", "optimize"), 1);
    cr_expect_float_eq(fh_deck_real(d, "initial", "position"), -1.0 / 0.529177210903, 1e-12);
    cr_expect_float_eq(fh_deck_real(d, "initial", "window_min"), 0.1, 1e-15);
    cr_expect_float_eq(fh_deck_real(d, "initial", "window_max"), 100.0 / 627.5094740631, 1e-15);
    /* defaults */
    cr_expect_eq(fh_deck_given(d, "output", "flush_every"), 0);
    cr_expect_eq(fh_deck_int(d, "output", "flush_every"), 20);
    cr_expect_float_eq(fh_deck_real(d, "initial", "momentum"), 20.0, 1e-15);
    /* bare number: the key's documented unit (fs for dt) */
    fh_deck_free(d);
    char *ov[] = {"dynamics.dt=0.25", "Dynamics.NTRAJ = 3", "output.dir=rel/out",
                  "train.force_huber=0.5 eV/A", "train.energy_huber=20 meV"};
    cr_assert_eq(fh_deck_parse("/some/where/deck.inp", valid, ov, 5, &d, &err), FH_OK, "%s",
                 err.msg);
    cr_expect_float_eq(fh_deck_real(d, "dynamics", "dt"), 0.25 / 0.024188843265857, 1e-12);
    /* forces: 1 eV/Angstrom = 0.529177210903 / 27.211386245988 hartree/bohr */
    cr_expect_float_eq(fh_deck_real(d, "train", "force_huber"),
                       0.5 * 0.529177210903 / 27.211386245988, 1e-12);
    cr_expect_float_eq(fh_deck_real(d, "train", "energy_huber"), 0.020 / 27.211386245988, 1e-12);
    cr_expect_eq(fh_deck_int(d, "dynamics", "ntraj"), 3);
    cr_expect_str_eq(fh_deck_string(d, "output", "dir"), "/some/where/rel/out");
    fh_deck_free(d);
}

Test(deck, quoted_value_keeps_hash)
{
    fh_deck *d;
    fh_err err = {0};
    cr_assert_eq(fh_deck_parse("deck.inp", valid, NULL, 0, &d, &err), FH_OK, "%s", err.msg);
    cr_expect_str_eq(fh_deck_string(d, "output", "dir"), "./out dir # not a comment");
    fh_deck_free(d);
}

Test(deck, override_errors_are_reported_with_their_position)
{
    fh_deck *d;
    fh_err err = {0};
    char *ov[] = {"dynamics.ntraj=4", "dynamics.tmaxx=50fs", "dynamic.dt=1", "nodot=3",
                  "dynamics.dt=3 eV"};
    cr_assert_eq(fh_deck_parse("deck.inp", valid, ov, 5, &d, &err), FH_EINPUT);
    cr_expect_str_eq(err.msg,
                     "--set:2:10: error: unknown key 'tmaxx' in [dynamics]; did you mean 'tmax'?\n"
                     "--set:3:1: error: unknown section [dynamic]; did you mean [dynamics]?\n"
                     "--set:4:1: error: expected 'section.key=value', got 'nodot=3'\n"
                     "--set:5:15: error: unit 'eV' is not a time unit (key 'dt' in [dynamics] "
                     "accepts au, fs, ps, as)");
}

Test(deck, resolved_text_parses_back_to_identical_values)
{
    fh_deck *d, *d2;
    fh_err err = {0};
    cr_assert_eq(fh_deck_parse("/x/deck.inp", valid, NULL, 0, &d, &err), FH_OK, "%s", err.msg);
    char *text = fh_deck_resolved_text(d);
    cr_assert_not_null(text);
    cr_assert_eq(fh_deck_parse("/x/deck.inp", text, NULL, 0, &d2, &err), FH_OK, "%s\n%s", err.msg,
                 text);
    for (const fh_deck_key *k = fh_deck_schema(); k->section; k++) {
        cr_expect_eq(fh_deck_has(d, k->section, k->key), fh_deck_has(d2, k->section, k->key));
        if (!fh_deck_has(d, k->section, k->key)) continue;
        switch (k->type) {
        case FH_KEY_REAL:
            cr_expect_eq(fh_deck_real(d, k->section, k->key), fh_deck_real(d2, k->section, k->key),
                         "%s.%s", k->section, k->key);
            break;
        case FH_KEY_INT:
            cr_expect_eq(fh_deck_int(d, k->section, k->key), fh_deck_int(d2, k->section, k->key));
            break;
        case FH_KEY_BOOL:
            cr_expect_eq(fh_deck_bool(d, k->section, k->key), fh_deck_bool(d2, k->section, k->key));
            break;
        default:
            cr_expect_str_eq(fh_deck_string(d, k->section, k->key),
                             fh_deck_string(d2, k->section, k->key));
        }
    }
    free(text);
    fh_deck_free(d);
    fh_deck_free(d2);
}

Test(deck, every_schema_default_is_valid)
{
    /* A deck with only the required keys: every default must convert and be within range. */
    fh_deck *d;
    fh_err err = {0};
    cr_assert_eq(fh_deck_parse("d.inp", "[surface]\ntype=tully1\n[dynamics]\ntmax=1\n", NULL, 0, &d,
                               &err),
                 FH_OK, "%s", err.msg);
    fh_deck_free(d);
}

Test(deck, missing_file_is_an_input_error)
{
    fh_deck *d;
    fh_err err = {0};
    cr_expect_eq(fh_deck_load("/nonexistent/deck.inp", NULL, 0, &d, &err), FH_EINPUT);
    cr_expect(strstr(err.msg, "/nonexistent/deck.inp: error: cannot open deck") != NULL, "%s",
              err.msg);
    /* a directory opens but does not read: was "read error", without saying why */
    cr_expect_eq(fh_deck_load(FH_TEST_SOURCE_DIR "/tests/decks", NULL, 0, &d, &err), FH_EINPUT);
    cr_expect(strstr(err.msg, "/tests/decks: error: cannot read deck: it is a directory") != NULL,
              "%s", err.msg);
}

Test(deck, every_shipped_deck_is_valid)
{
    const char *decks[] = {"inputs/default.inp",    "inputs/tully/model1.inp",
                           "inputs/tully/model2.inp", "inputs/tully/model3.inp",
                           "inputs/tully/lvc.inp",    "inputs/stilbene/cis.inp",
                           "inputs/stilbene/trans.inp"};
    for (size_t i = 0; i < sizeof decks / sizeof decks[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", FH_TEST_SOURCE_DIR, decks[i]);
        fh_deck *d;
        fh_err err = {0};
        cr_expect_eq(fh_deck_load(path, NULL, 0, &d, &err), FH_OK, "%s: %s", decks[i], err.msg);
        fh_deck_free(d);
    }
}

Test(deck, training_deck_needs_only_model_and_train_keys)
{
    fh_deck *d;
    fh_err err = {0};
    cr_assert_eq(fh_deck_parse("t.inp", "[train]\nepochs = 3\n", NULL, 0, &d, &err), FH_OK, "%s",
                 err.msg);
    cr_expect(fh_deck_is_training(d));
    cr_expect_not(fh_deck_has(d, "dynamics", "tmax"));
    fh_deck_free(d);
    /* without [train], the run keys stay required */
    cr_expect_eq(fh_deck_parse("r.inp", "[model]\nlayers = 2\n", NULL, 0, &d, &err), FH_EINPUT);
    cr_expect(strstr(err.msg, "missing required key 'tmax'") != NULL, "%s", err.msg);
}

/* An explicit "" empties a text or path key (how a user trains from scratch with a deck that
 * names an init_model); a bare empty value stays an error, and "" is no number. */
Test(deck, quoted_empty_value_clears_a_path_key)
{
    fh_deck *d;
    fh_err err = {0};
    char *ov[] = {"output.dir=\"\""};
    cr_assert_eq(fh_deck_parse("deck.inp", valid, ov, 1, &d, &err), FH_OK, "%s", err.msg);
    cr_expect_str_eq(fh_deck_string(d, "output", "dir"), "");
    char *text = fh_deck_resolved_text(d);
    cr_assert_not_null(text);
    cr_expect_not_null(strstr(text, "dir = \"\""), "%s", text);
    fh_deck *back = NULL;
    cr_expect_eq(fh_deck_parse("resolved.inp", text, NULL, 0, &back, &err), FH_OK, "%s", err.msg);
    if (back) {
        cr_expect_str_eq(fh_deck_string(back, "output", "dir"), "");
        fh_deck_free(back);
    }
    free(text);
    fh_deck_free(d);

    char *bare[] = {"output.dir="};
    cr_expect_eq(fh_deck_parse("deck.inp", valid, bare, 1, &d, &err), FH_EINPUT);
    cr_expect_str_eq(err.msg, "--set:1:12: error: missing value for key 'dir' in [output]");
    char *num[] = {"dynamics.ntraj=\"\""};
    cr_expect_eq(fh_deck_parse("deck.inp", valid, num, 1, &d, &err), FH_EINPUT);
    cr_expect_not_null(strstr(err.msg, "missing value for key 'ntraj'"), "%s", err.msg);
}
