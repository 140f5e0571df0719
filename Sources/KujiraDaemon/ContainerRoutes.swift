// Container routes: create, start, stop, kill, restart, pause, unpause, wait, remove,
// inspect, list, logs and attach (output streams, over a hijacked connection).

import Foundation
import Kujira
import KujiraNetwork
import KujiraOCI
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

extension Daemon {
    func addContainerRoutes(_ router: Router) {
        router.add("GET", "/containers/json") { [self] request, writer in try writer.sendJSON(try listContainers(request)) }
        router.add("POST", "/containers/create") { [self] request, writer in
            let body = try request.jsonBody()
            var options = try ContainerCreateRequest.options(body: body, name: request.query("name"))
            if let platform = request.query("platform"), !platform.isEmpty, !platform.hasPrefix("linux") {
                throw APIError(400, "kujirad runs linux containers only (platform \(platform))")
            }
            // The engine takes the store's name: resolved here as the docker CLI means it.
            let familiar = (try? Reference(parsing: options.image).familiarString) ?? options.image
            do {
                options.image = try lookupImage(options.image).name
            } catch let error as APIError where error.status == 404 {
                throw APIError(404, "No such image: \(familiar)")
            }
            let record = try engine.create(options)
            if options.tty, let console = ((body as? [String: Any])?["HostConfig"] as? [String: Any])?["ConsoleSize"] as? [Int], console.count == 2,
               console[0] > 0, console[1] > 0 {
                let size = TerminalSize(rows: UInt16(clamping: console[0]), columns: UInt16(clamping: console[1]))
                updateMemory { $0.consoleSizes[record.id] = size }
            }
            try writer.sendJSON(status: 201, ["Id": record.id, "Warnings": [String]()])
        }
        router.add("POST", "/containers/prune") { [self] request, writer in try writer.sendJSON(try pruneContainers(request)) }
        router.add("GET", "/containers/{id}/json") { [self] request, writer in
            try writer.sendJSON(try containerInspection(try lookupContainer(request.parameter("id")), size: request.bool("size")))
        }
        router.add("POST", "/containers/{id}/start") { [self] request, writer in
            // Only checked: detach keys act on an attach's input (as with dockerd, where start's
            // detachKeys has no effect).
            _ = try Self.detachKeys(request.query("detachKeys"))
            let record = try lookupContainer(request.parameter("id"))
            if record.state.isActive { return try writer.send(status: 304) }
            try startContainer(record)
            if record.config.tty, let size = memory.withLock({ $0.consoleSizes[record.id] }) {
                try? engine.resize(record.id, size: size)
            }
            try writer.send(status: 204)
        }
        router.add("POST", "/containers/{id}/stop") { [self] request, writer in
            let signal = try Self.signalParameter(request)
            let record = try lookupContainer(request.parameter("id"))
            guard record.state.isActive else { return try writer.send(status: 304) }
            _ = try engine.stop(record.id, timeout: try request.int("t") ?? request.int("timeout"), signal: signal)
            try writer.send(status: 204)
        }
        router.add("POST", "/containers/{id}/kill") { [self] request, writer in
            let record = try lookupContainer(request.parameter("id"))
            let signal = try Signals.parse((request.query("signal").flatMap { $0.isEmpty ? nil : $0 }) ?? "KILL")
            guard record.state.status == .running || record.state.status == .paused else {
                throw APIError(409, "cannot kill container: \(request.parameter("id")): container \(record.id) is not running")
            }
            try engine.kill(record.id, signal: signal)
            try writer.send(status: 204)
        }
        router.add("POST", "/containers/{id}/restart") { [self] request, writer in
            let signal = try Self.signalParameter(request)
            let record = try lookupContainer(request.parameter("id"))
            _ = try engine.restart(record.id, timeout: try request.int("t") ?? request.int("timeout"), signal: signal)
            try writer.send(status: 204)
        }
        router.add("POST", "/containers/{id}/pause") { [self] request, writer in
            let record = try lookupContainer(request.parameter("id"))
            guard record.state.status == .running else {
                throw APIError(409, "container \(record.id) is not running")
            }
            try engine.pause(record.id)
            try writer.send(status: 204)
        }
        router.add("POST", "/containers/{id}/unpause") { [self] request, writer in
            let record = try lookupContainer(request.parameter("id"))
            guard record.state.status == .paused else {
                throw APIError(409, "container \(record.id) is not paused")
            }
            try engine.unpause(record.id)
            try writer.send(status: 204)
        }
        router.add("POST", "/containers/{id}/wait") { [self] request, writer in try waitContainer(request, writer) }
        router.add("DELETE", "/containers/{id}") { [self] request, writer in
            if request.bool("link") { throw APIError(400, "kujirad has no container links to remove") }
            let record = try lookupContainer(request.parameter("id"))
            if record.state.isActive && !request.bool("force") {
                let state = record.state.status == .paused ? "paused" : "running"
                throw APIError(409, "cannot remove container \"/\(record.name)\": container is \(state): stop the container before removing or force remove")
            }
            do {
                try engine.remove(record.id, force: request.bool("force"))
            } catch let error as EngineError where error.code == .notFound {
                throw APIError(404, "No such container: \(request.parameter("id"))")
            }
            try writer.send(status: 204)
        }
        router.add("GET", "/containers/{id}/logs") { [self] request, writer in try containerLogs(request, writer) }
        router.add("POST", "/containers/{id}/attach") { [self] request, writer in try attachContainer(request, writer) }
        router.add("POST", "/containers/{id}/resize") { [self] request, writer in try resizeContainer(request, writer) }
    }

