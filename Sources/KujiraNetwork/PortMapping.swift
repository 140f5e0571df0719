public import KujiraOCI

/// A transport protocol a port is published for.
public enum PortProtocol: String, Hashable, Sendable, Codable, CaseIterable {
    /// TCP.
    case tcp
    /// UDP.
    case udp
    /// SCTP.
    case sctp
}

/// One published port, as `docker run -p` describes it: traffic to `hostIP:hostPort` (any
/// local address when `hostIP` is nil) is forwarded to `containerPort` of the container.
///
/// ```swift
/// let mappings = try PortMapping.parse("127.0.0.1:8000-8001:80-81/udp")
/// // two mappings: 127.0.0.1:8000→80/udp and 127.0.0.1:8001→81/udp
/// ```
public struct PortMapping: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The host address to listen on; nil means every local address.
    public var hostIP: IPAddress?
    /// The host ports to choose from: one port, a range to pick a free one from
    /// (`8000-8010:80`), or nil for an ephemeral port.
    public var hostPorts: ClosedRange<UInt16>?
    /// The port inside the container.
    public var containerPort: UInt16
    /// The protocol.
    public var proto: PortProtocol

    /// Creates a mapping.
    public init(hostIP: IPAddress? = nil, hostPorts: ClosedRange<UInt16>? = nil, containerPort: UInt16, proto: PortProtocol = .tcp) {
        self.hostIP = hostIP
        self.hostPorts = hostPorts
        self.containerPort = containerPort
        self.proto = proto
    }

    /// Creates a mapping of one host port.
    public init(hostIP: IPAddress? = nil, hostPort: UInt16, containerPort: UInt16, proto: PortProtocol = .tcp) {
        self.init(hostIP: hostIP, hostPorts: hostPort...hostPort, containerPort: containerPort, proto: proto)
    }

    /// The `-p` form of the mapping.
    public var description: String {
        var s = ""
        if let hostIP { s += hostIP.isV4 ? "\(hostIP):" : "[\(hostIP)]:" }
        if let hostPorts {
            s += hostPorts.count == 1 ? "\(hostPorts.lowerBound):" : "\(hostPorts.lowerBound)-\(hostPorts.upperBound):"
        } else if hostIP != nil {
            s += ":"
        }
        return s + "\(containerPort)/\(proto.rawValue)"
    }

    /// Parses one `-p` argument: `[IP:][HOSTPORT:]CONTAINERPORT[/PROTO]` where ports may be
    /// ranges (`8000-8010`), IPv6 addresses are bracketed (`[::1]:8080:80`), and an empty
    /// host port (`127.0.0.1::80`) asks for an ephemeral one. Equal-length ranges expand to
    /// one mapping per port; a host range with one container port picks one free host port.
    public static func parse(_ text: String) throws -> [PortMapping] {
        func bad(_ why: String) -> NetworkError {
            NetworkError(.invalidArgument, "invalid port mapping \"\(text)\": \(why); expected [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp|sctp]")
        }
        var spec = Substring(text)
        var proto = PortProtocol.tcp
        if let slash = spec.lastIndex(of: "/") {
            guard let p = PortProtocol(rawValue: spec[spec.index(after: slash)...].lowercased()) else {
                throw bad("unknown protocol \"\(spec[spec.index(after: slash)...])\"")
            }
            proto = p
            spec = spec[..<slash]
        }
        var hostIP: IPAddress?
        if spec.hasPrefix("[") {
            guard let close = spec.firstIndex(of: "]") else { throw bad("unterminated IPv6 address") }
            guard let ip = IPAddress(spec[spec.index(after: spec.startIndex)..<close]), !ip.isV4 else {
                throw bad("invalid IPv6 address")
            }
            hostIP = ip
            spec = spec[spec.index(after: close)...]
            guard spec.hasPrefix(":") else { throw bad("an IPv6 address must be followed by :HOST_PORT:CONTAINER_PORT") }
            spec = spec.dropFirst()
            // What remains is HOST_PORT:CONTAINER_PORT (host port may be empty).
            let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw bad("expected HOST_PORT:CONTAINER_PORT after the address") }
            return try build(host: parts[0], container: parts[1], hostIP: hostIP, proto: proto, bad: bad)
        }
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            return try build(host: "", container: parts[0], hostIP: nil, proto: proto, bad: bad)
        case 2:
            return try build(host: parts[0], container: parts[1], hostIP: nil, proto: proto, bad: bad)
        case 3:
            guard let ip = IPAddress(parts[0]) else { throw bad("invalid host address \"\(parts[0])\"") }
            return try build(host: parts[1], container: parts[2], hostIP: ip, proto: proto, bad: bad)
        default:
            throw bad("too many colons (bracket IPv6 addresses: [::1]:8080:80)")
        }
    }

    private static func build(host: Substring, container: Substring, hostIP: IPAddress?, proto: PortProtocol,
                              bad: (String) -> NetworkError) throws -> [PortMapping] {
        guard let containerRange = try range(container, bad: bad) else { throw bad("missing container port") }
        guard let hostRange = try range(host, bad: bad) else {
            return containerRange.map { PortMapping(hostIP: hostIP, hostPorts: nil, containerPort: $0, proto: proto) }
        }
        if containerRange.count == 1 {
            return [PortMapping(hostIP: hostIP, hostPorts: hostRange, containerPort: containerRange.lowerBound, proto: proto)]
        }
        guard hostRange.count == containerRange.count else {
            throw bad("the host range has \(hostRange.count) ports and the container range \(containerRange.count)")
        }
        return zip(hostRange, containerRange).map {
            PortMapping(hostIP: hostIP, hostPort: $0, containerPort: $1, proto: proto)
        }
    }

    private static func range(_ text: Substring, bad: (String) -> NetworkError) throws -> ClosedRange<UInt16>? {
        if text.isEmpty { return nil }
        let ends = text.split(separator: "-", omittingEmptySubsequences: false)
        guard ends.count <= 2 else { throw bad("invalid port range \"\(text)\"") }
        func port(_ s: Substring) throws -> UInt16 {
            guard s.allSatisfy(\.isASCII), let p = UInt16(s), p > 0 else { throw bad("invalid port \"\(s)\"") }
            return p
        }
        let low = try port(ends[0])
        let high = ends.count == 2 ? try port(ends[1]) : low
        guard low <= high else { throw bad("port range \"\(text)\" runs backwards") }
        return low...high
    }

    /// The mappings `docker run -P` makes: every port an image `EXPOSE`s (`80/tcp`, `53/udp`,
    /// `8000-8002`), published on an ephemeral host port of every local address.
    public static func publishAll(exposed: ObjectKeySet?) throws -> [PortMapping] {
        guard let exposed else { return [] }
        var result: [PortMapping] = []
        for key in exposed.sorted {
            let parts = key.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, let first = parts.first else { continue }
            var proto = PortProtocol.tcp
            if parts.count == 2 {
                guard let p = PortProtocol(rawValue: parts[1].lowercased()) else {
                    throw NetworkError(.invalidArgument, "the image exposes \"\(key)\" with an unknown protocol; use tcp, udp or sctp")
                }
                proto = p
            }
            result += try parse("\(first)/\(proto.rawValue)")
        }
        return result
    }
}
