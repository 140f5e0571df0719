// The container configuration of the OCI runtime spec 1.2 (runtime-spec config.md): the
// `config.json` of a bundle. Linux-specific parts are in RuntimeSpec+Linux.swift and
// RuntimeSpec+Resources.swift. Field names follow the JSON names of the spec; optional
// fields are omitted when `nil`, so decoding runc's output and encoding it again gives the
// same JSON object.

/// The container configuration (runtime-spec config.md): everything a runtime needs to create a
/// container from a bundle.
public struct Spec: Codable, Hashable, Sendable {
    /// `ociVersion`: the version of the runtime spec the document follows (SemVer), e.g.
    /// `1.2.0`. Required.
    public var ociVersion: String
    /// `process`: the container process. Required by `start`; optional at `create`.
    public var process: Process?
    /// `root`: the container's root filesystem.
    public var root: Root?
    /// `hostname`: the container's host name as seen by processes in it (needs a UTS
    /// namespace).
    public var hostname: String?
    /// `domainname`: the container's NIS domain name (needs a UTS namespace).
    public var domainname: String?
    /// `mounts`: additional mounts beyond `root`, in order.
    public var mounts: [Mount]?
    /// `hooks`: actions run at points of the container lifecycle (config.md, "POSIX-platform
    /// Hooks").
    public var hooks: Hooks?
    /// `annotations`: arbitrary metadata; keys are reverse-domain names.
    public var annotations: [String: String]?
    /// `linux`: the Linux-specific configuration (config-linux.md).
    public var linux: Linux?

    /// Creates a value; optional fields default to absent.
    public init(
        ociVersion: String = Spec.currentVersion, process: Process? = nil, root: Root? = nil,
        hostname: String? = nil, domainname: String? = nil, mounts: [Mount]? = nil, hooks: Hooks? = nil,
        annotations: [String: String]? = nil, linux: Linux? = nil
    ) {
        self.ociVersion = ociVersion
        self.process = process
        self.root = root
        self.hostname = hostname
        self.domainname = domainname
        self.mounts = mounts
        self.hooks = hooks
        self.annotations = annotations
        self.linux = linux
    }

    /// The runtime spec version Kujira writes: 1.2.0.
    public static let currentVersion = "1.2.0"
}

/// The container process (config.md, "Process"). Also the document `runc exec --process` reads.
public struct Process: Codable, Hashable, Sendable {
    /// `terminal`: whether a pseudo-terminal is attached to the process (default false).
    public var terminal: Bool?
    /// `consoleSize`: the terminal size in characters; ignored without `terminal`.
    public var consoleSize: ConsoleSize?
    /// `user`: the user the process runs as. Required.
    public var user: User
    /// `args`: the command and its arguments, like `execvp`'s `argv`; at least one entry when
    /// given.
    public var args: [String]?
    /// `commandLine`: the full command line (Windows only).
    public var commandLine: String?
    /// `env`: the environment, `KEY=value` entries.
    public var env: [String]?
    /// `cwd`: the absolute working directory inside the container. Required.
    public var cwd: String
    /// `capabilities`: the capability sets of the process (Linux).
    public var capabilities: LinuxCapabilities?
    /// `rlimits`: resource limits set with `setrlimit`.
    public var rlimits: [POSIXRlimit]?
    /// `noNewPrivileges`: set `PR_SET_NO_NEW_PRIVS`, so that exec cannot gain privileges.
    public var noNewPrivileges: Bool?
    /// `apparmorProfile`: the AppArmor profile to apply.
    public var apparmorProfile: String?
    /// `oomScoreAdj`: the value written to `/proc/<pid>/oom_score_adj`.
    public var oomScoreAdj: Int?
    /// `selinuxLabel`: the SELinux label of the process.
    public var selinuxLabel: String?
    /// `ioPriority`: the I/O priority set with `ioprio_set`.
    public var ioPriority: LinuxIOPriority?
    /// `scheduler`: the scheduling policy and attributes set with `sched_setattr`.
    public var scheduler: Scheduler?
    /// `execCPUAffinity`: the CPU affinity of the runtime's exec process.
    public var execCPUAffinity: ExecCPUAffinity?

    /// Creates a value; optional fields default to absent.
    public init(
        terminal: Bool? = nil, consoleSize: ConsoleSize? = nil, user: User = User(uid: 0, gid: 0),
        args: [String]? = nil, commandLine: String? = nil, env: [String]? = nil, cwd: String = "/",
        capabilities: LinuxCapabilities? = nil, rlimits: [POSIXRlimit]? = nil, noNewPrivileges: Bool? = nil,
        apparmorProfile: String? = nil, oomScoreAdj: Int? = nil, selinuxLabel: String? = nil,
        ioPriority: LinuxIOPriority? = nil, scheduler: Scheduler? = nil,
        execCPUAffinity: ExecCPUAffinity? = nil
    ) {
        self.terminal = terminal
        self.consoleSize = consoleSize
        self.user = user
        self.args = args
        self.commandLine = commandLine
        self.env = env
        self.cwd = cwd
        self.capabilities = capabilities
        self.rlimits = rlimits
        self.noNewPrivileges = noNewPrivileges
        self.apparmorProfile = apparmorProfile
        self.oomScoreAdj = oomScoreAdj
        self.selinuxLabel = selinuxLabel
        self.ioPriority = ioPriority
        self.scheduler = scheduler
        self.execCPUAffinity = execCPUAffinity
    }
}

