// Exec routes: create, start (a hijacked connection relaying the exec's terminal), inspect
// and resize, over the engine's exec instances.
//
// With `Tty` the engine hands the daemon the exec's pty master and the stream is raw bytes
// both ways; without one the exec gets the daemon's pipes as its stdio (the engine's
// `startExec(stdio:)`) and its output goes out in Docker's multiplexed frames. A detached
// exec (`docker exec -d`) keeps no output, as with dockerd. With a TTY the client's input is
// watched for the detach keys (`DetachKeys`, default ctrl-p,ctrl-q), as dockerd does: they end
// the client's stream while the exec'd process keeps running on its terminal, which the
// daemon holds (reading and dropping its output) until the process exits.

import Foundation
import CKujiraDaemon
import Kujira
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

extension Daemon {
    func addExecRoutes(_ router: Router) {
        router.add("POST", "/containers/{id}/exec") { [self] request, writer in
            let record = try lookupContainer(request.parameter("id"))
            guard let body = try request.jsonBody() as? [String: Any] else { throw APIError(400, "the exec configuration (JSON) is missing") }
            let command = try ContainerCreateRequest.strings(body["Cmd"], field: "Cmd") ?? []
            guard !command.isEmpty else { throw APIError(400, "No exec command specified") }
            let bool = ContainerCreateRequest.bool
            let attached = bool(body["AttachStdin"]) || bool(body["AttachStdout"]) || bool(body["AttachStderr"])
            var options = ExecProcessOptions()
            options.tty = bool(body["Tty"])
            options.detach = !attached
            options.privileged = bool(body["Privileged"])
            options.env = try ContainerCreateRequest.strings(body["Env"], field: "Env") ?? []
            if let dir = body["WorkingDir"] as? String, !dir.isEmpty { options.workingDir = dir }
            if let user = body["User"] as? String, !user.isEmpty { options.user = user }
            // Go's JSON decoding matches field names without regard to case: docker-py sends detachKeys.
            let detachKeys = try Self.detachKeys(body.first { $0.key.lowercased() == "detachkeys" }?.value as? String)
            guard record.state.status == .running else {
                throw APIError(409, "container \(record.id) is not running")
            }
            pruneExecMemory()
            let id = try engine.createExec(record.id, command: command, options: options)
            updateMemory {
                $0.execStdin[id] = bool(body["AttachStdin"])
                if let detachKeys { $0.execDetachKeys[id] = detachKeys }
            }
            try writer.sendJSON(status: 201, ["Id": id])
        }
        router.add("POST", "/exec/{id}/start") { [self] request, writer in try startExec(request, writer) }
        router.add("GET", "/exec/{id}/json") { [self] request, writer in
            let instance = try lookupExec(request.parameter("id"))
            let openStdin = memory.withLock { $0.execStdin[instance.id] } ?? false
            let failed = memory.withLock { $0.execFailures[instance.id] }
            let detachKeys = memory.withLock { $0.execDetachKeys[instance.id] }.map { "\($0)" } ?? ""
            let exitCode: Any = (instance.exitCode ?? failed).map { Int($0) } ?? NSNull()
            try writer.sendJSON([
                "ID": instance.id, "ContainerID": instance.containerID, "Running": instance.running, "ExitCode": exitCode,
                "Pid": Int(instance.pid), "OpenStdin": openStdin, "OpenStdout": !instance.options.detach,
                "OpenStderr": !instance.options.detach, "CanRemove": false, "DetachKeys": detachKeys,
                "ProcessConfig": ["tty": instance.options.tty, "entrypoint": instance.command.first ?? "",
                                  "arguments": Array(instance.command.dropFirst()), "privileged": instance.options.privileged,
                                  "user": instance.options.user ?? ""],
            ])
        }
        router.add("POST", "/exec/{id}/resize") { [self] request, writer in
            let instance = try lookupExec(request.parameter("id"))
            guard let rows = try request.int("h"), let columns = try request.int("w"), rows > 0, columns > 0,
                  rows <= Int(UInt16.max), columns <= Int(UInt16.max) else {
                throw APIError(400, "give the terminal size as h=ROWS&w=COLUMNS")
            }
            try engine.resizeExec(instance.id, size: TerminalSize(rows: UInt16(rows), columns: UInt16(columns)))
            try writer.send(status: 200)
        }
    }

    /// A `detachKeys`/`DetachKeys` value: nil when none is given (the default applies), a
    /// 400 naming a spec that does not parse.
    static func detachKeys(_ spec: String?) throws -> DetachKeys? {
        guard let spec, !spec.isEmpty else { return nil }
        do {
            return try DetachKeys(parsing: spec)
        } catch let error as EngineError {
            throw APIError(400, error.message)
        }
    }

