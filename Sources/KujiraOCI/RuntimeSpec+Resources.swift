// The cgroup resource limits of the OCI runtime spec 1.2 (runtime-spec config-linux.md,
// "Control groups"): `linux.resources`, also the document `runc update --resources` reads.

/// The cgroup resource limits of a container (config-linux.md, "Control groups",
/// `linux.resources`).
public struct LinuxResources: Codable, Hashable, Sendable {
    /// `devices`: the device allow/deny list, applied in order ("Allowed Device list").
    public var devices: [LinuxDeviceCgroup]?
    /// `memory`: memory limits ("Memory").
    public var memory: LinuxMemory?
    /// `cpu`: CPU limits ("CPU").
    public var cpu: LinuxCPU?
    /// `pids`: the process-count limit ("Pids").
    public var pids: LinuxPids?
    /// `blockIO`: block I/O limits ("Block IO").
    public var blockIO: LinuxBlockIO?
    /// `hugepageLimits`: HugeTLB limits ("Huge page limits").
    public var hugepageLimits: [LinuxHugepageLimit]?
    /// `network`: network class and priorities ("Network").
    public var network: LinuxNetwork?
    /// `rdma`: RDMA limits keyed by device name ("RDMA").
    public var rdma: [String: LinuxRdma]?
    /// `unified`: cgroup v2 files and their values, e.g. `memory.high` ("Unified").
    public var unified: [String: String]?

    /// Creates a value; optional fields default to absent.
    public init(
        devices: [LinuxDeviceCgroup]? = nil, memory: LinuxMemory? = nil, cpu: LinuxCPU? = nil,
        pids: LinuxPids? = nil, blockIO: LinuxBlockIO? = nil, hugepageLimits: [LinuxHugepageLimit]? = nil,
        network: LinuxNetwork? = nil, rdma: [String: LinuxRdma]? = nil, unified: [String: String]? = nil
    ) {
        self.devices = devices
        self.memory = memory
        self.cpu = cpu
        self.pids = pids
        self.blockIO = blockIO
        self.hugepageLimits = hugepageLimits
        self.network = network
        self.rdma = rdma
        self.unified = unified
    }
}

/// An entry of the device cgroup allow/deny list (config-linux.md, "Allowed Device list").
public struct LinuxDeviceCgroup: Codable, Hashable, Sendable {
    /// `allow`: whether the entry allows (or denies) access. Required.
    public var allow: Bool
    /// `type`: `a` (all), `c` (character) or `b` (block); all when absent.
    public var type: String?
    /// `major`: the major number; all when absent.
    public var major: Int64?
    /// `minor`: the minor number; all when absent.
    public var minor: Int64?
    /// `access`: a combination of `r` (read), `w` (write) and `m` (mknod).
    public var access: String?

    /// Creates a value; optional fields default to absent.
    public init(
        allow: Bool, type: String? = nil, major: Int64? = nil, minor: Int64? = nil, access: String? = nil
    ) {
        self.allow = allow
        self.type = type
        self.major = major
        self.minor = minor
        self.access = access
    }
}

/// Memory limits (config-linux.md, "Memory"), in bytes; -1 means unlimited.
public struct LinuxMemory: Codable, Hashable, Sendable {
    /// `limit`: the memory usage limit.
    public var limit: Int64?
    /// `reservation`: the soft limit.
    public var reservation: Int64?
    /// `swap`: the memory+swap limit.
    public var swap: Int64?
    /// `kernel`: deprecated kernel memory limit.
    public var kernel: Int64?
    /// `kernelTCP`: the kernel TCP buffer memory limit.
    public var kernelTCP: Int64?
    /// `swappiness`: the swappiness, 0 to 100.
    public var swappiness: UInt64?
    /// `disableOOMKiller`: disable the OOM killer for the cgroup.
    public var disableOOMKiller: Bool?
    /// `useHierarchy`: enable hierarchical accounting (cgroup v1).
    public var useHierarchy: Bool?
    /// `checkBeforeUpdate`: refuse a new limit below current usage (cgroup v2).
    public var checkBeforeUpdate: Bool?

