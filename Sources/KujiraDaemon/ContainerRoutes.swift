// Container routes: create, start, stop, kill, restart, pause, unpause, wait, remove,
// inspect, list, logs and attach (output streams, over a hijacked connection).

import Foundation
import Kujira
import KujiraOCI
#if canImport(Glibc)
import Glibc
#endif

extension Daemon {
    func addContainerRoutes(_ router: Router) {
        router.add("GET", "/containers/json") { [self] request, writer in try writer.sendJSON(try listContainers(request)) }
        router.add("POST", "/containers/create") { [self] request, writer in
            var options = try ContainerCreateRequest.options(body: try request.jsonBody(), name: request.query("name"))
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
            try writer.sendJSON(status: 201, ["Id": record.id, "Warnings": [String]()])
        }
        router.add("POST", "/containers/prune") { [self] request, writer in try writer.sendJSON(try pruneContainers(request)) }
        router.add("GET", "/containers/{id}/json") { [self] request, writer in
            try writer.sendJSON(try containerInspection(try lookupContainer(request.parameter("id")), size: request.bool("size")))
        }
        router.add("POST", "/containers/{id}/start") { [self] request, writer in
            if let keys = request.query("detachKeys"), !keys.isEmpty {
                throw APIError(400, "detachKeys is not supported by kujirad (there is no stdin to detach from)")
            }
            let record = try lookupContainer(request.parameter("id"))
            if record.state.isActive { return try writer.send(status: 304) }
            try startContainer(record)
            try writer.send(status: 204)
        }
        router.add("POST", "/containers/{id}/stop") { [self] request, writer in
            if let signal = request.query("signal"), !signal.isEmpty {
                throw APIError(400, "stop with a signal is not supported by kujirad: set the container's StopSignal, or kill it")
            }
            let record = try lookupContainer(request.parameter("id"))
            guard record.state.isActive else { return try writer.send(status: 304) }
            _ = try engine.stop(record.id, timeout: try request.int("t") ?? request.int("timeout"))
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
            if let signal = request.query("signal"), !signal.isEmpty {
                throw APIError(400, "restart with a signal is not supported by kujirad: set the container's StopSignal")
            }
            let record = try lookupContainer(request.parameter("id"))
            _ = try engine.restart(record.id, timeout: try request.int("t") ?? request.int("timeout"))
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
    }

    // MARK: - Lookup and shapes

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
        case .running: return "Up \(Timestamps.human(now - (started ?? now)))"
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
            "Command": command, "Created": Int64(Timestamps.seconds(record.created) ?? 0), "Ports": [Any](),
            "Labels": record.config.labels, "State": record.state.status.rawValue, "Status": Self.statusText(record),
            "HostConfig": ["NetworkMode": record.hostConfig.networkMode],
            "NetworkSettings": ["Networks": [String: Any]()],
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

    func listContainers(_ request: RouteRequest) throws -> [[String: Any]] {
        let filters = try request.filters(allowed: ["id", "name", "label", "status", "exited", "ancestor", "before", "since"])
        let limit = try request.int("limit") ?? -1
        let all = request.bool("all") || limit > 0 || filters["status"] != nil || filters["exited"] != nil
        var records = try engine.list()
        if !all { records = records.filter(\.state.isActive) }
        if let ids = filters["id"] { records = records.filter { record in ids.contains { record.id.hasPrefix($0) } } }
        if let names = filters["name"] {
            records = records.filter { record in
                names.contains { pattern in
                    let bare = pattern.hasPrefix("/") ? String(pattern.dropFirst()) : pattern
                    return (try? NSRegularExpression(pattern: bare)).map {
                        $0.firstMatch(in: record.name, range: NSRange(record.name.startIndex..., in: record.name)) != nil
                    } ?? record.name.contains(bare)
                }
            }
        }
        if let labels = filters["label"] { records = records.filter { record in labels.allSatisfy { Self.labelMatches($0, record.config.labels) } } }
        if let states = filters["status"] {
            let known = ["created", "restarting", "running", "removing", "paused", "exited", "dead"]
            if let bad = states.first(where: { !known.contains($0) }) { throw APIError(400, "invalid filter 'status=\(bad)'") }
            records = records.filter { states.contains($0.state.status.rawValue) }
        }
        if let codes = filters["exited"] {
            records = records.filter { $0.state.status == .exited && codes.contains(String($0.state.exitCode)) }
        }
        if let ancestors = filters["ancestor"] {
            let ids = Set(ancestors.compactMap { try? lookupImage($0).id.description })
            records = records.filter { record in ids.contains(record.imageID) || ancestors.contains(record.image) }
        }
        for key in ["before", "since"] {
            guard let other = filters[key]?.first else { continue }
            let pivot = try lookupContainer(other).created
            records = records.filter { key == "before" ? $0.created < pivot : $0.created > pivot }
        }
        if limit > 0 { records = Array(records.prefix(limit)) }
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
        config["Tty"] = false
        config["AttachStdin"] = false
        config["AttachStdout"] = false
        config["AttachStderr"] = false
        config["StdinOnce"] = false
        config["Domainname"] = ""
        config["Volumes"] = NSNull()
        config["OnBuild"] = NSNull()
        document["Config"] = config
        var host = document["HostConfig"] as? [String: Any] ?? [:]
        host["LogConfig"] = ["Type": "json-file", "Config": [String: String]()]
        host["PortBindings"] = [String: Any]()
        host["PublishAllPorts"] = false
        host["Dns"] = [String]()
        host["ExtraHosts"] = NSNull()
        host["IpcMode"] = "private"
        host["PidMode"] = ""
        host["Runtime"] = "kujira-runtime"
        host["ConsoleSize"] = [0, 0]
        document["HostConfig"] = host
        let mode = record.hostConfig.networkMode
        document["NetworkSettings"] = [
            "Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": [String: Any](), "HairpinMode": false,
            "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": "",
            "Networks": [mode: ["NetworkID": mode, "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                                "MacAddress": "", "Aliases": NSNull(), "DriverOpts": NSNull()]],
        ]
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
            updateMemory { $0.removedExitCodes[id] = code }
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
            updateMemory { $0.removedExitCodes[id] = code }
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
        let reader = try LogReader(path: record.logPath, fromStart: true)
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
    /// wrote before), over the hijacked connection, until the container stops.
    func attachContainer(_ request: RouteRequest, _ writer: ResponseWriter) throws {
        let record = try lookupContainer(request.parameter("id"))
        if request.bool("stdin") {
            throw APIError(400, "attaching stdin is not supported by kujirad yet: containers have no stdin (run without -i)")
        }
        if let keys = request.query("detachKeys"), !keys.isEmpty {
            throw APIError(400, "detachKeys is not supported by kujirad (there is no stdin to detach from)")
        }
        // Without a TTY the output is always framed; only the content type names it (1.42+).
        let selection = LogSelection(stdout: request.bool("stdout"), stderr: request.bool("stderr"), multiplexed: true)
        let replay = request.bool("logs"), stream = request.bool("stream")
        let id = record.id
        updateMemory { $0.attachments[id, default: 0] += 1 }
        defer { updateMemory { $0.attachments[id, default: 1] -= 1 } }
        let reader = try LogReader(path: record.logPath, fromStart: replay)
        let upgrade = request.http.head.headers.contains("Connection", token: "Upgrade")
        let contentType = request.apiVersion >= APIVersion(minor: 42) ? "application/vnd.docker.multiplexed-stream" : "application/vnd.docker.raw-stream"
        try writer.hijack(upgrade: upgrade, contentType: contentType)
        func send(_ entries: [LogEntry]) throws {
            let bytes = entries.filter(selection.accepts).flatMap(selection.encode)
            if !bytes.isEmpty { try writer.writeRawStream(bytes) }
        }
        try send(reader.next())
        guard stream else { return }
        var sawRun = record.state.isActive
        var previous = record.state.status
        var backoff = PollBackoff()
        while true {
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
            if request.http.clientHungUp { return }
            backoff.pause()
        }
    }
}
