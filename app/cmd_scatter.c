/* `fusionhop scatter`: the Tully-model scattering benchmark from the command line, so that anyone
 * can compare the surface-hopping engine with exact quantum results (docs/scattering.md) without
 * writing a deck. Prints a TSV header and one line of branching fractions. */
#include "fh_app.h"
#include "fh_scatter.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fusionhop scatter --model {1,2,3} --momentum K --ntraj M [--seed S]\n"
            "                         [--decoherence none|edc] [--coupling nac|ktdc]\n"
            "                         [--rescale nac|velocity|none]\n"
            "                         [--frustrated keep|reverse|reverse_jt]\n"
            "\n"
            "Fewest-switches surface hopping on Tully's models (1 simple avoided crossing, 2 dual\n"
            "avoided crossing, 3 extended coupling with reflection; mass 2000 a.u.). M trajectories\n"
            "start at x = -10 bohr (model 3: -15 bohr) on the lower adiabatic state with momentum\n"
            "K a.u. and run until they leave the interaction region (x < x0 or x > -x0).\n"
            "Trajectory i draws its random numbers from (S, i) only. Settings: time step\n"
            "min(10, 40/K) a.u., max(10, ceil(4 dt)) electronic substeps; by default NAC couplings,\n"
            "velocity rescaling along the NAC, frustrated hops keep the velocity, no decoherence.\n"
            "\n"
            "options:\n"
            "  --model N          Tully model 1, 2 or 3 (required)\n"
            "  --momentum K       initial momentum in atomic units, 0 < K <= 1e6 (required)\n"
            "  --ntraj M          number of trajectories, >= 1 (required)\n"
            "  --seed S           ensemble seed, 0..2^64-1 (default 1)\n"
            "  --decoherence D    none (default) or edc (Granucci-Persico, C = 0.1 hartree)\n"
            "  --coupling C       nac (default): T = v.d; ktdc: curvature-driven coupling from\n"
            "                     the energy gap alone (NACs withheld; rescaling along v)\n"
            "  --rescale R        after a hop: nac (default), velocity or none\n"
            "  --frustrated F     frustrated hop: keep (default), reverse the velocity along the\n"
            "                     NAC, or reverse_jt (only under the Jasper-Truhlar criterion)\n"
            "  -h, --help         show this help\n"
            "\n"
            "output (stdout, tab-separated): a header line and one line\n"
            "  model momentum ntraj T_lower T_upper R_lower R_upper seconds\n"
            "T/R = transmitted/reflected on the lower/upper adiabatic state (fractions summing to 1);\n"
            "seconds = wall-clock time of the ensemble.\n");
}

/* A usage error: message, pointer to --help, exit code 2. */
static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fusionhop scatter: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nsee 'fusionhop scatter --help'\n");
    va_end(ap);
    return FH_EXIT_USAGE;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (s[0] == '-' || s[0] == '\0') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0') return -1;
    *out = (uint64_t)v;
    return 0;
}

/* Largest --momentum, a.u.: far beyond any scattering regime, far below where K^2/2m overflows. */
#define MAX_MOMENTUM 1e6

static int parse_positive(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v) || !(v > 0) || v > MAX_MOMENTUM) return -1;
    *out = v;
    return 0;
}

