// Id-mapped bind mounts (runtime-spec 1.2 mounts[].uidMappings/gidMappings, `idmap`, `ridmap`)
// and tmpfs copy-up (`tmpcopyup`).
//
// An id-mapped mount needs a user namespace that carries the mapping: a helper child unshares
// one, the init writes its uid_map/gid_map through the host procfs and keeps an fd of
// /proc/<child>/ns/user, and the child exits. The source is cloned with
// open_tree(OPEN_TREE_CLONE) and mount_setattr(MOUNT_ATTR_IDMAP) gets that fd. The kernel
// requires CAP_SYS_ADMIN in the user namespace of the source's filesystem, so this runs in the
// intermediate before it joins or creates any namespace; the detached clone is attached in the
// container with move_mount (rootfs.c), like every other bind.
#include "init.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/// Writes `text` to /proc/<pid>/<name> through the host procfs fd.
static void write_map(int procfd, pid_t pid, const char *name, const char *text, const char *what) {
    char path[64];
    snprintf(path, sizeof(path), "%d/%s", (int)pid, name);
    int fd = openat(procfd, path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || kj_write_all(fd, text, strlen(text)) < 0) {
        int saved = errno;
        if (fd >= 0) close(fd);
        errno = saved;
        kj_fail("id-mapped mount %s: writing %s of the helper user namespace: %m", what, name);
    }
    close(fd);
}

/// A user namespace with the given maps: an fd of its nsfs file.
static int helper_userns(int procfd, const char *uid_map, const char *gid_map, const char *what) {
    int ready[2], release[2];
    if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(release, O_CLOEXEC) < 0) kj_fail("pipe: %m");
    pid_t child = fork();
    if (child < 0) kj_fail("fork: %m");
    if (child == 0) {
        // Reports "unshared" (or the errno) and waits until the parent closes `release`; the
        // read also ends if the parent dies.
        close(ready[0]);
        close(release[1]);
        int result = unshare(CLONE_NEWUSER) < 0 ? errno : 0;
        if (write(ready[1], &result, sizeof(result)) != (ssize_t)sizeof(result)) _exit(1);
        char byte;
        while (read(release[0], &byte, 1) < 0 && errno == EINTR) {}
        _exit(0);
    }
    close(ready[1]);
    close(release[0]);
    int result = -1;
    ssize_t n;
    do { n = read(ready[0], &result, sizeof(result)); } while (n < 0 && errno == EINTR);
    close(ready[0]);
    int nsfd = -1, saved = 0;
    if (n != (ssize_t)sizeof(result)) {
        saved = EIO;
    } else if (result != 0) {
        saved = result;
    } else {
        write_map(procfd, child, "uid_map", uid_map, what);
        write_map(procfd, child, "gid_map", gid_map, what);
        char path[64];
        snprintf(path, sizeof(path), "%d/ns/user", (int)child);
        nsfd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0) saved = errno;
    }
    close(release[1]);
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
    if (nsfd < 0) {
        errno = saved;
        kj_fail("id-mapped mount %s: creating the helper user namespace: %m", what);
    }
    return nsfd;
}

void kj_prepare_idmapped_mounts(struct kj_plan *plan, int procfd) {
    for (size_t i = 0; i < plan->nops; i++) {
        struct kj_op *op = &plan->ops[i];
        if (op->idmap_uid == NULL) continue;
        if (getauxval(AT_EUID) != 0) {
            kj_fail("id-mapped mount %s: needs root (CAP_SYS_ADMIN over the filesystem of %s); not available to a rootless container", op->dest, op->source);
        }
        int src = open(op->source, O_PATH | O_CLOEXEC);
        if (src < 0) kj_fail("opening bind source %s: %m", op->source);
        int recursive = (op->flags & MS_REC) != 0;
        int tree = open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0));
        if (tree < 0) kj_fail("cloning the mount for %s: %m", op->dest);
        close(src);
        int userns = helper_userns(procfd, op->idmap_uid, op->idmap_gid, op->dest);
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns };
        unsigned flags = AT_EMPTY_PATH | (op->idmap_recursive ? AT_RECURSIVE : 0);
        if (mount_setattr(tree, "", flags, &attr, sizeof(attr)) < 0) {
            int saved = errno;
            if (saved == EINVAL) {
                kj_fail("id-mapping the mount of %s on %s: %m (the filesystem, or a mount below it with ridmap, does not support id-mapped mounts, or it is id-mapped already)", op->source, op->dest);
            }
            if (saved == EPERM) {
                kj_fail("id-mapping the mount of %s on %s: %m (needs CAP_SYS_ADMIN over the source's filesystem: not available to a rootless container)", op->source, op->dest);
            }
            kj_fail("id-mapping the mount of %s on %s: %m", op->source, op->dest);
        }
        close(userns);
        op->idmap_tree = tree;
    }
}

