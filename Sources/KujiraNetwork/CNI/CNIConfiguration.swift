public import Foundation

/// A CNI network configuration list (`.conflist`), CNI spec 1.1.0 §"Configuration format":
/// a name, a version and a chain of plugin configurations run in order on ADD and in
/// reverse on DEL. Plugin objects are kept as JSON, since each plugin defines its own keys.
public struct CNIConfigurationList: Sendable, Hashable {
    /// `cniVersion`.
    public var cniVersion: String
    /// `name`: the network's name, unique on the host.
    public var name: String
    /// `disableCheck`.
    public var disableCheck: Bool
    /// `disableGC`.
    public var disableGC: Bool
    /// The plugins, each a JSON object with at least `type`.
    public var plugins: [Data]
    /// The list as given, cached with each attachment so DEL can run after the file is gone.
    public var source: Data

    /// Parses a conflist (or a single-plugin `.conf`, which becomes a one-plugin list).
    public init(json: Data) throws {
        func bad(_ why: String) -> NetworkError { NetworkError(.cni, "invalid CNI configuration: \(why)") }
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else { throw bad("not a JSON object") }
        guard let name = object["name"] as? String, !name.isEmpty else { throw bad("missing \"name\"") }
        cniVersion = object["cniVersion"] as? String ?? "0.4.0"
        self.name = name
        disableCheck = object["disableCheck"] as? Bool ?? false
        disableGC = object["disableGC"] as? Bool ?? false
        source = json
        if let list = object["plugins"] as? [[String: Any]] {
            guard !list.isEmpty else { throw bad("\"plugins\" is empty") }
            plugins = try list.map { plugin in
                guard plugin["type"] is String else { throw bad("a plugin has no \"type\"") }
                return try JSONSerialization.data(withJSONObject: plugin, options: [.sortedKeys])
            }
        } else {
            guard object["type"] is String else { throw bad("neither \"plugins\" nor \"type\"") }
            plugins = [json]
        }
    }

    /// Reads and parses a file.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NetworkError(.cni, "cannot read the CNI configuration \(path)")
        }
        try self.init(json: data)
    }

    /// Whether `version` is at least `minimum` (dotted numbers).
    static func version(_ version: String, atLeast minimum: String) -> Bool {
        let a = version.split(separator: ".").map { Int($0) ?? 0 }
        let b = minimum.split(separator: ".").map { Int($0) ?? 0 }
        for i in 0..<max(a.count, b.count) {
            let x = i < a.count ? a[i] : 0, y = i < b.count ? b[i] : 0
            if x != y { return x > y }
        }
        return true
    }
}

/// The part of a CNI ADD result the engine uses, with the raw JSON for the rest.
public struct CNIResult: Sendable, Hashable {
    /// The result JSON as the last plugin printed it.
    public var json: Data
    /// `ips[].address`.
    public var addresses: [InterfaceAddress]
    /// `ips[].gateway`.
    public var gateways: [IPAddress]
    /// `dns.nameservers`.
    public var nameservers: [IPAddress]

    /// Parses a result.
    public init(json: Data) {
        self.json = json
        let object = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] ?? [:]
        let ips = object["ips"] as? [[String: Any]] ?? []
        addresses = ips.compactMap { ($0["address"] as? String).flatMap(Self.interfaceAddress) }
        gateways = ips.compactMap { ($0["gateway"] as? String).flatMap { IPAddress($0) } }
        nameservers = ((object["dns"] as? [String: Any])?["nameservers"] as? [String] ?? []).compactMap { IPAddress($0) }
    }

    private static func interfaceAddress(_ text: String) -> InterfaceAddress? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let ip = IPAddress(parts[0]), let length = Int(parts[1]) else { return nil }
        return InterfaceAddress(address: ip, prefixLength: length)
    }
}
