// The container's filesystem: the plan's rootfs operations (mounts, devices, symlinks, masked
// and read-only paths) run in order under the rootfs, then pivot_root.
//
// Every path inside the container is resolved with openat2(RESOLVE_IN_ROOT) against an fd of the
// rootfs, so a symlink in the image cannot send a mount outside it; mounts then go onto the
// resolved fd (through /proc/self/fd/N of the host procfs, or move_mount(2) for binds), never
// onto a path that could be swapped between check and use.
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/// openat2 with RESOLVE_IN_ROOT: `path` (absolute, container view) under `rootfd`; magic links
/// (/proc/self/fd/…) are refused, so the container's procfs cannot redirect us out of the root.
static int open_in_root(int rootfd, const char *path, int flags) {
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/// The path through which mount(2) reaches an fd: /proc/self/fd/N of the host procfs, which is
/// still the mount namespace's /proc before pivot_root.
static const char *fd_path(int fd) {
    static char buf[64];
    snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd);
    return buf;
}

/// Splits `path` into its parent ("/" for a top-level name) and its last component, both
/// malloc'ed; the caller frees both.
static void split_path(const char *path, char **parent, char **name) {
    const char *slash = strrchr(path, '/');
    if (slash == NULL || slash[1] == 0) kj_fail("path %s has no final component", path);
    *parent = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
    *name = strdup(slash + 1);
    if (*parent == NULL || *name == NULL) kj_fail("out of memory");
}

/// Makes sure `path` exists under the root, creating missing directories (0755) and, when
/// `as_file`, an empty regular file as the last component (a bind target for a file).
static void make_in_root(int rootfd, const char *path, int as_file) {
    int fd = open_in_root(rootfd, path, O_PATH);
    if (fd >= 0) { close(fd); return; }
    if (errno != ENOENT) kj_fail("resolving %s in the rootfs: %m", path);
    char *parent, *name;
    split_path(path, &parent, &name);
    make_in_root(rootfd, parent, 0);
    int pfd = open_in_root(rootfd, parent, O_PATH | O_DIRECTORY);
    if (pfd < 0) kj_fail("opening %s in the rootfs: %m", parent);
    if (as_file) {
        int f = openat(pfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f < 0 && errno != EEXIST) kj_fail("creating mount point %s: %m", path);
        if (f >= 0) close(f);
    } else if (mkdirat(pfd, name, 0755) < 0 && errno != EEXIST) {
        kj_fail("creating directory %s: %m", path);
    }
    close(pfd);
    free(parent);
    free(name);
}

/// MS_* flags as mount_setattr(2) attributes, for binds and remounts.
static struct mount_attr attr_from_flags(uint64_t flags) {
    struct mount_attr attr = {0};
    if (flags & MS_RDONLY) attr.attr_set |= MOUNT_ATTR_RDONLY;
    if (flags & MS_NOSUID) attr.attr_set |= MOUNT_ATTR_NOSUID;
    if (flags & MS_NODEV) attr.attr_set |= MOUNT_ATTR_NODEV;
    if (flags & MS_NOEXEC) attr.attr_set |= MOUNT_ATTR_NOEXEC;
    if (flags & MS_NODIRATIME) attr.attr_set |= MOUNT_ATTR_NODIRATIME;
    if (flags & (MS_NOATIME | MS_STRICTATIME)) {
        attr.attr_clr |= MOUNT_ATTR__ATIME;
        attr.attr_set |= (flags & MS_NOATIME) ? MOUNT_ATTR_NOATIME : MOUNT_ATTR_STRICTATIME;
    }
    return attr;
}

/// Applies `flags` to the detached mount `tree` and attaches it on `dstfd`; closes `tree`.
static void attach_tree(int tree, int dstfd, uint64_t flags, const char *what) {
    struct mount_attr attr = attr_from_flags(flags);
    if ((attr.attr_set | attr.attr_clr) != 0 && mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
        kj_fail("setting mount options of %s: %m", what);
    }
    if (move_mount(tree, "", dstfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
        kj_fail("mounting %s: %m", what);
    }
    close(tree);
}

/// Clones the mount at `srcfd` (recursively for rbind), applies `flags` and attaches it on `dstfd`.
static void attach_clone(int srcfd, int dstfd, int recursive, uint64_t flags, const char *what) {
    int tree = open_tree(srcfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0));
    if (tree < 0) kj_fail("cloning the mount for %s: %m", what);
    attach_tree(tree, dstfd, flags, what);
}

