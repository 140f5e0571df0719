import KujiraOCI
import KujiraArchive
import Foundation
import Glibc

extension ImageStore {
    /// Writes a docker-archive (the `docker save` format) holding `images`, which
    /// `docker load`, `skopeo copy docker-archive:FILE …` and
    /// ``loadDockerArchive(file:only:name:)`` read.
    ///
    /// Layout: `manifest.json` (one entry per image, with the names as `RepoTags`),
    /// `repositories` (the legacy `{"repo":{"tag":"<top layer id>"}}` map), the config as
    /// `<config hex>.json` (its bytes unchanged, so the image ID is kept) and each layer as
    /// `<diff_id hex>/layer.tar`, uncompressed (gzip and zstd layers are decompressed while
    /// written, after a first pass that measures them, so nothing is staged on disk).
    /// Members are sorted by path and every header has mtime 0 and owner 0:0, so saving the
    /// same images twice gives identical bytes. The legacy per-layer `json` and `VERSION`
    /// files and Docker 25's OCI `index.json` are not written; `docker load` needs neither.
    ///
    /// The file is written beside its destination and renamed into place when complete.
    /// For an image whose target is an index, the host platform's manifest is saved (a
    /// docker-archive holds one platform per image).
    ///
    /// - Parameter images: for each image, anything ``lookup(_:)`` accepts, and the name to
    ///   record in `RepoTags` (written as given, `:latest` added when it has no tag; empty
    ///   for none). Several names for one image become one entry with several RepoTags.
    /// - Throws: ``ImageStoreError`` `.imageNotFound`, `.invalidArgument` (no images, a name
    ///   that is not a reference or carries a digest), `.digestMismatch` when a stored blob
    ///   is corrupt or a layer does not match its diff_id, `.io`.
    public func saveDockerArchive(_ images: [(source: String, name: String)], to file: String) throws {
        guard !images.isEmpty else {
            throw ImageStoreError(.invalidArgument, "no images to save to \(file); name at least one")
        }
        try withWriteLease {
            var order = [Digest]()
            var saved = [Digest: SavedDockerImage]()
            for (source, name) in images {
                let tag = try Self.repoTag(name)
                var image = try savedDockerImage(lookup(source))
                let key = image.config.digest
                if var existing = saved[key] {
                    if let tag, !existing.repoTags.contains(tag) { existing.repoTags.append(tag) }
                    saved[key] = existing
                    continue
                }
                if let tag { image.repoTags = [tag] }
                order.append(key)
                saved[key] = image
            }
            let list = order.compactMap { saved[$0] }
            try writeDockerArchive(list, to: file)
        }
    }

    /// The RepoTag to record for `name`, or nil for an empty name.
    private static func repoTag(_ name: String) throws -> String? {
        if name.isEmpty { return nil }
        let reference: Reference
        do {
            reference = try Reference(parsing: name)
        } catch {
            throw ImageStoreError(.invalidArgument, "cannot record \"\(name)\" as a RepoTag in a docker-archive: it is not an image reference", cause: error)
        }
        guard reference.digest == nil else {
            throw ImageStoreError(.invalidArgument, "cannot record \"\(name)\" as a RepoTag in a docker-archive: RepoTags cannot carry a digest; give a tag")
        }
        return ArchiveNaming.splitRepositoryTag(name).tag == nil ? "\(name):latest" : name
    }

    /// Reads and checks what saving `record` needs: manifest, config, layers and diff_ids.
    private func savedDockerImage(_ record: ImageRecord) throws -> SavedDockerImage {
        let manifestDescriptor = try singleManifest(record.target, image: record.name)
        let manifest = try ImageGraph.decode(Manifest.self, content.read(manifestDescriptor.digest), descriptor: manifestDescriptor, what: "manifest", image: record.name)
        guard MediaType.configTypes.contains(manifest.config.mediaType) else {
            throw ImageStoreError(.unsupportedMediaType, "image \(record.name) is not a container image (config media type \(manifest.config.mediaType)); only images can be saved to a docker-archive")
        }
        let configBytes = try ArchiveScanner.readJSONBlob(manifest.config.digest, size: manifest.config.size, what: "config", context: "image \(record.name)", content: content)
        let config: ImageConfiguration
        do {
            config = try JSONDecoder().decode(ImageConfiguration.self, from: Data(configBytes))
        } catch {
            throw ImageStoreError(.malformedDocument, "malformed config \(manifest.config.digest) of image \(record.name): \(ImageGraph.summary(of: error))")
        }
        guard config.rootfs.diffIDs.count == manifest.layers.count else {
            throw ImageStoreError(.malformedDocument, "image \(record.name) has \(manifest.layers.count) layers but its config lists \(config.rootfs.diffIDs.count) rootfs.diff_ids; the image is broken, pull or build it again")
        }
        for layer in manifest.layers where MediaType.layerCompression(layer.mediaType) == nil {
            throw ImageStoreError(.unsupportedMediaType, "unsupported media type \(layer.mediaType) in image \(record.name): layer \(layer.digest) is not a tar, tar+gzip or tar+zstd layer")
        }
        return SavedDockerImage(image: record.name, config: manifest.config, configBytes: configBytes, layers: Array(zip(manifest.layers, config.rootfs.diffIDs)), repoTags: [])
    }

