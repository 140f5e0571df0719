#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import KujiraOCI

/// The runtime's ``ContainerCgroupDriver`` over ``CgroupManager`` (v1, hybrid or v2, chosen
/// by probing). The cgroup "path" it hands the runtime to record is a small JSON object with
/// the spec path and the directory of every hierarchy, so that `delete`, `pause` or `update`
/// run later by another process — whose own cgroup, and so the place a relative
/// `cgroupsPath` resolves to, may differ — act on exactly the directories `create` made.
public struct CgroupManagerDriver: ContainerCgroupDriver {
    /// What is recorded in the container's state (coded by hand: RecordCoding.swift).
    struct Handle {
        var path: String
        var directories: [String: String]
    }

    /// Creates the driver.
    public init() {}

    public func create(containerID: String, cgroupsPath: String?, resources: LinuxResources?) throws -> String {
        try create(containerID: containerID, cgroupsPath: cgroupsPath, resources: resources, system: CgroupSystem.current())
    }

    public func create(containerID: String, cgroupsPath: String?, resources: LinuxResources?, system: CgroupSystem) throws -> String {
        let manager = try CgroupManagerFactory.make(cgroupsPath: cgroupsPath, containerID: containerID, system: system)
        try manager.create()
        do {
            if let resources { try manager.apply(resources) }
        } catch {
            try? manager.destroy()
            throw error
        }
        return String(decoding: Handle(path: manager.path, directories: manager.directories).encoded(), as: UTF8.self)
    }

    func manager(_ handle: String) throws -> any CgroupManager {
        let decoded: Handle
        do {
            decoded = try Handle(json: Array(handle.utf8))
        } catch {
            throw RuntimeError(.invalidState, "the recorded cgroup of this container is unreadable (\(handle)); delete it with --force")
        }
        return try CgroupManagerFactory.restore(path: decoded.path, directories: decoded.directories)
    }

    public func addProcess(_ pid: Int32, cgroupPath: String) throws { try manager(cgroupPath).addProcess(pid) }
    public func processes(cgroupPath: String) throws -> [Int32] { try manager(cgroupPath).pids() }
    public func freeze(cgroupPath: String) throws { try manager(cgroupPath).freeze() }
    public func thaw(cgroupPath: String) throws { try manager(cgroupPath).thaw() }
    public func isFrozen(cgroupPath: String) throws -> Bool { try manager(cgroupPath).freezerState() == .frozen }
    public func update(cgroupPath: String, resources: LinuxResources) throws { try manager(cgroupPath).apply(resources) }
    public func destroy(cgroupPath: String) throws { try manager(cgroupPath).destroy() }
    public func directories(cgroupPath: String) -> [String: String]? {
        try? Handle(json: Array(cgroupPath.utf8)).directories
    }
}
