import Dispatch
import Glibc
import Synchronization

/// Kujira's small HTTP/1.1 client: what registry traffic needs and nothing more.
///
/// Why not URLSession or AsyncHTTPClient: FoundationNetworking on Linux cannot take a CA
/// per request (registries have per-host CAs in `/etc/docker/certs.d`), and SwiftNIO would
/// add minutes to every build for a handful of request shapes. See Docs/registry.md.
///
/// - Sockets are `SOCK_CLOEXEC`, connected non-blockingly with a timeout, via `getaddrinfo`
///   (IPv6 and IPv4); TLS is OpenSSL's libssl with SNI and hostname verification.
/// - Bodies are framed by `Content-Length` or chunked coding; response bodies are streamed
///   into a sink, never buffered whole unless asked for.
/// - Keep-alive connections are pooled per scheme, host and port.
/// - Redirects (301, 302, 303, 307, 308) are followed; `Authorization` is dropped when the
///   host changes (blob downloads commonly redirect to a storage host).
/// - `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` are honoured (CONNECT for https); loopback
///   hosts never go through a proxy.
///
/// The blocking calls (``send(_:sink:)``) must run off the cooperative pool: use
/// ``offload(_:)``, which runs them on a dispatch queue.
public final class HTTPClient: Sendable {
    /// Settings of the client.
    public struct Options: Sendable {
        /// Seconds to wait for a TCP connection.
        public var connectTimeout: Double = 30
        /// Seconds a single send or receive may block.
        public var ioTimeout: Double = 120
        /// Directory of per-host TLS files (`HOST[:PORT]/ca.crt`, `client.cert`, `client.key`).
        public var certsDirectory: String? = "/etc/docker/certs.d"
        /// Decides, per URL, that the server's certificate is not verified (insecure
        /// registries, `--tls-verify=false`). Verifies everything by default.
        public var skipsVerification: @Sendable (HTTPURL) -> Bool = { _ in false }
        /// Idle connections kept per host.
        public var maximumIdlePerHost = 8
        /// Environment for proxy settings (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`, either case).
        public var environment: [String: String] = [:]
        /// Creates default options.
        public init() {}
    }

    /// The options.
    public let options: Options
    private let pool = Mutex<[String: [HTTPConnection]]>([:])
    private let tls: TLSContextCache
    private let proxies: ProxySettings

    /// The queue blocking socket work runs on (never the cooperative pool).
    static let workQueue = DispatchQueue(label: "kujira.registry.http", qos: .userInitiated, attributes: .concurrent)

    /// Creates a client. SIGPIPE is ignored process-wide from now on: a peer closing a TLS
    /// connection mid-write would otherwise kill the program (OpenSSL writes with write(2)).
    public init(options: Options = Options()) {
        self.options = options
        self.tls = TLSContextCache(certsDirectory: options.certsDirectory)
        self.proxies = ProxySettings(environment: options.environment)
        _ = HTTPClient.ignoreSIGPIPE
    }

    private static let ignoreSIGPIPE: Bool = {
        signal(SIGPIPE, SIG_IGN)
        return true
    }()

    /// Runs blocking work on the client's dispatch queue and awaits its result.
    public static func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            workQueue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Sends `request`, following redirects, and returns the final response.
    ///
    /// - Parameters:
    ///   - sink: called with the final response's head; return a function that receives the
    ///     body in pieces to stream it, or nil to collect the body into ``HTTPResponse/body``
    ///     (at most `collectLimit` bytes). Redirect bodies are always discarded.
    /// - Throws: ``RegistryError`` `.network`, `.tls`, `.protocolError`, or what the sink throws.
    ///   When streaming fails midway, the sink has received exactly the bytes that arrived.
    public func send(
        _ request: HTTPRequest,
        followRedirects: Bool = true,
        collectLimit: Int = 16 << 20,
        sink: (HTTPResponseHead) throws -> ((UnsafeRawBufferPointer) throws -> Void)? = { _ in nil }
    ) throws -> HTTPResponse {
        var current = request
        for _ in 0..<10 {
            let isRedirect: (HTTPResponseHead) -> Bool = { head in
                followRedirects && [301, 302, 303, 307, 308].contains(head.status) && head.headers["Location"] != nil
            }
            var response = try sendOnce(current, collectLimit: collectLimit) { head in
                isRedirect(head) ? nil : try sink(head)
            }
            guard isRedirect(response.head), let location = response.headers["Location"],
                  let next = current.url.resolving(location)
            else {
                response.url = current.url
                return response
            }
            if next.host != current.url.host || next.port != current.url.port || next.scheme != current.url.scheme {
                current.headers.remove("Authorization")
            }
            if response.status == 303 || ((response.status == 301 || response.status == 302) && current.method == "POST") {
                current.method = "GET"
                current.body = .none
                current.headers.remove("Content-Type")
            }
            current.url = next
        }
        throw RegistryError(.protocolError, "too many redirects for \(request.method) \(request.url)")
    }

