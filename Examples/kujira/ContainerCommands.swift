import ArgumentParser
import Foundation
import Kujira
import KujiraImage
import KujiraRuntime

/// Opens the engine over the global `--root`, `--state`, `--cdi-spec-dir` and
/// `--nvidia-driver-root`.
func openEngine(_ globals: GlobalOptions) throws -> Engine {
    try Engine(root: globals.root, state: globals.state, cdiSpecDirectories: globals.cdiDirectories,
               nvidiaDriverRoot: globals.nvidiaDriverRoot)
}

/// Runs `body`, turning engine and runtime errors into `kujira: message` and Docker's exit
/// status 125 (126/127 when the container's process could not be started).
func engineCommand<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as EngineError {
        throw CLIError(error.description, exitCode: error.dockerExitCode)
    } catch let error as RuntimeError {
        throw CLIError(error.description, exitCode: 125)
    } catch let error as ImageStoreError {
        throw CLIError(error.description, exitCode: 125)
    }
}

/// Runs `body` on each named container in turn, printing each name once it is done, as
/// docker's stop/start/restart/pause/… do; the first failure stops the loop.
func forEachContainer(_ globals: GlobalOptions, _ containers: [String], _ body: (Engine, String) throws -> Void) throws {
    try engineCommand {
        let engine = try openEngine(globals)
        for container in containers {
            try body(engine, container)
            print(container)
        }
    }
}

