// `cp`: copying files out of and into a container, running or stopped, through its rootfs
// and mounts — Docker's `GET/PUT /containers/ID/archive` and `HEAD … archive`.
//
//     let stat = try engine.archive("web", path: "/etc/hosts", to: FileDescriptorSink(fd: 1))
//     try engine.putArchive("web", path: "/tmp", from: FileDescriptorSource(fd: 0))
//
// Every path is resolved inside the container's file system the way `openat2(RESOLVE_IN_ROOT)`
// resolves it (``RootfsPath``, ``TarExtractor``): a symlink in the container that points
// at `/etc/shadow` names the container's `/etc/shadow`, never the host's, and an archive
// entry cannot write outside the rootfs or the mount it lands on. The copy sees what
// `docker cp` sees (``ContainerFileView``): the rootfs with the container's volumes, binds,
// tmpfs mounts and /etc files over it — a running container's mounts through its mount
// namespace, a stopped one's volumes and binds from its record. A read-only mount, or the
// rootfs of a `--read-only` container, refuses writes.

public import KujiraArchive
import KujiraImage
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What `archive` and `statPath` report about a path in a container (Docker's
/// `X-Docker-Container-Path-Stat` header, decoded).
public struct ContainerPathStat: Codable, Sendable, Hashable {
    /// The base name.
    public var name: String
    /// The size in bytes.
    public var size: Int64
    /// `st_mode`: type and permission bits.
    public var mode: UInt32
    /// The modification time, RFC 3339.
    public var mtime: String
    /// The symlink's target, resolved inside the container, when the path is a symlink.
    public var linkTarget: String

    /// Whether the path is a directory.
    public var isDirectory: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFDIR) }
    /// Whether the path is a symlink.
    public var isSymlink: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFLNK) }

    /// The mode as Go's `os.FileMode`, which Docker's header carries (type bits on top).
    public var goFileMode: UInt32 {
        var value = mode & 0o777
        if mode & UInt32(S_ISUID) != 0 { value |= 1 << 23 }
        if mode & UInt32(S_ISGID) != 0 { value |= 1 << 22 }
        if mode & UInt32(S_ISVTX) != 0 { value |= 1 << 20 }
        switch mode & UInt32(S_IFMT) {
        case UInt32(S_IFDIR): value |= 1 << 31
        case UInt32(S_IFLNK): value |= 1 << 27
        case UInt32(S_IFIFO): value |= 1 << 25
        case UInt32(S_IFSOCK): value |= 1 << 24
        case UInt32(S_IFCHR): value |= (1 << 26) | (1 << 21)
        case UInt32(S_IFBLK): value |= 1 << 26
        default: break
        }
        return value
    }

    /// The `X-Docker-Container-Path-Stat` header value: base64 of the JSON Docker sends.
    public var dockerHeaderValue: String {
        let json = "{\"name\":\(Self.quote(name)),\"size\":\(size),\"mode\":\(goFileMode),\"mtime\":\(Self.quote(mtime)),\"linkTarget\":\(Self.quote(linkTarget))}"
        return Data(json.utf8).base64EncodedString()
    }

    private static func quote(_ text: String) -> String {
        (try? String(decoding: JSONEncoder().encode(text), as: UTF8.self)) ?? "\"\""
    }
}

extension Engine {
    /// Stats `path` in container `nameOrID` (following a final symlink when `followLink`,
    /// reporting its target in ``ContainerPathStat/linkTarget`` otherwise).
    /// - Throws: ``EngineError`` `.notFound` when the path does not exist.
    public func statPath(_ nameOrID: String, path: String, followLink: Bool = false) throws -> ContainerPathStat {
        let record = try container(nameOrID)
        let view = try fileView(record)
        defer { view.close() }
        let found = try locate(path, in: view, record: record, followLink: followLink || path.hasSuffix("/"))
        defer { found.close() }
        return try pathStat(found, view: view)
    }

    /// Writes `path` of container `nameOrID` to `sink` as a tar stream (not finished:
    /// the caller finishes the sink) whose entries are named after the path's base name —
    /// `name`, or `name/…` for a directory; a path ending in `/.` gives the directory's
    /// content as `./…`. With `followLink`, a final symlink is copied as its target.
    /// - Returns: the stat of the path (``statPath(_:path:followLink:)``).
    /// - Throws: ``EngineError`` `.notFound` when the path does not exist, `.invalidArgument`
    ///   for `name/` naming a non-directory.
    @discardableResult
    public func archive(_ nameOrID: String, path: String, followLink: Bool = false, to sink: any ByteSink) throws -> ContainerPathStat {
        let record = try container(nameOrID)
        let view = try fileView(record)
        defer { view.close() }
        let trailingSlash = path.hasSuffix("/") || path.hasSuffix("/.") || path == "."
        let found = try locate(path, in: view, record: record, followLink: followLink || trailingSlash)
        defer { found.close() }
        let location = found.location
        let stat = try pathStat(found, view: view)
        if trailingSlash && !stat.isDirectory {
            throw EngineError(.invalidArgument, "\(path) in container \(record.name) is not a directory")
        }
        let topName = Self.archiveTopName(for: path)
        let writer = TarWriter(sink)
        // A stopped container's mounts below a copied directory stand in for the rootfs
        // under them, as the container would see them.
        var substitutes: [String: DirectoryArchiver.Substitute] = [:]
        var opened: [RootfsLocation] = []
        defer { opened.forEach { $0.close() } }
        if stat.isDirectory {
            for (mount, relative) in view.mounts(below: RootfsPath.clean(found.path)) {
                guard let root = try? view.locateRoot(of: mount) else { continue }
                opened.append(root)
                substitutes[topName + "/" + relative] = DirectoryArchiver.Substitute(parentFD: root.parentFD, name: root.name)
            }
        }
        do {
            try DirectoryArchiver().archive(entry: location.name, in: location.parentFD, as: topName,
                                            tree: "container \(record.name)", substitutes: substitutes, to: writer)
            try writer.finish()
        } catch let error as ArchiveError {
            throw EngineError(.io, "cannot copy \(path) from container \(record.name)", cause: error)
        }
        return stat
    }

