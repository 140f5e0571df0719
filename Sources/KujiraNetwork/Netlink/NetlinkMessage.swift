import CKujiraNetlink

/// One netlink request under construction: a `nlmsghdr`, the family header (`ifinfomsg`,
/// `ifaddrmsg`, `rtmsg`) and type-length-value attributes, 4-byte aligned as
/// `NLMSG_ALIGN`/`NLA_ALIGN` require (those are C macros, so the arithmetic lives here).
struct NetlinkRequest {
    private(set) var bytes: [UInt8]

    /// Starts a message of `type` with `flags` (NLM_F_REQUEST is added) and `header` as the
    /// family-specific fixed part.
    init(type: UInt16, flags: Int32, header: [UInt8]) {
        bytes = []
        bytes.reserveCapacity(256)
        bytes.appendLE(UInt32(0))  // length, patched by finish(sequence:)
        bytes.appendLE(type)
        bytes.appendLE(UInt16(truncatingIfNeeded: flags | NLM_F_REQUEST))
        bytes.appendLE(UInt32(0))  // sequence
        bytes.appendLE(UInt32(0))  // port id: the kernel fills it in
        bytes += header
        pad()
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    /// Appends attribute `type` with a raw payload.
    mutating func attribute(_ type: Int32, _ payload: [UInt8]) {
        bytes.appendLE(UInt16(4 + payload.count))
        bytes.appendLE(UInt16(truncatingIfNeeded: type))
        bytes += payload
        pad()
    }

    /// Appends a NUL-terminated string attribute.
    mutating func attribute(_ type: Int32, string: String) {
        attribute(type, Array(string.utf8) + [0])
    }

    /// Appends a 32-bit attribute in host byte order.
    mutating func attribute(_ type: Int32, u32: UInt32) {
        var payload: [UInt8] = []
        payload.appendLE(u32)
        attribute(type, payload)
    }

    /// Appends an 8-bit attribute.
    mutating func attribute(_ type: Int32, u8: UInt8) {
        attribute(type, [u8])
    }

    /// Appends a nested attribute whose members `body` adds.
    mutating func nested(_ type: Int32, _ body: (inout NetlinkRequest) -> Void) {
        let start = bytes.count
        bytes.appendLE(UInt16(0))
        bytes.appendLE(UInt16(truncatingIfNeeded: type))
        body(&self)
        let length = UInt16(bytes.count - start)
        bytes[start] = UInt8(length & 0xff)
        bytes[start + 1] = UInt8(length >> 8)
    }

    /// Appends raw bytes (a nested family header such as the veth peer's `ifinfomsg`).
    mutating func raw(_ data: [UInt8]) {
        bytes += data
        pad()
    }

    /// The finished message with its length and sequence number filled in.
    func finish(sequence: UInt32) -> [UInt8] {
        var out = bytes
        out.patchLE(UInt32(out.count), at: 0)
        out.patchLE(sequence, at: 8)
        return out
    }
}

/// Family headers, laid out as in `linux/rtnetlink.h`.
enum NetlinkHeader {
    /// `struct ifinfomsg`: family, type, index, flags, change (16 bytes).
    static func ifinfomsg(family: UInt8 = 0, index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0) -> [UInt8] {
        var b: [UInt8] = [family, 0]
        b.appendLE(UInt16(0))
        b.appendLE(UInt32(bitPattern: index))
        b.appendLE(flags)
        b.appendLE(change)
        return b
    }

    /// `struct ifaddrmsg`: family, prefix length, flags, scope, index (8 bytes).
    static func ifaddrmsg(family: UInt8, prefixLength: UInt8, index: Int32) -> [UInt8] {
        var b: [UInt8] = [family, prefixLength, 0, 0]
        b.appendLE(UInt32(bitPattern: index))
        return b
    }

    /// `struct rtmsg` (12 bytes).
    static func rtmsg(family: UInt8, destinationLength: UInt8, table: UInt8, protocol proto: UInt8, scope: UInt8, type: UInt8) -> [UInt8] {
        var b: [UInt8] = [family, destinationLength, 0, 0, table, proto, scope, type]
        b.appendLE(UInt32(0))
        return b
    }
}

/// One message the kernel sent back.
struct NetlinkMessage {
    let type: UInt16
    let flags: UInt16
    let sequence: UInt32
    /// Everything after the 16-byte `nlmsghdr`.
    let payload: ArraySlice<UInt8>

    /// Splits a datagram into messages.
    static func split(_ data: ArraySlice<UInt8>) -> [NetlinkMessage] {
        var messages: [NetlinkMessage] = []
        var offset = data.startIndex
        while data.endIndex - offset >= 16 {
            let length = Int(data.readLE(UInt32.self, at: offset))
            guard length >= 16, offset + length <= data.endIndex else { break }
            messages.append(NetlinkMessage(
                type: data.readLE(UInt16.self, at: offset + 4),
                flags: data.readLE(UInt16.self, at: offset + 6),
                sequence: data.readLE(UInt32.self, at: offset + 8),
                payload: data[(offset + 16)..<(offset + length)]))
            offset += (length + 3) & ~3
        }
        return messages
    }

    /// The attributes that follow a family header of `headerLength` bytes.
    func attributes(after headerLength: Int) -> [Int: ArraySlice<UInt8>] {
        NetlinkMessage.attributes(payload.dropFirst(headerLength))
    }

    /// Parses a run of attributes into a type → payload table (the last one of a type wins).
    static func attributes(_ data: ArraySlice<UInt8>) -> [Int: ArraySlice<UInt8>] {
        var result: [Int: ArraySlice<UInt8>] = [:]
        var offset = data.startIndex
        while data.endIndex - offset >= 4 {
            let length = Int(data.readLE(UInt16.self, at: offset))
            let type = Int(data.readLE(UInt16.self, at: offset + 2) & 0x3fff)  // drop NESTED/BYTEORDER
            guard length >= 4, offset + length <= data.endIndex else { break }
            result[type] = data[(offset + 4)..<(offset + length)]
            offset += (length + 3) & ~3
        }
        return result
    }
}

extension ArraySlice<UInt8> {
    /// A NUL-terminated string attribute's text.
    var netlinkString: String {
        String(decoding: prefix { $0 != 0 }, as: UTF8.self)
    }

    func readLE<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        var value: T = 0
        for i in 0..<MemoryLayout<T>.size where offset + i < endIndex {
            value |= T(self[offset + i]) << (8 * i)
        }
        return value
    }
}

extension Array<UInt8> {
    mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        for i in 0..<MemoryLayout<T>.size { append(UInt8(truncatingIfNeeded: value >> (8 * i))) }
    }

    mutating func patchLE<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        for i in 0..<MemoryLayout<T>.size { self[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }
}
