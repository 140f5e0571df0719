public import KujiraOCI
import Foundation
import Glibc

/// An OCI image layout directory (image-spec image-layout.md): `oci-layout`, `index.json`
/// and `blobs/<algorithm>/<hex>`. Reading works on any directory, so a layout extracted
/// from an `oci-archive` tarball is read the same way; ``ImageStore/importImage(from:tag:name:)``
/// and ``ImageStore/exportImage(_:to:tag:)`` move images between a layout and the store.
///
/// ```swift
/// let layout = try OCILayout.read(directory: "/tmp/busybox-oci")
/// print(layout.tags)                    // ["latest"]
/// let image = try store.importImage(from: layout, tag: "latest", name: "localhost/busybox:latest")
/// ```
public struct OCILayout: Sendable {
    /// The layout directory.
    public let directory: String
    /// The parsed `index.json`.
    public let index: Index

    /// The `imageLayoutVersion` Kujira writes.
    public static let version = "1.0.0"

    /// Reads the layout at `directory`: checks `oci-layout` and parses `index.json`.
    /// - Throws: ``ImageStoreError`` `.invalidLayout` when a file is missing or the version is
    ///   not 1.x, `.malformedDocument` when a file is not valid JSON of the right shape.
    public static func read(directory: String) throws -> OCILayout {
        let directory = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        try checkVersion(directory: directory)
        let indexPath = "\(directory)/index.json"
        guard FileSystem.exists(indexPath) else {
            throw ImageStoreError(.invalidLayout, "\(directory) is not an OCI image layout: \(indexPath) is missing")
        }
        let index = try decodeFile(Index.self, path: indexPath, what: "layout index")
        if index.schemaVersion != 2 {
            throw ImageStoreError(.malformedDocument, "malformed layout index \(indexPath): schemaVersion is \(index.schemaVersion), expected 2")
        }
        return OCILayout(directory: directory, index: index)
    }

    /// The tags (`org.opencontainers.image.ref.name` annotations) in `index.json`, in order,
    /// without duplicates.
    public var tags: [String] {
        var seen = Set<String>()
        return index.manifests.compactMap { $0.annotations?[Descriptor.refNameAnnotation] }.filter { seen.insert($0).inserted }
    }

    /// The descriptor a tag names. Without a tag, the layout must hold exactly one entry.
    /// When several entries share a tag (one per platform), the host's is taken.
    /// - Throws: ``ImageStoreError`` `.tagNotFound`, listing the available tags.
    public func resolve(tag: String?) throws -> Descriptor {
        let available = tags.isEmpty ? "none" : tags.joined(separator: ", ")
        guard let tag else {
            guard index.manifests.count == 1, let only = index.manifests.first else {
                throw ImageStoreError(.tagNotFound, "OCI layout \(directory) holds \(index.manifests.count) images; name one with a tag (available tags: \(available))")
            }
            return only
        }
        let matches = index.manifests.filter { $0.annotations?[Descriptor.refNameAnnotation] == tag }
        if matches.count > 1, let host = matches.first(where: { HostPlatform.matches($0.platform) }) { return host }
        guard let match = matches.first else {
            throw ImageStoreError(.tagNotFound, "OCI layout \(directory) has no tag \"\(tag)\" (available tags: \(available))")
        }
        return match
    }

    /// The path of blob `digest` in the layout.
    public func blobPath(of digest: Digest) -> String {
        "\(directory)/blobs/\(digest.algorithm.rawValue)/\(digest.encoded)"
    }

