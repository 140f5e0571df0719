import Foundation
import Glibc
import KujiraOCI
import Testing
@testable import KujiraRuntime

/// `linux.personality`, `process.ioPriority`, `process.scheduler` and
/// `process.execCPUAffinity`, as the container's process sees them.
@Suite("Personality, I/O priority, scheduler and exec cpu affinity", .enabled(if: Privilege.shouldRun, Privilege.reason), .serialized)
struct SchedulingTests {
    @Test func personalityLinux32ShowsI686() throws {
        let box = try Sandbox(script: "uname -m")
        box.spec.linux?.personality = LinuxPersonality(domain: "LINUX32")
        let result = try box.run("pers1")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "i686\n")
        box.spec.linux?.personality = LinuxPersonality(domain: "LINUX")
        #expect(try box.run("pers2").stdout == "x86_64\n")
    }

    @Test func ioPriorityAndBatchSchedulerWithNice() throws {
        // ionice -p of the shell; fields 19 (nice) and 41 (policy) of /proc/self/stat.
        let box = try Sandbox(script: "ionice -p $$; awk '{ print $19, $41 }' /proc/$$/stat")
        box.spec.process?.ioPriority = LinuxIOPriority(ioClass: "IOPRIO_CLASS_BE", priority: 6)
        box.spec.process?.scheduler = Scheduler(policy: "SCHED_BATCH", nice: 7)
        let result = try box.run("sched1")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "best-effort: prio 6\n7 3\n")
    }

    @Test func idleSchedulerAndIdleIOClass() throws {
        let box = try Sandbox(script: "ionice -p $$; awk '{ print $41 }' /proc/$$/stat")
        box.spec.process?.ioPriority = LinuxIOPriority(ioClass: "IOPRIO_CLASS_IDLE", priority: 0)
        box.spec.process?.scheduler = Scheduler(policy: "SCHED_IDLE")
        let result = try box.run("sched2")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "idle\n5\n")  // busybox shows no priority for the idle class
    }

    /// A real-time policy the kernel refuses (the container's v1 cpu cgroup has no real-time
    /// budget) fails `create`, naming the system call.
    @Test func aRefusedPolicyFailsCreateNamingIt() throws {
        let box = try Sandbox(script: "true")
        box.spec.process?.scheduler = Scheduler(policy: "SCHED_FIFO", priority: 10)
        let result = try box.run("sched3")
        #expect(result.status != 0)
        #expect(result.stderr.contains("sched_setattr(policy 1"), "\(result.stderr)")
    }

    @Test func execCPUAffinityFinalIsTheExecdProcesssAffinity() throws {
        let box = try Sandbox(script: "sleep 60")
        #expect(try box.runtime(["run", "--detach", "--bundle", box.bundle, "aff1"]).status == 0)
        let lastCPU = max(0, sysconf(Int32(_SC_NPROCESSORS_ONLN)) - 1)
        let process = KujiraOCI.Process(user: User(uid: 0, gid: 0), args: ["sh", "-c", "taskset -p $$"], env: ["PATH=/bin"], cwd: "/",
                                        execCPUAffinity: ExecCPUAffinity(initial: "0", final: "\(lastCPU)"))
        try JSONEncoder().encode(process).write(to: URL(fileURLWithPath: box.directory + "/process.json"))
        let result = try box.runtime(["exec", "--process", box.directory + "/process.json", "aff1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasSuffix("current affinity mask: \(String(1 << lastCPU, radix: 16))\n"), "\(result.stdout)")
        _ = try box.runtime(["delete", "--force", "aff1"])
    }
}

/// The checks of the four settings' values; no root needed.
@Suite("Scheduling settings are checked")
struct SchedulingValidationTests {
    @Test func badValuesAreRefusedNamingTheField() {
        var warnings: [String] = []
        #expect(throws: RuntimeError.self) { try InitPlan.personality(LinuxPersonality(domain: "LINUX64"), warnings: &warnings) }
        #expect(throws: RuntimeError.self) { try InitPlan.ioPriority(LinuxIOPriority(ioClass: "IOPRIO_CLASS_NONE", priority: 0)) }
        #expect(throws: RuntimeError.self) { try InitPlan.ioPriority(LinuxIOPriority(ioClass: "IOPRIO_CLASS_BE", priority: 8)) }
        #expect(throws: RuntimeError.self) { try InitPlan.scheduler(Scheduler(policy: "SCHED_SOMETIMES")) }
        #expect(throws: RuntimeError.self) { try InitPlan.scheduler(Scheduler(policy: "SCHED_FIFO")) }
        #expect(throws: RuntimeError.self) { try InitPlan.scheduler(Scheduler(policy: "SCHED_OTHER", priority: 5)) }
        #expect(throws: RuntimeError.self) { try InitPlan.scheduler(Scheduler(policy: "SCHED_OTHER", nice: 20)) }
        #expect(throws: RuntimeError.self) { try InitPlan.scheduler(Scheduler(policy: "SCHED_OTHER", flags: ["SCHED_FLAG_FAST"])) }
        #expect(throws: RuntimeError.self) { try InitPlan.scheduler(Scheduler(policy: "SCHED_DEADLINE")) }
        for list in ["", "a", "1-", "3-1", "0,,1", "-1", "4096"] {
            #expect(throws: RuntimeError.self, "\(list)") { try InitPlan.cpuList(list, field: "final") }
        }
    }

    @Test func goodValuesBecomeWhatTheSystemCallsTake() throws {
        var warnings: [String] = []
        #expect(try InitPlan.personality(LinuxPersonality(domain: "LINUX32", flags: ["X"]), warnings: &warnings) == 8)
        #expect(warnings.count == 1)
        #expect(try InitPlan.ioPriority(LinuxIOPriority(ioClass: "IOPRIO_CLASS_RT", priority: 3)) == 1 << 13 | 3)
        let attributes = try InitPlan.scheduler(Scheduler(policy: "SCHED_RR", priority: 20, flags: ["SCHED_FLAG_RESET_ON_FORK"]))
        #expect(attributes == SchedulerAttributes(policy: 2, flags: 1, nice: 0, priority: 20, runtime: 0, deadline: 0, period: 0))
        #expect(try InitPlan.cpuList("0-3,7", field: "initial") == "0-3,7")
    }
}
