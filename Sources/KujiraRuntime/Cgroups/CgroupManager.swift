// The cgroup manager of a container: one protocol, an implementation per cgroup version
// (V1/ also serves the hybrid layout), and a factory that picks one by probing the host.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
public import KujiraOCI

/// Whether a cgroup's processes are frozen (`pause`) or running.
public enum CgroupFreezerState: String, Sendable, Hashable, Codable {
    /// The processes are stopped by the freezer.
    case frozen
    /// The processes run normally.
    case thawed
}

/// The cgroups of one container, across every hierarchy the host mounts.
///
/// ```swift
/// let cgroup = try CgroupManagerFactory.make(cgroupsPath: spec.linux?.cgroupsPath, containerID: id)
/// try cgroup.create()
/// try cgroup.apply(spec.linux?.resources ?? LinuxResources())
/// try cgroup.addProcess(initPID)
/// …
/// try cgroup.destroy()   // kills what is left, removes every directory
/// ```
public protocol CgroupManager: Sendable {
    /// The cgroup path as the spec means it (absolute, or relative to the runtime's own
    /// cgroup), after cleaning; the same in every hierarchy.
    var path: String { get }
    /// The cgroup directory in each hierarchy, keyed by controller (`memory`, `cpu`,
    /// `name=systemd`, and `""` for the cgroup v2 directory), as runc's state records
    /// `cgroup_paths`.
    var directories: [String: String] { get }
    /// Creates the cgroup directories (and missing parents) in every hierarchy.
    func create() throws
    /// Writes the limits of `resources`; fields that are nil are left as they are, so the
    /// same call serves `create` and `update --resources`.
    func apply(_ resources: LinuxResources) throws
    /// Moves process `pid` (and its threads) into the cgroup in every hierarchy.
    func addProcess(_ pid: Int32) throws
    /// Freezes every process of the cgroup and waits until the kernel reports it frozen.
    func freeze() throws
    /// Thaws a frozen cgroup and waits until the kernel reports it thawed.
    func thaw() throws
    /// Whether the cgroup is frozen.
    func freezerState() throws -> CgroupFreezerState
    /// The processes in the cgroup and its child cgroups.
    func pids() throws -> [Int32]
    /// Sends `signal` to every process in the cgroup; for `SIGKILL`, repeats until the cgroup
    /// is empty (a process may fork while we read the list).
    func killAll(signal: Int32) throws
    /// Kills every process, waits for the cgroup to empty, and removes its directory (and
    /// child cgroups) in every hierarchy, retrying `EBUSY` with a backoff. A cgroup that is
    /// already gone is not an error.
    func destroy() throws
    /// A snapshot of CPU, memory, pids and block I/O use.
    func stats() throws -> CgroupStats
    /// How many processes the OOM killer has killed in this cgroup (v1 `memory.oom_control`
    /// `oom_kill`, v2 `memory.events` `oom_kill`).
    func oomKillCount() throws -> UInt64
}

/// The text of the /proc files a cgroup manager is chosen by, so that tests can describe
/// hosts this machine is not.
public struct CgroupSystem: Sendable, Hashable {
    /// The text of /proc/self/mountinfo.
    public var mountinfo: String
    /// The text of /proc/cgroups.
    public var procCgroups: String
    /// The text of /proc/self/cgroup: the runtime's own cgroups, which relative paths are
    /// resolved against.
    public var selfCgroup: String

    /// Creates a value.
    public init(mountinfo: String, procCgroups: String, selfCgroup: String) {
        self.mountinfo = mountinfo
        self.procCgroups = procCgroups
        self.selfCgroup = selfCgroup
    }

    /// Reads the files of the running system.
    public static func current() throws -> CgroupSystem {
        func read(_ path: String) throws -> String {
            guard let text = try CgroupFS.readIfPresent(path) else {
                throw CgroupError(.noCgroups, "\(path) is missing; is /proc mounted?")
            }
            return text
        }
        return CgroupSystem(
            mountinfo: try read("/proc/self/mountinfo"), procCgroups: try read("/proc/cgroups"),
            selfCgroup: try read("/proc/self/cgroup"))
    }
}

/// Chooses and builds the ``CgroupManager`` for a container.
public enum CgroupManagerFactory {
    /// The manager for the running host, found by probing /proc/self/mountinfo and
    /// /proc/cgroups.
    ///
    /// Paths follow runc 1.1 (checked on a hybrid host): an absolute `cgroupsPath` such as
    /// `/kujira/ID` lands at `<mount>/kujira/ID` in every hierarchy; a relative one, and
    /// the default `ID` when `cgroupsPath` is absent, land under the runtime's own cgroup
    /// (`<mount>/<own cgroup>/ID`; on pure v2 under the parent of its own cgroup, because
    /// a cgroup with processes cannot enable controllers for its children).
    /// - Parameters:
    ///   - cgroupsPath: `linux.cgroupsPath` of the spec, or nil.
    ///   - containerID: the container id, the default leaf name.
    public static func make(cgroupsPath: String?, containerID: String) throws -> any CgroupManager {
        try make(cgroupsPath: cgroupsPath, containerID: containerID, system: CgroupSystem.current())
    }

