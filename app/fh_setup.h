/* Turning a resolved deck into the objects the libraries take: the provider, the dynamics
 * parameters, the output directory. Shared by run, sample and the tests, so a key means the same
 * thing in every command. */
#ifndef FH_SETUP_H
#define FH_SETUP_H

#include "fh_deck.h"
#include "fh_dynamics.h"
#include "fh_surfaces.h"
#include "fh_xyz.h"

/* Build the provider named in [surface]; *geom receives the reference geometry of molecular
 * providers (NULL for model surfaces). Errors name the deck. */
int fh_setup_surface(const fh_deck *d, const char *deck_name, fh_surface **s, fh_xyz **geom,
                     fh_err *err);
/* [dynamics] -> fh_dyn_params. */
int fh_setup_dyn_params(const fh_deck *d, fh_dyn_params *p, fh_err *err);
/* The output directory: -o, else [output] dir, else ./<deck file name without extension>.
 * Returns a malloc'ed string. */
char *fh_setup_outdir(const fh_deck *d, const char *deck_name, const char *cli_outdir);

#endif
