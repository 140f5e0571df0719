// Routes of the Docker Engine API: method and path patterns (`/containers/{id}/start`,
// `/images/{name*}/json` where `name*` spans slashes), the optional `/v1.NN` prefix with
// version negotiation, and the mapping of errors to Docker's JSON errors and status codes.

import Foundation
import Kujira
import KujiraImage
import KujiraRegistry
import KujiraBuild
import KujiraOCI
import KujiraVolume

/// An error answered as Docker does: `{"message": "..."}` with a status code.
public struct APIError: Error, Sendable, CustomStringConvertible {
    /// 400, 404, 409, 500, 501, …
    public var status: Int
    /// The message the docker CLI prints after "Error response from daemon: ".
    public var message: String
    /// An error with `status` and `message`.
    public init(_ status: Int, _ message: String) {
        self.status = status
        self.message = message
    }
    /// The message.
    public var description: String { message }

    /// The status and message for any error a handler throws.
    static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as HTTPError:
            return APIError(error.status, error.message)
        case let error as EngineError:
            switch error.code {
            case .notFound: return APIError(404, error.message)
            case .conflict, .invalidState: return APIError(409, error.message)
            case .invalidArgument: return APIError(400, error.message)
            case .readOnly: return APIError(403, error.message)
            case .unsupported: return APIError(501, error.message)
            default: return APIError(500, error.description)
            }
        case let error as ImageStoreError:
            if error.code == .imageNotFound { return APIError(404, error.description) }
            return APIError(500, error.description)
        case let error as VolumeError:
            switch error.code {
            case .notFound: return APIError(404, error.message)
            case .conflict: return APIError(409, error.message)
            case .invalidArgument: return APIError(400, error.message)
            default: return APIError(500, error.description)
            }
        case let error as OCIError:
            return APIError(400, error.description)
        case let error as BuildError:
            return APIError(400, error.description)
        default:
            return APIError(500, "\(error)")
        }
    }
}

/// A request as a route sees it: path parameters, the API version, query helpers.
public struct RouteRequest {
    /// The HTTP request.
    public let http: HTTPRequest
    /// The path parameters by name.
    public let parameters: [String: String]
    /// The API version of the request (from its path, else the server's).
    public let apiVersion: APIVersion

    /// A path parameter (always present for the route that matched).
    public func parameter(_ name: String) -> String { parameters[name] ?? "" }

    /// The last value of query parameter `name`.
    public func query(_ name: String) -> String? { http.query.last { $0.name == name }?.value }

    /// Every value of query parameter `name` (`t` of /build repeats).
    public func queryAll(_ name: String) -> [String] { http.query.filter { $0.name == name }.map(\.value) }

    /// A boolean query parameter as Docker reads it: absent, "", "0", "no", "false" and
    /// "none" are false; anything else is true.
    public func bool(_ name: String) -> Bool {
        guard let value = query(name)?.lowercased() else { return false }
        return !["", "0", "no", "false", "none"].contains(value)
    }

    /// An integer query parameter; 400 naming it if it is not a number.
    public func int(_ name: String) throws -> Int? {
        guard let text = query(name), !text.isEmpty else { return nil }
        guard let value = Int(text) else { throw APIError(400, "invalid value for \(name): \(text) is not an integer") }
        return value
    }

    /// The body parsed as JSON (nil when there is none).
    public func jsonBody() throws -> Any? {
        let bytes = try http.body.readAll()
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return nil }
        return try JSON.decode(bytes)
    }

    /// A JSON query parameter (`filters`, `buildargs`, `labels`).
    public func jsonQuery(_ name: String) throws -> Any? {
        guard let text = query(name), !text.isEmpty else { return nil }
        do {
            return try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        } catch {
            throw APIError(400, "invalid JSON in query parameter \(name): \(text.prefix(200))")
        }
    }

    /// The `filters` parameter as Docker accepts it (`{"k":["v"]}` or the older
    /// `{"k":{"v":true}}`), checked against the keys the route knows.
    public func filters(allowed: Set<String>) throws -> [String: [String]] {
        guard let tree = try jsonQuery("filters") else { return [:] }
        guard let object = tree as? [String: Any] else { throw APIError(400, "invalid filters: expected a JSON object") }
        var result: [String: [String]] = [:]
        for (key, value) in object {
            guard allowed.contains(key) else { throw APIError(400, "invalid filter '\(key)'") }
            if let list = value as? [String] {
                result[key] = list
            } else if let map = value as? [String: Bool] {
                result[key] = map.filter(\.value).map(\.key)
            } else {
                throw APIError(400, "invalid filter '\(key)': expected a list of strings")
            }
        }
        return result
    }
}

/// An API version `1.NN`.
public struct APIVersion: Sendable, Comparable, CustomStringConvertible {
    /// The minor number.
    public var minor: Int
    /// The version 1.`minor`.
    public init(minor: Int) { self.minor = minor }
    /// Parses `1.NN`.
    public init?(_ text: Substring) {
        guard text.hasPrefix("1."), let minor = Int(text.dropFirst(2)) else { return nil }
        self.minor = minor
    }
    /// `1.NN`.
    public var description: String { "1.\(minor)" }
    /// Orders by minor number.
    public static func < (a: APIVersion, b: APIVersion) -> Bool { a.minor < b.minor }

