public import KujiraOCI
import KujiraArchive
import Foundation

extension ImageStore {
    /// Imports the image tagged `tag` from an oci-archive (`oci-archive:FILE[:TAG]`: an OCI
    /// image layout inside a tar file, as `skopeo copy … oci-archive:FILE:TAG` writes it; the
    /// tar may itself be gzip- or zstd-compressed).
    ///
    /// The archive is read once, streaming: each `blobs/<alg>/<hex>` member goes straight
    /// into the content store, verified against its name; `oci-layout` and `index.json` are
    /// read in memory. Then the tag is resolved and the graph below it walked with the
    /// strict checks of an OCI layout import (every blob present with the size its
    /// descriptor gives, known media types). Only then is the name tagged.
    ///
    /// - Parameters:
    ///   - tag: the `org.opencontainers.image.ref.name` to import; nil when the archive
    ///     holds exactly one image.
    ///   - name: the name to tag; nil derives it like the CLI does for `oci:` directories:
    ///     the entry's `io.containerd.image.name` annotation, or a `ref.name` that is a full
    ///     reference, else `localhost/<file name without .tar>:<tag>`.
    /// - Throws: ``ImageStoreError`` `.invalidArchive` (truncated, no `oci-layout`),
    ///   `.invalidLayout` (wrong layout version), `.tagNotFound`, `.unsupportedMediaType`,
    ///   `.blobNotFound` (a blob the graph needs is not in the archive), `.digestMismatch`,
    ///   `.malformedDocument`.
    @discardableResult
    public func importOCIArchive(file: String, tag: String?, name: String?) throws -> ImageRecord {
        if let name, name.isEmpty {
            throw ImageStoreError(.invalidArgument, "an image name must not be empty; give a reference such as localhost/app:latest, or none to derive it")
        }
        return try withWriteLease {
            let scanned = try ArchiveScanner.scan(file: file, into: content, blobsOnly: true)
            let layout = try ociArchiveLayout(scanned)
            let target = try layout.resolve(tag: tag)
            let imageName = name ?? ArchiveNaming.ociName(for: target, file: file, tag: tag)
            let checked = try checkedOCIArchiveTarget(target, file: file, image: imageName)
            return try put(name: imageName, target: checked)
        }
    }

    /// Writes the image `nameOrID` (anything ``lookup(_:)`` accepts) as an oci-archive:
    /// `oci-layout`, `index.json` (one entry, tagged `tag`) and every blob of its graph
    /// under `blobs/<alg>/<hex>`, byte for byte (digests are kept), in a tar sorted by path
    /// with fixed mtimes and owners, so exporting twice gives identical bytes. `skopeo
    /// inspect oci-archive:FILE` and ``importOCIArchive(file:tag:name:)`` read it. The file
    /// is written beside its destination and renamed into place when complete.
    /// - Returns: the descriptor written to `index.json`.
    /// - Throws: ``ImageStoreError`` `.imageNotFound`, `.invalidArgument` (empty tag),
    ///   `.blobNotFound` or `.digestMismatch` for a missing or corrupt blob, `.io`.
    @discardableResult
    public func exportOCIArchive(_ nameOrID: String, to file: String, tag: String) throws -> Descriptor {
        guard !tag.isEmpty else {
            throw ImageStoreError(.invalidArgument, "an oci-archive tag must not be empty; give one such as latest")
        }
        return try withWriteLease {
            let record = try lookup(nameOrID)
            try ImageGraph.checkReferable(record.target, image: record.name)
            var blobs = [String: Descriptor]()
            var pending = [record.target]
            while let node = pending.popLast() {
                let path = "blobs/\(node.digest.algorithm.rawValue)/\(node.digest.encoded)"
                guard blobs[path] == nil else { continue }
                blobs[path] = node
                if ImageGraph.hasChildren(node) {
                    let bytes = try ArchiveScanner.readJSONBlob(node.digest, size: node.size, what: "document", context: "image \(record.name)", content: content)
                    pending += try ImageGraph.children(of: node, content: bytes, image: record.name, strict: true)
                }
            }
            var entry = record.target
            entry.annotations = (entry.annotations ?? [:]).merging([Descriptor.refNameAnnotation: tag]) { $1 }
            var documents = [String: [UInt8]]()
            documents[OCILayoutHeader.indexFileName] = try CanonicalJSON.encode(Index(manifests: [entry]))
            documents[OCILayoutHeader.fileName] = try CanonicalJSON.encode(OCILayoutHeader(imageLayoutVersion: OCILayout.version))
            var directories: Set<String> = ["blobs"]
            for descriptor in blobs.values { directories.insert("blobs/\(descriptor.digest.algorithm.rawValue)") }

            let writer = try ArchiveFileWriter(file: file)
            for path in (Array(blobs.keys) + Array(documents.keys) + Array(directories)).sorted() {
                if directories.contains(path) {
                    try writer.addDirectory(path)
                } else if let bytes = documents[path] {
                    try writer.addFile(path, bytes)
                } else if let descriptor = blobs[path] {
                    try writer.addBlob(path, descriptor, from: content, image: record.name)
                }
            }
            try writer.commit()
            return entry
        }
    }

