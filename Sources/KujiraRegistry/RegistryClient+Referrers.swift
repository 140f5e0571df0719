public import KujiraOCI

extension RegistryClient {
    /// The manifests that refer to `reference`'s manifest through their `subject` (signatures,
    /// SBOMs, attestations): `GET /v2/NAME/referrers/DIGEST`, or, for registries without the
    /// referrers API (distribution 2.8), the index tagged `sha256-HEX` (the tag schema).
    ///
    /// - Parameter artifactType: only referrers of this artifact type.
    /// - Throws: ``RegistryError``; a reference without digest is resolved first.
    public func referrers(of reference: Reference, artifactType: String? = nil) async throws -> [Descriptor] {
        let digest: Digest
        if let pinned = reference.digest {
            digest = pinned
        } else {
            digest = try await resolve(reference).digest
        }
        return try await blocking { flag in
            let repository = Repository(reference)
            var query: [(String, String)] = []
            if let artifactType { query.append(("artifactType", artifactType)) }
            let response = try self.perform(
                "GET", repository, path: "/v2/\(repository.path)/referrers/\(digest)", query: query,
                headers: ["Accept": MediaType.imageIndex], accept: [200, 404], what: "referrers of \(digest)", cancellation: flag)
            var entries: [Descriptor]
            if response.status == 200, let index = try? CanonicalJSON.decode(Index.self, from: response.body, what: "referrers index") {
                entries = index.manifests
            } else {
                entries = try self.referrersTagIndex(digest, repository: repository, cancellation: flag)?.manifests ?? []
            }
            if let artifactType { entries = entries.filter { $0.artifactType == artifactType } }
            return entries
        }
    }

    /// The tag of the referrers tag schema for `digest`: `ALGORITHM-HEX`, cut to 128 characters.
    public static func referrersTag(for digest: Digest) -> String {
        String("\(digest.algorithm.rawValue)-\(digest.encoded)".prefix(128))
    }

    /// The fallback index of referrers, or nil when the tag does not exist.
    func referrersTagIndex(_ digest: Digest, repository: Repository, cancellation: CancellationFlag?) throws -> Index? {
        let tag = RegistryClient.referrersTag(for: digest)
        let response = try perform(
            "GET", repository, path: "/v2/\(repository.path)/manifests/\(tag)",
            headers: ["Accept": "\(MediaType.imageIndex), \(MediaType.dockerManifestList)"],
            accept: [200, 404], what: "manifest for tag \(tag)", cancellation: cancellation)
        guard response.status == 200 else { return nil }
        do {
            return try CanonicalJSON.decode(Index.self, from: response.body, what: "referrers index \(tag)")
        } catch {
            throw RegistryError(.protocolError, "\(repository.display) has a tag \(tag) that is not a referrers index: \(error)", cause: error)
        }
    }

    /// Adds `entry` to the fallback referrers index of `subject` (creating it), unless present.
    func addToReferrersTag(_ subject: Descriptor, entry: Descriptor, repository: Repository, cancellation: CancellationFlag?) throws {
        var index = try referrersTagIndex(subject.digest, repository: repository, cancellation: cancellation)
            ?? Index(mediaType: MediaType.imageIndex, manifests: [])
        guard !index.manifests.contains(where: { $0.digest == entry.digest }) else { return }
        index.manifests.append(entry)
        let bytes = try CanonicalJSON.encode(index)
        let descriptor = Descriptor(mediaType: MediaType.imageIndex, digest: Digest.of(bytes), size: Int64(bytes.count))
        try putManifest(descriptor, bytes: bytes, tag: RegistryClient.referrersTag(for: subject.digest), to: repository, cancellation: cancellation)
    }

    /// The subject of a manifest or index, and the descriptor that lists it among the
    /// subject's referrers (with `artifactType` and `annotations`); nil without a subject.
    static func subjectAndEntry(of bytes: [UInt8], descriptor: Descriptor) throws -> (subject: Descriptor, entry: Descriptor)? {
        var entry = descriptor
        switch try ManifestDocument(decoding: bytes, mediaType: descriptor.mediaType) {
        case .manifest(let manifest):
            guard let subject = manifest.subject else { return nil }
            entry.artifactType = manifest.artifactType ?? manifest.config.mediaType
            entry.annotations = manifest.annotations
            return (subject, entry)
        case .index(let index):
            guard let subject = index.subject else { return nil }
            entry.artifactType = index.artifactType
            entry.annotations = index.annotations
            return (subject, entry)
        }
    }
}
