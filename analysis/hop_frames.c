/* The geometry at every hop, as one multi-frame XYZ file (OUT/analysis/hops.xyz, Angstrom): where
 * the trajectories changed surface is what one looks at first (is it near the intersection? which
 * coordinates?), and the file feeds a viewer or `fusionhop sample` (generator = xyz) directly.
 * The frame is the last one at or before the hop, as in hops.tsv; each comment line carries the
 * trajectory, frame, time, states and gap as key=value tokens. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ana_internal.h"
#include "fh_units.h"
#include "fh_xyz.h"

/* Writes the hops of trajectory t; its file is opened only if it has any. */
static int traj_hops(FILE *f, const char *dir, const fh_ana_traj *t, int natoms, double *x,
                     fh_err *err)
{
    long n = 0;
    for (long i = 0; i < t->nhops; i++) n += !t->hops[i].frustrated;
    if (n == 0 || t->nframes == 0) return FH_OK;
    char path[4200];
    if (fh_ens_traj_path(dir, t->index, path, sizeof path) != 0)
        return fh_err_set(err, FH_EFAIL, "%s: path too long", dir);
    fh_h5md_reader *r = NULL;
    int rc = fh_h5md_reader_open(path, &r, err);
    if (rc) return rc;
    const int *z = fh_h5md_reader_species(r);
    for (long i = 0; rc == FH_OK && i < t->nhops; i++) {
        const fh_h5md_hop *h = &t->hops[i];
        if (h->frustrated) continue;
        long fr = fh_h5md_frame_at(t->time, t->nframes, h->time);
        rc = fh_h5md_read_positions(r, fr, 1, x, err);
        if (rc) break;
        char c[256];
        snprintf(c, sizeof c, "traj=%ld frame=%ld time_fs=%.2f from=%d to=%d gap_eV=%.4f "
                 "(geometry at the hop, fusionhop analyze)", t->index, fr, h->time * FH_AUTIME_FS,
                 h->from, h->to, fabs(h->gap) * FH_HARTREE_EV);
        if (fh_xyz_write_frame(f, natoms, z, x, c) != FH_OK)
            rc = fh_err_set(err, FH_EFAIL, "hops.xyz: write error");
    }
    fh_h5md_reader_close(r);
    return rc;
}

int fh_ana_write_hop_frames(const char *resdir, const fh_ana_ensemble *e, fh_err *err)
{
    int natoms = e->natoms;
    long first = -1;
    for (long k = 0; k < e->ntraj && first < 0; k++)
        if (e->traj[k].used && e->traj[k].nframes > 0) first = k;
    if (first < 0 || natoms < 1) return FH_OK;
    /* model coordinates (Tully's models: species 0) have no atoms to show */
    char path[4200];
    if (fh_ens_traj_path(e->dir, e->traj[first].index, path, sizeof path) != 0)
        return fh_err_set(err, FH_EFAIL, "%s: path too long", e->dir);
    fh_h5md_reader *r = NULL;
    int rc = fh_h5md_reader_open(path, &r, err);
    if (rc) return rc;
    int molecule = 1;
    for (int a = 0; a < natoms; a++) molecule &= fh_h5md_reader_species(r)[a] > 0;
    fh_h5md_reader_close(r);
    if (!molecule) return FH_OK;
    snprintf(path, sizeof path, "%s/hops.xyz", resdir);
    double *x = malloc(sizeof *x * 3 * (size_t)natoms);
    if (!x) return fh_err_set(err, FH_EFAIL, "out of memory");
    FILE *f = fopen(path, "w");
    if (!f) {
        free(x);
        return fh_err_set(err, FH_EFAIL, "%s: cannot write (%s)", path, strerror(errno));
    }
    for (long k = 0; rc == FH_OK && k < e->ntraj; k++)
        if (e->traj[k].used) rc = traj_hops(f, e->dir, &e->traj[k], natoms, x, err);
    if (fclose(f) != 0 && rc == FH_OK) rc = fh_err_set(err, FH_EFAIL, "%s: write error", path);
    free(x);
    return rc;
}
