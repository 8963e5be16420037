/* H5MD trajectory files: layout, attributes, units and values checked with the plain HDF5 C API
 * (independently of our reader), then the reader, never-overwrite, resume-append and torn blocks. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fh_h5md.h"
#include "fh_units.h"
#include "fh_version.h"
#include "h5md_testutil.h"

/* ---- raw HDF5 helpers ------------------------------------------------------------------------ */

/* A variable-length string attribute (scalar) — must be vlen, as MDAnalysis and h5py expect. */
static void expect_vlen_attr(hid_t file, const char *obj, const char *name, const char *want)
{
    hid_t a = H5Aopen_by_name(file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(a, 0, "attribute %s of %s missing", name, obj);
    hid_t t = H5Aget_type(a);
    cr_assert_eq(H5Tget_class(t), H5T_STRING, "%s:%s not a string", obj, name);
    cr_assert_gt(H5Tis_variable_str(t), 0, "%s:%s must be a variable-length string", obj, name);
    hid_t mt = H5Tcopy(t); /* same size and character set */
    char *s = NULL;
    cr_assert_geq(H5Aread(a, mt, &s), 0);
    cr_expect_str_eq(s, want, "%s:%s", obj, name);
    H5free_memory(s);
    H5Tclose(mt);
    H5Tclose(t);
    H5Aclose(a);
}

static void read_int_attr(hid_t file, const char *obj, const char *name, int *v, int n)
{
    hid_t a = H5Aopen_by_name(file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(a, 0, "attribute %s of %s missing", name, obj);
    hid_t s = H5Aget_space(a);
    cr_assert_eq(H5Sget_simple_extent_npoints(s), n);
    cr_assert_geq(H5Aread(a, H5T_NATIVE_INT, v), 0);
    H5Sclose(s);
    H5Aclose(a);
}

/* Check a dataset is chunked with an unlimited first dimension and return its dims. */
static int check_series(hid_t file, const char *path, hsize_t *dims)
{
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    cr_assert_geq(d, 0, "%s missing", path);
    hid_t sp = H5Dget_space(d);
    hsize_t maxd[4];
    int rank = H5Sget_simple_extent_dims(sp, dims, maxd);
    cr_expect_eq(maxd[0], H5S_UNLIMITED, "%s: first dimension must be unlimited", path);
    hid_t pl = H5Dget_create_plist(d);
    cr_expect_eq(H5Pget_layout(pl), H5D_CHUNKED, "%s must be chunked", path);
    H5Pclose(pl);
    H5Sclose(sp);
    H5Dclose(d);
    return rank;
}

static void read_doubles(hid_t file, const char *path, double *out)
{
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    cr_assert_geq(d, 0, "%s missing", path);
    cr_assert_geq(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), 0);
    H5Dclose(d);
}

static void read_ints(hid_t file, const char *path, long *out)
{
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    cr_assert_geq(d, 0, "%s missing", path);
    cr_assert_geq(H5Dread(d, H5T_NATIVE_LONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), 0);
    H5Dclose(d);
}

static int same_object(hid_t file, const char *a, const char *b)
{
    H5O_info_t ia, ib;
    cr_assert_geq(H5Oget_info_by_name(file, a, &ia, H5P_DEFAULT), 0, "%s", a);
    cr_assert_geq(H5Oget_info_by_name(file, b, &ib, H5P_DEFAULT), 0, "%s", b);
    return ia.addr == ib.addr && ia.fileno == ib.fileno;
}

static void close_ok(fh_h5md_writer *w)
{
    fh_err e = {0};
    cr_assert_eq(fh_h5md_writer_close(w, &e), FH_OK, "%s", e.msg);
}

/* Write nframes frames of variant v (with a hop at frames 2 and 5). */
static void write_frames(fh_h5md_writer *w, long first, long n, int v)
{
    fh_err e = {0};
    tu_frame t;
    for (long k = first; k < first + n; k++) {
        tu_make_frame(&t, k, v);
        cr_assert_eq(fh_h5md_writer_append(w, &t.f, &e), FH_OK, "%s", e.msg);
        if (k == 2 || k == 5 || k == 9) {
            fh_h5md_hop h = {t.f.step, t.f.time, 1, 0, k == 5, -0.0367 * (double)(k + v)};
            cr_assert_eq(fh_h5md_writer_hop(w, &h, &e), FH_OK, "%s", e.msg);
        }
    }
}

#define REL(a, b) (fabs((a) - (b)) <= 1e-13 * (fabs(b) + 1e-300))

/* ---- tests ----------------------------------------------------------------------------------- */

Test(h5md, layout_units_and_values_via_hdf5_api)
{
    const char *dir = tu_scratch("h5md_layout");
    char path[1200];
    snprintf(path, sizeof path, "%s/t.h5", dir);
    fh_h5md_config c = tu_config(path, 4);
    fh_h5md_writer *w = NULL;
    fh_err e = {0};
    cr_assert_eq(fh_h5md_writer_create(&c, &w, &e), FH_OK, "%s", e.msg);
    const long n = 10;
    write_frames(w, 0, n, 0);
    cr_assert_eq(fh_h5md_writer_set_status(w, FH_TRAJ_DONE, "tmax reached", &e), FH_OK, "%s", e.msg);
    close_ok(w);

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    int v2[2];
    read_int_attr(f, "/h5md", "version", v2, 2);
    cr_expect(v2[0] == 1 && v2[1] == 1, "H5MD version must be 1.1");
    expect_vlen_attr(f, "/h5md/creator", "name", "fusionhop");
    expect_vlen_attr(f, "/h5md/creator", "version", FH_VERSION);
    expect_vlen_attr(f, "/h5md/author", "name", "test author");
    int dim = 0;
    read_int_attr(f, "/particles/all/box", "dimension", &dim, 1);
    cr_expect_eq(dim, 3);
    {
        hid_t a = H5Aopen_by_name(f, "/particles/all/box", "boundary", H5P_DEFAULT, H5P_DEFAULT);
        cr_assert_geq(a, 0);
        hid_t t = H5Aget_type(a);
        cr_expect_gt(H5Tis_variable_str(t), 0, "boundary must be variable-length strings");
        hid_t mt = H5Tcopy(t);
        H5Tclose(t);
        char *b[3] = {0};
        cr_assert_geq(H5Aread(a, mt, b), 0);
        for (int i = 0; i < 3; i++) {
            cr_expect_str_eq(b[i], "none");
            H5free_memory(b[i]);
        }
        H5Tclose(mt);
        H5Aclose(a);
    }
    /* units */
    expect_vlen_attr(f, "/particles/all/position/value", "unit", "Angstrom");
    expect_vlen_attr(f, "/particles/all/position/time", "unit", "fs");
    expect_vlen_attr(f, "/particles/all/velocity/value", "unit", "Angstrom fs-1");
    expect_vlen_attr(f, "/particles/all/velocity/time", "unit", "fs");
    expect_vlen_attr(f, "/particles/all/mass", "unit", "u");
    expect_vlen_attr(f, "/observables/potential_energy/value", "unit", "eV");
    expect_vlen_attr(f, "/observables/kinetic_energy/value", "unit", "eV");
    expect_vlen_attr(f, "/observables/total_energy/value", "unit", "eV");
    expect_vlen_attr(f, "/observables/energy_spread/value", "unit", "eV");
    expect_vlen_attr(f, "/tsh/hops/energy_gap", "unit", "eV");
    expect_vlen_attr(f, "/tsh/hops/time", "unit", "fs");

    /* species and masses */
    long z[TU_NATOMS];
    double m[TU_NATOMS];
    read_ints(f, "/particles/all/species", z);
    read_doubles(f, "/particles/all/mass", m);
    for (int a = 0; a < TU_NATOMS; a++) {
        cr_expect_eq(z[a], tu_species[a]);
        cr_expect(fabs(m[a] - fh_element_mass_amu(tu_species[a])) < 1e-9, "mass %d = %g u", a, m[a]);
    }

    /* series: shapes, chunking, values converted to Angstrom / fs / eV */
    hsize_t dims[4];
    cr_expect_eq(check_series(f, "/particles/all/position/value", dims), 3);
    cr_expect(dims[0] == (hsize_t)n && dims[1] == TU_NATOMS && dims[2] == 3);
    cr_expect_eq(check_series(f, "/particles/all/velocity/value", dims), 3);
    cr_expect_eq(check_series(f, "/particles/all/position/step", dims), 1);
    cr_expect_eq(dims[0], (hsize_t)n);
    cr_expect_eq(check_series(f, "/observables/potential_energy/value", dims), 2);
    cr_expect(dims[0] == (hsize_t)n && dims[1] == TU_NSTATES);
    cr_expect_eq(check_series(f, "/observables/amplitudes/value", dims), 3);
    cr_expect(dims[0] == (hsize_t)n && dims[1] == TU_NSTATES && dims[2] == 2);
    const char *obs[] = {"active_state", "potential_energy", "kinetic_energy", "total_energy",
                         "populations", "amplitudes", "energy_spread"};
    for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++) {
        char p[128], q[128];
        snprintf(p, sizeof p, "/observables/%s/value", obs[i]);
        cr_expect_eq(check_series(f, p, dims) >= 1, 1);
        cr_expect_eq(dims[0], (hsize_t)n, "%s", p);
        snprintf(p, sizeof p, "/observables/%s/step", obs[i]);
        snprintf(q, sizeof q, "/observables/%s/time", obs[i]);
        cr_expect(same_object(f, p, "/particles/all/position/step"), "%s shares step", obs[i]);
        cr_expect(same_object(f, q, "/particles/all/position/time"), "%s shares time", obs[i]);
    }
    cr_expect(same_object(f, "/particles/all/velocity/step", "/particles/all/position/step"));

    double pos[10 * TU_NATOMS * 3], vel[10 * TU_NATOMS * 3], tt[10], ep[10 * TU_NSTATES];
    double pop[10 * TU_NSTATES], amp[10 * TU_NSTATES * 2], ek[10], et[10], sp[10 * TU_NSTATES];
    long step[10], act[10];
    read_doubles(f, "/particles/all/position/value", pos);
    read_doubles(f, "/particles/all/velocity/value", vel);
    read_doubles(f, "/particles/all/position/time", tt);
    read_ints(f, "/particles/all/position/step", step);
    read_ints(f, "/observables/active_state/value", act);
    read_doubles(f, "/observables/potential_energy/value", ep);
    read_doubles(f, "/observables/kinetic_energy/value", ek);
    read_doubles(f, "/observables/total_energy/value", et);
    read_doubles(f, "/observables/populations/value", pop);
    read_doubles(f, "/observables/amplitudes/value", amp);
    read_doubles(f, "/observables/energy_spread/value", sp);
    const double ang = 0.529177210903, fs = 0.024188843265857, ev = 27.211386245988;
    tu_frame t;
    for (long k = 0; k < n; k++) {
        tu_make_frame(&t, k, 0);
        cr_expect_eq(step[k], t.f.step);
        cr_expect_eq(act[k], t.f.active);
        cr_expect(REL(tt[k], t.f.time * fs), "time %ld", k);
        cr_expect(REL(ek[k], t.f.ekin * ev));
        cr_expect(REL(et[k], t.f.etot * ev));
        for (int i = 0; i < TU_NATOMS * 3; i++) {
            cr_expect(REL(pos[k * 9 + i], t.pos[i] * ang), "pos %ld %d", k, i);
            cr_expect(REL(vel[k * 9 + i], t.vel[i] * ang / fs), "vel %ld %d", k, i);
        }
        for (int s = 0; s < TU_NSTATES; s++) {
            cr_expect(REL(ep[k * 3 + s], t.epot[s] * ev));
            cr_expect(REL(sp[k * 3 + s], t.spread[s] * ev));
            double re = t.amp[2 * s], im = t.amp[2 * s + 1];
            cr_expect_eq(amp[k * 6 + 2 * s], re);
            cr_expect_eq(amp[k * 6 + 2 * s + 1], im);
            cr_expect(REL(pop[k * 3 + s], re * re + im * im));
        }
    }
    /* hops (time-sorted), parameters */
    long hstep[3], hfrom[3], hto[3], hfr[3];
    double hgap[3];
    cr_assert_eq(check_series(f, "/tsh/hops/step", dims), 1);
    cr_assert_eq(dims[0], 3);
    read_ints(f, "/tsh/hops/step", hstep);
    read_ints(f, "/tsh/hops/from", hfrom);
    read_ints(f, "/tsh/hops/to", hto);
    read_ints(f, "/tsh/hops/frustrated", hfr);
    read_doubles(f, "/tsh/hops/energy_gap", hgap);
    cr_expect(hstep[0] == 20 && hstep[1] == 50 && hstep[2] == 90);
    cr_expect(hfrom[1] == 1 && hto[1] == 0 && hfr[1] == 1 && hfr[0] == 0);
    cr_expect(REL(hgap[1], -0.0367 * 5 * ev));
    expect_vlen_attr(f, "/parameters", "version", FH_VERSION);
    expect_vlen_attr(f, "/parameters", "program", "fusionhop");
    H5Fclose(f);

    /* the same through the reader, back in atomic units */
    fh_h5md_reader *r = NULL;
    cr_assert_eq(fh_h5md_reader_open(path, &r, &e), FH_OK, "%s", e.msg);
    cr_expect_eq(fh_h5md_reader_nframes(r), n);
    cr_expect_eq(fh_h5md_reader_natoms(r), TU_NATOMS);
    cr_expect_eq(fh_h5md_reader_nstates(r), TU_NSTATES);
    cr_expect_eq(fh_h5md_reader_has_spread(r), 1);
    cr_expect_eq(fh_h5md_reader_status(r), FH_TRAJ_DONE);
    cr_expect_str_eq(fh_h5md_reader_stop_reason(r), "tmax reached");
    cr_expect_str_eq(fh_h5md_reader_deck(r), "[dynamics]\nntraj = 4\n");
    cr_expect_str_eq(fh_h5md_reader_version(r), FH_VERSION);
    cr_expect_eq(fh_h5md_reader_seed(r), 12345);
    cr_expect_eq(fh_h5md_reader_traj_index(r), 7);
    cr_expect(REL(fh_h5md_reader_masses(r)[1], fh_element_mass_au(1)));
    double rp[3 * TU_NATOMS * 3], rt[3], re[3 * TU_NSTATES];
    long rs[3];
    int ra[3];
    cr_assert_eq(fh_h5md_read_positions(r, 4, 3, rp, &e), FH_OK, "%s", e.msg);
    cr_assert_eq(fh_h5md_read_times(r, 4, 3, rt, &e), FH_OK);
    cr_assert_eq(fh_h5md_read_steps(r, 4, 3, rs, &e), FH_OK);
    cr_assert_eq(fh_h5md_read_active(r, 4, 3, ra, &e), FH_OK);
    cr_assert_eq(fh_h5md_read_epot(r, 4, 3, re, &e), FH_OK);
    for (long k = 4; k < 7; k++) {
        tu_make_frame(&t, k, 0);
        cr_expect(REL(rt[k - 4], t.f.time));
        cr_expect_eq(rs[k - 4], t.f.step);
        cr_expect_eq(ra[k - 4], t.f.active);
        for (int i = 0; i < 9; i++) cr_expect(REL(rp[(k - 4) * 9 + i], t.pos[i]));
        for (int s = 0; s < 3; s++) cr_expect(REL(re[(k - 4) * 3 + s], t.epot[s]));
    }
    cr_expect_eq(fh_h5md_read_positions(r, 8, 3, rp, &e), FH_EINPUT, "range beyond the frames");
    fh_h5md_hop hops[3];
    cr_assert_eq(fh_h5md_reader_nhops(r), 3);
    cr_assert_eq(fh_h5md_read_hops(r, hops, &e), FH_OK);
    cr_expect(hops[2].step == 90 && hops[1].frustrated == 1 && REL(hops[1].gap, -0.0367 * 5));
    fh_h5md_reader_close(r);
    tu_rmdir(dir);
}

