internal import CSeccomp

/// The runtime spec's seccomp vocabulary (config-linux.md, "Seccomp"): action, architecture
/// and operator names, turned into the numbers libseccomp and the kernel use.
enum SeccompSpecTerms {
    /// `SECCOMP_RET_*` action values (linux/seccomp.h), as libseccomp's `SCMP_ACT_*` macros
    /// define them; the function-like macros (`SCMP_ACT_ERRNO(x)`) do not import into Swift.
    enum Action {
        static let killProcess: UInt32 = 0x8000_0000
        static let killThread: UInt32 = 0x0000_0000
        static let trap: UInt32 = 0x0003_0000
        static let errno: UInt32 = 0x0005_0000
        static let notify: UInt32 = 0x7fc0_0000
        static let trace: UInt32 = 0x7ff0_0000
        static let log: UInt32 = 0x7ffc_0000
        static let allow: UInt32 = 0x7fff_0000
        /// The low 16 bits carry the errno of ERRNO and the message of TRACE.
        static let dataMask: UInt32 = 0x0000_ffff
    }

    /// `EPERM`, the errno of `SCMP_ACT_ERRNO`/`SCMP_ACT_TRACE` when the spec gives none.
    static let defaultErrno: UInt32 = 1

    /// The action value for `name` with `errnoRet`; `what` names the rule in errors
    /// ("the default action", "the rule for mkdir, mkdirat").
    static func action(_ name: String, errnoRet: UInt32?, what: String) throws(SecurityError) -> UInt32 {
        if let errnoRet, errnoRet > Action.dataMask {
            throw SecurityError(
                .invalidProfile,
                "errnoRet \(errnoRet) of \(what) does not fit in the 16 bits seccomp returns; use an errno below 65536"
            )
        }
        let base: UInt32
        switch name {
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": base = Action.killThread
        case "SCMP_ACT_KILL_PROCESS": base = Action.killProcess
        case "SCMP_ACT_TRAP": base = Action.trap
        case "SCMP_ACT_ALLOW": base = Action.allow
        case "SCMP_ACT_LOG": base = Action.log
        case "SCMP_ACT_NOTIFY": base = Action.notify
        case "SCMP_ACT_ERRNO":
            return Action.errno | (errnoRet ?? defaultErrno)
        case "SCMP_ACT_TRACE":
            return Action.trace | (errnoRet ?? defaultErrno)
        default:
            throw SecurityError(
                .unknownAction,
                "unknown seccomp action \"\(name)\" in \(what); use one of SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, "
                    + "SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, SCMP_ACT_TRACE, SCMP_ACT_ALLOW, "
                    + "SCMP_ACT_LOG, SCMP_ACT_NOTIFY"
            )
        }
        if let errnoRet {
            throw SecurityError(
                .invalidProfile,
                "errnoRet \(errnoRet) is set on \(what), whose action \(name) returns no errno; "
                    + "errnoRet is only for SCMP_ACT_ERRNO and SCMP_ACT_TRACE"
            )
        }
        return base
    }

    /// Whether an action lets the syscall run (the ENOSYS stub is pointless behind these).
    static func isPermissive(_ action: UInt32) -> Bool {
        action == Action.allow || action == Action.log
    }

    /// The libseccomp architecture token (an `AUDIT_ARCH_*` value, or x32's pseudo value)
    /// for a spec name such as `SCMP_ARCH_X86_64`.
    static func architecture(_ name: String) throws(SecurityError) -> UInt32 {
        let prefix = "SCMP_ARCH_"
        let short = name.hasPrefix(prefix) ? String(name.dropFirst(prefix.count)) : name
        let token = short.lowercased().withCString { seccomp_arch_resolve_name($0) }
        guard name.hasPrefix(prefix), token != 0 else {
            throw SecurityError(
                .unknownArchitecture,
                "unknown seccomp architecture \"\(name)\": libseccomp \(libseccompVersion) knows names such as "
                    + "SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_AARCH64, SCMP_ARCH_ARM, SCMP_ARCH_RISCV64"
            )
        }
        return token
    }

    /// The spec name (`SCMP_ARCH_…`) of a libseccomp architecture token, for messages.
    /// libseccomp 2.5 has no reverse of `seccomp_arch_resolve_name`, so this tries the names
    /// it knows.
    static func architectureName(_ token: UInt32) -> String {
        let names = [
            "x86", "x86_64", "x32", "arm", "aarch64", "mips", "mipsel", "mips64", "mipsel64", "mips64n32",
            "mipsel64n32", "parisc", "parisc64", "ppc", "ppc64", "ppc64le", "s390", "s390x", "riscv64",
        ]
        for name in names where name.withCString({ seccomp_arch_resolve_name($0) }) == token {
            return "SCMP_ARCH_" + name.uppercased()
        }
        return "architecture 0x" + String(token, radix: 16)
    }

    /// The libseccomp comparison for a spec operator name such as `SCMP_CMP_MASKED_EQ`.
    static func comparison(_ name: String, what: String) throws(SecurityError) -> scmp_compare {
        let raw: UInt32
        switch name {
        case "SCMP_CMP_NE": raw = 1
        case "SCMP_CMP_LT": raw = 2
        case "SCMP_CMP_LE": raw = 3
        case "SCMP_CMP_EQ": raw = 4
        case "SCMP_CMP_GE": raw = 5
        case "SCMP_CMP_GT": raw = 6
        case "SCMP_CMP_MASKED_EQ": raw = 7
        default:
            throw SecurityError(
                .unknownOperator,
                "unknown seccomp operator \"\(name)\" in \(what); use one of SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, "
                    + "SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ"
            )
        }
        return scmp_compare(rawValue: raw)
    }

    /// The libseccomp version linked at run time, e.g. `2.5.4`.
    static var libseccompVersion: String {
        guard let version = seccomp_version() else { return "(unknown version)" }
        return "\(version.pointee.major).\(version.pointee.minor).\(version.pointee.micro)"
    }
}
