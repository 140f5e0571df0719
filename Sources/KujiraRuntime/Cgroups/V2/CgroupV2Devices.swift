// cgroup v2 device control: v2 has no devices controller; access is decided by an eBPF
// program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup
// (Documentation/admin-guide/cgroup-v2.rst, "Device controller"). The program is generated
// from the spec's rules the way runc's devicefilter does.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CKujiraBPF
import KujiraOCI

/// One eBPF instruction (struct bpf_insn).
struct CgroupBPFInstruction: Sendable, Hashable {
    var code: UInt8
    var dst: UInt8
    var src: UInt8
    var off: Int16
    var imm: Int32
}

/// Builds and attaches the device filter program.
enum CgroupV2Devices {
    // Opcodes (linux/bpf_common.h, linux/bpf.h).
    static let loadWord: UInt8 = 0x61      // BPF_LDX | BPF_MEM | BPF_W
    static let and32Imm: UInt8 = 0x54      // BPF_ALU | BPF_AND | BPF_K
    static let rsh32Imm: UInt8 = 0x74      // BPF_ALU | BPF_RSH | BPF_K
    static let mov32Reg: UInt8 = 0xbc      // BPF_ALU | BPF_MOV | BPF_X
    static let mov64Imm: UInt8 = 0xb7      // BPF_ALU64 | BPF_MOV | BPF_K
    static let jne32Imm: UInt8 = 0x56      // BPF_JMP32 | BPF_JNE | BPF_K
    static let jne32Reg: UInt8 = 0x5e      // BPF_JMP32 | BPF_JNE | BPF_X
    static let jeq32Imm: UInt8 = 0x16      // BPF_JMP32 | BPF_JEQ | BPF_K
    static let exit: UInt8 = 0x95          // BPF_JMP | BPF_EXIT

    /// The program for `rules` (applied in order, later rules winning, on top of "deny
    /// everything"). The context is struct bpf_cgroup_dev_ctx {access_type, major, minor};
    /// access_type is (access << 16) | type with type 1 block / 2 char and access bits
    /// mknod 1, read 2, write 4. Rules are emitted last first, each returning at its first
    /// match; an allow rule matches when the requested access is within its access, a deny
    /// rule when they share any bit; nothing matching means deny.
    static func program(for rules: [LinuxDeviceCgroup]) throws -> [CgroupBPFInstruction] {
        var insns: [CgroupBPFInstruction] = [
            .init(code: loadWord, dst: 2, src: 1, off: 0, imm: 0),   // r2 = ctx->access_type
            .init(code: and32Imm, dst: 2, src: 0, off: 0, imm: 0xFFFF),  // r2 = type
            .init(code: loadWord, dst: 3, src: 1, off: 0, imm: 0),   // r3 = ctx->access_type
            .init(code: rsh32Imm, dst: 3, src: 0, off: 0, imm: 16),  // r3 = access
            .init(code: loadWord, dst: 4, src: 1, off: 4, imm: 0),   // r4 = major
            .init(code: loadWord, dst: 5, src: 1, off: 8, imm: 0),   // r5 = minor
        ]
        for rule in try rules.map(CgroupDeviceRule.init).reversed() {
            // Each jump's offset is patched to the end of its block ("try the next rule").
            var block: [CgroupBPFInstruction] = []
            if rule.type != "a" {
                block.append(.init(code: jne32Imm, dst: 2, src: 0, off: 0, imm: rule.type == "b" ? 1 : 2))
            }
            let bits = rule.access.reduce(Int32(0)) { $0 | ($1 == "m" ? 1 : $1 == "r" ? 2 : 4) }
            if bits != 7 {
                block.append(.init(code: mov32Reg, dst: 1, src: 3, off: 0, imm: 0))
                block.append(.init(code: and32Imm, dst: 1, src: 0, off: 0, imm: bits))
                if rule.allow {
                    block.append(.init(code: jne32Reg, dst: 1, src: 3, off: 0, imm: 0))  // asks for more
                } else {
                    block.append(.init(code: jeq32Imm, dst: 1, src: 0, off: 0, imm: 0))  // no overlap
                }
            }
            if let major = rule.major {
                block.append(.init(code: jne32Imm, dst: 4, src: 0, off: 0, imm: Int32(bitPattern: UInt32(major))))
            }
            if let minor = rule.minor {
                block.append(.init(code: jne32Imm, dst: 5, src: 0, off: 0, imm: Int32(bitPattern: UInt32(minor))))
            }
            let jumps = block.indices.filter { [jne32Imm, jne32Reg, jeq32Imm].contains(block[$0].code) }
            block.append(.init(code: mov64Imm, dst: 0, src: 0, off: 0, imm: rule.allow ? 1 : 0))
            block.append(.init(code: exit, dst: 0, src: 0, off: 0, imm: 0))
            for index in jumps {
                block[index].off = Int16(block.count - index - 1)
            }
            insns += block
            // A rule that matches every request ends the program: the verifier rejects
            // unreachable instructions after it.
            if jumps.isEmpty { return insns }
        }
        insns.append(.init(code: mov64Imm, dst: 0, src: 0, off: 0, imm: 0))
        insns.append(.init(code: exit, dst: 0, src: 0, off: 0, imm: 0))
        return insns
    }