    /// Writes the image graph rooted at `descriptor` from `content` into the layout at
    /// `directory`, creating it if needed, and tags it `tag` in `index.json` (an entry with
    /// the same tag is replaced; other entries are kept). Blob bytes are copied unchanged
    /// and verified on the way, so digests are preserved. `index.json` is replaced
    /// atomically, after every blob is in place.
    /// - Returns: the layout as written.
    @discardableResult
    public static func write(directory: String, tag: String, descriptor: Descriptor, from content: ContentStore, image: String? = nil) throws -> OCILayout {
        guard !tag.isEmpty else {
            throw ImageStoreError(.invalidArgument, "an OCI layout tag must not be empty")
        }
        let image = image ?? descriptor.digest.description
        try ImageGraph.checkReferable(descriptor, image: image)
        try FileSystem.makeDirectories(directory)
        let layoutFile = "\(directory)/oci-layout"
        if FileSystem.exists(layoutFile) {
            try checkVersion(directory: directory)
        } else {
            try FileSystem.writeFileAtomically(layoutFile, Array("{\"imageLayoutVersion\":\"\(version)\"}".utf8))
        }
        var existing = [Descriptor]()
        if FileSystem.exists("\(directory)/index.json") {
            existing = try read(directory: directory).index.manifests
        }
        let layout = OCILayout(directory: directory, index: Index(manifests: existing))

        var visited = Set<Digest>()
        var pending = [descriptor]
        while let node = pending.popLast() {
            guard visited.insert(node.digest).inserted else { continue }
            try layout.copyBlob(node, from: content, image: image)
            if ImageGraph.hasChildren(node) {
                pending += try ImageGraph.children(of: node, content: content.read(node.digest), image: image, strict: true)
            }
        }

        var entry = descriptor
        entry.annotations = (descriptor.annotations ?? [:]).merging([Descriptor.refNameAnnotation: tag]) { $1 }
        let manifests = existing.filter { $0.annotations?[Descriptor.refNameAnnotation] != tag } + [entry]
        let newIndex = Index(manifests: manifests)
        try FileSystem.writeFileAtomically("\(directory)/index.json", Array(try ImageStore.encode(newIndex).utf8))
        return OCILayout(directory: directory, index: newIndex)
    }

    /// Copies one blob from the store into the layout unless a file of the right size is
    /// already there, hashing while copying so a corrupt store blob is never exported.
    private func copyBlob(_ descriptor: Descriptor, from content: ContentStore, image: String) throws {
        let target = blobPath(of: descriptor.digest)
        var st = stat()
        if lstat(target, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, Int64(st.st_size) == descriptor.size { return }
        let source = try content.openForReading(descriptor.digest)
        defer { close(source) }
        try FileSystem.makeDirectories(FileSystem.parentDirectory(of: target))
        let temp = "\(directory)/.kujira-\(FileSystem.uniqueSuffix()).tmp"
        let out = try FileSystem.open(temp, O_WRONLY | O_CREAT | O_EXCL, mode: 0o644)
        do {
            var hasher = DigestHasher(descriptor.digest.algorithm)
            var size: Int64 = 0
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            let sourcePath = content.path(of: descriptor.digest)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try FileSystem.read(source, into: $0, path: sourcePath) }
                if n == 0 { break }
                try buffer.withUnsafeBytes { chunk in
                    let slice = UnsafeRawBufferPointer(rebasing: chunk[0..<n])
                    hasher.update(slice)
                    try FileSystem.writeAll(out, slice, path: temp)
                }
                size += Int64(n)
            }
            let actual = hasher.finalize()
            guard actual == descriptor.digest else { throw content.corrupt(descriptor.digest, actual: actual) }
            guard size == descriptor.size else {
                throw ImageStoreError(.digestMismatch, "blob \(descriptor.digest) of image \(image) has \(size) bytes but its descriptor says \(descriptor.size); the image record is wrong, pull or import the image again")
            }
            try FileSystem.sync(out, path: temp)
            close(out)
            if rename(temp, target) != 0 { throw ImageStoreError.posix("rename into", path: target, errno: errno) }
        } catch {
            close(out)
            unlink(temp)
            throw error
        }
        try FileSystem.syncDirectory(FileSystem.parentDirectory(of: target))
    }

    private static func checkVersion(directory: String) throws {
        let path = "\(directory)/oci-layout"
        guard FileSystem.exists(path) else {
            throw ImageStoreError(.invalidLayout, "\(directory) is not an OCI image layout: \(path) is missing")
        }
        struct Header: Decodable { var imageLayoutVersion: String }
        let header = try decodeFile(Header.self, path: path, what: "layout header")
        guard header.imageLayoutVersion.split(separator: ".").first == "1" else {
            throw ImageStoreError(.invalidLayout, "OCI layout \(directory) has imageLayoutVersion \(header.imageLayoutVersion); Kujira reads version 1.x layouts")
        }
    }

    private static func decodeFile<T: Decodable>(_ type: T.Type, path: String, what: String) throws -> T {
        let bytes = try FileSystem.readFile(path)
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw ImageStoreError(.malformedDocument, "malformed \(what) \(path): \(ImageGraph.summary(of: error))")
        }
    }
}
