/// Capability names (`CAP_*`) and their numbers (linux/capability.h), for turning the spec's
/// name lists into the bitmasks kujira-init hands to capset(2). The Security/ module's table
/// replaces this one when it merges (Docs/runtime.md, "Extension points").
enum CapabilityNumbers {
    static let byName: [String: Int] = [
        "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
        "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
        "CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
        "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
        "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
        "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
        "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
        "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
        "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
        "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
        "CAP_CHECKPOINT_RESTORE": 40,
    ]

    /// All known names, in number order (for `features`).
    static var allNames: [String] { byName.sorted { $0.value < $1.value }.map(\.key) }

    /// The bitmask of `names`, and the names this table does not know. An unknown name is
    /// not an error: the spec says a capability that cannot be mapped to the kernel MUST be
    /// logged as a warning and SHOULD NOT fail the container (config.md, "capabilities"), and
    /// runc ignores it with a warning too.
    static func mask(_ names: [String]?) -> (mask: UInt64, unknown: [String]) {
        var mask: UInt64 = 0
        var unknown: [String] = []
        for name in names ?? [] {
            guard let number = byName[name.uppercased()] else {
                unknown.append(name)
                continue
            }
            mask |= 1 << UInt64(number)
        }
        return (mask, unknown)
    }
}

/// `RLIMIT_*` names and numbers (asm-generic/resource.h).
enum RlimitNumbers {
    static let byName: [String: UInt64] = [
        "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
        "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
        "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
        "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
    ]
}

/// `CLONE_NEW*` flags by runtime-spec namespace type, and the names under /proc/<pid>/ns.
enum NamespaceFlags {
    static let user: UInt64 = 0x1000_0000
    static let time: UInt64 = 0x80
    static let all: [(type: String, flag: UInt64, procName: String)] = [
        ("user", 0x1000_0000, "user"), ("pid", 0x2000_0000, "pid"), ("network", 0x4000_0000, "net"),
        ("mount", 0x0002_0000, "mnt"), ("ipc", 0x0800_0000, "ipc"), ("uts", 0x0400_0000, "uts"),
        ("cgroup", 0x0200_0000, "cgroup"), ("time", 0x80, "time"),
    ]

    static func flag(_ type: String) -> UInt64? { all.first { $0.type == type }?.flag }
}
