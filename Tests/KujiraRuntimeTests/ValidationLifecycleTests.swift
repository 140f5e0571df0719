import Foundation
import Glibc
import KujiraOCI
import Testing

/// runtime-tools' lifecycle cases (validation/state, create, pidfile, kill, killsig,
/// kill_no_effect, delete, delete_only_create_resources, misc_props), each run by
/// kujira-runtime and by Debian's runc on the same bundle: exit statuses, the container's
/// status at each step and the state's fields (not pids or timestamps).
@Suite("Validation with runc: lifecycle", .enabled(if: Runc.shouldRun, Runc.reason), .serialized)
struct ValidationLifecycleTests {
    /// state at each lifecycle step: the same keys and status from both; id, bundle, rootfs
    /// and annotations equal; pid the init's while it lives. `ociVersion` is each runtime's
    /// spec version (runc 1.1: "1.0.2-dev", Kujira: 1.2.0).
    @Test func stateAtEachStep() throws {
        let pair = try RuncPair(script: "sleep 600")
        pair.spec.annotations = ["org.example.validation": "state", "org.example.empty": ""]
        var keys: [String: [Set<String>]] = [:]
        for side in pair.sides {
            #expect(try side.call(["create", "--bundle", pair.bundle, side.id("s")]).status == 0)
            let created = try #require(try side.state("s"))
            #expect(created["status"] as? String == "created")
            #expect(created["id"] as? String == side.id("s"))
            #expect(created["bundle"] as? String == pair.bundle)
            #expect(created["rootfs"] as? String == pair.rootfs)
            #expect(created["annotations"] as? [String: String] == ["org.example.validation": "state", "org.example.empty": ""])
            #expect(((created["pid"] as? Int) ?? 0) > 0)
            #expect(!((created["ociVersion"] as? String) ?? "").isEmpty)
            #expect(try side.call(["start", side.id("s")]).status == 0)
            let running = try #require(try side.state("s"))
            #expect(running["status"] as? String == "running")
            #expect(running["pid"] as? Int == created["pid"] as? Int)
            #expect(try side.call(["kill", side.id("s"), "KILL"]).status == 0)
            #expect(side.awaitStatus("s", "stopped"), "\(side.name)")
            let stopped = try #require(try side.state("s"))
            keys[side.name] = [Set(created.keys), Set(running.keys), Set(stopped.keys)]
            #expect(try side.call(["delete", side.id("s")]).status == 0)
            #expect(try side.call(["state", side.id("s")]).status != 0)
        }
        #expect(keys["kujira"] == keys["runc"])
        #expect(try pair.kujira(["--version"]).stdout.contains("spec: \(Spec.currentVersion)"))
    }

    /// `create --pid-file`: the file holds the state's pid (no newline), from both.
    @Test func pidFile() throws {
        let pair = try RuncPair(script: "sleep 600")
        for side in pair.sides {
            let file = pair.directory + "/\(side.name).pid"
            #expect(try side.call(["create", "--bundle", pair.bundle, "--pid-file", file, side.id("p")]).status == 0)
            let pid = try #require(try side.state("p")?["pid"] as? Int)
            #expect(try String(contentsOfFile: file, encoding: .utf8) == "\(pid)", "\(side.name)")
            #expect(try side.call(["delete", "--force", side.id("p")]).status == 0)
        }
    }

    /// kill with a signal number, a name and a SIG-prefixed name: the container's trap sees
    /// it (validation/kill, killsig).
    @Test(arguments: ["10", "USR1", "SIGUSR1", "usr1"])
    func killSignalForms(signal: String) throws {
        let pair = try RuncPair(script: "trap 'echo got-usr1 > /signalled; exit 3' USR1; grep ^Sig /proc/self/status > /ready; while :; do sleep 0.1; done")
        pair.spec.root?.readonly = false
        for side in pair.sides {
            unlink(pair.rootfs + "/ready")
            unlink(pair.rootfs + "/signalled")
            #expect(try side.call(["run", "--detach", "--bundle", pair.bundle, side.id("k")]).status == 0)
            #expect(eventually { FileManager.default.fileExists(atPath: pair.rootfs + "/ready") }, "\(side.name)")
            let killed = try side.call(["kill", side.id("k"), signal])
            #expect(killed.status == 0, "\(side.name): \(killed.stderr)")
            #expect(side.awaitStatus("k", "stopped"), "\(side.name): \((try? String(contentsOfFile: pair.rootfs + "/ready", encoding: .utf8)) ?? "")")
            #expect((try? String(contentsOfFile: pair.rootfs + "/signalled", encoding: .utf8)) == "got-usr1\n", "\(side.name)")
            #expect(try side.call(["delete", side.id("k")]).status == 0)
        }
    }

