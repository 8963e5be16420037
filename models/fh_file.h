/* Small file-system helpers shared by several libraries (the dataset writer, the OpenMolcas
 * provider, the ensemble files, `fusionhop run`); they live in models/ because it is the lowest library. */
#ifndef FH_FILE_H
#define FH_FILE_H

/* Copy a regular file byte for byte; 0 on success, -1 on any read, write or close error. */
int fh_file_copy(const char *from, const char *to);
/* mkdir -p: DIR and its missing parents (mode 0777, the umask applies); 0, or -1 with errno. */
int fh_file_mkdirs(const char *dir);

#endif