    /// The manifest to save for `target`: itself, or the host platform's manifest of an index.
    func singleManifest(_ target: Descriptor, image: String, depth: Int = 0) throws -> Descriptor {
        if MediaType.manifestTypes.contains(target.mediaType) { return target }
        guard MediaType.indexTypes.contains(target.mediaType), depth < 4 else {
            throw ImageStoreError(.unsupportedMediaType, "unsupported media type \(target.mediaType) in image \(image): \(target.digest) is not a manifest or index")
        }
        let index = try ImageGraph.decode(Index.self, content.read(target.digest), descriptor: target, what: "index", image: image)
        guard let entry = ImageGraph.hostManifest(in: index), content.contains(entry.digest) else {
            throw ImageStoreError(.blobNotFound, "image \(image) has no manifest for this host's platform (\(Platform.host.os)/\(Platform.host.architecture)) in the store; pull it for this platform first")
        }
        return try singleManifest(entry, image: image, depth: depth + 1)
    }

    /// Writes the archive for `images` (deduplicated, in order).
    private func writeDockerArchive(_ images: [SavedDockerImage], to file: String) throws {
        enum Member {
            case directory
            case document([UInt8])
            case layer(Descriptor, diffID: Digest, image: String)
        }
        var members = [String: Member]()
        var entries = [DockerArchiveManifestEntry]()
        var repositories = [String: [String: String]]()
        for image in images {
            let configName = "\(image.config.digest.encoded).json"
            members[configName] = .document(image.configBytes)
            var layerNames = [String]()
            for (layer, diffID) in image.layers {
                let directory = diffID.encoded
                members[directory] = .directory
                members["\(directory)/layer.tar"] = .layer(layer, diffID: diffID, image: image.image)
                layerNames.append("\(directory)/layer.tar")
            }
            entries.append(DockerArchiveManifestEntry(config: configName, repoTags: image.repoTags.isEmpty ? nil : image.repoTags, layers: layerNames))
            if let top = image.layers.last?.1.encoded {
                for tag in image.repoTags {
                    let (repository, name) = ArchiveNaming.splitRepositoryTag(tag)
                    repositories[repository, default: [:]][name ?? "latest"] = top
                }
            }
        }
        members["manifest.json"] = .document(try CanonicalJSON.encode(entries))
        members["repositories"] = .document(try CanonicalJSON.encode(repositories))

        let writer = try ArchiveFileWriter(file: file)
        for path in members.keys.sorted() {
            switch members[path] {
            case .directory?: try writer.addDirectory(path)
            case .document(let bytes)?: try writer.addFile(path, bytes)
            case .layer(let layer, let diffID, let image)?: try writeUncompressedLayer(layer, diffID: diffID, image: image, path: path, to: writer)
            case nil: continue
            }
        }
        try writer.commit()
    }

    /// Writes `layer` as an uncompressed tar member, checking it against `diffID`.
    private func writeUncompressedLayer(_ layer: Descriptor, diffID: Digest, image: String, path: String, to writer: ArchiveFileWriter) throws {
        let compression = Compression(rawValue: MediaType.layerCompression(layer.mediaType)?.rawValue ?? "") ?? .none
        if compression == .none {
            guard layer.digest == diffID else {
                throw ImageStoreError(.digestMismatch, "uncompressed layer \(layer.digest) of image \(image) should have diff_id \(diffID); the image is broken, pull or build it again")
            }
            try writer.addBlob(path, layer, from: content, image: image)
            return
        }
        // A tar header needs the size first: measure in one pass, write in a second.
        let size = try forEachDecompressedChunk(of: layer, compression: compression, diffID: diffID, image: image) { _ in }
        try writer.addFile(path, size: size) { write in
            _ = try forEachDecompressedChunk(of: layer, compression: compression, diffID: diffID, image: image, write)
        }
    }

    /// Decompresses the blob `layer`, passing each chunk to `body`, and verifies both its
    /// digest and its diff_id. Returns the uncompressed size.
    private func forEachDecompressedChunk(of layer: Descriptor, compression: Compression, diffID: Digest, image: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        let fd = try content.openForReading(layer.digest)
        let blobHasher = StreamHasher(layer.digest.algorithm)
        let diffHasher = StreamHasher()
        do {
            let file = FileDescriptorSource(fd: fd, name: content.path(of: layer.digest), closeOnDeinit: true)
            let source = try decompressingSource(ObservingSource(file) { blobHasher.update($0) }, compression: compression, name: "layer \(layer.digest) of image \(image)")
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
                if n == 0 { break }
                try buffer.withUnsafeBytes { all in
                    let chunk = UnsafeRawBufferPointer(rebasing: all[0..<n])
                    diffHasher.update(chunk)
                    try body(chunk)
                }
            }
        } catch let error as ArchiveError {
            throw ImageStoreError(.digestMismatch, "layer \(layer.digest) of image \(image) does not decompress: \(error.message); the blob is corrupt, pull or import the image again", cause: error)
        }
        let size = diffHasher.count
        guard let blobDigest = blobHasher.finalize(), let actualDiffID = diffHasher.finalize() else {
            throw ImageStoreError(.io, "layer \(layer.digest) hash was finalised twice")
        }
        guard blobDigest == layer.digest else { throw content.corrupt(layer.digest, actual: blobDigest) }
        guard actualDiffID == diffID else {
            throw ImageStoreError(.digestMismatch, "layer \(layer.digest) of image \(image) decompresses to diff_id \(actualDiffID), but its config says \(diffID); the image is broken, pull or build it again")
        }
        return size
    }
}

/// One image on its way into a docker-archive.
private struct SavedDockerImage {
    /// The image's name in the store, for messages.
    var image: String
    /// The config descriptor.
    var config: Descriptor
    /// The config bytes, verified.
    var configBytes: [UInt8]
    /// Each layer with its diff_id.
    var layers: [(Descriptor, Digest)]
    /// The names to record.
    var repoTags: [String]
}
