/// Media types of the OCI image spec (media-types.md) and Docker's image manifest v2
/// schema 2, as constants. Media types are plain strings on the wire; these name them.
public enum MediaType {
    /// `application/vnd.oci.descriptor.v1+json`
    public static let descriptor = "application/vnd.oci.descriptor.v1+json"
    /// `application/vnd.oci.layout.header.v1+json`
    public static let layoutHeader = "application/vnd.oci.layout.header.v1+json"
    /// `application/vnd.oci.image.index.v1+json`
    public static let imageIndex = "application/vnd.oci.image.index.v1+json"
    /// `application/vnd.oci.image.manifest.v1+json`
    public static let imageManifest = "application/vnd.oci.image.manifest.v1+json"
    /// `application/vnd.oci.image.config.v1+json`
    public static let imageConfig = "application/vnd.oci.image.config.v1+json"
    /// `application/vnd.oci.image.layer.v1.tar`
    public static let layer = "application/vnd.oci.image.layer.v1.tar"
    /// `application/vnd.oci.image.layer.v1.tar+gzip`
    public static let layerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    /// `application/vnd.oci.image.layer.v1.tar+zstd`
    public static let layerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    /// `application/vnd.oci.image.layer.nondistributable.v1.tar` (deprecated)
    public static let layerNonDistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar"
    /// `application/vnd.oci.image.layer.nondistributable.v1.tar+gzip` (deprecated)
    public static let layerNonDistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    /// `application/vnd.oci.image.layer.nondistributable.v1.tar+zstd` (deprecated)
    public static let layerNonDistributableZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
    /// `application/vnd.oci.empty.v1+json`, the `{}` blob of artifacts.
    public static let empty = "application/vnd.oci.empty.v1+json"

    /// Docker `application/vnd.docker.distribution.manifest.v2+json`
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    /// Docker `application/vnd.docker.distribution.manifest.list.v2+json`
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    /// Docker `application/vnd.docker.container.image.v1+json`
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    /// Docker `application/vnd.docker.image.rootfs.diff.tar` (uncompressed layer)
    public static let dockerLayer = "application/vnd.docker.image.rootfs.diff.tar"
    /// Docker `application/vnd.docker.image.rootfs.diff.tar.gzip`
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    /// Docker `application/vnd.docker.image.rootfs.foreign.diff.tar.gzip`
    public static let dockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
    /// Docker schema 1 signed manifest: recognised only to reject it clearly.
    public static let dockerManifestV1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"
    /// Docker schema 1 unsigned manifest: recognised only to reject it clearly.
    public static let dockerManifestV1 = "application/vnd.docker.distribution.manifest.v1+json"
    /// Docker schema 1 media types, which Kujira rejects with a clear error.
    public static let dockerSchema1Types: Set<String> = [dockerManifestV1, dockerManifestV1Signed]

    /// Media types of image indexes (OCI index, Docker manifest list).
    public static let indexTypes: Set<String> = [imageIndex, dockerManifestList]
    /// Media types of image manifests (OCI, Docker schema 2).
    public static let manifestTypes: Set<String> = [imageManifest, dockerManifest]
    /// Media types of image configs.
    public static let configTypes: Set<String> = [imageConfig, dockerConfig]

    /// The compression of a layer media type, or `nil` if `mediaType` is not a layer type
    /// Kujira can unpack.
    public static func layerCompression(_ mediaType: String) -> LayerCompression? {
        switch mediaType {
        case layer, layerNonDistributable, dockerLayer:
            return LayerCompression.none
        case layerGzip, layerNonDistributableGzip, dockerLayerGzip, dockerForeignLayerGzip:
            return .gzip
        case layerZstd, layerNonDistributableZstd, "application/vnd.docker.image.rootfs.diff.tar.zstd":
            return .zstd
        default:
            return nil
        }
    }
}

/// The compression of a layer blob.
public enum LayerCompression: String, Sendable, Codable, CaseIterable {
    /// An uncompressed tar stream.
    case none
    /// gzip (RFC 1952).
    case gzip
    /// Zstandard (RFC 8878).
    case zstd

    /// The OCI layer media type for this compression.
    public var ociMediaType: String {
        switch self {
        case .none: MediaType.layer
        case .gzip: MediaType.layerGzip
        case .zstd: MediaType.layerZstd
        }
    }
}
