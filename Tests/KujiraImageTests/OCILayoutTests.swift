import Foundation
import Glibc
import KujiraOCI
import Testing
@testable import KujiraImage

/// Whether the peer tools that build and check layouts are installed.
let layoutToolsInstalled = which("umoci") != nil && which("skopeo") != nil

/// Builds a busybox image with umoci, offline, as REFERENCE.md describes.
func buildBusyboxLayout(at layout: String, scratch: String) throws {
    guard let umoci = which("umoci") else { throw ImageStoreError(.io, "umoci is not installed (apt-get install umoci)") }
    let rootfs = "\(scratch)/rootfs"
    try FileManager.default.createDirectory(atPath: "\(rootfs)/bin", withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: "\(rootfs)/bin/busybox")
    try FileManager.default.createSymbolicLink(atPath: "\(rootfs)/bin/sh", withDestinationPath: "busybox")
    for args in [["init", "--layout", layout], ["new", "--image", "\(layout):latest"],
                 ["insert", "--image", "\(layout):latest", rootfs, "/"],
                 ["config", "--image", "\(layout):latest", "--config.cmd=sh"]] {
        let result = try runTool(umoci, args)
        guard result.status == 0 else { throw ImageStoreError(.io, "umoci \(args.joined(separator: " ")) failed: \(result.output)") }
    }
}

/// The path of a layout's first layer blob, read through its manifest.
func firstLayerPath(_ layout: OCILayout, tag: String) throws -> (Digest, String) {
    let manifestDescriptor = try layout.resolve(tag: tag)
    let manifest = try JSONDecoder().decode(Manifest.self, from: Data(FileSystem.readFile(layout.blobPath(of: manifestDescriptor.digest))))
    let layer = try #require(manifest.layers.first)
    return (layer.digest, layout.blobPath(of: layer.digest))
}

@Suite struct OCILayoutTests {
    @Test(.enabled(if: layoutToolsInstalled || requirePrivileged, "umoci and skopeo are not installed (apt-get install umoci skopeo)"))
    func importExportRoundTripWithUmociAndSkopeo() throws {
        let umoci = try #require(which("umoci"), "umoci is required when KUJIRA_REQUIRE_PRIVILEGED=1")
        let skopeo = try #require(which("skopeo"), "skopeo is required when KUJIRA_REQUIRE_PRIVILEGED=1")
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let source = "\(dir.path)/source"
        try buildBusyboxLayout(at: source, scratch: dir.path)

        let layout = try OCILayout.read(directory: source)
        #expect(layout.tags == ["latest"])
        let store = try ImageStore(root: "\(dir.path)/store")
        let record = try store.importImage(from: layout, tag: "latest", name: "localhost/busybox:latest")
        let original = try layout.resolve(tag: "latest")
        #expect(record.target.digest == original.digest)
        #expect(record.target.annotations?[Descriptor.refNameAnnotation] == nil)
        for child in try store.children(of: record.target) { try store.content.verify(child.digest) }
        #expect(try store.lookup(String(record.id.encoded.prefix(12))).name == "localhost/busybox:latest")

        // Export to a new layout: both peers accept it and the digest is unchanged.
        let out = "\(dir.path)/out"
        let written = try store.exportImage("localhost/busybox:latest", to: out, tag: "latest")
        #expect(written.digest == original.digest)
        let inspect = try runTool(skopeo, ["inspect", "oci:\(out):latest"])
        #expect(inspect.status == 0, "skopeo inspect failed: \(inspect.output)")
        #expect(inspect.output.contains(original.digest.description))
        let stat = try runTool(umoci, ["stat", "--image", "\(out):latest"])
        #expect(stat.status == 0, "umoci stat failed: \(stat.output)")
        let exported = try OCILayout.read(directory: out)
        #expect(try exported.resolve(tag: "latest").digest == original.digest)
        #expect(try FileSystem.readFile(exported.blobPath(of: original.digest)) == FileSystem.readFile(layout.blobPath(of: original.digest)))

        // Exporting again replaces the entry; a second tag adds one; the peers still agree.
        try store.exportImage("localhost/busybox:latest", to: out, tag: "latest")
        try store.exportImage(record.target.digest.description, to: out, tag: "v2")
        let updated = try OCILayout.read(directory: out)
        #expect(updated.index.manifests.count == 2)
        #expect(Set(updated.tags) == ["latest", "v2"])
        #expect(try runTool(skopeo, ["inspect", "oci:\(out):v2"]).status == 0)
        #expect(try runTool(umoci, ["stat", "--image", "\(out):latest"]).status == 0)

        // Without a tag, a layout of two entries is an error that lists them.
        let error = #expect(throws: ImageStoreError.self) { try updated.resolve(tag: nil) }
        #expect(error?.message.contains("latest") == true && error?.message.contains("v2") == true)
        let unknown = #expect(throws: ImageStoreError.self) { try updated.resolve(tag: "nope") }
        #expect(unknown?.code == .tagNotFound)
        #expect(unknown?.message.contains("latest, v2") == true)
    }

