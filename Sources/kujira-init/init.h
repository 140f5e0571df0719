// kujira-init: the container init of KujiraRuntime. A small C program without the Swift runtime,
// so that it is single-threaded from its first instruction: setns(2) into mount and user
// namespaces, unshare(2) and the mount dance need that (Docs/runtime.md, "Process model").
// It reads a binary plan from the socket named by $_KUJIRA_INIT_FD, builds the container and
// execs the user's process.
#ifndef KUJIRA_INIT_H
#define KUJIRA_INIT_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../CKujiraRuntime/include/KujiraInitProtocol.h"

#define KJ_MAX_OPS 4096
#define KJ_MAX_STRINGS 8192
#define KJ_MAX_JOINS 16
#define KJ_MAX_GIDS 256
#define KJ_MAX_RLIMITS 32
#define KJ_MAX_SYSCTLS 512
#define KJ_MAX_HOOKS 64
#define KJ_MAX_HOOK_STRINGS 1024

/// One rootfs operation (KJ_OP_*), with the fields its kind uses.
struct kj_op {
    int kind;
    const char *source, *dest, *type, *data, *target;
    uint64_t flags, propagation, mode, major, minor, uid, gid, bind_device;
    uint64_t rec_clear, rec_set;  // recursive MOUNT_ATTR_* (rro, …); both 0: none
    const char *idmap_uid, *idmap_gid;  // id-mapped bind: uid_map/gid_map lines (both or neither)
    uint64_t idmap_recursive, tmpcopyup;
    int idmap_tree;  // the id-mapped detached clone of the source (idmap.c), -1 until made
};

/// A namespace to join: the CLONE_NEW* flag and the path of its nsfs file.
struct kj_join {
    uint64_t flag;
    const char *path;
};

/// A createContainer or startContainer hook (KJ_HOOK_*), run by the init itself.
struct kj_hook {
    uint64_t stage, timeout;
    const char *path;
    char **args, **env;  // NULL-terminated, KJ_MAX_HOOK_STRINGS + 1 slots
    size_t nargs, nenv;
};

/// The parsed plan. Strings point into the plan buffer, which lives until exec.
struct kj_plan {
    uint64_t mode;
    const char *rootfs;
    uint64_t root_readonly, no_pivot, root_propagation, clone_flags, userns_maps;
    struct kj_join joins[KJ_MAX_JOINS];
    size_t njoins;
    const char *hostname, *domainname;
    const char *sysctls[KJ_MAX_SYSCTLS];
    size_t nsysctls;
    uint64_t rlimits[KJ_MAX_RLIMITS][3];
    size_t nrlimits;
    uint64_t oom_set, oom_score_adj;
    uint64_t uid, gid, setgroups, umask;
    uint64_t gids[KJ_MAX_GIDS];
    size_t ngids;
    int has_caps;
    uint64_t caps[5];
    uint64_t no_new_privs, setsid;
    const char *timens_offsets;
    const unsigned char *seccomp;
    size_t seccomp_len;
    uint64_t seccomp_flags, seccomp_listener;
    int has_personality, has_ioprio, has_sched;
    uint64_t personality, ioprio;
    uint64_t sched[7];  // policy, flags, nice, priority, runtime, deadline, period
    const char *cpu_affinity;
    const char *session_keyring;
    uint64_t await_join;
    const char *cwd;
    char **args;
    size_t nargs;
    char **env;
    size_t nenv;
    uint64_t preserve_fds;
    int console_fd, fifo_fd;
    uint64_t console_rows, console_cols;
    struct kj_op *ops;
    size_t nops;
    struct kj_hook hooks[KJ_MAX_HOOKS];
    size_t nhooks;
};

/// Parses `len` bytes at `buf` into `plan` (allocating the op and string arrays). On a
/// malformed plan it returns -1 and writes a reason to `why`.
int kj_plan_parse(unsigned char *buf, size_t len, struct kj_plan *plan, char *why, size_t whylen);

