// The monitor's side of attach: the container's stdin (a pipe with `-i`, the pty with `-t`),
// the pty master received from the runtime's console socket, and the clients attached over
// `<state>/containers/<id>/attach`. See AttachProtocol.swift for the frames.

internal import CKujiraRuntime
import KujiraOCI
import KujiraRuntime
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The attach endpoint and stdio of one container, owned by its monitor.
final class AttachHub: Sendable {
    /// What one run of the container gets as stdio, made before the runtime's create.
    struct RunStdio {
        /// The read end of the stdin pipe (`-i` without `-t`), handed to the container as fd 0.
        var stdinRead: Int32 = -1
        /// The write end the monitor keeps.
        var stdinWrite: Int32 = -1
        /// The listening console socket (`-t`).
        var consoleListen: Int32 = -1
        /// The runtime's create options (the console socket's path).
        var options = CreateOptions()
    }

    private struct Input {
        var tty = false
        var stdinFD: Int32 = -1
        var master: Int32 = -1
        var stdinOnce = false
        var firstClient: Int32 = -1
    }

    /// The container's state directory, `<state>/containers/<id>`.
    let directory: String
    /// An O_PATH fd of ``directory``, for socket paths longer than a unix address allows.
    private let directoryFD: Int32
    private let listenFD: Int32
    private let input: Mutex<Input>
    /// Whether the current run has a TTY; apart from ``input`` so that the output path never
    /// waits for a stdin write (the container may be blocked writing output while not reading
    /// input).
    private let ttyMode = Mutex(false)
    private let clients = Mutex<[Int32: AttachStreams]>([:])

    /// Listens on `directory/attach`; `firstClient` (or -1) is a connection made before the
    /// monitor started, registered before the container's process starts.
    init(directory: String, firstClient: Int32) throws {
        self.directory = directory
        try SystemSupport.makeDirectories(directory, mode: 0o700)
        directoryFD = kujira_open_path(directory, 0)
        guard directoryFD >= 0 else { throw EngineError.posix("opening \(directory)", errno: errno) }
        unlink("\(directory)/attach")
        listenFD = kujira_unix_listen(Self.shortPath(directory: directory, fd: directoryFD, name: "attach"))
        guard listenFD >= 0 else {
            let code = errno
            Glibc.close(directoryFD)
            throw EngineError.posix("listening on \(directory)/attach", errno: code)
        }
        input = Mutex(Input(firstClient: firstClient))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    static func shortPath(directory: String, fd: Int32, name: String) -> String {
        let full = "\(directory)/\(name)"
        return full.utf8.count < 100 ? full : "/proc/self/fd/\(fd)/\(name)"
    }

    /// Stops listening and removes the container's state directory (sockets, exec records).
    func close() {
        shutdown(listenFD, Int32(SHUT_RDWR))
        Glibc.close(listenFD)
        Glibc.close(directoryFD)
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            let thread = Thread { [self] in
                if let streams = register(fd) { serve(fd, streams: streams) }
            }
            thread.start()
        }
    }

    // MARK: - Runs

    /// Makes the stdio of the next run of `config`'s process.
    func prepareRun(_ config: ContainerConfig) throws -> RunStdio {
        var stdio = RunStdio()
        if config.tty {
            unlink("\(directory)/console")
            let path = Self.shortPath(directory: directory, fd: directoryFD, name: "console")
            stdio.consoleListen = kujira_unix_listen(path)
            guard stdio.consoleListen >= 0 else { throw EngineError.posix("listening on \(directory)/console", errno: errno) }
            stdio.options.consoleSocket = path
        } else if config.openStdin {
            var fds: [Int32] = [-1, -1]
            guard kujira_pipe(&fds) == 0 else { throw EngineError.posix("pipe", errno: errno) }
            stdio.stdinRead = fds[0]
            stdio.stdinWrite = fds[1]
        }
        return stdio
    }

    /// Undoes ``prepareRun(_:)`` after a failed create.
    func discard(_ stdio: RunStdio) {
        for fd in [stdio.stdinRead, stdio.stdinWrite, stdio.consoleListen] where fd >= 0 { Glibc.close(fd) }
        if stdio.consoleListen >= 0 { unlink("\(directory)/console") }
    }

    /// After the runtime's create: takes the pty master from the console socket, keeps the
    /// stdin pipe's write end and registers the client that attached before the start.
    func beginRun(_ config: ContainerConfig, _ stdio: RunStdio) throws {
        if stdio.stdinRead >= 0 { Glibc.close(stdio.stdinRead) }
        var master: Int32 = -1
        if stdio.consoleListen >= 0 {
            defer {
                Glibc.close(stdio.consoleListen)
                unlink("\(directory)/console")
            }
            let connection = accept(stdio.consoleListen, nil, nil)
            guard connection >= 0 else { throw EngineError.posix("accepting the console connection", errno: errno) }
            master = kujira_recv_fd(connection)
            let code = errno
            Glibc.close(connection)
            guard master >= 0 else { throw EngineError.posix("receiving the pty master", errno: code) }
        }
        ttyMode.withLock { $0 = config.tty }
        let first = input.withLock { input in
            input.tty = config.tty
            input.stdinFD = stdio.stdinWrite
            input.master = master
            input.stdinOnce = config.stdinOnce
            defer { input.firstClient = -1 }
            return input.firstClient
        }
        if first >= 0, let streams = register(first) {
            let thread = Thread { [self] in serve(first, streams: streams) }
            thread.start()
        }
    }

