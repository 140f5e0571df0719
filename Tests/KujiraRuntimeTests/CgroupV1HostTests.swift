import Foundation
import KujiraOCI
import Testing
@testable import KujiraRuntime

/// What the privileged cgroup tests need from the host, and helpers to run processes in a
/// cgroup. Without root or without v1 controllers the tests skip, saying why; under
/// KUJIRA_REQUIRE_PRIVILEGED=1 they run and fail instead.
enum CgroupTestHost {
    static let requirePrivileged = ProcessInfo.processInfo.environment["KUJIRA_REQUIRE_PRIVILEGED"] == "1"
    static let layout: CgroupLayout? = {
        guard let system = try? CgroupSystem.current() else { return nil }
        return try? CgroupLayout.probe(mountinfo: system.mountinfo, procCgroups: system.procCgroups)
    }()
    /// Root on a v1 or hybrid host whose memory hierarchy can be written.
    static let v1Usable: Bool = getuid() == 0 && (layout?.mode == .legacy || layout?.mode == .hybrid)
        && FileManager.default.isWritableFile(atPath: (layout?.v1["memory"]?.mountPoint ?? "/nonexistent") + "/cgroup.procs")
    /// Root with a cgroup2 mount (the empty unified tree of a hybrid host will do).
    static let unifiedUsable: Bool = getuid() == 0 && layout?.unified != nil
        && FileManager.default.isWritableFile(atPath: (layout?.unified?.mountPoint ?? "/nonexistent") + "/cgroup.procs")
    static let runV1 = v1Usable || requirePrivileged
    static let runUnified = unifiedUsable || requirePrivileged

    /// A unique absolute cgroup path, one level deep so that destroy() leaves nothing.
    static func uniquePath() -> String { "/kujira-cgtest-" + UUID().uuidString.prefix(8).lowercased() }

    /// Starts `/bin/sh -c script` after making it wait until it sits in a cgroup whose path
    /// contains `marker`, so that nothing it does escapes the cgroup. The test adds it.
    static func spawnWaiting(for marker: String, _ script: String) throws -> (Foundation.Process, Pipe) {
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "while ! grep -q '\(marker)' /proc/$$/cgroup; do sleep 0.01; done; \(script)"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        return (process, output)
    }

    /// Starts `/bin/sleep 30`.
    static func spawnSleep() throws -> Foundation.Process {
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sleep")
        process.arguments = ["30"]
        try process.run()
        return process
    }

    /// Whether any hierarchy still has a directory for `path`.
    static func leftovers(_ manager: any CgroupManager) -> [String] {
        manager.directories.values.filter { FileManager.default.fileExists(atPath: $0) }
    }

    static func read(_ directory: String?, _ file: String) throws -> String {
        let directory = try #require(directory)
        return try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// The v1 (hybrid) manager on this host's real cgroups.
@Suite(.serialized, .enabled(if: CgroupTestHost.runV1, "needs root on a cgroup v1 or hybrid host"))
struct CgroupV1HostTests {
    func makeManager() throws -> any CgroupManager {
        try #require(CgroupTestHost.v1Usable, "needs root on a cgroup v1 or hybrid host")
        let path = CgroupTestHost.uniquePath()
        return try CgroupManagerFactory.make(cgroupsPath: path, containerID: "unused")
    }

    @Test func appliesLimitsAndReadsThemBack() throws {
        let manager = try makeManager()
        defer { try? manager.destroy() }
        try manager.create()
        try manager.apply(LinuxResources(
            memory: LinuxMemory(limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20),
            cpu: LinuxCPU(shares: 512, quota: 50_000, period: 100_000, cpus: "0", mems: "0"),
            pids: LinuxPids(limit: 16),
            blockIO: LinuxBlockIO(weight: 300, throttleReadBpsDevice: [LinuxThrottleDevice(major: 254, minor: 0, rate: 1_048_576)])))
        let dirs = manager.directories
        #expect(try CgroupTestHost.read(dirs["memory"], "memory.limit_in_bytes") == "67108864")
        #expect(try CgroupTestHost.read(dirs["memory"], "memory.memsw.limit_in_bytes") == "134217728")
        #expect(try CgroupTestHost.read(dirs["memory"], "memory.soft_limit_in_bytes") == "33554432")
        #expect(try CgroupTestHost.read(dirs["cpu"], "cpu.shares") == "512")
        #expect(try CgroupTestHost.read(dirs["cpu"], "cpu.cfs_quota_us") == "50000")
        #expect(try CgroupTestHost.read(dirs["cpu"], "cpu.cfs_period_us") == "100000")
        #expect(try CgroupTestHost.read(dirs["cpuset"], "cpuset.cpus") == "0")
        #expect(try CgroupTestHost.read(dirs["pids"], "pids.max") == "16")
        #expect(try CgroupTestHost.read(dirs["blkio"], "blkio.throttle.read_bps_device") == "254:0 1048576")
        if FileManager.default.fileExists(atPath: (dirs["blkio"] ?? "") + "/blkio.bfq.weight") {
            #expect(try CgroupTestHost.read(dirs["blkio"], "blkio.bfq.weight").hasSuffix("300"))
        }
        // Lowering both: memory must go first or the kernel refuses memsw < memory.
        try manager.apply(LinuxResources(memory: LinuxMemory(limit: 16 << 20, swap: 16 << 20)))
        #expect(try CgroupTestHost.read(dirs["memory"], "memory.memsw.limit_in_bytes") == "16777216")
        // Raising both: memsw must go first.
        try manager.apply(LinuxResources(memory: LinuxMemory(limit: 256 << 20, swap: 512 << 20)))
        #expect(try CgroupTestHost.read(dirs["memory"], "memory.limit_in_bytes") == "268435456")
        // Unlimited memory with swap unset lifts memsw too.
        try manager.apply(LinuxResources(memory: LinuxMemory(limit: -1), pids: LinuxPids(limit: -1)))
        #expect(try CgroupTestHost.read(dirs["pids"], "pids.max") == "max")
        #expect(UInt64(try CgroupTestHost.read(dirs["memory"], "memory.memsw.limit_in_bytes")) ?? 0 > 1 << 60)
    }

    @Test func errorsNameFileAndValue() throws {
        let manager = try makeManager()
        defer { try? manager.destroy() }
        try manager.create()
        let error = #expect(throws: CgroupError.self) {
            try manager.apply(LinuxResources(cpu: LinuxCPU(cpus: "4096")))
        }
        #expect(error?.description.hasPrefix("cannot set cpuset.cpus to 4096 in \(manager.directories["cpuset"] ?? "?")") == true)
        #expect(error?.cause is CgroupErrno, "\(String(describing: error))")
        let unified = #expect(throws: CgroupError.self) {
            try manager.apply(LinuxResources(unified: ["memory.high": "1000"]))
        }
        #expect(unified?.code == .invalidResources)
    }