static void set_propagation(int rootfd, const struct kj_op *op) {
    if (op->propagation == 0) return;
    // Reopen: the fd taken before the mount names the mount point below the new mount.
    int fd = open_in_root(rootfd, op->dest, O_PATH);
    if (fd < 0) kj_fail("reopening %s: %m", op->dest);
    if (mount(NULL, fd_path(fd), NULL, op->propagation, NULL) < 0) kj_fail("setting propagation of %s: %m", op->dest);
    close(fd);
}

/// rro, rnosuid, …: mount_setattr(AT_RECURSIVE) on the mount now at op->dest.
static void set_recursive_attributes(int rootfd, const struct kj_op *op) {
    if (op->rec_clear == 0 && op->rec_set == 0) return;
    int fd = open_in_root(rootfd, op->dest, O_PATH);
    if (fd < 0) kj_fail("reopening %s: %m", op->dest);
    struct mount_attr attr = { .attr_set = op->rec_set, .attr_clr = op->rec_clear };
    if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0) {
        if (errno == ENOSYS) kj_fail("mount %s: recursive mount options (rro, rnosuid, ...) need mount_setattr(2), Linux 5.12 or later", op->dest);
        kj_fail("setting recursive mount options of %s: %m", op->dest);
    }
    close(fd);
}

static void op_mount(int rootfd, const struct kj_op *op) {
    if (op->flags & MS_REMOUNT) {
        // A change of an earlier mount's options (the final read-only of /sys/fs/cgroup).
        int fd = open_in_root(rootfd, op->dest, O_PATH);
        if (fd < 0) kj_fail("opening %s to remount it: %m", op->dest);
        struct mount_attr attr = attr_from_flags(op->flags);
        if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) kj_fail("remounting %s: %m", op->dest);
        close(fd);
        return;
    }
    if (op->flags & MS_BIND) {
        if (op->source == NULL) kj_fail("bind mount on %s has no source", op->dest);
        if (op->idmap_tree >= 0) {
            // Cloned and id-mapped by the intermediate (idmap.c) before any namespace changed.
            struct stat st;
            if (fstat(op->idmap_tree, &st) < 0) kj_fail("stat %s: %m", op->source);
            make_in_root(rootfd, op->dest, !S_ISDIR(st.st_mode));
            int dst = open_in_root(rootfd, op->dest, O_PATH);
            if (dst < 0) kj_fail("opening mount point %s: %m", op->dest);
            attach_tree(op->idmap_tree, dst, op->flags, op->dest);
            close(dst);
            set_recursive_attributes(rootfd, op);
            set_propagation(rootfd, op);
            return;
        }
        int src = open(op->source, O_PATH | O_CLOEXEC);
        if (src < 0) kj_fail("opening bind source %s: %m", op->source);
        struct stat st;
        if (fstat(src, &st) < 0) kj_fail("stat %s: %m", op->source);
        make_in_root(rootfd, op->dest, !S_ISDIR(st.st_mode));
        int dst = open_in_root(rootfd, op->dest, O_PATH);
        if (dst < 0) kj_fail("opening mount point %s: %m", op->dest);
        attach_clone(src, dst, (op->flags & MS_REC) != 0, op->flags, op->dest);
        close(src);
        close(dst);
    } else {
        make_in_root(rootfd, op->dest, 0);
        int dst = open_in_root(rootfd, op->dest, O_PATH | O_DIRECTORY);
        if (dst < 0) kj_fail("opening mount point %s: %m", op->dest);
        const char *type = op->type ? op->type : "none";
        // tmpcopyup: an fd of the directory the tmpfs covers, to copy its content from.
        int below = -1;
        if (op->tmpcopyup) {
            below = open_in_root(rootfd, op->dest, O_RDONLY | O_DIRECTORY);
            if (below < 0) kj_fail("opening %s for tmpcopyup: %m", op->dest);
        }
        if (mount(op->source ? op->source : type, fd_path(dst), type, op->flags, op->data) < 0) {
            int saved = errno;
            if (strcmp(type, "sysfs") == 0 && (saved == EPERM || saved == EACCES)) {
                // A new sysfs needs a network namespace owned by our user namespace; without
                // one, bind the host's /sys (read-only) as runc does.
                int sys = open("/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (sys < 0) kj_fail("opening /sys: %m");
                attach_clone(sys, dst, 1, op->flags | MS_RDONLY, op->dest);
                close(sys);
            } else {
                errno = saved;
                kj_fail("mounting %s (%s) on %s: %m", op->source ? op->source : type, type, op->dest);
            }
        }
        close(dst);
        if (below >= 0) {
            int above = open_in_root(rootfd, op->dest, O_RDONLY | O_DIRECTORY);
            if (above < 0) kj_fail("opening the new tmpfs on %s: %m", op->dest);
            kj_copy_tree(below, above, op->dest);
            close(above);
            close(below);
        }
    }
    set_recursive_attributes(rootfd, op);
    set_propagation(rootfd, op);
}

