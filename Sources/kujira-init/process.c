// The container process itself: console, sysctls and oom_score_adj, rlimits, the executable's
// path, the working directory, user and groups, capabilities and seccomp.
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

/// Sends `fd` over `sock` with SCM_RIGHTS; the payload is the pty's name, as runc sends it.
static int send_fd(int sock, int fd, const char *name) {
    struct iovec iov = { .iov_base = (void *)name, .iov_len = strlen(name) };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    memset(&control, 0, sizeof(control));
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

void kj_setup_console(const struct kj_plan *plan) {
    if (plan->console_fd < 0) return;
    // The pty comes from the container's own devpts (its /dev/ptmx), as with runc, so that the
    // slave is visible inside the container as /dev/pts/N.
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) kj_fail("opening /dev/ptmx in the container: %m");
    struct stat st;
    if (fstat(master, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 || minor(st.st_rdev) != 2) {
        kj_fail("/dev/ptmx in the container is not the pty multiplexer (5:2)");
    }
    int unlock = 0;
    unsigned int ptn;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &ptn) < 0) kj_fail("unlocking the pty: %m");
    // TIOCGPTPEER opens the slave through the master, not through a path in the container.
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) kj_fail("opening the pty slave: %m");
    if (plan->console_rows > 0 || plan->console_cols > 0) {
        struct winsize ws = { .ws_row = (unsigned short)plan->console_rows, .ws_col = (unsigned short)plan->console_cols };
        if (ioctl(slave, TIOCSWINSZ, &ws) < 0) kj_fail("setting the console size: %m");
    }
    // The container's /dev/console is the terminal too (runtime-spec, "Default Devices").
    if (plan->mode == KJ_MODE_CREATE) kj_bind_console(slave);
    char name[32];
    snprintf(name, sizeof(name), "/dev/pts/%u", ptn);
    if (send_fd(plan->console_fd, master, name) < 0) kj_fail("sending the pty master to the console socket: %m");
    close(master);
    close(plan->console_fd);
    if (ioctl(slave, TIOCSCTTY, 0) < 0) kj_fail("making the pty the controlling terminal: %m");
    for (int i = 0; i < 3; i++) {
        if (dup2(slave, i) < 0) kj_fail("dup2 of the pty slave: %m");
    }
    close(slave);
}

/// Writes `value` to the procfs file `path` (relative to `procfd`, the host procfs: the
/// container's /proc could be a bind mount of something else).
static void write_proc(int procfd, const char *path, const char *value) {
    int fd = openat(procfd, path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) kj_fail("opening /proc/%s: %m", path);
    if (kj_write_all(fd, value, strlen(value)) < 0) kj_fail("writing %s to /proc/%s: %m", value, path);
    close(fd);
}

void kj_apply_proc_settings(const struct kj_plan *plan, int procfd) {
    for (size_t i = 0; i < plan->nsysctls; i++) {
        char *entry = strdup(plan->sysctls[i]);
        char path[4096];
        if (entry == NULL) kj_fail("out of memory");
        char *eq = strchr(entry, '=');
        if (eq == NULL) kj_fail("malformed sysctl %s", entry);
        *eq = 0;
        // /proc/sys/net follows the network namespace of the writer (us), so the host procfs
        // reaches the container's values.
        snprintf(path, sizeof(path), "sys/%s", entry);
        write_proc(procfd, path, eq + 1);
        free(entry);
    }
    if (plan->oom_set) {
        char value[32];
        snprintf(value, sizeof(value), "%lld", (long long)(int64_t)plan->oom_score_adj);
        write_proc(procfd, "self/oom_score_adj", value);
    }
}

void kj_apply_rlimits(const struct kj_plan *plan) {
    for (size_t i = 0; i < plan->nrlimits; i++) {
        struct rlimit rl = { .rlim_cur = plan->rlimits[i][1], .rlim_max = plan->rlimits[i][2] };
        if (setrlimit((int)plan->rlimits[i][0], &rl) < 0) kj_fail("setrlimit(%llu): %m", (unsigned long long)plan->rlimits[i][0]);
    }
}

void kj_apply_scheduling(const struct kj_plan *plan) {
    if (plan->has_personality && personality((unsigned long)plan->personality) < 0) {
        kj_fail("personality(%#llx): %m", (unsigned long long)plan->personality);
    }
    // IOPRIO_WHO_PROCESS (1), this process (0).
    if (plan->has_ioprio && syscall(SYS_ioprio_set, 1, 0, (int)plan->ioprio) < 0) {
        kj_fail("ioprio_set(class %llu, priority %llu): %m", (unsigned long long)(plan->ioprio >> 13),
                (unsigned long long)(plan->ioprio & 0x1fff));
    }
    if (plan->has_sched) {
        // struct sched_attr, SCHED_ATTR_SIZE_VER0 (48 bytes): glibc 2.36 has no wrapper.
        struct {
            uint32_t size, sched_policy;
            uint64_t sched_flags;
            int32_t sched_nice;
            uint32_t sched_priority;
            uint64_t sched_runtime, sched_deadline, sched_period;
        } attr = {
            .size = 48, .sched_policy = (uint32_t)plan->sched[0], .sched_flags = plan->sched[1],
            .sched_nice = (int32_t)(int64_t)plan->sched[2], .sched_priority = (uint32_t)plan->sched[3],
            .sched_runtime = plan->sched[4], .sched_deadline = plan->sched[5], .sched_period = plan->sched[6],
        };
        if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0) {
            kj_fail("sched_setattr(policy %u, nice %d, priority %u): %m", attr.sched_policy, attr.sched_nice, attr.sched_priority);
        }
    }
}

