import Foundation
import KujiraOCI
import Synchronization

/// A client of the OCI distribution API (and Docker's registry v2): pull, push, resolve,
/// referrers and login against Docker Hub, GHCR, Quay, ECR or any registry you run.
///
/// ```swift
/// let client = RegistryClient()
/// let store = try ImageStore(root: "/var/lib/kujira")
/// let image = try await client.pull(try Reference(parsing: "busybox"), into: store) { event in
///     print(event)
/// }
/// try await client.push(image.name, from: store, to: try Reference(parsing: "localhost:5000/me/busybox:1"))
/// ```
///
/// One client may be shared by any number of tasks: it pools connections per host and
/// caches bearer tokens per scope until they expire. Network work runs on dedicated dispatch
/// threads, never on Swift concurrency's cooperative pool.
public final class RegistryClient: Sendable {
    /// The configuration.
    public let configuration: RegistryConfiguration
    /// The HTTP client used for registry traffic.
    public let http: HTTPClient
    let credentialResolver: CredentialResolver
    let auth = Mutex(AuthState())
    /// `https` or `http` per registry host, found on first contact.
    let schemes = Mutex<[String: String]>([:])
    /// Repositories (`host/path`) known to hold a blob, for cross-repository mounts.
    let blobLocations = Mutex<[Digest: Set<String>]>([:])

    /// Creates a client.
    public init(configuration: RegistryConfiguration = RegistryConfiguration()) {
        self.configuration = configuration
        var options = HTTPClient.Options()
        options.connectTimeout = configuration.connectTimeout
        options.ioTimeout = configuration.ioTimeout
        options.certsDirectory = configuration.certsDirectory
        options.environment = configuration.environment.isEmpty ? ProcessInfo.processInfo.environment : configuration.environment
        let insecure = configuration
        options.skipsVerification = { url in insecure.isInsecure(url.port == 443 ? url.host : "\(url.authority)") }
        self.http = HTTPClient(options: options)
        self.credentialResolver = CredentialResolver(source: configuration.credentials, environment: configuration.environment)
    }

    /// A repository on a registry host, as requests address it.
    struct Repository: Sendable, Hashable {
        /// The domain as references spell it (`docker.io`, `localhost:5000`).
        var domain: String
        /// The host contacted (`registry-1.docker.io`, or a mirror).
        var host: String
        /// The repository path (`library/busybox`).
        var path: String

        init(_ reference: Reference, host: String? = nil) {
            domain = reference.domain
            self.host = host ?? RegistryConfiguration.registryHost(for: reference.domain)
            path = reference.path
        }

        /// `domain/path`, for messages.
        var display: String { "\(domain)/\(path)" }
        /// `host/path`, for the blob location cache.
        var location: String { "\(host)/\(path)" }
    }

    // MARK: - Requests

    /// Sends one registry request with authentication, retries and error mapping.
    ///
    /// - Parameters:
    ///   - accept: statuses that count as success and are returned; anything else is
    ///     turned into a ``RegistryError`` (after retries for 429 and 5xx).
    ///   - actions: the repository actions a bearer token must grant (`pull`, `push`).
    ///   - extraScopes: more token scopes (the source repository of a mount).
    ///   - sink: streams the body of an accepted response (see ``HTTPClient/send(_:followRedirects:collectLimit:sink:)``).
    ///     Streaming requests are not retried here once bytes flowed: the caller resumes.
    ///   - what: what is being fetched, for messages (`manifest latest`, `blob sha256:…`).
    func perform(
        _ method: String, _ repository: Repository, path: String? = nil, url: HTTPURL? = nil,
        query: [(String, String)] = [], headers: HTTPHeaders = HTTPHeaders(), body: HTTPRequestBody = .none,
        accept: Set<Int>, actions: [String] = ["pull"], extraScopes: [String] = [], what: String,
        cancellation: CancellationFlag? = nil,
        sink: ((HTTPResponseHead) throws -> ((UnsafeRawBufferPointer) throws -> Void)?)? = nil
    ) throws -> HTTPResponse {
        let scopes = ["repository:\(repository.path):\(actions.joined(separator: ","))"] + extraScopes
        var attempt = 0
        var refreshedAuth = false
        var sentCredentials = false
        while true {
            attempt += 1
            try cancellation?.check()
            let target: HTTPURL
            if let url {
                target = url.appendingQuery(query)
            } else {
                target = try baseURL(for: repository.host, display: repository.domain).resolving(path ?? "/v2/")?.appendingQuery(query)
                    ?? HTTPURL(scheme: "https", host: repository.host, pathAndQuery: "/v2/")
            }
            var request = HTTPRequest(method: method, url: target, headers: headers, body: body)
            if let header = try authorizationHeader(host: repository.host, scopes: scopes, display: repository.domain) {
                request.headers.set("Authorization", header.value)
                sentCredentials = header.usedCredentials
            }
            let response: HTTPResponse
            do {
                response = try http.send(request) { head in
                    guard accept.contains(head.status), let sink else { return nil }
                    return try sink(head)
                }
            } catch let error as RegistryError where error.isTransient && sink == nil && attempt < configuration.maximumAttempts {
                try backoff(attempt: attempt, retryAfter: nil, cancellation: cancellation)
                continue
            } catch let error as RegistryError {
                throw error
            } catch {
                throw RegistryError(.network, "\(method) \(what) on \(repository.display) failed: \(error)", cause: error)
            }
            if response.status == 401 && !refreshedAuth {
                refreshedAuth = true
                let challenges = AuthChallenge.parse(response.headers.values(for: "WWW-Authenticate"))
                guard !challenges.isEmpty else {
                    throw RegistryError(.unauthorized, "unauthorized: \(repository.domain) answered 401 without a WWW-Authenticate challenge for \(repository.display)", httpStatus: 401)
                }
                try learn(challenges, host: repository.host, scopes: scopes, display: repository.domain)
                continue
            }
            if accept.contains(response.status) { return response }
            let error = RegistryClient.error(for: response, repository: repository, what: what, sentCredentials: sentCredentials, actions: actions)
            if error.isTransient && attempt < configuration.maximumAttempts {
                try backoff(attempt: attempt, retryAfter: response.headers["Retry-After"].flatMap { Double($0) }, cancellation: cancellation)
                continue
            }
            throw error
        }
    }