    /// One request/response exchange on a pooled or new connection. A reused connection the
    /// server closed while idle is replaced once, transparently.
    private func sendOnce(
        _ request: HTTPRequest, collectLimit: Int,
        sink: (HTTPResponseHead) throws -> ((UnsafeRawBufferPointer) throws -> Void)?
    ) throws -> HTTPResponse {
        var attempt = 0
        while true {
            attempt += 1
            let (connection, reused) = try checkout(request.url, timeout: request.timeout)
            var gotHead = false
            do {
                if let timeout = request.timeout, reused { connection.setIOTimeout(timeout) }
                defer { if request.timeout != nil { connection.setIOTimeout(options.ioTimeout) } }
                try write(request, on: connection)
                let head = try readHead(connection)
                gotHead = true
                let framing = try HTTPResponseParser.framing(of: head, method: request.method)
                var collected = [UInt8]()
                let streaming = try sink(head)
                try readBody(connection, framing: framing) { piece in
                    if let streaming {
                        try streaming(piece)
                    } else {
                        guard collected.count + piece.count <= collectLimit else {
                            throw RegistryError(.protocolError, "the response from \(request.url.authority) to \(request.method) \(request.url.pathAndQuery) is larger than \(collectLimit) bytes")
                        }
                        collected.append(contentsOf: piece)
                    }
                }
                let closes = head.headers["Connection"]?.lowercased().contains("close") == true
                    || (head.minorVersion == 0 && head.headers["Connection"]?.lowercased() != "keep-alive")
                    || framing == .untilClose
                if closes { connection.close() } else { checkin(connection) }
                return HTTPResponse(head: head, body: collected, url: request.url)
            } catch let error as RegistryError where reused && !gotHead && attempt == 1 && error.code == .network {
                // The server closed an idle keep-alive connection: retry on a fresh one.
                connection.close()
                continue
            } catch {
                connection.close()
                throw error
            }
        }
    }

