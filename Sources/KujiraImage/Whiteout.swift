#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CKujiraSys

/// OCI whiteout names (image-spec, layer.md "Whiteouts"): `.wh.NAME` deletes NAME from the
/// layers below; `.wh..wh..opq` makes its directory opaque (hides every lower entry in it).
enum Whiteout {
    /// The prefix of every whiteout name.
    static let prefix: [UInt8] = Array(".wh.".utf8)
    /// The opaque-directory marker.
    static let opaque: [UInt8] = Array(".wh..wh..opq".utf8)
    /// The prefix of AUFS metadata (`.wh..wh.plnk`, `.wh..wh.aufs`), which Docker skips.
    static let metaPrefix: [UInt8] = Array(".wh..wh.".utf8)
}

/// What an entry of an overlayfs upper directory means: used to compute a layer diff from an
/// overlay snapshot.
public enum OverlayWhiteout: Sendable, Hashable {
    /// An ordinary entry.
    case none
    /// A whiteout: a 0:0 character device, or (overlayfs ≥ 6.7) an empty regular file with
    /// `trusted.overlay.whiteout`/`user.overlay.whiteout`; the lower entry is deleted.
    case whiteout
    /// A directory with `trusted.overlay.opaque=y` or `user.overlay.opaque=y`: lower entries
    /// in it are hidden.
    case opaque

    /// Classifies the entry `name` of the directory `directoryFD`, without following symlinks.
    public static func classify(directoryFD: Int32, name: String) throws -> OverlayWhiteout {
        var info = stat()
        if fstatat(directoryFD, name, &info, AT_SYMLINK_NOFOLLOW) != 0 {
            throw LayerError.system("stat while classifying an overlay entry", Array(name.utf8), errno: errno)
        }
        switch info.st_mode & S_IFMT {
        case S_IFCHR where info.st_rdev == 0:
            return .whiteout
        case S_IFDIR:
            return try hasXattr(directoryFD, name, ["trusted.overlay.opaque", "user.overlay.opaque"], equalTo: "y") ? .opaque : .none
        case S_IFREG where info.st_size == 0:
            return try hasXattr(directoryFD, name, ["trusted.overlay.whiteout", "user.overlay.whiteout"], equalTo: nil) ? .whiteout : .none
        default:
            return .none
        }
    }

    /// Whether `name` has one of `xattrs` (with value `value`, if given).
    private static func hasXattr(_ directoryFD: Int32, _ name: String, _ xattrs: [String], equalTo value: String?) throws -> Bool {
        let fd = openat(directoryFD, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { throw LayerError.system("opening while classifying an overlay entry", Array(name.utf8), errno: errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 8)
        for xattr in xattrs {
            let count = buffer.withUnsafeMutableBytes { kujira_getxattr_opath(fd, xattr, $0.baseAddress, $0.count) }
            if count < 0 { continue }  // ENODATA, or ERANGE for a value that is not "y".
            if let value { if buffer[..<count].elementsEqual(value.utf8) { return true } } else { return true }
        }
        return false
    }
}

extension RootfsWriter {
    /// Applies a whiteout entry per ``RootfsWriterOptions/whiteoutFormat``.
    func applyWhiteout(_ path: NormalizedPath, entry: LayerEntry) throws {
        let name = path.name
        if name.elementsEqual(Whiteout.opaque) {
            switch options.whiteoutFormat {
            case .oci: try hideLowerEntries(directory: path, entry: entry)
            case .overlay(let namespace): try markOpaque(directory: path, entry: entry, xattr: "\(namespace).overlay.opaque")
            }
            return
        }
        if name.starts(with: Whiteout.metaPrefix) { return }  // AUFS bookkeeping, as Docker.
        let target = name.dropFirst(Whiteout.prefix.count)
        if target.isEmpty || target.elementsEqual([UInt8(ascii: ".")]) || target.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
            throw LayerError(.invalidPath, "layer entry \(entry.displayPath) is a whiteout of no name (or of . or ..); the layer is malformed")
        }
        var targetPath = Array(path.parent)
        if !targetPath.isEmpty { targetPath.append(UInt8(ascii: "/")) }
        targetPath.append(contentsOf: target)
        let deleted = try NormalizedPath(targetPath, entry: entry.path)
        switch options.whiteoutFormat {
        case .oci:
            // Whiteouts apply only to lower layers: keep what this layer wrote.
            if layerPaths.contains(Array(deleted.bytes)) { return }
            let parentFD = try parentDirectory(of: deleted, entry: entry.path, create: false)
            if parentFD < 0 { return }  // The parent is missing, so the entry is already gone.
            try removeExisting(deleted, in: parentFD, entry: entry.path)
        case .overlay:
            let parentFD = try parentDirectory(of: deleted, entry: entry.path, create: true)
            let rc = deleted.withName { kujira_mknodat(parentFD, $0, S_IFCHR, 0, 0) }
            // EEXIST: this layer wrote the entry itself, which the whiteout does not hide.
            if rc != 0 && errno != EEXIST {
                throw LayerError.system("creating the overlay whiteout (a 0:0 character device needs CAP_MKNOD)", entry.path, errno: errno)
            }
        }
    }

    /// `.wh..wh..opq` in OCI form: removes everything below the directory that the current
    /// layer did not write (the layer's own entries stay, before or after the marker).
    private func hideLowerEntries(directory marker: NormalizedPath, entry: LayerEntry) throws {
        let directory = Array(marker.parent)
        guard let fd = try resolver.openDirectory(marker.parent, entry: entry.path, create: false, owner: nil) else { return }
        defer { close(fd) }
        invalidateCache(under: directory[...])
        do throws(LayerError.Errno) {
            try hide(in: fd, path: directory)
        } catch {
            throw LayerError.system("removing entries hidden by the opaque whiteout", entry.path, errno: error.rawValue)
        }
    }

    private func hide(in fd: Int32, path: [UInt8]) throws(LayerError.Errno) {
        for child in try FileTree.children(of: fd) {
            var childPath = path
            if !childPath.isEmpty { childPath.append(UInt8(ascii: "/")) }
            childPath.append(contentsOf: child.name)
            var cName = child.name
            cName.append(0)
            try cName.withUnsafeBufferPointer { buffer throws(LayerError.Errno) in
                guard let base = buffer.baseAddress else { return }
                let name = UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self)
                if !layerPaths.contains(childPath) {
                    try FileTree.remove(name, in: fd)
                    return
                }
                // Written by this layer: keep it, but a directory may still hold lower entries.
                let sub = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if sub < 0 {
                    if errno == ENOTDIR || errno == ELOOP { return }
                    throw LayerError.Errno(errno)
                }
                defer { close(sub) }
                try hide(in: sub, path: childPath)
            }
        }
    }

    /// `.wh..wh..opq` in overlay form: the opaque xattr on the directory.
    private func markOpaque(directory marker: NormalizedPath, entry: LayerEntry, xattr: String) throws {
        guard let fd = try resolver.openDirectory(marker.parent, entry: entry.path, create: true,
                                                  owner: options.preserveOwnership ? try hostIDs(uid: 0, gid: 0, entry: entry.path) : nil)
        else { return }
        defer { close(fd) }
        let rc = kujira_setxattr_opath(fd, xattr, "y", 1)
        if rc != 0 {
            throw LayerError.system("setting \(xattr) (trusted.* needs CAP_SYS_ADMIN; use the user namespace for rootless overlay)", entry.path, errno: errno)
        }
    }
}
