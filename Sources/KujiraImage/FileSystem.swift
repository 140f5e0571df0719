import CKujiraSys
import Glibc

/// The few file-system calls the stores make, in one place so that every descriptor is
/// opened `O_CLOEXEC` (CVE-2024-21626: a leaked directory fd lets a container escape) and
/// every `EINTR` is retried.
enum FileSystem {
    /// Opens `path` with `O_CLOEXEC` added to `flags`.
    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno == EINTR { continue }
            throw ImageStoreError.posix("open", path: path, errno: errno)
        }
    }

    /// Creates `path` and its missing parents, like `mkdir -p`.
    static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, mode) != 0 && errno != EEXIST {
                throw ImageStoreError.posix("mkdir", path: prefix, errno: errno)
            }
            prefix += "/"
        }
        guard isDirectory(path) else {
            throw ImageStoreError(.io, "\(path) exists and is not a directory; move it away or choose another root")
        }
    }

    /// Whether `path` names a directory (following symlinks).
    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Whether `path` exists (without following a final symlink).
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Writes all of `bytes` to `fd`.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            guard let base = bytes.baseAddress else { return }
            let n = Glibc.write(fd, base + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw ImageStoreError.posix("write to", path: path, errno: errno)
            }
            offset += n
        }
    }

    /// Reads up to `buffer.count` bytes from `fd`; 0 at end of file.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw ImageStoreError.posix("read from", path: path, errno: errno)
        }
    }

    /// Reads the whole of `fd` from its current offset.
    static func readAll(_ fd: Int32, path: String, sizeHint: Int = 0) throws -> [UInt8] {
        var result = [UInt8]()
        result.reserveCapacity(sizeHint)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try read(fd, into: $0, path: path) }
            if n == 0 { return result }
            result.append(contentsOf: chunk[0..<n])
        }
    }

    /// Reads the whole file at `path`.
    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        return try readAll(fd, path: path, sizeHint: Int(try fileSize(fd, path: path)))
    }

    /// Writes `bytes` to `path` atomically: a unique temporary file in the same directory,
    /// fsync, rename, fsync of the directory. Readers see the old file or the new one.
    static func writeFileAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, durable: Bool = true) throws {
        var stage: Int32 = 0
        let flags = durable ? KUJIRA_ATOMIC_SYNC_FILE | KUJIRA_ATOMIC_SYNC_DIRECTORY : 0
        let code = bytes.withUnsafeBytes { kujira_write_file_atomically(AT_FDCWD, path, $0.baseAddress, $0.count, mode, flags, &stage) }
        if code != 0 { throw ImageStoreError.posix(String(cString: kujira_atomic_stage_name(stage)), path: path, errno: code) }
    }

    /// `fsync(fd)`.
    static func sync(_ fd: Int32, path: String) throws {
        if fsync(fd) != 0 { throw ImageStoreError.posix("fsync", path: path, errno: errno) }
    }

    /// Fsyncs a directory so that a rename or unlink in it survives a crash.
    static func syncDirectory(_ path: String) throws {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try sync(fd, path: path)
    }

    /// The size of the open file `fd`.
    static func fileSize(_ fd: Int32, path: String) throws -> Int64 {
        var st = stat()
        if fstat(fd, &st) != 0 { throw ImageStoreError.posix("stat", path: path, errno: errno) }
        return Int64(st.st_size)
    }

    /// Whether the open file `fd` is a regular file.
    static func isRegularFile(_ fd: Int32) -> Bool {
        var st = stat()
        return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// The names in a directory, without `.` and `..`; empty if it does not exist.
    static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return [] }
            throw ImageStoreError.posix("opendir", path: path, errno: errno)
        }
        defer { closedir(dir) }
        var names = [String]()
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The directory part of `path` (`.` when there is none).
    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// The last component of `path`.
    static func baseName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// A name component no other writer, in this process or another, will pick: the pid and
    /// 64 random bits.
    static func uniqueSuffix() -> String {
        "\(getpid())-\(String(UInt64.random(in: .min ... .max), radix: 16))"
    }
}
