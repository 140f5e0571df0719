/// A point in time as tar stores it: seconds since the epoch and, from PAX records,
/// nanoseconds. `nanoseconds` is always in `0..<1_000_000_000` (times before the epoch
/// have negative `seconds`).
public struct TarTimestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Whole seconds since 1970-01-01T00:00:00Z.
    public var seconds: Int64
    /// The sub-second part, `0..<1_000_000_000`.
    public var nanoseconds: UInt32

    /// Creates a timestamp; `nanoseconds` must be below one second.
    public init(seconds: Int64, nanoseconds: UInt32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds % 1_000_000_000
    }

    /// Orders by seconds, then nanoseconds.
    public static func < (a: TarTimestamp, b: TarTimestamp) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }

    /// `seconds` or `seconds.nnnnnnnnn`.
    public var description: String {
        nanoseconds == 0 ? "\(seconds)" : "\(seconds).\(String(1_000_000_000 + UInt64(nanoseconds)).dropFirst())"
    }
}

/// The header dialect an entry was read in; informational.
public enum TarFormat: String, Sendable, Hashable {
    /// Unix V7: no magic, no owner names, no device numbers.
    case v7
    /// POSIX.1-1988 ustar, with the 155-byte path prefix.
    case ustar
    /// POSIX.1-2001 pax: ustar plus extended header records.
    case pax
    /// GNU tar: old GNU magic, `L`/`K` long names, base-256 numbers.
    case gnu
}

/// The header of one tar entry, as ``TarReader`` yields it and ``TarWriter`` writes it.
/// A plain value: the entry's content is streamed separately.
public struct TarEntry: Sendable, Hashable {
    /// What kind of file an entry is.
    public enum EntryType: Sendable, Hashable {
        /// A regular file with content (typeflags `0`, NUL, and `7` contiguous).
        case regular
        /// A hard link to ``TarEntry/linkname``, an earlier entry's path (typeflag `1`).
        case hardlink
        /// A symbolic link whose target is ``TarEntry/linkname`` (typeflag `2`).
        case symlink
        /// A character device (typeflag `3`).
        case characterDevice
        /// A block device (typeflag `4`).
        case blockDevice
        /// A directory (typeflag `5`, or NUL with a path ending in `/`).
        case directory
        /// A named pipe (typeflag `6`).
        case fifo
        /// Any other typeflag (GNU sparse `S`, dump dir `D`, vendor types, …). Its content,
        /// if any, is readable; callers usually skip such entries.
        case other(UInt8)

        /// The typeflag byte written for this type.
        public var typeflag: UInt8 {
            switch self {
            case .regular: return UInt8(ascii: "0")
            case .hardlink: return UInt8(ascii: "1")
            case .symlink: return UInt8(ascii: "2")
            case .characterDevice: return UInt8(ascii: "3")
            case .blockDevice: return UInt8(ascii: "4")
            case .directory: return UInt8(ascii: "5")
            case .fifo: return UInt8(ascii: "6")
            case .other(let flag): return flag
            }
        }

        /// Whether entries of this type never carry content, whatever their size field
        /// says (Go's archive/tar treats them the same way).
        public var isHeaderOnly: Bool {
            switch self {
            case .regular, .other: return false
            default: return true
            }
        }
    }

    /// The path inside the archive, as stored (directories usually end in `/`). Not
    /// sanitised: an unpacker must resolve it safely. Bytes that are not UTF-8 are
    /// replaced with U+FFFD.
    public var path: String
    /// The entry type.
    public var type: EntryType
    /// Permission bits plus setuid (0o4000), setgid (0o2000) and sticky (0o1000).
    public var mode: UInt32
    /// The owner's user id.
    public var uid: UInt32
    /// The owner's group id.
    public var gid: UInt32
    /// The owner's user name; empty when absent.
    public var uname: String
    /// The owner's group name; empty when absent.
    public var gname: String
    /// The number of content bytes; always 0 for header-only types.
    public var size: Int64
    /// The modification time.
    public var mtime: TarTimestamp
    /// The access time, from a PAX `atime` record; the writer never writes it.
    public var atime: TarTimestamp?
    /// The link target of a symlink, or the earlier entry a hard link names; empty otherwise.
    public var linkname: String
    /// The device major number of a character or block device.
    public var devmajor: UInt32
    /// The device minor number of a character or block device.
    public var devminor: UInt32
    /// Extended attributes by name (e.g. `security.capability`), with binary-safe values,
    /// from PAX `SCHILY.xattr.*` (or `LIBARCHIVE.xattr.*`) records.
    public var xattrs: [String: [UInt8]]
    /// Every PAX record that applied to this entry (global records included), values
    /// decoded as UTF-8 (binary xattr values are exact in ``xattrs`` only). Read-only
    /// information: the writer derives its records from the fields above.
    public var paxRecords: [String: String]
    /// The dialect the header was read in (``TarFormat/ustar`` for new entries).
    public var format: TarFormat

    /// Creates an entry; only `path` and `type` are required.
    public init(
        path: String,
        type: EntryType,
        mode: UInt32 = 0o644,
        uid: UInt32 = 0,
        gid: UInt32 = 0,
        uname: String = "",
        gname: String = "",
        size: Int64 = 0,
        mtime: TarTimestamp = TarTimestamp(seconds: 0),
        atime: TarTimestamp? = nil,
        linkname: String = "",
        devmajor: UInt32 = 0,
        devminor: UInt32 = 0,
        xattrs: [String: [UInt8]] = [:],
        paxRecords: [String: String] = [:],
        format: TarFormat = .ustar
    ) {
        self.path = path
        self.type = type
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.uname = uname
        self.gname = gname
        self.size = size
        self.mtime = mtime
        self.atime = atime
        self.linkname = linkname
        self.devmajor = devmajor
        self.devminor = devminor
        self.xattrs = xattrs
        self.paxRecords = paxRecords
        self.format = format
    }
}
