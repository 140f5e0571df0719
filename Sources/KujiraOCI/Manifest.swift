/// An image manifest (image-spec manifest.md). Also decodes Docker's image manifest v2
/// schema 2, which has the same shape with Docker media types.
public struct Manifest: Codable, Hashable, Sendable {
    /// Always 2.
    public var schemaVersion: Int
    /// `application/vnd.oci.image.manifest.v1+json` or Docker's schema-2 type. Optional in
    /// OCI documents, required in Docker ones.
    public var mediaType: String?
    /// The type of an artifact, when this manifest describes one.
    public var artifactType: String?
    /// The image configuration (or an artifact's config).
    public var config: Descriptor
    /// The layers, base first.
    public var layers: [Descriptor]
    /// A manifest this one refers to (referrers API).
    public var subject: Descriptor?
    /// Arbitrary metadata.
    public var annotations: [String: String]?

    /// Creates a manifest.
    public init(
        schemaVersion: Int = 2, mediaType: String? = MediaType.imageManifest, artifactType: String? = nil,
        config: Descriptor, layers: [Descriptor], subject: Descriptor? = nil,
        annotations: [String: String]? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.mediaType = mediaType
        self.artifactType = artifactType
        self.config = config
        self.layers = layers
        self.subject = subject
        self.annotations = annotations
    }
}

/// An image index (image-spec image-index.md). Also decodes Docker's manifest list.
public struct Index: Codable, Hashable, Sendable {
    /// Always 2.
    public var schemaVersion: Int
    /// `application/vnd.oci.image.index.v1+json` or Docker's manifest list type.
    public var mediaType: String?
    /// The type of an artifact, when this index describes one.
    public var artifactType: String?
    /// The manifests (or nested indexes), each usually with a platform.
    public var manifests: [Descriptor]
    /// A manifest this one refers to (referrers API).
    public var subject: Descriptor?
    /// Arbitrary metadata.
    public var annotations: [String: String]?

    /// Creates an index.
    public init(
        schemaVersion: Int = 2, mediaType: String? = MediaType.imageIndex, artifactType: String? = nil,
        manifests: [Descriptor], subject: Descriptor? = nil, annotations: [String: String]? = nil
    ) {
        self.schemaVersion = schemaVersion
        self.mediaType = mediaType
        self.artifactType = artifactType
        self.manifests = manifests
        self.subject = subject
        self.annotations = annotations
    }
}
