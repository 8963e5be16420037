/* Loading an output directory into per-trajectory summaries. Only what the analyses need is kept
 * (times, active states, populations, the chosen internal coordinates per frame, energy-quality
 * figures, hops), so ensembles of thousands of trajectories fit in memory. Every trajectory gets a
 * verdict: used in the statistics, or excluded with the reason (not started, still running,
 * failed and why, unreadable, outside the quality limits) - nothing is dropped silently. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fh_analysis.h"
#include "fh_bonds.h"
#include "fh_units.h"

static void traj_clear(fh_ana_traj *t)
{
    free(t->time);
    free(t->active);
    free(t->pop);
    free(t->torsion);
    free(t->ring);
    free(t->pyramid);
    free(t->hops);
}

void fh_ana_free(fh_ana_ensemble *e)
{
    if (!e) return;
    for (long k = 0; k < e->ntraj && e->traj; k++) traj_clear(&e->traj[k]);
    free(e->traj);
    free(e->deck);
    free(e->dir);
    free(e);
}

void fh_ana_status_counts(const fh_ana_ensemble *e, long counts[4])
{
    for (int i = 0; i < 4; i++) counts[i] = 0;
    for (long k = 0; k < e->ntraj; k++)
        if (e->traj[k].status >= 0 && e->traj[k].status <= 3) counts[e->traj[k].status]++;
}

static int check_atoms(const int *idx, int n, int natoms, const char *what, fh_err *err)
{
    if (idx[0] < 0) return FH_OK;
    for (int i = 0; i < n; i++)
        if (idx[i] >= natoms)
            return fh_err_set(err, FH_EINPUT, "analysis.%s: atom %d does not exist (the molecule has %d atoms)",
                              what, idx[i] + 1, natoms);
    return FH_OK;
}

/* Internal coordinates of every frame, reading positions in slices. */
static int load_geometry(fh_ana_traj *t, fh_h5md_reader *r, const fh_ana_settings *s, fh_err *err)
{
    int natoms = fh_h5md_reader_natoms(r);
    long n = t->nframes;
    if (s->dihedral[0] >= 0 && !(t->torsion = malloc(sizeof *t->torsion * (size_t)n))) goto oom;
    if (s->nring > 0 && !(t->ring = malloc(sizeof *t->ring * (size_t)n))) goto oom;
    if (s->pyramid[0] >= 0 && !(t->pyramid = malloc(sizeof *t->pyramid * (size_t)n))) goto oom;
    const int *z = fh_h5md_reader_species(r);
    int molecule = s->bond_break > 0 && natoms > 0;
    for (int i = 0; molecule && i < natoms; i++) molecule = z[i] > 0;
    int *label = NULL, nfrag0 = 0;
    if (molecule && !(label = malloc(sizeof *label * (size_t)natoms))) goto oom;
    if (!t->torsion && !t->ring && !t->pyramid && !label) return FH_OK;
    const long slice = 256;
    double *x = malloc(sizeof *x * (size_t)(slice * natoms * 3));
    if (!x) {
        free(label);
        goto oom;
    }
    for (long f0 = 0; f0 < n; f0 += slice) {
        long cnt = n - f0 < slice ? n - f0 : slice;
        int rc = fh_h5md_read_positions(r, f0, cnt, x, err);
        if (rc) {
            free(x);
            free(label);
            return rc;
        }
        for (long k = 0; k < cnt; k++) {
            const double *xk = x + k * natoms * 3;
            if (t->torsion) t->torsion[f0 + k] = fh_ana_dihedral(xk, s->dihedral);
            if (t->ring) t->ring[f0 + k] = fh_ana_min_distance(xk, s->ring, s->nring);
            if (t->pyramid) t->pyramid[f0 + k] = fh_ana_pyramidalization(xk, s->pyramid);
            if (!label || !isnan(t->apart_time)) continue;
            int nfrag = fh_bond_fragments(natoms, z, xk, s->bond_break, label);
            if (f0 + k == 0) nfrag0 = nfrag;
            if (nfrag <= nfrag0) continue;
            t->apart_time = t->time[f0 + k];
            fh_bond_describe_apart(natoms, z, xk, label, nfrag, t->apart, sizeof t->apart);
        }
    }
    free(x);
    free(label);
    return FH_OK;
oom:
    return fh_err_set(err, FH_EFAIL, "out of memory");
}

