/* Covalent bonds from covalent radii: the one table of radii in fusionhop, used to build torsion
 * fragments and reject clashes when sampling geometries, to stop trajectories whose molecule falls
 * apart, and to flag such trajectories in the analysis. Positions in bohr, radii in Angstrom. */
#ifndef FH_BONDS_H
#define FH_BONDS_H

#include <stddef.h>

/* The default of [dynamics], [analysis] and [sample] bond_break: C-H 1.87 A, C-C 2.66 A. */
#define FH_BOND_BREAK_DEFAULT 1.75

/* Covalent radius of element z in Angstrom (H..Ar; a generous 1.5 for anything not listed). */
double fh_bond_radius(int z);

/* 1 when atoms i and j are closer than factor * (r_i + r_j) (1.25: bonded). */
int fh_bond_within(const int *z, const double *x, int i, int j, double factor);

/* Connected parts of the graph whose edges join atoms closer than factor * (r_i + r_j): returns
 * their number and writes each atom's part (0, 1, ... in order of each part's first atom) into
 * label[natoms] (caller's scratch, needed). */
int fh_bond_fragments(int natoms, const int *z, const double *x, double factor, int *label);

/* For a geometry that fell apart (label from fh_bond_fragments, nfrag > 1): names the part that
 * has just left, taken as the one nearest to another part among all but the largest (parts that
 * were apart from the start are usually far away), by its atom nearest to another part (1-based)
 * and that distance, into buf: "H15 is 1.91 Angstrom from the rest" ("C2 and its group is ..."
 * when the part has more than one atom). The one wording of the dynamics and the analysis. */
void fh_bond_describe_apart(int natoms, const int *z, const double *x, const int *label,
                            int nfrag, char *buf, size_t size);

#endif
