internal import CKujiraRuntime

/// How a `cgroup` mount of the spec becomes mount steps: the host's cgroup hierarchies (from
/// mountinfo) and the cgroup the container's init is in (from /proc/<pid>/cgroup). With
/// cgroup v1 or hybrid, runc mounts a tmpfs and binds each hierarchy's container directory into
/// it; with v2 alone it mounts cgroup2 (in a cgroup namespace) or binds the container's directory.
struct CgroupMountLayout: Sendable, Equatable {
    /// One mounted hierarchy and the process's cgroup in it.
    struct Hierarchy: Sendable, Equatable {
        /// The host mount point, e.g. `/sys/fs/cgroup/cpu,cpuacct`.
        var mountPoint: String
        /// The directory of the process's cgroup in that hierarchy, on the host.
        var directory: String
        /// Whether this is the cgroup2 hierarchy of a hybrid host.
        var isUnified = false
        /// The hierarchy's controllers as /proc/PID/cgroup names them (`cpu,cpuacct`,
        /// `name=systemd`; empty for cgroup2).
        var controllers = ""
    }

    /// v1 hierarchies and the hybrid unified one, in mountinfo order.
    var hierarchies: [Hierarchy] = []
    /// Set when /sys/fs/cgroup itself is cgroup2 (unified mode): the container's directory.
    var unifiedDirectory: String?

    /// Reads the layout for process `pid` ("self" for the runtime itself).
    static func read(pid: String = "self") throws -> CgroupMountLayout {
        guard let mountinfo = try FileIO.readText("/proc/\(pid)/mountinfo"),
              let cgroupText = try FileIO.readText("/proc/\(pid)/cgroup") else {
            throw RuntimeError(.io, "reading the cgroups of process \(pid) from /proc")
        }
        return parse(mountinfo: mountinfo, cgroups: cgroupText)
    }

    /// The layout of the texts of a process's /proc/PID/mountinfo and /proc/PID/cgroup (the
    /// runtime's own, when they come from a ``CgroupSystem`` the cgroup driver uses too).
    static func parse(mountinfo: String, cgroups cgroupText: String) -> CgroupMountLayout {
        // controllers ("cpu,cpuacct", "name=systemd", "" for v2) → path
        var paths: [String: String] = [:]
        for line in cgroupText.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            if parts.count == 3 { paths[String(parts[1])] = String(parts[2]) }
        }
        var layout = CgroupMountLayout()
        for line in mountinfo.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let dash = fields.firstIndex(of: "-"), dash >= 5, fields.count > dash + 3 else { continue }
            let root = String(fields[3]), mountPoint = unescapeMountinfo(String(fields[4]))
            let fsType = fields[dash + 1], superOptions = Set(fields[dash + 3].split(separator: ",").map(String.init))
            guard mountPoint.hasPrefix("/sys/fs/cgroup") else { continue }
            let key: String?
            if fsType == "cgroup2" {
                key = ""
            } else if fsType == "cgroup" {
                key = paths.keys.first { !$0.isEmpty && Set($0.split(separator: ",").map(String.init)).isSubset(of: superOptions) }
            } else {
                continue
            }
            guard let key, let path = paths[key] else { continue }
            // The cgroup path is relative to the hierarchy's root; the mount may show a subtree.
            var relative = path
            if root != "/" && relative.hasPrefix(root) { relative = String(relative.dropFirst(root.count)) }
            let directory = cleanAbsolutePath(mountPoint + "/" + relative)
            if mountPoint == "/sys/fs/cgroup" && fsType == "cgroup2" {
                layout.unifiedDirectory = directory
            } else {
                layout.hierarchies.append(Hierarchy(mountPoint: mountPoint, directory: directory, isUnified: fsType == "cgroup2",
                                                    controllers: key))
            }
        }
        return layout
    }

    /// The layout of a process that joins `directories` (a cgroup driver's directory per
    /// controller, `""` for cgroup2) from this one: each hierarchy shows the container's
    /// directory. A hierarchy the driver has no directory for keeps this layout's directory,
    /// which is where a process that joins the others stays in it. This is what reading
    /// /proc/PID/cgroup after the join would give, without waiting for the join.
    func joining(_ directories: [String: String]) -> CgroupMountLayout {
        var result = self
        for index in result.hierarchies.indices {
            let hierarchy = result.hierarchies[index]
            let keys = hierarchy.isUnified ? [""] : hierarchy.controllers.split(separator: ",").map(String.init)
            if let directory = keys.lazy.compactMap({ directories[$0] }).first {
                result.hierarchies[index].directory = directory
            }
        }
        if result.unifiedDirectory != nil, let directory = directories[""] { result.unifiedDirectory = directory }
        return result
    }

    /// The `cgroup.procs` of a cgroup the process this layout was read for is in (a v1
    /// hierarchy first), for ``prewarmMigration()``.
    var ownProcsFile: String? {
        let directory = hierarchies.first { !$0.isUnified }?.directory ?? unifiedDirectory ?? hierarchies.first?.directory
        return directory.map { $0 + "/cgroup.procs" }
    }

    /// Makes the kernel start the RCU grace period that the container's cgroup migration will
    /// wait for (`kujira_cgroup_prewarm`: this process moved into the cgroup it is already in,
    /// on a thread), so that the migration a few milliseconds later waits only for what is
    /// left of it. For a layout read for this process ("self"). Best effort: a failure only
    /// means no head start.
    func prewarmMigration() {
        if let file = ownProcsFile { _ = kujira_cgroup_prewarm(file) }
    }

    /// Mount steps for a cgroup mount at `destination` with the spec's `flags`.
    func steps(destination: String, flags: UInt64, cgroupNamespace: Bool) -> [InitPlan.Operation] {
        let keep = flags & (MountFlag.nosuid | MountFlag.nodev | MountFlag.noexec | MountFlag.rdonly)
        if let unifiedDirectory {
            if cgroupNamespace {
                return [.mount(.init(source: "cgroup", destination: destination, type: "cgroup2", flags: keep))]
            }
            return [.mount(.init(source: unifiedDirectory, destination: destination, type: nil, flags: MountFlag.bind | MountFlag.rec | keep))]
        }
        var steps: [InitPlan.Operation] = [
            .mount(.init(source: "tmpfs", destination: destination, type: "tmpfs", flags: keep & ~MountFlag.rdonly, data: "mode=755")),
        ]
        // As runc: in v1/hybrid mode the tmpfs stays writable (the binds carry the flags) and
        // the hybrid unified hierarchy is not shown.
        for hierarchy in hierarchies where !hierarchy.isUnified {
            let name = hierarchy.mountPoint.split(separator: "/").last.map(String.init) ?? "unified"
            steps.append(.mount(.init(source: hierarchy.directory, destination: destination + "/" + name, type: nil,
                                      flags: MountFlag.bind | MountFlag.rec | keep)))
            if name.contains(",") {
                for part in name.split(separator: ",") where !part.hasPrefix("name=") {
                    steps.append(.symlink(path: destination + "/" + part, target: name))
                }
            }
        }
        return steps
    }
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
func unescapeMountinfo(_ text: String) -> String {
    guard text.contains("\\") else { return text }
    var bytes: [UInt8] = []
    let source = Array(text.utf8)
    var i = 0
    while i < source.count {
        if source[i] == UInt8(ascii: "\\"), i + 3 < source.count,
           let value = UInt8(String(decoding: source[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
            bytes.append(value)
            i += 4
        } else {
            bytes.append(source[i])
            i += 1
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}