/// The size of the process's terminal (config.md, `process.consoleSize`).
public struct ConsoleSize: Codable, Hashable, Sendable {
    /// `height`: rows. Required.
    public var height: UInt32
    /// `width`: columns. Required.
    public var width: UInt32

    /// Creates a value; optional fields default to absent.
    public init(height: UInt32, width: UInt32) {
        self.height = height
        self.width = width
    }
}

/// The user a process runs as (config.md, "POSIX-platform User").
public struct User: Codable, Hashable, Sendable {
    /// `uid`: the user ID in the container namespace. Required.
    public var uid: UInt32
    /// `gid`: the group ID in the container namespace. Required.
    public var gid: UInt32
    /// `umask`: the file mode creation mask; the runtime default is 0022 when absent.
    public var umask: UInt32?
    /// `additionalGids`: supplementary group IDs.
    public var additionalGids: [UInt32]?
    /// `username`: the user name (Windows only).
    public var username: String?

    /// Creates a value; optional fields default to absent.
    public init(
        uid: UInt32, gid: UInt32, umask: UInt32? = nil, additionalGids: [UInt32]? = nil,
        username: String? = nil
    ) {
        self.uid = uid
        self.gid = gid
        self.umask = umask
        self.additionalGids = additionalGids
        self.username = username
    }
}

/// The capability sets of a process (config.md, `process.capabilities`), capability names such
/// as `CAP_KILL`.
public struct LinuxCapabilities: Codable, Hashable, Sendable {
    /// `bounding`: the bounding set.
    public var bounding: [String]?
    /// `effective`: the effective set.
    public var effective: [String]?
    /// `inheritable`: the inheritable set.
    public var inheritable: [String]?
    /// `permitted`: the permitted set.
    public var permitted: [String]?
    /// `ambient`: the ambient set.
    public var ambient: [String]?

    /// Creates a value; optional fields default to absent.
    public init(
        bounding: [String]? = nil, effective: [String]? = nil, inheritable: [String]? = nil,
        permitted: [String]? = nil, ambient: [String]? = nil
    ) {
        self.bounding = bounding
        self.effective = effective
        self.inheritable = inheritable
        self.permitted = permitted
        self.ambient = ambient
    }
}

/// A resource limit (config.md, `process.rlimits`), set with `setrlimit(2)`.
public struct POSIXRlimit: Codable, Hashable, Sendable {
    /// `type`: the resource, e.g. `RLIMIT_NOFILE`. Required.
    public var type: String
    /// `hard`: the hard limit (ceiling for the soft limit). Required.
    public var hard: UInt64
    /// `soft`: the soft limit enforced by the kernel. Required.
    public var soft: UInt64

    /// Creates a value; optional fields default to absent.
    public init(type: String, hard: UInt64, soft: UInt64) {
        self.type = type
        self.hard = hard
        self.soft = soft
    }
}

/// The I/O scheduling class and priority of a process (config.md, `process.ioPriority`).
public struct LinuxIOPriority: Codable, Hashable, Sendable {
    /// `class`: `IOPRIO_CLASS_RT`, `IOPRIO_CLASS_BE` or `IOPRIO_CLASS_IDLE`. Required.
    public var ioClass: String
    /// `priority`: the priority within the class, 0 (highest) to 7. Required.
    public var priority: Int

    /// Creates a value; optional fields default to absent.
    public init(ioClass: String, priority: Int) {
        self.ioClass = ioClass
        self.priority = priority
    }

    enum CodingKeys: String, CodingKey {
        case ioClass = "class"
        case priority
    }
}

/// The scheduling attributes of a process (config.md, `process.scheduler`), set with
/// `sched_setattr(2)`.
public struct Scheduler: Codable, Hashable, Sendable {
    /// `policy`: `SCHED_OTHER`, `SCHED_FIFO`, `SCHED_RR`, `SCHED_BATCH`, `SCHED_ISO`,
    /// `SCHED_IDLE` or `SCHED_DEADLINE`. Required.
    public var policy: String
    /// `nice`: the nice value for `SCHED_OTHER` and `SCHED_BATCH`.
    public var nice: Int32?
    /// `priority`: the static priority for `SCHED_FIFO` and `SCHED_RR`.
    public var priority: Int32?
    /// `flags`: `SCHED_FLAG_*` flags.
    public var flags: [String]?
    /// `runtime`: the `SCHED_DEADLINE` runtime, in nanoseconds.
    public var runtime: UInt64?
    /// `deadline`: the `SCHED_DEADLINE` deadline, in nanoseconds.
    public var deadline: UInt64?
    /// `period`: the `SCHED_DEADLINE` period, in nanoseconds.
    public var period: UInt64?