    /// Creates a value; optional fields default to absent.
    public init(
        limit: Int64? = nil, reservation: Int64? = nil, swap: Int64? = nil, kernel: Int64? = nil,
        kernelTCP: Int64? = nil, swappiness: UInt64? = nil, disableOOMKiller: Bool? = nil,
        useHierarchy: Bool? = nil, checkBeforeUpdate: Bool? = nil
    ) {
        self.limit = limit
        self.reservation = reservation
        self.swap = swap
        self.kernel = kernel
        self.kernelTCP = kernelTCP
        self.swappiness = swappiness
        self.disableOOMKiller = disableOOMKiller
        self.useHierarchy = useHierarchy
        self.checkBeforeUpdate = checkBeforeUpdate
    }
}

/// CPU limits (config-linux.md, "CPU").
public struct LinuxCPU: Codable, Hashable, Sendable {
    /// `shares`: the relative CPU weight (cgroup v1 `cpu.shares`).
    public var shares: UInt64?
    /// `quota`: the CPU time the cgroup may use per `period`, in microseconds.
    public var quota: Int64?
    /// `burst`: the extra CPU time the cgroup may accumulate, in microseconds.
    public var burst: UInt64?
    /// `period`: the CFS period, in microseconds.
    public var period: UInt64?
    /// `realtimeRuntime`: the real-time CPU time per `realtimePeriod`, in microseconds.
    public var realtimeRuntime: Int64?
    /// `realtimePeriod`: the real-time period, in microseconds.
    public var realtimePeriod: UInt64?
    /// `cpus`: the CPUs the container may use, a cpuset list such as `0-3`.
    public var cpus: String?
    /// `mems`: the memory nodes the container may use, a list such as `0`.
    public var mems: String?
    /// `idle`: 1 to make the cgroup SCHED_IDLE (cgroup v2 `cpu.idle`).
    public var idle: Int64?

    /// Creates a value; optional fields default to absent.
    public init(
        shares: UInt64? = nil, quota: Int64? = nil, burst: UInt64? = nil, period: UInt64? = nil,
        realtimeRuntime: Int64? = nil, realtimePeriod: UInt64? = nil, cpus: String? = nil,
        mems: String? = nil, idle: Int64? = nil
    ) {
        self.shares = shares
        self.quota = quota
        self.burst = burst
        self.period = period
        self.realtimeRuntime = realtimeRuntime
        self.realtimePeriod = realtimePeriod
        self.cpus = cpus
        self.mems = mems
        self.idle = idle
    }
}

/// The process-count limit (config-linux.md, "Pids").
public struct LinuxPids: Codable, Hashable, Sendable {
    /// `limit`: the maximum number of tasks; 0 or -1 means unlimited. Required.
    public var limit: Int64

    /// Creates a value; optional fields default to absent.
    public init(limit: Int64) {
        self.limit = limit
    }
}

/// Block I/O limits (config-linux.md, "Block IO").
public struct LinuxBlockIO: Codable, Hashable, Sendable {
    /// `weight`: the default I/O weight, 10 to 1000.
    public var weight: UInt16?
    /// `leafWeight`: the weight of the cgroup's own tasks against its children (cgroup v1 CFQ).
    public var leafWeight: UInt16?
    /// `weightDevice`: per-device weights.
    public var weightDevice: [LinuxWeightDevice]?
    /// `throttleReadBpsDevice`: per-device read limits, bytes per second.
    public var throttleReadBpsDevice: [LinuxThrottleDevice]?
    /// `throttleWriteBpsDevice`: per-device write limits, bytes per second.
    public var throttleWriteBpsDevice: [LinuxThrottleDevice]?
    /// `throttleReadIOPSDevice`: per-device read limits, operations per second.
    public var throttleReadIOPSDevice: [LinuxThrottleDevice]?
    /// `throttleWriteIOPSDevice`: per-device write limits, operations per second.
    public var throttleWriteIOPSDevice: [LinuxThrottleDevice]?

