import Glibc
public import KujiraImage
public import KujiraOCI
import Synchronization

extension RegistryClient {
    /// Pushes an image from `store` to `reference` (a tag, or a digest-only reference).
    ///
    /// Blobs the repository already has are skipped (`HEAD`); blobs the registry holds in
    /// another repository are mounted (`POST …?mount=&from=`) when Kujira knows where they
    /// are (the image was pulled from there — see ``sourceLabel`` — or this client moved them
    /// earlier); the rest are uploaded, in one `PUT` or, with
    /// ``RegistryConfiguration/uploadChunkSize``, in `PATCH` chunks. Then the manifests go
    /// up, an index last: a multi-platform image is pushed whole, and every platform must be
    /// in the store. A manifest with a `subject` is also listed under the referrers
    /// tag-schema fallback when the registry has no referrers API.
    ///
    /// - Returns: the descriptor of the pushed manifest or index.
    /// - Throws: ``RegistryError``.
    @discardableResult
    public func push(
        _ nameOrID: String, from store: ImageStore, to reference: Reference, progress: (@Sendable (PushEvent) -> Void)? = nil
    ) async throws -> Descriptor {
        let emit: @Sendable (PushEvent) -> Void = progress ?? { _ in }
        let repository = Repository(reference)
        let plan = try await blocking { _ in try self.planPush(nameOrID, store: store, repository: repository) }
        for blob in plan.blobs { emit(.blob(blob, .waiting)) }
        let total = plan.blobs.reduce(Int64(0)) { $0 + $1.size }
        let completed = Atomic<Int64>(0)
        try await RegistryClient.forEach(plan.blobs, limit: configuration.maximumConcurrentUploads) { blob in
            try await self.blocking { flag in
                try self.uploadBlob(blob, to: repository, content: store.content, mountSources: plan.mountSources, cancellation: flag) { state, delta in
                    emit(.blob(blob, state))
                    if delta > 0 {
                        emit(.overall(completedBytes: completed.add(delta, ordering: .relaxed).newValue, totalBytes: total))
                    }
                }
                self.noteLocation(blob.digest, repository)
            }
        }
        return try await blocking { flag in
            for (descriptor, bytes) in plan.children {
                try self.putManifest(descriptor, bytes: bytes, tag: nil, to: repository, cancellation: flag)
                emit(.manifest(descriptor, tag: nil))
            }
            let tag = reference.tag
            try self.putManifest(plan.root.0, bytes: plan.root.1, tag: tag, to: repository, cancellation: flag)
            emit(.manifest(plan.root.0, tag: tag))
            return plan.root.0
        }
    }

    struct PushPlan: Sendable {
        /// Config and layer blobs, each once.
        var blobs: [Descriptor]
        /// Manifests of an index, pushed by digest before it.
        var children: [(Descriptor, [UInt8])]
        /// The tagged document.
        var root: (Descriptor, [UInt8])
        /// Repository paths on the destination registry that may hold the blobs.
        var mountSources: [String]
    }

