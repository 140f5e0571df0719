import CKujiraSys
import Glibc

/// Small file helpers over raw syscalls (every fd `O_CLOEXEC`), for state files and procfs.
enum FileIO {
    /// The whole content of `path`, or `nil` if it does not exist.
    static func read(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT || errno == ESRCH { return nil }
            throw RuntimeError.posix("opening \(path)")
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ESRCH { return nil }
                throw RuntimeError.posix("reading \(path)")
            }
            if n == 0 { break }
            result.append(contentsOf: buffer[0..<n])
        }
        return result
    }

    /// The content of `path` as UTF-8 text, or `nil` if it does not exist.
    static func readText(_ path: String) throws -> String? {
        try read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Writes all of `bytes` to `fd`.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], what: String) throws {
        var offset = 0
        // Sockets are written with MSG_NOSIGNAL: a peer that died (the init, a hook) must give
        // EPIPE, not a SIGPIPE that kills the embedding program.
        var isSocket = true
        while offset < bytes.count {
            var n = isSocket
                ? bytes.withUnsafeBytes { raw in Glibc.send(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset, Int32(MSG_NOSIGNAL)) }
                : bytes.withUnsafeBytes { raw in Glibc.write(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset) }
            if n < 0 && isSocket && errno == ENOTSOCK {
                isSocket = false
                n = bytes.withUnsafeBytes { raw in Glibc.write(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset) }
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw RuntimeError.posix("writing \(what)")
            }
            offset += n
        }
    }

    /// Writes `bytes` to `path` (which must exist, e.g. a procfs file), in one write.
    static func writeExisting(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd < 0 { throw RuntimeError.posix("opening \(path)") }
        defer { close(fd) }
        try writeAll(fd, Array(text.utf8), what: path)
    }

    /// Creates `path` (which must not exist) with `bytes`, in one write and without fsync:
    /// for small files in the runtime's state directory (a tmpfs under /run), which a reader
    /// treats as absent when they are empty.
    static func writeNew(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        if fd < 0 { throw RuntimeError.posix("creating \(path)") }
        defer { close(fd) }
        try writeAll(fd, bytes, what: path)
    }

    /// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync,
    /// rename. A reader sees the old or the new content, never a half-written file.
    static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        var stage: Int32 = 0
        let code = bytes.withUnsafeBytes {
            kujira_write_file_atomically(AT_FDCWD, path, $0.baseAddress, $0.count, mode, KUJIRA_ATOMIC_SYNC_FILE, &stage)
        }
        if code != 0 { throw RuntimeError.posix("\(String(cString: kujira_atomic_stage_name(stage))) \(path)", errno: code) }
    }

    /// Creates `path` and missing parents with `mode`.
    static func makeDirectories(_ path: String, mode: mode_t = 0o711) throws {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, mode) < 0 && errno != EEXIST {
                throw RuntimeError.posix("creating directory \(current)")
            }
        }
    }

    /// Removes `path` and everything below it, without following symlinks. Missing is fine.
    static func removeTree(_ path: String) throws {
        var st = stat()
        if lstat(path, &st) < 0 {
            if errno == ENOENT { return }
            throw RuntimeError.posix("stat \(path)")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            guard let dir = opendir(path) else { throw RuntimeError.posix("opening directory \(path)") }
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
            for name in names { try removeTree(path + "/" + name) }
            if rmdir(path) < 0 && errno != ENOENT { throw RuntimeError.posix("removing \(path)") }
        } else if unlink(path) < 0 && errno != ENOENT {
            throw RuntimeError.posix("removing \(path)")
        }
    }

    /// Whether `path` exists (without following a final symlink).
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Whether `path` is a directory (following symlinks).
    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
}

/// A lexically cleaned absolute path: `.` and empty components dropped, `..` applied without
/// going above `/`. Container paths are cleaned before they reach the init, so that it only
/// resolves plain names (and resolves them with RESOLVE_IN_ROOT anyway).
func cleanAbsolutePath(_ path: String) -> String {
    var parts: [Substring] = []
    for component in path.split(separator: "/", omittingEmptySubsequences: true) {
        if component == "." { continue }
        if component == ".." { _ = parts.popLast(); continue }
        parts.append(component)
    }
    return "/" + parts.joined(separator: "/")
}

/// `text` without leading and trailing spaces, tabs and line breaks (Foundation's
/// `trimmingCharacters(in: .whitespacesAndNewlines)`, which FoundationEssentials lacks).
func trimmingWhitespace(_ text: some StringProtocol) -> String {
    let isSpace: (Character) -> Bool = { $0.isWhitespace || $0.isNewline }
    guard let first = text.firstIndex(where: { !isSpace($0) }),
          let last = text.lastIndex(where: { !isSpace($0) }) else { return "" }
    return String(text[first...last])
}
