import Foundation
import KujiraOCI
import Testing
@testable import KujiraImage

@Suite struct ImageStoreTests {
    @Test func tagListGetRemove() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ImageStore(root: dir.path)
        let a = try SyntheticImage(in: store.content, seed: "a")
        let b = try SyntheticImage(in: store.content, seed: "b")
        #expect(try store.list().isEmpty)
        #expect(try store.get("docker.io/library/a:latest") == nil)

        let recordA = try store.put(name: "docker.io/library/a:latest", target: a.manifest, labels: ["team": "whales"])
        #expect(recordA.target == a.manifest)
        #expect(recordA.configDigest == a.config.digest)
        #expect(recordA.id == a.config.digest)
        #expect(recordA.labels == ["team": "whales"])
        try store.put(name: "docker.io/library/b:1", target: b.manifest)
        #expect(try store.list().map(\.name) == ["docker.io/library/a:latest", "docker.io/library/b:1"])

        // Re-tagging keeps the creation time and labels, moves the target.
        let moved = try store.put(name: "docker.io/library/a:latest", target: b.manifest)
        #expect(moved.target.digest == b.manifest.digest)
        #expect(moved.created == recordA.created)
        #expect(moved.updated >= recordA.updated)
        #expect(moved.labels == ["team": "whales"])

