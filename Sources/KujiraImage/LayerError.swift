#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The error type of unpacking layers in `KujiraImage`: a stable ``Code``, a message that
/// names the layer entry and says what to do, and the underlying cause when there is one.
public struct LayerError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable error code. New codes are added as static members, so
    /// clients that switch over codes keep compiling.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's identifier, e.g. `escapesRoot`.
        public let rawValue: String
        /// Creates a code from its identifier.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// An entry whose resolution the kernel refused because it leaves the root.
        public static let escapesRoot = Code("escapesRoot")
        /// A hard link whose target does not exist inside the root.
        public static let hardlinkTargetMissing = Code("hardlinkTargetMissing")
        /// A hard link whose target is a directory.
        public static let hardlinkToDirectory = Code("hardlinkToDirectory")
        /// A device node when the options forbid device nodes.
        public static let deviceForbidden = Code("deviceForbidden")
        /// A path longer than the configured limit, or a component longer than NAME_MAX.
        public static let pathTooLong = Code("pathTooLong")
        /// A path that names nothing writable (empty, the root for a non-directory, NUL bytes).
        public static let invalidPath = Code("invalidPath")
        /// A path whose parent component exists and is not a directory.
        public static let notADirectory = Code("notADirectory")
        /// More symbolic links in a path than Linux allows (40), e.g. a loop.
        public static let symlinkLoop = Code("symlinkLoop")
        /// A layer with more entries than the configured limit.
        public static let tooManyEntries = Code("tooManyEntries")
        /// A uid or gid outside the configured ``IDMapping``.
        public static let idOutOfRange = Code("idOutOfRange")
        /// A system call failed; the cause is the `Errno`.
        public static let systemCallFailed = Code("systemCallFailed")
        /// The writer was used after ``RootfsWriter/finish()`` or after an earlier failure.
        public static let writerClosed = Code("writerClosed")
        /// An entry lands on a read-only mount (``TarExtractor/redirects``).
        public static let readOnly = Code("readOnly")
    }

    /// The stable error code.
    public let code: Code
    /// A human-readable message naming the entry and what to do.
    public let message: String
    /// The underlying error, if any.
    public let cause: (any Error)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(message): \(cause)" }
        return message
    }
}

extension LayerError {
    /// An `errno` value, as the cause of a ``LayerError``.
    public struct Errno: Error, Sendable, Hashable, CustomStringConvertible {
        /// The raw `errno` value.
        public let rawValue: Int32
        /// Creates an errno value.
        public init(_ rawValue: Int32) { self.rawValue = rawValue }
        public var description: String {
            guard let text = strerror(rawValue) else { return "errno \(rawValue)" }
            return "\(String(cString: text)) (errno \(rawValue))"
        }
    }

    /// An error for a failed system call on `entry`: `what` says which operation failed.
    static func system(_ what: String, _ entry: [UInt8], errno code: Int32) -> LayerError {
        LayerError(.systemCallFailed,
                   "layer entry \(String(decoding: entry, as: UTF8.self)): \(what) failed; check the destination's filesystem and permissions",
                   cause: Errno(code))
    }
}