Test(h5md, never_overwrites_unless_forced)
{
    const char *dir = tu_scratch("h5md_overwrite");
    char path[1200];
    snprintf(path, sizeof path, "%s/t.h5", dir);
    fh_h5md_config c = tu_config(path, 3);
    fh_h5md_writer *w = NULL;
    fh_err e = {0};
    cr_assert_eq(fh_h5md_writer_create(&c, &w, &e), FH_OK, "%s", e.msg);
    write_frames(w, 0, 5, 0);
    close_ok(w);

    w = NULL;
    cr_expect_eq(fh_h5md_writer_create(&c, &w, &e), FH_EINPUT);
    cr_expect_null(w);
    cr_expect(strstr(e.msg, path) && strstr(e.msg, "exists"), "message: %s", e.msg);
    fh_h5md_reader *r = NULL;
    cr_assert_eq(fh_h5md_reader_open(path, &r, &e), FH_OK, "%s", e.msg);
    cr_expect_eq(fh_h5md_reader_nframes(r), 5, "refused create must leave the file intact");
    fh_h5md_reader_close(r);

    c.force = 1;
    cr_assert_eq(fh_h5md_writer_create(&c, &w, &e), FH_OK, "%s", e.msg);
    close_ok(w);
    cr_assert_eq(fh_h5md_reader_open(path, &r, &e), FH_OK, "%s", e.msg);
    cr_expect_eq(fh_h5md_reader_nframes(r), 0);
    cr_expect_eq(fh_h5md_reader_status(r), FH_TRAJ_RUNNING);
    fh_h5md_reader_close(r);
    tu_rmdir(dir);
}

