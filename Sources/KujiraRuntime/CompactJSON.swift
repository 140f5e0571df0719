// A small JSON reader and writer for the runtime's own documents (config.json, state.json,
// hook states), through Codable but without Foundation's JSONDecoder/JSONEncoder.
//
// Why: the runtime runs once per container operation, so every cost is a first-use cost.
// Foundation's coders ask, for every type they meet, whether it is one of their special cases
// (`T.self is _JSONStringDictionaryDecodableMarker.Type`, Date, Data, URL, Decimal): each
// such question about a new type makes the Swift runtime scan every protocol conformance
// record of the executable (tens of thousands in a static binary with Foundation), touching
// pages all over it. With ~60 spec types that was 7–9 % of a `run`'s CPU time and a good part
// of its resident memory. These coders pass every value straight to its own `init(from:)` /
// `encode(to:)`, with no dynamic casts: nothing to scan.
//
// Scope: what Codable types with synthesized or string-wrapper conformances need — objects,
// arrays, strings, integers, floating point, booleans, null. Numbers keep their text until a
// type asks for them, so 64-bit integers are exact. Unknown keys are ignored, as with
// JSONDecoder.

/// A parsed JSON value.
enum JSONNode: Sendable {
    case null
    case bool(Bool)
    /// The number's text as written, converted when a type asks for it.
    case number(String)
    case string(String)
    case array([JSONNode])
    /// Members in document order; a later duplicate key wins on lookup, as with JSONDecoder.
    case object([(String, JSONNode)])

    var kind: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// Why a document could not be read or a value not decoded: the message names the path.
struct CompactJSONError: Error, CustomStringConvertible, Sendable {
    let description: String
}

/// Decodes and encodes `Codable` values (see the file comment).
enum CompactJSON {
    /// Decodes a `T` from the JSON document `bytes`.
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        var parser = JSONParser(bytes)
        let root = try parser.parseDocument()
        return try T(from: NodeDecoder(node: root, codingPath: []))
    }

    /// Encodes `value` as a compact JSON document with object keys sorted.
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = NodeEncoder(codingPath: [])
        try value.encode(to: encoder)
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        JSONWriter.write(encoder.storage.node ?? .object([]), into: &out)
        return out
    }
}

// MARK: - Parsing

/// A recursive-descent parser over UTF-8 bytes (RFC 8259; nesting limited to 512 levels).
struct JSONParser {
    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func parseDocument() throws -> JSONNode {
        let value = try parseValue()
        skipWhitespace()
        guard index == bytes.count else { throw error("unexpected data after the document") }
        return value
    }

    private func error(_ what: String) -> CompactJSONError {
        CompactJSONError(description: "invalid JSON at byte \(index): \(what)")
    }

    private mutating func skipWhitespace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
            index += 1
        }
    }

    private mutating func expect(_ literal: String, _ value: JSONNode) throws -> JSONNode {
        let text = literal.utf8
        guard index + text.count <= bytes.count, bytes[index..<index + text.count].elementsEqual(text) else {
            throw error("unknown literal")
        }
        index += text.count
        return value
    }

    private mutating func parseValue() throws -> JSONNode {
        skipWhitespace()
        guard index < bytes.count else { throw error("unexpected end") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character")
        }
    }

    private mutating func enter() throws {
        depth += 1
        guard depth <= 512 else { throw error("nested too deeply") }
    }

    private mutating func parseObject() throws -> JSONNode {
        try enter()
        defer { depth -= 1 }
        index += 1
        var members: [(String, JSONNode)] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a member name") }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            members.append((key, try parseValue()))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end in an object") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
            throw error("expected ',' or '}'")
        }
    }

    private mutating func parseArray() throws -> JSONNode {
        try enter()
        defer { depth -= 1 }
        index += 1
        var items: [JSONNode] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
        while true {
            items.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end in an array") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
            throw error("expected ',' or ']'")
        }
    }

    private mutating func parseNumber() throws -> JSONNode {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        func digits() -> Int {
            let from = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            return index - from
        }
        let integerStart = index
        let integerDigits = digits()
        guard integerDigits > 0 else { throw error("malformed number") }
        guard integerDigits == 1 || bytes[integerStart] != UInt8(ascii: "0") else { throw error("number with a leading zero") }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw error("malformed fraction") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw error("malformed exponent") }
        }
        return .number(String(decoding: bytes[start..<index], as: UTF8.self))
    }

    private mutating func hex4() throws -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: throw error("malformed \\u escape")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    private mutating func parseString() throws -> String {
        index += 1  // the opening quote
        var out: [UInt8] = []
        var runStart = index
        while true {
            guard index < bytes.count else { throw error("unterminated string") }
            let c = bytes[index]
            if c == UInt8(ascii: "\"") {
                out += bytes[runStart..<index]
                index += 1
                break
            }
            if c < 0x20 { throw error("control character in a string") }
            if c != UInt8(ascii: "\\") { index += 1; continue }
            out += bytes[runStart..<index]
            index += 1
            guard index < bytes.count else { throw error("unterminated escape") }
            let e = bytes[index]
            index += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    guard index + 2 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                        throw error("unpaired surrogate")
                    }
                    index += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low < 0xE000 else { throw error("unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw error("unpaired surrogate")
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                out += Array(String(Character(unicode)).utf8)
            default: throw error("unknown escape")
            }
            runStart = index
        }
        // Invalid UTF-8 is repaired (U+FFFD), as String(decoding:) does.
        return String(decoding: out, as: UTF8.self)
    }
}

