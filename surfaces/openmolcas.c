/* The OpenMolcas provider: SA-CASSCF energies, analytic gradients and nonadiabatic couplings by
 * running pymolcas (Debian's openmolcas package) once per geometry. Each calculation gets a fresh
 * work directory under the scratch directory (OpenMolcas is I/O-bound with conventional integrals:
 * the RAM disk /dev/shm is many times faster than a disk), the output is parsed into atomic units
 * and our conventions (fh_openmolcas.h), and the directory is removed. The converged orbitals of
 * the previous geometry are the next starting guess when the new geometry is close to it (a
 * dynamics step, a finite-difference displacement): that skips the SCF step, saves RASSCF
 * iterations and keeps the same active orbitals along a path; a run that fails from them is
 * retried once from SCF orbitals. Independent geometries start from SCF orbitals (see
 * FH_MOLCAS_REUSE_MAX_BOHR); where the SCF itself stops with an error (its QNR steps oscillate
 * at some twisted stilbene geometries), the run is retried once without it, RASSCF starting from
 * SEWARD's guess orbitals. Failures never crash the caller: FH_EFAIL with the log kept. */
#include "fh_openmolcas.h"
#include "fh_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "fh_units.h"

#define PROJECT "fh" /* pymolcas names its files after the input: fh.input -> fh.log, fh.RasOrb */

typedef struct {
    fh_molcas_config cfg; /* strings point to the copies below */
    char *basis, *scratch, *keep_dir, *pymolcas;
    int natoms, nstates;
    int *z;
    char orbdir[1024];    /* holds prev.RasOrb, the last converged orbitals */
    int have_orb;
    int scf_failed;       /* the last run failed in its SCF step */
    double *prev_x;       /* [ndof] the geometry those orbitals belong to, bohr */
    unsigned long counter;
    char label[128];
    fh_molcas_details det;
    double *nac_ci, *nac_csf;
} molcas_impl;

/* ---- files and directories -------------------------------------------------------------- */

static int remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return -1;
        struct dirent *e;
        char sub[4096];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        closedir(d);
        return rmdir(path);
    }
    return unlink(path);
}

/* Work directories are named <kind>.<pid>.<host>.XXXXXX so that the ones a killed run left
 * behind (600 MB each for stilbene, on a RAM disk) can be told from those of live runs: a new
 * provider removes the directories of processes of this host that no longer exist. */
static void host_tag(char *buf, size_t n)
{
    if (gethostname(buf, n - 1) != 0) snprintf(buf, n, "host");
    buf[n - 1] = '\0';
    for (char *c = buf; *c; c++)
        if (*c == '/' || *c == '.') *c = '_';
}

static void scratch_name(char *buf, size_t n, const char *scratch, const char *kind)
{
    char host[256];
    host_tag(host, sizeof host);
    snprintf(buf, n, "%s/%s.%ld.%.200s.XXXXXX", scratch, kind, (long)getpid(), host);
}

/* The pid in a name made by scratch_name for this host, or 0 when the name is not one. */
static long stale_owner(const char *name, const char *host)
{
    static const char *kinds[] = {"fhmolcas.", "fhmolcas-orb."};
    for (int k = 0; k < 2; k++) {
        size_t lk = strlen(kinds[k]);
        if (strncmp(name, kinds[k], lk) != 0) continue;
        char *end;
        long pid = strtol(name + lk, &end, 10);
        if (pid <= 0 || *end != '.') return 0;
        size_t lh = strlen(host);
        if (strncmp(end + 1, host, lh) != 0 || end[1 + lh] != '.' || strlen(end + 2 + lh) != 6)
            return 0;
        return pid;
    }
    return 0;
}

