internal import CKujiraRuntime

/// What kujira-init does, computed by the Swift side from a runtime ``Spec`` (or an exec
/// request): everything that needs no namespace is decided here, so that the C init only
/// executes a list of steps. Encoded with ``encoded()`` into the record format of
/// `KujiraInitProtocol.h` (Docs/runtime.md, "Plan format").
struct InitPlan: Sendable, Equatable {
    /// Whether the init builds a new container or joins an existing one.
    enum Mode: UInt64, Sendable { case create = 1, exec = 2 }

    /// A namespace joined by path.
    struct NamespaceJoin: Sendable, Equatable {
        var flag: UInt64
        var path: String
    }

    /// A resource limit by `RLIMIT_*` number.
    struct Rlimit: Sendable, Equatable {
        var resource: UInt64
        var soft: UInt64
        var hard: UInt64
    }

    /// The five capability sets as bitmasks.
    struct CapabilitySets: Sendable, Equatable {
        var bounding: UInt64 = 0, effective: UInt64 = 0, permitted: UInt64 = 0, inheritable: UInt64 = 0, ambient: UInt64 = 0
    }

    /// A mount step: a filesystem mount, a bind (`flags` has MS_BIND) or a remount (MS_REMOUNT).
    struct MountStep: Sendable, Equatable {
        var source: String?
        var destination: String
        var type: String?
        var flags: UInt64
        var propagation: UInt64 = 0
        var data: String?
        /// `MOUNT_ATTR_*` bits cleared and set on the mount and every mount below it (`rro`, …).
        var recursiveClear: UInt64 = 0
        var recursiveSet: UInt64 = 0
        /// An id-mapped bind: the maps of its helper user namespace (IdmappedMounts.swift).
        var idmap: IDMappedMount?
        /// `tmpcopyup`: the tmpfs gets the content of the directory it covers.
        var tmpCopyUp = false
    }

    /// A device node step.
    struct DeviceStep: Sendable, Equatable {
        var path: String
        var mode: UInt64
        var major: UInt64
        var minor: UInt64
        var uid: UInt64
        var gid: UInt64
        var bindFromHost: Bool
    }

    /// A createContainer or startContainer hook, which kujira-init runs itself.
    struct InitHook: Sendable, Equatable {
        enum Stage: UInt64, Sendable { case createContainer = 1, startContainer = 2 }
        var stage: Stage
        var path: String
        var args: [String]
        var env: [String]
        var timeout: UInt64?
    }

    /// One rootfs operation, run in order before pivot_root.
    enum Operation: Sendable, Equatable {
        case mount(MountStep)
        case device(DeviceStep)
        case symlink(path: String, target: String)
        case mask(String)
        case readonly(String)
        case makeDirectory(String)
        case hooks
    }

    var mode: Mode = .create
    var rootfs: String?
    var rootReadonly = false
    var noPivot = false
    var rootPropagation: UInt64 = 0
    var cloneFlags: UInt64 = 0
    var joins: [NamespaceJoin] = []
    /// Whether the parent writes uid/gid maps after the init unshared its user namespace.
    var writesIDMaps = false
    var hostname: String?
    var domainname: String?
    /// `key=value`, key relative to /proc/sys (`net/ipv4/ip_forward=1`).
    var sysctls: [String] = []
    var rlimits: [Rlimit] = []
    var oomScoreAdj: Int?
    var uid: UInt32 = 0
    var gid: UInt32 = 0
    var additionalGids: [UInt32] = []
    var setgroups = true
    var umask: UInt32 = 0o022
    var capabilities: CapabilitySets?
    var noNewPrivileges = false
    var seccomp: SeccompProgram?
    var cwd = "/"
    var args: [String] = []
    var env: [String] = []
    var preserveFDs: UInt32 = 0
    var consoleFD: Int32?
    var consoleSize: (rows: UInt64, columns: UInt64)?
    var fifoFD: Int32?
    var setsid = true
    var timensOffsets: String?
    var operations: [Operation] = []
    /// createContainer and startContainer hooks, in spec order per stage.
    var hooks: [InitHook] = []
    /// personality(2) persona (`linux.personality`).
    var personality: UInt64?
    /// ioprio_set(2) value (`process.ioPriority`).
    var ioPriority: UInt64?
    /// sched_setattr(2) attributes (`process.scheduler`).
    var scheduler: SchedulerAttributes?
    /// Whether the runtime joins the container process to its cgroups while it builds the
    /// rootfs, and the init waits for KJ_MSG_JOINED before anything else.
    var awaitsJoin = false
    /// The session keyring the process joins (`_ses.<id>`), nil to keep the caller's.
    var sessionKeyring: String?
    /// The cpu list kujira-init sets right before execve (`process.execCPUAffinity.final`, exec only).
    var cpuAffinity: String?
    /// What the caller should log as warnings (unknown capability names); not sent to the init.
    var warnings: [String] = []

