// The `docker run` flags that tune the kernel's view of a container: /dev/shm's size,
// namespaced sysctls, supplementary groups, the NIS domain name, the OOM score, memory, CPU
// and block I/O limits, the cgroup parent, and the pid/ipc/uts/cgroup namespace modes.
//
//     var options = ContainerOptions(image: "busybox")
//     options.shmSize = "32m"
//     options.sysctls = ["net.ipv4.ip_forward=1"]
//     options.pid = "container:web"        // joins web's pid namespace at each start
//
// Docker's rules apply throughout: a sysctl must be one a namespace of the container isolates
// (`net.*` with a private network namespace; `kernel.msg*`, `kernel.sem`, `kernel.shm*` and
// `fs.mqueue.*` with a private ipc namespace); `--cpus` excludes `--cpu-quota`/`--cpu-period`;
// `--memory-reservation` may not exceed `-m`. A `container:NAME` mode records the target's id
// and joins its namespace by path (/proc/<pid>/ns/…) when this container starts, so the
// target must be running then (as `--network container:NAME` requires).

import KujiraImage
import KujiraOCI
import KujiraRuntime
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension ContainerSpecBuilder {
    /// The sysctls of the ipc namespace that Docker accepts (ipc_namespaces(7)).
    static let ipcSysctls: Set<String> = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                                          "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"]

    /// Checks the run settings of `options` and records them in `host` (and the domain name
    /// in `config`); the sysctl rules read `options.network` as given.
    static func applyRunSettings(_ options: ContainerOptions, to host: inout ContainerHostConfig, config: inout ContainerConfig) throws {
        // Namespace modes.
        switch options.pid ?? "" {
        case "", "private": host.pidMode = ""
        case "host": host.pidMode = "host"
        case let mode where mode.hasPrefix("container:") && mode.count > "container:".count: host.pidMode = mode
        case let mode: throw EngineError(.invalidArgument, "--pid \(mode): use host or container:NAME")
        }
        switch options.ipc ?? "" {
        case "", "private": host.ipcMode = "private"
        case "shareable", "none", "host": host.ipcMode = options.ipc ?? "private"
        case let mode where mode.hasPrefix("container:") && mode.count > "container:".count: host.ipcMode = mode
        case let mode: throw EngineError(.invalidArgument, "--ipc \(mode): use private, shareable, none, host or container:NAME")
        }
        switch options.uts ?? "" {
        case "": host.utsMode = ""
        case "host":
            guard options.hostname == nil else {
                throw EngineError(.invalidArgument, "conflicting options: -h and --uts host (the container uses the host's hostname)")
            }
            host.utsMode = "host"
        case let mode: throw EngineError(.invalidArgument, "--uts \(mode): use host (or leave it out for a private UTS namespace)")
        }
        switch options.cgroupns ?? "" {
        case "", "host": host.cgroupnsMode = "host"
        case "private": host.cgroupnsMode = "private"
        case let mode: throw EngineError(.invalidArgument, "--cgroupns \(mode): use host or private")
        }
        if let domain = options.domainname, !domain.isEmpty {
            guard host.utsMode != "host" else {
                throw EngineError(.invalidArgument, "--domainname needs a private UTS namespace: it would change the host's; drop --uts host")
            }
            guard domain.utf8.count <= 64, !domain.contains(where: { $0.isWhitespace || $0 == "/" }) else {
                throw EngineError(.invalidArgument, "--domainname \(domain): at most 64 characters, no spaces or slashes")
            }
            config.domainname = domain
        }

        // /dev/shm.
        if let text = options.shmSize {
            let size = try parseBytes(text)
            guard size > 0 else { throw EngineError(.invalidArgument, "--shm-size \(text): must be a positive size, e.g. 64m") }
            host.shmSize = size
        }

        // Sysctls, by Docker's rules (opts.ValidateSysctl and the daemon's namespace checks).
        for entry in options.sysctls {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw EngineError(.invalidArgument, "--sysctl \(entry): use KEY=VALUE, e.g. net.ipv4.ip_forward=1")
            }
            let key = parts[0]
            if key.hasPrefix("net.") {
                if options.network == "host" {
                    throw EngineError(.invalidArgument, "--sysctl \(key) is not allowed with --network host: it would change the host's network namespace")
                }
                if options.network.hasPrefix("container:") {
                    throw EngineError(.invalidArgument, "--sysctl \(key) is not allowed with --network \(options.network): it would change the joined container's network namespace")
                }
            } else if ipcSysctls.contains(key) || key.hasPrefix("fs.mqueue.") {
                if host.ipcMode == "host" || host.ipcMode.hasPrefix("container:") {
                    throw EngineError(.invalidArgument, "--sysctl \(key) is not allowed with --ipc \(host.ipcMode): it needs a private ipc namespace")
                }
            } else {
                throw EngineError(.invalidArgument, "--sysctl \(key) is not allowed: only namespaced sysctls are (net.*, kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem, kernel.shmall, kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced, fs.mqueue.*)")
            }
            host.sysctls[key] = parts[1]
        }

        host.groupAdd = options.groupAdd
        for group in options.groupAdd where group.isEmpty || group.contains(":") {
            throw EngineError(.invalidArgument, "--group-add \"\(group)\": give a group name or number")
        }

        if let adjust = options.oomScoreAdj {
            guard (-1000...1000).contains(adjust) else {
                throw EngineError(.invalidArgument, "--oom-score-adj \(adjust): must be between -1000 and 1000")
            }
            if let reason = oomScoreAdjUnsupported(adjust) { throw EngineError(.unsupported, "--oom-score-adj \(adjust): \(reason)") }
            host.oomScoreAdj = adjust
        }

        // Memory.
        if let text = options.memoryReservation {
            let reservation = try parseBytes(text)
            if host.memory > 0 && reservation > host.memory {
                throw EngineError(.invalidArgument, "--memory-reservation \(text) is above the memory limit (-m): the reservation must be smaller")
            }
            host.memoryReservation = reservation
        }
        if options.oomKillDisable {
            if let layout = hostCgroupLayout(), layout.mode == .unified {
                throw EngineError(.unsupported, "--oom-kill-disable needs cgroup v1 (memory.oom_control): this host uses cgroup v2, which cannot disable the OOM killer; leave the flag out")
            }
            host.oomKillDisable = true
        }

        // CPU.
        if options.cpuQuota != nil || options.cpuPeriod != nil {
            guard host.nanoCpus == 0 else {
                throw EngineError(.invalidArgument, "conflicting options: --cpus and --cpu-period/--cpu-quota cannot both be set")
            }
        }
        if let period = options.cpuPeriod, period != 0 {
            guard (1000...1_000_000).contains(period) else {
                throw EngineError(.invalidArgument, "--cpu-period \(period): must be between 1000 (1ms) and 1000000 (1s) microseconds")
            }
            host.cpuPeriod = period
        }
        if let quota = options.cpuQuota, quota != 0 {
            guard quota == -1 || quota >= 1000 else {
                throw EngineError(.invalidArgument, "--cpu-quota \(quota): must be at least 1000 (1ms) microseconds, or -1 for none")
            }
            host.cpuQuota = quota
        }
        if let cpus = options.cpusetCpus, !cpus.isEmpty {
            try checkCPUList(cpus, flag: "--cpuset-cpus", online: "/sys/devices/system/cpu/online", what: "CPUs")
            host.cpusetCpus = cpus
        }
        if let mems = options.cpusetMems, !mems.isEmpty {
            try checkCPUList(mems, flag: "--cpuset-mems", online: "/sys/devices/system/node/online", what: "memory nodes")
            host.cpusetMems = mems
        }

        // Block I/O.
        if let weight = options.blkioWeight, weight != 0 {
            guard (10...1000).contains(weight) else {
                throw EngineError(.invalidArgument, "--blkio-weight \(weight): must be between 10 and 1000")
            }
            if let reason = blkioWeightUnsupported() { throw EngineError(.unsupported, "--blkio-weight: \(reason)") }
            host.blkioWeight = weight
        }

        if let parent = options.cgroupParent, !parent.isEmpty {
            let components = parent.split(separator: "/")
            guard !components.isEmpty, !components.contains(where: { $0 == ".." || $0 == "." }) else {
                throw EngineError(.invalidArgument, "--cgroup-parent \(parent): give a cgroup path such as /my-parent, without . or .. components")
            }
            host.cgroupParent = "/" + components.joined(separator: "/")
        }
    }

    /// Applies the run settings of `record` to `spec`: /dev/shm, sysctls, groups, the domain
    /// name, the OOM score, resources, the cgroup path and the namespaces. A `container:`
    /// mode's namespace is left private here; ``Engine/joinNamespaces(_:in:)`` points it at
    /// the target when the container starts.
    static func applyRunSettings(_ record: ContainerRecord, to spec: inout Spec) throws {
        let host = record.hostConfig
        var linux = spec.linux ?? Linux()
        linux.cgroupsPath = Engine.cgroupsPath(record)

        var namespaces = linux.namespaces ?? []
        if host.pidMode == "host" { namespaces.removeAll { $0.type == .pid } }
        if host.ipcMode == "host" { namespaces.removeAll { $0.type == .ipc } }
        if host.utsMode == "host" {
            namespaces.removeAll { $0.type == .uts }
            spec.hostname = nil
        }
        if host.cgroupnsMode == "private" && !namespaces.contains(where: { $0.type == .cgroup }) {
            namespaces.append(LinuxNamespace(type: .cgroup))
        }
        linux.namespaces = namespaces
        if !record.config.domainname.isEmpty { spec.domainname = record.config.domainname }

        // /dev/shm: the size for a private ipc namespace, the host's for --ipc host, none for
        // --ipc none; a joined container's is bound when it starts.
        var mounts = spec.mounts ?? []
        switch host.ipcMode {
        case "host":
            mounts.removeAll { $0.destination == "/dev/shm" && $0.source == "shm" }
            if !mounts.contains(where: { $0.destination == "/dev/shm" }) { mounts.append(Mount(destination: "/dev/shm", type: "bind", source: "/dev/shm", options: ["rbind", "rprivate"])) }
        case "none":
            mounts.removeAll { $0.destination == "/dev/shm" && $0.source == "shm" }
        case let mode where mode.hasPrefix("container:"):
            break
        default:
            mounts = mounts.map { mount in
                guard mount.destination == "/dev/shm", mount.source == "shm" else { return mount }
                var mount = mount
                mount.options = (mount.options ?? []).filter { !$0.hasPrefix("size=") } + ["size=\(host.shmSize)"]
                return mount
            }
        }
        spec.mounts = mounts

        if !host.sysctls.isEmpty {
            var sysctl = linux.sysctl ?? [:]
            for (key, value) in host.sysctls { sysctl[key] = value }
            linux.sysctl = sysctl
        }

        var resources = linux.resources ?? LinuxResources()
        if host.memoryReservation > 0 || host.oomKillDisable {
            var memory = resources.memory ?? LinuxMemory()
            if host.memoryReservation > 0 { memory.reservation = host.memoryReservation }
            if host.oomKillDisable { memory.disableOOMKiller = true }
            resources.memory = memory
        }
        if host.cpuQuota != 0 || host.cpuPeriod != 0 || !host.cpusetCpus.isEmpty || !host.cpusetMems.isEmpty {
            var cpu = resources.cpu ?? LinuxCPU()
            if host.cpuQuota != 0 { cpu.quota = host.cpuQuota }
            if host.cpuPeriod != 0 { cpu.period = UInt64(host.cpuPeriod) }
            if !host.cpusetCpus.isEmpty { cpu.cpus = host.cpusetCpus }
            if !host.cpusetMems.isEmpty { cpu.mems = host.cpusetMems }
            resources.cpu = cpu
        }
        if host.blkioWeight != 0 {
            var blockIO = resources.blockIO ?? LinuxBlockIO()
            blockIO.weight = UInt16(clamping: host.blkioWeight)
            resources.blockIO = blockIO
        }
        linux.resources = resources
        spec.linux = linux

        if host.oomScoreAdj != 0 { spec.process?.oomScoreAdj = host.oomScoreAdj }
        if !host.groupAdd.isEmpty, var user = spec.process?.user {
            var gids = user.additionalGids ?? []
            for group in host.groupAdd {
                let gid = try resolveGroup(group, rootfs: record.rootfsPath)
                if !gids.contains(gid) { gids.append(gid) }
            }
            user.additionalGids = gids
            spec.process?.user = user
        }
    }

    /// A `--group-add` value as a gid: a number as it is, a name from the image's /etc/group.
    static func resolveGroup(_ group: String, rootfs: String) throws -> UInt32 {
        if let gid = UInt32(group) { return gid }
        guard let gid = BundleSpec.groupID(named: group, rootfs: rootfs) else {
            throw EngineError(.invalidArgument, "--group-add \(group): no such group in the image's /etc/group; give a number or a group the image has")
        }
        return gid
    }

    /// Checks a cpuset list (`0-2,4`) and that the host has every entry (`online` lists them).
    static func checkCPUList(_ list: String, flag: String, online: String, what: String) throws {
        guard let requested = parseCPUList(list) else {
            throw EngineError(.invalidArgument, "\(flag) \(list): use a list of numbers and ranges, e.g. 0-2,4")
        }
        guard let text = try? String(contentsOfFile: online, encoding: .utf8),
              let available = parseCPUList(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return }
        let missing = requested.subtracting(available)
        guard missing.isEmpty else {
            throw EngineError(.invalidArgument, "\(flag) \(list): the host has no \(what) \(missing.sorted().map(String.init).joined(separator: ",")) (available: \(text.trimmingCharacters(in: .whitespacesAndNewlines)))")
        }
    }

    /// The numbers of a list such as `0-2,4`; nil when malformed.
    static func parseCPUList(_ list: String) -> Set<Int>? {
        var result = Set<Int>()
        for part in list.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let first = Int(bounds[0]), first >= 0,
                  let last = bounds.count == 2 ? Int(bounds[1]) : first, last >= first, last - first < 65536 else { return nil }
            result.formUnion(first...last)
        }
        return result
    }

    /// Why the runtime could not set `adjust`, or nil when it can: lowering a process's OOM
    /// score adjustment below its own needs CAP_SYS_RESOURCE (proc(5)), which some hosts
    /// drop from the bounding set; without this check the start failed with EACCES.
    static func oomScoreAdjUnsupported(_ adjust: Int) -> String? {
        guard let own = (try? String(contentsOfFile: "/proc/self/oom_score_adj", encoding: .utf8))
            .flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }), adjust < own else { return nil }
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let mask = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
        let sysResource: UInt64 = 1 << 24  // CAP_SYS_RESOURCE
        if mask & sysResource != 0 { return nil }
        return "lowering the OOM score adjustment below the engine's own (\(own)) needs CAP_SYS_RESOURCE, which this host does not give; use a value of \(own) or more"
    }

    /// The host's cgroup layout, or nil when it cannot be read.
    static func hostCgroupLayout() -> CgroupLayout? {
        guard let system = try? CgroupSystem.current() else { return nil }
        return try? CgroupLayout.probe(mountinfo: system.mountinfo, procCgroups: system.procCgroups)
    }

    /// Why this host cannot set a block I/O weight, or nil when it can: cgroup v1 needs
    /// blkio.weight (CFQ) or blkio.bfq.weight (BFQ), v2 the io controller.
    static func blkioWeightUnsupported() -> String? {
        guard let layout = hostCgroupLayout() else { return nil }
        if layout.mode == .unified {
            return layout.enabledControllers.contains("io") ? nil
                : "the host's cgroup v2 hierarchy has no io controller enabled; leave the flag out"
        }
        guard let blkio = layout.v1["blkio"] else { return "the host has no blkio cgroup controller; leave the flag out" }
        let files = ["blkio.weight", "blkio.bfq.weight"]
        if files.contains(where: { FileManager.default.fileExists(atPath: "\(blkio.mountPoint)/\($0)") }) { return nil }
        return "the host's block I/O scheduler takes no weights (neither blkio.weight nor blkio.bfq.weight exists; select the bfq scheduler); leave the flag out"
    }
}

