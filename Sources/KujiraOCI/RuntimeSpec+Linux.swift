// The Linux-specific container configuration of the OCI runtime spec 1.2
// (runtime-spec config-linux.md): namespaces, ID mappings, devices, seccomp and the rest of
// `linux` except `linux.resources`, which is in RuntimeSpec+Resources.swift.

/// The `linux` object of a container configuration (config-linux.md).
public struct Linux: Codable, Hashable, Sendable {
    /// `namespaces`: the namespaces to create or join ("Namespaces").
    public var namespaces: [LinuxNamespace]?
    /// `uidMappings`: user-ID mappings of the user namespace ("User namespace mappings").
    public var uidMappings: [LinuxIDMapping]?
    /// `gidMappings`: group-ID mappings of the user namespace.
    public var gidMappings: [LinuxIDMapping]?
    /// `timeOffsets`: offsets of the time namespace, keyed by clock (`boottime`, `monotonic`)
    /// ("Offset for Time Namespace").
    public var timeOffsets: [String: LinuxTimeOffset]?
    /// `devices`: devices to create in the container ("Devices").
    public var devices: [LinuxDevice]?
    /// `cgroupsPath`: the cgroup path, absolute or relative to the runtime's cgroup root;
    /// `slice:prefix:name` with the systemd driver ("Control groups").
    public var cgroupsPath: String?
    /// `resources`: cgroup resource limits ("Control groups").
    public var resources: LinuxResources?
    /// `rootfsPropagation`: the propagation of the root mount: `shared`, `slave`, `private` or
    /// `unbindable`.
    public var rootfsPropagation: String?
    /// `seccomp`: the seccomp filter ("Seccomp").
    public var seccomp: LinuxSeccomp?
    /// `sysctl`: kernel parameters to set in the container ("Sysctl").
    public var sysctl: [String: String]?
    /// `maskedPaths`: paths to hide from the container, over-mounted so they cannot be read
    /// ("Masked Paths").
    public var maskedPaths: [String]?
    /// `readonlyPaths`: paths to make read-only in the container ("Readonly Paths").
    public var readonlyPaths: [String]?
    /// `mountLabel`: the SELinux context of the container's mounts ("Mount Label").
    public var mountLabel: String?
    /// `intelRdt`: Intel Resource Director Technology settings ("IntelRdt").
    public var intelRdt: LinuxIntelRdt?
    /// `personality`: the execution domain of the process ("Personality").
    public var personality: LinuxPersonality?
    /// `netDevices`: host network interfaces to move into the container's network namespace,
    /// keyed by their name on the host ("Network Devices", runtime-spec 1.2.1).
    public var netDevices: [String: LinuxNetDevice]?

    /// Creates a value; optional fields default to absent.
    public init(
        namespaces: [LinuxNamespace]? = nil, uidMappings: [LinuxIDMapping]? = nil,
        gidMappings: [LinuxIDMapping]? = nil, timeOffsets: [String: LinuxTimeOffset]? = nil,
        devices: [LinuxDevice]? = nil, cgroupsPath: String? = nil, resources: LinuxResources? = nil,
        rootfsPropagation: String? = nil, seccomp: LinuxSeccomp? = nil, sysctl: [String: String]? = nil,
        maskedPaths: [String]? = nil, readonlyPaths: [String]? = nil, mountLabel: String? = nil,
        intelRdt: LinuxIntelRdt? = nil, personality: LinuxPersonality? = nil,
        netDevices: [String: LinuxNetDevice]? = nil
    ) {
        self.namespaces = namespaces
        self.uidMappings = uidMappings
        self.gidMappings = gidMappings
        self.timeOffsets = timeOffsets
        self.devices = devices
        self.cgroupsPath = cgroupsPath
        self.resources = resources
        self.rootfsPropagation = rootfsPropagation
        self.seccomp = seccomp
        self.sysctl = sysctl
        self.maskedPaths = maskedPaths
        self.readonlyPaths = readonlyPaths
        self.mountLabel = mountLabel
        self.intelRdt = intelRdt
        self.personality = personality
        self.netDevices = netDevices
    }
}

/// A host network interface moved into the container (config-linux.md, "Network Devices"):
/// the value of a `linux.netDevices` entry, whose key is the interface's name on the host.
public struct LinuxNetDevice: Codable, Hashable, Sendable {
    /// `name`: the interface's name in the container; the host name when absent.
    public var name: String?

    /// Creates a value; the name defaults to absent (keep the host name).
    public init(name: String? = nil) {
        self.name = name
    }
}

/// A namespace of the container (config-linux.md, "Namespaces"): created when `path` is absent,
/// joined when it is given.
public struct LinuxNamespace: Codable, Hashable, Sendable {
    /// `type`: the kind of namespace. Required.
    public var type: LinuxNamespaceType
    /// `path`: a namespace file to join, such as `/proc/1234/ns/net`.
    public var path: String?

