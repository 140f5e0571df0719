// `stats`: a container's resource use from its cgroup (v1 or v2), shaped like Docker's
// stats JSON (`GET /containers/ID/stats`) so that a daemon can serve it as it is and
// `kujira stats` can compute Docker's columns from it.
//
//     let first = try engine.stats("web")
//     let next = try engine.stats("web", previous: first)   // precpu_stats = first.cpu_stats
//     print(next.cpuPercent, next.memoryStats.usage)

import KujiraRuntime
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One sample of a container's resource use, with Docker's JSON field names.
public struct ContainerStats: Codable, Sendable, Hashable {
    /// CPU use at one instant.
    public struct CPUStats: Codable, Sendable, Hashable {
        /// Container CPU time.
        public struct Usage: Codable, Sendable, Hashable {
            /// Total nanoseconds.
            public var totalUsage: UInt64 = 0
            /// Nanoseconds in kernel mode.
            public var usageInKernelmode: UInt64 = 0
            /// Nanoseconds in user mode.
            public var usageInUsermode: UInt64 = 0
            private enum CodingKeys: String, CodingKey {
                case totalUsage = "total_usage", usageInKernelmode = "usage_in_kernelmode", usageInUsermode = "usage_in_usermode"
            }
        }
        /// CFS throttling.
        public struct Throttling: Codable, Sendable, Hashable {
            /// Periods with throttling active.
            public var periods: UInt64 = 0
            /// Periods in which the container was throttled.
            public var throttledPeriods: UInt64 = 0
            /// Nanoseconds throttled.
            public var throttledTime: UInt64 = 0
            private enum CodingKeys: String, CodingKey {
                case periods, throttledPeriods = "throttled_periods", throttledTime = "throttled_time"
            }
        }
        /// The container's CPU time.
        public var cpuUsage = Usage()
        /// The host's CPU time (all CPUs, nanoseconds, from /proc/stat).
        public var systemCPUUsage: UInt64 = 0
        /// CPUs online.
        public var onlineCPUs: UInt32 = 0
        /// Throttling data.
        public var throttlingData = Throttling()
        private enum CodingKeys: String, CodingKey {
            case cpuUsage = "cpu_usage", systemCPUUsage = "system_cpu_usage", onlineCPUs = "online_cpus", throttlingData = "throttling_data"
        }
    }
    /// Memory use.
    public struct MemoryStats: Codable, Sendable, Hashable {
        /// Bytes in use (page cache included, as the cgroup counts it).
        public var usage: UInt64 = 0
        /// Peak usage, when the kernel records it.
        public var maxUsage: UInt64?
        /// The limit; the host's memory when the container has none.
        public var limit: UInt64 = 0
        /// Times the limit was hit.
        public var failcnt: UInt64?
        /// Details (`cache`, `oom_kill`).
        public var stats: [String: UInt64] = [:]
        private enum CodingKeys: String, CodingKey { case usage, maxUsage = "max_usage", limit, failcnt, stats }
    }
    /// Process counts.
    public struct PidsStats: Codable, Sendable, Hashable {
        /// Tasks now.
        public var current: UInt64 = 0
        /// The limit, when there is one.
        public var limit: UInt64?
    }
    /// One block I/O counter.
    public struct BlkioEntry: Codable, Sendable, Hashable {
        /// Device major.
        public var major: UInt64
        /// Device minor.
        public var minor: UInt64
        /// `read` or `write`.
        public var op: String
        /// Bytes.
        public var value: UInt64
    }
    /// Block I/O.
    public struct BlkioStats: Codable, Sendable, Hashable {
        /// Bytes read and written per device.
        public var ioServiceBytesRecursive: [BlkioEntry] = []
        private enum CodingKeys: String, CodingKey { case ioServiceBytesRecursive = "io_service_bytes_recursive" }
    }
    /// Traffic of one interface.
    public struct NetworkStats: Codable, Sendable, Hashable {
        /// Bytes received.
        public var rxBytes: UInt64 = 0
        /// Bytes sent.
        public var txBytes: UInt64 = 0
        private enum CodingKeys: String, CodingKey { case rxBytes = "rx_bytes", txBytes = "tx_bytes" }
    }

    /// `/NAME`.
    public var name: String
    /// The container id.
    public var id: String
    /// When this sample was read (RFC 3339).
    public var read: String
    /// When the previous sample was read (or the zero time).
    public var preread: String
    /// Processes.
    public var pidsStats = PidsStats()
    /// Block I/O.
    public var blkioStats = BlkioStats()
    /// Always 0 on Linux (Docker's field for Windows).
    public var numProcs: UInt32 = 0
    /// CPU now.
    public var cpuStats = CPUStats()
    /// CPU at the previous sample.
    public var precpuStats = CPUStats()
    /// Memory.
    public var memoryStats = MemoryStats()
    /// Per-interface traffic; empty without a network (the network module fills it).
    public var networks: [String: NetworkStats] = [:]

    private enum CodingKeys: String, CodingKey {
        case name, id, read, preread, pidsStats = "pids_stats", blkioStats = "blkio_stats", numProcs = "num_procs"
        case cpuStats = "cpu_stats", precpuStats = "precpu_stats", memoryStats = "memory_stats", networks
    }