    // MARK: - Lookup and shapes

    /// The `signal` parameter of stop and restart (`docker stop -s`): a name or a number;
    /// nil when absent.
    static func signalParameter(_ request: RouteRequest) throws -> Int32? {
        guard let text = request.query("signal"), !text.isEmpty else { return nil }
        do {
            return try Signals.parse(text)
        } catch {
            throw APIError(400, "invalid signal: \(text)")
        }
    }

    /// The container `text` names; 404 "No such container" as Docker says it.
    func lookupContainer(_ text: String) throws -> ContainerRecord {
        do {
            return try engine.container(text)
        } catch let error as EngineError where error.code == .notFound {
            throw APIError(404, "No such container: \(text)")
        }
    }

    /// Docker's `Status` column: "Up 3 minutes", "Exited (0) 2 seconds ago", …
    static func statusText(_ record: ContainerRecord, now: Double = Date().timeIntervalSince1970) -> String {
        let started = Timestamps.seconds(record.state.startedAt)
        let finished = Timestamps.seconds(record.state.finishedAt)
        switch record.state.status {
        case .created: return "Created"
        case .running:
            // With a health check, its state follows: " (healthy)", " (health: starting)".
            var health = ""
            if let state = record.state.health, record.config.healthcheck?.isEnabled == true {
                health = state.status == ContainerHealth.starting ? " (health: starting)" : " (\(state.status))"
            }
            return "Up \(Timestamps.human(now - (started ?? now)))" + health
        case .paused: return "Up \(Timestamps.human(now - (started ?? now))) (Paused)"
        case .restarting: return "Restarting (\(record.state.exitCode)) \(Timestamps.human(now - (finished ?? now))) ago"
        case .exited:
            guard let finished else { return "Exited (\(record.state.exitCode))" }
            return "Exited (\(record.state.exitCode)) \(Timestamps.human(now - finished)) ago"
        default: return record.state.status.rawValue.capitalized
        }
    }

