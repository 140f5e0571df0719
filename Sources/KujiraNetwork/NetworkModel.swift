public import Foundation

/// One IP family's addressing of a network: `--subnet`, `--gateway`, `--ip-range`.
public struct SubnetConfiguration: Hashable, Sendable, Codable {
    /// The subnet; nil asks for one carved from the address pools.
    public var subnet: IPSubnet?
    /// The gateway (the bridge's address); nil means the first usable address.
    public var gateway: IPAddress?
    /// The part of the subnet container addresses are allocated from; nil means all of it.
    public var ipRange: IPSubnet?

    /// Creates a subnet configuration.
    public init(subnet: IPSubnet? = nil, gateway: IPAddress? = nil, ipRange: IPSubnet? = nil) {
        self.subnet = subnet
        self.gateway = gateway
        self.ipRange = ipRange
    }
}

/// What `kujira network create` asks for.
public struct NetworkConfiguration: Hashable, Sendable, Codable {
    /// The network's name, unique on the host.
    public var name: String
    /// Explicit IPv4/IPv6 subnets; empty means one IPv4 subnet from the pools.
    public var subnets: [SubnetConfiguration]
    /// Whether containers also get IPv6 (a ULA /64 is carved when no IPv6 subnet is given).
    public var enableIPv6: Bool
    /// `--internal`: no masquerade, no published ports, no route off the bridge.
    public var isInternal: Bool
    /// User labels.
    public var labels: [String: String]
    /// The MTU of the bridge and of every veth; nil keeps the kernel's 1500.
    public var mtu: UInt32?
    /// The bridge interface name; nil derives one from the network ID.
    public var bridgeName: String?
    /// A CNI configuration list (the JSON of a `.conflist`): the network is then driven by
    /// CNI plugins (driver `cni`) instead of the native bridge driver, and `subnets`,
    /// `enableIPv6`, `isInternal`, `mtu` and `bridgeName` must be left unset (the conflist
    /// says all of that).
    public var cniConfigList: Data?

    /// Creates a configuration.
    public init(name: String, subnets: [SubnetConfiguration] = [], enableIPv6: Bool = false, isInternal: Bool = false,
                labels: [String: String] = [:], mtu: UInt32? = nil, bridgeName: String? = nil, cniConfigList: Data? = nil) {
        self.cniConfigList = cniConfigList
        self.name = name
        self.subnets = subnets
        self.enableIPv6 = enableIPv6
        self.isInternal = isInternal
        self.labels = labels
        self.mtu = mtu
        self.bridgeName = bridgeName
    }
}

/// A subnet as the network uses it, every field resolved.
public struct NetworkSubnet: Hashable, Sendable, Codable {
    /// The subnet.
    public var subnet: IPSubnet
    /// The gateway, the bridge's own address.
    public var gateway: IPAddress
    /// Where container addresses come from.
    public var ipRange: IPSubnet
}

/// A network as stored and inspected.
public struct Network: Hashable, Sendable, Codable, Identifiable {
    /// 64 hex digits, like Docker's network IDs.
    public var id: String
    /// The unique name.
    public var name: String
    /// `bridge` (native), or `cni` (CNI plugins run from ``cniConfigList``).
    public var driver: String
    /// The bridge interface (empty for a CNI network: its plugins own their interfaces).
    public var bridge: String
    /// IPv4 first, then IPv6.
    public var subnets: [NetworkSubnet]
    /// Whether IPv6 is on.
    public var enableIPv6: Bool
    /// Whether the network is internal.
    public var isInternal: Bool
    /// Labels.
    public var labels: [String: String]
    /// MTU, when set.
    public var mtu: UInt32?
    /// Creation time.
    public var created: Date
    /// Whether this is the default network (`bridge` on `kujira0`): no embedded DNS there,
    /// as on Docker's default bridge.
    public var isDefault: Bool
    /// The CNI configuration list of a `cni` network, as given at creation; nil for
    /// native networks.
    public var cniConfigList: Data? = nil

    /// Whether CNI plugins drive this network.
    public var isCNI: Bool { cniConfigList != nil }

