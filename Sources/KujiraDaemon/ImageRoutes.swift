// Image routes: list, inspect, history, tag, remove, prune, pull (create), import, push,
// save (get) and load, over the engine's ImageStore and the registry client.

import Foundation
import Kujira
import KujiraImage
import KujiraOCI
import KujiraRegistry
#if canImport(Glibc)
import Glibc
#endif

extension Daemon {
    func addImageRoutes(_ router: Router) {
        router.add("GET", "/images/json") { [self] request, writer in try writer.sendJSON(try listImages(request)) }
        router.add("POST", "/images/create") { [self] request, writer in try createImage(request, writer) }
        router.add("POST", "/images/load") { [self] request, writer in try loadImages(request, writer) }
        router.add("GET", "/images/get") { [self] request, writer in try saveImages(request.queryAll("names"), writer) }
        router.add("POST", "/images/prune") { [self] request, writer in try writer.sendJSON(try pruneImages(request)) }
        router.add("GET", "/images/{name*}/json") { [self] request, writer in
            try writer.sendJSON(try imageInspection(try lookupImage(request.parameter("name"))))
        }
        router.add("GET", "/images/{name*}/history") { [self] request, writer in
            try writer.sendJSON(try imageHistory(try lookupImage(request.parameter("name"))))
        }
        router.add("GET", "/images/{name*}/get") { [self] request, writer in try saveImages([request.parameter("name")], writer) }
        router.add("POST", "/images/{name*}/tag") { [self] request, writer in
            try tagImage(request)
            try writer.send(status: 201)
        }
        router.add("POST", "/images/{name*}/push") { [self] request, writer in try pushImage(request, writer) }
        router.add("DELETE", "/images/{name*}") { [self] request, writer in try writer.sendJSON(try removeImage(request)) }
    }

    // MARK: - Lookup and shapes

    /// The image `text` names (a name, an id, a digest or an id prefix); 404 as Docker says it.
    func lookupImage(_ text: String) throws -> ImageRecord {
        let store = engine.images
        if let name = try? Reference(parsing: text).description, let record = try store.get(name) { return record }
        do {
            return try store.lookup(text)
        } catch let error as ImageStoreError where error.code == .imageNotFound {
            throw APIError(404, "No such image: \(text)")
        }
    }

    /// Whether a store name only stands for an untagged image (the builder names an image
    /// built without `-t` by its digest): Docker lists such an image as `<none>:<none>`.
    static func isUntaggedName(_ name: String) -> Bool {
        name.hasPrefix("sha256:")
    }

    /// `docker.io/library/busybox:latest` → `busybox:latest`.
    static func displayName(_ name: String) -> String {
        (try? Reference(parsing: name, defaultTag: nil).familiarString) ?? name
    }

    /// An entry of `/images/json`.
    func imageSummary(_ record: ImageRecord, all: [ImageRecord]) throws -> [String: Any] {
        let details = try? engine.images.details(of: record)
        let names = all.filter { $0.id == record.id && !Self.isUntaggedName($0.name) }.map(\.name)
        let repoDigests = names.compactMap { name in
            (try? Reference(parsing: name, defaultTag: nil)).map { "\($0.familiarName)@\(record.target.digest)" }
        }
        let created = details?.configuration.createdTimestamp?.secondsSinceEpoch ?? Int64(record.created.timeIntervalSince1970)
        return [
            "Id": record.id.description, "ParentId": "", "RepoTags": names.map(Self.displayName),
            "RepoDigests": Array(Set(repoDigests)).sorted(), "Created": Int64(created), "Size": details?.size ?? record.target.size,
            "SharedSize": -1, "Labels": details?.configuration.config?.labels ?? [:], "Containers": -1,
        ]
    }

