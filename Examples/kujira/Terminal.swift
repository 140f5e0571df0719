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

extension DetachKeys {
    /// `--detach-keys` (nil: ctrl-p,ctrl-q); a bad spec is a usage error (status 125).
    static func option(_ text: String?) throws -> DetachKeys {
        do {
            return try DetachKeys(parsing: text)
        } catch let error as EngineError {
            throw CLIError(error.message, exitCode: 125)
        }
    }
}
