// Exec routes: create, start (a hijacked connection relaying the exec's terminal), inspect
// and resize, over the engine's exec instances.
//
// The engine gives a daemon an exec's output only through a terminal (the pty master it
// hands over with `-t`); a non-TTY exec writes to the starting process's own stdio. So an
// attached exec needs `Tty` (`docker exec -t`/`-it`); a detached one (`docker exec -d`) may
// go without, its output discarded as dockerd discards it.

import Foundation
import Kujira
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
            if attached && !options.tty {
                throw APIError(400, "exec without a TTY is not supported by kujirad yet: the engine relays an exec's output only through a terminal; use docker exec -t (or -d)")
            }
            if let keys = body["DetachKeys"] as? String, !keys.isEmpty {
                throw APIError(400, "DetachKeys is not supported by kujirad's exec")
            }
            guard record.state.status == .running else {
                throw APIError(409, "container \(record.id) is not running")
            }
            let id = try engine.createExec(record.id, command: command, options: options)
            updateMemory { $0.execStdin[id] = bool(body["AttachStdin"]) }
            try writer.sendJSON(status: 201, ["Id": id])
        }
        router.add("POST", "/exec/{id}/start") { [self] request, writer in try startExec(request, writer) }
        router.add("GET", "/exec/{id}/json") { [self] request, writer in
            let instance = try lookupExec(request.parameter("id"))
            let openStdin = memory.withLock { $0.execStdin[instance.id] } ?? false
            let exitCode: Any = instance.exitCode.map { Int($0) } ?? NSNull()
            try writer.sendJSON([
                "ID": instance.id, "ContainerID": instance.containerID, "Running": instance.running, "ExitCode": exitCode,
                "Pid": Int(instance.pid), "OpenStdin": openStdin, "OpenStdout": !instance.options.detach,
                "OpenStderr": !instance.options.detach, "CanRemove": false, "DetachKeys": "",
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
        try writer.hijack(upgrade: upgrade, contentType: "application/vnd.docker.raw-stream")
        let socket = request.http.connection.fd
        let input = request.http.input
        let stdin = memory.withLock { $0.execStdin[instance.id] } ?? false
        let relays = DispatchGroup()
        let inputDone = DispatchGroup()
        _ = try engine.startExec(instance.id, size: size) { master in
            // The terminal's output to the client until the pty closes (EIO once the exec and
            // everything holding the terminal have exited).
            relays.enter()
            let output = Thread {
                var buffer = [UInt8](repeating: 0, count: 32 * 1024)
                reading: while true {
                    let count = read(master, &buffer, buffer.count)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { break }
                    var offset = 0
                    while offset < count {
                        let sent = buffer.withUnsafeBytes { raw -> Int in
                            guard let base = raw.baseAddress else { return -1 }
                            return send(socket, base + offset, count - offset, Int32(MSG_NOSIGNAL))
                        }
                        if sent < 0 && errno == EINTR { continue }
                        guard sent > 0 else { break reading }
                        offset += sent
                    }
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
                if !early.isEmpty { _ = early.withUnsafeBytes { write(terminalInput, $0.baseAddress, $0.count) } }
                var buffer = [UInt8](repeating: 0, count: 32 * 1024)
                while true {
                    let count = recv(socket, &buffer, buffer.count, 0)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { break }
                    _ = buffer.withUnsafeBytes { write(terminalInput, $0.baseAddress, count) }
                }
                close(terminalInput)
                inputDone.leave()
            }
            inputThread.start()
        }
        relays.wait()
        // The exec is over: end the client's side too, which also ends the input relay.
        shutdown(socket, Int32(SHUT_RDWR))
        inputDone.wait()
    }
}
