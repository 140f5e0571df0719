/// An IPv4 or IPv6 address, held as a number so that ranges and offsets are arithmetic.
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// An IPv4 address, most significant byte first.
    case v4(UInt32)
    /// An IPv6 address, most significant byte first.
    case v6(UInt128)

    /// Parses dotted-quad IPv4 or RFC 4291 text IPv6 (with `::` and an embedded IPv4 tail).
    public init?(_ text: some StringProtocol) {
        let s = String(text)
        if s.contains(":") {
            guard let value = IPAddress.parseV6(s) else { return nil }
            self = .v6(value)
        } else {
            guard let value = IPAddress.parseV4(s) else { return nil }
            self = .v4(value)
        }
    }

    /// Creates an address from its network-order bytes (4 or 16 of them).
    public init?(bytes: some Collection<UInt8>) {
        if bytes.count == 4 {
            self = .v4(bytes.reduce(0) { $0 << 8 | UInt32($1) })
        } else if bytes.count == 16 {
            self = .v6(bytes.reduce(0) { $0 << 8 | UInt128($1) })
        } else {
            return nil
        }
    }

    /// Whether this is an IPv4 address.
    public var isV4: Bool { if case .v4 = self { return true } else { return false } }

    /// The address family's bit width: 32 or 128.
    public var bitWidth: Int { isV4 ? 32 : 128 }

    /// The network-order bytes.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let v): return (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) }
        case .v6(let v): return (0..<16).map { UInt8(truncatingIfNeeded: v >> (120 - 8 * $0)) }
        }
    }

    /// Whether the address is a loopback address (127.0.0.0/8 or ::1).
    public var isLoopback: Bool {
        switch self {
        case .v4(let v): return v >> 24 == 127
        case .v6(let v): return v == 1
        }
    }

    /// Whether the address is the unspecified address (0.0.0.0 or ::).
    public var isUnspecified: Bool {
        switch self {
        case .v4(let v): return v == 0
        case .v6(let v): return v == 0
        }
    }

    /// The address `offset` positions further on, or nil past the end of the family.
    public func advanced(by offset: UInt128) -> IPAddress? {
        switch self {
        case .v4(let v):
            let sum = UInt128(v) + offset
            return sum <= UInt128(UInt32.max) ? .v4(UInt32(sum)) : nil
        case .v6(let v):
            let (sum, overflow) = v.addingReportingOverflow(offset)
            return overflow ? nil : .v6(sum)
        }
    }

    /// The address as an unsigned number (IPv4 widened).
    public var numeric: UInt128 {
        switch self {
        case .v4(let v): return UInt128(v)
        case .v6(let v): return v
        }
    }

    /// Canonical text: dotted quad, or RFC 5952 IPv6 (longest zero run compressed).
    public var description: String {
        switch self {
        case .v4:
            return bytes.map(String.init).joined(separator: ".")
        case .v6(let v):
            let groups = (0..<8).map { UInt16(truncatingIfNeeded: v >> (112 - 16 * $0)) }
            var bestStart = -1, bestLength = 0, start = -1
            for i in 0...8 {
                if i < 8 && groups[i] == 0 {
                    if start < 0 { start = i }
                } else if start >= 0 {
                    if i - start > bestLength && i - start > 1 { bestStart = start; bestLength = i - start }
                    start = -1
                }
            }
            func hex(_ range: Range<Int>) -> String {
                groups[range].map { String($0, radix: 16) }.joined(separator: ":")
            }
            if bestStart < 0 { return hex(0..<8) }
            return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
        }
    }

    /// Orders IPv4 before IPv6, then numerically.
    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): return a < b
        case (.v6(let a), .v6(let b)): return a < b
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        }
    }

    /// Decodes the text form.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let address = IPAddress(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an IP address: \(text)"))
        }
        self = address
    }

    /// Encodes the text form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private static func parseV4(_ s: String) -> UInt32? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let octet = UInt8(part) else { return nil }
            if part.count > 1 && part.hasPrefix("0") { return nil }  // no octal ambiguity
            value = value << 8 | UInt32(octet)
        }
        return value
    }

    private static func parseV6(_ s: String) -> UInt128? {
        var text = Substring(s)
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }  // zone id
        var tail: [UInt16] = []
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            guard let v4 = parseV4(String(text[text.index(after: lastColon)...])) else { return nil }
            tail = [UInt16(v4 >> 16), UInt16(v4 & 0xffff)]
            text = text[...lastColon]
            if text.hasSuffix("::") == false { text = text.dropLast() }
        }
        func groups(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            for g in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard !g.isEmpty, g.count <= 4, let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        var all: [UInt16]
        let halves = text.components(separatedBy: "::")
        if halves.count == 2 {
            guard let head = groups(Substring(halves[0])), var rest = groups(Substring(halves[1])) else { return nil }
            rest += tail
            let missing = 8 - head.count - rest.count
            guard missing >= 1 else { return nil }
            all = head + Array(repeating: 0, count: missing) + rest
        } else if halves.count == 1 {
            guard let g = groups(text) else { return nil }
            all = g + tail
        } else {
            return nil
        }
        guard all.count == 8 else { return nil }
        return all.reduce(0) { $0 << 16 | UInt128($1) }
    }
}

