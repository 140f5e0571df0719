import ArgumentParser
import Foundation
import Kujira
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Relays this process's stdio to and from a container's attach connection, as Docker's
/// client does: raw terminal mode for a TTY (restored on the way out), SIGWINCH forwarded as a
/// resize, signals proxied to the container without a TTY, and the detach keys (with a TTY
/// only, as Docker's client: without one, stdin may carry any bytes).
struct AttachSession {
    let engine: Engine
    let containerID: String
    let connection: AttachConnection
    /// Forward this process's stdin (EOF ends the container's stdin with `StdinOnce`).
    let stdin: Bool
    let detachKeys: DetachKeys
    let sigProxy: Bool

    /// The streams `kujira run`/`start` attach: `-a` values (STDIN, STDOUT, STDERR), else
    /// stdout and stderr, and stdin with `-i`.
    static func streams(_ names: [String], interactive: Bool) throws -> AttachStreams {
        guard !names.isEmpty else { return interactive ? .all : [.stdout, .stderr] }
        var streams: AttachStreams = []
        for name in names {
            switch name.lowercased() {
            case "stdin": streams.insert(.stdin)
            case "stdout": streams.insert(.stdout)
            case "stderr": streams.insert(.stderr)
            default: throw CLIError("invalid argument \"\(name)\" for -a: use STDIN, STDOUT or STDERR", exitCode: 125)
            }
        }
        return streams
    }

    /// The size of this process's terminal, if it has one.
    static var terminalSize: TerminalSize? { TerminalSize.of(fd: 0) ?? TerminalSize.of(fd: 1) }

    /// Relays until the container's output ends (true) or the user detaches (false).
    func run() -> Bool {
        let raw = connection.tty && stdin ? RawTerminal(fd: 0) : nil
        defer { raw?.restore() }
        var sources: [any DispatchSourceSignal] = []
        defer { sources.forEach { $0.cancel() } }
        let connection = self.connection
        if connection.tty {
            signal(SIGWINCH, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: SIGWINCH, queue: .global())
            source.setEventHandler { if let size = Self.terminalSize { connection.resize(size) } }
            source.resume()
            sources.append(source)
        } else if sigProxy {
            let engine = self.engine, id = containerID
            for number in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { try? engine.kill(id, signal: number) }
                source.resume()
                sources.append(source)
            }
        }
        let detached = Mutex(false)
        if stdin {
            let keys = detachKeys
            let thread = Thread {
                var scanner = connection.tty ? DetachKeyScanner(keys: keys) : nil
                var buffer = [UInt8](repeating: 0, count: 32 * 1024)
                while true {
                    let count = read(0, &buffer, buffer.count)
                    if count < 0 && errno == EINTR { continue }
                    if count <= 0 {
                        let rest = scanner?.flush() ?? []
                        if !rest.isEmpty { connection.sendStdin(rest) }
                        connection.closeStdin()
                        return
                    }
                    let (forward, detach) = scanner?.feed(buffer[0..<count]) ?? (Array(buffer[0..<count]), false)
                    if !forward.isEmpty && !connection.sendStdin(forward) { return }
                    if detach {
                        detached.withLock { $0 = true }
                        connection.detach()
                        return
                    }
                }
            }
            thread.start()
        }
        while let chunk = connection.readOutput() {
            writeAll(chunk.stream == 2 ? 2 : 1, chunk.bytes)
        }
        connection.close()
        return !detached.withLock { $0 }
    }
}

/// Writes all of `bytes` to `fd`.
func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + done }, bytes.count - done) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        done += n
    }
}