Test(h5md, bad_config_is_input_error)
{
    const char *dir = tu_scratch("h5md_badcfg");
    char path[1200];
    snprintf(path, sizeof path, "%s/t.h5", dir);
    fh_h5md_config c = tu_config(path, 3);
    fh_h5md_writer *w = NULL;
    fh_err e = {0};
    const int model[1] = {0};
    c.natoms = 1;
    c.species = model; /* a model coordinate needs an explicit mass */
    cr_expect_eq(fh_h5md_writer_create(&c, &w, &e), FH_EINPUT);
    cr_expect(strstr(e.msg, "mass") != NULL, "%s", e.msg);
    c.particle_group = "a/b";
    const double mass = 2000.0;
    c.masses = &mass;
    cr_expect_eq(fh_h5md_writer_create(&c, &w, &e), FH_EINPUT);
    cr_expect_eq(access(path, F_OK), -1, "nothing written on bad input");
    tu_rmdir(dir);
}

Test(h5md, model_surface_as_one_pseudo_atom)
{
    const char *dir = tu_scratch("h5md_model");
    char path[1200];
    snprintf(path, sizeof path, "%s/tully.h5", dir);
    const int sp[1] = {0};
    const double mass = 2000.0;
    fh_h5md_config c = {.path = path, .natoms = 1, .nstates = 2, .species = sp, .masses = &mass};
    fh_h5md_writer *w = NULL;
    fh_err e = {0};
    cr_assert_eq(fh_h5md_writer_create(&c, &w, &e), FH_OK, "%s", e.msg);
    double x[3] = {-10.0, 0, 0}, v[3] = {15.0 / 2000.0, 0, 0}, ep[2] = {-0.01, 0.01};
    double amp[4] = {0, 0, 1, 0};
    fh_h5md_frame fr = {.step = 0, .time = 0, .pos = x, .vel = v, .active = 1, .epot = ep,
                        .ekin = 0.5 * 2000.0 * v[0] * v[0], .etot = 0.0, .amp = amp};
    cr_assert_eq(fh_h5md_writer_append(w, &fr, &e), FH_OK, "%s", e.msg);
    close_ok(w);
    fh_h5md_reader *r = NULL;
    cr_assert_eq(fh_h5md_reader_open(path, &r, &e), FH_OK, "%s", e.msg);
    cr_expect_eq(fh_h5md_reader_natoms(r), 1);
    cr_expect_eq(fh_h5md_reader_species(r)[0], 0);
    cr_expect(REL(fh_h5md_reader_masses(r)[0], 2000.0));
    double rx[3], pop[2];
    cr_assert_eq(fh_h5md_read_positions(r, 0, 1, rx, &e), FH_OK);
    cr_assert_eq(fh_h5md_read_populations(r, 0, 1, pop, &e), FH_OK);
    cr_expect(REL(rx[0], -10.0));
    cr_expect(pop[0] == 0.0 && pop[1] == 1.0);
    cr_expect_eq(fh_h5md_reader_has_spread(r), 0);
    cr_expect_eq(fh_h5md_read_spread(r, 0, 1, pop, &e), FH_EINPUT);
    fh_h5md_reader_close(r);
    tu_rmdir(dir);
}

