// The protocol between KujiraRuntime (Swift, the parent) and kujira-init (C, the child):
// message types on the init socket and the record tags of the binary plan. Both sides include
// this header, so the numbers have one definition. See Docs/runtime.md, "Plan format".
//
// A message is [u32 type][u32 length][payload], little-endian. The plan is the payload of a
// KJ_MSG_PLAN message: a sequence of records [u32 tag][u32 length][payload]. A u64 payload is 8
// bytes little-endian; a string payload ends with one NUL and contains no other NUL. Records
// with a KJ_OP_* tag start a new rootfs operation; KJ_F_* records set a field of the latest one.
#ifndef KUJIRA_INIT_PROTOCOL_H
#define KUJIRA_INIT_PROTOCOL_H

/// The name of the environment variable that carries the init socket's fd number.
#define KJ_INIT_FD_ENV "_KUJIRA_INIT_FD"
/// The largest plan kujira-init accepts (bytes).
#define KJ_PLAN_MAX (16 * 1024 * 1024)
/// The largest message other than a plan (bytes).
#define KJ_MSG_MAX 65536

// Messages.
#define KJ_MSG_PLAN 1          // parent → init: the plan
#define KJ_MSG_USERNS_READY 2  // init → parent: unshared CLONE_NEWUSER; write uid/gid maps now
#define KJ_MSG_USERNS_ACK 3    // parent → init: maps written
#define KJ_MSG_PID 4           // init → parent: u32 host pid of the container process
#define KJ_MSG_HOOKS 5         // init → parent: run prestart/createRuntime hooks now
#define KJ_MSG_HOOKS_ACK 6     // parent → init: hooks done; payload: the state JSON for the
                               // createContainer hooks, NUL, the one for startContainer, NUL
#define KJ_MSG_CREATED 7       // init → parent: set up, about to wait for start (or to exec)
#define KJ_MSG_ERROR 8         // init → parent: text of the error that stops the init
#define KJ_MSG_JOINED 10       // parent → init: the container process is in its cgroups now
                               // (sent only when the plan has KJ_T_AWAIT_JOIN)
#define KJ_MSG_SECCOMP_FD 9    // init → parent: empty; then one byte carrying the seccomp
                               // notify fd (SCM_RIGHTS), for the listenerPath agent

// Plan modes.
#define KJ_MODE_CREATE 1  // build a new container
#define KJ_MODE_EXEC 2    // join an existing container's namespaces

// Top-level records.
#define KJ_T_MODE 1
#define KJ_T_ROOTFS 2             // str: host path of the rootfs
#define KJ_T_ROOT_READONLY 3      // u64 0/1
#define KJ_T_NO_PIVOT 4           // u64 0/1
#define KJ_T_ROOT_PROPAGATION 5   // u64: MS_* flags for mount("", "/")
#define KJ_T_CLONE_FLAGS 6        // u64: CLONE_NEW* to unshare
#define KJ_T_NS_JOIN 7            // u64 CLONE_NEW* flag, then str path (one payload)
#define KJ_T_USERNS_MAPS 8        // u64 0/1: the parent writes the maps after KJ_MSG_USERNS_READY
#define KJ_T_HOSTNAME 9           // str
#define KJ_T_DOMAINNAME 10        // str
#define KJ_T_SYSCTL 11            // str "net/ipv4/ip_forward=1" (key relative to /proc/sys)
#define KJ_T_RLIMIT 12            // 3 × u64: resource, soft, hard
#define KJ_T_OOM_SCORE_ADJ 13     // u64 (int64 bits)
#define KJ_T_UID 14               // u64
#define KJ_T_GID 15               // u64
#define KJ_T_ADDITIONAL_GID 16    // u64, repeated
#define KJ_T_SETGROUPS 17         // u64 0/1: call setgroups (not allowed in a userns with deny)
#define KJ_T_UMASK 18             // u64
#define KJ_T_CAPS 19              // 5 × u64: bounding, effective, permitted, inheritable, ambient
#define KJ_T_NO_NEW_PRIVS 20      // u64 0/1
#define KJ_T_SECCOMP 21           // bytes: struct sock_filter[] (8 bytes each)
#define KJ_T_SECCOMP_FLAGS 22     // u64: SECCOMP_FILTER_FLAG_*
#define KJ_T_CWD 23               // str
#define KJ_T_ARG 24               // str, repeated
#define KJ_T_ENV 25               // str, repeated
#define KJ_T_PRESERVE_FDS 26      // u64: fds 3 … 3+n-1 stay open in the container
#define KJ_T_CONSOLE_FD 27        // u64: fd of a socket connected to --console-socket
#define KJ_T_CONSOLE_SIZE 28      // 2 × u64: rows, columns
#define KJ_T_FIFO_FD 29           // u64: O_PATH fd of the state directory holding exec.fifo
#define KJ_T_OOM_SET 30           // u64 0/1: whether KJ_T_OOM_SCORE_ADJ applies
#define KJ_T_SETSID 31            // u64 0/1: start a new session
#define KJ_T_TIMENS_OFFSETS 32    // str: lines for /proc/self/timens_offsets ("monotonic 5 0")
#define KJ_T_SECCOMP_LISTENER 38  // u64 0/1: install with NEW_LISTENER, send the fd (KJ_MSG_SECCOMP_FD)
#define KJ_T_HOOK 33              // u64 KJ_HOOK_*: starts a hook run by the init
#define KJ_T_HOOK_PATH 34         // str: the latest hook's executable (absolute)
#define KJ_T_HOOK_ARG 35          // str, repeated: its argv (empty: argv is [path])
#define KJ_T_HOOK_ENV 36          // str, repeated: its environment
#define KJ_T_HOOK_TIMEOUT 37      // u64: seconds before it is killed (absent: no limit)
#define KJ_T_PERSONALITY 39       // u64: personality(2) persona (PER_LINUX, PER_LINUX32)
#define KJ_T_IOPRIO 40            // u64: ioprio_set value, class << 13 | priority
#define KJ_T_SCHED 41             // 7 × u64: policy, flags, nice (two's complement), priority, runtime, deadline, period
#define KJ_T_CPU_AFFINITY 42      // str: cpu list ("0-3,7") set before execve (execCPUAffinity.final)
#define KJ_T_SESSION_KEYRING 43   // str: name of the session keyring to join ("_ses.<id>")
#define KJ_T_AWAIT_JOIN 44        // u64 0/1: the runtime joins the container process to its cgroups
                                  // while it builds the rootfs; wait for KJ_MSG_JOINED after

