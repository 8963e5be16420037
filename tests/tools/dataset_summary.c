/* Summary of a reference dataset file: rows, successes and failures per origin, wall time per
 * geometry (split by whether the orbitals of an earlier geometry were reused), the range of the
 * S1-S0 gap. For the dataset README and progress checks.
 *
 *   dataset_summary DATA.h5 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fh_dataset.h"
#include "fh_units.h"

#define MAXO 64

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: dataset_summary DATA.h5\n");
        return 2;
    }
    fh_dataset *d = NULL;
    fh_err err = {0};
    if (fh_dataset_read(argv[1], &d, &err)) {
        fprintf(stderr, "dataset_summary: %s\n", err.msg);
        return err.code;
    }
    char names[MAXO][FH_DATASET_ORIGIN_LEN];
    int no = 0, ok[MAXO] = {0}, bad[MAXO] = {0};
    double wall[MAXO] = {0}, gmin[MAXO], gmax[MAXO];
    double w_reuse = 0, w_fresh = 0;
    int n_reuse = 0, n_fresh = 0;
    for (size_t r = 0; r < d->n; r++) {
        int o = 0;
        while (o < no && strcmp(names[o], d->origin[r])) o++;
        if (o == no && no < MAXO) {
            snprintf(names[no], sizeof names[no], "%s", d->origin[r]);
            gmin[no] = INFINITY;
            gmax[no] = -INFINITY;
            no++;
        }
        if (o >= MAXO) continue;
        if (d->status[r] != FH_DATASET_OK) {
            bad[o]++;
            continue;
        }
        ok[o]++;
        wall[o] += d->wall_s[r];
        if (strstr(d->info[r], "reused_orbitals=1")) w_reuse += d->wall_s[r], n_reuse++;
        else w_fresh += d->wall_s[r], n_fresh++;
        if (d->nstates > 1 && d->has_energy[r * d->nstates] && d->has_energy[r * d->nstates + 1]) {
            double gap = (d->energy[r * d->nstates + 1] - d->energy[r * d->nstates]) * FH_HARTREE_EV;
            if (gap < gmin[o]) gmin[o] = gap;
            if (gap > gmax[o]) gmax[o] = gap;
        }
    }
    printf("%s: %zu rows, %zu ok, level \"%s\", %d atoms, %d states\n", argv[1], d->n,
           fh_dataset_count_ok(d), d->level, d->natoms, d->nstates);
    printf("%-16s %6s %6s %10s %18s\n", "origin", "ok", "failed", "s/geom", "S1-S0 gap (eV)");
    for (int o = 0; o < no; o++)
        printf("%-16s %6d %6d %10.1f %8.2f..%-8.2f\n", names[o], ok[o], bad[o],
               ok[o] ? wall[o] / ok[o] : 0.0, gmin[o], gmax[o]);
    if (n_fresh) printf("from SCF orbitals:        %4d geometries, %.1f s each\n", n_fresh,
                        w_fresh / n_fresh);
    if (n_reuse) printf("from earlier orbitals:    %4d geometries, %.1f s each\n", n_reuse,
                        w_reuse / n_reuse);
    fh_dataset_free(d);
    return 0;
}
