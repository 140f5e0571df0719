/// The platform an image runs on (image-spec image-index.md, `platform`), e.g.
/// `linux/arm64/v8`. Parsing, normalisation and host matching live in
/// `Platform+Matching.swift`.
public struct Platform: Codable, Hashable, Sendable {
    /// The CPU architecture in Go's `GOARCH` terms (`amd64`, `arm64`, `arm`, `386`, …).
    public var architecture: String
    /// The operating system in Go's `GOOS` terms (`linux`, `windows`, …).
    public var os: String
    /// The operating system version (Windows images).
    public var osVersion: String?
    /// Mandatory OS features (Windows images).
    public var osFeatures: [String]?
    /// The CPU variant, e.g. `v7` for `arm`, `v8` for `arm64`.
    public var variant: String?
    /// Reserved by the spec for CPU features; kept for round-tripping.
    public var features: [String]?

    /// Creates a platform.
    public init(
        architecture: String, os: String, osVersion: String? = nil, osFeatures: [String]? = nil,
        variant: String? = nil, features: [String]? = nil
    ) {
        self.architecture = architecture
        self.os = os
        self.osVersion = osVersion
        self.osFeatures = osFeatures
        self.variant = variant
        self.features = features
    }

    enum CodingKeys: String, CodingKey {
        case architecture, os, variant, features
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }
}
