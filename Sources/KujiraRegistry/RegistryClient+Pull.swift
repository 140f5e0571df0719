import Foundation
public import KujiraImage
public import KujiraOCI
import Synchronization

extension RegistryClient {
    /// The label on a pulled image's record naming the repository it came from
    /// (`registry.example/me/app`); a later push to another repository of the same registry
    /// mounts its blobs from there instead of uploading them.
    public static let sourceLabel = "org.kujira.registry.source"
    /// The label naming the index a single-platform pull chose its manifest from.
    public static let indexLabel = "org.kujira.registry.index"

    /// Pulls `reference` into `store` and tags it with the reference's full name
    /// (`docker.io/library/busybox:latest`).
    ///
    /// - When the reference names a manifest, that manifest, its config and layers are pulled.
    /// - When it names an index (multi-platform image) and `allPlatforms` is false, the
    ///   manifest for `platform` (default: this host, with containerd's variant fallbacks) is
    ///   pulled and **tagged itself**; the index digest is kept in the record's
    ///   ``indexLabel``. So a `--platform` pull for another architecture is still an image
    ///   the store can inspect and unpack.
    /// - With `allPlatforms`, every manifest of the index is pulled and the index is tagged.
    ///
    /// Blobs already in the store are skipped; the others are fetched in parallel (at most
    /// ``RegistryConfiguration/maximumConcurrentDownloads``), streamed into the content
    /// store while hashed, and verified: a digest mismatch is an error and nothing is tagged.
    /// A download that breaks resumes with an HTTP range request.
    ///
    /// - Parameters:
    ///   - unpack: also unpack the layers into snapshots (``KujiraImage/SnapshotStore``), so
    ///     a container can start at once.
    ///   - progress: receives ``PullEvent``s, from any thread.
    /// - Returns: the image record.
    /// - Throws: ``RegistryError``.
    @discardableResult
    public func pull(
        _ reference: Reference, into store: ImageStore, platform: Platform? = nil, allPlatforms: Bool = false,
        unpack: Bool = false, progress: (@Sendable (PullEvent) -> Void)? = nil
    ) async throws -> ImageRecord {
        let emit: @Sendable (PullEvent) -> Void = progress ?? { _ in }
        emit(.resolving(reference))
        let resolved = try await blocking { flag in try self.resolveForPull(reference, platform: platform, allPlatforms: allPlatforms, store: store, cancellation: flag) }
        emit(.resolved(root: resolved.root.descriptor, manifests: resolved.manifests.map(\.descriptor)))

        // Every config and layer, once, in manifest order.
        var seen = Set<Digest>()
        var blobs = [Descriptor]()
        for manifest in resolved.manifests {
            guard case .manifest(let document) = manifest.document else { continue }
            for blob in [document.config] + document.layers where seen.insert(blob.digest).inserted {
                blobs.append(blob)
            }
        }
        var missing = [Descriptor]()
        for blob in blobs {
            if store.content.contains(blob.digest) {
                emit(.blob(blob, .alreadyExists))
            } else {
                missing.append(blob)
                emit(.blob(blob, .waiting))
            }
        }
        let total = missing.reduce(Int64(0)) { $0 + $1.size }
        let completed = Atomic<Int64>(0)
        let repository = resolved.repository

        // With overlay snapshots, each layer is unpacked as soon as it and the ones below it
        // have arrived, while the rest download. Copy-mode snapshots are whole chains, so
        // they are made once at the end.
        let arrivals = BlobArrivals(present: blobs.map(\.digest).filter { store.content.contains($0) })
        var progressive: Task<Void, any Error>?
        if unpack, resolved.manifests.count == 1, case .manifest(let manifest)? = resolved.manifests.first?.document {
            let snapshots = try await blocking { _ in try store.snapshotStore() }
            if snapshots.mode == .overlay {
                progressive = Task {
                    try await self.unpackAsLayersArrive(manifest, reference: reference, store: store, snapshots: snapshots, arrivals: arrivals, emit: emit)
                }
            }
        }
        do {
            try await RegistryClient.forEach(missing, limit: configuration.maximumConcurrentDownloads) { blob in
                try await self.blocking { flag in
                    try self.downloadBlob(blob, from: repository, into: store.content, cancellation: flag) { state, delta in
                        emit(.blob(blob, state))
                        if delta > 0 {
                            let done = completed.add(delta, ordering: .relaxed).newValue
                            emit(.overall(completedBytes: done, totalBytes: total))
                        }
                    }
                }
                arrivals.arrived(blob.digest)
            }
        } catch {
            arrivals.fail()
            progressive?.cancel()
            _ = await progressive?.result
            throw error
        }
        if let progressive {
            do {
                try await progressive.value
            } catch let error as RegistryError {
                throw error
            } catch {
                throw RegistryError(.store, "cannot unpack \(reference): \(error)", cause: error)
            }
        }
        for blob in blobs { noteLocation(blob.digest, repository) }
        let allBlobs = blobs

        // Documents after their children, so a stored manifest implies its blobs are there.
        let record: ImageRecord = try await blocking { _ in
            do {
                var documents = resolved.manifests
                if !documents.contains(where: { $0.descriptor.digest == resolved.root.descriptor.digest }) {
                    documents.append(resolved.root)
                }
                for document in documents {
                    try store.content.write(document.bytes, mediaType: document.descriptor.mediaType, expected: document.descriptor.digest)
                }
                return try store.withWriteLease {
                    // A concurrent garbage collection may have removed blobs before the tag
                    // made them reachable: refuse to tag an incomplete image.
                    for blob in allBlobs where !store.content.contains(blob.digest) {
                        throw RegistryError(.store, "blob \(blob.digest) of \(reference) disappeared from the content store during the pull (a concurrent garbage collection?); pull again")
                    }
                    var labels = [RegistryClient.sourceLabel: repository.display]
                    if resolved.tagged.descriptor != resolved.root.descriptor {
                        labels[RegistryClient.indexLabel] = resolved.root.descriptor.digest.description
                    }
                    return try store.put(name: reference.description, target: resolved.tagged.descriptor, labels: labels)
                }
            } catch let error as RegistryError {
                throw error
            } catch {
                throw RegistryError(.store, "cannot store \(reference): \(error)", cause: error)
            }
        }
        emit(.tagged(name: record.name, target: record.target))
        if unpack && progressive == nil {
            try await unpackPulled(record, store: store, emit: emit)
        }
        return record
    }

