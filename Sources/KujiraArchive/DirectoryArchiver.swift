import Glibc

/// Writes a directory tree as a tar stream, the way image layers are built: paths relative
/// to the root without `./` or `/` (`bin/`, `bin/sh`), directories with a trailing `/`,
/// entries in a fixed order (names sorted bytewise within each directory, parents before
/// children — the order of Go's `filepath.Walk`, which Docker and umoci use), hard links
/// found by (device, inode) and written as links to the first path, extended attributes
/// (`security.capability` included; `system.*` and `trusted.overlay.*` skipped), devices
/// and fifos. Sockets are skipped (tar cannot hold them). The root itself is not an entry.
///
/// The walk never follows a symlink: every open is `openat` relative to an open directory
/// with `O_NOFOLLOW | O_CLOEXEC`, and a file is checked to be the inode that was stat'ed.
/// Two runs over an unchanged tree give byte-identical output; set ``Options/mtimeClamp``
/// (SOURCE_DATE_EPOCH) to make timestamps reproducible too.
public struct DirectoryArchiver: Sendable {
    /// What to record.
    public struct Options: Sendable {
        /// Modification times later than this (seconds since the epoch) are written as it.
        public var mtimeClamp: Int64?
        /// Record extended attributes (needs `/proc` for `lgetxattr` relative to a dir fd).
        public var includeXattrs = true
        /// Creates the default options.
        public init(mtimeClamp: Int64? = nil, includeXattrs: Bool = true) {
            self.mtimeClamp = mtimeClamp
            self.includeXattrs = includeXattrs
        }
    }

    /// The options.
    public var options: Options

    /// Creates an archiver.
    public init(options: Options = Options()) { self.options = options }

