/// The `config` object of an image configuration (image-spec config.md, "Properties",
/// `config`): the defaults for a container run from the image.
///
/// Besides the OCI fields it models the fields Docker's `container.Config` writes into image
/// configs (`Hostname`, `AttachStdin`, `Image`, `Healthcheck`, `Shell`, …), so a Docker
/// config decodes into it and re-encodes with the same keys. Docker writes `null` for unset
/// lists and maps; those decode as `nil` and are omitted when encoding.
public struct ImageConfig: Codable, Hashable, Sendable {
    /// `User`: the user name or UID, optionally with a group (`user`, `uid:gid`, `user:group`).
    public var user: String?
    /// `ExposedPorts`: the ports to expose, `port/tcp`, `port/udp` or `port` (tcp), written
    /// in JSON as an object whose values are `{}`.
    public var exposedPorts: ObjectKeySet?
    /// `Env`: the environment, `VARNAME=VARVALUE` entries.
    public var env: [String]?
    /// `Entrypoint`: the arguments to use as the command to execute.
    public var entrypoint: [String]?
    /// `Cmd`: the default arguments to the entrypoint.
    public var cmd: [String]?
    /// `Volumes`: directories that should be a volume, written as an object of `{}`.
    public var volumes: ObjectKeySet?
    /// `WorkingDir`: the working directory of the entrypoint process.
    public var workingDir: String?
    /// `Labels`: arbitrary metadata for the container.
    public var labels: [String: String]?
    /// `StopSignal`: the signal sent to stop the container, a name (`SIGTERM`) or number.
    public var stopSignal: String?
    /// `ArgsEscaped`: deprecated Windows-only flag that `Entrypoint`/`Cmd` hold a single
    /// pre-escaped command line. Kept for round-tripping.
    public var argsEscaped: Bool?

    /// Docker `Healthcheck`: how to check that the container is healthy.
    public var healthcheck: Healthcheck?
    /// Docker `OnBuild`: `ONBUILD` triggers, run when the image is used as a base.
    public var onBuild: [String]?
    /// Docker `Shell`: the shell for shell-form `RUN`, `CMD` and `ENTRYPOINT`.
    public var shell: [String]?
    /// Docker `Hostname`.
    public var hostname: String?
    /// Docker `Domainname`.
    public var domainname: String?
    /// Docker `AttachStdin`.
    public var attachStdin: Bool?
    /// Docker `AttachStdout`.
    public var attachStdout: Bool?
    /// Docker `AttachStderr`.
    public var attachStderr: Bool?
    /// Docker `Tty`.
    public var tty: Bool?
    /// Docker `OpenStdin`.
    public var openStdin: Bool?
    /// Docker `StdinOnce`.
    public var stdinOnce: Bool?
    /// Docker `Image`: the image (ID or name) the container was created from, in legacy
    /// builder output.
    public var image: String?
    /// Docker `NetworkDisabled`.
    public var networkDisabled: Bool?
    /// Docker `MacAddress` (deprecated).
    public var macAddress: String?
    /// Docker `StopTimeout`: seconds to wait after ``stopSignal`` before killing.
    public var stopTimeout: Int?

    /// Creates an empty config; set the fields you need.
    public init() {}

    /// Creates a config with the commonly used OCI fields.
    public init(
        user: String? = nil, exposedPorts: ObjectKeySet? = nil, env: [String]? = nil,
        entrypoint: [String]? = nil, cmd: [String]? = nil, volumes: ObjectKeySet? = nil,
        workingDir: String? = nil, labels: [String: String]? = nil, stopSignal: String? = nil,
        healthcheck: Healthcheck? = nil, onBuild: [String]? = nil, shell: [String]? = nil
    ) {
        self.user = user
        self.exposedPorts = exposedPorts
        self.env = env
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.volumes = volumes
        self.workingDir = workingDir
        self.labels = labels
        self.stopSignal = stopSignal
        self.healthcheck = healthcheck
        self.onBuild = onBuild
        self.shell = shell
    }

