import CKujiraSys
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Small system helpers of the engine: timestamps, ids, process probes, files.
enum SystemSupport {
    /// Now, as RFC 3339 with nanoseconds in UTC (Docker's `time` and `StartedAt` format).
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let year = Int(parts.tm_year) + 1900, month = Int(parts.tm_mon) + 1
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(Int(parts.tm_mday), 2))T\(pad(Int(parts.tm_hour), 2)):"
            + "\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(Int(now.tv_nsec), 9))Z"
    }

    /// Parses a timestamp written by ``timestamp()`` (or any RFC 3339 time) to a Date.
    static func date(_ text: String) -> Date? {
        guard !text.isEmpty else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        // ISO8601DateFormatter takes at most milliseconds: cut the fraction to three digits.
        if let dot = text.firstIndex(of: "."), let zone = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) {
            let fraction = text[text.index(after: dot)..<zone].prefix(3)
            return formatter.date(from: String(text[..<dot]) + "." + fraction + String(text[zone...]))
        }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    /// 64 random hex digits.
    static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let text = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - text.count) + text
        }.joined()
    }

    /// The start time (field 22 of `/proc/PID/stat`) of a live, non-zombie process, or nil.
    static func processStartTime(_ pid: Int32) -> UInt64? {
        guard pid > 0, let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3); the start time is field 22.
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
        return UInt64(fields[19])
    }

    /// The whole content of `path` (opened `O_CLOEXEC`), read to its end: Foundation's
    /// `Data(contentsOf:)` makes one read(2), and a proc file gives one page per read.
    static func readWhole(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return nil }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
        }
    }

    /// Whether process `pid` lives and started at `startTime` (0: any start time).
    static func isAlive(_ pid: Int32, startTime: UInt64) -> Bool {
        guard let actual = processStartTime(pid) else { return false }
        return startTime == 0 || actual == startTime
    }

    /// Writes `bytes` to `path` through a temporary file and a rename, so a crash of any
    /// process leaves either the old or the new content. `durable` fsyncs the file before the
    /// rename, so the new content also survives a power loss; without it (state that a reboot
    /// makes stale anyway, see ``Engine/save(_:durable:)``) the write costs no disk flush.
    static func writeAtomically(_ path: String, _ bytes: [UInt8], durable: Bool = true) throws {
        var stage: Int32 = 0
        let code = bytes.withUnsafeBytes {
            kujira_write_file_atomically(AT_FDCWD, path, $0.baseAddress, $0.count, 0o600, durable ? KUJIRA_ATOMIC_SYNC_FILE : 0, &stage)
        }
        if code != 0 { throw EngineError.posix("\(String(cString: kujira_atomic_stage_name(stage))) \(path)", errno: code) }
    }

    /// Creates `path` and its missing parents.
    static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: Int(mode)])
        } catch {
            throw EngineError(.io, "cannot create directory \(path)", cause: error)
        }
    }

    /// Sleeps for `milliseconds`.
    static func sleep(milliseconds: Int) {
        usleep(UInt32(milliseconds * 1000))
    }
}

/// Wakes a waiter when a container's record changes, instead of polling at a fixed interval:
/// an inotify watch on the container's directory, where the record is replaced by a rename
/// (`IN_MOVED_TO`) and removed by an unlink (`IN_DELETE`, or `IN_DELETE_SELF` with the
/// directory). Make the watch before reading the record: a change after the read then wakes
/// the next ``wait(milliseconds:)`` at once. The timeout still bounds every wait, for what
/// writes nothing — a monitor killed with SIGKILL, found by `reconcile`. Without inotify
/// (no instances left) it sleeps for the timeout.
final class RecordWatch {
    private let fd: Int32

    /// Watches `directory` (a container's directory).
    init(directory: String) {
        var fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        if fd >= 0, inotify_add_watch(fd, directory, UInt32(IN_MOVED_TO | IN_DELETE | IN_DELETE_SELF)) < 0 {
            close(fd)
            fd = -1
        }
        self.fd = fd
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Returns true at once after a change since the last call (or since the watch was
    /// made), else when the next change comes; false after `milliseconds` without one.
    @discardableResult
    func wait(milliseconds: Int) -> Bool {
        guard fd >= 0 else {
            SystemSupport.sleep(milliseconds: milliseconds)
            return false
        }
        var request = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        var ready: Int32
        repeat { ready = poll(&request, 1, Int32(clamping: milliseconds)) } while ready < 0 && errno == EINTR
        var changed = false
        var buffer = [UInt8](repeating: 0, count: 4096)
        while read(fd, &buffer, buffer.count) > 0 { changed = true }
        return changed
    }
}

/// An exclusive `flock` on a file, held while `body` runs; serialises read-modify-write of
/// container records between processes (CLI invocations, monitors). The kernel drops the
/// lock when its holder dies, so `kill -9` never leaves it held.
struct FileLock {
    let path: String

    func withLock<T>(_ body: () throws -> T) throws -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw EngineError.posix("opening lock \(path)", errno: errno) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw EngineError.posix("locking \(path)", errno: errno) }
        }
        return try body()
    }
}
