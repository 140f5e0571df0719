// kujira-init's main: the order of events between the runtime's posix_spawn and the user's
// execve. See Docs/runtime.md, "Process model", for why this is C.
//
//   spawned process ("intermediate"): read the plan; open trusted fds; join namespaces by path
//       (user first); unshare a user namespace and wait while the runtime writes its id maps;
//       unshare the other namespaces; fork (a new pid or time namespace applies to children
//       only); report the child's host pid; exit.
//   child ("container process"): build the rootfs and pivot_root (create mode), hostname,
//       console, sysctls, rlimits, cwd, user and capabilities; report "created"; wait on the
//       exec fifo until `start` (create mode); close every fd we do not hand over; seccomp;
//       execve.
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/// The host's procfs, opened before anything of the container exists and checked to be procfs.
static int open_trusted_proc(void) {
    int fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct statfs sfs;
    if (fd < 0 || fstatfs(fd, &sfs) < 0) kj_fail("opening /proc: %m");
    if (sfs.f_type != PROC_SUPER_MAGIC) kj_fail("/proc is not procfs");
    return fd;
}

/// The host's /dev/null, checked by device number: it is what masked paths are bound to.
static int open_trusted_null(void) {
    int fd = open("/dev/null", O_PATH | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) kj_fail("opening /dev/null: %m");
    if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3) kj_fail("/dev/null is not the null device (1:3)");
    return fd;
}

static void join_namespaces(const struct kj_plan *plan) {
    int fds[KJ_MAX_JOINS];
    // Open every path first: after joining a mount namespace the paths would mean something else.
    for (size_t i = 0; i < plan->njoins; i++) {
        fds[i] = open(plan->joins[i].path, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) kj_fail("opening namespace %s: %m", plan->joins[i].path);
    }
    // The user namespace first: it grants the capabilities the other joins need.
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < plan->njoins; i++) {
            int is_user = plan->joins[i].flag == CLONE_NEWUSER;
            if (is_user != (pass == 0)) continue;
            if (setns(fds[i], (int)plan->joins[i].flag) < 0) kj_fail("joining namespace %s: %m", plan->joins[i].path);
            close(fds[i]);
        }
    }
}

static void become_root_in_userns(void) {
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) kj_fail("becoming root in the user namespace: %m");
}

/// Rootless: /proc/self/oom_score_adj of a process that is not dumpable belongs to root, so
/// it is written here, first thing and dumpable just for the write, as runc's nsexec does;
/// children inherit the value. Lowering it still needs CAP_SYS_RESOURCE and fails.
static void set_oom_score_adj_rootless(struct kj_plan *plan, int procfd) {
    char value[32];
    snprintf(value, sizeof(value), "%lld", (long long)(int64_t)plan->oom_score_adj);
    if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) kj_fail("PR_SET_DUMPABLE: %m");
    int fd = openat(procfd, "self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || kj_write_all(fd, value, strlen(value)) < 0) kj_fail("writing oom_score_adj %s: %m", value);
    close(fd);
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) kj_fail("PR_SET_DUMPABLE: %m");
    plan->oom_set = 0;
}

/// Waits for `start`; returns the write end of the exec fifo (or -1 without one).
static int wait_for_start(const struct kj_plan *plan) {
    if (plan->fifo_fd < 0) return -1;
    // fifo_fd is an O_PATH fd of the runtime's state directory, which the container cannot
    // see. The fifo is 0622 and the directory 0711, so this works after setuid too, without
    // going through /proc/self/fd of a process that is not dumpable. open blocks until
    // `start` opens the other end.
    int fd = openat(plan->fifo_fd, "exec.fifo", O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) kj_fail("opening the exec fifo: %m");
    if (kj_write_all(fd, "0", 1) < 0) kj_fail("writing the exec fifo: %m");
    // fd stays open (O_CLOEXEC) until execve: a `start` that runs poststart or
    // startContainer hooks waits for the fifo's end of file, which comes when the user's
    // process has been executed (or the init has died), as the spec orders poststart.
    close(plan->fifo_fd);
    return fd;
}

/// Tells a waiting `start` that the startContainer hooks passed ("1" after the "0"), so that
/// an end of file without it means they failed. SIGPIPE is ignored meanwhile (and so
/// discarded, not left pending across execve): a `start` that is gone does not matter.
static void report_start_hooks(const struct kj_plan *plan, int fifo) {
    int any = 0;
    for (size_t i = 0; i < plan->nhooks; i++) any |= plan->hooks[i].stage == KJ_HOOK_START_CONTAINER;
    if (fifo < 0 || !any) return;
    struct sigaction ignore = { .sa_handler = SIG_IGN }, old;
    sigemptyset(&ignore.sa_mask);
    if (sigaction(SIGPIPE, &ignore, &old) < 0) return;
    (void)kj_write_all(fifo, "1", 1);
    sigaction(SIGPIPE, &old, NULL);
}

