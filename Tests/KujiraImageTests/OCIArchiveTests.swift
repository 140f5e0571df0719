import Foundation
import Glibc
import KujiraArchive
import KujiraOCI
import Testing
@testable import KujiraImage

@Suite struct OCIArchiveTests {
    @Test(.enabled(if: archiveToolsInstalled || requirePrivileged, archiveToolsReason))
    func skopeoArchiveImportExportRoundTrip() throws {
        let fixture = try BusyboxFixture(dockerArchive: false, ociArchive: true)
        defer { fixture.remove() }
        let original = try fixture.layoutImage()
        let store = try fixture.store()
        let record = try store.importOCIArchive(file: fixture.ociArchive, tag: "latest", name: nil)
        #expect(record.name == "localhost/skopeo-oci:latest")
        #expect(record.configDigest == original.configDigest)
        // skopeo keeps umoci's blobs (gzip layers), so the manifest digest is unchanged.
        let index = try JSONDecoder().decode(Index.self, from: Data(#require(member(readTarMembers(fixture.ociArchive), "index.json")).content))
        #expect(record.target.digest == index.manifests.first?.digest)
        #expect(record.target.annotations?[Descriptor.refNameAnnotation] == nil)
        for child in try store.children(of: record.target) { try store.content.verify(child.digest) }

        let exported = "\(fixture.dir.path)/exported.tar"
        let written = try store.exportOCIArchive(record.name, to: exported, tag: "v1")
        #expect(written.digest == record.target.digest)
        #expect(written.annotations?[Descriptor.refNameAnnotation] == "v1")
        let inspect = try runPeer("skopeo", ["inspect", "oci-archive:\(exported):v1"])
        #expect(inspect.contains(record.target.digest.description), "skopeo inspect: \(inspect)")
        try runPeer("skopeo", ["copy", "oci-archive:\(exported):v1", "oci:\(fixture.dir.path)/copied:v1"])

        let members = try readTarMembers(exported)
        #expect(members.map(\.entry.path) == members.map(\.entry.path).sorted())
        #expect(members.allSatisfy { $0.entry.mtime.seconds == 0 })
        let again = "\(fixture.dir.path)/exported-again.tar"
        try store.exportOCIArchive(record.name, to: again, tag: "v1")
        #expect(try fileBytes(exported) == fileBytes(again))

        let second = try fixture.store("second")
        let reimported = try second.importOCIArchive(file: exported, tag: nil, name: "localhost/again:1")
        #expect(reimported.target.digest == record.target.digest)
        #expect(try second.loadArchive(file: exported).map(\.name) == ["localhost/exported:v1"])
    }

    @Test(.enabled(if: archiveToolsInstalled || requirePrivileged, archiveToolsReason))
    func namesFromAnnotations() throws {
        let fixture = try BusyboxFixture(dockerArchive: false, ociArchive: true)
        defer { fixture.remove() }
        func withAnnotations(_ name: String, _ annotations: [String: String]) throws -> String {
            let path = "\(fixture.dir.path)/\(name).tar"
            try rewriteTar(fixture.ociArchive, to: path) { members in
                let position = try #require(members.firstIndex { ArchiveScanner.normalise($0.entry.path) == "index.json" })
                var index = try JSONDecoder().decode(Index.self, from: Data(members[position].content))
                index.manifests[0].annotations = annotations
                members[position].content = try CanonicalJSON.encode(index)
                members[position].entry.size = Int64(members[position].content.count)
            }
            return path
        }
        let store = try fixture.store()
        let containerd = try withAnnotations("containerd", [ArchiveNaming.containerdNameAnnotation: "ghcr.io/me/app:2", Descriptor.refNameAnnotation: "2"])
        #expect(try store.importOCIArchive(file: containerd, tag: "2", name: nil).name == "ghcr.io/me/app:2")
        let full = try withAnnotations("full", [Descriptor.refNameAnnotation: "busybox:1.36"])
        #expect(try store.importOCIArchive(file: full, tag: nil, name: nil).name == "docker.io/library/busybox:1.36")
        let none = try withAnnotations("no-tag", [:])
        #expect(try store.importOCIArchive(file: none, tag: nil, name: nil).name == "localhost/no-tag:latest")
    }

    @Test(.enabled(if: archiveToolsInstalled || requirePrivileged, archiveToolsReason))
    func hostileAndBrokenArchivesTagNothing() throws {
        let fixture = try BusyboxFixture(dockerArchive: false, ociArchive: true)
        defer { fixture.remove() }
        let good = fixture.ociArchive
        let members = try readTarMembers(good)
        let layerDigest = try #require(try firstLayer(of: members))
        func variant(_ name: String, _ edit: (inout [TarMember]) throws -> Void) throws -> String {
            let path = "\(fixture.dir.path)/\(name).tar"
            try rewriteTar(good, to: path, edit)
            return path
        }
        func editIndex(_ members: inout [TarMember], _ edit: (inout Index) -> Void) throws {
            let position = try #require(members.firstIndex { ArchiveScanner.normalise($0.entry.path) == "index.json" })
            var index = try JSONDecoder().decode(Index.self, from: Data(members[position].content))
            edit(&index)
            members[position].content = try CanonicalJSON.encode(index)
        }
        let layerPath = "blobs/sha256/\(layerDigest.encoded)"
        let flipped = try variant("flipped") { members in
            let position = try #require(members.firstIndex { ArchiveScanner.normalise($0.entry.path) == layerPath })
            members[position].content[100] ^= 0x01
        }
        let missing = try variant("missing") { $0.removeAll { ArchiveScanner.normalise($0.entry.path) == layerPath } }
        let unknownType = try variant("unknown-type") { try editIndex(&$0) { $0.manifests[0].mediaType = "application/vnd.example.thing+json" } }
        let noLayout = try variant("no-layout") { $0.removeAll { ArchiveScanner.normalise($0.entry.path) == "oci-layout" } }
        let truncated = "\(fixture.dir.path)/truncated.tar"
        let bytes = try fileBytes(good)
        try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: truncated))

        let cases: [(String, String?, ImageStoreError.Code, [String])] = [
            (flipped, "latest", .digestMismatch, [layerDigest.description]),
            (missing, "latest", .blobNotFound, [layerDigest.description, "not in the archive"]),
            (unknownType, "latest", .unsupportedMediaType, ["application/vnd.example.thing+json"]),
            (noLayout, "latest", .invalidArchive, ["oci-layout"]),
            (truncated, "latest", .invalidArchive, ["truncated archive \(truncated)"]),
            (good, "nope", .tagNotFound, ["nope", "latest"]),
        ]
        for (path, tag, code, mentions) in cases {
            let store = try ImageStore(root: "\(fixture.dir.path)/store-\(FileSystem.baseName(of: path))-\(tag ?? "")")
            expectStoreError(code, mentioning: mentions) { try store.importOCIArchive(file: path, tag: tag, name: "localhost/x:1") }
            try expectStoreStillUsable(store, goodArchive: good)
        }
    }

    /// The first layer digest of the single manifest in an oci-archive's members.
    private func firstLayer(of members: [TarMember]) throws -> Digest? {
        let index = try JSONDecoder().decode(Index.self, from: Data(#require(member(members, "index.json")).content))
        let manifestDigest = try #require(index.manifests.first?.digest)
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(#require(member(members, "blobs/sha256/\(manifestDigest.encoded)")).content))
        return manifest.layers.first?.digest
    }
}