    /// An entry of `/containers/json`.
    func containerSummary(_ record: ContainerRecord) -> [String: Any] {
        let command = (record.config.entrypoint + record.config.cmd).joined(separator: " ")
        return [
            "Id": record.id, "Names": ["/\(record.name)"], "Image": Self.displayName(record.image), "ImageID": record.imageID,
            "Command": command, "Created": Int64(Timestamps.seconds(record.created) ?? 0), "Ports": publishedPorts(record),
            "Labels": record.config.labels, "State": record.state.status.rawValue, "Status": Self.statusText(record),
            "HostConfig": ["NetworkMode": record.hostConfig.networkMode],
            "NetworkSettings": ["Networks": Dictionary(uniqueKeysWithValues: (record.network?.endpoints ?? []).map { ($0.network, [String: Any]()) })],
            "Mounts": record.mounts.map { mount -> [String: Any] in
                var document: [String: Any] = [
                    "Type": mount.type, "Source": mount.source, "Destination": mount.destination,
                    "Mode": mount.mode ?? (mount.rw ? "" : "ro"), "RW": mount.rw, "Propagation": mount.propagation ?? "",
                ]
                if let name = mount.name { document["Name"] = name }
                if let driver = mount.driver { document["Driver"] = driver }
                return document
            },
        ]
    }

    /// `Ports` of a `/containers/json` entry: the host ports a running container publishes.
    func publishedPorts(_ record: ContainerRecord) -> [[String: Any]] {
        guard record.state.isActive, record.network?.ports.isEmpty == false else { return [] }
        return engine.networkAttachments(record.id).flatMap(\.ports).map { port in
            ["IP": port.hostIP.map { "\($0)" } ?? "0.0.0.0", "PrivatePort": Int(port.containerPort),
             "PublicPort": Int(port.hostPort), "Type": port.proto.rawValue]
        }
    }

    func listContainers(_ request: RouteRequest) throws -> [[String: Any]] {
        let filters = try ContainerFilters.parse(try request.filters(allowed: ContainerFilters.keys))
        let limit = try request.int("limit") ?? -1
        let records = try engine.list(filters: filters, all: request.bool("all"), limit: limit)
        return records.map { record in
            var summary = containerSummary(record)
            if request.bool("size") {
                summary["SizeRw"] = Self.directorySize("\(engine.root)/containers/\(record.id)/upper") ?? 0
            }
            return summary
        }
    }

    /// `docker inspect`'s document: the engine's, completed with the fields Docker clients
    /// read (Config.Tty, NetworkSettings, …).
    func containerInspection(_ record: ContainerRecord, size: Bool = false) throws -> [String: Any] {
        guard var document = try JSON.tree(try engine.inspect(record.id)) as? [String: Any] else {
            throw APIError(500, "inspecting \(record.name) gave no document")
        }
        var config = document["Config"] as? [String: Any] ?? [:]
        config["Image"] = Self.displayName(record.image)
        config["Tty"] = record.config.tty
        config["OpenStdin"] = record.config.openStdin
        config["AttachStdin"] = false
        config["AttachStdout"] = false
        config["AttachStderr"] = false
        config["StdinOnce"] = record.config.stdinOnce
        config["Volumes"] = NSNull()
        config["OnBuild"] = NSNull()
        document["Config"] = config
        var host = document["HostConfig"] as? [String: Any] ?? [:]
        let settings = record.network
        var bindings: [String: [[String: String]]] = [:]
        for port in settings?.ports ?? [] {
            let hostPort = port.hostPorts.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" } ?? ""
            bindings["\(port.containerPort)/\(port.proto.rawValue)", default: []].append(["HostIp": port.hostIP.map { "\($0)" } ?? "", "HostPort": hostPort])
        }
        host["PortBindings"] = bindings
        host["PublishAllPorts"] = false
        host["Dns"] = settings?.dns ?? []
        host["DnsSearch"] = settings?.dnsSearch ?? []
        host["DnsOptions"] = settings?.dnsOptions ?? []
        host["ExtraHosts"] = settings.map { $0.extraHosts.isEmpty ? NSNull() : $0.extraHosts as Any } ?? NSNull()
        host["Runtime"] = "kujira-runtime"
        host["ConsoleSize"] = [0, 0]
        document["HostConfig"] = host
        // The engine's NetworkSettings (live addresses, ports, networks), completed with the
        // fields Docker clients expect to find.
        var network = document["NetworkSettings"] as? [String: Any] ?? [:]
        network["Bridge"] = ""
        network["SandboxID"] = (network["SandboxKey"] as? String ?? "").isEmpty ? "" : record.id
        network["HairpinMode"] = false
        network["LinkLocalIPv6Address"] = ""
        network["LinkLocalIPv6PrefixLen"] = 0
        network["SecondaryIPAddresses"] = NSNull()
        network["SecondaryIPv6Addresses"] = NSNull()
        network["GlobalIPv6PrefixLen"] = 0
        let first = (network["Networks"] as? [String: Any])?.values.first as? [String: Any]
        network["EndpointID"] = first?["EndpointID"] ?? ""
        var networks: [String: Any] = [:]
        for (name, value) in network["Networks"] as? [String: Any] ?? [:] {
            var endpoint = value as? [String: Any] ?? [:]
            let configured = settings?.endpoints.first { $0.network == name }
            if let configured, configured.ipv4 != nil || configured.ipv6 != nil {
                endpoint["IPAMConfig"] = ["IPv4Address": configured.ipv4 ?? "", "IPv6Address": configured.ipv6 ?? ""]
            } else {
                endpoint["IPAMConfig"] = NSNull()
            }
            endpoint["Links"] = NSNull()
            endpoint["DriverOpts"] = NSNull()
            endpoint["Aliases"] = endpoint["Aliases"] ?? NSNull()
            endpoint["DNSNames"] = endpoint["DNSNames"] ?? NSNull()
            networks[name] = endpoint
        }
        network["Networks"] = networks
        document["NetworkSettings"] = network
        document["Platform"] = "linux"
        document["ResolvConfPath"] = ""
        document["HostnamePath"] = ""
        document["HostsPath"] = ""
        document["MountLabel"] = ""
        document["ProcessLabel"] = ""
        document["AppArmorProfile"] = ""
        document["ExecIDs"] = NSNull()
        document["GraphDriver"] = ["Name": "overlay", "Data": NSNull()]
        if size {
            document["SizeRw"] = Self.directorySize("\(engine.root)/containers/\(record.id)/upper") ?? 0
            document["SizeRootFs"] = 0
        }
        return document
    }

