// cgroup v2 freezer (Documentation/admin-guide/cgroup-v2.rst, "cgroup.freeze"; Linux ≥ 5.2).

/// Freezes and thaws through `cgroup.freeze`, waiting on `cgroup.events`.
enum CgroupV2Freezer {
    /// Writes `1` (freeze) or `0` (thaw) to `cgroup.freeze` and polls `cgroup.events` until
    /// `frozen` matches, for up to 2 s.
    static func set(_ directory: String, frozen: Bool) throws {
        guard CgroupFS.exists(directory + "/cgroup.freeze") else {
            throw CgroupError(.missingController, "\(directory) has no cgroup.freeze; pausing needs Linux 5.2 or later")
        }
        try CgroupFS.write(directory, "cgroup.freeze", frozen ? "1" : "0")
        for _ in 0..<2000 {
            if try isFrozen(directory) == frozen { return }
            CgroupFS.pause(1000)
        }
        if frozen { try? CgroupFS.write(directory, "cgroup.freeze", "0") }
        throw CgroupError(
            .timeout, "cgroup \(directory) did not report frozen \(frozen ? 1 : 0) in cgroup.events within 2 s")
    }

    /// Whether `cgroup.events` says `frozen 1`.
    static func isFrozen(_ directory: String) throws -> Bool {
        try CgroupFS.readKeyed(directory, "cgroup.events")["frozen"] == 1
    }
}
