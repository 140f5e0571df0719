// `docker ps --filter`: the filters Docker documents for containers, over the engine's records.
// One implementation for `kujira ps` and kujirad's `GET /containers/json`.
//
//     let filters = try ContainerFilters.parse(["status=exited", "label=tier=web"])
//     let stopped = try engine.list(filters: filters, all: true)

import Foundation
import KujiraImage
import KujiraOCI

/// A parsed set of `ps` filters: values of the same key are alternatives (OR), different keys
/// must all match (AND), as in Docker — except `label`, whose values must all match, as
/// Docker's `label` filter requires.
public struct ContainerFilters: Sendable, Hashable {
    /// The keys Docker accepts for containers that Kujira evaluates.
    public static let keys: Set<String> = ["id", "name", "label", "status", "exited", "ancestor", "before", "since",
                                           "volume", "network", "health", "publish", "expose"]
    /// Values by key.
    public private(set) var values: [String: [String]] = [:]

    /// No filter: everything matches.
    public init() {}

    /// What matching needs from outside the records: the image ids `ancestor` values name,
    /// and the ids of networks by name (a `network` filter may give either).
    public struct Resolved: Sendable, Hashable {
        /// Image ids (`sha256:…`) of the images the `ancestor` values name.
        public var ancestorImageIDs: Set<String> = []
        /// Network ids by network name.
        public var networkIDs: [String: String] = [:]

        /// Nothing resolved: `ancestor` compares names and id prefixes, `network` names.
        public init() {}
    }

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

    /// Parses the `filters` query parameter of Docker's API, already decoded into values by
    /// key (`{"status":["exited"]}`).
    /// - Throws: ``EngineError`` `.invalidArgument` naming an unknown key or a bad value.
    public static func parse(_ filters: [String: [String]]) throws -> ContainerFilters {
        try parse(filters.sorted { $0.key < $1.key }.flatMap { key, values in values.map { "\(key)=\($0)" } })
    }

    /// Whether the filters look at stopped containers too (`status` and `exited` do, as in
    /// Docker, without `-a`).
    public var includesStopped: Bool { values["status"] != nil || values["exited"] != nil }

    /// Whether `record` passes every filter. `all` is every container (for `before`/`since`,
    /// which name another container); `resolved` what the engine looked up for the filters.
    public func matches(_ record: ContainerRecord, among all: [ContainerRecord], resolved: Resolved = Resolved()) -> Bool {
        values.allSatisfy { key, alternatives in
            key == "label"
                ? alternatives.allSatisfy { matches(record, key: key, value: $0, among: all, resolved: resolved) }
                : alternatives.contains { matches(record, key: key, value: $0, among: all, resolved: resolved) }
        }
    }

    private func matches(_ record: ContainerRecord, key: String, value: String, among all: [ContainerRecord], resolved: Resolved) -> Bool {
        switch key {
        case "id":
            return record.id.hasPrefix(value)
        case "name":
            // Docker matches a regular expression against the name with its leading slash;
            // the name without it matches too, and an invalid expression as a substring.
            let names = ["/" + record.name, record.name]
            guard let expression = try? NSRegularExpression(pattern: value) else {
                let wanted = value.hasPrefix("/") ? String(value.dropFirst()) : value
                return record.name.contains(wanted)
            }
            return names.contains { expression.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil }
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
            return resolved.ancestorImageIDs.contains(record.imageID)
                || record.image == value || record.image == value + ":latest" || record.image.hasSuffix("/" + value)
                || record.image.hasSuffix("/" + value + ":latest") || (value.count >= 4 && record.imageID.hasPrefix(short))
        case "before", "since":
            guard let other = all.first(where: { $0.id.hasPrefix(value) || $0.name == value }) else { return false }
            return key == "before" ? record.created < other.created : record.created > other.created
        case "volume":
            return record.mounts.contains { $0.name == value || $0.destination == value || $0.source == value }
        case "network":
            // A network by name or id (prefix), as dockerd matches it.
            let names = [record.hostConfig.networkMode] + (record.network?.endpoints.map(\.network) ?? [])
            return names.contains { $0 == value || (!value.isEmpty && resolved.networkIDs[$0]?.hasPrefix(value) == true) }
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

extension Engine {
    /// `docker ps`: the containers `filters` select, newest first — running ones only unless
    /// `all`, a `status`/`exited` filter or a positive `limit` (`-n`, `-l`) asks for stopped
    /// ones too — the first `limit` of them when positive (0 or less: no limit, as Docker). `ancestor` values are looked up as images (by
    /// name or id) and `network` values as networks (by name or id).
    /// - Throws: ``EngineError`` `.notFound` when a `before`/`since` container does not exist.
    public func list(filters: ContainerFilters, all: Bool = false, limit: Int? = nil) throws -> [ContainerRecord] {
        let everything = try list()
        for key in ["before", "since"] {
            for value in filters.values[key] ?? [] where !everything.contains(where: { $0.id.hasPrefix(value) || $0.name == value }) {
                throw EngineError(.notFound, "No such container: \(value) (filter \(key)=\(value)); give the name or id of an existing container")
            }
        }
        var resolved = ContainerFilters.Resolved()
        for value in filters.values["ancestor"] ?? [] {
            let named = (try? Reference(parsing: value)).flatMap { try? images.get($0.description) }
            if let image = named ?? (try? images.lookup(value)) { resolved.ancestorImageIDs.insert(image.id.description) }
        }
        if filters.values["network"] != nil, let networks = try? listNetworks() {
            resolved.networkIDs = Dictionary(networks.map { ($0.name, $0.id) }, uniquingKeysWith: { first, _ in first })
        }
        let positiveLimit = limit.flatMap { $0 > 0 ? $0 : nil }
        let includeStopped = all || positiveLimit != nil || filters.includesStopped
        let selected = everything.filter { (includeStopped || $0.state.isActive) && filters.matches($0, among: everything, resolved: resolved) }
        guard let positiveLimit else { return selected }
        return Array(selected.prefix(positiveLimit))
    }
}
