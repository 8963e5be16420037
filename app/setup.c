/* Deck -> library objects (see fh_setup.h). */
#include "fh_setup.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fh_units.h"

/* Closest two atoms of a reference geometry may be, bohr (0.1 Angstrom). */
#define MIN_DISTANCE (0.1 * FH_ANGSTROM_BOHR)

int fh_setup_surface(const fh_deck *d, const char *deck_name, fh_surface **s, fh_xyz **geom,
                     fh_err *err)
{
    *s = NULL;
    *geom = NULL;
    fh_surface_config cfg = {0};
    if (!fh_deck_has(d, "surface", "type"))
        return fh_err_set(err, FH_EINPUT,
                          "%s: error: no provider: [surface] type is not set (a training deck?)",
                          deck_name);
    cfg.type = fh_deck_string(d, "surface", "type");
    cfg.nstates = (int)fh_deck_int(d, "surface", "nstates");
    cfg.model_file = fh_deck_string(d, "surface", "model");
    cfg.ml_mixed = strcmp(fh_deck_string(d, "surface", "precision"), "mixed") == 0;
    const char *gpath = fh_deck_string(d, "surface", "geometry");
    int molecular = strcmp(cfg.type, "ml") == 0 || strcmp(cfg.type, "openmolcas") == 0;
    if (molecular && !*gpath)
        return fh_err_set(err, FH_EINPUT,
                          "%s: error: [surface] type = %s needs 'geometry' (an XYZ file)",
                          deck_name, cfg.type);
    if (strcmp(cfg.type, "ml") == 0 && !*cfg.model_file)
        return fh_err_set(err, FH_EINPUT, "%s: error: [surface] type = ml needs 'model' (a model file)",
                          deck_name);
    if (*gpath) {
        int rc = fh_xyz_read(gpath, geom, err);
        if (rc != FH_OK) return rc;
        /* atoms on top of each other: every trajectory would fail at its first step */
        const fh_xyz *g = *geom;
        for (int i = 0; i < g->natoms; i++)
            for (int j = i + 1; j < g->natoms; j++) {
                double r2 = 0;
                for (int k = 0; k < 3; k++) {
                    double dx = g->x[3 * j + k] - g->x[3 * i + k];
                    r2 += dx * dx;
                }
                if (r2 < MIN_DISTANCE * MIN_DISTANCE) {
                    rc = fh_err_set(err, FH_EINPUT, "%s:%d: error: atoms %d and %d (lines %d and %d) "
                                    "are %.3g Angstrom apart: not a molecule's geometry", gpath,
                                    j + 3, i + 1, j + 1, i + 3, j + 3,
                                    sqrt(r2) * FH_BOHR_ANGSTROM);
                    fh_xyz_free(*geom);
                    *geom = NULL;
                    return rc;
                }
            }
        cfg.natoms = (*geom)->natoms;
        cfg.z = (*geom)->z;
    }
    fh_molcas_config *mc = &cfg.molcas;
    mc->basis = fh_deck_string(d, "openmolcas", "basis");
    mc->nactel = (int)fh_deck_int(d, "openmolcas", "nactel");
    mc->nactorb = (int)fh_deck_int(d, "openmolcas", "nactorb");
    mc->charge = (int)fh_deck_int(d, "openmolcas", "charge");
    mc->spin = (int)fh_deck_int(d, "openmolcas", "spin");
    mc->ninactive = (int)fh_deck_int(d, "openmolcas", "inactive");
    if (mc->ninactive < 0 && *geom) { /* every electron outside the active space is inactive */
        int nel = -mc->charge;
        for (int a = 0; a < (*geom)->natoms; a++) nel += (*geom)->z[a];
        mc->ninactive = (nel - mc->nactel) / 2;
    }
    mc->memory_mb = (int)fh_deck_int(d, "openmolcas", "memory");
    mc->threads = (int)fh_deck_int(d, "openmolcas", "threads");
    mc->scratch = fh_deck_string(d, "openmolcas", "scratch");
    mc->keep_dir = *fh_deck_string(d, "openmolcas", "keep_dir") ? fh_deck_string(d, "openmolcas", "keep_dir") : NULL;
    mc->pymolcas = fh_deck_string(d, "openmolcas", "pymolcas");
    mc->reuse_orbitals = fh_deck_bool(d, "openmolcas", "reuse_orbitals");
    mc->timeout_s = fh_deck_real(d, "openmolcas", "timeout");
    int rc = fh_surface_alloc(&cfg, s, err);
    if (rc != FH_OK) {
        fh_err_prefix(err, "%s: [surface]: ", deck_name);
        fh_xyz_free(*geom);
        *geom = NULL;
    }
    return rc;
}

int fh_setup_dyn_params(const fh_deck *d, fh_dyn_params *p, fh_err *err)
{
    *p = fh_dyn_params_default();
    p->dt = fh_deck_real(d, "dynamics", "dt");
    p->tmax = fh_deck_real(d, "dynamics", "tmax");
    p->nsubsteps = (int)fh_deck_int(d, "dynamics", "nsubsteps");
    p->ktdc_gap = fh_deck_real(d, "dynamics", "ktdc_gap");
    p->nac_extrapolate = fh_deck_bool(d, "dynamics", "nac_extrapolate");
    p->edc_c = fh_deck_real(d, "dynamics", "edc_c");
    p->econs_step = fh_deck_real(d, "dynamics", "econs_step");
    p->econs_drift = fh_deck_real(d, "dynamics", "econs_drift");
    p->spread_max = fh_deck_real(d, "dynamics", "spread_max");
    p->bond_break = fh_deck_real(d, "dynamics", "bond_break");
    /* the schema's choices equal the library's names, so parsing cannot fail here */
    fh_dyn_coupling_parse(fh_deck_string(d, "dynamics", "coupling"), &p->coupling);
    fh_dyn_rescale_parse(fh_deck_string(d, "dynamics", "rescale"), &p->rescale);
    fh_dyn_frustrated_parse(fh_deck_string(d, "dynamics", "frustrated"), &p->frustrated);
    fh_dyn_decoherence_parse(fh_deck_string(d, "dynamics", "decoherence"), &p->decoherence);
    return fh_dyn_params_check(p, err);
}

char *fh_setup_outdir(const fh_deck *d, const char *deck_name, const char *cli_outdir)
{
    if (cli_outdir) return strdup(cli_outdir);
    const char *dir = fh_deck_string(d, "output", "dir");
    if (*dir) return strdup(dir);
    const char *base = strrchr(deck_name, '/');
    base = base ? base + 1 : deck_name;
    char *out = strdup(base);
    char *dot = out ? strrchr(out, '.') : NULL;
    if (dot && dot != out) *dot = '\0';
    return out;
}