    @Test(.enabled(if: layoutToolsInstalled || requirePrivileged, "umoci is not installed (apt-get install umoci)"))
    func flippedLayerByteFailsImportAndLeavesStoreUsable() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let good = "\(dir.path)/good"
        try buildBusyboxLayout(at: good, scratch: dir.path)
        let bad = "\(dir.path)/bad"
        try FileManager.default.copyItem(atPath: good, toPath: bad)
        let (layerDigest, layerPath) = try firstLayerPath(try OCILayout.read(directory: bad), tag: "latest")
        try flipByte(at: layerPath, offset: 200)

        let store = try ImageStore(root: "\(dir.path)/store")
        let error = #expect(throws: ImageStoreError.self) {
            try store.importImage(from: try OCILayout.read(directory: bad), tag: "latest", name: "localhost/bad:latest")
        }
        #expect(error?.code == .digestMismatch)
        #expect(error?.message.contains(layerDigest.description) == true)
        #expect(try store.get("localhost/bad:latest") == nil)
        #expect(!store.content.contains(layerDigest))
        #expect(try FileSystem.listDirectory(store.content.ingestDirectory).isEmpty)

        // The store still works: the good layout imports, and GC drops the leftovers.
        let record = try store.importImage(from: try OCILayout.read(directory: good), name: "localhost/good:latest")
        #expect(store.content.contains(layerDigest))
        _ = try store.garbageCollect()
        for child in try store.children(of: record.target) { try store.content.verify(child.digest) }
    }

    /// Writes a layout by hand: `oci-layout`, the given blobs, an `index.json` of `entries`.
    func writeRawLayout(_ directory: String, blobs: [[UInt8]], entries: [Descriptor], version: String = "1.0.0") throws {
        try FileSystem.makeDirectories("\(directory)/blobs/sha256")
        try FileSystem.writeFileAtomically("\(directory)/oci-layout", Array("{\"imageLayoutVersion\":\"\(version)\"}".utf8))
        for blob in blobs {
            try FileSystem.writeFileAtomically("\(directory)/blobs/sha256/\(Digest.of(blob).encoded)", blob)
        }
        try FileSystem.writeFileAtomically("\(directory)/index.json", Array(try ImageStore.encode(Index(manifests: entries)).utf8))
    }

    /// Parts of a small image, as bytes and descriptors.
    struct RawImage {
        let config = Array(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8)
        let layer = Array("not really a tar".utf8)
        var configDescriptor: Descriptor { Descriptor(mediaType: MediaType.imageConfig, digest: Digest.of(config), size: Int64(config.count)) }
        var layerDescriptor: Descriptor { Descriptor(mediaType: MediaType.layer, digest: Digest.of(layer), size: Int64(layer.count)) }

        func manifest(layers: [Descriptor]) throws -> [UInt8] {
            Array(try ImageStore.encode(Manifest(config: configDescriptor, layers: layers)).utf8)
        }
    }

    func tagged(_ bytes: [UInt8], _ mediaType: String = MediaType.imageManifest, tag: String = "t") -> Descriptor {
        Descriptor(mediaType: mediaType, digest: Digest.of(bytes), size: Int64(bytes.count), annotations: [Descriptor.refNameAnnotation: tag])
    }

    func importError(_ directory: String, tag: String? = "t") throws -> ImageStoreError? {
        let store = try ImageStore(root: "\(directory)-store")
        let error = #expect(throws: ImageStoreError.self) {
            try store.importImage(from: try OCILayout.read(directory: directory), tag: tag, name: "localhost/test:t")
        }
        #expect(try store.list().isEmpty, "nothing may be tagged after a failed import")
        return error
    }

    @Test func unsupportedLayerMediaType() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let raw = RawImage()
        var odd = raw.layerDescriptor
        odd.mediaType = "application/x-not-a-layer"
        let manifest = try raw.manifest(layers: [odd])
        try writeRawLayout("\(dir.path)/l", blobs: [raw.config, raw.layer, manifest], entries: [tagged(manifest)])
        let error = try importError("\(dir.path)/l")
        #expect(error?.code == .unsupportedMediaType)
        #expect(error?.message.hasPrefix("unsupported media type application/x-not-a-layer in image localhost/test:t") == true)
    }

    @Test func schema1TargetIsRejectedClearly() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let blob = Array("{}".utf8)
        try writeRawLayout("\(dir.path)/l", blobs: [blob], entries: [tagged(blob, MediaType.dockerManifestV1Signed)])
        let error = try importError("\(dir.path)/l")
        #expect(error?.code == .unsupportedMediaType)
        #expect(error?.message.contains("schema 1") == true)
    }

    @Test func malformedManifestIsOneClearLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let broken = Array(#"{"schemaVersion":2,"config":"#.utf8)
        try writeRawLayout("\(dir.path)/l", blobs: [broken], entries: [tagged(broken)])
        let error = try importError("\(dir.path)/l")
        #expect(error?.code == .malformedDocument)
        #expect(error?.message.contains(Digest.of(broken).description) == true)
        #expect(error?.description.contains("\n") == false)

        let missingField = Array(#"{"schemaVersion":2,"layers":[]}"#.utf8)
        try writeRawLayout("\(dir.path)/m", blobs: [missingField], entries: [tagged(missingField)])
        let fieldError = try importError("\(dir.path)/m")
        #expect(fieldError?.message.contains("missing field \"config\"") == true)

        try writeRawLayout("\(dir.path)/v", blobs: [], entries: [], version: "2.0.0")
        let versionError = #expect(throws: ImageStoreError.self) { try OCILayout.read(directory: "\(dir.path)/v") }
        #expect(versionError?.code == .invalidLayout)
        try FileSystem.writeFileAtomically("\(dir.path)/v/oci-layout", Array("not json".utf8))
        let junkError = #expect(throws: ImageStoreError.self) { try OCILayout.read(directory: "\(dir.path)/v") }
        #expect(junkError?.message.contains("not valid JSON") == true)
    }

    @Test func missingAndForeignBlobsNameTheDigest() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let raw = RawImage()
        let manifest = try raw.manifest(layers: [raw.layerDescriptor])
        try writeRawLayout("\(dir.path)/missing", blobs: [raw.config, manifest], entries: [tagged(manifest)])
        let missing = try importError("\(dir.path)/missing")
        #expect(missing?.code == .blobNotFound)
        #expect(missing?.message.contains(raw.layerDescriptor.digest.description) == true)

        var foreign = raw.layerDescriptor
        foreign.mediaType = MediaType.dockerForeignLayerGzip
        foreign.urls = ["https://example.invalid/layer.tar.gz"]
        let foreignManifest = try raw.manifest(layers: [foreign])
        try writeRawLayout("\(dir.path)/foreign", blobs: [raw.config, foreignManifest], entries: [tagged(foreignManifest)])
        let foreignError = try importError("\(dir.path)/foreign")
        #expect(foreignError?.message.contains(foreign.digest.description) == true)
        #expect(foreignError?.message.contains("foreign layer") == true)
    }

    @Test func wrongSizeInDescriptorIsRejected() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let raw = RawImage()
        var layer = raw.layerDescriptor
        layer.size += 1
        let manifest = try raw.manifest(layers: [layer])
        try writeRawLayout("\(dir.path)/l", blobs: [raw.config, raw.layer, manifest], entries: [tagged(manifest)])
        let error = try importError("\(dir.path)/l")
        #expect(error?.code == .digestMismatch)
        #expect(error?.message.contains(layer.digest.description) == true)
    }

    @Test func syntheticRoundTripWithoutTools() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let raw = RawImage()
        let manifest = try raw.manifest(layers: [raw.layerDescriptor])
        try writeRawLayout("\(dir.path)/l", blobs: [raw.config, raw.layer, manifest], entries: [tagged(manifest)])
        let store = try ImageStore(root: "\(dir.path)/store")
        // The only entry is taken when no tag is given.
        let record = try store.importImage(from: try OCILayout.read(directory: "\(dir.path)/l"), name: "localhost/raw:1")
        #expect(record.target.digest == Digest.of(manifest))
        #expect(record.configDigest == raw.configDescriptor.digest)
        let written = try store.exportImage("localhost/raw:1", to: "\(dir.path)/out", tag: "1")
        #expect(written.annotations?[Descriptor.refNameAnnotation] == "1")
        let out = try OCILayout.read(directory: "\(dir.path)/out")
        for blob in [raw.config, raw.layer, manifest] {
            #expect(try FileSystem.readFile(out.blobPath(of: Digest.of(blob))) == blob)
        }
        let indexJSON = String(decoding: try FileSystem.readFile("\(dir.path)/out/index.json"), as: UTF8.self)
        #expect(indexJSON.contains(#""mediaType":"application/vnd.oci.image.index.v1+json""#))
        #expect(indexJSON.contains(#""schemaVersion":2"#))
        #expect(FileSystem.exists("\(dir.path)/out/oci-layout"))
        // Nothing else is left in the layout root (temporary files are renamed away).
        #expect(Set(try FileSystem.listDirectory("\(dir.path)/out")) == ["oci-layout", "index.json", "blobs"])
    }
}
