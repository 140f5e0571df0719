/// A pool subnets are carved from: `base` split into prefixes of `size` bits, like Docker's
/// `default-address-pools` (`{"base": "172.18.0.0/16", "size": 16}`).
public struct AddressPool: Hashable, Sendable, Codable {
    /// The range to carve from.
    public var base: IPSubnet
    /// The prefix length of each carved subnet.
    public var size: Int

    /// Creates a pool.
    public init(base: IPSubnet, size: Int) {
        self.base = base
        self.size = size
    }

    /// Docker's defaults: 172.17–31.0.0/16, then 192.168.0.0/16 in /20s.
    public static let defaultIPv4: [AddressPool] = [
        AddressPool(base: IPSubnet(unchecked: .v4(0xAC11_0000), prefixLength: 16), size: 16),  // 172.17.0.0/16
        AddressPool(base: IPSubnet(unchecked: .v4(0xAC12_0000), prefixLength: 15), size: 16),  // 172.18–19
        AddressPool(base: IPSubnet(unchecked: .v4(0xAC14_0000), prefixLength: 14), size: 16),  // 172.20–23
        AddressPool(base: IPSubnet(unchecked: .v4(0xAC18_0000), prefixLength: 13), size: 16),  // 172.24–31
        AddressPool(base: IPSubnet(unchecked: .v4(0xC0A8_0000), prefixLength: 16), size: 20),  // 192.168/16
    ]

    /// A unique-local /48 (RFC 4193) split into /64s for networks that ask for IPv6.
    public static let defaultIPv6: [AddressPool] = [
        AddressPool(base: IPSubnet(unchecked: .v6(0xfd4b_756a_7200 << 80), prefixLength: 48), size: 64),
    ]
}

/// The pure address arithmetic of IPAM: carving subnets that overlap nothing, picking free
/// addresses, deriving gateways and MAC addresses. The database makes the choices durable.
enum AddressAllocator {
    /// The first subnet of `pools` (of the requested family) that overlaps none of `taken`.
    static func carve(pools: [AddressPool], ipv6: Bool, avoiding taken: [IPSubnet]) -> IPSubnet? {
        for pool in pools where pool.base.isV4 != ipv6 && pool.size >= pool.base.prefixLength && pool.size <= pool.base.address.bitWidth {
            let step = UInt128(1) << (pool.base.address.bitWidth - pool.size)
            let count = pool.base.size / step
            var index: UInt128 = 0
            while index < count && index < 65536 {
                defer { index += 1 }
                guard let start = pool.base.address.advanced(by: index * step),
                      let candidate = IPSubnet(address: start, prefixLength: pool.size) else { break }
                if !taken.contains(where: { $0.overlaps(candidate) }) { return candidate }
            }
        }
        return nil
    }

    /// Resolves a subnet configuration: gateway defaults to the first host address, the
    /// range to the whole subnet; checks that both lie inside it.
    static func resolve(_ subnet: IPSubnet, gateway: IPAddress?, ipRange: IPSubnet?) throws -> NetworkSubnet {
        guard subnet.prefixLength <= subnet.address.bitWidth - 2 else {
            throw NetworkError(.invalidArgument, "subnet \(subnet) is too small for a gateway and a container; use /30 or larger")
        }
        let gw = gateway ?? subnet.address.advanced(by: 1) ?? subnet.address
        guard subnet.contains(gw), gw != subnet.address, !(subnet.isV4 && gw == subnet.last) else {
            throw NetworkError(.invalidArgument, "gateway \(gw) is not a host address of subnet \(subnet)")
        }
        let range = ipRange ?? subnet
        guard subnet.contains(range.address), range.prefixLength >= subnet.prefixLength else {
            throw NetworkError(.invalidArgument, "ip-range \(range) is not inside subnet \(subnet)")
        }
        return NetworkSubnet(subnet: subnet, gateway: gw, ipRange: range)
    }

    /// Whether `address` may be handed to a container on `subnet`.
    static func isAssignable(_ address: IPAddress, in subnet: NetworkSubnet) -> Bool {
        guard subnet.subnet.contains(address), address != subnet.gateway, address != subnet.subnet.address else { return false }
        if subnet.subnet.isV4 && address == subnet.subnet.last { return false }  // broadcast
        return true
    }

    /// The lowest free address of the subnet's range, or nil when the range is full.
    static func firstFree(in subnet: NetworkSubnet, taken: Set<IPAddress>) -> IPAddress? {
        var offset: UInt128 = 0
        let limit = min(subnet.ipRange.size, UInt128(taken.count) + 4)
        while offset < limit {
            defer { offset += 1 }
            guard let candidate = subnet.ipRange.address(at: offset) else { return nil }
            if isAssignable(candidate, in: subnet) && !taken.contains(candidate) { return candidate }
        }
        return nil
    }

    /// A locally administered MAC derived from the IPv4 address (`02:6b:` + the four bytes),
    /// so a reused address comes back with the same MAC and neighbours' ARP caches stay right.
    static func macAddress(for ipv4: IPAddress?, seed: String) -> [UInt8] {
        if let ipv4, ipv4.isV4 { return [0x02, 0x6b] + ipv4.bytes }
        let h = fnv1a(seed)
        return [0x02, 0x6b] + (0..<4).map { UInt8(truncatingIfNeeded: h >> (8 * $0)) }
    }

    /// Parses `aa:bb:cc:dd:ee:ff`.
    static func parseMAC(_ text: String) throws -> [UInt8] {
        let parts = text.split(separator: ":")
        let bytes = parts.compactMap { $0.count == 2 ? UInt8($0, radix: 16) : nil }
        guard parts.count == 6, bytes.count == 6, bytes[0] & 1 == 0 else {
            throw NetworkError(.invalidArgument, "invalid MAC address \"\(text)\"; expected a unicast aa:bb:cc:dd:ee:ff")
        }
        return bytes
    }

    static func formatMAC(_ bytes: [UInt8]) -> String {
        bytes.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined(separator: ":")
    }
}

/// FNV-1a, 64 bits: stable short names for interfaces derived from IDs.
func fnv1a(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash &*= 0x100_0000_01b3
    }
    return hash
}

/// `fnv1a` as `digits` lowercase hex digits.
func shortHash(_ text: String, digits: Int) -> String {
    let hex = String(fnv1a(text), radix: 16)
    let padded = String(repeating: "0", count: max(0, 16 - hex.count)) + hex
    return String(padded.prefix(digits))
}