// channel.c: messages to and from the parent.
/// The init socket (-1 once closed).
extern int kj_sock;
/// Sends a message; returns 0 or -1.
int kj_send(uint32_t type, const void *payload, uint32_t len);
/// Receives a message into a malloc'ed buffer; returns 0 or -1 (EOF, I/O or a bad header).
int kj_recv(uint32_t *type, unsigned char **payload, uint32_t *len, uint32_t max);
/// Waits for a message of the given type with an empty payload; fails the init otherwise.
void kj_expect(uint32_t type);
/// Waits for a message of the given type and returns its malloc'ed payload (NUL-terminated
/// one past `*len`); fails the init otherwise.
unsigned char *kj_expect_payload(uint32_t type, uint32_t *len);
/// Set once KJ_MSG_JOINED has been read.
extern int kj_joined;
/// With KJ_T_AWAIT_JOIN: waits until the runtime says the process is in its cgroups, so that
/// nothing whose effect depends on the cgroup (a real-time policy, cpu affinity, the user's
/// process) happens before.
void kj_await_join(const struct kj_plan *plan);
/// Reports an error (printf format, %m allowed) to the parent — or to stderr once the parent
/// is gone — and exits 1. Never returns.
__attribute__((noreturn, format(printf, 1, 2))) void kj_fail(const char *fmt, ...);

// rootfs.c: mounts, devices, masked and read-only paths, pivot_root.
/// Runs the plan's rootfs operations and moves into the new root. `procfd` is an O_PATH fd of
/// the host's procfs, `nullfd` an O_PATH fd of the host's /dev/null (both verified).
void kj_setup_rootfs(const struct kj_plan *plan, int procfd, int nullfd);

// process.c: everything about the process itself.
/// Opens the console (pty in the container's devpts), sends the master to the console socket
/// and makes the slave the controlling terminal and stdio.
void kj_setup_console(const struct kj_plan *plan);
/// Host-procfs writes: sysctls and oom_score_adj.
void kj_apply_proc_settings(const struct kj_plan *plan, int procfd);
/// Sets the rlimits.
void kj_apply_rlimits(const struct kj_plan *plan);
/// Bind-mounts the pty slave `slave` on the container's /dev/console (create mode, after
/// pivot_root), as the runtime spec asks for a terminal.
void kj_bind_console(int slave);
/// personality(2), ioprio_set(2) and sched_setattr(2) as the plan says (before capabilities
/// are dropped: a real-time policy needs CAP_SYS_NICE).
void kj_apply_scheduling(const struct kj_plan *plan);
/// sched_setaffinity(2) to the plan's cpu list, if any (execCPUAffinity.final, after the
/// process joined the container's cgroup).
void kj_apply_cpu_affinity(const struct kj_plan *plan);
/// Joins (creating it if needed) the session keyring the plan names and lets its owner search
/// it, so that exec'd processes can join it too (as runc); ENOSYS (no keyrings) is ignored.
void kj_join_session_keyring(const struct kj_plan *plan);
/// Finds the executable for args[0] with the container's PATH; returns a malloc'ed path.
char *kj_resolve_executable(const struct kj_plan *plan);
/// chdir(cwd) and checks that the result is inside the root (CVE-2024-21626).
void kj_enter_cwd(const struct kj_plan *plan);
/// Groups, gid, uid and capabilities (bounding, effective, permitted, inheritable, ambient).
void kj_apply_identity(const struct kj_plan *plan);
/// "HOME=…" to add when the environment has no HOME (malloc'ed), or NULL.
char *kj_default_home(const struct kj_plan *plan);
/// Keeps the hook states of a KJ_MSG_HOOKS_ACK payload ("createContainer state\0startContainer
/// state\0"); fails the init on a malformed one.
void kj_set_hook_states(unsigned char *payload, uint32_t len);
/// Runs the plan's hooks of `stage` (KJ_HOOK_*) in order, each with the stage's state JSON on
/// stdin, its own process group and the timeout; fails the init when one fails.
void kj_run_hooks(const struct kj_plan *plan, uint64_t stage);
/// Installs the seccomp filter, if the plan has one.
void kj_apply_seccomp(const struct kj_plan *plan);

// idmap.c: id-mapped bind mounts and tmpfs copy-up.
/// For every id-mapped bind of the plan: clones the source (open_tree, OPEN_TREE_CLONE) and
/// id-maps the clone with a helper user namespace holding the op's maps. Runs in the
/// intermediate before it joins or creates any namespace (the kernel wants CAP_SYS_ADMIN over
/// the source's filesystem); the detached clones are attached in the container later.
void kj_prepare_idmapped_mounts(struct kj_plan *plan, int procfd);
/// Copies the content of the directory `from` into the directory `to` (tmpcopyup): files,
/// directories, symlinks, fifos and device nodes, with owners, modes and times.
void kj_copy_tree(int from, int to, const char *what);

/// Writes all of `buf` to `fd`; returns 0 or -1.
int kj_write_all(int fd, const void *buf, size_t len);

#endif