    // MARK: - Lifecycle

    /// Starts `record`. For AutoRemove (`--rm`) the daemon is the attached client the
    /// monitor defers removal to: it records the exit code, lets attached streams read the
    /// output to its end, then removes the container. Should the daemon die first, the
    /// monitor removes it.
    func startContainer(_ record: ContainerRecord) throws {
        guard record.hostConfig.autoRemove else {
            try engine.start(record.id)
            return
        }
        let id = record.id
        do {
            try engine.start(id, attachedClient: getpid())
        } catch {
            // Docker removes an AutoRemove container that failed to start; `docker run --rm`
            // waits for that (wait?condition=removed) before it reports the error.
            let code = (error as? EngineError)?.dockerExitCode ?? 125
            updateMemory { $0.rememberRemoved(id, code) }
            try? engine.remove(id, force: true)
            throw error
        }
        let thread = Thread { [self] in
            var backoff = PollBackoff()
            var code: Int32 = 137
            while let current = try? engine.container(id) {
                code = current.state.exitCode
                if !current.state.isActive { break }
                backoff.pause()
            }
            updateMemory { $0.rememberRemoved(id, code) }
            waitForMemory { ($0.attachments[id] ?? 0) == 0 }
            try? engine.remove(id, force: true)
            updateMemory { _ in }
        }
        thread.start()
    }

