// The cgroup v1 manager, which also serves the hybrid layout (v1 controllers plus a cgroup2
// tree that processes join, as runc and systemd do).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
public import KujiraOCI

/// A container's cgroups on a cgroup v1 (or hybrid) host: one directory per controller
/// hierarchy, plus, on a hybrid host, a directory in the cgroup2 tree that holds no limits
/// but keeps tools that look at the v2 tree (systemd, `cgroup.kill`) seeing the container.
public struct CgroupV1Manager: CgroupManager {
    /// The cgroup path as the spec means it (see ``CgroupManager/path``).
    public let path: String
    /// The directory of each v1 hierarchy, keyed by controller (`memory`, `cpu`, …, and
    /// named hierarchies such as `name=systemd`, which are joined but hold no limits).
    public let controllerDirectories: [String: String]
    /// The directory in the cgroup2 tree on a hybrid host; nil on a v1-only host.
    public let unifiedDirectory: String?

    /// Creates a manager over the given directories (the factory computes them; tests
    /// point them at temporary directories).
    public init(path: String, directories: [String: String], unifiedDirectory: String?) {
        self.path = path
        self.controllerDirectories = directories
        self.unifiedDirectory = unifiedDirectory
    }

    /// The directories by controller, with the cgroup2 directory under `""`.
    public var directories: [String: String] {
        var result = controllerDirectories
        if let unifiedDirectory { result[""] = unifiedDirectory }
        return result
    }

    /// Every distinct directory (co-mounted controllers share one), in a stable order.
    var distinctDirectories: [String] {
        var seen = Set<String>()
        var result: [String] = []
        for directory in controllerDirectories.sorted(by: { $0.key < $1.key }).map(\.value) + [unifiedDirectory].compactMap({ $0 })
        where seen.insert(directory).inserted {
            result.append(directory)
        }
        return result
    }

    /// The directory of `controller`, or an error saying which limit needed it.
    func require(_ controller: String, for what: String) throws -> String {
        guard let directory = controllerDirectories[controller] else {
            throw CgroupError(
                .missingController,
                "cannot set \(what) for cgroup \(path): the \(controller) controller is not mounted on this host")
        }
        return directory
    }

    /// A directory to list processes from: any hierarchy has every process, so prefer the
    /// ones every v1 host has.
    var listingDirectory: String? {
        for controller in ["pids", "freezer", "memory", "cpu", "devices", "cpuacct"] {
            if let directory = controllerDirectories[controller] { return directory }
        }
        return controllerDirectories.values.sorted().first ?? unifiedDirectory
    }

    /// Creates the directory in every hierarchy; new cpuset directories get their parent's
    /// CPUs and memory nodes.
    /// A failure in one hierarchy removes the directories made in the others before it is
    /// thrown (a rootless caller may own a subtree in some hierarchies only); directories that
    /// existed before are left alone.
    public func create() throws {
        let cpuset = controllerDirectories["cpuset"]
        var made: [String] = []
        do {
            for directory in distinctDirectories {
                if directory == unifiedDirectory {
                    // The v2 tree holds no limits on a hybrid host; where it is read-only (a
                    // container's view of the host), the container simply stays out of it.
                    made += (try? CgroupFS.makeDirectories(directory)) ?? []
                } else if directory == cpuset {
                    made += try CgroupFS.makeDirectories(directory) { try CgroupV1CPUSet.fillFromParent($0) }
                    // An existing but empty cpuset (left by someone else) needs the same fix.
                    try CgroupV1CPUSet.fillFromParent(directory)
                } else {
                    made += try CgroupFS.makeDirectories(directory)
                }
            }
        } catch {
            CgroupFS.removeMade(made)
            throw error
        }
    }

    /// Writes `resources` to the v1 controllers.
    /// - Throws: ``CgroupError`` `.invalidResources` for `unified` (cgroup v2 only), and
    ///   `.missingController` for a limit whose controller is not mounted.
    public func apply(_ resources: LinuxResources) throws {
        if let unified = resources.unified, !unified.isEmpty {
            throw CgroupError(
                .invalidResources,
                "linux.resources.unified (\(unified.keys.sorted().joined(separator: ", "))) needs cgroup v2, but this host uses cgroup v1 controllers; express the limits with the v1 fields")
        }
        if let memory = resources.memory {
            try CgroupV1Memory.apply(try require("memory", for: "memory limits"), memory)
        }
        if let cpu = resources.cpu {
            let wantsCPU = cpu.shares != nil || cpu.quota != nil || cpu.period != nil || cpu.burst != nil
                || cpu.realtimeRuntime != nil || cpu.realtimePeriod != nil || cpu.idle != nil
            if wantsCPU { try CgroupV1CPU.apply(try require("cpu", for: "CPU limits"), cpu) }
            if cpu.cpus != nil || cpu.mems != nil {
                try CgroupV1CPUSet.apply(try require("cpuset", for: "cpus/mems"), cpu)
            }
        }
        if let pids = resources.pids {
            try CgroupPidsController.apply(try require("pids", for: "the pids limit"), pids)
        }
        if let io = resources.blockIO {
            try CgroupV1BlkIO.apply(try require("blkio", for: "block I/O limits"), io)
        }
        if let limits = resources.hugepageLimits, !limits.isEmpty {
            try CgroupHugeTLB.apply(try require("hugetlb", for: "huge page limits"), limits, suffix: ".limit_in_bytes")
        }
        if let devices = resources.devices {
            try CgroupV1Devices.apply(try require("devices", for: "the device list"), devices)
        }
        if let network = resources.network {
            if let classID = network.classID {
                try CgroupFS.write(try require("net_cls", for: "the network class id"), "net_cls.classid", String(classID))
            }
            for priority in network.priorities ?? [] {
                try CgroupFS.write(
                    try require("net_prio", for: "network priorities"), "net_prio.ifpriomap", "\(priority.name) \(priority.priority)")
            }
        }
        if let rdma = resources.rdma, !rdma.isEmpty {
            try CgroupRDMA.apply(try require("rdma", for: "RDMA limits"), rdma)
        }
    }

