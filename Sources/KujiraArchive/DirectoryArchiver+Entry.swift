import Glibc

extension DirectoryArchiver {
    /// A file that stands in for another in a tree being archived: `name` in the open
    /// directory `parentFD` (not closed by the archiver) — a mount's root, for a copy out of
    /// a container whose mounts are not mounted (`docker cp` from a stopped container).
    public struct Substitute: Sendable {
        /// The directory holding the file.
        public var parentFD: Int32
        /// The file's name in ``parentFD`` (`.` for the directory itself).
        public var name: [UInt8]

        /// Creates a substitute.
        public init(parentFD: Int32, name: [UInt8]) {
            self.parentFD = parentFD
            self.name = name
        }
    }

    /// Writes one file or tree, `name` in the open directory `parentFD`, as the tar entries a
    /// copy needs (`docker cp`, `GET /containers/ID/archive`): the entry itself named
    /// `topName` (a directory as `topName/`), then, for a directory, everything under it as
    /// `topName/…`, in ``archive(directoryFD:name:to:)``'s order and with its guarantees (no
    /// symlink is followed; hard links within the tree become link entries). Does not call
    /// `finish()`. Returns the top entry (as stat'ed). `tree` names the source in errors.
    /// A file of the tree whose path (`topName/…`, no trailing slash) is a key of
    /// `substitutes` is archived from its substitute instead, with everything under it.
    @discardableResult
    public func archive(entry name: [UInt8], in parentFD: Int32, as topName: String, tree: String,
                        substitutes: [String: Substitute] = [:], to writer: TarWriter) throws -> TarEntry? {
        guard var top = try file(named: name, in: parentFD, prefix: "", tree: tree) else { return nil }
        let isDirectory = top.entry.type == .directory
        top.entry.path = isDirectory ? topName + "/" : topName
        top.path = topName
        switch top.entry.type {
        case .regular:
            try Self.writeRegular(top, named: name, in: parentFD, tree: tree, to: writer)
            return top.entry
        case .directory:
            try writer.writeHeader(top.entry)
        default:
            try writer.writeHeader(top.entry)
            return top.entry
        }
        struct Frame { var fd: Int32; var prefix: String; var names: [[UInt8]]; var index = 0 }
        struct Identity: Hashable { var device: UInt64; var inode: UInt64 }
        let rootFD = try Self.openDirectory(name, in: parentFD, path: topName, tree: tree)
        var stack: [Frame] = []
        defer { for frame in stack { close(frame.fd) } }
        do {
            stack.append(Frame(fd: rootFD, prefix: topName + "/", names: try Self.sortedNames(rootFD, name: tree)))
        } catch {
            close(rootFD)
            throw error
        }
        var firstPathOfInode: [Identity: String] = [:]
        while let frame = stack.last {
            if frame.index == frame.names.count {
                close(frame.fd)
                stack.removeLast()
                continue
            }
            var childName = frame.names[frame.index]
            var childParent = frame.fd
            stack[stack.count - 1].index += 1
            guard var child = try file(named: childName, in: frame.fd, prefix: frame.prefix, tree: tree) else { continue }
            if let substitute = substitutes[child.path] {
                // The substitute under the same path: its own type, metadata and content.
                let path = child.path
                guard let replaced = try file(named: substitute.name, in: substitute.parentFD, prefix: "", tree: tree) else { continue }
                child = replaced
                child.path = path
                child.entry.path = child.entry.type == .directory ? path + "/" : path
                childName = substitute.name
                childParent = substitute.parentFD
            }
            switch child.entry.type {
            case .directory:
                try writer.writeHeader(child.entry)
                let fd = try Self.openDirectory(childName, in: childParent, path: child.path, tree: tree)
                let names: [[UInt8]]
                do { names = try Self.sortedNames(fd, name: child.path) } catch { close(fd); throw error }
                stack.append(Frame(fd: fd, prefix: child.path + "/", names: names))
            case .regular:
                let key = Identity(device: child.device, inode: child.inode)
                if child.linkCount > 1 {
                    if let first = firstPathOfInode[key] {
                        child.entry.type = .hardlink
                        child.entry.linkname = first
                        child.entry.size = 0
                        try writer.writeHeader(child.entry)
                        continue
                    }
                    firstPathOfInode[key] = child.path
                }
                try Self.writeRegular(child, named: childName, in: childParent, tree: tree, to: writer)
            default:
                try writer.writeHeader(child.entry)
            }
        }
        return top.entry
    }
}
