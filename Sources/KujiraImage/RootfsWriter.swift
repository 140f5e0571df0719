#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CKujiraSys

/// How a ``RootfsWriter`` treats untrusted layer entries.
public struct RootfsWriterOptions: Sendable {
    /// What to do with character and block device entries (FIFOs are always created).
    public enum DevicePolicy: Sendable, Hashable {
        /// Create them with `mknodat` (needs CAP_MKNOD).
        case create
        /// Skip them silently, as rootless Docker and umoci `--rootless` do.
        case skip
        /// Fail the unpack with ``LayerError/Code/deviceForbidden``.
        case reject
    }

    /// How whiteout entries (`.wh.NAME`, `.wh..wh..opq`) are applied.
    public enum WhiteoutFormat: Sendable, Hashable {
        /// Apply them to the tree in place: for unpacking a layer chain into one directory.
        case oci
        /// Write overlayfs whiteouts (a 0:0 character device; `<ns>.overlay.opaque=y` on the
        /// directory, with `ns` `trusted`, or `user` for overlay's `userxattr` mounts): for
        /// one snapshot per layer, stacked later with overlayfs.
        case overlay(xattrNamespace: String)
    }

    /// What to do with device nodes. Default: `.create` as root, `.skip` otherwise.
    public var devicePolicy: DevicePolicy
    /// Whether to `chown` entries to their uid/gid. Default: when running as root.
    public var preserveOwnership: Bool
    /// A shift of container ids to host ids (user namespaces); nil keeps ids as they are.
    public var idMapping: IDMapping?
    /// How whiteouts are applied. Default `.oci`.
    public var whiteoutFormat: WhiteoutFormat
    /// The most entries one writer accepts (all layers together), against inode exhaustion.
    public var maxEntries: Int
    /// The longest entry path, in bytes, before normalisation (default PATH_MAX, 4096).
    public var maxPathLength: Int

    /// Creates options; the defaults suit the current user (root or not).
    public init(
        devicePolicy: DevicePolicy? = nil, preserveOwnership: Bool? = nil, idMapping: IDMapping? = nil,
        whiteoutFormat: WhiteoutFormat = .oci, maxEntries: Int = 4_000_000, maxPathLength: Int = 4096
    ) {
        let root = geteuid() == 0
        self.devicePolicy = devicePolicy ?? (root ? .create : .skip)
        self.preserveOwnership = preserveOwnership ?? root
        self.idMapping = idMapping
        self.whiteoutFormat = whiteoutFormat
        self.maxEntries = maxEntries
        self.maxPathLength = maxPathLength
    }
}

/// A contiguous shift of container ids to host ids, as in a user namespace's `uid_map` with
/// one line: container id `n` (for `n < size`) becomes host id `hostUID + n`.
public struct IDMapping: Sendable, Hashable {
    /// The host uid that container uid 0 maps to.
    public var hostUID: UInt32
    /// The host gid that container gid 0 maps to.
    public var hostGID: UInt32
    /// How many ids are mapped; ids at or above it are refused.
    public var size: UInt32

    /// Creates a mapping.
    public init(hostUID: UInt32, hostGID: UInt32, size: UInt32 = 65536) {
        self.hostUID = hostUID
        self.hostGID = hostGID
        self.size = size
    }
}

/// Writes layer entries into a root filesystem directory, safely, on untrusted input.
///
/// Every entry's parent is resolved inside the root by the kernel (see ``RootResolver``), and
/// the final component is created or changed only with `*at` calls relative to that parent
/// with `O_NOFOLLOW`/`AT_SYMLINK_NOFOLLOW`, so no entry can create, change or follow anything
/// outside the root: not with `..`, absolute paths, symlinks planted by an earlier entry or
/// layer, directories replaced by symlinks, or hard links to outside files (CVE-2018-15664,
/// CVE-2019-14271 and the tar-slip family). Existing files follow Docker's and umoci's rules:
/// a non-directory replaces whatever is there (a directory recursively), a directory over a
/// directory only updates its metadata.
///
/// One writer per unpack; not thread-safe. For a chain unpacked into one directory, call
/// ``beginLayer()`` before each layer's entries; call ``finish()`` once at the end (directory
/// times and modes are applied then, deepest first, because creating children changes them).
/// A failed unpack leaves a partial tree: the caller unpacks into a fresh directory and
/// discards it (``removeTree(at:)``) on error, so no partial snapshot is ever published.
public final class RootfsWriter {
    /// The root directory being written.
    public let root: String
    /// The options in force.
    public let options: RootfsWriterOptions

