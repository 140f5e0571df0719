import Foundation
import KujiraImage
import KujiraOCI
import Synchronization
import Testing

@testable import KujiraRegistry

/// Collects progress events from any thread.
final class EventLog<Event: Sendable>: Sendable {
    private let events = Mutex<[Event]>([])
    func record(_ event: Event) { events.withLock { $0.append(event) } }
    var all: [Event] { events.withLock { $0 } }
}

/// Pull and push against Debian's docker-registry on loopback, with skopeo as the oracle.
@Suite(.serialized, .enabled(if: Tools.have(Tools.registryPeers), "needs docker-registry, umoci, skopeo, python3, openssl, htpasswd, busybox-static"))
struct RegistryRoundTripTests {
    @Test("skopeo pushes, Kujira pulls: digests match, blobs verified, second pull skips everything")
    func skopeoToKujira() async throws {
        let registry = try TestRegistry()
        defer { registry.stop() }
        let layout = "\(registry.scratch.path)/layout"
        try TestImages.build(layout: layout, scratch: registry.scratch.path, extraFiles: ["blob": 300_000])
        try skopeoPush(layout, to: "\(registry.host)/test/busybox:1")
        let store = try ImageStore(root: "\(registry.scratch.path)/store")
        let events = EventLog<PullEvent>()
        let reference = try Reference(parsing: "\(registry.host)/test/busybox:1")
        let record = try await testClient().pull(reference, into: store, unpack: false) { events.record($0) }
        #expect(record.name == "\(registry.host)/test/busybox:1")
        #expect(record.target.digest == (try skopeoDigest("\(registry.host)/test/busybox:1")))
        let details = try store.details(of: record)
        for layer in details.manifest.layers { try store.content.verify(layer.digest) }
        #expect(events.all.contains { if case .blob(_, .done) = $0 { return true }; return false })
        #expect(events.all.contains { if case .overall(let done, let total) = $0 { return done == total && total > 0 }; return false })
        #expect(try await testClient().resolve(reference).digest == record.target.digest)

        let again = EventLog<PullEvent>()
        try await testClient().pull(reference, into: store) { again.record($0) }
        #expect(!again.all.contains { if case .blob(_, .downloading) = $0 { return true }; return false })
        #expect(again.all.contains { if case .blob(_, .alreadyExists) = $0 { return true }; return false })
    }

    @Test("pull --unpack unpacks every layer into snapshots, each once it and the ones below it arrived")
    func pullUnpacks() async throws {
        let registry = try TestRegistry()
        defer { registry.stop() }
        let scratch = registry.scratch.path
        try TestImages.build(layout: "\(scratch)/layout", scratch: scratch, extraFiles: ["blob": 200_000], layers: 3)
        try skopeoPush("\(scratch)/layout", to: "\(registry.host)/test/layers:1")
        let store = try ImageStore(root: "\(scratch)/store")
        let events = EventLog<PullEvent>()
        let record = try await testClient().pull(try Reference(parsing: "\(registry.host)/test/layers:1"), into: store, unpack: true) { events.record($0) }
        let details = try store.details(of: record)
        #expect(details.manifest.layers.count >= 2)
        for layer in details.manifest.layers {
            let states = events.all.compactMap { event -> PullEvent.BlobState? in
                if case .blob(let blob, let state) = event, blob.digest == layer.digest { return state }
                return nil
            }
            #expect(states.contains(.extracting) && states.last == .done, "layer \(layer.digest): \(states)")
        }
        // Every snapshot of the chain is committed: asking again unpacks nothing new.
        let snapshots = try store.snapshotStore()
        let chain = try snapshots.ensureUnpacked(details)
        let top = try #require(chain.snapshots.last)
        #expect(FileManager.default.fileExists(atPath: "\(chain.mode == .overlay ? chain.snapshots[0].path : top.path)/bin/busybox"))
    }

    @Test("Kujira pushes (chunked), skopeo copies it back and inspects the same digest; a second repository mounts")
    func kujiraToSkopeo() async throws {
        let registry = try TestRegistry()
        defer { registry.stop() }
        let scratch = registry.scratch.path
        try TestImages.build(layout: "\(scratch)/layout", scratch: scratch, extraFiles: ["blob": 400_000])
        let store = try ImageStore(root: "\(scratch)/store")
        let image = try store.importImage(from: try OCILayout.read(directory: "\(scratch)/layout"), tag: "latest", name: "localhost/app:1")
        let client = testClient { $0.uploadChunkSize = 128 * 1024 }
        let pushed = try await client.push("localhost/app:1", from: store, to: try Reference(parsing: "\(registry.host)/me/app:1"))
        #expect(pushed.digest == image.target.digest)
        #expect(try skopeoDigest("\(registry.host)/me/app:1") == image.target.digest)
        try sh("skopeo", ["--insecure-policy", "copy", "--src-tls-verify=false", "docker://\(registry.host)/me/app:1", "oci:\(scratch)/out:1"])
        let inspect = try sh("skopeo", ["inspect", "--tls-verify=false", "docker://\(registry.host)/me/app:1"]).out
        #expect(inspect.contains(image.target.digest.description))

        // Same client, other repository: blobs are mounted, not uploaded.
        let events = EventLog<PushEvent>()
        try await client.push("localhost/app:1", from: store, to: try Reference(parsing: "\(registry.host)/other/app:2")) { events.record($0) }
        let mounted = events.all.filter { if case .blob(_, .mounted(from: "\(registry.host)/me/app")) = $0 { return true }; return false }
        #expect(mounted.count == 2 + 0, "config and layer mounted: \(events.all)")
        #expect(try skopeoDigest("\(registry.host)/other/app:2") == image.target.digest)

        // A fresh client and store: the pulled image's source label drives the mount.
        let store2 = try ImageStore(root: "\(scratch)/store2")
        try await testClient().pull(try Reference(parsing: "\(registry.host)/me/app:1"), into: store2)
        let events2 = EventLog<PushEvent>()
        try await testClient().push("\(registry.host)/me/app:1", from: store2, to: try Reference(parsing: "\(registry.host)/third/app:1")) { events2.record($0) }
        #expect(events2.all.contains { if case .blob(_, .mounted) = $0 { return true }; return false })
        let uploaded = events2.all.contains { if case .blob(_, .uploading) = $0 { return true }; return false }
        #expect(!uploaded)
    }

