#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The file-system calls the cgroup managers make, in one place: every descriptor is opened
/// `O_CLOEXEC` (CVE-2024-21626), every value is written with a single `write(2)` (the kernel
/// parses each write as one value), and every error names the file and the value.
enum CgroupFS {
    /// The `strerror(3)` text of `code`.
    static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }

    /// Writes `value` to `directory/file` with one `write(2)`.
    /// - Throws: ``CgroupError`` `.write`: "cannot set memory.limit_in_bytes to 1024 in DIR:
    ///   Device or resource busy".
    static func write(_ directory: String, _ file: String, _ value: String) throws {
        let path = directory + "/" + file
        let fd = openRetrying(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw CgroupError(.write, "cannot set \(file) to \(value) in \(directory)", cause: CgroupErrno(code))
        }
        defer { close(fd) }
        var bytes = Array(value.utf8)
        if bytes.isEmpty { bytes = [0x0a] }  // an empty write is not delivered to the kernel handler
        while true {
            let n = bytes.withUnsafeBytes { cgroupSysWrite(fd, $0.baseAddress, $0.count) }
            if n >= 0 { return }
            if errno == EINTR { continue }
            let code = errno
            throw CgroupError(.write, "cannot set \(file) to \(value) in \(directory)", cause: CgroupErrno(code))
        }
    }

    /// Reads the whole of `directory/file`.
    static func read(_ directory: String, _ file: String) throws -> String {
        let path = directory + "/" + file
        guard let text = try readIfPresent(path) else {
            throw CgroupError(.read, "cannot read \(path)", cause: CgroupErrno(ENOENT))
        }
        return text
    }

    /// Reads the whole file at `path`, or nil when it does not exist.
    static func readIfPresent(_ path: String) throws -> String? {
        let fd = openRetrying(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return nil }
            throw CgroupError(.read, "cannot read \(path)", cause: CgroupErrno(code))
        }
        defer { close(fd) }
        var result = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { cgroupSysRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                // A cgroup removed while we read it answers ENODEV.
                if code == ENODEV { return nil }
                throw CgroupError(.read, "cannot read \(path)", cause: CgroupErrno(code))
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// Reads `directory/file` as one unsigned number (`max` reads as `UInt64.max`).
    static func readUInt(_ directory: String, _ file: String) throws -> UInt64 {
        let text = trim(try read(directory, file))
        if text == "max" { return UInt64.max }
        guard let value = UInt64(text) else {
            throw CgroupError(.read, "\(directory)/\(file) holds \"\(text)\", not a number")
        }
        return value
    }

    /// Reads a flat-keyed file (`key value` per line, as memory.stat, cpu.stat,
    /// memory.events, memory.oom_control) into a dictionary; unparsable lines are skipped.
    static func readKeyed(_ directory: String, _ file: String) throws -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for line in try read(directory, file).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 2, let value = UInt64(fields[1]) else { continue }
            result[String(fields[0])] = value
        }
        return result
    }

    /// The process ids listed in `directory/cgroup.procs` (empty when the cgroup is gone).
    static func readProcs(_ directory: String) throws -> [Int32] {
        guard let text = try readIfPresent(directory + "/cgroup.procs") else { return [] }
        return text.split(separator: "\n").compactMap { Int32($0) }
    }

    /// Whether `path` exists.
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// Whether `path` is a directory.
    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Creates `path` and its missing parents; `beforeEach` runs after each directory this
    /// call creates (cpuset v1 must fill `cpuset.cpus`/`cpuset.mems` before a child can be
    /// made or joined).
    /// Returns the directories it made, outermost first; on an error it removes those it made
    /// before throwing, so a failed create leaves nothing of its own behind.
    @discardableResult
    static func makeDirectories(_ path: String, beforeEach: (String) throws -> Void = { _ in }) throws -> [String] {
        var prefix = ""
        var made: [String] = []
        do {
            for component in path.split(separator: "/") {
                prefix += "/" + component
                if mkdir(prefix, 0o755) == 0 {
                    made.append(prefix)
                    try beforeEach(prefix)
                } else if errno != EEXIST {
                    let code = errno
                    throw CgroupError(.directory, "cannot create cgroup directory \(prefix)", cause: CgroupErrno(code))
                }
            }
            guard isDirectory(path) else {
                throw CgroupError(.directory, "\(path) exists and is not a cgroup directory")
            }
        } catch {
            removeMade(made)
            throw error
        }
        return made
    }

    /// Removes directories `makeDirectories` made (empty, new cgroups), innermost first.
    static func removeMade(_ made: [String]) {
        for directory in made.reversed() { rmdir(directory) }
    }

    /// The names of the subdirectories of `path` (child cgroups).
    static func subdirectories(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes the cgroup directory `path` and its child cgroups, deepest first, retrying
    /// `EBUSY` with a doubling backoff (the kernel releases a cgroup shortly after its last
    /// task exits). A directory that is already gone is not an error.
    static func removeCgroup(_ path: String, attempts: Int = 8) throws {
        for child in subdirectories(path) {
            try removeCgroup(path + "/" + child, attempts: attempts)
        }
        var delay: UInt32 = 10_000
        for attempt in 1...max(attempts, 1) {
            if rmdir(path) == 0 { return }
            let code = errno
            if code == ENOENT { return }
            if code != EBUSY || attempt == attempts {
                throw CgroupError(
                    .directory, "cannot remove cgroup \(path) (still has processes or child cgroups?)",
                    cause: CgroupErrno(code))
            }
            usleep(delay)
            delay = min(delay * 2, 500_000)
        }
    }

    /// Sleeps for `microseconds`.
    static func pause(_ microseconds: UInt32) { usleep(microseconds) }

    /// `text` without leading and trailing spaces, tabs and newlines.
    static func trim(_ text: some StringProtocol) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" }
        guard let start = text.firstIndex(where: { !isSpace($0) }), let end = text.lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(text[start...end])
    }

    private static func openRetrying(_ path: String, _ flags: Int32) -> Int32 {
        while true {
            let fd = open(path, flags, 0o644)
            if fd >= 0 || errno != EINTR { return fd }
        }
    }
}

/// `write(2)`, reachable from inside ``CgroupFS`` whose own `write` shadows it.
private func cgroupSysWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, buffer, count)
}

/// `read(2)`, reachable from inside ``CgroupFS`` whose own `read` shadows it.
private func cgroupSysRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}
