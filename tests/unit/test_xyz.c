/* The XYZ reader (models/xyz.c) on input that used to be misread: a comment line longer than the
 * old 4095-character buffer was split, its tail taken as the first atom line ("expected 'symbol x
 * y z'" at the wrong line); a directory given as the file said "no geometry in file". */
#include <criterion/criterion.h>
#include "test_workdir.h"
#include <string.h>

#include "fh_xyz.h"

static void setup(void) { workdir_make("test_xyz"); }
static void teardown(void)
{
    if (workdir_remove()) {}
}

TestSuite(xyz, .init = setup, .fini = teardown);

Test(xyz, long_comment_line_is_read_whole)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/long.xyz", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "2\nid=long ");
    for (int k = 0; k < 10000; k++) fputc('x', f);
    fprintf(f, " origin=end\nC 0 0 0\nH 1.1 0 0\n2\nshort\nC 0 0 0.1\nH 1.1 0 0\n");
    fclose(f);
    fh_xyz *g = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_xyz_read(path, &g, &err), FH_OK, "%s", err.msg);
    cr_assert_eq(g->nframes, 2);
    cr_assert_eq(strlen(g->comments[0]), 10000 + strlen("id=long  origin=end"));
    cr_assert(strstr(g->comments[0], " origin=end"));
    cr_assert_str_eq(g->comments[1], "short");
    cr_assert_eq(g->z[1], 1);
    fh_xyz_free(g);
    /* errors still name the line after a long one */
    f = fopen(path, "w");
    fprintf(f, "1\n");
    for (int k = 0; k < 5000; k++) fputc('c', f);
    fprintf(f, "\nC 0 0\n");
    fclose(f);
    cr_assert_eq(fh_xyz_read(path, &g, &err), FH_EINPUT);
    cr_assert(strstr(err.msg, "long.xyz:3: error: expected 'symbol x y z' (Angstrom), got 'C 0 0'"),
              "%s", err.msg);
}

Test(xyz, directory_is_named_as_such)
{
    fh_xyz *g = NULL;
    fh_err err = {0};
    cr_assert_eq(fh_xyz_read(dir, &g, &err), FH_EINPUT);
    cr_assert_null(g);
    cr_assert(strstr(err.msg, "error: cannot read: it is a directory"), "%s", err.msg);
}