    /// Exec `id`; 404 with Docker's message.
    func lookupExec(_ id: String) throws -> ExecInstance {
        do {
            return try engine.inspectExec(id)
        } catch let error as EngineError where error.code == .notFound {
            throw APIError(404, "No such exec instance: \(id)")
        }
    }

    func startExec(_ request: RouteRequest, _ writer: ResponseWriter) throws {
        let instance = try lookupExec(request.parameter("id"))
        let body = try request.jsonBody() as? [String: Any] ?? [:]
        guard instance.pid == 0 else { throw APIError(409, "exec \(instance.id) has already been started") }
        if ContainerCreateRequest.bool(body["Detach"]) || instance.options.detach {
            guard instance.options.detach else {
                throw APIError(400, "exec \(instance.id.prefix(12)) was created attached: start it attached, or create it with no streams (docker exec -d)")
            }
            _ = try engine.startExec(instance.id)
            return try writer.send(status: 200)
        }
        var size: TerminalSize?
        if let console = body["ConsoleSize"] as? [Int], console.count == 2, console[0] > 0, console[1] > 0 {
            size = TerminalSize(rows: UInt16(clamping: console[0]), columns: UInt16(clamping: console[1]))
        }
        let upgrade = request.http.head.headers.contains("Connection", token: "Upgrade")
        guard instance.options.tty else { return try startExecWithPipes(instance, request, writer, upgrade: upgrade) }
        try writer.hijack(upgrade: upgrade, contentType: "application/vnd.docker.raw-stream")
        let socket = request.http.connection.fd
        let input = request.http.input
        let stdin = memory.withLock { $0.execStdin[instance.id] } ?? false
        let keys = memory.withLock { $0.execDetachKeys[instance.id] } ?? .default
        let relays = DispatchGroup()
        let inputDone = DispatchGroup()
        // Set once the client detached or went away: the output is read and dropped from then on.
        let clientGone = Mutex(false)
        _ = try engine.startExec(instance.id, size: size) { master in
            // The terminal's output to the client until the pty closes (EIO once the exec and
            // everything holding the terminal have exited). The terminal stays open when the
            // client leaves, as with dockerd: closing it would hang the process up.
            relays.enter()
            let output = Thread {
                var buffer = [UInt8](repeating: 0, count: 32 * 1024)
                while true {
                    let count = read(master, &buffer, buffer.count)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { break }
                    if clientGone.withLock({ $0 }) { continue }
                    if !Self.sendAll(socket, buffer[0..<count]) { clientGone.withLock { $0 = true } }
                }
                close(master)
                relays.leave()
            }
            output.start()
            guard stdin else { return }
            // The client's input to the terminal (on a descriptor of its own, closed when the
            // client's input ends); bytes it sent with the request come first.
            let early = input.hasBuffered ? Array(input.buffer[input.start...]) : []
            let terminalInput = fcntl(master, F_DUPFD_CLOEXEC, 3)
            guard terminalInput >= 0 else { return }
            inputDone.enter()
            let inputThread = Thread {
                defer {
                    close(terminalInput)
                    inputDone.leave()
                }
                var scanner = DetachKeyScanner(keys: keys)
                var pending = early
                var buffer = [UInt8](repeating: 0, count: 32 * 1024)
                while true {
                    if pending.isEmpty {
                        let count = recv(socket, &buffer, buffer.count, 0)
                        if count < 0 && errno == EINTR { continue }
                        guard count > 0 else { break }
                        pending = Array(buffer[0..<count])
                    }
                    let (forward, detach) = scanner.feed(pending)
                    pending = []
                    _ = Self.writeAll(terminalInput, forward)
                    if detach {
                        // The client's stream ends (it sees EOF); the process runs on.
                        clientGone.withLock { $0 = true }
                        shutdown(socket, Int32(SHUT_WR))
                        return Self.drain(socket)
                    }
                }
                _ = Self.writeAll(terminalInput, scanner.flush())
            }
            inputThread.start()
        }
        relays.wait()
        // The exec is over: end the output, then the input relay (see finishHijack).
        Self.finishHijack(socket, input: inputDone)
    }