    private func planPush(_ nameOrID: String, store: ImageStore, repository: Repository) throws -> PushPlan {
        try storeCall(repository) {
            let record = try store.lookup(nameOrID)
            let rootBytes = try store.content.read(record.target.digest)
            var manifests: [(Descriptor, [UInt8])] = []
            var children: [(Descriptor, [UInt8])] = []
            if MediaType.indexTypes.contains(record.target.mediaType) {
                let index = try CanonicalJSON.decode(Index.self, from: rootBytes, what: "image index \(record.name)")
                for entry in index.manifests {
                    guard store.content.contains(entry.digest) else {
                        let platform = entry.platform.map { " (\($0))" } ?? ""
                        throw RegistryError(.blobUnknown, "cannot push \(record.name) to \(repository.display): manifest \(entry.digest)\(platform) of its index is not in the store; pull the image with all platforms first")
                    }
                    let bytes = try store.content.read(entry.digest)
                    children.append((entry, bytes))
                    if MediaType.manifestTypes.contains(entry.mediaType) { manifests.append((entry, bytes)) }
                }
            } else {
                manifests.append((record.target, rootBytes))
            }
            var seen = Set<Digest>()
            var blobs = [Descriptor]()
            for (descriptor, bytes) in manifests {
                let manifest = try CanonicalJSON.decode(Manifest.self, from: bytes, what: "manifest \(descriptor.digest) of \(record.name)")
                for blob in [manifest.config] + manifest.layers where seen.insert(blob.digest).inserted {
                    guard store.content.contains(blob.digest) else {
                        throw RegistryError(.blobUnknown, "cannot push \(record.name) to \(repository.display): blob \(blob.digest) (\(blob.mediaType)) is not in the store; pull or import the image again")
                    }
                    blobs.append(blob)
                }
            }
            // Where the registry may already hold these blobs, on the same host.
            var sources = [String]()
            if let label = record.labels[RegistryClient.sourceLabel], let source = try? Reference(parsing: label, defaultTag: nil),
               RegistryConfiguration.registryHost(for: source.domain) == repository.host, source.path != repository.path {
                sources.append(source.path)
            }
            let known = blobLocations.withLock { locations in blobs.flatMap { locations[$0.digest] ?? [] } }
            for location in known where location.hasPrefix(repository.host + "/") {
                let path = String(location.dropFirst(repository.host.count + 1))
                if path != repository.path && !sources.contains(path) { sources.append(path) }
            }
            return PushPlan(blobs: blobs, children: children, root: (record.target, rootBytes), mountSources: sources)
        }
    }

    /// Makes sure the repository has one blob: present already, mounted, or uploaded.
    func uploadBlob(
        _ descriptor: Descriptor, to repository: Repository, content: ContentStore, mountSources: [String],
        cancellation: CancellationFlag, report: (PushEvent.BlobState, Int64) -> Void
    ) throws {
        let blobPath = "/v2/\(repository.path)/blobs/\(descriptor.digest)"
        let uploads = "/v2/\(repository.path)/blobs/uploads/"
        let push = ["pull", "push"]
        let exists = try perform("HEAD", repository, path: blobPath, accept: [200, 404], actions: push, what: "blob \(descriptor.digest)", cancellation: cancellation)
        if exists.status == 200 {
            report(.alreadyExists, descriptor.size)
            return
        }
        var session: HTTPResponse?
        for source in mountSources {
            let response = try perform(
                "POST", repository, path: uploads, query: [("mount", descriptor.digest.description), ("from", source)],
                accept: [201, 202], actions: push, extraScopes: ["repository:\(source):pull"],
                what: "blob \(descriptor.digest) mount", cancellation: cancellation)
            if response.status == 201 {
                report(.mounted(from: "\(repository.domain)/\(source)"), descriptor.size)
                return
            }
            session = response  // not mountable from there: the registry opened an upload
            break
        }
        let fd = try storeCall(repository) { try content.openForReading(descriptor.digest) }
        defer { close(fd) }
        var attempt = 0
        while true {
            attempt += 1
            do {
                let started = try session ?? perform("POST", repository, path: uploads, accept: [202], actions: push, what: "blob upload", cancellation: cancellation)
                session = nil
                try sendBlob(descriptor, fd: fd, session: started, to: repository, cancellation: cancellation, report: report)
                report(.done, 0)
                return
            } catch let error as RegistryError where error.isTransient && attempt < configuration.maximumAttempts {
                try backoff(attempt: attempt, retryAfter: nil, cancellation: cancellation)
            }
        }
    }