/* Energies: drift and spread figures, without keeping the series. */
static int load_quality(fh_ana_traj *t, fh_h5md_reader *r, int nstates, fh_err *err)
{
    long n = t->nframes;
    double *et = malloc(sizeof *et * (size_t)n);
    if (!et) return fh_err_set(err, FH_EFAIL, "out of memory");
    int rc = fh_h5md_read_etot(r, 0, n, et, err);
    t->max_dev_etot = 0.0;
    for (long k = 0; k < n && !rc; k++) {
        double d = fabs(et[k] - et[0]);
        if (d > t->max_dev_etot || isnan(d)) t->max_dev_etot = d;
    }
    if (!rc) t->drift_etot = et[n - 1] - et[0];
    free(et);
    t->max_spread = -1.0;
    if (rc || !fh_h5md_reader_has_spread(r)) return rc;
    double *sp = malloc(sizeof *sp * (size_t)(n * nstates));
    if (!sp) return fh_err_set(err, FH_EFAIL, "out of memory");
    rc = fh_h5md_read_spread(r, 0, n, sp, err);
    for (long k = 0; k < n && !rc; k++) {
        double v = sp[k * nstates + t->active[k]];
        if (v > t->max_spread || isnan(v)) t->max_spread = v;
    }
    free(sp);
    return rc;
}

/* Read one trajectory file. Returns FH_EINPUT only for settings that do not fit the molecule;
 * problems with the file itself become an exclusion reason. */
static int load_traj(fh_ana_ensemble *e, fh_ana_traj *t, const char *path, fh_ana_settings *s,
                     fh_err *err)
{
    fh_err ferr = {0};
    fh_h5md_reader *r = NULL;
    if (access(path, F_OK) != 0) {
        snprintf(t->excluded, sizeof t->excluded, "%s", t->status == FH_TRAJ_PENDING
                     ? "not started" : "trajectory file missing");
        return FH_OK;
    }
    if (fh_h5md_reader_open(path, &r, &ferr) != FH_OK) {
        snprintf(t->excluded, sizeof t->excluded, "unreadable: %.*s", FH_H5MD_REASON_MAX, ferr.msg);
        return FH_OK;
    }
    fh_traj_status fst = fh_h5md_reader_status(r);
    /* the file is written first, the index after: the file knows best, unless it was cut off
     * before it could record the end the index knows about */
    if (!(fst == FH_TRAJ_RUNNING && (t->status == FH_TRAJ_DONE || t->status == FH_TRAJ_FAILED))) {
        t->status = fst;
        snprintf(t->stop_reason, sizeof t->stop_reason, "%s", fh_h5md_reader_stop_reason(r));
    }
    int natoms = fh_h5md_reader_natoms(r), nstates = fh_h5md_reader_nstates(r);
    int rc = FH_OK;
    if (e->nstates == 0) {
        e->nstates = nstates;
        e->natoms = natoms;
        e->stilbene_defaults = fh_ana_stilbene_defaults(s, fh_h5md_reader_species(r), natoms);
        if ((rc = check_atoms(s->dihedral, 4, natoms, "dihedral", err)) ||
            (s->nring > 0 && (rc = check_atoms(s->ring, 2 * s->nring, natoms, "ring", err))) ||
            (rc = check_atoms(s->pyramid, 4, natoms, "pyramid", err)))
            goto done;
        if (s->excited_state >= nstates || s->ground_state >= nstates) {
            rc = fh_err_set(err, FH_EINPUT, "analysis.excited_state: state %d does not exist (%d states)",
                            s->excited_state, nstates);
            goto done;
        }
    }
    if (nstates != e->nstates || natoms != e->natoms) {
        snprintf(t->excluded, sizeof t->excluded, "%d atoms / %d states, unlike the rest of the ensemble",
                 natoms, nstates);
        goto done;
    }
    long n = fh_h5md_reader_nframes(r);
    t->nframes = n;
    if (n > 0) {
        t->time = malloc(sizeof *t->time * (size_t)n);
        t->active = malloc(sizeof *t->active * (size_t)n);
        t->pop = malloc(sizeof *t->pop * (size_t)(n * nstates));
        if (!t->time || !t->active || !t->pop) {
            rc = fh_err_set(err, FH_EFAIL, "out of memory");
            goto done;
        }
        if (fh_h5md_read_times(r, 0, n, t->time, &ferr) || fh_h5md_read_active(r, 0, n, t->active, &ferr) ||
            fh_h5md_read_populations(r, 0, n, t->pop, &ferr) || load_quality(t, r, nstates, &ferr) ||
            load_geometry(t, r, s, &ferr)) {
            snprintf(t->excluded, sizeof t->excluded, "unreadable: %.*s", FH_H5MD_REASON_MAX, ferr.msg);
            t->nframes = 0;
            goto done;
        }
        for (long k = 0; k < n; k++)
            if (t->active[k] < 0 || t->active[k] >= nstates) {
                snprintf(t->excluded, sizeof t->excluded, "active state %d out of range at frame %ld",
                         t->active[k], k);
                t->nframes = 0;
                goto done;
            }
        t->final_state = t->active[n - 1];
        if (t->torsion)
            t->product = fh_ana_classify(s, t->torsion[n - 1], t->ring ? t->ring[n - 1] : -1.0);
    }
    t->nhops = fh_h5md_reader_nhops(r);
    if (t->nhops > 0) {
        t->hops = malloc(sizeof *t->hops * (size_t)t->nhops);
        if (!t->hops) {
            rc = fh_err_set(err, FH_EFAIL, "out of memory");
            goto done;
        }
        if (fh_h5md_read_hops(r, t->hops, &ferr)) {
            snprintf(t->excluded, sizeof t->excluded, "unreadable hops: %.*s", FH_H5MD_REASON_MAX, ferr.msg);
            t->nhops = 0;
        }
    }
done:
    fh_h5md_reader_close(r);
    return rc;
}