    private func write(_ request: HTTPRequest, on connection: HTTPConnection) throws {
        var head = "\(request.method) "
        let proxied = !request.url.isTLS && proxies.proxy(for: request.url) != nil
        head += proxied ? request.url.description : request.url.pathAndQuery
        head += " HTTP/1.1\r\nHost: \(request.url.authority)\r\n"
        var headers = request.headers
        if headers["User-Agent"] == nil { headers.set("User-Agent", "kujira/0.1") }
        if request.body != .none || ["POST", "PUT", "PATCH"].contains(request.method) {
            headers.set("Content-Length", String(request.body.length))
        }
        for field in headers where field.name.lowercased() != "host" {
            head += "\(field.name): \(field.value)\r\n"
        }
        head += "\r\n"
        connection.requestCount += 1
        var bytes = Array(head.utf8)
        if case .bytes(let body) = request.body, body.count <= 64 * 1024 {
            bytes += body
            try bytes.withUnsafeBytes { try connection.write($0) }
            return
        }
        try bytes.withUnsafeBytes { try connection.write($0) }
        switch request.body {
        case .none: break
        case .bytes(let body): try body.withUnsafeBytes { try connection.write($0) }
        case .file(let fd, let offset, let length):
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            var done: Int64 = 0
            while done < length {
                let want = Int(min(Int64(chunk.count), length - done))
                let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(offset + done)) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw RegistryError(.store, "cannot read the upload body from the content store: \(n < 0 ? String(cString: strerror(errno)) : "unexpected end of file")")
                }
                try chunk.withUnsafeBytes { try connection.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                done += Int64(n)
            }
        }
    }

    private func readHead(_ connection: HTTPConnection) throws -> HTTPResponseHead {
        guard try connection.fill() else {
            throw RegistryError(.network, "the connection to \(connection.authority) was closed before a response arrived")
        }
        while true {
            if let (head, used) = try connection.withBuffered({ raw -> (HTTPResponseHead, Int)? in
                guard let end = HTTPResponseParser.headEnd(in: raw) else { return nil }
                return (try HTTPResponseParser.parseHead(raw[0..<end]), end)
            }) {
                connection.consume(used)
                if head.status == 100 { continue }  // 100 Continue: the real head follows
                return head
            }
            guard try connection.readMore() else {
                throw RegistryError(.network, "the connection to \(connection.authority) was closed in the middle of a response header")
            }
        }
    }

    private func readBody(_ connection: HTTPConnection, framing: HTTPResponseParser.Framing, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        switch framing {
        case .none:
            return
        case .length(var left):
            while left > 0 {
                guard try connection.fill() else {
                    throw RegistryError(.network, "the connection to \(connection.authority) was closed with \(left) bytes of the response body still to come")
                }
                let used = try connection.withBuffered { raw -> Int in
                    let take = Int(min(Int64(raw.count), left))
                    try emit(UnsafeRawBufferPointer(rebasing: raw[0..<take]))
                    return take
                }
                connection.consume(used)
                left -= Int64(used)
            }
        case .chunked:
            var decoder = ChunkedDecoder()
            while !decoder.isFinished {
                guard try connection.fill() else {
                    throw RegistryError(.network, "the connection to \(connection.authority) was closed in the middle of a chunked response body")
                }
                let used = try connection.withBuffered { try decoder.decode($0, emit: emit) }
                connection.consume(used)
            }
        case .untilClose:
            while try connection.fill() {
                let used = try connection.withBuffered { raw -> Int in
                    try emit(raw)
                    return raw.count
                }
                connection.consume(used)
            }
        }
    }

    // MARK: - Pool

    private func poolKey(_ url: HTTPURL) -> String {
        let verify = !isInsecure(url)
        return "\(url.scheme)://\(url.authority) \(verify)"
    }

    /// Whether certificates of `url`'s host are not verified.
    func isInsecure(_ url: HTTPURL) -> Bool {
        options.skipsVerification(url)
    }

    private func checkout(_ url: HTTPURL, timeout: Double?) throws -> (HTTPConnection, Bool) {
        let key = poolKey(url)
        while let idle = pool.withLock({ $0[key]?.popLast() }) {
            if idle.looksReusable { return (idle, true) }
            idle.close()
        }
        return (try open(url, key: key, ioTimeout: timeout ?? options.ioTimeout), false)
    }

    private func checkin(_ connection: HTTPConnection) {
        let limit = options.maximumIdlePerHost
        let dropped: HTTPConnection? = pool.withLock { pool in
            var list = pool[connection.key] ?? []
            list.append(connection)
            let extra = list.count > limit ? list.removeFirst() : nil
            pool[connection.key] = list
            return extra
        }
        dropped?.close()
    }

    private func open(_ url: HTTPURL, key: String, ioTimeout: Double) throws -> HTTPConnection {
        let connection: HTTPConnection
        if let proxy = proxies.proxy(for: url) {
            connection = try HTTPConnection.connect(key: key, host: proxy.host, port: proxy.port, timeout: options.connectTimeout, ioTimeout: ioTimeout)
            if url.isTLS { try tunnel(connection, to: url, via: proxy) }
        } else {
            connection = try HTTPConnection.connect(key: key, host: url.host, port: url.port, timeout: options.connectTimeout, ioTimeout: ioTimeout)
        }
        if url.isTLS {
            let context = try tls.context(authority: url.port == 443 ? url.host : "\(url.host):\(url.port)", verify: !isInsecure(url))
            try connection.startTLS(context, host: url.host)
        }
        return connection
    }

    private func tunnel(_ connection: HTTPConnection, to url: HTTPURL, via proxy: HTTPURL) throws {
        let target = url.host.contains(":") ? "[\(url.host)]:\(url.port)" : "\(url.host):\(url.port)"
        var request = "CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\n"
        if let credentials = proxy.userInfo { request += "Proxy-Authorization: Basic \(Base64.encode(Array(credentials.utf8)))\r\n" }
        request += "\r\n"
        try Array(request.utf8).withUnsafeBytes { try connection.write($0) }
        let head = try readHead(connection)
        guard head.status == 200 else {
            throw RegistryError(.network, "the proxy \(proxy.authority) refused to connect to \(target): HTTP \(head.status) \(head.reason)")
        }
    }
}

