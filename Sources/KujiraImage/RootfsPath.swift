#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A file named inside a root filesystem: its parent directory, opened `O_PATH` after
/// resolving every component inside the root, and its final name, not followed. Used to
/// read from a container's rootfs on the host (`docker cp`, `archive`) without ever
/// following a symlink out of it. Close it with ``close()``.
public struct RootfsLocation: Sendable {
    /// The parent directory (`O_PATH | O_DIRECTORY`), owned by the location.
    public let parentFD: Int32
    /// The final component (`.` for the root itself).
    public let name: [UInt8]
    /// The path inside the root, cleaned, with every symlink followed by ``RootfsPath``
    /// resolved (`/` for the root).
    public let path: String
    /// `st_mode` of the file (`lstat`: a symlink's own).
    public let mode: UInt32
    /// `st_size`.
    public let size: Int64
    /// `st_mtime`, seconds since the epoch.
    public let mtimeSeconds: Int64

    /// Whether the file is a directory.
    public var isDirectory: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFDIR) }
    /// Whether the file is a symlink.
    public var isSymlink: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFLNK) }

    /// Closes ``parentFD``.
    public func close() { _ = Glibc.close(parentFD) }
}

/// Resolution of paths inside a root filesystem, confined to it as `openat2(RESOLVE_IN_ROOT)`
/// confines (absolute symlinks and `..` stay inside): `/etc/passwd -> /etc/shadow` in a
/// container reads the container's shadow, never the host's.
public enum RootfsPath {
    /// Locates `path` inside `root`. With `followLast`, a final symlink is followed (inside
    /// the root, up to 40 links); otherwise the link itself is located.
    /// - Returns: nil when a component is missing.
    /// - Throws: ``LayerError`` for a symlink loop, a non-directory parent, or a system error.
    public static func locate(_ path: String, in root: String, followLast: Bool) throws -> RootfsLocation? {
        let rootFD = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else { throw LayerError.system("opening the root", Array(root.utf8), errno: errno) }
        defer { _ = Glibc.close(rootFD) }
        var resolver = RootResolver(rootFD: rootFD)
        var current = clean(path)
        var hops = 0
        while true {
            let components = current.split(separator: "/").map(String.init)
            let parentPath = components.dropLast().joined(separator: "/")
            let name: [UInt8] = components.last.map { Array($0.utf8) } ?? Array(".".utf8)
            guard let parentFD = try resolver.openDirectory(Array(parentPath.utf8)[...], entry: Array(path.utf8), create: false, owner: nil) else {
                return nil
            }
            var info = stat()
            let found = withCString(name) { fstatat(parentFD, $0, &info, AT_SYMLINK_NOFOLLOW) } == 0
            if !found {
                let code = errno
                _ = Glibc.close(parentFD)
                if code == ENOENT || code == ENOTDIR { return nil }
                throw LayerError.system("stat", Array(path.utf8), errno: code)
            }
            guard followLast, (info.st_mode & S_IFMT) == S_IFLNK else {
                return RootfsLocation(parentFD: parentFD, name: name, path: "/" + components.joined(separator: "/"),
                                      mode: UInt32(info.st_mode), size: Int64(info.st_size), mtimeSeconds: Int64(info.st_mtim.tv_sec))
            }
            hops += 1
            var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let count = withCString(name) { readlinkat(parentFD, $0, &target, target.count - 1) }
            _ = Glibc.close(parentFD)
            guard count >= 0 else { throw LayerError.system("readlink", Array(path.utf8), errno: errno) }
            guard hops <= RootResolver.maxSymlinks else {
                throw LayerError(.symlinkLoop, "\(path) goes through more than \(RootResolver.maxSymlinks) symlinks")
            }
            let link = String(decoding: target[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = clean(link.hasPrefix("/") ? link : parentPath + "/" + link)
        }
    }

    /// `path` without empty and `.` components, `..` applied lexically (never above the root).
    public static func clean(_ path: String) -> String {
        var out: [Substring] = []
        for component in path.split(separator: "/") {
            if component == "." { continue }
            if component == ".." { _ = out.popLast(); continue }
            out.append(component)
        }
        return out.joined(separator: "/")
    }
}
