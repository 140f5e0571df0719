// cgroup v1 pids controller (Documentation/admin-guide/cgroup-v1/pids.rst); v2 uses the
// same files.
import KujiraOCI

/// Writes and reads the pids controller's files (identical in v1 and v2).
enum CgroupPidsController {
    /// Applies `pids`: a positive limit is written as is, 0 or -1 as `max` (unlimited).
    static func apply(_ directory: String, _ pids: LinuxPids) throws {
        try CgroupFS.write(directory, "pids.max", pids.limit > 0 ? String(pids.limit) : "max")
    }

    /// `pids.current` and `pids.max`.
    static func stats(_ directory: String) throws -> CgroupStats.Pids {
        let limit = try CgroupFS.readUInt(directory, "pids.max")
        return CgroupStats.Pids(
            current: try CgroupFS.readUInt(directory, "pids.current"), limit: limit == UInt64.max ? nil : limit)
    }
}
