// cgroup v1 cpu and cpuacct controllers (Documentation/scheduler/sched-bwc.rst).
import KujiraOCI

/// Writes the v1 cpu controller's files and reads cpuacct's counters.
enum CgroupV1CPU {
    /// Applies `cpu` (shares, CFS quota/period/burst, real-time runtime/period, idle).
    static func apply(_ directory: String, _ cpu: LinuxCPU) throws {
        if let shares = cpu.shares, shares != 0 {
            try CgroupFS.write(directory, "cpu.shares", String(shares))
            // The kernel clamps shares to [2, 262144] silently; say so, as runc does.
            let actual = try CgroupFS.readUInt(directory, "cpu.shares")
            if actual != shares {
                throw CgroupError(
                    .invalidResources,
                    "linux.resources.cpu.shares = \(shares) is outside what the kernel allows (it set \(actual)); use 2 to 262144")
            }
        }
        if let period = cpu.period, period != 0 {
            try CgroupFS.write(directory, "cpu.cfs_period_us", String(period))
        }
        if let quota = cpu.quota, quota != 0 {
            try CgroupFS.write(directory, "cpu.cfs_quota_us", String(quota))
        }
        if let burst = cpu.burst {
            try CgroupFS.write(directory, "cpu.cfs_burst_us", String(burst))
        }
        // The real-time period must be set before the runtime that must fit in it.
        if let period = cpu.realtimePeriod, period != 0 {
            try CgroupFS.write(directory, "cpu.rt_period_us", String(period))
        }
        if let runtime = cpu.realtimeRuntime, runtime != 0 {
            try CgroupFS.write(directory, "cpu.rt_runtime_us", String(runtime))
        }
        if let idle = cpu.idle {
            try CgroupFS.write(directory, "cpu.idle", String(idle))
        }
    }

    /// CPU time from cpuacct (`cpuDirectory` adds the throttling counters of cpu.stat).
    static func stats(cpuacct: String, cpu cpuDirectory: String?) throws -> CgroupStats.CPU {
        var result = CgroupStats.CPU(usageNanoseconds: try CgroupFS.readUInt(cpuacct, "cpuacct.usage"))
        // cpuacct.stat counts USER_HZ ticks (100 per second on Linux).
        if let ticks = try? CgroupFS.readKeyed(cpuacct, "cpuacct.stat") {
            result.userNanoseconds = ticks["user"].map { $0 &* 10_000_000 }
            result.systemNanoseconds = ticks["system"].map { $0 &* 10_000_000 }
        }
        if let cpuDirectory, let stat = try? CgroupFS.readKeyed(cpuDirectory, "cpu.stat") {
            result.throttledPeriods = stat["nr_throttled"]
            result.throttledNanoseconds = stat["throttled_time"]
        }
        return result
    }
}
