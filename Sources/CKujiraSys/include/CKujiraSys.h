// CKujiraSys: the few Linux system calls that Swift cannot call directly, because glibc
// has no wrapper for them (openat2, fchmodat2) or exposes them only as variadic
// `syscall(2)` or as macros (makedev), which Swift does not import.
#ifndef CKUJIRASYS_H
#define CKUJIRASYS_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/xattr.h>

/// O_PATH (fcntl.h declares it only under _GNU_SOURCE, which Swift's Glibc module lacks).
#define KUJIRA_O_PATH 0x200000

/// RESOLVE_* flags of openat2(2) (linux/openat2.h), repeated so that Swift imports them.
#define KUJIRA_RESOLVE_NO_XDEV 0x01
#define KUJIRA_RESOLVE_NO_MAGICLINKS 0x02
#define KUJIRA_RESOLVE_NO_SYMLINKS 0x04
#define KUJIRA_RESOLVE_BENEATH 0x08
#define KUJIRA_RESOLVE_IN_ROOT 0x10

/// renameat2(2) flags.
#define KUJIRA_RENAME_NOREPLACE 0x1
#define KUJIRA_RENAME_EXCHANGE 0x2

/// openat2(2): opens `path` relative to `dirfd` with `struct open_how {flags, mode, resolve}`.
/// Returns the fd, or -1 with errno set (ENOSYS on kernels before 5.6).
int kujira_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);

/// renameat2(2). Returns 0, or -1 with errno set.
int kujira_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);

/// mknodat(2) with the device number built from `major` and `minor` (makedev(3) is a macro).
int kujira_mknodat(int dirfd, const char *path, mode_t mode, unsigned int major, unsigned int minor);

/// The major and minor numbers of a dev_t (major(3)/minor(3) are macros).
unsigned int kujira_major(dev_t dev);
unsigned int kujira_minor(dev_t dev);

/// Changes the mode of `path` relative to `dirfd` without following a symlink at the final
/// component: fchmodat2(2) with AT_SYMLINK_NOFOLLOW (Linux 6.6); on older kernels the final
/// component is checked with fstatat and refused (EOPNOTSUPP) if it is a symlink, then
/// fchmodat(2) is used. Returns 0, or -1 with errno set.
int kujira_fchmodat_nofollow(int dirfd, const char *path, mode_t mode);

/// Sets an extended attribute on the inode an O_PATH descriptor refers to (even a symlink or
/// a device node, which cannot be opened for I/O safely), through its /proc/self/fd magic
/// link. Returns 0, or -1 with errno set.
int kujira_setxattr_opath(int fd, const char *name, const void *value, size_t size);

/// Reads an extended attribute of the inode an O_PATH descriptor refers to, without following
/// a symlink (see kujira_setxattr_opath). Returns the size, or -1 with errno set.
ssize_t kujira_getxattr_opath(int fd, const char *name, void *value, size_t size);

/// kujira_write_file_atomically flags: fsync the new file before the rename (its content
/// survives a power loss), and fsync its directory after it (the rename does too).
#define KUJIRA_ATOMIC_SYNC_FILE 0x1
#define KUJIRA_ATOMIC_SYNC_DIRECTORY 0x2

/// What kujira_write_file_atomically was doing when it failed.
#define KUJIRA_ATOMIC_STAGE_CREATE 1
#define KUJIRA_ATOMIC_STAGE_WRITE 2
#define KUJIRA_ATOMIC_STAGE_SYNC 3
#define KUJIRA_ATOMIC_STAGE_RENAME 4
#define KUJIRA_ATOMIC_STAGE_SYNC_DIRECTORY 5

/// Replaces `path` (relative to `dirfd`, or AT_FDCWD) with `count` bytes: written to a new
/// temporary file beside it (`.NAME.PID-RANDOM.tmp`, O_EXCL, O_NOFOLLOW, O_CLOEXEC, created
/// with `mode` less the umask) and renamed over it, so that every reader, and every process
/// after a crash, sees the old content or the new, whole. Unique temporary names make
/// concurrent writers of one path, threads of one process included, safe: the last rename
/// wins. Returns 0, or an errno value with `*stage` set to a KUJIRA_ATOMIC_STAGE_*; the
/// temporary file is removed on failure (the target exists and is new after a failure of
/// KUJIRA_ATOMIC_STAGE_SYNC_DIRECTORY).
int kujira_write_file_atomically(int dirfd, const char *path, const void *bytes, size_t count,
                                 mode_t mode, int flags, int *stage);

/// The verb of a KUJIRA_ATOMIC_STAGE_* value for an error message ("writing", …).
const char *kujira_atomic_stage_name(int stage);

/// Whether `path` is the root of a mount in the caller's mount namespace (a bind mount of a
/// directory of the same filesystem included): 1 if it is, 0 if not, -1 with errno set if
/// `path` cannot be examined. A symlink at `path` is not followed. Uses statx(2)'s
/// STATX_ATTR_MOUNT_ROOT (Linux 5.8); on older kernels, /proc/self/mountinfo read whole (a
/// single read(2) of a proc file returns one page, so a long mount table must be read to its
/// end — Foundation's `String(contentsOfFile:)` does not).
int kujira_is_mount_point(const char *path);

/// kujira_is_mount_point's fallback on its own (mountinfo), for tests on kernels that have
/// STATX_ATTR_MOUNT_ROOT.
int kujira_is_mount_point_by_mountinfo(const char *path);

#endif
