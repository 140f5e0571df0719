#include "CKujiraBPF.h"

#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(sizeof(kujira_bpf_insn) == sizeof(struct bpf_insn), "kujira_bpf_insn must match struct bpf_insn");

static int sys_bpf(int cmd, union bpf_attr *attr) {
    return (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

int kujira_bpf_load_device_program(const kujira_bpf_insn *insns, uint32_t count, char *log, uint32_t log_size) {
    static const char license[] = "Apache";
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = count;
    attr.license = (uint64_t)(uintptr_t)license;
    if (log != NULL && log_size > 0) {
        log[0] = 0;
        attr.log_buf = (uint64_t)(uintptr_t)log;
        attr.log_size = log_size;
        attr.log_level = 1;
    }
    // bpf(2) returns descriptors with FD_CLOEXEC set.
    int fd = sys_bpf(BPF_PROG_LOAD, &attr);
    if (fd < 0 && errno == ENOSPC && log != NULL) {
        // The verifier log was too small: retry without it to get the real result.
        attr.log_buf = 0;
        attr.log_size = 0;
        attr.log_level = 0;
        fd = sys_bpf(BPF_PROG_LOAD, &attr);
    }
    return fd;
}

int kujira_bpf_attach_device_program(int prog_fd, int cgroup_fd) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (uint32_t)cgroup_fd;
    attr.attach_bpf_fd = (uint32_t)prog_fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    return sys_bpf(BPF_PROG_ATTACH, &attr);
}

int kujira_bpf_detach_device_program(int prog_fd, int cgroup_fd) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (uint32_t)cgroup_fd;
    attr.attach_bpf_fd = (uint32_t)prog_fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    return sys_bpf(BPF_PROG_DETACH, &attr);
}

int kujira_bpf_query_device_programs(int cgroup_fd, uint32_t *ids, uint32_t *count) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = (uint32_t)cgroup_fd;
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
    attr.query.prog_cnt = *count;
    int rc = sys_bpf(BPF_PROG_QUERY, &attr);
    if (rc == 0) *count = attr.query.prog_cnt;
    return rc;
}

int kujira_bpf_program_fd_by_id(uint32_t id) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_id = id;
    return sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
}
