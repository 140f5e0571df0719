#define _GNU_SOURCE
#include "CKujiraSys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <limits.h>
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

int kujira_write_file_atomically(int dirfd, const char *path, const void *bytes, size_t count,
                                 mode_t mode, int flags, int *stage) {
    const char *slash = strrchr(path, '/');
    size_t prefix = slash ? (size_t)(slash - path) + 1 : 0;   /* "dir/" kept, "" if none */
    const char *base = path + prefix;
    size_t size = prefix + strlen(base) + 64;
    char *temporary = malloc(size);
    if (!temporary) { *stage = KUJIRA_ATOMIC_STAGE_CREATE; return ENOMEM; }
    int fd = -1;
    for (int attempt = 0; attempt < 16 && fd < 0; attempt++) {
        uint64_t random = 0;
        if (getrandom(&random, sizeof(random), GRND_NONBLOCK) != (ssize_t)sizeof(random)) {
            static uint64_t counter;
            random = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) ^ ((uint64_t)gettid() << 32);
        }
        snprintf(temporary, size, "%.*s.%s.%d-%016llx.tmp", (int)prefix, path, base,
                 (int)getpid(), (unsigned long long)random);
        fd = openat(dirfd, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        int code = errno;
        free(temporary);
        *stage = KUJIRA_ATOMIC_STAGE_CREATE;
        return code;
    }
    int failed = 0, code = 0;
    const char *cursor = bytes;
    size_t left = count;
    while (left > 0) {
        ssize_t n = write(fd, cursor, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { failed = KUJIRA_ATOMIC_STAGE_WRITE; code = n < 0 ? errno : EIO; break; }
        cursor += n;
        left -= (size_t)n;
    }
    if (!failed && (flags & KUJIRA_ATOMIC_SYNC_FILE) && fsync(fd) != 0) { failed = KUJIRA_ATOMIC_STAGE_SYNC; code = errno; }
    close(fd);
    if (!failed && renameat(dirfd, temporary, dirfd, path) != 0) { failed = KUJIRA_ATOMIC_STAGE_RENAME; code = errno; }
    if (failed) {
        unlinkat(dirfd, temporary, 0);
        free(temporary);
        *stage = failed;
        return code;
    }
    free(temporary);
    if (flags & KUJIRA_ATOMIC_SYNC_DIRECTORY) {
        char *directory = strndup(path, prefix ? prefix : 1);
        if (!directory) { *stage = KUJIRA_ATOMIC_STAGE_SYNC_DIRECTORY; return ENOMEM; }
        if (!prefix) directory[0] = '.';
        int directoryFD = openat(dirfd, directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        free(directory);
        if (directoryFD < 0 || fsync(directoryFD) != 0) {
            code = errno;
            if (directoryFD >= 0) close(directoryFD);
            *stage = KUJIRA_ATOMIC_STAGE_SYNC_DIRECTORY;
            return code;
        }
        close(directoryFD);
    }
    return 0;
}

const char *kujira_atomic_stage_name(int stage) {
    switch (stage) {
    case KUJIRA_ATOMIC_STAGE_CREATE: return "creating a temporary file for";
    case KUJIRA_ATOMIC_STAGE_WRITE: return "writing";
    case KUJIRA_ATOMIC_STAGE_SYNC: return "syncing";
    case KUJIRA_ATOMIC_STAGE_RENAME: return "renaming a temporary file to";
    case KUJIRA_ATOMIC_STAGE_SYNC_DIRECTORY: return "syncing the directory of";
    default: return "writing";
    }
}

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

/* Decodes mountinfo's \ooo escapes in place. */
static void unescape_mount_field(char *field) {
    char *out = field;
    for (char *in = field; *in; ) {
        if (in[0] == '\\' && in[1] >= '0' && in[1] <= '7' && in[2] >= '0' && in[2] <= '7' && in[3] >= '0' && in[3] <= '7') {
            *out++ = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
            in += 4;
        } else {
            *out++ = *in++;
        }
    }
    *out = 0;
}

/* The mountinfo fallback for kernels without STATX_ATTR_MOUNT_ROOT. */
int kujira_is_mount_point_by_mountinfo(const char *path) {
    char wanted[PATH_MAX];
    if (!realpath(path, wanted)) return -1;
    int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t size = 0, capacity = 65536;
    char *text = malloc(capacity);
    if (!text) { close(fd); errno = ENOMEM; return -1; }
    for (;;) {
        if (capacity - size < 4096) {
            char *grown = realloc(text, capacity * 2);
            if (!grown) { free(text); close(fd); errno = ENOMEM; return -1; }
            text = grown;
            capacity *= 2;
        }
        ssize_t n = read(fd, text + size, capacity - size - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { int code = errno; free(text); close(fd); errno = code; return -1; }
        if (n == 0) break;
        size += (size_t)n;
    }
    close(fd);
    text[size] = 0;
    int found = 0;
    char *saveLine = NULL;
    for (char *line = strtok_r(text, "\n", &saveLine); line && !found; line = strtok_r(NULL, "\n", &saveLine)) {
        char *saveField = NULL, *field = strtok_r(line, " ", &saveField);
        for (int index = 0; field && index < 4; index++) field = strtok_r(NULL, " ", &saveField);
        if (!field) continue;
        unescape_mount_field(field);
        found = strcmp(field, wanted) == 0;
    }
    free(text);
    return found;
}

int kujira_is_mount_point(const char *path) {
    struct statx info;
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_BASIC_STATS, &info) != 0) {
        if (errno != ENOSYS) return -1;
    } else if (info.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) {
        return (info.stx_attributes & STATX_ATTR_MOUNT_ROOT) ? 1 : 0;
    }
    return kujira_is_mount_point_by_mountinfo(path);
}
