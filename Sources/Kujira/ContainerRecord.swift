public import KujiraOCI

/// What the engine knows about one container, persisted as
/// `<root>/containers/<id>/config.v2.json` (the name Docker uses), with field names shaped
/// like `docker inspect`'s so that the file reads the way users expect.
public struct ContainerRecord: Codable, Sendable, Hashable {
    /// The 64-hex-digit id.
    public var id: String
    /// The name, without Docker's leading `/`.
    public var name: String
    /// When the container was created (RFC 3339 with nanoseconds).
    public var created: String
    /// The image reference the user gave.
    public var image: String
    /// The image id (`sha256:` config digest).
    public var imageID: String
    /// The process and metadata settings.
    public var config: ContainerConfig
    /// The host-side settings.
    public var hostConfig: ContainerHostConfig
    /// Bind and tmpfs mounts.
    public var mounts: [ContainerMount]
    /// The runtime state, written by the monitor.
    public var state: ContainerState
    /// How often the restart policy restarted the container.
    public var restartCount: Int
    /// The container's rootfs mount point.
    public var rootfsPath: String
    /// The json-file log.
    public var logPath: String
    /// Networks, published ports and DNS settings (nil in records made before networking).
    public var network: ContainerNetworkSettings? = nil

    /// The 12-character short id.
    public var shortID: String { String(id.prefix(12)) }
}

/// The Docker `Config` subset the engine records.
public struct ContainerConfig: Codable, Sendable, Hashable {
    /// The hostname.
    public var hostname: String
    /// The user, as given (`name`, `uid`, `uid:gid`, …), or empty.
    public var user: String
    /// The environment.
    public var env: [String]
    /// The command (after the entrypoint).
    public var cmd: [String]
    /// The entrypoint.
    public var entrypoint: [String]
    /// The working directory.
    public var workingDir: String
    /// Labels: the image's, then the user's.
    public var labels: [String: String]
    /// The signal `stop` sends first.
    public var stopSignal: String
    /// Seconds `stop` waits before SIGKILL.
    public var stopTimeout: Int
    /// Whether stdin is kept open (`-i`).
    public var openStdin: Bool
    /// Whether the process gets a pseudo-terminal (`-t`).
    public var tty: Bool = false
    /// Whether the container's stdin closes when the first attached client's stdin ends
    /// (`run -i` without `-d`).
    public var stdinOnce: Bool = false
    /// The health check (the image's merged with `--health-*`); nil when there is none.
    public var healthcheck: Healthcheck? = nil
    /// `--domainname`, or empty.
    public var domainname: String = ""
}

extension ContainerConfig {
    private enum CodingKeys: String, CodingKey {
        case hostname, user, env, cmd, entrypoint, workingDir, labels, stopSignal, stopTimeout, openStdin, tty, stdinOnce
        case healthcheck, domainname
    }

    /// Decodes a record's configuration; `tty` and `stdinOnce` are optional, so records
    /// written before they existed still decode.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hostname = try c.decode(String.self, forKey: .hostname)
        user = try c.decode(String.self, forKey: .user)
        env = try c.decode([String].self, forKey: .env)
        cmd = try c.decode([String].self, forKey: .cmd)
        entrypoint = try c.decode([String].self, forKey: .entrypoint)
        workingDir = try c.decode(String.self, forKey: .workingDir)
        labels = try c.decode([String: String].self, forKey: .labels)
        stopSignal = try c.decode(String.self, forKey: .stopSignal)
        stopTimeout = try c.decode(Int.self, forKey: .stopTimeout)
        openStdin = try c.decode(Bool.self, forKey: .openStdin)
        tty = try c.decodeIfPresent(Bool.self, forKey: .tty) ?? false
        stdinOnce = try c.decodeIfPresent(Bool.self, forKey: .stdinOnce) ?? false
        healthcheck = try c.decodeIfPresent(Healthcheck.self, forKey: .healthcheck)
        domainname = try c.decodeIfPresent(String.self, forKey: .domainname) ?? ""
    }
}

