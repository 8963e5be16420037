/* Small file-system helpers shared by several libraries (the dataset writer, the OpenMolcas
 * provider, the ensemble files, `fusionhop run`); they live in models/ because it is the lowest library. */
#ifndef FH_FILE_H
#define FH_FILE_H

/* Copy a regular file byte for byte; 0 on success, -1 on any read, write or close error. */
int fh_file_copy(const char *from, const char *to);
/* mkdir -p: DIR and its missing parents (mode 0777, the umask applies); 0, or -1 with errno. */
int fh_file_mkdirs(const char *dir);
/* 1 when both paths exist and name the same file (same device and inode), else 0. */
int fh_file_same(const char *a, const char *b);
/* 1 when PATH is a regular file that starts with the HDF5 signature (at offset 0 or a user-block
 * offset 512, 1024, ...), else 0: tells an HDF5 result file from a text file before overwriting. */
int fh_file_is_hdf5(const char *path);

#endif
