internal import CSeccomp
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// The classic-BPF prologue that makes syscalls newer than a profile fail with `ENOSYS`.
///
/// A profile lists the syscalls it knows; anything else gets the default action, usually
/// `EPERM`. For a syscall added to the kernel after the profile was written, `EPERM` is the
/// wrong answer: glibc and other libraries fall back to an older syscall only on `ENOSYS`
/// (clone3 → clone, statx → fstatat, …). runc (≥ 1.0.0-rc93) therefore puts a stub in
/// front of libseccomp's filter that returns `ENOSYS` for syscall numbers above the largest
/// number the profile names, per architecture; Kujira does the same:
///
/// ```
///     ld  [4]                          ; seccomp_data.arch
///     jeq AUDIT_ARCH_X86_64, x86_64    ; one test per architecture in the filter
///     ja  program                      ; an architecture the stub does not cover
/// x86_64:
///     ld  [0]                          ; seccomp_data.nr
///     jset 0x40000000, x32, 0          ; x32 syscalls share the x86_64 audit arch
///     jgt <last x86_64 nr>, enosys, program
/// x32:
///     jgt <last x32 nr>, enosys, program
/// enosys:
///     ret SECCOMP_RET_ERRNO | ENOSYS
/// program:                             ; libseccomp's filter, unchanged
/// ```
///
/// Classic BPF jumps are relative and only forward, so prepending leaves libseccomp's
/// program valid as it is.
enum SeccompEnosysStub {
    /// `AUDIT_ARCH_X86_64`; x32 programs run under it with `__X32_SYSCALL_BIT` set.
    static let auditArchX86_64: UInt32 = 0xC000_003E
    /// libseccomp's pseudo token for x32 (`EM_X86_64 | __AUDIT_ARCH_LE`).
    static let scmpArchX32: UInt32 = 0x4000_003E
    /// `__X32_SYSCALL_BIT`.
    static let x32SyscallBit: UInt32 = 0x4000_0000

    /// The stub for a filter over `architectures` (libseccomp tokens) whose rules name
    /// `syscallNames`, as bytes of `struct sock_filter`. Empty when no architecture has a
    /// known syscall.
    static func make(architectures: [UInt32], syscallNames: [String]) throws(SecurityError) -> [UInt8] {
        var sections: [Section] = []
        for token in architectures {
            let last = lastSyscall(of: syscallNames, on: token)
            let audit = token == scmpArchX32 ? auditArchX86_64 : token
            var section = sections.first { $0.auditArch == audit } ?? Section(auditArch: audit)
            if token == scmpArchX32 { section.lastX32 = last } else { section.last = last }
            section.splitsX32 = audit == auditArchX86_64
            sections.removeAll { $0.auditArch == audit }
            sections.append(section)
        }
        sections.removeAll { $0.last == nil && $0.lastX32 == nil }
        if sections.isEmpty { return [] }

        var code: [Assembler.Statement] = [.load(offset: 4)]
        for (index, section) in sections.enumerated() {
            code.append(.jump(.jeq, section.auditArch, whenTrue: .section(index), whenFalse: .next))
        }
        code.append(.always(.program))
        for (index, section) in sections.enumerated() {
            code.append(.label(.section(index)))
            code.append(.load(offset: 0))
            if section.splitsX32 {
                code.append(.jump(.jset, x32SyscallBit, whenTrue: section.lastX32 == nil ? .program : .x32(index), whenFalse: .next))
            }
            if let last = section.last {
                code.append(.jump(.jgt, last, whenTrue: .enosys, whenFalse: .program))
            } else {
                code.append(.always(.program))
            }
            if section.splitsX32, let lastX32 = section.lastX32 {
                code.append(.label(.x32(index)))
                code.append(.jump(.jgt, lastX32, whenTrue: .enosys, whenFalse: .program))
            }
        }
        code.append(.label(.enosys))
        code.append(.ret(SeccompSpecTerms.Action.errno | UInt32(ENOSYS)))
        return try Assembler.assemble(code)
    }

