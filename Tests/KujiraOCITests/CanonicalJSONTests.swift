import KujiraOCI
import Testing

@Suite("CanonicalJSON")
struct CanonicalJSONTests {
    @Test func sortsKeysCompactsAndKeepsSlashes() throws {
        let config = ImageConfiguration(
            created: "2024-01-02T03:04:05Z", architecture: "amd64", os: "linux",
            config: ImageConfig(
                exposedPorts: ["80/tcp", "443/tcp"], env: ["PATH=/usr/bin:/bin"], cmd: ["/bin/sh"],
                volumes: ["/data"], labels: ["b": "2", "a": "1"]),
            rootfs: RootFS(diffIDs: [testDigest("layer")]))
        let text = String(decoding: try CanonicalJSON.encode(config), as: UTF8.self)
        let diffID = testDigest("layer")
        #expect(
            text == """
                {"architecture":"amd64","config":{"Cmd":["/bin/sh"],"Env":["PATH=/usr/bin:/bin"],"ExposedPorts":{"443/tcp":{},"80/tcp":{}},"Labels":{"a":"1","b":"2"},"Volumes":{"/data":{}}},"created":"2024-01-02T03:04:05Z","os":"linux","rootfs":{"diff_ids":["\(diffID)"],"type":"layers"}}
                """)
        // The same value always gives the same bytes, so the same digest.
        #expect(Digest.of(try CanonicalJSON.encode(config)) == Digest.of(Array(text.utf8)))
    }

    @Test func namesTheMissingField() {
        let error = expectOCIError(.malformedDocument) {
            _ = try CanonicalJSON.decode(
                Manifest.self, from: Array(#"{"schemaVersion":2,"config":{"mediaType":"x","size":1},"layers":[]}"#.utf8),
                what: "image manifest")
        }
        #expect(error?.message == "malformed image manifest: missing field \"config.digest\"")
    }

    @Test func namesTheMistypedField() {
        let error = expectOCIError(.malformedDocument) {
            _ = try CanonicalJSON.decode(Spec.self, from: Array(#"{"ociVersion":"1.2.0","hostname":5}"#.utf8), what: "config.json")
        }
        #expect(error?.message == "malformed config.json: field \"hostname\" is not a string")
    }

    @Test func reportsInvalidJSON() {
        let error = expectOCIError(.malformedDocument) {
            _ = try CanonicalJSON.decode(Spec.self, from: Array("{not json".utf8))
        }
        #expect(error?.message.hasPrefix("malformed Spec: invalid JSON") == true)
    }
}