extension ContainerRecord {
    /// This record with the run settings of `options` (``ContainerSpecBuilder/applyRunSettings(_:to:config:)``).
    func withRunSettings(_ options: ContainerOptions) throws -> ContainerRecord {
        var record = self
        try ContainerSpecBuilder.applyRunSettings(options, to: &record.hostConfig, config: &record.config)
        return record
    }
}

extension Engine {
    /// The cgroup of container `record`: `<--cgroup-parent or /kujira>/<id>` in each hierarchy.
    static func cgroupsPath(_ record: ContainerRecord) -> String {
        let parent = record.hostConfig.cgroupParent.isEmpty ? "/kujira" : record.hostConfig.cgroupParent
        return "\(parent)/\(record.id)"
    }

    /// Resolves the `container:NAME` pid and ipc modes of a new container to the target's
    /// id (`--ipc container:` needs a `shareable` target, or one on the host's ipc namespace,
    /// as on Docker).
    func prepareNamespaceModes(_ record: inout ContainerRecord) throws {
        if record.hostConfig.pidMode.hasPrefix("container:") {
            let target = try container(String(record.hostConfig.pidMode.dropFirst("container:".count)))
            record.hostConfig.pidMode = "container:\(target.id)"
        }
        if record.hostConfig.ipcMode.hasPrefix("container:") {
            let target = try container(String(record.hostConfig.ipcMode.dropFirst("container:".count)))
            guard target.hostConfig.ipcMode == "shareable" || target.hostConfig.ipcMode == "host" else {
                throw EngineError(.invalidArgument, "cannot join the ipc namespace of container \(target.name): it is not shareable; create it with --ipc shareable")
            }
            record.hostConfig.ipcMode = target.hostConfig.ipcMode == "host" ? "host" : "container:\(target.id)"
        }
    }

