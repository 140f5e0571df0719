import KujiraOCI
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
internal import CKujiraRuntime
import Glibc
import Synchronization

/// What the runtime remembers about a container: `<root>/<id>/state.json`, written atomically.
/// The status is not stored; it is derived from the live process (``ContainerRuntime/state(id:)``).
/// Encoded and decoded by hand (RecordCoding.swift).
struct ContainerRecord: Sendable {
    var id: String
    /// The container's init, as a host pid.
    var pid: Int32
    /// Field 22 of /proc/<pid>/stat at create: a different value later means the pid was reused.
    var pidStartTime: UInt64
    var bundle: String
    var rootfs: String
    /// RFC 3339 creation time.
    var created: String
    var owner: String
    /// The config at create time: kill, delete and hooks use it.
    var spec: Spec
    /// `spec` as JSON: the bytes of the config.json `create` read, written into the state as
    /// they are.
    var specJSON: [UInt8]
    /// The cgroup the cgroup manager put the container in, when there is one.
    var cgroupPath: String?
    /// Whether the container shares the runtime's pid namespace (then killing the init does
    /// not kill the rest).
    var sharesHostPIDNamespace: Bool
}

/// The on-disk layout of the state root.
struct StateDirectory {
    let root: String

    func directory(_ id: String) -> String { root + "/" + id }
    func stateFile(_ id: String) -> String { directory(id) + "/state.json" }
    func fifo(_ id: String) -> String { directory(id) + "/exec.fifo" }
    /// The cgroup handle `create` writes as soon as the cgroup exists, before the state: what
    /// `delete` needs to remove (and empty) the cgroup of a `create` that was killed before
    /// it saved the state.
    func cgroupFile(_ id: String) -> String { directory(id) + "/cgroup" }

    /// Checks a container id the way runc does: `^[\w+-\.]+$`, not `.` or `..`.
    static func validate(_ id: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")
        guard !id.isEmpty, id != ".", id != "..", id.count <= 1024, id.allSatisfy({ allowed.contains($0) }) else {
            throw RuntimeError(.invalidArgument, "invalid container id format: \(id)")
        }
    }

    func load(_ id: String) throws -> ContainerRecord {
        try Self.validate(id)
        guard let bytes = try FileIO.read(stateFile(id)) else {
            throw RuntimeError(.notFound, "container \"\(id)\" does not exist")
        }
        let path = stateFile(id)
        if let cached = Self.recent.withLock({ $0[path] }), cached.bytes == bytes { return cached.record }
        do {
            let record = try ContainerRecord(json: bytes)
            Self.remember(path, bytes, record)
            return record
        } catch {
            throw RuntimeError(.io, "state of container \(id) (\(path)) is unreadable", cause: error)
        }
    }

    func save(_ record: ContainerRecord) throws {
        let bytes = record.encoded()
        try FileIO.writeAtomically(stateFile(record.id), bytes, mode: 0o600)
        Self.remember(stateFile(record.id), bytes, record)
    }

    /// Caches a record; a long-lived embedding process keeps at most 32 (the cache is for
    /// the operations of one container that follow each other, not for every container).
    private static func remember(_ path: String, _ bytes: [UInt8], _ record: ContainerRecord) {
        recent.withLock { cache in
            if cache[path] == nil && cache.count >= 32 { cache.removeAll(keepingCapacity: true) }
            cache[path] = (bytes, record)
        }
    }

    /// The records this process last wrote or read, with their exact bytes: `run` (create,
    /// start, delete in one process) reads back the state it just wrote, and decoding the spec
    /// in it again was a good part of its CPU time. A file whose bytes differ (another process
    /// wrote it) is decoded as usual.
    private static let recent = Mutex<[String: (bytes: [UInt8], record: ContainerRecord)]>([:])

    /// The ids of containers with a state file.
    func ids() throws -> [String] {
        guard let dir = opendir(root) else {
            if errno == ENOENT { return [] }
            throw RuntimeError.posix("listing \(root)")
        }
        defer { closedir(dir) }
        var ids: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if !name.hasPrefix("."), FileIO.exists(stateFile(name)) { ids.append(name) }
        }
        return ids.sorted()
    }

    /// Holds an exclusive flock on the container's directory while `body` runs, so that
    /// concurrent CLI invocations on one container do not interleave.
    func withLock<T>(_ id: String, _ body: () throws -> T) throws -> T {
        let fd = open(directory(id), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { throw RuntimeError(.notFound, "container \"\(id)\" does not exist") }
            throw RuntimeError.posix("opening \(directory(id))")
        }
        defer { close(fd) }
        guard kujira_flock(fd, 1) == 0 else { throw RuntimeError.posix("locking \(directory(id))") }
        return try body()
    }
}

/// Facts about a live process from /proc/<pid>/stat.
enum ProcStat {
    /// Field 22 of /proc/<pid>/stat (start time in clock ticks since boot) and field 3 (state),
    /// or nil if the process is gone.
    static func stat(_ pid: Int32) -> (startTime: UInt64, state: Character)? {
        guard pid > 0, let text = try? FileIO.readText("/proc/\(pid)/stat"),
              let close = text.lastIndex(of: ")") else { return nil }
        // Fields after the command name, which may contain spaces and parentheses.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let start = UInt64(fields[19]) else { return nil }
        return (start, state)
    }

    /// Whether `pid` is the process started at `startTime` and has not exited.
    static func isAlive(_ pid: Int32, startTime: UInt64) -> Bool {
        guard let info = stat(pid) else { return false }
        return info.startTime == startTime && info.state != "Z" && info.state != "X"
    }
}