    /// Creates a value; optional fields default to absent.
    public init(
        policy: String, nice: Int32? = nil, priority: Int32? = nil, flags: [String]? = nil,
        runtime: UInt64? = nil, deadline: UInt64? = nil, period: UInt64? = nil
    ) {
        self.policy = policy
        self.nice = nice
        self.priority = priority
        self.flags = flags
        self.runtime = runtime
        self.deadline = deadline
        self.period = period
    }
}

/// The CPU affinity of a process the runtime execs into the container (config.md,
/// `process.execCPUAffinity`), as cpuset lists such as `0-3,7`.
public struct ExecCPUAffinity: Codable, Hashable, Sendable {
    /// `initial`: the affinity before the process joins the container's cgroup.
    public var initial: String?
    /// `final`: the affinity after it joined the cgroup.
    public var final: String?

    /// Creates a value; optional fields default to absent.
    public init(initial: String? = nil, final: String? = nil) {
        self.initial = initial
        self.final = final
    }
}

/// The container's root filesystem (config.md, "Root").
public struct Root: Codable, Hashable, Sendable {
    /// `path`: the path to the root filesystem, absolute or relative to the bundle. Required.
    public var path: String
    /// `readonly`: whether the root filesystem is read-only in the container.
    public var readonly: Bool?

    /// Creates a value; optional fields default to absent.
    public init(path: String, readonly: Bool? = nil) {
        self.path = path
        self.readonly = readonly
    }
}

/// A mount (config.md, "Mounts").
public struct Mount: Codable, Hashable, Sendable {
    /// `destination`: the absolute path of the mount point in the container. Required.
    public var destination: String
    /// `type`: the filesystem type (`proc`, `tmpfs`, `bind`, …).
    public var type: String?
    /// `source`: a device name, directory or file, or a dummy such as `proc`.
    public var source: String?
    /// `options`: mount options as in `mount(8)`, plus `bind`, `rbind`, `rro`, ….
    public var options: [String]?
    /// `uidMappings`: the user-ID mapping of an ID-mapped mount.
    public var uidMappings: [LinuxIDMapping]?
    /// `gidMappings`: the group-ID mapping of an ID-mapped mount.
    public var gidMappings: [LinuxIDMapping]?

    /// Creates a value; optional fields default to absent.
    public init(
        destination: String, type: String? = nil, source: String? = nil, options: [String]? = nil,
        uidMappings: [LinuxIDMapping]? = nil, gidMappings: [LinuxIDMapping]? = nil
    ) {
        self.destination = destination
        self.type = type
        self.source = source
        self.options = options
        self.uidMappings = uidMappings
        self.gidMappings = gidMappings
    }
}

/// The lifecycle hooks (config.md, "POSIX-platform Hooks"), each list run in order.
public struct Hooks: Codable, Hashable, Sendable {
    /// `prestart`: deprecated; run in the runtime namespace after `create` set up the
    /// environment, before `pivot_root`.
    public var prestart: [Hook]?
    /// `createRuntime`: run in the runtime namespace during `create`, after the environment is
    /// set up and before `pivot_root`.
    public var createRuntime: [Hook]?
    /// `createContainer`: run in the container namespace during `create`, before `pivot_root`.
    public var createContainer: [Hook]?
    /// `startContainer`: run in the container namespace during `start`, before the user
    /// process.
    public var startContainer: [Hook]?
    /// `poststart`: run in the runtime namespace after the user process started.
    public var poststart: [Hook]?
    /// `poststop`: run in the runtime namespace after the container was deleted.
    public var poststop: [Hook]?

    /// Creates a value; optional fields default to absent.
    public init(
        prestart: [Hook]? = nil, createRuntime: [Hook]? = nil, createContainer: [Hook]? = nil,
        startContainer: [Hook]? = nil, poststart: [Hook]? = nil, poststop: [Hook]? = nil
    ) {
        self.prestart = prestart
        self.createRuntime = createRuntime
        self.createContainer = createContainer
        self.startContainer = startContainer
        self.poststart = poststart
        self.poststop = poststop
    }
}

/// A hook command (config.md, "POSIX-platform Hooks"), which gets the container ``State`` on
/// standard input.
public struct Hook: Codable, Hashable, Sendable {
    /// `path`: the absolute path of the executable, like `execv`'s path. Required.
    public var path: String
    /// `args`: the arguments, including the executable's name as the first.
    public var args: [String]?
    /// `env`: the environment, `KEY=value` entries.
    public var env: [String]?
    /// `timeout`: seconds before the hook is aborted; greater than zero when given.
    public var timeout: Int?

    /// Creates a value; optional fields default to absent.
    public init(path: String, args: [String]? = nil, env: [String]? = nil, timeout: Int? = nil) {
        self.path = path
        self.args = args
        self.env = env
        self.timeout = timeout
    }
}