/* Every option takes a value; this table tells a missing value from an unknown option. */
static int known_option(const char *name)
{
    static const char *const names[] = {"--model", "--momentum", "--ntraj", "--seed",
                                        "--decoherence", "--coupling", "--rescale", "--frustrated"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (strcmp(name, names[k]) == 0) return 1;
    return 0;
}

int fh_cmd_scatter(int argc, char **argv)
{
    if (fh_wants_help(argc, argv)) {
        usage(stdout);
        return FH_EXIT_OK;
    }
    long model = 0, ntraj = 0;
    double momentum = 0;
    uint64_t seed = 1;
    fh_dyn_decoherence dec = FH_DYN_DECOHERENCE_NONE;
    fh_dyn_coupling coupling = FH_DYN_COUPLING_NAC;
    fh_dyn_rescale rescale = FH_DYN_RESCALE_NAC;
    fh_dyn_frustrated frustrated = FH_DYN_FRUSTRATED_KEEP;
    int have_model = 0, have_momentum = 0, have_ntraj = 0;
    for (int i = 1; i < argc; i++) {
        /* an option given twice is a mistake (which one was meant?), not "the last one wins" */
        for (int j = 1; j < i; j++) {
            size_t li = strcspn(argv[i], "="), lj = strcspn(argv[j], "=");
            if (strncmp(argv[i], "--", 2) == 0 && li == lj && strncmp(argv[i], argv[j], li) == 0)
                return bad("option '%.*s' given twice", (int)li, argv[i]);
        }
        const char *opt = argv[i], *val = NULL;
        char name[32];
        const char *eq = strchr(opt, '=');
        if (strncmp(opt, "--", 2) != 0) return bad("unexpected argument '%s'", opt);
        if (eq) { /* --opt=value */
            size_t len = (size_t)(eq - opt);
            if (len >= sizeof name) return bad("unknown option '%s'", opt);
            memcpy(name, opt, len);
            name[len] = '\0';
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", opt);
            if (strlen(opt) >= sizeof name) return bad("unknown option '%s'", opt);
            if (i + 1 >= argc)
                return known_option(name) ? bad("option '%s' needs a value", opt)
                                          : bad("unknown option '%s'", opt);
            val = argv[++i];
        }
        if (strcmp(name, "--model") == 0) {
            if (parse_long(val, 1, 3, &model)) return bad("--model must be 1, 2 or 3, got '%s'", val);
            have_model = 1;
        } else if (strcmp(name, "--momentum") == 0) {
            if (parse_positive(val, &momentum))
                return bad("--momentum must be a positive number up to %g (atomic units), got '%s'",
                           MAX_MOMENTUM, val);
            have_momentum = 1;
        } else if (strcmp(name, "--ntraj") == 0) {
            if (parse_long(val, 1, 1000000000L, &ntraj))
                return bad("--ntraj must be an integer >= 1, got '%s'", val);
            have_ntraj = 1;
        } else if (strcmp(name, "--seed") == 0) {
            if (parse_u64(val, &seed))
                return bad("--seed must be an integer 0..18446744073709551615, got '%s'", val);
        } else if (strcmp(name, "--decoherence") == 0) {
            if (fh_dyn_decoherence_parse(val, &dec))
                return bad("--decoherence must be none or edc, got '%s'", val);
        } else if (strcmp(name, "--coupling") == 0) {
            if (fh_dyn_coupling_parse(val, &coupling) || coupling == FH_DYN_COUPLING_AUTO)
                return bad("--coupling must be nac or ktdc, got '%s'", val);
        } else if (strcmp(name, "--rescale") == 0) {
            if (fh_dyn_rescale_parse(val, &rescale))
                return bad("--rescale must be nac, velocity or none, got '%s'", val);
        } else if (strcmp(name, "--frustrated") == 0) {
            if (fh_dyn_frustrated_parse(val, &frustrated))
                return bad("--frustrated must be keep, reverse or reverse_jt, got '%s'", val);
        } else {
            return bad("unknown option '%s'", name);
        }
    }
    if (!have_model) return bad("missing --model");
    if (!have_momentum) return bad("missing --momentum");
    if (!have_ntraj) return bad("missing --ntraj");

    fh_scatter_config cfg = fh_scatter_default((int)model, momentum, ntraj, seed);
    cfg.dyn.decoherence = dec;
    cfg.dyn.coupling = coupling;
    cfg.dyn.rescale = rescale;
    cfg.dyn.frustrated = frustrated;
    fh_scatter_result res;
    fh_err err;
    fh_err_clear(&err);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = fh_scatter_run(&cfg, &res, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != FH_OK) {
        fprintf(stderr, "fusionhop scatter: %s\n", err.msg);
        return rc == FH_EINPUT ? FH_EXIT_USAGE : FH_EXIT_FAIL;
    }
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("model\tmomentum\tntraj\tT_lower\tT_upper\tR_lower\tR_upper\tseconds\n");
    printf("%ld\t%g\t%ld\t%.6f\t%.6f\t%.6f\t%.6f\t%.3f\n", model, momentum, ntraj,
           res.fraction[FH_SCATTER_T_LOWER], res.fraction[FH_SCATTER_T_UPPER],
           res.fraction[FH_SCATTER_R_LOWER], res.fraction[FH_SCATTER_R_UPPER], seconds);
    return FH_EXIT_OK;
}