    /// Signal 0 checks the container exists (accepted by both); an unknown signal is refused
    /// by both and leaves the container running.
    @Test func killZeroAndUnknownSignal() throws {
        let pair = try RuncPair(script: "sleep 600")
        for side in pair.sides {
            #expect(try side.call(["run", "--detach", "--bundle", pair.bundle, side.id("z")]).status == 0)
            #expect(try side.call(["kill", side.id("z"), "0"]).status == 0, "\(side.name)")
            let unknown = try side.call(["kill", side.id("z"), "SIGBOGUS"])
            #expect(unknown.status != 0 && unknown.stderr.contains("unknown signal") && unknown.stderr.contains("SIGBOGUS"), "\(side.name): \(unknown.stderr)")
            #expect(side.status("z") == "running", "\(side.name)")
            #expect(try side.call(["delete", "--force", side.id("z")]).status == 0)
        }
    }

    /// `kill --all` signals every process of the container; the container stops.
    @Test func killAll() throws {
        let pair = try RuncPair(script: "sleep 600 & sleep 600 & touch /ready; wait")
        pair.spec.root?.readonly = false
        for side in pair.sides {
            unlink(pair.rootfs + "/ready")
            #expect(try side.call(["run", "--detach", "--bundle", pair.bundle, side.id("a")]).status == 0)
            #expect(eventually { FileManager.default.fileExists(atPath: pair.rootfs + "/ready") })
            #expect(try side.call(["ps", "--format", "json", side.id("a")]).stdout.split(separator: ",").count == 3, "\(side.name)")
            #expect(try side.call(["kill", "--all", side.id("a"), "KILL"]).status == 0, "\(side.name)")
            #expect(side.awaitStatus("a", "stopped"), "\(side.name)")
            #expect(try side.call(["delete", side.id("a")]).status == 0)
        }
    }

    /// Killing a created container (its init waits for `start`): it stops, in both.
    @Test func killCreated() throws {
        let pair = try RuncPair(script: "echo never")
        for side in pair.sides {
            #expect(try side.call(["create", "--bundle", pair.bundle, side.id("c")]).status == 0)
            #expect(try side.call(["kill", side.id("c"), "KILL"]).status == 0, "\(side.name)")
            #expect(side.awaitStatus("c", "stopped"), "\(side.name)")
            #expect(try side.call(["delete", side.id("c")]).status == 0)
        }
    }

    /// kill of a stopped container errors and has no effect (validation/kill_no_effect).
    /// `kill --all` of a stopped container: runc 1.1 signals the (empty) cgroup and exits 0;
    /// the spec says signalling a container that is neither created nor running MUST
    /// generate an error, which Kujira does for both forms.
    @Test func killStoppedErrors() throws {
        let pair = try RuncPair(script: "true")
        for side in pair.sides {
            #expect(try side.call(["create", "--bundle", pair.bundle, side.id("x")]).status == 0)
            #expect(try side.call(["start", side.id("x")]).status == 0)
            #expect(side.awaitStatus("x", "stopped"), "\(side.name)")
            let killed = try side.call(["kill", side.id("x"), "TERM"])
            #expect(killed.status != 0 && killed.stderr.contains("container not running"), "\(side.name): \(killed.stderr)")
            #expect(side.status("x") == "stopped")
        }
        let all = try pair.kujira(["kill", "--all", "k-x", "KILL"])
        #expect(all.status != 0 && all.stderr.contains("container not running"), "\(all.stderr)")
    }