    enum CodingKeys: String, CodingKey {
        case user = "User"
        case exposedPorts = "ExposedPorts"
        case env = "Env"
        case entrypoint = "Entrypoint"
        case cmd = "Cmd"
        case volumes = "Volumes"
        case workingDir = "WorkingDir"
        case labels = "Labels"
        case stopSignal = "StopSignal"
        case argsEscaped = "ArgsEscaped"
        case healthcheck = "Healthcheck"
        case onBuild = "OnBuild"
        case shell = "Shell"
        case hostname = "Hostname"
        case domainname = "Domainname"
        case attachStdin = "AttachStdin"
        case attachStdout = "AttachStdout"
        case attachStderr = "AttachStderr"
        case tty = "Tty"
        case openStdin = "OpenStdin"
        case stdinOnce = "StdinOnce"
        case image = "Image"
        case networkDisabled = "NetworkDisabled"
        case macAddress = "MacAddress"
        case stopTimeout = "StopTimeout"
    }
}

/// Docker's `Healthcheck` in an image config (moby `container.HealthConfig`). Durations are
/// integers of nanoseconds, as Go's `time.Duration` encodes them.
public struct Healthcheck: Codable, Hashable, Sendable {
    /// `Test`: `[]` inherits, `["NONE"]` disables, `["CMD", args…]` runs directly,
    /// `["CMD-SHELL", command]` runs with the shell.
    public var test: [String]?
    /// `Interval`: nanoseconds between checks; 0 means the default (30 s).
    public var interval: Int64?
    /// `Timeout`: nanoseconds before a check is considered hung; 0 means the default (30 s).
    public var timeout: Int64?
    /// `StartPeriod`: nanoseconds for the container to start before failures count.
    public var startPeriod: Int64?
    /// `StartInterval`: nanoseconds between checks during the start period.
    public var startInterval: Int64?
    /// `Retries`: consecutive failures needed to be unhealthy; 0 means the default (3).
    public var retries: Int?

    /// Creates a health check.
    public init(
        test: [String]? = nil, interval: Int64? = nil, timeout: Int64? = nil, startPeriod: Int64? = nil,
        startInterval: Int64? = nil, retries: Int? = nil
    ) {
        self.test = test
        self.interval = interval
        self.timeout = timeout
        self.startPeriod = startPeriod
        self.startInterval = startInterval
        self.retries = retries
    }

    enum CodingKeys: String, CodingKey {
        case test = "Test"
        case interval = "Interval"
        case timeout = "Timeout"
        case startPeriod = "StartPeriod"
        case startInterval = "StartInterval"
        case retries = "Retries"
    }
}

/// A set of strings written in JSON as an object whose values are all empty objects, the
/// Go `map[string]struct{}` idiom of `ExposedPorts` and `Volumes`: `{"80/tcp":{}}`.
/// Values other than `{}` are accepted and dropped on decoding; encoding writes `{}`.
public struct ObjectKeySet: Codable, Hashable, Sendable, Sequence, ExpressibleByArrayLiteral {
    /// The keys.
    public var keys: Set<String>

    /// Creates a set from keys.
    public init<Keys: Sequence>(_ keys: Keys) where Keys.Element == String { self.keys = Set(keys) }

    /// Creates a set from a literal list of keys.
    public init(arrayLiteral elements: String...) { self.keys = Set(elements) }

    /// Whether `key` is in the set.
    public func contains(_ key: String) -> Bool { keys.contains(key) }

    /// The keys in ascending order, as they are encoded.
    public var sorted: [String] { keys.sorted() }

    /// Iterates the keys in ascending order.
    public func makeIterator() -> IndexingIterator<[String]> { sorted.makeIterator() }

    /// Decodes `{"key": {}, …}`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        keys = Set(container.allKeys.map(\.stringValue))
    }

    /// Encodes `{"key": {}, …}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyKey.self)
        for key in keys {
            _ = container.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey(key))
        }
    }
}

/// A coding key for arbitrary object keys.
struct AnyKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
