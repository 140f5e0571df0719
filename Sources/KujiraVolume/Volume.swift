/// A named volume, as `docker volume inspect` shows it. Persisted as
/// `<root>/volumes/<name>/kujira-volume.json` next to the data directory `_data`.
public struct Volume: Codable, Sendable, Hashable {
    /// Docker's field names.
    enum CodingKeys: String, CodingKey {
        case name = "Name", driver = "Driver", labels = "Labels", options = "Options", createdAt = "CreatedAt"
        case mountpoint = "Mountpoint", scope = "Scope"
    }

    /// The name: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, or 64 hex digits for an anonymous volume.
    public var name: String
    /// The driver; only `local` exists.
    public var driver: String
    /// Labels given at create (`com.docker.volume.anonymous` marks anonymous volumes).
    public var labels: [String: String]
    /// The driver options (`type`, `device`, `o`), as given to `--opt`.
    public var options: [String: String]
    /// When it was created (RFC 3339).
    public var createdAt: String
    /// The host directory holding the data (`<root>/volumes/<name>/_data`).
    public var mountpoint: String
    /// Always `local`.
    public var scope: String = "local"

    /// The label Docker puts on anonymous volumes.
    public static let anonymousLabel = "com.docker.volume.anonymous"

    /// Whether the volume is anonymous (made for a container's `-v /path` or image VOLUME).
    public var isAnonymous: Bool { labels[Volume.anonymousLabel] != nil }

    /// Whether the `local` driver mounts something at ``mountpoint`` (`--opt type=…`)
    /// rather than using the plain directory.
    public var needsMount: Bool { options["type"] != nil || options["device"] != nil }

    /// Whether `name` is a valid volume name (Docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]+`).
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard bytes.count >= 2, bytes.count <= 255 else { return false }
        func alnum(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
        }
        guard alnum(bytes[0]) else { return false }
        return bytes.dropFirst().allSatisfy { alnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// Whether `name` looks like an anonymous volume's name (64 lower-case hex digits).
    public static func isAnonymousName(_ name: String) -> Bool {
        name.utf8.count == 64 && name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}

/// A `volume ls` / `volume prune` filter, Docker's `--filter KEY=VALUE`.
public struct VolumeFilter: Sendable, Hashable {
    /// The kinds of filter.
    public enum Kind: Sendable, Hashable {
        /// `dangling=true|false`: used by no container (or used by one).
        case dangling(Bool)
        /// `label=KEY` or `label=KEY=VALUE`.
        case label(key: String, value: String?)
        /// `label!=KEY` or `label!=KEY=VALUE` (prune).
        case notLabel(key: String, value: String?)
        /// `name=SUBSTRING`.
        case name(String)
        /// `driver=NAME`.
        case driver(String)
    }

    /// The filter.
    public var kind: Kind

    /// A filter of `kind`.
    public init(_ kind: Kind) { self.kind = kind }

    /// Parses `KEY=VALUE` as `docker volume ls --filter` takes it.
    /// - Throws: ``VolumeError`` `.invalidArgument` for an unknown key or a bad value.
    public init(parsing text: String) throws {
        if let range = text.range(of: "!=") {
            let key = String(text[..<range.lowerBound]), value = String(text[range.upperBound...])
            guard key == "label", !value.isEmpty else {
                throw VolumeError(.invalidArgument, "invalid filter \(text): only label!=KEY[=VALUE] may use !=")
            }
            let (k, v) = VolumeFilter.split(value)
            kind = .notLabel(key: k, value: v)
            return
        }
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[1].isEmpty else {
            throw VolumeError(.invalidArgument, "invalid filter \(text): use KEY=VALUE with KEY one of dangling, label, name, driver")
        }
        switch parts[0] {
        case "dangling":
            switch parts[1].lowercased() {
            case "true", "1": kind = .dangling(true)
            case "false", "0": kind = .dangling(false)
            default: throw VolumeError(.invalidArgument, "invalid filter \(text): dangling takes true or false")
            }
        case "label":
            let (k, v) = VolumeFilter.split(parts[1])
            kind = .label(key: k, value: v)
        case "name": kind = .name(parts[1])
        case "driver": kind = .driver(parts[1])
        default:
            throw VolumeError(.invalidArgument, "invalid filter \(text): the key must be one of dangling, label, name, driver")
        }
    }

    private static func split(_ text: String) -> (String, String?) {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        return (parts[0], parts.count > 1 ? parts[1] : nil)
    }

    /// Whether `volume`, used by containers when `inUse`, passes the filter.
    public func matches(_ volume: Volume, inUse: Bool) -> Bool {
        switch kind {
        case .dangling(let dangling): return dangling != inUse
        case .label(let key, let value):
            guard let actual = volume.labels[key] else { return false }
            return value == nil || actual == value
        case .notLabel(let key, let value):
            guard let actual = volume.labels[key] else { return true }
            return value != nil && actual != value
        case .name(let part): return volume.name.contains(part)
        case .driver(let driver): return volume.driver == driver
        }
    }
}
