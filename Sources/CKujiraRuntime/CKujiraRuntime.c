#define _GNU_SOURCE
#include "CKujiraRuntime.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/// write(2) of all `length` bytes, retried on EINTR and short writes. 0 or -1/errno.
static int kujira_write_all(int fd, const unsigned char *bytes, size_t length) {
    while (length > 0) {
        ssize_t n = write(fd, bytes, length);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { if (n == 0) errno = EIO; return -1; }
        bytes += n;
        length -= (size_t)n;
    }
    return 0;
}

int kujira_sealed_copy(const char *path) {
    int src = open(path, O_RDONLY | O_CLOEXEC);
    if (src < 0) return -1;
    struct stat st;
    if (fstat(src, &st) < 0) { int e = errno; close(src); errno = e; return -1; }
    int mem = memfd_create("kujira-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mem < 0) { int e = errno; close(src); errno = e; return -1; }
    off_t offset = 0;
    while (offset < st.st_size) {
        ssize_t n = sendfile(mem, src, &offset, (size_t)(st.st_size - offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { int e = n < 0 ? errno : EIO; close(src); close(mem); errno = e; return -1; }
    }
    close(src);
    if (fcntl(mem, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
        int e = errno; close(mem); errno = e; return -1;
    }
    return mem;
}

/// 1 + the value of each base64 digit; 0 for every other byte.
static const unsigned char kujira_base64_digits[256] = {
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
    ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

static inline int kujira_base64_digit(unsigned char c) { return kujira_base64_digits[c]; }

int kujira_sealed_image(const char *base64, size_t length) {
    while (length > 0 && base64[length - 1] == '=') length--;
    if (length % 4 == 1) { errno = EINVAL; return -1; }
    size_t size = length / 4 * 3 + (length % 4 == 0 ? 0 : length % 4 - 1);
    unsigned char *out = malloc(size > 0 ? size : 1);
    if (out == NULL) return -1;
    // Whole quads first, table-driven; then the 2 or 3 characters of a padded end.
    size_t o = 0, i = 0;
    for (; i + 4 <= length; i += 4) {
        int a = kujira_base64_digit((unsigned char)base64[i]), b = kujira_base64_digit((unsigned char)base64[i + 1]);
        int c = kujira_base64_digit((unsigned char)base64[i + 2]), d = kujira_base64_digit((unsigned char)base64[i + 3]);
        if (!a || !b || !c || !d) { free(out); errno = EINVAL; return -1; }
        uint32_t bits = (uint32_t)(a - 1) << 18 | (uint32_t)(b - 1) << 12 | (uint32_t)(c - 1) << 6 | (uint32_t)(d - 1);
        out[o++] = (unsigned char)(bits >> 16);
        out[o++] = (unsigned char)(bits >> 8);
        out[o++] = (unsigned char)bits;
    }
    if (i < length) {
        uint32_t bits = 0;
        size_t rest = length - i;
        for (size_t k = 0; k < rest; k++) {
            int v = kujira_base64_digit((unsigned char)base64[i + k]);
            if (!v) { free(out); errno = EINVAL; return -1; }
            bits = bits << 6 | (uint32_t)(v - 1);
        }
        if (rest == 2) out[o++] = (unsigned char)(bits >> 4);
        if (rest == 3) { out[o++] = (unsigned char)(bits >> 10); out[o++] = (unsigned char)(bits >> 2); }
    }
    int mem = memfd_create("kujira-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mem < 0) { int e = errno; free(out); errno = e; return -1; }
    int failed = kujira_write_all(mem, out, o) < 0
        || fcntl(mem, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0;
    int e = errno;
    free(out);
    if (failed) { close(mem); errno = e; return -1; }
    return mem;
}

int kujira_spawn(const char *path, char *const argv[], char *const envp[],
                 const int *from, const int *to, int count, int close_from, int new_group, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) return rc;
    for (int i = 0; i < count && rc == 0; i++) {
        // adddup2 with from == to clears FD_CLOEXEC (glibc >= 2.29), as POSIX issue 8 asks.
        rc = posix_spawn_file_actions_adddup2(&actions, from[i], to[i]);
    }
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, close_from);
    posix_spawnattr_t attr;
    if (rc == 0) rc = posix_spawnattr_init(&attr);
    if (rc == 0) {
        // Default signal dispositions and an empty mask in the child: the Swift runtime may have
        // blocked or ignored signals (SIGPIPE) that the container must see as default.
        sigset_t all, none;
        sigfillset(&all);
        sigemptyset(&none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setsigmask(&attr, &none);
        short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
        if (new_group) {
            flags |= POSIX_SPAWN_SETPGROUP;
            posix_spawnattr_setpgroup(&attr, 0);
        }
        posix_spawnattr_setflags(&attr, flags);
        rc = posix_spawn(pid, path, &actions, &attr, argv, envp);
        posix_spawnattr_destroy(&attr);
    }
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

int kujira_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
int kujira_set_child_subreaper_value(int value) { return prctl(PR_SET_CHILD_SUBREAPER, value ? 1 : 0, 0, 0, 0); }
int kujira_get_child_subreaper(void) {
    int value = 0;
    if (prctl(PR_GET_CHILD_SUBREAPER, &value, 0, 0, 0) < 0) return -1;
    return value ? 1 : 0;
}

int kujira_socketpair(int type, int fds[2]) { return socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds); }

static int fill_address(struct sockaddr_un *addr, const char *path) {
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(addr->sun_path)) { errno = ENAMETOOLONG; return -1; }
    strcpy(addr->sun_path, path);
    return 0;
}

int kujira_unix_connect(const char *path) {
    struct sockaddr_un addr;
    if (fill_address(&addr, path) < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

int kujira_unix_listen(const char *path) {
    struct sockaddr_un addr;
    if (fill_address(&addr, path) < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 4) < 0) {
        int e = errno; close(fd); errno = e; return -1;
    }
    return fd;
}

int kujira_send_fd(int sock, int fd) {
    char byte = 0;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
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

int kujira_send_fd_with_data(int sock, const void *data, size_t length, int fd) {
    struct iovec iov = { .iov_base = (void *)data, .iov_len = length };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    memset(&control, 0, sizeof(control));
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    ssize_t n;
    do { n = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    // The rest, if the socket took only part of it (the fd went with the first byte).
    const unsigned char *rest = (const unsigned char *)data + n;
    size_t left = length - (size_t)n;
    while (left > 0) {
        ssize_t m = send(sock, rest, left, MSG_NOSIGNAL);
        if (m < 0 && errno == EINTR) continue;
        if (m <= 0) return -1;
        rest += m;
        left -= (size_t)m;
    }
    return 0;
}

int kujira_recv_fd(int sock) {
    char byte;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg == NULL || cmsg->cmsg_type != SCM_RIGHTS || cmsg->cmsg_len != CMSG_LEN(sizeof(int))) { errno = EBADMSG; return -1; }
    int fd;
    memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
    return fd;
}

int kujira_recv_fd_with_data(int sock, void *buffer, size_t capacity, size_t *received) {
    struct iovec iov = { .iov_base = buffer, .iov_len = capacity };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    *received = (size_t)n;
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg == NULL || cmsg->cmsg_type != SCM_RIGHTS || cmsg->cmsg_len != CMSG_LEN(sizeof(int))) { errno = EBADMSG; return -1; }
    int fd;
    memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
    return fd;
}

int kujira_seccomp_notify_answer(int notify_fd, int error) {
    struct seccomp_notif request;
    struct seccomp_notif_resp response;
    for (;;) {
        memset(&request, 0, sizeof(request));
        if (ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_RECV, &request) == 0) break;
        if (errno != EINTR) return -1;
    }
    memset(&response, 0, sizeof(response));
    response.id = request.id;
    if (error == 0) response.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    else response.error = -error;
    if (ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &response) < 0 && errno != ENOENT) return -1;
    return request.data.nr;
}

int kujira_accept(int listener) {
    int fd;
    do { fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC); } while (fd < 0 && errno == EINTR);
    return fd;
}

int kujira_dup_cloexec(int fd, int min) { return fcntl(fd, F_DUPFD_CLOEXEC, min); }

int kujira_open_path(const char *path, int nofollow) {
    return open(path, O_PATH | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
}

int kujira_flock(int fd, int exclusive) {
    int rc;
    do { rc = flock(fd, exclusive ? LOCK_EX : LOCK_SH); } while (rc < 0 && errno == EINTR);
    return rc;
}

uint64_t kujira_ns_inode(int pid, const char *name) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, name);
    struct stat st;
    if (stat(path, &st) < 0) return 0;
    return (uint64_t)st.st_ino;
}

int kujira_wait_exit(pid_t pid) {
    int status;
    pid_t r;
    do { r = waitpid(pid, &status, 0); } while (r < 0 && errno == EINTR);
    if (r < 0) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 255;
}

int kujira_memfd(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

int kujira_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

static void *kujira_cgroup_prewarm_thread(void *argument) {
    int fd = (int)(intptr_t)argument;
    char text[16];
    int length = snprintf(text, sizeof(text), "%d", (int)getpid());
    // A failure (EBUSY, EPERM) only means no head start: the real migration reports its own.
    if (length > 0) (void)kujira_write_all(fd, (const unsigned char *)text, (size_t)length);
    close(fd);
    return NULL;
}

int kujira_cgroup_prewarm(const char *procs) {
    int fd = open(procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    pthread_attr_t attributes;
    pthread_t thread;
    int rc = pthread_attr_init(&attributes);
    if (rc == 0) {
        (void)pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        (void)pthread_attr_setstacksize(&attributes, 64 * 1024);
        rc = pthread_create(&thread, &attributes, kujira_cgroup_prewarm_thread, (void *)(intptr_t)fd);
        pthread_attr_destroy(&attributes);
    }
    if (rc != 0) {
        close(fd);
        errno = rc;
        return -1;
    }
    return 0;
}

int kujira_set_affinity(pid_t pid, const char *list) {
    cpu_set_t set;
    CPU_ZERO(&set);
    const char *p = list;
    if (*p == 0) { errno = EINVAL; return -1; }
    while (*p) {
        char *end;
        unsigned long first = strtoul(p, &end, 10), last = first;
        if (end == p) { errno = EINVAL; return -1; }
        p = end;
        if (*p == '-') {
            last = strtoul(p + 1, &end, 10);
            if (end == p + 1) { errno = EINVAL; return -1; }
            p = end;
        }
        if (last < first || last >= CPU_SETSIZE) { errno = EINVAL; return -1; }
        for (unsigned long cpu = first; cpu <= last; cpu++) CPU_SET(cpu, &set);
        if (*p == ',') p++;
        else if (*p) { errno = EINVAL; return -1; }
    }
    return sched_setaffinity(pid, sizeof(set), &set);
}

int kujira_pidfd_open(pid_t pid) {
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
    return (int)syscall(SYS_pidfd_open, pid, 0);
}
