import Foundation
import KujiraOCI
import KujiraRuntime
import Testing

/// The cgroup and seccomp pieces through the whole runtime: what a container sees when its
/// spec asks for limits and filters.
@Suite("cgroup limits, seccomp and pause through kujira-runtime")
struct LimitsTests {
    @Test func seccompDenyingMkdirGivesEPERM() throws {
        let box = try Sandbox(script: "mkdir /tmp/x 2>&1; echo status=$?; ls /tmp")
        box.spec.linux?.seccomp = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ALLOW",
            syscalls: [LinuxSyscall(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO")])
        let result = try box.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Operation not permitted"), "\(result.stdout)")
        #expect(result.stdout.contains("status=1"), "\(result.stdout)")
    }

    @Test func dockerDefaultProfileRuns() throws {
        let box = try Sandbox(script: "echo ok; unshare -U true 2>&1 || echo denied")
        let capabilities = Set(box.spec.process?.capabilities?.bounding ?? [])
        box.spec.linux?.seccomp = DefaultSeccompProfile.profile(capabilities: capabilities)
        let result = try box.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("ok\n"), "\(result.stdout)")
        #expect(result.stdout.contains("denied"), "\(result.stdout)")
    }

    @Test func memoryLimitOOMKills() throws {
        // 64 MiB into a shell variable under a 32 MiB limit (no swap): the kernel kills it.
        let box = try Sandbox(script: "x=$(head -c 67108864 /dev/zero | tr '\\000' a); echo survived ${#x}")
        let devices = box.spec.linux?.resources?.devices
        box.spec.linux?.resources = LinuxResources(devices: devices, memory: LinuxMemory(limit: 32 << 20, swap: 32 << 20))
        let result = try box.run()
        #expect(result.status != 0, "\(result.stdout)")
        #expect(!result.stdout.contains("survived"))
    }

    @Test func pidsLimitStopsAForkBomb() throws {
        // A subshell starts up to 40 sleeps and dies at the first failed fork; then only
        // builtins run (the sleeps' slots are still taken): count and kill what started.
        let box = try Sandbox(script: "( for i in $(seq 1 40); do sleep 5 & echo $! >> /dev/shm/p; done ) 2>/dev/null; n=0; while read p; do kill $p; n=$((n+1)); done < /dev/shm/p; echo $n")
        let devices = box.spec.linux?.resources?.devices
        box.spec.linux?.resources = LinuxResources(devices: devices, pids: LinuxPids(limit: 16))
        let result = try box.run()
        let count = Int(result.stdout.split(separator: "\n").last ?? "") ?? 0
        #expect(count > 0 && count <= 16, "\(result.stdout) \(result.stderr)")
    }

    @Test func pauseAndResume() throws {
        let box = try Sandbox(script: "sleep 30")
        #expect(try box.runtime(["run", "--detach", "--bundle", box.bundle, "c1"]).status == 0)
        defer { _ = try? box.runtime(["delete", "--force", "c1"]) }
        #expect(try box.runtime(["pause", "c1"]).status == 0)
        #expect(try box.runtime(["state", "c1"]).stdout.contains("\"paused\""))
        #expect(try box.runtime(["resume", "c1"]).status == 0)
        #expect(try box.runtime(["state", "c1"]).stdout.contains("\"running\""))
        #expect(try box.runtime(["delete", "--force", "c1"]).status == 0)
    }
}
