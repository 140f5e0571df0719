// `diff` (`changes`): what a container changed in its root filesystem, as Docker lists it:
// `A` added, `C` changed, `D` deleted, one path each, sorted.
//
//     for change in try engine.changes("web") { print(change.kind, change.path) }   // C /tmp, A /tmp/x
//
// The changes are exactly the entries of the layer `commit` would write: the layer differ
// runs over the overlay upper directory (or, in copy mode, compares the rootfs with the
// image's snapshot) into a temporary tar file; a whiteout entry is a deletion, and any
// other entry is a change when the image has that path and an addition when it has not.

import KujiraArchive
import KujiraImage
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One change of a container's root filesystem (`docker diff`).
public struct ContainerChange: Codable, Sendable, Hashable {
    /// The kind of change, with Docker's numbering (`Kind` in the API).
    public enum Kind: Int, Codable, Sendable, Hashable, CustomStringConvertible {
        /// The path was modified (or, for a directory, something in it was).
        case changed = 0
        /// The path was added.
        case added = 1
        /// The path was deleted.
        case deleted = 2
        /// `C`, `A` or `D`.
        public var description: String {
            switch self {
            case .changed: return "C"
            case .added: return "A"
            case .deleted: return "D"
            }
        }
    }
    /// The absolute path in the container.
    public var path: String
    /// The kind.
    public var kind: Kind

    /// Creates a change.
    public init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }
    private enum CodingKeys: String, CodingKey { case path = "Path", kind = "Kind" }
}

extension Engine {
    /// The changes container `nameOrID` made to its image's filesystem, sorted by path.
    /// - Throws: ``EngineError`` `.notFound`, `.invalidState` when its rootfs is gone.
    public func changes(_ nameOrID: String) throws -> [ContainerChange] {
        let record = try container(nameOrID)
        return try collectChanges(record, into: nil).changes
    }

    /// The paths the runtime creates as mount points in every container (`/dev`, `/proc`,
    /// `/sys`, `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`) and the container's own
    /// mount destinations: Docker keeps them in an "init" layer, so neither `diff` nor
    /// `commit` shows them when they are only empty placeholders.
    func mountPlaceholders(_ record: ContainerRecord) -> Set<String> {
        var paths: Set<String> = ["dev", "proc", "sys", "etc/hostname", "etc/hosts", "etc/resolv.conf"]
        for mount in record.mounts { paths.insert(RootfsPath.clean(mount.destination)) }
        for destination in record.hostConfig.tmpfs.keys { paths.insert(RootfsPath.clean(destination)) }
        return paths
    }

    /// Computes the container's changes: the layer differ writes them to an unlinked
    /// temporary file in the container's directory, which is read once to list them (and
    /// find the mount placeholders to leave out) and, with `layer`, once more to copy the
    /// kept entries into it (not finished). Returns the changes, sorted, and the number of
    /// entries copied.
    func collectChanges(_ record: ContainerRecord, into layer: TarWriter?) throws -> (changes: [ContainerChange], entries: Int) {
        let source = try diffSource(record)
        let fd = try SystemSupport.anonymousFile(in: directory(record.id))
        defer { close(fd) }
        let file = FileDescriptorSource(fd: fd, name: "changes of \(record.name)")
        let raw = TarWriter(FileDescriptorSink(fd: fd, name: "changes of \(record.name)"))
        try source.write(to: raw)
        try raw.finish()

        struct Item { var path: String; var isDirectory: Bool; var size: Int64 }
        lseek(fd, 0, SEEK_SET)
        var items: [Item] = []
        let lister = TarReader(file)
        while let entry = try lister.next() {
            var path = entry.path
            while path.hasSuffix("/") { path.removeLast() }
            items.append(Item(path: path, isDirectory: entry.type == .directory, size: entry.size))
        }
        // Placeholders: added, empty, and with nothing else of the diff below them.
        let placeholders = mountPlaceholders(record)
        var excluded = Set<String>()
        for item in items where placeholders.contains(item.path) && !source.lowerHas(item.path) {
            let empty = item.isDirectory ? !items.contains { $0.path.hasPrefix(item.path + "/") } : item.size == 0
            if empty { excluded.insert(item.path) }
        }
        // Their parents, when copied up only to hold them (`/etc` for `/etc/hosts`).
        var parents = Set<String>()
        for path in excluded {
            var components = path.split(separator: "/").dropLast()
            while !components.isEmpty {
                parents.insert(components.joined(separator: "/"))
                components = components.dropLast()
            }
        }
        for parent in parents.sorted(by: { $0.count > $1.count }) where source.lowerHas(parent) {
            let below = items.filter { $0.path.hasPrefix(parent + "/") }
            if below.allSatisfy({ excluded.contains($0.path) }) { excluded.insert(parent) }
        }

        var result: [ContainerChange] = []
        for item in items where !excluded.contains(item.path) {
            let name = item.path.split(separator: "/").last.map(String.init) ?? item.path
            let parent = item.path.count > name.count ? String(item.path.dropLast(name.count + 1)) : ""
            if name == ".wh..wh..opq" { continue }
            if name.hasPrefix(".wh.") {
                let deleted = (parent.isEmpty ? "" : parent + "/") + String(name.dropFirst(4))
                result.append(ContainerChange(path: "/" + deleted, kind: .deleted))
            } else {
                result.append(ContainerChange(path: "/" + item.path, kind: source.lowerHas(item.path) ? .changed : .added))
            }
        }
        var copied = 0
        if let layer {
            lseek(fd, 0, SEEK_SET)
            let reader = TarReader(FileDescriptorSource(fd: fd, name: "changes of \(record.name)"))
            while let entry = try reader.next() {
                var path = entry.path
                while path.hasSuffix("/") { path.removeLast() }
                if excluded.contains(path) { continue }
                try layer.writeHeader(entry)
                if entry.type == .regular { try reader.forEachContentChunk { try layer.writeContent($0) } }
                copied += 1
            }
        }
        return (result.sorted { $0.path < $1.path }, copied)
    }

