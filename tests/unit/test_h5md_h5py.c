/* Trajectory and ensemble files as third-party tools see them: /usr/bin/python3 with h5py opens
 * them and checks the H5MD structure that MDAnalysis's H5MD reader relies on (one particle group,
 * box with dimension 3 and boundaries, step/time/value per element, units spelled as in its unit
 * tables, every observable indexable by frame), the values in Angstrom/fs, and the external links
 * of ensemble.h5. If MDAnalysis itself is importable it also loads the file with it. Skipped with
 * a message only when h5py cannot be imported. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "fh_h5md.h"
#include "fh_units.h"
#include "h5md_testutil.h"

static const char *script =
    "import sys\n"
    "import h5py\n"
    "path, ens, pos0, t1, nframes = sys.argv[1], sys.argv[2], float(sys.argv[3]), "
    "float(sys.argv[4]), int(sys.argv[5])\n"
    "f = h5py.File(path, 'r')\n"
    "assert list(f['h5md'].attrs['version']) == [1, 1], 'h5md version'\n"
    "assert f['h5md/creator'].attrs['name'] == 'fusionhop'\n"
    "assert isinstance(f['h5md/author'].attrs['name'], str)\n"
    "groups = list(f['particles'])\n"
    "assert groups == ['all'], groups\n"
    "pg = f['particles'][groups[0]]\n"
    "assert pg['box'].attrs['dimension'] == 3\n"
    "assert [str(b) for b in pg['box'].attrs['boundary']] == ['none'] * 3\n"
    "assert 'edges' not in pg['box']\n"
    "assert pg['position/value'].attrs['unit'] == 'Angstrom'\n"
    "assert pg['position/time'].attrs['unit'] == 'fs'\n"
    "assert pg['velocity/value'].attrs['unit'] == 'Angstrom fs-1'\n"
    "assert pg['mass'].attrs['unit'] == 'u'\n"
    "for name in ('position', 'velocity'):\n"
    "    g = pg[name]\n"
    "    assert all(k in g for k in ('step', 'time', 'value')), name\n"
    "    assert g['value'].maxshape[0] is None and g['value'].chunks is not None\n"
    "n, natoms, three = pg['position/value'].shape\n"
    "assert (n, three) == (nframes, 3) and pg['species'].shape == (natoms,)\n"
    "assert abs(pg['position/value'][0, 0, 0] - pos0) < 1e-12, pg['position/value'][0, 0, 0]\n"
    "assert abs(pg['position/time'][1] - t1) < 1e-12\n"
    "for key in f['observables']:\n"
    "    o = f['observables'][key]\n"
    "    assert all(k in o for k in ('step', 'time', 'value')), key\n"
    "    assert o['value'].shape[0] == n, key\n"
    "    _ = o['value'][n - 1]\n"
    "assert f['observables/potential_energy/value'].attrs['unit'] == 'eV'\n"
    "assert f['observables/amplitudes/value'].shape == (n, 3, 2)\n"
    "assert f['tsh'].attrs['status'].decode() == 'done'\n"
    "assert f['tsh/hops/step'].shape == (1,)\n"
    "assert 'ntraj' in f['parameters/deck'].asstr()[()]\n"
    "assert f['parameters'].attrs['trajectory'] == 7\n"
    "e = h5py.File(ens + '/ensemble.h5', 'r')\n"
    "assert e['traj/traj_000000/particles/all/position/value'].shape == (n, natoms, 3)\n"
    "st = [s.decode() for s in e['trajectories/status'][:]]\n"
    "assert st == ['done', 'pending'], st\n"
    "try:\n"
    "    import MDAnalysis.coordinates.H5MD as mdah5\n"
    "except ImportError:\n"
    "    print('MDAnalysis not installed: checked its H5MD conventions with h5py only')\n"
    "else:\n"
    "    r = mdah5.H5MDReader(path)\n"
    "    assert r.n_frames == n and r.n_atoms == natoms\n"
    "    assert abs(r.ts.positions[0][0] - pos0) < 1e-5\n"
    "    print('MDAnalysis H5MDReader read the file')\n"
    "print('ok')\n";

Test(h5md_h5py, files_open_with_h5py_as_h5md)
{
    if (system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") != 0)
        cr_skip_test("h5py is not available to /usr/bin/python3 (install python3-h5py)");
    const char *base = tu_scratch("h5py");
    char dir[600];
    snprintf(dir, sizeof dir, "%s", base);
    fh_ens *e = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_ens_create(dir, 2, "[dynamics]\nntraj = 2\n", 3, 0, &e, &err), FH_OK, "%s",
                 err.msg);
    char path[700];
    fh_ens_traj_path(dir, 0, path, sizeof path);
    fh_h5md_config c = tu_config(path, 4);
    fh_h5md_writer *w = NULL;
    cr_assert_eq(fh_h5md_writer_create(&c, &w, &err), FH_OK, "%s", err.msg);
    tu_frame t;
    const long n = 9;
    for (long k = 0; k < n; k++) {
        tu_make_frame(&t, k, 0);
        cr_assert_eq(fh_h5md_writer_append(w, &t.f, &err), FH_OK, "%s", err.msg);
    }
    fh_h5md_hop h = {30, 62.0, 1, 0, 0, -0.1};
    cr_assert_eq(fh_h5md_writer_hop(w, &h, &err), FH_OK);
    cr_assert_eq(fh_h5md_writer_set_status(w, FH_TRAJ_DONE, "tmax", &err), FH_OK, "%s", err.msg);
    cr_assert_eq(fh_h5md_writer_close(w, &err), FH_OK, "%s", err.msg);
    fh_ens_record r = {.index = 0, .status = FH_TRAJ_DONE, .nsteps = 80};
    cr_assert_eq(fh_ens_set(e, &r, &err), FH_OK, "%s", err.msg);
    fh_ens_close(e, &err);

    char spath[700];
    snprintf(spath, sizeof spath, "%s/check.py", dir);
    FILE *fp = fopen(spath, "w");
    cr_assert_not_null(fp);
    fputs(script, fp);
    fclose(fp);
    tu_make_frame(&t, 0, 0);
    double pos0 = t.pos[0] * FH_BOHR_ANGSTROM;
    tu_make_frame(&t, 1, 0);
    double t1 = t.f.time * FH_AUTIME_FS;
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' '%s' %.17g %.17g %ld 2>&1", spath, path,
             dir, pos0, t1, n);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char out[4096] = {0};
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = '\0';
    int status = pclose(p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "h5py check failed:\n%s", out);
    cr_expect(strstr(out, "ok") != NULL, "%s", out);
    cr_log_info("%s", out);
    tu_rmdir(base);
}
