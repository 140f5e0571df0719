// cgroup v2 cpu and cpuset controllers (Documentation/admin-guide/cgroup-v2.rst, "CPU",
// "Cpuset").
import KujiraOCI

/// Writes and reads the v2 cpu and cpuset controllers' files.
enum CgroupV2CPU {
    /// `cpu.weight` for v1 `cpu.shares`, runc's formula: shares [2, 262144] map linearly
    /// onto weight [1, 10000]; 0 means unset.
    static func weight(shares: UInt64) -> UInt64 {
        if shares == 0 { return 0 }
        let clamped = min(max(shares, 2), 262_144)
        return 1 + ((clamped - 2) * 9999) / 262_142
    }

    /// The `cpu.max` line for `quota` and `period` (`max 100000`, `50000 100000`, `50000`),
    /// or nil when neither is set.
    static func maxLine(quota: Int64?, period: UInt64?) -> String? {
        let quota = quota ?? 0
        let period = period ?? 0
        if quota == 0 && period == 0 { return nil }
        var line = quota > 0 ? String(quota) : "max"
        if period != 0 { line += " \(period)" }
        return line
    }

    /// Whether `cpu` sets anything the cpu controller holds.
    static func setsCPU(_ cpu: LinuxCPU) -> Bool {
        cpu.shares != nil || cpu.quota != nil || cpu.period != nil || cpu.burst != nil || cpu.idle != nil
    }

    /// Applies shares (as weight), quota/period, burst and idle.
    static func apply(_ directory: String, _ cpu: LinuxCPU) throws {
        if cpu.realtimeRuntime.map({ $0 != 0 }) == true || cpu.realtimePeriod.map({ $0 != 0 }) == true {
            throw CgroupError(.invalidResources, "linux.resources.cpu.realtimeRuntime/realtimePeriod are cgroup v1 only; cgroup v2 has no real-time CPU budget")
        }
        if let shares = cpu.shares, shares != 0 {
            try CgroupFS.write(directory, "cpu.weight", String(weight(shares: shares)))
        }
        if let line = maxLine(quota: cpu.quota, period: cpu.period) {
            try CgroupFS.write(directory, "cpu.max", line)
        }
        if let burst = cpu.burst {
            try CgroupFS.write(directory, "cpu.max.burst", String(burst))
        }
        if let idle = cpu.idle {
            try CgroupFS.write(directory, "cpu.idle", String(idle))
        }
    }

    /// Applies `cpus` and `mems` to the cpuset controller.
    static func applyCPUSet(_ directory: String, _ cpu: LinuxCPU) throws {
        if let cpus = cpu.cpus, !cpus.isEmpty { try CgroupFS.write(directory, "cpuset.cpus", cpus) }
        if let mems = cpu.mems, !mems.isEmpty { try CgroupFS.write(directory, "cpuset.mems", mems) }
    }

    /// CPU time from `cpu.stat` (present in every v2 cgroup, with or without the controller).
    static func stats(_ directory: String) throws -> CgroupStats.CPU {
        let stat = try CgroupFS.readKeyed(directory, "cpu.stat")
        guard let usage = stat["usage_usec"] else {
            throw CgroupError(.read, "\(directory)/cpu.stat has no usage_usec line")
        }
        return CgroupStats.CPU(
            usageNanoseconds: usage &* 1000, userNanoseconds: stat["user_usec"].map { $0 &* 1000 },
            systemNanoseconds: stat["system_usec"].map { $0 &* 1000 }, throttledPeriods: stat["nr_throttled"],
            throttledNanoseconds: stat["throttled_usec"].map { $0 &* 1000 })
    }
}
