// The network part of a container's record: which networks it joins and how, its published
// ports and its DNS settings, as given to `create`/`run` (and changed by `network
// connect/disconnect`). The live side — addresses, veths, host ports chosen — is in
// KujiraNetwork's database while the container runs.

public import KujiraNetwork

/// How a container joins one network (`--network NAME` with `--ip`, `--network-alias`, …,
/// or `kujira network connect`).
public struct ContainerNetworkEndpoint: Codable, Sendable, Hashable {
    /// The network's name (`bridge` for the default network).
    public var network: String
    /// `--network-alias` / `connect --alias`.
    public var aliases: [String]
    /// `--ip` / `connect --ip`.
    public var ipv4: String?
    /// `--ip6` / `connect --ip6`.
    public var ipv6: String?
    /// `--mac-address`.
    public var macAddress: String?

    /// Creates an endpoint configuration.
    public init(network: String, aliases: [String] = [], ipv4: String? = nil, ipv6: String? = nil, macAddress: String? = nil) {
        self.network = network
        self.aliases = aliases
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.macAddress = macAddress
    }
}

/// The network settings a container is created with (`ContainerRecord.network`).
public struct ContainerNetworkSettings: Codable, Sendable, Hashable {
    /// The networks, in order; the first carries the published ports and, usually, the
    /// default route. Empty for `none`, `host` and `container:ID`.
    public var endpoints: [ContainerNetworkEndpoint]
    /// `-p` and `-P` mappings (host ports resolved when the container starts).
    public var ports: [PortMapping]
    /// `--dns`.
    public var dns: [String]
    /// `--dns-search`; nil keeps the host's.
    public var dnsSearch: [String]?
    /// `--dns-option`.
    public var dnsOptions: [String]
    /// `--add-host` as given.
    public var extraHosts: [String]
    /// For `--network container:NAME`: the ID of that container.
    public var joinedContainer: String?

    /// Creates settings.
    public init(endpoints: [ContainerNetworkEndpoint] = [], ports: [PortMapping] = [], dns: [String] = [],
                dnsSearch: [String]? = nil, dnsOptions: [String] = [], extraHosts: [String] = [], joinedContainer: String? = nil) {
        self.endpoints = endpoints
        self.ports = ports
        self.dns = dns
        self.dnsSearch = dnsSearch
        self.dnsOptions = dnsOptions
        self.extraHosts = extraHosts
        self.joinedContainer = joinedContainer
    }
}
