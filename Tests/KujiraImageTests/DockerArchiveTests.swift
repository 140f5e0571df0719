import Foundation
import Glibc
import KujiraArchive
import KujiraOCI
import Testing
@testable import KujiraImage

@Suite struct DockerArchiveTests {
    @Test(.enabled(if: archiveToolsInstalled || requirePrivileged, archiveToolsReason))
    func skopeoArchiveLoadSaveRoundTrip() throws {
        let fixture = try BusyboxFixture()
        defer { fixture.remove() }
        let original = try fixture.layoutImage()

        let store = try fixture.store()
        let loaded = try store.loadDockerArchive(file: fixture.dockerArchive, only: nil, name: nil)
        #expect(loaded.map(\.name) == ["docker.io/library/busybox:latest"])
        let record = try #require(loaded.first)
        #expect(record.configDigest == original.configDigest)
        #expect(record.target.mediaType == MediaType.imageManifest)
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(store.content.read(record.target.digest)))
        // Layers are kept uncompressed: their digests are the diff_ids.
        #expect(manifest.layers.map(\.digest) == original.config.rootfs.diffIDs)
        #expect(manifest.layers.allSatisfy { $0.mediaType == MediaType.layer })
        #expect(try CanonicalJSON.encode(manifest) == store.content.read(record.target.digest))

        // Save: skopeo reads it, and converts it to an OCI layout.
        let saved = "\(fixture.dir.path)/saved.tar"
        try store.saveDockerArchive([(source: "docker.io/library/busybox:latest", name: "busybox:latest")], to: saved)
        let inspect = try runPeer("skopeo", ["inspect", "docker-archive:\(saved)"])
        #expect(inspect.contains(original.config.rootfs.diffIDs[0].description), "skopeo inspect: \(inspect)")
        #expect(try runPeer("tar", ["-tf", saved]).contains("manifest.json"))
        try runPeer("skopeo", ["copy", "docker-archive:\(saved)", "oci:\(fixture.dir.path)/from-saved:latest"])
        let reread = try OCILayout.read(directory: "\(fixture.dir.path)/from-saved")
        #expect(reread.tags == ["latest"])

