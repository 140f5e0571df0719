import Foundation
import KujiraOCI
import Testing

/// Loads the fixtures generated from the real peers (runc, umoci, skopeo) and the
/// hand-written ones, from the test bundle's `Fixtures` folder.
enum Fixture {
    /// The bytes of fixture `name`.
    static func bytes(_ name: String) throws -> [UInt8] {
        let url = try #require(
            Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"),
            "fixture \(name) is missing")
        return Array(try Data(contentsOf: url))
    }

    /// The fixture decoded as a generic JSON value.
    static func json(_ name: String) throws -> JSONValue {
        try JSONValue(bytes: try bytes(name))
    }
}

/// A parsed JSON document, to compare two documents as objects rather than as bytes.
enum JSONValue: Decodable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(bytes: [UInt8]) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(UInt64.self) {
            self = .uint(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// The value with every `null` object member removed (Go writes `null` for unset
    /// slices and maps; Swift omits `nil`).
    func removingNulls() -> JSONValue {
        switch self {
        case .array(let items): .array(items.map { $0.removingNulls() })
        case .object(let members):
            .object(members.filter { $0.value != .null }.mapValues { $0.removingNulls() })
        default: self
        }
    }

    /// The value without the given top-level keys.
    func removingKeys(_ keys: Set<String>) -> JSONValue {
        guard case .object(let members) = self else { return self }
        return .object(members.filter { !keys.contains($0.key) })
    }

    subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members[key]
    }

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .int(let value): "\(value)"
        case .uint(let value): "\(value)"
        case .double(let value): "\(value)"
        case .string(let value): "\"\(value)\""
        case .array(let items): "[" + items.map(\.description).joined(separator: ",") + "]"
        case .object(let members):
            "{" + members.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
        }
    }
}

/// Decodes fixture `name` as `T`, checks that encoding it with ``CanonicalJSON`` and
/// decoding again gives an equal value, and that the re-encoded JSON object equals the
/// fixture's (after `adjust`, which removes what the type deliberately drops).
@discardableResult
func checkRoundTrip<T: Codable & Equatable>(
    _ type: T.Type, fixture name: String, adjust: (JSONValue) -> JSONValue = { $0 },
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> T {
    let input = try Fixture.bytes(name)
    let value = try CanonicalJSON.decode(T.self, from: input, what: name)
    let encoded = try CanonicalJSON.encode(value)
    let again = try CanonicalJSON.decode(T.self, from: encoded, what: "re-encoded \(name)")
    #expect(again == value, "decode(encode(x)) != x for \(name)", sourceLocation: sourceLocation)
    let expected = adjust(try JSONValue(bytes: input))
    let actual = try JSONValue(bytes: encoded)
    #expect(actual == expected, "re-encoded \(name) differs:\n\(actual)\nexpected:\n\(expected)", sourceLocation: sourceLocation)
    return value
}

/// Runs `body` and returns the ``OCIError`` it throws, or records an issue.
func expectOCIError(
    _ code: OCIError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> OCIError? {
    do {
        try body()
        Issue.record("expected an OCIError \(code), got no error", sourceLocation: sourceLocation)
    } catch let error as OCIError {
        #expect(error.code == code, "expected \(code), got \(error.code): \(error.message)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected an OCIError \(code), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// A syntactically valid sha256 digest derived from `seed`.
func testDigest(_ seed: String) -> Digest {
    Digest.sha256(of: Array(seed.utf8))
}