/// `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` (upper or lower case), as curl and Go read them.
struct ProxySettings: Sendable {
    let http: HTTPURL?
    let https: HTTPURL?
    let noProxy: [String]

    init(environment: [String: String]) {
        func value(_ name: String) -> String? {
            let found = environment[name] ?? environment[name.lowercased()]
            return found?.isEmpty == false ? found : nil
        }
        func url(_ text: String?) -> HTTPURL? {
            guard let text else { return nil }
            return HTTPURL(string: text.contains("://") ? text : "http://\(text)")
        }
        http = url(value("HTTP_PROXY"))
        https = url(value("HTTPS_PROXY"))
        noProxy = (value("NO_PROXY") ?? "").split(separator: ",").map { $0.trimmingWhitespace().lowercased() }.filter { !$0.isEmpty }
    }

    /// The proxy to use for `url`, or nil to connect directly.
    func proxy(for url: HTTPURL) -> HTTPURL? {
        guard let proxy = url.isTLS ? https : http else { return nil }
        let host = url.host.lowercased()
        if host == "localhost" || host.hasPrefix("127.") || host == "::1" { return nil }
        for entry in noProxy {
            if entry == "*" { return nil }
            var pattern = entry
            if let (entryHost, entryPort) = HTTPURL.splitAuthority(entry) {
                if let entryPort, entryPort != url.port { continue }
                pattern = entryHost
            }
            if pattern.hasPrefix(".") { pattern.removeFirst() }
            if host == pattern || host.hasSuffix("." + pattern) { return nil }
        }
        return proxy
    }
}

/// Base64 (RFC 4648) for `Authorization: Basic` and `config.json`'s `auth` field.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = bytes[index]
            let b1 = index + 1 < bytes.count ? bytes[index + 1] : 0
            let b2 = index + 2 < bytes.count ? bytes[index + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 3) << 4 | b1 >> 4)])
            out.append(index + 1 < bytes.count ? alphabet[Int((b1 & 15) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(index + 2 < bytes.count ? alphabet[Int(b2 & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes standard or URL-safe base64, with or without padding; nil when invalid.
    static func decode(_ text: String) -> [UInt8]? {
        var values = [UInt8]()
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): values.append(byte - 65)
            case UInt8(ascii: "a")...UInt8(ascii: "z"): values.append(byte - 97 + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): values.append(byte - 48 + 52)
            case UInt8(ascii: "+"), UInt8(ascii: "-"): values.append(62)
            case UInt8(ascii: "/"), UInt8(ascii: "_"): values.append(63)
            case UInt8(ascii: "="), UInt8(ascii: "\n"), UInt8(ascii: "\r"): continue
            default: return nil
            }
        }
        guard values.count % 4 != 1 else { return nil }
        var out = [UInt8]()
        var index = 0
        while index < values.count {
            let chunk = values[index..<min(index + 4, values.count)].map { UInt32($0) }
            var word: UInt32 = 0
            for (offset, value) in chunk.enumerated() { word |= value << (18 - 6 * UInt32(offset)) }
            out.append(UInt8(truncatingIfNeeded: word >> 16))
            if chunk.count > 2 { out.append(UInt8(truncatingIfNeeded: word >> 8)) }
            if chunk.count > 3 { out.append(UInt8(truncatingIfNeeded: word)) }
            index += 4
        }
        return out
    }
}
