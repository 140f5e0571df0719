// FoundationEssentials has the JSON coders; the rest of Foundation (CoreFoundation, ICU and
// their relocations) stays out of programs that need only this, like kujira-runtime.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The one JSON encoding Kujira hashes: compact, keys sorted, `/` not escaped.
///
/// Every document Kujira *creates* (manifests, indexes, image configs, runtime specs) is
/// written with ``encode(_:)``, so that the same value always gives the same bytes and so
/// the same digest. Documents Kujira *reads* are never re-encoded: their digest is of the
/// original bytes (image-spec descriptor.md, "Digests"), which may be formatted differently.
public enum CanonicalJSON {
    /// Encodes `value` as compact JSON with sorted keys and unescaped slashes.
    /// - Throws: ``OCIError`` with code ``OCIError/Code/malformedDocument`` when the value
    ///   cannot be represented in JSON (a non-finite floating-point number).
    public static func encode<Value: Encodable>(_ value: Value) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw OCIError(
                .malformedDocument, "cannot encode \(describe(Value.self)) as JSON: \(error)", cause: error)
        }
    }

    /// Decodes a `Value` from JSON bytes.
    ///
    /// - Parameters:
    ///   - type: The type to decode.
    ///   - bytes: The JSON text.
    ///   - what: What the document is, for the error message (`"image manifest"`); defaults
    ///     to the type's name.
    /// - Throws: ``OCIError`` with code ``OCIError/Code/malformedDocument`` and the message
    ///   `malformed <what>: <reason>`, where the reason names the JSON path at fault.
    public static func decode<Value: Decodable>(
        _ type: Value.Type, from bytes: [UInt8], what: String? = nil
    ) throws -> Value {
        let name = what ?? describe(Value.self)
        do {
            return try JSONDecoder().decode(Value.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw OCIError(.malformedDocument, "malformed \(name): \(reason(error))", cause: error)
        } catch let error as OCIError {
            throw OCIError(.malformedDocument, "malformed \(name): \(error.message)", cause: error)
        } catch {
            throw OCIError(.malformedDocument, "malformed \(name): \(error)", cause: error)
        }
    }

    /// A short, human reason for a decoding error: what was wrong and where.
    static func reason(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "missing field \"\(path(context.codingPath + [key]))\""
        case .valueNotFound(let type, let context):
            return "field \"\(path(context.codingPath))\" is null, expected \(describe(type))"
        case .typeMismatch(let type, let context):
            return "field \"\(path(context.codingPath))\" is not \(describe(type))"
        case .dataCorrupted(let context):
            // Errors thrown by init(from:) of a value (a bad digest) arrive as the
            // underlying error; a JSON syntax error arrives with an empty coding path.
            var text = context.codingPath.isEmpty
                ? "invalid JSON" : "field \"\(path(context.codingPath))\" is invalid"
            if let underlying = context.underlyingError as? OCIError {
                text += ": \(underlying.message)"
            } else if !context.debugDescription.isEmpty {
                text += ": \(context.debugDescription)"
            }
            return text
        @unknown default:
            return "\(error)"
        }
    }

    /// Renders a coding path as `a.b[2].c`.
    static func path(_ keys: [any CodingKey]) -> String {
        var out = ""
        for key in keys {
            if let index = key.intValue {
                out += "[\(index)]"
            } else {
                if !out.isEmpty { out += "." }
                out += key.stringValue
            }
        }
        return out.isEmpty ? "(top level)" : out
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type, is UInt64.Type, is UInt32.Type,
             is UInt16.Type:
            "an integer"
        case is [Any].Type: "an array"
        case is [String: Any].Type: "an object"
        default: "\(type)"
        }
    }
}