    static func == (a: InitPlan, b: InitPlan) -> Bool { a.encoded() == b.encoded() }

    /// The plan as the records kujira-init parses.
    func encoded() -> [UInt8] {
        var w = PlanWriter()
        w.u64(KJ_T_MODE, mode.rawValue)
        if let rootfs { w.string(KJ_T_ROOTFS, rootfs) }
        w.u64(KJ_T_ROOT_READONLY, rootReadonly ? 1 : 0)
        w.u64(KJ_T_NO_PIVOT, noPivot ? 1 : 0)
        if rootPropagation != 0 { w.u64(KJ_T_ROOT_PROPAGATION, rootPropagation) }
        w.u64(KJ_T_CLONE_FLAGS, cloneFlags)
        for join in joins {
            var payload = PlanWriter.littleEndian(join.flag)
            payload += Array(join.path.utf8) + [0]
            w.raw(KJ_T_NS_JOIN, payload)
        }
        w.u64(KJ_T_USERNS_MAPS, writesIDMaps ? 1 : 0)
        if let hostname { w.string(KJ_T_HOSTNAME, hostname) }
        if let domainname { w.string(KJ_T_DOMAINNAME, domainname) }
        for sysctl in sysctls { w.string(KJ_T_SYSCTL, sysctl) }
        for limit in rlimits {
            w.raw(KJ_T_RLIMIT, PlanWriter.littleEndian(limit.resource) + PlanWriter.littleEndian(limit.soft) + PlanWriter.littleEndian(limit.hard))
        }
        if let oomScoreAdj {
            w.u64(KJ_T_OOM_SET, 1)
            w.u64(KJ_T_OOM_SCORE_ADJ, UInt64(bitPattern: Int64(oomScoreAdj)))
        }
        w.u64(KJ_T_UID, UInt64(uid))
        w.u64(KJ_T_GID, UInt64(gid))
        for gid in additionalGids { w.u64(KJ_T_ADDITIONAL_GID, UInt64(gid)) }
        w.u64(KJ_T_SETGROUPS, setgroups ? 1 : 0)
        w.u64(KJ_T_UMASK, UInt64(umask))
        if let caps = capabilities {
            w.raw(KJ_T_CAPS, [caps.bounding, caps.effective, caps.permitted, caps.inheritable, caps.ambient].flatMap(PlanWriter.littleEndian))
        }
        w.u64(KJ_T_NO_NEW_PRIVS, noNewPrivileges ? 1 : 0)
        if let seccomp {
            w.raw(KJ_T_SECCOMP, seccomp.bpf)
            w.u64(KJ_T_SECCOMP_FLAGS, UInt64(seccomp.flags))
            if seccomp.needsListener { w.u64(KJ_T_SECCOMP_LISTENER, 1) }
        }
        w.string(KJ_T_CWD, cwd)
        for arg in args { w.string(KJ_T_ARG, arg) }
        for variable in env { w.string(KJ_T_ENV, variable) }
        w.u64(KJ_T_PRESERVE_FDS, UInt64(preserveFDs))
        if let consoleFD { w.u64(KJ_T_CONSOLE_FD, UInt64(consoleFD)) }
        if let size = consoleSize { w.raw(KJ_T_CONSOLE_SIZE, PlanWriter.littleEndian(size.rows) + PlanWriter.littleEndian(size.columns)) }
        if let fifoFD { w.u64(KJ_T_FIFO_FD, UInt64(fifoFD)) }
        w.u64(KJ_T_SETSID, setsid ? 1 : 0)
        if let timensOffsets { w.string(KJ_T_TIMENS_OFFSETS, timensOffsets) }
        encodeScheduling(&w)
        for hook in hooks {
            w.u64(KJ_T_HOOK, hook.stage.rawValue)
            w.string(KJ_T_HOOK_PATH, hook.path)
            for arg in hook.args { w.string(KJ_T_HOOK_ARG, arg) }
            for variable in hook.env { w.string(KJ_T_HOOK_ENV, variable) }
            if let timeout = hook.timeout { w.u64(KJ_T_HOOK_TIMEOUT, timeout) }
        }
        for operation in operations { w.operation(operation) }
        return w.bytes
    }
}

