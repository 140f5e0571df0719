// Log drivers and rotation (`--log-driver`, `--log-opt`): `json-file` (the default), with
// `max-size` and `max-file` rotating `<id>-json.log` to `<id>-json.log.1`, `.2`, … as
// Docker's json-file driver does, and `none` (nothing is kept; `logs` refuses). Also the
// time bounds `logs --since/--until` take.

public import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A container's logging configuration (`HostConfig.LogConfig`).
public struct LogConfig: Codable, Sendable, Hashable {
    /// The driver: `json-file` or `none`.
    public var type: String
    /// The driver's options as given (`max-size`, `max-file`).
    public var config: [String: String]

    /// The json-file driver without options: one file that grows without bound.
    public static let jsonFile = LogConfig(type: "json-file", config: [:])

    /// Creates a configuration.
    public init(type: String, config: [String: String]) {
        self.type = type
        self.config = config
    }

    /// The drivers kujira implements.
    public static let drivers = ["json-file", "none"]

    /// Validates `--log-driver` and `--log-opt KEY=VALUE` options.
    /// - Throws: ``EngineError`` `.invalidArgument` for another driver or an unknown or bad option.
    public static func parse(driver: String?, options: [String]) throws -> LogConfig {
        let type = driver ?? "json-file"
        guard drivers.contains(type) else {
            throw EngineError(.invalidArgument, "logging driver \"\(type)\" is not supported: use --log-driver json-file (the default) or none")
        }
        var config: [String: String] = [:]
        for option in options {
            let parts = option.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw EngineError(.invalidArgument, "invalid --log-opt \"\(option)\": use KEY=VALUE, e.g. max-size=10m")
            }
            config[parts[0]] = parts[1]
        }
        let result = LogConfig(type: type, config: config)
        _ = try result.limits()
        return result
    }

    /// `max-size` in bytes (0: unlimited) and `max-file` (at least 1).
    func limits() throws -> (maxSize: Int64, maxFiles: Int) {
        if type == "none" {
            if let key = config.keys.sorted().first {
                throw EngineError(.invalidArgument, "unknown log opt '\(key)' for none log driver: it takes no options")
            }
            return (0, 1)
        }
        let known: Set<String> = ["max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag"]
        if let key = config.keys.sorted().first(where: { !known.contains($0) }) {
            throw EngineError(.invalidArgument, "unknown log opt '\(key)' for json-file log driver: use max-size or max-file")
        }
        if let compress = config["compress"], compress != "false" {
            throw EngineError(.invalidArgument, "--log-opt compress=\(compress): compressed rotated logs are not supported; leave it out")
        }
        var maxSize: Int64 = 0
        if let text = config["max-size"], text != "-1" {
            maxSize = try ContainerSpecBuilder.parseBytes(text)
            guard maxSize > 0 else { throw EngineError(.invalidArgument, "--log-opt max-size=\(text): must be a positive size, e.g. 10m") }
        }
        var maxFiles = 1
        if let text = config["max-file"] {
            guard let value = Int(text), value >= 1 else {
                throw EngineError(.invalidArgument, "--log-opt max-file=\(text): must be a number of files, at least 1")
            }
            guard value == 1 || maxSize > 0 else {
                throw EngineError(.invalidArgument, "--log-opt max-file=\(text) needs max-size (rotation is by size)")
            }
            maxFiles = value
        }
        return (maxSize, maxFiles)
    }
}

/// The json-file log being written: appends whole lines under a lock and rotates by size.
final class RotatingLogFile: Sendable {
    private struct Current {
        var fd: Int32
        var size: Int64
    }
    let path: String
    let maxSize: Int64
    let maxFiles: Int
    private let current: Mutex<Current>

    /// Opens (creating) `path` for appending; `maxSize` 0 never rotates.
    init(path: String, maxSize: Int64, maxFiles: Int) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw EngineError.posix("opening log \(path)", errno: errno) }
        var info = stat()
        let size = fstat(fd, &info) == 0 ? Int64(info.st_size) : 0
        self.path = path
        self.maxSize = maxSize
        self.maxFiles = max(1, maxFiles)
        current = Mutex(Current(fd: fd, size: size))
    }

    deinit {
        _ = current.withLock { close($0.fd) }
    }

    /// Appends `bytes` with one `write`, then rotates once the file has reached `maxSize`
    /// (as Docker does, so a file exceeds it by at most one line).
    func append(_ bytes: [UInt8]) {
        current.withLock { current in
            let written = bytes.withUnsafeBytes { Glibc.write(current.fd, $0.baseAddress, $0.count) }
            if written > 0 { current.size += Int64(written) }
            if maxSize > 0 && current.size >= maxSize { rotate(&current) }
        }
    }

    private func rotate(_ current: inout Current) {
        if maxFiles == 1 {
            if ftruncate(current.fd, 0) == 0 { current.size = 0 }
            return
        }
        for index in stride(from: maxFiles - 1, to: 1, by: -1) {
            rename("\(path).\(index - 1)", "\(path).\(index)")
        }
        guard rename(path, "\(path).1") == 0 else { return }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { return }  // keep writing to the renamed file rather than lose output
        close(current.fd)
        current = Current(fd: fd, size: 0)
    }

    /// The rotated files of the log at `path` that exist, oldest first, then `path` itself.
    static func files(of path: String) -> [String] {
        let directory = (path as NSString).deletingLastPathComponent, name = (path as NSString).lastPathComponent
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let rotated = names.compactMap { entry -> Int? in
            guard entry.hasPrefix(name + ".") else { return nil }
            return Int(entry.dropFirst(name.count + 1)).flatMap { $0 > 0 ? $0 : nil }
        }
        return rotated.sorted(by: >).map { "\(path).\($0)" } + [path]
    }
}

