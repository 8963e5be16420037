/* Parameters of the surface-hopping integrator: the documented defaults, their validation, and the
 * names used by decks and command lines, all in one place so that the deck schema, `scatter` and
 * the library cannot disagree. */
#include "fh_bonds.h"
#include "fh_dynamics.h"
#include "fh_units.h"

#include <math.h>
#include <string.h>
#include <strings.h>

fh_dyn_params fh_dyn_params_default(void)
{
    fh_dyn_params p;
    p.dt = 0.5 * FH_FS_AUTIME;
    p.tmax = 0.0;
    p.nsubsteps = 20;
    p.coupling = FH_DYN_COUPLING_AUTO;
    p.ktdc_gap = 0.5 / FH_HARTREE_EV;
    p.nac_extrapolate = 1;
    p.rescale = FH_DYN_RESCALE_NAC;
    p.frustrated = FH_DYN_FRUSTRATED_KEEP;
    p.decoherence = FH_DYN_DECOHERENCE_NONE;
    p.edc_c = 0.1;
    p.econs_step = 0.5 / FH_HARTREE_EV;
    p.econs_drift = 0.5 / FH_HARTREE_EV;
    p.spread_max = 0.5 / FH_HARTREE_EV;
    p.bond_break = FH_BOND_BREAK_DEFAULT;
    return p;
}

int fh_dyn_params_check(const fh_dyn_params *p, fh_err *err)
{
    if (!(p->dt > 0) || !isfinite(p->dt))
        return fh_err_set(err, FH_EINPUT, "dynamics: dt must be positive, got %g a.u.", p->dt);
    if (isnan(p->tmax))
        return fh_err_set(err, FH_EINPUT, "dynamics: tmax is NaN");
    if (p->nsubsteps < 1 || p->nsubsteps > 100000)
        return fh_err_set(err, FH_EINPUT, "dynamics: nsubsteps must be in 1..100000, got %d",
                          p->nsubsteps);
    if ((unsigned)p->coupling > FH_DYN_COUPLING_KTDC)
        return fh_err_set(err, FH_EINPUT, "dynamics: unknown coupling %d", (int)p->coupling);
    if (!(p->ktdc_gap > 0))
        return fh_err_set(err, FH_EINPUT, "dynamics: ktdc_gap must be positive, got %g Eh",
                          p->ktdc_gap);
    if ((unsigned)p->rescale > FH_DYN_RESCALE_NONE)
        return fh_err_set(err, FH_EINPUT, "dynamics: unknown rescale mode %d", (int)p->rescale);
    if ((unsigned)p->frustrated > FH_DYN_FRUSTRATED_REVERSE_JT)
        return fh_err_set(err, FH_EINPUT, "dynamics: unknown frustrated-hop mode %d",
                          (int)p->frustrated);
    if ((unsigned)p->decoherence > FH_DYN_DECOHERENCE_EDC)
        return fh_err_set(err, FH_EINPUT, "dynamics: unknown decoherence %d", (int)p->decoherence);
    if (!(p->edc_c >= 0) || !isfinite(p->edc_c))
        return fh_err_set(err, FH_EINPUT, "dynamics: edc_c must be >= 0, got %g Eh", p->edc_c);
    if (isnan(p->econs_step) || isnan(p->econs_drift) || isnan(p->spread_max) ||
        isnan(p->bond_break))
        return fh_err_set(err, FH_EINPUT, "dynamics: NaN monitoring threshold");
    return FH_OK;
}

static const char *coupling_names[] = {"auto", "nac", "ktdc"};
static const char *rescale_names[] = {"nac", "velocity", "none"};
static const char *frustrated_names[] = {"keep", "reverse", "reverse_jt"};
static const char *decoherence_names[] = {"none", "edc"};
static const char *stop_names[] = {"running",   "tmax",   "econs_step", "econs_drift",
                                   "nan",       "spread", "provider",   "user", "fragmented"};

static const char *name_of(const char **names, int count, int value)
{
    return value >= 0 && value < count ? names[value] : "unknown";
}

static int parse_name(const char **names, int count, const char *s)
{
    for (int i = 0; s && i < count; i++)
        if (strcasecmp(s, names[i]) == 0) return i;
    return -1;
}

const char *fh_dyn_coupling_name(fh_dyn_coupling c) { return name_of(coupling_names, 3, (int)c); }
const char *fh_dyn_rescale_name(fh_dyn_rescale r) { return name_of(rescale_names, 3, (int)r); }
const char *fh_dyn_frustrated_name(fh_dyn_frustrated f)
{
    return name_of(frustrated_names, 3, (int)f);
}
const char *fh_dyn_decoherence_name(fh_dyn_decoherence d)
{
    return name_of(decoherence_names, 2, (int)d);
}
const char *fh_dyn_stop_name(fh_dyn_stop s) { return name_of(stop_names, 9, (int)s); }

int fh_dyn_coupling_parse(const char *s, fh_dyn_coupling *out)
{
    int i = parse_name(coupling_names, 3, s);
    if (i < 0) return -1;
    *out = (fh_dyn_coupling)i;
    return 0;
}

int fh_dyn_rescale_parse(const char *s, fh_dyn_rescale *out)
{
    int i = parse_name(rescale_names, 3, s);
    if (i < 0) return -1;
    *out = (fh_dyn_rescale)i;
    return 0;
}

int fh_dyn_frustrated_parse(const char *s, fh_dyn_frustrated *out)
{
    int i = parse_name(frustrated_names, 3, s);
    if (i < 0) return -1;
    *out = (fh_dyn_frustrated)i;
    return 0;
}

int fh_dyn_decoherence_parse(const char *s, fh_dyn_decoherence *out)
{
    int i = parse_name(decoherence_names, 2, s);
    if (i < 0) return -1;
    *out = (fh_dyn_decoherence)i;
    return 0;
}
