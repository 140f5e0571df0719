import KujiraOCI
import Testing

@Suite("Platform")
struct PlatformTests {
    @Test(arguments: [
        ("linux/amd64", "linux/amd64"),
        ("linux/x86_64", "linux/amd64"),
        ("linux/x86-64", "linux/amd64"),
        ("Linux/AMD64", "linux/amd64"),
        ("linux/amd64/v1", "linux/amd64"),
        ("linux/amd64/v3", "linux/amd64/v3"),
        ("linux/aarch64", "linux/arm64"),
        ("linux/arm64", "linux/arm64"),
        ("linux/arm64/v8", "linux/arm64/v8"),
        ("linux/aarch64/8", "linux/arm64/v8"),
        ("linux/arm64/v9.0", "linux/arm64/v9"),
        ("linux/armhf", "linux/arm/v7"),
        ("linux/armel", "linux/arm/v6"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/arm/7", "linux/arm/v7"),
        ("linux/arm/6", "linux/arm/v6"),
        ("linux/arm/v5", "linux/arm/v5"),
        ("linux/i386", "linux/386"),
        ("linux/i686", "linux/386"),
        ("linux/386", "linux/386"),
        ("linux/ppc64le", "linux/ppc64le"),
        ("linux/riscv64", "linux/riscv64"),
        ("windows/amd64", "windows/amd64"),
        ("macos/arm64", "darwin/arm64"),
        ("arm64", "linux/arm64"),
        ("aarch64", "linux/arm64"),
        ("armhf", "linux/arm/v7"),
        ("s390x", "linux/s390x"),
    ])
    func parsesAndNormalises(_ specifier: String, _ expected: String) throws {
        #expect(try Platform(parsing: specifier).description == expected)
    }

    @Test func loneOSTakesHostArchitecture() throws {
        let platform = try Platform(parsing: "linux")
        #expect(platform.os == "linux")
        #expect(platform.architecture == Platform.host.architecture)
    }

    @Test(arguments: ["", "linux/", "/amd64", "linux//v7", "linux/amd64/v8/x", "linux/am d64", "notanos", "linux/arm64:v8"])
    func rejects(_ specifier: String) {
        let error = expectOCIError(.invalidPlatform) { _ = try Platform(parsing: specifier) }
        #expect(error?.message.contains("\"\(specifier)\"") == true)
    }

    @Test func normalisesFieldsFromDocuments() {
        let platform = Platform(architecture: "aarch64", os: "Linux", variant: "v8").normalized()
        #expect(platform == Platform(architecture: "arm64", os: "linux"))
        #expect(Platform(architecture: "arm", os: "linux").normalized().variant == "v7")
        #expect(Platform(architecture: "x86_64", os: "linux", variant: "v1").normalized() == Platform(architecture: "amd64", os: "linux"))
    }

    @Test func hostIsLinuxOnTheCompiledArchitecture() {
        let host = Platform.host
        #expect(host.os == "linux")
        #if arch(x86_64)
        #expect(host.description == "linux/amd64")
        #elseif arch(arm64)
        #expect(host.description == "linux/arm64/v8")
        #endif
        #expect(host.matches(host))
    }

    /// Host → image → whether the image runs on the host.
    @Test(arguments: [
        ("linux/arm64", "linux/arm64/v8", true),
        ("linux/arm64/v8", "linux/arm64", true),
        ("linux/arm64", "linux/aarch64", true),
        ("linux/arm64", "linux/arm/v8", true),
        ("linux/arm64", "linux/arm/v7", true),
        ("linux/arm64", "linux/arm/v6", true),
        ("linux/arm64", "linux/arm/v5", true),
        ("linux/arm64", "linux/amd64", false),
        ("linux/arm64", "windows/arm64", false),
        ("linux/arm64", "linux/arm64/v8.2", false),
        ("linux/arm64/v8.2", "linux/arm64/v8.1", true),
        ("linux/arm64/v8.2", "linux/arm64", true),
        ("linux/arm64/v9", "linux/arm64/v8.5", true),
        ("linux/arm64/v9", "linux/arm/v7", true),
        ("linux/arm/v7", "linux/arm/v7", true),
        ("linux/arm/v7", "linux/arm", true),
        ("linux/arm/v7", "linux/armhf", true),
        ("linux/arm/v7", "linux/arm/v6", true),
        ("linux/arm/v7", "linux/arm/v5", true),
        ("linux/arm/v7", "linux/arm/v8", false),
        ("linux/arm/v7", "linux/arm64", false),
        ("linux/arm/v6", "linux/arm/v7", false),
        ("linux/arm/v6", "linux/armel", true),
        ("linux/amd64", "linux/amd64", true),
        ("linux/amd64", "linux/x86_64", true),
        ("linux/amd64", "linux/amd64/v1", true),
        ("linux/amd64", "linux/amd64/v2", false),
        ("linux/amd64", "linux/386", true),
        ("linux/amd64", "linux/arm64", false),
        ("linux/amd64/v3", "linux/amd64/v2", true),
        ("linux/amd64/v3", "linux/amd64", true),
        ("linux/amd64/v3", "linux/amd64/v3", true),
        ("linux/amd64/v3", "linux/amd64/v4", false),
        ("linux/386", "linux/amd64", false),
        ("linux/ppc64le", "linux/ppc64le", true),
        ("linux/ppc64le", "linux/ppc64", false),
        ("linux/amd64", "windows/amd64", false),
    ])
    func matches(_ host: String, _ image: String, _ expected: Bool) throws {
        #expect(try Platform(parsing: host).matches(try Platform(parsing: image)) == expected)
    }

    @Test func comparesDocumentPlatformsNotJustParsedOnes() throws {
        let host = try Platform(parsing: "linux/arm64")
        #expect(host.matches(Platform(architecture: "aarch64", os: "linux", variant: "8")))
        #expect(host.matches(Platform(architecture: "arm", os: "linux")))
    }

    @Test func preferenceOrderFollowsContainerd() throws {
        let arm64 = try Platform(parsing: "linux/arm64").compatiblePlatforms.map(\.description)
        #expect(arm64 == ["linux/arm64", "linux/arm/v8", "linux/arm/v7", "linux/arm/v6", "linux/arm/v5"])
        let amd64v3 = try Platform(parsing: "linux/amd64/v3").compatiblePlatforms.map(\.description)
        #expect(amd64v3 == ["linux/amd64/v3", "linux/amd64/v2", "linux/amd64", "linux/386"])
    }

    /// Host → the digest seed of the entry picked from the Docker manifest list fixture.
    @Test(arguments: [
        ("linux/amd64", "m1"),
        ("linux/amd64/v2", "m1"),
        ("linux/arm64", "m5"),
        ("linux/arm64/v8", "m5"),
        ("linux/arm/v7", "m4"),
        ("linux/arm/v6", "m3"),
        ("linux/arm/v5", "m2"),
        ("linux/386", "m6"),
        ("linux/ppc64le", "m7"),
        ("linux/s390x", "m8"),
        ("windows/amd64", "m9"),
    ])
    func picksFromDockerManifestList(_ host: String, _ seed: String) throws {
        let list = try CanonicalJSON.decode(Index.self, from: try Fixture.bytes("docker-manifest-list.json"))
        let picked = try Platform(parsing: host).bestMatch(in: list.manifests)
        #expect(picked?.digest == testDigest(seed))
    }

    @Test func picksNothingWhenNoEntryRuns() throws {
        let list = try CanonicalJSON.decode(Index.self, from: try Fixture.bytes("docker-manifest-list.json"))
        #expect(try Platform(parsing: "linux/riscv64").bestMatch(in: list.manifests) == nil)
    }

    @Test func ordersArmFallbacks() throws {
        let list = try CanonicalJSON.decode(Index.self, from: try Fixture.bytes("docker-manifest-list.json"))
        let order = try Platform(parsing: "linux/arm64").sortedByPreference(list.manifests).map(\.digest)
        #expect(order == ["m5", "m4", "m3", "m2"].map(testDigest))
    }

    @Test func skipsAttestationsAndPrefersHigherAmd64Levels() throws {
        let index = try CanonicalJSON.decode(Index.self, from: try Fixture.bytes("oci-index-multiarch.json"))
        #expect(try Platform(parsing: "linux/amd64/v3").bestMatch(in: index.manifests)?.digest == testDigest("o3"))
        #expect(try Platform(parsing: "linux/amd64").bestMatch(in: index.manifests)?.digest == testDigest("o1"))
        #expect(try Platform(parsing: "linux/arm64/v8").bestMatch(in: index.manifests)?.digest == testDigest("o2"))
        #expect(try Platform(parsing: "linux/amd64/v4").sortedByPreference(index.manifests).map(\.digest) == ["o3", "o1"].map(testDigest))
    }

    @Test func fallsBackToEntriesWithoutPlatform() throws {
        let plain = Descriptor(mediaType: MediaType.imageManifest, digest: testDigest("plain"), size: 1)
        let arm = Descriptor(
            mediaType: MediaType.imageManifest, digest: testDigest("arm"), size: 1,
            platform: Platform(architecture: "arm64", os: "linux"))
        #expect(try Platform(parsing: "linux/arm64").bestMatch(in: [plain, arm]) == arm)
        #expect(try Platform(parsing: "linux/amd64").bestMatch(in: [plain, arm]) == plain)
    }

    @Test func roundTripsDottedKeys() throws {
        let list = try CanonicalJSON.decode(Index.self, from: try Fixture.bytes("docker-manifest-list.json"))
        let windows = try #require(list.manifests.last?.platform)
        #expect(windows.osVersion == "10.0.17763.5122")
        #expect(windows.osFeatures == ["win32k"])
    }
}