    /// Writes `pid` to `cgroup.procs` in every hierarchy (and the cgroup2 tree on hybrid).
    public func addProcess(_ pid: Int32) throws {
        for directory in distinctDirectories {
            if directory == unifiedDirectory {
                if CgroupFS.isDirectory(directory) { try? CgroupFS.write(directory, "cgroup.procs", String(pid)) }
                continue
            }
            try CgroupFS.write(directory, "cgroup.procs", String(pid))
        }
    }

    /// Freezes through the freezer hierarchy.
    public func freeze() throws {
        try CgroupV1Freezer.freeze(try require("freezer", for: "the freezer state (pause)"))
    }

    /// Thaws through the freezer hierarchy.
    public func thaw() throws {
        try CgroupV1Freezer.thaw(try require("freezer", for: "the freezer state (resume)"))
    }

    /// `frozen` only when `freezer.state` reads `FROZEN` (`FREEZING` is not paused yet);
    /// `thawed` when the host has no freezer hierarchy.
    public func freezerState() throws -> CgroupFreezerState {
        guard let directory = controllerDirectories["freezer"], CgroupFS.isDirectory(directory) else { return .thawed }
        return try CgroupV1Freezer.state(directory) == "FROZEN" ? .frozen : .thawed
    }

    /// The processes of the cgroup and its children.
    public func pids() throws -> [Int32] {
        guard let directory = listingDirectory else { return [] }
        return try CgroupProcesses.all(directory)
    }

    /// Signals every process. The cgroup is frozen while the list is read and signalled (so
    /// that nothing forks past us, as runc's signalAllProcesses does) and thawed afterwards
    /// unless it was paused before; SIGKILL then repeats until the cgroup is empty.
    public func killAll(signal: Int32) throws {
        guard let directory = listingDirectory, CgroupFS.isDirectory(directory) else { return }
        if signal == SIGKILL, let unifiedDirectory, CgroupFS.exists(unifiedDirectory + "/cgroup.kill") {
            // Kernel ≥ 5.14: one write kills the whole v2 subtree, atomically with forks.
            try? CgroupFS.write(unifiedDirectory, "cgroup.kill", "1")
        }
        let freezer = controllerDirectories["freezer"].flatMap { CgroupFS.isDirectory($0) ? $0 : nil }
        let wasFrozen = (try? freezerState()) == .frozen
        if let freezer, !wasFrozen { try? CgroupV1Freezer.freeze(freezer) }
        do {
            try CgroupProcesses.signalEach(directory, signal)
        } catch {
            if let freezer, !wasFrozen { try? CgroupV1Freezer.thaw(freezer) }
            throw error
        }
        if signal == SIGKILL {
            // A frozen task cannot die: thaw even if the container was paused before.
            if let freezer { try CgroupV1Freezer.thaw(freezer) }
            try CgroupProcesses.killUntilEmpty(directory)
        } else if let freezer, !wasFrozen {
            try CgroupV1Freezer.thaw(freezer)
        }
    }

    /// Kills what is left and removes the directory from every hierarchy.
    public func destroy() throws {
        // A stopped container's cgroup is empty (the usual case): no freezing and signalling.
        // Nothing can join an empty cgroup but through the runtime, which holds the
        // container's lock here.
        if (try? pids().isEmpty) != true, distinctDirectories.contains(where: CgroupFS.isDirectory) {
            try killAll(signal: SIGKILL)
        }
        var firstError: (any Error)?
        for directory in distinctDirectories {
            do { try CgroupFS.removeCgroup(directory) } catch { firstError = firstError ?? error }
        }
        if let firstError { throw firstError }
    }

    /// CPU (cpuacct), memory, pids and blkio use, for the controllers that are mounted.
    public func stats() throws -> CgroupStats {
        var result = CgroupStats()
        if let cpuacct = controllerDirectories["cpuacct"] {
            result.cpu = try CgroupV1CPU.stats(cpuacct: cpuacct, cpu: controllerDirectories["cpu"])
        }
        if let memory = controllerDirectories["memory"] { result.memory = try CgroupV1Memory.stats(memory) }
        if let pids = controllerDirectories["pids"] { result.pids = try CgroupPidsController.stats(pids) }
        if let blkio = controllerDirectories["blkio"] { result.blockIO = try CgroupV1BlkIO.stats(blkio) }
        return result
    }

    /// The `oom_kill` counter of `memory.oom_control`.
    public func oomKillCount() throws -> UInt64 {
        try CgroupV1Memory.oomKillCount(try require("memory", for: "OOM accounting"))
    }
}
