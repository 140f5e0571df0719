// Copy-up: an empty volume mounted over a non-empty directory of the image is filled with
// that directory's content and ownership (Docker's `copyExistingContents`).
//
// The directory is inside a container's rootfs, which the image (and so a user) controls:
// the path is resolved with `openat2(RESOLVE_IN_ROOT)`, so symlinks and `..` stay inside the
// rootfs, and below it every step is an `openat(O_NOFOLLOW)` or `fstatat(AT_SYMLINK_NOFOLLOW)`
// relative to a held directory fd: a symlink is copied as a symlink, never followed.

internal import CKujiraSys
#if canImport(Glibc)
import Glibc
#endif

/// Copies an image directory into an empty volume, never leaving the container's rootfs.
public enum VolumeCopier {
    /// Copies the directory `path` of `rootfs` into `target` (a volume's data directory) if
    /// `target` is empty and `path` is a non-empty directory: regular files, directories,
    /// symlinks, device nodes and FIFOs, each with its owner, mode and modification time; the
    /// owner and mode of `path` itself go to `target`. Hard links become separate copies;
    /// extended attributes are not copied.
    /// - Returns: whether anything was copied.
    /// - Throws: ``VolumeError`` `.io` when a read or a write fails.
    @discardableResult
    public static func copyUp(rootfs: String, path: String, into target: String) throws -> Bool {
        let rootFD = open(rootfs, openPath | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else { throw VolumeError.posix("opening rootfs \(rootfs)", errno: errno) }
        defer { close(rootFD) }
        let relative = path.split(separator: "/").joined(separator: "/")
        let sourceFD: Int32
        if relative.isEmpty {
            sourceFD = openat(rootFD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        } else {
            sourceFD = kujira_openat2(rootFD, relative, UInt64(O_RDONLY | O_DIRECTORY | O_CLOEXEC), 0,
                                      UInt64(KUJIRA_RESOLVE_IN_ROOT | KUJIRA_RESOLVE_NO_MAGICLINKS))
        }
        if sourceFD < 0 {
            // Missing, or not a directory: there is nothing to copy.
            if errno == ENOENT || errno == ENOTDIR { return false }
            throw VolumeError.posix("opening \(path) in the container's rootfs", errno: errno)
        }
        defer { close(sourceFD) }
        let targetFD = open(target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard targetFD >= 0 else { throw VolumeError.posix("opening \(target)", errno: errno) }
        defer { close(targetFD) }
        guard try entries(targetFD).isEmpty else { return false }
        let names = try entries(sourceFD)
        guard !names.isEmpty else { return false }
        var info = stat()
        guard fstat(sourceFD, &info) == 0 else { throw VolumeError.posix("stat of \(path)", errno: errno) }
        try copyDirectory(from: sourceFD, to: targetFD, names: names, where: path)
        guard fchown(targetFD, info.st_uid, info.st_gid) == 0, fchmod(targetFD, info.st_mode & 0o7777) == 0 else {
            throw VolumeError.posix("setting the owner of \(target)", errno: errno)
        }
        return true
    }

    /// Whether the directory `path` holds no entries (a missing directory counts as empty).
    public static func isEmptyDirectory(_ path: String) throws -> Bool {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return true }
            throw VolumeError.posix("opening \(path)", errno: errno)
        }
        defer { close(fd) }
        return try entries(fd).isEmpty
    }

    static let openPath: Int32 = KUJIRA_O_PATH

    /// The names in directory `fd` (without `.` and `..`), NUL-terminated, as the kernel gives
    /// them (not necessarily UTF-8).
    static func entries(_ fd: Int32) throws -> [[CChar]] {
        let copy = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard copy >= 0, let dir = fdopendir(copy) else {
            let code = errno
            throw VolumeError.posix("reading a directory", errno: code)
        }
        defer { closedir(dir) }
        var names: [[CChar]] = []
        while let entry = readdir(dir) {
            let name: [CChar] = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                let bytes = raw.bindMemory(to: CChar.self)
                return Array(bytes.prefix { $0 != 0 }) + [0]
            }
            if name == [46, 0] || name == [46, 46, 0] { continue }
            names.append(name)
        }
        return names
    }

    static func display(_ name: [CChar]) -> String {
        String(decoding: name.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func copyDirectory(from source: Int32, to target: Int32, names: [[CChar]], where path: String) throws {
        for name in names {
            let shown = "\(path)/\(display(name))"
            var info = stat()
            guard fstatat(source, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw VolumeError.posix("stat of \(shown)", errno: errno)
            }
            let kind = info.st_mode & S_IFMT
            switch kind {
            case S_IFDIR:
                guard mkdirat(target, name, 0o700) == 0 else { throw VolumeError.posix("creating \(shown) in the volume", errno: errno) }
                let from = openat(source, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard from >= 0 else { throw VolumeError.posix("opening \(shown)", errno: errno) }
                defer { close(from) }
                let to = openat(target, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard to >= 0 else { throw VolumeError.posix("opening \(shown) in the volume", errno: errno) }
                defer { close(to) }
                try copyDirectory(from: from, to: to, names: try entries(from), where: shown)
            case S_IFREG:
                try copyFile(from: source, to: target, name: name, shown: shown)
            case S_IFLNK:
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let length = readlinkat(source, name, &buffer, buffer.count - 1)
                guard length >= 0 else { throw VolumeError.posix("reading link \(shown)", errno: errno) }
                buffer[length] = 0
                guard symlinkat(buffer, target, name) == 0 else { throw VolumeError.posix("creating link \(shown) in the volume", errno: errno) }
            case S_IFCHR, S_IFBLK, S_IFIFO:
                guard mknodat(target, name, info.st_mode, info.st_rdev) == 0 else {
                    throw VolumeError.posix("creating node \(shown) in the volume", errno: errno)
                }
            default:
                continue  // Sockets belong to a live process; Docker skips them too.
            }
            guard fchownat(target, name, info.st_uid, info.st_gid, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw VolumeError.posix("setting the owner of \(shown) in the volume", errno: errno)
            }
            if kind != S_IFLNK, kujira_fchmodat_nofollow(target, name, info.st_mode & 0o7777) != 0 {
                throw VolumeError.posix("setting the mode of \(shown) in the volume", errno: errno)
            }
            var times = [info.st_atim, info.st_mtim]
            _ = utimensat(target, name, &times, AT_SYMLINK_NOFOLLOW)
        }
    }

    static func copyFile(from source: Int32, to target: Int32, name: [CChar], shown: String) throws {
        let input = openat(source, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard input >= 0 else { throw VolumeError.posix("opening \(shown)", errno: errno) }
        defer { close(input) }
        let output = openat(target, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw VolumeError.posix("creating \(shown) in the volume", errno: errno) }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 128 * 1024)
        while true {
            let count = read(input, &buffer, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw VolumeError.posix("reading \(shown)", errno: errno)
            }
            if count == 0 { break }
            var offset = 0
            while offset < count {
                let written = buffer[offset..<count].withUnsafeBytes { write(output, $0.baseAddress, $0.count) }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw VolumeError.posix("writing \(shown) in the volume", errno: errno)
                }
                offset += written
            }
        }
    }
}
