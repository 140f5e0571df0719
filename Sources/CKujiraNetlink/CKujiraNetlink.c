#define _GNU_SOURCE
#include <sched.h>
#include <unistd.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <fcntl.h>
#include "CKujiraNetlink.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

int kujira_setns(int fd, int nstype) { return setns(fd, nstype); }

int kujira_unshare(int flags) { return unshare(flags); }

int kujira_gettid(void) { return (int)syscall(SYS_gettid); }

int kujira_netlink_enable_ext_ack(int fd) {
    int one = 1;
    if (setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one) != 0) return -1;
    return setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
}

int kujira_bind_to_device(int fd, const char *ifname) {
    return setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname));
}

int kujira_is_nsfs(const char *path) {
    struct statfs fs;
    if (statfs(path, &fs) != 0) return -1;
    return fs.f_type == 0x6e736673; /* NSFS_MAGIC */
}

int kujira_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int kujira_accept_cloexec(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC); }
