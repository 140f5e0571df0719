import Foundation
import Testing

/// Crash safety against the real kernel: a `kujira` killed with SIGKILL at a crash point
/// (`KUJIRA_CRASHPOINT`, the process kills itself there exactly as `kill -9` would), a
/// simulated reboot, and cgroup limits of `-c` and `--pids-limit`. Each case checks that the
/// next command repairs the state and that no mount, cgroup or process is left behind.
@Suite(.enabled(if: EngineHost.enabled, "needs root (overlay mounts, cgroups, namespaces); KUJIRA_REQUIRE_PRIVILEGED=1 makes this a failure"))
struct CrashTests {
    /// Runs `kujira ARGS…` on `box` with `KUJIRA_CRASHPOINT=point`; returns whether it was killed.
    static func crashing(_ box: Sandbox, at point: String, _ arguments: [String]) throws -> Bool {
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: EngineHost.kujira)
        process.arguments = ["--root", box.root, "--state", box.state] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["KUJIRA_CRASHPOINT"] = point
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL
    }

    /// The lines of /proc/self/mountinfo under the sandbox's root.
    static func mounts(_ box: Sandbox) -> [String] {
        let text = readMountInfo()
        return text.split(separator: "\n").map(String.init).filter { $0.contains(box.root) }
    }

    /// The container directories (64 hex digits) and leftover create locks under the root.
    static func containerEntries(_ box: Sandbox) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "\(box.root)/containers")) ?? []
        return names.filter { $0.count == 64 || $0.hasPrefix(".creating-") }
    }

    static func record(_ box: Sandbox, _ id: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(box.root)/containers/\(id)/config.v2.json"))
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    static func isGone(_ pid: Int32) -> Bool {
        kill(pid, 0) != 0 || (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z ") == true
    }

    /// The cgroup directories of container `id` that exist (v2 or any v1 hierarchy).
    static func cgroups(_ id: String) -> [String] {
        let hierarchies = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []
        let candidates = ["/sys/fs/cgroup/kujira/\(id)"] + hierarchies.map { "/sys/fs/cgroup/\($0)/kujira/\(id)" }
        return candidates.filter { FileManager.default.fileExists(atPath: $0) }
    }

    @Test(arguments: ["create-unpacked", "create-mounted", "create-bundle"])
    func runKilledInCreateIsRepaired(point: String) throws {
        let box = try Sandbox()
        #expect(try Self.crashing(box, at: point, ["run", "--name", "half", Sandbox.image, "true"]))
        // The next command removes what the dead create left.
        #expect(try box.mustRun(["ps", "-a", "-q"]).stdout.isEmpty)
        #expect(Self.containerEntries(box).isEmpty)
        #expect(Self.mounts(box).isEmpty)
        #expect(try box.mustRun(["run", "--rm", "--name", "half", Sandbox.image, "echo", "ok"]).stdout == "ok\n")
        #expect(Self.containerEntries(box).isEmpty)
    }

    /// A real SIGKILL of `run` once its unpack of a large layer is under way (when the unpack
    /// wins the race the kill lands later in create or start; the repair checks hold either way).
    @Test func runKilledDuringTheUnpackIsRepaired() throws {
        let box = try Sandbox()
        let rootfs = "\(box.dir)/big"
        let fm = FileManager.default
        try fm.createDirectory(atPath: "\(rootfs)/bin", withIntermediateDirectories: true)
        try fm.copyItem(atPath: "/bin/busybox", toPath: "\(rootfs)/bin/busybox")
        try fm.createSymbolicLink(atPath: "\(rootfs)/bin/true", withDestinationPath: "busybox")
        try fm.createSymbolicLink(atPath: "\(rootfs)/bin/echo", withDestinationPath: "busybox")
        let block = Data(count: 4 << 20)
        for index in 0..<48 { try block.write(to: URL(fileURLWithPath: "\(rootfs)/filler-\(index)")) }
        try box.mustRun(["import", rootfs, "localhost/big:test"])
        try fm.removeItem(atPath: rootfs)

        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: EngineHost.kujira)
        process.arguments = ["--root", box.root, "--state", box.state, "run", "--name", "cut", "localhost/big:test", "true"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let tmp = "\(box.root)/snapshots/tmp"
        _ = box.eventually(60) { !((try? fm.contentsOfDirectory(atPath: tmp)) ?? []).isEmpty || !process.isRunning }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        // The next commands finish or undo whatever the killed run left.
        let names = try box.mustRun(["ps", "-a"]).stdout
        if names.contains("cut") { try box.mustRun(["rm", "-f", "cut"]) }
        #expect(try box.mustRun(["run", "--rm", "localhost/big:test", "echo", "ok"]).stdout == "ok\n")
        #expect(((try? fm.contentsOfDirectory(atPath: tmp)) ?? []).isEmpty)
        #expect(Self.containerEntries(box).isEmpty)
        #expect(Self.mounts(box).isEmpty)
    }

    @Test func runKilledAfterStartingTheMonitorLeavesARunningContainer() throws {
        let box = try Sandbox()
        #expect(try Self.crashing(box, at: "start-spawned", ["run", "-d", "--name", "orphan", Sandbox.image, "sleep", "1000"]))
        #expect(box.eventually(30) { (try? box.state("orphan")["Status"] as? String) == "running" })
        let id = try box.inspect("orphan")["Id"] as? String ?? ""
        let state = try Self.record(box, id)["state"] as? [String: Any] ?? [:]
        let pids = [state["pid"], state["monitorPid"]].compactMap { ($0 as? Int).map(Int32.init) }
        #expect(pids.count == 2)
        try box.mustRun(["rm", "-f", "orphan"])
        #expect(pids.allSatisfy(Self.isGone))
        #expect(Self.cgroups(id).isEmpty)
        #expect(Self.mounts(box).isEmpty)
        // An attached `run --rm` killed there: its monitor removes the container once it exits.
        #expect(try Self.crashing(box, at: "start-spawned", ["run", "--rm", "--name", "brief", Sandbox.image, "true"]))
        #expect(box.eventually(30) { (try? box.kujira(["ps", "-a", "-q"]).stdout.isEmpty) == true })
        #expect(box.eventually(30) { Self.mounts(box).isEmpty })
    }

    @Test func commitKilledWhileTheContainerIsFrozenIsUndone() throws {
        let box = try Sandbox()
        let id = try box.mustRun(["run", "-d", "--name", "busy", Sandbox.image, "sh", "-c", "echo x > /tmp/x; sleep 1000"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(box.eventually(30) { (try? box.kujira(["exec", "busy", "test", "-e", "/tmp/x"]).status) == 0 })
        #expect(try Self.crashing(box, at: "commit-paused", ["commit", "busy", "localhost/half:commit"]))
        #expect(FileManager.default.fileExists(atPath: "\(box.root)/containers/\(id)/commit-pause"))
        // The next reader thaws it; the container works and a new commit succeeds.
        #expect(try box.state("busy")["Status"] as? String == "running")
        #expect(!FileManager.default.fileExists(atPath: "\(box.root)/containers/\(id)/commit-pause"))
        #expect(try box.mustRun(["exec", "busy", "cat", "/tmp/x"]).stdout == "x\n")
        try box.mustRun(["commit", "busy", "localhost/whole:commit"])
        #expect(try box.mustRun(["run", "--rm", "localhost/whole:commit", "cat", "/tmp/x"]).stdout == "x\n")
        try box.mustRun(["rm", "-f", "busy"])
        #expect(Self.cgroups(id).isEmpty)
    }

    @Test func startAfterARebootRemountsTheRootfs() throws {
        let box = try Sandbox()
        let id = try box.mustRun(["run", "-d", "--name", "booted", Sandbox.image, "sh", "-c", "echo kept > /kept; sleep 1000"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(box.eventually(30) { (try? box.kujira(["exec", "booted", "test", "-e", "/kept"]).status) == 0 })
        // The "reboot": every process of the container and its monitor gone, the cgroups
        // gone, the rootfs overlay unmounted and the --state tmpfs wiped.
        let state = try Self.record(box, id)["state"] as? [String: Any] ?? [:]
        let pids = [state["monitorPid"], state["pid"]].compactMap { ($0 as? Int).map(Int32.init) }
        #expect(pids.count == 2)
        for pid in pids { kill(pid, SIGKILL) }
        #expect(box.eventually(30) { pids.allSatisfy(Self.isGone) })
        for cgroup in Self.cgroups(id) {
            #expect(box.eventually(30) { rmdir(cgroup) == 0 || errno == ENOENT })
        }
        let rootfs = "\(box.root)/containers/\(id)/rootfs"
        #expect(umount2(rootfs, Int32(MNT_DETACH)) == 0)
        // The tmpfs goes with what is mounted on it (the network namespace files).
        let stateMounts = readMountInfo().split(separator: "\n")
            .compactMap { line -> String? in
                let fields = line.split(separator: " ")
                return fields.count > 4 && fields[4].hasPrefix(box.state) ? String(fields[4]) : nil
            }
        for mount in stateMounts.reversed() { umount2(mount, Int32(MNT_DETACH)) }
        try FileManager.default.removeItem(atPath: box.state)
        #expect(Self.mounts(box).filter { $0.contains("\(id)/rootfs") }.isEmpty)

        #expect(try box.mustRun(["ps", "-a"]).stdout.contains("Exited"))
        try box.mustRun(["start", "booted"])
        #expect(try box.state("booted")["Status"] as? String == "running")
        #expect(try box.mustRun(["exec", "booted", "cat", "/kept"]).stdout == "kept\n")
        #expect(!Self.mounts(box).filter { $0.contains("\(id)/rootfs") }.isEmpty)
        try box.mustRun(["rm", "-f", "booted"])
        #expect(Self.mounts(box).isEmpty)
        #expect(Self.cgroups(id).isEmpty)
    }

    @Test func eightConcurrentRunsSucceedAndLeaveNothingBehind() throws {
        let box = try Sandbox()
        let since = String(Date().timeIntervalSince1970 - 1)
        nonisolated(unsafe) var outputs = [String](repeating: "", count: 8)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            let result = try? box.kujira(["run", "--rm", Sandbox.image, "echo", "\(index)"])
            lock.lock()
            outputs[index] = result.map { "\($0.status) \($0.stdout)" } ?? "failed"
            lock.unlock()
        }
        #expect(outputs == (0..<8).map { "0 \($0)\n" })
        #expect(try box.mustRun(["ps", "-a", "-q"]).stdout.isEmpty)
        let until = String(Date().timeIntervalSince1970 + 1)
        let ids = try box.mustRun(["events", "--since", since, "--until", until, "--filter", "event=destroy", "--format", "{{.Actor.ID}}"]).stdout
            .split(separator: "\n").map(String.init)
        #expect(Set(ids).count == 8)
        #expect(Self.mounts(box).isEmpty)
        #expect(Self.containerEntries(box).isEmpty)
        let interfaces = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net")) ?? []
        let aliases = interfaces.compactMap { try? String(contentsOfFile: "/sys/class/net/\($0)/ifalias", encoding: .utf8) }
        for id in ids {
            #expect(Self.cgroups(id).isEmpty)
            #expect(!aliases.contains { $0.contains(id) })
        }
    }

    @Test func cpuSharesAndPidsLimitReachTheCgroup() throws {
        let box = try Sandbox()
        let id = try box.mustRun(["run", "-d", "-c", "512", "--pids-limit", "20", Sandbox.image, "sleep", "1000"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        func read(_ paths: [String]) -> String? {
            paths.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }.first?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let pids = read(["/sys/fs/cgroup/kujira/\(id)/pids.max", "/sys/fs/cgroup/pids/kujira/\(id)/pids.max"])
        #expect(pids == "20")
        if FileManager.default.fileExists(atPath: "/sys/fs/cgroup/kujira/\(id)/cgroup.procs") {
            // cgroup v2: shares 512 → weight 1 + (512 - 2) * 9999 / 262142 = 20 (runc's conversion).
            #expect(read(["/sys/fs/cgroup/kujira/\(id)/cpu.weight"]) == "20")
        } else {
            #expect(read(["/sys/fs/cgroup/cpu,cpuacct/kujira/\(id)/cpu.shares", "/sys/fs/cgroup/cpu/kujira/\(id)/cpu.shares"]) == "512")
        }
        try box.mustRun(["rm", "-f", id])
    }
}