    /// The namespaces of `record`'s `container:` pid and ipc modes, by path: the target's
    /// /proc/<pid>/ns/… (and its /dev/shm for ipc), written into the bundle's `spec` before
    /// each start. The target must be running.
    func joinNamespaces(_ record: ContainerRecord, in spec: inout Spec) throws {
        func runningTarget(_ mode: String, flag: String) throws -> Int32 {
            let id = String(mode.dropFirst("container:".count))
            guard let target = load(id) else {
                throw EngineError(.invalidState, "cannot join the \(flag) namespace of container \(id.prefix(12)): it no longer exists; remove this container")
            }
            // The monitor reaps the target's process: while it lives and the record says
            // running, the pid is the target's (a zombie's pid is not reused).
            guard target.state.status == .running || target.state.status == .paused, target.state.pid > 0,
                  SystemSupport.isAlive(target.state.monitorPid, startTime: target.state.monitorStartTime) else {
                throw EngineError(.invalidState, "cannot join the \(flag) namespace of container \(target.name): it is not running; start it first")
            }
            return target.state.pid
        }
        var linux = spec.linux ?? Linux()
        var namespaces = linux.namespaces ?? []
        if record.hostConfig.pidMode.hasPrefix("container:") {
            let pid = try runningTarget(record.hostConfig.pidMode, flag: "pid")
            namespaces.removeAll { $0.type == .pid }
            namespaces.append(LinuxNamespace(type: .pid, path: "/proc/\(pid)/ns/pid"))
        }
        if record.hostConfig.ipcMode.hasPrefix("container:") {
            let pid = try runningTarget(record.hostConfig.ipcMode, flag: "ipc")
            namespaces.removeAll { $0.type == .ipc }
            namespaces.append(LinuxNamespace(type: .ipc, path: "/proc/\(pid)/ns/ipc"))
            // The target's /dev/shm is a tmpfs its monitor mounted on the host (a mount of
            // another mount namespace cannot be cloned).
            let shm = shmPath(String(record.hostConfig.ipcMode.dropFirst("container:".count)))
            guard Self.isMountPoint(shm) else {
                throw EngineError(.invalidState, "cannot share /dev/shm of the ipc container: \(shm) is not mounted; restart that container")
            }
            var mounts = spec.mounts ?? []
            mounts.removeAll { $0.destination == "/dev/shm" && ($0.source == "shm" || $0.type == "bind") }
            mounts.append(Mount(destination: "/dev/shm", type: "bind", source: shm, options: ["rbind", "rprivate"]))
            spec.mounts = mounts
        }
        linux.namespaces = namespaces
        spec.linux = linux
    }