/* The verdict: used, or why not. */
static void judge(fh_ana_traj *t, const fh_ana_settings *s)
{
    if (t->excluded[0]) return;
    if (t->status == FH_TRAJ_PENDING)
        snprintf(t->excluded, sizeof t->excluded, "not started");
    else if (t->status == FH_TRAJ_RUNNING)
        snprintf(t->excluded, sizeof t->excluded, "still running (%ld frames so far)", t->nframes);
    else if (t->status == FH_TRAJ_FAILED)
        snprintf(t->excluded, sizeof t->excluded, "failed: %s", t->stop_reason[0] ? t->stop_reason : "no reason recorded");
    else if (t->nframes < 1)
        snprintf(t->excluded, sizeof t->excluded, "no frames");
    else if (!isnan(t->apart_time))
        snprintf(t->excluded, sizeof t->excluded,
                 "the molecule fell apart at t = %.1f fs: %s (bond_break %.2f)",
                 t->apart_time * FH_AUTIME_FS, t->apart, s->bond_break);
    else if (s->max_drift > 0 && !(t->max_dev_etot <= s->max_drift))
        snprintf(t->excluded, sizeof t->excluded, "energy conservation: max |dE| = %.4g eV > %.4g eV",
                 t->max_dev_etot * FH_HARTREE_EV, s->max_drift * FH_HARTREE_EV);
    else if (s->max_spread > 0 && t->max_spread >= 0 && !(t->max_spread <= s->max_spread))
        snprintf(t->excluded, sizeof t->excluded, "model spread: max %.4g eV > %.4g eV",
                 t->max_spread * FH_HARTREE_EV, s->max_spread * FH_HARTREE_EV);
    t->used = t->excluded[0] == '\0';
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Without ensemble.h5: the indices of every traj/traj_NNNNNN.h5. */
static int scan_dir(const char *outdir, long **idx, long *n)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", outdir, FH_ENS_TRAJ_DIR);
    *idx = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return -1;
    long cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        long k;
        char tail[8];
        if (sscanf(de->d_name, "traj_%ld.%7s", &k, tail) != 2 || strcmp(tail, "h5") != 0 || k < 0)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            long *p = realloc(*idx, sizeof *p * (size_t)cap);
            if (!p) {
                closedir(d);
                return -1;
            }
            *idx = p;
        }
        (*idx)[(*n)++] = k;
    }
    closedir(d);
    if (*n > 1) qsort(*idx, (size_t)*n, sizeof **idx, cmp_long);
    return 0;
}