/// `kujira attach [--no-stdin] [--sig-proxy=false] [--detach-keys K] CONTAINER`: exits with
/// the container's exit code; after detaching, as Docker's, prints "read escape sequence"
/// and exits with 1 (the container keeps running).
struct ContainerAttach: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attach",
                                                    abstract: "Attach local standard input, output, and error streams to a running container.")
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .customLong("no-stdin"), help: "Do not attach STDIN.") var noStdin = false
    @Option(name: .customLong("sig-proxy"), help: "Proxy all received signals to the process (true or false).") var sigProxy = true
    @Option(name: .customLong("detach-keys"), help: "Override the key sequence for detaching a container.") var detachKeys: String?
    @Argument(help: "The container (name or id).") var container: String

    /// What Docker's client says after the detach keys (its `term.EscapeError`).
    static let detachedMessage = "read escape sequence"

    func run() throws {
        let keys = try DetachKeys.option(detachKeys)
        let code: Int32? = try engineCommand {
            let engine = try openEngine(globals)
            let record = try engine.container(container)
            if record.config.tty && !noStdin && record.config.openStdin && isatty(0) != 1 {
                throw CLIError("the input device is not a TTY", exitCode: 1)
            }
            let streams: AttachStreams = noStdin ? [.stdout, .stderr] : .all
            let connection = try engine.attach(record.id, streams: streams, size: record.config.tty ? AttachSession.terminalSize : nil)
            let session = AttachSession(engine: engine, containerID: record.id, connection: connection,
                                        stdin: !noStdin && record.config.openStdin, detachKeys: keys, sigProxy: sigProxy)
            guard session.run() else { return nil }
            return try engine.wait(record.id)
        }
        guard let code else { throw CLIError(Self.detachedMessage, exitCode: 1) }
        if code != 0 { throw ExitCode(code) }
    }
}

/// `kujira exec -t`: relays this process's terminal to the exec's pty. With `-i` the detach
/// keys end the relay as `docker exec -it`'s do: the terminal goes to the container's monitor
/// (the exec'd process keeps running), "read escape sequence" is printed and the status is 1.
func execWithTerminal(_ engine: Engine, container: String, command: [String], options: ExecProcessOptions,
                      interactive: Bool, detachKeys: DetachKeys) throws -> Int32 {
    if interactive && isatty(0) != 1 { throw CLIError("the input device is not a TTY", exitCode: 1) }
    let execID = try engine.createExec(container, command: command, options: options)
    if options.detach { return try engine.startExec(execID) }
    let raw = interactive ? RawTerminal(fd: 0) : nil
    defer { raw?.restore() }
    let done = DispatchSemaphore(value: 0)
    var resize: (any DispatchSourceSignal)?
    defer { resize?.cancel() }
    let code = try engine.startExec(execID, size: AttachSession.terminalSize) { master in
        let output = Thread {
            var buffer = [UInt8](repeating: 0, count: 32 * 1024)
            while true {
                let count = read(master, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                writeAll(1, Array(buffer[0..<count]))
            }
            done.signal()
        }
        output.start()
        if interactive {
            let input = Thread {
                var scanner = DetachKeyScanner(keys: detachKeys)
                var buffer = [UInt8](repeating: 0, count: 32 * 1024)
                while true {
                    let count = read(0, &buffer, buffer.count)
                    if count < 0 && errno == EINTR { continue }
                    if count <= 0 {
                        writeAll(master, scanner.flush())
                        return
                    }
                    let (forward, detach) = scanner.feed(buffer[0..<count])
                    writeAll(master, forward)
                    guard detach else { continue }
                    // startExec waits for the process on the main thread: hand the terminal
                    // over so that nothing hangs it up, then leave from here.
                    var message = ContainerAttach.detachedMessage
                    do {
                        try engine.detachExecTerminal(execID)
                    } catch {
                        message = "\(error) (the process may be hung up)"
                    }
                    raw?.restore()
                    FileHandle.standardError.write(Data("kujira: \(message)\n".utf8))
                    Foundation.exit(1)
                }
            }
            input.start()
        }
        signal(SIGWINCH, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGWINCH, queue: .global())
        source.setEventHandler { if let size = AttachSession.terminalSize { try? engine.resizeExec(execID, size: size) } }
        source.resume()
        resize = source
    }
    done.wait()
    return code
}
