import Foundation
import Glibc
import KujiraOCI
import Testing
@testable import KujiraImage

@Suite struct ContentStoreTests {
    @Test func writeReadVerify() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ContentStore(root: dir.path)
        let bytes = Array("hello, whale".utf8)
        let descriptor = try store.write(bytes, mediaType: MediaType.layer)
        #expect(descriptor.digest == Digest.of(bytes))
        #expect(descriptor.size == Int64(bytes.count))
        #expect(descriptor.mediaType == MediaType.layer)
        #expect(store.contains(descriptor.digest))
        #expect(try store.size(of: descriptor.digest) == Int64(bytes.count))
        #expect(try store.read(descriptor.digest) == bytes)
        try store.verify(descriptor.digest)
        #expect(store.path(of: descriptor.digest) == "\(dir.path)/blobs/sha256/\(descriptor.digest.encoded)")
        #expect(try store.list() == [descriptor.digest])
        #expect(try FileSystem.listDirectory(store.ingestDirectory).isEmpty)

        // Writing the same content again is a no-op that leaves no temp file behind.
        let again = try store.write(bytes, mediaType: MediaType.layer, expected: descriptor.digest)
        #expect(again == descriptor)
        #expect(try FileSystem.listDirectory(store.ingestDirectory).isEmpty)

        let fd = try store.openForReading(descriptor.digest)
        #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0)
        close(fd)

