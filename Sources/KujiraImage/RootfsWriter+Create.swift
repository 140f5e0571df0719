#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CKujiraSys

/// Creating each kind of entry relative to its (already safely resolved) parent fd. The final
/// component is never followed: files are opened `O_CREAT | O_EXCL | O_NOFOLLOW`, metadata of
/// non-regular files is set with `AT_SYMLINK_NOFOLLOW` calls or through `O_PATH` fds.
extension RootfsWriter {
    func createRegular(_ entry: LayerEntry, _ path: NormalizedPath, in parentFD: Int32,
                       content: (Int32) throws -> Void) throws {
        let flags = O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC
        var fd = path.withName { openat(parentFD, $0, flags, 0o600) }
        if fd < 0 && errno == EEXIST {
            try removeExisting(path, in: parentFD, entry: entry.path)
            fd = path.withName { openat(parentFD, $0, flags, 0o600) }
        }
        if fd < 0 { throw LayerError.system("creating the file", entry.path, errno: errno) }
        defer { close(fd) }
        try content(fd)
        try setMetadata(fd: fd, entry)
        var times = timesOf(entry)
        if futimens(fd, &times) != 0 { throw LayerError.system("setting times", entry.path, errno: errno) }
    }

    func createDirectory(_ entry: LayerEntry, _ path: NormalizedPath, in parentFD: Int32) throws {
        var existing = false
        if path.withName({ mkdirat(parentFD, $0, 0o700) }) != 0 {
            guard errno == EEXIST else { throw LayerError.system("mkdir", entry.path, errno: errno) }
            var info = stat()
            if path.withName({ fstatat(parentFD, $0, &info, AT_SYMLINK_NOFOLLOW) }) != 0 {
                throw LayerError.system("stat", entry.path, errno: errno)
            }
            if info.st_mode & S_IFMT == S_IFDIR {
                existing = true
            } else {
                try removeExisting(path, in: parentFD, entry: entry.path)
                if path.withName({ mkdirat(parentFD, $0, 0o700) }) != 0 {
                    throw LayerError.system("mkdir", entry.path, errno: errno)
                }
            }
        }
        let fd = path.withName { openat(parentFD, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        if fd < 0 { throw LayerError.system("opening the new directory", entry.path, errno: errno) }
        defer { close(fd) }
        try setDirectoryMetadata(fd: fd, entry, replacingXattrs: existing, path: path)
    }

    /// The root directory's own entry (`./` in most layers): metadata only.
    func applyRootDirectory(_ entry: LayerEntry) throws {
        let fd = openat(rootFD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw LayerError.system("opening the root", entry.path, errno: errno) }
        defer { close(fd) }
        try setDirectoryMetadata(fd: fd, entry, replacingXattrs: true, path: try NormalizedPath([], entry: []))
    }

    func createSymlink(_ entry: LayerEntry, target: [UInt8], _ path: NormalizedPath, in parentFD: Int32) throws {
        if target.contains(0) || target.isEmpty {
            throw LayerError(.invalidPath, "layer entry \(entry.displayPath) is a symlink with an empty target or a NUL byte in it; the layer is malformed")
        }
        // The target is stored verbatim: it is resolved only inside the container, later.
        let made = { withCString(target) { t in path.withName { symlinkat(t, parentFD, $0) } } }
        if made() != 0 {
            guard errno == EEXIST else { throw LayerError.system("symlink", entry.path, errno: errno) }
            try removeExisting(path, in: parentFD, entry: entry.path)
            if made() != 0 { throw LayerError.system("symlink", entry.path, errno: errno) }
        }
        try setNodeMetadata(entry, path, in: parentFD, isSymlink: true)
    }

    func createHardlink(_ entry: LayerEntry, target: [UInt8], _ path: NormalizedPath, in parentFD: Int32) throws {
        // An absolute target means the path inside the root (`/etc/shadow` is
        // `<root>/etc/shadow`), resolved like any entry path, never on the host.
        let targetPath = try NormalizedPath(target, entry: entry.path)
        let display = String(decoding: target, as: UTF8.self)
        if targetPath.isRoot {
            throw LayerError(.hardlinkToDirectory, "layer entry \(entry.displayPath) is a hard link to the root directory; the layer is malformed")
        }
        guard let targetParent = try resolver.openDirectory(targetPath.parent, entry: entry.path, create: false, owner: nil) else {
            throw LayerError(.hardlinkTargetMissing, "layer entry \(entry.displayPath) is a hard link to \(display), which does not exist in the root; the layer is malformed or applied out of order")
        }
        defer { close(targetParent) }
        var source = stat()
        if targetPath.withName({ fstatat(targetParent, $0, &source, AT_SYMLINK_NOFOLLOW) }) != 0 {
            if errno == ENOENT {
                throw LayerError(.hardlinkTargetMissing, "layer entry \(entry.displayPath) is a hard link to \(display), which does not exist in the root; the layer is malformed or applied out of order")
            }
            throw LayerError.system("stat of the hard link target \(display)", entry.path, errno: errno)
        }
        if source.st_mode & S_IFMT == S_IFDIR {
            throw LayerError(.hardlinkToDirectory, "layer entry \(entry.displayPath) is a hard link to the directory \(display); Linux forbids it and the layer is malformed")
        }
        // Flags 0: a symlink target is linked itself, never followed (no AT_SYMLINK_FOLLOW).
        let link = { targetPath.withName { t in path.withName { linkat(targetParent, t, parentFD, $0, 0) } } }
        if link() == 0 { return }
        guard errno == EEXIST else { throw LayerError.system("link to \(display)", entry.path, errno: errno) }
        var current = stat()
        if path.withName({ fstatat(parentFD, $0, &current, AT_SYMLINK_NOFOLLOW) }) == 0,
           current.st_dev == source.st_dev, current.st_ino == source.st_ino {
            return  // Already the same inode (a link entry naming itself, or a repeat).
        }
        try removeExisting(path, in: parentFD, entry: entry.path)
        if link() != 0 { throw LayerError.system("link to \(display)", entry.path, errno: errno) }
    }

    func createNode(_ entry: LayerEntry, type: mode_t, major: UInt32, minor: UInt32,
                    _ path: NormalizedPath, in parentFD: Int32) throws {
        if type != S_IFIFO {
            switch options.devicePolicy {
            case .create: break
            case .skip: return
            case .reject:
                throw LayerError(.deviceForbidden, "layer entry \(entry.displayPath) is a device node (\(major):\(minor)) and device nodes are forbidden for this unpack; allow them with devicePolicy .create or skip them with .skip")
            }
        }
        let make = { path.withName { kujira_mknodat(parentFD, $0, type | 0o600, major, minor) } }
        if make() != 0 {
            guard errno == EEXIST else { throw LayerError.system("mknod", entry.path, errno: errno) }
            try removeExisting(path, in: parentFD, entry: entry.path)
            if make() != 0 { throw LayerError.system("mknod", entry.path, errno: errno) }
        }
        try setNodeMetadata(entry, path, in: parentFD, isSymlink: false)
    }

    // MARK: - Replacing

    /// Removes whatever is at `path` (recursively for a directory), so a non-directory entry
    /// can take its place, as Docker and umoci do.
    func removeExisting(_ path: NormalizedPath, in parentFD: Int32, entry: [UInt8]) throws {
        do throws(LayerError.Errno) {
            try path.withName { name throws(LayerError.Errno) in try FileTree.remove(name, in: parentFD) }
        } catch {
            throw LayerError.system("removing the existing file it replaces", entry, errno: error.rawValue)
        }
        invalidateCache(under: path.bytes)
    }

    // MARK: - Metadata

    func timesOf(_ entry: LayerEntry) -> [timespec] {
        let mtime = timespec(tv_sec: Int(entry.mtime.seconds), tv_nsec: Int(entry.mtime.nanoseconds))
        let atime = entry.atime.map { timespec(tv_sec: Int($0.seconds), tv_nsec: Int($0.nanoseconds)) } ?? mtime
        return [atime, mtime]
    }

    /// Owner, then mode (chown clears setuid/setgid, so chmod must follow it), then xattrs
    /// (chown also clears `security.capability`), on an open regular file.
    func setMetadata(fd: Int32, _ entry: LayerEntry) throws {
        if options.preserveOwnership {
            let ids = try hostIDs(uid: entry.uid, gid: entry.gid, entry: entry.path)
            if fchown(fd, ids.uid, ids.gid) != 0 { throw LayerError.system("chown", entry.path, errno: errno) }
        }
        if fchmod(fd, mode_t(entry.mode & 0o7777)) != 0 { throw LayerError.system("chmod", entry.path, errno: errno) }
        for (name, value) in entry.xattrs {
            let rc = value.withUnsafeBytes { fsetxattr(fd, name, $0.baseAddress, $0.count, 0) }
            if rc != 0 { try xattrFailed(name, entry, errno: errno) }
        }
    }

    func setDirectoryMetadata(fd: Int32, _ entry: LayerEntry, replacingXattrs: Bool, path: NormalizedPath) throws {
        if replacingXattrs {
            // Like umoci: the directory ends with exactly the entry's xattrs, not the union
            // with the lower layer's.
            for name in listXattrs(fd) where entry.xattrs[name] == nil {
                _ = fremovexattr(fd, name)
            }
        }
        var dirEntry = entry
        let mode = entry.mode & 0o7777
        // Without root, a directory without owner rwx could not receive its children: open it
        // up now and apply the real mode in finish().
        let needsFinalMode = !isRoot && mode & 0o700 != 0o700
        if needsFinalMode { dirEntry.mode = mode | 0o700 }
        try setMetadata(fd: fd, dirEntry)
        let times = timesOf(entry)
        deferredDirectories[Array(path.bytes)] = DeferredDirectory(
            depth: path.depth, times: (times[0], times[1]), finalMode: needsFinalMode ? mode_t(mode) : nil)
    }

    /// Metadata of symlinks, devices and FIFOs, which must not be opened for I/O (opening a
    /// device can have side effects; a FIFO blocks): `AT_SYMLINK_NOFOLLOW` calls on the name,
    /// and xattrs through an `O_PATH` fd.
    func setNodeMetadata(_ entry: LayerEntry, _ path: NormalizedPath, in parentFD: Int32, isSymlink: Bool) throws {
        if options.preserveOwnership {
            let ids = try hostIDs(uid: entry.uid, gid: entry.gid, entry: entry.path)
            if path.withName({ fchownat(parentFD, $0, ids.uid, ids.gid, AT_SYMLINK_NOFOLLOW) }) != 0 {
                throw LayerError.system("chown", entry.path, errno: errno)
            }
        }
        if !isSymlink {  // A symlink's mode is always 0777 on Linux.
            if path.withName({ kujira_fchmodat_nofollow(parentFD, $0, mode_t(entry.mode & 0o7777)) }) != 0 {
                throw LayerError.system("chmod", entry.path, errno: errno)
            }
        }
        // Linux refuses user.* xattrs on symlinks and device nodes (EPERM), so skip them there.
        let xattrs = entry.xattrs.filter { !$0.key.hasPrefix("user.") }
        if !xattrs.isEmpty {
            let fd = path.withName { openat(parentFD, $0, O_PATH | O_NOFOLLOW | O_CLOEXEC) }
            if fd < 0 { throw LayerError.system("opening for xattrs", entry.path, errno: errno) }
            defer { close(fd) }
            for (name, value) in xattrs {
                let rc = value.withUnsafeBytes { kujira_setxattr_opath(fd, name, $0.baseAddress, $0.count) }
                if rc != 0 { try xattrFailed(name, entry, errno: errno) }
            }
        }
        var times = timesOf(entry)
        if path.withName({ utimensat(parentFD, $0, &times, AT_SYMLINK_NOFOLLOW) }) != 0 {
            throw LayerError.system("setting times", entry.path, errno: errno)
        }
    }

    /// A failed xattr write: ENOTSUP (the filesystem has no xattrs, as Docker tolerates) and,
    /// without root, EPERM (`trusted.*`, `security.*`) are ignored; anything else fails.
    func xattrFailed(_ name: String, _ entry: LayerEntry, errno code: Int32) throws {
        if code == ENOTSUP || (code == EPERM && !isRoot) { return }
        throw LayerError.system("setting xattr \(name)", entry.path, errno: code)
    }

    /// The names of the xattrs on `fd`.
    func listXattrs(_ fd: Int32) -> [String] {
        let size = flistxattr(fd, nil, 0)
        guard size > 0 else { return [] }
        var buffer = [CChar](repeating: 0, count: size)
        let count = flistxattr(fd, &buffer, size)
        guard count > 0 else { return [] }
        return buffer[..<count].split(separator: 0).map { chars in
            String(decoding: chars.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}
