#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Removal of trees relative to directory fds. Every step is `unlinkat` or
/// `openat(O_NOFOLLOW | O_DIRECTORY)` relative to a directory already inside the root, so a
/// symlink met during removal is unlinked, never followed (the `rm -rf` through a swapped
/// symlink class of bugs, e.g. CVE-2018-15664 in `docker cp`).
enum FileTree {
    /// One directory entry: its name and `d_type` (DT_UNKNOWN on filesystems without it).
    struct Child {
        var name: [UInt8]
        var type: UInt8
    }

    /// The names in the directory `fd` (any fd that can be reopened as `.`), without `.`/`..`.
    static func children(of fd: Int32) throws(LayerError.Errno) -> [Child] {
        let readable = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if readable < 0 { throw LayerError.Errno(errno) }
        guard let dir = fdopendir(readable) else {
            let code = errno
            close(readable)
            throw LayerError.Errno(code)
        }
        defer { closedir(dir) }
        var result: [Child] = []
        while let entry = readdir(dir) {
            let name: [UInt8] = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            result.append(Child(name: name, type: entry.pointee.d_type))
        }
        return result
    }

    /// Removes `name` in `parentFD` and, if it is a directory, everything below it. A missing
    /// `name` is not an error.
    static func remove(_ name: UnsafePointer<CChar>, in parentFD: Int32) throws(LayerError.Errno) {
        if unlinkat(parentFD, name, 0) == 0 { return }
        switch errno {
        case ENOENT: return
        case EISDIR, EPERM: break  // EPERM: some filesystems answer it for directories.
        default: throw LayerError.Errno(errno)
        }
        let fd = openat(parentFD, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { throw LayerError.Errno(errno) }
        defer { close(fd) }
        try removeContents(of: fd)
        if unlinkat(parentFD, name, AT_REMOVEDIR) != 0 && errno != ENOENT { throw LayerError.Errno(errno) }
    }

    /// Removes everything inside the directory `fd`, keeping the directory.
    static func removeContents(of fd: Int32) throws(LayerError.Errno) {
        for child in try children(of: fd) {
            var name = child.name
            name.append(0)
            try name.withUnsafeBufferPointer { buffer throws(LayerError.Errno) in
                guard let base = buffer.baseAddress else { return }
                try remove(UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), in: fd)
            }
        }
    }
}

extension RootfsWriter {
    /// Removes the tree at `path` (a host path) without following any symlink inside it:
    /// what a caller uses to discard a partly written snapshot after a failed unpack.
    public static func removeTree(at path: String) throws {
        let slash = path.lastIndex(of: "/")
        let parent = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !name.isEmpty, name != ".", name != ".." else {
            throw LayerError(.invalidPath, "cannot remove \(path): name the directory itself, without a trailing slash")
        }
        let parentFD = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC)
        if parentFD < 0 { throw LayerError.system("opening the parent of \(path)", Array(path.utf8), errno: errno) }
        defer { close(parentFD) }
        do {
            try FileTree.remove(name, in: parentFD)
        } catch {
            throw LayerError(.systemCallFailed, "removing \(path) failed; remove it by hand", cause: error)
        }
    }
}
