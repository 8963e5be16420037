/* ensemble.h5: records written, updated in place and read back; never overwritten unless forced;
 * external links resolve to the trajectory files from any working directory. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fh_h5md.h"
#include "fh_units.h"
#include "h5md_testutil.h"

Test(h5md_ensemble, records_roundtrip_and_update)
{
    const char *base = tu_scratch("ens_records");
    char dir[600];
    snprintf(dir, sizeof dir, "%s/deep/out", base); /* parents are created */
    fh_ens *e = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_ens_create(dir, 5, "[dynamics]\nntraj = 5\n", 99, 0, &e, &err), FH_OK, "%s",
                 err.msg);
    struct stat st;
    char trajdir[700];
    snprintf(trajdir, sizeof trajdir, "%s/traj", dir);
    cr_expect(stat(trajdir, &st) == 0 && S_ISDIR(st.st_mode), "traj/ is created");
    fh_ens_record r;
    cr_assert_eq(fh_ens_get(e, 3, &r, &err), FH_OK);
    cr_expect_eq(r.index, 3);
    cr_expect_eq(r.status, FH_TRAJ_PENDING);
    cr_expect_str_eq(r.reason, "");

    fh_ens_record a = {.index = 2, .status = FH_TRAJ_RUNNING};
    cr_assert_eq(fh_ens_set(e, &a, &err), FH_OK, "%s", err.msg);
    a.status = FH_TRAJ_DONE;
    snprintf(a.reason, sizeof a.reason, "tmax reached");
    a.nsteps = 2000;
    a.final_time = 1000.0 * FH_FS_AUTIME;
    cr_assert_eq(fh_ens_set(e, &a, &err), FH_OK, "%s", err.msg);
    fh_ens_record b = {.index = 4, .status = FH_TRAJ_FAILED, .nsteps = 17, .final_time = 3.5};
    snprintf(b.reason, sizeof b.reason, "energy conservation violated: |dE| = 0.31 eV");
    cr_assert_eq(fh_ens_set(e, &b, &err), FH_OK, "%s", err.msg);
    fh_ens_record bad = {.index = 5};
    cr_expect_eq(fh_ens_set(e, &bad, &err), FH_EINPUT, "index out of range");
    cr_assert_eq(fh_ens_close(e, &err), FH_OK, "%s", err.msg);

    cr_assert_eq(fh_ens_open(dir, 0, &e, &err), FH_OK, "%s", err.msg);
    cr_expect_eq(fh_ens_ntraj(e), 5);
    cr_expect_eq(fh_ens_seed(e), 99);
    cr_expect_str_eq(fh_ens_deck(e), "[dynamics]\nntraj = 5\n");
    cr_assert_eq(fh_ens_get(e, 2, &r, &err), FH_OK);
    cr_expect_eq(r.status, FH_TRAJ_DONE);
    cr_expect_str_eq(r.reason, "tmax reached");
    cr_expect_eq(r.nsteps, 2000);
    cr_expect(fabs(r.final_time * FH_AUTIME_FS - 1000.0) < 1e-9);
    cr_assert_eq(fh_ens_get(e, 4, &r, &err), FH_OK);
    cr_expect_eq(r.status, FH_TRAJ_FAILED);
    cr_expect_str_eq(r.reason, "energy conservation violated: |dE| = 0.31 eV");
    cr_expect_eq(r.nsteps, 17);
    cr_assert_eq(fh_ens_get(e, 0, &r, &err), FH_OK);
    cr_expect_eq(r.status, FH_TRAJ_PENDING);
    cr_expect_eq(fh_ens_get(e, -1, &r, &err), FH_EINPUT);
    cr_expect_neq(fh_ens_set(e, &a, &err), FH_OK, "read-only handle refuses updates");
    fh_ens_close(e, &err);

    /* never overwritten unless forced */
    cr_expect_eq(fh_ens_create(dir, 3, "", 1, 0, &e, &err), FH_EINPUT);
    cr_expect(strstr(err.msg, "exists") != NULL, "%s", err.msg);
    cr_assert_eq(fh_ens_open(dir, 1, &e, &err), FH_OK, "%s", err.msg);
    cr_expect_eq(fh_ens_ntraj(e), 5, "refused create left the index intact");
    fh_ens_close(e, &err);
    cr_assert_eq(fh_ens_create(dir, 3, "", 1, 1, &e, &err), FH_OK, "%s", err.msg);
    cr_expect_eq(fh_ens_ntraj(e), 3);
    fh_ens_close(e, &err);
    tu_rmdir(base);
}

Test(h5md_ensemble, external_links_and_paths)
{
    const char *base = tu_scratch("ens_links");
    char dir[600];
    snprintf(dir, sizeof dir, "%s", base);
    char path[700];
    cr_assert_eq(fh_ens_traj_path(dir, 12, path, sizeof path), 0);
    char want[700];
    snprintf(want, sizeof want, "%s/traj/traj_000012.h5", dir);
    cr_expect_str_eq(path, want);
    char tiny[8];
    cr_expect_eq(fh_ens_traj_path(dir, 1, tiny, sizeof tiny), -1);

    fh_ens *e = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_ens_create(dir, 3, "", 5, 0, &e, &err), FH_OK, "%s", err.msg);
    fh_ens_close(e, &err);
    cr_assert_eq(fh_ens_traj_path(dir, 1, path, sizeof path), 0);
    fh_h5md_config c = tu_config(path, 2);
    fh_h5md_writer *w = NULL;
    cr_assert_eq(fh_h5md_writer_create(&c, &w, &err), FH_OK, "%s", err.msg);
    tu_frame t;
    for (long k = 0; k < 3; k++) {
        tu_make_frame(&t, k, 0);
        fh_h5md_writer_append(w, &t.f, &err);
    }
    cr_assert_eq(fh_h5md_writer_close(w, &err), FH_OK);

    /* resolve the link from an unrelated working directory */
    cr_assert_eq(chdir("/"), 0);
    char ens[700];
    snprintf(ens, sizeof ens, "%s/ensemble.h5", dir);
    hid_t f = H5Fopen(ens, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    for (int k = 0; k < 3; k++) {
        char link[32];
        snprintf(link, sizeof link, "traj/traj_%06d", k);
        cr_expect_gt(H5Lexists(f, link, H5P_DEFAULT), 0, "link %s", link);
        H5L_info_t li;
        cr_assert_geq(H5Lget_info(f, link, &li, H5P_DEFAULT), 0);
        cr_expect_eq(li.type, H5L_TYPE_EXTERNAL);
    }
    hid_t d = H5Dopen2(f, "traj/traj_000001/particles/all/position/value", H5P_DEFAULT);
    cr_expect_geq(d, 0, "external link resolves to the trajectory file");
    if (d >= 0) H5Dclose(d);
    H5Fclose(f);
    tu_rmdir(base);
}
