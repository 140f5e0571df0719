// `exec`: run another process in a running container, with its own id, state and exit code.
//
//     let code = try engine.exec("web", command: ["ls", "/"])
//
//     let execID = try engine.createExec("web", command: ["sh"], options: options)   // -t
//     let code = try engine.startExec(execID, size: size) { master in relay(master) }
//     try engine.inspectExec(execID).exitCode
//
// Without a TTY the process gets the caller's stdin, stdout and stderr; with one, a pty whose
// master the caller receives (from the runtime's console socket) and relays itself. The
// process gets the container's environment, user, capabilities and seccomp filter; the caller
// becomes a child subreaper while it waits. Exec instances are recorded as
// `<state>/containers/<id>/execs/<exec id>.json` until the container's monitor ends.

internal import CKujiraRuntime
import KujiraImage
import KujiraOCI
import KujiraRuntime
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Options of ``Engine/exec(_:command:options:)`` and ``Engine/createExec(_:command:options:)``.
public struct ExecProcessOptions: Sendable, Hashable, Codable {
    /// `-e NAME=VALUE`, added to the container's environment.
    public var env: [String] = []
    /// `-w`; nil keeps the container's.
    public var workingDir: String?
    /// `-u`; nil keeps the container's user.
    public var user: String?
    /// `-d`: do not wait; ``Engine/exec(_:command:options:)`` returns 0.
    public var detach = false
    /// `-t`: give the process a pseudo-terminal (``Engine/startExec(_:size:terminal:)``
    /// hands its master to the caller).
    public var tty = false
    /// `--privileged`: every capability.
    public var privileged = false
    /// Creates default options.
    public init() {}
}

/// One exec instance (`docker exec inspect`'s subset).
public struct ExecInstance: Codable, Sendable, Hashable {
    /// The 64-hex-digit exec id.
    public var id: String
    /// The container's id.
    public var containerID: String
    /// The command.
    public var command: [String]
    /// The options it was created with.
    public var options: ExecProcessOptions
    /// Whether the process runs (a detached one is checked on each inspect).
    public var running: Bool
    /// The exit code once known (nil while running, and for a detached process nobody waited for).
    public var exitCode: Int32?
    /// The host pid once started, else 0.
    public var pid: Int32
}

extension Engine {
    /// Runs `command` in running container `nameOrID` and returns its exit code (128 + n if
    /// signal n killed it). With `options.tty`, the caller's stdio is relayed through a pty.
    public func exec(_ nameOrID: String, command: [String], options: ExecProcessOptions = ExecProcessOptions()) throws -> Int32 {
        let execID = try createExec(nameOrID, command: command, options: options)
        return try startExec(execID)
    }

    /// Records a new exec instance of `command` in running container `nameOrID`; returns its id.
    public func createExec(_ nameOrID: String, command: [String], options: ExecProcessOptions = ExecProcessOptions()) throws -> String {
        let record = try container(nameOrID)
        guard record.state.status == .running else {
            throw EngineError(.invalidState, "container \(record.name) is not running")
        }
        guard !command.isEmpty else { throw EngineError(.invalidArgument, "exec needs a command") }
        var bytes = [UInt8](repeating: 0, count: 32)
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard fd >= 0, read(fd, &bytes, bytes.count) == bytes.count else {
            if fd >= 0 { close(fd) }
            throw EngineError.posix("reading /dev/urandom", errno: errno)
        }
        close(fd)
        let id = bytes.map { String(format: "%02x", $0) }.joined()
        let instance = ExecInstance(id: id, containerID: record.id, command: command, options: options, running: false, exitCode: nil, pid: 0)
        try SystemSupport.makeDirectories("\(attachDirectory(record.id))/execs", mode: 0o700)
        try saveExec(instance)
        return id
    }

    /// The exec instance `execID` (a unique prefix will do).
    public func inspectExec(_ execID: String) throws -> ExecInstance {
        var instance = try loadExec(execID)
        if instance.running, instance.exitCode == nil, !SystemSupport.isAlive(instance.pid, startTime: 0) {
            instance.running = false
            try? saveExec(instance)
        }
        return instance
    }