/// The flags `create` and `run` share, spelled as Docker spells them.
struct ContainerCreateArguments: ParsableArguments {
    @Option(help: "Assign a name to the container.") var name: String?
    @Option(help: "Overwrite the default ENTRYPOINT of the image.") var entrypoint: String?
    @Option(name: .shortAndLong, help: "Set environment variables.") var env: [String] = []
    @Option(name: .customLong("env-file"), help: "Read in a file of environment variables.") var envFile: [String] = []
    @Option(name: [.customShort("w"), .customLong("workdir")], help: "Working directory inside the container.") var workdir: String?
    @Option(name: .shortAndLong, help: "Username or UID (format: <name|uid>[:<group|gid>]).") var user: String?
    @Option(name: [.customShort("h"), .customLong("hostname")], help: "Container host name.") var hostname: String?
    @Option(name: [.short, .customLong("label")], help: "Set meta data on a container.") var label: [String] = []
    @Flag(name: .customLong("read-only"), help: "Mount the container's root filesystem as read only.") var readOnly = false
    @Option(name: .shortAndLong, help: "Memory limit (e.g. 32m).") var memory: String?
    @Option(name: .customLong("memory-swap"), help: "Memory plus swap limit; -1 for unlimited swap.") var memorySwap: String?
    @Option(name: [.customShort("c"), .customLong("cpu-shares")], help: "CPU shares (relative weight).") var cpuShares: Int64?
    @Option(help: "Number of CPUs.") var cpus: Double?
    @Option(name: .customLong("pids-limit"), help: "Tune container pids limit.") var pidsLimit: Int64?
    @Option(name: .customLong("cap-add"), help: "Add Linux capabilities.") var capAdd: [String] = []
    @Option(name: .customLong("cap-drop"), help: "Drop Linux capabilities.") var capDrop: [String] = []
    @Flag(help: "Give extended privileges to this container.") var privileged = false
    @Option(name: .customLong("security-opt"), help: "Security options (seccomp=unconfined|PROFILE.json, no-new-privileges).") var securityOpt: [String] = []
    @Option(help: "Ulimit options (NAME=SOFT[:HARD]).") var ulimit: [String] = []
    @Option(name: .customLong("stop-signal"), help: "Signal to stop the container.") var stopSignal: String?
    @Option(name: .customLong("stop-timeout"), help: "Timeout (in seconds) to stop a container.") var stopTimeout: Int?
    @Option(help: "Mount a tmpfs directory (PATH[:OPTIONS]).") var tmpfs: [String] = []
    @Option(name: .shortAndLong, help: "Bind mount a volume (NAME:/ctr[:ro][,nocopy], /ctr, or /host:/ctr[:ro][,propagation]).") var volume: [String] = []
    @Option(help: "Restart policy: no, on-failure[:N], always, unless-stopped.") var restart: String = "no"
    @Flag(name: .customLong("rm"), help: "Automatically remove the container when it exits.") var autoRemove = false
    @Option(help: "GPUs to add: all, a count, device=0,2 or \"capabilities=compute,utility\" (Docker's --gpus).") var gpus: String?
    @Option(help: "A device to add: a CDI name (nvidia.com/gpu=all) or /dev/X[:/dev/Y][:rwm] (repeatable).") var device: [String] = []
    @Option(help: "Connect to a network: bridge (the default), NAME, none, host or container:NAME (repeatable).") var network: [String] = []
    @Flag(name: .shortAndLong, help: "Keep STDIN open even if not attached.") var interactive = false
    @Flag(name: .shortAndLong, help: "Allocate a pseudo-TTY.") var tty = false
    @Flag(help: "Run an init inside the container that forwards signals and reaps processes.") var `init` = false
    @Option(help: "Attach a filesystem mount (type=volume|bind|tmpfs,src=…,dst=…,readonly,…).") var mount: [String] = []
    @Option(name: .customLong("volumes-from"), help: "Mount volumes from the specified container (CONTAINER[:ro|rw]).") var volumesFrom: [String] = []
    @Argument(help: "The image.") var image: String
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.") var command: [String] = []
    @Option(name: [.customShort("p"), .customLong("publish")], help: "Publish a port: [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO], ranges allowed.") var publish: [String] = []
    @Flag(name: [.customShort("P"), .customLong("publish-all")], help: "Publish all exposed ports to ephemeral host ports.") var publishAll = false
    @Option(help: "IPv4 address on the first network.") var ip: String?
    @Option(help: "IPv6 address on the first network.") var ip6: String?
    @Option(help: "Set a custom DNS server.") var dns: [String] = []
    @Option(name: .customLong("dns-search"), help: "Set a custom DNS search domain.") var dnsSearch: [String] = []
    @Option(name: .customLong("dns-option"), help: "Set a DNS option.") var dnsOption: [String] = []
    @Option(name: .customLong("add-host"), help: "Add a host-to-IP mapping (NAME:IP, IP may be host-gateway).") var addHost: [String] = []
    @Option(name: .customLong("network-alias"), help: "Add a network-scoped alias for the container.") var networkAlias: [String] = []
    @Option(name: .customLong("mac-address"), help: "Container MAC address (e.g. 02:42:ac:11:00:02).") var macAddress: String?
    @Option(name: .customLong("health-cmd"), help: "Command to run to check health.") var healthCmd: String?
    @Option(name: .customLong("health-interval"), help: "Time between running the check (ms|s|m|h) (default 0s).") var healthInterval: String?
    @Option(name: .customLong("health-timeout"), help: "Maximum time to allow one check to run (ms|s|m|h) (default 0s).") var healthTimeout: String?
    @Option(name: .customLong("health-retries"), help: "Consecutive failures needed to report unhealthy.") var healthRetries: Int?
    @Option(name: .customLong("health-start-period"), help: "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s).") var healthStartPeriod: String?
    @Option(name: .customLong("health-start-interval"), help: "Time between running the check during the start period (ms|s|m|h) (default 0s).") var healthStartInterval: String?
    @Flag(name: .customLong("no-healthcheck"), help: "Disable any container-specified HEALTHCHECK.") var noHealthcheck = false
    @Option(name: .customLong("log-driver"), help: "Logging driver for the container: json-file (the default) or none.") var logDriver: String?
    @Option(name: .customLong("log-opt"), help: "Log driver options (max-size=10m, max-file=3).") var logOpt: [String] = []
    @Option(name: .customLong("shm-size"), help: "Size of /dev/shm (default 64m).") var shmSize: String?
    @Option(help: "Namespaced kernel parameters (KEY=VALUE: net.*, kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*).") var sysctl: [String] = []
    @Option(name: .customLong("group-add"), help: "Add additional groups to join (names from the image's /etc/group, or numbers).") var groupAdd: [String] = []
    @Option(help: "Container NIS domain name.") var domainname: String?
    @Option(name: .customLong("oom-score-adj"), parsing: .unconditional, help: "Tune host's OOM preferences (-1000 to 1000).") var oomScoreAdj: Int?
    @Flag(name: .customLong("oom-kill-disable"), help: "Disable OOM Killer (cgroup v1 only).") var oomKillDisable = false
    @Option(name: .customLong("memory-reservation"), help: "Memory soft limit (e.g. 16m).") var memoryReservation: String?
    @Option(name: .customLong("cpu-quota"), parsing: .unconditional, help: "Limit CPU CFS (Completely Fair Scheduler) quota, microseconds.") var cpuQuota: Int64?
    @Option(name: .customLong("cpu-period"), help: "Limit CPU CFS (Completely Fair Scheduler) period, microseconds.") var cpuPeriod: Int64?
    @Option(name: .customLong("cpuset-cpus"), help: "CPUs in which to allow execution (0-3, 0,1).") var cpusetCpus: String?
    @Option(name: .customLong("cpuset-mems"), help: "MEMs in which to allow execution (0-3, 0,1).") var cpusetMems: String?
    @Option(name: .customLong("blkio-weight"), help: "Block IO (relative weight), between 10 and 1000.") var blkioWeight: Int?
    @Option(name: .customLong("cgroup-parent"), help: "Optional parent cgroup for the container.") var cgroupParent: String?
    @Option(help: "PID namespace to use: host or container:NAME.") var pid: String?
    @Option(help: "IPC mode to use: private, shareable, none, host or container:NAME.") var ipc: String?
    @Option(help: "UTS namespace to use: host.") var uts: String?
    @Option(help: "Cgroup namespace to use: host (the default) or private.") var cgroupns: String?

