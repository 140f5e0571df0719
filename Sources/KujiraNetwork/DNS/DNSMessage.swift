/// The little of RFC 1035 the embedded server needs: read a query's question, build an
/// answer with A, AAAA or PTR records, or an error response.
struct DNSQuery: Equatable {
    /// The query ID.
    var id: UInt16
    /// The header flags (RD is echoed back).
    var flags: UInt16
    /// The question name, lowercased, without the trailing dot.
    var name: String
    /// The question type (1 A, 28 AAAA, 12 PTR, …).
    var type: UInt16
    /// The question class (1 IN).
    var qclass: UInt16
    /// The question section's bytes, copied into the response.
    var question: ArraySlice<UInt8>

    static let typeA: UInt16 = 1
    static let typePTR: UInt16 = 12
    static let typeAAAA: UInt16 = 28

    /// Parses the header and first question of a query; throws on anything malformed.
    init(parsing message: [UInt8]) throws {
        func bad(_ why: String) -> NetworkError { NetworkError(.dns, "malformed DNS query: \(why)") }
        guard message.count >= 12 else { throw bad("shorter than a header") }
        id = UInt16(message[0]) << 8 | UInt16(message[1])
        flags = UInt16(message[2]) << 8 | UInt16(message[3])
        guard flags & 0x8000 == 0 else { throw bad("it is a response") }
        let questions = UInt16(message[4]) << 8 | UInt16(message[5])
        guard questions == 1 else { throw bad("\(questions) questions") }
        var offset = 12
        var labels: [String] = []
        while true {
            guard offset < message.count else { throw bad("truncated name") }
            let length = Int(message[offset])
            offset += 1
            if length == 0 { break }
            guard length < 64, offset + length <= message.count else { throw bad("bad label") }
            labels.append(String(decoding: message[offset..<(offset + length)], as: UTF8.self))
            offset += length
        }
        guard offset + 4 <= message.count else { throw bad("truncated question") }
        name = labels.joined(separator: ".").lowercased()
        type = UInt16(message[offset]) << 8 | UInt16(message[offset + 1])
        qclass = UInt16(message[offset + 2]) << 8 | UInt16(message[offset + 3])
        question = message[12..<(offset + 4)]
    }

    /// A response: `answers` as records of the question's type (addresses for A/AAAA, a
    /// name for PTR), with `rcode` (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN).
    func response(addresses: [IPAddress] = [], pointer: String? = nil, rcode: UInt8 = 0, ttl: UInt32 = 600) -> [UInt8] {
        var out: [UInt8] = []
        let answerCount = pointer != nil ? 1 : addresses.count
        // QR, opcode 0, AA, RD echoed, RA.
        let responseFlags: UInt16 = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | UInt16(rcode & 0x0f)
        for value in [id, responseFlags, 1, UInt16(answerCount), 0, 0] { out.appendBE(value) }
        out += question
        func header(_ type: UInt16, _ length: Int) {
            out += [0xc0, 0x0c]  // pointer to the question name
            out.appendBE(type)
            out.appendBE(UInt16(1))
            out.appendBE(UInt16(ttl >> 16))
            out.appendBE(UInt16(ttl & 0xffff))
            out.appendBE(UInt16(length))
        }
        if let pointer {
            let encoded = DNSQuery.encodeName(pointer)
            header(DNSQuery.typePTR, encoded.count)
            out += encoded
        } else {
            for address in addresses {
                let bytes = address.bytes
                header(address.isV4 ? DNSQuery.typeA : DNSQuery.typeAAAA, bytes.count)
                out += bytes
            }
        }
        return out
    }

    /// A name as DNS labels.
    static func encodeName(_ name: String) -> [UInt8] {
        var out: [UInt8] = []
        for label in name.split(separator: ".") {
            let bytes = Array(label.utf8.prefix(63))
            out.append(UInt8(bytes.count))
            out += bytes
        }
        out.append(0)
        return out
    }

    /// The address a reverse name (`4.3.2.1.in-addr.arpa`, nibbles `.ip6.arpa`) stands for.
    static func reverseAddress(_ name: String) -> IPAddress? {
        if name.hasSuffix(".in-addr.arpa") {
            let octets = name.dropLast(".in-addr.arpa".count).split(separator: ".")
            guard octets.count == 4 else { return nil }
            return IPAddress(octets.reversed().joined(separator: "."))
        }
        if name.hasSuffix(".ip6.arpa") {
            let nibbles = name.dropLast(".ip6.arpa".count).split(separator: ".")
            guard nibbles.count == 32 else { return nil }
            var value: UInt128 = 0
            for nibble in nibbles.reversed() {
                guard nibble.count == 1, let digit = UInt8(nibble, radix: 16) else { return nil }
                value = value << 4 | UInt128(digit)
            }
            return .v6(value)
        }
        return nil
    }
}

extension Array<UInt8> {
    mutating func appendBE(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(value & 0xff))
    }
}