    /// The largest syscall number among `names` on architecture `token`, or nil when none
    /// exists there (negative numbers are libseccomp's pseudo-syscalls).
    private static func lastSyscall(of names: [String], on token: UInt32) -> UInt32? {
        var last: Int32 = -1
        for name in names {
            let number = name.withCString { seccomp_syscall_resolve_name_arch(token, $0) }
            last = max(last, number)
        }
        return last >= 0 ? UInt32(last) : nil
    }

    /// What the stub checks for one audit architecture.
    private struct Section {
        var auditArch: UInt32
        var last: UInt32?
        var lastX32: UInt32?
        var splitsX32 = false
    }
}

/// A two-pass assembler for the few classic BPF statements the stub needs, with labels
/// instead of hand-counted jump offsets.
private enum Assembler {
    enum Label: Hashable {
        case next, program, enosys
        case section(Int)
        case x32(Int)
    }

    enum Condition {
        case jeq, jgt, jset
        var code: UInt16 {
            switch self {
            case .jeq: 0x15  // BPF_JMP | BPF_JEQ | BPF_K
            case .jgt: 0x25  // BPF_JMP | BPF_JGT | BPF_K
            case .jset: 0x45  // BPF_JMP | BPF_JSET | BPF_K
            }
        }
    }

    enum Statement {
        case load(offset: UInt32)
        case jump(Condition, UInt32, whenTrue: Label, whenFalse: Label)
        case always(Label)
        case ret(UInt32)
        case label(Label)
    }

    static func assemble(_ statements: [Statement]) throws(SecurityError) -> [UInt8] {
        var positions: [Label: Int] = [:]
        var count = 0
        for statement in statements {
            if case .label(let label) = statement { positions[label] = count } else { count += 1 }
        }
        positions[.program] = count  // libseccomp's program follows the stub

        var bytes: [UInt8] = []
        var position = 0
        func offset(_ label: Label) throws(SecurityError) -> Int {
            if label == .next { return 0 }
            guard let target = positions[label] else {
                throw SecurityError(.invalidProfile, "internal error: the ENOSYS stub jumps to an unplaced label \(label)")
            }
            return target - position - 1
        }
        for statement in statements {
            switch statement {
            case .label:
                continue
            case .load(let field):
                emit(&bytes, code: 0x20, jt: 0, jf: 0, k: field)  // BPF_LD | BPF_W | BPF_ABS
            case .ret(let value):
                emit(&bytes, code: 0x06, jt: 0, jf: 0, k: value)  // BPF_RET | BPF_K
            case .always(let label):
                emit(&bytes, code: 0x05, jt: 0, jf: 0, k: UInt32(try offset(label)))  // BPF_JMP | BPF_JA
            case .jump(let condition, let value, let whenTrue, let whenFalse):
                let jt = try offset(whenTrue)
                let jf = try offset(whenFalse)
                guard (0...255).contains(jt), (0...255).contains(jf) else {
                    throw SecurityError(
                        .invalidProfile,
                        "the seccomp ENOSYS stub needs a jump of \(max(jt, jf)) instructions, more than BPF's 255; "
                            + "list fewer architectures in the profile"
                    )
                }
                emit(&bytes, code: condition.code, jt: UInt8(jt), jf: UInt8(jf), k: value)
            }
            position += 1
        }
        return bytes
    }

    /// Appends one `struct sock_filter` in host byte order.
    private static func emit(_ bytes: inout [UInt8], code: UInt16, jt: UInt8, jf: UInt8, k: UInt32) {
        withUnsafeBytes(of: code) { bytes.append(contentsOf: $0) }
        bytes.append(jt)
        bytes.append(jf)
        withUnsafeBytes(of: k) { bytes.append(contentsOf: $0) }
    }
}
