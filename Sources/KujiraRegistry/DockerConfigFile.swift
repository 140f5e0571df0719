import CKujiraSys
import Foundation
import Glibc

/// Docker's client configuration file, `~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`),
/// as far as registry credentials go:
///
/// ```json
/// { "auths": { "ghcr.io": { "auth": "base64(user:password)" },
///              "https://index.docker.io/v1/": { "identitytoken": "…" } },
///   "credHelpers": { "123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login" },
///   "credsStore": "pass" }
/// ```
///
/// Writing keeps every other key of the file as it was, and replaces the file atomically
/// with mode 0600.
public struct DockerConfigFile: Sendable {
    /// The file's path.
    public let path: String
    /// The `auths` entries: registry key as written → base64 `auth` (and `identitytoken`).
    public private(set) var auths: [String: AuthEntry]
    /// Credential helpers by registry key (`docker-credential-NAME`).
    public private(set) var credHelpers: [String: String]
    /// The default credential helper for registries without a `credHelpers` entry.
    public private(set) var credsStore: String?
    /// The raw JSON, for keeping unknown keys when writing.
    private var raw: [UInt8]

    /// One `auths` entry.
    public struct AuthEntry: Sendable, Hashable, Codable {
        /// base64 of `user:password`.
        public var auth: String?
        /// An OAuth2 refresh token.
        public var identitytoken: String?
        /// Creates an entry.
        public init(auth: String? = nil, identitytoken: String? = nil) {
            self.auth = auth
            self.identitytoken = identitytoken
        }
    }

    private struct Known: Decodable {
        var auths: [String: AuthEntry]?
        var credHelpers: [String: String]?
        var credsStore: String?
    }

    /// The default path: `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`, read
    /// from `environment` (nil: the process environment).
    public static func defaultPath(environment: [String: String]? = nil) -> String {
        let environment = environment ?? ProcessInfo.processInfo.environment
        if let dir = environment["DOCKER_CONFIG"], !dir.isEmpty { return "\(dir)/config.json" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return "\(home)/.docker/config.json"
    }

    /// Reads the file; a missing file is an empty configuration.
    /// - Throws: ``RegistryError`` `.credentials` when it cannot be read or is not JSON.
    public init(path: String) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) {
                throw RegistryError(.credentials, "cannot read \(path); check its permissions")
            }
            raw = []
            auths = [:]
            credHelpers = [:]
            return
        }
        raw = Array(data)
        do {
            let known = try JSONDecoder().decode(Known.self, from: data)
            auths = known.auths ?? [:]
            credHelpers = known.credHelpers ?? [:]
            credsStore = known.credsStore.flatMap { $0.isEmpty ? nil : $0 }
        } catch {
            throw RegistryError(.credentials, "\(path) is not a valid Docker config file: \(error); fix or remove it", cause: error)
        }
    }

    /// The key a registry host is stored under: Docker Hub's legacy URL for `docker.io`,
    /// the host otherwise.
    public static func key(for registry: String) -> String {
        let host = normalize(registry)
        return host == "docker.io" ? "https://index.docker.io/v1/" : host
    }

    /// Reduces a key as found in files (`https://host/v1/`, `http://host`, `host`) to the
    /// bare host, with Docker Hub's spellings all becoming `docker.io`.
    public static func normalize(_ key: String) -> String {
        var host = Substring(key)
        if let range = host.range(of: "://") { host = host[range.upperBound...] }
        if let slash = host.firstIndex(of: "/") { host = host[..<slash] }
        let lower = host.lowercased()
        switch lower {
        case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com", "docker.io": return "docker.io"
        default: return lower
        }
    }

    /// The `auths` entry for `registry` (`host[:port]`, or `docker.io`), whatever spelling the
    /// file uses for it.
    public func authEntry(for registry: String) -> AuthEntry? {
        let wanted = Self.normalize(registry)
        if let exact = auths[Self.key(for: registry)] { return exact }
        return auths.first { Self.normalize($0.key) == wanted }?.value
    }

    /// The credential helper for `registry`: its `credHelpers` entry, else `credsStore`.
    public func helper(for registry: String) -> String? {
        let wanted = Self.normalize(registry)
        if let helper = credHelpers.first(where: { Self.normalize($0.key) == wanted })?.value { return helper }
        return credsStore
    }

    /// Decodes an `auths` entry into credentials.
    /// - Throws: ``RegistryError`` `.credentials` for an `auth` field that is not base64 of
    ///   `user:password`.
    public func credentials(in entry: AuthEntry, registry: String) throws -> Credentials? {
        if let token = entry.identitytoken, !token.isEmpty {
            return Credentials(username: "", password: "", identityToken: token)
        }
        guard let auth = entry.auth, !auth.isEmpty else { return nil }
        guard let decoded = Base64.decode(auth), let text = String(bytes: decoded, encoding: .utf8),
              let colon = text.firstIndex(of: ":")
        else {
            throw RegistryError(.credentials, "the auth entry for \(registry) in \(path) is not base64 of user:password; run kujira login \(registry) again")
        }
        return Credentials(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
    }

    /// Sets (or with nil removes) the `auths` entry for `registry`, removing other spellings
    /// of the same host, and writes the file.
    public mutating func setAuth(_ credentials: Credentials?, for registry: String) throws {
        let wanted = Self.normalize(registry)
        for key in auths.keys where Self.normalize(key) == wanted { auths[key] = nil }
        if let credentials {
            auths[Self.key(for: registry)] = AuthEntry(auth: Base64.encode(Array("\(credentials.username):\(credentials.password)".utf8)))
        }
        try write()
    }

    /// Writes `auths` into the file, keeping all other keys.
    private mutating func write() throws {
        var object: [String: Any] = [:]
        if !raw.isEmpty, let parsed = try? JSONSerialization.jsonObject(with: Data(raw)) as? [String: Any] {
            object = parsed
        }
        var authObject: [String: Any] = [:]
        for (key, entry) in auths {
            var fields: [String: String] = [:]
            fields["auth"] = entry.auth
            fields["identitytoken"] = entry.identitytoken
            authObject[key] = fields
        }
        object["auths"] = authObject
        do {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            let directory = (path as NSString).deletingLastPathComponent
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let bytes = Array(data) + [0x0A]
            var stage: Int32 = 0
            let code = bytes.withUnsafeBytes {
                kujira_write_file_atomically(AT_FDCWD, path, $0.baseAddress, $0.count, 0o600, KUJIRA_ATOMIC_SYNC_FILE, &stage)
            }
            if code != 0 {
                throw RegistryError(.credentials, "\(String(cString: kujira_atomic_stage_name(stage))) \(path) failed: \(String(cString: strerror(code)))")
            }
            raw = bytes
        } catch let error as RegistryError {
            throw error
        } catch {
            throw RegistryError(.credentials, "cannot write \(path): \(error)", cause: error)
        }
    }
}