    /// Creates a value; optional fields default to absent.
    public init(type: LinuxNamespaceType, path: String? = nil) {
        self.type = type
        self.path = path
    }
}

/// The kind of a Linux namespace (config-linux.md, "Namespaces", `type`). A struct of
/// static members rather than an enum, so unknown kinds still decode and round-trip.
public struct LinuxNamespaceType: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
    /// The JSON value, e.g. `network`.
    public let rawValue: String
    /// Creates a kind from its JSON value.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// The JSON value.
    public var description: String { rawValue }

    /// `pid`: process IDs (`CLONE_NEWPID`).
    public static let pid = LinuxNamespaceType(rawValue: "pid")
    /// `network`: network devices, stacks and ports (`CLONE_NEWNET`).
    public static let network = LinuxNamespaceType(rawValue: "network")
    /// `mount`: the mount table (`CLONE_NEWNS`).
    public static let mount = LinuxNamespaceType(rawValue: "mount")
    /// `ipc`: System V IPC and POSIX message queues (`CLONE_NEWIPC`).
    public static let ipc = LinuxNamespaceType(rawValue: "ipc")
    /// `uts`: host name and NIS domain name (`CLONE_NEWUTS`).
    public static let uts = LinuxNamespaceType(rawValue: "uts")
    /// `user`: user and group IDs (`CLONE_NEWUSER`).
    public static let user = LinuxNamespaceType(rawValue: "user")
    /// `cgroup`: the cgroup root (`CLONE_NEWCGROUP`).
    public static let cgroup = LinuxNamespaceType(rawValue: "cgroup")
    /// `time`: boot and monotonic clocks (`CLONE_NEWTIME`).
    public static let time = LinuxNamespaceType(rawValue: "time")

    /// Decodes the JSON string.
    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    /// Encodes the JSON string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A range of IDs mapped between the container and the host (config-linux.md, "User namespace
/// mappings").
public struct LinuxIDMapping: Codable, Hashable, Sendable {
    /// `containerID`: the first ID in the container. Required.
    public var containerID: UInt32
    /// `hostID`: the first ID on the host. Required.
    public var hostID: UInt32
    /// `size`: the number of IDs mapped. Required.
    public var size: UInt32

    /// Creates a value; optional fields default to absent.
    public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
        self.containerID = containerID
        self.hostID = hostID
        self.size = size
    }
}

/// The offset of one clock in a time namespace (config-linux.md, "Offset for Time Namespace").
public struct LinuxTimeOffset: Codable, Hashable, Sendable {
    /// `secs`: the offset in seconds.
    public var secs: Int64?
    /// `nanosecs`: the additional offset in nanoseconds.
    public var nanosecs: UInt32?

    /// Creates a value; optional fields default to absent.
    public init(secs: Int64? = nil, nanosecs: UInt32? = nil) {
        self.secs = secs
        self.nanosecs = nanosecs
    }
}

/// A device node to create in the container (config-linux.md, "Devices").
public struct LinuxDevice: Codable, Hashable, Sendable {
    /// `path`: the path of the node in the container. Required.
    public var path: String
    /// `type`: `c` (character), `b` (block), `u` (unbuffered character) or `p` (FIFO).
    /// Required.
    public var type: String
    /// `major`: the major number; required except for `p`.
    public var major: Int64?
    /// `minor`: the minor number; required except for `p`.
    public var minor: Int64?
    /// `fileMode`: the permission bits of the node.
    public var fileMode: UInt32?
    /// `uid`: the owner of the node in the container.
    public var uid: UInt32?
    /// `gid`: the group of the node in the container.
    public var gid: UInt32?

    /// Creates a value; optional fields default to absent.
    public init(
        path: String, type: String, major: Int64? = nil, minor: Int64? = nil, fileMode: UInt32? = nil,
        uid: UInt32? = nil, gid: UInt32? = nil
    ) {
        self.path = path
        self.type = type
        self.major = major
        self.minor = minor
        self.fileMode = fileMode
        self.uid = uid
        self.gid = gid
    }
}

/// The seccomp filter of the container process (config-linux.md, "Seccomp").
public struct LinuxSeccomp: Codable, Hashable, Sendable {
    /// `defaultAction`: the action for system calls no rule matches, e.g. `SCMP_ACT_ERRNO`.
    /// Required.
    public var defaultAction: String
    /// `defaultErrnoRet`: the errno returned by `defaultAction`
    /// `SCMP_ACT_ERRNO`/`SCMP_ACT_TRACE` (default `EPERM`).
    public var defaultErrnoRet: UInt32?
    /// `architectures`: the architectures the filter covers, e.g. `SCMP_ARCH_X86_64`.
    public var architectures: [String]?
    /// `flags`: `SECCOMP_FILTER_FLAG_*` flags for `seccomp(2)`.
    public var flags: [String]?
    /// `listenerPath`: the UNIX socket the runtime sends the seccomp notify fd to
    /// (`SCMP_ACT_NOTIFY`).
    public var listenerPath: String?
    /// `listenerMetadata`: opaque data sent to the listener with the fd.
    public var listenerMetadata: String?
    /// `syscalls`: the rules, matched in order.
    public var syscalls: [LinuxSyscall]?

