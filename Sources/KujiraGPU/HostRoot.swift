// The seam between discovery and the host: every file KujiraGPU reads (/proc, /sys, /dev, the
// driver's libraries, the ld cache) is read through a HostRoot, so that tests point discovery
// at a fake host built in a temporary directory, and `kujira cdi generate --host-root DIR`
// describes a host mounted elsewhere (a driver container's root, a chroot).

public import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A directory that stands for the host's `/`. Paths given to its methods are host paths
/// (`/proc/devices`); symbolic links are resolved inside the root, as `chroot` would, so an
/// absolute link target never escapes it.
public struct HostRoot: Hashable, Sendable, CustomStringConvertible {
    /// The directory standing for `/`, without a trailing slash (`/` itself for the real host).
    public let path: String

    /// The real host.
    public static let system = HostRoot("/")

    /// A root at `path` (absolute or relative to the working directory).
    public init(_ path: String) {
        var p = path.isEmpty ? "/" : path
        if !p.hasPrefix("/") {
            p = FileManager.default.currentDirectoryPath + "/" + p
        }
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        self.path = p
    }

    /// The root's directory.
    public var description: String { path }

    /// Whether this is the real host's `/`.
    public var isSystemRoot: Bool { path == "/" }

    /// The path on this machine of the host path `hostPath`: `<root>/<hostPath>`.
    public func realPath(_ hostPath: String) -> String {
        let clean = HostRoot.normalize(hostPath)
        if isSystemRoot { return clean }
        return clean == "/" ? path : path + clean
    }

    /// `path` made absolute and free of `.`, `..` and repeated slashes (lexically).
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { _ = parts.popLast(); continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The host path `hostPath` with every symbolic link resolved inside the root; nil when a
    /// component does not exist or links loop.
    public func resolve(_ hostPath: String) -> String? {
        var pending = HostRoot.normalize(hostPath).split(separator: "/").map(String.init)
        var resolved: [String] = []
        var hops = 0
        while !pending.isEmpty {
            let part = pending.removeFirst()
            if part == "." || part.isEmpty { continue }
            if part == ".." { _ = resolved.popLast(); continue }
            let candidate = "/" + (resolved + [part]).joined(separator: "/")
            var st = stat()
            guard lstat(realPath(candidate), &st) == 0 else { return nil }
            if (st.st_mode & S_IFMT) == S_IFLNK {
                hops += 1
                guard hops <= 40, let target = readLink(candidate) else { return nil }
                let targetParts = target.split(separator: "/").map(String.init)
                if target.hasPrefix("/") { resolved = [] }
                pending = targetParts + pending
            } else {
                resolved.append(part)
            }
        }
        return "/" + resolved.joined(separator: "/")
    }

    /// The target of the symbolic link at `hostPath`, as stored; nil when it is not a link.
    public func readLink(_ hostPath: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(realPath(hostPath), &buffer, buffer.count - 1)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The contents of the file at `hostPath`.
    public func read(_ hostPath: String) throws -> Data {
        let real = realPath(hostPath)
        guard let data = FileManager.default.contents(atPath: real) else {
            throw GPUError(.hostIO, "cannot read \(real)")
        }
        return data
    }

    /// The contents of the text file at `hostPath`; nil when it does not exist or is unreadable.
    public func readText(_ hostPath: String) -> String? {
        FileManager.default.contents(atPath: realPath(hostPath)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether something exists at `hostPath` (following links inside the root).
    public func exists(_ hostPath: String) -> Bool {
        guard let resolved = resolve(hostPath) else { return false }
        var st = stat()
        return lstat(realPath(resolved), &st) == 0
    }

    /// The names in the directory at `hostPath`, sorted; empty when it does not exist.
    public func list(_ hostPath: String) -> [String] {
        let dir = resolve(hostPath).map(realPath) ?? realPath(hostPath)
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    /// `stat` of the host path (following links inside the root); nil when it does not exist.
    public func fileInfo(_ hostPath: String) -> HostFileInfo? {
        guard let resolved = resolve(hostPath) else { return nil }
        return HostFileInfo(realPath: realPath(resolved))
    }
}

/// What `stat(2)` says about a file: its kind, permission bits and, for device nodes, numbers.
public struct HostFileInfo: Hashable, Sendable {
    /// The file's kind.
    public enum Kind: String, Hashable, Sendable {
        /// A character device (`c`).
        case characterDevice
        /// A block device (`b`).
        case blockDevice
        /// A FIFO (`p`).
        case fifo
        /// A directory.
        case directory
        /// A regular file.
        case regular
        /// A UNIX socket.
        case socket
        /// Anything else (a symbolic link when not followed).
        case other
    }
    /// The file's kind.
    public var kind: Kind
    /// The permission bits (`st_mode & 07777`).
    public var permissions: UInt32
    /// The major number of a device node (`st_rdev`).
    public var major: Int64
    /// The minor number of a device node (`st_rdev`).
    public var minor: Int64

    /// The OCI/CDI device type letter for device nodes and FIFOs (`c`, `b`, `p`); nil otherwise.
    public var deviceType: String? {
        switch kind {
        case .characterDevice: "c"
        case .blockDevice: "b"
        case .fifo: "p"
        default: nil
        }
    }

    /// Creates a value.
    public init(kind: Kind, permissions: UInt32, major: Int64 = 0, minor: Int64 = 0) {
        self.kind = kind
        self.permissions = permissions
        self.major = major
        self.minor = minor
    }

    /// `stat` of a path on this machine (following links); nil when it does not exist.
    public init?(realPath: String) {
        var st = stat()
        guard stat(realPath, &st) == 0 else { return nil }
        switch st.st_mode & S_IFMT {
        case S_IFCHR: kind = .characterDevice
        case S_IFBLK: kind = .blockDevice
        case S_IFIFO: kind = .fifo
        case S_IFDIR: kind = .directory
        case S_IFREG: kind = .regular
        case S_IFSOCK: kind = .socket
        default: kind = .other
        }
        permissions = UInt32(st.st_mode & 0o7777)
        // glibc's gnu_dev_major/gnu_dev_minor, written out: they are macros in some headers.
        let dev = UInt64(st.st_rdev)
        major = Int64(((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff)))
        minor = Int64((dev & 0xff) | ((dev >> 12) & ~UInt64(0xff)))
    }
}