    let rootFD: Int32
    var resolver: RootResolver
    /// The last parent directory opened and its normalised path: layers are mostly sorted,
    /// so consecutive entries usually share a parent and skip the resolution.
    var cachedParentPath: [UInt8] = []
    var cachedParentFD: Int32 = -1
    /// Paths written by the current layer and their ancestors: an opaque whiteout keeps
    /// these, and a `.wh.` entry never deletes them (OCI image-spec, layer.md "Whiteouts":
    /// whiteouts apply only to lower layers).
    var layerPaths: Set<[UInt8]> = []
    /// Directory times (and, when not root, final modes) applied by ``finish()``.
    var deferredDirectories: [[UInt8]: DeferredDirectory] = [:]
    var entryCount = 0
    var finished = false
    let isRoot = geteuid() == 0

    struct DeferredDirectory {
        var depth: Int
        var times: (timespec, timespec)
        var finalMode: mode_t?
    }

    /// Opens `root` (which must exist and be a directory) for writing.
    public init(root: String, options: RootfsWriterOptions = RootfsWriterOptions()) throws {
        let fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 {
            throw LayerError(.systemCallFailed, "cannot open unpack destination \(root); create it as an empty directory first", cause: LayerError.Errno(errno))
        }
        self.root = root
        self.options = options
        self.rootFD = fd
        self.resolver = RootResolver(rootFD: fd)
    }

    deinit {
        if cachedParentFD >= 0 { close(cachedParentFD) }
        close(rootFD)
    }

    /// Starts a new layer: entries from now on are "this layer" for whiteout purposes.
    public func beginLayer() {
        layerPaths.removeAll(keepingCapacity: true)
    }

    /// Applies one entry. For a regular file, `content` is called with a write-only fd of the
    /// new, empty file and must write exactly the entry's bytes; its errors are rethrown
    /// unchanged (so a digest mismatch from the reader keeps its type). Whiteout entries
    /// (`.wh.` names) are applied per ``RootfsWriterOptions/whiteoutFormat`` and never written
    /// literally.
    public func apply(_ entry: LayerEntry, content: (Int32) throws -> Void = { _ in }) throws {
        guard !finished else {
            throw LayerError(.writerClosed, "layer entry \(entry.displayPath) applied after finish(); use a new RootfsWriter")
        }
        entryCount += 1
        if entryCount > options.maxEntries {
            throw LayerError(.tooManyEntries, "layer entry \(entry.displayPath) exceeds the limit of \(options.maxEntries) entries; raise maxEntries if the image is trusted")
        }
        if entry.path.count > options.maxPathLength {
            throw LayerError(.pathTooLong, "layer entry \(entry.displayPath.prefix(64))… is \(entry.path.count) bytes long, over the limit of \(options.maxPathLength)")
        }
        let path = try NormalizedPath(entry.path, entry: entry.path)
        if path.isRoot {
            guard case .directory = entry.kind else {
                throw LayerError(.invalidPath, "layer entry \(entry.displayPath) names the root directory but is not a directory; the layer is malformed")
            }
            try applyRootDirectory(entry)
            return
        }
        if path.storage.starts(with: Whiteout.metaPrefix) && !path.bytes.elementsEqual(Whiteout.opaque) {
            return  // AUFS metadata (`.wh..wh.plnk/…`, `.wh..wh.aufs`) at the top: skipped, as Docker does.
        }
        if path.name.starts(with: Whiteout.prefix) {
            try applyWhiteout(path, entry: entry)
            return
        }
        let parentFD = try parentDirectory(of: path, entry: entry.path, create: true)
        if case .oci = options.whiteoutFormat { recordLayerPath(path) }
        switch entry.kind {
        case .regular:
            try createRegular(entry, path, in: parentFD, content: content)
        case .directory:
            try createDirectory(entry, path, in: parentFD)
        case .symlink(let target):
            try createSymlink(entry, target: target, path, in: parentFD)
        case .hardlink(let target):
            try createHardlink(entry, target: target, path, in: parentFD)
        case .characterDevice(let major, let minor):
            try createNode(entry, type: S_IFCHR, major: major, minor: minor, path, in: parentFD)
        case .blockDevice(let major, let minor):
            try createNode(entry, type: S_IFBLK, major: major, minor: minor, path, in: parentFD)
        case .fifo:
            try createNode(entry, type: S_IFIFO, major: 0, minor: 0, path, in: parentFD)
        }
    }

