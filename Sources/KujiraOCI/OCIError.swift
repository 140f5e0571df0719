/// The error type of `KujiraOCI`: a stable ``Code``, a message that names the offending
/// object and says what to do, and the underlying cause when there is one.
public struct OCIError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable error code. New codes are added as static members, so
    /// clients that switch over codes keep compiling.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's identifier, e.g. `invalidDigest`.
        public let rawValue: String
        /// Creates a code from its identifier.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// The code's identifier.
        public var description: String { rawValue }

        /// A digest string that does not follow `algorithm:encoded`.
        public static let invalidDigest = Code("invalidDigest")
        /// An image reference that does not follow the distribution grammar.
        public static let invalidReference = Code("invalidReference")
        /// A platform string such as `linux/arm64/v8` that cannot be parsed.
        public static let invalidPlatform = Code("invalidPlatform")
        /// A media type that is not known where one of a fixed set is required.
        public static let unsupportedMediaType = Code("unsupportedMediaType")
        /// JSON that does not decode into the expected document.
        public static let malformedDocument = Code("malformedDocument")
        /// Content whose digest or size does not match its descriptor.
        public static let digestMismatch = Code("digestMismatch")
        /// A timestamp that is not RFC 3339 (`2024-01-02T03:04:05.123456789Z`).
        public static let invalidTimestamp = Code("invalidTimestamp")
        /// A document that is valid JSON of a kind Kujira deliberately does not support,
        /// such as a Docker schema 1 manifest, or one that cannot be converted as asked.
        public static let unsupportedDocument = Code("unsupportedDocument")
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

    /// The message, followed by the cause's description when there is one.
    public var description: String {
        if let cause { return "\(message): \(cause)" }
        return message
    }
}