    func waitContainer(_ request: RouteRequest, _ writer: ResponseWriter) throws {
        let condition = request.query("condition").flatMap { $0.isEmpty ? nil : $0 } ?? "not-running"
        guard ["not-running", "next-exit", "removed"].contains(condition) else {
            throw APIError(400, "invalid condition: \"\(condition)\" (use not-running, next-exit or removed)")
        }
        let first = try lookupContainer(request.parameter("id"))
        let id = first.id
        // The head goes out now: `docker run` waits for it before starting the container.
        try writer.beginStream(contentType: "application/json")
        var last = first
        var backoff = PollBackoff()
        var sawRun = condition == "not-running" || first.state.isActive
        while true {
            guard let current = try? engine.container(id) else {
                let code = memory.withLock { $0.removedExitCodes[id] } ?? last.state.exitCode
                return try writer.writeJSONLine(["StatusCode": code])
            }
            if current.state.isActive || current.state.startedAt != first.state.startedAt { sawRun = true }
            if current.state.status != last.state.status || current.state.startedAt != last.state.startedAt { backoff.reset() }
            last = current
            if sawRun && !current.state.isActive && condition != "removed" {
                return try writer.writeJSONLine(["StatusCode": current.state.exitCode])
            }
            if request.http.clientGone { return }
            backoff.pause()
        }
    }

    func pruneContainers(_ request: RouteRequest) throws -> [String: Any] {
        let filters = try request.filters(allowed: ["label", "until"])
        if filters["until"] != nil { throw APIError(400, "the until filter of container prune is not supported by kujirad") }
        var deleted: [String] = []
        for record in try engine.list() where record.state.status == .exited || record.state.status == .created {
            if let labels = filters["label"], !labels.allSatisfy({ Self.labelMatches($0, record.config.labels) }) { continue }
            try engine.remove(record.id)
            deleted.append(record.id)
        }
        return ["ContainersDeleted": deleted.isEmpty ? NSNull() : deleted, "SpaceReclaimed": 0]
    }

    // MARK: - Logs and attach

    func containerLogs(_ request: RouteRequest, _ writer: ResponseWriter) throws {
        let record = try lookupContainer(request.parameter("id"))
        var selection = LogSelection(stdout: request.bool("stdout"), stderr: request.bool("stderr"), timestamps: request.bool("timestamps"))
        guard selection.stdout || selection.stderr else {
            throw APIError(400, "Bad parameters: you must choose at least one stream")
        }
        selection.since = try Self.timeParameter(request, "since")
        selection.until = try Self.timeParameter(request, "until")
        selection.multiplexed = true
        var tail: Int?
        if let text = request.query("tail"), !text.isEmpty, text != "all" {
            guard let value = Int(text) else { throw APIError(400, "invalid value for tail: \(text)") }
            tail = value < 0 ? nil : value
        }
        let reader = try LogReader(path: record.logPath, fromStart: true, rotated: (try? engine.logFiles(record.id)) ?? [])
        let contentType = request.apiVersion >= APIVersion(minor: 42) ? "application/vnd.docker.multiplexed-stream" : "application/vnd.docker.raw-stream"
        try writer.beginStream(contentType: contentType)
        var entries = reader.next().filter(selection.accepts)
        if let tail { entries = Array(entries.suffix(tail)) }
        try writer.write(entries.flatMap(selection.encode))
        guard request.bool("follow") else { return }
        var backoff = PollBackoff()
        while true {
            let more = reader.next().filter(selection.accepts)
            if !more.isEmpty {
                try writer.write(more.flatMap(selection.encode))
                backoff.reset()
                continue
            }
            guard let current = try? engine.container(record.id), current.state.isActive else {
                try writer.write(reader.next().filter(selection.accepts).flatMap(selection.encode))
                return
            }
            if request.http.clientGone { return }
            backoff.pause()
        }
    }

    /// `since`/`until`: Unix seconds with an optional fraction (what the docker CLI sends).
    static func timeParameter(_ request: RouteRequest, _ name: String) throws -> Double? {
        guard let text = request.query(name), !text.isEmpty, text != "0" else { return nil }
        if let seconds = Double(text) { return seconds }
        if let seconds = Timestamps.seconds(text) { return seconds }
        throw APIError(400, "invalid value for \(name): \(text) (Unix seconds or an RFC 3339 time)")
    }

