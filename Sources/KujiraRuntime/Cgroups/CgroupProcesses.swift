// Listing and signalling the processes of a cgroup, shared by the v1 and v2 managers.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Process listing and signalling over `cgroup.procs`.
enum CgroupProcesses {
    /// The processes in `directory` and in every child cgroup below it.
    static func all(_ directory: String) throws -> [Int32] {
        var result = try CgroupFS.readProcs(directory)
        for child in CgroupFS.subdirectories(directory) {
            result += try all(directory + "/" + child)
        }
        return result
    }

    /// Sends `signal` to each process listed now; a process that is already gone is fine.
    static func signalEach(_ directory: String, _ signal: Int32) throws {
        for pid in try all(directory) where pid > 0 {
            if kill(pid, signal) != 0 && errno != ESRCH {
                let code = errno
                throw CgroupError(.write, "cannot send signal \(signal) to process \(pid) of cgroup \(directory)", cause: CgroupErrno(code))
            }
        }
    }

    /// Sends SIGKILL to every process until `directory` lists none, for up to 5 s (a task
    /// may fork between the read and the kill; a killed task leaves the list once it has
    /// exited, before it is reaped).
    static func killUntilEmpty(_ directory: String) throws {
        var delay: UInt32 = 1000
        for _ in 0..<200 {
            let pids = try all(directory)
            if pids.isEmpty { return }
            for pid in pids where pid > 0 { _ = kill(pid, SIGKILL) }
            CgroupFS.pause(delay)
            delay = min(delay * 2, 50_000)
        }
        let left = (try? all(directory)) ?? []
        if left.isEmpty { return }
        throw CgroupError(
            .timeout,
            "processes \(left.map(String.init).joined(separator: ", ")) of cgroup \(directory) survived SIGKILL for 5 s (stuck in uninterruptible sleep?)")
    }
}
