import KujiraOCI

/// How a ``RegistryClient`` reaches registries: which ones may use plain HTTP or
/// unverified TLS, mirrors, TLS files, where credentials come from, and how much it does
/// at once.
///
/// ```swift
/// var configuration = RegistryConfiguration()
/// configuration.insecureHosts = ["registry.test:5000"]
/// configuration.mirrors["docker.io"] = ["mirror.example.com"]
/// let client = RegistryClient(configuration: configuration)
/// ```
public struct RegistryConfiguration: Sendable {
    /// Registries (`host` or `host:port`) that may be reached over plain HTTP, and whose TLS
    /// certificates are not verified. As with Docker, `localhost`, `127.0.0.0/8` and `::1`
    /// are always treated so (see ``treatLoopbackAsInsecure``).
    public var insecureHosts: Set<String> = []
    /// Whether loopback registries are insecure by default, as Docker does.
    public var treatLoopbackAsInsecure = true
    /// `false` turns off certificate verification (and allows plain HTTP) for every
    /// registry: `--tls-verify=false`.
    public var tlsVerify = true
    /// Mirrors to try first when pulling, by registry domain as references spell it
    /// (`docker.io`): hosts such as `mirror.gcr.io` or `localhost:5001`. A mirror that
    /// fails or lacks the image is skipped; the registry itself is tried last.
    public var mirrors: [String: [String]] = [:]
    /// Per-host TLS files: `DIR/HOST[:PORT]/*.crt` are trusted CAs, `DIR/HOST[:PORT]/NAME.cert`
    /// with `NAME.key` a client certificate. Docker's location by default.
    public var certsDirectory: String? = "/etc/docker/certs.d"
    /// Where credentials come from.
    public var credentials: CredentialSource = .dockerConfig(path: nil)
    /// Blobs downloaded at once per pull (Docker's default is 3).
    public var maximumConcurrentDownloads = 4
    /// Blobs uploaded at once per push (Docker's default is 5).
    public var maximumConcurrentUploads = 5
    /// Attempts for a request that fails transiently (network, 5xx, 429), backing off
    /// exponentially between them; a broken blob download resumes where it stopped.
    public var maximumAttempts = 5
    /// The delay before the first retry, in seconds; it doubles up to 10 s.
    public var initialBackoff = 0.25
    /// When set, blobs larger than this are uploaded in `PATCH` chunks of (at least) this
    /// many bytes; the registry's `OCI-Chunk-Min-Length` raises it. When nil, blobs are
    /// uploaded with one `PUT`.
    public var uploadChunkSize: Int?
    /// Seconds to wait for a TCP connection.
    public var connectTimeout = 30.0
    /// Seconds a single send or receive may block.
    public var ioTimeout = 120.0
    /// Environment consulted for `HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` and `DOCKER_CONFIG`.
    public var environment: [String: String] = [:]

    /// Creates the default configuration: Docker's certs directory and `config.json`,
    /// loopback registries insecure, no mirrors.
    public init() {}

    /// Whether `authority` (`host[:port]`) may use plain HTTP and unverified TLS.
    public func isInsecure(_ authority: String) -> Bool {
        if !tlsVerify || insecureHosts.contains(authority) { return true }
        guard let (host, _) = HTTPURL.splitAuthority(authority) else { return false }
        if insecureHosts.contains(host) { return true }
        guard treatLoopbackAsInsecure else { return false }
        return host == "localhost" || host.hasPrefix("127.") || host == "::1"
    }

    /// The host to contact for a reference's domain: `docker.io` is served by
    /// `registry-1.docker.io`.
    public static func registryHost(for domain: String) -> String {
        domain == Reference.defaultDomain ? "registry-1.docker.io" : domain
    }
}

/// Where a ``RegistryClient`` finds credentials.
public enum CredentialSource: Sendable {
    /// No credentials: anonymous access only.
    case anonymous
    /// Docker's `config.json` (nil: `$DOCKER_CONFIG/config.json`, else
    /// `~/.docker/config.json`), with its `credHelpers` and `credsStore`.
    case dockerConfig(path: String?)
    /// Fixed credentials by registry host (`host[:port]`), for embedding programs.
    case fixed([String: Credentials])
}

/// A user name and secret for a registry.
public struct Credentials: Sendable, Hashable {
    /// The user name; empty for an identity token.
    public var username: String
    /// The password or access token.
    public var password: String
    /// An OAuth2 refresh token (`config.json`'s `identitytoken`, or a helper's answer with
    /// user name `<token>`), exchanged at the token endpoint instead of user and password.
    public var identityToken: String?

    /// Creates credentials.
    public init(username: String, password: String, identityToken: String? = nil) {
        self.username = username
        self.password = password
        self.identityToken = identityToken
    }
}
