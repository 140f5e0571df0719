import Foundation
import Testing
@testable import KujiraNetwork

/// Attachment rows commit without a disk flush (`synchronous = NORMAL`), everything else with
/// one (`FULL`). No root needed.
@Suite("Network store synchronous modes")
struct StoreSyncTests {
    struct Refused: Error {}

    @Test("attachment transactions run at NORMAL and leave the connection at FULL, also when they fail")
    func attachmentTransactionsRestoreFull() throws {
        let dir = NSTemporaryDirectory() + "kj-netstore-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try NetworkStore(path: "\(dir)/network.db")
        func synchronous() throws -> Int? { try store.database.query("PRAGMA synchronous").first?.int(0) }
        #expect(try synchronous() == 2)  // FULL
        #expect(try store.attachmentTransaction { try synchronous() } == 1)  // NORMAL
        #expect(try synchronous() == 2)
        #expect(throws: Refused.self) { try store.attachmentTransaction { throw Refused() } }
        #expect(try synchronous() == 2)
        #expect(try store.transaction { try synchronous() } == 2)
    }
}