/// Writes plan records: [u32 tag][u32 length][payload], little-endian.
struct PlanWriter {
    var bytes: [UInt8] = []

    static func littleEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    private static func littleEndian32(_ value: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    mutating func raw(_ tag: Int32, _ payload: [UInt8]) {
        bytes += Self.littleEndian32(UInt32(tag)) + Self.littleEndian32(UInt32(payload.count)) + payload
    }

    mutating func u64(_ tag: Int32, _ value: UInt64) { raw(tag, Self.littleEndian(value)) }

    /// A string record; the builder has already refused strings with NUL bytes.
    mutating func string(_ tag: Int32, _ value: String) { raw(tag, Array(value.utf8) + [0]) }

    mutating func operation(_ operation: InitPlan.Operation) {
        switch operation {
        case .mount(let m):
            raw(KJ_OP_MOUNT, [])
            if let source = m.source { string(KJ_F_SOURCE, source) }
            string(KJ_F_DEST, m.destination)
            if let type = m.type { string(KJ_F_TYPE, type) }
            u64(KJ_F_FLAGS, m.flags)
            if m.propagation != 0 { u64(KJ_F_PROPAGATION, m.propagation) }
            if let data = m.data, !data.isEmpty { string(KJ_F_DATA, data) }
            if m.recursiveClear != 0 || m.recursiveSet != 0 {
                raw(KJ_F_RECURSIVE_ATTR, Self.littleEndian(m.recursiveClear) + Self.littleEndian(m.recursiveSet))
            }
            if let idmap = m.idmap {
                string(KJ_F_IDMAP_UID, idmap.uidMap)
                string(KJ_F_IDMAP_GID, idmap.gidMap)
                u64(KJ_F_IDMAP_RECURSIVE, idmap.recursive ? 1 : 0)
            }
            if m.tmpCopyUp { u64(KJ_F_TMPCOPYUP, 1) }
        case .device(let d):
            raw(KJ_OP_DEVICE, [])
            string(KJ_F_DEST, d.path)
            u64(KJ_F_MODE, d.mode)
            u64(KJ_F_MAJOR, d.major)
            u64(KJ_F_MINOR, d.minor)
            u64(KJ_F_UID, d.uid)
            u64(KJ_F_GID, d.gid)
            u64(KJ_F_BIND_DEVICE, d.bindFromHost ? 1 : 0)
        case .symlink(let path, let target):
            raw(KJ_OP_SYMLINK, [])
            string(KJ_F_DEST, path)
            string(KJ_F_TARGET, target)
        case .mask(let path):
            raw(KJ_OP_MASK, [])
            string(KJ_F_DEST, path)
        case .readonly(let path):
            raw(KJ_OP_READONLY, [])
            string(KJ_F_DEST, path)
        case .makeDirectory(let path):
            raw(KJ_OP_MKDIR, [])
            string(KJ_F_DEST, path)
        case .hooks:
            raw(KJ_OP_HOOKS, [])
        }
    }
}
