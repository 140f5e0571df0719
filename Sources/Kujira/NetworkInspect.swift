// `docker inspect`'s `NetworkSettings` of a container and `docker network inspect`'s
// document of a network, built from KujiraNetwork's records.

public import KujiraNetwork
import Foundation

/// `NetworkSettings` of `docker inspect CONTAINER`: the live addresses while the container
/// runs (empty values otherwise), with Docker's field names.
public struct ContainerNetworkInspection: Encodable, Sendable {
    /// One entry of `Networks`.
    public struct Endpoint: Encodable, Sendable {
        enum CodingKeys: String, CodingKey {
            case aliases = "Aliases", networkID = "NetworkID", endpointID = "EndpointID", gateway = "Gateway"
            case ipAddress = "IPAddress", ipPrefixLen = "IPPrefixLen", ipv6Gateway = "IPv6Gateway"
            case globalIPv6Address = "GlobalIPv6Address", globalIPv6PrefixLen = "GlobalIPv6PrefixLen"
            case macAddress = "MacAddress", dnsNames = "DNSNames"
        }
        var aliases: [String]?, networkID: String, endpointID: String, gateway: String
        var ipAddress: String, ipPrefixLen: Int, ipv6Gateway: String
        var globalIPv6Address: String, globalIPv6PrefixLen: Int, macAddress: String, dnsNames: [String]?
    }

    /// One host binding in `Ports`.
    public struct PortBinding: Encodable, Sendable {
        enum CodingKeys: String, CodingKey { case hostIP = "HostIp", hostPort = "HostPort" }
        var hostIP: String, hostPort: String
    }

    enum CodingKeys: String, CodingKey {
        case sandboxKey = "SandboxKey", ports = "Ports", gateway = "Gateway", ipAddress = "IPAddress"
        case ipPrefixLen = "IPPrefixLen", macAddress = "MacAddress", globalIPv6Address = "GlobalIPv6Address"
        case ipv6Gateway = "IPv6Gateway", networks = "Networks"
    }

    /// The network namespace file while the container runs.
    public var sandboxKey: String
    /// `"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]`; a requested port that is
    /// not published (the container is stopped) maps to null.
    public var ports: [String: [PortBinding]?]
    /// The first network's IPv4 gateway.
    public var gateway: String
    /// The first network's IPv4 address.
    public var ipAddress: String
    /// Its prefix length.
    public var ipPrefixLen: Int
    /// Its MAC address.
    public var macAddress: String
    /// The first network's IPv6 address.
    public var globalIPv6Address: String
    /// Its IPv6 gateway.
    public var ipv6Gateway: String
    /// Every network, by name.
    public var networks: [String: Endpoint]

    init(record: ContainerRecord, attachments: [Attachment], sandboxKey: String) {
        let settings = record.network ?? ContainerNetworkSettings()
        self.sandboxKey = attachments.isEmpty && !record.state.isActive ? "" : sandboxKey
        var ports: [String: [PortBinding]?] = [:]
        for mapping in settings.ports { ports["\(mapping.containerPort)/\(mapping.proto.rawValue)"] = .some(nil) }
        for attachment in attachments {
            for port in attachment.ports {
                let key = "\(port.containerPort)/\(port.proto.rawValue)"
                let binding = PortBinding(hostIP: port.hostIP.map { "\($0)" } ?? "0.0.0.0", hostPort: "\(port.hostPort)")
                ports[key] = .some(((ports[key] ?? nil) ?? []) + [binding])
            }
        }
        self.ports = ports
        let first = attachments.first
        let v4 = first?.addresses.first { $0.address.isV4 }
        let v6 = first?.addresses.first { !$0.address.isV4 }
        gateway = first?.gateways.first { $0.isV4 }.map { "\($0)" } ?? ""
        ipAddress = v4.map { "\($0.address)" } ?? ""
        ipPrefixLen = v4?.prefixLength ?? 0
        macAddress = first?.macAddress ?? ""
        globalIPv6Address = v6.map { "\($0.address)" } ?? ""
        ipv6Gateway = first?.gateways.first { !$0.isV4 }.map { "\($0)" } ?? ""
        var networks: [String: Endpoint] = [:]
        for endpoint in settings.endpoints {
            let live = attachments.first { $0.networkName == endpoint.network }
            let a4 = live?.addresses.first { $0.address.isV4 }, a6 = live?.addresses.first { !$0.address.isV4 }
            networks[endpoint.network] = Endpoint(
                aliases: endpoint.aliases.isEmpty ? nil : endpoint.aliases, networkID: live?.networkID ?? "",
                endpointID: live.map { "\($0.containerID.prefix(32))\($0.networkID.prefix(32))" } ?? "",
                gateway: live?.gateways.first { $0.isV4 }.map { "\($0)" } ?? "",
                ipAddress: a4.map { "\($0.address)" } ?? "", ipPrefixLen: a4?.prefixLength ?? 0,
                ipv6Gateway: live?.gateways.first { !$0.isV4 }.map { "\($0)" } ?? "",
                globalIPv6Address: a6.map { "\($0.address)" } ?? "", globalIPv6PrefixLen: a6?.prefixLength ?? 0,
                macAddress: live?.macAddress ?? "", dnsNames: live.flatMap { $0.usesEmbeddedDNS ? $0.names : nil })
        }
        if record.hostConfig.networkMode == "host" || record.hostConfig.networkMode == "none" {
            networks[record.hostConfig.networkMode] = Endpoint(
                aliases: nil, networkID: "", endpointID: "", gateway: "", ipAddress: "", ipPrefixLen: 0, ipv6Gateway: "",
                globalIPv6Address: "", globalIPv6PrefixLen: 0, macAddress: "", dnsNames: nil)
        }
        self.networks = networks
    }
}

