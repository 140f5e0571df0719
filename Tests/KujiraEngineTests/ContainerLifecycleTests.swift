import Foundation
import Testing

/// The engine through the real `kujira` binary, as root against the real kernel.
@Suite(.serialized, .enabled(if: EngineHost.enabled, "needs root (overlay mounts, cgroups, namespaces); KUJIRA_REQUIRE_PRIVILEGED=1 makes this a failure"))
struct ContainerLifecycleTests {
    @Test func runPrintsAndRemoves() throws {
        let box = try Sandbox()
        let result = try box.mustRun(["run", "--rm", Sandbox.image, "echo", "hi"])
        #expect(result.stdout == "hi\n")
        #expect(try box.mustRun(["ps", "-a", "-q"]).stdout.isEmpty)
    }

    @Test func exitCodesPropagate() throws {
        let box = try Sandbox()
        #expect(try box.kujira(["run", "--rm", Sandbox.image, "sh", "-c", "exit 3"]).status == 3)
        #expect(try box.kujira(["run", "--rm", Sandbox.image, "no-such-program"]).status == 127)
    }

    @Test func detachedContainerOutlivesTheCLIAndLogs() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "-d", "--name", "bg", Sandbox.image, "sh", "-c", "echo one; echo err >&2; sleep 1; echo two"])
        let listed = try box.mustRun(["ps"]).stdout
        #expect(listed.contains("bg") && listed.contains("Up"))
        let followed = try box.mustRun(["logs", "-f", "bg"])
        #expect(followed.stdout == "one\ntwo\n")
        #expect(followed.stderr == "err\n")
        #expect(try box.mustRun(["wait", "bg"]).stdout == "0\n")
        #expect(try box.mustRun(["logs", "--tail", "1", "bg"]).stdout == "two\n")
        #expect(try box.mustRun(["ps", "-a"]).stdout.contains("Exited (0)"))
    }

    @Test func execSeesTheContainerAndReturnsItsCode() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "-d", "--name", "web", Sandbox.image, "sh", "-c", "echo data > /tmp/file; sleep 100"])
        #expect(box.eventually(5) { (try? box.kujira(["exec", "web", "cat", "/tmp/file"]).stdout) == "data\n" })
        #expect(try box.kujira(["exec", "web", "sh", "-c", "exit 4"]).status == 4)
        try box.mustRun(["rm", "-f", "web"])
    }

    @Test func optionsTakeEffect() throws {
        let box = try Sandbox()
        let result = try box.mustRun(["run", "--rm", "-e", "FOO=bar", "-w", "/tmp", "-u", "nobody", "-h", "myhost", Sandbox.image,
                                      "sh", "-c", "echo $FOO $(pwd) $(id -u) $(hostname)"])
        #expect(result.stdout == "bar /tmp 65534 myhost\n")
    }

    @Test func memoryLimitAndOOMKill() throws {
        let box = try Sandbox()
        let id = try box.mustRun(["run", "-d", "-m", "32m", Sandbox.image, "sh", "-c", "sleep 1; tail /dev/zero"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let candidates = ["/sys/fs/cgroup/memory/kujira/\(id)/memory.limit_in_bytes", "/sys/fs/cgroup/kujira/\(id)/memory.max"]
        let limit = candidates.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }.first
        #expect(limit?.trimmingCharacters(in: .whitespacesAndNewlines) == "33554432")
        #expect(try box.mustRun(["wait", id]).stdout == "137\n")
        #expect(try box.state(id)["OOMKilled"] as? Bool == true)
    }

    @Test func stopKillsAfterTheTimeout() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "-d", "--name", "stubborn", Sandbox.image, "sh", "-c", "trap '' TERM; sleep 100"])
        let started = Date()
        try box.mustRun(["stop", "-t", "1", "stubborn"])
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(try box.state("stubborn")["ExitCode"] as? Int == 137)
    }

    @Test func restartOnFailureRestartsTwice() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "-d", "--name", "flaky", "--restart", "on-failure:2", Sandbox.image, "sh", "-c", "echo run; exit 1"])
        #expect(try box.eventually(15) {
            let document = try box.inspect("flaky")
            return (document["State"] as? [String: Any])?["Status"] as? String == "exited" && document["RestartCount"] as? Int == 2
        })
        #expect(try box.mustRun(["logs", "flaky"]).stdout == "run\nrun\nrun\n")
    }

    @Test func aKilledMonitorIsReconciled() throws {
        let box = try Sandbox()
        let id = try box.mustRun(["run", "-d", Sandbox.image, "sleep", "100"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let recordPath = "\(box.root)/containers/\(id)/config.v2.json"
        let data = try Data(contentsOf: URL(fileURLWithPath: recordPath))
        let record = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let monitor = ((record?["state"] as? [String: Any])?["monitorPid"] as? Int).map(Int32.init) ?? 0
        #expect(monitor > 0)
        kill(monitor, SIGKILL)
        #expect(box.eventually(5) { (try? box.kujira(["ps", "-a"]).stdout.contains("Exited")) == true })
        try box.mustRun(["rm", id])
        let mounts = try readProcFile("/proc/self/mountinfo")
        #expect(!mounts.contains(id))
        #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/kujira/\(id)"))
        #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids/kujira/\(id)"))
    }

    @Test func concurrentRunsOnOneRoot() throws {
        let box = try Sandbox()
        nonisolated(unsafe) var results = [Int32](repeating: -1, count: 8)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            let status = (try? box.kujira(["run", "--rm", Sandbox.image, "echo", "\(index)"]).status) ?? -2
            lock.lock()
            results[index] = status
            lock.unlock()
        }
        #expect(results == [Int32](repeating: 0, count: 8))
        #expect(try box.mustRun(["ps", "-a", "-q"]).stdout.isEmpty)
    }
}
