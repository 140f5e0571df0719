// CKujiraNetlink: the kernel's rtnetlink and nftables-free networking ABI for KujiraNetwork.
// Swift imports the enums and integer macros of these headers (RTM_*, IFLA_*, IFA_*, RTA_*,
// NLM_F_*), but not function-like macros or glibc's _GNU_SOURCE-only declarations, so the
// few calls that need them are wrapped here.
#ifndef CKUJIRANETLINK_H
#define CKUJIRANETLINK_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/veth.h>

/// CLONE_NEWNET (sched.h declares it only under _GNU_SOURCE).
#define KUJIRA_CLONE_NEWNET 0x40000000

/// setns(2). Returns 0, or -1 with errno set.
int kujira_setns(int fd, int nstype);

/// unshare(2). Returns 0, or -1 with errno set.
int kujira_unshare(int flags);

/// The kernel thread id of the calling thread (gettid(2)).
int kujira_gettid(void);

/// Sets SO_RCVBUF/SO_SNDBUF-independent netlink socket options: NETLINK_EXT_ACK and
/// NETLINK_CAP_ACK, so that errors carry the kernel's message and acks stay small.
/// Returns 0, or -1 with errno set.
int kujira_netlink_enable_ext_ack(int fd);

/// Binds `fd` (a datagram or stream socket) to the network device `ifname` (SO_BINDTODEVICE).
int kujira_bind_to_device(int fd, const char *ifname);

/// pipe2(2) with O_CLOEXEC (glibc declares it only under _GNU_SOURCE).
int kujira_pipe_cloexec(int fds[2]);

/// accept4(2) with SOCK_CLOEXEC, ignoring the peer address.
int kujira_accept_cloexec(int fd);

/// Whether `path` is a namespace file (its filesystem is nsfs): 1, 0, or -1 with errno set.
int kujira_is_nsfs(const char *path);

#endif
