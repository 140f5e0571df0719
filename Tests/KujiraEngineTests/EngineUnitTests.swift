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
