@testable import Kujira
import Testing

/// Option parsing and policies: no root needed.
struct EngineUnitTests {
    @Test(arguments: [("32m", Int64(32 << 20)), ("1g", Int64(1 << 30)), ("512k", Int64(512 << 10)), ("100", Int64(100)), ("64MiB", Int64(64 << 20))])
    func sizes(text: String, bytes: Int64) throws {
        #expect(try ContainerSpecBuilder.parseBytes(text) == bytes)
    }

    @Test func badSizeIsRejected() {
        #expect(throws: EngineError.self) { try ContainerSpecBuilder.parseBytes("lots") }
    }

    @Test func restartPolicies() throws {
        #expect(try RestartPolicy.parse("no") == .no)
        let onFailure = try RestartPolicy.parse("on-failure:2")
        #expect(onFailure.maximumRetryCount == 2)
        #expect(onFailure.shouldRestart(exitCode: 1, restartCount: 1, manuallyStopped: false))
        #expect(!onFailure.shouldRestart(exitCode: 1, restartCount: 2, manuallyStopped: false))
        #expect(!onFailure.shouldRestart(exitCode: 0, restartCount: 0, manuallyStopped: false))
        #expect(try RestartPolicy.parse("always").shouldRestart(exitCode: 0, restartCount: 9, manuallyStopped: false))
        #expect(!(try RestartPolicy.parse("always").shouldRestart(exitCode: 0, restartCount: 0, manuallyStopped: true)))
        #expect(throws: EngineError.self) { try RestartPolicy.parse("sometimes") }
    }

    @Test func ulimits() throws {
        let limit = try ContainerSpecBuilder.parseUlimit("nofile=1024:2048")
        #expect(limit.type == "RLIMIT_NOFILE" && limit.soft == 1024 && limit.hard == 2048)
        #expect(throws: EngineError.self) { try ContainerSpecBuilder.parseUlimit("nofile=10:5") }
        #expect(throws: EngineError.self) { try ContainerSpecBuilder.parseUlimit("bogus=1") }
    }

    @Test func signals() throws {
        #expect(try Signals.parse("TERM") == 15)
        #expect(try Signals.parse("SIGKILL") == 9)
        #expect(try Signals.parse("1") == 1)
        #expect(throws: EngineError.self) { try Signals.parse("NOPE") }
    }

    @Test func names() {
        #expect(NameGenerator.isValid(NameGenerator.random()))
        #expect(!NameGenerator.isValid("a b"))
        #expect(SystemSupport.randomID().count == 64)
    }

    @Test func jsonLogQuoting() {
        #expect(JSONLogWriter.quote("a\"b\\\n\u{1}") == "\"a\\\"b\\\\\\n\\u0001\"")
    }

    @Test func badVolumeSyntaxIsAClearError() {
        #expect(throws: EngineError.self) { try MountRequest.parseVolume("data:relative") }
    }
}

/// `ps --filter` over records: no root needed.
struct ContainerFilterUnitTests {
    static func record(_ name: String, created: String, labels: [String: String] = [:], network: String = "none",
                       imageID: String = "sha256:aaaa", status: ContainerStatus = .running) -> ContainerRecord {
        var state = ContainerState.created
        state.status = status
        return ContainerRecord(
            id: String(repeating: String(name.prefix(1)), count: 64), name: name, created: created, image: "localhost/img:1", imageID: imageID,
            config: ContainerConfig(hostname: "h", user: "", env: [], cmd: ["true"], entrypoint: [], workingDir: "", labels: labels,
                                    stopSignal: "SIGTERM", stopTimeout: 10, openStdin: false),
            hostConfig: ContainerHostConfig(autoRemove: false, restartPolicy: .no, networkMode: network, memory: 0, memorySwap: 0,
                                            cpuShares: 0, nanoCpus: 0, pidsLimit: 0, capAdd: [], capDrop: [], privileged: false,
                                            readonlyRootfs: false, securityOpt: [], binds: [], tmpfs: [:], ulimits: []),
            mounts: [], state: state, restartCount: 0, rootfsPath: "/r", logPath: "/l")
    }

    @Test func keysCombineAsDockerCombinesThem() throws {
        let web = Self.record("web", created: "2026-01-01T00:00:01Z", labels: ["tier": "web", "team": "a"], network: "front")
        let db = Self.record("db", created: "2026-01-01T00:00:02Z", labels: ["tier": "db", "team": "a"], imageID: "sha256:bbbb",
                             status: .exited)
        let all = [web, db]
        func names(_ filters: [String], resolved: ContainerFilters.Resolved = .init()) throws -> [String] {
            let parsed = try ContainerFilters.parse(filters)
            return all.filter { parsed.matches($0, among: all, resolved: resolved) }.map(\.name)
        }
        // One key's values are alternatives; different keys must all match.
        #expect(try names(["name=web", "name=db"]) == ["web", "db"])
        #expect(try names(["name=web", "status=exited"]) == [])
        // Labels are the exception: every label given must match.
        #expect(try names(["label=team=a", "label=tier=db"]) == ["db"])
        #expect(try names(["label=team"]) == ["web", "db"])
        // Names are regular expressions against the name with or without its slash.
        #expect(try names(["name=^/w"]) == ["web"])
        #expect(try names(["name=^d.$"]) == ["db"])
        // Networks by name or id prefix; ancestors by the image id the engine resolved.
        var resolved = ContainerFilters.Resolved()
        resolved.networkIDs = ["front": "f00dcafe"]
        #expect(try names(["network=f00d"], resolved: resolved) == ["web"])
        resolved.ancestorImageIDs = ["sha256:bbbb"]
        #expect(try names(["ancestor=other"], resolved: resolved) == ["db"])
        #expect(try names(["health=none"]) == ["web", "db"])
        #expect(try names(["health=healthy"]) == [])
        #expect(try ContainerFilters.parse(["status=exited"]).includesStopped)
        #expect(try ContainerFilters.parse(["status": ["exited"], "label": ["a", "b"]]).values == ["status": ["exited"], "label": ["a", "b"]])
        #expect(throws: EngineError.self) { try ContainerFilters.parse(["health=sick"]) }
        #expect(throws: EngineError.self) { try ContainerFilters.parse(["colour=blue"]) }
    }
}
