import CKujiraRuntime
import Foundation
import Glibc
import KujiraOCI
import KujiraRuntime
import Synchronization
import Testing

/// `SCMP_ACT_NOTIFY` with `listenerPath`: the runtime hands the notify fd and the container
/// process state to an agent, which answers the container's syscalls.
@Suite("Seccomp notify listener", .enabled(if: Privilege.shouldRun, Privilege.reason))
struct SeccompNotifyTests {
    /// What the test's agent saw: the JSON that came with the fd and how many syscalls it
    /// answered.
    final class AgentLog: Sendable {
        let value = Mutex<(json: String, answered: Int, error: String?)>(("", 0, nil))
    }

    /// A tiny seccomp agent on `path`: accepts one connection, takes the notify fd and the
    /// state, and answers every notification with EXDEV until the container is gone.
    static func startAgent(at path: String, log: AgentLog) throws -> Thread {
        let listener = kujira_unix_listen(path)
        guard listener >= 0 else { throw TestFailure("cannot listen on \(path): \(String(cString: strerror(errno)))") }
        let thread = Thread {
            defer { close(listener) }
            let connection = kujira_accept(listener)
            guard connection >= 0 else { log.value.withLock { $0.error = "accept: \(errno)" }; return }
            defer { close(connection) }
            var buffer = [UInt8](repeating: 0, count: 65536)
            var received = 0
            let notifyFD = buffer.withUnsafeMutableBytes { kujira_recv_fd_with_data(connection, $0.baseAddress, $0.count, &received) }
            guard notifyFD >= 0 else { log.value.withLock { $0.error = "recvmsg: \(errno)" }; return }
            defer { close(notifyFD) }
            log.value.withLock { $0.json = String(decoding: buffer[0..<received], as: UTF8.self) }
            while kujira_seccomp_notify_answer(notifyFD, EXDEV) >= 0 {
                log.value.withLock { $0.answered += 1 }
            }
        }
        thread.start()
        return thread
    }

    @Test func theListenerAnswersTheContainersSyscalls() throws {
        let box = try Sandbox(script: "mkdir /tmp/made-by-the-container; echo status=$?")
        let socketPath = box.directory + "/agent.sock"
        box.spec.linux?.seccomp = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ALLOW", listenerPath: socketPath, listenerMetadata: "kujira-test-metadata",
            syscalls: [LinuxSyscall(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_NOTIFY")])
        let log = AgentLog()
        _ = try Self.startAgent(at: socketPath, log: log)
        let result = try box.run("n1")
        #expect(result.status == 0, "\(result.stderr)")
        // The answer is the agent's: EXDEV, not the read-only root's EROFS.
        #expect(result.stdout.contains("status=1"), "\(result.stdout)")
        #expect((result.stdout + result.stderr).lowercased().contains("cross-device link"), "\(result.stdout) \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: box.rootfs + "/tmp/made-by-the-container"))
        let (json, answered, error) = log.value.withLock { ($0.json, $0.answered, $0.error) }
        #expect(error == nil)
        #expect(answered >= 1)
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect(object?["fds"] as? [String] == ["seccompFd"])
        #expect(object?["metadata"] as? String == "kujira-test-metadata")
        #expect((object?["pid"] as? Int ?? 0) > 0)
        let state = object?["state"] as? [String: Any]
        #expect(state?["id"] as? String == "n1")
        #expect(state?["bundle"] as? String == box.bundle)
    }

    @Test func aMissingListenerFailsCreate() throws {
        let box = try Sandbox(script: "true")
        box.spec.linux?.seccomp = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ALLOW", listenerPath: box.directory + "/nobody.sock",
            syscalls: [LinuxSyscall(names: ["mkdir"], action: "SCMP_ACT_NOTIFY")])
        let result = try box.run("n2")
        #expect(result.status != 0)
        #expect(result.stderr.contains("seccomp listener") && result.stderr.contains("nobody.sock"), "\(result.stderr)")
        #expect(try box.api.list().isEmpty)
    }
}
