#define _GNU_SOURCE
#include "CKujiraSys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

int kujira_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how = { .flags = flags, .mode = mode, .resolve = resolve };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int kujira_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags);
}

int kujira_mknodat(int dirfd, const char *path, mode_t mode, unsigned int major, unsigned int minor) {
    return mknodat(dirfd, path, mode, makedev(major, minor));
}

unsigned int kujira_major(dev_t dev) { return major(dev); }
unsigned int kujira_minor(dev_t dev) { return minor(dev); }

int kujira_fchmodat_nofollow(int dirfd, const char *path, mode_t mode) {
    long rc = syscall(SYS_fchmodat2, dirfd, path, mode, AT_SYMLINK_NOFOLLOW);
    if (rc == 0 || (errno != ENOSYS && errno != EINVAL)) return (int)rc;
    struct stat st;
    if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0) return -1;
    if (S_ISLNK(st.st_mode)) { errno = EOPNOTSUPP; return -1; }
    return fchmodat(dirfd, path, mode, 0);
}

int kujira_setxattr_opath(int fd, const char *name, const void *value, size_t size) {
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    return setxattr(proc, name, value, size, 0);
}

ssize_t kujira_getxattr_opath(int fd, const char *name, void *value, size_t size) {
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    return getxattr(proc, name, value, size);
}