    /// `attach`: the container's output as it is produced (and, with `logs=1`, what it
    /// wrote before), over the hijacked connection, until the container stops or the client
    /// detaches; with `stdin=1` the client's input goes to the container's stdin (see
    /// ``relayStdin``). Without a TTY the output is multiplexed frames, with one raw bytes.
    func attachContainer(_ request: RouteRequest, _ writer: ResponseWriter) throws {
        let record = try lookupContainer(request.parameter("id"))
        let keys = try Self.detachKeys(request.query("detachKeys")) ?? .default
        let tty = record.config.tty
        let selection = LogSelection(stdout: request.bool("stdout"), stderr: request.bool("stderr"), multiplexed: !tty)
        let replay = request.bool("logs"), stream = request.bool("stream")
        let wantsStdin = request.bool("stdin") && record.config.openStdin && stream
        let id = record.id
        updateMemory { $0.attachments[id, default: 0] += 1 }
        var input: DispatchGroup?
        defer {
            // The output is all written: an `--rm` container may go now (`docker run -it`
            // waits for that before it closes this connection, which ends the relay).
            updateMemory { $0.attachments[id, default: 1] -= 1 }
            if let input { Self.finishHijack(request.http.connection.fd, input: input) }
        }
        let reader = try LogReader(path: record.logPath, fromStart: replay, rotated: replay ? (try? engine.logFiles(id)) ?? [] : [])
        let upgrade = request.http.head.headers.contains("Connection", token: "Upgrade")
        let contentType = tty || request.apiVersion < APIVersion(minor: 42) ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream"
        try writer.hijack(upgrade: upgrade, contentType: contentType)
        Self.awaitHeadRead(request.http.connection.fd)
        func send(_ entries: [LogEntry]) throws {
            let bytes = entries.filter(selection.accepts).flatMap(selection.encode)
            if !bytes.isEmpty { try writer.writeRawStream(bytes) }
        }
        // Set by the input relay when the client types the detach keys (with a TTY only, as
        // dockerd: without one, stdin may carry any bytes).
        let detached = Mutex(false)
        input = wantsStdin ? relayStdin(request, record: record, detachKeys: tty ? keys : nil) { detached.withLock { $0 = true } } : nil
        try send(reader.next())
        guard stream else { return }
        var sawRun = record.state.isActive
        var previous = record.state.status
        var backoff = PollBackoff()
        while true {
            // Detached: the stream ends here, the container runs on.
            if detached.withLock({ $0 }) { return }
            let entries = reader.next()
            if !entries.isEmpty {
                try send(entries)
                backoff.reset()
                continue
            }
            guard let current = try? engine.container(id) else {
                try send(reader.next())
                return
            }
            if current.state.isActive || current.state.startedAt != record.state.startedAt { sawRun = true }
            if current.state.status != previous { backoff.reset() }
            previous = current.state.status
            if sawRun && !current.state.isActive {
                try send(reader.next())
                return
            }
            // A client that closed its connection (the docker CLI after its own detach keys)
            // reads no more; the check does not read, so the input relay is not disturbed.
            if request.http.clientHungUp { return }
            backoff.pause()
        }
    }

