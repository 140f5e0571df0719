import Glibc

/// The error type of `KujiraNetwork`: a stable ``Code``, a message that names the network,
/// container, interface or address involved and says what to do, and the underlying cause.
public struct NetworkError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable error code. New codes are added as static members, so
    /// clients that switch over codes keep compiling.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's identifier, e.g. `networkNotFound`.
        public let rawValue: String
        /// Creates a code from its identifier.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// The identifier, as written in logs.
        public var description: String { rawValue }

        /// An argument the caller gave is not acceptable (bad subnet, bad `-p` syntax, …).
        public static let invalidArgument = Code("invalidArgument")
        /// No network with that name or ID.
        public static let networkNotFound = Code("networkNotFound")
        /// A network with that name already exists.
        public static let networkExists = Code("networkExists")
        /// The network still has containers attached.
        public static let networkInUse = Code("networkInUse")
        /// The container is not attached to that network.
        public static let notAttached = Code("notAttached")
        /// The container is already attached to that network.
        public static let alreadyAttached = Code("alreadyAttached")
        /// No free address is left in the network's range, or no free subnet in the pools.
        public static let addressExhausted = Code("addressExhausted")
        /// The requested address is taken or outside the network.
        public static let addressUnavailable = Code("addressUnavailable")
        /// A host port is already published by another container.
        public static let portInUse = Code("portInUse")
        /// The kernel refused a netlink request; the cause carries errno and its message.
        public static let netlink = Code("netlink")
        /// A system call failed (socket, setns, mount, sysctl, …).
        public static let system = Code("system")
        /// `nft` failed or is not installed.
        public static let firewall = Code("firewall")
        /// The network database reported an error.
        public static let database = Code("database")
        /// A CNI plugin failed, or a CNI configuration is invalid.
        public static let cni = Code("cni")
        /// A DNS message that cannot be parsed.
        public static let dns = Code("dns")
        /// The operation is not supported for this network or mode.
        public static let unsupported = Code("unsupported")
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

/// The text of an `errno`, as a cause of a ``NetworkError``.
public struct SystemErrno: Error, Sendable, Hashable, CustomStringConvertible {
    /// The error number.
    public let errno: Int32
    /// Creates the cause for `errno`.
    public init(_ errno: Int32) { self.errno = errno }
    /// `strerror(errno)` and the number.
    public var description: String { "\(String(cString: strerror(errno))) (errno \(errno))" }
}

extension NetworkError {
    /// A `.system` error for a failed system call, with `strerror(errno)` as the cause.
    static func posix(_ what: String, errno code: Int32 = Glibc.errno) -> NetworkError {
        NetworkError(.system, what, cause: SystemErrno(code))
    }
}