    @Test("multi-platform index: Kujira pushes it whole, skopeo agrees, Kujira pulls all or one platform")
    func multiPlatform() async throws {
        let registry = try TestRegistry()
        defer { registry.stop() }
        let scratch = registry.scratch.path
        try TestImages.build(layout: "\(scratch)/layout", scratch: scratch)
        let store = try ImageStore(root: "\(scratch)/store")
        let amd = try store.importImage(from: try OCILayout.read(directory: "\(scratch)/layout"), tag: "latest", name: "localhost/amd:1")
        // A second platform: the same layers under an arm64 config.
        let amdManifest = try CanonicalJSON.decode(Manifest.self, from: store.content.read(amd.target.digest))
        var config = try JSONSerialization.jsonObject(with: Data(store.content.read(amdManifest.config.digest))) as? [String: Any] ?? [:]
        config["architecture"] = "arm64"
        config["variant"] = "v8"
        let configBytes = Array(try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]))
        let index: Descriptor = try store.withWriteLease {
            let configDescriptor = try store.content.write(configBytes, mediaType: MediaType.imageConfig)
            var armManifest = amdManifest
            armManifest.config = configDescriptor
            var arm = try store.content.write(try CanonicalJSON.encode(armManifest), mediaType: MediaType.imageManifest)
            arm.platform = Platform(architecture: "arm64", os: "linux", variant: "v8")
            var amdEntry = amd.target
            amdEntry.platform = Platform(architecture: "amd64", os: "linux")
            let indexBytes = try CanonicalJSON.encode(Index(manifests: [amdEntry, arm]))
            let index = try store.content.write(indexBytes, mediaType: MediaType.imageIndex)
            try store.put(name: "localhost/multi:1", target: index)
            return index
        }
        let pushed = try await testClient().push("localhost/multi:1", from: store, to: try Reference(parsing: "\(registry.host)/multi/app:1"))
        #expect(pushed.digest == index.digest)
        #expect(try skopeoDigest("\(registry.host)/multi/app:1") == index.digest)
        try sh("skopeo", ["--insecure-policy", "copy", "--all", "--src-tls-verify=false", "docker://\(registry.host)/multi/app:1", "oci:\(scratch)/out:1"])

        let reference = try Reference(parsing: "\(registry.host)/multi/app:1")
        let all = try ImageStore(root: "\(scratch)/all")
        let record = try await testClient().pull(reference, into: all, allPlatforms: true)
        #expect(record.target.digest == index.digest)
        for child in try all.children(of: record.target) { #expect(all.content.contains(child.digest)) }

        let one = try ImageStore(root: "\(scratch)/one")
        let armRecord = try await testClient().pull(reference, into: one, platform: try Platform(parsing: "linux/arm64"))
        #expect(armRecord.target.platform == nil || armRecord.target.platform?.architecture == "arm64")
        #expect(armRecord.labels[RegistryClient.indexLabel] == index.digest.description)
        let armDetails = try one.details(of: armRecord)
        #expect(armDetails.configuration.architecture == "arm64")

        // Round trip: push the fully pulled index elsewhere, digest unchanged.
        let again = try await testClient().push(record.name, from: all, to: try Reference(parsing: "\(registry.host)/multi/copy:1"))
        #expect(again.digest == index.digest)
    }

    @Test("referrers: an artifact with a subject is found through the tag-schema fallback")
    func referrers() async throws {
        let registry = try TestRegistry()
        defer { registry.stop() }
        let scratch = registry.scratch.path
        try TestImages.build(layout: "\(scratch)/layout", scratch: scratch)
        let store = try ImageStore(root: "\(scratch)/store")
        let image = try store.importImage(from: try OCILayout.read(directory: "\(scratch)/layout"), tag: "latest", name: "localhost/app:1")
        let client = testClient()
        let target = try Reference(parsing: "\(registry.host)/ref/app:1")
        let subject = try await client.push("localhost/app:1", from: store, to: target)
        try store.withWriteLease {
            let empty = try store.content.write(Array("{}".utf8), mediaType: MediaType.empty)
            let sbom = try store.content.write(Array("{\"sbom\":true}".utf8), mediaType: "application/spdx+json")
            let manifest = Manifest(mediaType: MediaType.imageManifest, artifactType: "application/spdx+json", config: empty, layers: [sbom], subject: subject)
            let descriptor = try store.content.write(try CanonicalJSON.encode(manifest), mediaType: MediaType.imageManifest)
            try store.put(name: "localhost/app-sbom:1", target: descriptor)
        }
        let artifact = try await client.push("localhost/app-sbom:1", from: store, to: try Reference(parsing: "\(registry.host)/ref/app:sbom"))
        let found = try await client.referrers(of: target)
        #expect(found.map(\.digest) == [artifact.digest])
        #expect(found.first?.artifactType == "application/spdx+json")
        #expect(try await client.referrers(of: target, artifactType: "application/other").isEmpty)
        _ = image
    }
}