/* Compare every frame series and the hops of two files bitwise. */
static void expect_identical(const char *a, const char *b)
{
    fh_h5md_reader *ra = NULL, *rb = NULL;
    fh_err e = {0};
    cr_assert_eq(fh_h5md_reader_open(a, &ra, &e), FH_OK, "%s", e.msg);
    cr_assert_eq(fh_h5md_reader_open(b, &rb, &e), FH_OK, "%s", e.msg);
    long n = fh_h5md_reader_nframes(ra);
    cr_assert_eq(fh_h5md_reader_nframes(rb), n);
    size_t big = (size_t)n * TU_NATOMS * 3;
    double *xa = calloc(big, sizeof *xa), *xb = calloc(big, sizeof *xb);
    int (*rd[])(const fh_h5md_reader *, long, long, double *, fh_err *) = {
        fh_h5md_read_times, fh_h5md_read_epot, fh_h5md_read_ekin, fh_h5md_read_etot,
        fh_h5md_read_populations, fh_h5md_read_amplitudes, fh_h5md_read_spread,
        fh_h5md_read_positions, fh_h5md_read_velocities};
    for (size_t i = 0; i < sizeof rd / sizeof rd[0]; i++) {
        memset(xa, 0, big * sizeof *xa);
        memset(xb, 0, big * sizeof *xb);
        cr_assert_eq(rd[i](ra, 0, n, xa, &e), FH_OK, "%s", e.msg);
        cr_assert_eq(rd[i](rb, 0, n, xb, &e), FH_OK, "%s", e.msg);
        cr_expect_eq(memcmp(xa, xb, big * sizeof *xa), 0, "series %zu differs", i);
    }
    long nh = fh_h5md_reader_nhops(ra);
    cr_assert_eq(fh_h5md_reader_nhops(rb), nh);
    fh_h5md_hop ha[8], hb[8];
    cr_assert_leq(nh, 8);
    fh_h5md_read_hops(ra, ha, &e);
    fh_h5md_read_hops(rb, hb, &e);
    for (long k = 0; k < nh; k++)
        cr_expect(ha[k].step == hb[k].step && ha[k].gap == hb[k].gap && ha[k].to == hb[k].to);
    free(xa);
    free(xb);
    fh_h5md_reader_close(ra);
    fh_h5md_reader_close(rb);
}