    /// The version kujirad serves (the docker CLI negotiates down to it).
    public static let current = APIVersion(minor: 45)
    /// The oldest version it accepts, as dockerd.
    public static let minimum = APIVersion(minor: 24)
}

/// A route handler.
public typealias RouteHandler = (RouteRequest, ResponseWriter) throws -> Void

/// The route table and dispatch. Routes are added before the server starts and only read
/// afterwards, from any connection's thread.
public final class Router: @unchecked Sendable {
    enum Segment { case literal(String), parameter(String), rest(String) }
    struct Route {
        var method: String
        var segments: [Segment]
        var handler: RouteHandler
    }
    var routes: [Route] = []

    /// An empty table.
    public init() {}

    /// Adds a route: `pattern` is a path of literal segments, `{name}` (one segment) and at
    /// most one `{name*}` (one or more segments). `GET` routes answer `HEAD` too.
    public func add(_ method: String, _ pattern: String, _ handler: @escaping RouteHandler) {
        let segments: [Segment] = pattern.split(separator: "/").map { part in
            if part.hasPrefix("{") && part.hasSuffix("*}") { return .rest(String(part.dropFirst().dropLast(2))) }
            if part.hasPrefix("{") && part.hasSuffix("}") { return .parameter(String(part.dropFirst().dropLast())) }
            return .literal(String(part))
        }
        routes.append(Route(method: method, segments: segments, handler: handler))
    }

    /// Matches `path` against `segments`; the parameters if it matches.
    static func match(_ segments: [Segment], _ path: [String]) -> [String: String]? {
        var parameters: [String: String] = [:]
        guard let restIndex = segments.firstIndex(where: { if case .rest = $0 { true } else { false } }) else {
            guard segments.count == path.count else { return nil }
            for (segment, part) in zip(segments, path) {
                switch segment {
                case .literal(let text): guard text == part else { return nil }
                case .parameter(let name), .rest(let name): guard !part.isEmpty else { return nil }; parameters[name] = part
                }
            }
            return parameters
        }
        let after = segments.count - restIndex - 1
        guard path.count >= segments.count else { return nil }
        let head = Array(segments[..<restIndex]), tail = Array(segments[(restIndex + 1)...])
        guard let first = match(head, Array(path[..<restIndex])),
              let last = match(tail, Array(path[(path.count - after)...])) else { return nil }
        parameters = first.merging(last) { a, _ in a }
        if case .rest(let name) = segments[restIndex] {
            parameters[name] = path[restIndex..<(path.count - after)].joined(separator: "/")
        }
        return parameters
    }

    /// Answers `request`: strips a `/v1.NN` prefix (refusing versions out of range), finds
    /// the route, runs it and turns what it throws into Docker's JSON error.
    public func handle(_ request: HTTPRequest, _ writer: ResponseWriter) {
        writer.commonHeaders = [("Api-Version", APIVersion.current.description), ("Docker-Experimental", "false"),
                                ("Ostype", "linux"), ("Server", "kujirad/\(Daemon.version) (linux)")]
        var parts = request.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        var version = APIVersion.current
        do {
            if let first = parts.first, first.hasPrefix("v"), let given = APIVersion(first.dropFirst()) {
                guard given <= APIVersion.current else {
                    throw APIError(400, "client version \(given) is too new. Maximum supported API version is \(APIVersion.current)")
                }
                guard given >= APIVersion.minimum else {
                    throw APIError(400, "client version \(given) is too old. Minimum supported API version is \(APIVersion.minimum), please upgrade your client to a newer version")
                }
                version = given
                parts.removeFirst()
            }
            if parts.last == "" && parts.count > 1 { parts.removeLast() }
            var pathMatched = false
            for route in routes {
                guard let parameters = Self.match(route.segments, parts) else { continue }
                pathMatched = true
                guard route.method == request.method || (route.method == "GET" && request.method == "HEAD") else { continue }
                try route.handler(RouteRequest(http: request, parameters: parameters, apiVersion: version), writer)
                if writer.streaming { try writer.finish() }
                if !writer.headSent { try writer.send(status: 204) }
                return
            }
            if pathMatched {
                throw APIError(405, "method \(request.method) is not allowed for \(request.path)")
            }
            throw APIError(404, "page not found")
        } catch {
            let failure = APIError.from(error)
            if !writer.headSent {
                try? writer.sendJSON(status: failure.status, ["message": failure.message])
            } else if writer.streaming {
                // A stream that already started reports the error in-band, as dockerd does.
                try? writer.writeJSONLine(["errorDetail": ["message": failure.message], "error": failure.message])
                try? writer.finish()
            } else {
                writer.keepAlive = false
            }
        }
    }
}