extension Substring {
    fileprivate func components(separatedBy separator: String) -> [Substring] {
        var result: [Substring] = []
        var rest = self[...]
        while let range = rest.firstRange(of: separator) {
            result.append(rest[..<range.lowerBound])
            rest = rest[range.upperBound...]
        }
        result.append(rest)
        return result
    }
}

/// An IP prefix such as `10.1.0.0/24` or `fd00:1::/64`.
public struct IPSubnet: Hashable, Sendable, CustomStringConvertible, Codable {
    /// The network address (host bits cleared).
    public let address: IPAddress
    /// The prefix length.
    public let prefixLength: Int

    /// Creates a prefix; host bits of `address` are cleared.
    public init?(address: IPAddress, prefixLength: Int) {
        guard prefixLength >= 0, prefixLength <= address.bitWidth else { return nil }
        self.prefixLength = prefixLength
        switch address {
        case .v4(let v): self.address = .v4(prefixLength == 0 ? 0 : v & ~UInt32(0) << (32 - prefixLength))
        case .v6(let v): self.address = .v6(prefixLength == 0 ? 0 : v & ~UInt128(0) << (128 - prefixLength))
        }
    }

    /// A prefix from a constant whose length is known to fit (Kujira's default pools).
    init(unchecked address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = min(max(prefixLength, 0), address.bitWidth)
    }

    /// Parses `ADDRESS/LENGTH`; a bare address is a host prefix. With `strict`, host bits
    /// must be clear (as `docker network create --subnet` demands).
    public init?(_ text: some StringProtocol, strict: Bool = false) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(parts[0]) else { return nil }
        let length: Int
        if parts.count == 2 {
            guard let l = Int(parts[1]), parts[1].allSatisfy(\.isNumber) else { return nil }
            length = l
        } else {
            length = address.bitWidth
        }
        self.init(address: address, prefixLength: length)
        if strict && self.address != address { return nil }
    }

    /// `ADDRESS/LENGTH`.
    public var description: String { "\(address)/\(prefixLength)" }

    /// Whether this is an IPv4 prefix.
    public var isV4: Bool { address.isV4 }

    /// The number of addresses in the prefix, saturating at `UInt128.max`.
    public var size: UInt128 {
        let hostBits = address.bitWidth - prefixLength
        return hostBits >= 128 ? UInt128.max : UInt128(1) << hostBits
    }

    /// The last address of the prefix (the broadcast address for IPv4).
    public var last: IPAddress {
        address.advanced(by: size &- 1) ?? address
    }

    /// Whether `ip` lies in the prefix.
    public func contains(_ ip: IPAddress) -> Bool {
        guard ip.isV4 == address.isV4 else { return false }
        return IPSubnet(address: ip, prefixLength: prefixLength)?.address == address
    }

    /// Whether the two prefixes share any address.
    public func overlaps(_ other: IPSubnet) -> Bool {
        guard isV4 == other.isV4 else { return false }
        return contains(other.address) || other.contains(address)
    }

    /// The address at `offset` from the network address, or nil outside the prefix.
    public func address(at offset: UInt128) -> IPAddress? {
        guard offset < size, let ip = address.advanced(by: offset) else { return nil }
        return ip
    }
}
