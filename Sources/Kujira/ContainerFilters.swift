// `docker ps --filter`: the filters Docker documents for containers, over the engine's records.
//
//     let filters = try ContainerFilters.parse(["status=exited", "label=tier=web"])
//     let stopped = try engine.list().filter { filters.matches($0, among: all) }

/// A parsed set of `ps` filters: values of the same key are alternatives (OR), different keys
/// must all match (AND), as in Docker.
public struct ContainerFilters: Sendable, Hashable {
    /// The keys Docker accepts for containers that Kujira evaluates.
    public static let keys: Set<String> = ["id", "name", "label", "status", "exited", "ancestor", "before", "since",
                                           "volume", "network", "health", "publish", "expose"]
    /// Values by key.
    public private(set) var values: [String: [String]] = [:]

    /// No filter: everything matches.
    public init() {}

    /// Parses `KEY=VALUE` strings.
    /// - Throws: ``EngineError`` `.invalidArgument` naming an unknown key or a bad value.
    public static func parse(_ filters: [String]) throws -> ContainerFilters {
        var result = ContainerFilters()
        for filter in filters {
            guard let equals = filter.firstIndex(of: "=") else {
                throw EngineError(.invalidArgument, "bad format of filter \"\(filter)\" (expected name=value)")
            }
            let key = String(filter[..<equals]), value = String(filter[filter.index(after: equals)...])
            guard keys.contains(key) else {
                throw EngineError(.invalidArgument, "invalid filter '\(key)': use one of \(keys.sorted().joined(separator: ", "))")
            }
            switch key {
            case "status":
                let statuses = ["created", "restarting", "running", "removing", "paused", "exited", "dead"]
                guard statuses.contains(value) else {
                    throw EngineError(.invalidArgument, "invalid filter 'status=\(value)': use one of \(statuses.joined(separator: ", "))")
                }
            case "exited":
                guard Int32(value) != nil else { throw EngineError(.invalidArgument, "invalid filter 'exited=\(value)': give an exit code") }
            case "health":
                let states = ["starting", "healthy", "unhealthy", "none"]
                guard states.contains(value) else {
                    throw EngineError(.invalidArgument, "invalid filter 'health=\(value)': use one of \(states.joined(separator: ", "))")
                }
            default:
                break
            }
            result.values[key, default: []].append(value)
        }
        return result
    }

    /// Whether `record` passes every filter. `all` is every container (for `before`/`since`,
    /// which name another container).
    public func matches(_ record: ContainerRecord, among all: [ContainerRecord]) -> Bool {
        values.allSatisfy { key, alternatives in alternatives.contains { matches(record, key: key, value: $0, among: all) } }
    }

    private func matches(_ record: ContainerRecord, key: String, value: String, among all: [ContainerRecord]) -> Bool {
        switch key {
        case "id":
            return record.id.hasPrefix(value)
        case "name":
            // Docker matches a substring of the name (with or without the leading slash).
            let wanted = value.hasPrefix("/") ? String(value.dropFirst()) : value
            return record.name.contains(wanted)
        case "label":
            let parts = value.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let label = record.config.labels[parts[0]] else { return false }
            return parts.count == 1 || label == parts[1]
        case "status":
            return record.state.status.rawValue == value
        case "exited":
            return record.state.status == .exited && Int32(value) == record.state.exitCode
        case "ancestor":
            let short = value.hasPrefix("sha256:") ? value : "sha256:" + value
            return record.image == value || record.image == value + ":latest" || record.image.hasSuffix("/" + value)
                || record.image.hasSuffix("/" + value + ":latest") || (value.count >= 4 && record.imageID.hasPrefix(short))
        case "before", "since":
            guard let other = all.first(where: { $0.id.hasPrefix(value) || $0.name == value }) else { return false }
            return key == "before" ? record.created < other.created : record.created > other.created
        case "volume":
            return record.mounts.contains { $0.name == value || $0.destination == value || $0.source == value }
        case "network":
            if record.hostConfig.networkMode == value { return true }
            return record.network?.endpoints.contains { $0.network == value } ?? false
        case "health":
            guard let health = record.state.health, record.config.healthcheck?.isEnabled == true else { return value == "none" }
            return health.status == value
        case "publish", "expose":
            // The container port (as Docker compares it), with /tcp unless a protocol is given.
            let parts = value.split(separator: "/", maxSplits: 1).map(String.init)
            guard let port = parts.first.flatMap({ UInt16($0) }) else { return false }
            let proto = parts.count > 1 ? parts[1] : "tcp"
            return record.network?.ports.contains { $0.containerPort == port && $0.proto.rawValue == proto } ?? false
        default:
            return false
        }
    }
}
