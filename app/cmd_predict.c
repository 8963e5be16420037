/* `fusionhop predict --model FILE --xyz FILE [--format json|tsv] [--member K] [--precision P]`: evaluate a
 * trained model (committee mean, or one member) on every frame of an XYZ file and write energies, gradients of all states,
 * NACs of all pairs and the committee spread to stdout, one frame per line. For checking a model
 * against reference data and for scripting without writing C. */
#include "fh_app.h"
#include "fh_model.h"
#include "fh_xyz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    printf("usage: fusionhop predict --model FILE --xyz FILE [--format json|tsv] [--member K]\n"
           "                        [--precision double|mixed]\n\n"
           "Evaluate the model (committee mean) on every frame of the XYZ file (Angstrom) and\n"
           "write one line per frame to stdout, in atomic units: energies of all states\n"
           "(hartree), gradients dE/dR of all states (hartree/bohr), NACs d_ij = <i|d/dR j> of\n"
           "all pairs (1/bohr; pairs (0,1), (0,2), ..., (1,2), ...) and the committee's energy\n"
           "standard deviation (hartree).\n\n"
           "  --format json  (default) one JSON object per line with keys frame, energies [N],\n"
           "                 gradients [N][atoms][3], nac [pairs][atoms][3], energy_std [N]\n"
           "  --format tsv   a header line, then one tab-separated row per frame: frame,\n"
           "                 E_s, std_s, grad_s_aA_k, nac_i_j_aA_k (A = atom from 1, k = x|y|z)\n"
           "  --member K     committee member K (1-based) alone instead of the mean (its\n"
           "                 energy_std is 0): where do the members disagree?\n"
           "  --precision P  double (default) or mixed: the arithmetic of the dynamics'\n"
           "                 default ([surface] precision = mixed; within about 1e-7)\n");
}

static void json_vec3s(FILE *f, const double *v, int n)
{
    fputc('[', f);
    for (int a = 0; a < n; a++)
        fprintf(f, "%s[%.17g,%.17g,%.17g]", a ? "," : "", v[3 * a], v[3 * a + 1], v[3 * a + 2]);
    fputc(']', f);
}

static void json_list(FILE *f, const double *v, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++) fprintf(f, "%s%.17g", i ? "," : "", v[i]);
    fputc(']', f);
}

static void write_json(FILE *f, int frame, int N, int natoms, const double *E, const double *G,
                       const double *nac, const double *sd)
{
    int P = N * (N - 1) / 2;
    fprintf(f, "{\"frame\":%d,\"energies\":", frame);
    json_list(f, E, N);
    fputs(",\"gradients\":[", f);
    for (int s = 0; s < N; s++) {
        if (s) fputc(',', f);
        json_vec3s(f, G + (size_t)s * 3 * natoms, natoms);
    }
    fputs("],\"nac\":[", f);
    for (int p = 0; p < P; p++) {
        if (p) fputc(',', f);
        json_vec3s(f, nac + (size_t)p * 3 * natoms, natoms);
    }
    fputs("],\"energy_std\":", f);
    json_list(f, sd, N);
    fputs("}\n", f);
}

static void write_tsv_header(FILE *f, int N, int natoms)
{
    static const char xyz[] = "xyz";
    fputs("frame", f);
    for (int s = 0; s < N; s++) fprintf(f, "\tE_%d", s);
    for (int s = 0; s < N; s++) fprintf(f, "\tstd_%d", s);
    for (int s = 0; s < N; s++)
        for (int a = 0; a < natoms; a++)
            for (int k = 0; k < 3; k++) fprintf(f, "\tgrad_%d_a%d_%c", s, a + 1, xyz[k]);
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            for (int a = 0; a < natoms; a++)
                for (int k = 0; k < 3; k++) fprintf(f, "\tnac_%d_%d_a%d_%c", i, j, a + 1, xyz[k]);
    fputc('\n', f);
}

static void write_tsv(FILE *f, int frame, int N, int natoms, const double *E, const double *G,
                      const double *nac, const double *sd)
{
    int P = N * (N - 1) / 2;
    fprintf(f, "%d", frame);
    for (int s = 0; s < N; s++) fprintf(f, "\t%.17g", E[s]);
    for (int s = 0; s < N; s++) fprintf(f, "\t%.17g", sd[s]);
    for (int i = 0; i < N * 3 * natoms; i++) fprintf(f, "\t%.17g", G[i]);
    for (int i = 0; i < P * 3 * natoms; i++) fprintf(f, "\t%.17g", nac[i]);
    fputc('\n', f);
}

