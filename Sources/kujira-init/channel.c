// The init socket: framed messages between kujira-init and KujiraRuntime.
#include "init.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int kj_sock = -1;

int kj_write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t len) {
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int kj_send(uint32_t type, const void *payload, uint32_t len) {
    if (kj_sock < 0) return -1;
    unsigned char header[8];
    put32(header, type);
    put32(header + 4, len);
    if (kj_write_all(kj_sock, header, sizeof(header)) < 0) return -1;
    return len == 0 ? 0 : kj_write_all(kj_sock, payload, len);
}

int kj_recv(uint32_t *type, unsigned char **payload, uint32_t *len, uint32_t max) {
    unsigned char header[8];
    if (read_all(kj_sock, header, sizeof(header)) < 0) return -1;
    *type = get32(header);
    *len = get32(header + 4);
    if (*len > max) { errno = EMSGSIZE; return -1; }
    *payload = malloc(*len + 1);
    if (*payload == NULL) return -1;
    if (*len > 0 && read_all(kj_sock, *payload, *len) < 0) { free(*payload); return -1; }
    return 0;
}

int kj_joined = 0;

unsigned char *kj_expect_payload(uint32_t type, uint32_t *len) {
    uint32_t got;
    unsigned char *payload;
    for (;;) {
        if (kj_recv(&got, &payload, len, KJ_MSG_MAX) < 0) kj_fail("waiting for the runtime (message %u): %m", type);
        // KJ_MSG_JOINED may come before the answer to a hooks request: note it, read on.
        if (got == KJ_MSG_JOINED && type != KJ_MSG_JOINED) {
            kj_joined = 1;
            free(payload);
            continue;
        }
        break;
    }
    if (got != type) kj_fail("protocol error: expected message %u from the runtime, got %u", type, got);
    if (got == KJ_MSG_JOINED) kj_joined = 1;
    return payload;
}

void kj_expect(uint32_t type) {
    uint32_t len;
    free(kj_expect_payload(type, &len));
}

void kj_await_join(const struct kj_plan *plan) {
    if (plan->await_join && !kj_joined) kj_expect(KJ_MSG_JOINED);
}

void kj_fail(const char *fmt, ...) {
    char text[2048];
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    errno = saved;  // so that %m names the caller's errno
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof(text)) n = (int)sizeof(text) - 1;
    if (kj_send(KJ_MSG_ERROR, text, (uint32_t)n) < 0) {
        // The runtime is gone (after `create` returned): stderr is the caller's.
        dprintf(2, "kujira-init: %s\n", text);
    }
    _exit(1);
}