    /// Where a `--ipc shareable` container's /dev/shm tmpfs is mounted on the host (as
    /// dockerd's `containers/<id>/mounts/shm`), so that `--ipc container:` joiners can bind it.
    func shmPath(_ id: String) -> String { "\(attachDirectory(id))/shm" }

    /// A `--ipc shareable` container's /dev/shm: a bind of ``shmPath(_:)`` instead of a tmpfs of
    /// the container's own mount namespace.
    func applyShareableShm(_ record: ContainerRecord, to spec: inout Spec) {
        guard record.hostConfig.ipcMode == "shareable" else { return }
        var mounts = spec.mounts ?? []
        guard let index = mounts.firstIndex(where: { $0.destination == "/dev/shm" && $0.source == "shm" }) else { return }
        mounts[index] = Mount(destination: "/dev/shm", type: "bind", source: shmPath(record.id), options: ["rbind", "rprivate"])
        spec.mounts = mounts
    }

    /// Mounts the /dev/shm tmpfs of a `--ipc shareable` container at ``shmPath(_:)`` (the
    /// monitor, before each start; kept while the container restarts).
    func mountShareableShm(_ record: ContainerRecord) throws {
        guard record.hostConfig.ipcMode == "shareable" else { return }
        let path = shmPath(record.id)
        if Self.isMountPoint(path) { return }
        try SystemSupport.makeDirectories(path, mode: 0o700)
        // MS_NOSUID | MS_NODEV | MS_NOEXEC, as the tmpfs a private /dev/shm gets.
        let flags: UInt = 0x2 | 0x4 | 0x8
        guard mount("shm", path, "tmpfs", flags, "mode=1777,size=\(record.hostConfig.shmSize)") == 0 else {
            throw EngineError.posix("mounting the shareable /dev/shm of container \(record.name) at \(path)", errno: errno)
        }
    }

