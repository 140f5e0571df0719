public import KujiraOCI

/// What `create` and `run` take, field for field the Docker CLI flags of the same names.
public struct ContainerOptions: Sendable, Hashable {
    /// The image name or id.
    public var image: String
    /// The command (replaces the image's `Cmd`); empty keeps it.
    public var command: [String] = []
    /// `--name`; nil picks a random `adjective_surname`.
    public var name: String?
    /// `--entrypoint`; nil keeps the image's, `""` clears it. Setting it clears the image's `Cmd`.
    public var entrypoint: String?
    /// `-e NAME=VALUE` (or `-e NAME`, taking the value from `environment`).
    public var env: [String] = []
    /// `--env-file` paths (read at create).
    public var envFiles: [String] = []
    /// `-w`.
    public var workingDir: String?
    /// `-u`.
    public var user: String?
    /// `-h`.
    public var hostname: String?
    /// `--label KEY=VALUE`.
    public var labels: [String] = []
    /// `--read-only`.
    public var readOnly = false
    /// `-m`, e.g. `32m`.
    public var memory: String?
    /// `--memory-swap`, e.g. `64m` or `-1`.
    public var memorySwap: String?
    /// `-c`.
    public var cpuShares: Int64?
    /// `--cpus`, e.g. `1.5`.
    public var cpus: Double?
    /// `--pids-limit`.
    public var pidsLimit: Int64?
    /// `--cap-add`.
    public var capAdd: [String] = []
    /// `--cap-drop`.
    public var capDrop: [String] = []
    /// `--privileged`.
    public var privileged = false
    /// `--security-opt` (`seccomp=unconfined`, `seccomp=PROFILE.json`, `no-new-privileges`).
    public var securityOpt: [String] = []
    /// `--ulimit NAME=SOFT[:HARD]`.
    public var ulimits: [String] = []
    /// `--stop-signal`.
    public var stopSignal: String?
    /// `--stop-timeout` seconds.
    public var stopTimeout: Int?
    /// `--tmpfs PATH[:OPTIONS]`.
    public var tmpfs: [String] = []
    /// `-v NAME:/container[:ro|rw][,nocopy]`, `-v /container` (anonymous volume) or
    /// `-v /host:/container[:ro|rw][,z|Z][,propagation]`.
    public var volumes: [String] = []
    /// `--restart`.
    public var restart: String = "no"
    /// `--rm`.
    public var autoRemove = false
    /// `--network`: `bridge` (the default network, as on Docker), a user network's name,
    /// `none` (an own network namespace with loopback only), `host`, or `container:NAME`.
    public var network: String = "bridge"
    /// `--gpus`: Docker's value (`all`, `2`, `device=0,2`, `"capabilities=compute,utility"`);
    /// nil requests no GPU.
    public var gpus: String?
    /// `--device`: CDI names (`nvidia.com/gpu=all`) or host nodes (`/dev/X[:/dev/Y][:rwm]`).
    public var devices: [String] = []
    /// `-i`: keep the container's stdin open (a pipe the monitor writes attached clients'
    /// input into); without it stdin is /dev/null.
    public var interactive = false
    /// The environment `-e NAME` reads from.
    public var environment: [String: String] = [:]
    /// `-t`: give the process a pseudo-terminal held by the monitor.
    public var tty = false
    /// Close the container's stdin when the first attached client's stdin ends (Docker's
    /// `StdinOnce`, set by `run -i` without `-d`).
    public var stdinOnce = false
    /// `--init`: run a minimal init (the host's catatonit or tini) as PID 1.
    public var initProcess = false

    /// `--mount type=volume|bind|tmpfs,…` as given.
    public var mounts: [String] = []
    /// `--volumes-from CONTAINER[:ro|rw]`.
    public var volumesFrom: [String] = []

