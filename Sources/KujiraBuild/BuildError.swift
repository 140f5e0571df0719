// The one error type of KujiraBuild: a stable code, a message naming the Dockerfile line and
// the object, and the underlying cause.

/// A build failed.
///
/// `description` is `Dockerfile:LINE: message` when the failure belongs to an instruction,
/// so that a command line can print it as is.
public struct BuildError: Error, Sendable, CustomStringConvertible {
    /// A stable error code; new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The identifier, e.g. `runFailed`.
        public let rawValue: String
        /// Creates a code.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// The identifier.
        public var description: String { rawValue }

        /// The Dockerfile does not parse or evaluate.
        public static let dockerfile = Code("dockerfile")
        /// A base image is not in the store.
        public static let baseImageNotFound = Code("baseImageNotFound")
        /// `--from` or `FROM` names a stage that does not exist.
        public static let unknownStage = Code("unknownStage")
        /// A RUN command exited with a non-zero status.
        public static let runFailed = Code("runFailed")
        /// A COPY/ADD source does not exist in the context or stage.
        public static let sourceNotFound = Code("sourceNotFound")
        /// A `--chown` or `USER` name is not in the image's /etc/passwd or /etc/group.
        public static let unknownUser = Code("unknownUser")
        /// An instruction or flag Kujira does not support yet.
        public static let unsupported = Code("unsupported")
        /// An invalid argument (build option, `--chmod`, path).
        public static let invalidArgument = Code("invalidArgument")
        /// A file system, store or runtime operation failed.
        public static let io = Code("io")
    }

    /// What went wrong, as a code.
    public var code: Code
    /// The human message (without the location).
    public var message: String
    /// The Dockerfile name and 1-based line the error belongs to, when it belongs to one.
    public var location: (file: String, line: Int)?
    /// The underlying error.
    public var cause: (any Error)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, file: String? = nil, line: Int? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        if let file, let line { location = (file, line) } else { location = nil }
        self.cause = cause
    }

    /// `FILE:LINE: message`, or the message alone.
    public var description: String {
        guard let location else { return message }
        return "\(location.file):\(location.line): \(message)"
    }
}