    /// An attached exec without a TTY: its stdout and stderr are pipes whose bytes go to the
    /// client as multiplexed frames (stream 1 and 2); with `AttachStdin` its stdin is a pipe
    /// fed from the client's input until the client half-closes (the docker CLI does after
    /// stdin's EOF), else /dev/null. The exit code is the exec's (`GET /exec/{id}/json`).
    func startExecWithPipes(_ instance: ExecInstance, _ request: RouteRequest, _ writer: ResponseWriter, upgrade: Bool) throws {
        var output: [Int32] = [-1, -1], errors: [Int32] = [-1, -1], input: [Int32] = [-1, -1]
        defer { for fd in output + errors + input where fd >= 0 { close(fd) } }
        let stdin = memory.withLock { $0.execStdin[instance.id] } ?? false
        guard kujirad_pipe(&output) == 0, kujirad_pipe(&errors) == 0 else {
            throw APIError(500, "pipe: \(String(cString: strerror(errno)))")
        }
        if stdin {
            guard kujirad_pipe(&input) == 0 else { throw APIError(500, "pipe: \(String(cString: strerror(errno)))") }
        } else {
            input[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)
            guard input[0] >= 0 else { throw APIError(500, "opening /dev/null: \(String(cString: strerror(errno)))") }
        }
        let multiplexed = request.apiVersion >= APIVersion(minor: 42)
        try writer.hijack(upgrade: upgrade, contentType: multiplexed ? "application/vnd.docker.multiplexed-stream" : "application/vnd.docker.raw-stream")
        let socket = request.http.connection.fd
        let inputDone = DispatchGroup()
        if stdin {
            // The client's input to the exec's stdin; bytes sent with the request come first.
            let buffered = request.http.input
            let early = buffered.hasBuffered ? Array(buffered.buffer[buffered.start...]) : []
            let target = input[1]
            input[1] = -1
            inputDone.enter()
            Thread {
                defer {
                    close(target)
                    inputDone.leave()
                }
                if !early.isEmpty && !Self.writeAll(target, early) { return Self.drain(socket) }
                var buffer = [UInt8](repeating: 0, count: 32 * 1024)
                while true {
                    let count = recv(socket, &buffer, buffer.count, 0)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { return }
                    // The exec closed its stdin: drop the rest of the input.
                    guard Self.writeAll(target, Array(buffer[0..<count])) else { return Self.drain(socket) }
                }
            }.start()
        }
        // The exec runs (and is waited for) on a thread of its own; this one relays its output.
        let result = Mutex<Result<Int32, any Error>?>(nil)
        let engine = engine, id = instance.id
        let stdio = (input: input[0], output: output[1], error: errors[1])
        let finished = DispatchGroup()
        finished.enter()
        Thread {
            let outcome = Result { try engine.startExec(id, stdio: stdio) }
            result.withLock { $0 = outcome }
            // The write ends close once the exec is over, so the relay sees EOF when every
            // process that inherited them has exited.
            close(stdio.output)
            close(stdio.error)
            finished.leave()
        }.start()
        var polls = [pollfd(fd: output[0], events: Int16(POLLIN), revents: 0), pollfd(fd: errors[0], events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 32 * 1024)
        var clientGone = false
        while polls.contains(where: { $0.fd >= 0 }) {
            if poll(&polls, nfds_t(polls.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for index in polls.indices where polls[index].fd >= 0 && polls[index].revents != 0 {
                let count = read(polls[index].fd, &buffer, buffer.count)
                if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                guard count > 0 else {
                    polls[index].fd = -1
                    continue
                }
                let bytes = Array(buffer[0..<count])
                if clientGone { continue } // drain, so the exec never blocks on a full pipe
                do {
                    try writer.writeRawStream(multiplexed ? StreamFrame.encode(stream: UInt8(index + 1), bytes) : bytes)
                } catch {
                    clientGone = true
                }
            }
        }
        finished.wait()
        // The write ends were closed by the exec's thread; only the read ends are left.
        output[1] = -1
        errors[1] = -1
        if case .failure(let error)? = result.withLock({ $0 }) {
            updateMemory { $0.execFailures[id] = (error as? EngineError)?.dockerExitCode ?? 126 }
        }
        if case .failure(let error)? = result.withLock({ $0 }), !clientGone {
            let message = Array("\(APIError.from(error).message)\n".utf8)
            try? writer.writeRawStream(multiplexed ? StreamFrame.encode(stream: 2, message) : message)
        }
        // The exec is over: end the output, then the input relay (see finishHijack).
        if stdin {
            Self.finishHijack(socket, input: inputDone)
        } else {
            shutdown(socket, Int32(SHUT_WR))
        }
    }

    /// Sends all of `bytes` on `socket` (no SIGPIPE); false once the client is gone.
    static func sendAll(_ socket: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return -1 }
                return send(socket, base + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    /// Writes all of `bytes` to `fd`; false on an error (the reader went away).
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return -1 }
                return write(fd, base + offset, bytes.count - offset)
            }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }
}
