// The process settings of runtime-spec 1.2 that kujira-init applies with one system call each:
// `linux.personality` (personality(2)), `process.ioPriority` (ioprio_set(2)),
// `process.scheduler` (sched_setattr(2)) and `process.execCPUAffinity` (sched_setaffinity(2):
// `initial` by the runtime on the spawned process before it joins the container's cgroup,
// `final` by kujira-init after it joined; exec only — the spec says it does not apply to the
// container's init process).

internal import CKujiraRuntime
import KujiraOCI

/// The values kujira-init passes to sched_setattr(2).
struct SchedulerAttributes: Sendable, Equatable {
    var policy: UInt32
    var flags: UInt64
    var nice: Int32
    var priority: UInt32
    var runtime: UInt64
    var deadline: UInt64
    var period: UInt64
}

extension InitPlan {
    /// `PER_LINUX` / `PER_LINUX32` of `linux.personality.domain`; unknown flags are warnings
    /// (none are defined; runc ignores them with a warning too).
    static func personality(_ personality: LinuxPersonality?, warnings: inout [String]) throws -> UInt64? {
        guard let personality else { return nil }
        let persona: UInt64
        switch personality.domain {
        case "LINUX": persona = 0x0000
        case "LINUX32": persona = 0x0008
        default:
            throw RuntimeError(.invalidConfig, "linux.personality.domain \"\(personality.domain)\" is not LINUX or LINUX32")
        }
        if let flags = personality.flags, !flags.isEmpty {
            warnings.append("linux.personality.flags \(flags) ignored: no personality flags are defined")
        }
        return persona
    }

    /// The ioprio_set(2) value of `process.ioPriority`: class << 13 | priority.
    static func ioPriority(_ priority: LinuxIOPriority?) throws -> UInt64? {
        guard let priority else { return nil }
        let classes = ["IOPRIO_CLASS_RT": UInt64(1), "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3]
        guard let ioClass = classes[priority.ioClass] else {
            throw RuntimeError(.invalidConfig, "process.ioPriority.class \"\(priority.ioClass)\" is not one of IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE")
        }
        guard (0...7).contains(priority.priority) else {
            throw RuntimeError(.invalidConfig, "process.ioPriority.priority \(priority.priority) is not between 0 and 7")
        }
        return ioClass << 13 | UInt64(priority.priority)
    }

    /// `process.scheduler` as sched_setattr(2) attributes, checked as runc checks them.
    static func scheduler(_ scheduler: Scheduler?) throws -> SchedulerAttributes? {
        guard let scheduler else { return nil }
        let policies: [String: UInt32] = ["SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3,
                                          "SCHED_ISO": 4, "SCHED_IDLE": 5, "SCHED_DEADLINE": 6]
        let flagBits: [String: UInt64] = ["SCHED_FLAG_RESET_ON_FORK": 0x01, "SCHED_FLAG_RECLAIM": 0x02,
                                          "SCHED_FLAG_DL_OVERRUN": 0x04, "SCHED_FLAG_KEEP_POLICY": 0x08,
                                          "SCHED_FLAG_KEEP_PARAMS": 0x10, "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
                                          "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40]
        guard let policy = policies[scheduler.policy] else {
            throw RuntimeError(.invalidConfig, "process.scheduler.policy \"\(scheduler.policy)\" is not a SCHED_* policy")
        }
        var flags: UInt64 = 0
        for flag in scheduler.flags ?? [] {
            guard let bit = flagBits[flag] else {
                throw RuntimeError(.invalidConfig, "process.scheduler.flags: unknown flag \"\(flag)\"")
            }
            flags |= bit
        }
        let nice = scheduler.nice ?? 0, priority = scheduler.priority ?? 0
        guard (-20...19).contains(nice) else {
            throw RuntimeError(.invalidConfig, "process.scheduler.nice \(nice) is not between -20 and 19")
        }
        let realtime = policy == 1 || policy == 2
        if realtime && !(1...99).contains(priority) {
            throw RuntimeError(.invalidConfig, "process.scheduler.priority must be between 1 and 99 for \(scheduler.policy)")
        }
        if !realtime && priority != 0 {
            throw RuntimeError(.invalidConfig, "process.scheduler.priority must be 0 (or absent) for \(scheduler.policy)")
        }
        if policy == 6 && (scheduler.runtime ?? 0) == 0 {
            throw RuntimeError(.invalidConfig, "process.scheduler.runtime is required for SCHED_DEADLINE")
        }
        return SchedulerAttributes(policy: policy, flags: flags, nice: nice, priority: UInt32(priority),
                                   runtime: scheduler.runtime ?? 0, deadline: scheduler.deadline ?? 0, period: scheduler.period ?? 0)
    }

    /// Checks a cpu list of `process.execCPUAffinity` ("0-3,7") and returns it unchanged.
    static func cpuList(_ text: String?, field: String) throws -> String? {
        guard let text else { return nil }
        var cpus = 0
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let first = Int(bounds[0]), let last = Int(bounds[bounds.count - 1]),
                  first >= 0, last >= first, last < 1024 else {
                throw RuntimeError(.invalidConfig, "process.execCPUAffinity.\(field) \"\(text)\" is not a cpu list such as 0-3,7")
            }
            cpus += last - first + 1
        }
        guard cpus > 0 else {
            throw RuntimeError(.invalidConfig, "process.execCPUAffinity.\(field) is empty")
        }
        return text
    }

    /// The scheduling records of the plan.
    func encodeScheduling(_ w: inout PlanWriter) {
        if let personality { w.u64(KJ_T_PERSONALITY, personality) }
        if let ioPriority { w.u64(KJ_T_IOPRIO, ioPriority) }
        if let s = scheduler {
            let values: [UInt64] = [UInt64(s.policy), s.flags, UInt64(bitPattern: Int64(s.nice)), UInt64(s.priority),
                                    s.runtime, s.deadline, s.period]
            w.raw(KJ_T_SCHED, values.flatMap(PlanWriter.littleEndian))
        }
        if let cpuAffinity { w.string(KJ_T_CPU_AFFINITY, cpuAffinity) }
        if let sessionKeyring { w.string(KJ_T_SESSION_KEYRING, sessionKeyring) }
        if awaitsJoin { w.u64(KJ_T_AWAIT_JOIN, 1) }
    }
}
