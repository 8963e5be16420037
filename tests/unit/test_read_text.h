/* The whole of a text file as a NUL-terminated string (caller frees), for tests that check what a
 * command wrote; a missing or unreadable file fails the test. Binary files read too (the string is
 * then only a buffer of the file's bytes). */
#ifndef TEST_READ_TEXT_H
#define TEST_READ_TEXT_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

static inline char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = calloc((size_t)n + 1, 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n, "cannot read %s", path);
    fclose(f);
    return s;
}

/* read_text of the file `name` in directory `dir`. */
static inline char *read_text_in(const char *dir, const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return read_text(path);
}

#endif
