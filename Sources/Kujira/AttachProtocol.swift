// The attach protocol between a client (`kujira run -i`, `attach`, a daemon) and a container's
// monitor, over the unix socket `<state>/containers/<id>/attach` (or a socket pair handed to
// the monitor at start, for a client that must see the container's first byte).
//
// Every message is a frame with Docker's stdcopy header: [type u8][0 0 0][length u32 BE] and
// `length` bytes of payload.
//   client → monitor: 0 hello (first: u8 streams, u16 BE rows, u16 BE columns; rows 0: no
//                     size), 1 stdin bytes, 2 end of stdin, 3 resize (u16 BE rows, columns)
//   A hello whose streams byte has bit 0x80 hands the monitor a terminal instead: one byte
//   carrying the pty master of an exec (SCM_RIGHTS) follows, and the connection ends; the
//   monitor holds the terminal, dropping its output, until nothing holds its other side
//   (`exec -it`'s detach keys: the exec'd process must not be hung up).
//   monitor → client: without a TTY, frames of type 1 (stdout) and 2 (stderr) — exactly
//                     Docker's multiplexed attach stream; with a TTY, the terminal's raw bytes.
// The monitor closes the connection once the container's process has exited and its output
// has been sent; the client then asks the engine for the exit code.

internal import CKujiraRuntime
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Which of a container's streams an attached client takes.
public struct AttachStreams: OptionSet, Sendable, Hashable {
    /// The raw bits, as sent in the hello frame.
    public let rawValue: UInt8
    /// Creates a set from its bits.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The client sends the container's stdin (needs `-i`, Docker's `OpenStdin`).
    public static let stdin = AttachStreams(rawValue: 1)
    /// The client receives stdout (with a TTY: the terminal's output).
    public static let stdout = AttachStreams(rawValue: 2)
    /// The client receives stderr (with a TTY, part of the terminal's output).
    public static let stderr = AttachStreams(rawValue: 4)
    /// stdin, stdout and stderr.
    public static let all: AttachStreams = [.stdin, .stdout, .stderr]
}

/// The size of a terminal, in characters.
public struct TerminalSize: Sendable, Hashable {
    /// Rows (lines).
    public var rows: UInt16
    /// Columns.
    public var columns: UInt16
    /// Creates a size.
    public init(rows: UInt16, columns: UInt16) {
        self.rows = rows
        self.columns = columns
    }

    /// The size of the terminal open on `fd`, or nil if `fd` is no terminal.
    public static func of(fd: Int32) -> TerminalSize? {
        var size = winsize()
        guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0 else { return nil }
        return TerminalSize(rows: size.ws_row, columns: size.ws_col)
    }

    /// Sets the size of the terminal (a pty master) open on `fd`.
    func apply(to fd: Int32) {
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(fd, UInt(TIOCSWINSZ), &size)
    }
}

/// Frame types and I/O helpers of the attach protocol.
enum AttachFrame {
    static let hello: UInt8 = 0
    static let stdin: UInt8 = 1
    static let stdinEnd: UInt8 = 2
    static let resize: UInt8 = 3
    /// The hello's streams bit of a terminal handover.
    static let terminalHandover: UInt8 = 0x80
    /// Output frame types (Docker's stdcopy stream numbers).
    static let stdout: UInt8 = 1
    static let stderr: UInt8 = 2
    /// The largest payload accepted from a client.
    static let maxPayload = 1 << 20

    static func encode(_ type: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let n = UInt32(payload.count)
        return [type, 0, 0, 0, UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + payload
    }

    static func sizePayload(_ size: TerminalSize) -> [UInt8] {
        [UInt8(size.rows >> 8), UInt8(size.rows & 0xFF), UInt8(size.columns >> 8), UInt8(size.columns & 0xFF)]
    }

    static func size(from payload: ArraySlice<UInt8>) -> TerminalSize? {
        guard payload.count >= 4 else { return nil }
        let p = Array(payload)
        let size = TerminalSize(rows: UInt16(p[0]) << 8 | UInt16(p[1]), columns: UInt16(p[2]) << 8 | UInt16(p[3]))
        return size.rows > 0 && size.columns > 0 ? size : nil
    }

    /// Reads exactly `count` bytes; nil at EOF or on error.
    static func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var result = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = result.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress.map { $0 + done }, count - done) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            done += n
        }
        return result
    }

    /// Reads one frame; nil at EOF, on error or for an oversized frame.
    static func read(_ fd: Int32) -> (type: UInt8, payload: [UInt8])? {
        guard let header = readExactly(fd, 8) else { return nil }
        let length = Int(header[4]) << 24 | Int(header[5]) << 16 | Int(header[6]) << 8 | Int(header[7])
        guard length <= maxPayload else { return nil }
        if length == 0 { return (header[0], []) }
        guard let payload = readExactly(fd, length) else { return nil }
        return (header[0], payload)
    }

    /// Writes all of `bytes` (send with MSG_NOSIGNAL on sockets, write otherwise); false on error.
    @discardableResult
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], socket: Bool = true) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                socket ? send(fd, buffer.baseAddress.map { $0 + done }, bytes.count - done, Int32(MSG_NOSIGNAL))
                       : Glibc.write(fd, buffer.baseAddress.map { $0 + done }, bytes.count - done)
            }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }

    /// Runs `body` with a path to `directory/name` short enough for a unix socket address
    /// (108 bytes): the path itself, or `/proc/self/fd/N/name` over an O_PATH fd of the
    /// directory. Returns what `body` returns, or -1 with errno set.
    static func withSocketPath(directory: String, name: String, _ body: (String) -> Int32) -> Int32 {
        let full = "\(directory)/\(name)"
        if full.utf8.count < 100 { return body(full) }
        let dirFD = kujira_open_path(directory, 0)
        guard dirFD >= 0 else { return -1 }
        defer { close(dirFD) }
        return body("/proc/self/fd/\(dirFD)/\(name)")
    }
}