    /// What a container's changes are computed from.
    struct DiffSource {
        /// The overlay upper directory, when the rootfs is an overlay.
        var upper: String?
        /// The image's tree: the overlay lower directories (top first), or the copy-mode snapshot.
        var lowers: [String]
        /// The container's rootfs (copy mode compares it with `lowers[0]`).
        var rootfs: String

        /// Writes the changes as a layer (no `finish`).
        @discardableResult
        func write(to tar: TarWriter) throws -> LayerDiffer.Statistics {
            let differ = LayerDiffer()
            if let upper { return try differ.diffOverlayUpper(upper: upper, to: tar) }
            guard let lower = lowers.first else { return LayerDiffer.Statistics() }
            return try differ.diffTrees(lower: lower, upper: rootfs, to: tar)
        }

        /// Whether the image has `path` (relative): the topmost lower layer that names it
        /// decides, and an overlay whiteout there means "deleted".
        func lowerHas(_ path: String) -> Bool {
            for lower in lowers {
                var st = stat()
                guard lstat("\(lower)/\(path)", &st) == 0 else { continue }
                if (st.st_mode & S_IFMT) == S_IFCHR && st.st_rdev == 0 { return false }
                return true
            }
            return false
        }
    }

    /// The trees to diff for `record`.
    func diffSource(_ record: ContainerRecord) throws -> DiffSource {
        let snapshots = try images.snapshotStore()
        guard let rootfs = try snapshots.rootfs(of: record.id) else {
            throw EngineError(.invalidState, "container \(record.name) has no root filesystem; it is being created or removed")
        }
        switch rootfs.mode {
        case .overlay:
            guard let upper = rootfs.upperDir else {
                throw EngineError(.invalidState, "container \(record.name) has a read-only overlay root filesystem with no changes to read")
            }
            return DiffSource(upper: upper, lowers: rootfs.lowerDirs, rootfs: rootfs.target)
        case .copy:
            let image: ImageRecord
            do { image = try images.lookup(record.imageID) } catch {
                throw EngineError(.notFound, "the image of container \(record.name) (\(record.imageID)) is gone; its changes cannot be computed in copy mode", cause: error)
            }
            let chain = try snapshots.ensureUnpacked(try images.details(of: image))
            guard let top = chain.snapshots.first?.path else {
                throw EngineError(.invalidState, "the image of container \(record.name) has no snapshot")
            }
            return DiffSource(upper: nil, lowers: [top], rootfs: rootfs.target)
        }
    }
}

extension SystemSupport {
    /// A new file in `directory` that is already unlinked (gone when its fd is closed).
    static func anonymousFile(in directory: String) throws -> Int32 {
        let path = "\(directory)/.tmp-\(randomID().prefix(16))"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw EngineError.posix("creating a temporary file in \(directory)", errno: errno) }
        unlink(path)
        return fd
    }
}
