import Foundation
import Testing
@testable import KujiraNetwork

/// The network database commits without a disk flush (WAL, `synchronous = NORMAL`): a
/// `kill -9` keeps every commit, a power failure only makes attachments stale, which
/// `reconcile` releases. No root needed.
@Suite("Network store synchronous modes")
struct StoreSyncTests {
    struct Refused: Error {}

    @Test("the store runs in WAL mode at NORMAL, in and out of transactions, also when they fail")
    func storeRunsAtNormal() throws {
        let dir = NSTemporaryDirectory() + "kj-netstore-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try NetworkStore(path: "\(dir)/network.db")
        func synchronous() throws -> Int? { try store.database.query("PRAGMA synchronous").first?.int(0) }
        #expect(try store.database.query("PRAGMA journal_mode").first?.text(0) == "wal")
        #expect(try synchronous() == 1)  // NORMAL
        #expect(try store.attachmentTransaction { try synchronous() } == 1)
        #expect(throws: Refused.self) { try store.attachmentTransaction { throw Refused() } }
        #expect(try synchronous() == 1)
        #expect(try store.transaction { try synchronous() } == 1)
    }
}
