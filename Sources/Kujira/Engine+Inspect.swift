// `inspect`: a container as `docker inspect` shows it (the commonly used subset).
//
//     let document = try engine.inspect("web")
//     print(document.state.oomKilled)

import KujiraGPU
import KujiraOCI

/// `docker inspect`'s document for a container; encodes with Docker's field names.
public struct ContainerInspection: Encodable, Sendable {
    /// `State`.
    public struct State: Encodable, Sendable {
        /// Docker's field names.
        enum CodingKeys: String, CodingKey {
            case status = "Status", running = "Running", paused = "Paused", restarting = "Restarting"
            case oomKilled = "OOMKilled", dead = "Dead", pid = "Pid", exitCode = "ExitCode", error = "Error"
            case startedAt = "StartedAt", finishedAt = "FinishedAt"
            case health = "Health"
        }
        /// `created`, `running`, `paused`, `restarting`, `exited`, `dead`.
        public var status: String
        /// Running (or paused).
        public var running: Bool
        /// Paused.
        public var paused: Bool
        /// Restarting.
        public var restarting: Bool
        /// The OOM killer killed a process of the last run.
        public var oomKilled: Bool
        /// Dead.
        public var dead: Bool
        /// The host pid, or 0.
        public var pid: Int32
        /// The last exit code.
        public var exitCode: Int32
        /// Why the last start failed.
        public var error: String
        /// When the last run started (Docker's zero time if never).
        public var startedAt: String
        /// When the last run finished (Docker's zero time if never).
        public var finishedAt: String
        /// The health check's state (absent without a check).
        public var health: ContainerHealth? = nil
    }

    /// `Config`.
    public struct Config: Encodable, Sendable {
        /// Docker's field names.
        enum CodingKeys: String, CodingKey {
            case hostname = "Hostname", user = "User", env = "Env", cmd = "Cmd", image = "Image"
            case workingDir = "WorkingDir", entrypoint = "Entrypoint", labels = "Labels"
            case stopSignal = "StopSignal", stopTimeout = "StopTimeout", openStdin = "OpenStdin"
            case tty = "Tty", stdinOnce = "StdinOnce"
            case healthcheck = "Healthcheck"
            case domainname = "Domainname"
        }
        var hostname: String, user: String, env: [String], cmd: [String], image: String
        var workingDir: String, entrypoint: [String], labels: [String: String]
        var stopSignal: String, stopTimeout: Int, openStdin: Bool
        var tty = false, stdinOnce = false
        var healthcheck: Healthcheck? = nil
        var domainname = ""
    }

    /// `HostConfig`.
    public struct HostConfig: Encodable, Sendable {
        /// Docker's field names.
        enum CodingKeys: String, CodingKey {
            case binds = "Binds", networkMode = "NetworkMode", restartPolicy = "RestartPolicy", autoRemove = "AutoRemove"
            case capAdd = "CapAdd", capDrop = "CapDrop", privileged = "Privileged", readonlyRootfs = "ReadonlyRootfs"
            case securityOpt = "SecurityOpt", tmpfs = "Tmpfs", memory = "Memory", memorySwap = "MemorySwap"
            case cpuShares = "CpuShares", nanoCpus = "NanoCpus", pidsLimit = "PidsLimit", ulimits = "Ulimits"
            case devices = "Devices", deviceRequests = "DeviceRequests"
            case initProcess = "Init"
            case logConfig = "LogConfig"
            case shmSize = "ShmSize", sysctls = "Sysctls", groupAdd = "GroupAdd", oomScoreAdj = "OomScoreAdj"
            case oomKillDisable = "OomKillDisable", memoryReservation = "MemoryReservation", cpuQuota = "CpuQuota"
            case cpuPeriod = "CpuPeriod", cpusetCpus = "CpusetCpus", cpusetMems = "CpusetMems", blkioWeight = "BlkioWeight"
            case cgroupParent = "CgroupParent", pidMode = "PidMode", ipcMode = "IpcMode", utsMode = "UTSMode"
            case cgroupnsMode = "CgroupnsMode"
        }
        /// `LogConfig`.
        struct Log: Encodable, Sendable {
            enum CodingKeys: String, CodingKey { case type = "Type", config = "Config" }
            var type: String, config: [String: String]
        }
        /// An entry of `Devices`: a `--device /dev/X[:/dev/Y][:rwm]`.
        struct Device: Encodable, Sendable {
            enum CodingKeys: String, CodingKey {
                case pathOnHost = "PathOnHost", pathInContainer = "PathInContainer", cgroupPermissions = "CgroupPermissions"
            }
            var pathOnHost: String, pathInContainer: String, cgroupPermissions: String
        }
        /// An entry of `DeviceRequests`: `--gpus` (driver `nvidia` unless given) or the CDI
        /// names of `--device` (driver `cdi`), as Docker records them.
        struct DeviceRequest: Encodable, Sendable {
            enum CodingKeys: String, CodingKey {
                case driver = "Driver", count = "Count", deviceIDs = "DeviceIDs", capabilities = "Capabilities", options = "Options"
            }
            var driver: String, count: Int, deviceIDs: [String]?, capabilities: [[String]]?, options: [String: String]
        }
        /// `RestartPolicy`.
        struct Restart: Encodable, Sendable {
            enum CodingKeys: String, CodingKey { case name = "Name", maximumRetryCount = "MaximumRetryCount" }
            var name: String, maximumRetryCount: Int
        }
        var binds: [String], networkMode: String, restartPolicy: Restart, autoRemove: Bool
        var capAdd: [String], capDrop: [String], privileged: Bool, readonlyRootfs: Bool
        var securityOpt: [String], tmpfs: [String: String], memory: Int64, memorySwap: Int64
        var cpuShares: Int64, nanoCpus: Int64, pidsLimit: Int64, ulimits: [String]
        var devices: [Device] = [], deviceRequests: [DeviceRequest] = []
        var initProcess = false
        var logConfig = Log(type: "json-file", config: [:])
        var shmSize: Int64 = ContainerHostConfig.defaultShmSize
        /// Absent when empty, as Docker omits it.
        var sysctls: [String: String]? = nil
        var groupAdd: [String]? = nil
        var oomScoreAdj = 0, oomKillDisable = false, memoryReservation: Int64 = 0
        var cpuQuota: Int64 = 0, cpuPeriod: Int64 = 0, cpusetCpus = "", cpusetMems = "", blkioWeight = 0
        var cgroupParent = "", pidMode = "", ipcMode = "private", utsMode = "", cgroupnsMode = "host"