int fh_ana_load(const char *outdir, fh_ana_settings *s, fh_ana_ensemble **out, fh_err *err)
{
    *out = NULL;
    fh_ana_ensemble *e = calloc(1, sizeof *e);
    if (!e || !(e->dir = strdup(outdir))) {
        free(e);
        return fh_err_set(err, FH_EFAIL, "out of memory");
    }
    int rc = FH_OK;
    fh_ens *ens = NULL;
    fh_err ierr = {0};
    long *idx = NULL;
    if (fh_ens_open(outdir, 0, &ens, &ierr) == FH_OK) {
        e->have_index = 1;
        e->ntraj = fh_ens_ntraj(ens);
        e->deck = strdup(fh_ens_deck(ens));
    } else {
        char ensf[4096];
        snprintf(ensf, sizeof ensf, "%s/%s", outdir, FH_ENS_FILE);
        if (access(ensf, F_OK) == 0) {
            rc = fh_err_set(err, FH_EINPUT, "%s", ierr.msg);
            goto fail;
        }
        if (scan_dir(outdir, &idx, &e->ntraj) < 0 || e->ntraj == 0) {
            rc = fh_err_set(err, FH_EINPUT, "%s: no %s and no %s/traj_*.h5 files: not a fusionhop output directory",
                            outdir, FH_ENS_FILE, FH_ENS_TRAJ_DIR);
            goto fail;
        }
        e->deck = strdup("");
    }
    e->traj = calloc((size_t)e->ntraj, sizeof *e->traj);
    if (!e->traj || !e->deck) {
        rc = fh_err_set(err, FH_EFAIL, "out of memory");
        goto fail;
    }
    for (long k = 0; k < e->ntraj; k++) {
        fh_ana_traj *t = &e->traj[k];
        t->index = idx ? idx[k] : k;
        t->status = FH_TRAJ_PENDING;
        t->final_state = -1;
        t->product = FH_PROD_NONE;
        t->max_spread = -1.0;
        t->apart_time = NAN;
        if (ens) {
            fh_ens_record rec;
            if (fh_ens_get(ens, k, &rec, &ierr) == FH_OK) {
                t->status = rec.status;
                snprintf(t->stop_reason, sizeof t->stop_reason, "%s", rec.reason);
            }
        } else {
            t->status = FH_TRAJ_RUNNING; /* the file will say */
        }
        char path[4096];
        fh_ens_traj_path(outdir, t->index, path, sizeof path);
        if ((rc = load_traj(e, t, path, s, err))) goto fail;
        judge(t, s);
        e->nused += t->used;
    }
    fh_ens_close(ens, NULL);
    free(idx);
    *out = e;
    return FH_OK;
fail:
    fh_ens_close(ens, NULL);
    free(idx);
    fh_ana_free(e);
    return rc;
}

const char *fh_ana_product_name(int product)
{
    switch (product) {
    case FH_PROD_CIS: return "cis";
    case FH_PROD_TRANS: return "trans";
    case FH_PROD_DHP: return "DHP";
    default: return "unclassified";
    }
}

int fh_ana_classify(const fh_ana_settings *s, double torsion_deg, double ring_dist)
{
    if (isnan(torsion_deg)) return FH_PROD_NONE;
    if (ring_dist >= 0 && ring_dist < s->ring_max) return FH_PROD_DHP;
    return fabs(torsion_deg) < s->cis_max ? FH_PROD_CIS : FH_PROD_TRANS;
}