    /// Unpacks a pulled image's layers into snapshots.
    private func unpackPulled(_ record: ImageRecord, store: ImageStore, emit: @escaping @Sendable (PullEvent) -> Void) async throws {
        try await blocking { _ in
            do {
                let details = try store.details(of: record)
                for layer in details.manifest.layers { emit(.blob(layer, .extracting)) }
                _ = try store.snapshotStore().ensureUnpacked(details)
                for layer in details.manifest.layers { emit(.blob(layer, .done)) }
            } catch {
                throw RegistryError(.store, "pulled \(record.name), but cannot unpack it: \(error)", cause: error)
            }
        }
    }

    /// Resolves `reference` to the digest of its manifest or index, without downloading
    /// anything else (`HEAD`, falling back to `GET` for registries that do not answer
    /// `HEAD` with `Docker-Content-Digest`).
    /// - Throws: ``RegistryError``, `.manifestUnknown` when the tag does not exist.
    public func resolve(_ reference: Reference) async throws -> Descriptor {
        try await blocking { flag in
            let repository = Repository(reference)
            let tagOrDigest = reference.digest?.description ?? reference.tag ?? "latest"
            let head = try self.perform(
                "HEAD", repository, path: "/v2/\(repository.path)/manifests/\(tagOrDigest)",
                headers: ["Accept": ManifestDocument.acceptedMediaTypes.joined(separator: ", ")],
                accept: [200], what: "manifest \(tagOrDigest)", cancellation: flag)
            if let text = head.headers["Docker-Content-Digest"], let digest = try? Digest(parsing: text),
               let type = head.headers["Content-Type"].flatMap(RegistryClient.documentType),
               let length = head.headers["Content-Length"].flatMap({ Int64($0) }) {
                if let wanted = reference.digest, wanted != digest {
                    throw RegistryError(.digestMismatch, "\(repository.display) answered digest \(digest) for \(wanted)")
                }
                return Descriptor(mediaType: type, digest: digest, size: length)
            }
            return try self.fetchManifest(repository, tagOrDigest, expected: reference.digest, cancellation: flag).descriptor
        }
    }

    /// Fetches the manifest or index `reference` names, verified against its digest.
    /// - Returns: its descriptor and bytes.
    public func fetchManifest(_ reference: Reference) async throws -> (descriptor: Descriptor, bytes: [UInt8]) {
        try await blocking { flag in
            let document = try self.fetchManifest(Repository(reference), reference.digest?.description ?? reference.tag ?? "latest", expected: reference.digest, cancellation: flag)
            return (document.descriptor, document.bytes)
        }
    }

    // MARK: - Internals

    /// A fetched manifest or index.
    struct FetchedDocument: Sendable {
        var descriptor: Descriptor
        var bytes: [UInt8]
        var document: ManifestDocument
    }

    struct ResolvedPull: Sendable {
        var repository: Repository
        /// What the reference named.
        var root: FetchedDocument
        /// The manifests to pull.
        var manifests: [FetchedDocument]
        /// What gets tagged: the root, or the chosen manifest of an index.
        var tagged: FetchedDocument
    }