static void op_device(int rootfd, const struct kj_op *op) {
    char *parent, *name;
    split_path(op->dest, &parent, &name);
    make_in_root(rootfd, parent, 0);
    int pfd = open_in_root(rootfd, parent, O_PATH | O_DIRECTORY);
    if (pfd < 0) kj_fail("opening %s: %m", parent);
    dev_t dev = makedev((unsigned)op->major, (unsigned)op->minor);
    if (op->bind_device) {
        // In a user namespace mknod is not allowed: bind the host's node, after checking that
        // it is the device the plan names (a swapped node would expose something else).
        int host = open(op->dest, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (host < 0 || fstat(host, &st) < 0) kj_fail("opening host device %s: %m", op->dest);
        if ((st.st_mode & S_IFMT) != (op->mode & S_IFMT) || st.st_rdev != dev) {
            kj_fail("host device %s is not %u:%u", op->dest, (unsigned)op->major, (unsigned)op->minor);
        }
        int f = openat(pfd, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f < 0) kj_fail("creating mount point for device %s: %m", op->dest);
        close(f);
        int dst = open_in_root(rootfd, op->dest, O_PATH | O_NOFOLLOW);
        if (dst < 0) kj_fail("opening %s: %m", op->dest);
        attach_clone(host, dst, 0, 0, op->dest);
        close(dst);
        close(host);
    } else {
        if (mknodat(pfd, name, (mode_t)op->mode, dev) < 0) {
            if (errno != EEXIST) kj_fail("mknod %s: %m", op->dest);
        } else {
            if (fchownat(pfd, name, (uid_t)op->uid, (gid_t)op->gid, AT_SYMLINK_NOFOLLOW) < 0) kj_fail("chown %s: %m", op->dest);
        }
    }
    close(pfd);
    free(parent);
    free(name);
}

static void op_symlink(int rootfd, const struct kj_op *op) {
    char *parent, *name;
    split_path(op->dest, &parent, &name);
    make_in_root(rootfd, parent, 0);
    int pfd = open_in_root(rootfd, parent, O_PATH | O_DIRECTORY);
    if (pfd < 0) kj_fail("opening %s: %m", parent);
    if (symlinkat(op->target, pfd, name) < 0 && errno != EEXIST) kj_fail("symlink %s -> %s: %m", op->dest, op->target);
    close(pfd);
    free(parent);
    free(name);
}

/// Masks a path: a tmpfs (read-only, empty) over a directory, the host's /dev/null over
/// anything else. The target is opened without following a final symlink and a symlink is
/// refused; /dev/null is the host's, opened and checked (char 1:3) before any container file
/// was touched — the CVE-2025-31133 family swapped the container's /dev/null for a link into
/// procfs to turn masking into exposure.
static void op_mask(int rootfd, int nullfd, const struct kj_op *op) {
    int fd = open_in_root(rootfd, op->dest, O_PATH | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) return;
    if (fd < 0) kj_fail("opening masked path %s: %m", op->dest);
    struct stat st;
    if (fstat(fd, &st) < 0) kj_fail("stat masked path %s: %m", op->dest);
    if (S_ISLNK(st.st_mode)) kj_fail("masked path %s is a symbolic link; refusing to mask through it", op->dest);
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", fd_path(fd), "tmpfs", MS_RDONLY, NULL) < 0) {
            kj_fail("masking directory %s: %m", op->dest);
        }
    } else {
        attach_clone(nullfd, fd, 0, 0, op->dest);
    }
    close(fd);
}

