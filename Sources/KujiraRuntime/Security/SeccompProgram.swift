/// A seccomp filter compiled in the runtime's parent process, ready for the container init
/// to install with `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`.
///
/// The init is a small single-threaded C program, so it cannot link libseccomp's rule
/// compiler safely between `clone` and `exec`; ``SeccompCompiler`` does that work here and
/// the init only copies ``bpf`` into a `struct sock_fprog`:
///
/// ```c
/// struct sock_fprog prog = { .len = plan->bpf_len / 8, .filter = (struct sock_filter *)plan->bpf };
/// unsigned int flags = plan->flags | (plan->needs_listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0);
/// int fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
/// ```
public struct SeccompProgram: Hashable, Sendable {
    /// The classic BPF program: an array of `struct sock_filter` (`u16 code, u8 jt, u8 jf,
    /// u32 k`, 8 bytes each, host byte order), ENOSYS stub first (see ``enosysStubLength``).
    public var bpf: [UInt8]
    /// `SECCOMP_FILTER_FLAG_*` bits for `seccomp(2)` from the spec's `flags`
    /// (`TSYNC`, `LOG`, `SPEC_ALLOW`, `WAIT_KILLABLE_RECV`). `NEW_LISTENER` is never set
    /// here: the init adds it when ``needsListener`` is true.
    public var flags: UInt32
    /// Whether a rule uses `SCMP_ACT_NOTIFY`: the init must pass
    /// `SECCOMP_FILTER_FLAG_NEW_LISTENER` and send the returned fd to ``listenerPath``.
    public var needsListener: Bool
    /// The spec's `listenerPath`: the UNIX socket that receives the notify fd.
    public var listenerPath: String?
    /// The spec's `listenerMetadata`, sent to the listener with the fd.
    public var listenerMetadata: String?
    /// Whether the init must install the filter before it drops capabilities (the process
    /// keeps `no_new_privs` off, so `seccomp(2)` needs `CAP_SYS_ADMIN`), as runc does when
    /// `noNewPrivileges` is false; otherwise the filter goes in last, right before `execve`.
    public var installBeforeDroppingCapabilities: Bool
    /// Syscall names of the profile that libseccomp does not know, skipped as runc skips
    /// them (a profile written for a newer kernel stays usable). For `--debug` logs.
    public var skippedSyscalls: [String]
    /// Other things the compiler left out, one sentence each (a rule whose action equals the
    /// default action, …). For `--debug` logs.
    public var notes: [String]
    /// How many instructions at the start of ``bpf`` are Kujira's ENOSYS stub (0 when
    /// there is none): syscalls numbered above every syscall the profile names fail with
    /// `ENOSYS` instead of the default action, so that programs fall back from syscalls
    /// newer than the profile (runc ≥ 1.0.0-rc93 does the same).
    public var enosysStubLength: Int

    /// The number of BPF instructions (the `len` of `struct sock_fprog`).
    public var instructionCount: Int { bpf.count / SeccompProgram.instructionSize }

    /// The size of one `struct sock_filter`.
    public static let instructionSize = 8
    /// The kernel's limit on the length of one filter (`BPF_MAXINSNS`).
    public static let maximumInstructions = 4096

    /// Creates a value.
    public init(
        bpf: [UInt8], flags: UInt32, needsListener: Bool, listenerPath: String? = nil,
        listenerMetadata: String? = nil, installBeforeDroppingCapabilities: Bool = false,
        skippedSyscalls: [String] = [], notes: [String] = [], enosysStubLength: Int = 0
    ) {
        self.bpf = bpf
        self.flags = flags
        self.needsListener = needsListener
        self.listenerPath = listenerPath
        self.listenerMetadata = listenerMetadata
        self.installBeforeDroppingCapabilities = installBeforeDroppingCapabilities
        self.skippedSyscalls = skippedSyscalls
        self.notes = notes
        self.enosysStubLength = enosysStubLength
    }
}

/// The `SECCOMP_FILTER_FLAG_*` bits of `seccomp(2)` (linux/seccomp.h), which Swift's Glibc
/// module does not import.
public enum SeccompFilterFlag {
    /// `SECCOMP_FILTER_FLAG_TSYNC`: apply the filter to every thread of the process.
    public static let tsync: UInt32 = 1 << 0
    /// `SECCOMP_FILTER_FLAG_LOG`: log every action except `SECCOMP_RET_ALLOW`.
    public static let log: UInt32 = 1 << 1
    /// `SECCOMP_FILTER_FLAG_SPEC_ALLOW`: keep Speculative Store Bypass mitigation off.
    public static let specAllow: UInt32 = 1 << 2
    /// `SECCOMP_FILTER_FLAG_NEW_LISTENER`: return a user-notification fd (set by the init).
    public static let newListener: UInt32 = 1 << 3
    /// `SECCOMP_FILTER_FLAG_TSYNC_ESRCH`: report TSYNC failure as ESRCH (with NEW_LISTENER).
    public static let tsyncESRCH: UInt32 = 1 << 4
    /// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`: notified tasks wait killably (Linux 5.19).
    public static let waitKillableRecv: UInt32 = 1 << 5

    /// The flag names the runtime spec allows in `linux.seccomp.flags`, with their bits.
    public static let byName: [String: UInt32] = [
        "SECCOMP_FILTER_FLAG_TSYNC": tsync,
        "SECCOMP_FILTER_FLAG_LOG": log,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW": specAllow,
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": waitKillableRecv,
    ]
}