    /// Creates a value; optional fields default to absent.
    public init(
        defaultAction: String, defaultErrnoRet: UInt32? = nil, architectures: [String]? = nil,
        flags: [String]? = nil, listenerPath: String? = nil, listenerMetadata: String? = nil,
        syscalls: [LinuxSyscall]? = nil
    ) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.architectures = architectures
        self.flags = flags
        self.listenerPath = listenerPath
        self.listenerMetadata = listenerMetadata
        self.syscalls = syscalls
    }
}

/// A seccomp rule (config-linux.md, "Seccomp", `syscalls`).
public struct LinuxSyscall: Codable, Hashable, Sendable {
    /// `names`: the system calls the rule applies to; at least one. Required.
    public var names: [String]
    /// `action`: the action, e.g. `SCMP_ACT_ALLOW`. Required.
    public var action: String
    /// `errnoRet`: the errno returned by `SCMP_ACT_ERRNO`/`SCMP_ACT_TRACE`.
    public var errnoRet: UInt32?
    /// `args`: conditions on the arguments, all of which must hold.
    public var args: [LinuxSeccompArg]?

    /// Creates a value; optional fields default to absent.
    public init(
        names: [String], action: String, errnoRet: UInt32? = nil, args: [LinuxSeccompArg]? = nil
    ) {
        self.names = names
        self.action = action
        self.errnoRet = errnoRet
        self.args = args
    }
}

/// A condition on a system call argument (config-linux.md, "Seccomp", `syscalls[].args`).
public struct LinuxSeccompArg: Codable, Hashable, Sendable {
    /// `index`: the argument's position, from 0. Required.
    public var index: UInt
    /// `value`: the value to compare with. Required.
    public var value: UInt64
    /// `valueTwo`: the second value, for `SCMP_CMP_MASKED_EQ` (the mask is `value`).
    public var valueTwo: UInt64?
    /// `op`: the comparison, e.g. `SCMP_CMP_EQ`, `SCMP_CMP_MASKED_EQ`. Required.
    public var op: String

    /// Creates a value; optional fields default to absent.
    public init(index: UInt, value: UInt64, valueTwo: UInt64? = nil, op: String) {
        self.index = index
        self.value = value
        self.valueTwo = valueTwo
        self.op = op
    }
}

/// Intel Resource Director Technology settings (config-linux.md, "IntelRdt").
public struct LinuxIntelRdt: Codable, Hashable, Sendable {
    /// `closID`: the resctrl class of service (group directory) of the container.
    public var closID: String?
    /// `l3CacheSchema`: the L3 cache allocation schema, e.g. `L3:0=ffff0`.
    public var l3CacheSchema: String?
    /// `memBwSchema`: the memory bandwidth allocation schema, e.g. `MB:0=20`.
    public var memBwSchema: String?
    /// `enableCMT`: enable cache monitoring (CMT) for the container.
    public var enableCMT: Bool?
    /// `enableMBM`: enable memory bandwidth monitoring (MBM) for the container.
    public var enableMBM: Bool?
    /// `schemata`: whole lines for the group's `schemata` file (e.g. `L2:0=f`), written after
    /// `l3CacheSchema` and `memBwSchema` (runtime-spec 1.2.1).
    public var schemata: [String]?
    /// `enableMonitoring`: create a resctrl monitoring group for the container (runtime-spec
    /// 1.3; CDI 1.1.0's replacement of `enableCMT` and `enableMBM`).
    public var enableMonitoring: Bool?

    /// Creates a value; optional fields default to absent.
    public init(
        closID: String? = nil, l3CacheSchema: String? = nil, memBwSchema: String? = nil,
        enableCMT: Bool? = nil, enableMBM: Bool? = nil, schemata: [String]? = nil,
        enableMonitoring: Bool? = nil
    ) {
        self.closID = closID
        self.l3CacheSchema = l3CacheSchema
        self.memBwSchema = memBwSchema
        self.enableCMT = enableCMT
        self.enableMBM = enableMBM
        self.schemata = schemata
        self.enableMonitoring = enableMonitoring
    }
}

/// The execution domain of the container process (config-linux.md, "Personality"), set with
/// `personality(2)`.
public struct LinuxPersonality: Codable, Hashable, Sendable {
    /// `domain`: `LINUX` or `LINUX32`. Required.
    public var domain: String
    /// `flags`: additional personality flags (none are defined yet).
    public var flags: [String]?

    /// Creates a value; optional fields default to absent.
    public init(domain: String, flags: [String]? = nil) {
        self.domain = domain
        self.flags = flags
    }
}
