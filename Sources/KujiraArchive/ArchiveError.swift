/// The error type of `KujiraArchive`: a stable ``Code``, a message that names the offending
/// object (archive offset, entry path, file) and says what to do, and the underlying cause
/// when there is one.
public struct ArchiveError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable error code. New codes are added as static members, so
    /// clients that switch over codes keep compiling.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's identifier, e.g. `truncated`.
        public let rawValue: String
        /// Creates a code from its identifier.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// The code's identifier.
        public var description: String { rawValue }

        /// The stream ended in the middle of a tar header, a tar entry's content or a
        /// compressed frame.
        public static let truncated = Code("truncated")
        /// A tar header block whose checksum does not match its contents.
        public static let badChecksum = Code("badChecksum")
        /// A tar header with a malformed field: a non-octal number, a negative or absurd
        /// size, an empty path, a NUL inside a path.
        public static let invalidHeader = Code("invalidHeader")
        /// A PAX extended header record that does not follow `"%d %s=%s\n"`.
        public static let invalidPAXRecord = Code("invalidPAXRecord")
        /// A configured limit was exceeded: decompressed size, the size of a PAX or GNU
        /// long-name record, or the number of consecutive extension headers.
        public static let limitExceeded = Code("limitExceeded")
        /// Compressed data that the decompressor rejects (bad magic, bad CRC, bad block).
        public static let corruptData = Code("corruptData")
        /// A system call failed (read, write, open, stat, …); `cause` holds the errno.
        public static let io = Code("io")
        /// The caller used an API out of order or with values that cannot be encoded, e.g.
        /// content shorter than the header's size.
        public static let invalidArgument = Code("invalidArgument")
        /// A file that cannot be archived: a socket, or a file that changed while read.
        public static let unsupportedFile = Code("unsupportedFile")
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

    /// The message followed by the cause chain.
    public var description: String {
        if let cause { return "\(message): \(cause)" }
        return message
    }
}

/// An `errno` value, carried as the ``ArchiveError/cause`` of ``ArchiveError/Code/io`` errors.
public struct SystemError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The `errno` value.
    public let errno: Int32
    /// Creates the error for an `errno` value.
    public init(errno: Int32) { self.errno = errno }
    /// The C library's description, e.g. `No such file or directory (errno 2)`.
    public var description: String {
        let text = strerror(errno).map { String(cString: $0) } ?? "unknown error"
        return "\(text) (errno \(errno))"
    }
}

extension ArchiveError {
    /// An ``Code/io`` error for the current `errno`, with `message` naming the call and object.
    static func system(_ message: String, errno code: Int32 = Glibc.errno) -> ArchiveError {
        ArchiveError(.io, message, cause: SystemError(errno: code))
    }
}

import Glibc
