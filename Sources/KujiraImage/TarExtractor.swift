public import KujiraArchive

/// Extracts a plain tar stream (not a layer: no digests) into a directory, safely, for
/// `docker cp`-style copies and `PUT /containers/ID/archive`: every entry goes through a
/// ``RootfsWriter`` rooted at `root`, so no entry, symlink or `..` can reach outside it,
/// and the entries land under `directory` (a path inside `root`, resolved there too).
///
/// ```swift
/// let extractor = TarExtractor(root: containerRootfs, preserveOwnership: false)
/// try extractor.extract(from: FileDescriptorSource(fd: 0), into: "/tmp", rename: ("src", "dst"))
/// ```
///
/// Entries named `.wh.*` are refused (``LayerError/Code/invalidPath``): the writer would apply
/// them as whiteouts and delete their siblings.
public struct TarExtractor: Sendable {
    /// The directory no entry may leave (a container's rootfs, or the host destination).
    public var root: String
    /// Whether to keep the archive's uid/gid (`cp -a`); otherwise files belong to the
    /// extracting user (root: 0:0, as Docker's copy into a container gives them).
    public var preserveOwnership: Bool

    /// Subtrees of ``root`` whose entries go elsewhere: a path relative to the root (no
    /// leading slash) → the directory that stands there (a mount's source, for a copy into a
    /// container whose mounts are not mounted), or nil for a read-only mount, which refuses
    /// every entry under it. Entries under such a path are confined to its directory; the
    /// directory entry of the path itself leaves the mount's root as it is.
    public var redirects: [String: String?] = [:]

    /// Creates an extractor.
    public init(root: String, preserveOwnership: Bool, redirects: [String: String?] = [:]) {
        self.root = root
        self.preserveOwnership = preserveOwnership
        self.redirects = redirects
    }

    /// The redirect `path` (relative to the root) falls under, the deepest first, and the
    /// path relative to it ("" for the redirected path itself).
    func redirect(of path: String) -> (key: String, rest: String)? {
        var best: (key: String, rest: String)?
        for key in redirects.keys where path == key || path.hasPrefix(key + "/") {
            if let found = best, found.key.count >= key.count { continue }
            best = (key, path == key ? "" : String(path.dropFirst(key.count + 1)))
        }
        return best
    }

    /// Extracts every entry of `source` under `directory` (relative to ``root``; `/` or ""
    /// for the root itself), renaming a first path component equal to `rename.from` to
    /// `rename.to`. Returns the number of entries.
    /// - Throws: ``LayerError`` for an entry that would escape or cannot be written, or an
    ///   `ArchiveError` for a malformed stream.
    @discardableResult
    public func extract(from source: any ByteSource, into directory: String, rename: (from: String, to: String)? = nil) throws -> Int {
        let writer = try RootfsWriter(root: root, options: RootfsWriterOptions(preserveOwnership: preserveOwnership))
        var redirected: [String: RootfsWriter] = [:]
        let reader = TarReader(source)
        var count = 0
        let base = directory.split(separator: "/").joined(separator: "/")
        while let entry = try reader.next() {
            var path = entry.path
            while path.hasPrefix("/") { path.removeFirst() }
            if let rename {
                var components = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
                if components.first == rename.from {
                    components[0] = rename.to
                    path = components.joined(separator: "/")
                }
            }
            let full = base.isEmpty ? path : base + "/" + path
            // The writer would apply a `.wh.` name as a whiteout (deleting its sibling), which a
            // copy must never do: such files are refused rather than misapplied.
            if let last = path.split(separator: "/").last, last.hasPrefix(".wh.") {
                throw LayerError(.invalidPath, "archive entry \(entry.path) has a name starting with .wh., which Kujira reserves for layer whiteouts; rename it to copy it")
            }
            let layerEntry = try Self.layerEntry(entry)
            var adjusted = layerEntry
            let cleanFull = RootfsPath.clean(full)
            let target = redirect(of: cleanFull)
            adjusted.path = Array((target?.rest ?? full).utf8)
            if case .hardlink(let linkTarget) = layerEntry.kind {
                var linkPath = String(decoding: linkTarget, as: UTF8.self)
                while linkPath.hasPrefix("/") { linkPath.removeFirst() }
                if let rename, linkPath == rename.from || linkPath.hasPrefix(rename.from + "/") {
                    linkPath = rename.to + linkPath.dropFirst(rename.from.count)
                }
                let fullLink = RootfsPath.clean(base.isEmpty ? linkPath : base + "/" + linkPath)
                let linkRedirect = redirect(of: fullLink)
                guard linkRedirect?.key == target?.key else {
                    throw LayerError(.invalidPath, "archive entry \(entry.path) is a hard link to \(linkPath) on another mount; copy the file itself")
                }
                adjusted.kind = .hardlink(target: Array((linkRedirect?.rest ?? (base.isEmpty ? linkPath : base + "/" + linkPath)).utf8))
            }
            count += 1
            var destination = writer
            if let target {
                guard let directory = redirects[target.key] ?? nil else {
                    throw LayerError(.readOnly, "archive entry \(entry.path) lands on the read-only mount at \(target.key)")
                }
                // The mount point itself: its root keeps its own mode and owner.
                if target.rest.isEmpty {
                    guard case .directory = adjusted.kind else {
                        throw LayerError(.invalidPath, "archive entry \(entry.path) would replace the mount point /\(target.key); copy into it instead")
                    }
                    continue
                }
                if let open = redirected[target.key] {
                    destination = open
                } else {
                    destination = try RootfsWriter(root: directory, options: RootfsWriterOptions(preserveOwnership: preserveOwnership))
                    redirected[target.key] = destination
                }
            }
            if case .regular = adjusted.kind {
                try destination.apply(adjusted) { fd in try reader.copyContent(to: fd, name: entry.path) }
            } else {
                try destination.apply(adjusted)
            }
        }
        try writer.finish()
        for other in redirected.values { try other.finish() }
        return count
    }

    /// The writer's view of a tar entry.
    static func layerEntry(_ entry: TarEntry) throws -> LayerEntry {
        guard let layerEntry = LayerEntry(tarEntry: entry) else {
            throw LayerError(.unsupportedEntry, "archive entry \(entry.path) has unsupported tar type \(LayerUnpacker.typeFlag(entry)) (GNU sparse or vendor extension); create the archive with a standard tar")
        }
        return layerEntry
    }
}