static void op_readonly(int rootfd, const struct kj_op *op) {
    int fd = open_in_root(rootfd, op->dest, O_PATH);
    if (fd < 0 && errno == ENOENT) return;
    if (fd < 0) kj_fail("opening read-only path %s: %m", op->dest);
    attach_clone(fd, fd, 1, MS_RDONLY, op->dest);
    close(fd);
}

/// pivot_root(".", ".") as runc does: no temporary directory in the rootfs; the old root is
/// stacked under the new one, made rslave (so the unmount does not propagate to the host) and
/// lazily unmounted.
static void pivot(const char *rootfs) {
    int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    int newroot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (oldroot < 0 || newroot < 0) kj_fail("opening the roots for pivot_root: %m");
    if (fchdir(newroot) < 0) kj_fail("chdir to the rootfs: %m");
    if (syscall(SYS_pivot_root, ".", ".") < 0) kj_fail("pivot_root: %m");
    if (fchdir(oldroot) < 0) kj_fail("chdir to the old root: %m");
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) kj_fail("making the old root rslave: %m");
    if (umount2(".", MNT_DETACH) < 0) kj_fail("unmounting the old root: %m");
    if (chdir("/") < 0) kj_fail("chdir /: %m");
    close(oldroot);
    close(newroot);
}

/// --no-pivot: move the rootfs onto / and chroot (for ramdisk roots, where pivot_root fails).
static void move_root(const char *rootfs) {
    if (chdir(rootfs) < 0) kj_fail("chdir to the rootfs: %m");
    if (mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0) kj_fail("moving the rootfs onto /: %m");
    if (chroot(".") < 0) kj_fail("chroot: %m");
    if (chdir("/") < 0) kj_fail("chdir /: %m");
}