        /// `Devices` and `DeviceRequests` of `--gpus` and `--device` values as given.
        static func deviceFields(gpus: String?, devices: [String]) -> (devices: [Device], requests: [DeviceRequest]) {
            var hostDevices: [Device] = [], cdiNames: [String] = [], requests: [DeviceRequest] = []
            for value in devices {
                if CDIQualifiedName.isQualifiedName(value) {
                    cdiNames.append(value)
                } else if let device = try? HostDevice(parsing: value) {
                    hostDevices.append(Device(pathOnHost: device.hostPath, pathInContainer: device.containerPath,
                                              cgroupPermissions: device.permissions))
                }
            }
            if let gpus, let request = try? GPURequest(parsing: gpus) {
                let count: Int
                switch request.count {
                case .all: count = -1
                case .first(let n): count = n
                case nil: count = request.deviceIDs == nil ? -1 : 0
                }
                let capabilities = ["gpu"] + (request.capabilities?.map(\.rawValue).sorted() ?? [])
                requests.append(DeviceRequest(driver: request.driver ?? "", count: count, deviceIDs: request.deviceIDs,
                                              capabilities: [capabilities], options: request.options))
            }
            if !cdiNames.isEmpty {
                requests.append(DeviceRequest(driver: "cdi", count: 0, deviceIDs: cdiNames, capabilities: nil, options: [:]))
            }
            return (hostDevices, requests)
        }
    }

    /// An entry of `Mounts`, as Docker's `MountPoint`: `Name` and `Driver` only for volumes.
    public struct Mount: Encodable, Sendable {
        enum CodingKeys: String, CodingKey {
            case type = "Type", name = "Name", source = "Source", destination = "Destination", driver = "Driver"
            case mode = "Mode", rw = "RW", propagation = "Propagation"
        }
        var type: String, source: String, destination: String, rw: Bool
        var name: String? = nil, driver: String? = nil, mode = "", propagation = ""

        init(_ mount: ContainerMount) {
            type = mount.type
            source = mount.source
            destination = mount.destination
            rw = mount.rw
            name = mount.name
            driver = mount.driver
            mode = mount.mode ?? (mount.rw ? "" : "ro")
            propagation = mount.propagation ?? (mount.type == "bind" ? "rprivate" : "")
        }

