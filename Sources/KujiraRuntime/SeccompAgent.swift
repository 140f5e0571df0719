internal import CKujiraRuntime
import Glibc
import KujiraOCI

/// What a seccomp agent receives with the notify fd (runtime-spec config-linux.md, "The
/// Container Process State"): the fd names, the process's pid, `listenerMetadata` and the
/// container's state.
struct ContainerProcessState: Codable, Sendable {
    var ociVersion: String
    var fds: [String]
    var pid: Int
    var metadata: String?
    var state: State
}

/// Hands a seccomp notify fd (`SCMP_ACT_NOTIFY` rules) to the agent at `listenerPath`, as runc
/// does: one message on a new connection to the UNIX socket, the ``ContainerProcessState``
/// JSON as data and the fd with SCM_RIGHTS. The agent answers the notifications; the runtime
/// keeps no copy of the fd.
enum SeccompAgent {
    static func send(fd: Int32, listenerPath: String, metadata: String?, pid: pid_t, state: State) throws {
        let socket = kujira_unix_connect(listenerPath)
        guard socket >= 0 else {
            throw RuntimeError.posix("connecting to the seccomp listener \(listenerPath) (linux.seccomp.listenerPath)")
        }
        defer { close(socket) }
        let message = ContainerProcessState(ociVersion: Spec.currentVersion, fds: ["seccompFd"], pid: Int(pid),
                                            metadata: metadata, state: state)
        let payload = try CompactJSON.encode(message)
        let rc = payload.withUnsafeBytes { kujira_send_fd_with_data(socket, $0.baseAddress, $0.count, fd) }
        guard rc == 0 else { throw RuntimeError.posix("sending the seccomp notify fd to \(listenerPath)") }
    }
}
