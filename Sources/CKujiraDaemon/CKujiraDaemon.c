#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <unistd.h>
#include "CKujiraDaemon.h"

int kujirad_accept(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC); }
int kujirad_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
int kujirad_pollrdhup(void) { return POLLRDHUP; }
