/* Synthetic ensembles with known answers for the analysis tests, written with the real trajectory
 * writer. A 7-atom "molecule" whose internal coordinates are set exactly:
 *   torsion 1-2-3-4 (1-based) = phi(t), ring distance 5-6 = r(t), pyramidalization at atom 2 of
 *   the bond 2-7 out of the plane 2-1 / 2-3 = theta.
 * Each trajectory starts in S1 and hops to S0 at a given time (or never); phi moves linearly from
 * 5 degrees to its final value, which decides the product. */
#ifndef ANA_SYNTH_H
#define ANA_SYNTH_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fh_h5md.h"
#include "fh_units.h"

#define SY_NATOMS 7
#define SY_DEG (3.14159265358979323846 / 180.0)

typedef struct {
    double hop_fs;        /* time of the S1 -> S0 hop (< 0: never) */
    double final_phi;     /* degrees */
    double final_r;       /* bohr */
    double theta;         /* degrees, constant */
    double drift_ev;      /* total energy rises linearly by this much over the run */
    int frustrated_at;    /* frame of a frustrated 1 -> 0 attempt (< 0: none) */
    fh_traj_status status;
    const char *reason;
    long nframes;         /* frames written (running trajectories stop early) */
    double leave_fs;      /* > 0: from this time atom 7 (H) flies off along its bond, 0.1 A/fs */
} sy_traj;

/* Geometry in bohr for torsion phi (deg), ring distance r (bohr), pyramidalization theta (deg). */
static inline void sy_geometry(double phi, double r, double theta, double *x)
{
    const double b = 2.5;
    double p = phi * SY_DEG, t = theta * SY_DEG;
    double g[SY_NATOMS][3] = {
        {-0.5 * b, b, 0.0},                     /* 1 */
        {0.0, 0.0, 0.0},                        /* 2 */
        {b, 0.0, 0.0},                          /* 3 */
        {1.5 * b, b * cos(p), b * sin(p)},      /* 4 */
        {0.0, 0.0, 10.0},                       /* 5 */
        {r, 0.0, 10.0},                         /* 6 */
        {0.0, -b * cos(t), b * sin(t)},         /* 7 */
    };
    memcpy(x, g, sizeof g);
}

/* Create the file of trajectory `index` of the ensemble in dir for the molecule (2 states). */
static inline int sy_create(const char *dir, long index, int frames_per_block, fh_h5md_writer **w,
                            fh_err *err)
{
    char path[1024];
    fh_ens_traj_path(dir, index, path, sizeof path);
    static const int z[SY_NATOMS] = {6, 6, 6, 6, 6, 6, 1};
    fh_h5md_config c = {.path = path, .natoms = SY_NATOMS, .nstates = 2, .species = z,
                        .frames_per_block = frames_per_block, .deck_text = "", .seed = 1,
                        .traj_index = index};
    return fh_h5md_writer_create(&c, w, err);
}

/* From leave_fs on (if > 0), atom 7 (H) flies off along its bond at 0.1 A/fs: x at time t_fs. */
static inline void sy_leave(double *x, double t_fs, double leave_fs)
{
    if (leave_fs > 0 && t_fs > leave_fs)
        for (int c = 0; c < 3; c++) /* atom 2 is at the origin: x[18..20] is the bond */
            x[18 + c] *= 1.0 + 0.1 * (t_fs - leave_fs) * FH_ANGSTROM_BOHR / 2.5;
}

/* Write trajectory `index` of the ensemble in dir: frames every dt_fs up to tmax_fs. */
static inline int sy_write(const char *dir, long index, const sy_traj *tr, double dt_fs, double tmax_fs,
                           fh_err *err)
{
    fh_h5md_writer *w = NULL;
    int rc = sy_create(dir, index, 50, &w, err);
    if (rc) return rc;
    long nf = (long)floor(tmax_fs / dt_fs + 0.5) + 1;
    if (tr->nframes > 0 && tr->nframes < nf) nf = tr->nframes;
    long hop_frame = tr->hop_fs >= 0 ? (long)ceil(tr->hop_fs / dt_fs - 1e-9) : -1;
    double x[SY_NATOMS * 3], v[SY_NATOMS * 3] = {0}, ep[2] = {0.0, 0.1}, amp[4];
    for (long k = 0; k < nf && !rc; k++) {
        double t = k * dt_fs, frac = tmax_fs > 0 ? t / tmax_fs : 0.0;
        double phi = 5.0 + (tr->final_phi - 5.0) * frac;
        double r = 3.5 * FH_ANGSTROM_BOHR + (tr->final_r - 3.5 * FH_ANGSTROM_BOHR) * frac;
        sy_geometry(phi, r, tr->theta, x);
        sy_leave(x, t, tr->leave_fs);
        int active = hop_frame >= 0 && k >= hop_frame ? 0 : 1;
        memset(amp, 0, sizeof amp);
        amp[2 * active] = 1.0;
        if (k == tr->frustrated_at) {
            fh_h5md_hop h = {k, t * FH_FS_AUTIME, 1, 0, 1, -0.1};
            rc = fh_h5md_writer_hop(w, &h, err);
        }
        if (k == hop_frame && !rc) {
            fh_h5md_hop h = {k, t * FH_FS_AUTIME, 1, 0, 0, -0.1};
            rc = fh_h5md_writer_hop(w, &h, err);
        }
        fh_h5md_frame f = {.step = k, .time = t * FH_FS_AUTIME, .pos = x, .vel = v, .active = active,
                           .epot = ep, .ekin = 0.05, .amp = amp};
        f.etot = 0.15 + tr->drift_ev / FH_HARTREE_EV * frac;
        if (!rc) rc = fh_h5md_writer_append(w, &f, err);
    }
    if (!rc && tr->status != FH_TRAJ_RUNNING) rc = fh_h5md_writer_set_status(w, tr->status, tr->reason, err);
    int crc = fh_h5md_writer_close(w, err);
    return rc ? rc : crc;
}

/* The ensemble index entry of a written trajectory. */
static inline int sy_record(fh_ens *e, long index, const sy_traj *tr, fh_err *err)
{
    fh_ens_record r = {.index = index, .status = tr->status};
    snprintf(r.reason, sizeof r.reason, "%s", tr->reason ? tr->reason : "");
    return fh_ens_set(e, &r, err);
}

#endif
