// `start`: hand a created or exited container to a new monitor process and wait until the
// monitor reports that the container's process runs (or why it does not).
//
//     try engine.start("web")
//
// The monitor is spawned (posix_spawn, no fork of this multi-threaded process) with fds
// 0-2 on /dev/null and <root>/containers/<id>/monitor.log and fd 3 a socket back to us; it
// calls setsid, so it outlives this process and its terminal.

internal import CKujiraRuntime
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    /// Starts container `nameOrID` under a new monitor; a running container is left alone.
    /// - Parameter attachedClient: the pid of a client that follows the container and, with
    ///   `--rm`, removes it itself: the monitor then waits for that process to exit before
    ///   removing the container (0: none).
    /// - Throws: ``EngineError`` `.startFailed` with the runtime's reason (a missing
    ///   executable, a bad mount, …).
    @discardableResult
    public func start(_ nameOrID: String, attachedClient: Int32 = 0) throws -> ContainerRecord {
        try start(nameOrID, attachedClient: attachedClient, attachFD: -1)
    }

    /// ``start(_:attachedClient:)`` handing the monitor `attachFD` (or -1): a client
    /// connection registered before the container's process starts (``startAttached``).
    func start(_ nameOrID: String, attachedClient: Int32, attachFD: Int32) throws -> ContainerRecord {
        let record = try container(nameOrID)
        if record.state.isActive { return record }
        let id = record.id
        try update(id, durable: false) { record in
            record.state.manuallyStopped = false
            record.state.attachedClientPid = attachedClient
            record.state.error = ""
        }
        var sockets: [Int32] = [-1, -1]
        guard kujira_socketpair(Int32(SOCK_STREAM.rawValue), &sockets) == 0 else { throw EngineError.posix("socketpair", errno: errno) }
        defer { close(sockets[0]) }
        try activateVolumes(record)
        try ensureRootfsMounted(record)  // gone after a reboot
        let pid = try spawnMonitor(id: id, syncFD: sockets[1], attachFD: attachFD)
        close(sockets[1])
        Engine.crashPoint("start-spawned")

        var message: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(sockets[0], &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            message += buffer[0..<count]
        }
        let text = String(decoding: message, as: UTF8.self)
        guard text == "ok" else {
            // The monitor has reported its failure, or died: it is exiting. Wait until it has
            // (and reap it, so a long-lived caller keeps no zombie): the socket's end of file
            // comes while a killed monitor is still tearing down, and a command run right
            // after this one would take it for alive and not reconcile the container.
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            throw EngineError(.startFailed, text.isEmpty
                ? "the monitor of container \(record.name) exited before starting it; see \(directory(id))/monitor.log"
                : text)
        }
        return try container(id)
    }

    /// Spawns `monitorExecutable __monitor --root ROOT --state STATE ID` (with
    /// `--attach-fd 4` and `attachFD` as fd 4 when it is not -1).
    func spawnMonitor(id: String, syncFD: Int32, attachFD: Int32 = -1) throws -> pid_t {
        let logPath = "\(directory(id))/monitor.log"
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        defer {
            if devNull >= 0 { close(devNull) }
            if log >= 0 { close(log) }
        }
        guard devNull >= 0, log >= 0 else { throw EngineError.posix("opening \(logPath)", errno: errno) }
        // Every source fd above the targets, so no mapping overwrites another's source.
        let sources = ([devNull, log, log, syncFD] + (attachFD >= 0 ? [attachFD] : [])).map { fcntl($0, F_DUPFD_CLOEXEC, 10) }
        defer { for fd in sources where fd >= 0 { close(fd) } }
        guard sources.allSatisfy({ $0 >= 0 }) else { throw EngineError.posix("duplicating the monitor's fds", errno: errno) }
        let arguments = [monitorExecutable, "__monitor", "--root", root, "--state", state]
            + (attachFD >= 0 ? ["--attach-fd", "4"] : []) + [id]
        let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let targets: [Int32] = Array(0..<Int32(sources.count))
        let result = argv.withUnsafeBufferPointer { argvBuffer in
            envp.withUnsafeBufferPointer { envpBuffer in
                kujira_spawn(monitorExecutable, argvBuffer.baseAddress, envpBuffer.baseAddress, sources, targets,
                             Int32(sources.count), Int32(sources.count), 0, &pid)
            }
        }
        guard result == 0 else { throw EngineError.posix("starting the monitor \(monitorExecutable)", errno: result) }
        return pid
    }
}
