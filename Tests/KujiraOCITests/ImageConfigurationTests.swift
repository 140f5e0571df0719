import KujiraOCI
import Testing

@Suite("ImageConfiguration")
struct ImageConfigurationTests {
    @Test func decodesUmociConfig() throws {
        let config = try checkRoundTrip(ImageConfiguration.self, fixture: "umoci-config.json")
        #expect(config.architecture == "amd64")
        #expect(config.os == "linux")
        #expect(config.author == "kujira")
        #expect(config.created == "2026-11-29T00:05:59.948486266Z")
        #expect(config.createdTimestamp?.nanoseconds == 948_486_266)
        let run = try #require(config.config)
        #expect(run.user == "1000:1000")
        #expect(run.exposedPorts == ["80/tcp"])
        #expect(run.exposedPorts?.contains("80/tcp") == true)
        #expect(run.volumes == ["/data"])
        #expect(run.env == ["A=B"])
        #expect(run.entrypoint == ["/bin/sh"])
        #expect(run.cmd == ["sh"])
        #expect(run.workingDir == "/work")
        #expect(run.labels == ["org.example": "yes"])
        #expect(config.rootfs.type == RootFS.layersType)
        #expect(config.rootfs.diffIDs.count == 1)
        #expect(config.history?.count == 2)
        #expect(config.history?[1].emptyLayer == true)
        #expect(config.history?[1].createdBy == "test")
        #expect(config.platform.description == "linux/amd64")
    }

    @Test func decodesEmptyUmociConfig() throws {
        let config = try checkRoundTrip(ImageConfiguration.self, fixture: "umoci-config-empty.json")
        #expect(config.config == ImageConfig())
        #expect(config.rootfs.diffIDs.isEmpty)
        #expect(config.history == nil)
    }

    @Test func decodesDockerLegacyBuilderConfig() throws {
        // Docker writes null for unset lists and maps, and keys outside the spec; Kujira
        // drops both (it never re-encodes a stored config) and keeps everything else.
        let config = try checkRoundTrip(
            ImageConfiguration.self, fixture: "docker-config.json",
            adjust: { $0.removingKeys(["container", "container_config", "docker_version"]).removingNulls() })
        let run = try #require(config.config)
        #expect(run.hostname == "")
        #expect(run.attachStdin == false)
        #expect(run.tty == false)
        #expect(run.image?.hasPrefix("sha256:") == true)
        #expect(run.volumes == nil)
        #expect(run.onBuild == nil)
        #expect(run.stopSignal == "SIGQUIT")
        #expect(run.entrypoint == ["/docker-entrypoint.sh"])
        let health = try #require(run.healthcheck)
        #expect(health.test == ["CMD-SHELL", "curl -f http://localhost/ || exit 1"])
        #expect(health.interval == 30_000_000_000)
        #expect(health.timeout == 5_000_000_000)
        #expect(health.startPeriod == 10_000_000_000)
        #expect(health.retries == 3)
        #expect(config.history?.filter { $0.emptyLayer != true }.count == config.rootfs.diffIDs.count)
        #expect(config.history?[3].comment == "install")
    }

    @Test func decodesBuildKitConfig() throws {
        let config = try checkRoundTrip(
            ImageConfiguration.self, fixture: "buildkit-config.json",
            adjust: { $0.removingKeys(["moby.buildkit.buildinfo.v1"]) })
        #expect(config.platform.description == "linux/arm64/v8")
        #expect(config.createdTimestamp?.rfc3339 == "2024-03-05T09:11:12.000000001Z")
        let run = try #require(config.config)
        #expect(run.exposedPorts?.sorted == ["53/udp", "8080/tcp"])
        #expect(Array(run.volumes ?? []) == ["/data", "/var/log/app"])
        #expect(run.shell == ["/bin/bash", "-o", "pipefail", "-c"])
        #expect(run.onBuild?.count == 2)
        #expect(run.argsEscaped == true)
        #expect(run.healthcheck?.startInterval == 1_000_000_000)
        #expect(run.healthcheck?.retries == 5)
    }

    @Test func rejectsConfigWithoutRootfs() {
        let error = expectOCIError(.malformedDocument) {
            _ = try CanonicalJSON.decode(
                ImageConfiguration.self, from: Array(#"{"architecture":"amd64","os":"linux"}"#.utf8), what: "image config")
        }
        #expect(error?.message == "malformed image config: missing field \"rootfs\"")
    }

    @Test func rejectsBadDiffID() {
        let error = expectOCIError(.malformedDocument) {
            _ = try CanonicalJSON.decode(
                ImageConfiguration.self,
                from: Array(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:xyz"]}}"#.utf8),
                what: "image config")
        }
        #expect(error?.message.contains("rootfs.diff_ids[0]") == true)
        #expect(error?.message.contains("invalid digest") == true)
    }
}