    /// delete of a created container (its init is killed, the state goes), of a running one
    /// without --force (refused, same wording, still running), with --force (gone), and of
    /// unknown ids (an error without --force, none with it).
    @Test func deleteCases() throws {
        let pair = try RuncPair(script: "sleep 600")
        for side in pair.sides {
            #expect(try side.call(["create", "--bundle", pair.bundle, side.id("d1")]).status == 0)
            let pid = try #require(try side.state("d1")?["pid"] as? Int)
            let cgroups = try Self.cgroupDirectories(pid: pid)
            #expect(!cgroups.isEmpty)
            #expect(try side.call(["delete", side.id("d1")]).status == 0, "\(side.name)")
            #expect(try side.call(["state", side.id("d1")]).status != 0)
            // What create made goes with it (validation/delete_only_create_resources).
            #expect(cgroups.filter { FileManager.default.fileExists(atPath: $0) }.isEmpty, "\(side.name): \(cgroups)")
            #expect(eventually { (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z ") ?? true }, "\(side.name)")

            #expect(try side.call(["run", "--detach", "--bundle", pair.bundle, side.id("d2")]).status == 0)
            let refused = try side.call(["delete", side.id("d2")])
            #expect(refused.status != 0 && refused.stderr.contains("cannot delete container \(side.id("d2")) that is not stopped: running"),
                    "\(side.name): \(refused.stderr)")
            #expect(side.status("d2") == "running")
            #expect(try side.call(["delete", "--force", side.id("d2")]).status == 0, "\(side.name)")
            #expect(try side.call(["state", side.id("d2")]).status != 0)

            let unknown = try side.call(["delete", side.id("nope")])
            #expect(unknown.status != 0 && unknown.stderr.contains("does not exist"), "\(side.name): \(unknown.stderr)")
            #expect(try side.call(["delete", "--force", side.id("nope")]).status == 0, "\(side.name)")
        }
    }

    /// The container's cgroup directories on the host (cgroup v1 or v2), from its init's
    /// /proc/<pid>/cgroup.
    static func cgroupDirectories(pid: Int) throws -> [String] {
        let text = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3, fields[2] != "/" else { return nil }
            let controller = fields[1].hasPrefix("name=") ? String(fields[1].dropFirst(5)) : fields[1]
            let directory = "/sys/fs/cgroup/" + (controller.isEmpty ? "" : controller) + fields[2]
            return FileManager.default.fileExists(atPath: directory) ? directory : nil
        }
    }

    /// config.json changed after create does not change the container: start runs what
    /// create read (validation/config_updates_without_affect).
    @Test func configUpdatesAfterCreateHaveNoEffect() throws {
        let pair = try RuncPair(script: "echo original > /out")
        pair.spec.root?.readonly = false
        for side in pair.sides {
            unlink(pair.rootfs + "/out")
            #expect(try side.call(["create", "--bundle", pair.bundle, side.id("u")]).status == 0)
            var changed = pair.spec
            changed.process?.args = ["sh", "-c", "echo changed > /out"]
            let encoder = JSONEncoder()
            try encoder.encode(changed).write(to: URL(fileURLWithPath: pair.bundle + "/config.json"))
            #expect(try side.call(["start", side.id("u")]).status == 0)
            #expect(side.awaitStatus("u", "stopped"), "\(side.name)")
            #expect((try? String(contentsOfFile: pair.rootfs + "/out", encoding: .utf8)) == "original\n", "\(side.name)")
            #expect(try side.call(["delete", side.id("u")]).status == 0)
        }
    }

    /// start of a running or stopped container, create of a taken id or from a bundle without
    /// config.json, and state/start/kill/pause of an unknown id fail in both.
    @Test func operationsOnTheWrongState() throws {
        let pair = try RuncPair(script: "sleep 600")
        let empty = pair.directory + "/empty-bundle"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        for side in pair.sides {
            #expect(try side.call(["create", "--bundle", empty, side.id("e")]).status != 0, "\(side.name)")
            #expect(try side.call(["state", side.id("e")]).status != 0, "\(side.name)")
            #expect(try side.call(["run", "--detach", "--bundle", pair.bundle, side.id("w")]).status == 0)
            let again = try side.call(["start", side.id("w")])
            #expect(again.status != 0 && again.stderr.contains("cannot start an already running container"), "\(side.name): \(again.stderr)")
            for command in [["state"], ["start"], ["kill"], ["pause"]] {
                let result = try side.call(command + [side.id("nope")])
                #expect(result.status != 0 && result.stderr.contains("does not exist"), "\(side.name) \(command): \(result.stderr)")
            }
            let duplicate = try side.call(["create", "--bundle", pair.bundle, side.id("w")])
            #expect(duplicate.status != 0, "\(side.name)")
            #expect(try side.call(["kill", side.id("w"), "KILL"]).status == 0)
            #expect(side.awaitStatus("w", "stopped"), "\(side.name)")
            let stopped = try side.call(["start", side.id("w")])
            #expect(stopped.status != 0 && stopped.stderr.contains("cannot start a container that has stopped"), "\(side.name): \(stopped.stderr)")
            #expect(try side.call(["delete", side.id("w")]).status == 0)
        }
    }
}
