import Foundation
import Glibc

/// Writes `/proc/sys` settings of the host namespace (the one this process runs in).
enum Sysctl {
    /// Writes `value` to `/proc/sys/<key with dots as slashes>`, e.g.
    /// `net.ipv4.conf.kujira0.route_localnet`. Interface names may contain dots, so the
    /// caller passes the path components.
    static func write(_ components: [String], _ value: String) throws {
        let path = "/proc/sys/" + components.joined(separator: "/")
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw NetworkError.posix("cannot open \(path)") }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw NetworkError.posix("cannot write \(value) to \(path)") }
    }

    /// Reads a `/proc/sys` value, trimmed, or nil when unreadable.
    static func read(_ components: [String]) -> String? {
        let path = "/proc/sys/" + components.joined(separator: "/")
        guard let text = try? readTextFile(path) else { return nil }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Reads a whole (small) file as UTF-8 text.
func readTextFile(_ path: String) throws -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw NetworkError.posix("cannot open \(path)") }
    defer { close(fd) }
    var data: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 8192)
    while true {
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw NetworkError.posix("cannot read \(path)")
        }
        if n == 0 { break }
        data += chunk[0..<n]
    }
    return String(decoding: data, as: UTF8.self)
}
