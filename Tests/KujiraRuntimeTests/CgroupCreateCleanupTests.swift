import Foundation
import Testing
@testable import KujiraRuntime

/// A v1 create that fails in one hierarchy removes what it made in the others, and leaves
/// directories that existed before alone. Plain directories stand in for the hierarchies (no
/// root needed); the failure is a path whose parent is a regular file.
@Suite("cgroup v1 create cleans up after itself")
struct CgroupCreateCleanupTests {
    @Test func aFailureInOneHierarchyRemovesTheOthers() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("kujira-cgclean-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base + "/blkio/existing", withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: base + "/pids"))  // a file where a hierarchy should be
        let manager = CgroupV1Manager(path: "/a/b", directories: [
            "blkio": base + "/blkio/existing/a/b",
            "memory": base + "/memory/a/b",
            "pids": base + "/pids/a/b",
        ], unifiedDirectory: nil)
        #expect(throws: CgroupError.self) { try manager.create() }
        #expect(!FileManager.default.fileExists(atPath: base + "/memory"), "memory's new directories are left")
        #expect(!FileManager.default.fileExists(atPath: base + "/blkio/existing/a"), "blkio's new directories are left")
        #expect(FileManager.default.fileExists(atPath: base + "/blkio/existing"), "a directory that existed before was removed")
    }
}