/// The Docker `HostConfig` subset the engine records.
public struct ContainerHostConfig: Codable, Sendable, Hashable {
    /// `--rm`.
    public var autoRemove: Bool
    /// `--restart`.
    public var restartPolicy: RestartPolicy
    /// `--network`: `bridge`, a network name, `none`, `host` or `container:ID`.
    public var networkMode: String
    /// `-m`, bytes (0: unlimited).
    public var memory: Int64
    /// `--memory-swap`, bytes (0: unset, -1: unlimited).
    public var memorySwap: Int64
    /// `-c`.
    public var cpuShares: Int64
    /// `--cpus` × 10⁹.
    public var nanoCpus: Int64
    /// `--pids-limit` (0: unlimited).
    public var pidsLimit: Int64
    /// `--cap-add`.
    public var capAdd: [String]
    /// `--cap-drop`.
    public var capDrop: [String]
    /// `--privileged`.
    public var privileged: Bool
    /// `--read-only`.
    public var readonlyRootfs: Bool
    /// `--security-opt`.
    public var securityOpt: [String]
    /// `-v` as given.
    public var binds: [String]
    /// `--tmpfs`, destination → options.
    public var tmpfs: [String: String]
    /// `--ulimit` as given.
    public var ulimits: [String]
    /// `--gpus` as given; nil when no GPU was requested.
    public var gpus: String? = nil
    /// `--device` values as given (CDI names or host device paths).
    public var devices: [String] = []
    /// `--volumes-from` as given.
    public var volumesFrom: [String] = []
    /// `--mount` values as given.
    public var mountSpecs: [String] = []
    /// `--init`: a minimal init (the host's catatonit or tini) runs as PID 1.
    public var initProcess: Bool = false
    /// `--log-driver` and `--log-opt`.
    public var logConfig: LogConfig = .jsonFile
    /// `--shm-size` in bytes (Docker's default 64 MiB).
    public var shmSize: Int64 = ContainerHostConfig.defaultShmSize
    /// `--sysctl`, key → value.
    public var sysctls: [String: String] = [:]
    /// `--group-add` as given.
    public var groupAdd: [String] = []
    /// `--oom-score-adj`.
    public var oomScoreAdj: Int = 0
    /// `--oom-kill-disable`.
    public var oomKillDisable: Bool = false
    /// `--memory-reservation`, bytes (0: none).
    public var memoryReservation: Int64 = 0
    /// `--cpu-quota`, microseconds (0: none).
    public var cpuQuota: Int64 = 0
    /// `--cpu-period`, microseconds (0: the kernel's).
    public var cpuPeriod: Int64 = 0
    /// `--cpuset-cpus`, or empty.
    public var cpusetCpus: String = ""
    /// `--cpuset-mems`, or empty.
    public var cpusetMems: String = ""
    /// `--blkio-weight` (0: none).
    public var blkioWeight: Int = 0
    /// `--cgroup-parent`, or empty for `/kujira`.
    public var cgroupParent: String = ""
    /// `--pid`: empty (private), `host` or `container:ID`.
    public var pidMode: String = ""
    /// `--ipc`: `private`, `shareable`, `none`, `host` or `container:ID`.
    public var ipcMode: String = "private"
    /// `--uts`: empty (private) or `host`.
    public var utsMode: String = ""
    /// `--cgroupns`: `host` or `private`.
    public var cgroupnsMode: String = "host"

    /// Docker's /dev/shm size: 64 MiB.
    public static let defaultShmSize: Int64 = 64 << 20
}

extension ContainerHostConfig {
    private enum CodingKeys: String, CodingKey {
        case autoRemove, restartPolicy, networkMode, memory, memorySwap, cpuShares, nanoCpus, pidsLimit
        case capAdd, capDrop, privileged, readonlyRootfs, securityOpt, binds, tmpfs, ulimits, gpus, devices
        case volumesFrom, mountSpecs
        case initProcess = "init"
        case logConfig
        case shmSize, sysctls, groupAdd, oomScoreAdj, oomKillDisable, memoryReservation, cpuQuota, cpuPeriod
        case cpusetCpus, cpusetMems, blkioWeight, cgroupParent, pidMode, ipcMode, utsMode, cgroupnsMode
    }

