public import KujiraOCI

/// A compiled seccomp filter: the bytes of a `struct sock_filter[]` (8 bytes per instruction,
/// host byte order) and the `SECCOMP_FILTER_FLAG_*` flags to install it with. kujira-init
/// installs it with `seccomp(SECCOMP_SET_MODE_FILTER)` as its last step before `execve`.
public struct SeccompProgram: Sendable, Equatable {
    /// The BPF program, `struct sock_filter` records.
    public var filter: [UInt8]
    /// `SECCOMP_FILTER_FLAG_*` flags (TSYNC is never needed: the init is single-threaded).
    public var flags: UInt64

    /// Creates a program from compiled filter bytes.
    public init(filter: [UInt8], flags: UInt64 = 0) {
        self.filter = filter
        self.flags = flags
    }
}

/// Compiles a runtime-spec seccomp section into a BPF program (the seccomp engineer's
/// `Security/` code provides one; see Docs/runtime.md, "Extension points").
public typealias SeccompCompiler = @Sendable (LinuxSeccomp) throws -> SeccompProgram