    func listImages(_ request: RouteRequest) throws -> [[String: Any]] {
        let filters = try request.filters(allowed: ["reference", "dangling", "label", "before", "since"])
        let all = try engine.images.list()
        var seen = Set<String>()
        var out: [[String: Any]] = []
        let created: (ImageRecord) -> Int64 = { [self] record in
            (try? engine.images.details(of: record))?.configuration.createdTimestamp?.secondsSinceEpoch ?? 0
        }
        let before = try filters["before"]?.first.map { created(try lookupImage($0)) }
        let since = try filters["since"]?.first.map { created(try lookupImage($0)) }
        for record in all where seen.insert(record.id.description).inserted {
            if filters["dangling"]?.contains("true") == true { continue }  // every image has a name
            var summary = try imageSummary(record, all: all)
            if let references = filters["reference"] {
                let tags = (summary["RepoTags"] as? [String]) ?? []
                let kept = tags.filter { tag in references.contains { Self.referenceMatches(pattern: $0, tag) } }
                if kept.isEmpty { continue }
                summary["RepoTags"] = kept
            }
            if let labels = filters["label"] {
                let present = (summary["Labels"] as? [String: String]) ?? [:]
                if !labels.allSatisfy({ Self.labelMatches($0, present) }) { continue }
            }
            let time = (summary["Created"] as? Int64) ?? 0
            if let before, time >= before { continue }
            if let since, time <= since { continue }
            out.append(summary)
        }
        return out.sorted { ($0["Created"] as? Int64 ?? 0) > ($1["Created"] as? Int64 ?? 0) }
    }

    /// Docker's `reference` filter: a glob over `repo[:tag]` (`busy*`, `busybox:1.*`).
    static func referenceMatches(pattern: String, _ tag: String) -> Bool {
        let repository = tag.split(separator: ":").dropLast().joined(separator: ":")
        return fnmatch(pattern, tag, 0) == 0 || (!pattern.contains(":") && fnmatch(pattern, repository, 0) == 0)
    }

    /// `key` or `key=value` against labels.
    static func labelMatches(_ filter: String, _ labels: [String: String]) -> Bool {
        let parts = filter.split(separator: "=", maxSplits: 1).map(String.init)
        guard let key = parts.first, let value = labels[key] else { return false }
        return parts.count == 1 || parts[1] == value
    }

    func imageInspection(_ record: ImageRecord) throws -> [String: Any] {
        let details = try engine.images.details(of: record)
        let all = try engine.images.list()
        let summary = try imageSummary(record, all: all)
        let configuration = details.configuration
        var config: Any = NSNull()
        if let imageConfig = configuration.config { config = try JSON.tree(imageConfig) }
        var document: [String: Any] = [
            "Id": record.id.description, "RepoTags": summary["RepoTags"] ?? [], "RepoDigests": summary["RepoDigests"] ?? [],
            "Parent": "", "Comment": "", "Created": configuration.created ?? "", "DockerVersion": "",
            "Author": configuration.author ?? "", "Config": config, "Architecture": configuration.architecture,
            "Os": configuration.os, "Size": details.size,
            "GraphDriver": ["Name": "overlay", "Data": NSNull()],
            "RootFS": ["Type": configuration.rootfs.type, "Layers": configuration.rootfs.diffIDs.map(\.description)],
            "Metadata": ["LastTagTime": Timestamps.format(record.updated)],
            "Descriptor": try JSON.tree(record.target),
        ]
        if let variant = configuration.variant { document["Variant"] = variant }
        return document
    }

    func imageHistory(_ record: ImageRecord) throws -> [[String: Any]] {
        let details = try engine.images.details(of: record)
        var layers = details.manifest.layers.makeIterator()
        var entries: [[String: Any]] = []
        let history = details.configuration.history ?? []
        for (index, item) in history.enumerated() {
            let size = item.emptyLayer == true ? 0 : (layers.next()?.size ?? 0)
            let created = item.created.flatMap(Timestamps.seconds).map { Int64($0) } ?? 0
            let last = index == history.count - 1
            entries.append([
                "Id": last ? record.id.description : "<missing>", "Created": created, "CreatedBy": item.createdBy ?? "",
                "Tags": last ? try engine.images.list().filter { $0.id == record.id }.map { Self.displayName($0.name) } : NSNull(),
                "Size": size, "Comment": item.comment ?? "",
            ])
        }
        return entries.reversed()
    }

    // MARK: - Tag, remove, prune

    func tagImage(_ request: RouteRequest) throws {
        let record = try lookupImage(request.parameter("name"))
        guard let repository = request.query("repo"), !repository.isEmpty else {
            throw APIError(400, "repository name (repo) is required to tag an image")
        }
        let tag = request.query("tag").flatMap { $0.isEmpty ? nil : $0 }
        let text = tag.map { "\(repository):\($0)" } ?? repository
        let name: String
        do {
            name = try Reference(parsing: text).description
        } catch {
            throw APIError(400, "invalid reference format: \(text): \(error)")
        }
        try engine.images.withWriteLease { _ = try engine.images.put(name: name, target: record.target, labels: record.labels) }
    }