    /// Sets the terminal size of exec `execID`; the pty master is held by the process that
    /// started it, so this works in that process only (a daemon's).
    public func resizeExec(_ execID: String, size: TerminalSize) throws {
        let instance = try loadExec(execID)
        guard let master = Self.execTerminals.withLock({ $0[instance.id] }) else {
            throw EngineError(.invalidState, "exec \(instance.id.prefix(12)) has no terminal held by this process")
        }
        size.apply(to: master)
    }

    /// Starts exec `execID` and, unless it was created with `detach`, waits for it and
    /// returns its exit code (0 for a detached one). With `tty`, `terminal` is called with
    /// the pty master once the process runs: the caller relays it (say, on threads) and
    /// closes it when done; `size` is the terminal's first size. Without `tty`, `stdio` hands
    /// the process other fds as its stdin, stdout and stderr (a daemon's pipes) instead of
    /// the caller's own 0, 1 and 2; they must stay open until this returns.
    public func startExec(_ execID: String, size: TerminalSize? = nil, terminal: ((Int32) -> Void)? = nil,
                          stdio: (input: Int32, output: Int32, error: Int32)? = nil) throws -> Int32 {
        var instance = try loadExec(execID)
        guard instance.pid == 0 else { throw EngineError(.conflict, "exec \(instance.id.prefix(12)) was already started") }
        let record = try container(instance.containerID)
        guard record.state.status == .running else {
            throw EngineError(.invalidState, "container \(record.name) is not running")
        }
        guard let data = FileManager.default.contents(atPath: "\(directory(record.id))/config.json"),
              let spec = try? JSONDecoder().decode(Spec.self, from: data), var process = spec.process else {
            throw EngineError(.io, "the bundle of container \(record.name) is unreadable")
        }
        let options = instance.options
        process.args = instance.command
        process.terminal = options.tty
        process.consoleSize = options.tty ? size.map { ConsoleSize(height: UInt32($0.rows), width: UInt32($0.columns)) } : nil
        var env = process.env ?? []
        for entry in options.env where entry.contains("=") { ContainerSpecBuilder.setEnv(&env, entry) }
        if options.tty && !env.contains(where: { $0.hasPrefix("TERM=") }) { env.append("TERM=xterm") }
        process.env = env
        if let dir = options.workingDir { process.cwd = dir }
        if let user = options.user {
            let resolved = try BundleSpec.resolveUser(user, rootfs: record.rootfsPath)
            process.user = User(uid: resolved.uid, gid: resolved.gid,
                                additionalGids: resolved.additionalGids.isEmpty ? nil : resolved.additionalGids)
        }
        if options.privileged {
            let caps = ContainerSpecBuilder.allCapabilities()
            process.capabilities = LinuxCapabilities(bounding: caps, effective: caps, inheritable: nil, permitted: caps, ambient: nil)
        }
        let runtime = self.runtime
        let directory = attachDirectory(record.id)
        try SystemSupport.makeDirectories(directory, mode: 0o700)
        let socketName = "exec-\(instance.id.prefix(12))"

        // The console socket the runtime hands the pty master to (-t).
        var listenFD: Int32 = -1
        let dirFD = kujira_open_path(directory, 0)
        guard dirFD >= 0 else { throw EngineError.posix("opening \(directory)", errno: errno) }
        defer {
            close(dirFD)
            if listenFD >= 0 {
                close(listenFD)
                unlink("\(directory)/\(socketName)")
            }
        }
        var execOptions = KujiraRuntime.ExecOptions()
        if let stdio, !options.tty { execOptions.stdio = StdioFDs(input: stdio.input, output: stdio.output, error: stdio.error) }
        if options.tty {
            let path = AttachHub.shortPath(directory: directory, fd: dirFD, name: socketName)
            unlink("\(directory)/\(socketName)")
            listenFD = kujira_unix_listen(path)
            guard listenFD >= 0 else { throw EngineError.posix("listening on \(directory)/\(socketName)", errno: errno) }
            execOptions.consoleSocket = path
        }
        let listener = listenFD
        func start() throws -> Int32 {
            do {
                let pid = try runtime.exec(id: record.id, process: process, options: execOptions)
                instance.pid = pid
                instance.running = true
                try saveExec(instance)
                if options.tty {
                    let connection = accept(listener, nil, nil)
                    guard connection >= 0 else { throw EngineError.posix("accepting the exec's console connection", errno: errno) }
                    let master = kujira_recv_fd(connection)
                    let code = errno
                    close(connection)
                    guard master >= 0 else { throw EngineError.posix("receiving the exec's pty master", errno: code) }
                    Self.execTerminals.withLock { $0[instance.id] = master }
                    if let terminal { terminal(master) } else { close(master) }
                }
                return pid
            } catch let error as EngineError {
                throw error
            } catch {
                throw EngineError(.startFailed, "exec in container \(record.name) failed", cause: error)
            }
        }
        if options.detach {
            _ = try start()
            return 0
        }
        // A subreaper only while waiting: the exec'd process is reparented here to be waited for.
        let code = try ContainerRuntime.withSubreaper { try ContainerRuntime.waitForExit(pid: try start()) }
        Self.execTerminals.withLock { _ = $0.removeValue(forKey: instance.id) }
        instance.running = false
        instance.exitCode = code
        try? saveExec(instance)
        return code
    }

