// Reading a container's json-file log for `logs` and `attach`: entries from an offset,
// decoded line by line, with follow until the container stops or the client leaves.

import Foundation
import Kujira
#if canImport(Glibc)
import Glibc
#endif

/// Reads new entries of a json-file log as they are appended. The file stays open, so an
/// `--rm` container's output can be read to its end after the file was removed.
final class LogReader {
    let fd: Int32
    var pending: [UInt8] = []
    let decoder = JSONDecoder()

    /// Opens `path` (creating it empty if the monitor has not yet) at its end, or at its
    /// start when `fromStart`; then the complete contents of `rotated` (the log's rotated
    /// files, oldest first: `Engine.logFiles`) come before it.
    init(path: String, fromStart: Bool, rotated: [String] = []) throws {
        fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw APIError(500, "opening the log \(path): \(String(cString: strerror(errno)))") }
        if !fromStart { lseek(fd, 0, SEEK_END) }
        guard fromStart else { return }
        for file in rotated where file != path {
            // A rotation during the replay can skip or repeat entries (dockerd's can too).
            if let data = FileManager.default.contents(atPath: file) { pending += data }
        }
    }

    deinit { close(fd) }

    /// The complete entries appended since the last call.
    func next() -> [LogEntry] {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            pending += buffer[0..<count]
        }
        var entries: [LogEntry] = []
        var start = 0
        while let newline = pending[start...].firstIndex(of: 0x0A) {
            if let entry = try? decoder.decode(LogEntry.self, from: Data(pending[start..<newline])) { entries.append(entry) }
            start = newline + 1
        }
        pending.removeFirst(start)
        return entries
    }
}

/// What a log stream sends of each entry.
struct LogSelection {
    var stdout = true
    var stderr = true
    var timestamps = false
    var since: Double?
    var until: Double?
    /// Multiplexed frames (no TTY) rather than raw bytes.
    var multiplexed = true

    func accepts(_ entry: LogEntry) -> Bool {
        guard entry.stream == "stderr" ? stderr : stdout else { return false }
        if since != nil || until != nil, let time = Timestamps.seconds(entry.time) {
            if let since, time < since { return false }
            if let until, time > until { return false }
        }
        return true
    }

    /// The bytes that carry `entry`.
    func encode(_ entry: LogEntry) -> [UInt8] {
        let payload = Array(((timestamps ? entry.time + " " : "") + entry.log).utf8)
        return multiplexed ? StreamFrame.encode(stream: entry.stream == "stderr" ? 2 : 1, payload) : payload
    }
}