        let removed = try store.remove("docker.io/library/a:latest")
        #expect(removed.name == "docker.io/library/a:latest")
        #expect(try store.get("docker.io/library/a:latest") == nil)
        let error = #expect(throws: ImageStoreError.self) { try store.remove("docker.io/library/a:latest") }
        #expect(error?.code == .imageNotFound)
        #expect(error?.message.contains("docker.io/library/a:latest") == true)
    }

    @Test func putRejectsBadInput() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ImageStore(root: dir.path)
        let image = try SyntheticImage(in: store.content, seed: "x")
        #expect(throws: ImageStoreError.self) { try store.put(name: "", target: image.manifest) }
        let notAManifest = #expect(throws: ImageStoreError.self) { try store.put(name: "x", target: image.layers[0]) }
        #expect(notAManifest?.code == .unsupportedMediaType)
        let missing = Descriptor(mediaType: MediaType.imageManifest, digest: Digest.of(Array("nope".utf8)), size: 4)
        let missingError = #expect(throws: ImageStoreError.self) { try store.put(name: "x", target: missing) }
        #expect(missingError?.code == .blobNotFound)
        #expect(missingError?.message.contains(missing.digest.description) == true)
    }

    @Test func lookupByNameDigestAndPrefix() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ImageStore(root: dir.path)
        var images = [SyntheticImage]()
        for seed in 0..<40 { images.append(try SyntheticImage(in: store.content, seed: "\(seed)")) }
        for (i, image) in images.enumerated() { try store.put(name: "img\(i)", target: image.manifest) }
        try store.put(name: "alias-of-0", target: images[0].manifest)

        #expect(try store.lookup("img3").target == images[3].manifest)
        #expect(try store.lookup(images[5].manifest.digest.description).name == "img5")
        #expect(try store.lookup(images[6].config.digest.description).name == "img6")
        // Several names, one image: the first name wins, no ambiguity.
        #expect(try store.lookup(images[0].manifest.digest.description).name == "alias-of-0")

        // Short IDs: prefixes of config or target digests, with or without "sha256:".
        let config7 = images[7].config.digest.encoded
        #expect(try store.lookup(String(config7.prefix(12))).name == "img7")
        #expect(try store.lookup("sha256:" + String(images[8].manifest.digest.encoded.prefix(10))).name == "img8")

        // A prefix needs at least 4 hex digits.
        let tooShort = #expect(throws: ImageStoreError.self) { try store.lookup(String(config7.prefix(3))) }
        #expect(tooShort?.code == .imageNotFound)
        #expect(tooShort?.message.contains("at least 4") == true)
        #expect(throws: ImageStoreError.self) { try store.lookup("no-such-image") }
        #expect(throws: ImageStoreError.self) { try store.lookup("ffffffffffff") }
    }

    @Test func ambiguousPrefixIsAnError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ImageStore(root: dir.path)
        // Two manifests whose digests share 4 hex digits, found by hashing in memory
        // (about 300 candidates by the birthday bound), then stored.
        let base = try SyntheticImage(in: store.content, seed: "amb")
        var byPrefix = [String: [UInt8]]()
        var pair: ([UInt8], [UInt8])?
        var seed = 0
        while pair == nil {
            let bytes = Array(try ImageStore.encode(Manifest(config: base.config, layers: base.layers, annotations: ["seed": "\(seed)"])).utf8)
            let prefix = String(Digest.of(bytes).encoded.prefix(4))
            if let other = byPrefix[prefix] { pair = (other, bytes) } else { byPrefix[prefix] = bytes }
            seed += 1
        }
        let (firstBytes, secondBytes) = try #require(pair)
        let first = try store.content.write(firstBytes, mediaType: MediaType.imageManifest)
        let second = try store.content.write(secondBytes, mediaType: MediaType.imageManifest)
        try store.put(name: "first", target: first)
        try store.put(name: "second", target: second)
        let prefix = String(first.digest.encoded.prefix(4))
        let error = #expect(throws: ImageStoreError.self) { try store.lookup(prefix) }
        #expect(error?.code == .ambiguousReference)
        #expect(error?.message.contains("first") == true && error?.message.contains("second") == true)
        #expect(try store.lookup(String(first.digest.encoded.prefix(20))).name == "first")
    }

    @Test func indexTargetsResolveHostConfig() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ImageStore(root: dir.path)
        let host = try SyntheticImage(in: store.content, seed: "host")
        let other = try SyntheticImage(in: store.content, seed: "other")
        var hostEntry = host.manifest
        hostEntry.platform = Platform(architecture: HostPlatform.architecture, os: "linux")
        var otherEntry = other.manifest
        otherEntry.platform = Platform(architecture: "s390x-not-here", os: "linux")
        let indexJSON = try ImageStore.encode(Index(manifests: [otherEntry, hostEntry]))
        let index = try store.content.write(Array(indexJSON.utf8), mediaType: MediaType.imageIndex)
        let record = try store.put(name: "multi", target: index)
        #expect(record.configDigest == host.config.digest)
        #expect(try store.lookup(String(host.config.digest.encoded.prefix(8))).name == "multi")
        #expect(try store.children(of: index) == [otherEntry, hostEntry])
        #expect(try store.children(of: host.manifest) == [host.config] + host.layers)
        #expect(try store.children(of: host.layers[0]).isEmpty)
    }

    @Test func persistsAcrossReopen() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let digest: Digest
        do {
            let store = try ImageStore(root: dir.path)
            let image = try SyntheticImage(in: store.content, seed: "persist")
            digest = image.manifest.digest
            try store.put(name: "docker.io/library/persist:1", target: image.manifest, labels: ["k": "v"])
        }
        let reopened = try ImageStore(root: dir.path)
        let record = try #require(try reopened.get("docker.io/library/persist:1"))
        #expect(record.target.digest == digest)
        #expect(record.labels == ["k": "v"])
    }

    @Test func twoInstancesWriteConcurrently() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let root = dir.path
        try await withThrowingTaskGroup(of: Void.self) { group in
            for instance in 0..<4 {
                group.addTask {
                    let store = try ImageStore(root: root)
                    for i in 0..<15 {
                        try store.withWriteLease {
                            let image = try SyntheticImage(in: store.content, seed: "\(instance)-\(i)")
                            try store.put(name: "inst\(instance)/img\(i)", target: image.manifest)
                        }
                        // The same name from every instance: last writer wins, no error.
                        try store.withWriteLease {
                            let shared = try SyntheticImage(in: store.content, seed: "shared")
                            try store.put(name: "shared", target: shared.manifest)
                        }
                    }
                }
            }
            group.addTask {
                let store = try ImageStore(root: root)
                for _ in 0..<5 { _ = try store.garbageCollect() }
            }
            try await group.waitForAll()
        }
        let store = try ImageStore(root: root)
        let records = try store.list()
        #expect(records.count == 61)
        for record in records {
            for child in try store.children(of: record.target) { try store.content.verify(child.digest) }
        }
    }

    @Test func garbageCollectRemovesOnlyUnreferenced() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ImageStore(root: dir.path)
        let kept = try SyntheticImage(in: store.content, seed: "kept")
        let dropped = try SyntheticImage(in: store.content, seed: "dropped")
        let loose = try store.content.write(Array("loose blob".utf8), mediaType: MediaType.layer)
        // An index with one platform present and one never pulled.
        var entry = kept.manifest
        entry.platform = Platform(architecture: HostPlatform.architecture, os: "linux")
        let absent = Descriptor(mediaType: MediaType.imageManifest, digest: Digest.of(Array("absent".utf8)), size: 6,
                                platform: Platform(architecture: "arm64-elsewhere", os: "linux"))
        let index = try store.content.write(Array(try ImageStore.encode(Index(manifests: [entry, absent])).utf8), mediaType: MediaType.imageIndex)
        try store.put(name: "kept", target: index)
        try store.put(name: "dropped", target: dropped.manifest)
        try store.remove("dropped")
        let stale = "\(store.content.ingestDirectory)/stale-1-1.tmp"
        _ = FileManager.default.createFile(atPath: stale, contents: Data("x".utf8))

        let report = try store.garbageCollect(ingestOlderThan: .zero)
        let expectedRemoved = Set(dropped.all + [loose.digest])
        #expect(Set(report.removed) == expectedRemoved)
        #expect(report.bytesFreed > 0)
        #expect(report.ingestFilesRemoved == 1)
        for digest in kept.all + [index.digest] { #expect(store.content.contains(digest)) }
        for digest in expectedRemoved { #expect(!store.content.contains(digest)) }
        #expect(try store.garbageCollect().removed.isEmpty)
    }
}
