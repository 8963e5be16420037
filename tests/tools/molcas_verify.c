/* TEMPORARY check of dataset rows whose calculation started from the orbitals of another
 * geometry (info "reused_orbitals=1"): such a start can converge to a higher SA-CASSCF solution.
 * Each row is recomputed from SCF orbitals; if an energy differs by more than --tol hartree the
 * row is withdrawn (fh_dataset_mark_failed) and the recomputed result appended under the same id.
 * Ids checked are listed in --done-file so that a restarted check skips them.
 *
 *   molcas_verify --dataset DATA.h5 --done-file FILE [--tol 2e-5] [--basis 6-31G] [--nactel 2]
 *                 [--nactorb 2] [--inactive N] [--scratch DIR] [--keep-dir DIR] [--max N] */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fh_dataset.h"
#include "fh_openmolcas.h"
#include "fh_surfaces.h"
#include "fh_units.h"

static volatile sig_atomic_t stop_flag = 0;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int in_done(const char *path, const char *id)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[256];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        found = !strcmp(line, id);
    }
    fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    const char *data = NULL, *done = NULL;
    double tol = 2e-5;
    long max = 0;
    fh_surface_config cfg = {.type = "openmolcas", .nstates = 0};
    fh_molcas_config *mc = &cfg.molcas;
    *mc = (fh_molcas_config){.basis = "6-31G", .nactel = 2, .nactorb = 2, .ninactive = -1,
                             .spin = 1, .memory_mb = 2000, .threads = 1, .scratch = "/dev/shm",
                             .reuse_orbitals = 0, .timeout_s = 3600};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--dataset")) data = v;
        else if (!strcmp(a, "--done-file")) done = v;
        else if (!strcmp(a, "--tol")) tol = atof(v);
        else if (!strcmp(a, "--basis")) mc->basis = v;
        else if (!strcmp(a, "--nactel")) mc->nactel = atoi(v);
        else if (!strcmp(a, "--nactorb")) mc->nactorb = atoi(v);
        else if (!strcmp(a, "--inactive")) mc->ninactive = atoi(v);
        else if (!strcmp(a, "--scratch")) mc->scratch = v;
        else if (!strcmp(a, "--keep-dir")) mc->keep_dir = v;
        else if (!strcmp(a, "--max")) max = atol(v);
        else {
            fprintf(stderr, "molcas_verify: unknown option %s\n", a);
            return 2;
        }
    }
    if (!data || !done) {
        fprintf(stderr, "usage: molcas_verify --dataset DATA.h5 --done-file FILE [options]\n");
        return 2;
    }
    fh_err err = {0};
    fh_dataset *d = NULL;
    if (fh_dataset_read(data, &d, &err)) {
        fprintf(stderr, "molcas_verify: %s\n", err.msg);
        return err.code;
    }
    int na = d->natoms, ns = d->nstates, np = d->npairs, ndof = 3 * na;
    cfg.nstates = ns;
    cfg.natoms = na;
    cfg.z = d->z;
    if (mc->ninactive < 0) {
        int nel = 0;
        for (int a = 0; a < na; a++) nel += d->z[a];
        mc->ninactive = (nel - mc->nactel) / 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    fh_surface *s = NULL;
    if (fh_surface_alloc(&cfg, &s, &err)) {
        fprintf(stderr, "molcas_verify: %s\n", err.msg);
        fh_dataset_free(d);
        return err.code;
    }
    double *x = malloc(sizeof *x * ndof), *e = malloc(sizeof *e * ns),
           *g = malloc(sizeof *g * ns * ndof), *nac = malloc(sizeof *nac * (np ? np : 1) * ndof);
    unsigned char *hg = malloc((size_t)ns);
    long nchecked = 0, nreplaced = 0;
    int rc = 0;
    for (size_t r = 0; r < d->n && !stop_flag && rc == 0; r++) {
        if (d->status[r] != FH_DATASET_OK || !strstr(d->info[r], "reused_orbitals=1")) continue;
        if (in_done(done, d->id[r])) continue;
        if (max && nchecked >= max) break;
        for (int i = 0; i < ndof; i++) x[i] = d->pos[r * ndof + i] * FH_ANGSTROM_BOHR;
        fh_surf_molcas_set_label(s, d->id[r]);
        fh_surface_eval req = {.x = x, .grad_mask = (1u << ns) - 1u, .want_nac = np > 0,
                               .energy = e, .grad = g, .nac = nac};
        fh_err ee = {0};
        int ok = fh_surface_evaluate(s, &req, &ee) == FH_OK;
        double dmax = 0;
        for (int st = 0; ok && st < ns; st++)
            dmax = fmax(dmax, fabs(e[st] - d->energy[r * ns + st]));
        fh_molcas_details det;
        fh_surf_molcas_details(s, &det, NULL);
        nchecked++;
        if (!ok) {
            printf("%s: recomputation failed (%s); row kept\n", d->id[r], ee.msg);
        } else if (dmax <= tol) {
            printf("%s: same solution (max |dE| %.1e hartree)\n", d->id[r], dmax);
        } else {
            char note[FH_DATASET_INFO_LEN];
            snprintf(note, sizeof note, "superseded: converged to another SA-CASSCF solution "
                     "(energies %.6f %.6f from SCF orbitals differ by %.1e)", e[0],
                     ns > 1 ? e[1] : 0.0, dmax);
            for (int st = 0; st < ns; st++) hg[st] = 1;
            char info[FH_DATASET_INFO_LEN];
            snprintf(info, sizeof info, "rasscf_iterations=%d reused_orbitals=0 verified",
                     det.rasscf_iterations);
            double pos[3 * 256];
            for (int i = 0; i < ndof; i++) pos[i] = d->pos[r * ndof + i];
            fh_dataset_record rec = {.id = d->id[r], .origin = d->origin[r], .info = info,
                                     .status = FH_DATASET_OK, .wall_s = det.wall_s, .pos = pos,
                                     .energy = e, .grad = g, .has_grad = hg,
                                     .nac = np ? nac : NULL,
                                     .nac_ci = np && det.have_nac_parts ? det.nac_ci : NULL,
                                     .nac_csf = np && det.have_nac_parts ? det.nac_csf : NULL};
            size_t marked = 0;
            if (fh_dataset_mark_failed(data, d->id[r], note, &marked, &err) ||
                fh_dataset_append(data, &rec, 1, &err)) {
                fprintf(stderr, "molcas_verify: %s\n", err.msg);
                rc = err.code;
            }
            nreplaced++;
            printf("%s: REPLACED, max |dE| %.2e hartree (dataset %.6f, SCF start %.6f for S0)\n",
                   d->id[r], dmax, d->energy[r * ns], e[0]);
        }
        if (ok) {
            FILE *f = fopen(done, "a");
            if (f) {
                fprintf(f, "%s\n", d->id[r]);
                fclose(f);
            }
        }
        fflush(stdout);
    }
    printf("molcas_verify: %ld rows checked, %ld replaced\n", nchecked, nreplaced);
    free(x);
    free(e);
    free(g);
    free(nac);
    free(hg);
    fh_surface_free(s);
    fh_dataset_free(d);
    return rc;
}
