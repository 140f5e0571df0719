// Moving a host network interface into a container's network namespace (linux.netDevices):
// one RTM_NEWLINK request on a NETLINK_ROUTE socket, so KujiraRuntime needs no netlink
// library (and no dependency on KujiraNetwork).
#ifndef KUJIRA_NET_DEVICES_H
#define KUJIRA_NET_DEVICES_H

/// Moves the interface `host_name` of the caller's network namespace into the namespace open
/// at `ns_fd` (a /proc/<pid>/ns/net fd), renamed to `new_name` there when it is neither NULL
/// nor empty. The kernel renames in the target namespace, so the new name never meets the
/// caller's names; but it renames after the move, so a name taken in the target fails with
/// EEXIST with the interface already moved (check the target's names first). Returns 0, or
/// -1 with errno set: ENODEV when there is no such interface, or the kernel's error.
int kujira_link_move_to_netns(const char *host_name, int ns_fd, const char *new_name);

/// The index of interface `name` in the caller's network namespace, or 0 if there is none.
unsigned int kujira_link_index(const char *name);

#endif