static void container_process(struct kj_plan *plan, int procfd, int nullfd) {
    if (plan->setsid && setsid() < 0) kj_fail("setsid: %m");
    if (plan->mode == KJ_MODE_CREATE) {
        kj_setup_rootfs(plan, procfd, nullfd);
        if (plan->hostname && sethostname(plan->hostname, strlen(plan->hostname)) < 0) kj_fail("sethostname: %m");
        if (plan->domainname && setdomainname(plan->domainname, strlen(plan->domainname)) < 0) kj_fail("setdomainname: %m");
    }
    close(nullfd);
    // The rootfs is built; from here on what the process does may depend on its cgroups.
    kj_await_join(plan);
    kj_setup_console(plan);
    kj_apply_proc_settings(plan, procfd);
    kj_apply_rlimits(plan);
    kj_apply_scheduling(plan);
    kj_join_session_keyring(plan);
    kj_apply_cpu_affinity(plan);
    char *exe = kj_resolve_executable(plan);
    char *home = kj_default_home(plan);
    if (home != NULL) plan->env[plan->nenv++] = home;  // env has room for one more (KJ_MAX_STRINGS + 1)
    kj_enter_cwd(plan);
    // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: do it before dropping
    // capabilities. With it, as late as possible so the filter sees few of our own syscalls.
    if (!plan->no_new_privs) kj_apply_seccomp(plan);
    kj_apply_identity(plan);
    if (plan->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) kj_fail("PR_SET_NO_NEW_PRIVS: %m");
    umask((mode_t)plan->umask);
    // A notify filter must be in place while the runtime still listens, to pass its fd on:
    // with no_new_privs it goes in here rather than right before execve (as runc does).
    if (plan->no_new_privs && plan->seccomp_listener) kj_apply_seccomp(plan);
    if (kj_send(KJ_MSG_CREATED, NULL, 0) < 0) kj_fail("reporting to the runtime: %m");
    if (plan->mode == KJ_MODE_CREATE) {
        // `create` returns now; from here on errors go to the container's stderr.
        close(kj_sock);
        kj_sock = -1;
        int fifo = wait_for_start(plan);
        // startContainer: in the container, with the process's credentials, before execve.
        kj_run_hooks(plan, KJ_HOOK_START_CONTAINER);
        report_start_hooks(plan, fifo);
    }
    // CVE-2024-21626: nothing of ours may reach the user's process. Every fd above the
    // preserved ones is closed at execve (CLOEXEC rather than close, so that an exec error can
    // still be reported over the init socket).
    if (syscall(SYS_close_range, 3 + (unsigned)plan->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0) kj_fail("close_range: %m");
    if (plan->no_new_privs && !plan->seccomp_listener) kj_apply_seccomp(plan);
    execve(exe, plan->args, plan->env);
    kj_fail("exec %s: %m", plan->args[0]);
}

int main(void) {
    const char *fdtext = getenv(KJ_INIT_FD_ENV);
    char *end = NULL;
    long fd = fdtext ? strtol(fdtext, &end, 10) : -1;
    if (fdtext == NULL || *end != 0 || fd < 3 || fd > 1048576) {
        dprintf(2, "kujira-init: run by KujiraRuntime only ($%s not set)\n", KJ_INIT_FD_ENV);
        return 2;
    }
    kj_sock = (int)fd;
    if (fcntl(kj_sock, F_SETFD, FD_CLOEXEC) < 0) kj_fail("init socket: %m");
    // Not dumpable: a process in the container cannot ptrace or open /proc/<pid>/… of this one
    // while it holds host fds (CVE-2016-9962). execve resets it from the final credentials.
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) kj_fail("PR_SET_DUMPABLE: %m");
    umask(0);  // device nodes and mount points get exactly the modes the plan says

    uint32_t type, len;
    unsigned char *buf;
    if (kj_recv(&type, &buf, &len, KJ_PLAN_MAX) < 0) kj_fail("reading the plan: %m");
    if (type != KJ_MSG_PLAN) kj_fail("protocol error: expected the plan, got message %u", type);
    static struct kj_plan plan;
    char why[256];
    if (kj_plan_parse(buf, len, &plan, why, sizeof(why)) < 0) kj_fail("malformed plan: %s", why);

    // Close every fd the plan does not name (the sealed copy of this binary among them).
    int highest = kj_sock;
    if (plan.fifo_fd > highest) highest = plan.fifo_fd;
    if (plan.console_fd > highest) highest = plan.console_fd;
    if (syscall(SYS_close_range, (unsigned)highest + 1, ~0U, 0) < 0) kj_fail("close_range: %m");

    // The host procfs, before joining anything: exec joins the container's mount namespace,
    // whose /proc the container controls.
    int procfd = open_trusted_proc();
    // AT_EUID: the euid this init was started with, read without a system call.
    if (plan.oom_set && getauxval(AT_EUID) != 0) set_oom_score_adj_rootless(&plan, procfd);
    // Id-mapped binds: cloned and mapped while we still hold the runtime's credentials.
    kj_prepare_idmapped_mounts(&plan, procfd);
    join_namespaces(&plan);
    int joined_user = 0;
    for (size_t i = 0; i < plan.njoins; i++) joined_user |= plan.joins[i].flag == CLONE_NEWUSER;
    if (plan.clone_flags & CLONE_NEWUSER) {
        // The euid at start (in the new namespace, unmapped, every uid reads as the overflow uid).
        int rootless = getauxval(AT_EUID) != 0;
        if (unshare(CLONE_NEWUSER) < 0) kj_fail("unshare(CLONE_NEWUSER): %m");
        if (plan.userns_maps) {
            // Rootless: /proc/<pid>/uid_map of a process that is not dumpable belongs to root,
            // so the runtime (same user, no privilege) could not write it. Dumpable just while
            // it writes, as runc's nsexec; nothing of the container exists yet.
            if (rootless && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) kj_fail("PR_SET_DUMPABLE: %m");
            if (kj_send(KJ_MSG_USERNS_READY, NULL, 0) < 0) kj_fail("asking for id maps: %m");
            kj_expect(KJ_MSG_USERNS_ACK);
            if (rootless && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) kj_fail("PR_SET_DUMPABLE: %m");
        }
    }
    if (joined_user || (plan.clone_flags & CLONE_NEWUSER)) become_root_in_userns();
    uint64_t others = plan.clone_flags & ~(uint64_t)CLONE_NEWUSER;
    if (others != 0 && unshare((int)others) < 0) {
        if (errno == EPERM && !joined_user && !(plan.clone_flags & CLONE_NEWUSER) && getuid() != 0) {
            kj_fail("rootless container requires user namespaces: config.json needs a user namespace with linux.uidMappings and linux.gidMappings that map your uid and gid (see kujira-runtime spec --rootless)");
        }
        kj_fail("unshare(%#llx): %m", (unsigned long long)others);
    }
    // /dev/null is opened after unshare(CLONE_NEWNS): open_tree(2) clones only mounts of our
    // own mount namespace. Nothing of the container has run yet, so it is still the host's.
    int nullfd = open_trusted_null();
    if (plan.timens_offsets) {
        int tfd = openat(procfd, "self/timens_offsets", O_WRONLY | O_CLOEXEC);
        if (tfd < 0 || kj_write_all(tfd, plan.timens_offsets, strlen(plan.timens_offsets)) < 0) kj_fail("writing timens_offsets: %m");
        close(tfd);
    }

    // The child waits on `order` until we have reported its pid, so that the runtime always
    // reads KJ_MSG_PID before anything the child sends on the shared socket.
    int order[2];
    if (pipe2(order, O_CLOEXEC) < 0) kj_fail("pipe: %m");
    pid_t child = fork();
    if (child < 0) kj_fail("fork: %m");
    if (child > 0) {
        uint32_t pid = (uint32_t)child;
        unsigned char le[4] = { (unsigned char)pid, (unsigned char)(pid >> 8), (unsigned char)(pid >> 16), (unsigned char)(pid >> 24) };
        if (kj_send(KJ_MSG_PID, le, sizeof(le)) < 0) kj_fail("reporting the container pid: %m");
        if (kj_write_all(order[1], "1", 1) < 0) kj_fail("releasing the container process: %m");
        _exit(0);
    }
    close(order[1]);
    char go;
    ssize_t n;
    do { n = read(order[0], &go, 1); } while (n < 0 && errno == EINTR);
    if (n != 1) _exit(1);  // the intermediate failed and has reported why
    close(order[0]);
    container_process(&plan, procfd, nullfd);
    return 1;
}
