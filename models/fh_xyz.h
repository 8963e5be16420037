/* XYZ geometry files (Angstrom at the edge, bohr inside). Multi-frame files are read whole:
 * `fusionhop predict` evaluates every frame, decks name reference geometries. Lives in models/
 * because models is the lowest library and several levels read geometries. */
#ifndef FH_XYZ_H
#define FH_XYZ_H

#include <stdio.h>

#include "fh_error.h"

typedef struct {
    int natoms;
    int nframes;
    int *z;          /* [natoms] atomic numbers (from the first frame; others must agree) */
    double *x;       /* [nframes*natoms*3] positions, bohr */
    char **comments; /* [nframes] the comment lines */
} fh_xyz;

/* Read every frame; errors name the file and line (FH_EINPUT). */
int fh_xyz_read(const char *path, fh_xyz **out, fh_err *err);
void fh_xyz_free(fh_xyz *xyz);
/* Write one frame (positions in bohr, written in Angstrom). */
int fh_xyz_write_frame(FILE *f, int natoms, const int *z, const double *x, const char *comment);

#endif
