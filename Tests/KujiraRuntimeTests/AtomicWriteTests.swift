@testable import KujiraRuntime
import Foundation
import Glibc
import Testing

/// `kujira_write_file_atomically` (CKujiraSys), through `FileIO.writeAtomically`: every store
/// of Kujira (runtime state, engine records, volumes, image metadata, registry credentials)
/// writes its files with it.
struct AtomicWriteTests {
    @Test func concurrentWritersOfOnePathNeverMixTheirContent() throws {
        // Threads of one process: temporary names made of the pid alone collided, and one
        // writer's truncate and write landed in the other's file before its rename.
        let directory = try Sandbox.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let target = directory + "/state.json"
        let writers = 8, rounds = 60
        let contents = (0..<writers).map { [UInt8](repeating: UInt8(ascii: "a") + UInt8($0), count: 4096 * ($0 + 1)) }
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: writers + 1) { index in
            for _ in 0..<rounds {
                if index == writers {
                    // A reader: sees one writer's content, whole, or no file yet.
                    guard let bytes = try? FileIO.read(target) else { continue }
                    if !contents.contains(bytes) { failures.add("read \(bytes.count) bytes that no writer wrote") }
                } else {
                    do { try FileIO.writeAtomically(target, contents[index]) } catch { failures.add("\(error)") }
                }
            }
        }
        let found = failures.all
        #expect(found.count == 0, "first failures: \(found.prefix(3))")
        #expect(contents.contains(try #require(try FileIO.read(target))))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["state.json"])
    }

    @Test func aFailedWriteNamesTheStepAndLeavesNothing() throws {
        let directory = try Sandbox.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The target is a directory: the rename fails, and the temporary file goes.
        try FileManager.default.createDirectory(atPath: directory + "/taken", withIntermediateDirectories: false)
        let error = try #require(throws: RuntimeError.self) { try FileIO.writeAtomically(directory + "/taken", [1, 2, 3]) }
        #expect(error.description.contains("renaming a temporary file to \(directory)/taken"), "\(error)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["taken"])
        // No directory to write in.
        let missing = try #require(throws: RuntimeError.self) { try FileIO.writeAtomically(directory + "/none/x", [1]) }
        #expect(missing.description.contains("creating a temporary file for \(directory)/none/x"), "\(missing)")
        #expect(missing.description.contains("No such file or directory"), "\(missing)")
    }

    @Test func theNewFileHasTheModeAskedFor() throws {
        let directory = try Sandbox.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileIO.writeAtomically(directory + "/pid", Array("42".utf8), mode: 0o600)
        var info = stat()
        #expect(stat(directory + "/pid", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(try FileIO.read(directory + "/pid") == Array("42".utf8))
    }

    final class Failures: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [String] = []
        func add(_ text: String) { lock.withLock { stored.append(text) } }
        var all: [String] { lock.withLock { stored } }
    }
}
