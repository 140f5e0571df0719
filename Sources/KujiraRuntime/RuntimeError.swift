import Glibc

/// The error type of `KujiraRuntime`: a stable ``Code``, a message that names the container,
/// path or setting at fault and what to do, and the underlying cause. Messages keep the
/// wording that callers of runc match on ("does not exist", "container not running", …).
public struct RuntimeError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable error code; new codes are added as static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's identifier, e.g. `notFound`.
        public let rawValue: String
        /// Creates a code from its identifier.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// The identifier, as written in logs.
        public var description: String { rawValue }

        /// A system call failed (permissions, missing file, …).
        public static let io = Code("io")
        /// No container with that id in the state root ("does not exist").
        public static let notFound = Code("notFound")
        /// A container with that id exists already.
        public static let alreadyExists = Code("alreadyExists")
        /// The container is not in a state that allows the operation ("container not running").
        public static let invalidState = Code("invalidState")
        /// The bundle's config.json is missing, malformed or asks for something invalid.
        public static let invalidConfig = Code("invalidConfig")
        /// An argument the caller gave is not acceptable (container id, signal, …).
        public static let invalidArgument = Code("invalidArgument")
        /// `process.terminal` is true but no console socket was given: a caller that can
        /// take the terminal itself (`kujira-runtime run` in the foreground) retries with one.
        public static let consoleSocketRequired = Code("consoleSocketRequired")
        /// A feature Kujira does not implement yet; the message says which.
        public static let unsupported = Code("unsupported")
        /// The container init reported an error while building the container.
        public static let initFailed = Code("initFailed")
        /// A lifecycle hook failed or timed out.
        public static let hookFailed = Code("hookFailed")
        /// The process to signal is gone ("no such process").
        public static let noSuchProcess = Code("noSuchProcess")
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

    /// An `.io` error for a failed system call, with `strerror(errno)` as the cause.
    static func posix(_ what: String, errno code: Int32 = errno) -> RuntimeError {
        RuntimeError(.io, what, cause: ErrnoText(errno: code))
    }
}

/// The text of an `errno`, as the cause of a ``RuntimeError``.
struct ErrnoText: Error, Sendable, CustomStringConvertible {
    /// The error number.
    let errno: Int32
    var description: String { String(cString: strerror(errno)) }
}
