/// A manifest-ish document fetched from a registry or read from a layout: an image manifest
/// or an image index, OCI or Docker schema 2, told apart by media type or by its shape.
///
/// Docker schema 1 manifests are rejected with ``OCIError/Code/unsupportedDocument``.
/// Documents whose shape is ambiguous (both `manifests` and `layers`/`config`), or whose
/// `mediaType` field contradicts the media type they were served with, are rejected too:
/// that is the fix for CVE-2021-41190 (image-spec manifest.md and image-index.md, "mediaType").
public enum ManifestDocument: Hashable, Sendable {
    /// An image manifest (OCI, or Docker schema 2).
    case manifest(Manifest)
    /// An image index (OCI, or Docker manifest list).
    case index(Index)

    /// The media types a registry client should send in `Accept` when fetching manifests,
    /// most preferred first.
    public static let acceptedMediaTypes: [String] = [
        MediaType.imageIndex, MediaType.imageManifest, MediaType.dockerManifestList, MediaType.dockerManifest,
    ]

    /// Decodes `bytes` as a manifest or index.
    ///
    /// - Parameters:
    ///   - bytes: The JSON document.
    ///   - mediaType: The media type it was served with (a `Content-Type`, parameters such as
    ///     `; charset=utf-8` are ignored) or found in a descriptor; `nil`, `application/json`
    ///     or `application/octet-stream` mean unknown, and the document's `mediaType` field
    ///     or its shape decides.
    /// - Throws: ``OCIError``: ``OCIError/Code/unsupportedDocument`` for schema 1 or another
    ///   schema version, ``OCIError/Code/unsupportedMediaType`` for a type that is neither a
    ///   manifest nor an index, ``OCIError/Code/malformedDocument`` for invalid, ambiguous or
    ///   contradictory JSON.
    public init(decoding bytes: [UInt8], mediaType: String? = nil) throws {
        let served = mediaType.flatMap(Self.essence)
        if let served, MediaType.dockerSchema1Types.contains(served) { throw Self.schema1Error }
        let probe = try CanonicalJSON.decode(ShapeProbe.self, from: bytes, what: "manifest")
        if probe.schemaVersion == 1 || probe.keys.contains("fsLayers") { throw Self.schema1Error }
        if let declared = probe.mediaType, MediaType.dockerSchema1Types.contains(declared) { throw Self.schema1Error }
        guard let version = probe.schemaVersion else {
            throw OCIError(.malformedDocument, "malformed manifest: missing field \"schemaVersion\"")
        }
        guard version == 2 else {
            throw OCIError(.unsupportedDocument, "unsupported manifest schemaVersion \(version): only 2 is defined for OCI and Docker manifests")
        }
        if let served, let declared = probe.mediaType, served != declared {
            throw OCIError(
                .malformedDocument,
                "malformed manifest: served as \(served) but its mediaType field says \(declared); refusing an ambiguous document")
        }
        let hasIndexShape = probe.keys.contains("manifests")
        let hasManifestShape = probe.keys.contains("layers") || probe.keys.contains("config")
        if hasIndexShape && hasManifestShape {
            throw OCIError(
                .malformedDocument,
                "malformed manifest: it has both \"manifests\" and \"layers\"/\"config\", so it could be read as an index or a manifest (CVE-2021-41190)")
        }
        let isIndex: Bool
        switch probe.mediaType ?? served {
        case let type? where MediaType.indexTypes.contains(type):
            isIndex = true
        case let type? where MediaType.manifestTypes.contains(type):
            isIndex = false
        case let type?:
            throw OCIError(
                .unsupportedMediaType,
                "unsupported manifest media type \(type): expected one of \(Self.acceptedMediaTypes.joined(separator: ", "))")
        case nil:
            guard hasIndexShape || hasManifestShape else {
                throw OCIError(.malformedDocument, "malformed manifest: it has neither \"manifests\" nor \"layers\", so it is neither an index nor a manifest")
            }
            isIndex = hasIndexShape
        }
        if isIndex {
            guard !hasManifestShape else {
                throw OCIError(.malformedDocument, "malformed image index: it has \"layers\"/\"config\", which belong to a manifest (CVE-2021-41190)")
            }
            self = .index(try CanonicalJSON.decode(Index.self, from: bytes, what: "image index"))
        } else {
            guard !hasIndexShape else {
                throw OCIError(.malformedDocument, "malformed image manifest: it has \"manifests\", which belongs to an index (CVE-2021-41190)")
            }
            self = .manifest(try CanonicalJSON.decode(Manifest.self, from: bytes, what: "image manifest"))
        }
    }

    /// The document's media type: its `mediaType` field, or the OCI type of its kind when
    /// the field is absent (it is optional in OCI documents).
    public var mediaType: String {
        switch self {
        case .manifest(let manifest): manifest.mediaType ?? MediaType.imageManifest
        case .index(let index): index.mediaType ?? MediaType.imageIndex
        }
    }

    /// The manifest, when this is one.
    public var manifest: Manifest? {
        if case .manifest(let manifest) = self { return manifest }
        return nil
    }

    /// The index, when this is one.
    public var index: Index? {
        if case .index(let index) = self { return index }
        return nil
    }

    static let schema1Error = OCIError(
        .unsupportedDocument,
        "Docker image manifest schema 1 is unsupported: it was deprecated in 2017 and registries no longer serve it for current images; pull a newer tag, or re-push the image with a current Docker or skopeo (skopeo copy --format v2s2)")

    /// The media type without parameters, lower-cased; `nil` for types that say nothing
    /// about the document.
    static func essence(_ contentType: String) -> String? {
        let bare = contentType.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        let type = bare.trimmingSpaces().lowercased()
        switch type {
        case "", "application/json", "application/octet-stream", "text/plain": return nil
        default: return type
        }
    }
}

/// The top-level keys, schema version and media type of a document, read before decoding it
/// as a specific type.
struct ShapeProbe: Decodable {
    let keys: Set<String>
    let schemaVersion: Int?
    let mediaType: String?

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        keys = Set(container.allKeys.map(\.stringValue))
        schemaVersion = try container.decodeIfPresent(Int.self, forKey: AnyKey("schemaVersion"))
        mediaType = try container.decodeIfPresent(String.self, forKey: AnyKey("mediaType"))
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