    /// The manager for the host that `system` describes (see ``make(cgroupsPath:containerID:)``).
    public static func make(cgroupsPath: String?, containerID: String, system: CgroupSystem) throws -> any CgroupManager {
        let layout = try CgroupLayout.probe(mountinfo: system.mountinfo, procCgroups: system.procCgroups)
        let own = CgroupMembership.parse(system.selfCgroup)
        let requested = (cgroupsPath?.isEmpty ?? true) ? containerID : (cgroupsPath ?? containerID)
        let inner = try cleanPath(requested)
        switch layout.mode {
        case .unified:
            guard let mount = layout.unified else {
                throw CgroupError(.noCgroups, "no cgroup2 mount found in /proc/self/mountinfo")
            }
            var base = "/"
            if !inner.hasPrefix("/") {
                base = parent(ownPath(own.paths[""], mount: mount))
            }
            return CgroupV2Manager(
                path: inner, directory: join(mount.mountPoint, base, inner), mountPoint: mount.mountPoint)
        case .legacy, .hybrid:
            var directories: [String: String] = [:]
            for (controller, mount) in layout.v1 {
                let base = inner.hasPrefix("/") ? "/" : ownPath(own.paths[controller], mount: mount)
                directories[controller] = join(mount.mountPoint, base, inner)
            }
            var unifiedDirectory: String?
            if layout.mode == .hybrid, let mount = layout.unified {
                let base = inner.hasPrefix("/") ? "/" : ownPath(own.paths[""], mount: mount)
                unifiedDirectory = join(mount.mountPoint, base, inner)
            }
            return CgroupV1Manager(path: inner, directories: directories, unifiedDirectory: unifiedDirectory)
        }
    }

    /// Rebuilds a manager from the ``CgroupManager/directories`` recorded at create time, so
    /// that `delete`, `pause` or `update` run by another process (whose own cgroup may
    /// differ) act on the same directories.
    public static func restore(path: String, directories: [String: String]) throws -> any CgroupManager {
        guard !directories.isEmpty else {
            throw CgroupError(.invalidPath, "no cgroup directories recorded for cgroup \(path)")
        }
        for directory in directories.values where !directory.hasPrefix("/") || directory.split(separator: "/").contains("..") {
            throw CgroupError(.invalidPath, "recorded cgroup directory \(directory) is not a clean absolute path")
        }
        if directories.count == 1, let directory = directories[""] {
            let mountPoint = try CgroupLayout.probe(
                mountinfo: CgroupSystem.current().mountinfo, procCgroups: "").unified?.mountPoint ?? "/sys/fs/cgroup"
            return CgroupV2Manager(path: path, directory: directory, mountPoint: mountPoint)
        }
        var v1 = directories
        let unified = v1.removeValue(forKey: "")
        return CgroupV1Manager(path: path, directories: v1, unifiedDirectory: unified)
    }

    /// Cleans `path` lexically like runc's `CleanPath`: `.` and `..` are resolved as if the
    /// path started at `/`, so a relative path cannot climb out of the base it is joined to.
    /// - Throws: ``CgroupError`` `.invalidPath` for a path that cleans to nothing.
    static func cleanPath(_ path: String) throws -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        guard !parts.isEmpty else {
            throw CgroupError(.invalidPath, "cgroupsPath \"\(path)\" names no cgroup; give a path such as /kujira/ID")
        }
        return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }

    /// The runtime's own cgroup in a hierarchy, made relative to the mount's root (runc's
    /// GetOwnCgroupPath: inside a cgroup namespace the mount root is a sub-cgroup).
    static func ownPath(_ cgroup: String?, mount: CgroupMount) -> String {
        guard let cgroup, cgroup.hasPrefix("/") else { return "/" }
        if mount.root != "/" && (cgroup == mount.root || cgroup.hasPrefix(mount.root + "/")) {
            let rest = cgroup.dropFirst(mount.root.count)
            return rest.isEmpty ? "/" : String(rest)
        }
        return cgroup
    }

    /// The parent of a cgroup path (`/` stays `/`).
    static func parent(_ path: String) -> String {
        var parts = path.split(separator: "/")
        if !parts.isEmpty { parts.removeLast() }
        return "/" + parts.joined(separator: "/")
    }

    /// Joins path pieces with single slashes.
    static func join(_ pieces: String...) -> String {
        "/" + pieces.flatMap { $0.split(separator: "/") }.joined(separator: "/")
    }
}
