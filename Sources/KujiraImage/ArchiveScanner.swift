import KujiraArchive
import KujiraOCI
import Glibc

/// What streaming an image archive (docker-archive or oci-archive) into the content store
/// found: every regular member's digest, the links between members, and the small metadata
/// documents in memory.
///
/// Member paths are only keys here: nothing is ever written to disk under a name taken from
/// the archive, so `../` or absolute paths in a hostile archive are harmless.
struct ScannedArchive {
    /// A regular member, ingested into the content store.
    struct Member {
        /// The digest of its bytes (SHA-256, or the algorithm its `blobs/<alg>/` name gave).
        let digest: Digest
        /// Its size in bytes.
        let size: Int64
        /// Its compression, from its first bytes.
        let compression: Compression
    }

    /// The archive file, for messages.
    let file: String
    /// Regular members by normalised path.
    var members: [String: Member] = [:]
    /// Symbolic and hard links by normalised path, to the normalised path they name.
    var links: [String: String] = [:]
    /// The metadata documents (``ArchiveScanner/documentNames``) by name.
    var documents: [String: [UInt8]] = [:]

    /// The member at `path` (normalised first), following links (at most 16 hops).
    func member(_ path: String) -> Member? {
        guard var key = ArchiveScanner.normalise(path) else { return nil }
        for _ in 0..<16 {
            if let member = members[key] { return member }
            guard let next = links[key] else { return nil }
            key = next
        }
        return nil
    }

    /// The digest a member's name claims: `<hex>.json`, `<hex>.tar`, `blobs/<alg>/<hex>`.
    static func digestInName(_ path: String) -> Digest? {
        let parts = path.split(separator: "/")
        if parts.count == 3, parts[0] == "blobs", let algorithm = Digest.Algorithm(rawValue: String(parts[1])) {
            return try? Digest(algorithm: algorithm, encoded: String(parts[2]))
        }
        guard parts.count == 1 else { return nil }
        var name = Substring(parts[0])
        for suffix in [".json", ".tar"] where name.hasSuffix(suffix) { name = name.dropLast(suffix.count) }
        return try? Digest(algorithm: .sha256, encoded: String(name))
    }
}

/// Streams an image archive into the content store in one pass (containerd's
/// `archive.ImportIndex` is the model): every regular member that may be a blob is ingested
/// while it is read, whatever order the members come in, so `manifest.json` may come first
/// or last and nothing is extracted to a temporary directory. Members named
/// `blobs/<alg>/<hex>` are verified against their names as they are ingested. Unreferenced
/// members become garbage for ``ImageStore/garbageCollect(ingestOlderThan:)``.
enum ArchiveScanner {
    /// The metadata documents kept in memory instead of being ingested.
    static let documentNames: Set<String> = ["manifest.json", "repositories", "index.json", "oci-layout"]
    /// The largest metadata document accepted (16 MiB).
    static let maxDocumentSize = 16 << 20
    /// The largest member accepted (1 TiB): anything larger is a corrupt or hostile header.
    static let maxMemberSize: Int64 = 1 << 40
    /// The most regular members accepted.
    static let maxMembers = 1_000_000
    /// The largest JSON blob (config, manifest, index) read into memory (64 MiB).
    static let maxJSONBlobSize: Int64 = 64 << 20

