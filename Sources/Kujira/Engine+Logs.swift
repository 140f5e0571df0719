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
    /// Calls `handler` with the log entries of container `nameOrID`: the last `tail` (nil:
    /// all), then, with `follow`, new ones until the container has stopped for good (exited
    /// and not restarting) or is removed.
    public func logs(_ nameOrID: String, follow: Bool = false, tail: Int? = nil, handler: (LogEntry) -> Void) throws {
        let record = try container(nameOrID)
        let fd = open(record.logPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return }
            throw EngineError.posix("opening log \(record.logPath)", errno: errno)
        }
        defer { close(fd) }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let decoder = JSONDecoder()
        func readAvailable() -> [LogEntry] {
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
        var first = readAvailable()
        if let tail { first = Array(first.suffix(max(0, tail))) }
        first.forEach(handler)
        guard follow else { return }
        while true {
            let entries = readAvailable()
            entries.forEach(handler)
            if entries.isEmpty {
                guard let current = load(record.id) else { break }
                if try !reconcile(current).state.isActive {
                    readAvailable().forEach(handler)
                    break
                }
                SystemSupport.sleep(milliseconds: 10)
            }
        }
    }
}