    /// Loads the program for `rules`, attaches it to the cgroup at `directory`, then
    /// detaches the programs that were there before (so an `update` replaces the filter
    /// without a moment with none).
    static func apply(_ directory: String, _ rules: [LinuxDeviceCgroup]) throws {
        let insns = try program(for: rules).map {
            kujira_bpf_insn(code: $0.code, regs: ($0.src << 4) | ($0.dst & 0x0f), off: $0.off, imm: $0.imm)
        }
        let cgroupFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard cgroupFD >= 0 else {
            let code = errno
            throw CgroupError(.bpf, "cannot open cgroup \(directory) to attach the device filter", cause: CgroupErrno(code))
        }
        defer { close(cgroupFD) }

        var old = [UInt32](repeating: 0, count: 64)
        var count = UInt32(old.count)
        if kujira_bpf_query_device_programs(cgroupFD, &old, &count) != 0 {
            let code = errno
            throw CgroupError(.bpf, "cannot list the device filters of cgroup \(directory)", cause: CgroupErrno(code))
        }

        var log = [CChar](repeating: 0, count: 64 * 1024)
        let programFD = insns.withUnsafeBufferPointer { buffer in
            log.withUnsafeMutableBufferPointer {
                kujira_bpf_load_device_program(buffer.baseAddress, UInt32(buffer.count), $0.baseAddress, UInt32($0.count))
            }
        }
        guard programFD >= 0 else {
            let code = errno
            let verifier = String(
                String(decoding: log.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self).suffix(1500))
            throw CgroupError(
                .bpf, "cannot load the device filter for cgroup \(directory) (needs CAP_SYS_ADMIN or CAP_BPF)\(verifier.isEmpty ? "" : "; verifier: \(verifier)")",
                cause: CgroupErrno(code))
        }
        defer { close(programFD) }
        if kujira_bpf_attach_device_program(programFD, cgroupFD) != 0 {
            let code = errno
            throw CgroupError(.bpf, "cannot attach the device filter to cgroup \(directory)", cause: CgroupErrno(code))
        }
        for id in old.prefix(Int(count)) {
            let fd = kujira_bpf_program_fd_by_id(id)
            guard fd >= 0 else { continue }  // already gone
            defer { close(fd) }
            if kujira_bpf_detach_device_program(fd, cgroupFD) != 0 && errno != ENOENT {
                let code = errno
                throw CgroupError(.bpf, "cannot detach the old device filter \(id) from cgroup \(directory)", cause: CgroupErrno(code))
            }
        }
    }
}