    /// Reads `file` (a tar, possibly gzip- or zstd-compressed as a whole) into `content`.
    /// - Parameter blobsOnly: ingest only `blobs/<alg>/<hex>` members (an oci-archive);
    ///   otherwise every regular member except legacy `<id>/json` and `<id>/VERSION` files.
    /// - Throws: ``ImageStoreError`` `.invalidArchive` (`truncated archive FILE: …` for an
    ///   archive that ends early), `.digestMismatch` for a blob that does not match its name,
    ///   `.io` when the file cannot be read.
    static func scan(file: String, into content: ContentStore, blobsOnly: Bool) throws -> ScannedArchive {
        let fd = Glibc.open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ImageStoreError.posix("open archive", path: file, errno: errno) }
        var result = ScannedArchive(file: file)
        do {
            let source = try decompressingSource(FileDescriptorSource(fd: fd, name: file, closeOnDeinit: true), compression: nil, name: file)
            var options = TarReader.Options()
            options.name = file
            let reader = TarReader(source, options: options)
            var count = 0
            while let entry = try reader.next() {
                guard let path = normalise(entry.path) else { continue }
                switch entry.type {
                case .symlink:
                    let base = entry.linkname.hasPrefix("/") ? "" : FileSystem.parentDirectory(of: path)
                    if let target = normalise(base == "." ? entry.linkname : "\(base)/\(entry.linkname)") { result.links[path] = target }
                case .hardlink:
                    if let target = normalise(entry.linkname) { result.links[path] = target }
                case .regular:
                    count += 1
                    guard count <= maxMembers else {
                        throw ImageStoreError(.invalidArchive, "archive \(file) has more than \(maxMembers) files; it is not an image archive")
                    }
                    guard entry.size >= 0, entry.size <= maxMemberSize else {
                        throw ImageStoreError(.invalidArchive, "archive \(file): member \(path) claims \(entry.size) bytes, more than the \(maxMemberSize)-byte limit; the archive is corrupt or hostile")
                    }
                    if documentNames.contains(path) {
                        guard entry.size <= maxDocumentSize else {
                            throw ImageStoreError(.invalidArchive, "archive \(file): \(path) has \(entry.size) bytes, more than the \(maxDocumentSize)-byte limit for metadata")
                        }
                        result.documents[path] = try reader.readContent(limit: maxDocumentSize)
                        continue
                    }
                    let named = ScannedArchive.digestInName(path)
                    let isBlob = path.hasPrefix("blobs/") && named != nil
                    if blobsOnly && !isBlob { continue }
                    if !isBlob && (path.hasSuffix("/json") || path.hasSuffix("/VERSION")) { continue }
                    result.members[path] = try ingest(reader, size: entry.size, expected: isBlob ? named : nil, path: path, file: file, content: content)
                default:
                    continue
                }
            }
            _ = try reader.drainSource()
        } catch let error as ArchiveError {
            throw archiveError(error, file: file)
        }
        return result
    }

    /// Ingests the current member's content, noting its compression from the first bytes.
    private static func ingest(_ reader: TarReader, size: Int64, expected: Digest?, path: String, file: String, content: ContentStore) throws -> ScannedArchive.Member {
        let writer = try content.ingest(expectedDigest: expected, expectedSize: expected == nil ? nil : size)
        var magic = [UInt8]()
        do {
            try reader.forEachContentChunk { chunk in
                if magic.count < Compression.magicLength { magic += chunk.prefix(Compression.magicLength - magic.count) }
                try writer.write(chunk)
            }
            let (digest, written) = try writer.commit()
            return ScannedArchive.Member(digest: digest, size: written, compression: Compression.detect(magic))
        } catch let error as ImageStoreError {
            writer.abort()
            throw ImageStoreError(error.code, "archive \(file): member \(path): \(error.message)", cause: error.cause)
        } catch {
            writer.abort()
            throw error
        }
    }

    /// The `.invalidArchive` error for a tar or decompression failure of `file`.
    static func archiveError(_ error: ArchiveError, file: String) -> ImageStoreError {
        let kind = error.code == .truncated ? "truncated" : "malformed"
        return ImageStoreError(.invalidArchive, "\(kind) archive \(file): \(error.message)", cause: error.cause)
    }

    /// A member path made canonical: no leading `/` or `./`, no `.` components, `..`
    /// resolved lexically, no trailing `/`. Nil for the root itself and for paths that climb
    /// above it.
    static func normalise(_ path: String) -> String? {
        var parts = [Substring]()
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                guard !parts.isEmpty else { return nil }
                parts.removeLast()
                continue
            }
            parts.append(part)
        }
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }

    /// The diff_id of a layer blob in `content`: its own digest when uncompressed, else the
    /// SHA-256 of its decompressed bytes.
    static func diffID(of member: ScannedArchive.Member, content: ContentStore, file: String) throws -> Digest {
        if member.compression == .none { return member.digest }
        let fd = try content.openForReading(member.digest)
        do {
            let source = try decompressingSource(FileDescriptorSource(fd: fd, name: content.path(of: member.digest), closeOnDeinit: true), compression: member.compression, name: "layer \(member.digest)")
            let hasher = StreamHasher()
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
                if n == 0 { break }
                buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
            guard let digest = hasher.finalize() else { throw ImageStoreError(.io, "layer \(member.digest) hash was finalised twice") }
            return digest
        } catch let error as ArchiveError {
            throw ImageStoreError(.invalidArchive, "archive \(file): layer \(member.digest) is \(member.compression)-compressed but does not decompress: \(error.message)", cause: error)
        }
    }

    /// Reads a JSON blob from the store (verified), refusing absurd sizes.
    /// - Parameter context: what the blob belongs to, for messages (`archive FILE`, `image NAME`).
    static func readJSONBlob(_ digest: Digest, size: Int64, what: String, context: String, content: ContentStore) throws -> [UInt8] {
        guard size <= maxJSONBlobSize else {
            throw ImageStoreError(.invalidArchive, "\(context): \(what) \(digest) has \(size) bytes, more than the \(maxJSONBlobSize)-byte limit for a JSON document")
        }
        return try content.read(digest)
    }
}
