// `kill`: send a signal to a container's init, or with `all` to every process in it.
//
//     try runtime.kill(id: "web", signal: SIGTERM)
//     try runtime.kill(id: "web", signal: SIGKILL, all: true)

internal import CKujiraRuntime
import Glibc

extension ContainerRuntime {
    /// Sends `signal` to the init of container `id` (or, with `all`, to all its processes).
    /// Throws "container not running" for a stopped container, as callers of runc expect.
    public func kill(id: String, signal: Int32, all: Bool = false) throws {
        let record = try directory.load(id)
        guard status(of: record) != .stopped else {
            throw RuntimeError(.invalidState, "container not running")
        }
        if all {
            for pid in try processes(of: record) { Glibc.kill(pid, signal) }
            return
        }
        if Glibc.kill(record.pid, signal) < 0 {
            if errno == ESRCH { throw RuntimeError(.noSuchProcess, "no such process") }
            throw RuntimeError.posix("kill \(record.pid)")
        }
    }

    /// The host pids of the processes of container `id` (`ps`).
    public func processes(id: String) throws -> [Int32] {
        let record = try directory.load(id)
        guard status(of: record) != .stopped else { return [] }
        return try processes(of: record)
    }

    /// The container's processes: from its cgroup when there is a cgroup manager, else every
    /// process in its pid namespace.
    func processes(of record: ContainerRecord) throws -> [Int32] {
        if let cgroups, let path = record.cgroupPath { return try cgroups.processes(cgroupPath: path) }
        guard !record.sharesHostPIDNamespace else {
            throw RuntimeError(.unsupported, "container \(record.id) shares the host pid namespace; listing its processes needs a cgroup driver, and this runtime was created without one")
        }
        let namespace = kujira_ns_inode(record.pid, "pid")
        guard namespace != 0 else { return [] }
        var pids: [Int32] = []
        guard let dir = opendir("/proc") else { throw RuntimeError.posix("listing /proc") }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if let pid = Int32(name), kujira_ns_inode(pid, "pid") == namespace { pids.append(pid) }
        }
        return pids.sorted()
    }
}