    /// Docker's CPU %: the container's share of the host's CPU time between the two
    /// samples, times the number of CPUs.
    public var cpuPercent: Double {
        let cpuDelta = Double(cpuStats.cpuUsage.totalUsage) - Double(precpuStats.cpuUsage.totalUsage)
        let systemDelta = Double(cpuStats.systemCPUUsage) - Double(precpuStats.systemCPUUsage)
        guard cpuDelta > 0, systemDelta > 0, precpuStats.systemCPUUsage > 0 else { return 0 }
        return cpuDelta / systemDelta * Double(max(cpuStats.onlineCPUs, 1)) * 100
    }

    /// Docker's memory usage: usage minus page cache.
    public var memoryUsage: UInt64 {
        let cache = memoryStats.stats["cache"] ?? 0
        return memoryStats.usage > cache ? memoryStats.usage - cache : memoryStats.usage
    }

    /// Usage over limit, in percent.
    public var memoryPercent: Double {
        memoryStats.limit > 0 ? Double(memoryUsage) / Double(memoryStats.limit) * 100 : 0
    }

    /// Bytes read and written, summed over devices.
    public var blockIO: (read: UInt64, write: UInt64) {
        var read: UInt64 = 0, write: UInt64 = 0
        for entry in blkioStats.ioServiceBytesRecursive {
            if entry.op == "read" { read += entry.value } else if entry.op == "write" { write += entry.value }
        }
        return (read, write)
    }

    /// Bytes received and sent, summed over interfaces.
    public var networkIO: (rx: UInt64, tx: UInt64) {
        networks.values.reduce((0, 0)) { ($0.0 + $1.rxBytes, $0.1 + $1.txBytes) }
    }
}

extension Engine {
    /// A sample of the resource use of container `nameOrID`; `previous` (an earlier sample of
    /// the same container) fills `precpu_stats` and `preread`. A container that is not
    /// running gives a zero sample, as Docker's does.
    public func stats(_ nameOrID: String, previous: ContainerStats? = nil) throws -> ContainerStats {
        let record = try container(nameOrID)
        var sample = ContainerStats(name: "/" + record.name, id: record.id, read: SystemSupport.timestamp(),
                                    preread: previous?.read ?? "0001-01-01T00:00:00Z")
        if let previous { sample.precpuStats = previous.cpuStats }
        guard record.state.isActive else { return sample }
        let raw: CgroupStats
        do {
            raw = try CgroupManagerFactory.make(cgroupsPath: Engine.cgroupsPath(record), containerID: record.id).stats()
        } catch {
            throw EngineError(.io, "cannot read the cgroup statistics of container \(record.name)", cause: error)
        }
        if let cpu = raw.cpu {
            sample.cpuStats.cpuUsage.totalUsage = cpu.usageNanoseconds
            sample.cpuStats.cpuUsage.usageInUsermode = cpu.userNanoseconds ?? 0
            sample.cpuStats.cpuUsage.usageInKernelmode = cpu.systemNanoseconds ?? 0
            sample.cpuStats.throttlingData.throttledPeriods = cpu.throttledPeriods ?? 0
            sample.cpuStats.throttlingData.throttledTime = cpu.throttledNanoseconds ?? 0
        }
        sample.cpuStats.systemCPUUsage = Self.systemCPUNanoseconds()
        sample.cpuStats.onlineCPUs = UInt32(max(sysconf(Int32(_SC_NPROCESSORS_ONLN)), 1))
        if let memory = raw.memory {
            let host = Self.hostMemoryBytes()
            sample.memoryStats.usage = memory.usage
            sample.memoryStats.limit = memory.limit == UInt64.max || (host > 0 && memory.limit > host) ? host : memory.limit
            sample.memoryStats.maxUsage = memory.maxUsage
            sample.memoryStats.failcnt = memory.failCount
            if let cache = memory.cache { sample.memoryStats.stats["cache"] = cache }
            if let kills = memory.oomKills { sample.memoryStats.stats["oom_kill"] = kills }
        }
        if let pids = raw.pids {
            sample.pidsStats.current = pids.current
            sample.pidsStats.limit = pids.limit
        }
        sample.blkioStats.ioServiceBytesRecursive = raw.blockIO.map {
            ContainerStats.BlkioEntry(major: $0.major, minor: $0.minor, op: $0.operation.lowercased(), value: $0.value)
        }
        return sample
    }

    /// The host's CPU time, nanoseconds, from the `cpu` line of /proc/stat (as Docker reads it).
    static func systemCPUNanoseconds() -> UInt64 {
        let text = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return 0 }
        let ticks = line.split(separator: " ").dropFirst().prefix(7).compactMap { UInt64($0) }.reduce(0, +)
        let perSecond = UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
        return ticks * 1_000_000_000 / perSecond
    }

    /// The host's memory, bytes (`MemTotal` of /proc/meminfo).
    static func hostMemoryBytes() -> UInt64 {
        let text = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }) else { return 0 }
        let kib = line.split(separator: " ").dropFirst().first.flatMap { UInt64($0) } ?? 0
        return kib * 1024
    }
}
