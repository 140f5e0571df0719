import Glibc

/// The store-wide lock `<root>/lock`, taken with `flock(2)`: writers that ingest blobs and
/// then tag them hold it shared, garbage collection holds it exclusive, so GC never sweeps
/// a blob between its ingest and the tag that makes it reachable. The kernel drops the lock
/// when its holder dies, so a `kill -9` never leaves the store locked.
struct StoreLock: Sendable {
    /// The lock file.
    let path: String

    /// Runs `body` holding the lock, shared or exclusive. Each call opens its own
    /// descriptor, so threads of one process exclude each other as processes do.
    func withLock<T>(exclusive: Bool, _ body: () throws -> T) throws -> T {
        let fd = try FileSystem.open(path, O_RDWR | O_CREAT, mode: 0o600)
        defer { close(fd) }  // closing releases the lock
        while flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0 {
            let code = errno
            if code != EINTR { throw ImageStoreError.posix("flock", path: path, errno: code) }
        }
        return try body()
    }
}
