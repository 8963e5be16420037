/* Covalent bonds from covalent radii (fh_bonds.h). Why a graph rather than a list of the starting
 * geometry's bonds: a trajectory checkpoint then needs only the number of parts at the start,
 * and "the molecule fell apart" (an H atom flying off a machine-learned surface that has no data
 * for a stretched bond) is a property of one geometry that the analysis can test frame by frame. */
#include "fh_bonds.h"
#include "fh_units.h"

#include <math.h>
#include <stdio.h>

double fh_bond_radius(int z)
{
    static const double r[] = {0,    0.31, 0.28, 1.28, 0.96, 0.84, 0.76, 0.71, 0.66, 0.57,
                               0.58, 1.66, 1.41, 1.21, 1.11, 1.07, 1.05, 1.02, 1.06};
    return z > 0 && z < (int)(sizeof r / sizeof r[0]) ? r[z] : 1.5;
}

static double dist2(const double *x, int i, int j)
{
    double s = 0.0;
    for (int k = 0; k < 3; k++) {
        double d = x[3 * i + k] - x[3 * j + k];
        s += d * d;
    }
    return s;
}

int fh_bond_within(const int *z, const double *x, int i, int j, double factor)
{
    double lim = factor * (fh_bond_radius(z[i]) + fh_bond_radius(z[j])) * FH_ANGSTROM_BOHR;
    return dist2(x, i, j) < lim * lim;
}

/* Union-find root with path halving. */
static int root(int *parent, int i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

int fh_bond_fragments(int natoms, const int *z, const double *x, double factor, int *label)
{
    for (int i = 0; i < natoms; i++) label[i] = i;
    for (int i = 0; i < natoms; i++)
        for (int j = i + 1; j < natoms; j++) {
            if (!fh_bond_within(z, x, i, j, factor)) continue;
            int a = root(label, i), b = root(label, j);
            if (a != b) label[a > b ? a : b] = a < b ? a : b; /* the smaller index is the root */
        }
    for (int i = 0; i < natoms; i++) label[i] = root(label, i);
    /* a part's root is its smallest atom: number the parts in that order (negative while the
     * numbering runs, so that a root already numbered is told from an atom index) */
    int n = 0;
    for (int i = 0; i < natoms; i++) label[i] = label[i] == i ? -(++n) : label[label[i]];
    for (int i = 0; i < natoms; i++) label[i] = -label[i] - 1;
    return n;
}

void fh_bond_describe_apart(int natoms, const int *z, const double *x, const int *label,
                            int nfrag, char *buf, size_t size)
{
    int largest = 0, largest_size = 0;
    for (int f = 0; f < nfrag; f++) {
        int s = 0;
        for (int i = 0; i < natoms; i++) s += label[i] == f;
        if (s > largest_size) largest = f, largest_size = s;
    }
    int atom = -1, members = 0;
    double dist = INFINITY;
    for (int i = 0; i < natoms; i++) {
        if (label[i] == largest) continue;
        for (int j = 0; j < natoms; j++) {
            if (label[j] == label[i]) continue;
            double d = sqrt(dist2(x, i, j));
            if (d < dist) dist = d, atom = i;
        }
    }
    if (atom < 0) {
        snprintf(buf, size, "no part has left");
        return;
    }
    for (int i = 0; i < natoms; i++) members += label[i] == label[atom];
    snprintf(buf, size, "%s%d%s is %.2f Angstrom from the rest", fh_element_symbol(z[atom]),
             atom + 1, members > 1 ? " and its group" : "", dist / FH_ANGSTROM_BOHR);
}
