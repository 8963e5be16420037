/* Withdraw rows of a reference dataset: the successful rows of each ID become failed rows with
 * NOTE as their info (e.g. a calculation found to have converged to the wrong SA-CASSCF solution).
 *
 *   dataset_mark_failed DATA.h5 NOTE ID... */
#include <stdio.h>

#include "fh_dataset.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: dataset_mark_failed DATA.h5 NOTE ID...\n");
        return 2;
    }
    for (int k = 3; k < argc; k++) {
        fh_err err = {0};
        size_t n = 0;
        if (fh_dataset_mark_failed(argv[1], argv[k], argv[2], &n, &err)) {
            fprintf(stderr, "dataset_mark_failed: %s\n", err.msg);
            return err.code;
        }
        printf("%s: %zu row(s) marked failed\n", argv[k], n);
    }
    return 0;
}