    /// The engine's options, with the image name resolved as `kujira images` shows it.
    func options(_ globals: GlobalOptions) throws -> ContainerOptions {
        let store = try ImageStore(root: globals.root)
        var options = ContainerOptions(image: try lookupImage(image, in: store).name)
        options.command = command.first == "--" ? Array(command.dropFirst()) : command
        options.name = name
        options.entrypoint = entrypoint
        options.env = env
        options.envFiles = envFile
        options.workingDir = workdir
        options.user = user
        options.hostname = hostname
        options.labels = label
        options.readOnly = readOnly
        options.memory = memory
        options.memorySwap = memorySwap
        options.cpuShares = cpuShares
        options.cpus = cpus
        options.pidsLimit = pidsLimit
        options.capAdd = capAdd
        options.capDrop = capDrop
        options.privileged = privileged
        options.securityOpt = securityOpt
        options.ulimits = ulimit
        options.stopSignal = stopSignal
        options.stopTimeout = stopTimeout
        options.tmpfs = tmpfs
        options.volumes = volume
        options.restart = restart
        options.autoRemove = autoRemove
        options.network = network.first ?? "bridge"
        options.additionalNetworks = Array(network.dropFirst())
        options.publish = publish
        options.publishAll = publishAll
        options.ip = ip
        options.ip6 = ip6
        options.dns = dns
        options.dnsSearch = dnsSearch.isEmpty ? nil : dnsSearch
        options.dnsOptions = dnsOption
        options.addHosts = addHost
        options.networkAliases = networkAlias
        options.macAddress = macAddress
        options.healthCmd = healthCmd
        options.healthInterval = healthInterval
        options.healthTimeout = healthTimeout
        options.healthRetries = healthRetries
        options.healthStartPeriod = healthStartPeriod
        options.healthStartInterval = healthStartInterval
        options.noHealthcheck = noHealthcheck
        options.logDriver = logDriver
        options.logOpts = logOpt
        options.gpus = gpus
        options.devices = device
        options.environment = ProcessInfo.processInfo.environment
        options.mounts = mount
        options.volumesFrom = volumesFrom
        options.interactive = interactive
        options.tty = tty
        options.initProcess = `init`
        options.shmSize = shmSize
        options.sysctls = sysctl
        options.groupAdd = groupAdd
        options.domainname = domainname
        options.oomScoreAdj = oomScoreAdj
        options.oomKillDisable = oomKillDisable
        options.memoryReservation = memoryReservation
        options.cpuQuota = cpuQuota
        options.cpuPeriod = cpuPeriod
        options.cpusetCpus = cpusetCpus
        options.cpusetMems = cpusetMems
        options.blkioWeight = blkioWeight
        options.cgroupParent = cgroupParent
        options.pid = pid
        options.ipc = ipc
        options.uts = uts
        options.cgroupns = cgroupns
        return options
    }
}

/// `kujira create [OPTIONS] IMAGE [COMMAND…]`: prints the new container's id.
struct ContainerCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a new container.")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var arguments: ContainerCreateArguments

    func run() throws {
        try engineCommand {
            let record = try openEngine(globals).create(try arguments.options(globals))
            print(record.id)
        }
    }
}