Test(h5md, checkpoint_resume_equals_uninterrupted)
{
    const char *dir = tu_scratch("h5md_resume");
    char ref[1200], res[1200];
    snprintf(ref, sizeof ref, "%s/ref.h5", dir);
    snprintf(res, sizeof res, "%s/res.h5", dir);
    fh_err e = {0};
    fh_h5md_writer *w = NULL;

    /* reference: 12 frames in one go */
    fh_h5md_config c = tu_config(ref, 4);
    cr_assert_eq(fh_h5md_writer_create(&c, &w, &e), FH_OK, "%s", e.msg);
    write_frames(w, 0, 12, 0);
    close_ok(w);

    /* interrupted: checkpoint after 6 frames, then frames 6..8 of a different variant (the work
     * lost by the crash), close without finishing */
    c = tu_config(res, 4);
    cr_assert_eq(fh_h5md_writer_create(&c, &w, &e), FH_OK, "%s", e.msg);
    write_frames(w, 0, 6, 0);
    const char blob1[] = "state-at-6", blob2[] = "state-at-6-second-try-longer";
    cr_assert_eq(fh_h5md_writer_checkpoint(w, blob1, sizeof blob1, &e), FH_OK, "%s", e.msg);
    cr_assert_eq(fh_h5md_writer_checkpoint(w, blob2, sizeof blob2, &e), FH_OK, "%s", e.msg);
    write_frames(w, 6, 4, 1); /* includes a hop at frame 9 that must disappear */
    close_ok(w);

    fh_h5md_reader *r = NULL;
    cr_assert_eq(fh_h5md_reader_open(res, &r, &e), FH_OK, "%s", e.msg);
    cr_expect_eq(fh_h5md_reader_nframes(r), 10);
    cr_expect_eq(fh_h5md_reader_nhops(r), 3);
    long cf = -1, ch = -1;
    void *blob = NULL;
    size_t nb = 0;
    cr_assert_eq(fh_h5md_reader_checkpoint(r, &cf, &ch, &blob, &nb, &e), FH_OK, "%s", e.msg);
    cr_expect_eq(cf, 6);
    cr_expect_eq(ch, 2);
    cr_assert_eq(nb, sizeof blob2);
    cr_expect_eq(memcmp(blob, blob2, nb), 0, "the latest checkpoint is returned");
    free(blob);
    fh_h5md_reader_close(r);

    /* resuming past the committed frames is refused */
    cr_expect_eq(fh_h5md_writer_reopen(res, 11, 0, &w, &e), FH_EINPUT);
    /* resume at the checkpoint and regenerate the rest exactly */
    cr_assert_eq(fh_h5md_writer_reopen(res, cf, 5, &w, &e), FH_OK, "%s", e.msg);
    cr_expect_eq(fh_h5md_writer_nframes(w), 6);
    write_frames(w, 6, 6, 0);
    close_ok(w);
    expect_identical(ref, res);

    cr_assert_eq(fh_h5md_reader_open(res, &r, &e), FH_OK, "%s", e.msg);
    cr_expect_eq(fh_h5md_reader_status(r), FH_TRAJ_RUNNING);
    cr_assert_eq(fh_h5md_reader_checkpoint(r, &cf, &ch, &blob, &nb, &e), FH_OK);
    cr_expect_eq(cf, 6, "the checkpoint at the resume point stays valid");
    free(blob);
    fh_h5md_reader_close(r);

    /* resuming before the checkpoint drops it */
    cr_assert_eq(fh_h5md_writer_reopen(res, 3, 0, &w, &e), FH_OK, "%s", e.msg);
    close_ok(w);
    cr_assert_eq(fh_h5md_reader_open(res, &r, &e), FH_OK, "%s", e.msg);
    cr_expect_eq(fh_h5md_reader_nframes(r), 3);
    cr_expect_eq(fh_h5md_reader_nhops(r), 1);
    cr_assert_eq(fh_h5md_reader_checkpoint(r, &cf, &ch, &blob, &nb, &e), FH_OK);
    cr_expect_null(blob);
    cr_expect_eq(nb, 0);
    fh_h5md_reader_close(r);
    tu_rmdir(dir);
}

