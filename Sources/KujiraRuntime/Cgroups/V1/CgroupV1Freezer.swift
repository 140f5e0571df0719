// cgroup v1 freezer controller (Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst).

/// Freezes and thaws through `freezer.state`.
enum CgroupV1Freezer {
    /// Writes `FROZEN` and polls until the state reads `FROZEN`; the kernel may stay in
    /// `FREEZING` while a task is in an uninterruptible sleep, so the write is repeated. On
    /// timeout the cgroup is thawed again, so it is never left half-frozen.
    static func freeze(_ directory: String) throws {
        try CgroupFS.write(directory, "freezer.state", "FROZEN")
        for attempt in 1...2000 {
            if try state(directory) == "FROZEN" { return }
            if attempt % 50 == 0 { try CgroupFS.write(directory, "freezer.state", "FROZEN") }
            CgroupFS.pause(1000)
        }
        try? CgroupFS.write(directory, "freezer.state", "THAWED")
        throw CgroupError(.timeout, "cgroup \(directory) did not reach FROZEN within 2 s (a process in uninterruptible sleep?); it was thawed again")
    }

    /// Writes `THAWED` and polls until the state reads `THAWED`.
    static func thaw(_ directory: String) throws {
        try CgroupFS.write(directory, "freezer.state", "THAWED")
        for attempt in 1...2000 {
            if try state(directory) == "THAWED" { return }
            if attempt % 50 == 0 { try CgroupFS.write(directory, "freezer.state", "THAWED") }
            CgroupFS.pause(1000)
        }
        throw CgroupError(.timeout, "cgroup \(directory) did not reach THAWED within 2 s")
    }

    /// The raw `freezer.state`: `THAWED`, `FREEZING` or `FROZEN`.
    static func state(_ directory: String) throws -> String {
        CgroupFS.trim(try CgroupFS.read(directory, "freezer.state"))
    }
}
