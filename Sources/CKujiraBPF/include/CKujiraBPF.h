// CKujiraBPF: the bpf(2) calls of the cgroup v2 device filter (BPF_PROG_TYPE_CGROUP_DEVICE).
// glibc has no bpf(2) wrapper and union bpf_attr does not import well into Swift, so these
// small functions fill the attribute unions in C.
#ifndef CKUJIRABPF_H
#define CKUJIRABPF_H

#include <stdint.h>
#include <stddef.h>

/// One eBPF instruction, laid out as struct bpf_insn (linux/bpf.h): the two 4-bit register
/// fields are packed into `regs` as (src << 4) | dst on little-endian hosts.
typedef struct {
    uint8_t code;
    uint8_t regs;
    int16_t off;
    int32_t imm;
} kujira_bpf_insn;

/// Loads a BPF_PROG_TYPE_CGROUP_DEVICE program. `log` (may be NULL) receives the verifier's
/// messages on failure. Returns the program fd (O_CLOEXEC, as every bpf fd), or -1 with errno.
int kujira_bpf_load_device_program(const kujira_bpf_insn *insns, uint32_t count,
                                   char *log, uint32_t log_size);

/// Attaches `prog_fd` to the cgroup open at `cgroup_fd` as BPF_CGROUP_DEVICE with
/// BPF_F_ALLOW_MULTI. Returns 0, or -1 with errno.
int kujira_bpf_attach_device_program(int prog_fd, int cgroup_fd);

/// Detaches `prog_fd` from the cgroup's BPF_CGROUP_DEVICE programs. Returns 0, or -1 with errno.
int kujira_bpf_detach_device_program(int prog_fd, int cgroup_fd);

/// Lists the ids of the BPF_CGROUP_DEVICE programs attached directly to the cgroup: on
/// entry `*count` is the capacity of `ids`, on return the number of programs. Returns 0,
/// or -1 with errno.
int kujira_bpf_query_device_programs(int cgroup_fd, uint32_t *ids, uint32_t *count);

/// Opens the program with id `id`. Returns an fd, or -1 with errno.
int kujira_bpf_program_fd_by_id(uint32_t id);

#endif
