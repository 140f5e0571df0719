// `logs`: read (and follow) a container's json-file log.
//
//     try engine.logs("web", follow: true, tail: 10) { entry in print(entry.text, terminator: "") }

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One line of a container's output.
public struct LogEntry: Sendable, Hashable, Decodable {
    /// The text, with its newline (a partial line has none).
    public var log: String
    /// `stdout` or `stderr`.
    public var stream: String
    /// When the monitor read it (RFC 3339, nanoseconds).
    public var time: String
}

extension Engine {
    /// The json-file log files of container `nameOrID`, oldest first: the rotated ones
    /// (`--log-opt max-file`) that exist, then the one being written. A daemon that replays
    /// earlier output before following new output (Docker's attach with `logs=1`) reads the
    /// rotated files to their ends, then follows the last one.
    public func logFiles(_ nameOrID: String) throws -> [String] {
        RotatingLogFile.files(of: try container(nameOrID).logPath)
    }

    /// Calls `handler` with the log entries of container `nameOrID` (the rotated files
    /// first, oldest first): the last `tail` (nil: all) of those written from `since` to
    /// `until` (nanoseconds since the epoch; ``LogTime/parse(_:flag:now:)`` reads Docker's
    /// flags), then, with `follow`, new ones until the container has stopped for good
    /// (exited and not restarting), is removed, or `until` has passed.
    /// - Throws: ``EngineError`` `.invalidState` for a container logging to the `none` driver.
    public func logs(_ nameOrID: String, follow: Bool = false, tail: Int? = nil, since: Int64? = nil, until: Int64? = nil,
                     handler: (LogEntry) -> Void) throws {
        let record = try container(nameOrID)
        guard record.hostConfig.logConfig.type != "none" else {
            throw EngineError(.invalidState, "configured logging driver does not support reading: container \(record.name) logs with --log-driver none")
        }
        let decoder = JSONDecoder()
        func wanted(_ entry: LogEntry) -> Bool {
            guard since != nil || until != nil else { return true }
            guard let time = LogTime.nanoseconds(rfc3339: entry.time) else { return false }
            if let since, time < since { return false }
            if let until, time > until { return false }
            return true
        }
        /// Reads what `fd` has up to its end into entries.
        func readAvailable(_ fd: Int32, _ pending: inout [UInt8]) -> [LogEntry] {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            var entries: [LogEntry] = []
            while true {
                let count = read(fd, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                pending += buffer[0..<count]
            }
            while let newline = pending.firstIndex(of: 0x0A) {
                if let entry = try? decoder.decode(LogEntry.self, from: Data(pending[..<newline])) { entries.append(entry) }
                pending.removeSubrange(...newline)
            }
            return entries
        }
        var first: [LogEntry] = []
        for path in RotatingLogFile.files(of: record.logPath).dropLast() {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }  // rotated away meanwhile
            var pending: [UInt8] = []
            first += readAvailable(fd, &pending)
            close(fd)
        }
        var fd = open(record.logPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return }
            throw EngineError.posix("opening log \(record.logPath)", errno: errno)
        }
        defer { close(fd) }
        var pending: [UInt8] = []
        first += readAvailable(fd, &pending)
        if let tail { first = Array(first.suffix(max(0, tail))) }
        first.filter(wanted).forEach(handler)
        guard follow else { return }
        func emitNew() -> Bool {
            var entries = readAvailable(fd, &pending)
            // Rotated (a new file at the path) or truncated (max-file=1): go on with the new content.
            var mine = stat(), theirs = stat()
            if fstat(fd, &mine) == 0 {
                if stat(record.logPath, &theirs) == 0, theirs.st_ino != mine.st_ino {
                    let next = open(record.logPath, O_RDONLY | O_CLOEXEC)
                    if next >= 0 {
                        close(fd)
                        fd = next
                        pending.removeAll()
                        entries += readAvailable(fd, &pending)
                    }
                } else if Int64(mine.st_size) < Int64(lseek(fd, 0, SEEK_CUR)) {
                    lseek(fd, 0, SEEK_SET)
                    pending.removeAll()
                    entries += readAvailable(fd, &pending)
                }
            }
            entries.filter(wanted).forEach(handler)
            return !entries.isEmpty
        }
        while true {
            if emitNew() { continue }
            if let until, Int64(Date().timeIntervalSince1970 * 1e9) > until { break }
            guard let current = load(record.id) else { break }
            if try !reconcile(current).state.isActive {
                _ = emitNew()
                break
            }
            SystemSupport.sleep(milliseconds: 10)
        }
    }
}