        /// Encodes Docker's fields (`Name` and `Driver` only when set).
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(type, forKey: .type)
            try c.encodeIfPresent(name, forKey: .name)
            try c.encode(source, forKey: .source)
            try c.encode(destination, forKey: .destination)
            try c.encodeIfPresent(driver, forKey: .driver)
            try c.encode(mode, forKey: .mode)
            try c.encode(rw, forKey: .rw)
            try c.encode(propagation, forKey: .propagation)
        }
    }

    enum CodingKeys: String, CodingKey {
        case id = "Id", created = "Created", path = "Path", args = "Args", state = "State", image = "Image"
        case logPath = "LogPath", name = "Name", restartCount = "RestartCount", driver = "Driver"
        case hostConfig = "HostConfig", mounts = "Mounts", config = "Config"
        case networkSettings = "NetworkSettings"
    }

    /// The full id.
    public var id: String
    /// When it was created.
    public var created: String
    /// The executable (first word of entrypoint + cmd).
    public var path: String
    /// The remaining arguments.
    public var args: [String]
    /// The state.
    public var state: State
    /// The image id.
    public var image: String
    /// The json-file log path.
    public var logPath: String
    /// `/` + the name.
    public var name: String
    /// Restarts made by the restart policy.
    public var restartCount: Int
    /// The storage driver (`overlay2`-like overlay, or copy).
    public var driver: String
    var hostConfig: HostConfig
    var mounts: [Mount]
    var config: Config
    /// `NetworkSettings`: addresses, ports and networks (filled by ``Engine/inspect(_:)``).
    public var networkSettings: ContainerNetworkInspection?

    static let zeroTime = "0001-01-01T00:00:00Z"

    init(_ record: ContainerRecord) {
        let command = record.config.entrypoint + record.config.cmd
        id = record.id
        created = record.created
        path = command.first ?? ""
        args = Array(command.dropFirst())
        let status = record.state.status
        state = State(status: status.rawValue, running: status == .running || status == .paused, paused: status == .paused,
                      restarting: status == .restarting, oomKilled: record.state.oomKilled, dead: status == .dead,
                      pid: record.state.pid, exitCode: record.state.exitCode, error: record.state.error,
                      startedAt: record.state.startedAt.isEmpty ? Self.zeroTime : record.state.startedAt,
                      finishedAt: record.state.finishedAt.isEmpty ? Self.zeroTime : record.state.finishedAt)
        state.health = record.hasHealthcheck ? record.state.health : nil
        image = record.imageID
        logPath = record.hostConfig.logConfig.type == "none" ? "" : record.logPath  // as Docker shows it
        name = "/" + record.name
        restartCount = record.restartCount
        driver = "overlay"
        let host = record.hostConfig
        hostConfig = HostConfig(binds: host.binds, networkMode: host.networkMode,
                                restartPolicy: .init(name: host.restartPolicy.name, maximumRetryCount: host.restartPolicy.maximumRetryCount),
                                autoRemove: host.autoRemove, capAdd: host.capAdd, capDrop: host.capDrop, privileged: host.privileged,
                                readonlyRootfs: host.readonlyRootfs, securityOpt: host.securityOpt, tmpfs: host.tmpfs,
                                memory: host.memory, memorySwap: host.memorySwap, cpuShares: host.cpuShares,
                                nanoCpus: host.nanoCpus, pidsLimit: host.pidsLimit, ulimits: host.ulimits)
        (hostConfig.devices, hostConfig.deviceRequests) = HostConfig.deviceFields(gpus: host.gpus, devices: host.devices)
        hostConfig.initProcess = host.initProcess
        hostConfig.logConfig = .init(type: host.logConfig.type, config: host.logConfig.config)
        hostConfig.shmSize = host.shmSize
        hostConfig.sysctls = host.sysctls.isEmpty ? nil : host.sysctls
        hostConfig.groupAdd = host.groupAdd.isEmpty ? nil : host.groupAdd
        hostConfig.oomScoreAdj = host.oomScoreAdj
        hostConfig.oomKillDisable = host.oomKillDisable
        hostConfig.memoryReservation = host.memoryReservation
        hostConfig.cpuQuota = host.cpuQuota
        hostConfig.cpuPeriod = host.cpuPeriod
        hostConfig.cpusetCpus = host.cpusetCpus
        hostConfig.cpusetMems = host.cpusetMems
        hostConfig.blkioWeight = host.blkioWeight
        hostConfig.cgroupParent = host.cgroupParent
        hostConfig.pidMode = host.pidMode
        hostConfig.ipcMode = host.ipcMode
        hostConfig.utsMode = host.utsMode
        hostConfig.cgroupnsMode = host.cgroupnsMode
        mounts = record.mounts.map(Mount.init)
        let config = record.config
        self.config = Config(hostname: config.hostname, user: config.user, env: config.env, cmd: config.cmd, image: record.image,
                             workingDir: config.workingDir, entrypoint: config.entrypoint, labels: config.labels,
                             stopSignal: config.stopSignal, stopTimeout: config.stopTimeout, openStdin: config.openStdin,
                             tty: config.tty, stdinOnce: config.stdinOnce, healthcheck: config.healthcheck,
                             domainname: config.domainname)
    }
}

extension Engine {
    /// The `docker inspect` document of container `nameOrID`.
    public func inspect(_ nameOrID: String) throws -> ContainerInspection {
        let record = try container(nameOrID)
        var document = ContainerInspection(record)
        document.networkSettings = networkInspection(record)
        return document
    }
}