        #expect(try store.delete(descriptor.digest))
        #expect(!store.contains(descriptor.digest))
        #expect(try !store.delete(descriptor.digest))
        #expect(throws: ImageStoreError.self) { try store.read(descriptor.digest) }
    }

    @Test func sha512Blobs() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ContentStore(root: dir.path)
        let bytes = Array("sha512 content".utf8)
        let expected = Digest.of(bytes, algorithm: .sha512)
        let descriptor = try store.write(bytes, mediaType: MediaType.layer, expected: expected)
        #expect(descriptor.digest == expected)
        #expect(store.path(of: expected).contains("/blobs/sha512/"))
        try store.verify(expected)
        #expect(try store.read(expected) == bytes)
    }

    @Test func tamperedBlobIsDetected() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ContentStore(root: dir.path)
        let descriptor = try store.write(Array(repeating: 7, count: 4096), mediaType: MediaType.layer)
        try flipByte(at: store.path(of: descriptor.digest), offset: 100)
        for check in [{ try store.verify(descriptor.digest) }, { _ = try store.read(descriptor.digest) }] {
            do {
                try check()
                Issue.record("a tampered blob passed verification")
            } catch let error as ImageStoreError {
                #expect(error.code == .digestMismatch)
                #expect(error.message.contains(descriptor.digest.description))
                #expect(error.message.contains(store.path(of: descriptor.digest)))
                #expect(error.message.contains("pull or import the image again"))
            }
        }
    }

    @Test func expectedDigestMismatchLeavesNothingVisible() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ContentStore(root: dir.path)
        let wrong = Digest.of(Array("something else".utf8))
        let error = #expect(throws: ImageStoreError.self) {
            try store.write(Array("actual".utf8), mediaType: MediaType.layer, expected: wrong)
        }
        #expect(error?.code == .digestMismatch)
        #expect(error?.message.contains(wrong.description) == true)
        #expect(try store.list().isEmpty)
        #expect(try FileSystem.listDirectory(store.ingestDirectory).isEmpty)

        // Size checks: too long fails at the write, too short at commit.
        let bytes = Array("twelve bytes".utf8)
        let long = try store.ingest(expectedDigest: nil, expectedSize: 4)
        #expect(throws: ImageStoreError.self) { try bytes.withUnsafeBytes { try long.write($0) } }
        let short = try store.ingest(expectedDigest: Digest.of(bytes), expectedSize: 20)
        try bytes.withUnsafeBytes { try short.write($0) }
        #expect(throws: ImageStoreError.self) { try short.commit() }
        #expect(try store.list().isEmpty)
        #expect(try FileSystem.listDirectory(store.ingestDirectory).isEmpty)
    }

    @Test func streamingWriterAndFileIngest() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ContentStore(root: dir.path)
        var bytes = [UInt8]()
        for i in 0..<(3 << 20) { bytes.append(UInt8(truncatingIfNeeded: i &* 31)) }
        let writer = try store.ingest(expectedDigest: Digest.of(bytes), expectedSize: Int64(bytes.count))
        #expect(FileSystem.exists(writer.temporaryPath))
        #expect(!store.contains(Digest.of(bytes)), "a blob must not be visible before commit")
        for chunk in stride(from: 0, to: bytes.count, by: 100_000) {
            try bytes[chunk..<min(chunk + 100_000, bytes.count)].withUnsafeBytes { try writer.write($0) }
        }
        let (digest, size) = try writer.commit()
        #expect(digest == Digest.of(bytes) && size == Int64(bytes.count))
        #expect(throws: ImageStoreError.self) { try writer.commit() }

        let file = "\(dir.path)/source"
        _ = FileManager.default.createFile(atPath: file, contents: Data("from a file".utf8))
        let copied = try store.ingest(copyingFile: file, expected: Digest.of(Array("from a file".utf8)))
        #expect(try store.read(copied.digest) == Array("from a file".utf8))

        let aborted = try store.ingest()
        try Array("never".utf8).withUnsafeBytes { try aborted.write($0) }
        aborted.abort()
        #expect(!FileSystem.exists(aborted.temporaryPath))
        #expect(!store.contains(Digest.of(Array("never".utf8))))
    }

    @Test func concurrentWritersOfTheSameBlob() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let root = dir.path
        var bytes = [UInt8]()
        for i in 0..<(1 << 20) { bytes.append(UInt8(truncatingIfNeeded: i &* 7 &+ 3)) }
        let expected = Digest.of(bytes)
        let payload = bytes
        try await withThrowingTaskGroup(of: Digest.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    // A separate instance per task, as separate processes would have.
                    let store = try ContentStore(root: root)
                    let writer = try store.ingest(expectedDigest: expected, expectedSize: Int64(payload.count))
                    for chunk in stride(from: 0, to: payload.count, by: 65536) {
                        try payload[chunk..<min(chunk + 65536, payload.count)].withUnsafeBytes { try writer.write($0) }
                        // Readers never see a partial blob.
                        if store.contains(expected) { #expect(try store.size(of: expected) == Int64(payload.count)) }
                    }
                    return try writer.commit().digest
                }
            }
            for try await digest in group { #expect(digest == expected) }
        }
        let store = try ContentStore(root: root)
        try store.verify(expected)
        #expect(try store.list() == [expected])
        #expect(try FileSystem.listDirectory(store.ingestDirectory).isEmpty)
    }

    @Test func staleIngestCleanup() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try ContentStore(root: dir.path)
        // A writer killed with -9 leaves its temp file, with no lock on it.
        let stale = "\(store.ingestDirectory)/deadbeef-1-1.tmp"
        _ = FileManager.default.createFile(atPath: stale, contents: Data("half a blob".utf8))
        var times = [timespec(tv_sec: time(nil) - 7200, tv_nsec: 0), timespec(tv_sec: time(nil) - 7200, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, stale, &times, 0) == 0)
        // A live writer, even with an old file, is left alone.
        let live = try store.ingest()
        try Array("in progress".utf8).withUnsafeBytes { try live.write($0) }
        #expect(utimensat(AT_FDCWD, live.temporaryPath, &times, 0) == 0)
        // A fresh abandoned file is younger than the threshold.
        let fresh = "\(store.ingestDirectory)/cafe-2-2.tmp"
        _ = FileManager.default.createFile(atPath: fresh, contents: Data("x".utf8))

        #expect(try store.cleanIngest(olderThan: .seconds(3600)) == 1)
        #expect(!FileSystem.exists(stale))
        #expect(FileSystem.exists(live.temporaryPath))
        #expect(FileSystem.exists(fresh))
        let (digest, _) = try live.commit()
        #expect(try store.read(digest) == Array("in progress".utf8))
        #expect(try store.cleanIngest(olderThan: .zero) == 1)
        #expect(try FileSystem.listDirectory(store.ingestDirectory).isEmpty)
    }
}
