// cgroup v1 memory controller (Documentation/admin-guide/cgroup-v1/memory.rst).
import KujiraOCI

/// Writes and reads the v1 memory controller's files.
enum CgroupV1Memory {
    static let limitFile = "memory.limit_in_bytes"
    static let swapFile = "memory.memsw.limit_in_bytes"

    /// Applies `memory`. As in runc, a value of 0 means "not set", -1 means unlimited, and
    /// `swap` is the memory+swap total (`memory.memsw.limit_in_bytes`).
    static func apply(_ directory: String, _ memory: LinuxMemory) throws {
        let limit = memory.limit.flatMap { $0 == 0 ? nil : $0 }
        var swap = memory.swap.flatMap { $0 == 0 ? nil : $0 }
        let hasSwapFile = CgroupFS.exists(directory + "/" + swapFile)
        // "Unlimited memory" with swap unset means unlimited memory+swap too, else the old
        // memsw limit would cap the new memory limit.
        if limit == -1 && swap == nil && hasSwapFile { swap = -1 }
        if let swap, !hasSwapFile {
            throw CgroupError(
                .missingController,
                "cannot set \(swapFile) to \(swap) in \(directory): swap accounting is off on this host; boot with swapaccount=1 or leave linux.resources.memory.swap unset")
        }
        if let limit, limit < -1 { throw invalid("memory.limit", limit) }
        if let swap, swap < -1 { throw invalid("memory.swap", swap) }
        if let limit, let swap {
            if swap != -1 && (limit == -1 || swap < limit) {
                throw CgroupError(
                    .invalidResources,
                    "memory+swap limit (linux.resources.memory.swap = \(swap)) must be at least the memory limit (\(limit))")
            }
            // The kernel keeps memory ≤ memory+swap at every step: when the new memsw is
            // above the current memory limit (raising), write memsw first; otherwise
            // (lowering) write memory first.
            let current = try CgroupFS.readUInt(directory, limitFile)
            if swap == -1 || current < UInt64(swap) {
                try CgroupFS.write(directory, swapFile, String(swap))
                try CgroupFS.write(directory, limitFile, String(limit))
            } else {
                try CgroupFS.write(directory, limitFile, String(limit))
                try CgroupFS.write(directory, swapFile, String(swap))
            }
        } else {
            if let limit { try CgroupFS.write(directory, limitFile, String(limit)) }
            if let swap { try CgroupFS.write(directory, swapFile, String(swap)) }
        }
        if let reservation = memory.reservation, reservation != 0 {
            try CgroupFS.write(directory, "memory.soft_limit_in_bytes", String(reservation))
        }
        // `kernel` (memory.kmem.limit_in_bytes) is deprecated by the spec and gone from
        // kernels ≥ 5.16 (runc ignores it too): deliberately not written.
        if let kernelTCP = memory.kernelTCP, kernelTCP != 0 {
            try CgroupFS.write(directory, "memory.kmem.tcp.limit_in_bytes", String(kernelTCP))
        }
        if let swappiness = memory.swappiness {
            guard swappiness <= 100 else { throw invalid("memory.swappiness", Int64(clamping: swappiness)) }
            try CgroupFS.write(directory, "memory.swappiness", String(swappiness))
        }
        if memory.disableOOMKiller == true {
            try CgroupFS.write(directory, "memory.oom_control", "1")
        }
        if let useHierarchy = memory.useHierarchy {
            try CgroupFS.write(directory, "memory.use_hierarchy", useHierarchy ? "1" : "0")
        }
    }

    /// Memory use of the cgroup in `directory`.
    static func stats(_ directory: String) throws -> CgroupStats.Memory {
        let stat = try CgroupFS.readKeyed(directory, "memory.stat")
        let control = try CgroupFS.readKeyed(directory, "memory.oom_control")
        return CgroupStats.Memory(
            usage: try CgroupFS.readUInt(directory, "memory.usage_in_bytes"),
            limit: try CgroupFS.readUInt(directory, limitFile),
            cache: stat["total_cache"] ?? stat["cache"],
            maxUsage: try? CgroupFS.readUInt(directory, "memory.max_usage_in_bytes"),
            failCount: try? CgroupFS.readUInt(directory, "memory.failcnt"),
            oomKills: control["oom_kill"])
    }

    /// The `oom_kill` counter of memory.oom_control (kernel ≥ 4.13).
    static func oomKillCount(_ directory: String) throws -> UInt64 {
        let control = try CgroupFS.readKeyed(directory, "memory.oom_control")
        guard let count = control["oom_kill"] else {
            throw CgroupError(.read, "\(directory)/memory.oom_control has no oom_kill line (kernel older than 4.13)")
        }
        return count
    }

    private static func invalid(_ field: String, _ value: Int64) -> CgroupError {
        CgroupError(.invalidResources, "linux.resources.\(field) = \(value) is out of range")
    }
}