/// Owner, mode (after the owner: chown clears set-id bits) and times of `fd` as in `st`.
static void copy_attributes(int fd, const struct stat *st, const char *name) {
    if (fchown(fd, st->st_uid, st->st_gid) < 0) kj_fail("tmpcopyup: chown %s: %m", name);
    if (fchmod(fd, st->st_mode & 07777) < 0) kj_fail("tmpcopyup: chmod %s: %m", name);
    struct timespec times[2] = { st->st_atim, st->st_mtim };
    if (futimens(fd, times) < 0) kj_fail("tmpcopyup: setting the times of %s: %m", name);
}

static void copy_file(int from, int to, const char *name, const struct stat *st) {
    int in = openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) kj_fail("tmpcopyup: opening %s: %m", name);
    int out = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) kj_fail("tmpcopyup: creating %s: %m", name);
    static char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) kj_fail("tmpcopyup: reading %s: %m", name);
        if (n == 0) break;
        if (kj_write_all(out, buf, (size_t)n) < 0) kj_fail("tmpcopyup: writing %s: %m", name);
    }
    copy_attributes(out, st, name);
    close(in);
    close(out);
}

void kj_copy_tree(int from, int to, const char *what) {
    int scan = openat(from, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (scan < 0) kj_fail("tmpcopyup of %s: reading the directory: %m", what);
    DIR *dir = fdopendir(scan);
    if (dir == NULL) kj_fail("tmpcopyup of %s: reading the directory: %m", what);
    struct dirent *entry;
    while ((errno = 0, entry = readdir(dir)) != NULL) {
        const char *name = entry->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
        struct stat st;
        if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0) kj_fail("tmpcopyup of %s: stat %s: %m", what, name);
        if (S_ISDIR(st.st_mode)) {
            if (mkdirat(to, name, 0700) < 0) kj_fail("tmpcopyup of %s: mkdir %s: %m", what, name);
            int sub_from = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            int sub_to = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub_from < 0 || sub_to < 0) kj_fail("tmpcopyup of %s: opening %s: %m", what, name);
            kj_copy_tree(sub_from, sub_to, what);
            copy_attributes(sub_to, &st, name);
            close(sub_from);
            close(sub_to);
        } else if (S_ISREG(st.st_mode)) {
            copy_file(from, to, name, &st);
        } else if (S_ISLNK(st.st_mode)) {
            char target[4097];
            ssize_t n = readlinkat(from, name, target, sizeof(target) - 1);
            if (n < 0) kj_fail("tmpcopyup of %s: readlink %s: %m", what, name);
            target[n] = 0;
            if (symlinkat(target, to, name) < 0) kj_fail("tmpcopyup of %s: symlink %s: %m", what, name);
            if (fchownat(to, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0) kj_fail("tmpcopyup of %s: chown %s: %m", what, name);
            struct timespec times[2] = { st.st_atim, st.st_mtim };
            if (utimensat(to, name, times, AT_SYMLINK_NOFOLLOW) < 0) kj_fail("tmpcopyup of %s: times of %s: %m", what, name);
        } else {
            // fifos, sockets, device nodes: a new node of the same kind.
            if (mknodat(to, name, st.st_mode, st.st_rdev) < 0) kj_fail("tmpcopyup of %s: mknod %s: %m", what, name);
            if (fchownat(to, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0) kj_fail("tmpcopyup of %s: chown %s: %m", what, name);
            if (fchmodat(to, name, st.st_mode & 07777, 0) < 0) kj_fail("tmpcopyup of %s: chmod %s: %m", what, name);
        }
    }
    if (errno != 0) kj_fail("tmpcopyup of %s: reading the directory: %m", what);
    closedir(dir);
}