/// `docker network inspect NAME`'s document, with Docker's field names.
public struct NetworkDocument: Encodable, Sendable {
    /// One container in `Containers`.
    public struct Member: Encodable, Sendable {
        enum CodingKeys: String, CodingKey {
            case name = "Name", endpointID = "EndpointID", macAddress = "MacAddress"
            case ipv4Address = "IPv4Address", ipv6Address = "IPv6Address"
        }
        var name: String, endpointID: String, macAddress: String, ipv4Address: String, ipv6Address: String
    }
    /// One subnet in `IPAM.Config`.
    public struct IPAMConfig: Encodable, Sendable {
        enum CodingKeys: String, CodingKey { case subnet = "Subnet", ipRange = "IPRange", gateway = "Gateway" }
        var subnet: String, ipRange: String?, gateway: String
    }
    /// `IPAM`.
    public struct IPAM: Encodable, Sendable {
        enum CodingKeys: String, CodingKey { case driver = "Driver", options = "Options", config = "Config" }
        var driver: String, options: [String: String], config: [IPAMConfig]
    }

    enum CodingKeys: String, CodingKey {
        case name = "Name", id = "Id", created = "Created", scope = "Scope", driver = "Driver", enableIPv6 = "EnableIPv6"
        case ipam = "IPAM", isInternal = "Internal", attachable = "Attachable", ingress = "Ingress"
        case containers = "Containers", options = "Options", labels = "Labels"
    }

    /// The name.
    public var name: String
    /// The 64-hex-digit ID.
    public var id: String
    /// RFC 3339 creation time.
    public var created: String
    /// Always `local`.
    public var scope: String
    /// `bridge`.
    public var driver: String
    /// Whether IPv6 is on.
    public var enableIPv6: Bool
    var ipam: IPAM
    /// Whether the network is internal.
    public var isInternal: Bool
    /// Always false (no swarm).
    public var attachable: Bool
    /// Always false.
    public var ingress: Bool
    var containers: [String: Member]
    /// Driver options (the bridge's name, the MTU).
    public var options: [String: String]
    /// Labels.
    public var labels: [String: String]

    /// The document of `inspection`; `names` maps container IDs to names.
    public init(_ inspection: NetworkInspection, names: [String: String]) {
        let network = inspection.network
        name = network.name
        id = network.id
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        created = formatter.string(from: network.created)
        scope = "local"
        driver = network.driver
        enableIPv6 = network.enableIPv6
        ipam = IPAM(driver: "default", options: [:], config: network.subnets.map {
            IPAMConfig(subnet: "\($0.subnet)", ipRange: $0.ipRange == $0.subnet ? nil : "\($0.ipRange)", gateway: "\($0.gateway)")
        })
        isInternal = network.isInternal
        attachable = false
        ingress = false
        var containers: [String: Member] = [:]
        for attachment in inspection.attachments {
            containers[attachment.containerID] = Member(
                name: names[attachment.containerID] ?? attachment.containerName ?? "",
                endpointID: "\(attachment.containerID.prefix(32))\(attachment.networkID.prefix(32))",
                macAddress: attachment.macAddress,
                ipv4Address: attachment.addresses.first { $0.address.isV4 }.map { "\($0)" } ?? "",
                ipv6Address: attachment.addresses.first { !$0.address.isV4 }.map { "\($0)" } ?? "")
        }
        self.containers = containers
        var options = ["com.docker.network.bridge.name": network.bridge]
        if let mtu = network.mtu { options["com.docker.network.driver.mtu"] = "\(mtu)" }
        if network.isDefault { options["com.docker.network.bridge.default_bridge"] = "true" }
        self.options = options
        labels = network.labels
    }
}

extension Engine {
    /// The PORTS column of `docker ps`: `127.0.0.1:18080->80/tcp, 0.0.0.0:32768->53/udp`.
    public func publishedPortsText(_ record: ContainerRecord) -> String {
        guard record.state.isActive, record.network?.ports.isEmpty == false else { return "" }
        return networkAttachments(record.id).flatMap(\.ports).map { port in
            let host = port.hostIP.map { $0.isV4 ? "\($0)" : "[\($0)]" } ?? "0.0.0.0"
            return "\(host):\(port.hostPort)->\(port.containerPort)/\(port.proto.rawValue)"
        }.joined(separator: ", ")
    }

    /// `NetworkSettings` of `record` for `docker inspect`.
    func networkInspection(_ record: ContainerRecord) -> ContainerNetworkInspection {
        let attachments = record.network?.endpoints.isEmpty == false ? networkAttachments(record.id) : []
        let key = record.hostConfig.networkMode == "host" ? "" : netnsPath(record.network?.joinedContainer ?? record.id)
        return ContainerNetworkInspection(record: record, attachments: attachments, sandboxKey: key)
    }
}
