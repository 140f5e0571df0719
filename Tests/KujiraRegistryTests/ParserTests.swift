import Foundation
import KujiraOCI
import Testing

@testable import KujiraRegistry

/// Table tests for the pure parsers: WWW-Authenticate, response heads, chunked coding,
/// Content-Range, URLs, base64 and config.json.
struct ParserTests {
    @Test("WWW-Authenticate challenges", arguments: [
        ("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/busybox:pull\"",
         [AuthChallenge(scheme: "bearer", parameters: ["realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/busybox:pull"])]),
        ("Basic realm=\"Registry Realm\"", [AuthChallenge(scheme: "basic", parameters: ["realm": "Registry Realm"])]),
        ("bearer realm=https://ghcr.io/token, service=ghcr.io", [AuthChallenge(scheme: "bearer", parameters: ["realm": "https://ghcr.io/token", "service": "ghcr.io"])]),
        ("Bearer realm=\"r\",scope=\"repository:a:pull,push\"", [AuthChallenge(scheme: "bearer", parameters: ["realm": "r", "scope": "repository:a:pull,push"])]),
        ("Basic realm=\"a\", Bearer realm=\"b\",service=\"s\"",
         [AuthChallenge(scheme: "basic", parameters: ["realm": "a"]), AuthChallenge(scheme: "bearer", parameters: ["realm": "b", "service": "s"])]),
        ("Bearer realm=\"quo\\\"ted\"", [AuthChallenge(scheme: "bearer", parameters: ["realm": "quo\"ted"])]),
        ("Negotiate", [AuthChallenge(scheme: "negotiate", parameters: [:])]),
        ("", []),
    ])
    func wwwAuthenticate(header: String, expected: [AuthChallenge]) {
        #expect(AuthChallenge.parse(header) == expected)
    }

