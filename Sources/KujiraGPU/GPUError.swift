// The one error type of KujiraGPU: a stable code, a message that names the spec file, the
// field or the device, and the underlying cause.

/// The error type of `KujiraGPU`: a stable ``Code``, a message that names the offending object
/// (spec file and field, device name, host path) and what to do, and the underlying cause.
public struct GPUError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable error code. New codes are added as static members, so
    /// clients that switch over codes keep compiling.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's identifier, e.g. `invalidSpec`.
        public let rawValue: String
        /// Creates a code from its identifier.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// The code's identifier.
        public var description: String { rawValue }

        /// A CDI spec that cannot be decoded (bad JSON/YAML, wrong type, missing field).
        public static let malformedSpec = Code("malformedSpec")
        /// A CDI spec that decodes but breaks a rule of the CDI specification.
        public static let invalidSpec = Code("invalidSpec")
        /// A device name that is not a valid CDI name (`vendor/class=name`).
        public static let invalidName = Code("invalidName")
        /// A requested CDI device that no spec defines.
        public static let unknownDevice = Code("unknownDevice")
        /// A device defined by two specs of the same priority.
        public static let deviceConflict = Code("deviceConflict")
        /// A GPU request on a host where discovery found no GPU (or no driver).
        public static let noGPUs = Code("noGPUs")
        /// A malformed `--gpus`, `--device` or `NVIDIA_*` value.
        public static let invalidRequest = Code("invalidRequest")
        /// An `NVIDIA_REQUIRE_*` constraint the host's driver does not meet.
        public static let requirementNotMet = Code("requirementNotMet")
        /// A host file that cannot be read or examined (stat, readlink, directory listing).
        public static let hostIO = Code("hostIO")
        /// A host path that should be a device node and is not.
        public static let notADevice = Code("notADevice")
        /// A valid request that Kujira cannot carry out.
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

    /// The message, followed by the cause's description when there is one.
    public var description: String {
        if let cause { return "\(message): \(cause)" }
        return message
    }
}
