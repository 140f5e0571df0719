import Foundation
import Kujira
#if canImport(Glibc)
import Glibc
#endif

/// The client's terminal in raw mode while attached to a container's TTY; ``restore()``
/// puts the saved settings back (call it on every way out).
final class RawTerminal: @unchecked Sendable {
    // @unchecked: `saved` is written once in init and read in restore, on one thread.
    private let fd: Int32
    private var saved: termios?

    /// Puts `fd` in raw mode if it is a terminal.
    init(fd: Int32) {
        self.fd = fd
        var settings = termios()
        guard isatty(fd) == 1, tcgetattr(fd, &settings) == 0 else { return }
        saved = settings
        var raw = settings
        cfmakeraw(&raw)
        _ = tcsetattr(fd, TCSANOW, &raw)
    }

    /// Restores the saved settings (once).
    func restore() {
        guard var settings = saved else { return }
        _ = tcsetattr(fd, TCSANOW, &settings)
        saved = nil
    }

    deinit { restore() }
}

/// Docker's `--detach-keys`: a comma-separated sequence of `ctrl-X` and single characters.
enum DetachKeys {
    /// ctrl-p, ctrl-q.
    static let defaultKeys: [UInt8] = [0x10, 0x11]

    static func parse(_ text: String?) throws -> [UInt8] {
        guard let text, !text.isEmpty else { return defaultKeys }
        var keys: [UInt8] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let lower = item.lowercased()
            if lower.hasPrefix("ctrl-"), lower.count == 6, let last = lower.utf8.last {
                switch last {
                case UInt8(ascii: "a")...UInt8(ascii: "z"): keys.append(last - UInt8(ascii: "a") + 1)
                case UInt8(ascii: "@"): keys.append(0)
                case UInt8(ascii: "["): keys.append(27)
                case UInt8(ascii: "\\"): keys.append(28)
                case UInt8(ascii: "]"): keys.append(29)
                case UInt8(ascii: "^"): keys.append(30)
                case UInt8(ascii: "_"): keys.append(31)
                default: throw CLIError("invalid detach keys \(text): \(item) is not ctrl-<a-z|@|[|\\|]|^|_>", exitCode: 125)
                }
            } else if item.utf8.count == 1, let byte = item.utf8.first {
                keys.append(byte)
            } else {
                throw CLIError("invalid detach keys \(text): use a comma-separated list of ctrl-<key> and single characters", exitCode: 125)
            }
        }
        return keys
    }
}

/// Finds the detach sequence in a stream of input, holding back a partial match until the
/// next bytes decide it.
struct DetachScanner {
    let keys: [UInt8]
    private var held: [UInt8] = []

    init(keys: [UInt8]) { self.keys = keys }

    /// The bytes to forward from `input`, and whether the whole sequence was typed.
    mutating func feed(_ input: [UInt8]) -> (forward: [UInt8], detach: Bool) {
        guard !keys.isEmpty else { return (input, false) }
        var forward: [UInt8] = []
        for byte in input {
            if byte == keys[held.count] {
                held.append(byte)
                if held.count == keys.count { return (forward, true) }
            } else {
                forward += held
                held.removeAll()
                if byte == keys[0] {
                    held.append(byte)
                    if held.count == keys.count { return (forward, true) }
                } else {
                    forward.append(byte)
                }
            }
        }
        return (forward, false)
    }

    /// The held-back bytes of a partial match, at the end of input.
    mutating func flush() -> [UInt8] {
        defer { held.removeAll() }
        return held
    }
}
