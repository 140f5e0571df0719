import KujiraOCI
import Foundation

/// The shape of an image graph (index → manifests → config + layers), decoded from blob
/// bytes: which descriptors have children, what they are, and which media types Kujira
/// accepts where. Pure: it never touches the disk, so the content store, OCI layouts and
/// (later) registries all walk graphs the same way.
enum ImageGraph {
    /// Whether a descriptor names a document (index or manifest) whose children must be
    /// read to walk the graph.
    static func hasChildren(_ descriptor: Descriptor) -> Bool {
        MediaType.indexTypes.contains(descriptor.mediaType) || MediaType.manifestTypes.contains(descriptor.mediaType)
    }

    /// The children of `descriptor` given its content: an index's manifests, or a
    /// manifest's config then layers; nothing for any other media type.
    ///
    /// - Parameters:
    ///   - image: names the image in error messages.
    ///   - strict: also rejects media types Kujira does not handle and documents whose own
    ///     `mediaType` contradicts their descriptor (used when importing; garbage collection
    ///     walks leniently so that it never fails on an odd image).
    static func children(of descriptor: Descriptor, content bytes: [UInt8], image: String, strict: Bool) throws -> [Descriptor] {
        if MediaType.indexTypes.contains(descriptor.mediaType) {
            let index: Index = try decode(Index.self, bytes, descriptor: descriptor, what: "index", image: image)
            if strict {
                try checkDocumentType(index.mediaType, descriptor: descriptor, image: image)
                for child in index.manifests { try checkReferable(child, image: image) }
            }
            return index.manifests
        }
        if MediaType.manifestTypes.contains(descriptor.mediaType) {
            let manifest: Manifest = try decode(Manifest.self, bytes, descriptor: descriptor, what: "manifest", image: image)
            if strict {
                try checkDocumentType(manifest.mediaType, descriptor: descriptor, image: image)
                try checkManifestParts(manifest, descriptor: descriptor, image: image)
            }
            return [manifest.config] + manifest.layers
        }
        return []
    }

    /// Checks that `descriptor` may be the target of a tag or an index entry: an OCI or
    /// Docker schema-2 manifest or index.
    static func checkReferable(_ descriptor: Descriptor, image: String) throws {
        if hasChildren(descriptor) { return }
        if descriptor.mediaType == MediaType.dockerManifestV1Signed {
            throw ImageStoreError(.unsupportedMediaType, "unsupported media type \(descriptor.mediaType) in image \(image): \(descriptor.digest) is a Docker schema 1 manifest, which Kujira does not read; convert the image to schema 2 or OCI (e.g. `skopeo copy --format oci`)")
        }
        throw ImageStoreError(.unsupportedMediaType, "unsupported media type \(descriptor.mediaType) in image \(image): \(descriptor.digest) must be an OCI or Docker image manifest or index")
    }

    /// The config digest of `manifest` bytes, when they decode.
    static func configDigest(ofManifest bytes: [UInt8]) -> Digest? {
        (try? JSONDecoder().decode(Manifest.self, from: Data(bytes)))?.config.digest
    }

    /// The entry of an index to use on this host: the first whose platform matches
    /// (`linux` and the host architecture; a missing platform matches too).
    static func hostManifest(in index: Index) -> Descriptor? {
        Platform.host.bestMatch(in: index.manifests.filter(hasChildren))
    }

    /// Decodes a JSON document, turning a decoding failure into one clear line.
    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], descriptor: Descriptor, what: String, image: String) throws -> T {
        do {
            let value = try JSONDecoder().decode(type, from: Data(bytes))
            if let schema = (value as? Manifest)?.schemaVersion ?? (value as? Index)?.schemaVersion, schema != 2 {
                throw ImageStoreError(.malformedDocument, "malformed \(what) \(descriptor.digest) in image \(image): schemaVersion is \(schema), expected 2")
            }
            return value
        } catch let error as ImageStoreError {
            throw error
        } catch {
            throw ImageStoreError(.malformedDocument, "malformed \(what) \(descriptor.digest) in image \(image): \(summary(of: error)); the image is broken, rebuild or pull it again")
        }
    }

    /// A one-line summary of a JSON decoding error.
    static func summary(of error: any Error) -> String {
        guard let error = error as? DecodingError else { return String(describing: error) }
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.isEmpty ? "the document" : codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "not valid JSON" }
            return "invalid value at \(path(context.codingPath)): \(context.debugDescription)"
        case .keyNotFound(let key, let context):
            return "missing field \"\(key.stringValue)\" in \(path(context.codingPath))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "wrong type at \(path(context.codingPath))"
        @unknown default:
            return "cannot decode: \(error)"
        }
    }

    private static func checkDocumentType(_ documentType: String?, descriptor: Descriptor, image: String) throws {
        if let documentType, documentType != descriptor.mediaType {
            throw ImageStoreError(.malformedDocument, "malformed document \(descriptor.digest) in image \(image): its mediaType is \(documentType) but the descriptor pointing to it says \(descriptor.mediaType)")
        }
    }

    /// An image manifest must have an image config and layers Kujira can unpack; an
    /// artifact manifest (artifactType set, or a non-image config) may carry anything.
    private static func checkManifestParts(_ manifest: Manifest, descriptor: Descriptor, image: String) throws {
        let configType = manifest.config.mediaType
        let isImage = manifest.artifactType == nil && !isArtifactConfig(configType)
        guard isImage else { return }
        guard MediaType.configTypes.contains(configType) else {
            throw ImageStoreError(.unsupportedMediaType, "unsupported media type \(configType) in image \(image): config \(manifest.config.digest) of manifest \(descriptor.digest) is not an OCI or Docker image config")
        }
        for layer in manifest.layers where MediaType.layerCompression(layer.mediaType) == nil {
            throw ImageStoreError(.unsupportedMediaType, "unsupported media type \(layer.mediaType) in image \(image): layer \(layer.digest) of manifest \(descriptor.digest) is not a tar, tar+gzip or tar+zstd layer")
        }
    }

    /// Config types that mark an artifact rather than a runnable image: the empty config,
    /// and any type that is not one of the image config types but is not a known
    /// image-spec type either (Helm charts, signatures, SBOMs, …).
    private static func isArtifactConfig(_ mediaType: String) -> Bool {
        if MediaType.configTypes.contains(mediaType) { return false }
        if mediaType == MediaType.empty { return true }
        return !mediaType.hasPrefix("application/vnd.oci.image.") && !mediaType.hasPrefix("application/vnd.docker.")
    }
}

/// The platform of this host, for picking an index entry, with containerd's variant
/// fallbacks (``KujiraOCI/Platform/matches(_:)``).
enum HostPlatform {
    /// The host architecture in Go's `GOARCH` terms.
    static var architecture: String { Platform.host.architecture }

    /// Whether `platform` runs here; an entry without a platform is taken to.
    static func matches(_ platform: Platform?) -> Bool {
        guard let platform else { return true }
        return Platform.host.matches(platform)
    }
}
