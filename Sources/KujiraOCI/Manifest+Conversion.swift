// Conversion between OCI image manifests/indexes (image-spec manifest.md, image-index.md)
// and Docker's image manifest v2 schema 2 / manifest list. Config and layer blobs are the
// same bytes in both worlds, so converting a manifest only rewrites media types; the
// converted manifest is a new document with a new digest.

extension Manifest {
    /// Whether this is a Docker schema 2 manifest (by its `mediaType`).
    public var isDocker: Bool { mediaType == MediaType.dockerManifest }

    /// This manifest as an OCI image manifest: the manifest, config and layer media types
    /// mapped from Docker's to OCI's (foreign layers become non-distributable ones). An OCI
    /// manifest is returned with its media type set and otherwise unchanged.
    /// - Throws: ``OCIError`` with code ``OCIError/Code/unsupportedMediaType`` for a Docker
    ///   manifest whose config or a layer has a type with no OCI equivalent.
    public func convertedToOCI() throws -> Manifest {
        var out = self
        out.mediaType = MediaType.imageManifest
        guard isDocker else { return out }
        out.config.mediaType = try Self.mapped(config.mediaType, MediaTypeMapping.dockerToOCIConfig, role: "config", to: "OCI")
        out.layers = try layers.map { layer in
            var layer = layer
            layer.mediaType = try Self.mapped(layer.mediaType, MediaTypeMapping.dockerToOCILayer, role: "layer \(layer.digest)", to: "OCI")
            return layer
        }
        return out
    }

    /// This manifest as a Docker image manifest v2 schema 2. Docker's format has no
    /// manifest-level annotations (they are dropped), no artifacts, no `subject`, no zstd
    /// layers and no uncompressed non-distributable layers.
    /// - Throws: ``OCIError`` with code ``OCIError/Code/unsupportedDocument`` for an artifact
    ///   or a manifest with a `subject`, and ``OCIError/Code/unsupportedMediaType`` for a
    ///   config or layer type with no Docker equivalent (such as zstd).
    public func convertedToDocker() throws -> Manifest {
        if isDocker { return self }
        if artifactType != nil || subject != nil {
            throw OCIError(
                .unsupportedDocument,
                "cannot convert manifest to Docker schema 2: it is an artifact or has a subject, which Docker's format cannot express; keep it as OCI")
        }
        var out = self
        out.mediaType = MediaType.dockerManifest
        out.annotations = nil
        out.config.mediaType = try Self.mapped(config.mediaType, MediaTypeMapping.ociToDockerConfig, role: "config", to: "Docker schema 2")
        out.layers = try layers.map { layer in
            var layer = layer
            layer.mediaType = try Self.mapped(layer.mediaType, MediaTypeMapping.ociToDockerLayer, role: "layer \(layer.digest)", to: "Docker schema 2")
            return layer
        }
        return out
    }

    static func mapped(_ type: String, _ table: [String: String], role: String, to target: String) throws -> String {
        if let mapped = table[type] { return mapped }
        if table.values.contains(type) { return type }
        var hint = ""
        if MediaType.layerCompression(type) == .zstd {
            hint = "; Docker schema 2 has no zstd layers, so keep the image as OCI or recompress it with gzip"
        }
        throw OCIError(.unsupportedMediaType, "cannot convert \(role) of media type \(type) to \(target)\(hint)")
    }
}

extension Index {
    /// Whether this is a Docker manifest list (by its `mediaType`).
    public var isDocker: Bool { mediaType == MediaType.dockerManifestList }

    /// This index as an OCI image index.
    ///
    /// Each entry points to a manifest by digest, and converting that manifest changes its
    /// digest; so an entry of a Docker type must be replaced by the descriptor of its
    /// converted manifest, passed in `converted` keyed by the entry's current digest. The
    /// entry's `platform`, `annotations` and `urls` are kept when the replacement has none.
    /// Entries already of an OCI type are kept.
    /// - Throws: ``OCIError`` with code ``OCIError/Code/unsupportedMediaType`` for an entry
    ///   of a Docker type with no replacement.
    public func convertedToOCI(replacing converted: [Digest: Descriptor] = [:]) throws -> Index {
        var out = self
        out.mediaType = MediaType.imageIndex
        out.manifests = try manifests.map { entry in
            try Self.convertedEntry(entry, converted, allowed: [MediaType.imageManifest, MediaType.imageIndex], target: "OCI")
        }
        return out
    }

    /// This index as a Docker manifest list. Entries of an OCI type must be replaced by the
    /// descriptors of their converted manifests (see ``convertedToOCI(replacing:)``); a
    /// manifest list cannot contain another list, annotations of the index are dropped, and
    /// an artifact index or one with a `subject` cannot be converted.
    /// - Throws: ``OCIError`` with code ``OCIError/Code/unsupportedDocument`` or
    ///   ``OCIError/Code/unsupportedMediaType``.
    public func convertedToDocker(replacing converted: [Digest: Descriptor] = [:]) throws -> Index {
        if artifactType != nil || subject != nil {
            throw OCIError(
                .unsupportedDocument,
                "cannot convert index to a Docker manifest list: it is an artifact or has a subject, which Docker's format cannot express; keep it as OCI")
        }
        var out = self
        out.mediaType = MediaType.dockerManifestList
        out.annotations = nil
        out.manifests = try manifests.map { entry in
            try Self.convertedEntry(entry, converted, allowed: [MediaType.dockerManifest], target: "Docker manifest list")
        }
        return out
    }

    static func convertedEntry(
        _ entry: Descriptor, _ converted: [Digest: Descriptor], allowed: Set<String>, target: String
    ) throws -> Descriptor {
        if var replacement = converted[entry.digest] {
            replacement.platform = replacement.platform ?? entry.platform
            replacement.annotations = replacement.annotations ?? entry.annotations
            replacement.urls = replacement.urls ?? entry.urls
            guard allowed.contains(replacement.mediaType) else {
                throw OCIError(
                    .unsupportedMediaType,
                    "replacement for index entry \(entry.digest) has media type \(replacement.mediaType), which a \(target) cannot hold")
            }
            return replacement
        }
        if allowed.contains(entry.mediaType) { return entry }
        throw OCIError(
            .unsupportedMediaType,
            "index entry \(entry.digest) (\(entry.mediaType)) cannot be put in a \(target) as is: convert that manifest first and pass its new descriptor")
    }
}

/// The media type tables used by the conversions.
enum MediaTypeMapping {
    static let dockerToOCIConfig = [MediaType.dockerConfig: MediaType.imageConfig]
    static let dockerToOCILayer = [
        MediaType.dockerLayer: MediaType.layer,
        MediaType.dockerLayerGzip: MediaType.layerGzip,
        MediaType.dockerForeignLayerGzip: MediaType.layerNonDistributableGzip,
    ]
    static let ociToDockerConfig = [MediaType.imageConfig: MediaType.dockerConfig]
    static let ociToDockerLayer = [
        MediaType.layer: MediaType.dockerLayer,
        MediaType.layerGzip: MediaType.dockerLayerGzip,
        MediaType.layerNonDistributableGzip: MediaType.dockerForeignLayerGzip,
    ]
}