    /// Further `--network` values (the container joins them all; the first is ``network``).
    public var additionalNetworks: [String] = []
    /// `-p/--publish [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]`, ranges allowed.
    public var publish: [String] = []
    /// `-P`: publish every port the image EXPOSEs on an ephemeral host port.
    public var publishAll = false
    /// `--ip` (on the first network).
    public var ip: String?
    /// `--ip6` (on the first network).
    public var ip6: String?
    /// `--dns`.
    public var dns: [String] = []
    /// `--dns-search`; nil keeps the host's search domains.
    public var dnsSearch: [String]?
    /// `--dns-option`.
    public var dnsOptions: [String] = []
    /// `--add-host NAME:IP` (IP may be `host-gateway`).
    public var addHosts: [String] = []
    /// `--network-alias` (on the first network, a user network).
    public var networkAliases: [String] = []
    /// `--mac-address` (on the first network).
    public var macAddress: String?

    /// `--health-cmd`: a shell command (`CMD-SHELL`) replacing the image's HEALTHCHECK test.
    public var healthCmd: String?
    /// `--health-interval` (a Go duration such as `30s`).
    public var healthInterval: String?
    /// `--health-timeout` (a Go duration).
    public var healthTimeout: String?
    /// `--health-start-period` (a Go duration).
    public var healthStartPeriod: String?
    /// `--health-start-interval` (a Go duration).
    public var healthStartInterval: String?
    /// `--health-retries`.
    public var healthRetries: Int?
    /// `--no-healthcheck`: disable the image's HEALTHCHECK.
    public var noHealthcheck = false
    /// A whole check as the Docker API's `Config.Healthcheck` gives it (`Test` may be `CMD`,
    /// `CMD-SHELL` or `NONE`; durations in nanoseconds). Merged with the image's check field
    /// by field: an empty `Test` or a zero value keeps the image's. Exclusive with the
    /// `--health-*` options and `--no-healthcheck`.
    public var healthcheck: Healthcheck?
    /// `--log-driver`: `json-file` (nil: the default) or `none`.
    public var logDriver: String?
    /// `--log-opt KEY=VALUE` (`max-size`, `max-file`).
    public var logOpts: [String] = []

    /// `--shm-size`, e.g. `64m` (the size of the /dev/shm tmpfs; nil: Docker's 64 MiB).
    public var shmSize: String?
    /// `--sysctl KEY=VALUE`: namespaced kernel parameters only (`net.*` with a private network
    /// namespace; `kernel.msg*`, `kernel.sem`, `kernel.shm*`, `fs.mqueue.*` with a private ipc
    /// namespace).
    public var sysctls: [String] = []
    /// `--group-add`: supplementary groups, numbers or names from the image's /etc/group.
    public var groupAdd: [String] = []
    /// `--domainname`: the NIS domain name of the container's UTS namespace.
    public var domainname: String?
    /// `--oom-score-adj` (-1000…1000).
    public var oomScoreAdj: Int?
    /// `--oom-kill-disable` (cgroup v1 only: memory.oom_control).
    public var oomKillDisable = false
    /// `--memory-reservation`, e.g. `16m` (the soft limit; memory.low on cgroup v2).
    public var memoryReservation: String?
    /// `--cpu-quota` microseconds per period (exclusive with ``cpus``).
    public var cpuQuota: Int64?
    /// `--cpu-period` microseconds (1000…1000000; exclusive with ``cpus``).
    public var cpuPeriod: Int64?
    /// `--cpuset-cpus`, e.g. `0-2,4`.
    public var cpusetCpus: String?
    /// `--cpuset-mems`, e.g. `0`.
    public var cpusetMems: String?
    /// `--blkio-weight` (10…1000).
    public var blkioWeight: Int?
    /// `--cgroup-parent`: the cgroup the container's cgroup is made under (default `/kujira`).
    public var cgroupParent: String?
    /// `--pid`: nil (a private pid namespace), `host` or `container:NAME`.
    public var pid: String?
    /// `--ipc`: nil or `private` (the default), `shareable`, `none`, `host` or `container:NAME`.
    public var ipc: String?
    /// `--uts`: nil (a private UTS namespace) or `host`.
    public var uts: String?
    /// `--cgroupns`: nil or `host` (the default: the host's cgroup namespace, as Docker's
    /// on cgroup v1) or `private`.
    public var cgroupns: String?

    /// Options for `image` with everything else at Docker's defaults.
    public init(image: String) { self.image = image }
}
