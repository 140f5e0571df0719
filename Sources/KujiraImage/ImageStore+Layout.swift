public import KujiraOCI
import Glibc

extension ImageStore {
    /// Imports the image tagged `tag` in `layout` and names it `name`.
    ///
    /// Every blob reachable from the tag (index → manifests → config and layers; a
    /// multi-platform index is kept whole) is copied into the content store and verified
    /// against its descriptor's digest and size; only when all of them are in does the name
    /// get tagged, inside a write lease. A bad blob leaves the name untagged and the store
    /// usable (blobs copied so far are unreferenced and go at the next garbage collection).
    ///
    /// - Parameter tag: the layout tag; nil when the layout holds exactly one image.
    /// - Throws: ``ImageStoreError`` `.digestMismatch` (naming the digest) for a corrupt blob,
    ///   `.blobNotFound` for a missing one (foreign layers included), `.unsupportedMediaType`,
    ///   `.malformedDocument`, `.tagNotFound`.
    @discardableResult
    public func importImage(from layout: OCILayout, tag: String? = nil, name: String) throws -> ImageRecord {
        guard !name.isEmpty else {
            throw ImageStoreError(.invalidArgument, "an image name must not be empty; give a reference such as localhost/app:latest")
        }
        var target = try layout.resolve(tag: tag)
        target.annotations?[Descriptor.refNameAnnotation] = nil
        if target.annotations?.isEmpty == true { target.annotations = nil }
        try ImageGraph.checkReferable(target, image: name)
        return try withWriteLease {
            var visited = Set<Digest>()
            var pending = [target]
            while let node = pending.popLast() {
                guard visited.insert(node.digest).inserted else { continue }
                try ingestLayoutBlob(node, from: layout, image: name)
                if ImageGraph.hasChildren(node) {
                    pending += try ImageGraph.children(of: node, content: content.read(node.digest), image: name, strict: true)
                }
            }
            return try put(name: name, target: target)
        }
    }

    /// Exports the image `nameOrID` (anything ``lookup(_:)`` accepts) to the OCI layout at
    /// `directory` under `tag`, creating or updating the layout. The result is accepted by
    /// `skopeo inspect oci:DIR:TAG` and `umoci stat --image DIR:TAG`, with unchanged digests.
    /// - Returns: the descriptor written to the layout's `index.json`.
    @discardableResult
    public func exportImage(_ nameOrID: String, to directory: String, tag: String) throws -> Descriptor {
        let record = try lookup(nameOrID)
        let layout = try OCILayout.write(directory: directory, tag: tag, descriptor: record.target, from: content, image: record.name)
        return layout.index.manifests.last ?? record.target
    }

    /// Brings one blob of a layout into the content store, verified against `descriptor`.
    private func ingestLayoutBlob(_ descriptor: Descriptor, from layout: OCILayout, image: String) throws {
        if content.contains(descriptor.digest) {
            let size = try content.size(of: descriptor.digest)
            guard size == descriptor.size else {
                throw ImageStoreError(.digestMismatch, "cannot import \(image) from OCI layout \(layout.directory): descriptor of \(descriptor.digest) says \(descriptor.size) bytes, but that blob has \(size); the layout's manifest is wrong")
            }
            return
        }
        let path = layout.blobPath(of: descriptor.digest)
        // O_NOFOLLOW and the regular-file check keep a crafted layout from making us read a
        // FIFO or device; the digest check makes any other file harmless.
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT {
                if let urls = descriptor.urls, !urls.isEmpty {
                    throw ImageStoreError(.blobNotFound, "cannot import \(image) from OCI layout \(layout.directory): layer \(descriptor.digest) is a foreign layer (urls: \(urls.joined(separator: ", "))) whose blob is not in the layout; Kujira does not download foreign layers, copy the image with its foreign layers included")
                }
                throw ImageStoreError(.blobNotFound, "cannot import \(image) from OCI layout \(layout.directory): blob \(descriptor.digest) (\(descriptor.mediaType)) is missing at \(path); the layout is incomplete, copy the image again")
            }
            throw ImageStoreError.posix("open", path: path, errno: code)
        }
        defer { close(fd) }
        guard FileSystem.isRegularFile(fd) else {
            throw ImageStoreError(.invalidLayout, "cannot import \(image) from OCI layout \(layout.directory): \(path) is not a regular file")
        }
        _ = fcntl(fd, F_SETFL, O_RDONLY)  // back to blocking reads
        do {
            try content.ingest(fromFD: fd, path: path, expected: descriptor.digest, expectedSize: descriptor.size)
        } catch let error as ImageStoreError {
            throw ImageStoreError(error.code, "cannot import \(image) from OCI layout \(layout.directory): blob \(descriptor.digest) at \(path): \(error.message)", cause: error.cause)
        }
    }
}
