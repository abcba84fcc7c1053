/* plugin/strict.c — owner and mode checks on the plugins directory and the
 * files in it, as sshd's StrictModes checks authorized_keys.
 *
 * Whoever can write a plugin, its NAME.conf, or the directory holding them
 * runs code inside gortd, so all three must be writable only by root or by
 * gortd's own user:
 *
 *  - a file: owned by root or the effective uid, no group/other write bit;
 *  - the plugins directory: the same (a group-writable directory lets the
 *    group drop in a new .so, or rename one over another);
 *  - every directory above it, up to /: owned by root or the effective uid,
 *    and not writable by group or others unless sticky. A sticky directory
 *    such as /tmp lets others create entries but not rename or remove ours,
 *    so a private directory under /tmp stays private (sshd's secure_path
 *    draws the line at the home directory instead; gortd has none).
 *
 * The directory chain is checked at start and again before every load: a
 * chmod after start takes effect at the next load or SIGHUP rescan.
 */
#include "plugin/strict.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int owner_ok(uid_t uid)
{
    return uid == 0 || uid == geteuid();
}

static int writable_by_others(const struct stat *st)
{
    return (st->st_mode & (S_IWGRP | S_IWOTH)) != 0;
}

static const char *who_writes(const struct stat *st)
{
    return st->st_mode & S_IWOTH ? "others" : "group";
}

/* One directory of the chain; self: the plugins directory itself. */
static int dir_one(const char *path, int self, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: not a directory", path);
        return -ENOTDIR;
    }
    if (!owner_ok(st.st_uid)) {
        snprintf(err, errlen,
                 "%s: owned by uid %u, neither root nor gortd's uid %u: "
                 "refusing to load code from it",
                 path, (unsigned)st.st_uid, (unsigned)geteuid());
        return -EPERM;
    }
    if (writable_by_others(&st) && (self || !(st.st_mode & S_ISVTX))) {
        snprintf(err, errlen,
                 "%s: writable by %s (mode %04o): anyone who can write "
                 "there can run code in gortd; chmod go-w it",
                 path, who_writes(&st), (unsigned)(st.st_mode & 07777));
        return -EPERM;
    }
    return 0;
}

int plugins_strict_dir(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (dir[0] != '/' || strlen(dir) >= sizeof path) {
        snprintf(err, errlen, "%s: want an absolute path under PATH_MAX", dir);
        return -EINVAL;
    }
    strcpy(path, dir);
    int rc = dir_one(path, 1, err, errlen);
    for (char *slash; rc == 0 && (slash = strrchr(path, '/')) != NULL;) {
        if (slash == path) {
            if (path[1] == '\0')
                break; /* "/" was checked last round */
            path[1] = '\0';
        } else {
            *slash = '\0';
        }
        rc = dir_one(path, 0, err, errlen);
    }
    return rc;
}

int plugins_strict_file(const char *path, const struct stat *st,
                        const char *what, char *err, size_t errlen)
{
    if (!S_ISREG(st->st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        return -EPERM;
    }
    if (!owner_ok(st->st_uid)) {
        snprintf(err, errlen,
                 "%s: owned by uid %u, neither root nor gortd's uid %u: "
                 "refusing this %s",
                 path, (unsigned)st->st_uid, (unsigned)geteuid(), what);
        return -EPERM;
    }
    if (writable_by_others(st)) {
        snprintf(err, errlen,
                 "%s: writable by %s (mode %04o): refusing a %s others can "
                 "change",
                 path, who_writes(st), (unsigned)(st->st_mode & 07777), what);
        return -EPERM;
    }
    return 0;
}