    /// Detaches this process from the terminal of exec `execID`, which it started with a TTY
    /// (`docker exec -it`'s detach keys): the pty master goes to the container's monitor,
    /// which holds it, dropping the output, until the exec'd process and everything else on
    /// that terminal have exited. The caller may then stop relaying and close its own copy
    /// without hanging the process up. ``startExec(_:size:terminal:stdio:)`` still waits for
    /// the process; a command-line client exits instead.
    /// - Throws: ``EngineError`` `.invalidState` if this process holds no terminal of the exec.
    public func detachExecTerminal(_ execID: String) throws {
        let instance = try loadExec(execID)
        guard let master = Self.execTerminals.withLock({ $0[instance.id] }) else {
            throw EngineError(.invalidState, "exec \(instance.id.prefix(12)) has no terminal held by this process")
        }
        let directory = attachDirectory(instance.containerID)
        let fd = AttachFrame.withSocketPath(directory: directory, name: "attach") { kujira_unix_connect($0) }
        guard fd >= 0 else {
            throw EngineError.posix("connecting to the monitor of container \(instance.containerID.prefix(12))", errno: errno)
        }
        defer { close(fd) }
        let hello = AttachFrame.encode(AttachFrame.hello, [AttachFrame.terminalHandover, 0, 0, 0, 0])
        guard AttachFrame.writeAll(fd, hello), kujira_send_fd(fd, master) == 0 else {
            throw EngineError.posix("handing the terminal of exec \(instance.id.prefix(12)) to the container's monitor", errno: errno)
        }
        // The monitor holds the terminal once it has received it: wait for it to close the
        // connection, so that the caller's close of its copy cannot come first.
        var byte: UInt8 = 0
        while recv(fd, &byte, 1, 0) < 0 && errno == EINTR {}
    }

    /// The pty masters of the running exec instances this process started, for ``resizeExec``.
    private static let execTerminals = Mutex<[String: Int32]>([:])

    private func saveExec(_ instance: ExecInstance) throws {
        let data = try JSONEncoder().encode(instance)
        try SystemSupport.writeAtomically("\(attachDirectory(instance.containerID))/execs/\(instance.id).json", Array(data))
    }

    private func loadExec(_ execID: String) throws -> ExecInstance {
        let base = "\(state)/containers"
        let fm = FileManager.default
        for container in (try? fm.contentsOfDirectory(atPath: base)) ?? [] {
            let names = (try? fm.contentsOfDirectory(atPath: "\(base)/\(container)/execs")) ?? []
            let matches = names.filter { $0.hasPrefix(execID) && $0.hasSuffix(".json") }
            guard !matches.isEmpty else { continue }
            guard matches.count == 1, !execID.isEmpty else {
                throw EngineError(.conflict, "multiple exec instances match \(execID): give more of the id")
            }
            if let data = fm.contents(atPath: "\(base)/\(container)/execs/\(matches[0])"),
               let instance = try? JSONDecoder().decode(ExecInstance.self, from: data) {
                return instance
            }
        }
        throw EngineError(.notFound, "no such exec instance: \(execID)")
    }
}
