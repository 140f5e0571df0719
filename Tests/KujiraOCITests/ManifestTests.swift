import KujiraOCI
import Testing

@Suite("Manifests, indexes and layouts")
struct ManifestTests {
    @Test func decodesUmociLayout() throws {
        let header = try checkRoundTrip(OCILayoutHeader.self, fixture: "umoci-oci-layout.json")
        #expect(header.imageLayoutVersion == OCILayoutHeader.currentVersion)
        #expect(try CanonicalJSON.encode(OCILayoutHeader()) == Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))

        let index = try checkRoundTrip(Index.self, fixture: "umoci-index.json")
        #expect(index.manifests.count == 1)
        #expect(index.manifests[0].annotations?[Descriptor.refNameAnnotation] == "latest")
        let blob = OCILayoutHeader.blobPath(for: index.manifests[0].digest)
        #expect(blob == "blobs/sha256/bb6dd7a9eabf2796a90401323692d616fcffc97d9f3764f778a7bba7bca2b26d")

        // The manifest blob hashes to the digest umoci recorded for it.
        let manifestBytes = try Fixture.bytes("umoci-manifest.json")
        #expect(Digest.of(manifestBytes) == index.manifests[0].digest)
        #expect(Int64(manifestBytes.count) == index.manifests[0].size)
        let manifest = try checkRoundTrip(Manifest.self, fixture: "umoci-manifest.json")
        #expect(Digest.of(try Fixture.bytes("umoci-config.json")) == manifest.config.digest)
        #expect(manifest.layers.map(\.mediaType) == [MediaType.layerGzip])
        #expect(MediaType.layerCompression(manifest.layers[0].mediaType) == .gzip)
    }

    @Test func decodesSkopeoDockerManifest() throws {
        let manifest = try checkRoundTrip(Manifest.self, fixture: "skopeo-docker-manifest.json")
        #expect(manifest.isDocker)
        #expect(manifest.config.mediaType == MediaType.dockerConfig)
    }

    @Test func decodesManifestListAndIndex() throws {
        let list = try checkRoundTrip(Index.self, fixture: "docker-manifest-list.json")
        #expect(list.isDocker)
        #expect(list.manifests.count == 9)
        let index = try checkRoundTrip(Index.self, fixture: "oci-index-multiarch.json")
        #expect(!index.isDocker)
        #expect(index.manifests[3].platform?.os == "unknown")
    }

    // MARK: ManifestDocument

    @Test(arguments: [
        ("umoci-manifest.json", nil, false),
        ("umoci-manifest.json", MediaType.imageManifest, false),
        ("umoci-manifest.json", "application/vnd.oci.image.manifest.v1+json; charset=utf-8", false),
        ("umoci-manifest.json", "application/json", false),
        ("skopeo-docker-manifest.json", nil, false),
        ("skopeo-docker-manifest.json", MediaType.dockerManifest, false),
        ("umoci-index.json", nil, true),
        ("umoci-index.json", MediaType.imageIndex, true),
        ("docker-manifest-list.json", nil, true),
        ("docker-manifest-list.json", MediaType.dockerManifestList, true),
        ("oci-index-multiarch.json", "application/octet-stream", true),
    ] as [(String, String?, Bool)])
    func decodesByMediaTypeOrShape(_ fixture: String, _ mediaType: String?, _ isIndex: Bool) throws {
        let document = try ManifestDocument(decoding: try Fixture.bytes(fixture), mediaType: mediaType)
        #expect((document.index != nil) == isIndex)
        #expect((document.manifest != nil) == !isIndex)
    }

    @Test func reportsEffectiveMediaType() throws {
        let oci = try ManifestDocument(decoding: try Fixture.bytes("umoci-manifest.json"))
        #expect(oci.mediaType == MediaType.imageManifest)
        let docker = try ManifestDocument(decoding: try Fixture.bytes("docker-manifest-list.json"))
        #expect(docker.mediaType == MediaType.dockerManifestList)
    }

    @Test(arguments: [nil, MediaType.dockerManifestV1Signed, MediaType.dockerManifestV1])
    func rejectsSchema1(_ mediaType: String?) throws {
        let bytes = try Fixture.bytes("docker-schema1.json")
        let error = expectOCIError(.unsupportedDocument) { _ = try ManifestDocument(decoding: bytes, mediaType: mediaType) }
        #expect(error?.message.contains("schema 1 is unsupported") == true)
    }

