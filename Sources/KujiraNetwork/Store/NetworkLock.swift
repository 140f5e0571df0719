import Glibc

/// The lock `<root>/network/lock`, taken exclusively with `flock(2)` around every change:
/// the database transaction, the kernel changes and the firewall rebuild of one operation
/// happen as a unit with respect to other processes using the same root. The kernel
/// releases it when the holder dies, so a `kill -9` never leaves it held, and a `pending`
/// attachment seen under the lock belongs to a process that died.
struct NetworkLock: Sendable {
    /// The lock file.
    let path: String

    /// Runs `body` holding the lock. Each call opens its own descriptor, so threads of one
    /// process exclude each other as processes do.
    func withLock<T>(_ body: () throws -> T) throws -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw NetworkError.posix("cannot open the network lock \(path)") }
        defer { close(fd) }  // closing releases the lock
        while flock(fd, LOCK_EX) != 0 {
            let code = errno
            if code != EINTR { throw NetworkError.posix("flock \(path) failed", errno: code) }
        }
        return try body()
    }
}
