#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import KujiraArchive

/// Computes the changes of a container or build step as an OCI layer (image-spec, layer.md
/// "Change Types" and "Whiteouts"): the tar stream that, applied over the lower layers,
/// gives the upper view. Used by `commit` and by the builder.
///
/// Two sources:
/// - ``diffOverlayUpper(upper:to:)`` reads an overlayfs upper directory, whose entries are
///   exactly what changed: a 0:0 character device (or a file with `overlay.whiteout`) is a
///   deletion, written as `.wh.NAME`; a directory with `overlay.opaque=y` hides its lower
///   entries, written as the directory plus `DIR/.wh..wh..opq`.
/// - ``diffTrees(lower:upper:)`` compares two directory trees (the copy-based snapshot
///   fallback, or a builder without overlayfs); see ``diffTrees(lower:upper:to:)`` for the
///   rule that decides what changed.
///
/// Output is reproducible: entries in a fixed order (names sorted bytewise, parents before
/// children), header fields as ``DirectoryArchiver`` writes them (no atime, empty owner
/// names, deterministic PAX), hard links grouped by (device, inode) and written as links to
/// the first path emitted, and with ``Options/clampMtime`` (SOURCE_DATE_EPOCH) no mtime
/// later than the clamp. Whiteout entries are empty regular files with mode 0, owner 0:0
/// and mtime ``Options/clampMtime`` (or 0). Two diffs of the same change are byte-identical.
///
/// ```swift
/// let writer = TarWriter(try compressingSink(FileDescriptorSink(fd: out), compression: .gzip))
/// try LayerDiffer(options: .fromEnvironment()).diffOverlayUpper(upper: "/var/lib/kujira/…/upper", to: writer)
/// try writer.finish()
/// ```
///
/// Every open is `openat` relative to an open directory with `O_NOFOLLOW | O_CLOEXEC`; the
/// trees must not change during the diff (a file replaced mid-diff is an error).
public struct LayerDiffer: Sendable {
    /// What to record, and how to compare.
    public struct Options: Sendable, Hashable {
        /// Modification times later than this (seconds since the epoch) are written as it;
        /// whiteouts get it as their mtime. nil keeps times as they are (whiteouts get 0).
        public var clampMtime: Int64?
        /// Record extended attributes (`system.*` and overlayfs' own `trusted.overlay.*`,
        /// `user.overlay.*` are never recorded). Needs `/proc`.
        public var includeXattrs: Bool
        /// ``LayerDiffer/diffTrees(lower:upper:to:)``: compare the content of every regular
        /// file whose metadata is unchanged, not only those whose mtimes may have been
        /// truncated. Reads both trees whole; for builders that restore mtimes.
        public var alwaysCompareContent: Bool

        /// Creates options.
        public init(clampMtime: Int64? = nil, includeXattrs: Bool = true, alwaysCompareContent: Bool = false) {
            self.clampMtime = clampMtime
            self.includeXattrs = includeXattrs
            self.alwaysCompareContent = alwaysCompareContent
        }

        /// The default options with ``clampMtime`` from `SOURCE_DATE_EPOCH`
        /// (reproducible-builds.org): unset or empty means no clamp; anything but a
        /// decimal integer is an error, as the specification asks.
        public static func fromEnvironment() throws -> Options {
            guard let raw = getenv("SOURCE_DATE_EPOCH") else { return Options() }
            return Options(clampMtime: try parseEpoch(String(cString: raw)))
        }

        /// Parses a `SOURCE_DATE_EPOCH` value: nil for empty, else a decimal integer.
        static func parseEpoch(_ text: String) throws -> Int64? {
            if text.isEmpty { return nil }
            guard text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let value = Int64(text) else {
                throw LayerError(.invalidOption, "SOURCE_DATE_EPOCH=\(text.prefix(40)) is not a number of seconds since the epoch; set it to a decimal integer (e.g. $(git log -1 --format=%ct)) or unset it")
            }
            return value
        }
    }

    /// What a diff wrote.
    public struct Statistics: Sendable, Hashable {
        /// Entries written (whiteouts and hard links included).
        public var entries = 0
        /// Whiteout entries (`.wh.NAME` and `.wh..wh..opq`).
        public var whiteouts = 0
        /// Content bytes of regular files.
        public var contentBytes: Int64 = 0
        /// Creates empty statistics.
        public init() {}
    }

    /// The options.
    public var options: Options

