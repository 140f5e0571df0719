import Foundation
import Glibc
import KujiraRuntime
import Testing

/// A `kujira-runtime create` killed with SIGKILL after the init reported "created" but before
/// the state was saved (crash point `create-before-save`) leaves a state directory without
/// state.json, a cgroup, and a container process blocked on the exec fifo. `delete` must
/// remove all three.
@Suite("Recovery from a killed create", .enabled(if: Privilege.shouldRun, Privilege.reason), .serialized)
struct CreateRecoveryTests {
    @Test func deleteRemovesWhatAKilledCreateLeft() throws {
        let box = try Sandbox(script: "true")
        defer { box.cleanup() }
        try box.writeSpec()
        let killed = try runCommand("/usr/bin/env", ["KUJIRA_RUNTIME_CRASHPOINT=create-before-save", box.runtimePath,
                                                     "--root", box.root, "create", "--bundle", box.bundle, "rec1"])
        #expect(killed.status == SIGKILL, "create was not killed at the crash point: \(killed.status) \(killed.stderr)")
        let stateDir = box.root + "/rec1"
        #expect(FileManager.default.fileExists(atPath: stateDir))
        #expect(!FileManager.default.fileExists(atPath: stateDir + "/state.json"))
        #expect(try box.api.list().isEmpty, "a half-created container is listed")

        // The cgroup the create made, and the container process waiting in it.
        let cgroupsPath = box.spec.linux?.cgroupsPath ?? ""
        let pidsDirectory = "/sys/fs/cgroup/pids" + cgroupsPath
        let waiting = ((try? String(contentsOfFile: pidsDirectory + "/cgroup.procs", encoding: .utf8)) ?? "")
            .split(separator: "\n").compactMap { Int32($0) }
        #expect(waiting.count == 1, "expected the container process in \(pidsDirectory): \(waiting)")

        let deleted = try box.runtime(["delete", "--force", "rec1"])
        #expect(deleted.status == 0, "\(deleted.stderr)")
        #expect(!FileManager.default.fileExists(atPath: stateDir))
        // Killed: gone, or a zombie until pid 1 (its parent since the create died) reaps it.
        func running(_ pid: Int32) -> Bool {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            return !stat[stat.index(after: close)...].hasPrefix(" Z")
        }
        for pid in waiting { #expect(!running(pid), "process \(pid) of the killed create is still running") }
        let hierarchies = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []
        for hierarchy in hierarchies {
            let directory = "/sys/fs/cgroup/" + hierarchy + cgroupsPath
            #expect(!FileManager.default.fileExists(atPath: directory), "\(directory) is left")
        }
        // The id is free again.
        let again = try box.run("rec1")
        #expect(again.status == 0, "\(again.stderr)")
    }
}
