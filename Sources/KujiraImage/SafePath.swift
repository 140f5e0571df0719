#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CKujiraSys

/// `O_PATH`: an fd that names a file without opening it for I/O (Swift's Glibc module does
/// not export it, because glibc declares it only under `_GNU_SOURCE`).
let O_PATH: Int32 = KUJIRA_O_PATH

/// A layer entry path, normalised lexically: no empty, `.` or `..` components, no leading
/// `/`. `..` above the top stays at the top, as `RESOLVE_IN_ROOT`, Docker and umoci treat
/// it, so `../../etc/passwd` and `/etc/passwd` both mean `<root>/etc/passwd`.
///
/// This cleanup only gives each entry one canonical name (for the parent-directory cache,
/// the same-layer set used by opaque whiteouts, and messages). It is NOT what keeps entries
/// inside the root: symlinks in the tree can still point anywhere, and ``RootResolver``
/// resolves every parent through the kernel.
struct NormalizedPath {
    /// The components joined by `/`, followed by a NUL so the name is a C string in place.
    private(set) var storage: [UInt8]
    /// Where the final component starts in ``storage``.
    private(set) var nameStart: Int
    /// The number of components (0 for the root itself).
    private(set) var depth: Int

    /// Normalises `raw`; fails on NUL bytes and on components longer than NAME_MAX.
    init(_ raw: [UInt8], entry: [UInt8]) throws {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count + 1)
        var starts: [Int] = []  // start of each kept component in `out`
        var index = 0
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        while index < raw.count {
            var end = index
            while end < raw.count && raw[end] != slash { end += 1 }
            let length = end - index
            if length == 0 || (length == 1 && raw[index] == dot) {
                // Empty or `.`: nothing to keep.
            } else if length == 2 && raw[index] == dot && raw[index + 1] == dot {
                if let start = starts.popLast() { out.removeSubrange(max(start - 1, 0)...) }
            } else {
                if length > Int(NAME_MAX) {
                    throw LayerError(.pathTooLong, "layer entry \(String(decoding: entry, as: UTF8.self)) has a component longer than \(NAME_MAX) bytes; Linux cannot create it")
                }
                if raw[index..<end].contains(0) {
                    throw LayerError(.invalidPath, "layer entry \(String(decoding: entry, as: UTF8.self)) contains a NUL byte; the layer is malformed")
                }
                if !out.isEmpty { out.append(slash) }
                starts.append(out.count)
                out.append(contentsOf: raw[index..<end])
            }
            index = end + 1
        }
        nameStart = starts.last ?? 0
        depth = starts.count
        out.append(0)
        storage = out
    }

    /// Whether the path names the root directory itself.
    var isRoot: Bool { depth == 0 }
    /// The full path without the trailing NUL.
    var bytes: ArraySlice<UInt8> { storage[..<(storage.count - 1)] }
    /// The parent's path (empty for entries directly in the root).
    var parent: ArraySlice<UInt8> { storage[..<max(nameStart - 1, 0)] }
    /// The final component.
    var name: ArraySlice<UInt8> { storage[nameStart..<(storage.count - 1)] }

    /// Calls `body` with the final component as a C string.
    func withName<T, E: Error>(_ body: (UnsafePointer<CChar>) throws(E) -> T) throws(E) -> T {
        try storage.withUnsafeBufferPointer { buffer throws(E) in
            // `storage` always holds at least the NUL, so it has a base address.
            guard let base = buffer.baseAddress else { return try body("") }
            return try body(UnsafeRawPointer(base + nameStart).assumingMemoryBound(to: CChar.self))
        }
    }
}

/// Calls `body` with `bytes` as a NUL-terminated C string.
func withCString<T>(_ bytes: some Collection<UInt8>, _ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
    var copy = Array(bytes)
    copy.append(0)
    return try copy.withUnsafeBufferPointer { buffer in
        try buffer.withMemoryRebound(to: CChar.self) { chars in
            // A non-empty array always has a base address; "" is the fallback for the type checker.
            guard let base = chars.baseAddress else { return try body("") }
            return try body(base)
        }
    }
}

/// Opens directories inside a root so that no path can leave it: `openat2(2)` with
/// `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS` (Linux 5.6), where symlinks and `..` are
/// resolved by the kernel as if the root were `/` (absolute symlinks, `../../..` and
/// `/proc/self/root` tricks all stay inside). Where openat2 is missing (ENOSYS, or EPERM
/// under old seccomp profiles) and to create missing parents, a component-by-component walk
/// does the same in user space: each step is `openat(O_NOFOLLOW)` relative to a held
/// directory fd, `..` pops to the previous fd and never above the root, and symlinks are
/// read with `readlinkat` and spliced into the remaining path (what `filepath-securejoin`,
/// used by umoci and runc, does) — no kernel call ever follows a symlink.
struct RootResolver {
    /// The root, opened `O_PATH | O_DIRECTORY`.
    let rootFD: Int32
    /// Cleared after openat2 reports ENOSYS, so the walk is used from then on.
    var useOpenat2 = true
    /// Linux's limit of symlinks in one resolution (MAXSYMLINKS).
    static let maxSymlinks = 40

