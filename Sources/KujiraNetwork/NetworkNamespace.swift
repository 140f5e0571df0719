import CKujiraNetlink
import Glibc

/// Network namespaces: creating one as a bind-mounted file (as `ip netns add` does), removing
/// it, and running a short piece of code inside one.
///
/// `setns(2)` changes the namespace of the calling *thread*. Doing that on a thread of
/// Swift's cooperative pool would leave a pool thread in a container's namespace for
/// whatever task runs there next, so every namespace switch happens on a dedicated pthread
/// made for the purpose, which exits afterwards. The useful trick is to only *open
/// sockets* there: a socket stays bound to the namespace it was created in, so a netlink
/// socket or a DNS listening socket made on that thread is then used from anywhere.
public enum NetworkNamespace {
    /// Runs `body` on a fresh OS thread that has joined the network namespace at `path`
    /// (a bind-mounted namespace file or `/proc/PID/ns/net`), and returns its result. The
    /// calling thread blocks until `body` is done, so keep `body` short: open sockets there.
    public static func withNamespace<T: Sendable>(at path: String, _ body: @escaping @Sendable () throws -> T) throws -> T {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw NetworkError.posix("cannot open the network namespace \(path); is the container still running?") }
        defer { close(fd) }
        return try onDedicatedThread {
            guard kujira_setns(fd, KUJIRA_CLONE_NEWNET) == 0 else {
                throw NetworkError.posix("setns into the network namespace \(path) failed")
            }
            return try body()
        }
    }

    /// Creates a new network namespace and bind-mounts it at `path` (the file is created),
    /// so that it outlives every process in it. Loopback is brought up.
    public static func create(at path: String) throws {
        let fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o444)
        guard fd >= 0 else { throw NetworkError.posix("cannot create the namespace file \(path)") }
        close(fd)
        do {
            try onDedicatedThread {
                guard kujira_unshare(KUJIRA_CLONE_NEWNET) == 0 else { throw NetworkError.posix("unshare(CLONE_NEWNET) failed; creating network namespaces needs CAP_SYS_ADMIN") }
                let source = "/proc/self/task/\(kujira_gettid())/ns/net"
                guard mount(source, path, "none", UInt(MS_BIND), nil) == 0 else {
                    throw NetworkError.posix("cannot bind-mount the network namespace at \(path)")
                }
                let netlink = try NetlinkSocket()
                if let lo = try netlink.link(named: "lo") { try netlink.setLink(index: lo.index, up: true) }
            }
        } catch {
            _ = umount2(path, Int32(MNT_DETACH))
            unlink(path)
            throw error
        }
    }

    /// Unmounts and removes a namespace file made by ``create(at:)``; a missing file is fine.
    /// The namespace itself disappears with its last process and reference.
    public static func remove(at path: String) throws {
        if umount2(path, Int32(MNT_DETACH)) != 0 && errno != EINVAL && errno != ENOENT {
            throw NetworkError.posix("cannot unmount the network namespace \(path)")
        }
        if unlink(path) != 0 && errno != ENOENT {
            throw NetworkError.posix("cannot remove the network namespace file \(path)")
        }
    }

    /// Whether `path` names a live network namespace (a mounted nsfs file or a /proc link).
    public static func exists(at path: String) -> Bool {
        kujira_is_nsfs(path) == 1
    }

    /// Runs `body` on a new pthread and waits for it: the thread never returns to any pool.
    static func onDedicatedThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let slot = ResultSlot<T>()
        let box = ThreadBox { slot.result = Result { try body() } }
        let unmanaged = Unmanaged.passRetained(box)
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { context in
            guard let context else { return nil }
            Unmanaged<ThreadBox>.fromOpaque(context).takeUnretainedValue().run()
            return nil
        }, unmanaged.toOpaque())
        guard rc == 0 else {
            unmanaged.release()
            throw NetworkError(.system, "cannot start a thread to enter a network namespace", cause: SystemErrno(rc))
        }
        pthread_join(thread, nil)
        unmanaged.release()
        guard let result = slot.result else { throw NetworkError(.system, "the namespace thread ended without a result") }
        return try result.get()
    }
}

/// Carries the work to a pthread (a C callback cannot capture generic context).
private final class ThreadBox: Sendable {
    let run: @Sendable () -> Void
    init(run: @escaping @Sendable () -> Void) { self.run = run }
}

/// The thread's result; written by the thread before pthread_join returns, read after.
private final class ResultSlot<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