    /// The layout described by a scanned oci-archive's `oci-layout` and `index.json`.
    func ociArchiveLayout(_ scanned: ScannedArchive) throws -> OCILayout {
        let file = scanned.file
        guard let header = scanned.documents[OCILayoutHeader.fileName] else {
            throw ImageStoreError(.invalidArchive, "archive \(file) has no oci-layout file; it is not an oci-archive (for a docker-archive, load it instead)")
        }
        let version: String
        do {
            version = try JSONDecoder().decode(OCILayoutHeader.self, from: Data(header)).imageLayoutVersion
        } catch {
            throw ImageStoreError(.malformedDocument, "malformed oci-layout in archive \(file): \(ImageGraph.summary(of: error))")
        }
        guard version.split(separator: ".").first == "1" else {
            throw ImageStoreError(.invalidLayout, "oci-archive \(file) has imageLayoutVersion \(version); Kujira reads version 1.x layouts")
        }
        guard let indexJSON = scanned.documents[OCILayoutHeader.indexFileName] else {
            throw ImageStoreError(.invalidArchive, "oci-archive \(file) has no index.json; the archive is incomplete")
        }
        let index: Index
        do {
            index = try JSONDecoder().decode(Index.self, from: Data(indexJSON))
        } catch {
            throw ImageStoreError(.malformedDocument, "malformed index.json in oci-archive \(file): \(ImageGraph.summary(of: error))")
        }
        guard index.schemaVersion == 2 else {
            throw ImageStoreError(.malformedDocument, "malformed index.json in oci-archive \(file): schemaVersion is \(index.schemaVersion), expected 2")
        }
        return OCILayout(directory: "oci-archive \(file)", index: index)
    }

    /// Checks that the graph below `target` is complete in the store, with the strict media
    /// type checks; returns `target` without its tag annotations.
    func checkedOCIArchiveTarget(_ target: Descriptor, file: String, image: String) throws -> Descriptor {
        var target = target
        target.annotations?[Descriptor.refNameAnnotation] = nil
        target.annotations?[ArchiveNaming.containerdNameAnnotation] = nil
        if target.annotations?.isEmpty == true { target.annotations = nil }
        try ImageGraph.checkReferable(target, image: image)
        var visited = Set<Digest>()
        var pending = [target]
        while let node = pending.popLast() {
            guard visited.insert(node.digest).inserted else { continue }
            guard content.contains(node.digest) else {
                if let urls = node.urls, !urls.isEmpty {
                    throw ImageStoreError(.blobNotFound, "cannot import \(image) from oci-archive \(file): layer \(node.digest) is a foreign layer (urls: \(urls.joined(separator: ", "))) that is not in the archive; Kujira does not download foreign layers")
                }
                throw ImageStoreError(.blobNotFound, "cannot import \(image) from oci-archive \(file): blob \(node.digest) (\(node.mediaType)) is not in the archive; the archive is incomplete, create it again")
            }
            let size = try content.size(of: node.digest)
            guard size == node.size else {
                throw ImageStoreError(.digestMismatch, "cannot import \(image) from oci-archive \(file): descriptor of \(node.digest) says \(node.size) bytes, but that blob has \(size); the archive's manifest is wrong")
            }
            if ImageGraph.hasChildren(node) {
                let bytes = try ArchiveScanner.readJSONBlob(node.digest, size: size, what: "document", context: "archive \(file)", content: content)
                pending += try ImageGraph.children(of: node, content: bytes, image: image, strict: true)
            }
        }
        return target
    }

    /// Every image of a scanned oci-archive, checked, with the names
    /// ``ArchiveNaming/ociName(for:file:tag:)`` gives them (one per distinct tag; when a tag
    /// has an entry per platform, the host's).
    func ociArchivePlanAll(_ scanned: ScannedArchive) throws -> [(name: String, target: Descriptor)] {
        let layout = try ociArchiveLayout(scanned)
        let entries = layout.index.manifests
        guard !entries.isEmpty else {
            throw ImageStoreError(.invalidArchive, "oci-archive \(scanned.file) has no images in its index.json")
        }
        var plan = [(name: String, target: Descriptor)]()
        var seenTags = Set<String>()
        for entry in entries {
            let tag = entry.annotations?[Descriptor.refNameAnnotation]
            let chosen: Descriptor
            if let tag {
                guard seenTags.insert(tag).inserted else { continue }
                chosen = try layout.resolve(tag: tag)
            } else {
                chosen = entry
            }
            var name = ArchiveNaming.ociName(for: chosen, file: scanned.file, tag: tag)
            if tag == nil && entries.count > 1 && chosen.annotations?[ArchiveNaming.containerdNameAnnotation] == nil {
                // Several untagged entries would all be `<file>:latest`; tell them apart.
                name = "localhost/\(ArchiveNaming.repositoryName(fromFile: scanned.file)):\(chosen.digest.encoded.prefix(12))"
            }
            plan.append((name, try checkedOCIArchiveTarget(chosen, file: scanned.file, image: name)))
        }
        return plan
    }
}
