import KujiraOCI
import Testing

@Suite("Reference")
struct ReferenceTests {
    static let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    static let hex512 = String(repeating: "0123456789abcdef", count: 8)
    static let tag128 = "t" + String(repeating: "a", count: 127)
    static let tag129 = "t" + String(repeating: "a", count: 128)

    /// Input → normalised form (`description`) and Docker's short form (`familiarString`).
    @Test(arguments: [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("me/app", "docker.io/me/app:latest", "me/app:latest"),
        ("me/app:v1", "docker.io/me/app:v1", "me/app:v1"),
        ("index.docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("index.docker.io/me/app:v1", "docker.io/me/app:v1", "me/app:v1"),
        ("docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest"),
        ("localhost/foo", "localhost/foo:latest", "localhost/foo:latest"),
        ("localhost", "docker.io/library/localhost:latest", "localhost:latest"),
        ("localhost:5000/a/b@sha256:\(hex)", "localhost:5000/a/b@sha256:\(hex)", "localhost:5000/a/b@sha256:\(hex)"),
        ("localhost:5000/a/b:tag@sha256:\(hex)", "localhost:5000/a/b:tag@sha256:\(hex)", "localhost:5000/a/b:tag@sha256:\(hex)"),
        ("busybox@sha256:\(hex)", "docker.io/library/busybox@sha256:\(hex)", "busybox@sha256:\(hex)"),
        ("me/app:v1@sha512:\(hex512)", "docker.io/me/app:v1@sha512:\(hex512)", "me/app:v1@sha512:\(hex512)"),
        ("[::1]:5000/foo:bar", "[::1]:5000/foo:bar", "[::1]:5000/foo:bar"),
        ("[2001:db8::1]/repo", "[2001:db8::1]/repo:latest", "[2001:db8::1]/repo:latest"),
        ("192.168.1.1:5000/x", "192.168.1.1:5000/x:latest", "192.168.1.1:5000/x:latest"),
        ("ghcr.io/owner/repo/sub:v1.2.3", "ghcr.io/owner/repo/sub:v1.2.3", "ghcr.io/owner/repo/sub:v1.2.3"),
        ("Example.COM/foo", "Example.COM/foo:latest", "Example.COM/foo:latest"),
        ("Foo/bar", "Foo/bar:latest", "Foo/bar:latest"),
        ("x:5000/y", "x:5000/y:latest", "x:5000/y:latest"),
        ("a.b-c.d/e__f/g--h/i.j_k", "a.b-c.d/e__f/g--h/i.j_k:latest", "a.b-c.d/e__f/g--h/i.j_k:latest"),
        ("foo/bar---baz", "docker.io/foo/bar---baz:latest", "foo/bar---baz:latest"),
        ("busybox:Latest", "docker.io/library/busybox:Latest", "busybox:Latest"),
        ("busybox:_x.y-z", "docker.io/library/busybox:_x.y-z", "busybox:_x.y-z"),
        ("busybox:\(tag128)", "docker.io/library/busybox:\(tag128)", "busybox:\(tag128)"),
        ("registry.example.com:443/team/app:1.0-rc.1", "registry.example.com:443/team/app:1.0-rc.1", "registry.example.com:443/team/app:1.0-rc.1"),
        ("0.0.0.0/a0/1b", "0.0.0.0/a0/1b:latest", "0.0.0.0/a0/1b:latest"),
    ])
    func normalises(_ input: String, _ normalised: String, _ familiar: String) throws {
        let reference = try Reference(parsing: input)
        #expect(reference.description == normalised)
        #expect(reference.familiarString == familiar)
        // The normalised form parses to the same reference.
        #expect(try Reference(parsing: reference.description) == reference)
    }

    /// Input → a phrase the error message must contain.
    @Test(arguments: [
        ("", "repository name must have at least one component"),
        ("Busybox", "repository name must be lowercase"),
        ("me/App", "repository name must be lowercase"),
        ("docker.io/Library/busybox", "repository name must be lowercase"),
        ("Busybox:latest", "repository name must be lowercase"),
        (":tag", "repository name must have at least one component"),
        ("@sha256:\(hex)", "repository name must have at least one component"),
        ("example.com/", "repository name must have at least one component"),
        ("busybox:", "invalid tag"),
        ("busybox:\(tag129)", "invalid tag"),
        ("busybox:.tag", "invalid tag"),
        ("busybox:-tag", "invalid tag"),
        ("foo/bar:tag:tag2", "invalid tag"),
        ("busybox:ta/g", "invalid domain"),
        ("a//b", "invalid path component \"\""),
        ("/foo", "invalid path component"),
        ("-a", "invalid path component \"-a\""),
        ("a-", "invalid path component"),
        ("a___b", "invalid path component"),
        ("a..b", "invalid path component"),
        ("a._b", "invalid path component"),
        ("foo bar", "invalid path component"),
        ("me/app!", "invalid path component"),
        ("busybox@sha256:abc", "invalid digest"),
        ("busybox@sha256:\(hex.uppercased())", "invalid digest"),
        ("busybox@md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported algorithm"),
        ("foo@bar@sha256:\(hex)", "invalid digest"),
        ("busybox@", "invalid digest"),
        (hex, "64-byte hexadecimal"),
        ("example.com:port/x", "invalid domain"),
        ("example.com:/x", "invalid domain"),
        ("[::1/x", "invalid domain"),
        ("[fe80::1%eth0]/x", "invalid domain"),
        ("[::1]x/y", "invalid domain"),
        ("-bad.example.com/x", "invalid domain"),
        ("my_host.com/x", "invalid domain"),
        (String(repeating: "a", count: 250) + "/b", "must not be more than 255 characters"),
    ])
    func rejects(_ input: String, _ phrase: String) {
        let error = expectOCIError(.invalidReference) { _ = try Reference(parsing: input) }
        #expect(error?.message.contains(phrase) == true, "message: \(error?.message ?? "none")")
        #expect(error?.message.hasPrefix("invalid reference format") == true)
        #expect(error?.message.contains("\"\(input)\"") == true, "the message names the input")
    }

    @Test func exposesParts() throws {
        let reference = try Reference(parsing: "localhost:5000/a/b:tag@sha256:\(Self.hex)")
        #expect(reference.domain == "localhost:5000")
        #expect(reference.path == "a/b")
        #expect(reference.name == "localhost:5000/a/b")
        #expect(reference.tag == "tag")
        #expect(reference.digest == (try Digest(parsing: "sha256:\(Self.hex)")))
        #expect(reference.familiarName == "localhost:5000/a/b")
        #expect(reference.repositoryOnly.description == "localhost:5000/a/b")
    }

    @Test func keepsNoTagWhenAsked() throws {
        let reference = try Reference(parsing: "busybox", defaultTag: nil)
        #expect(reference.tag == nil)
        #expect(reference.description == "docker.io/library/busybox")
        #expect(reference.familiarString == "busybox")
    }

    @Test func changesTagAndDigest() throws {
        let reference = try Reference(parsing: "me/app")
        #expect(try reference.withTag("v2").description == "docker.io/me/app:v2")
        let pinned = reference.withDigest(try Digest(parsing: "sha256:\(Self.hex)"))
        #expect(pinned.familiarString == "me/app:latest@sha256:\(Self.hex)")
        _ = expectOCIError(.invalidReference) { _ = try reference.withTag("-bad") }
        #expect(Reference.isValidTag("v1.0_rc-1"))
        #expect(!Reference.isValidTag(""))
        #expect(!Reference.isValidTag(Self.tag129))
    }

    @Test func codesAsNormalisedString() throws {
        let reference = try Reference(parsing: "busybox")
        let bytes = try CanonicalJSON.encode([reference])
        #expect(String(decoding: bytes, as: UTF8.self) == #"["docker.io/library/busybox:latest"]"#)
        #expect(try CanonicalJSON.decode([Reference].self, from: bytes) == [reference])
    }
}
