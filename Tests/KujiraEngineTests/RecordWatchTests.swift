import Foundation
@testable import Kujira
import Testing

/// `RecordWatch`: `wait` and `stop` are woken by the record's rename or unlink instead of
/// polling at a fixed interval. No root needed.
struct RecordWatchTests {
    @Test("a record written or removed wakes the watch; nothing else does")
    func wakesOnRecordChanges() throws {
        let dir = NSTemporaryDirectory() + "kj-watch-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let record = "\(dir)/config.v2.json"
        let watch = RecordWatch(directory: dir)
        #expect(!watch.wait(milliseconds: 0))
        // Appending to a log in the same directory is not a record change.
        let log = open("\(dir)/c-json.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        #expect(log >= 0)
        _ = write(log, "x\n", 2)
        #expect(!watch.wait(milliseconds: 0))
        // The record is replaced by a rename (durable or not): woken, and the event is consumed.
        try SystemSupport.writeAtomically(record, Array("{}".utf8), durable: false)
        close(log)
        #expect(watch.wait(milliseconds: 60_000))
        #expect(!watch.wait(milliseconds: 0))
        try SystemSupport.writeAtomically(record, Array("{\"a\":1}".utf8))
        #expect(watch.wait(milliseconds: 60_000))
        #expect(try String(contentsOfFile: record, encoding: .utf8) == "{\"a\":1}")
        // Removal (rm unlinks the record first) wakes it too.
        #expect(unlink(record) == 0)
        #expect(watch.wait(milliseconds: 60_000))
    }

    @Test("a watch on a missing directory still waits out its timeout")
    func missingDirectoryFallsBackToSleeping() {
        let watch = RecordWatch(directory: NSTemporaryDirectory() + "kj-watch-missing-\(UUID().uuidString)")
        #expect(!watch.wait(milliseconds: 1))
    }
}