    func removeImage(_ request: RouteRequest) throws -> [[String: String]] {
        let text = request.parameter("name")
        let force = request.bool("force")
        let store = engine.images
        let record = try lookupImage(text)
        let all = try store.list()
        let byName = (try? Reference(parsing: text).description).flatMap { name in all.first { $0.name == name } }
        var names = all.filter { $0.id == record.id }.map(\.name)
        let removing: [String]
        if let byName {
            removing = [byName.name]
        } else {
            guard names.count <= 1 || force else {
                throw APIError(409, "conflict: unable to delete \(record.id.encodedPrefix) (must be forced) - image is referenced in multiple repositories")
            }
            removing = names
        }
        names.removeAll { removing.contains($0) }
        if names.isEmpty && !force {
            let ids = [record.id.description, record.configDigest?.description].compactMap { $0 }
            if let user = try engine.list().first(where: { ids.contains($0.imageID) }) {
                let what = byName.map { "remove repository reference \"\(Self.displayName($0.name))\"" } ?? "delete \(record.id.encodedPrefix)"
                throw APIError(409, "conflict: unable to \(what) (must force) - container \(user.shortID) is using its referenced image \(record.id.encodedPrefix)")
            }
        }
        var report: [[String: String]] = []
        for name in removing {
            _ = try store.remove(name)
            report.append(["Untagged": Self.displayName(name)])
        }
        if names.isEmpty {
            report.append(["Deleted": record.id.description])
            if !request.bool("noprune") {
                _ = try store.garbageCollect()
                _ = try? store.pruneSnapshots()
            }
        }
        return report
    }

    func pruneImages(_ request: RouteRequest) throws -> [String: Any] {
        let filters = try request.filters(allowed: ["dangling", "until", "label"])
        if filters["dangling"]?.contains("false") == true || filters["until"] != nil || filters["label"] != nil {
            throw APIError(400, "kujirad prunes only unreferenced content (dangling=true, no until or label filters)")
        }
        let report = try engine.images.garbageCollect()
        _ = try? engine.images.pruneSnapshots()
        return ["ImagesDeleted": report.removed.isEmpty ? NSNull() : report.removed.map { ["Deleted": $0.description] },
                "SpaceReclaimed": report.bytesFreed]
    }

    // MARK: - Registry