    /// Applies deferred directory times and modes, deepest first, and closes the writer.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        if cachedParentFD >= 0 { close(cachedParentFD) }
        cachedParentFD = -1
        let ordered = deferredDirectories.sorted { $0.value.depth > $1.value.depth }
        deferredDirectories.removeAll()
        for (raw, deferred) in ordered {
            let path = try NormalizedPath(raw, entry: raw)
            let fd: Int32
            if path.isRoot {
                fd = openat(rootFD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            } else {
                // A later entry may have removed or replaced the directory: then skip it.
                let resolved: Int32?
                do {
                    resolved = try resolver.openDirectory(path.parent, entry: raw, create: false, owner: nil)
                } catch let error as LayerError where error.code == .notADirectory {
                    resolved = nil
                }
                guard let parentFD = resolved else { continue }
                defer { close(parentFD) }
                fd = path.withName { openat(parentFD, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            }
            if fd < 0 {
                if errno == ENOENT || errno == ENOTDIR || errno == ELOOP { continue }
                throw LayerError.system("opening the directory to set its times", raw, errno: errno)
            }
            defer { close(fd) }
            if let mode = deferred.finalMode, fchmod(fd, mode) != 0 {
                throw LayerError.system("chmod", raw, errno: errno)
            }
            var times = [deferred.times.0, deferred.times.1]
            if futimens(fd, &times) != 0 { throw LayerError.system("setting times", raw, errno: errno) }
        }
    }

    // MARK: - Parents and bookkeeping

    /// The parent directory of `path` as an `O_PATH` fd owned by the cache (do not close it).
    func parentDirectory(of path: NormalizedPath, entry: [UInt8], create: Bool) throws -> Int32 {
        if cachedParentFD >= 0 && path.parent.elementsEqual(cachedParentPath) { return cachedParentFD }
        let owner = options.preserveOwnership ? try hostIDs(uid: 0, gid: 0, entry: entry) : nil
        guard let fd = try resolver.openDirectory(path.parent, entry: entry, create: create, owner: owner) else {
            return -1
        }
        if cachedParentFD >= 0 { close(cachedParentFD) }
        cachedParentFD = fd
        cachedParentPath = Array(path.parent)
        return fd
    }

    /// Forgets the cached parent if it is `path` or below it: called whenever something at
    /// `path` is removed or replaced, so the cache never points at a detached directory.
    func invalidateCache(under path: ArraySlice<UInt8>) {
        guard cachedParentFD >= 0, cachedParentPath.count >= path.count,
              cachedParentPath.starts(with: path),
              path.isEmpty || cachedParentPath.count == path.count
                || cachedParentPath[path.count] == UInt8(ascii: "/") else { return }
        close(cachedParentFD)
        cachedParentFD = -1
        cachedParentPath = []
    }

    /// Records `path` and its ancestors as written by the current layer.
    func recordLayerPath(_ path: NormalizedPath) {
        guard layerPaths.insert(Array(path.bytes)).inserted else { return }
        var end = path.nameStart - 1
        while end > 0 {
            guard layerPaths.insert(Array(path.storage[..<end])).inserted else { return }
            end = path.storage[..<end].lastIndex(of: UInt8(ascii: "/")) ?? 0
        }
    }

    /// Maps container ids to host ids per ``RootfsWriterOptions/idMapping``.
    func hostIDs(uid: UInt32, gid: UInt32, entry: [UInt8]) throws -> (uid: UInt32, gid: UInt32) {
        guard let map = options.idMapping else { return (uid, gid) }
        guard uid < map.size, gid < map.size,
              uid <= UInt32.max - map.hostUID, gid <= UInt32.max - map.hostGID else {
            throw LayerError(.idOutOfRange, "layer entry \(String(decoding: entry, as: UTF8.self)) is owned by \(uid):\(gid), outside the \(map.size) ids mapped; widen the id mapping")
        }
        return (map.hostUID + uid, map.hostGID + gid)
    }
}