    @Test func rejectsAmbiguousDocuments() {
        let both = Array(#"{"schemaVersion":2,"manifests":[],"layers":[]}"#.utf8)
        let error = expectOCIError(.malformedDocument) { _ = try ManifestDocument(decoding: both) }
        #expect(error?.message.contains("CVE-2021-41190") == true)

        let indexWithConfig = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"config":{}}"#.utf8)
        _ = expectOCIError(.malformedDocument) { _ = try ManifestDocument(decoding: indexWithConfig) }

        let neither = Array(#"{"schemaVersion":2}"#.utf8)
        _ = expectOCIError(.malformedDocument) { _ = try ManifestDocument(decoding: neither) }
    }

    @Test func rejectsContradictoryMediaType() throws {
        let bytes = try Fixture.bytes("skopeo-docker-manifest.json")
        let error = expectOCIError(.malformedDocument) { _ = try ManifestDocument(decoding: bytes, mediaType: MediaType.imageIndex) }
        #expect(error?.message.contains("served as \(MediaType.imageIndex)") == true)
    }

    @Test func rejectsUnknownTypesAndVersions() throws {
        let manifest = try Fixture.bytes("umoci-manifest.json")
        _ = expectOCIError(.unsupportedMediaType) {
            _ = try ManifestDocument(decoding: manifest, mediaType: "application/vnd.oci.artifact.manifest.v1+json")
        }
        _ = expectOCIError(.unsupportedDocument) {
            _ = try ManifestDocument(decoding: Array(#"{"schemaVersion":3,"layers":[]}"#.utf8))
        }
        let error = expectOCIError(.malformedDocument) { _ = try ManifestDocument(decoding: Array("[]".utf8)) }
        #expect(error?.message.hasPrefix("malformed manifest") == true)
    }

    @Test func reportsBadFieldsInsideTheDocument() {
        let bytes = Array(#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:1","size":1},"layers":[]}"#.utf8)
        let error = expectOCIError(.malformedDocument) { _ = try ManifestDocument(decoding: bytes) }
        #expect(error?.message.hasPrefix("malformed image manifest: field \"config.digest\" is invalid") == true)
    }

    // MARK: Conversion

    @Test func convertsSkopeoDockerManifestToUmociOCIManifest() throws {
        let docker = try CanonicalJSON.decode(Manifest.self, from: try Fixture.bytes("skopeo-docker-manifest.json"))
        var oci = try CanonicalJSON.decode(Manifest.self, from: try Fixture.bytes("umoci-manifest.json"))
        oci.mediaType = MediaType.imageManifest
        #expect(try docker.convertedToOCI() == oci)
        #expect(try oci.convertedToDocker() == docker)
        #expect(try oci.convertedToOCI() == oci)
        #expect(try docker.convertedToDocker() == docker)
    }

    @Test(arguments: [
        (MediaType.layer, "application/vnd.docker.image.rootfs.diff.tar"),
        (MediaType.layerGzip, MediaType.dockerLayerGzip),
        (MediaType.layerNonDistributableGzip, MediaType.dockerForeignLayerGzip),
    ])
    func mapsLayerTypes(_ oci: String, _ docker: String) throws {
        let manifest = Manifest(
            config: Descriptor(mediaType: MediaType.imageConfig, digest: testDigest("c"), size: 2),
            layers: [Descriptor(mediaType: oci, digest: testDigest("l"), size: 3)],
            annotations: ["a": "b"])
        let converted = try manifest.convertedToDocker()
        #expect(converted.mediaType == MediaType.dockerManifest)
        #expect(converted.config.mediaType == MediaType.dockerConfig)
        #expect(converted.layers[0].mediaType == docker)
        #expect(converted.annotations == nil)
        #expect(try converted.convertedToOCI().layers[0].mediaType == oci)
    }

    @Test func refusesWhatDockerCannotExpress() {
        let config = Descriptor(mediaType: MediaType.imageConfig, digest: testDigest("c"), size: 2)
        let zstd = Manifest(config: config, layers: [Descriptor(mediaType: MediaType.layerZstd, digest: testDigest("z"), size: 1)])
        let error = expectOCIError(.unsupportedMediaType) { _ = try zstd.convertedToDocker() }
        #expect(error?.message.contains("zstd") == true)

        let artifact = Manifest(
            artifactType: "application/vnd.example.sbom",
            config: Descriptor(mediaType: MediaType.empty, digest: testDigest("e"), size: 2), layers: [])
        _ = expectOCIError(.unsupportedDocument) { _ = try artifact.convertedToDocker() }

        let odd = Manifest(config: Descriptor(mediaType: "application/vnd.example.config", digest: testDigest("c"), size: 2), layers: [])
        _ = expectOCIError(.unsupportedMediaType) { _ = try odd.convertedToDocker() }
    }

    @Test func convertsIndexesWithConvertedChildren() throws {
        let list = try CanonicalJSON.decode(Index.self, from: try Fixture.bytes("docker-manifest-list.json"))
        // Entries point to Docker manifests by digest: converting needs their new descriptors.
        let error = expectOCIError(.unsupportedMediaType) { _ = try list.convertedToOCI() }
        #expect(error?.message.contains("convert that manifest first") == true)

        var replacements: [Digest: Descriptor] = [:]
        for entry in list.manifests {
            replacements[entry.digest] = Descriptor(
                mediaType: MediaType.imageManifest, digest: testDigest("oci-\(entry.digest)"), size: entry.size + 10)
        }
        let oci = try list.convertedToOCI(replacing: replacements)
        #expect(oci.mediaType == MediaType.imageIndex)
        #expect(oci.manifests.map(\.platform) == list.manifests.map(\.platform))
        #expect(oci.manifests.allSatisfy { $0.mediaType == MediaType.imageManifest })

        var back: [Digest: Descriptor] = [:]
        for (old, new) in zip(list.manifests, oci.manifests) { back[new.digest] = Descriptor(mediaType: old.mediaType, digest: old.digest, size: old.size) }
        #expect(try oci.convertedToDocker(replacing: back) == list)

        // A layout index of OCI manifests needs no replacements.
        let layout = try CanonicalJSON.decode(Index.self, from: try Fixture.bytes("umoci-index.json"))
        #expect(try layout.convertedToOCI().manifests == layout.manifests)
        _ = expectOCIError(.unsupportedMediaType) { _ = try layout.convertedToDocker() }
    }
}