    /// The registry configuration with the credentials of `X-Registry-Auth` (base64url JSON
    /// `{"username", "password", "serveraddress", "identitytoken"}`) for `reference`'s registry.
    func registryConfiguration(_ request: RouteRequest, for reference: Reference) throws -> RegistryConfiguration {
        var configuration = registry
        configuration.credentials = .anonymous
        guard let header = request.http.head.headers["X-Registry-Auth"], !header.isEmpty else { return configuration }
        var text = header.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw APIError(400, "invalid X-Registry-Auth header: expected base64url-encoded JSON")
        }
        let username = object["username"] as? String ?? "", password = object["password"] as? String ?? ""
        let token = (object["identitytoken"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        if username.isEmpty && password.isEmpty && token == nil { return configuration }
        var hosts = [reference.domain, RegistryConfiguration.registryHost(for: reference.domain)]
        if let server = object["serveraddress"] as? String, !server.isEmpty {
            hosts.append(server.replacingOccurrences(of: "https://", with: "").replacingOccurrences(of: "http://", with: "")
                .split(separator: "/").first.map(String.init) ?? server)
        }
        let credentials = Credentials(username: username, password: password, identityToken: token)
        configuration.credentials = .fixed(Dictionary(hosts.map { ($0, credentials) }, uniquingKeysWith: { a, _ in a }))
        return configuration
    }

    /// A Docker progress bar: `[=====>     ]  1.2MB/3.4MB`.
    static func progressBar(_ current: Int64, _ total: Int64) -> String {
        func size(_ bytes: Int64) -> String {
            let units = ["B", "kB", "MB", "GB", "TB"]
            var value = Double(bytes), unit = 0
            while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
            return unit == 0 ? "\(bytes)B" : String(format: "%.3g%@", value, units[unit])
        }
        guard total > 0 else { return size(current) }
        let width = 50
        let filled = min(width, Int(Double(current) / Double(total) * Double(width)))
        let bar = String(repeating: "=", count: max(0, filled - 1)) + (filled > 0 ? ">" : "") + String(repeating: " ", count: width - filled)
        return "[\(bar)] \(size(current))/\(size(total))"
    }

    func createImage(_ request: RouteRequest, _ writer: ResponseWriter) throws {
        if let source = request.query("fromSrc"), !source.isEmpty {
            return try importImage(request, source: source, writer)
        }
        guard let from = request.query("fromImage"), !from.isEmpty else {
            throw APIError(400, "fromImage or fromSrc is required")
        }
        if let platform = request.query("platform"), !platform.isEmpty, (try? Platform(parsing: platform)) == nil {
            throw APIError(400, "invalid platform \(platform)")
        }
        var text = from
        if let tag = request.query("tag"), !tag.isEmpty {
            text += tag.contains(":") ? "@\(tag)" : ":\(tag)"
        }
        let reference: Reference
        do {
            reference = try Reference(parsing: text)
        } catch {
            throw APIError(400, "invalid reference format: \(text): \(error)")
        }
        let configuration = try registryConfiguration(request, for: reference)
        let platform = try request.query("platform").flatMap { $0.isEmpty ? nil : try Platform(parsing: $0) }
        let store = engine.images
        try writer.beginStream(contentType: "application/json")
        let shown = reference.familiarString
        try writer.writeJSONLine(["status": "Pulling from \(reference.repositoryOnly.familiarName)", "id": reference.tag ?? reference.digest?.description ?? "latest"])
        let record = try EventPump<PullEvent, ImageRecord>.run({ pump in
            try await RegistryClient(configuration: configuration).pull(reference, into: store, platform: platform, unpack: true) {
                pump.post($0)
            }
        }, events: { events in
            var lastDownload: [String: Int] = [:]
            for (index, event) in events.enumerated() {
                if case .blob(let blob, .downloading) = event { lastDownload[blob.digest.description] = index }
            }
            for (index, event) in events.enumerated() {
                guard case .blob(let blob, let state) = event else { continue }
                let id = String(blob.digest.encoded.prefix(12))
                switch state {
                case .waiting: try writer.writeJSONLine(["status": "Waiting", "progressDetail": [String: Any](), "id": id])
                case .alreadyExists: try writer.writeJSONLine(["status": "Already exists", "progressDetail": [String: Any](), "id": id])
                case .downloading(let bytes, let total):
                    guard lastDownload[blob.digest.description] == index else { continue }
                    try writer.writeJSONLine(["status": "Downloading", "progressDetail": ["current": bytes, "total": total],
                                              "progress": Self.progressBar(bytes, total), "id": id])
                case .retrying(let attempt, _, let reason):
                    try writer.writeJSONLine(["status": "Retrying (attempt \(attempt)): \(reason)", "progressDetail": [String: Any](), "id": id])
                case .verifying: try writer.writeJSONLine(["status": "Verifying Checksum", "progressDetail": [String: Any](), "id": id])
                case .extracting: try writer.writeJSONLine(["status": "Extracting", "progressDetail": [String: Any](), "id": id])
                case .done: try writer.writeJSONLine(["status": "Pull complete", "progressDetail": [String: Any](), "id": id])
                }
            }
        })
        try writer.writeJSONLine(["status": "Digest: \(record.target.digest)"])
        try writer.writeJSONLine(["status": "Status: Downloaded newer image for \(shown)"])
    }

    /// `fromSrc=-`: a one-layer image from the tarball in the body (`docker import`).
    func importImage(_ request: RouteRequest, source: String, _ writer: ResponseWriter) throws {
        guard source == "-" else { throw APIError(400, "kujirad imports only from the request body (fromSrc=-), not from URLs") }
        if let changes = request.queryAll("changes").first(where: { !$0.isEmpty }) {
            throw APIError(400, "kujirad does not apply --change to imports yet (got \(changes)); set the configuration with a Dockerfile")
        }
        let repository = request.query("repo") ?? ""
        let tag = request.query("tag").flatMap { $0.isEmpty ? nil : $0 } ?? "latest"
        let name: String
        do {
            name = repository.isEmpty ? "localhost/imported:\(UUID().uuidString.prefix(8).lowercased())" : try Reference(parsing: "\(repository):\(tag)").description
        } catch {
            throw APIError(400, "invalid reference format: \(repository):\(tag)")
        }
        let file = try TemporaryFile.holding(request.http.body, in: "\(engine.root)/tmp", suffix: ".tar")
        defer { file.remove() }
        let record = try engine.images.importRootfs(from: file.path, name: name, config: ImageConfig())
        try writer.beginStream(contentType: "application/json")
        try writer.writeJSONLine(["status": record.id.description])
    }

    func pushImage(_ request: RouteRequest, _ writer: ResponseWriter) throws {
        var text = request.parameter("name")
        if let tag = request.query("tag"), !tag.isEmpty { text += ":\(tag)" }
        let record = try lookupImage(text)
        let reference: Reference
        do {
            reference = try Reference(parsing: text)
        } catch {
            throw APIError(400, "invalid reference format: \(text)")
        }
        let configuration = try registryConfiguration(request, for: reference)
        let store = engine.images
        let source = record.name
        try writer.beginStream(contentType: "application/json")
        try writer.writeJSONLine(["status": "The push refers to repository [\(reference.repositoryOnly.familiarName)]"])
        let pushed = try EventPump<PushEvent, Descriptor>.run({ pump in
            try await RegistryClient(configuration: configuration).push(source, from: store, to: reference) { pump.post($0) }
        }, events: { events in
            for event in events {
                guard case .blob(let blob, let state) = event else { continue }
                let id = String(blob.digest.encoded.prefix(12))
                let line: [String: Any]
                switch state {
                case .waiting: line = ["status": "Preparing", "progressDetail": [String: Any](), "id": id]
                case .alreadyExists: line = ["status": "Layer already exists", "progressDetail": [String: Any](), "id": id]
                case .mounted(let from): line = ["status": "Mounted from \(from)", "progressDetail": [String: Any](), "id": id]
                case .uploading(let bytes, let total):
                    line = ["status": "Pushing", "progressDetail": ["current": bytes, "total": total], "progress": Self.progressBar(bytes, total), "id": id]
                case .done: line = ["status": "Pushed", "progressDetail": [String: Any](), "id": id]
                }
                try writer.writeJSONLine(line)
            }
        })
        let tag = reference.tag ?? "latest"
        try writer.writeJSONLine(["status": "\(tag): digest: \(pushed.digest) size: \(pushed.size)"])
        try writer.writeJSONLine(["progressDetail": [String: Any](), "aux": ["Tag": tag, "Digest": pushed.digest.description, "Size": pushed.size]])
    }

    // MARK: - Save and load

    func saveImages(_ names: [String], _ writer: ResponseWriter) throws {
        guard !names.isEmpty else { throw APIError(400, "give the images to save (names=…)") }
        var images: [(source: String, name: String)] = []
        for text in names {
            let record = try lookupImage(text)
            let given = try? Reference(parsing: text).description
            images.append((record.name, given.flatMap { name in name == record.name || (try? engine.images.get(name)) != nil ? name : nil } ?? record.name))
        }
        let (file, fd) = try TemporaryFile.create(in: "\(engine.root)/tmp", suffix: ".tar")
        close(fd)
        defer { file.remove() }
        unlink(file.path)
        try engine.images.saveDockerArchive(images, to: file.path)
        let input = open(file.path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw APIError(500, "reading \(file.path): \(String(cString: strerror(errno)))") }
        defer { close(input) }
        try writer.beginStream(contentType: "application/x-tar")
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let count = read(input, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            try writer.write(Array(buffer[0..<count]))
        }
    }

    func loadImages(_ request: RouteRequest, _ writer: ResponseWriter) throws {
        let file = try TemporaryFile.holding(request.http.body, in: "\(engine.root)/tmp", suffix: ".tar")
        defer { file.remove() }
        let records = try engine.images.loadArchive(file: file.path)
        try writer.beginStream(contentType: "application/json")
        for record in records {
            try writer.writeJSONLine(["stream": "Loaded image: \(Self.displayName(record.name))\n"])
        }
    }
}

extension Digest {
    /// The first 12 hex digits, as Docker shows ids.
    var encodedPrefix: String { String(encoded.prefix(12)) }
}