    /// Decodes a record's host configuration; `gpus` and `devices` are optional, so records
    /// written before they existed still decode.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        autoRemove = try c.decode(Bool.self, forKey: .autoRemove)
        restartPolicy = try c.decode(RestartPolicy.self, forKey: .restartPolicy)
        networkMode = try c.decode(String.self, forKey: .networkMode)
        memory = try c.decode(Int64.self, forKey: .memory)
        memorySwap = try c.decode(Int64.self, forKey: .memorySwap)
        cpuShares = try c.decode(Int64.self, forKey: .cpuShares)
        nanoCpus = try c.decode(Int64.self, forKey: .nanoCpus)
        pidsLimit = try c.decode(Int64.self, forKey: .pidsLimit)
        capAdd = try c.decode([String].self, forKey: .capAdd)
        capDrop = try c.decode([String].self, forKey: .capDrop)
        privileged = try c.decode(Bool.self, forKey: .privileged)
        readonlyRootfs = try c.decode(Bool.self, forKey: .readonlyRootfs)
        securityOpt = try c.decode([String].self, forKey: .securityOpt)
        binds = try c.decode([String].self, forKey: .binds)
        tmpfs = try c.decode([String: String].self, forKey: .tmpfs)
        ulimits = try c.decode([String].self, forKey: .ulimits)
        gpus = try c.decodeIfPresent(String.self, forKey: .gpus)
        devices = try c.decodeIfPresent([String].self, forKey: .devices) ?? []
        volumesFrom = try c.decodeIfPresent([String].self, forKey: .volumesFrom) ?? []
        mountSpecs = try c.decodeIfPresent([String].self, forKey: .mountSpecs) ?? []
        initProcess = try c.decodeIfPresent(Bool.self, forKey: .initProcess) ?? false
        logConfig = try c.decodeIfPresent(LogConfig.self, forKey: .logConfig) ?? .jsonFile
        shmSize = try c.decodeIfPresent(Int64.self, forKey: .shmSize) ?? Self.defaultShmSize
        sysctls = try c.decodeIfPresent([String: String].self, forKey: .sysctls) ?? [:]
        groupAdd = try c.decodeIfPresent([String].self, forKey: .groupAdd) ?? []
        oomScoreAdj = try c.decodeIfPresent(Int.self, forKey: .oomScoreAdj) ?? 0
        oomKillDisable = try c.decodeIfPresent(Bool.self, forKey: .oomKillDisable) ?? false
        memoryReservation = try c.decodeIfPresent(Int64.self, forKey: .memoryReservation) ?? 0
        cpuQuota = try c.decodeIfPresent(Int64.self, forKey: .cpuQuota) ?? 0
        cpuPeriod = try c.decodeIfPresent(Int64.self, forKey: .cpuPeriod) ?? 0
        cpusetCpus = try c.decodeIfPresent(String.self, forKey: .cpusetCpus) ?? ""
        cpusetMems = try c.decodeIfPresent(String.self, forKey: .cpusetMems) ?? ""
        blkioWeight = try c.decodeIfPresent(Int.self, forKey: .blkioWeight) ?? 0
        cgroupParent = try c.decodeIfPresent(String.self, forKey: .cgroupParent) ?? ""
        pidMode = try c.decodeIfPresent(String.self, forKey: .pidMode) ?? ""
        ipcMode = try c.decodeIfPresent(String.self, forKey: .ipcMode) ?? "private"
        utsMode = try c.decodeIfPresent(String.self, forKey: .utsMode) ?? ""
        cgroupnsMode = try c.decodeIfPresent(String.self, forKey: .cgroupnsMode) ?? "host"
    }

    /// Encodes every field (`gpus` only when set).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(autoRemove, forKey: .autoRemove)
        try c.encode(restartPolicy, forKey: .restartPolicy)
        try c.encode(networkMode, forKey: .networkMode)
        try c.encode(memory, forKey: .memory)
        try c.encode(memorySwap, forKey: .memorySwap)
        try c.encode(cpuShares, forKey: .cpuShares)
        try c.encode(nanoCpus, forKey: .nanoCpus)
        try c.encode(pidsLimit, forKey: .pidsLimit)
        try c.encode(capAdd, forKey: .capAdd)
        try c.encode(capDrop, forKey: .capDrop)
        try c.encode(privileged, forKey: .privileged)
        try c.encode(readonlyRootfs, forKey: .readonlyRootfs)
        try c.encode(securityOpt, forKey: .securityOpt)
        try c.encode(binds, forKey: .binds)
        try c.encode(tmpfs, forKey: .tmpfs)
        try c.encode(ulimits, forKey: .ulimits)
        try c.encodeIfPresent(gpus, forKey: .gpus)
        try c.encode(devices, forKey: .devices)
        try c.encode(volumesFrom, forKey: .volumesFrom)
        try c.encode(mountSpecs, forKey: .mountSpecs)
        try c.encode(initProcess, forKey: .initProcess)
        try c.encode(logConfig, forKey: .logConfig)
        try c.encode(shmSize, forKey: .shmSize)
        try c.encode(sysctls, forKey: .sysctls)
        try c.encode(groupAdd, forKey: .groupAdd)
        try c.encode(oomScoreAdj, forKey: .oomScoreAdj)
        try c.encode(oomKillDisable, forKey: .oomKillDisable)
        try c.encode(memoryReservation, forKey: .memoryReservation)
        try c.encode(cpuQuota, forKey: .cpuQuota)
        try c.encode(cpuPeriod, forKey: .cpuPeriod)
        try c.encode(cpusetCpus, forKey: .cpusetCpus)
        try c.encode(cpusetMems, forKey: .cpusetMems)
        try c.encode(blkioWeight, forKey: .blkioWeight)
        try c.encode(cgroupParent, forKey: .cgroupParent)
        try c.encode(pidMode, forKey: .pidMode)
        try c.encode(ipcMode, forKey: .ipcMode)
        try c.encode(utsMode, forKey: .utsMode)
        try c.encode(cgroupnsMode, forKey: .cgroupnsMode)
    }
}

