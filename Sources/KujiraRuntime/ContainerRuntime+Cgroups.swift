// `pause`, `resume` and `update`: operations that exist only through the cgroup manager.
//
//     try runtime.pause(id: "web"); try runtime.resume(id: "web")
//     try runtime.update(id: "web", resources: LinuxResources(…))

public import KujiraOCI

extension ContainerRuntime {
    /// Freezes every process of container `id`.
    public func pause(id: String) throws {
        let (cgroups, path) = try cgroup(for: id, operation: "pause")
        let record = try directory.load(id)
        guard status(of: record) == .running else { throw RuntimeError(.invalidState, "container not running") }
        try cgroups.freeze(cgroupPath: path)
    }

    /// Thaws a paused container.
    public func resume(id: String) throws {
        let (cgroups, path) = try cgroup(for: id, operation: "resume")
        let record = try directory.load(id)
        guard status(of: record) == .paused else { throw RuntimeError(.invalidState, "container not paused") }
        try cgroups.thaw(cgroupPath: path)
    }

    /// Applies new resource limits to container `id`.
    public func update(id: String, resources: LinuxResources) throws {
        let (cgroups, path) = try cgroup(for: id, operation: "update")
        try cgroups.update(cgroupPath: path, resources: resources)
    }

    private func cgroup(for id: String, operation: String) throws -> (any ContainerCgroupDriver, String) {
        let record = try directory.load(id)
        guard let cgroups else {
            throw RuntimeError(.unsupported, "kujira-runtime: \(operation) requires a cgroup driver, and this runtime was created without one")
        }
        guard let path = record.cgroupPath else {
            throw RuntimeError(.unsupported, "container \(id) was created without a cgroup; \(operation) is not possible")
        }
        return (cgroups, path)
    }
}
