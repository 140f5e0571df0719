import Foundation
import Glibc

/// What the client knows about authenticating to each registry host: the challenge it last
/// got (so later requests authenticate up front instead of collecting a 401 each), and the
/// bearer tokens it holds, per scope, until they expire.
struct AuthState: Sendable {
    /// The challenge per registry host.
    var challenges: [String: AuthChallenge] = [:]
    /// Tokens by `host|scope scope…`.
    var tokens: [String: CachedToken] = [:]
    /// Credentials per registry domain, looked up once.
    var credentials: [String: Credentials?] = [:]

    struct CachedToken: Sendable {
        var value: String
        /// Monotonic seconds after which the token is not used.
        var expires: Double
    }
}

/// Monotonic seconds, for token lifetimes.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

extension RegistryClient {
    /// The `Authorization` value for a request to `host` needing `scopes`, when the host is
    /// known to want one: Basic with the stored credentials, or a cached (or freshly fetched)
    /// bearer token for exactly these scopes.
    func authorizationHeader(host: String, scopes: [String], display: String) throws -> (value: String, usedCredentials: Bool)? {
        guard let challenge = auth.withLock({ $0.challenges[host] }) else { return nil }
        let credentials = try self.credentials(for: display)
        switch challenge.scheme {
        case "basic":
            guard let credentials, credentials.identityToken == nil else { return nil }
            return ("Basic " + Base64.encode(Array("\(credentials.username):\(credentials.password)".utf8)), true)
        case "bearer":
            let key = "\(host)|\(scopes.sorted().joined(separator: " "))"
            let now = monotonicSeconds()
            if let cached = auth.withLock({ $0.tokens[key] }), cached.expires > now {
                return ("Bearer " + cached.value, credentials != nil)
            }
            let token = try fetchToken(challenge, scopes: scopes, credentials: credentials, display: display)
            auth.withLock { $0.tokens[key] = token }
            return ("Bearer " + token.value, credentials != nil)
        default:
            return nil
        }
    }

    /// Records the challenges of a 401 for `host`, dropping the tokens that failed, so that the
    /// retried request authenticates afresh.
    func learn(_ challenges: [AuthChallenge], host: String, scopes: [String], display: String) throws {
        guard let chosen = challenges.first(where: { $0.scheme == "bearer" }) ?? challenges.first(where: { $0.scheme == "basic" }) else {
            let schemes = challenges.map(\.scheme).joined(separator: ", ")
            throw RegistryError(.unauthorized, "unauthorized: \(display) asks for authentication scheme \(schemes), which Kujira does not support (only Basic and Bearer)", httpStatus: 401)
        }
        if chosen.scheme == "bearer", chosen.realm == nil {
            throw RegistryError(.protocolError, "\(display) sent a Bearer challenge without a realm; cannot ask for a token", httpStatus: 401)
        }
        let key = "\(host)|\(scopes.sorted().joined(separator: " "))"
        auth.withLock { state in
            state.challenges[host] = chosen
            state.tokens[key] = nil
        }
    }

    /// The credentials for a registry domain, read once per client.
    func credentials(for registry: String) throws -> Credentials? {
        if let known = auth.withLock({ $0.credentials[registry] }) { return known }
        let found = try credentialResolver.credentials(for: registry)
        auth.withLock { $0.credentials[registry] = .some(found) }
        return found
    }

    private struct TokenAnswer: Decodable {
        var token: String?
        var access_token: String?
        var expires_in: Int?
    }

