public import KujiraOCI

/// What `kujira images` and `image inspect` show of an image: the manifest used on this host,
/// its decoded configuration and the size of its content.
public struct ImageDetails: Sendable {
    /// The image record.
    public var record: ImageRecord
    /// The descriptor of the manifest used on this host (the record's target, or the host
    /// platform's entry of its index).
    public var manifestDescriptor: Descriptor
    /// The manifest.
    public var manifest: Manifest
    /// The image configuration.
    public var configuration: ImageConfiguration
    /// The bytes of the manifest, config and layers as stored (compressed layers).
    public var size: Int64
}

extension ImageStore {
    /// The manifest for this host and the configuration of `record`'s image; every blob read
    /// is verified.
    /// - Throws: ``ImageStoreError`` when the image has no manifest for this platform or a
    ///   document is missing or malformed.
    public func details(of record: ImageRecord) throws -> ImageDetails {
        let image = record.name
        var descriptor = record.target
        if MediaType.indexTypes.contains(descriptor.mediaType) {
            let bytes = try content.read(descriptor.digest)
            let index = try ImageGraph.decode(Index.self, bytes, descriptor: descriptor, what: "index", image: image)
            guard let chosen = ImageGraph.hostManifest(in: index), content.contains(chosen.digest) else {
                let available = index.manifests.compactMap { $0.platform?.description }.joined(separator: ", ")
                throw ImageStoreError(.imageNotFound, "image \(image) has no manifest for \(Platform.host) in the store (it has: \(available.isEmpty ? "none" : available)); pull it for this platform")
            }
            descriptor = chosen
        }
        guard MediaType.manifestTypes.contains(descriptor.mediaType) else {
            throw ImageStoreError(.unsupportedMediaType, "image \(image): \(descriptor.digest) has media type \(descriptor.mediaType), not an image manifest")
        }
        let manifest = try ImageGraph.decode(Manifest.self, try content.read(descriptor.digest), descriptor: descriptor, what: "manifest", image: image)
        let configuration = try ImageGraph.decode(
            ImageConfiguration.self, try content.read(manifest.config.digest), descriptor: manifest.config, what: "image config", image: image)
        let size = descriptor.size + manifest.config.size + manifest.layers.reduce(0) { $0 + $1.size }
        return ImageDetails(record: record, manifestDescriptor: descriptor, manifest: manifest, configuration: configuration, size: size)
    }
}