    /// Fetches the root document, trying mirrors first, and the manifests to pull.
    func resolveForPull(_ reference: Reference, platform: Platform?, allPlatforms: Bool, store: ImageStore, cancellation: CancellationFlag) throws -> ResolvedPull {
        let tagOrDigest = reference.digest?.description ?? reference.tag ?? "latest"
        var candidates = (configuration.mirrors[reference.domain] ?? []).map { Repository(reference, host: $0) }
        candidates.append(Repository(reference))
        var lastError: (any Error)?
        for (index, repository) in candidates.enumerated() {
            do {
                let root = try fetchManifest(repository, tagOrDigest, expected: reference.digest, cancellation: cancellation)
                switch root.document {
                case .manifest:
                    return ResolvedPull(repository: repository, root: root, manifests: [root], tagged: root)
                case .index(let index):
                    let chosen: [Descriptor]
                    if allPlatforms {
                        chosen = index.manifests
                    } else {
                        let wanted = platform ?? Platform.host
                        guard let best = wanted.bestMatch(in: index.manifests) else {
                            let available = index.manifests.compactMap { $0.platform.map { "\($0)" } }.joined(separator: ", ")
                            throw RegistryError(.platformNotFound, "\(reference) has no image for \(wanted) (it has: \(available.isEmpty ? "none" : available)); choose one with --platform")
                        }
                        chosen = [best]
                    }
                    var manifests = [FetchedDocument]()
                    for entry in chosen {
                        guard MediaType.manifestTypes.contains(entry.mediaType) || MediaType.indexTypes.contains(entry.mediaType) else { continue }
                        let fetched = try fetchManifest(repository, entry.digest.description, expected: entry.digest, cancellation: cancellation)
                        guard fetched.document.manifest != nil else {
                            throw RegistryError(.unsupported, "\(reference): index entry \(entry.digest) is itself an index; nested indexes are not supported")
                        }
                        manifests.append(fetched)
                    }
                    guard let first = manifests.first else {
                        throw RegistryError(.platformNotFound, "\(reference) is an index without image manifests")
                    }
                    return ResolvedPull(repository: repository, root: root, manifests: manifests, tagged: allPlatforms ? root : first)
                }
            } catch let error as RegistryError where index < candidates.count - 1 && error.code != .digestMismatch {
                lastError = error  // a mirror failed or lacks the image: try the next
                continue
            }
        }
        throw lastError ?? RegistryError(.invalidArgument, "no registry to pull \(reference) from")
    }

    /// GETs a manifest or index and checks it: the digest (when the reference pins one, and
    /// the `Docker-Content-Digest` header otherwise) and the document's shape.
    func fetchManifest(_ repository: Repository, _ tagOrDigest: String, expected: Digest?, cancellation: CancellationFlag?) throws -> FetchedDocument {
        let what = tagOrDigest.contains(":") ? "manifest \(tagOrDigest)" : "manifest for tag \(tagOrDigest)"
        let response = try perform(
            "GET", repository, path: "/v2/\(repository.path)/manifests/\(tagOrDigest)",
            headers: ["Accept": ManifestDocument.acceptedMediaTypes.joined(separator: ", ")],
            accept: [200], what: what, cancellation: cancellation)
        let bytes = response.body
        let digest = Digest.of(bytes, algorithm: expected?.algorithm ?? .sha256)
        if let expected, digest != expected {
            throw RegistryError(.digestMismatch, "\(repository.display) served a manifest for \(expected) that hashes to \(digest): the registry or something between is corrupting or tampering with content; nothing was stored")
        }
        if expected == nil, let header = response.headers["Docker-Content-Digest"], let claimed = try? Digest(parsing: header) {
            let actual = claimed.algorithm == digest.algorithm ? digest : Digest.of(bytes, algorithm: claimed.algorithm)
            guard actual == claimed else {
                throw RegistryError(.digestMismatch, "\(repository.display) says \(what) is \(claimed), but the bytes it served hash to \(actual); nothing was stored")
            }
        }
        let document: ManifestDocument
        do {
            document = try ManifestDocument(decoding: bytes, mediaType: response.headers["Content-Type"])
        } catch {
            throw RegistryError(.protocolError, "\(repository.display) served an unusable \(what): \(error)", cause: error)
        }
        let mediaType = response.headers["Content-Type"].flatMap(RegistryClient.documentType) ?? document.mediaType
        return FetchedDocument(descriptor: Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count)), bytes: bytes, document: document)
    }

    /// The manifest or index media type of a `Content-Type`, ignoring parameters; nil for
    /// anything else.
    static func documentType(_ contentType: String) -> String? {
        let essence = (contentType.split(separator: ";").first.map { $0.trimmingWhitespace() } ?? "").lowercased()
        return MediaType.manifestTypes.contains(essence) || MediaType.indexTypes.contains(essence) ? essence : nil
    }
}
