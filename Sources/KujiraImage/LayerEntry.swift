/// The metadata of one entry of an image layer, independent of the archive format that
/// carried it: the tar reader produces these and ``RootfsWriter`` consumes them.
///
/// Paths and link targets are raw bytes, as in the tar header: Linux file names are byte
/// strings, and decoding them as UTF-8 would corrupt (or merge) names that are not valid
/// UTF-8. Use ``init(path:kind:mode:uid:gid:mtime:xattrs:)`` when a `String` is convenient.
public struct LayerEntry: Sendable, Hashable {
    /// What kind of file the entry is.
    public enum Kind: Sendable, Hashable {
        /// A regular file; its content is written through ``RootfsWriter/apply(_:content:)``.
        case regular
        /// A directory.
        case directory
        /// A symbolic link with its target stored verbatim (never followed while unpacking).
        case symlink(target: [UInt8])
        /// A hard link to another entry of the root filesystem, named by its path in the root.
        case hardlink(target: [UInt8])
        /// A character device node.
        case characterDevice(major: UInt32, minor: UInt32)
        /// A block device node.
        case blockDevice(major: UInt32, minor: UInt32)
        /// A named pipe.
        case fifo

        /// A symbolic link to `target`.
        public static func symlink(to target: String) -> Kind { .symlink(target: Array(target.utf8)) }
        /// A hard link to the entry at `target` (a path inside the root).
        public static func hardlink(to target: String) -> Kind { .hardlink(target: Array(target.utf8)) }
    }

    /// A point in time as seconds and nanoseconds since the Unix epoch.
    public struct Timestamp: Sendable, Hashable {
        /// Whole seconds since 1970-01-01T00:00:00Z (negative before).
        public var seconds: Int64
        /// Nanoseconds within the second, 0 ..< 1_000_000_000.
        public var nanoseconds: UInt32
        /// Creates a timestamp.
        public init(seconds: Int64, nanoseconds: UInt32 = 0) {
            self.seconds = seconds
            self.nanoseconds = nanoseconds
        }
    }

    /// The entry's path as in the archive (relative or absolute; normalised inside the root).
    public var path: [UInt8]
    /// The kind of file.
    public var kind: Kind
    /// Permission bits plus setuid (0o4000), setgid (0o2000) and sticky (0o1000); file-type
    /// bits, if present, are ignored.
    public var mode: UInt32
    /// Owner user id, as seen inside the container (``IDMapping`` shifts it).
    public var uid: UInt32
    /// Owner group id, as seen inside the container.
    public var gid: UInt32
    /// Modification time.
    public var mtime: Timestamp
    /// Access time; the modification time when the archive carries none.
    public var atime: Timestamp?
    /// Extended attributes (PAX `SCHILY.xattr.*`), e.g. `security.capability`.
    public var xattrs: [String: [UInt8]]

    /// Creates an entry whose path is raw bytes.
    public init(
        pathBytes: [UInt8], kind: Kind, mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0,
        mtime: Timestamp = Timestamp(seconds: 0), atime: Timestamp? = nil, xattrs: [String: [UInt8]] = [:]
    ) {
        self.path = pathBytes
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.atime = atime
        self.xattrs = xattrs
    }

    /// Creates an entry whose path is a string (encoded as UTF-8).
    public init(
        path: String, kind: Kind, mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0,
        mtime: Timestamp = Timestamp(seconds: 0), atime: Timestamp? = nil, xattrs: [String: [UInt8]] = [:]
    ) {
        self.init(pathBytes: Array(path.utf8), kind: kind, mode: mode, uid: uid, gid: gid,
                  mtime: mtime, atime: atime, xattrs: xattrs)
    }

    /// The path for messages: invalid UTF-8 is shown with replacement characters.
    public var displayPath: String { String(decoding: path, as: UTF8.self) }
}
