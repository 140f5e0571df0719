// cgroup v1 cpuset controller (Documentation/admin-guide/cgroup-v1/cpusets.rst).
import KujiraOCI

/// Writes the v1 cpuset controller's files.
enum CgroupV1CPUSet {
    /// Called for each directory `create()` makes in the cpuset hierarchy, and for the leaf: a
    /// new v1 cpuset starts with empty `cpuset.cpus` and `cpuset.mems`, and no task can join it
    /// (ENOSPC) until they are filled, so copy the parent's values. An empty parent (an
    /// existing directory someone else made and left empty) is filled first, from its own
    /// parent, up to the first that has values — the hierarchy's root always has — as runc's
    /// cpusetEnsureParent does.
    static func fillFromParent(_ directory: String) throws {
        let parent = CgroupManagerFactory.parent(directory)
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let mine = CgroupFS.trim(try CgroupFS.read(directory, file))
            if mine.isEmpty {
                var value = CgroupFS.trim(try CgroupFS.read(parent, file))
                if value.isEmpty && parent != directory {
                    try fillFromParent(parent)
                    value = CgroupFS.trim(try CgroupFS.read(parent, file))
                }
                try CgroupFS.write(directory, file, value)
            }
        }
    }

    /// Applies the `cpus` and `mems` lists of `cpu`.
    static func apply(_ directory: String, _ cpu: LinuxCPU) throws {
        if let cpus = cpu.cpus, !cpus.isEmpty {
            try CgroupFS.write(directory, "cpuset.cpus", cpus)
        }
        if let mems = cpu.mems, !mems.isEmpty {
            try CgroupFS.write(directory, "cpuset.mems", mems)
        }
    }
}