    /// Sleeps before retry `attempt`: exponential from ``RegistryConfiguration/initialBackoff``,
    /// at most 10 s, or what `Retry-After` asked for (at most 60 s).
    func backoff(attempt: Int, retryAfter: Double?, cancellation: CancellationFlag?) throws {
        let delay = retryAfter.map { min($0, 60) } ?? min(configuration.initialBackoff * pow(2, Double(attempt - 1)), 10)
        var left = delay
        while left > 0 {
            try cancellation?.check()
            let step = min(left, 0.1)
            usleep(UInt32(step * 1_000_000))
            left -= step
        }
    }

    /// `https://host` or, for an insecure registry that does not speak TLS, `http://host`.
    func baseURL(for host: String, display: String) throws -> HTTPURL {
        let known = schemes.withLock { $0[host] }
        let (name, port) = HTTPURL.splitAuthority(host) ?? (host, nil)
        if let known { return HTTPURL(scheme: known, host: name, port: port, pathAndQuery: "/") }
        guard configuration.isInsecure(host) else {
            schemes.withLock { $0[host] = "https" }
            return HTTPURL(scheme: "https", host: name, port: port, pathAndQuery: "/")
        }
        // Docker's rule for insecure registries: try HTTPS (unverified), fall back to HTTP.
        let secure = HTTPURL(scheme: "https", host: name, port: port, pathAndQuery: "/v2/")
        var scheme = "https"
        do {
            // A plain-HTTP server may sit silently on a ClientHello: do not wait long.
            _ = try http.send(HTTPRequest(method: "GET", url: secure, timeout: 5), followRedirects: false)
        } catch let error as RegistryError where error.code == .tls || error.code == .protocolError || error.code == .network {
            if error.code == .network, error.message.contains("cannot connect") || error.message.contains("cannot resolve") { throw error }
            scheme = "http"
        }
        schemes.withLock { $0[host] = scheme }
        return HTTPURL(scheme: scheme, host: name, port: port, pathAndQuery: "/")
    }

    // MARK: - Errors

    private struct ErrorBody: Decodable {
        struct Entry: Decodable {
            var code: String?
            var message: String?
        }
        var errors: [Entry]?
    }

