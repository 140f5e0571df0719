import Foundation
import KujiraImage
import KujiraOCI
import Testing

@testable import KujiraRegistry

/// Broken transfers, corrupted blobs, authentication (htpasswd, tokens, login) and TLS
/// against Debian's docker-registry on loopback.
@Suite(.serialized, .enabled(if: Tools.have(Tools.registryPeers), "needs docker-registry, umoci, skopeo, python3, openssl, htpasswd, busybox-static"))
struct RegistryFaultAndAuthTests {
    /// A registry holding `test/app:1` (busybox plus a 1 MB incompressible file), pushed by skopeo.
    func registryWithImage(auth: TestRegistry.Auth = .none, tls: Bool = false, creds: String? = nil) throws -> TestRegistry {
        let registry = try TestRegistry(auth: auth, tls: tls)
        do {
            let layout = "\(registry.scratch.path)/layout"
            try TestImages.build(layout: layout, scratch: registry.scratch.path, extraFiles: ["blob": 1_000_000])
            if !tls { try skopeoPush(layout, to: "\(registry.host)/test/app:1", creds: creds) }
            return registry
        } catch {
            registry.stop()
            throw error
        }
    }

    @Test("an interrupted download resumes with a Range request and verifies")
    func resume() async throws {
        let registry = try registryWithImage()
        defer { registry.stop() }
        let proxy = try registry.startProxy(cutAfter: 200_000)
        let store = try ImageStore(root: "\(registry.scratch.path)/store")
        let events = EventLog<PullEvent>()
        let client = testClient { $0.maximumConcurrentDownloads = 1 }
        let record = try await client.pull(try Reference(parsing: "127.0.0.1:\(proxy.port)/test/app:1"), into: store) { events.record($0) }
        #expect(record.target.digest == (try skopeoDigest("\(registry.host)/test/app:1")))
        let log = try String(contentsOfFile: proxy.log, encoding: .utf8)
        #expect(log.contains("range=bytes=200000-"), "proxy saw: \(log)")
        #expect(events.all.contains { if case .blob(_, .retrying(_, 200_000, _)) = $0 { return true }; return false })
        for layer in try store.details(of: record).manifest.layers { try store.content.verify(layer.digest) }
    }

    @Test("a registry serving a corrupted blob is caught, nothing is tagged")
    func corruptBlob() async throws {
        let registry = try registryWithImage()
        defer { registry.stop() }
        let proxy = try registry.startProxy(flip: true)
        let store = try ImageStore(root: "\(registry.scratch.path)/store")
        let reference = try Reference(parsing: "127.0.0.1:\(proxy.port)/test/app:1")
        let error = await expectRegistryError(.digestMismatch) {
            try await testClient().pull(reference, into: store)
        }
        #expect(error?.message.contains("127.0.0.1:\(proxy.port)/test/app") == true)
        #expect(try store.list().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.content.ingestDirectory).isEmpty)
    }

    @Test("htpasswd basic auth: anonymous and wrong password are unauthorized naming the registry; right one works")
    func basicAuth() async throws {
        let registry = try registryWithImage(auth: .htpasswd(user: "alice", password: "wonderland"), creds: "alice:wonderland")
        defer { registry.stop() }
        let reference = try Reference(parsing: "\(registry.host)/test/app:1")
        let store = try ImageStore(root: "\(registry.scratch.path)/store")
        let anonymous = await expectRegistryError(.unauthorized) { try await testClient().pull(reference, into: store) }
        #expect(anonymous?.message.contains("authentication required for \(registry.host)/test/app") == true)
        #expect(anonymous?.message.contains("kujira login \(registry.host)") == true)
        let wrong = await expectRegistryError(.unauthorized) {
            try await testClient(credentials: .fixed([registry.host: Credentials(username: "alice", password: "nope")])).pull(reference, into: store)
        }
        #expect(wrong?.message.contains("unauthorized") == true)
        #expect(wrong?.message.contains(registry.host) == true)
        let client = testClient(credentials: .fixed([registry.host: Credentials(username: "alice", password: "wonderland")]))
        let record = try await client.pull(reference, into: store)
        try await client.push(record.name, from: store, to: try Reference(parsing: "\(registry.host)/test/copy:1"))
        #expect(try skopeoDigest("\(registry.host)/test/copy:1", creds: "alice:wonderland") == record.target.digest)
    }

