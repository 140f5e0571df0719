// kujirad's syscall wrappers: the GNU extensions Swift's Glibc module does not show.
#pragma once

/// accept4(fd, NULL, NULL, SOCK_CLOEXEC): the new connection, or -1 with errno.
int kujirad_accept(int fd);
/// pipe2(fds, O_CLOEXEC).
int kujirad_pipe(int fds[2]);
/// POLLRDHUP (the peer shut its sending side down).
int kujirad_pollrdhup(void);
