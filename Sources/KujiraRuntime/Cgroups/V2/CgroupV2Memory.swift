// cgroup v2 memory controller (Documentation/admin-guide/cgroup-v2.rst, "Memory").
import KujiraOCI

/// Writes and reads the v2 memory controller's files.
enum CgroupV2Memory {
    /// The `memory.swap.max` value for the spec's memory+swap total `swap` and memory limit
    /// `limit` (runc's ConvertMemorySwapToCgroupV2Value): v2 limits swap alone, so it is
    /// `swap - limit`; -1 stays unlimited; nil means "leave as is". 0 means unset, as in runc.
    static func swapMax(swap: Int64?, limit: Int64?) throws -> Int64? {
        let swap = swap ?? 0
        let limit = limit ?? 0
        // Unlimited memory with swap unset means unlimited swap too (v1 compatibility).
        if limit == -1 && swap == 0 { return -1 }
        if swap == 0 { return nil }
        if swap == -1 { return -1 }
        if limit == 0 || limit == -1 {
            throw CgroupError(.invalidResources, "linux.resources.memory.swap = \(swap) needs a memory limit: cgroup v2 limits swap as swap minus memory")
        }
        if limit < 0 || swap < 0 {
            throw CgroupError(.invalidResources, "linux.resources.memory limit \(limit) / swap \(swap) out of range")
        }
        if swap < limit {
            throw CgroupError(
                .invalidResources,
                "memory+swap limit (linux.resources.memory.swap = \(swap)) must be at least the memory limit (\(limit))")
        }
        return swap - limit
    }

    /// A limit as v2 writes it: -1 is `max`.
    static func text(_ value: Int64) -> String { value == -1 ? "max" : String(value) }

    /// Applies `memory`: `memory.swap.max` (swap minus memory), `memory.max`, `memory.low`
    /// (reservation), `memory.swappiness` is v1 only and refused, kernel limits are ignored.
    static func apply(_ directory: String, _ memory: LinuxMemory) throws {
        let limit = memory.limit.flatMap { $0 == 0 ? nil : $0 }
        if let limit, limit < -1 {
            throw CgroupError(.invalidResources, "linux.resources.memory.limit = \(limit) is out of range")
        }
        if let swap = try swapMax(swap: memory.swap, limit: memory.limit) {
            let value = text(swap)
            do {
                try CgroupFS.write(directory, "memory.swap.max", value)
            } catch {
                // Without swap accounting the file is missing: unlimited or no swap is what
                // the host gives anyway (runc ignores the same case).
                let missing = !CgroupFS.exists(directory + "/memory.swap.max")
                if !(missing && (value == "max" || value == "0")) { throw error }
            }
        }
        if let limit {
            if memory.checkBeforeUpdate == true && limit != -1 {
                let current = try CgroupFS.readUInt(directory, "memory.current")
                if current >= UInt64(limit) {
                    throw CgroupError(
                        .invalidResources,
                        "memory limit \(limit) is not above the current usage \(current) of \(directory) (checkBeforeUpdate)")
                }
            }
            try CgroupFS.write(directory, "memory.max", text(limit))
        }
        if let reservation = memory.reservation, reservation != 0 {
            try CgroupFS.write(directory, "memory.low", text(reservation))
        }
        if memory.swappiness != nil {
            throw CgroupError(.invalidResources, "linux.resources.memory.swappiness is cgroup v1 only; leave it unset on this cgroup v2 host")
        }
        if memory.disableOOMKiller == true {
            throw CgroupError(.invalidResources, "linux.resources.memory.disableOOMKiller is cgroup v1 only; cgroup v2 has no way to disable the OOM killer")
        }
        // `kernel` and `kernelTCP` are accounted in memory.max on v2 and `useHierarchy` is
        // always on: nothing to write.
    }

    /// Memory use of the cgroup in `directory`.
    static func stats(_ directory: String) throws -> CgroupStats.Memory {
        let stat = (try? CgroupFS.readKeyed(directory, "memory.stat")) ?? [:]
        let events = (try? CgroupFS.readKeyed(directory, "memory.events")) ?? [:]
        return CgroupStats.Memory(
            usage: try CgroupFS.readUInt(directory, "memory.current"),
            limit: try CgroupFS.readUInt(directory, "memory.max"),
            cache: stat["file"],
            maxUsage: try? CgroupFS.readUInt(directory, "memory.peak"),
            failCount: events["max"],
            oomKills: events["oom_kill"])
    }
}
