// Resource usage of a cgroup, as `kujira stats` and `runc events --stats` report it.

/// A snapshot of a cgroup's resource usage. Fields the host cannot provide are nil.
public struct CgroupStats: Sendable, Hashable, Codable {
    /// CPU time consumed.
    public struct CPU: Sendable, Hashable, Codable {
        /// Total CPU time, nanoseconds (v1 `cpuacct.usage`, v2 `cpu.stat usage_usec`×1000).
        public var usageNanoseconds: UInt64
        /// CPU time in user mode, nanoseconds, when known.
        public var userNanoseconds: UInt64?
        /// CPU time in kernel mode, nanoseconds, when known.
        public var systemNanoseconds: UInt64?
        /// CFS periods in which the cgroup was throttled (`nr_throttled`).
        public var throttledPeriods: UInt64?
        /// Total time throttled, nanoseconds.
        public var throttledNanoseconds: UInt64?

        /// Creates a value.
        public init(usageNanoseconds: UInt64, userNanoseconds: UInt64? = nil, systemNanoseconds: UInt64? = nil,
                    throttledPeriods: UInt64? = nil, throttledNanoseconds: UInt64? = nil) {
            self.usageNanoseconds = usageNanoseconds
            self.userNanoseconds = userNanoseconds
            self.systemNanoseconds = systemNanoseconds
            self.throttledPeriods = throttledPeriods
            self.throttledNanoseconds = throttledNanoseconds
        }
    }

    /// Memory use.
    public struct Memory: Sendable, Hashable, Codable {
        /// Current usage in bytes (v1 `memory.usage_in_bytes`, v2 `memory.current`).
        public var usage: UInt64
        /// The limit in bytes; `UInt64.max` when unlimited.
        public var limit: UInt64
        /// Page cache in bytes (`memory.stat` `cache` on v1, `file` on v2).
        public var cache: UInt64?
        /// Peak usage in bytes, when the kernel records it.
        public var maxUsage: UInt64?
        /// Times the limit was hit (v1 `memory.failcnt`, v2 `memory.events` `max`).
        public var failCount: UInt64?
        /// Processes killed by the OOM killer in this cgroup.
        public var oomKills: UInt64?

        /// Creates a value.
        public init(usage: UInt64, limit: UInt64, cache: UInt64? = nil, maxUsage: UInt64? = nil,
                    failCount: UInt64? = nil, oomKills: UInt64? = nil) {
            self.usage = usage
            self.limit = limit
            self.cache = cache
            self.maxUsage = maxUsage
            self.failCount = failCount
            self.oomKills = oomKills
        }
    }

    /// Process count.
    public struct Pids: Sendable, Hashable, Codable {
        /// Tasks in the cgroup now (`pids.current`).
        public var current: UInt64
        /// The limit; nil when unlimited (`max`).
        public var limit: UInt64?

        /// Creates a value.
        public init(current: UInt64, limit: UInt64?) {
            self.current = current
            self.limit = limit
        }
    }

    /// Bytes moved to or from one block device.
    public struct BlockIOEntry: Sendable, Hashable, Codable {
        /// The device's major number.
        public var major: UInt64
        /// The device's minor number.
        public var minor: UInt64
        /// `Read` or `Write` (v1 spelling, which `docker stats` uses).
        public var operation: String
        /// The byte count.
        public var value: UInt64

        /// Creates a value.
        public init(major: UInt64, minor: UInt64, operation: String, value: UInt64) {
            self.major = major
            self.minor = minor
            self.operation = operation
            self.value = value
        }
    }

    /// CPU time, when the cpu accounting controller is present.
    public var cpu: CPU?
    /// Memory use, when the memory controller is present.
    public var memory: Memory?
    /// Process count, when the pids controller is present.
    public var pids: Pids?
    /// Bytes read and written per device (v1 `blkio.throttle.io_service_bytes`, v2 `io.stat`).
    public var blockIO: [BlockIOEntry]

    /// Creates a value.
    public init(cpu: CPU? = nil, memory: Memory? = nil, pids: Pids? = nil, blockIO: [BlockIOEntry] = []) {
        self.cpu = cpu
        self.memory = memory
        self.pids = pids
        self.blockIO = blockIO
    }
}
