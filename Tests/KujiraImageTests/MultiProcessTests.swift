import Foundation
import Glibc
import KujiraOCI
import Testing
@testable import KujiraImage

/// Tests that run the store from several processes at once. The test binary re-runs itself
/// with a filter selecting ``childProcessEntry()`` and an environment telling it what to do;
/// in a normal run that test sees no such environment and returns at once.
@Suite struct MultiProcessTests {
    static let rootVariable = "KUJIRA_IMAGE_TEST_CHILD_ROOT"
    static let idVariable = "KUJIRA_IMAGE_TEST_CHILD_ID"
    static let modeVariable = "KUJIRA_IMAGE_TEST_CHILD_MODE"
    static let imagesPerChild = 20

    /// The test binary, when the tests run from one that can be re-run with a filter.
    static var testBinary: String? {
        let path = CommandLine.arguments[0]
        return path.hasSuffix(".xctest") && access(path, X_OK) == 0 ? path : nil
    }

    /// Work done inside a child process; a no-op in a normal test run.
    @Test func childProcessEntry() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let root = environment[Self.rootVariable], let id = environment[Self.idVariable] else { return }
        let store = try ImageStore(root: root)
        switch environment[Self.modeVariable] {
        case "forever":
            // Writes until killed: the parent sends SIGKILL at an arbitrary point.
            var i = 0
            while true {
                let writer = try store.content.ingest()
                try Array(repeating: UInt8(i & 0xff), count: 256 * 1024).withUnsafeBytes { try writer.write($0) }
                try store.withWriteLease {
                    let image = try SyntheticImage(in: store.content, seed: "\(id)-\(i)")
                    try store.put(name: "child\(id)/img\(i)", target: image.manifest)
                }
                _ = try writer.commit()
                i += 1
            }
        default:
            for i in 0..<Self.imagesPerChild {
                try store.withWriteLease {
                    let image = try SyntheticImage(in: store.content, seed: "\(id)-\(i)")
                    let shared = try SyntheticImage(in: store.content, seed: "shared-by-all")
                    try store.put(name: "child\(id)/img\(i)", target: image.manifest)
                    try store.put(name: "shared", target: shared.manifest)
                }
                if i % 5 == 0 { _ = try store.garbageCollect() }
            }
        }
    }

    func spawnChild(root: String, id: Int, mode: String) throws -> Foundation.Process {
        let binary = try #require(Self.testBinary)
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--testing-library", "swift-testing", "--filter", "MultiProcessTests/childProcessEntry"]
        process.environment = ProcessInfo.processInfo.environment.merging(
            [Self.rootVariable: root, Self.idVariable: "\(id)", Self.modeVariable: mode]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test(.enabled(if: testBinary != nil, "the test binary cannot be re-run as a child process here"))
    func twoProcessesShareOneStore() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let children = try (0..<2).map { try spawnChild(root: dir.path, id: $0, mode: "write") }
        for child in children {
            child.waitUntilExit()
            #expect(child.terminationStatus == 0)
        }
        let store = try ImageStore(root: dir.path)
        let names = Set(try store.list().map(\.name))
        #expect(names.count == 2 * Self.imagesPerChild + 1)
        #expect(names.contains("child1/img\(Self.imagesPerChild - 1)"))
        #expect(try store.garbageCollect().removed.isEmpty)
        for digest in try store.content.list() { try store.content.verify(digest) }
    }

    @Test(.enabled(if: testBinary != nil, "the test binary cannot be re-run as a child process here"))
    func killDashNineLeavesTheStoreConsistent() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let child = try spawnChild(root: dir.path, id: 9, mode: "forever")
        // Wait until it has tagged something, then kill it mid-write.
        let store = try ImageStore(root: dir.path)
        for _ in 0..<400 where try store.list().count < 3 { usleep(10_000) }
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        #expect(child.terminationReason == .uncaughtSignal)

        let records = try store.list()
        #expect(!records.isEmpty)
        for record in records {
            for child in try store.children(of: record.target) { try store.content.verify(child.digest) }
        }
        for digest in try store.content.list() { try store.content.verify(digest) }
        // Whatever the child was writing is abandoned: its lock died with it.
        let leftovers = try FileSystem.listDirectory(store.content.ingestDirectory).count
        #expect(try store.content.cleanIngest(olderThan: .zero) == leftovers)
        _ = try store.garbageCollect(ingestOlderThan: .zero)
        #expect(try store.list().count == records.count)
    }
}
