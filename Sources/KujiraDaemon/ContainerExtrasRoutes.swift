// Container routes over the engine's second wave: rename, top, stats, changes, export,
// archive (`docker cp`: HEAD/GET/PUT), commit, and /events.

import Foundation
import Kujira
import KujiraArchive

/// Writes a ``ByteSink`` stream as chunks of a streamed response, 64 KiB at a time.
final class ResponseSink: ByteSink {
    let writer: ResponseWriter
    var buffer: [UInt8] = []

    init(_ writer: ResponseWriter) { self.writer = writer }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        buffer += bytes
        if buffer.count >= 64 * 1024 {
            try writer.write(buffer)
            buffer.removeAll(keepingCapacity: true)
        }
    }

    func finish() throws {
        if !buffer.isEmpty { try writer.write(buffer) }
        buffer.removeAll()
    }
}

/// A request body as a ``ByteSource``.
final class BodySource: ByteSource {
    let body: RequestBody
    var pending: ArraySlice<UInt8> = []

    init(_ body: RequestBody) { self.body = body }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if pending.isEmpty { pending = try body.read(max: max(buffer.count, 1)) }
        let count = min(buffer.count, pending.count)
        for (offset, byte) in pending.prefix(count).enumerated() { buffer[offset] = byte }
        pending = pending.dropFirst(count)
        return count
    }
}

extension Daemon {
    func addContainerExtrasRoutes(_ router: Router) {
        router.add("POST", "/containers/{id}/rename") { [self] request, writer in
            let record = try lookupContainer(request.parameter("id"))
            guard let name = request.query("name"), !name.isEmpty else { throw APIError(400, "give the new name (name=…)") }
            _ = try engine.rename(record.id, to: name)
            try writer.send(status: 204)
        }
        router.add("GET", "/containers/{id}/top") { [self] request, writer in
            let record = try lookupContainer(request.parameter("id"))
            guard record.state.isActive else { throw APIError(409, "container \(record.id) is not running") }
            let arguments = (request.query("ps_args") ?? "").split(separator: " ").map(String.init)
            try writer.sendJSON(try JSON.tree(try engine.top(record.id, psArguments: arguments)))
        }
        router.add("GET", "/containers/{id}/changes") { [self] request, writer in
            let record = try lookupContainer(request.parameter("id"))
            let changes = try engine.changes(record.id)
            try writer.sendJSON(changes.isEmpty ? NSNull() : try JSON.tree(changes))
        }
        router.add("GET", "/containers/{id}/stats") { [self] request, writer in try containerStats(request, writer) }
        router.add("GET", "/containers/{id}/export") { [self] request, writer in
            let record = try lookupContainer(request.parameter("id"))
            try writer.beginStream(contentType: "application/x-tar")
            let sink = ResponseSink(writer)
            try engine.export(record.id, to: sink)
            try sink.finish()
        }
        router.add("GET", "/containers/{id}/archive") { [self] request, writer in try getArchive(request, writer) }
        router.add("PUT", "/containers/{id}/archive") { [self] request, writer in
            let record = try lookupContainer(request.parameter("id"))
            guard let path = request.query("path"), !path.isEmpty else { throw APIError(400, "give the path to extract into (path=…)") }
            do {
                try engine.putArchive(record.id, path: path, from: BodySource(request.http.body), preserveOwnership: request.bool("copyUIDGID"))
            } catch let error as EngineError where error.code == .notFound {
                throw APIError(404, "Could not find the file \(path) in container \(request.parameter("id"))")
            }
            try writer.send(status: 200)
        }
        router.add("POST", "/commit") { [self] request, writer in
            guard let container = request.query("container"), !container.isEmpty else {
                throw APIError(400, "give the container to commit (container=…)")
            }
            let record = try lookupContainer(container)
            if let body = try request.jsonBody(), !ContainerCreateRequest.isDefault(body) {
                throw APIError(400, "a container configuration in the commit body is not supported by kujirad: use changes=… (Dockerfile instructions)")
            }
            var options = CommitOptions()
            if let repository = request.query("repo"), !repository.isEmpty {
                let tag = request.query("tag").flatMap { $0.isEmpty ? nil : $0 }
                options.reference = tag.map { "\(repository):\($0)" } ?? repository
            }
            options.author = request.query("author").flatMap { $0.isEmpty ? nil : $0 }
            options.message = request.query("comment").flatMap { $0.isEmpty ? nil : $0 }
            options.changes = request.queryAll("changes").flatMap { $0.split(separator: "\n").map(String.init) }.filter { !$0.isEmpty }
            options.pause = request.query("pause").map { _ in request.bool("pause") } ?? true
            let result = try engine.commit(record.id, options)
            try writer.sendJSON(status: 201, ["Id": result.imageID])
        }
    }