void fh_molcas_sweep_scratch(const char *scratch)
{
    char host[256];
    host_tag(host, sizeof host);
    DIR *d = opendir(scratch);
    if (!d) return;
    struct dirent *e;
    char path[2048];
    while ((e = readdir(d))) {
        long pid = stale_owner(e->d_name, host);
        if (pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge */
        snprintf(path, sizeof path, "%s/%s", scratch, e->d_name);
        remove_tree(path);
    }
    closedir(d);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- the input -------------------------------------------------------------------------- */

int fh_molcas_write_input(FILE *f, const fh_molcas_config *cfg, int natoms, const int *z,
                          const double *x, int nstates, unsigned grad_mask, int want_nac,
                          const char *orbfile)
{
    /* Native GATEWAY input: coordinates in bohr, no symmetry, no reorientation. One basis block
     * per element; atom labels carry the 1-based atom index so the output maps back by label. */
    fprintf(f, "&GATEWAY\n");
    for (int el = 1; el <= FH_MAX_Z; el++) {
        int any = 0;
        for (int a = 0; a < natoms; a++) any |= z[a] == el;
        if (!any) continue;
        fprintf(f, "  Basis set\n  %s.%s....\n", fh_element_symbol(el), cfg->basis);
        for (int a = 0; a < natoms; a++)
            if (z[a] == el)
                fprintf(f, "  %s%d %.12f %.12f %.12f\n", fh_element_symbol(el), a + 1, x[3 * a],
                        x[3 * a + 1], x[3 * a + 2]);
        fprintf(f, "  End of basis\n");
    }
    fprintf(f, "&SEWARD\n");
    if (!orbfile) {
        fprintf(f, "&SCF\n  Charge = %d\n", cfg->charge);
        if (cfg->spin != 1) fprintf(f, "  UHF\n  Spin = %d\n", cfg->spin);
    }
    fprintf(f, "&RASSCF\n  Spin = %d\n  Charge = %d\n  Nactel = %d 0 0\n  Inactive = %d\n"
               "  Ras2 = %d\n  CIRoot = %d %d 1\n",
            cfg->spin, cfg->charge, cfg->nactel, cfg->ninactive, cfg->nactorb, nstates, nstates);
    /* The energies of the individual states converge only to first order in the orbital error
     * (the average to second order): with the default thresholds (1e-8, 1e-4, 1e-4) they scatter
     * by ~1e-5 hartree between starting guesses, harmless for training data but too much for a
     * finite-difference check of the gradients. */
    if (cfg->tight) fprintf(f, "  Thrs = 1.0e-10 1.0e-06 1.0e-06\n");
    if (orbfile && *orbfile) fprintf(f, "  FileOrb = %s\n", orbfile);
    for (int s = 0; s < nstates; s++)
        if (grad_mask & (1u << s)) fprintf(f, "&ALASKA\n  Root = %d\n", s + 1);
    if (want_nac)
        for (int i = 0; i < nstates; i++)
            for (int j = i + 1; j < nstates; j++) fprintf(f, "&ALASKA\n  NAC = %d %d\n", i + 1, j + 1);
    return ferror(f) ? -1 : 0;
}

/* ---- the log ---------------------------------------------------------------------------- */

/* Reads the natoms rows of a coordinate table that follows a block header: lines "LABEL x y z"
 * where LABEL ends in the 1-based atom index. */
static int read_table(FILE *f, int natoms, double *out)
{
    char line[512];
    int got = 0;
    unsigned char *seen = calloc((size_t)natoms, 1);
    if (!seen) return -1;
    while (got < natoms && fgets(line, sizeof line, f)) {
        char label[64];
        double v[3];
        if (sscanf(line, "%63s %lf %lf %lf", label, v, v + 1, v + 2) != 4) {
            if (got > 0) break; /* the table ended early */
            continue;
        }
        const char *p = label;
        while (*p && (*p < '0' || *p > '9')) p++;
        int a = atoi(p) - 1;
        if (!*p || a < 0 || a >= natoms || seen[a]) break;
        seen[a] = 1;
        for (int k = 0; k < 3; k++) out[3 * a + k] = v[k];
        got++;
    }
    free(seen);
    return got == natoms ? 0 : -1;
}

static int read_h5_energies(const char *path, int nstates, double *e);

int fh_molcas_parse_log(const char *log_path, const char *energy_h5, fh_molcas_output *out,
                        fh_err *err)
{
    FILE *f = fopen(log_path, "r");
    if (!f) return fh_err_set(err, FH_EFAIL, "%s: %s", log_path, strerror(errno));
    int n = out->nstates, na = out->natoms, ndof = 3 * na;
    int npairs = fh_npairs(n);
    int ngrad_want = 0;
    for (int s = 0; s < n; s++) ngrad_want += (out->grad_mask >> s) & 1u;
    int nnac_want = out->want_nac ? npairs : 0;

    int nroots = 0, ngrad = 0, nci = 0, ncsf = 0, ntot = 0, happy = 0, rc = FH_OK;
    double divided_by = 1.0;
    unsigned char have_e[32] = {0};
    char line[1024], failure[512] = "";
    double *tot = calloc((size_t)(npairs ? npairs : 1) * (size_t)ndof, sizeof *tot);
    if (!tot) {
        fclose(f);
        return fh_err_set(err, FH_EFAIL, "out of memory");
    }
    out->rasscf_iterations = 0;
    while (rc == FH_OK && fgets(line, sizeof line, f)) {
        int k, it;
        double e;
        if (sscanf(line, ":: RASSCF root number %d Total energy: %lf", &k, &e) == 2) {
            if (k >= 1 && k <= n) {
                out->energy[k - 1] = e;
                if (!have_e[k - 1]) nroots++;
                have_e[k - 1] = 1;
            }
        } else if (sscanf(line, " Convergence after %d iterations", &it) == 1) {
            out->rasscf_iterations = it;
        } else if (strstr(line, "No convergence") || strstr(line, "not converged") ||
                   strstr(line, "NOT CONVERGED")) {
            if (!failure[0]) snprintf(failure, sizeof failure, "%.500s", line);
        } else if (strstr(line, "--- Stop Module:") && strstr(line, "/rc=")) {
            const char *r = strstr(line, "/rc=") + 4;
            if (strncmp(r, "_RC_ALL_IS_WELL_", 16) && strncmp(r, "_RC_INVOKED_OTHER_MODULE_", 25)
                && !failure[0])
                snprintf(failure, sizeof failure, "%.500s", line);
        } else if (strstr(line, "Happy landing")) {
            happy = 1;
        } else if (strstr(line, "*              Molecular gradients")) {
            /* the k-th gradient block belongs to the k-th requested state */
            int s = -1, cnt = -1;
            for (int t = 0; t < n && cnt < ngrad; t++)
                if ((out->grad_mask >> t) & 1u) {
                    cnt++;
                    s = t;
                }
            if (ngrad >= ngrad_want || s < 0) {
                rc = fh_err_set(err, FH_EFAIL, "%s: more gradient blocks than requested",
                                log_path);
                break;
            }
            if (read_table(f, na, out->grad + (size_t)s * ndof))
                rc = fh_err_set(err, FH_EFAIL, "%s: malformed gradient block %d", log_path,
                                ngrad + 1);
            ngrad++;
        } else if (strstr(line, "*              CI derivative coupling")) {
            if (nci >= nnac_want || read_table(f, na, out->nac_ci + (size_t)nci * ndof))
                rc = fh_err_set(err, FH_EFAIL, "%s: unexpected or malformed CI derivative "
                                "coupling block", log_path);
            nci++;
        } else if (strstr(line, "*              CSF derivative coupling")) {
            if (ncsf >= nnac_want || read_table(f, na, out->nac_csf + (size_t)ncsf * ndof))
                rc = fh_err_set(err, FH_EFAIL, "%s: unexpected or malformed CSF derivative "
                                "coupling block", log_path);
            ncsf++;
        } else if (strstr(line, "*              Total derivative coupling")) {
            const char *d = strstr(line, "(divided by");
            divided_by = 1.0;
            if (d) sscanf(d, "(divided by %lf", &divided_by);
            if (ntot >= nnac_want || read_table(f, na, tot + (size_t)ntot * ndof))
                rc = fh_err_set(err, FH_EFAIL, "%s: unexpected or malformed total derivative "
                                "coupling block", log_path);
            /* A scaled printout is not the plain total; rebuild it from the parts below. */
            if (divided_by != 1.0) tot[(size_t)ntot * ndof] = NAN;
            ntot++;
        }
    }
    fclose(f);
    if (rc == FH_OK && failure[0]) {
        size_t l = strlen(failure);
        while (l && (failure[l - 1] == '\n' || failure[l - 1] == ' ')) failure[--l] = '\0';
        rc = fh_err_set(err, FH_EFAIL, "%s: OpenMolcas failed: %s", log_path, failure);
    }
    if (rc == FH_OK && nroots != n)
        rc = fh_err_set(err, FH_EFAIL, "%s: %d of %d RASSCF root energies found", log_path,
                        nroots, n);
    if (rc == FH_OK && ngrad != ngrad_want)
        rc = fh_err_set(err, FH_EFAIL, "%s: %d of %d gradients found", log_path, ngrad,
                        ngrad_want);
    if (rc == FH_OK && (nci != nnac_want || ncsf != nnac_want || ntot != nnac_want))
        rc = fh_err_set(err, FH_EFAIL, "%s: %d/%d/%d of %d CI/CSF/total NAC blocks found",
                        log_path, nci, ncsf, ntot, nnac_want);
    if (rc == FH_OK && !happy)
        rc = fh_err_set(err, FH_EFAIL, "%s: the run did not finish (no \"Happy landing\")",
                        log_path);
    if (rc == FH_OK && energy_h5) read_h5_energies(energy_h5, n, out->energy);

    /* To our convention: request NAC=i+1 j+1 gives f^AB = <psi_j|grad psi_i> = -d_ij. */
    for (int p = 0; rc == FH_OK && p < nnac_want; p++) {
        int i = 0, j = 1;
        for (int a = 0, q = 0; a < n; a++)
            for (int b = a + 1; b < n; b++, q++)
                if (q == p) {
                    i = a;
                    j = b;
                }
        double *ci = out->nac_ci + (size_t)p * ndof, *csf = out->nac_csf + (size_t)p * ndof;
        double *t = tot + (size_t)p * ndof, *d = out->nac + (size_t)p * ndof;
        double gap = out->energy[j] - out->energy[i];
        for (int c = 0; c < ndof; c++) csf[c] = -csf[c];
        if (isnan(t[0])) {
            for (int c = 0; c < ndof; c++) d[c] = ci[c] / gap + csf[c];
        } else {
            for (int c = 0; c < ndof; c++) d[c] = -t[c];
        }
    }
    free(tot);
    return rc;
}

/* rasscf.h5 holds the root energies to full precision (the log prints 8 decimals). */
static int read_h5_energies(const char *path, int nstates, double *e)
{
    H5E_auto2_t func;
    void *data;
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int rc = -1;
    if (access(path, R_OK) == 0 && H5Fis_hdf5(path) > 0) {
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (f >= 0) {
            hid_t d = H5Dopen2(f, "ROOT_ENERGIES", H5P_DEFAULT);
            if (d >= 0) {
                hid_t sp = H5Dget_space(d);
                hssize_t np = H5Sget_simple_extent_npoints(sp);
                double *buf = np >= nstates ? malloc((size_t)np * sizeof *buf) : NULL;
                if (buf && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) {
                    int agree = 1;
                    for (int s = 0; s < nstates; s++) agree &= fabs(buf[s] - e[s]) < 1e-7;
                    if (agree) {
                        memcpy(e, buf, (size_t)nstates * sizeof *e);
                        rc = 0;
                    }
                }
                free(buf);
                H5Sclose(sp);
                H5Dclose(d);
            }
            H5Fclose(f);
        }
    }
    H5Eset_auto2(H5E_DEFAULT, func, data);
    return rc;
}

/* ---- running pymolcas ------------------------------------------------------------------- */

/* SIGTERM in the leader of an OpenMolcas process group: kill the group, the leader included. */
static void take_group_down(int sig)
{
    (void)sig;
    kill(0, SIGKILL);
    _exit(128 + SIGTERM);
}

/* Whether a process of process group pgid is stopped (SIGSTOP, a suspended job): its state in
 * /proc/PID/stat, the field after the command name, is T or t. */
static int group_stopped(pid_t pgid)
{
    DIR *d = opendir("/proc");
    if (!d) return 0;
    int stopped = 0;
    struct dirent *e;
    while (!stopped && (e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *r = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
        char state;
        int pgrp; /* the fields after the name: state, parent, process group */
        if (r && sscanf(r + 1, " %c %*d %d", &state, &pgrp) == 2 && pgrp == (int)pgid &&
            (state == 'T' || state == 't'))
            stopped = 1;
    }
    closedir(d);
    return stopped;
}

/* Runs the pymolcas command on PROJECT.input in dir; returns 0 when it exited (any status),
 * 1 on timeout, -1 when it could not be started; *running: the seconds it ran. Both the timeout
 * and *running count running time only: a run paused with SIGSTOP (the caller lending the cores
 * for a while) or a suspended job (which stops this process too: a poll that comes far later than
 * asked for) does not use it up, and the dataset's seconds per geometry stay the cost. */
static int run_pymolcas(const molcas_impl *m, const char *dir, int *status, double *running)
{
    *running = 0;
    char *cmd = strdup(m->cfg.pymolcas);
    if (!cmd) return -1;
    char *argv[32];
    int argc = 0;
    for (char *tok = strtok(cmd, " \t"); tok && argc < 30; tok = strtok(NULL, " \t"))
        argv[argc++] = tok;
    argv[argc++] = PROJECT ".input";
    argv[argc] = NULL;

    char mem[32], thr[32];
    snprintf(mem, sizeof mem, "%d", m->cfg.memory_mb);
    snprintf(thr, sizeof thr, "%d", m->cfg.threads);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        free(cmd);
        return -1;
    }
    if (pid == 0) {
        /* The child leads a process group of its own, so that a timeout stops everything pymolcas
         * started (kill(-pid)), and stays between us and pymolcas: if we die (killed, crashed),
         * the kernel sends it SIGTERM (PR_SET_PDEATHSIG) and it takes the whole group down, so no
         * orphaned OpenMolcas run goes on computing for nobody. */
        setpgid(0, 0);
        signal(SIGTERM, take_group_down);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) take_group_down(SIGTERM); /* we died before prctl */
        if (chdir(dir) != 0) _exit(127);
        pid_t inner = fork();
        if (inner < 0) _exit(127);
        if (inner == 0) {
            signal(SIGTERM, SIG_DFL);
            int fo = open(PROJECT ".log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
            int fe = open(PROJECT ".err", O_WRONLY | O_CREAT | O_TRUNC, 0644);
            int fi = open("/dev/null", O_RDONLY);
            if (fo < 0 || fe < 0 || fi < 0) _exit(127);
            dup2(fi, 0);
            dup2(fo, 1);
            dup2(fe, 2);
            setenv("MOLCAS_WORKDIR", dir, 1);
            setenv("MOLCAS_MEM", mem, 1);
            setenv("OMP_NUM_THREADS", thr, 1);
            setenv("MOLCAS_NPROCS", "1", 1);
            setenv("MOLCAS_PROJECT", PROJECT, 1);
            unsetenv("MOLCAS_OUTPUT");
            execvp(argv[0], argv);
            _exit(127);
        }
        int st = 0;
        while (waitpid(inner, &st, 0) < 0 && errno == EINTR) {}
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0));
    }
    free(cmd);
    setpgid(pid, pid);
    double used = 0, last = now_s(); /* running seconds so far, time of the last poll */
    int timed_out = 0, paused = 0;
    for (long polls = 0;; polls++) {
        pid_t w = waitpid(pid, status, WNOHANG);
        double t = now_s(), dt = t - last;
        last = t;
        if (w == 0 && polls % 10 == 0) paused = group_stopped(pid); /* about 5 times a second */
        if (dt < 1.0 && !paused) used += dt; /* a poll 1 s late: we were stopped ourselves */
        *running = used;
        if (w == pid) break;
        if (w < 0 && errno != EINTR) return -1;
        /* before calling it a timeout, look again: the run may have stopped since the last look
         * (on a loaded machine the polls come late and that time would count as running) */
        if (m->cfg.timeout_s > 0 && used > m->cfg.timeout_s && !paused &&
            !(paused = group_stopped(pid))) {
            timed_out = 1;
            kill(-pid, SIGTERM);
            double t1 = now_s();
            while (waitpid(pid, status, WNOHANG) == 0 && now_s() - t1 < 5.0) {
                struct timespec ts = {0, 50000000};
                nanosleep(&ts, NULL);
            }
            kill(-pid, SIGKILL);
            waitpid(pid, status, 0);
            break;
        }
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    return timed_out;
}

/* Keeps the input, log and error output of the run under keep_dir (or, failing that, in the
 * work directory with everything else removed) and sets det.log_path. */
static void keep_logs(molcas_impl *m, const char *dir, const char *name, int failed)
{
    char from[2048], to[2048];
    m->det.log_path[0] = '\0';
    if (m->cfg.keep_dir && m->cfg.keep_dir[0] && fh_file_mkdirs(m->cfg.keep_dir) == 0) {
        static const char *ext[] = {"input", "log", "err"};
        for (int k = 0; k < 3; k++) {
            snprintf(from, sizeof from, "%s/" PROJECT ".%s", dir, ext[k]);
            snprintf(to, sizeof to, "%s/%s.%s", m->cfg.keep_dir, name, ext[k]);
            fh_file_copy(from, to);
        }
        snprintf(m->det.log_path, sizeof m->det.log_path, "%.700s/%.200s.log", m->cfg.keep_dir, name);
        remove_tree(dir);
        return;
    }
    if (!failed) {
        remove_tree(dir);
        return;
    }
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
                !strcmp(e->d_name, PROJECT ".input") || !strcmp(e->d_name, PROJECT ".log") ||
                !strcmp(e->d_name, PROJECT ".err"))
                continue;
            snprintf(from, sizeof from, "%s/%s", dir, e->d_name);
            remove_tree(from);
        }
        closedir(d);
    }
    snprintf(m->det.log_path, sizeof m->det.log_path, "%.900s/" PROJECT ".log", dir);
}

