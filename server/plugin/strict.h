/* plugin/strict.h — who may have written the code and configuration gortd
 * loads: sshd's StrictModes, applied to the plugins directory. */
#ifndef GORT_PLUGIN_STRICT_H
#define GORT_PLUGIN_STRICT_H

#include <stddef.h>
#include <sys/stat.h>

/* The plugins directory (resolved, absolute) and every directory above it:
 * each must be owned by root or by gortd's user; the directory itself must
 * not be writable by group or others; an ancestor may be only if it is
 * sticky (as /tmp is: others cannot rename what they do not own). 0, or
 * -EPERM (or -errno) with err naming the path and the problem. */
int plugins_strict_dir(const char *dir, char *err, size_t errlen);

/* A file to load (what stat or fstat said of it): regular, owned by root
 * or by gortd's user, not writable by group or others. what names it in
 * err ("plugin", "configuration"). 0, or -EPERM with err. */
int plugins_strict_file(const char *path, const struct stat *st,
                        const char *what, char *err, size_t errlen);

#endif /* GORT_PLUGIN_STRICT_H */