/// `kujira run [OPTIONS] IMAGE [COMMAND…]`: create, start and, unless `-d`, follow the
/// output and exit with the container's exit code.
struct ContainerRun: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Create and run a new container.")
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .shortAndLong, help: "Run the container in the background and print its id.") var detach = false
    @Option(name: .shortAndLong, help: "Attach to STDIN, STDOUT or STDERR.") var attach: [String] = []
    @Option(name: .customLong("detach-keys"), help: "Override the key sequence for detaching a container.") var detachKeys: String?
    @Option(name: .customLong("sig-proxy"), help: "Proxy received signals to the process (true or false).") var sigProxy = true
    @OptionGroup var arguments: ContainerCreateArguments

    func run() throws {
        let keys = try DetachKeys.option(detachKeys)
        if detach && !attach.isEmpty { throw CLIError("conflicting options: -a and -d", exitCode: 125) }
        let streams = try AttachSession.streams(attach, interactive: arguments.interactive)
        if !detach && arguments.tty && streams.contains(.stdin) && isatty(0) != 1 {
            throw CLIError("the input device is not a TTY", exitCode: 1)
        }
        let code: Int32 = try engineCommand {
            let engine = try openEngine(globals)
            var options = try arguments.options(globals)
            options.stdinOnce = arguments.interactive && !detach && streams.contains(.stdin)
            let record = try engine.create(options)
            let connection: AttachConnection?
            do {
                if detach {
                    try engine.start(record.id)
                    connection = nil
                } else {
                    connection = try engine.startAttached(record.id, streams: streams,
                                                          size: options.tty ? AttachSession.terminalSize : nil,
                                                          attachedClient: getpid()).1
                }
            } catch {
                if options.autoRemove { try? engine.remove(record.id, force: true) }
                throw error
            }
            guard let connection else {
                print(record.id)
                return 0
            }
            let session = AttachSession(engine: engine, containerID: record.id, connection: connection,
                                        stdin: streams.contains(.stdin) && options.interactive, detachKeys: keys, sigProxy: sigProxy)
            guard session.run() else { return 0 }
            let code = try engine.wait(record.id)
            if options.autoRemove { try engine.remove(record.id, force: true) }
            return code
        }
        if code != 0 { throw ExitCode(code) }
    }
}

/// `kujira start CONTAINER…`.
struct ContainerStart: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start one or more stopped containers.")
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .shortAndLong, help: "Attach STDOUT/STDERR and forward signals.") var attach = false
    @Flag(name: .shortAndLong, help: "Attach container's STDIN.") var interactive = false
    @Option(name: .customLong("detach-keys"), help: "Override the key sequence for detaching a container.") var detachKeys: String?
    @Argument(help: "Containers (names or ids).") var containers: [String]

    func run() throws {
        guard attach || interactive else {
            try forEachContainer(globals, containers) { engine, container in
                try engine.start(container)
            }
            return
        }
        guard containers.count == 1, let container = containers.first else {
            throw CLIError("you cannot start and attach multiple containers at once", exitCode: 125)
        }
        let keys = try DetachKeys.option(detachKeys)
        let code: Int32 = try engineCommand {
            let engine = try openEngine(globals)
            let record = try engine.container(container)
            let stdin = interactive && record.config.openStdin
            if stdin && record.config.tty && isatty(0) != 1 { throw CLIError("the input device is not a TTY", exitCode: 1) }
            let streams: AttachStreams = stdin ? .all : [.stdout, .stderr]
            let connection = try engine.startAttached(record.id, streams: streams,
                                                      size: record.config.tty ? AttachSession.terminalSize : nil).1
            let session = AttachSession(engine: engine, containerID: record.id, connection: connection,
                                        stdin: stdin, detachKeys: keys, sigProxy: true)
            guard session.run() else { return 0 }
            return try engine.wait(record.id)
        }
        if code != 0 { throw ExitCode(code) }
    }
}

/// `kujira __monitor --root R --state S ID`: the per-container monitor (hidden; started by
/// `start` and `run`).
struct MonitorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "__monitor", abstract: "Run a container's monitor (internal).",
                                                    shouldDisplay: false)
    @OptionGroup var globals: GlobalOptions
    @Option(name: .customLong("attach-fd"), help: "An attached client's connection.") var attachFD: Int32 = -1
    @Argument(help: "The container id.") var id: String

    func run() throws {
        let status = try engineCommand { try openEngine(globals).runMonitor(id: id, syncFD: 3, attachFD: attachFD) }
        if status != 0 { throw ExitCode(status) }
    }
}
