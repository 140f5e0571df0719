import Foundation
import Glibc
import KujiraOCI
import KujiraRuntime
import Testing

@Suite("Lifecycle through kujira-runtime's command line", .enabled(if: Privilege.shouldRun, Privilege.reason), .serialized)
struct LifecycleTests {
    @Test func runForwardsSignalsToTheContainer() throws {
        // sh as pid 1 of its namespace ignores SIGTERM unless it traps it.
        let box = try Sandbox(script: "trap 'exit 7' TERM; echo ready; while :; do sleep 0.1; done")
        try box.writeSpec()
        let out = box.directory + "/run.out", err = box.directory + "/run.err"
        let pid = try Peers.spawn(box.runtimePath, ["--root", box.root, "run", "--bundle", box.bundle, "c1"],
                                  stdout: out, stderr: err)
        let ready = eventually { ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").contains("ready") }
        #expect(ready, "\((try? String(contentsOfFile: err, encoding: .utf8)) ?? "")")
        if ready {
            _ = Glibc.kill(pid, SIGTERM)
        } else {
            _ = try? box.runtime(["kill", "c1", "KILL"])  // never leave `run` waiting
        }
        // `run` forwards the signal, the trap exits 7, and `run` exits with the container's status.
        #expect(Peers.wait(pid) == 7, "\((try? String(contentsOfFile: err, encoding: .utf8)) ?? "")")
        #expect(try box.runtime(["state", "c1"]).stderr.contains("does not exist"))
    }

    @Test func createStartKillDelete() throws {
        let box = try Sandbox(script: "sleep 60")
        let pidFile = box.directory + "/init.pid"
        let created = try box.runtime(["create", "--bundle", box.bundle, "--pid-file", pidFile, "c1"])
        #expect(created.status == 0, "\(created.stderr)")
        let state = try JSONDecoder().decode(RuncState.self, from: Data(try box.runtime(["state", "c1"]).stdout.utf8))
        #expect(state.status == .created)
        #expect(state.pid > 0)
        #expect(try String(contentsOfFile: pidFile, encoding: .utf8) == "\(state.pid)")
        // The init waits before exec: it is still kujira-init.
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(state.pid)/exe")
        #expect(exe.contains("memfd:kujira-init"))

        #expect(try box.runtime(["start", "c1"]).status == 0)
        #expect(try box.api.state(id: "c1").status == .running)
        #expect(try box.runtime(["kill", "c1", "KILL"]).status == 0)
        #expect(try eventually { try box.api.state(id: "c1").status == .stopped })
        let stoppedKill = try box.runtime(["kill", "c1", "TERM"])
        #expect(stoppedKill.status != 0 && stoppedKill.stderr.contains("container not running"))
        #expect(try box.runtime(["delete", "c1"]).status == 0)
        let gone = try box.runtime(["state", "c1"])
        #expect(gone.status != 0 && gone.stderr.contains("does not exist"))
    }

    @Test func deleteForceOfRunningAndUnknown() throws {
        let box = try Sandbox(script: "sleep 60")
        #expect(try box.runtime(["run", "--detach", "--bundle", box.bundle, "c2"]).status == 0)
        let pid = Int32(try box.api.state(id: "c2").pid)
        let refused = try box.runtime(["delete", "c2"])
        #expect(refused.status != 0 && refused.stderr.contains("not stopped"))
        #expect(try box.runtime(["delete", "--force", "c2"]).status == 0)
        // Gone, or a zombie waiting for the host's init to reap it.
        #expect(eventually { (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z ") ?? true })
        let unknown = try box.runtime(["delete", "nope"])
        #expect(unknown.status != 0 && unknown.stderr.contains("does not exist"))
        #expect(try box.runtime(["delete", "--force", "nope"]).status == 0)
    }

    @Test func duplicateIDAndListAndJSONLog() throws {
        let box = try Sandbox(script: "sleep 60")
        #expect(try box.runtime(["create", "--bundle", box.bundle, "c3"]).status == 0)
        let log = box.directory + "/log.json"
        let again = try runCommand(box.runtimePath, ["--root", box.root, "--log", log, "--log-format", "json", "create", "--bundle", box.bundle, "c3"])
        #expect(again.status != 0)
        let lastLine = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").last.map(String.init) ?? ""
        let object = try JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: String]
        #expect(object?["level"] == "error")
        #expect(object?["msg"]?.contains("container with id exists") == true)
        let list = try box.runtime(["list", "--format", "json"])
        #expect(list.stdout.contains("\"id\":\"c3\""))
        let ps = try box.runtime(["ps", "--format", "json", "c3"])
        #expect(ps.stdout.contains("\(try box.api.state(id: "c3").pid)"))
    }

    @Test(arguments: [0, 3, 42]) func runPropagatesExitCode(code: Int) throws {
        let box = try Sandbox(script: "echo out; exit \(code)")
        let result = try box.run()
        #expect(result.status == Int32(code))
        #expect(result.stdout == "out\n")
        #expect(try box.api.list().isEmpty)
    }

    @Test func versionAndFeaturesAndSpec() throws {
        let box = try Sandbox()
        let version = try runCommand(box.runtimePath, ["--version"])
        #expect(version.stdout.hasPrefix("kujira-runtime version "))
        #expect(version.stdout.contains("spec: 1.2.0"))
        let features = try JSONDecoder().decode(Features.self, from: Data(try runCommand(box.runtimePath, ["features"]).stdout.utf8))
        #expect(features.linux?.namespaces?.contains("user") == true)
        #expect(features.linux?.intelRdt?.enabled == true && features.linux?.netDevices?.enabled == true)
        let specDir = box.directory + "/spec"
        try FileManager.default.createDirectory(atPath: specDir, withIntermediateDirectories: true)
        #expect(try runCommand(box.runtimePath, ["spec", "--rootless", "--bundle", specDir]).status == 0)
        let spec = try JSONDecoder().decode(Spec.self, from: Data(contentsOf: URL(fileURLWithPath: specDir + "/config.json")))
        #expect(spec.linux?.namespaces?.contains { $0.type == .user } == true)
        let systemd = try runCommand(box.runtimePath, ["--systemd-cgroup", "--root", box.root, "create", "--bundle", box.bundle, "x"])
        #expect(systemd.status != 0 && systemd.stderr.contains("--systemd-cgroup is not supported"))
        let pause = try box.runtime(["pause", "x"])
        #expect(pause.status != 0)
    }
}