/* Value of option `name` at argv[*i] ("--name VALUE" or "--name=VALUE"); NULL if not this one. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *missing)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) return NULL;
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (argv[*i][n] != '\0') return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

int fh_cmd_predict(int argc, char **argv)
{
    if (fh_wants_help(argc, argv)) {
        usage();
        return FH_EXIT_OK;
    }
    const char *model_path = NULL, *xyz_path = NULL, *format = "json", *member_arg = NULL;
    const char *precision = NULL;
    int have_format = 0;
    for (int i = 1; i < argc; i++) {
        int missing = 0, twice = 0;
        const char *v, *opt = argv[i];
        if ((v = opt_value(argc, argv, &i, "--model", &missing))) {
            twice = model_path != NULL;
            model_path = v;
        } else if ((v = opt_value(argc, argv, &i, "--xyz", &missing))) {
            twice = xyz_path != NULL;
            xyz_path = v;
        } else if ((v = opt_value(argc, argv, &i, "--format", &missing))) {
            twice = have_format;
            have_format = 1;
            format = v;
        } else if ((v = opt_value(argc, argv, &i, "--member", &missing))) {
            twice = member_arg != NULL;
            member_arg = v;
        } else if ((v = opt_value(argc, argv, &i, "--precision", &missing))) {
            twice = precision != NULL;
            precision = v;
        } else {
            fprintf(stderr, "fusionhop predict: %s '%s'; see 'fusionhop predict --help'\n",
                    missing ? "missing value for option" : "unknown argument", argv[i]);
            return FH_EXIT_USAGE;
        }
        if (missing) {
            fprintf(stderr, "fusionhop predict: missing value for option '%s'\n", argv[i]);
            return FH_EXIT_USAGE;
        }
        if (twice) { /* not "the last one wins": which one was meant? */
            fprintf(stderr, "fusionhop predict: option '%.*s' given twice\n",
                    (int)strcspn(opt, "="), opt);
            return FH_EXIT_USAGE;
        }
    }
    if (!model_path || !xyz_path) {
        fprintf(stderr, "fusionhop predict: --model FILE and --xyz FILE are required; see "
                "'fusionhop predict --help'\n");
        return FH_EXIT_USAGE;
    }
    int json = strcmp(format, "json") == 0;
    if (!json && strcmp(format, "tsv") != 0) {
        fprintf(stderr, "fusionhop predict: --format must be json or tsv, not '%s'\n", format);
        return FH_EXIT_USAGE;
    }
    int mixed = precision && strcmp(precision, "mixed") == 0;
    if (precision && !mixed && strcmp(precision, "double") != 0) {
        fprintf(stderr, "fusionhop predict: --precision must be double or mixed, not '%s'\n", precision);
        return FH_EXIT_USAGE;
    }
    int member = 0;
    if (member_arg && fh_parse_member("predict", member_arg, &member)) return FH_EXIT_USAGE;
    fh_err err = {0};
    fh_model *m = NULL;
    fh_xyz *xyz = NULL;
    int rc = fh_model_load(model_path, &m, &err);
    if (rc == FH_OK && member > 0 && (rc = fh_model_keep_member(m, member - 1, &err)))
        fh_err_prefix(&err, "--member %d: %s: ", member, model_path);
    if (rc == FH_OK)
        fh_model_set_precision(m, mixed ? FH_MODEL_PRECISION_MIXED : FH_MODEL_PRECISION_DOUBLE);
    if (rc == FH_OK) rc = fh_xyz_read(xyz_path, &xyz, &err);
    double *G = NULL, *nac = NULL;
    if (rc == FH_OK) {
        int N = fh_model_nstates(m), P = N * (N - 1) / 2, n3 = 3 * xyz->natoms;
        G = malloc(sizeof(double) * N * n3);
        nac = calloc((size_t)(P ? P : 1) * n3, sizeof(double));
        if (!G || !nac) rc = fh_err_set(&err, FH_EFAIL, "out of memory");
        if (rc == FH_OK && !json) write_tsv_header(stdout, N, xyz->natoms);
        for (int f = 0; f < xyz->nframes && rc == FH_OK; f++) {
            double E[FH_MODEL_MAX_STATES], sd[FH_MODEL_MAX_STATES];
            fh_model_request rq = {.grad_mask = (1u << N) - 1, .want_nac = P > 0, .energy = E,
                                   .grad = G, .nac = nac, .energy_std = sd};
            rc = fh_model_predict(m, xyz->natoms, xyz->z, xyz->x + (size_t)f * n3, &rq, &err);
            if (rc != FH_OK) {
                fh_err_prefix(&err, "%s: frame %d: ", xyz_path, f + 1);
                break;
            }
            if (json) write_json(stdout, f, N, xyz->natoms, E, G, nac, sd);
            else write_tsv(stdout, f, N, xyz->natoms, E, G, nac, sd);
        }
    }
    if (rc != FH_OK) fprintf(stderr, "fusionhop predict: %s\n", err.msg);
    if (fflush(stdout) != 0 && rc == FH_OK) {
        fprintf(stderr, "fusionhop predict: writing the results failed\n");
        rc = FH_EFAIL;
    }
    free(G);
    free(nac);
    fh_xyz_free(xyz);
    fh_model_free(m);
    return rc == FH_OK ? FH_EXIT_OK : rc == FH_EINPUT ? FH_EXIT_USAGE : FH_EXIT_FAIL;
}