    /// Extracts the tar stream `source` into directory `path` of container `nameOrID`
    /// (Docker's `PUT /containers/ID/archive`): entries are written under that directory,
    /// confined to the container's rootfs; a first path component equal to `rename.from`
    /// becomes `rename.to`. Without `preserveOwnership` (`cp -a`) files belong to root.
    /// A directory on a volume, bind or tmpfs mount is written on that mount, and no entry
    /// leaves it.
    /// - Throws: ``EngineError`` `.notFound` when `path` does not exist, `.invalidArgument`
    ///   when it is not a directory, `.readOnly` when it lies on a read-only mount or the
    ///   rootfs of a `--read-only` container, `.io` for an entry that cannot be written.
    public func putArchive(_ nameOrID: String, path: String, from source: any ByteSource, preserveOwnership: Bool = false,
                           rename: (from: String, to: String)? = nil) throws {
        let record = try container(nameOrID)
        let view = try fileView(record)
        defer { view.close() }
        let found = try locate(path, in: view, record: record, followLink: true)
        let isDirectory = found.location.isDirectory
        found.close()
        guard isDirectory else {
            throw EngineError(.invalidArgument, "cannot extract into \(path) of container \(record.name): it is not a directory")
        }
        // Docker's wording (daemon/archive.go), which its clients show as is.
        if let mount = view.mount(for: RootfsPath.clean(found.path)) {
            if !mount.rw { throw EngineError(.readOnly, "mounted volume is marked read-only") }
        } else if view.readonlyRootfs {
            throw EngineError(.readOnly, "container rootfs is marked read-only")
        }
        // A stopped container's mounts below the directory take the entries under them
        // (a read-only one refuses them); a file mount is not redirected.
        var redirects: [String: String?] = [:]
        for (mount, relative) in view.mounts(below: RootfsPath.clean(found.path)) {
            guard let directory = view.directorySource(of: mount) else { continue }
            let key = [found.relative, relative].filter { !$0.isEmpty }.joined(separator: "/")
            redirects.updateValue(mount.rw ? directory : nil, forKey: key)
        }
        do {
            try TarExtractor(root: found.root, preserveOwnership: preserveOwnership, redirects: redirects)
                .extract(from: source, into: found.relative, rename: rename)
        } catch let error as LayerError where error.code == .readOnly {
            throw EngineError(.readOnly, "mounted volume is marked read-only", cause: error)
        } catch let error as LayerError {
            throw EngineError(.io, "cannot copy into \(path) of container \(record.name)", cause: error)
        } catch let error as ArchiveError {
            throw EngineError(.invalidArgument, "cannot copy into \(path) of container \(record.name): the archive is malformed", cause: error)
        }
    }

    /// The name the entries of ``archive(_:path:followLink:to:)`` start with for `path`:
    /// its base name, or `.` for a path ending in `/.` (the content only) or for `/`.
    public static func archiveTopName(for path: String) -> String {
        if path.hasSuffix("/.") || path == "." || RootfsPath.clean(path).isEmpty { return "." }
        return path.split(separator: "/").last.map(String.init) ?? "."
    }

    // MARK: - Helpers

    /// The container's rootfs directory, checked to be mounted (overlay) or present (copy).
    func mountedRootfs(_ record: ContainerRecord) throws -> String {
        let snapshots = try images.snapshotStore()
        guard let rootfs = try snapshots.rootfs(of: record.id) else {
            throw EngineError(.invalidState, "container \(record.name) has no root filesystem; it is being created or removed")
        }
        if rootfs.mode == .overlay {
            var mine = stat(), parent = stat()
            guard stat(rootfs.target, &mine) == 0, stat("\(rootfs.target)/..", &parent) == 0, mine.st_dev != parent.st_dev else {
                throw EngineError(.invalidState, "the root filesystem of container \(record.name) is not mounted (the host rebooted?); remove and re-create the container")
            }
        }
        return rootfs.target
    }

    func locate(_ path: String, in view: ContainerFileView, record: ContainerRecord, followLink: Bool) throws -> ContainerFileLocation {
        let found: ContainerFileLocation?
        do { found = try view.locate(path, followLast: followLink) } catch {
            throw EngineError(.io, "cannot resolve \(path) in container \(record.name)", cause: error)
        }
        guard let found else {
            throw EngineError(.notFound, "could not find the file \(path) in container \(record.name)")
        }
        return found
    }

    func pathStat(_ found: ContainerFileLocation, view: ContainerFileView) throws -> ContainerPathStat {
        let location = found.location
        var linkTarget = ""
        if location.isSymlink, let target = try? view.locate(found.path, followLast: true) {
            linkTarget = target.path
            target.close()
        }
        let date = Date(timeIntervalSince1970: Double(location.mtimeSeconds))
        let formatter = ISO8601DateFormatter()
        let name = found.path == "/" ? "/" : String(found.path.split(separator: "/").last ?? "/")
        return ContainerPathStat(name: name, size: location.size, mode: location.mode, mtime: formatter.string(from: date),
                                 linkTarget: linkTarget)
    }
}
