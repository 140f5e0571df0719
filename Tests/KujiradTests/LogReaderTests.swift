import Foundation
import Testing
@testable import KujiraDaemon

/// The json-file log reader behind `logs` and `attach` (`logs=1` replays rotated files first).
struct LogReaderTests {
    func entry(_ text: String, _ stream: String = "stdout") -> String {
        "{\"log\":\"\(text)\\n\",\"stream\":\"\(stream)\",\"time\":\"2026-01-01T00:00:00.000000000Z\"}\n"
    }

    @Test func replayReadsRotatedFilesOldestFirstThenFollows() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kujirad-logreader-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/c-json.log"
        try (entry("one") + entry("two", "stderr")).write(toFile: "\(path).2", atomically: true, encoding: .utf8)
        try entry("three").write(toFile: "\(path).1", atomically: true, encoding: .utf8)
        try entry("four").write(toFile: path, atomically: true, encoding: .utf8)

        let replay = try LogReader(path: path, fromStart: true, rotated: ["\(path).2", "\(path).1", path])
        #expect(replay.next().map(\.log) == ["one\n", "two\n", "three\n", "four\n"])
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(entry("five").utf8))
        try handle.close()
        #expect(replay.next().map(\.log) == ["five\n"])

        // Without a replay: from the end of the current file, rotated files ignored.
        let live = try LogReader(path: path, fromStart: false, rotated: ["\(path).2", "\(path).1", path])
        #expect(live.next().isEmpty)
    }
}
