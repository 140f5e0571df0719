/// The one error type of the engine: a stable ``Code``, a message that names the container
/// or image and says what to do, and the underlying cause.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    /// A stable error code; new codes can be added without breaking clients.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's name.
        public let rawValue: String
        /// Creates a code.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// The code's name.
        public var description: String { rawValue }

        /// No container (or image) matches the name or id.
        public static let notFound = Code("notFound")
        /// A container with that name already exists, or an id prefix is ambiguous.
        public static let conflict = Code("conflict")
        /// The container is in a state that does not allow the operation.
        public static let invalidState = Code("invalidState")
        /// A user-supplied option is malformed or unsupported.
        public static let invalidArgument = Code("invalidArgument")
        /// A file system or system call failed.
        public static let io = Code("io")
        /// The feature is not implemented yet.
        public static let unsupported = Code("unsupported")
        /// The target is read-only (a read-only mount, or a `--read-only` rootfs).
        public static let readOnly = Code("readOnly")
        /// The container's monitor failed to start the container.
        public static let startFailed = Code("startFailed")
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

    static func posix(_ what: String, errno code: Int32) -> EngineError {
        EngineError(.io, "\(what): \(String(cString: strerror(code)))")
    }
}

#if canImport(Glibc)
import Glibc
#endif
