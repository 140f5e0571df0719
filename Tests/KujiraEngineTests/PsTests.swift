import Foundation
import Testing

/// `kujira ps` with Docker's filters, formats, -n/-l and -s, against real containers.
@Suite(.serialized, .enabled(if: EngineHost.enabled, "needs root (overlay mounts, cgroups, namespaces); KUJIRA_REQUIRE_PRIVILEGED=1 makes this a failure"))
struct PsTests {
    @Test func filtersFormatsAndLimits() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "--name", "ok", "--label", "tier=web", Sandbox.image, "true"])
        #expect(try box.kujira(["run", "--name", "bad", "--label", "tier=db", Sandbox.image, "sh", "-c", "exit 3"]).status == 3)
        try box.mustRun(["run", "-d", "--name", "up", "--network", "none", Sandbox.image, "sleep", "100"])
        try box.mustRun(["create", "--name", "fresh", "--network", "none", Sandbox.image, "true"])
        func names(_ arguments: [String]) throws -> [String] {
            try box.mustRun(["ps", "--format", "{{.Names}}"] + arguments).stdout.split(separator: "\n").map(String.init).sorted()
        }
        #expect(try names([]) == ["up"])
        #expect(try names(["-a"]) == ["bad", "fresh", "ok", "up"])
        #expect(try names(["--filter", "status=exited"]) == ["bad", "ok"])
        #expect(try names(["--filter", "exited=3"]) == ["bad"])
        #expect(try names(["-a", "--filter", "label=tier"]) == ["bad", "ok"])
        #expect(try names(["-a", "--filter", "label=tier=web"]) == ["ok"])
        // Every label given must match, as in Docker.
        #expect(try names(["-a", "--filter", "label=tier", "--filter", "label=tier=db"]) == ["bad"])
        #expect(try names(["-a", "--filter", "name=^/?(ok|up)$"]) == ["ok", "up"])
        #expect(try box.mustRun(["ps", "-a", "-q", "--filter", "label=tier=web"]).stdout.split(separator: "\n").count == 1)
        #expect(try box.mustRun(["ps", "-a", "--filter", "name=ok", "--format", "{{.Names}} {{.Label \"tier\"}}"]).stdout == "ok web\n")
        let missing = try box.kujira(["ps", "--filter", "before=nosuchcontainer"])
        #expect(missing.status != 0 && missing.stderr.contains("No such container: nosuchcontainer"))
        #expect(try names(["-a", "--filter", "name=u"]) == ["up"])
        #expect(try names(["-a", "--filter", "status=created", "--filter", "status=running"]) == ["fresh", "up"])
        #expect(try names(["-a", "--filter", "network=none"]) == ["fresh", "up"])
        #expect(try names(["-a", "--filter", "before=up"]) == ["bad", "ok"])
        #expect(try names(["-a", "--filter", "since=bad"]) == ["fresh", "up"])
        #expect(try names(["-a", "--filter", "ancestor=\(Sandbox.image)"]).count == 4)
        #expect(try names(["-n", "2"]) == ["fresh", "up"])
        #expect(try names(["-l"]) == ["fresh"])
        let json = try box.mustRun(["ps", "--format", "json", "--filter", "name=ok", "-a"]).stdout
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String]
        #expect(object?["Names"] == "ok" && object?["State"] == "exited")
        let table = try box.mustRun(["ps", "--format", "table {{.Names}}\\t{{.State}}"]).stdout
        #expect(table.hasPrefix("NAMES\tSTATE\n") && table.contains("up\trunning"))
        #expect(try box.mustRun(["ps", "-s"]).stdout.contains("SIZE"))
        #expect(try box.mustRun(["ps", "--filter", "name=up", "--format", "{{.Size}}"]).stdout.hasSuffix("B\n"))
        let bad = try box.kujira(["ps", "--filter", "colour=blue"])
        #expect(bad.status != 0 && bad.stderr.contains("invalid filter 'colour'"))
        try box.mustRun(["rm", "-f", "ok", "bad", "up", "fresh"])
    }
}

/// Volume events: create (by `volume create` and by a container's `-v`) and destroy.
@Suite(.serialized, .enabled(if: EngineHost.enabled, "needs root (overlay mounts, cgroups, namespaces); KUJIRA_REQUIRE_PRIVILEGED=1 makes this a failure"))
struct VolumeEventTests {
    @Test func createAndDestroyAreRecorded() throws {
        let box = try Sandbox()
        let since = String(Date().timeIntervalSince1970 - 1)
        try box.mustRun(["volume", "create", "evented"])
        try box.mustRun(["create", "--name", "user", "--network", "none", "-v", "implicit:/data", Sandbox.image, "true"])
        try box.mustRun(["rm", "user"])
        try box.mustRun(["volume", "rm", "evented", "implicit"])
        let until = String(Date().timeIntervalSince1970 + 1)
        let output = try box.mustRun(["events", "--since", since, "--until", until, "--filter", "type=volume",
                                      "--format", "{{.Action}} {{.Actor.ID}}"]).stdout
        #expect(output == "create evented\ncreate implicit\ndestroy evented\ndestroy implicit\n", "\(output)")
    }
}
