// Health checks: the image's HEALTHCHECK merged with `--health-*` options (as Docker merges
// them), and the state the monitor keeps (`docker inspect`'s `State.Health`).
//
//     var options = ContainerOptions(image: "web")
//     options.healthCmd = "wget -q -O /dev/null http://localhost/"
//     options.healthInterval = "5s"
//
// The monitor runs the check as an exec in the container on schedule (Engine+Health.swift).

public import KujiraOCI

/// The health of a running container with a health check (`State.Health`).
public struct ContainerHealth: Codable, Sendable, Hashable {
    /// `starting`, `healthy` or `unhealthy`.
    public var status: String
    /// Consecutive failed checks (failures during the start period do not count).
    public var failingStreak: Int
    /// The last five results, oldest first.
    public var log: [HealthResult]

    /// Docker's field names.
    enum CodingKeys: String, CodingKey {
        case status = "Status", failingStreak = "FailingStreak", log = "Log"
    }

    /// The status before the first check has passed.
    public static let starting = "starting"
    /// The status after a check passed.
    public static let healthy = "healthy"
    /// The status after `retries` consecutive failures.
    public static let unhealthy = "unhealthy"
    /// How many results are kept (Docker's `maxLogEntries`).
    public static let maxLogEntries = 5
    /// The most bytes of a check's output kept (Docker's `maxOutputLen`).
    public static let maxOutputLength = 4096

    /// Creates a health state.
    public init(status: String, failingStreak: Int = 0, log: [HealthResult] = []) {
        self.status = status
        self.failingStreak = failingStreak
        self.log = log
    }
}

/// One health check's result (an entry of `State.Health.Log`).
public struct HealthResult: Codable, Sendable, Hashable {
    /// When the check started (RFC 3339 with nanoseconds).
    public var start: String
    /// When it ended.
    public var end: String
    /// Its exit code: 0 healthy, anything else unhealthy; -1 when it timed out or could not run.
    public var exitCode: Int32
    /// Its stdout and stderr, at most 4 KiB.
    public var output: String

    /// Docker's field names.
    enum CodingKeys: String, CodingKey {
        case start = "Start", end = "End", exitCode = "ExitCode", output = "Output"
    }

    /// Creates a result.
    public init(start: String, end: String, exitCode: Int32, output: String) {
        self.start = start
        self.end = end
        self.exitCode = exitCode
        self.output = output
    }
}

/// Go's `time.ParseDuration`, as Docker's `--health-*` and `--since` flags take it.
public enum GoDuration {
    /// Parses `1h30m`, `10s`, `1.5m`, `250ms`, `0` into nanoseconds.
    /// - Throws: ``EngineError`` `.invalidArgument` naming `what` for anything else.
    public static func parse(_ text: String, what: String) throws -> Int64 {
        let invalid = EngineError(.invalidArgument, "\(what): invalid duration \"\(text)\": use a number with a unit (ns, us, ms, s, m, h), e.g. 30s or 1m30s")
        var rest = Substring(text)
        var negative = false
        if rest.first == "-" || rest.first == "+" {
            negative = rest.first == "-"
            rest = rest.dropFirst()
        }
        if rest == "0" { return 0 }
        guard !rest.isEmpty else { throw invalid }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number != ".", let value = Double(number.hasPrefix(".") ? "0" + number : String(number)) else { throw invalid }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs", "μs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: throw invalid
            }
            total += value * scale
        }
        guard total < 9.2e18 else { throw invalid }
        return Int64(total) * (negative ? -1 : 1)
    }
}

extension Healthcheck {
    /// Docker's defaults: interval and timeout 30 s, start interval 5 s, 3 retries.
    static let defaultInterval: Int64 = 30_000_000_000
    static let defaultTimeout: Int64 = 30_000_000_000
    static let defaultStartInterval: Int64 = 5_000_000_000
    static let defaultRetries = 3

    /// Whether the check runs: a test that is neither empty (inherit) nor `NONE`.
    public var isEnabled: Bool {
        guard let first = test?.first else { return false }
        return first != "NONE"
    }

    /// The command the check runs in the container: `CMD` args as they are, `CMD-SHELL`
    /// through `/bin/sh -c`.
    var command: [String] {
        guard let test, let kind = test.first else { return [] }
        switch kind {
        case "CMD": return Array(test.dropFirst())
        case "CMD-SHELL": return ["/bin/sh", "-c", test.dropFirst().joined(separator: " ")]
        default: return []
        }
    }