// Hooks the init runs itself (in the container's namespaces), KJ_T_HOOK's payload.
#define KJ_HOOK_CREATE_CONTAINER 1  // after the prestart/createRuntime hooks, before pivot_root
#define KJ_HOOK_START_CONTAINER 2   // after `start`, in the container, before the user's execve

// Rootfs operations, run in plan order before pivot_root.
#define KJ_OP_MOUNT 100     // a filesystem mount, a bind (flags has MS_BIND), or a remount
#define KJ_OP_DEVICE 101    // a device node: mknod, or a bind of the host node in a userns
#define KJ_OP_SYMLINK 102   // a symbolic link: dest → target
#define KJ_OP_MASK 103      // a masked path
#define KJ_OP_READONLY 104  // a read-only path
#define KJ_OP_HOOKS 105     // ask the parent to run prestart/createRuntime hooks, then run the
                            // createContainer hooks (and keep the startContainer state)
#define KJ_OP_MKDIR 106     // make sure a directory exists (the cwd)

// Fields of the latest operation.
#define KJ_F_SOURCE 200       // str
#define KJ_F_DEST 201         // str: a clean absolute container path
#define KJ_F_TYPE 202         // str: filesystem type
#define KJ_F_DATA 203         // str: mount data
#define KJ_F_TARGET 204       // str: symlink target
#define KJ_F_FLAGS 205        // u64: MS_* flags
#define KJ_F_PROPAGATION 206  // u64: MS_SHARED/SLAVE/PRIVATE/UNBINDABLE (| MS_REC)
#define KJ_F_MODE 207         // u64: st_mode (type | permissions)
#define KJ_F_MAJOR 208        // u64
#define KJ_F_MINOR 209        // u64
#define KJ_F_UID 210          // u64
#define KJ_F_GID 211          // u64
#define KJ_F_BIND_DEVICE 212  // u64 0/1: bind-mount the host's node instead of mknod
#define KJ_F_RECURSIVE_ATTR 213  // 2 × u64: MOUNT_ATTR_* to clear, to set, on the whole subtree
#define KJ_F_IDMAP_UID 214    // str: uid_map lines of an id-mapped bind ("0 1000 1\n…")
#define KJ_F_IDMAP_GID 215    // str: gid_map lines of an id-mapped bind
#define KJ_F_IDMAP_RECURSIVE 216  // u64 0/1: ridmap (every mount of an rbind), else the top only
#define KJ_F_TMPCOPYUP 217    // u64 0/1: copy the directory's content into the new tmpfs
/// The last field tag.
#define KJ_F_LAST KJ_F_TMPCOPYUP

#endif