    func containerStats(_ request: RouteRequest, _ writer: ResponseWriter) throws {
        let record = try lookupContainer(request.parameter("id"))
        let stream = request.query("stream").map { _ in request.bool("stream") } ?? true
        let oneShot = request.bool("one-shot")
        func document(_ stats: ContainerStats) throws -> Any {
            guard var tree = try JSON.tree(stats) as? [String: Any] else { return [String: Any]() }
            tree["name"] = "/\(record.name)"
            tree["id"] = record.id
            return tree
        }
        guard stream else {
            var sample = try engine.stats(record.id)
            if !oneShot && record.state.isActive {
                usleep(1_000_000)
                sample = try engine.stats(record.id, previous: sample)
            }
            return try writer.sendJSON(try document(sample))
        }
        try writer.beginStream(contentType: "application/json")
        var previous: ContainerStats?
        while true {
            let sample = try engine.stats(record.id, previous: previous)
            try writer.writeJSONLine(try document(sample))
            previous = sample
            guard let current = try? engine.container(record.id), current.state.isActive else { return }
            for _ in 0..<4 {
                if request.http.clientGone { return }
                usleep(250_000)
            }
        }
    }

    func getArchive(_ request: RouteRequest, _ writer: ResponseWriter) throws {
        let record = try lookupContainer(request.parameter("id"))
        guard let path = request.query("path"), !path.isEmpty else { throw APIError(400, "give the path to copy (path=…)") }
        let stat: ContainerPathStat
        do {
            stat = try engine.statPath(record.id, path: path)
        } catch let error as EngineError where error.code == .notFound {
            throw APIError(404, "Could not find the file \(path) in container \(request.parameter("id"))")
        }
        let header = try JSON.encode(["name": stat.name, "size": stat.size, "mode": stat.mode, "mtime": stat.mtime,
                                      "linkTarget": stat.linkTarget] as [String: Any])
        let statHeader = ("X-Docker-Container-Path-Stat", Data(header).base64EncodedString())
        if request.http.method == "HEAD" {
            return try writer.send(status: 200, contentType: "application/x-tar", headers: [statHeader])
        }
        try writer.beginStream(contentType: "application/x-tar", headers: [statHeader])
        let sink = ResponseSink(writer)
        _ = try engine.archive(record.id, path: path, to: sink)
        try sink.finish()
    }

    /// `/events`: stored events from `since`, then new ones as they happen until `until`
    /// passes or the client leaves.
    func streamEvents(_ request: RouteRequest, _ writer: ResponseWriter) throws {
        let filters = EventFilters(try request.filters(allowed: ["container", "event", "image", "label", "type", "volume",
                                                                  "network", "daemon", "scope", "plugin", "node", "service", "secret", "config"]))
        let since = try Self.timeParameter(request, "since").map { Date(timeIntervalSince1970: $0) }
        let until = try Self.timeParameter(request, "until").map { Date(timeIntervalSince1970: $0) }
        try writer.beginStream(contentType: "application/json")
        let events = engine.eventStream(since: since, until: until, filters: filters, follow: true)
        let pump = EventPump<EngineEvent, Void>()
        let task = Task {
            for await event in events { pump.post(event) }
            pump.finish(.success(()))
        }
        defer { task.cancel() }
        do {
            try pump.consume({ batch in
                for event in batch {
                    guard var tree = try JSON.tree(event) as? [String: Any] else { continue }
                    tree["scope"] = "local"
                    if event.type == .container {
                        tree["status"] = event.action
                        tree["id"] = event.actor.id
                        tree["from"] = event.actor.attributes["image"] ?? ""
                    }
                    try writer.writeJSONLine(tree)
                }
            }, stopWhenIdle: { request.http.clientGone })
        } catch is StreamStopped {
            return
        }
    }
}
