#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// The error of Kujira's security policy code (seccomp compilation, capability sets): a
/// stable ``Code``, a message that names the syscall, architecture, action, flag or
/// capability at fault and says what to change, and the underlying cause when there is one.
///
/// It has the same shape as the other modules' error types, so that it can become a set of
/// codes of the runtime's single error type without changing what callers see.
public struct SecurityError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable error code. New codes are added as static members, so
    /// clients that switch over codes keep compiling.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's identifier, e.g. `unknownAction`.
        public let rawValue: String
        /// Creates a code from its identifier.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// The identifier, as written in logs.
        public var description: String { rawValue }

        /// A seccomp action name that is not one of the `SCMP_ACT_*` names of the runtime spec.
        public static let unknownAction = Code("unknownAction")
        /// A seccomp architecture name that libseccomp does not know.
        public static let unknownArchitecture = Code("unknownArchitecture")
        /// A `SECCOMP_FILTER_FLAG_*` name that Kujira does not support.
        public static let unknownFlag = Code("unknownFlag")
        /// A comparison operator that is not one of the `SCMP_CMP_*` names.
        public static let unknownOperator = Code("unknownOperator")
        /// A profile that is well-formed JSON but cannot be turned into a filter (an argument
        /// index past 5, `SCMP_ACT_NOTIFY` without a `listenerPath`, …).
        public static let invalidProfile = Code("invalidProfile")
        /// libseccomp refused a call (rule, architecture, attribute, export).
        public static let libseccomp = Code("libseccomp")
        /// A capability name that is not known to libcap or to the running kernel.
        public static let unknownCapability = Code("unknownCapability")
        /// Reading a kernel interface (`/proc/self/status`, `/proc/sys/kernel/cap_last_cap`)
        /// or a scratch file failed.
        public static let io = Code("io")
    }

    /// The stable error code.
    public let code: Code
    /// A human-readable message naming the object at fault and what to do.
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

/// The text of a negative errno returned by libseccomp or of `errno` after a failed call,
/// as the cause of a ``SecurityError``.
struct SecurityErrno: Error, Sendable, CustomStringConvertible {
    /// The (positive) error number.
    let errno: Int32
    var description: String { "\(String(cString: strerror(errno))) (errno \(errno))" }
}