Test(h5md, reader_ignores_uncommitted_rows)
{
    /* Simulate a block torn by a crash: rows beyond the committed count must be invisible. */
    const char *dir = tu_scratch("h5md_torn");
    char path[1200];
    snprintf(path, sizeof path, "%s/t.h5", dir);
    fh_h5md_config c = tu_config(path, 4);
    fh_h5md_writer *w = NULL;
    fh_err e = {0};
    cr_assert_eq(fh_h5md_writer_create(&c, &w, &e), FH_OK, "%s", e.msg);
    write_frames(w, 0, 8, 0);
    close_ok(w);

    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/particles/all/position/value", H5P_DEFAULT);
    hsize_t dims[3] = {11, TU_NATOMS, 3};
    cr_assert_geq(H5Dset_extent(d, dims), 0);
    H5Dclose(d);
    d = H5Dopen2(f, "/particles/all/position/step", H5P_DEFAULT);
    cr_assert_geq(H5Dset_extent(d, dims), 0);
    H5Dclose(d);
    H5Fclose(f);

    fh_h5md_reader *r = NULL;
    cr_assert_eq(fh_h5md_reader_open(path, &r, &e), FH_OK, "%s", e.msg);
    cr_expect_eq(fh_h5md_reader_nframes(r), 8);
    fh_h5md_reader_close(r);
    /* and reopening for append truncates the torn rows */
    cr_assert_eq(fh_h5md_writer_reopen(path, 8, 0, &w, &e), FH_OK, "%s", e.msg);
    write_frames(w, 8, 2, 0);
    close_ok(w);
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    check_series(f, "/particles/all/position/value", dims);
    cr_expect_eq(dims[0], 10);
    H5Fclose(f);
    tu_rmdir(dir);
}

Test(h5md, not_a_trajectory_is_input_error)
{
    const char *dir = tu_scratch("h5md_notraj");
    char path[1200];
    snprintf(path, sizeof path, "%s/x.h5", dir);
    fh_h5md_reader *r = NULL;
    fh_err e = {0};
    cr_expect_eq(fh_h5md_reader_open(path, &r, &e), FH_EINPUT, "missing file");
    cr_expect(strstr(e.msg, path) != NULL);
    FILE *fp = fopen(path, "w");
    fputs("not hdf5\n", fp);
    fclose(fp);
    cr_expect_eq(fh_h5md_reader_open(path, &r, &e), FH_EINPUT, "text file");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    cr_expect_eq(fh_h5md_reader_open(path, &r, &e), FH_EINPUT, "empty HDF5 file");
    cr_expect_null(r);
    tu_rmdir(dir);
}
