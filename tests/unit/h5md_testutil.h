/* Shared by the H5MD tests: a deterministic synthetic trajectory (frame k's values are a known
 * function of k and a variant number) and a scratch directory per test. */
#ifndef H5MD_TESTUTIL_H
#define H5MD_TESTUTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fh_h5md.h"

#define TU_NATOMS 3
#define TU_NSTATES 3

typedef struct {
    double pos[TU_NATOMS * 3], vel[TU_NATOMS * 3], epot[TU_NSTATES], amp[2 * TU_NSTATES];
    double spread[TU_NSTATES];
    fh_h5md_frame f;
} tu_frame;

static const int tu_species[TU_NATOMS] = {8, 1, 1};

/* Frame k of variant v (a.u.): every value differs between frames and variants. */
static inline void tu_make_frame(tu_frame *t, long k, int v)
{
    for (int a = 0; a < TU_NATOMS; a++)
        for (int d = 0; d < 3; d++) {
            t->pos[3 * a + d] = 1.0 + 0.1 * k + 0.01 * a + 0.001 * d + 0.5 * v;
            t->vel[3 * a + d] = 1e-3 * (k + 1) + 1e-4 * a - 1e-5 * d + 1e-2 * v;
        }
    for (int s = 0; s < TU_NSTATES; s++) {
        t->epot[s] = -0.5 + 0.1 * s + 1e-3 * k + 1e-2 * v;
        double ph = 0.1 * k + s + v;
        t->amp[2 * s] = cos(ph) / sqrt((double)TU_NSTATES);
        t->amp[2 * s + 1] = sin(ph) * (s + 1) / sqrt((double)TU_NSTATES) / 3.0;
        t->spread[s] = 1e-3 * (s + 1) + 1e-5 * k;
    }
    memset(&t->f, 0, sizeof t->f);
    t->f.step = 10 * k;
    t->f.time = 20.67 * k;
    t->f.pos = t->pos;
    t->f.vel = t->vel;
    t->f.active = (int)((k / 4 + v) % TU_NSTATES);
    t->f.epot = t->epot;
    t->f.ekin = 0.01 + 1e-4 * k;
    t->f.etot = t->f.ekin + t->epot[t->f.active];
    t->f.amp = t->amp;
    t->f.pop = NULL;
    t->f.spread = t->spread;
}

static inline fh_h5md_config tu_config(const char *path, int block)
{
    fh_h5md_config c;
    memset(&c, 0, sizeof c);
    c.path = path;
    c.natoms = TU_NATOMS;
    c.nstates = TU_NSTATES;
    c.species = tu_species;
    c.has_spread = 1;
    c.frames_per_block = block;
    c.deck_text = "[dynamics]\nntraj = 4\n";
    c.seed = 12345;
    c.traj_index = 7;
    c.author = "test author";
    return c;
}

/* A fresh scratch directory under the build tree; returns a static buffer. */
static inline const char *tu_scratch(const char *name)
{
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/test_scratch/%s_%ld", FH_TEST_BINARY_DIR, name, (long)getpid());
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0) return NULL;
    return dir;
}

static inline void tu_rmdir(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

#endif