    @Test("token auth: tokens from the realm, cached per scope; wrong password is unauthorized")
    func tokenAuth() async throws {
        let registry = try registryWithImage(auth: .token(users: "bob:builder"), creds: "bob:builder")
        defer { registry.stop() }
        let tokenLog = try #require(registry.tokenLog)
        try "".write(toFile: tokenLog, atomically: false, encoding: .utf8)
        let reference = try Reference(parsing: "\(registry.host)/test/app:1")
        let store = try ImageStore(root: "\(registry.scratch.path)/store")
        let client = testClient(credentials: .fixed([registry.host: Credentials(username: "bob", password: "builder")]))
        let record = try await client.pull(reference, into: store)
        try await client.pull(reference, into: store)
        let requests = try String(contentsOfFile: tokenLog, encoding: .utf8).split(separator: "\n")
        // One token for repository:test/app:pull, reused by every request of both pulls.
        #expect(requests == ["repository:test/app:pull | bob"], "token requests: \(requests)")
        #expect(record.target.digest == (try skopeoDigest(reference.description, creds: "bob:builder")))

        let pushed = try await client.push(record.name, from: store, to: try Reference(parsing: "\(registry.host)/test/other:1"))
        #expect(pushed.digest == record.target.digest)
        let after = try String(contentsOfFile: tokenLog, encoding: .utf8)
        #expect(after.contains("repository:test/other:pull,push"))
        #expect(after.contains("repository:test/app:pull"), "the mount asks for the source repository too")

        let wrong = await expectRegistryError(.unauthorized) {
            try await testClient(credentials: .fixed([registry.host: Credentials(username: "bob", password: "wrong")])).pull(reference, into: store)
        }
        #expect(wrong?.message.contains(registry.host) == true)
    }

    @Test("login verifies against /v2/ and writes config.json; logout removes it")
    func loginLogout() async throws {
        let registry = try TestRegistry(auth: .htpasswd(user: "carol", password: "s3cret"))
        defer { registry.stop() }
        let config = "\(registry.scratch.path)/docker/config.json"
        let client = testClient(credentials: .dockerConfig(path: config))
        await expectRegistryError(.unauthorized) { try await client.login(registry: registry.host, username: "carol", password: "bad") }
        #expect(!FileManager.default.fileExists(atPath: config))
        try await client.login(registry: registry.host, username: "carol", password: "s3cret")
        let file = try DockerConfigFile(path: config)
        #expect(try file.credentials(in: #require(file.authEntry(for: registry.host)), registry: registry.host) == Credentials(username: "carol", password: "s3cret"))
        // A new client reads the saved credentials.
        _ = try await testClient(credentials: .dockerConfig(path: config)).referrers(of: try Reference(parsing: "\(registry.host)/x/y@sha256:\(String(repeating: "0", count: 64))"))
        try await client.logout(registry: registry.host)
        #expect(try DockerConfigFile(path: config).authEntry(for: registry.host) == nil)
    }

    @Test("TLS: verified with the CA from certs.d; an unknown CA is a clear TLS error")
    func tls() async throws {
        let registry = try registryWithImage(tls: true)
        defer { registry.stop() }
        let scratch = registry.scratch.path
        let certs = "\(scratch)/certs.d"
        try FileManager.default.createDirectory(atPath: "\(certs)/\(registry.host)", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try #require(registry.caCertificate), toPath: "\(certs)/\(registry.host)/ca.crt")
        let store = try ImageStore(root: "\(scratch)/store")
        let image = try store.importImage(from: try OCILayout.read(directory: "\(scratch)/layout"), tag: "latest", name: "localhost/app:1")
        let secure = testClient(certs: certs) { $0.treatLoopbackAsInsecure = false }
        let reference = try Reference(parsing: "\(registry.host)/tls/app:1")
        try await secure.push("localhost/app:1", from: store, to: reference)
        let pulled = try await secure.pull(reference, into: try ImageStore(root: "\(scratch)/store2"))
        #expect(pulled.target.digest == image.target.digest)

        let untrusted = testClient(certs: "\(scratch)/empty-certs") { $0.treatLoopbackAsInsecure = false }
        let error = await expectRegistryError(.tls) { _ = try await untrusted.resolve(reference) }
        #expect(error?.message.contains("certificate verify failed") == true, "\(String(describing: error))")
        #expect(error?.message.contains(registry.host) == true)

        // --tls-verify=false accepts it.
        let insecure = testClient { $0.tlsVerify = false; $0.treatLoopbackAsInsecure = false }
        #expect(try await insecure.resolve(reference).digest == image.target.digest)
    }

    @Test("unknown tags and repositories give the registry's error, named")
    func unknownManifest() async throws {
        let registry = try registryWithImage()
        defer { registry.stop() }
        let store = try ImageStore(root: "\(registry.scratch.path)/store")
        let error = await expectRegistryError(.manifestUnknown) {
            try await testClient().pull(try Reference(parsing: "\(registry.host)/test/app:missing"), into: store)
        }
        #expect(error?.message.contains("\(registry.host)/test/app") == true)
        #expect(error?.message.contains("missing") == true)
        do {
            try await testClient().pull(try Reference(parsing: "\(registry.host)/no/such:1"), into: store)
            Issue.record("pulling from a repository that does not exist succeeded")
        } catch let error as RegistryError {
            // distribution 2.8 answers MANIFEST_UNKNOWN here; others NAME_UNKNOWN.
            #expect(error.code == .nameUnknown || error.code == .manifestUnknown)
            #expect(error.message.contains("\(registry.host)/no/such") || error.message.contains("no/such"))
        }
    }
}