    @Test("response heads", arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDocker-Content-Digest: sha256:abc\r\n\r\n", 200, "OK", ["Content-Length": "5", "docker-content-digest": "sha256:abc"]),
        ("HTTP/1.0 404 Not Found\r\n\r\n", 404, "Not Found", [:]),
        ("HTTP/1.1 204\r\nX:  spaced  \r\n\r\n", 204, "", ["x": "spaced"]),
        ("HTTP/1.1 401 Unauthorized\nWWW-Authenticate: Basic realm=\"r\"\n\n", 401, "Unauthorized", ["www-authenticate": "Basic realm=\"r\""]),
    ])
    func heads(text: String, status: Int, reason: String, headers: [String: String]) throws {
        let bytes = Array(text.utf8)
        let end = bytes.withUnsafeBytes { HTTPResponseParser.headEnd(in: $0) }
        #expect(end == bytes.count)
        let head = try HTTPResponseParser.parseHead(bytes)
        #expect(head.status == status)
        #expect(head.reason == reason)
        for (name, value) in headers { #expect(head.headers[name] == value) }
    }

    @Test("malformed heads are protocol errors", arguments: ["FTP/1.0 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n"])
    func malformedHeads(text: String) {
        #expect(throws: RegistryError.self) { try HTTPResponseParser.parseHead(Array(text.utf8)) }
    }

    @Test("body framing", arguments: [
        ("GET", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", HTTPResponseParser.Framing.length(10)),
        ("HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", .none),
        ("GET", "HTTP/1.1 204 No Content\r\n\r\n", .none),
        ("GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", .chunked),
        ("GET", "HTTP/1.1 200 OK\r\n\r\n", .untilClose),
    ])
    func framing(method: String, text: String, expected: HTTPResponseParser.Framing) throws {
        #expect(try HTTPResponseParser.framing(of: HTTPResponseParser.parseHead(Array(text.utf8)), method: method) == expected)
    }

    @Test("chunked decoding, whole and one byte at a time", arguments: [
        ("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"),
        ("5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n", "hello"),
        ("A\r\n0123456789\r\n0\r\n\r\n", "0123456789"),
        ("0\r\n\r\n", ""),
    ])
    func chunked(wire: String, body: String) throws {
        for pieceSize in [wire.utf8.count, 1, 3] {
            var decoder = ChunkedDecoder()
            var output = [UInt8]()
            let bytes = Array(wire.utf8)
            var index = 0
            while index < bytes.count && !decoder.isFinished {
                let piece = Array(bytes[index..<min(index + pieceSize, bytes.count)])
                let used = try piece.withUnsafeBytes { try decoder.decode($0) { output.append(contentsOf: $0) } }
                index += used
                if used < piece.count { break }
            }
            #expect(decoder.isFinished)
            #expect(String(decoding: output, as: UTF8.self) == body)
        }
    }

    @Test("malformed chunk sizes", arguments: ["zz\r\nhello\r\n", "5\r\nhelloXX0\r\n\r\n"])
    func malformedChunks(wire: String) {
        var decoder = ChunkedDecoder()
        #expect(throws: RegistryError.self) {
            _ = try Array(wire.utf8).withUnsafeBytes { try decoder.decode($0) { _ in } }
        }
    }

    @Test("Content-Range", arguments: [
        ("bytes 100-199/1000", ContentRange(first: 100, last: 199, total: 1000)),
        ("bytes 0-0/*", ContentRange(first: 0, last: 0, total: nil)),
        ("0-1023", ContentRange(first: 0, last: 1023, total: nil)),
        ("bytes=5-9", ContentRange(first: 5, last: 9, total: nil)),
        ("bytes 10-5/100", nil),
        ("bytes 0-99/50", nil),
        ("garbage", nil),
    ])
    func contentRange(text: String, expected: ContentRange?) {
        #expect(ContentRange(parsing: text) == expected)
    }

    @Test("URLs and Location resolution", arguments: [
        ("https://registry.example/v2/", "/v2/a/blobs/uploads/u1?_state=x", "https://registry.example/v2/a/blobs/uploads/u1?_state=x"),
        ("http://127.0.0.1:5000/v2/a/blobs/uploads/", "http://127.0.0.1:5000/v2/a/blobs/uploads/u2", "http://127.0.0.1:5000/v2/a/blobs/uploads/u2"),
        ("https://r.example/v2/x", "https://storage.example:8443/blob?sig=1", "https://storage.example:8443/blob?sig=1"),
        ("https://[::1]:5000/v2/", "//other.example/p", "https://other.example/p"),
        ("https://r.example/v2/a/b", "c", "https://r.example/v2/a/c"),
    ])
    func locations(base: String, location: String, expected: String) throws {
        let url = try #require(HTTPURL(string: base))
        #expect(url.resolving(location)?.description == expected)
    }

    @Test("base64 round trip", arguments: ["", "a", "ab", "abc", "user:pass", "üñí:côdé"])
    func base64(text: String) {
        let encoded = Base64.encode(Array(text.utf8))
        #expect(Base64.decode(encoded) == Array(text.utf8))
    }

    @Test("no-proxy rules", arguments: [
        ("registry.example", "", true),
        ("registry.example", "example", false),
        ("registry.example", ".example", false),
        ("registry.example", "other.example,*", false),
        ("registry.example", "registry.example:443", false),
        ("registry.example", "registry.example:5000", true),
        ("127.0.0.1", "", false),
    ])
    func noProxy(host: String, noProxy: String, proxied: Bool) throws {
        let settings = ProxySettings(environment: ["HTTPS_PROXY": "http://proxy.example:3128", "NO_PROXY": noProxy])
        let url = HTTPURL(scheme: "https", host: host, pathAndQuery: "/v2/")
        #expect((settings.proxy(for: url) != nil) == proxied)
    }

    @Test("registry error JSON becomes clear errors", arguments: [
        (404, #"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#, RegistryError.Code.manifestUnknown, "manifest unknown"),
        (404, #"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#, .nameUnknown, "does not exist on"),
        (403, #"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#, .denied, "denied"),
        (401, #"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#, .unauthorized, "kujira login 127.0.0.1:5000"),
        (429, "", .tooManyRequests, "rate-limiting"),
        (503, "", .serverError, "HTTP 503"),
    ])
    func errorMapping(status: Int, body: String, code: RegistryError.Code, fragment: String) throws {
        let response = HTTPResponse(head: HTTPResponseHead(status: status, reason: "X"), body: Array(body.utf8), url: HTTPURL(scheme: "http", host: "127.0.0.1", port: 5000, pathAndQuery: "/"))
        let repository = RegistryClient.Repository(try Reference(parsing: "127.0.0.1:5000/me/app:1"))
        let error = RegistryClient.error(for: response, repository: repository, what: "manifest for tag 1", sentCredentials: false, actions: ["pull"])
        #expect(error.code == code)
        #expect(error.message.contains(fragment), "\(error.message)")
        #expect(error.message.contains("127.0.0.1:5000"))
    }
}

/// `config.json` reading and writing.
struct DockerConfigFileTests {
    @Test("auths lookup accepts Docker's spellings", arguments: [
        ("https://index.docker.io/v1/", "docker.io"),
        ("docker.io", "docker.io"),
        ("https://ghcr.io", "ghcr.io"),
        ("localhost:5000", "localhost:5000"),
        ("http://localhost:5000/v2/", "localhost:5000"),
    ])
    func lookup(key: String, registry: String) throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let auth = Base64.encode(Array("me:secret".utf8))
        let path = try scratch.write("config.json", #"{"auths":{"\#(key)":{"auth":"\#(auth)"}},"psFormat":"table"}"#)
        let file = try DockerConfigFile(path: path)
        let entry = try #require(file.authEntry(for: registry))
        #expect(try file.credentials(in: entry, registry: registry) == Credentials(username: "me", password: "secret"))
    }

    @Test("writing keeps other keys and uses mode 0600")
    func write() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let path = try scratch.write("config.json", #"{"auths":{"old.example":{"auth":"eDp5"}},"psFormat":"table"}"#)
        var file = try DockerConfigFile(path: path)
        try file.setAuth(Credentials(username: "u", password: "p:w"), for: "new.example:5000")
        try file.setAuth(nil, for: "old.example")
        let reread = try DockerConfigFile(path: path)
        #expect(reread.authEntry(for: "old.example") == nil)
        #expect(try reread.credentials(in: #require(reread.authEntry(for: "new.example:5000")), registry: "x") == Credentials(username: "u", password: "p:w"))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("psFormat"))
        var st = stat()
        stat(path, &st)
        #expect(st.st_mode & 0o777 == 0o600)
    }

    @Test("credential helpers are asked through docker-credential-NAME")
    func helper() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let bin = "\(scratch.path)/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let script = try scratch.write("bin/docker-credential-fake", """
            #!/bin/sh
            read host
            case "$1" in
              get) [ "$host" = "helped.example" ] && echo '{"ServerURL":"helped.example","Username":"hu","Secret":"hs"}' && exit 0
                   echo "credentials not found in native keychain"; exit 1 ;;
            esac
            exit 1
            """)
        chmod(script, 0o755)
        let config = try scratch.write("config.json", #"{"credHelpers":{"helped.example":"fake"},"auths":{"plain.example":{"auth":"\#(Base64.encode(Array("pu:ps".utf8)))"}}}"#)
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let resolver = CredentialResolver(source: .dockerConfig(path: config), environment: ["PATH": "\(bin):\(path)"])
        #expect(try resolver.credentials(for: "helped.example") == Credentials(username: "hu", password: "hs"))
        #expect(try resolver.credentials(for: "plain.example") == Credentials(username: "pu", password: "ps"))
        #expect(try resolver.credentials(for: "none.example") == nil)
    }
}