    /// Whether containers on this network resolve each other by name through the embedded
    /// DNS server at 127.0.0.11.
    public var hasEmbeddedDNS: Bool { !isDefault }
}

/// How a container joins a network: `kujira run --ip/--ip6/--network-alias/--mac-address/-p`.
public struct AttachOptions: Hashable, Sendable, Codable {
    /// The container's name (resolvable on user networks).
    public var containerName: String?
    /// The hostname inside the container.
    public var hostname: String?
    /// `--ip`.
    public var ipv4: IPAddress?
    /// `--ip6`.
    public var ipv6: IPAddress?
    /// `--network-alias`.
    public var aliases: [String]
    /// `--mac-address` (`aa:bb:cc:dd:ee:ff`).
    public var macAddress: String?
    /// `-p`/`-P` mappings.
    public var ports: [PortMapping]
    /// The interface name inside the container; nil picks `eth0`, `eth1`, …
    public var interfaceName: String?

    /// Creates options.
    public init(containerName: String? = nil, hostname: String? = nil, ipv4: IPAddress? = nil, ipv6: IPAddress? = nil,
                aliases: [String] = [], macAddress: String? = nil, ports: [PortMapping] = [], interfaceName: String? = nil) {
        self.containerName = containerName
        self.hostname = hostname
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.aliases = aliases
        self.macAddress = macAddress
        self.ports = ports
        self.interfaceName = interfaceName
    }
}

/// A port actually published: the host port is resolved.
public struct PublishedPort: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The host address; nil means every local address.
    public var hostIP: IPAddress?
    /// The host port.
    public var hostPort: UInt16
    /// The container port.
    public var containerPort: UInt16
    /// The protocol.
    public var proto: PortProtocol
    /// `docker port` style: `80/tcp -> 127.0.0.1:18080`.
    public var description: String {
        let host = hostIP.map { $0.isV4 ? "\($0)" : "[\($0)]" } ?? "0.0.0.0"
        return "\(containerPort)/\(proto.rawValue) -> \(host):\(hostPort)"
    }
}

/// An address with its prefix length, as configured on an interface.
public struct InterfaceAddress: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The address.
    public var address: IPAddress
    /// The prefix length.
    public var prefixLength: Int
    /// `ADDRESS/LENGTH`.
    public var description: String { "\(address)/\(prefixLength)" }
}

/// A container's membership of one network.
public struct Attachment: Hashable, Sendable, Codable {
    /// The container.
    public var containerID: String
    /// The network's ID.
    public var networkID: String
    /// The network's name.
    public var networkName: String
    /// The container's name, if any.
    public var containerName: String?
    /// The hostname inside the container.
    public var hostname: String?
    /// Aliases the container answers to on this network.
    public var aliases: [String]
    /// The network namespace the interface lives in.
    public var netnsPath: String
    /// The interface inside the container (`eth0`).
    public var interfaceName: String
    /// The host end of the veth pair.
    public var hostInterface: String
    /// The container interface's MAC address.
    public var macAddress: String
    /// IPv4 first, then IPv6.
    public var addresses: [InterfaceAddress]
    /// The gateways, one per family.
    public var gateways: [IPAddress]
    /// Whether the container's default route goes through this network.
    public var isDefaultRoute: Bool
    /// Published ports.
    public var ports: [PublishedPort]
    /// Whether DNS on this network goes to the embedded server at 127.0.0.11.
    public var usesEmbeddedDNS: Bool

    /// The container's IPv4 address on this network.
    public var ipv4: IPAddress? { addresses.first { $0.address.isV4 }?.address }
    /// The container's IPv6 address on this network.
    public var ipv6: IPAddress? { addresses.first { !$0.address.isV4 }?.address }
    /// The names this attachment resolves under, as on Docker: container name, aliases,
    /// and the 12-character short ID.
    public var names: [String] {
        var result: [String] = []
        if let containerName { result.append(containerName) }
        result += aliases
        result.append(String(containerID.prefix(12)))
        return result
    }
}