    /// Creates a differ.
    public init(options: Options = Options()) { self.options = options }

    var archiver: DirectoryArchiver {
        DirectoryArchiver(options: DirectoryArchiver.Options(mtimeClamp: nil, includeXattrs: options.includeXattrs))
    }

    /// Opens a tree's root directory; the caller closes it.
    static func openTree(_ path: String, role: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 {
            throw LayerError(.systemCallFailed, "cannot open the \(role) directory \(path) to diff it; check that it exists and is a directory", cause: LayerError.Errno(errno))
        }
        return fd
    }

    static func checkProc(_ options: Options, tree: String) throws {
        if options.includeXattrs && access("/proc/self/fd", F_OK) != 0 {
            throw LayerError(.unsupportedDiffSource, "cannot read extended attributes under \(tree): /proc is not mounted; mount it or turn includeXattrs off")
        }
    }
}

extension LayerError.Code {
    /// A diff source the differ cannot express as a layer, e.g. an overlayfs upper directory
    /// written with `redirect_dir` or `metacopy` on.
    public static let unsupportedDiffSource = LayerError.Code("unsupportedDiffSource")
    /// An option value that makes no sense, e.g. a `SOURCE_DATE_EPOCH` that is not a number.
    public static let invalidOption = LayerError.Code("invalidOption")
}

/// Writes the entries of one diff: clamps times, groups hard links, emits whiteouts and
/// defers directory headers until something inside them is written (``DiffEmitter/Pending``).
final class DiffEmitter {
    let writer: TarWriter
    let options: LayerDiffer.Options
    let tree: String
    var statistics = LayerDiffer.Statistics()
    private var firstPathOfInode: [DeviceInode: String] = [:]

    private struct DeviceInode: Hashable { var device: UInt64; var inode: UInt64 }

    /// A directory header not written yet: written before the first entry inside it (a
    /// change deep in a tree needs its parents in the layer, with their current metadata).
    struct Pending {
        var entry: TarEntry
        var written: Bool
    }

    /// Directory headers of the current path from the top, written or not.
    var ancestors: [Pending] = []

    init(writer: TarWriter, options: LayerDiffer.Options, tree: String) {
        self.writer = writer
        self.options = options
        self.tree = tree
    }

    func clamp(_ t: TarTimestamp) -> TarTimestamp {
        if let limit = options.clampMtime, t > TarTimestamp(seconds: limit) { return TarTimestamp(seconds: limit) }
        return t
    }

    /// Writes the pending ancestors' headers, outermost first.
    func flushAncestors() throws {
        for index in ancestors.indices where !ancestors[index].written {
            try write(header: ancestors[index].entry)
            ancestors[index].written = true
        }
    }

    private func write(header: TarEntry) throws {
        var entry = header
        entry.mtime = clamp(entry.mtime)
        try writer.writeHeader(entry)
        statistics.entries += 1
    }

    /// Writes a file (after its ancestors). A regular file with more than one link whose
    /// inode was written already becomes a hard link to that first path.
    func write(_ file: DirectoryArchiver.File, named name: [UInt8], in directoryFD: Int32) throws {
        try flushAncestors()
        var file = file
        file.entry.mtime = clamp(file.entry.mtime)
        if case .regular = file.entry.type {
            if file.linkCount > 1 {
                let key = DeviceInode(device: file.device, inode: file.inode)
                if let first = firstPathOfInode[key] {
                    file.entry.type = .hardlink
                    file.entry.linkname = first
                    file.entry.size = 0
                    try writer.writeHeader(file.entry)
                    statistics.entries += 1
                    return
                }
                firstPathOfInode[key] = file.path
            }
            try DirectoryArchiver.writeRegular(file, named: name, in: directoryFD, tree: tree, to: writer)
            statistics.entries += 1
            statistics.contentBytes += file.entry.size
        } else {
            try writer.writeHeader(file.entry)
            statistics.entries += 1
        }
    }

    /// Writes a whiteout: `prefix + ".wh." + name` (or `.wh..wh..opq` for `name` nil).
    func writeWhiteout(prefix: String, name: String?) throws {
        try flushAncestors()
        let path = prefix + ".wh." + (name ?? ".wh..opq")
        try writer.writeHeader(TarEntry(path: path, type: .regular, mode: 0, mtime: TarTimestamp(seconds: options.clampMtime ?? 0)))
        statistics.entries += 1
        statistics.whiteouts += 1
    }
}
