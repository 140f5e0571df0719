/// The one error type of KujiraRegistry: a stable ``Code``, a message that names the
/// registry, the repository and what to do, and the underlying cause.
///
/// ```swift
/// do { try await client.pull(reference, into: store) }
/// catch let error as RegistryError where error.code == .unauthorized { … }
/// ```
public struct RegistryError: Error, Sendable, CustomStringConvertible {
    /// A stable error code. New codes may be added; match the ones you handle.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's name, e.g. `unauthorized`.
        public let rawValue: String
        /// Creates a code from its name.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// The code's name.
        public var description: String { rawValue }

        /// Authentication is required or the credentials were rejected (HTTP 401,
        /// registry code `UNAUTHORIZED`).
        public static let unauthorized = Code("unauthorized")
        /// The credentials are valid but may not do this (HTTP 403, `DENIED`).
        public static let denied = Code("denied")
        /// The tag or digest is not in the repository (`MANIFEST_UNKNOWN`).
        public static let manifestUnknown = Code("manifestUnknown")
        /// The repository does not exist (`NAME_UNKNOWN`).
        public static let nameUnknown = Code("nameUnknown")
        /// A blob is not in the repository (`BLOB_UNKNOWN`).
        public static let blobUnknown = Code("blobUnknown")
        /// Content did not hash to the digest that names it.
        public static let digestMismatch = Code("digestMismatch")
        /// The registry rate-limited us (HTTP 429, `TOOMANYREQUESTS`).
        public static let tooManyRequests = Code("tooManyRequests")
        /// The registry does not support this operation (`UNSUPPORTED`, HTTP 405).
        public static let unsupported = Code("unsupported")
        /// The registry rejected what we sent (`MANIFEST_INVALID`, `BLOB_UPLOAD_INVALID`, …).
        public static let invalid = Code("invalid")
        /// Connecting, sending or receiving failed (DNS, refused, reset, timeout).
        public static let network = Code("network")
        /// The TLS handshake failed or the certificate was not trusted.
        public static let tls = Code("tls")
        /// The registry answered something that breaks the HTTP or distribution protocol.
        public static let protocolError = Code("protocolError")
        /// The registry answered with a server error (5xx) after every retry.
        public static let serverError = Code("serverError")
        /// The image has no manifest for the requested platform.
        public static let platformNotFound = Code("platformNotFound")
        /// Reading or writing credentials (`config.json`, credential helpers) failed.
        public static let credentials = Code("credentials")
        /// The local image or content store failed.
        public static let store = Code("store")
        /// A caller gave an invalid argument.
        public static let invalidArgument = Code("invalidArgument")
        /// The operation was cancelled.
        public static let cancelled = Code("cancelled")
    }

    /// The error code.
    public let code: Code
    /// A human message naming the registry/repository and what to do.
    public let message: String
    /// The underlying error, if any.
    public let cause: (any Error)?
    /// The HTTP status that caused this, if any.
    public let httpStatus: Int?

    /// Creates an error.
    public init(_ code: Code, _ message: String, httpStatus: Int? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.cause = cause
    }

    /// The message, followed by the chain of causes.
    public var description: String {
        var text = message
        var next = cause
        while let current = next {
            let line: String
            if let registry = current as? RegistryError {
                line = registry.message
                next = registry.cause
            } else {
                line = String(describing: current)
                next = nil
            }
            if !text.contains(line) { text += "\n  caused by: \(line)" }
        }
        return text
    }

    /// Whether retrying the same request may succeed (network hiccups, 5xx, 429).
    var isTransient: Bool {
        code == .network || code == .serverError || code == .tooManyRequests
    }
}
