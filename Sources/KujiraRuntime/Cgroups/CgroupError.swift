// The error type of the cgroup managers (Sources/KujiraRuntime/Cgroups).

/// An error from a cgroup manager: a stable ``Code``, a message that names the cgroup file
/// or directory and the value involved, and the underlying cause when there is one.
public struct CgroupError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable error code. New codes are added as static members, so
    /// clients that switch over codes keep compiling.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's identifier, e.g. `write`.
        public let rawValue: String
        /// Creates a code from its identifier.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// The code's identifier.
        public var description: String { rawValue }

        /// No usable cgroup hierarchy is mounted, or the mount table cannot be understood.
        public static let noCgroups = Code("noCgroups")
        /// A `cgroupsPath` that cannot be used (for example one that escapes the hierarchy).
        public static let invalidPath = Code("invalidPath")
        /// A limit was requested for a controller this host does not provide.
        public static let missingController = Code("missingController")
        /// A resource value the kernel interface cannot express, or a combination the spec
        /// forbids (swap below memory, `unified` on cgroup v1, …).
        public static let invalidResources = Code("invalidResources")
        /// Writing a cgroup file failed; the message names the file and the value.
        public static let write = Code("write")
        /// Reading a cgroup file failed or its content could not be parsed.
        public static let read = Code("read")
        /// Creating or removing a cgroup directory failed.
        public static let directory = Code("directory")
        /// A state change (freeze, kill, removal) did not complete in time.
        public static let timeout = Code("timeout")
        /// Loading or attaching the cgroup v2 device filter (eBPF) failed.
        public static let bpf = Code("bpf")
    }

    /// The stable error code.
    public let code: Code
    /// A human-readable message naming the cgroup file or directory and what to do.
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

/// An `errno` value with its `strerror(3)` text, used as the cause of a ``CgroupError``.
public struct CgroupErrno: Error, Sendable, Hashable, CustomStringConvertible {
    /// The `errno` value.
    public let value: Int32
    /// Creates the error for `value`.
    public init(_ value: Int32) { self.value = value }
    /// The `strerror(3)` text, e.g. "Device or resource busy".
    public var description: String { CgroupFS.errorText(value) }
}
