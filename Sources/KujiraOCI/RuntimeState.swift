// The state of a container (runtime-spec runtime.md, "State"), what `state` prints and what
// hooks read on standard input, and runc's longer `state` output.

/// The state of a container (runtime.md, "State"): printed by the runtime's `state` operation
/// and passed to hooks on standard input.
public struct State: Codable, Hashable, Sendable {
    /// `ociVersion`: the runtime spec version the state follows. Required.
    public var ociVersion: String
    /// `id`: the container's ID, unique on the host. Required.
    public var id: String
    /// `status`: the runtime state of the container. Required.
    public var status: ContainerStatus
    /// `pid`: the host PID of the container process; required while `created` or `running`.
    public var pid: Int?
    /// `bundle`: the absolute path of the container's bundle directory. Required.
    public var bundle: String
    /// `annotations`: the annotations of the container's configuration.
    public var annotations: [String: String]?

    /// Creates a value; optional fields default to absent.
    public init(
        ociVersion: String = Spec.currentVersion, id: String, status: ContainerStatus, pid: Int? = nil,
        bundle: String, annotations: [String: String]? = nil
    ) {
        self.ociVersion = ociVersion
        self.id = id
        self.status = status
        self.pid = pid
        self.bundle = bundle
        self.annotations = annotations
    }
}

/// The status of a container (runtime.md, "State", `status`). A struct of static members so
/// that runtime-specific values (runc's `paused`) decode and round-trip.
public struct ContainerStatus: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
    /// The JSON value, e.g. `running`.
    public let rawValue: String
    /// Creates a status from its JSON value.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// The JSON value.
    public var description: String { rawValue }

    /// `creating`: the container is being created (step 2 of the lifecycle).
    public static let creating = ContainerStatus(rawValue: "creating")
    /// `created`: `create` finished; the user program has not been executed yet.
    public static let created = ContainerStatus(rawValue: "created")
    /// `running`: the user program has been executed and has not exited.
    public static let running = ContainerStatus(rawValue: "running")
    /// `stopped`: the container process has exited.
    public static let stopped = ContainerStatus(rawValue: "stopped")
    /// `paused`: frozen by `pause` (a runc extension, not in the spec).
    public static let paused = ContainerStatus(rawValue: "paused")

    /// Decodes the JSON string.
    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    /// Encodes the JSON string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// The output of `runc state` (runc's `cState`): the spec's ``State`` plus `rootfs`, `created`
/// and `owner`, with `pid` always written (0 once stopped). Callers such as containerd parse
/// this shape.
public struct RuncState: Codable, Hashable, Sendable {
    /// `ociVersion`: the runtime spec version. Required.
    public var ociVersion: String
    /// `id`: the container's ID. Required.
    public var id: String
    /// `pid`: the host PID of the container's init process, 0 when there is none. Required.
    public var pid: Int
    /// `status`: the container's status, including `paused`. Required.
    public var status: ContainerStatus
    /// `bundle`: the absolute path of the bundle. Required.
    public var bundle: String
    /// `rootfs`: the absolute path of the container's root filesystem. Required.
    public var rootfs: String
    /// `created`: when the container was created, RFC 3339 with nanoseconds (see
    /// ``Timestamp``). Required.
    public var created: String
    /// `annotations`: the annotations of the container's configuration.
    public var annotations: [String: String]?
    /// `owner`: the user name of the container's owner (empty when run by root). Required.
    public var owner: String

    /// Creates a value; optional fields default to absent.
    public init(
        ociVersion: String = Spec.currentVersion, id: String, pid: Int, status: ContainerStatus,
        bundle: String, rootfs: String, created: String, annotations: [String: String]? = nil,
        owner: String = ""
    ) {
        self.ociVersion = ociVersion
        self.id = id
        self.pid = pid
        self.status = status
        self.bundle = bundle
        self.rootfs = rootfs
        self.created = created
        self.annotations = annotations
        self.owner = owner
    }

    /// The spec's view of this state (runtime.md, "State").
    public var state: State {
        State(ociVersion: ociVersion, id: id, status: status, pid: pid == 0 ? nil : pid, bundle: bundle, annotations: annotations)
    }

    /// ``created`` parsed, or `nil` when it is not RFC 3339.
    public var createdTimestamp: Timestamp? { try? Timestamp(parsing: created) }
}