/* Whether the log shows the SCF module stopping with an error (e.g. "inconsistency in gradient"
 * when its QNR/DIIS steps oscillate at a twisted, diradical-like geometry). */
static int scf_failed(const char *log)
{
    FILE *f = fopen(log, "r");
    if (!f) return 0;
    char line[512];
    int failed = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "--- Stop Module: scf ", 21) == 0)
            failed = strstr(line, "/rc=_RC_ALL_IS_WELL_") == NULL;
    fclose(f);
    return failed;
}

/* One calculation; orbfile NULL: start from SCF orbitals, "": from SEWARD's guess orbitals. */
static int run_once(molcas_impl *m, const double *x, unsigned grad_mask, int want_nac,
                    const char *orbfile, const char *name, fh_molcas_output *o, fh_err *err)
{
    char dir[1024], path[2048], h5[2048];
    m->det.wall_s = 0; /* a run that never starts takes none */
    scratch_name(dir, sizeof dir, m->cfg.scratch, "fhmolcas");
    if (!mkdtemp(dir))
        return fh_err_set(err, FH_EFAIL, "OpenMolcas: cannot make a work directory under %s: %s",
                          m->cfg.scratch, strerror(errno));
    snprintf(path, sizeof path, "%s/" PROJECT ".input", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        remove_tree(dir);
        return fh_err_set(err, FH_EFAIL, "%s: %s", path, strerror(errno));
    }
    int bad = fh_molcas_write_input(f, &m->cfg, m->natoms, m->z, x, m->nstates, grad_mask,
                                    want_nac, orbfile);
    if (fclose(f) || bad) {
        remove_tree(dir);
        return fh_err_set(err, FH_EFAIL, "%s: cannot write the input", path);
    }

    int status = 0, rc = FH_OK;
    int r = run_pymolcas(m, dir, &status, &m->det.wall_s);
    snprintf(path, sizeof path, "%s/" PROJECT ".log", dir);
    snprintf(h5, sizeof h5, "%s/" PROJECT ".rasscf.h5", dir);
    if (r < 0)
        rc = fh_err_set(err, FH_EFAIL, "OpenMolcas: cannot run \"%s\": %s", m->cfg.pymolcas,
                        strerror(errno));
    else if (r == 1)
        rc = fh_err_set(err, FH_EFAIL, "OpenMolcas: timed out after %.0f s", m->cfg.timeout_s);
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        rc = fh_err_set(err, FH_EFAIL, "OpenMolcas: cannot execute \"%s\"", m->cfg.pymolcas);
    else {
        rc = fh_molcas_parse_log(path, h5, o, err);
        if (rc == FH_OK && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            rc = fh_err_set(err, FH_EFAIL, "OpenMolcas: pymolcas exited with status %d",
                            WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    m->scf_failed = rc != FH_OK && !orbfile && scf_failed(path);
    if (rc == FH_OK && m->cfg.reuse_orbitals) {
        char from[2048], to[2048];
        snprintf(from, sizeof from, "%s/" PROJECT ".RasOrb", dir);
        snprintf(to, sizeof to, "%s/prev.RasOrb", m->orbdir);
        m->have_orb = fh_file_copy(from, to) == 0;
        memcpy(m->prev_x, x, (size_t)3 * m->natoms * sizeof *x);
    }
    keep_logs(m, dir, name, rc != FH_OK);
    if (rc != FH_OK && m->det.log_path[0])
        fh_err_prefix(err, "[log kept: %s] ", m->det.log_path);
    return rc;
}

/* Largest displacement of any atom between two geometries, bohr. */
static double max_displacement(const double *x, const double *y, int natoms)
{
    double m = 0;
    for (int a = 0; a < natoms; a++) {
        double d2 = 0;
        for (int k = 0; k < 3; k++) d2 += (x[3 * a + k] - y[3 * a + k]) * (x[3 * a + k] - y[3 * a + k]);
        if (d2 > m) m = d2;
    }
    return sqrt(m);
}

static int molcas_eval(fh_surface *self, fh_surface_eval *req, fh_err *err)
{
    molcas_impl *m = self->impl;
    int n = m->nstates, ndof = 3 * m->natoms, np = fh_npairs(n);
    size_t gsz = (size_t)n * ndof, nsz = (size_t)(np ? np : 1) * ndof;
    double *energy = calloc((size_t)n, sizeof *energy);
    double *grad = calloc(gsz, sizeof *grad);
    double *nac = calloc(nsz, sizeof *nac);
    if (!energy || !grad || !nac) {
        free(energy);
        free(grad);
        free(nac);
        return fh_err_set(err, FH_EFAIL, "out of memory");
    }
    fh_molcas_output o = {.natoms = m->natoms, .nstates = n, .grad_mask = req->grad_mask,
                          .want_nac = req->want_nac && np > 0, .energy = energy, .grad = grad,
                          .nac = nac, .nac_ci = m->nac_ci, .nac_csf = m->nac_csf};
    char name[160];
    m->counter++;
    if (m->label[0]) snprintf(name, sizeof name, "%s", m->label);
    else snprintf(name, sizeof name, "calc%06lu", m->counter);

    char orb[2048];
    snprintf(orb, sizeof orb, "%s/prev.RasOrb", m->orbdir);
    int reuse = m->cfg.reuse_orbitals && m->have_orb &&
                max_displacement(req->x, m->prev_x, m->natoms) <= FH_MOLCAS_REUSE_MAX_BOHR;
    m->det.reused_orbitals = reuse;
    m->det.have_nac_parts = 0;
    int rc = run_once(m, req->x, req->grad_mask, o.want_nac, reuse ? orb : NULL, name, &o, err);
    double wall = m->det.wall_s;
    if (rc != FH_OK && reuse) {
        /* the previous orbitals may be a poor guess here: once more from SCF orbitals */
        char name2[200];
        snprintf(name2, sizeof name2, "%s.retry", name);
        m->det.reused_orbitals = 0;
        rc = run_once(m, req->x, req->grad_mask, o.want_nac, NULL, name2, &o, err);
        wall += m->det.wall_s;
    }
    if (rc != FH_OK && m->scf_failed) {
        /* the SCF failed: once more without it, RASSCF from SEWARD's guess orbitals (the orbitals
         * a failed SCF leaves made RASSCF's CI step fail on the first stilbene case) */
        char name3[220];
        snprintf(name3, sizeof name3, "%s.noscf", name);
        m->det.reused_orbitals = 0;
        rc = run_once(m, req->x, req->grad_mask, o.want_nac, "", name3, &o, err);
        wall += m->det.wall_s;
        if (rc != FH_OK) fh_err_prefix(err, "the SCF failed, and RASSCF from guess orbitals: ");
    }
    m->det.wall_s = wall;
    m->det.status = rc;
    m->det.rasscf_iterations = o.rasscf_iterations;
    if (rc == FH_OK) {
        memcpy(req->energy, energy, (size_t)n * sizeof *energy);
        for (int s = 0; s < n; s++)
            if ((req->grad_mask >> s) & 1u)
                memcpy(req->grad + (size_t)s * ndof, grad + (size_t)s * ndof,
                       (size_t)ndof * sizeof *grad);
        if (o.want_nac) memcpy(req->nac, nac, (size_t)np * ndof * sizeof *nac);
        m->det.have_nac_parts = o.want_nac;
    }
    free(energy);
    free(grad);
    free(nac);
    return rc;
}

static void molcas_destroy(fh_surface *self)
{
    molcas_impl *m = self->impl;
    if (!m) return;
    if (m->orbdir[0]) remove_tree(m->orbdir);
    free(m->basis);
    free(m->scratch);
    free(m->keep_dir);
    free(m->pymolcas);
    free(m->z);
    free(m->prev_x);
    free(m->nac_ci);
    free(m->nac_csf);
    free(m);
    self->impl = NULL;
}

static char *dup_or(const char *s, const char *dflt)
{
    const char *v = s && s[0] ? s : dflt;
    return v ? strdup(v) : NULL;
}

int fh_surf_molcas_create(const fh_surface_config *cfg, fh_surface *s, fh_err *err)
{
    const fh_molcas_config *c = &cfg->molcas;
    int nstates = cfg->nstates > 0 ? cfg->nstates : 2, na = cfg->natoms;
    if (na < 1 || !cfg->z)
        return fh_err_set(err, FH_EINPUT, "openmolcas: a geometry (atoms) is required");
    if (nstates > 32)
        return fh_err_set(err, FH_EINPUT, "openmolcas: at most 32 states (got %d)", nstates);
    if (c->nactorb < 1 || c->nactel < 0 || c->ninactive < 0 || c->nactel > 2 * c->nactorb)
        return fh_err_set(err, FH_EINPUT, "openmolcas: invalid active space (%d electrons, %d "
                          "orbitals, %d inactive)", c->nactel, c->nactorb, c->ninactive);
    if (c->spin < 1)
        return fh_err_set(err, FH_EINPUT, "openmolcas: spin multiplicity must be >= 1 (got %d)",
                          c->spin);
    int nel = -c->charge;
    for (int a = 0; a < na; a++) {
        if (cfg->z[a] < 1 || cfg->z[a] > FH_MAX_Z)
            return fh_err_set(err, FH_EINPUT, "openmolcas: atom %d has invalid Z=%d", a + 1,
                              cfg->z[a]);
        nel += cfg->z[a];
    }
    if (nel != 2 * c->ninactive + c->nactel)
        return fh_err_set(err, FH_EINPUT, "openmolcas: %d electrons (charge %d) but %d inactive "
                          "orbitals and %d active electrons hold %d", nel, c->charge,
                          c->ninactive, c->nactel, 2 * c->ninactive + c->nactel);
    if ((nel + c->spin - 1) % 2 != 0)
        return fh_err_set(err, FH_EINPUT, "openmolcas: %d electrons cannot have multiplicity %d",
                          nel, c->spin);
    if (!c->basis || !c->basis[0])
        return fh_err_set(err, FH_EINPUT, "openmolcas: no basis set given");

    molcas_impl *m = calloc(1, sizeof *m);
    if (!m) return fh_err_set(err, FH_EFAIL, "out of memory");
    m->cfg = *c;
    m->natoms = na;
    m->nstates = nstates;
    m->basis = dup_or(c->basis, NULL);
    m->scratch = dup_or(c->scratch, access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    m->keep_dir = dup_or(c->keep_dir, NULL);
    m->pymolcas = dup_or(c->pymolcas, "/usr/bin/python3 /usr/bin/pymolcas");
    m->z = malloc((size_t)na * sizeof *m->z);
    m->prev_x = calloc((size_t)3 * na, sizeof *m->prev_x);
    size_t nsz = (size_t)(fh_npairs(nstates) ? fh_npairs(nstates) : 1) * 3 * na;
    m->nac_ci = calloc(nsz, sizeof *m->nac_ci);
    m->nac_csf = calloc(nsz, sizeof *m->nac_csf);
    s->mass = malloc((size_t)3 * na * sizeof *s->mass);
    s->z = malloc((size_t)na * sizeof *s->z);
    s->impl = m;
    s->destroy = molcas_destroy;
    if (!m->basis || !m->scratch || !m->pymolcas || !m->z || !m->prev_x || !m->nac_ci || !m->nac_csf ||
        !s->mass || !s->z) {
        molcas_destroy(s);
        return fh_err_set(err, FH_EFAIL, "out of memory");
    }
    m->cfg.basis = m->basis;
    m->cfg.scratch = m->scratch;
    m->cfg.keep_dir = m->keep_dir;
    m->cfg.pymolcas = m->pymolcas;
    if (m->cfg.memory_mb <= 0) m->cfg.memory_mb = 2000;
    if (m->cfg.threads <= 0) m->cfg.threads = 1;
    memcpy(m->z, cfg->z, (size_t)na * sizeof *m->z);

    /* the program must exist: the first word of the command */
    char prog[1024];
    snprintf(prog, sizeof prog, "%s", m->pymolcas);
    prog[strcspn(prog, " \t")] = '\0';
    if (strchr(prog, '/') && access(prog, X_OK) != 0) {
        fh_err_set(err, FH_EINPUT, "openmolcas: \"%s\" not found or not executable (install the "
                   "openmolcas package)", prog);
        molcas_destroy(s);
        return FH_EINPUT;
    }
    fh_molcas_sweep_scratch(m->scratch);
    scratch_name(m->orbdir, sizeof m->orbdir, m->scratch, "fhmolcas-orb");
    if (!mkdtemp(m->orbdir)) {
        fh_err_set(err, FH_EINPUT, "openmolcas: cannot use scratch directory %s: %s", m->scratch,
                   strerror(errno));
        m->orbdir[0] = '\0';
        molcas_destroy(s);
        return FH_EINPUT;
    }

    for (int a = 0; a < na; a++) {
        s->z[a] = cfg->z[a];
        for (int k = 0; k < 3; k++) s->mass[3 * a + k] = fh_element_mass_au(cfg->z[a]);
    }
    s->name = "openmolcas";
    s->nstates = nstates;
    s->natoms = na;
    s->ndof = 3 * na;
    s->caps = FH_CAP_ENERGY | FH_CAP_GRADIENT | (nstates > 1 ? FH_CAP_NAC : 0);
    s->eval = molcas_eval;
    return FH_OK;
}

static molcas_impl *impl_of(const fh_surface *s)
{
    return s && s->eval == molcas_eval ? s->impl : NULL;
}

int fh_surf_molcas_details(const fh_surface *s, fh_molcas_details *out, fh_err *err)
{
    molcas_impl *m = impl_of(s);
    if (!m) return fh_err_set(err, FH_EINPUT, "not an OpenMolcas provider");
    *out = m->det;
    out->nac_ci = m->nac_ci;
    out->nac_csf = m->nac_csf;
    return FH_OK;
}

int fh_surf_molcas_set_label(fh_surface *s, const char *label)
{
    molcas_impl *m = impl_of(s);
    if (!m) return FH_EINPUT;
    m->label[0] = '\0';
    if (!label) return FH_OK;
    size_t k = 0;
    for (; label[k] && k + 1 < sizeof m->label; k++) {
        char c = label[k];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        m->label[k] = ok ? c : '_';
    }
    m->label[k] = '\0';
    return FH_OK;
}

void fh_surf_molcas_forget_orbitals(fh_surface *s)
{
    molcas_impl *m = impl_of(s);
    if (m) m->have_orb = 0;
}

int fh_surf_molcas_set_guess(fh_surface *s, const char *orbfile, const double *x)
{
    molcas_impl *m = impl_of(s);
    if (!m || !orbfile || !x) return FH_EINPUT;
    memcpy(m->prev_x, x, (size_t)3 * m->natoms * sizeof *x);
    char to[2048];
    snprintf(to, sizeof to, "%s/prev.RasOrb", m->orbdir);
    if (!strcmp(orbfile, to)) return FH_OK;
    m->have_orb = fh_file_copy(orbfile, to) == 0;
    return m->have_orb ? FH_OK : FH_EFAIL;
}

int fh_surf_molcas_save_orbitals(const fh_surface *s, const char *path)
{
    molcas_impl *m = impl_of(s);
    if (!m || !m->have_orb) return FH_EINPUT;
    char from[2048];
    snprintf(from, sizeof from, "%s/prev.RasOrb", m->orbdir);
    return fh_file_copy(from, path) == 0 ? FH_OK : FH_EFAIL;
}
