// `kujira-runtime run` in the foreground of a container whose `process.terminal` is true and
// no `--console-socket` was given — `kujira-runtime spec` writes `terminal: true`, so this is
// `spec` then `run` — takes the terminal itself, as runc does: a console socket of its own
// receives the pty master; the caller's terminal is put in raw mode and copied to and from
// the master until the container's process exits; window size changes are passed on.

internal import CKujiraRuntime
import Glibc
import KujiraOCI
import KujiraRuntime
import Synchronization

/// Set by the SIGWINCH handler, read by the copy loop (which the signal wakes from `poll`).
private let windowChanged = Atomic<Bool>(false)

/// A console socket in a private directory, and the pty master it received.
final class ForegroundTerminal {
    /// The socket's path, for `CreateOptions.consoleSocket`.
    let socketPath: String
    private let directory: String
    private let listener: Int32

    init() throws {
        var template = Array("/tmp/kujira-runtime-console-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CommandFailure("kujira-runtime: creating a console socket directory: \(String(cString: strerror(errno)))") }
        directory = String(cString: made)
        socketPath = directory + "/console.sock"
        listener = kujira_unix_listen(socketPath)
        guard listener >= 0 else {
            let reason = String(cString: strerror(errno))
            rmdir(directory)
            throw CommandFailure("kujira-runtime: listening on \(socketPath): \(reason)")
        }
    }

    deinit {
        close(listener)
        unlink(socketPath)
        rmdir(directory)
    }

    /// The caller's window size (`stdin`'s), for `process.consoleSize` of an exec, whose
    /// process starts before `exec` returns the master; nil when stdin is no terminal.
    static func callerSize() -> ConsoleSize? {
        var size = winsize()
        guard ioctl(0, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0, size.ws_col > 0 else { return nil }
        return ConsoleSize(height: UInt32(size.ws_row), width: UInt32(size.ws_col))
    }

    /// The pty master the container's init sent during `create` (it is queued on the socket).
    func receiveMaster() throws -> Int32 {
        let connection = kujira_accept(listener)
        guard connection >= 0 else { throw CommandFailure("kujira-runtime: accepting on the console socket: \(String(cString: strerror(errno)))") }
        defer { close(connection) }
        let master = kujira_recv_fd(connection)
        guard master >= 0 else { throw CommandFailure("kujira-runtime: receiving the pty master: \(String(cString: strerror(errno)))") }
        return master
    }

    /// Copies between this process's stdin/stdout and `master` until process `pid` (the
    /// container's init, a child of ours) has exited and the master is drained. The caller's
    /// terminal, if stdin is one, is raw meanwhile and restored afterwards.
    static func copy(master: Int32, until pid: Int32) {
        var saved = termios()
        let isTerminal = isatty(0) == 1 && tcgetattr(0, &saved) == 0
        if isTerminal {
            var raw = saved
            cfmakeraw(&raw)
            _ = tcsetattr(0, TCSANOW, &raw)
        }
        defer { if isTerminal { _ = tcsetattr(0, TCSANOW, &saved) } }
        resize(master)
        signal(SIGWINCH) { _ in windowChanged.store(true, ordering: .relaxed) }
        defer { signal(SIGWINCH, SIG_IGN) }

        let pidfd = kujira_pidfd_open(pid)
        defer { if pidfd >= 0 { close(pidfd) } }
        var inputOpen = true
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            if windowChanged.exchange(false, ordering: .relaxed) { resize(master) }
            var fds = [pollfd(fd: master, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: inputOpen ? 0 : -1, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[0].revents != 0 {
                let n = read(master, &buffer, buffer.count)
                if n <= 0 && !(n < 0 && errno == EINTR) { return }  // EIO: every slave end is closed
                if n > 0 { writeAll(1, buffer, n) }
            }
            if fds[1].revents != 0 {
                let n = read(0, &buffer, buffer.count)
                if n > 0 { writeAll(master, buffer, n) } else if !(n < 0 && errno == EINTR) { inputOpen = false }
            }
            if fds[2].revents != 0 {
                // The init exited: what it wrote last is still in the master; read it out.
                let flags = fcntl(master, F_GETFL)
                _ = fcntl(master, F_SETFL, flags | O_NONBLOCK)
                while true {
                    let n = read(master, &buffer, buffer.count)
                    if n <= 0 { return }
                    writeAll(1, buffer, n)
                }
            }
        }
    }

    /// The caller's window size onto the pty (nothing when stdin is no terminal). `run` does
    /// this before `start`, so that the container's process never sees a 0 × 0 terminal.
    static func resize(_ master: Int32) {
        var size = winsize()
        if ioctl(0, UInt(TIOCGWINSZ), &size) == 0 { _ = ioctl(master, UInt(TIOCSWINSZ), &size) }
    }

    private static func writeAll(_ fd: Int32, _ buffer: [UInt8], _ count: Int) {
        var offset = 0
        while offset < count {
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + offset }, count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}
