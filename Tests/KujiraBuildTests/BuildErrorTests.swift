import Foundation
import Glibc
import KujiraBuild
import KujiraImage
import Testing

@Suite("Build errors", .serialized, .enabled(if: Privilege.shouldRun, Privilege.reason))
struct BuildErrorTests {
    /// Builds `dockerfile` expecting a failure; checks that nothing was tagged and nothing
    /// is left mounted or running; returns the error.
    func failure(_ box: BuildSandbox, _ dockerfile: String) throws -> BuildError {
        do {
            try box.build(dockerfile, tags: ["localhost/broken"])
        } catch let error as BuildError {
            #expect(try box.store.get("localhost/broken") == nil)
            #expect(box.leftoverMounts.isEmpty)
            let containers = (try? FileManager.default.contentsOfDirectory(atPath: box.directory + "/state")) ?? []
            #expect(containers.isEmpty, "containers left: \(containers)")
            let work = (try? FileManager.default.contentsOfDirectory(atPath: box.directory + "/root/containers")) ?? []
            #expect(work.isEmpty, "rootfs left: \(work)")
            return error
        }
        throw TestFailure("the build succeeded")
    }

    @Test func failingRunNamesTheLine() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        let error = try failure(box, "FROM busybox\nRUN echo one\nRUN echo about to fail && exit 2\nRUN echo never\n")
        #expect(error.code == .runFailed)
        #expect(error.description.hasPrefix("Dockerfile:3: RUN echo about to fail && exit 2 exited with status 2"))
        #expect(error.description.contains("about to fail"))
    }

    @Test func missingCopySource() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        let error = try failure(box, "FROM busybox\nCOPY missing.txt /x\n")
        #expect(error.code == .sourceNotFound)
        #expect(error.description.hasPrefix("Dockerfile:2: COPY source \"missing.txt\" not found"))
    }

    @Test func unknownStage() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        let error = try failure(box, "FROM busybox\nCOPY --from=nowhere /x /x\n")
        #expect(error.code == .unknownStage)
        #expect(error.description.hasPrefix("Dockerfile:2:"))
    }

    @Test func badChownUser() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        try box.write("a.txt", "a")
        let error = try failure(box, "FROM busybox\n\nCOPY --chown=nobody a.txt /a.txt\n")
        #expect(error.code == .unknownUser)
        #expect(error.description == "Dockerfile:3: COPY --chown=nobody: unable to find user nobody: no matching entries in passwd file")
    }

    @Test func missingBaseImage() throws {
        let box = try BuildSandbox()
        defer { box.cleanup() }
        let error = try failure(box, "FROM alpine:3.20\nRUN true\n")
        #expect(error.code == .baseImageNotFound)
        #expect(error.description == "Dockerfile:1: image alpine:3.20 not found locally: pull it first")
    }
}