/// Makes the mount that holds `rootfs` private if it is shared, as runc's
/// rootfsParentMountPrivate: pivot_root refuses a new root whose parent mount is shared
/// (rootfsPropagation "shared"/"rshared"), and the bind of the rootfs must not propagate to
/// other namespaces. Found in /proc/self/mountinfo by the longest mount point that is a path
/// prefix of `rootfs` (an absolute, resolved path).
static void make_rootfs_parent_private(const char *rootfs, int procfd) {
    int fd = openat(procfd, "self/mountinfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0) kj_fail("opening mountinfo: %m");
    FILE *f = fdopen(fd, "r");
    if (f == NULL) kj_fail("reading mountinfo: %m");
    char *line = NULL, best[4096] = "";
    size_t cap = 0, best_len = 0;
    int best_shared = 0;
    while (getline(&line, &cap, f) > 0) {
        // id parent major:minor root mountpoint options [optional fields...] - fstype source ...
        char *fields[16];
        int n = 0;
        for (char *tok = strtok(line, " \n"); tok != NULL && n < 16; tok = strtok(NULL, " \n")) fields[n++] = tok;
        if (n < 7) continue;
        const char *point = fields[4];
        size_t len = strlen(point);
        // Mount points with octal escapes (spaces) are never a prefix of a path we resolved
        // without them; "/" is a prefix of everything.
        int prefix = strcmp(point, "/") == 0 ||
                     (strncmp(rootfs, point, len) == 0 && (rootfs[len] == '/' || rootfs[len] == 0));
        if (!prefix || len < best_len || len >= sizeof(best)) continue;
        int shared = 0;
        for (int i = 6; i < n && strcmp(fields[i], "-") != 0; i++) shared |= strncmp(fields[i], "shared:", 7) == 0;
        memcpy(best, point, len + 1);
        best_len = len;
        best_shared = shared;
    }
    free(line);
    fclose(f);
    if (best_len == 0) kj_fail("no mount holds the rootfs %s", rootfs);
    if (best_shared && mount(NULL, best, NULL, MS_PRIVATE, NULL) < 0) kj_fail("making %s private: %m", best);
}

void kj_setup_rootfs(const struct kj_plan *plan, int procfd, int nullfd) {
    uint64_t prop = plan->root_propagation ? plan->root_propagation : (MS_SLAVE | MS_REC);
    if (mount(NULL, "/", NULL, prop, NULL) < 0) kj_fail("setting the propagation of /: %m");
    make_rootfs_parent_private(plan->rootfs, procfd);
    // A bind of the rootfs onto itself makes it a mount point, which pivot_root requires.
    if (mount(plan->rootfs, plan->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) kj_fail("bind-mounting the rootfs %s: %m", plan->rootfs);
    int rootfd = open(plan->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) kj_fail("opening the rootfs %s: %m", plan->rootfs);
    for (size_t i = 0; i < plan->nops; i++) {
        const struct kj_op *op = &plan->ops[i];
        switch (op->kind) {
        case KJ_OP_MOUNT: op_mount(rootfd, op); break;
        case KJ_OP_DEVICE: op_device(rootfd, op); break;
        case KJ_OP_SYMLINK: op_symlink(rootfd, op); break;
        case KJ_OP_MASK: op_mask(rootfd, nullfd, op); break;
        case KJ_OP_READONLY: op_readonly(rootfd, op); break;
        case KJ_OP_MKDIR: make_in_root(rootfd, op->dest, 0); break;
        case KJ_OP_HOOKS:
        {
            // The runtime runs prestart and createRuntime and answers with the states for the
            // hooks run here: createContainer now (in the container's mount namespace, before
            // pivot_root, paths still resolved in the runtime's root), startContainer later.
            if (kj_send(KJ_MSG_HOOKS, NULL, 0) < 0) kj_fail("asking the runtime to run hooks: %m");
            uint32_t len;
            kj_set_hook_states(kj_expect_payload(KJ_MSG_HOOKS_ACK, &len), len);
            kj_run_hooks(plan, KJ_HOOK_CREATE_CONTAINER);
            break;
        }
        default: kj_fail("unknown rootfs operation %d", op->kind);
        }
    }
    close(rootfd);
    if (plan->no_pivot) move_root(plan->rootfs); else pivot(plan->rootfs);
    if (plan->root_readonly) {
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
        if (mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof(attr)) < 0) kj_fail("making / read-only: %m");
    }
}

void kj_bind_console(int slave) {
    // After pivot_root: "/dev" and "console" in it are resolved without following a symlink
    // or leaving /dev (an image's /dev/console symlink must not move the mount elsewhere:
    // CVE-2025-52565), created as an empty 0600 file if missing, and the pty slave's mount is
    // cloned from its fd and attached on the fd of the target, never through a path.
    int dev = open("/dev", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dev < 0) kj_fail("opening /dev for /dev/console: %m");
    struct open_how how = {
        .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    int target = (int)syscall(SYS_openat2, dev, "console", &how, sizeof(how));
    if (target < 0 && errno == ENOENT) {
        int made = openat(dev, "console", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (made < 0) kj_fail("creating /dev/console: %m");
        close(made);
        target = (int)syscall(SYS_openat2, dev, "console", &how, sizeof(how));
    }
    if (target < 0) kj_fail("opening /dev/console: %m");
    struct stat st;
    if (fstat(target, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode))) {
        kj_fail("/dev/console in the container is neither a file nor a device");
    }
    int tree = open_tree(slave, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    if (tree < 0) kj_fail("cloning the pty slave for /dev/console: %m");
    if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
        kj_fail("mounting the pty slave on /dev/console: %m");
    }
    close(tree);
    close(target);
    close(dev);
}