    /// Creates a value; optional fields default to absent.
    public init(
        weight: UInt16? = nil, leafWeight: UInt16? = nil, weightDevice: [LinuxWeightDevice]? = nil,
        throttleReadBpsDevice: [LinuxThrottleDevice]? = nil,
        throttleWriteBpsDevice: [LinuxThrottleDevice]? = nil,
        throttleReadIOPSDevice: [LinuxThrottleDevice]? = nil,
        throttleWriteIOPSDevice: [LinuxThrottleDevice]? = nil
    ) {
        self.weight = weight
        self.leafWeight = leafWeight
        self.weightDevice = weightDevice
        self.throttleReadBpsDevice = throttleReadBpsDevice
        self.throttleWriteBpsDevice = throttleWriteBpsDevice
        self.throttleReadIOPSDevice = throttleReadIOPSDevice
        self.throttleWriteIOPSDevice = throttleWriteIOPSDevice
    }
}

/// The I/O weight of one block device (config-linux.md, "Block IO", `weightDevice`).
public struct LinuxWeightDevice: Codable, Hashable, Sendable {
    /// `major`: the device's major number. Required.
    public var major: Int64
    /// `minor`: the device's minor number. Required.
    public var minor: Int64
    /// `weight`: the weight, 10 to 1000.
    public var weight: UInt16?
    /// `leafWeight`: the leaf weight (cgroup v1 CFQ).
    public var leafWeight: UInt16?

    /// Creates a value; optional fields default to absent.
    public init(major: Int64, minor: Int64, weight: UInt16? = nil, leafWeight: UInt16? = nil) {
        self.major = major
        self.minor = minor
        self.weight = weight
        self.leafWeight = leafWeight
    }
}

/// An I/O rate limit of one block device (config-linux.md, "Block IO", `throttle*Device`).
public struct LinuxThrottleDevice: Codable, Hashable, Sendable {
    /// `major`: the device's major number. Required.
    public var major: Int64
    /// `minor`: the device's minor number. Required.
    public var minor: Int64
    /// `rate`: the limit, bytes or operations per second. Required.
    public var rate: UInt64

    /// Creates a value; optional fields default to absent.
    public init(major: Int64, minor: Int64, rate: UInt64) {
        self.major = major
        self.minor = minor
        self.rate = rate
    }
}

/// A HugeTLB limit (config-linux.md, "Huge page limits").
public struct LinuxHugepageLimit: Codable, Hashable, Sendable {
    /// `pageSize`: the huge page size, e.g. `2MB`, `1GB`. Required.
    public var pageSize: String
    /// `limit`: the limit of huge page usage, in bytes. Required.
    public var limit: UInt64

    /// Creates a value; optional fields default to absent.
    public init(pageSize: String, limit: UInt64) {
        self.pageSize = pageSize
        self.limit = limit
    }
}

/// The network cgroup settings (config-linux.md, "Network").
public struct LinuxNetwork: Codable, Hashable, Sendable {
    /// `classID`: the class identifier tagged on the cgroup's packets (`net_cls.classid`).
    public var classID: UInt32?
    /// `priorities`: per-interface packet priorities (`net_prio.ifpriomap`).
    public var priorities: [LinuxInterfacePriority]?

    /// Creates a value; optional fields default to absent.
    public init(classID: UInt32? = nil, priorities: [LinuxInterfacePriority]? = nil) {
        self.classID = classID
        self.priorities = priorities
    }
}

/// The priority of packets on one interface (config-linux.md, "Network", `priorities`).
public struct LinuxInterfacePriority: Codable, Hashable, Sendable {
    /// `name`: the interface name. Required.
    public var name: String
    /// `priority`: the priority. Required.
    public var priority: UInt32

    /// Creates a value; optional fields default to absent.
    public init(name: String, priority: UInt32) {
        self.name = name
        self.priority = priority
    }
}

/// RDMA limits of one device (config-linux.md, "RDMA").
public struct LinuxRdma: Codable, Hashable, Sendable {
    /// `hcaHandles`: the maximum number of HCA handles.
    public var hcaHandles: UInt32?
    /// `hcaObjects`: the maximum number of HCA objects.
    public var hcaObjects: UInt32?

    /// Creates a value; optional fields default to absent.
    public init(hcaHandles: UInt32? = nil, hcaObjects: UInt32? = nil) {
        self.hcaHandles = hcaHandles
        self.hcaObjects = hcaObjects
    }
}