void kj_apply_cpu_affinity(const struct kj_plan *plan) {
    if (plan->cpu_affinity == NULL) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    // "0-3,7": ranges and single cpus, checked again here (the runtime checked them first).
    const char *p = plan->cpu_affinity;
    while (*p) {
        char *end;
        unsigned long first = strtoul(p, &end, 10), last = first;
        if (end == p) kj_fail("execCPUAffinity: malformed cpu list %s", plan->cpu_affinity);
        p = end;
        if (*p == '-') {
            last = strtoul(p + 1, &end, 10);
            if (end == p + 1) kj_fail("execCPUAffinity: malformed cpu list %s", plan->cpu_affinity);
            p = end;
        }
        if (last < first || last >= CPU_SETSIZE) kj_fail("execCPUAffinity: cpu list %s out of range", plan->cpu_affinity);
        for (unsigned long cpu = first; cpu <= last; cpu++) CPU_SET(cpu, &set);
        if (*p == ',') p++;
        else if (*p) kj_fail("execCPUAffinity: malformed cpu list %s", plan->cpu_affinity);
    }
    if (sched_setaffinity(0, sizeof(set), &set) < 0) kj_fail("sched_setaffinity(%s): %m", plan->cpu_affinity);
}

void kj_join_session_keyring(const struct kj_plan *plan) {
    if (plan->session_keyring == NULL) return;
    // KEYCTL_JOIN_SESSION_KEYRING (1), KEYCTL_DESCRIBE (6), KEYCTL_SETPERM (5).
    long key = syscall(SYS_keyctl, 1, plan->session_keyring, 0, 0, 0);
    if (key < 0) {
        if (errno == ENOSYS) return;
        kj_fail("joining the session keyring %s: %m", plan->session_keyring);
    }
    // "type;uid;gid;perm;description": add the owner's search bit (KEY_USR_SEARCH, 0x080000).
    char description[512];
    long length = syscall(SYS_keyctl, 6, key, description, sizeof(description) - 1, 0);
    if (length < 0) kj_fail("describing the session keyring: %m");
    description[length < (long)sizeof(description) ? length : (long)sizeof(description) - 1] = 0;
    const char *field = description;
    for (int i = 0; i < 3 && field != NULL; i++) {
        field = strchr(field, ';');
        if (field != NULL) field++;
    }
    if (field == NULL) kj_fail("unexpected session keyring description: %s", description);
    unsigned long perm = strtoul(field, NULL, 16);
    if (syscall(SYS_keyctl, 5, key, (unsigned long)(perm | 0x080000), 0, 0) < 0) kj_fail("setting the session keyring's permissions: %m");
}

