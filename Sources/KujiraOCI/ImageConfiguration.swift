/// An image configuration (image-spec config.md, "Properties"): the JSON blob a manifest's
/// `config` descriptor points to, with media type `application/vnd.oci.image.config.v1+json`
/// or Docker's `application/vnd.docker.container.image.v1+json` (the same shape).
///
/// Keys Docker and BuildKit add at the top level (`container`, `container_config`,
/// `docker_version`, `moby.buildkit.buildinfo.v1`, …) are accepted and dropped. That is safe
/// because Kujira never re-encodes a config blob it stored: the image ID and the manifest's
/// config digest are of the original bytes. Only configs Kujira creates are encoded, with
/// ``CanonicalJSON``.
public struct ImageConfiguration: Codable, Hashable, Sendable {
    /// `created`: when the image was created, as the original RFC 3339 string so that the
    /// bytes round-trip; see ``createdTimestamp`` for the parsed value. Optional.
    public var created: String?
    /// `author`: the name and/or email of the person or entity that created the image.
    public var author: String?
    /// `architecture`: the CPU architecture of the binaries, in Go's `GOARCH` terms
    /// (`amd64`, `arm64`, …). Required.
    public var architecture: String
    /// `os`: the operating system, in Go's `GOOS` terms (`linux`). Required.
    public var os: String
    /// `os.version`: the version of the operating system (Windows images).
    public var osVersion: String?
    /// `os.features`: required OS features (Windows images).
    public var osFeatures: [String]?
    /// `variant`: the CPU variant (`v7` for `arm`, `v8` for `arm64`).
    public var variant: String?
    /// `config`: the execution parameters to use as defaults when running a container.
    public var config: ImageConfig?
    /// `rootfs`: the layer content addresses (DiffIDs) of the image. Required.
    public var rootfs: RootFS
    /// `history`: the history of each layer, base first; entries with `empty_layer` do not
    /// correspond to a layer.
    public var history: [History]?

    /// Creates an image configuration.
    public init(
        created: String? = nil, author: String? = nil, architecture: String, os: String,
        osVersion: String? = nil, osFeatures: [String]? = nil, variant: String? = nil,
        config: ImageConfig? = nil, rootfs: RootFS = RootFS(), history: [History]? = nil
    ) {
        self.created = created
        self.author = author
        self.architecture = architecture
        self.os = os
        self.osVersion = osVersion
        self.osFeatures = osFeatures
        self.variant = variant
        self.config = config
        self.rootfs = rootfs
        self.history = history
    }

    /// The platform this image is for, from `os`, `architecture`, `variant`, `os.version`
    /// and `os.features`.
    public var platform: Platform {
        Platform(architecture: architecture, os: os, osVersion: osVersion, osFeatures: osFeatures, variant: variant)
    }

    /// ``created`` parsed, or `nil` when it is absent or not RFC 3339.
    public var createdTimestamp: Timestamp? {
        created.flatMap { try? Timestamp(parsing: $0) }
    }

    enum CodingKeys: String, CodingKey {
        case created, author, architecture, os, variant, config, rootfs, history
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }
}

/// The `rootfs` object of an image configuration (image-spec config.md): the DiffIDs of the
/// layers, the digests of their *uncompressed* tar streams, base first.
public struct RootFS: Codable, Hashable, Sendable {
    /// `type`: must be `layers`.
    public var type: String
    /// `diff_ids`: the digest of each uncompressed layer, base first.
    public var diffIDs: [Digest]

    /// The only `type` the spec defines.
    public static let layersType = "layers"

    /// Creates a rootfs section.
    public init(type: String = RootFS.layersType, diffIDs: [Digest] = []) {
        self.type = type
        self.diffIDs = diffIDs
    }

    enum CodingKeys: String, CodingKey {
        case type
        case diffIDs = "diff_ids"
    }
}

/// One entry of an image configuration's `history` (image-spec config.md).
public struct History: Codable, Hashable, Sendable {
    /// `created`: when the layer was created, as the original RFC 3339 string.
    public var created: String?
    /// `created_by`: the command that created the layer.
    public var createdBy: String?
    /// `author`: the author of the build point.
    public var author: String?
    /// `comment`: a custom message set when creating the layer.
    public var comment: String?
    /// `empty_layer`: `true` when this history entry did not create a layer (e.g. `ENV`),
    /// so that history entries and `rootfs.diff_ids` can be paired up.
    public var emptyLayer: Bool?

    /// Creates a history entry.
    public init(
        created: String? = nil, createdBy: String? = nil, author: String? = nil, comment: String? = nil,
        emptyLayer: Bool? = nil
    ) {
        self.created = created
        self.createdBy = createdBy
        self.author = author
        self.comment = comment
        self.emptyLayer = emptyLayer
    }

    /// ``created`` parsed, or `nil` when it is absent or not RFC 3339.
    public var createdTimestamp: Timestamp? {
        created.flatMap { try? Timestamp(parsing: $0) }
    }

    enum CodingKeys: String, CodingKey {
        case created, author, comment
        case createdBy = "created_by"
        case emptyLayer = "empty_layer"
    }
}
