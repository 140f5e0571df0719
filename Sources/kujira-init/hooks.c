// The hooks the init runs itself (runtime-spec config.md, "POSIX-platform Hooks"):
// createContainer in the container's mount namespace after the mounts and before pivot_root,
// startContainer in the container after `start` and before the user's execve. Each hook gets
// the container state JSON on stdin (from the runtime, which knows the host pid), runs in a
// process group of its own, and is killed with that group when its `timeout` passes.
#include "init.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/// The state JSON per stage (index KJ_HOOK_*), from KJ_MSG_HOOKS_ACK.
static const char *hook_states[3];

void kj_set_hook_states(unsigned char *payload, uint32_t len) {
    if (len == 0) return;  // no hooks of ours in the plan
    const char *first = (const char *)payload;
    const char *nul = memchr(payload, 0, len);
    if (nul == NULL || (uint32_t)(nul - first) + 1 >= len || payload[len - 1] != 0 ||
        memchr(nul + 1, 0, len - (uint32_t)(nul - first) - 1) != (const char *)payload + len - 1) {
        kj_fail("protocol error: malformed hook states");
    }
    hook_states[KJ_HOOK_CREATE_CONTAINER] = first;
    hook_states[KJ_HOOK_START_CONTAINER] = nul + 1;
}

static const char *stage_name(uint64_t stage) {
    return stage == KJ_HOOK_CREATE_CONTAINER ? "createContainer" : "startContainer";
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/// Waits for `pid` for at most `timeout` seconds (0: no limit); returns 0 with its wait status
/// or -1 when the time ran out.
static int wait_with_timeout(pid_t pid, uint64_t timeout, int *status) {
    if (timeout > 0) {
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0) kj_fail("pidfd_open of a hook: %m");
        long long deadline = now_ms() + (long long)timeout * 1000;
        for (;;) {
            long long left = deadline - now_ms();
            if (left <= 0) { close(pidfd); return -1; }
            struct pollfd p = { .fd = pidfd, .events = POLLIN };
            int r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
            if (r > 0) break;
            if (r < 0 && errno != EINTR) kj_fail("waiting for a hook: %m");
        }
        close(pidfd);
    }
    while (waitpid(pid, status, 0) < 0) {
        if (errno != EINTR) kj_fail("waiting for a hook: %m");
    }
    return 0;
}

static void run_hook(const struct kj_hook *hook, size_t index, const char *state) {
    // A socket pair, not a pipe: a hook that exits without reading its stdin must not raise
    // SIGPIPE here (send with MSG_NOSIGNAL fails with EPIPE instead).
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) kj_fail("socketpair for a hook: %m");
    pid_t pid = fork();
    if (pid < 0) kj_fail("fork for a hook: %m");
    if (pid == 0) {
        // The hook: its own process group (killed as one on timeout), the state on stdin,
        // stdout and stderr shared with the init, and no other fd of ours.
        setpgid(0, 0);
        if (dup2(sv[0], 0) < 0) _exit(127);
        syscall(SYS_close_range, 3U, ~0U, 0);
        execve(hook->path, hook->args, hook->env);
        dprintf(2, "kujira-init: %s hook #%zu (%s): exec: %s\n", stage_name(hook->stage), index, hook->path, strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);  // also here, so that a kill on timeout never misses the group
    close(sv[0]);
    size_t len = strlen(state), off = 0;
    while (off < len) {
        ssize_t n = send(sv[1], state + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // the hook does not read its stdin: not an error
        off += (size_t)n;
    }
    close(sv[1]);
    int status = 0;
    if (wait_with_timeout(pid, hook->timeout, &status) < 0) {
        kill(-pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        kj_fail("%s hook #%zu (%s) timed out after %llu s", stage_name(hook->stage), index, hook->path,
                (unsigned long long)hook->timeout);
    }
    if (WIFSIGNALED(status)) {
        kj_fail("%s hook #%zu (%s) was killed by signal %d", stage_name(hook->stage), index, hook->path, WTERMSIG(status));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        kj_fail("%s hook #%zu (%s) exited with status %d", stage_name(hook->stage), index, hook->path, WEXITSTATUS(status));
    }
}

void kj_run_hooks(const struct kj_plan *plan, uint64_t stage) {
    size_t index = 0;
    for (size_t i = 0; i < plan->nhooks; i++) {
        if (plan->hooks[i].stage != stage) continue;
        const char *state = hook_states[stage];
        if (state == NULL) kj_fail("protocol error: no state for the %s hooks", stage_name(stage));
        run_hook(&plan->hooks[i], index++, state);
    }
}