    /// Uploads the blob's bytes into an upload session and closes it with its digest.
    private func sendBlob(
        _ descriptor: Descriptor, fd: Int32, session: HTTPResponse, to repository: Repository,
        cancellation: CancellationFlag, report: (PushEvent.BlobState, Int64) -> Void
    ) throws {
        let push = ["pull", "push"]
        var location = try uploadLocation(session, repository: repository)
        let what = "blob \(descriptor.digest) upload"
        let octets: HTTPHeaders = ["Content-Type": "application/octet-stream"]
        if let chunkSize = configuration.uploadChunkSize, descriptor.size > Int64(chunkSize) {
            // OCI distribution spec, "Pushing a blob in chunks": each PATCH carries
            // Content-Range FIRST-LAST and must be at least OCI-Chunk-Min-Length bytes.
            let minimum = session.headers["OCI-Chunk-Min-Length"].flatMap { Int64($0) } ?? 0
            let chunk = max(Int64(chunkSize), minimum)
            var offset: Int64 = 0
            while offset < descriptor.size {
                let length = min(chunk, descriptor.size - offset)
                var headers = octets
                headers.set("Content-Range", "\(offset)-\(offset + length - 1)")
                let response = try perform(
                    "PATCH", repository, url: location, headers: headers, body: .file(fd: fd, offset: offset, length: length),
                    accept: [202], actions: push, what: what, cancellation: cancellation)
                if let range = response.headers["Range"].flatMap(ContentRange.init(parsing:)), range.last != offset + length - 1 {
                    throw RegistryError(.protocolError, "\(repository.domain) acknowledged bytes up to \(range.last) of blob \(descriptor.digest) after a chunk ending at \(offset + length - 1)")
                }
                location = try uploadLocation(response, repository: repository)
                offset += length
                report(.uploading(bytes: offset, total: descriptor.size), length)
            }
            let done = try perform(
                "PUT", repository, url: location, query: [("digest", descriptor.digest.description)], headers: octets,
                accept: [201, 204], actions: push, what: what, cancellation: cancellation)
            try checkDigestHeader(done, descriptor, repository)
        } else {
            let done = try perform(
                "PUT", repository, url: location, query: [("digest", descriptor.digest.description)], headers: octets,
                body: .file(fd: fd, offset: 0, length: descriptor.size),
                accept: [201, 204], actions: push, what: what, cancellation: cancellation)
            try checkDigestHeader(done, descriptor, repository)
            report(.uploading(bytes: descriptor.size, total: descriptor.size), descriptor.size)
        }
    }

    private func checkDigestHeader(_ response: HTTPResponse, _ descriptor: Descriptor, _ repository: Repository) throws {
        if let header = response.headers["Docker-Content-Digest"], let digest = try? Digest(parsing: header), digest != descriptor.digest {
            throw RegistryError(.digestMismatch, "\(repository.display) stored blob \(descriptor.digest) as \(digest)")
        }
    }

    /// The absolute URL of an upload session from a response's `Location`.
    private func uploadLocation(_ response: HTTPResponse, repository: Repository) throws -> HTTPURL {
        guard let location = response.headers["Location"], let url = response.url.resolving(location) else {
            throw RegistryError(.protocolError, "\(repository.domain) started an upload for \(repository.display) without a usable Location header")
        }
        return url
    }

    /// PUTs a manifest or index under `tag`, or its digest.
    func putManifest(_ descriptor: Descriptor, bytes: [UInt8], tag: String?, to repository: Repository, cancellation: CancellationFlag?) throws {
        let reference = tag ?? descriptor.digest.description
        let response = try perform(
            "PUT", repository, path: "/v2/\(repository.path)/manifests/\(reference)",
            headers: ["Content-Type": descriptor.mediaType], body: .bytes(bytes),
            accept: [201, 200, 202], actions: ["pull", "push"], what: "manifest \(reference)", cancellation: cancellation)
        if let header = response.headers["Docker-Content-Digest"], let digest = try? Digest(parsing: header), digest != descriptor.digest {
            throw RegistryError(.digestMismatch, "\(repository.display) stored manifest \(descriptor.digest) as \(digest); the registry rewrote it")
        }
        // Referrers (distribution-spec "Pushing Manifests with Subject"): a registry with
        // the referrers API answers OCI-Subject; otherwise maintain the fallback tag.
        if response.headers["OCI-Subject"] == nil, MediaType.manifestTypes.contains(descriptor.mediaType) || MediaType.indexTypes.contains(descriptor.mediaType),
           let subject = try? RegistryClient.subjectAndEntry(of: bytes, descriptor: descriptor) {
            try addToReferrersTag(subject.subject, entry: subject.entry, repository: repository, cancellation: cancellation)
        }
    }
}
