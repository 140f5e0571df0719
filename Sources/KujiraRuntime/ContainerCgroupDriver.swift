public import KujiraOCI

/// The cgroup operations the runtime needs. The `Cgroups/` module's `CgroupManager` (v1,
/// hybrid, v2) conforms through a small adapter when it merges; until then the runtime works
/// without one (Docs/runtime.md, "Extension points").
///
/// A cgroup is named by the path string ``create(containerID:cgroupsPath:resources:)``
/// returns, which the runtime records in the container's state.
public protocol ContainerCgroupDriver: Sendable {
    /// Creates the container's cgroup (`linux.cgroupsPath`, or a default derived from the id),
    /// applies `resources`, and returns the path to record.
    func create(containerID: String, cgroupsPath: String?, resources: LinuxResources?) throws -> String
    /// The same, for a host described by `system` — the /proc texts the runtime has read
    /// already for the container's cgroup mount, so that `create` reads them once.
    func create(containerID: String, cgroupsPath: String?, resources: LinuxResources?, system: CgroupSystem) throws -> String
    /// Moves `pid` into the cgroup (the init's intermediate, before it builds the container, and
    /// every exec'd process).
    func addProcess(_ pid: Int32, cgroupPath: String) throws
    /// The pids in the cgroup (`ps`, `kill --all`).
    func processes(cgroupPath: String) throws -> [Int32]
    /// Freezes every process in the cgroup (`pause`).
    func freeze(cgroupPath: String) throws
    /// Thaws the cgroup (`resume`).
    func thaw(cgroupPath: String) throws
    /// Whether the cgroup is frozen (status `paused`).
    func isFrozen(cgroupPath: String) throws -> Bool
    /// Applies new resource limits (`update`).
    func update(cgroupPath: String, resources: LinuxResources) throws
    /// Removes the cgroup once it is empty (`delete`).
    func destroy(cgroupPath: String) throws
    /// The cgroup's directory in each hierarchy, keyed by controller (`memory`,
    /// `name=systemd`, `""` for cgroup2), or nil when the driver cannot say. With them the
    /// runtime knows the container's cgroup mount before its process has joined, and lets the
    /// process build its rootfs while the join (which waits for an RCU grace period in the
    /// kernel) is under way.
    func directories(cgroupPath: String) -> [String: String]?
}

extension ContainerCgroupDriver {
    /// Ignores `system`: a driver that does not probe /proc itself.
    public func create(containerID: String, cgroupsPath: String?, resources: LinuxResources?, system: CgroupSystem) throws -> String {
        try create(containerID: containerID, cgroupsPath: cgroupsPath, resources: resources)
    }

    /// nil: the runtime joins the init to the cgroup before it sends the plan and reads the
    /// cgroup mount's directories from /proc/PID/cgroup.
    public func directories(cgroupPath: String) -> [String: String]? { nil }
}
