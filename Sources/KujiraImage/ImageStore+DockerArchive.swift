import KujiraOCI
import KujiraArchive
import Foundation

extension ImageStore {
    /// Loads a docker-archive (the `docker save` format, as Docker, skopeo and Kujira
    /// write it; the tar may itself be gzip- or zstd-compressed).
    ///
    /// The archive is read once, streaming: every member is ingested into the content store
    /// while it is read, so `manifest.json` may come first or last. Then, for each image in
    /// `manifest.json`: the config is stored as-is (its digest must match a digest in its
    /// file name), each layer's uncompressed digest must equal the config's
    /// `rootfs.diff_ids` entry, and layers are kept as they are in the archive (usually
    /// uncompressed tars, media type `application/vnd.oci.image.layer.v1.tar`, so the blob
    /// digest is the diff_id and a save → load round trip is byte-identical). The image gets
    /// an OCI manifest written with ``CanonicalJSON`` — or, when the archive also carries an
    /// OCI `index.json` (Docker 25+) with a manifest for the same config and layers, that
    /// manifest, so its digest is kept.
    ///
    /// Names: each `RepoTags` entry normalised through ``Reference``
    /// (`busybox:latest` → `docker.io/library/busybox:latest`). An image without RepoTags
    /// (Docker shows it as `<none>`) is named `localhost/untagged:<12 hex digits of its
    /// config digest>`. Nothing is tagged unless every selected image verified.
    ///
    /// - Parameters:
    ///   - only: load just the image with this RepoTag (normalised before comparing), and
    ///     tag only that name; nil loads everything.
    ///   - name: tag the loaded image with this name instead of its RepoTags; the archive
    ///     (after `only`) must hold exactly one image.
    /// - Returns: one record per name tagged, in `manifest.json` order.
    /// - Throws: ``ImageStoreError`` `.invalidArchive` (truncated or malformed archive,
    ///   missing member, layer count mismatch), `.digestMismatch` (naming the diff_id of a
    ///   corrupt layer), `.malformedDocument`, `.imageNotFound` (no image tagged `only`),
    ///   `.invalidArgument` (`name` with several images).
    @discardableResult
    public func loadDockerArchive(file: String, only: String?, name: String?) throws -> [ImageRecord] {
        try withWriteLease {
            let scanned = try ArchiveScanner.scan(file: file, into: content, blobsOnly: false)
            let plan = try dockerArchivePlan(scanned, only: only, name: name)
            return try plan.map { try put(name: $0.name, target: $0.target) }
        }
    }

    /// Loads an image archive of either kind, detected from its members: a docker-archive
    /// when it has `manifest.json` (Docker 25+ archives, which also carry an OCI
    /// `index.json`, are loaded as docker-archives, keeping the OCI manifest digests where
    /// they agree with `manifest.json`), else an oci-archive (`oci-layout` + `index.json`),
    /// whose every `index.json` entry is loaded and named like
    /// ``importOCIArchive(file:tag:name:)`` names it.
    /// - Returns: one record per name tagged.
    /// - Throws: as ``loadDockerArchive(file:only:name:)`` and
    ///   ``importOCIArchive(file:tag:name:)``; `.invalidArchive` when the archive is neither.
    @discardableResult
    public func loadArchive(file: String) throws -> [ImageRecord] {
        try withWriteLease {
            let scanned = try ArchiveScanner.scan(file: file, into: content, blobsOnly: false)
            let plan: [(name: String, target: Descriptor)]
            if scanned.documents["manifest.json"] != nil {
                plan = try dockerArchivePlan(scanned, only: nil, name: nil)
            } else if scanned.documents["index.json"] != nil {
                plan = try ociArchivePlanAll(scanned)
            } else {
                throw ImageStoreError(.invalidArchive, "archive \(file) has neither manifest.json (docker-archive) nor index.json (oci-archive); it is not an image archive")
            }
            return try plan.map { try put(name: $0.name, target: $0.target) }
        }
    }

    /// Verifies the images of a scanned docker-archive and stores their manifests; returns
    /// the names to tag (nothing is tagged here).
    func dockerArchivePlan(_ scanned: ScannedArchive, only: String?, name: String?) throws -> [(name: String, target: Descriptor)] {
        let file = scanned.file
        guard let json = scanned.documents["manifest.json"] else {
            if scanned.documents["repositories"] != nil {
                throw ImageStoreError(.invalidArchive, "archive \(file) is a legacy docker-archive (Docker before 1.10, no manifest.json), which Kujira does not load; save it again with a newer Docker")
            }
            throw ImageStoreError(.invalidArchive, "archive \(file) has no manifest.json; it is not a docker-archive")
        }
        let entries: [DockerArchiveManifestEntry]
        do {
            entries = try JSONDecoder().decode([DockerArchiveManifestEntry].self, from: Data(json))
        } catch {
            throw ImageStoreError(.malformedDocument, "malformed manifest.json in archive \(file): \(ImageGraph.summary(of: error)); the archive is broken, save it again")
        }
        guard !entries.isEmpty else {
            throw ImageStoreError(.invalidArchive, "archive \(file): manifest.json lists no images")
        }
        let wanted = try only.map { try ArchiveNaming.normalisedTag($0, file: file) }
        let ociManifests = try ociManifestsInDockerArchive(scanned)
        var plan = [(names: [String], target: Descriptor)]()
        var available = [String]()
        for (position, entry) in entries.enumerated() {
            var tags = try (entry.repoTags ?? []).map { try ArchiveNaming.normalisedTag($0, file: file) }
            available += tags
            if let wanted {
                guard tags.contains(wanted) else { continue }
                tags = [wanted]
            }
            let (target, config) = try dockerArchiveImage(entry, position: position, scanned: scanned, ociManifests: ociManifests)
            plan.append((tags.isEmpty ? [ArchiveNaming.untaggedName(config: config)] : tags, target))
        }
        if let wanted, plan.isEmpty {
            throw ImageStoreError(.imageNotFound, "archive \(file) has no image tagged \(wanted) (tags: \(available.isEmpty ? "none" : available.joined(separator: ", ")))")
        }
        if let name {
            guard plan.count == 1, let only = plan.first else {
                throw ImageStoreError(.invalidArgument, "archive \(file) holds \(plan.count) images, so they cannot all get the name \(name); choose one by its tag")
            }
            return [(name, only.target)]
        }
        return plan.flatMap { image in image.names.map { ($0, image.target) } }
    }

