#define _GNU_SOURCE
#include "KujiraNetDevices.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

unsigned int kujira_link_index(const char *name) {
    return if_nametoindex(name);
}

static void add_attribute(struct nlmsghdr *header, unsigned short type, const void *data, size_t length) {
    struct rtattr *attribute = (struct rtattr *)((char *)header + NLMSG_ALIGN(header->nlmsg_len));
    attribute->rta_type = type;
    attribute->rta_len = (unsigned short)RTA_LENGTH(length);
    memcpy(RTA_DATA(attribute), data, length);
    header->nlmsg_len = NLMSG_ALIGN(header->nlmsg_len) + RTA_ALIGN(attribute->rta_len);
}

int kujira_link_move_to_netns(const char *host_name, int ns_fd, const char *new_name) {
    size_t name_length = new_name ? strlen(new_name) : 0;
    if (strlen(host_name) >= IFNAMSIZ || name_length >= IFNAMSIZ) { errno = EINVAL; return -1; }
    unsigned int index = if_nametoindex(host_name);
    if (index == 0) { errno = ENODEV; return -1; }

    union {
        struct nlmsghdr header;
        char bytes[NLMSG_SPACE(sizeof(struct ifinfomsg)) + RTA_SPACE(sizeof(uint32_t)) + RTA_SPACE(IFNAMSIZ)];
    } request;
    memset(&request, 0, sizeof(request));
    request.header.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    request.header.nlmsg_type = RTM_NEWLINK;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    request.header.nlmsg_seq = 1;
    struct ifinfomsg *info = NLMSG_DATA(&request.header);
    info->ifi_family = AF_UNSPEC;
    info->ifi_index = (int)index;
    uint32_t fd = (uint32_t)ns_fd;
    add_attribute(&request.header, IFLA_NET_NS_FD, &fd, sizeof(fd));
    if (name_length > 0) add_attribute(&request.header, IFLA_IFNAME, new_name, name_length + 1);

    int sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (sock < 0) return -1;
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    ssize_t sent;
    do {
        sent = sendto(sock, &request, request.header.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel));
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) { int e = errno; close(sock); errno = e; return -1; }

    // The answer is one NLMSG_ERROR message: error 0 is the acknowledgement.
    char answer[4096];
    for (;;) {
        ssize_t n = recv(sock, answer, sizeof(answer), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { int e = errno; close(sock); errno = e; return -1; }
        for (struct nlmsghdr *h = (struct nlmsghdr *)answer; NLMSG_OK(h, (unsigned int)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != 1 || h->nlmsg_type != NLMSG_ERROR) continue;
            if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) { close(sock); errno = EPROTO; return -1; }
            int error = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
            close(sock);
            if (error == 0) return 0;
            errno = -error;
            return -1;
        }
    }
}
