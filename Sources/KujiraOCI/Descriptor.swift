/// A content descriptor (image-spec descriptor.md): the typed, sized, digested pointer to a
/// blob that every manifest, index and layout uses.
public struct Descriptor: Codable, Hashable, Sendable {
    /// The media type of the referenced content.
    public var mediaType: String
    /// The digest of the referenced content.
    public var digest: Digest
    /// The size in bytes of the referenced content.
    public var size: Int64
    /// URLs from which the content may be downloaded (foreign layers).
    public var urls: [String]?
    /// Arbitrary metadata, e.g. `org.opencontainers.image.ref.name` in a layout index.
    public var annotations: [String: String]?
    /// The embedded content, base64 in JSON; must match `digest` and `size` when present.
    public var data: String?
    /// The platform of the referenced manifest, in an index.
    public var platform: Platform?
    /// The type of an artifact when the descriptor points to an artifact manifest.
    public var artifactType: String?

    /// Creates a descriptor.
    public init(
        mediaType: String, digest: Digest, size: Int64, urls: [String]? = nil,
        annotations: [String: String]? = nil, data: String? = nil, platform: Platform? = nil,
        artifactType: String? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.urls = urls
        self.annotations = annotations
        self.data = data
        self.platform = platform
        self.artifactType = artifactType
    }

    /// The annotation key of a tag in an OCI layout's `index.json`.
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"
}