/// The time bounds of `logs --since/--until`.
public enum LogTime {
    /// Parses Docker's `--since`/`--until` value into nanoseconds since the epoch: an RFC 3339
    /// time (`2024-01-02T15:04:05Z`, with or without a fraction or zone; a date alone), a Unix
    /// time in seconds with an optional fraction (`1700000000.5`), or a Go duration counted
    /// back from `now` (`10m`, `1h30m`).
    /// - Throws: ``EngineError`` `.invalidArgument` naming `flag`.
    public static func parse(_ text: String, flag: String, now: Date = Date()) throws -> Int64 {
        let nowNanos = Int64(now.timeIntervalSince1970 * 1e9)
        if let first = text.first, first.isNumber, text.allSatisfy({ $0.isNumber || $0 == "." }),
           text.filter({ $0 == "." }).count <= 1 {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard let seconds = Int64(parts[0]) else { throw invalid(text, flag) }
            var nanos: Int64 = 0
            if parts.count == 2 {
                let digits = String(parts[1].prefix(9))
                nanos = (Int64(digits) ?? 0) * Int64(pow(10, Double(9 - digits.count)))
            }
            return seconds * 1_000_000_000 + nanos
        }
        if let duration = try? GoDuration.parse(text, what: flag) { return nowNanos - duration }
        if let nanos = nanoseconds(rfc3339: text) { return nanos }
        throw invalid(text, flag)
    }

    private static func invalid(_ text: String, _ flag: String) -> EngineError {
        EngineError(.invalidArgument, "\(flag) \"\(text)\": use an RFC 3339 time (2024-01-02T15:04:05Z), a Unix time (1704207845) or a duration (10m)")
    }

    /// Nanoseconds since the epoch of an RFC 3339 time (a missing zone is UTC; a date alone
    /// is its midnight), or nil.
    static func nanoseconds(rfc3339 text: String) -> Int64? {
        let scalars = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= scalars.count, range.allSatisfy({ (48...57).contains(scalars[$0]) }) else { return nil }
            return Int(String(decoding: scalars[range], as: UTF8.self))
        }
        guard scalars.count >= 10, scalars[4] == 45, scalars[7] == 45,
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10) else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        var index = 10
        var fraction: Int64 = 0
        var offset = 0
        if index < scalars.count {
            guard scalars[index] == 84 || scalars[index] == 116 || scalars[index] == 32,
                  let hour = number(11..<13), scalars.count > 13, scalars[13] == 58, let minute = number(14..<16) else { return nil }
            parts.tm_hour = Int32(hour)
            parts.tm_min = Int32(minute)
            index = 16
            if index < scalars.count && scalars[index] == 58 {
                guard let second = number(17..<19) else { return nil }
                parts.tm_sec = Int32(second)
                index = 19
            }
            if index < scalars.count && scalars[index] == 46 {
                var digits = ""
                index += 1
                while index < scalars.count, (48...57).contains(scalars[index]) {
                    digits.append(Character(UnicodeScalar(scalars[index])))
                    index += 1
                }
                guard !digits.isEmpty else { return nil }
                let kept = String(digits.prefix(9))
                fraction = (Int64(kept) ?? 0) * Int64(pow(10, Double(9 - kept.count)))
            }
            if index < scalars.count {
                if scalars[index] == 90 || scalars[index] == 122 {
                    index += 1
                } else if scalars[index] == 43 || scalars[index] == 45 {
                    guard let hours = number(index + 1..<index + 3), index + 3 < scalars.count, scalars[index + 3] == 58,
                          let minutes = number(index + 4..<index + 6) else { return nil }
                    offset = (hours * 3600 + minutes * 60) * (scalars[index] == 45 ? -1 : 1)
                    index += 6
                } else {
                    return nil
                }
            }
            guard index == scalars.count else { return nil }
        }
        let seconds = Int64(timegm(&parts)) - Int64(offset)
        return seconds * 1_000_000_000 + fraction
    }
}

extension ContainerRecord {
    /// This record with `logConfig` as its host configuration's logging.
    func withLogConfig(_ logConfig: LogConfig) -> ContainerRecord {
        var record = self
        record.hostConfig.logConfig = logConfig
        return record
    }
}