    /// Opens the directory at `path` (normalised, relative to the root) as `O_PATH`, resolving
    /// every component inside the root. With `create`, missing directories are made with mode
    /// 0755 and owner `owner`. Returns nil when a component is missing and `create` is false.
    /// The caller owns the returned fd.
    mutating func openDirectory(_ path: ArraySlice<UInt8>, entry: [UInt8], create: Bool,
                                owner: (uid: UInt32, gid: UInt32)?) throws -> Int32? {
        if path.isEmpty {
            let fd = fcntl(rootFD, F_DUPFD_CLOEXEC, 0)
            if fd < 0 { throw LayerError.system("dup of the root", entry, errno: errno) }
            return fd
        }
        if useOpenat2 {
            var attempts = 0
            while true {
                let fd = withCString(path) { cPath in
                    kujira_openat2(rootFD, cPath, UInt64(O_PATH | O_DIRECTORY | O_CLOEXEC), 0,
                                   UInt64(KUJIRA_RESOLVE_IN_ROOT | KUJIRA_RESOLVE_NO_MAGICLINKS))
                }
                if fd >= 0 { return fd }
                let code = errno
                switch code {
                case EAGAIN where attempts < 8:
                    // A concurrent rename or mount raced with `..`; the kernel asks for a retry.
                    attempts += 1
                    continue
                case EXDEV:
                    throw LayerError(.escapesRoot, "layer entry \(String(decoding: entry, as: UTF8.self)) resolves outside the root; the layer is malicious or corrupt, do not use it")
                case ENAMETOOLONG:
                    throw LayerError(.pathTooLong, "layer entry \(String(decoding: entry, as: UTF8.self)) resolves to a path longer than PATH_MAX", cause: LayerError.Errno(code))
                case ENOSYS, EPERM:
                    useOpenat2 = false
                default:
                    break  // ENOENT, ENOTDIR, ELOOP, EAGAIN: the walk creates or explains.
                }
                break
            }
        }
        return try walk(path, entry: entry, create: create, owner: owner)
    }

    /// The user-space resolution described on the type.
    private func walk(_ path: ArraySlice<UInt8>, entry: [UInt8], create: Bool,
                      owner: (uid: UInt32, gid: UInt32)?) throws -> Int32? {
        let display = { String(decoding: entry, as: UTF8.self) }
        var held: [Int32] = []  // fds of the directories below the root on the current path
        defer { for fd in held { close(fd) } }
        var pending: [ArraySlice<UInt8>] = path.split(separator: UInt8(ascii: "/")).reversed()
        var links = 0
        while let component = pending.popLast() {
            if component.elementsEqual([UInt8(ascii: ".")]) { continue }
            if component.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                if let fd = held.popLast() { close(fd) }
                continue
            }
            let current = held.last ?? rootFD
            var info = stat()
            let found = withCString(component) { fstatat(current, $0, &info, AT_SYMLINK_NOFOLLOW) } == 0
            if !found {
                let code = errno
                guard code == ENOENT else { throw LayerError.system("stat of a parent component", entry, errno: code) }
                guard create else { return nil }
                let made = withCString(component) { mkdirat(current, $0, 0o755) } == 0
                if !made && errno != EEXIST { throw LayerError.system("creating a parent directory", entry, errno: errno) }
                if made, let owner {
                    _ = withCString(component) { fchownat(current, $0, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) }
                }
                pending.append(component)  // Look again: now it exists (or raced into existence).
                continue
            }
            switch info.st_mode & S_IFMT {
            case S_IFLNK:
                links += 1
                if links > Self.maxSymlinks {
                    throw LayerError(.symlinkLoop, "layer entry \(display()) goes through more than \(Self.maxSymlinks) symlinks; the layer has a symlink loop")
                }
                var target = [UInt8](repeating: 0, count: Int(PATH_MAX))
                let count = withCString(component) { name in
                    target.withUnsafeMutableBufferPointer { buffer in
                        buffer.withMemoryRebound(to: CChar.self) { chars in
                            guard let base = chars.baseAddress else { return -1 }
                            return readlinkat(current, name, base, chars.count)
                        }
                    }
                }
                if count < 0 { throw LayerError.system("readlink of a parent component", entry, errno: errno) }
                let link = target[..<count]
                if link.first == UInt8(ascii: "/") {
                    // An absolute target means the root of the tree, never the host's `/`.
                    for fd in held { close(fd) }
                    held.removeAll()
                }
                pending.append(contentsOf: link.split(separator: UInt8(ascii: "/")).reversed())
            case S_IFDIR:
                let fd = withCString(component) { openat(current, $0, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
                if fd < 0 { throw LayerError.system("opening a parent directory", entry, errno: errno) }
                held.append(fd)
            default:
                throw LayerError(.notADirectory, "layer entry \(display()) has a parent component that is not a directory; the layer is inconsistent with the layers below it")
            }
        }
        if let last = held.popLast() { return last }
        let fd = fcntl(rootFD, F_DUPFD_CLOEXEC, 0)
        if fd < 0 { throw LayerError.system("dup of the root", entry, errno: errno) }
        return fd
    }
}
