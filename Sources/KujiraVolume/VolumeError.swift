#if canImport(Glibc)
import Glibc
#endif

/// The one error type of the volume store: a stable ``Code``, a message that names the
/// volume and says what to do, and the underlying cause.
public struct VolumeError: Error, Sendable, CustomStringConvertible {
    /// A stable error code; new codes can be added without breaking clients.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's name.
        public let rawValue: String
        /// Creates a code.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// The code's name.
        public var description: String { rawValue }

        /// No volume has that name.
        public static let notFound = Code("notFound")
        /// A volume of that name exists with other settings, or the volume is in use.
        public static let conflict = Code("conflict")
        /// A name, driver or option is malformed or unsupported.
        public static let invalidArgument = Code("invalidArgument")
        /// A file system or system call failed.
        public static let io = Code("io")
    }

    /// The code.
    public let code: Code
    /// The human message.
    public let message: String
    /// The underlying error, if any.
    public let cause: (any Error)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// The message, followed by the chain of causes.
    public var description: String {
        guard let cause else { return message }
        return "\(message): \(cause)"
    }

    static func posix(_ what: String, errno code: Int32) -> VolumeError {
        VolumeError(.io, "\(what): \(String(cString: strerror(code)))")
    }
}
