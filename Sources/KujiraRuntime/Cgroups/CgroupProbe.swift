// Probing which cgroup hierarchies a host has, from the text of /proc/self/mountinfo,
// /proc/cgroups and /proc/self/cgroup. The parsers take text so that tests can feed them
// the tables of a v1-only, a hybrid and a pure v2 host.

/// How the host's cgroup hierarchies are arranged.
public enum CgroupMode: String, Sendable, Hashable {
    /// cgroup v1 only: one hierarchy per controller (or co-mounted group), no cgroup2 mount.
    case legacy
    /// v1 controller hierarchies plus a cgroup2 mount (systemd's "hybrid" layout, usually an
    /// empty `/sys/fs/cgroup/unified`). Limits go to v1; processes also join the v2 tree.
    case hybrid
    /// cgroup v2 only: one unified hierarchy holding every controller.
    case unified
}

/// One mounted cgroup hierarchy (a line of /proc/self/mountinfo).
public struct CgroupMount: Sendable, Hashable {
    /// Where the hierarchy is mounted, e.g. `/sys/fs/cgroup/memory`.
    public var mountPoint: String
    /// The cgroup that is the root of this mount (`/` unless mounted from inside a cgroup
    /// namespace or bind-mounted from a sub-cgroup).
    public var root: String

    /// Creates a value.
    public init(mountPoint: String, root: String) {
        self.mountPoint = mountPoint
        self.root = root
    }
}

/// The host's cgroup layout: the mode, the v1 hierarchies by controller, and the cgroup2
/// mount.
public struct CgroupLayout: Sendable, Hashable {
    /// The arrangement of the hierarchies.
    public var mode: CgroupMode
    /// v1 hierarchies keyed by controller (`memory`, `cpu`, …) and by named hierarchy
    /// (`name=systemd`); co-mounted controllers share one ``CgroupMount``.
    public var v1: [String: CgroupMount]
    /// The cgroup2 mount, if any.
    public var unified: CgroupMount?
    /// The controllers /proc/cgroups lists as compiled in and enabled.
    public var enabledControllers: Set<String>

    /// Creates a value.
    public init(mode: CgroupMode, v1: [String: CgroupMount], unified: CgroupMount?, enabledControllers: Set<String>) {
        self.mode = mode
        self.v1 = v1
        self.unified = unified
        self.enabledControllers = enabledControllers
    }

    /// Probes the layout from the text of /proc/self/mountinfo and /proc/cgroups.
    /// - Throws: ``CgroupError`` `.noCgroups` when no cgroup hierarchy is mounted.
    public static func probe(mountinfo: String, procCgroups: String) throws -> CgroupLayout {
        let enabled = parseProcCgroups(procCgroups)
        var v1: [String: CgroupMount] = [:]
        var unified: CgroupMount?
        for line in mountinfo.split(separator: "\n") {
            // id parent major:minor root mount-point options [optional…] - fstype source super-options
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let dash = fields.firstIndex(of: "-"), dash >= 5, dash + 1 < fields.count else { continue }
            let fsType = fields[dash + 1]
            let mount = CgroupMount(mountPoint: unescapeMountinfo(String(fields[4])), root: unescapeMountinfo(String(fields[3])))
            if fsType == "cgroup2" {
                if unified == nil { unified = mount }
            } else if fsType == "cgroup", dash + 3 < fields.count {
                for option in fields[dash + 3].split(separator: ",") {
                    let name = String(option)
                    let isController = enabled.contains(name) || name.hasPrefix("name=")
                    if isController && v1[name] == nil { v1[name] = mount }
                }
            }
        }
        let hasV1Controllers = v1.keys.contains { !$0.hasPrefix("name=") }
        let mode: CgroupMode
        switch (hasV1Controllers, unified != nil) {
        case (true, true): mode = .hybrid
        case (true, false): mode = .legacy
        case (false, true): mode = .unified
        case (false, false):
            throw CgroupError(.noCgroups, "no cgroup hierarchy is mounted (checked /proc/self/mountinfo); mount cgroup2 on /sys/fs/cgroup")
        }
        return CgroupLayout(mode: mode, v1: mode == .unified ? [:] : v1, unified: unified, enabledControllers: enabled)
    }

    /// The controllers of /proc/cgroups whose `enabled` column is 1.
    static func parseProcCgroups(_ text: String) -> Set<String> {
        var result: Set<String> = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count >= 4 && fields[3] == "1" { result.insert(String(fields[0])) }
        }
        return result
    }
}

/// The cgroups a process belongs to (a parsed /proc/PID/cgroup).
public struct CgroupMembership: Sendable, Hashable {
    /// The cgroup path by v1 controller (`memory`, `name=systemd`, …); the v2 path under the
    /// key `""`.
    public var paths: [String: String]

    /// Creates a value.
    public init(paths: [String: String]) { self.paths = paths }

    /// Parses the text of /proc/PID/cgroup (`hierarchy-id:controllers:path` per line).
    public static func parse(_ text: String) -> CgroupMembership {
        var paths: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let path = String(fields[2])
            if fields[1].isEmpty {
                paths[""] = path
            } else {
                for controller in fields[1].split(separator: ",") { paths[String(controller)] = path }
            }
        }
        return CgroupMembership(paths: paths)
    }
}