    /// Writes the tree under `directory` to `writer` (it does not call `finish()`, so more
    /// entries may follow).
    public func archive(directory: String, to writer: TarWriter) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw ArchiveError.system("cannot open directory \(directory) to archive it") }
        defer { close(fd) }
        try archive(directoryFD: fd, name: directory, to: writer)
    }

    /// Writes the tree under the open directory `directoryFD` (not closed) to `writer`.
    public func archive(directoryFD: Int32, name: String = "directory", to writer: TarWriter) throws {
        if options.includeXattrs && access("/proc/self/fd", F_OK) != 0 {
            throw ArchiveError(.unsupportedFile, "cannot read extended attributes under \(name): /proc is not mounted; mount it or turn includeXattrs off")
        }
        struct Frame { var fd: Int32; var owned: Bool; var prefix: String; var names: [[UInt8]]; var index = 0 }
        var stack = [Frame(fd: directoryFD, owned: false, prefix: "", names: try Self.sortedNames(directoryFD, name: name))]
        defer { for frame in stack where frame.owned { close(frame.fd) } }
        var firstPathOfInode: [DeviceInode: String] = [:]

        while let top = stack.last {
            if top.index == top.names.count {
                if top.owned { close(top.fd) }
                stack.removeLast()
                continue
            }
            let nameBytes = top.names[top.index]
            stack[stack.count - 1].index += 1
            guard var file = try file(named: nameBytes, in: top.fd, prefix: top.prefix, tree: name) else { continue }
            file.entry.mtime = clamp(file.entry.mtime)
            switch file.entry.type {
            case .directory:
                try writer.writeHeader(file.entry)
                let child = try Self.openDirectory(nameBytes, in: top.fd, path: file.path, tree: name)
                let names: [[UInt8]]
                do { names = try Self.sortedNames(child, name: file.path) } catch { close(child); throw error }
                stack.append(Frame(fd: child, owned: true, prefix: file.path + "/", names: names))
            case .regular:
                let key = DeviceInode(device: file.device, inode: file.inode)
                if file.linkCount > 1 {
                    if let first = firstPathOfInode[key] {
                        file.entry.type = .hardlink
                        file.entry.linkname = first
                        file.entry.size = 0
                        try writer.writeHeader(file.entry)
                        continue
                    }
                    firstPathOfInode[key] = file.path
                }
                try Self.writeRegular(file, named: nameBytes, in: top.fd, tree: name, to: writer)
            default:
                try writer.writeHeader(file.entry)
            }
        }
    }

    /// One file of a tree as the archiver sees it: its tar header and its identity.
    public struct File: Sendable {
        /// The header: path relative to the tree (directories end in `/`), type, mode, ids,
        /// the unclamped mtime, size (regular files), link target, device numbers, xattrs.
        /// A regular file is always `.regular` here: grouping hard links is the caller's job.
        public var entry: TarEntry
        /// The path relative to the tree, without a trailing `/`.
        public var path: String
        /// The device (`st_dev`) holding the file.
        public var device: UInt64
        /// The inode number.
        public var inode: UInt64
        /// The number of hard links (`st_nlink`).
        public var linkCount: UInt64
        /// The raw device number (`st_rdev`) of a device node; 0 otherwise.
        public var rdev: UInt64
    }

    /// Reads the file `name` of the open directory `directoryFD` (without following a
    /// symlink) as a ``File`` whose path is `prefix + name`; nil for a socket, which tar
    /// cannot hold. Extended attributes are read when ``Options/includeXattrs`` is on; the
    /// mtime is not clamped. `tree` names the tree in errors.
    public func file(named name: [UInt8], in directoryFD: Int32, prefix: String, tree: String) throws -> File? {
        guard let component = String(validating: name, as: UTF8.self) else {
            throw ArchiveError(.unsupportedFile, "cannot archive \(prefix)\(String(decoding: name, as: UTF8.self)): the file name is not valid UTF-8; rename it")
        }
        let path = prefix + component
        var st = stat()
        let cName: [CChar] = name.map { CChar(bitPattern: $0) } + [0]
        if fstatat(directoryFD, cName, &st, AT_SYMLINK_NOFOLLOW) != 0 {
            throw ArchiveError.system("cannot stat \(path) under \(tree)")
        }
        var entry = TarEntry(path: path, type: .regular, mode: UInt32(st.st_mode) & 0o7777,
                             uid: st.st_uid, gid: st.st_gid,
                             mtime: TarTimestamp(seconds: Int64(st.st_mtim.tv_sec), nanoseconds: UInt32(st.st_mtim.tv_nsec)))
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            entry.type = .directory
            entry.path = path + "/"
        case S_IFREG:
            entry.size = Int64(st.st_size)
        case S_IFLNK:
            entry.type = .symlink
            entry.linkname = try Self.readLink(directoryFD, cName, size: Int(st.st_size), path: path)
        case S_IFCHR, S_IFBLK:
            entry.type = st.st_mode & S_IFMT == S_IFCHR ? .characterDevice : .blockDevice
            let dev = UInt64(st.st_rdev)
            entry.devmajor = UInt32(truncatingIfNeeded: ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff)))
            entry.devminor = UInt32(truncatingIfNeeded: (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff)))
        case S_IFIFO:
            entry.type = .fifo
        default:
            return nil  // sockets: tar has no type for them (GNU tar skips them too)
        }
        if options.includeXattrs { entry.xattrs = try Self.xattrs(dirFD: directoryFD, name: component, path: path) }
        return File(entry: entry, path: path, device: UInt64(st.st_dev), inode: UInt64(st.st_ino),
                    linkCount: UInt64(st.st_nlink), rdev: UInt64(st.st_rdev))
    }

    /// Writes a regular ``File``'s header (as given, so the caller may clamp its mtime) and
    /// its content, read from `name` in `directoryFD` after checking that it is still the
    /// inode that was read (`O_NOFOLLOW`, same device and inode).
    public static func writeRegular(_ file: File, named name: [UInt8], in directoryFD: Int32, tree: String, to writer: TarWriter) throws {
        let fd = try openRegular(file, named: name, in: directoryFD, tree: tree)
        defer { close(fd) }
        try writer.writeHeader(file.entry)
        try writer.writeContent(fromFD: fd, name: file.path)
    }

    /// Opens a regular ``File`` read-only (`O_NOFOLLOW | O_CLOEXEC`) and checks that it is
    /// still the inode that was read; the caller closes the descriptor.
    public static func openRegular(_ file: File, named name: [UInt8], in directoryFD: Int32, tree: String) throws -> Int32 {
        let cName: [CChar] = name.map { CChar(bitPattern: $0) } + [0]
        let fd = openat(directoryFD, cName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)
        if fd < 0 { throw ArchiveError.system("cannot open \(file.path) under \(tree)") }
        var opened = stat()
        guard fstat(fd, &opened) == 0, UInt64(opened.st_ino) == file.inode, UInt64(opened.st_dev) == file.device else {
            close(fd)
            throw ArchiveError(.unsupportedFile, "\(file.path) under \(tree) was replaced while being archived; retry when the tree is not changing")
        }
        return fd
    }

    /// Opens the subdirectory `name` of `directoryFD` (`O_DIRECTORY | O_NOFOLLOW |
    /// O_CLOEXEC`); the caller closes the descriptor.
    public static func openDirectory(_ name: [UInt8], in directoryFD: Int32, path: String, tree: String) throws -> Int32 {
        let cName: [CChar] = name.map { CChar(bitPattern: $0) } + [0]
        let fd = openat(directoryFD, cName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { throw ArchiveError.system("cannot open directory \(path) under \(tree)") }
        return fd
    }

    private func clamp(_ t: TarTimestamp) -> TarTimestamp {
        if let limit = options.mtimeClamp, t.seconds >= limit, t != TarTimestamp(seconds: limit) {
            return TarTimestamp(seconds: limit)
        }
        return t
    }

    private struct DeviceInode: Hashable { var device: UInt64; var inode: UInt64 }

    /// The entry names of the open directory `fd` (without `.` and `..`), sorted bytewise;
    /// `name` names it in errors.
    public static func sortedNames(_ fd: Int32, name: String) throws -> [[UInt8]] {
        let dup = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        if dup < 0 { throw ArchiveError.system("cannot duplicate the descriptor of \(name)") }
        guard let dir = fdopendir(dup) else {
            let code = errno
            close(dup)
            throw ArchiveError.system("cannot list \(name)", errno: code)
        }
        defer { closedir(dir) }
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let ent = readdir(dir) else {
                if errno != 0 { throw ArchiveError.system("cannot list \(name)") }
                break
            }
            let bytes: [UInt8] = withUnsafeBytes(of: &ent.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if bytes == [0x2e] || bytes == [0x2e, 0x2e] { continue }
            names.append(bytes)
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    static func readLink(_ dirFD: Int32, _ name: [CChar], size: Int, path: String) throws -> String {
        var capacity = max(size, 255) + 1
        while true {
            var buffer = [CChar](repeating: 0, count: capacity)
            let n = readlinkat(dirFD, name, &buffer, capacity)
            if n < 0 { throw ArchiveError.system("cannot read symlink \(path)") }
            if n < capacity { return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
            guard capacity < 1 << 20 else { throw ArchiveError(.unsupportedFile, "symlink \(path) has an absurdly long target") }
            capacity *= 2
        }
    }

    /// Whether an xattr belongs in a layer: `system.*` (ACLs, handled by mode bits) and
    /// overlayfs' private `trusted.overlay.*` do not.
    static func keepsXattr(_ name: String) -> Bool {
        !name.hasPrefix("system.") && !name.hasPrefix("trusted.overlay.")
    }

    /// The extended attributes of `name` in `dirFD`, read through `/proc/self/fd/N/name`
    /// with the `l*` calls so that a symlink's own attributes are read, not its target's.
    static func xattrs(dirFD: Int32, name: String, path: String) throws -> [String: [UInt8]] {
        let procPath = "/proc/self/fd/\(dirFD)/\(name)"
        var size = XattrCalls.llistxattr(procPath, nil, 0)
        if size < 0 {
            if errno == ENOTSUP || errno == EOPNOTSUPP { return [:] }
            throw ArchiveError.system("cannot list extended attributes of \(path)")
        }
        if size == 0 { return [:] }
        var list = [UInt8](repeating: 0, count: size + 1024)
        size = list.withUnsafeMutableBytes { XattrCalls.llistxattr(procPath, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
        if size < 0 { throw ArchiveError.system("cannot list extended attributes of \(path)") }
        var result: [String: [UInt8]] = [:]
        for rawName in list[0..<size].split(separator: 0) {
            let key = String(decoding: rawName, as: UTF8.self)
            guard keepsXattr(key) else { continue }
            let length = XattrCalls.lgetxattr(procPath, key, nil, 0)
            if length < 0 {
                if errno == ENODATA { continue }
                throw ArchiveError.system("cannot read extended attribute \(key) of \(path)")
            }
            var value = [UInt8](repeating: 0, count: length + 1024)
            let n = value.withUnsafeMutableBytes { XattrCalls.lgetxattr(procPath, key, $0.baseAddress, $0.count) }
            if n < 0 { throw ArchiveError.system("cannot read extended attribute \(key) of \(path)") }
            result[key] = Array(value[0..<n])
        }
        return result
    }
}

/// `llistxattr(2)` and `lgetxattr(2)`: glibc declares them in <sys/xattr.h>, which the Glibc
/// module does not include, so they are looked up once with `dlsym` and called through C
/// function pointers. When a call is missing, they fail with `ENOTSUP`.
enum XattrCalls {
    typealias List = @convention(c) (UnsafePointer<CChar>, UnsafeMutablePointer<CChar>?, Int) -> Int
    typealias Get = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int

    private static let listFunction: List? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "llistxattr").map { unsafeBitCast($0, to: List.self) }
    private static let getFunction: Get? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "lgetxattr").map { unsafeBitCast($0, to: Get.self) }

    static func llistxattr(_ path: String, _ list: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int {
        guard let listFunction else { errno = ENOTSUP; return -1 }
        return listFunction(path, list, size)
    }

    static func lgetxattr(_ path: String, _ name: String, _ value: UnsafeMutableRawPointer?, _ size: Int) -> Int {
        guard let getFunction else { errno = ENOTSUP; return -1 }
        return getFunction(path, name, value, size)
    }
}
