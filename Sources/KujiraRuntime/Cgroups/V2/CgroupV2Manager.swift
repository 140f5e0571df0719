// The cgroup v2 manager: one directory in the unified hierarchy.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
public import KujiraOCI

/// A container's cgroup on a pure cgroup v2 host (Documentation/admin-guide/cgroup-v2.rst).
public struct CgroupV2Manager: CgroupManager {
    /// The cgroup path as the spec means it (see ``CgroupManager/path``).
    public let path: String
    /// The cgroup's directory, e.g. `/sys/fs/cgroup/kujira/ID`.
    public let directory: String
    /// Where the unified hierarchy is mounted; controllers are enabled from here down.
    public let mountPoint: String

    /// Creates a manager for `directory` under the hierarchy mounted at `mountPoint` (the
    /// factory computes both; tests point them at a temporary directory).
    public init(path: String, directory: String, mountPoint: String) {
        self.path = path
        self.directory = directory
        self.mountPoint = mountPoint
    }

    /// The directory under the key `""`.
    public var directories: [String: String] { ["": directory] }

    /// Creates the directory and its missing parents, enabling every available controller
    /// in `cgroup.subtree_control` of each ancestor first (a child sees only the controllers
    /// its parent enables), as runc's CreateCgroupPath does.
    public func create() throws {
        guard directory == mountPoint || directory.hasPrefix(mountPoint + "/") else {
            throw CgroupError(.invalidPath, "cgroup directory \(directory) is not under the cgroup2 mount \(mountPoint)")
        }
        var current = mountPoint
        for component in directory.dropFirst(mountPoint.count).split(separator: "/") {
            try enableControllers(in: current)
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                let code = errno
                throw CgroupError(.directory, "cannot create cgroup directory \(current)", cause: CgroupErrno(code))
            }
        }
        guard CgroupFS.isDirectory(directory) else {
            throw CgroupError(.directory, "\(directory) exists and is not a cgroup directory")
        }
    }

    /// Enables the controllers `directory/cgroup.controllers` lists for its children; one at
    /// a time if all at once fails (a controller may be refused, e.g. cpu with real-time
    /// tasks in the parent), ignoring the refusals as runc does.
    private func enableControllers(in directory: String) throws {
        guard let available = try CgroupFS.readIfPresent(directory + "/cgroup.controllers") else { return }
        let controllers = available.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { "+" + $0 }
        guard !controllers.isEmpty else { return }
        do {
            try CgroupFS.write(directory, "cgroup.subtree_control", controllers.joined(separator: " "))
        } catch {
            for controller in controllers { try? CgroupFS.write(directory, "cgroup.subtree_control", controller) }
        }
    }

    /// The controllers enabled for this cgroup (`cgroup.controllers`).
    func availableControllers() throws -> Set<String> {
        let text = try CgroupFS.readIfPresent(directory + "/cgroup.controllers") ?? ""
        return Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }

    /// Checks that `controller` is enabled here, else says which limit needed it.
    private func require(_ controller: String, in available: Set<String>, for what: String) throws {
        guard available.contains(controller) else {
            throw CgroupError(
                .missingController,
                "cannot set \(what) for cgroup \(directory): the \(controller) controller is not enabled (not in cgroup.controllers; enable it in the parent's cgroup.subtree_control)")
        }
    }

    /// Writes `resources`, converting the v1-shaped spec values (shares → weight, memory+swap
    /// → swap alone, blkio weight → io weight), then the `unified` map as is, last, so that
    /// it wins. Devices become an eBPF filter.
    public func apply(_ resources: LinuxResources) throws {
        let available = try availableControllers()
        if let memory = resources.memory {
            try require("memory", in: available, for: "memory limits")
            try CgroupV2Memory.apply(directory, memory)
        }
        if let cpu = resources.cpu {
            if CgroupV2CPU.setsCPU(cpu) || cpu.realtimePeriod != nil || cpu.realtimeRuntime != nil {
                try require("cpu", in: available, for: "CPU limits")
                try CgroupV2CPU.apply(directory, cpu)
            }
            if cpu.cpus != nil || cpu.mems != nil {
                try require("cpuset", in: available, for: "cpus/mems")
                try CgroupV2CPU.applyCPUSet(directory, cpu)
            }
        }
        if let pids = resources.pids {
            try require("pids", in: available, for: "the pids limit")
            try CgroupPidsController.apply(directory, pids)
        }
        if let io = resources.blockIO {
            try require("io", in: available, for: "block I/O limits")
            try CgroupV2IO.apply(directory, io)
        }
        if let limits = resources.hugepageLimits, !limits.isEmpty {
            try require("hugetlb", in: available, for: "huge page limits")
            try CgroupHugeTLB.apply(directory, limits, suffix: ".max")
        }
        if let network = resources.network, network.classID != nil || !(network.priorities ?? []).isEmpty {
            throw CgroupError(
                .invalidResources,
                "linux.resources.network (net_cls/net_prio) is cgroup v1 only; cgroup v2 has no such controllers")
        }
        if let rdma = resources.rdma, !rdma.isEmpty {
            try require("rdma", in: available, for: "RDMA limits")
            try CgroupRDMA.apply(directory, rdma)
        }
        if let devices = resources.devices {
            try CgroupV2Devices.apply(directory, devices)
        }
        for (file, value) in (resources.unified ?? [:]).sorted(by: { $0.key < $1.key }) {
            try writeUnified(file, value, available: available)
        }
    }

    /// Writes one `unified` entry: the key must be a plain file name of an enabled
    /// controller (`memory.high`), or a core `cgroup.*` file.
    private func writeUnified(_ file: String, _ value: String, available: Set<String>) throws {
        let parts = file.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, !file.contains("/"), file != "..", file != "." else {
            throw CgroupError(.invalidResources, "linux.resources.unified key \"\(file)\" is not a cgroup file name such as memory.high")
        }
        let controller = String(parts[0])
        if controller != "cgroup" {
            try require(controller, in: available, for: "linux.resources.unified[\"\(file)\"]")
        }
        try CgroupFS.write(directory, file, value)
    }

    /// Writes `pid` to `cgroup.procs`.
    public func addProcess(_ pid: Int32) throws {
        try CgroupFS.write(directory, "cgroup.procs", String(pid))
    }

    /// Writes `cgroup.freeze` 1 and waits for `cgroup.events` to say `frozen 1`.
    public func freeze() throws { try CgroupV2Freezer.set(directory, frozen: true) }

    /// Writes `cgroup.freeze` 0 and waits for `cgroup.events` to say `frozen 0`.
    public func thaw() throws { try CgroupV2Freezer.set(directory, frozen: false) }

    /// From `cgroup.events`; `thawed` when the cgroup or the file is missing.
    public func freezerState() throws -> CgroupFreezerState {
        guard CgroupFS.exists(directory + "/cgroup.events") else { return .thawed }
        return try CgroupV2Freezer.isFrozen(directory) ? .frozen : .thawed
    }

    /// The processes of the cgroup and its children.
    public func pids() throws -> [Int32] { try CgroupProcesses.all(directory) }

    /// Signals every process. SIGKILL uses `cgroup.kill` where the kernel has it (≥ 5.14:
    /// atomic with forks), else freezes, signals and thaws; then waits until the cgroup is
    /// empty. Other signals are sent under a freeze, which is lifted unless it was paused.
    public func killAll(signal: Int32) throws {
        guard CgroupFS.isDirectory(directory) else { return }
        if signal == SIGKILL && CgroupFS.exists(directory + "/cgroup.kill") {
            try CgroupFS.write(directory, "cgroup.kill", "1")
            try CgroupProcesses.killUntilEmpty(directory)
            return
        }
        let canFreeze = CgroupFS.exists(directory + "/cgroup.freeze")
        let wasFrozen = (try? freezerState()) == .frozen
        if canFreeze && !wasFrozen { try? freeze() }
        do {
            try CgroupProcesses.signalEach(directory, signal)
        } catch {
            if canFreeze && !wasFrozen { try? thaw() }
            throw error
        }
        if signal == SIGKILL {
            // v2 delivers SIGKILL to frozen tasks, but thaw anyway so that nothing stays paused.
            if canFreeze { try thaw() }
            try CgroupProcesses.killUntilEmpty(directory)
        } else if canFreeze && !wasFrozen {
            try thaw()
        }
    }

    /// Kills what is left and removes the directory (and child cgroups).
    public func destroy() throws {
        guard CgroupFS.isDirectory(directory) else { return }
        // An empty cgroup (a stopped container's) needs no cgroup.kill and no freezing.
        if (try? pids().isEmpty) != true { try killAll(signal: SIGKILL) }
        try CgroupFS.removeCgroup(directory)
    }

    /// CPU (`cpu.stat`), memory, pids and `io.stat`, for the controllers that are enabled.
    public func stats() throws -> CgroupStats {
        let available = try availableControllers()
        var result = CgroupStats()
        result.cpu = try CgroupV2CPU.stats(directory)
        if available.contains("memory") { result.memory = try CgroupV2Memory.stats(directory) }
        if available.contains("pids") { result.pids = try CgroupPidsController.stats(directory) }
        if available.contains("io") { result.blockIO = try CgroupV2IO.stats(directory) }
        return result
    }

    /// The `oom_kill` counter of `memory.events`.
    public func oomKillCount() throws -> UInt64 {
        let events = try CgroupFS.readKeyed(directory, "memory.events")
        return events["oom_kill"] ?? 0
    }
}