    /// Turns an error response into a ``RegistryError``, reading the registry's error JSON
    /// (`{"errors":[{"code":"MANIFEST_UNKNOWN","message":…}]}`) when there is one.
    static func error(for response: HTTPResponse, repository: Repository, what: String, sentCredentials: Bool, actions: [String]) -> RegistryError {
        let entries = (try? JSONDecoder().decode(ErrorBody.self, from: Data(response.body)))?.errors ?? []
        let registryCode = entries.first?.code?.uppercased()
        let registryMessage = entries.compactMap(\.message).filter { !$0.isEmpty }.joined(separator: "; ")
        let said = registryMessage.isEmpty ? "" : " (the registry said: \(registryMessage))"
        let status = response.status
        let name = repository.display
        let domain = repository.domain
        func make(_ code: RegistryError.Code, _ text: String) -> RegistryError {
            RegistryError(code, text, httpStatus: status)
        }
        switch registryCode {
        case "UNAUTHORIZED"?: break
        case "DENIED"?:
            return make(.denied, "denied: \(domain) does not allow you to \(actions.joined(separator: " and ")) \(name)\(said); check the repository name and that your account has access")
        case "MANIFEST_UNKNOWN"?:
            return make(.manifestUnknown, "manifest unknown: \(name) has no \(what)\(said); check the tag or digest")
        case "NAME_UNKNOWN"?:
            return make(.nameUnknown, "name unknown: repository \(repository.path) does not exist on \(domain)\(said); check the name")
        case "BLOB_UNKNOWN"?:
            return make(.blobUnknown, "blob unknown: \(name) has no \(what)\(said)")
        case "TOOMANYREQUESTS"?:
            return make(.tooManyRequests, "toomanyrequests: \(domain) is rate-limiting requests\(said); wait and retry, or log in with kujira login \(domain)")
        case "UNSUPPORTED"?:
            return make(.unsupported, "unsupported: \(domain) does not support this operation on \(what)\(said)")
        case "DIGEST_INVALID"?:
            return make(.digestMismatch, "digest invalid: \(domain) says the content uploaded for \(what) to \(name) does not match its digest\(said)")
        case let code? where !code.isEmpty && status != 401 && status != 404 && status < 500:
            return make(.invalid, "\(code.lowercased()): \(domain) rejected \(what) for \(name)\(said)")
        default: break
        }
        switch status {
        case 401:
            if sentCredentials {
                return make(.unauthorized, "unauthorized: \(domain) rejected the credentials for \(name) (wrong user name or password?)\(said) — run kujira login \(domain)")
            }
            return make(.unauthorized, "unauthorized: authentication required for \(name)\(said) — run kujira login \(domain)")
        case 403:
            return make(.denied, "denied: \(domain) does not allow you to \(actions.joined(separator: " and ")) \(name)\(said); check the repository name and that your account has access")
        case 404:
            if what.hasPrefix("blob") { return make(.blobUnknown, "blob unknown: \(name) has no \(what)\(said)") }
            if what.hasPrefix("manifest") || what.hasPrefix("tag") {
                return make(.manifestUnknown, "manifest unknown: \(name) has no \(what)\(said); check the tag or digest")
            }
            return make(.nameUnknown, "not found: \(what) on \(name)\(said)")
        case 405:
            return make(.unsupported, "unsupported: \(domain) does not allow this request for \(what) on \(name)\(said)")
        case 429:
            return make(.tooManyRequests, "toomanyrequests: \(domain) is rate-limiting requests\(said); wait and retry, or log in with kujira login \(domain)")
        case 500...599:
            return make(.serverError, "\(domain) failed with HTTP \(status) \(response.head.reason) for \(what) on \(name)\(said); the registry has a problem, try again later")
        default:
            return make(.protocolError, "\(domain) answered HTTP \(status) \(response.head.reason) for \(what) on \(name)\(said)")
        }
    }
}

/// A flag that lets blocking work notice that its task was cancelled.
final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    func cancel() { flag.store(true, ordering: .relaxed) }

    var isCancelled: Bool { flag.load(ordering: .relaxed) }

    func check() throws {
        if isCancelled { throw RegistryError(.cancelled, "the operation was cancelled") }
    }
}

extension RegistryClient {
    /// Runs blocking work on the HTTP client's threads, passing a flag that is raised when the
    /// calling task is cancelled.
    func blocking<T: Sendable>(_ body: @escaping @Sendable (CancellationFlag) throws -> T) async throws -> T {
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await HTTPClient.offload { try body(flag) }
        } onCancel: {
            flag.cancel()
        }
    }

    /// Runs `work` for every item with at most `limit` at once; the first error cancels the rest.
    static func forEach<Item: Sendable>(_ items: [Item], limit: Int, _ work: @escaping @Sendable (Item) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var running = 0
            for item in items {
                if running >= max(1, limit) {
                    try await group.next()
                    running -= 1
                }
                group.addTask { try await work(item) }
                running += 1
            }
            try await group.waitForAll()
        }
    }

    /// Remembers that `repository` holds `digest`, for later cross-repository mounts.
    func noteLocation(_ digest: Digest, _ repository: Repository) {
        blobLocations.withLock { _ = $0[digest, default: []].insert(repository.location) }
    }
}
