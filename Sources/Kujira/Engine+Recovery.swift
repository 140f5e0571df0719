// Recovery from a `kill -9` in the middle of `create`: the creator holds an flock on
// `<root>/containers/.creating-<id>` from before the rootfs is mounted until the record is
// saved. A lock file whose lock is free belongs to a creator that died: the next `create` or
// `ps` unmounts and removes what it left (the rootfs, the container directory).
//
// Crash points for the acceptance tests: with `KUJIRA_CRASHPOINT=NAME` in the environment,
// the process kills itself with SIGKILL when it reaches the point named NAME (see
// ``Engine/crashPoint(_:)``), exactly as a `kill -9` at that moment would.

import KujiraImage
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    /// The crash point named by `KUJIRA_CRASHPOINT`, read once.
    private static let armedCrashPoint = ProcessInfo.processInfo.environment["KUJIRA_CRASHPOINT"]

    /// Kills this process with SIGKILL when `KUJIRA_CRASHPOINT` is `name`: `create-unpacked`
    /// (image unpacked, nothing of the container made), `create-mounted` (rootfs mounted, no
    /// record), `create-bundle` (bundle written, no record), `start-spawned` (monitor
    /// started, not yet running the container), `commit-paused` (container frozen by commit).
    static func crashPoint(_ name: String) {
        guard let armed = armedCrashPoint, armed == name else { return }
        Glibc.kill(getpid(), SIGKILL)
    }

    private var creatingPrefix: String { ".creating-" }

    /// Takes the lock that marks container `id` as being created; ``finishCreating(_:)``
    /// releases it. The returned fd holds the lock.
    func beginCreating(_ id: String) throws -> Int32 {
        let path = "\(root)/containers/\(creatingPrefix)\(id)"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw EngineError.posix("creating \(path)", errno: errno) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let code = errno
                close(fd)
                unlink(path)
                throw EngineError.posix("locking \(path)", errno: code)
            }
        }
        return fd
    }

    /// Releases the lock of ``beginCreating(_:)`` (the record is saved, or the create undone).
    func finishCreating(_ id: String, lock fd: Int32) {
        unlink("\(root)/containers/\(creatingPrefix)\(id)")
        close(fd)
    }

    /// Removes what creators killed mid-`create` left: for each free `.creating-<id>` lock,
    /// the rootfs (unmounted) and directory of a container that has no record.
    func recoverInterruptedCreates() {
        let base = "\(root)/containers"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: base) else { return }
        for name in names where name.hasPrefix(creatingPrefix) {
            let id = String(name.dropFirst(creatingPrefix.count))
            guard id.count == 64, id.allSatisfy(\.isHexDigit) else { continue }
            let path = "\(base)/\(name)"
            let fd = open(path, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }  // its creator is at work
            // The creator died (or finished just now, and then the record exists).
            if load(id) == nil, access(recordPath(id), F_OK) != 0 {
                _ = try? lock.withLock {
                    guard load(id) == nil else { return }
                    try? images.snapshotStore().removeRootfs(containerID: id)
                    try? FileManager.default.removeItem(atPath: directory(id))
                }
            }
            unlink(path)
        }
    }

    /// Mounts the rootfs of `record` again when it is not mounted (after a reboot); an overlay
    /// that is mounted has a device of its own, so the common case costs two `stat`s.
    func ensureRootfsMounted(_ record: ContainerRecord) throws {
        var mine = stat(), parent = stat()
        if stat(record.rootfsPath, &mine) == 0, stat(directory(record.id), &parent) == 0, mine.st_dev != parent.st_dev { return }
        try images.snapshotStore().remountRootfs(containerID: record.id)
    }
}