/// A restart policy (`--restart`).
public struct RestartPolicy: Codable, Sendable, Hashable {
    /// `no`, `on-failure`, `always` or `unless-stopped`.
    public var name: String
    /// For `on-failure`: the most restarts (0: unlimited).
    public var maximumRetryCount: Int

    /// No restarts.
    public static let no = RestartPolicy(name: "no", maximumRetryCount: 0)

    /// Creates a policy.
    public init(name: String, maximumRetryCount: Int = 0) {
        self.name = name
        self.maximumRetryCount = maximumRetryCount
    }

    /// Parses `no`, `on-failure[:N]`, `always`, `unless-stopped`.
    public static func parse(_ text: String) throws -> RestartPolicy {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        switch parts.first ?? "" {
        case "", "no": return .no
        case "always", "unless-stopped":
            guard parts.count == 1 else { throw EngineError(.invalidArgument, "restart policy \(text): only on-failure takes a count") }
            return RestartPolicy(name: parts[0])
        case "on-failure":
            guard parts.count == 1 || Int(parts[1]).map({ $0 >= 0 }) == true else {
                throw EngineError(.invalidArgument, "restart policy \(text): the count must be a non-negative number")
            }
            return RestartPolicy(name: "on-failure", maximumRetryCount: parts.count == 2 ? Int(parts[1]) ?? 0 : 0)
        default:
            throw EngineError(.invalidArgument, "invalid restart policy \(text): use no, on-failure[:N], always or unless-stopped")
        }
    }

    /// Whether a container that exited with `exitCode` after `restartCount` restarts is
    /// restarted; never after a manual stop.
    public func shouldRestart(exitCode: Int32, restartCount: Int, manuallyStopped: Bool) -> Bool {
        if manuallyStopped { return false }
        switch name {
        case "always", "unless-stopped": return true
        case "on-failure": return exitCode != 0 && (maximumRetryCount == 0 || restartCount < maximumRetryCount)
        default: return false
        }
    }
}

/// A mount of a container, as `docker inspect` shows it in `Mounts`.
public struct ContainerMount: Codable, Sendable, Hashable {
    /// `bind`, `volume` or `tmpfs`.
    public var type: String
    /// The host path (bind), the volume's data directory (volume) or empty.
    public var source: String
    /// The path in the container.
    public var destination: String
    /// Whether the mount is writable.
    public var rw: Bool
    /// The volume's name (volume mounts only).
    public var name: String? = nil
    /// The volume's driver (volume mounts only).
    public var driver: String? = nil
    /// The mode as given (`ro`, `z`, `nocopy`, …), as `docker inspect` shows it.
    public var mode: String? = nil
    /// The bind propagation (`rprivate` unless given; empty for volumes).
    public var propagation: String? = nil
}

/// The status of a container, as Docker names it.
public enum ContainerStatus: String, Codable, Sendable, Hashable {
    /// Created, never started (or started and failed before running).
    case created
    /// Its process runs.
    case running
    /// Its processes are frozen.
    case paused
    /// It exited and the restart policy is about to start it again.
    case restarting
    /// Its process exited.
    case exited
    /// Its monitor vanished and it could not be cleaned up.
    case dead
}

/// The runtime state of a container (`docker inspect`'s `State`).
public struct ContainerState: Codable, Sendable, Hashable {
    /// The status.
    public var status: ContainerStatus
    /// The host pid of the container's process while it runs, else 0.
    public var pid: Int32
    /// The exit code of the last run.
    public var exitCode: Int32
    /// Whether the OOM killer killed a process of the last run.
    public var oomKilled: Bool
    /// Why the last start failed, or empty.
    public var error: String
    /// When the last run started, or empty.
    public var startedAt: String
    /// When the last run finished, or empty.
    public var finishedAt: String
    /// The monitor's pid while it lives, else 0.
    public var monitorPid: Int32
    /// The monitor's start time (clock ticks since boot), to tell a reused pid apart.
    public var monitorStartTime: UInt64
    /// Set by `stop` and `kill`: the restart policy does not apply to this exit.
    public var manuallyStopped: Bool
    /// The pid of a `run` that is attached and removes the container itself (`--rm`): the
    /// monitor waits for it to go before removing, so the client can read the exit code.
    public var attachedClientPid: Int32
    /// The health check's state while the container has one (set by the monitor).
    public var health: ContainerHealth? = nil

    /// A new container's state.
    public static let created = ContainerState(
        status: .created, pid: 0, exitCode: 0, oomKilled: false, error: "", startedAt: "", finishedAt: "",
        monitorPid: 0, monitorStartTime: 0, manuallyStopped: false, attachedClientPid: 0)

    /// Whether the container is running, paused or restarting (its monitor should be alive).
    public var isActive: Bool { status == .running || status == .paused || status == .restarting }
}