    /// Unmounts a shareable container's /dev/shm tmpfs (joiners keep their own binds of it).
    func unmountShareableShm(_ id: String) {
        let path = shmPath(id)
        guard Self.isMountPoint(path) else { return }
        _ = umount2(path, Int32(MNT_DETACH))
        rmdir(path)
    }

    /// Whether `path` is a mount point (its device differs from its parent's).
    static func isMountPoint(_ path: String) -> Bool {
        var own = stat(), parent = stat()
        guard stat(path, &own) == 0, stat((path as NSString).deletingLastPathComponent, &parent) == 0 else { return false }
        return own.st_dev != parent.st_dev
    }

    /// Rewrites the bundle config of `record` with ``joinNamespaces(_:in:)`` when it has a
    /// `container:` pid or ipc mode; nothing otherwise.
    func joinNamespacesInBundle(_ record: ContainerRecord) throws {
        guard record.hostConfig.pidMode.hasPrefix("container:") || record.hostConfig.ipcMode.hasPrefix("container:") else { return }
        let path = "\(directory(record.id))/config.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EngineError(.invalidState, "the bundle config of container \(record.name) is missing (\(path)); remove and recreate the container")
        }
        var spec = try JSONDecoder().decode(Spec.self, from: data)
        try joinNamespaces(record, in: &spec)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try SystemSupport.writeAtomically(path, Array(try encoder.encode(spec)), durable: false)
    }
}