    /// Asks the challenge's realm for a token: `GET realm?service=…&scope=…` with Basic
    /// credentials when there are any, or the OAuth2 refresh-token grant (`POST`) for an
    /// identity token (distribution's token.md and oauth.md).
    func fetchToken(_ challenge: AuthChallenge, scopes: [String], credentials: Credentials?, display: String) throws -> AuthState.CachedToken {
        guard let realm = challenge.realm, let realmURL = HTTPURL(string: realm) else {
            throw RegistryError(.protocolError, "\(display) sent a Bearer challenge whose realm \"\(challenge.realm ?? "")\" is not an http(s) URL")
        }
        var request: HTTPRequest
        if let identityToken = credentials?.identityToken {
            var form: [(String, String)] = [("grant_type", "refresh_token"), ("refresh_token", identityToken), ("client_id", "kujira")]
            if let service = challenge.service { form.append(("service", service)) }
            if !scopes.isEmpty { form.append(("scope", scopes.joined(separator: " "))) }
            let body = form.map { "\(HTTPURL.percentEncode($0.0))=\(HTTPURL.percentEncode($0.1))" }.joined(separator: "&")
            request = HTTPRequest(method: "POST", url: realmURL, headers: ["Content-Type": "application/x-www-form-urlencoded"], body: .bytes(Array(body.utf8)))
        } else {
            var query: [(String, String)] = []
            if let service = challenge.service { query.append(("service", service)) }
            for scope in scopes { query.append(("scope", scope)) }
            if let credentials, !credentials.username.isEmpty { query.append(("account", credentials.username)) }
            request = HTTPRequest(method: "GET", url: realmURL.appendingQuery(query))
            if let credentials {
                request.headers.set("Authorization", "Basic " + Base64.encode(Array("\(credentials.username):\(credentials.password)".utf8)))
            }
        }
        var attempt = 0
        while true {
            attempt += 1
            let response: HTTPResponse
            do {
                response = try http.send(request)
            } catch let error as RegistryError where error.isTransient && attempt < configuration.maximumAttempts {
                try backoff(attempt: attempt, retryAfter: nil, cancellation: nil)
                continue
            } catch let error as RegistryError {
                throw RegistryError(error.code, "cannot get a token for \(display) from \(realmURL.authority): \(error.message)", cause: error)
            }
            if response.status >= 500 && attempt < configuration.maximumAttempts {
                try backoff(attempt: attempt, retryAfter: nil, cancellation: nil)
                continue
            }
            switch response.status {
            case 200:
                guard let answer = try? JSONDecoder().decode(TokenAnswer.self, from: Data(response.body)),
                      let token = answer.token ?? answer.access_token, !token.isEmpty
                else {
                    throw RegistryError(.protocolError, "the token server \(realmURL.authority) for \(display) answered without a token")
                }
                // token.md: at least 60 s when absent; keep a margin for clock and transit.
                let lifetime = Double(max(answer.expires_in ?? 60, 60))
                return AuthState.CachedToken(value: token, expires: monotonicSeconds() + lifetime - 10)
            case 401, 403:
                if credentials != nil {
                    throw RegistryError(.unauthorized, "unauthorized: \(display) rejected the credentials (wrong user name or password?) — run kujira login \(display)", httpStatus: response.status)
                }
                throw RegistryError(.unauthorized, "unauthorized: \(display) requires authentication for \(scopes.joined(separator: " ")) — run kujira login \(display)", httpStatus: response.status)
            default:
                throw RegistryError(.protocolError, "the token server \(realmURL.authority) for \(display) answered HTTP \(response.status) \(response.head.reason)", httpStatus: response.status)
            }
        }
    }

    /// Checks `username` and `password` against `registry` (`host[:port]`, or `docker.io`)
    /// by authenticating to `/v2/`, then saves them where Docker would: the registry's
    /// credential helper, or `config.json`'s `auths`.
    /// - Throws: ``RegistryError`` `.unauthorized` naming the registry when they are wrong;
    ///   nothing is saved then.
    public func login(registry: String, username: String, password: String) async throws {
        let domain = DockerConfigFile.normalize(registry) == "docker.io" ? "docker.io" : registry
        let credentials = Credentials(username: username, password: password)
        try await blocking { _ in
            try self.verify(credentials, domain: domain)
            try self.credentialResolver.save(credentials, for: domain)
            self.auth.withLock { $0.credentials[domain] = .some(credentials) }
        }
    }

    /// Removes the saved credentials for `registry`.
    /// - Throws: ``RegistryError`` `.credentials` when there were none.
    public func logout(registry: String) async throws {
        let domain = DockerConfigFile.normalize(registry) == "docker.io" ? "docker.io" : registry
        try await blocking { _ in
            try self.credentialResolver.save(nil, for: domain)
            self.auth.withLock { $0.credentials[domain] = nil }
        }
    }

    private func verify(_ credentials: Credentials, domain: String) throws {
        let host = RegistryConfiguration.registryHost(for: domain)
        let base = try baseURL(for: host, display: domain)
        let ping = base.resolving("/v2/") ?? base
        let first = try http.send(HTTPRequest(method: "GET", url: ping))
        guard first.status == 401 else {
            if first.status == 200 { return }  // open registry: anything goes
            throw RegistryError(.protocolError, "\(domain) answered HTTP \(first.status) to /v2/; is it a registry?", httpStatus: first.status)
        }
        let challenges = AuthChallenge.parse(first.headers.values(for: "WWW-Authenticate"))
        var request = HTTPRequest(method: "GET", url: ping)
        if let bearer = challenges.first(where: { $0.scheme == "bearer" }) {
            let token = try fetchToken(bearer, scopes: [], credentials: credentials, display: domain)
            request.headers.set("Authorization", "Bearer " + token.value)
        } else if challenges.contains(where: { $0.scheme == "basic" }) {
            request.headers.set("Authorization", "Basic " + Base64.encode(Array("\(credentials.username):\(credentials.password)".utf8)))
        } else {
            throw RegistryError(.unauthorized, "unauthorized: \(domain) asks for an authentication scheme Kujira does not support", httpStatus: 401)
        }
        let second = try http.send(request)
        guard second.status == 200 else {
            throw RegistryError(.unauthorized, "unauthorized: \(domain) rejected the credentials for \(credentials.username) (wrong user name or password?)", httpStatus: second.status)
        }
    }
}
