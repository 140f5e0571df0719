// CKujiraRuntime: system calls the Swift side of KujiraRuntime makes that Swift cannot express
// directly (variadic prctl/fcntl, memfd_create and seals, cmsg macros for SCM_RIGHTS,
// posix_spawn file actions that glibc declares only under _GNU_SOURCE). Everything here is
// safe to call from a multi-threaded process: no fork, only posix_spawn (vfork + exec).
#ifndef CKUJIRARUNTIME_H
#define CKUJIRARUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/types.h>

#include "KujiraInitProtocol.h"
#include "KujiraNetDevices.h"

/// The effective uid the process was started with (AT_EUID of the auxiliary vector): no
/// system call, for choosing the default state root on every command.
static inline unsigned long kujira_startup_euid(void) { return getauxval(AT_EUID); }

/// Copies the executable at `path` into an anonymous memory file (memfd_create with
/// MFD_CLOEXEC | MFD_ALLOW_SEALING) and seals it against any change (F_SEAL_SEAL, SHRINK,
/// GROW, WRITE). A process started from it cannot rewrite the runtime's binary through
/// /proc/<pid>/exe (CVE-2019-5736). Returns the fd, or -1 with errno set.
int kujira_sealed_copy(const char *path);

/// Like kujira_sealed_copy, from an executable image given as `length` bytes of base64 (the
/// kujira-init that KujiraRuntime embeds). Returns the fd, or -1 with errno set (EINVAL for
/// bytes that are not base64).
int kujira_sealed_image(const char *base64, size_t length);

/// Starts `path` with posix_spawn: fd `from[i]` becomes fd `to[i]` in the child (in order;
/// the caller makes the `from` fds distinct from every `to`), then every fd >= `close_from` is
/// closed, so the child gets exactly fds 0-2, the mapped ones and nothing else. With
/// `new_group`, the child leads a new process group (so a hook and its children can be killed
/// together). Returns 0 and the pid in `*pid`, or an errno value.
int kujira_spawn(const char *path, char *const argv[], char *const envp[],
                 const int *from, const int *to, int count, int close_from, int new_group, pid_t *pid);

/// prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned descendants are reparented to this process, so
/// `run` and `exec` can wait for a container process that is a grandchild. 0 or -1/errno.
int kujira_set_child_subreaper(void);
/// PR_SET_CHILD_SUBREAPER with `value` (0 clears it).
int kujira_set_child_subreaper_value(int value);
/// PR_GET_CHILD_SUBREAPER: 1 when this process is a child subreaper, 0 when not, -1 on error.
int kujira_get_child_subreaper(void);

/// A connected AF_UNIX socket pair of `type` (SOCK_STREAM or SOCK_SEQPACKET) with
/// SOCK_CLOEXEC. 0 or -1/errno.
int kujira_socketpair(int type, int fds[2]);

/// Connects a new SOCK_STREAM AF_UNIX socket (SOCK_CLOEXEC) to `path`. The fd or -1/errno.
int kujira_unix_connect(const char *path);

/// Creates a listening SOCK_STREAM AF_UNIX socket (SOCK_CLOEXEC) at `path`. fd or -1/errno.
int kujira_unix_listen(const char *path);

/// Sends one byte and the descriptor `fd` over `sock` with SCM_RIGHTS. 0 or -1/errno.
int kujira_send_fd(int sock, int fd);

/// Sends `length` bytes of `data` (at least one) with the descriptor `fd` (SCM_RIGHTS) in one
/// message, as runc sends the seccomp notify fd and its state to a listener. 0 or -1/errno.
int kujira_send_fd_with_data(int sock, const void *data, size_t length, int fd);

/// Receives a descriptor sent with SCM_RIGHTS (made O_CLOEXEC) from `sock`. fd or -1/errno.
int kujira_recv_fd(int sock);

/// Receives one message of up to `capacity` bytes into `buffer` (`*received` set) with a
/// descriptor sent with SCM_RIGHTS (made O_CLOEXEC), as a seccomp agent receives the notify fd
/// from a runtime. The fd, or -1/errno (EBADMSG: no descriptor came).
int kujira_recv_fd_with_data(int sock, void *buffer, size_t capacity, size_t *received);

/// For seccomp agents: waits for one notification on `notify_fd` and answers it — the syscall
/// fails with `error` (an errno value), or with 0 runs as if not filtered
/// (SECCOMP_USER_NOTIF_FLAG_CONTINUE). Returns the syscall number, or -1/errno (ENOENT once
/// the filtered processes are gone).
int kujira_seccomp_notify_answer(int notify_fd, int error);

/// accept4(listener, SOCK_CLOEXEC), retried on EINTR. The connection's fd or -1/errno.
int kujira_accept(int listener);

/// Duplicates `fd` to the lowest free number >= `min` with FD_CLOEXEC. fd or -1/errno.
int kujira_dup_cloexec(int fd, int min);

/// Opens `path` with O_PATH | O_CLOEXEC (| O_NOFOLLOW when `nofollow`). fd or -1/errno.
int kujira_open_path(const char *path, int nofollow);

/// flock(fd, LOCK_EX) (`exclusive`) or LOCK_SH, blocking. 0 or -1/errno.
int kujira_flock(int fd, int exclusive);

/// The inode number of the namespace `/proc/<pid>/ns/<name>` refers to, or 0 if unreadable.
uint64_t kujira_ns_inode(int pid, const char *name);

/// waitpid(pid, &status, 0), retried on EINTR. Returns the exit code (0-255), 128 + signal
/// for a process killed by a signal, or -1/errno.
int kujira_wait_exit(pid_t pid);

/// pipe2(fds, O_CLOEXEC). 0 or -1/errno.
int kujira_pipe(int fds[2]);

/// memfd_create(name, MFD_CLOEXEC): an anonymous file (hook output). fd or -1/errno.
int kujira_memfd(const char *name);

/// Opens `procs` (the cgroup.procs of a cgroup this process is in) and, on a detached thread,
/// writes this process's pid to it and closes it: a move into the cgroup it is already in,
/// which changes nothing but makes the kernel start the RCU grace period that every cgroup
/// migration waits for when none has run in the last few milliseconds. A real migration
/// that starts while it runs, or shortly after, waits only for what is left of it. 0, or
/// -1/errno when the file cannot be opened or the thread not started (nothing to undo).
int kujira_cgroup_prewarm(const char *procs);

/// sched_setaffinity(pid) to the cpus of `list` ("0-3,7"). 0, or -1/errno (EINVAL for a
/// malformed list).
int kujira_set_affinity(pid_t pid, const char *list);

/// pidfd_open(pid, 0): an fd that polls readable once process `pid` has exited (O_CLOEXEC).
/// fd or -1/errno.
int kujira_pidfd_open(pid_t pid);

#endif