        let members = try readTarMembers(saved)
        #expect(members.map(\.entry.path) == members.map(\.entry.path).sorted())
        #expect(members.allSatisfy { $0.entry.mtime.seconds == 0 && $0.entry.uid == 0 && $0.entry.gid == 0 })
        let entries = try JSONDecoder().decode([DockerArchiveManifestEntry].self, from: Data(#require(member(members, "manifest.json")).content))
        #expect(entries == [DockerArchiveManifestEntry(
            config: "\(original.configDigest.encoded).json", repoTags: ["busybox:latest"],
            layers: original.config.rootfs.diffIDs.map { "\($0.encoded)/layer.tar" })])
        let repositories = try JSONDecoder().decode([String: [String: String]].self, from: Data(#require(member(members, "repositories")).content))
        #expect(repositories == ["busybox": ["latest": original.config.rootfs.diffIDs[0].encoded]])

        // Saving twice gives identical bytes.
        let again = "\(fixture.dir.path)/saved-again.tar"
        try store.saveDockerArchive([(source: "docker.io/library/busybox:latest", name: "busybox:latest")], to: again)
        #expect(try fileBytes(saved) == fileBytes(again))

        // Loading our save gives the same config, diff_ids and even the same manifest.
        let second = try fixture.store("second")
        let reloaded = try second.loadDockerArchive(file: saved, only: nil, name: nil)
        #expect(reloaded.map(\.name) == ["docker.io/library/busybox:latest"])
        #expect(reloaded.first?.configDigest == original.configDigest)
        #expect(reloaded.first?.target == record.target)
    }

    @Test(.enabled(if: archiveToolsInstalled || requirePrivileged, archiveToolsReason))
    func savesGzipLayersUncompressedAndKeepsTheImageID() throws {
        let fixture = try BusyboxFixture(dockerArchive: false)
        defer { fixture.remove() }
        let original = try fixture.layoutImage()
        let store = try fixture.store()
        try store.importImage(from: OCILayout.read(directory: fixture.layout), tag: "latest", name: "localhost/busybox:gz")

        let saved = "\(fixture.dir.path)/saved.tar"
        try store.saveDockerArchive([(source: "localhost/busybox:gz", name: "localhost/busybox:gz"),
                                     (source: "localhost/busybox:gz", name: "localhost/busybox:other")], to: saved)
        try runPeer("skopeo", ["inspect", "docker-archive:\(saved)"])
        let members = try readTarMembers(saved)
        let layer = try #require(member(members, "\(original.config.rootfs.diffIDs[0].encoded)/layer.tar"))
        #expect(Digest.of(layer.content) == original.config.rootfs.diffIDs[0])
        let entries = try JSONDecoder().decode([DockerArchiveManifestEntry].self, from: Data(#require(member(members, "manifest.json")).content))
        #expect(entries.count == 1)
        #expect(entries.first?.repoTags == ["localhost/busybox:gz", "localhost/busybox:other"])

        let second = try fixture.store("second")
        let loaded = try second.loadDockerArchive(file: saved, only: "localhost/busybox:other", name: nil)
        #expect(loaded.map(\.name) == ["localhost/busybox:other"])
        #expect(loaded.first?.configDigest == original.configDigest)
    }

    @Test(.enabled(if: archiveToolsInstalled || requirePrivileged, archiveToolsReason))
    func onlyNameAndUntaggedImages() throws {
        let fixture = try BusyboxFixture()
        defer { fixture.remove() }
        let store = try fixture.store()
        // `only` is normalised: the familiar form finds skopeo's full RepoTag.
        let picked = try store.loadDockerArchive(file: fixture.dockerArchive, only: "busybox", name: "localhost/renamed:1")
        #expect(picked.map(\.name) == ["localhost/renamed:1"])
        #expect(try store.list().map(\.name) == ["localhost/renamed:1"])
        expectStoreError(.imageNotFound, mentioning: ["docker.io/library/alpine:latest", "docker.io/library/busybox:latest"]) {
            try store.loadDockerArchive(file: fixture.dockerArchive, only: "alpine", name: nil)
        }

        // An entry without RepoTags gets localhost/untagged:<config hex 12>.
        let untagged = "\(fixture.dir.path)/untagged.tar"
        try rewriteTar(fixture.dockerArchive, to: untagged) { members in
            let index = try #require(members.firstIndex { $0.entry.path == "manifest.json" })
            var entries = try JSONDecoder().decode([DockerArchiveManifestEntry].self, from: Data(members[index].content))
            entries[0].repoTags = nil
            members[index].content = Array(try JSONEncoder().encode(entries))
        }
        let records = try store.loadDockerArchive(file: untagged, only: nil, name: nil)
        let config = try #require(records.first?.configDigest)
        #expect(records.map(\.name) == ["localhost/untagged:\(config.encoded.prefix(12))"])
        #expect(try store.lookup(String(config.encoded.prefix(12))).configDigest == config)
    }

    @Test(.enabled(if: archiveToolsInstalled || requirePrivileged, archiveToolsReason))
    func manifestFirstOrLastAndCompressedArchives() throws {
        let fixture = try BusyboxFixture()
        defer { fixture.remove() }
        let expected = try fixture.layoutImage().configDigest
        // manifest.json first, real files instead of skopeo's symlinks, gzip layer inside.
        let reordered = "\(fixture.dir.path)/reordered.tar"
        try rewriteTar(fixture.dockerArchive, to: reordered) { members in
            members.sort { a, b in (a.entry.path == "manifest.json" ? 0 : 1, a.entry.path) < (b.entry.path == "manifest.json" ? 0 : 1, b.entry.path) }
            members.removeAll { $0.entry.type == .symlink }
        }
        #expect(try readTarMembers(reordered).first?.entry.path == "manifest.json")
        let store = try fixture.store()
        #expect(try store.loadDockerArchive(file: reordered, only: nil, name: nil).first?.configDigest == expected)

        // A gzip-compressed archive loads too (docker load accepts them).
        let gzipped = "\(fixture.dir.path)/archive.tar.gz"
        let sink = try FileDescriptorSink(path: gzipped)
        let compressor = try compressingSink(sink, compression: .gzip)
        try compressor.write(fileBytes(fixture.dockerArchive))
        try compressor.finish()
        let other = try fixture.store("other")
        #expect(try other.loadArchive(file: gzipped).first?.configDigest == expected)

        // A gzip layer inside a docker-archive is checked by its uncompressed digest and kept as gzip.
        let gzipLayer = "\(fixture.dir.path)/gzip-layer.tar"
        try rewriteTar(fixture.dockerArchive, to: gzipLayer) { members in
            for index in members.indices where members[index].entry.path.hasSuffix(".tar") && members[index].entry.type == .regular {
                let out = MemorySink()
                let gzip = try compressingSink(out, compression: .gzip)
                try gzip.write(members[index].content)
                try gzip.finish()
                members[index].content = out.bytes
                members[index].entry.size = Int64(out.bytes.count)
            }
        }
        let third = try fixture.store("third")
        let record = try #require(try third.loadDockerArchive(file: gzipLayer, only: nil, name: nil).first)
        #expect(record.configDigest == expected)
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(third.content.read(record.target.digest)))
        #expect(manifest.layers.map(\.mediaType) == [MediaType.layerGzip])
    }

    @Test(.enabled(if: archiveToolsInstalled || requirePrivileged, archiveToolsReason))
    func docker25ArchiveKeepsTheOCIManifestDigest() throws {
        let fixture = try BusyboxFixture()
        defer { fixture.remove() }
        let store = try fixture.store()
        let record = try #require(try store.loadDockerArchive(file: fixture.dockerArchive, only: nil, name: nil).first)
        // Build what Docker 25 writes: an OCI layout whose manifest has uncompressed layers,
        // plus manifest.json naming blobs/sha256/… paths.
        let oci = "\(fixture.dir.path)/oci.tar"
        try store.exportOCIArchive(record.name, to: oci, tag: "latest")
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(store.content.read(record.target.digest)))
        let docker25 = "\(fixture.dir.path)/docker25.tar"
        try rewriteTar(oci, to: docker25) { members in
            let entry = DockerArchiveManifestEntry(config: "blobs/sha256/\(manifest.config.digest.encoded)", repoTags: ["busybox:25"],
                                                   layers: manifest.layers.map { "blobs/sha256/\($0.digest.encoded)" })
            members.append(TarMember(entry: TarEntry(path: "manifest.json", type: .regular), content: try CanonicalJSON.encode([entry])))
        }
        let other = try fixture.store("other")
        let loaded = try other.loadArchive(file: docker25)
        #expect(loaded.map(\.name) == ["docker.io/library/busybox:25"])
        #expect(loaded.first?.target == record.target)
    }

    @Test(.enabled(if: archiveToolsInstalled || requirePrivileged, archiveToolsReason))
    func hostileAndBrokenArchivesTagNothing() throws {
        let fixture = try BusyboxFixture()
        defer { fixture.remove() }
        let good = fixture.dockerArchive
        let diffID = try fixture.layoutImage().config.rootfs.diffIDs[0]
        let members = try readTarMembers(good)
        func variant(_ name: String, _ edit: (inout [TarMember]) throws -> Void) throws -> String {
            let path = "\(fixture.dir.path)/\(name).tar"
            try rewriteTar(good, to: path, edit)
            return path
        }
        func editManifest(_ members: inout [TarMember], _ edit: (inout [DockerArchiveManifestEntry]) -> Void) throws {
            let index = try #require(members.firstIndex { $0.entry.path == "manifest.json" })
            var entries = try JSONDecoder().decode([DockerArchiveManifestEntry].self, from: Data(members[index].content))
            edit(&entries)
            members[index].content = Array(try JSONEncoder().encode(entries))
        }

        // Truncated in the middle of the layer.
        let truncated = "\(fixture.dir.path)/truncated.tar"
        try FileManager.default.copyItem(atPath: good, toPath: truncated)
        try truncateFile(truncated, to: 1_000_000)
        // A flipped byte inside the layer's content.
        let flipped = try variant("flipped") { members in
            let index = try #require(members.firstIndex { $0.entry.path.hasSuffix(".tar") && $0.entry.type == .regular })
            members[index].content[members[index].content.count / 2] ^= 0x40
        }
        let malformed = try variant("malformed") { members in
            let index = try #require(members.firstIndex { $0.entry.path == "manifest.json" })
            members[index].content = Array(#"[{"Config": 42}"#.utf8)
        }
        let missing = try variant("missing") { try editManifest(&$0) { $0[0].layers[0] = "nope/layer.tar" } }
        let wrongDiffIDs = try variant("wrong-diff-ids") { members in
            // A config whose diff_id is not the layer's, under its own (correct) digest name.
            let index = try #require(members.firstIndex { $0.entry.path.hasSuffix(".json") && $0.entry.path != "manifest.json" })
            let text = String(decoding: members[index].content, as: UTF8.self).replacingOccurrences(of: diffID.encoded, with: String(repeating: "0", count: 64))
            members[index].content = Array(text.utf8)
            let newName = "\(Digest.of(members[index].content).encoded).json"
            members[index].entry.path = newName
            try editManifest(&members) { $0[0].config = newName }
        }
        // A header claiming 2 TiB (base-256 size field), with nothing after it.
        let absurd = "\(fixture.dir.path)/absurd.tar"
        try Data(absurdSizeHeader(path: "blobs/big")).write(to: URL(fileURLWithPath: absurd))
        let notAnArchive = "\(fixture.dir.path)/garbage.tar"
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: notAnArchive))
        #expect(member(members, "manifest.json") != nil)

        let cases: [(String, ImageStoreError.Code, [String])] = [
            (truncated, .invalidArchive, ["truncated archive \(truncated)"]),
            (flipped, .digestMismatch, [diffID.description]),
            (malformed, .malformedDocument, ["manifest.json", malformed]),
            (missing, .invalidArchive, ["nope/layer.tar", "not in the archive"]),
            (wrongDiffIDs, .digestMismatch, ["sha256:" + String(repeating: "0", count: 64), diffID.description]),
            (notAnArchive, .invalidArchive, ["malformed archive \(notAnArchive)"]),
            (absurd, .invalidArchive, ["blobs/big", "2199023255552 bytes"]),
        ]
        for (path, code, mentions) in cases {
            let store = try ImageStore(root: "\(fixture.dir.path)/store-\(FileSystem.baseName(of: path))")
            expectStoreError(code, mentioning: mentions) { try store.loadDockerArchive(file: path, only: nil, name: nil) }
            try expectStoreStillUsable(store, goodArchive: good)
        }
    }

    @Test(.enabled(if: archiveToolsInstalled || requirePrivileged, archiveToolsReason))
    func memberPathsAreOnlyKeys() throws {
        let fixture = try BusyboxFixture()
        defer { fixture.remove() }
        let marker = "kujira-escape-\(getpid())"
        let hostile = "\(fixture.dir.path)/hostile.tar"
        try rewriteTar(fixture.dockerArchive, to: hostile) { members in
            for path in ["../../../../tmp/\(marker)", "/tmp/\(marker)", "blobs/../../../tmp/\(marker)"] {
                members.insert(TarMember(entry: TarEntry(path: path, type: .regular), content: Array("escaped".utf8)), at: 0)
            }
            members.insert(TarMember(entry: TarEntry(path: "evil-link", type: .symlink, linkname: "/etc/passwd"), content: []), at: 0)
        }
        let store = try fixture.store()
        #expect(try store.loadDockerArchive(file: hostile, only: nil, name: nil).map(\.name) == ["docker.io/library/busybox:latest"])
        #expect(!FileManager.default.fileExists(atPath: "/tmp/\(marker)"))
    }

    @Test func untaggedAndRepositoryNaming() throws {
        let digest = Digest.of(Array("config".utf8))
        #expect(ArchiveNaming.untaggedName(config: digest) == "localhost/untagged:\(digest.encoded.prefix(12))")
        #expect(ArchiveNaming.splitRepositoryTag("busybox:latest") == ("busybox", "latest"))
        #expect(ArchiveNaming.splitRepositoryTag("localhost:5000/app") == ("localhost:5000/app", nil))
        #expect(ArchiveNaming.splitRepositoryTag("localhost:5000/app:1") == ("localhost:5000/app", "1"))
        #expect(ArchiveNaming.repositoryName(fromFile: "/tmp/My Image_v1.tar") == "my-image-v1")
        #expect(ArchiveNaming.repositoryName(fromFile: "/tmp/.tar") == "image")
    }
}

/// One tar header block for a regular file of 2 TiB, its size in base-256 (GNU), checksum
/// fixed: what a hostile archive uses to make a reader allocate or wait forever.
func absurdSizeHeader(path: String) throws -> [UInt8] {
    let sink = MemorySink()
    let writer = TarWriter(sink)
    try writer.writeEntry(TarEntry(path: path, type: .regular), content: [])
    try writer.finish()
    var block = Array(sink.bytes.prefix(512))
    let size: UInt64 = 1 << 41
    block[124] = 0x80
    for i in 0..<11 { block[124 + 1 + i] = 0 }
    for i in 0..<8 { block[135 - i] = UInt8((size >> (8 * UInt64(i))) & 0xff) }
    for i in 148..<156 { block[i] = 0x20 }
    let sum = block.reduce(0) { $0 + Int($1) }
    let octal = Array(String(sum, radix: 8).utf8)
    let field = Array(repeating: UInt8(ascii: "0"), count: 6 - octal.count) + octal + [0, 0x20]
    block.replaceSubrange(148..<156, with: field)
    return block
}