    /// Verifies one `manifest.json` entry and returns the manifest to tag and the config digest.
    private func dockerArchiveImage(_ entry: DockerArchiveManifestEntry, position: Int, scanned: ScannedArchive, ociManifests: [Descriptor]) throws -> (Descriptor, Digest) {
        let file = scanned.file
        let what = "image \(position + 1) of manifest.json in archive \(file)"
        guard let configMember = scanned.member(entry.config) else {
            throw ImageStoreError(.invalidArchive, "\(what) names config \(entry.config), which is not in the archive; the archive is incomplete, save it again")
        }
        if let claimed = ScannedArchive.digestInName(entry.config), claimed.algorithm == configMember.digest.algorithm, claimed != configMember.digest {
            throw ImageStoreError(.digestMismatch, "\(what): config \(entry.config) hashes to \(configMember.digest), not the digest its name claims; the archive is corrupt")
        }
        let configBytes = try ArchiveScanner.readJSONBlob(configMember.digest, size: configMember.size, what: "config", context: "archive \(file)", content: content)
        let config: ImageConfiguration
        do {
            config = try JSONDecoder().decode(ImageConfiguration.self, from: Data(configBytes))
        } catch {
            throw ImageStoreError(.malformedDocument, "\(what): malformed config \(entry.config): \(ImageGraph.summary(of: error))")
        }
        let diffIDs = config.rootfs.diffIDs
        guard entry.layers.count == diffIDs.count else {
            throw ImageStoreError(.invalidArchive, "\(what) lists \(entry.layers.count) layers but its config \(configMember.digest) has \(diffIDs.count) rootfs.diff_ids; the archive is inconsistent")
        }
        var layers = [Descriptor]()
        var diffIDCache = [Digest: Digest]()
        for (index, (path, expected)) in zip(entry.layers, diffIDs).enumerated() {
            guard let member = scanned.member(path) else {
                throw ImageStoreError(.invalidArchive, "\(what) names layer \(path), which is not in the archive; the archive is incomplete, save it again")
            }
            let actual: Digest
            if let cached = diffIDCache[member.digest] {
                actual = cached
            } else {
                actual = try ArchiveScanner.diffID(of: member, content: content, file: file)
                diffIDCache[member.digest] = actual
            }
            guard actual == expected else {
                throw ImageStoreError(.digestMismatch, "\(what): layer \(path) should have diff_id \(expected) (rootfs.diff_ids[\(index)] of config \(configMember.digest)) but its content hashes to \(actual); the layer is corrupt, nothing was tagged")
            }
            layers.append(Descriptor(mediaType: LayerWriter.mediaType(for: member.compression), digest: member.digest, size: member.size))
        }
        let configDescriptor = Descriptor(mediaType: MediaType.imageConfig, digest: configMember.digest, size: configMember.size)
        if let existing = try consistentOCIManifest(in: ociManifests, config: configDescriptor, layers: layers, file: file) {
            return (existing, configMember.digest)
        }
        let manifest = Manifest(config: configDescriptor, layers: layers)
        let target = try content.write(CanonicalJSON.encode(manifest), mediaType: MediaType.imageManifest)
        return (target, configMember.digest)
    }

    /// The image manifests named by a docker-archive's OCI `index.json` (Docker 25+),
    /// without their tag annotations; empty when there is none or it does not decode (the
    /// archive is then loaded from `manifest.json` alone).
    private func ociManifestsInDockerArchive(_ scanned: ScannedArchive) throws -> [Descriptor] {
        guard let json = scanned.documents["index.json"], let index = try? JSONDecoder().decode(Index.self, from: Data(json)) else { return [] }
        var result = [Descriptor]()
        for var entry in index.manifests where MediaType.manifestTypes.contains(entry.mediaType) && content.contains(entry.digest) {
            entry.annotations?[Descriptor.refNameAnnotation] = nil
            entry.annotations?[ArchiveNaming.containerdNameAnnotation] = nil
            if entry.annotations?.isEmpty == true { entry.annotations = nil }
            result.append(entry)
        }
        return result
    }

    /// The first of `candidates` whose config and layers have exactly the digests and sizes
    /// of `config` and `layers` and which passes the strict graph checks, or nil.
    private func consistentOCIManifest(in candidates: [Descriptor], config: Descriptor, layers: [Descriptor], file: String) throws -> Descriptor? {
        func key(_ descriptor: Descriptor) -> String { "\(descriptor.digest) \(descriptor.size)" }
        for candidate in candidates {
            guard try content.size(of: candidate.digest) == candidate.size else { continue }
            let bytes = try ArchiveScanner.readJSONBlob(candidate.digest, size: candidate.size, what: "manifest", context: "archive \(file)", content: content)
            guard let manifest = try? JSONDecoder().decode(Manifest.self, from: Data(bytes)),
                  key(manifest.config) == key(config), manifest.layers.map(key) == layers.map(key),
                  (try? ImageGraph.children(of: candidate, content: bytes, image: file, strict: true)) != nil
            else { continue }
            return candidate
        }
        return nil
    }
}