// MARK: - Decoding

private func describe(_ path: [any CodingKey]) -> String {
    path.isEmpty ? "the document" : path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
}

private func mismatch(_ expected: String, _ node: JSONNode, _ path: [any CodingKey]) -> CompactJSONError {
    CompactJSONError(description: "\(describe(path)): expected \(expected), found \(node.kind)")
}

/// An array index as a coding key.
private struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { return nil }
    init?(intValue: Int) { self.intValue = intValue }
}

/// Converts a number's text to `T`: exact integers only for integer types.
private func integer<T: FixedWidthInteger>(_ node: JSONNode, _ path: [any CodingKey]) throws -> T {
    guard case .number(let text) = node else { throw mismatch("a number", node, path) }
    if let value = T(text) { return value }
    // 1.0, 1e3: accepted when exact, as JSONDecoder does.
    if let double = Double(text), double.rounded() == double, let value = T(exactly: double) { return value }
    throw CompactJSONError(description: "\(describe(path)): \(text) is not a valid \(T.self)")
}

private func floating(_ node: JSONNode, _ path: [any CodingKey]) throws -> Double {
    guard case .number(let text) = node, let value = Double(text) else { throw mismatch("a number", node, path) }
    return value
}

private struct NodeDecoder: Decoder {
    let node: JSONNode
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = node else { throw mismatch("an object", node, codingPath) }
        var lookup: [String: JSONNode] = [:]
        lookup.reserveCapacity(members.count)
        for (key, value) in members { lookup[key] = value }
        return KeyedDecodingContainer(KeyedNodeDecoder<Key>(members: lookup, order: members.map(\.0), codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = node else { throw mismatch("an array", node, codingPath) }
        return UnkeyedNodeDecoder(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleNodeDecoder(node: node, codingPath: codingPath) }
}

private struct SingleNodeDecoder: SingleValueDecodingContainer {
    let node: JSONNode
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool { if case .null = node { true } else { false } }
    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .bool(let value) = node else { throw mismatch("a boolean", node, codingPath) }
        return value
    }
    func decode(_ type: String.Type) throws -> String {
        guard case .string(let value) = node else { throw mismatch("a string", node, codingPath) }
        return value
    }
    func decode(_ type: Double.Type) throws -> Double { try floating(node, codingPath) }
    func decode(_ type: Float.Type) throws -> Float { Float(try floating(node, codingPath)) }
    func decode(_ type: Int.Type) throws -> Int { try integer(node, codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(node, codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(node, codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(node, codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(node, codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(node, codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(node, codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(node, codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(node, codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(node, codingPath) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: NodeDecoder(node: node, codingPath: codingPath)) }
}

private struct KeyedNodeDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONNode]
    let order: [String]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { order.compactMap { Key(stringValue: $0) } }
    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    private func value(_ key: Key) throws -> JSONNode {
        guard let node = members[key.stringValue] else {
            throw CompactJSONError(description: "\(describe(codingPath + [key])): missing")
        }
        return node
    }

    private func single(_ key: Key) throws -> SingleNodeDecoder { SingleNodeDecoder(node: try value(key), codingPath: codingPath + [key]) }

    func decodeNil(forKey key: Key) throws -> Bool { if case .null = try value(key) { true } else { false } }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try single(key).decode(type) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try single(key).decode(type) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try single(key).decode(type) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try single(key).decode(type) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try single(key).decode(type) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try single(key).decode(type) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try single(key).decode(type) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try single(key).decode(type) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try single(key).decode(type) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try single(key).decode(type) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try single(key).decode(type) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try single(key).decode(type) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try single(key).decode(type) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try single(key).decode(type) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try T(from: NodeDecoder(node: try value(key), codingPath: codingPath + [key]))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try NodeDecoder(node: try value(key), codingPath: codingPath + [key]).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try NodeDecoder(node: try value(key), codingPath: codingPath + [key]).unkeyedContainer()
    }
    func superDecoder() throws -> any Decoder {
        NodeDecoder(node: members["super"] ?? .null, codingPath: codingPath)
    }
    func superDecoder(forKey key: Key) throws -> any Decoder {
        NodeDecoder(node: members[key.stringValue] ?? .null, codingPath: codingPath + [key])
    }
}

private struct UnkeyedNodeDecoder: UnkeyedDecodingContainer {
    let items: [JSONNode]
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(items: [JSONNode], codingPath: [any CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func next() throws -> SingleNodeDecoder {
        guard currentIndex < items.count else {
            throw CompactJSONError(description: "\(describe(codingPath)): fewer than \(currentIndex + 1) elements")
        }
        defer { currentIndex += 1 }
        return SingleNodeDecoder(node: items[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard currentIndex < items.count else { return false }
        if case .null = items[currentIndex] { currentIndex += 1; return true }
        return false
    }
    mutating func decode(_ type: Bool.Type) throws -> Bool { try next().decode(type) }
    mutating func decode(_ type: String.Type) throws -> String { try next().decode(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try next().decode(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try next().decode(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try next().decode(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next().decode(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next().decode(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next().decode(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next().decode(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next().decode(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next().decode(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next().decode(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next().decode(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next().decode(type) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decode(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let item = try next()
        return try NodeDecoder(node: item.node, codingPath: item.codingPath).container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let item = try next()
        return try NodeDecoder(node: item.node, codingPath: item.codingPath).unkeyedContainer()
    }
    mutating func superDecoder() throws -> any Decoder {
        let item = try next()
        return NodeDecoder(node: item.node, codingPath: item.codingPath)
    }
}

// MARK: - Encoding

/// Where an encoder's value goes: set once by a single-value encode, or built up by a keyed or
/// unkeyed container (reference types, so nested containers write into their parent).
private final class NodeSlot {
    var node: JSONNode?
    var object: ObjectBuilder?
    var array: ArrayBuilder?

    /// The finished value.
    var finished: JSONNode? {
        if let object { return object.node }
        if let array { return array.node }
        return node
    }
}

private final class ObjectBuilder {
    var members: [String: NodeSlot] = [:]
    var node: JSONNode {
        .object(members.keys.sorted().map { ($0, members[$0]?.finished ?? .null) })
    }
    func slot(_ key: String) -> NodeSlot {
        if let slot = members[key] { return slot }
        let slot = NodeSlot()
        members[key] = slot
        return slot
    }
}

private final class ArrayBuilder {
    var items: [NodeSlot] = []
    var node: JSONNode { .array(items.map { $0.finished ?? .null }) }
    func append() -> NodeSlot {
        let slot = NodeSlot()
        items.append(slot)
        return slot
    }
}

private final class NodeEncoder: Encoder {
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    let storage: NodeSlotView

    init(codingPath: [any CodingKey], slot: NodeSlot = NodeSlot()) {
        self.codingPath = codingPath
        self.storage = NodeSlotView(slot: slot)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let slot = storage.slot
        if slot.object == nil { slot.object = ObjectBuilder() }
        return KeyedEncodingContainer(KeyedNodeEncoder<Key>(object: slot.object ?? ObjectBuilder(), codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let slot = storage.slot
        if slot.array == nil { slot.array = ArrayBuilder() }
        return UnkeyedNodeEncoder(array: slot.array ?? ArrayBuilder(), codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleNodeEncoder(slot: storage.slot, codingPath: codingPath) }
}

/// The root slot of an encoder and its finished value.
private struct NodeSlotView {
    let slot: NodeSlot
    var node: JSONNode? { slot.finished }
}

/// Encodes `value` into `slot` (primitives through their own `encode(to:)`, which asks for a
/// single-value container: no dynamic casts).
private func encodeValue<T: Encodable>(_ value: T, into slot: NodeSlot, codingPath: [any CodingKey]) throws {
    try value.encode(to: NodeEncoder(codingPath: codingPath, slot: slot))
}

private struct SingleNodeEncoder: SingleValueEncodingContainer {
    let slot: NodeSlot
    let codingPath: [any CodingKey]

    private func set(_ node: JSONNode) { slot.node = node }
    private func setNumber<T: BinaryInteger>(_ value: T) { set(.number(String(value))) }
    private func setFloating(_ value: Double) throws {
        guard value.isFinite else { throw CompactJSONError(description: "\(describe(codingPath)): \(value) is not a JSON number") }
        set(.number(value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"))
    }

    func encodeNil() { set(.null) }
    func encode(_ value: Bool) { set(.bool(value)) }
    func encode(_ value: String) { set(.string(value)) }
    func encode(_ value: Double) throws { try setFloating(value) }
    func encode(_ value: Float) throws { try setFloating(Double(value)) }
    func encode(_ value: Int) { setNumber(value) }
    func encode(_ value: Int8) { setNumber(value) }
    func encode(_ value: Int16) { setNumber(value) }
    func encode(_ value: Int32) { setNumber(value) }
    func encode(_ value: Int64) { setNumber(value) }
    func encode(_ value: UInt) { setNumber(value) }
    func encode(_ value: UInt8) { setNumber(value) }
    func encode(_ value: UInt16) { setNumber(value) }
    func encode(_ value: UInt32) { setNumber(value) }
    func encode(_ value: UInt64) { setNumber(value) }
    func encode<T: Encodable>(_ value: T) throws { try encodeValue(value, into: slot, codingPath: codingPath) }
}

private struct KeyedNodeEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let object: ObjectBuilder
    let codingPath: [any CodingKey]

    private func single(_ key: Key) -> SingleNodeEncoder { SingleNodeEncoder(slot: object.slot(key.stringValue), codingPath: codingPath + [key]) }

    mutating func encodeNil(forKey key: Key) { single(key).encodeNil() }
    mutating func encode(_ value: Bool, forKey key: Key) { single(key).encode(value) }
    mutating func encode(_ value: String, forKey key: Key) { single(key).encode(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try single(key).encode(value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try single(key).encode(value) }
    mutating func encode(_ value: Int, forKey key: Key) { single(key).encode(value) }
    mutating func encode(_ value: Int8, forKey key: Key) { single(key).encode(value) }
    mutating func encode(_ value: Int16, forKey key: Key) { single(key).encode(value) }
    mutating func encode(_ value: Int32, forKey key: Key) { single(key).encode(value) }
    mutating func encode(_ value: Int64, forKey key: Key) { single(key).encode(value) }
    mutating func encode(_ value: UInt, forKey key: Key) { single(key).encode(value) }
    mutating func encode(_ value: UInt8, forKey key: Key) { single(key).encode(value) }
    mutating func encode(_ value: UInt16, forKey key: Key) { single(key).encode(value) }
    mutating func encode(_ value: UInt32, forKey key: Key) { single(key).encode(value) }
    mutating func encode(_ value: UInt64, forKey key: Key) { single(key).encode(value) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try encodeValue(value, into: object.slot(key.stringValue), codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        NodeEncoder(codingPath: codingPath + [key], slot: object.slot(key.stringValue)).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        NodeEncoder(codingPath: codingPath + [key], slot: object.slot(key.stringValue)).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder { NodeEncoder(codingPath: codingPath, slot: object.slot("super")) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { NodeEncoder(codingPath: codingPath + [key], slot: object.slot(key.stringValue)) }
}

private struct UnkeyedNodeEncoder: UnkeyedEncodingContainer {
    let array: ArrayBuilder
    let codingPath: [any CodingKey]
    var count: Int { array.items.count }

    private func single() -> SingleNodeEncoder {
        SingleNodeEncoder(slot: array.append(), codingPath: codingPath + [IndexKey(array.items.count)])
    }

    mutating func encodeNil() { single().encodeNil() }
    mutating func encode(_ value: Bool) { single().encode(value) }
    mutating func encode(_ value: String) { single().encode(value) }
    mutating func encode(_ value: Double) throws { try single().encode(value) }
    mutating func encode(_ value: Float) throws { try single().encode(value) }
    mutating func encode(_ value: Int) { single().encode(value) }
    mutating func encode(_ value: Int8) { single().encode(value) }
    mutating func encode(_ value: Int16) { single().encode(value) }
    mutating func encode(_ value: Int32) { single().encode(value) }
    mutating func encode(_ value: Int64) { single().encode(value) }
    mutating func encode(_ value: UInt) { single().encode(value) }
    mutating func encode(_ value: UInt8) { single().encode(value) }
    mutating func encode(_ value: UInt16) { single().encode(value) }
    mutating func encode(_ value: UInt32) { single().encode(value) }
    mutating func encode(_ value: UInt64) { single().encode(value) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = codingPath + [IndexKey(array.items.count)]
        try encodeValue(value, into: array.append(), codingPath: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        NodeEncoder(codingPath: codingPath + [IndexKey(array.items.count)], slot: array.append()).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        NodeEncoder(codingPath: codingPath + [IndexKey(array.items.count)], slot: array.append()).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder { NodeEncoder(codingPath: codingPath + [IndexKey(array.items.count)], slot: array.append()) }
}

// MARK: - Writing

enum JSONWriter {
    static func write(_ node: JSONNode, into out: inout [UInt8]) {
        switch node {
        case .null: out += Array("null".utf8)
        case .bool(let value): out += Array((value ? "true" : "false").utf8)
        case .number(let text): out += Array(text.utf8)
        case .string(let text): writeString(text, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeString(_ text: String, into out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20: out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