    /// The extra log pump of a run with a TTY (the terminal's output, logged as stdout).
    func terminalPumps(_ log: JSONLogWriter) -> [JSONLogWriter.Pump] {
        let master = input.withLock { $0.master }
        guard master >= 0 else { return [] }
        let copy = fcntl(master, F_DUPFD_CLOEXEC, 3)
        guard copy >= 0 else { return [] }
        return [log.pump(fd: copy, stream: "stdout", tee: tee(AttachFrame.stdout))]
    }

    /// Ends a run once its output is drained: closes stdin and the terminal and disconnects
    /// every client (each then asks the engine for the exit code).
    func endRun() {
        input.withLock { input in
            if input.stdinFD >= 0 { Glibc.close(input.stdinFD) }
            if input.master >= 0 { Glibc.close(input.master) }
            input.stdinFD = -1
            input.master = -1
        }
        clients.withLock { clients in
            for fd in clients.keys { shutdown(fd, Int32(SHUT_RDWR)) }
            clients.removeAll()
        }
    }

    // MARK: - Clients

    /// A function that sends output of `stream` to the attached clients.
    func tee(_ stream: UInt8) -> @Sendable ([UInt8]) -> Void {
        { [self] bytes in broadcast(stream, bytes) }
    }

    private func broadcast(_ stream: UInt8, _ bytes: [UInt8]) {
        let tty = ttyMode.withLock { $0 }
        let wanted: AttachStreams = tty ? [.stdout, .stderr] : (stream == AttachFrame.stderr ? .stderr : .stdout)
        let data = tty ? bytes : AttachFrame.encode(stream, bytes)
        clients.withLock { clients in
            for (fd, streams) in clients where !streams.isDisjoint(with: wanted) {
                if !AttachFrame.writeAll(fd, data) {
                    shutdown(fd, Int32(SHUT_RDWR))
                    clients.removeValue(forKey: fd)
                }
            }
        }
    }

    /// Reads a client's hello, applies its terminal size and registers it; nil (and the
    /// connection closed) for a malformed hello.
    private func register(_ fd: Int32) -> AttachStreams? {
        guard let hello = AttachFrame.read(fd), hello.type == AttachFrame.hello, let bits = hello.payload.first else {
            Glibc.close(fd)
            return nil
        }
        if bits & AttachFrame.terminalHandover != 0 {
            adoptTerminal(fd)
            return nil
        }
        if let size = AttachFrame.size(from: hello.payload.dropFirst()) { resize(size) }
        let streams = AttachStreams(rawValue: bits)
        clients.withLock { $0[fd] = streams }
        return streams
    }

    /// Takes the pty master an exec's client hands over when it detaches, and holds it,
    /// reading and dropping the output, until every holder of the other side has exited: a
    /// closed master would hang the exec'd process up (SIGHUP). Closes the connection.
    private func adoptTerminal(_ fd: Int32) {
        let master = kujira_recv_fd(fd)
        Glibc.close(fd)
        guard master >= 0 else { return }
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let count = Glibc.read(master, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
            }
            Glibc.close(master)
        }
        thread.start()
    }

    /// Handles a client's frames until it disconnects, then closes its connection.
    private func serve(_ fd: Int32, streams: AttachStreams) {
        var stdinEnded = !streams.contains(.stdin)
        while let frame = AttachFrame.read(fd) {
            switch frame.type {
            case AttachFrame.stdin where !stdinEnded:
                writeStdin(frame.payload)
            case AttachFrame.stdinEnd where !stdinEnded:
                stdinEnded = true
                endStdin()
            case AttachFrame.resize:
                if let size = AttachFrame.size(from: frame.payload[...]) { resize(size) }
            default:
                break
            }
        }
        clients.withLock { _ = $0.removeValue(forKey: fd) }
        Glibc.close(fd)
        if !stdinEnded { endStdin() }
    }

    /// Writes to the container's stdin through a duplicate of the fd, outside the lock: the
    /// write may block until the container reads, and must block nothing else.
    private func writeStdin(_ bytes: [UInt8]) {
        let fd = input.withLock { input -> Int32 in
            let target = input.tty ? input.master : input.stdinFD
            return target >= 0 ? fcntl(target, F_DUPFD_CLOEXEC, 3) : -1
        }
        guard fd >= 0 else { return }
        AttachFrame.writeAll(fd, bytes, socket: false)
        Glibc.close(fd)
    }

    /// The end of an attached client's stdin: with `StdinOnce`, closes the container's
    /// stdin pipe (a terminal stays open, as Docker's does).
    private func endStdin() {
        input.withLock { input in
            guard input.stdinOnce, !input.tty, input.stdinFD >= 0 else { return }
            Glibc.close(input.stdinFD)
            input.stdinFD = -1
        }
    }

    private func resize(_ size: TerminalSize) {
        input.withLock { input in
            if input.master >= 0 { size.apply(to: input.master) }
        }
    }

    // MARK: - Spec

    /// Sets `process.terminal` for `-t` and, as Docker does, `TERM=xterm` unless the
    /// environment has a TERM.
    static func applyTerminal(_ config: ContainerConfig, to spec: inout Spec) {
        guard config.tty, var process = spec.process else { return }
        process.terminal = true
        var env = process.env ?? []
        if !env.contains(where: { $0.hasPrefix("TERM=") }) { env.append("TERM=xterm") }
        process.env = env
        spec.process = process
    }
}