    @Test func deviceListDeniesThenAllows() throws {
        let manager = try makeManager()
        defer { try? manager.destroy() }
        try manager.create()
        try manager.apply(LinuxResources(devices: [
            LinuxDeviceCgroup(allow: false, access: "rwm"),
            LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 3, access: "rwm"),
            LinuxDeviceCgroup(allow: true, type: "c", major: 136, access: "rw"),
        ]))
        #expect(try CgroupTestHost.read(manager.directories["devices"], "devices.list") == "c 1:3 rwm\nc 136:* rw")
    }

    @Test func listsAddedProcessAndCleansUp() throws {
        let manager = try makeManager()
        try manager.create()
        let sleeper = try CgroupTestHost.spawnSleep()
        try manager.addProcess(sleeper.processIdentifier)
        #expect(try manager.pids() == [sleeper.processIdentifier])
        let own = try String(contentsOfFile: "/proc/\(sleeper.processIdentifier)/cgroup", encoding: .utf8)
        #expect(own.contains("pids:\(manager.path)"))
        if CgroupTestHost.layout?.mode == .hybrid { #expect(own.contains("0::\(manager.path)")) }
        let stats = try manager.stats()
        #expect(stats.pids?.current == 1)
        // v1 does not move a task's earlier charges with it, so usage may still be 0.
        #expect((stats.memory?.limit ?? 0) > 0)
        #expect(stats.cpu != nil)
        try manager.destroy()
        sleeper.waitUntilExit()
        #expect(sleeper.terminationReason == .uncaughtSignal && sleeper.terminationStatus == SIGKILL)
        #expect(CgroupTestHost.leftovers(manager).isEmpty)
        try manager.destroy()  // a second destroy finds nothing and is fine
    }

    /// An existing but empty cpuset parent (made by someone else) is filled on the way down,
    /// or the container's cgroup could take no process (ENOSPC).
    @Test func emptyExistingCpusetParentIsFilled() throws {
        try #require(CgroupTestHost.v1Usable, "needs root on a cgroup v1 or hybrid host")
        let cpusetRoot = try #require(CgroupTestHost.layout?.v1["cpuset"]?.mountPoint)
        let parentPath = CgroupTestHost.uniquePath()
        let parentDirectory = cpusetRoot + parentPath
        #expect(mkdir(parentDirectory, 0o755) == 0)
        defer { rmdir(parentDirectory) }
        #expect(try CgroupTestHost.read(parentDirectory, "cpuset.cpus").isEmpty)
        let manager = try CgroupManagerFactory.make(cgroupsPath: parentPath + "/c", containerID: "unused")
        defer { try? manager.destroy() }
        try manager.create()
        let sleeper = try CgroupTestHost.spawnSleep()
        try manager.addProcess(sleeper.processIdentifier)
        #expect(try manager.pids() == [sleeper.processIdentifier])
        #expect(try !CgroupTestHost.read(parentDirectory, "cpuset.cpus").isEmpty)
        #expect(try !CgroupTestHost.read(parentDirectory, "cpuset.mems").isEmpty)
        try manager.destroy()
        sleeper.waitUntilExit()
    }

    @Test func freezeAndThaw() throws {
        let manager = try makeManager()
        defer { try? manager.destroy() }
        try manager.create()
        let sleeper = try CgroupTestHost.spawnSleep()
        defer { sleeper.waitUntilExit() }
        try manager.addProcess(sleeper.processIdentifier)
        #expect(try manager.freezerState() == .thawed)
        try manager.freeze()
        #expect(try manager.freezerState() == .frozen)
        #expect(try CgroupTestHost.read(manager.directories["freezer"], "freezer.state") == "FROZEN")
        try manager.thaw()
        #expect(try manager.freezerState() == .thawed)
        // Killing a paused container works: destroy thaws so SIGKILL is delivered.
        try manager.freeze()
        try manager.destroy()
        #expect(CgroupTestHost.leftovers(manager).isEmpty)
    }

    @Test func memoryLimitOOMKills() throws {
        let manager = try makeManager()
        defer { try? manager.destroy() }
        try manager.create()
        try manager.apply(LinuxResources(memory: LinuxMemory(limit: 32 << 20)))
        let marker = String(manager.path.dropFirst())
        // The shell keeps 64 MiB of command substitution output in its own memory.
        let (shell, _) = try CgroupTestHost.spawnWaiting(
            for: marker, "x=$(head -c 67108864 /dev/zero | tr '\\000' a); echo survived ${#x}")
        try manager.addProcess(shell.processIdentifier)
        shell.waitUntilExit()
        #expect(shell.terminationReason == .uncaughtSignal && shell.terminationStatus == SIGKILL)
        #expect(try manager.oomKillCount() >= 1)
        #expect(try manager.stats().memory?.oomKills ?? 0 >= 1)
    }

    @Test func pidsLimitStopsForkBomb() throws {
        let manager = try makeManager()
        defer { try? manager.destroy() }
        try manager.create()
        try manager.apply(LinuxResources(pids: LinuxPids(limit: 16)))
        let marker = String(manager.path.dropFirst())
        let (shell, output) = try CgroupTestHost.spawnWaiting(
            for: marker, "i=0; while [ $i -lt 64 ]; do sleep 30 & i=$((i+1)); done; echo started; sleep 30")
        defer { shell.waitUntilExit() }
        try manager.addProcess(shell.processIdentifier)
        let pidsDirectory = try #require(manager.directories["pids"])
        var failures: UInt64 = 0
        for _ in 0..<500 {
            let events = try CgroupTestHost.read(pidsDirectory, "pids.events")
            failures = UInt64(events.split(separator: " ").last ?? "0") ?? 0
            if try failures > 0 && manager.pids().count >= 15 { break }
            usleep(10_000)
        }
        #expect(failures > 0)
        #expect(try manager.pids().count <= 16)
        #expect(UInt64(try CgroupTestHost.read(pidsDirectory, "pids.current")) ?? 99 <= 16)
        try manager.destroy()
        _ = output
        #expect(CgroupTestHost.leftovers(manager).isEmpty)
    }

    @Test func killAllWithForksThenDestroyLeavesNothing() throws {
        let manager = try makeManager()
        try manager.create()
        let marker = String(manager.path.dropFirst())
        let (shell, _) = try CgroupTestHost.spawnWaiting(
            for: marker, "for i in 1 2 3 4 5 6 7 8; do sleep 30 & done; while :; do sleep 30 & sleep 0.05; done")
        try manager.addProcess(shell.processIdentifier)
        for _ in 0..<200 { if try manager.pids().count >= 9 { break }; usleep(10_000) }
        #expect(try manager.pids().count >= 9)
        try manager.killAll(signal: SIGKILL)
        #expect(try manager.pids().isEmpty)
        shell.waitUntilExit()
        try manager.destroy()
        #expect(CgroupTestHost.leftovers(manager).isEmpty)
    }

    @Test func twoHundredCyclesLeaveNothingBehind() throws {
        try #require(CgroupTestHost.v1Usable, "needs root on a cgroup v1 or hybrid host")
        let prefix = CgroupTestHost.uniquePath()
        var left: [String] = []
        for i in 0..<200 {
            let manager = try CgroupManagerFactory.make(cgroupsPath: "\(prefix)-\(i)", containerID: "unused")
            try manager.create()
            try manager.apply(LinuxResources(memory: LinuxMemory(limit: 64 << 20), pids: LinuxPids(limit: 32)))
            let sleeper = try CgroupTestHost.spawnSleep()
            try manager.addProcess(sleeper.processIdentifier)
            try manager.destroy()
            sleeper.waitUntilExit()
            left += CgroupTestHost.leftovers(manager)
        }
        #expect(left.isEmpty)
    }
}