static int is_executable(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

char *kj_resolve_executable(const struct kj_plan *plan) {
    const char *name = plan->args[0];
    if (strchr(name, '/') != NULL) {
        char *copy = strdup(name);
        if (copy == NULL) kj_fail("out of memory");
        return copy;
    }
    // Like runc (Go's exec.LookPath), search the PATH of the container's environment.
    const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (size_t i = 0; i < plan->nenv; i++) {
        if (strncmp(plan->env[i], "PATH=", 5) == 0) path = plan->env[i] + 5;
    }
    char *dirs = strdup(path);
    if (dirs == NULL) kj_fail("out of memory");
    for (char *save = NULL, *dir = strtok_r(dirs, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save)) {
        char *candidate;
        if (asprintf(&candidate, "%s/%s", *dir ? dir : ".", name) < 0) kj_fail("out of memory");
        if (is_executable(candidate)) { free(dirs); return candidate; }
        free(candidate);
    }
    kj_fail("exec: \"%s\": executable file not found in $PATH", name);
}

void kj_enter_cwd(const struct kj_plan *plan) {
    if (chdir(plan->cwd) < 0) kj_fail("chdir to cwd (\"%s\") set in config.json failed: %m", plan->cwd);
    // CVE-2024-21626: a cwd reached through a leaked host fd is outside our root; the raw
    // getcwd syscall then answers "(unreachable)/…" instead of an absolute path.
    char buf[4096];
    long n = syscall(SYS_getcwd, buf, sizeof(buf));
    if (n < 0) kj_fail("getcwd after chdir to %s: %m", plan->cwd);
    if (buf[0] != '/') kj_fail("current working directory %s is outside of the container root", plan->cwd);
}

static int cap_last(void) {
    int last = CAP_LAST_CAP;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
    if (f != NULL) {
        if (fscanf(f, "%d", &last) != 1) last = CAP_LAST_CAP;
        fclose(f);
    }
    return last;
}

void kj_apply_identity(const struct kj_plan *plan) {
    int last = cap_last();
    if (plan->has_caps) {
        // Keep the permitted set across setuid, then drop the bounding set while we still
        // hold CAP_SETPCAP.
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) kj_fail("PR_SET_KEEPCAPS: %m");
        for (int cap = 0; cap <= last; cap++) {
            if (!(plan->caps[0] & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
                kj_fail("dropping capability %d from the bounding set: %m", cap);
            }
        }
    }
    if (plan->setgroups) {
        gid_t gids[KJ_MAX_GIDS];
        for (size_t i = 0; i < plan->ngids; i++) gids[i] = (gid_t)plan->gids[i];
        if (setgroups(plan->ngids, gids) < 0) kj_fail("setgroups: %m");
    }
    if (setresgid((gid_t)plan->gid, (gid_t)plan->gid, (gid_t)plan->gid) < 0) kj_fail("setgid %llu: %m", (unsigned long long)plan->gid);
    if (setresuid((uid_t)plan->uid, (uid_t)plan->uid, (uid_t)plan->uid) < 0) kj_fail("setuid %llu: %m", (unsigned long long)plan->uid);
    if (!plan->has_caps) return;
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) kj_fail("PR_SET_KEEPCAPS: %m");
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    for (int i = 0; i < 2; i++) {
        data[i].effective = (uint32_t)(plan->caps[1] >> (32 * i));
        data[i].permitted = (uint32_t)(plan->caps[2] >> (32 * i));
        data[i].inheritable = (uint32_t)(plan->caps[3] >> (32 * i));
    }
    if (syscall(SYS_capset, &header, data) < 0) kj_fail("capset: %m");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) kj_fail("clearing ambient capabilities: %m");
    // A capability can be ambient only if it is permitted and inheritable; like runc, a raise
    // the kernel refuses (EPERM: not inheritable) is skipped, as `runc spec` configs rely on it.
    for (int cap = 0; cap <= last && cap < 64; cap++) {
        if ((plan->caps[4] & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno != EPERM) {
            kj_fail("raising ambient capability %d: %m", cap);
        }
    }
}

void kj_apply_seccomp(const struct kj_plan *plan) {
    if (plan->seccomp == NULL) return;
    // The program was compiled by the runtime; copy it so the kernel sees aligned filters.
    size_t count = plan->seccomp_len / 8;
    struct sock_filter *filter = calloc(count, sizeof(*filter));
    if (filter == NULL) kj_fail("out of memory");
    memcpy(filter, plan->seccomp, plan->seccomp_len);
    struct sock_fprog prog = { .len = (unsigned short)count, .filter = filter };
    // Single-threaded, so no SECCOMP_FILTER_FLAG_TSYNC is needed.
    unsigned flags = (unsigned)plan->seccomp_flags | (plan->seccomp_listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0);
    long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    if (fd < 0) kj_fail("installing the seccomp filter: %m");
    free(filter);
    if (plan->seccomp_listener) {
        // The runtime passes the notify fd on to the listenerPath agent, as runc does.
        if (kj_sock < 0) kj_fail("seccomp notify fd: the runtime is gone");
        if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0) kj_fail("seccomp notify fd: %m");
        if (kj_send(KJ_MSG_SECCOMP_FD, NULL, 0) < 0 || send_fd(kj_sock, (int)fd, "s") < 0) {
            kj_fail("sending the seccomp notify fd to the runtime: %m");
        }
        close((int)fd);
    }
}

/// HOME for the process when its environment has none, as runc sets it: the home directory of
/// the uid in the container's /etc/passwd, else "/". Returns a malloc'ed "HOME=…" or NULL.
char *kj_default_home(const struct kj_plan *plan) {
    for (size_t i = 0; i < plan->nenv; i++) {
        if (strncmp(plan->env[i], "HOME=", 5) == 0) return NULL;
    }
    char *result = NULL;
    FILE *f = fopen("/etc/passwd", "re");
    if (f != NULL) {
        char line[4096];
        while (result == NULL && fgets(line, sizeof(line), f) != NULL) {
            // name:password:uid:gid:gecos:home:shell
            char *fields[7] = {0}, *p = line;
            int n = 0;
            for (char *field = strsep(&p, ":"); field != NULL && n < 7; field = strsep(&p, ":")) fields[n++] = field;
            if (n >= 6 && fields[2] != NULL && strtoull(fields[2], NULL, 10) == plan->uid && fields[2][0] != 0) {
                if (asprintf(&result, "HOME=%s", fields[5]) < 0) result = NULL;
            }
        }
        fclose(f);
    }
    if (result == NULL) result = strdup("HOME=/");
    return result;
}