    /// The check of a container: the image's, with each `--health-*` option given replacing
    /// its field (Docker's merge); `--no-healthcheck` gives `["NONE"]`; nil when neither has one.
    static func merged(image: Healthcheck?, options: ContainerOptions) throws -> Healthcheck? {
        let given = options.healthCmd != nil || options.healthInterval != nil || options.healthTimeout != nil
            || options.healthStartPeriod != nil || options.healthStartInterval != nil || options.healthRetries != nil
        if let check = options.healthcheck {
            guard !given && !options.noHealthcheck else {
                throw EngineError(.invalidArgument, "a health check given as a whole conflicts with --health-* options and --no-healthcheck: give one or the other")
            }
            return try merged(image: image, check: check)
        }
        if options.noHealthcheck {
            guard !given else {
                throw EngineError(.invalidArgument, "--no-healthcheck conflicts with --health-* options: give one or the other")
            }
            return Healthcheck(test: ["NONE"])
        }
        guard given else { return image }
        func duration(_ text: String?, _ flag: String) throws -> Int64? {
            guard let text else { return nil }
            let value = try GoDuration.parse(text, what: flag)
            guard value >= 0 else { throw EngineError(.invalidArgument, "\(flag) cannot be negative") }
            guard value == 0 || value >= 1_000_000 else {
                throw EngineError(.invalidArgument, "\(flag) must be at least 1ms (or 0 for the default)")
            }
            return value
        }
        var result = image ?? Healthcheck()
        if let command = options.healthCmd {
            result.test = command.isEmpty ? nil : ["CMD-SHELL", command]
        }
        if let value = try duration(options.healthInterval, "--health-interval") { result.interval = value }
        if let value = try duration(options.healthTimeout, "--health-timeout") { result.timeout = value }
        if let value = try duration(options.healthStartPeriod, "--health-start-period") { result.startPeriod = value }
        if let value = try duration(options.healthStartInterval, "--health-start-interval") { result.startInterval = value }
        if let retries = options.healthRetries {
            guard retries >= 0 else { throw EngineError(.invalidArgument, "--health-retries cannot be negative") }
            result.retries = retries
        }
        guard result.test?.isEmpty == false else {
            throw EngineError(.invalidArgument, "--health-* options need a check: give --health-cmd (the image has no HEALTHCHECK)")
        }
        return result
    }

    /// `check` (the Docker API's `Config.Healthcheck`) over the image's check, as dockerd
    /// merges them: an empty `Test` and zero durations or retries keep the image's values.
    static func merged(image: Healthcheck?, check: Healthcheck) throws -> Healthcheck? {
        if let kind = check.test?.first, !["NONE", "CMD", "CMD-SHELL"].contains(kind) {
            throw EngineError(.invalidArgument, "Healthcheck.Test must start with NONE, CMD or CMD-SHELL, not \(kind)")
        }
        if check.test == ["CMD-SHELL"] || check.test == ["CMD"] {
            throw EngineError(.invalidArgument, "Healthcheck.Test \(check.test ?? []) has no command: give one after \(check.test?.first ?? "")")
        }
        for (name, value) in [("Interval", check.interval), ("Timeout", check.timeout), ("StartPeriod", check.startPeriod),
                              ("StartInterval", check.startInterval)] {
            guard let value, value != 0 else { continue }
            guard value >= 1_000_000 else {
                throw EngineError(.invalidArgument, "Healthcheck.\(name) must be at least 1ms (or 0 for the default), not \(value)ns")
            }
        }
        if let retries = check.retries, retries < 0 {
            throw EngineError(.invalidArgument, "Healthcheck.Retries cannot be negative")
        }
        if check.test?.first == "NONE" { return Healthcheck(test: ["NONE"]) }
        var result = image ?? Healthcheck()
        if let test = check.test, !test.isEmpty { result.test = test }
        if let value = check.interval, value != 0 { result.interval = value }
        if let value = check.timeout, value != 0 { result.timeout = value }
        if let value = check.startPeriod, value != 0 { result.startPeriod = value }
        if let value = check.startInterval, value != 0 { result.startInterval = value }
        if let value = check.retries, value != 0 { result.retries = value }
        guard result.test?.isEmpty == false else { return image }
        return result
    }

    /// The interval, timeout, start period, start interval (nanoseconds) and retries with
    /// Docker's defaults for zero or missing values.
    var effective: (interval: Int64, timeout: Int64, startPeriod: Int64, startInterval: Int64, retries: Int) {
        func positive(_ value: Int64?, _ fallback: Int64) -> Int64 { (value ?? 0) > 0 ? value ?? fallback : fallback }
        return (positive(interval, Self.defaultInterval), positive(timeout, Self.defaultTimeout), max(startPeriod ?? 0, 0),
                positive(startInterval, Self.defaultStartInterval), (retries ?? 0) > 0 ? retries ?? Self.defaultRetries : Self.defaultRetries)
    }
}

extension ContainerRecord {
    /// This record with `healthcheck` as its configuration's check.
    func withHealthcheck(_ healthcheck: Healthcheck?) -> ContainerRecord {
        var record = self
        record.config.healthcheck = healthcheck
        return record
    }

    /// Whether the monitor runs a health check for this container.
    var hasHealthcheck: Bool { config.healthcheck.map { $0.isEnabled && !$0.command.isEmpty } ?? false }
}
