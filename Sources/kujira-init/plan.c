// The plan parser: a flat, bounds-checked walk over [tag][len][payload] records. Every length is
// checked against what is left of the buffer and every string must end with its only NUL, so a
// malformed plan is refused instead of read past its end.
#include "init.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p) {
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/// A string payload: non-empty, NUL-terminated, no interior NUL.
static const char *as_string(const unsigned char *p, uint32_t len) {
    if (len == 0 || p[len - 1] != 0 || memchr(p, 0, len) != p + len - 1) return NULL;
    return (const char *)p;
}

#define FAIL(...) do { snprintf(why, whylen, __VA_ARGS__); return -1; } while (0)
#define U64() do { if (len != 8) FAIL("record %u: expected 8 bytes, got %u", tag, len); v = get64(p); } while (0)
#define STR(dst) do { if ((s = as_string(p, len)) == NULL) FAIL("record %u: malformed string", tag); (dst) = s; } while (0)

int kj_plan_parse(unsigned char *buf, size_t size, struct kj_plan *plan, char *why, size_t whylen) {
    memset(plan, 0, sizeof(*plan));
    plan->console_fd = -1;
    plan->fifo_fd = -1;
    plan->umask = 022;
    plan->setgroups = 1;
    plan->ops = calloc(KJ_MAX_OPS, sizeof(struct kj_op));
    plan->args = calloc(KJ_MAX_STRINGS + 1, sizeof(char *));
    plan->env = calloc(KJ_MAX_STRINGS + 2, sizeof(char *));  // + HOME + NULL
    if (plan->ops == NULL || plan->args == NULL || plan->env == NULL) FAIL("out of memory");
    size_t off = 0;
    struct kj_hook *hook = NULL;
    while (off < size) {
        if (size - off < 8) FAIL("truncated record header at offset %zu", off);
        uint32_t tag = get32(buf + off), len = get32(buf + off + 4);
        off += 8;
        if (len > size - off) FAIL("record %u at offset %zu runs past the end", tag, off);
        const unsigned char *p = buf + off;
        off += len;
        uint64_t v;
        const char *s;
        struct kj_op *op = plan->nops > 0 ? &plan->ops[plan->nops - 1] : NULL;
        if (tag >= KJ_OP_MOUNT && tag <= KJ_OP_MKDIR) {
            if (plan->nops >= KJ_MAX_OPS) FAIL("too many rootfs operations");
            plan->ops[plan->nops++].kind = (int)tag;
            continue;
        }
        if (tag >= KJ_F_SOURCE && tag <= KJ_F_LAST && op == NULL) FAIL("field %u before any operation", tag);
        switch (tag) {
        case KJ_T_MODE: U64(); plan->mode = v; break;
        case KJ_T_ROOTFS: STR(plan->rootfs); break;
        case KJ_T_ROOT_READONLY: U64(); plan->root_readonly = v; break;
        case KJ_T_NO_PIVOT: U64(); plan->no_pivot = v; break;
        case KJ_T_ROOT_PROPAGATION: U64(); plan->root_propagation = v; break;
        case KJ_T_CLONE_FLAGS: U64(); plan->clone_flags = v; break;
        case KJ_T_NS_JOIN:
            if (len < 10 || plan->njoins >= KJ_MAX_JOINS) FAIL("malformed or too many namespace joins");
            if ((s = as_string(p + 8, len - 8)) == NULL) FAIL("record %u: malformed path", tag);
            plan->joins[plan->njoins].flag = get64(p);
            plan->joins[plan->njoins++].path = s;
            break;
        case KJ_T_USERNS_MAPS: U64(); plan->userns_maps = v; break;
        case KJ_T_HOSTNAME: STR(plan->hostname); break;
        case KJ_T_DOMAINNAME: STR(plan->domainname); break;
        case KJ_T_SYSCTL:
            if (plan->nsysctls >= KJ_MAX_SYSCTLS) FAIL("too many sysctls");
            STR(plan->sysctls[plan->nsysctls]);
            plan->nsysctls++;
            break;
        case KJ_T_RLIMIT:
            if (len != 24 || plan->nrlimits >= KJ_MAX_RLIMITS) FAIL("malformed or too many rlimits");
            for (int i = 0; i < 3; i++) plan->rlimits[plan->nrlimits][i] = get64(p + 8 * i);
            plan->nrlimits++;
            break;
        case KJ_T_OOM_SCORE_ADJ: U64(); plan->oom_score_adj = v; break;
        case KJ_T_OOM_SET: U64(); plan->oom_set = v; break;
        case KJ_T_UID: U64(); plan->uid = v; break;
        case KJ_T_GID: U64(); plan->gid = v; break;
        case KJ_T_ADDITIONAL_GID:
            U64();
            if (plan->ngids >= KJ_MAX_GIDS) FAIL("too many additional gids");
            plan->gids[plan->ngids++] = v;
            break;
        case KJ_T_SETGROUPS: U64(); plan->setgroups = v; break;
        case KJ_T_UMASK: U64(); plan->umask = v; break;
        case KJ_T_CAPS:
            if (len != 40) FAIL("malformed capabilities record");
            for (int i = 0; i < 5; i++) plan->caps[i] = get64(p + 8 * i);
            plan->has_caps = 1;
            break;
        case KJ_T_NO_NEW_PRIVS: U64(); plan->no_new_privs = v; break;
        case KJ_T_SETSID: U64(); plan->setsid = v; break;
        case KJ_T_TIMENS_OFFSETS: STR(plan->timens_offsets); break;
        case KJ_T_SECCOMP:
            if (len == 0 || len % 8 != 0 || len / 8 > 65535) FAIL("malformed seccomp program (%u bytes)", len);
            plan->seccomp = p;
            plan->seccomp_len = len;
            break;
        case KJ_T_SECCOMP_FLAGS: U64(); plan->seccomp_flags = v; break;
        case KJ_T_SECCOMP_LISTENER: U64(); plan->seccomp_listener = v; break;
        case KJ_T_PERSONALITY: U64(); plan->personality = v; plan->has_personality = 1; break;
        case KJ_T_IOPRIO: U64(); plan->ioprio = v; plan->has_ioprio = 1; break;
        case KJ_T_SCHED:
            if (len != 56) FAIL("malformed scheduler record");
            for (int i = 0; i < 7; i++) plan->sched[i] = get64(p + 8 * i);
            plan->has_sched = 1;
            break;
        case KJ_T_CPU_AFFINITY: STR(plan->cpu_affinity); break;
        case KJ_T_SESSION_KEYRING: STR(plan->session_keyring); break;
        case KJ_T_AWAIT_JOIN: U64(); plan->await_join = v; break;
        case KJ_T_CWD: STR(plan->cwd); break;
        case KJ_T_ARG:
            if (plan->nargs >= KJ_MAX_STRINGS) FAIL("too many arguments");
            STR(s); plan->args[plan->nargs] = (char *)s;  // execve wants char *const[]
            plan->nargs++;
            break;
        case KJ_T_ENV:
            if (plan->nenv >= KJ_MAX_STRINGS) FAIL("too many environment variables");
            STR(s); plan->env[plan->nenv] = (char *)s;
            plan->nenv++;
            break;
        case KJ_T_PRESERVE_FDS: U64(); if (v > 65536) FAIL("too many preserved fds"); plan->preserve_fds = v; break;
        case KJ_T_CONSOLE_FD: U64(); if (v > 1048576) FAIL("bad console fd"); plan->console_fd = (int)v; break;
        case KJ_T_CONSOLE_SIZE:
            if (len != 16) FAIL("malformed console size");
            plan->console_rows = get64(p);
            plan->console_cols = get64(p + 8);
            break;
        case KJ_T_FIFO_FD: U64(); if (v > 1048576) FAIL("bad fifo fd"); plan->fifo_fd = (int)v; break;
        case KJ_T_HOOK:
            U64();
            if (v != KJ_HOOK_CREATE_CONTAINER && v != KJ_HOOK_START_CONTAINER) FAIL("unknown hook stage %llu", (unsigned long long)v);
            if (plan->nhooks >= KJ_MAX_HOOKS) FAIL("too many hooks");
            hook = &plan->hooks[plan->nhooks++];
            hook->stage = v;
            hook->args = calloc(KJ_MAX_HOOK_STRINGS + 1, sizeof(char *));
            hook->env = calloc(KJ_MAX_HOOK_STRINGS + 1, sizeof(char *));
            if (hook->args == NULL || hook->env == NULL) FAIL("out of memory");
            break;
        case KJ_T_HOOK_PATH:
            if (hook == NULL) FAIL("hook field %u before any hook", tag);
            STR(hook->path);
            if (hook->path[0] != '/') FAIL("hook path %s is not absolute", hook->path);
            break;
        case KJ_T_HOOK_ARG:
        case KJ_T_HOOK_ENV:
            if (hook == NULL) FAIL("hook field %u before any hook", tag);
            STR(s);
            if (tag == KJ_T_HOOK_ARG) {
                if (hook->nargs >= KJ_MAX_HOOK_STRINGS) FAIL("too many hook arguments");
                hook->args[hook->nargs++] = (char *)s;
            } else {
                if (hook->nenv >= KJ_MAX_HOOK_STRINGS) FAIL("too many hook environment variables");
                hook->env[hook->nenv++] = (char *)s;
            }
            break;
        case KJ_T_HOOK_TIMEOUT:
            if (hook == NULL) FAIL("hook field %u before any hook", tag);
            U64();
            if (v == 0 || v > 86400 * 365) FAIL("hook timeout %llu out of range", (unsigned long long)v);
            hook->timeout = v;
            break;
        case KJ_F_SOURCE: STR(op->source); break;
        case KJ_F_DEST:
            STR(op->dest);
            if (op->dest[0] != '/') FAIL("operation destination %s is not absolute", op->dest);
            break;
        case KJ_F_TYPE: STR(op->type); break;
        case KJ_F_DATA: STR(op->data); break;
        case KJ_F_TARGET: STR(op->target); break;
        case KJ_F_FLAGS: U64(); op->flags = v; break;
        case KJ_F_PROPAGATION: U64(); op->propagation = v; break;
        case KJ_F_MODE: U64(); op->mode = v; break;
        case KJ_F_MAJOR: U64(); op->major = v; break;
        case KJ_F_MINOR: U64(); op->minor = v; break;
        case KJ_F_UID: U64(); op->uid = v; break;
        case KJ_F_GID: U64(); op->gid = v; break;
        case KJ_F_BIND_DEVICE: U64(); op->bind_device = v; break;
        case KJ_F_RECURSIVE_ATTR:
            if (len != 16) FAIL("malformed recursive mount attributes");
            op->rec_clear = get64(p);
            op->rec_set = get64(p + 8);
            break;
        case KJ_F_IDMAP_UID: STR(op->idmap_uid); break;
        case KJ_F_IDMAP_GID: STR(op->idmap_gid); break;
        case KJ_F_IDMAP_RECURSIVE: U64(); op->idmap_recursive = v; break;
        case KJ_F_TMPCOPYUP: U64(); op->tmpcopyup = v; break;
        default: FAIL("unknown plan record %u", tag);
        }
    }
    if (plan->mode != KJ_MODE_CREATE && plan->mode != KJ_MODE_EXEC) FAIL("plan has no valid mode");
    if (plan->mode == KJ_MODE_CREATE && plan->rootfs == NULL) FAIL("plan has no rootfs");
    if (plan->nargs == 0) FAIL("plan has no process arguments");
    if (plan->cwd == NULL || plan->cwd[0] != '/') FAIL("plan has no absolute cwd");
    for (size_t i = 0; i < plan->nhooks; i++) {
        if (plan->hooks[i].path == NULL) FAIL("hook %zu has no path", i);
        if (plan->hooks[i].nargs == 0) plan->hooks[i].args[plan->hooks[i].nargs++] = (char *)plan->hooks[i].path;
    }
    for (size_t i = 0; i < plan->nops; i++) {
        struct kj_op *o = &plan->ops[i];
        if (o->kind != KJ_OP_HOOKS && o->dest == NULL) FAIL("rootfs operation %zu has no destination", i);
        if (o->kind == KJ_OP_SYMLINK && o->target == NULL) FAIL("symlink %s has no target", o->dest);
        if ((o->idmap_uid == NULL) != (o->idmap_gid == NULL)) FAIL("id-mapped mount %s needs both uid and gid maps", o->dest);
        if (o->idmap_uid != NULL && (o->kind != KJ_OP_MOUNT || !(o->flags & MS_BIND) || o->source == NULL)) {
            FAIL("id-mapped mount %s is not a bind mount", o->dest);
        }
        o->idmap_tree = -1;
    }
    return 0;
}
