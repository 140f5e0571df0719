import Glibc

/// The error type of `KujiraImage`: a stable ``Code``, a message that names the offending
/// object (digest, path, image name) and says what to do, and the underlying cause when
/// there is one. Mirrors `OCIError`.
public struct ImageStoreError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable error code. New codes are added as static members, so
    /// clients that switch over codes keep compiling.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's identifier, e.g. `blobNotFound`.
        public let rawValue: String
        /// Creates a code from its identifier.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// The identifier, as written in logs.
        public var description: String { rawValue }

        /// A system call on the store's files failed (permissions, disk full, …).
        public static let io = Code("io")
        /// A blob that should be in the content store is not there.
        public static let blobNotFound = Code("blobNotFound")
        /// Content whose digest or size does not match what was expected: a tampered or
        /// truncated blob, or a transfer that delivered the wrong bytes.
        public static let digestMismatch = Code("digestMismatch")
        /// No image record with the given name, digest or ID prefix.
        public static let imageNotFound = Code("imageNotFound")
        /// A short ID prefix that matches more than one image.
        public static let ambiguousReference = Code("ambiguousReference")
        /// An argument the caller gave is not acceptable (empty name, too-short prefix, …).
        public static let invalidArgument = Code("invalidArgument")
        /// A media type in an image graph that Kujira does not handle.
        public static let unsupportedMediaType = Code("unsupportedMediaType")
        /// A JSON document (manifest, index, config, layout file) that does not decode.
        public static let malformedDocument = Code("malformedDocument")
        /// The metadata database reported an error.
        public static let database = Code("database")
        /// An OCI image layout that is missing files, has the wrong version, or no such tag.
        public static let invalidLayout = Code("invalidLayout")
        /// A tag that is not in an OCI layout's `index.json`.
        public static let tagNotFound = Code("tagNotFound")
    }

    /// The stable error code.
    public let code: Code
    /// A human-readable message naming the object and what to do.
    public let message: String
    /// The underlying error, if any.
    public let cause: (any Error)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// The message followed by the cause, as one line.
    public var description: String {
        if let cause { return "\(message): \(cause)" }
        return message
    }
}

extension ImageStoreError {
    /// An `.io` error for a failed system call, with `strerror(errno)` as the cause.
    static func posix(_ what: String, path: String, errno code: Int32) -> ImageStoreError {
        ImageStoreError(.io, "\(what) \(path) failed", cause: POSIXErrorText(errno: code))
    }
}

/// The text of an `errno`, as a cause of an ``ImageStoreError``.
struct POSIXErrorText: Error, Sendable, CustomStringConvertible {
    /// The error number.
    let errno: Int32
    var description: String { "\(String(cString: strerror(errno))) (errno \(errno))" }
}