    /// Relays the hijacked connection's input (bytes sent with the request first) to the
    /// container's stdin through the engine's attach API, on a thread of its own: it waits
    /// until the container runs (`docker run` attaches before it starts the container), then
    /// copies until the client's input ends — the docker CLI half-closes its side after
    /// stdin's EOF — and says so to the monitor (with `StdinOnce` the container's stdin
    /// closes). With `detachKeys` the input is scanned for them: the keys are not passed on,
    /// `onDetach` is called and the relay ends, leaving the container's stdin open. The group
    /// is left when the relay is done.
    func relayStdin(_ request: RouteRequest, record: ContainerRecord, detachKeys: DetachKeys?,
                    onDetach: @escaping @Sendable () -> Void) -> DispatchGroup {
        let socket = request.http.connection.fd
        let input = request.http.input
        let early = input.hasBuffered ? Array(input.buffer[input.start...]) : []
        let done = DispatchGroup()
        done.enter()
        let engine = engine, id = record.id, startedAt = record.state.startedAt
        let thread = Thread {
            defer {
                // Whatever ended the relay, the input is read to its end (see drain).
                Self.drain(socket)
                done.leave()
            }
            var backoff = PollBackoff()
            var connection: AttachConnection?
            while connection == nil {
                guard let current = try? engine.container(id) else { return }
                if current.state.isActive {
                    connection = try? engine.attach(id, streams: [.stdin])
                    if connection == nil { return }
                } else if current.state.startedAt != startedAt && !current.state.startedAt.isEmpty {
                    return // it ran and stopped already
                } else {
                    var poller = pollfd(fd: socket, events: 0, revents: 0)
                    if poll(&poller, 1, 0) > 0 && poller.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { return }
                    backoff.pause()
                }
            }
            guard let connection else { return }
            defer { connection.close() }
            var scanner = detachKeys.map(DetachKeyScanner.init)
            var pending = early
            var buffer = [UInt8](repeating: 0, count: 32 * 1024)
            while true {
                if pending.isEmpty {
                    let count = recv(socket, &buffer, buffer.count, 0)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { break }
                    pending = Array(buffer[0..<count])
                }
                let (forward, detach) = scanner?.feed(pending) ?? (pending, false)
                pending = []
                if !forward.isEmpty && !connection.sendStdin(forward) { return }
                if detach {
                    onDetach()
                    return
                }
            }
            if let rest = scanner?.flush(), !rest.isEmpty { connection.sendStdin(rest) }
            connection.closeStdin()
        }
        thread.start()
        return done
    }

    /// Waits until the client has read the response head (2 s at most) before the stream's
    /// first bytes go out. docker-py reads the head through a buffered reader, then the stream
    /// from the raw socket: bytes that arrived with the head would be lost in that buffer
    /// (`attach(logs=True)` would miss the replay). Unread bytes on a unix socket are counted
    /// against the sender (SIOCOUTQ); on TCP the count is the unacknowledged bytes.
    static func awaitHeadRead(_ socket: Int32) {
        let deadline = Date().addingTimeInterval(2)
        var backoff = PollBackoff()
        while Date() < deadline {
            var unread: Int32 = 0
            guard ioctl(socket, UInt(TIOCOUTQ), &unread) == 0, unread > 0 else { return }
            backoff.pause()
        }
    }

    /// Reads and drops the connection's input until the client closes its side (or the
    /// daemon shuts the connection down), so that closing it never finds unread input: that
    /// would send a reset, which can cost the client the end of the output.
    static func drain(_ socket: Int32) {
        var buffer = [UInt8](repeating: 0, count: 32 * 1024)
        while true {
            let count = recv(socket, &buffer, buffer.count, 0)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return }
        }
    }

    /// Ends a hijacked stream whose input a relay thread (`input`) reads: the output side is
    /// closed first (the client sees EOF after the last byte), the relay reads on until the
    /// client closes its side — the docker CLI does once the output ends — and only a client
    /// that has not done so within 5 s has its connection shut down under it.
    static func finishHijack(_ socket: Int32, input: DispatchGroup) {
        shutdown(socket, Int32(SHUT_WR))
        if input.wait(timeout: .now() + 5) == .timedOut {
            shutdown(socket, Int32(SHUT_RDWR))
            input.wait()
        }
    }

    /// `POST /containers/{id}/resize?h=ROWS&w=COLUMNS`: the container's terminal size.
    func resizeContainer(_ request: RouteRequest, _ writer: ResponseWriter) throws {
        let record = try lookupContainer(request.parameter("id"))
        guard let rows = try request.int("h"), let columns = try request.int("w"), rows >= 0, columns >= 0,
              rows <= Int(UInt16.max), columns <= Int(UInt16.max) else {
            throw APIError(400, "give the terminal size as h=ROWS&w=COLUMNS")
        }
        guard record.state.isActive else { throw APIError(409, "Container \(record.id) is not running") }
        guard record.config.tty else { return try writer.send(status: 200) } // dockerd ignores it too
        try engine.resize(record.id, size: TerminalSize(rows: UInt16(rows), columns: UInt16(columns)))
        try writer.send(status: 200)
    }
}
