import KujiraOCI
import Glibc

/// Options of `create` that are not in config.json: they come from the runtime's caller.
public struct CreateOptions: Sendable {
    /// `--console-socket`: the unix socket that gets the pty master (needs `process.terminal`).
    public var consoleSocket: String?
    /// `--pid-file`: where the container's init pid is written.
    public var pidFile: String?
    /// `--no-pivot`: move the rootfs onto / and chroot instead of pivot_root.
    public var noPivot: Bool
    /// `--preserve-fds`: fds 3 … 3+n-1 of the caller stay open in the container.
    public var preserveFDs: UInt32
    /// Extra environment entries for the process (`LISTEN_FDS=…`, set by socket activation).
    public var extraEnvironment: [String]
    /// The caller's fds that become the container process's stdin, stdout and stderr (without
    /// a terminal). The default is the caller's own 0, 1 and 2; an embedder passes a log file
    /// or /dev/null here instead of swapping its own fds 0-2 around `create`.
    public var stdio: StdioFDs
    /// Whether the container's process joins a session keyring of its own, `_ses.<id>`, rather
    /// than keeping the caller's (runc's default; `--no-new-keyring` turns it off). Its
    /// `exec`'d processes join the same one.
    public var newKeyring: Bool

    /// Creates options; all default to off (but `newKeyring`), stdio to the caller's fds 0-2.
    public init(consoleSocket: String? = nil, pidFile: String? = nil, noPivot: Bool = false,
                preserveFDs: UInt32 = 0, extraEnvironment: [String] = [], stdio: StdioFDs = StdioFDs(),
                newKeyring: Bool = true) {
        self.newKeyring = newKeyring
        self.consoleSocket = consoleSocket
        self.pidFile = pidFile
        self.noPivot = noPivot
        self.preserveFDs = preserveFDs
        self.extraEnvironment = extraEnvironment
        self.stdio = stdio
    }
}

/// Which of the caller's open fds a container process gets as its fds 0, 1 and 2.
///
/// The fds are duplicated into the init when it is spawned: the caller keeps its own and may
/// close them as soon as `create` or `exec` returns. The runtime keeps no copy (runc#1721).
public struct StdioFDs: Sendable, Equatable {
    /// The fd that becomes the process's stdin.
    public var input: Int32
    /// The fd that becomes the process's stdout.
    public var output: Int32
    /// The fd that becomes the process's stderr.
    public var error: Int32

    /// Creates the set; the defaults are the caller's own 0, 1 and 2.
    public init(input: Int32 = 0, output: Int32 = 1, error: Int32 = 2) {
        self.input = input
        self.output = output
        self.error = error
    }

    /// Throws unless every fd other than the caller's own 0-2 is open, before the runtime
    /// opens anything of its own (which could take a closed number).
    func validate() throws {
        for (target, source) in [input, output, error].enumerated() where source != Int32(target) {
            guard source >= 0, fcntl(source, F_GETFD) >= 0 else {
                throw RuntimeError(.invalidArgument, "stdio fd \(source) (for the process's fd \(target)) is not open in this process")
            }
        }
    }
}

extension InitPlan {
    /// The plan that builds the container `spec` describes, rootfs at `rootfs` (absolute).
    static func forContainer(spec: Spec, rootfs: String, options: CreateOptions,
                             cgroupLayout: CgroupMountLayout, seccomp: SeccompCompilerFunction?) throws -> InitPlan {
        guard let process = spec.process else {
            throw RuntimeError(.invalidConfig, "config.json has no process; kujira-runtime needs one at create")
        }
        var plan = try InitPlan.forProcess(process, seccompSection: spec.linux?.seccomp, seccomp: seccomp)
        if spec.linux?.mountLabel?.isEmpty == false {
            throw RuntimeError(.unsupported, "linux.mountLabel (an SELinux mount context) is not supported by kujira-runtime; remove it from config.json")
        }
        plan.mode = .create
        plan.rootfs = rootfs
        plan.rootReadonly = spec.root?.readonly ?? false
        plan.noPivot = options.noPivot
        plan.preserveFDs = options.preserveFDs
        plan.env += options.extraEnvironment
        let linux = spec.linux ?? Linux()

        // Namespaces: created (clone flags) or joined (paths).
        var seen = Set<String>()
        for namespace in linux.namespaces ?? [] {
            let type = namespace.type.rawValue
            guard let flag = NamespaceFlags.flag(type) else {
                throw RuntimeError(.invalidConfig, "unknown namespace type \"\(type)\" in linux.namespaces")
            }
            guard seen.insert(type).inserted else {
                throw RuntimeError(.invalidConfig, "namespace \"\(type)\" appears twice in linux.namespaces")
            }
            if let path = namespace.path, !path.isEmpty {
                plan.joins.append(NamespaceJoin(flag: flag, path: path))
            } else {
                plan.cloneFlags |= flag
            }
        }
        guard seen.contains("mount") else {
            throw RuntimeError(.invalidConfig, "linux.namespaces has no mount namespace; kujira-runtime needs one to build the rootfs")
        }
        let inUserNamespace = seen.contains("user")
        if plan.cloneFlags & NamespaceFlags.user != 0 {
            guard let uids = linux.uidMappings, !uids.isEmpty, let gids = linux.gidMappings, !gids.isEmpty else {
                throw RuntimeError(.invalidConfig, "a new user namespace needs linux.uidMappings and linux.gidMappings")
            }
            plan.writesIDMaps = true
            try UserNamespaceMaps.restrictGroupsWhenRootless(&plan)
        }
        if let offsets = linux.timeOffsets, !offsets.isEmpty {
            guard plan.cloneFlags & NamespaceFlags.time != 0 else {
                throw RuntimeError(.invalidConfig, "linux.timeOffsets needs a new time namespace")
            }
            plan.timensOffsets = offsets.sorted { $0.key < $1.key }
                .map { "\($0.key) \($0.value.secs ?? 0) \($0.value.nanosecs ?? 0)\n" }.joined()
        }
        if let propagation = linux.rootfsPropagation, !propagation.isEmpty {
            guard let flags = MountOptions.propagationOptions[propagation] else {
                throw RuntimeError(.invalidConfig, "unknown linux.rootfsPropagation \"\(propagation)\"")
            }
            plan.rootPropagation = flags
        }
        if seen.contains("uts") {
            plan.hostname = spec.hostname
            plan.domainname = spec.domainname
        } else if spec.hostname?.isEmpty == false {
            throw RuntimeError(.invalidConfig, "hostname is set but there is no uts namespace in linux.namespaces")
        }
        for (key, value) in (linux.sysctl ?? [:]).sorted(by: { $0.key < $1.key }) {
            let path = key.replacing(".", with: "/")
            guard !path.isEmpty, !path.split(separator: "/").contains(".."), !path.hasPrefix("/"), !key.contains("="), !value.contains("\0") else {
                throw RuntimeError(.invalidConfig, "sysctl \"\(key)\" is not a valid key")
            }
            try checkSysctlNamespace(key, namespaces: linux.namespaces ?? [])
            plan.sysctls.append("\(path)=\(value)")
        }
        plan.oomScoreAdj = process.oomScoreAdj
        plan.personality = try personality(linux.personality, warnings: &plan.warnings)
        // execCPUAffinity "is not applicable to the container's init process" (config.md).
        plan.cpuAffinity = nil

        // Console.
        if process.terminal == true {
            guard options.consoleSocket != nil else {
                throw RuntimeError(.consoleSocketRequired, "process.terminal is true: --console-socket is required")
            }
            if let size = process.consoleSize { plan.consoleSize = (UInt64(size.height), UInt64(size.width)) }
        } else if options.consoleSocket != nil {
            throw RuntimeError(.invalidArgument, "--console-socket was given but process.terminal is false")
        }

        // The rootfs operations, in runc's order: mounts, devices, /dev symlinks, cwd, hooks
        // (prestart, createRuntime), read-only and masked paths.
        var devIsBound = false
        for mount in spec.mounts ?? [] {
            let steps = try mountSteps(mount, cgroupLayout: cgroupLayout, cgroupNamespace: seen.contains("cgroup"),
                                       containerMappings: IDMappedMount.Maps(uid: linux.uidMappings, gid: linux.gidMappings))
            if cleanAbsolutePath(mount.destination) == "/dev", steps.contains(where: { if case .mount(let m) = $0 { m.flags & MountFlag.bind != 0 } else { false } }) {
                devIsBound = true
            }
            plan.operations += steps
        }
        if !devIsBound {
            plan.operations += try deviceSteps(linux.devices ?? [], bindFromHost: inUserNamespace)
            plan.operations += DefaultDevices.symlinks.map { .symlink(path: $0.path, target: $0.target) }
            if FileIO.exists("/proc/kcore") { plan.operations.append(.symlink(path: "/dev/core", target: "/proc/kcore")) }
        }
        plan.operations.append(.makeDirectory(plan.cwd))
        plan.hooks = try initHooks(spec.hooks?.createContainer, stage: .createContainer)
            + initHooks(spec.hooks?.startContainer, stage: .startContainer)
        if !(spec.hooks?.prestart ?? []).isEmpty || !(spec.hooks?.createRuntime ?? []).isEmpty || !plan.hooks.isEmpty {
            plan.operations.append(.hooks)
        }
        plan.operations += (linux.readonlyPaths ?? []).map { .readonly(cleanAbsolutePath($0)) }
        plan.operations += (linux.maskedPaths ?? []).map { .mask(cleanAbsolutePath($0)) }
        return plan
    }

    /// The sysctls of the ipc namespace (ipc_namespaces(7)); `fs.mqueue.*` too.
    static let ipcSysctls: Set<String> = [
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
        "kernel.shmmni", "kernel.shm_rmid_forced",
    ]

    /// Refuses a sysctl that no namespace of the container isolates: written from inside the
    /// container it would change the host (`vm.*`, or `net.*` in the host's network
    /// namespace). The same rule as runc's: ipc sysctls need an ipc namespace, `net.*` a
    /// network namespace that is not the runtime's own, kernel.hostname/domainname a uts one.
    static func checkSysctlNamespace(_ key: String, namespaces: [LinuxNamespace]) throws {
        func namespace(_ type: String) -> LinuxNamespace? { namespaces.first { $0.type.rawValue == type } }
        let needed: String
        if ipcSysctls.contains(key) || key.hasPrefix("fs.mqueue.") {
            needed = "ipc"
        } else if key.hasPrefix("net.") {
            needed = "network"
            if let path = namespace("network")?.path, !path.isEmpty, sameFile(path, "/proc/self/ns/net") {
                throw RuntimeError(.invalidConfig, "sysctl \"\(key)\" would change the host: linux.namespaces joins the runtime's own network namespace (\(path))")
            }
        } else if key == "kernel.hostname" || key == "kernel.domainname" {
            needed = "uts"
        } else {
            throw RuntimeError(.invalidConfig, "sysctl \"\(key)\" is not in a separate kernel namespace: setting it would change the host")
        }
        guard namespace(needed) != nil else {
            throw RuntimeError(.invalidConfig, "sysctl \"\(key)\" needs a \(needed) namespace in linux.namespaces: without one it would change the host")
        }
    }

    /// Whether `a` and `b` name the same file (device and inode).
    static func sameFile(_ a: String, _ b: String) -> Bool {
        var first = stat(), second = stat()
        guard stat(a, &first) == 0, stat(b, &second) == 0 else { return false }
        return first.st_dev == second.st_dev && first.st_ino == second.st_ino
    }

    /// The createContainer or startContainer hooks of a spec as plan hooks, checked.
    static func initHooks(_ hooks: [Hook]?, stage: InitHook.Stage) throws -> [InitHook] {
        try (hooks ?? []).enumerated().map { index, hook in
            let what = "hooks.\(stage)[\(index)] (\(hook.path))"
            guard hook.path.hasPrefix("/") else { throw RuntimeError(.invalidConfig, "\(what): path must be absolute") }
            if let timeout = hook.timeout, timeout <= 0 {
                throw RuntimeError(.invalidConfig, "\(what): timeout must be greater than zero")
            }
            let strings = [hook.path] + (hook.args ?? []) + (hook.env ?? [])
            guard !strings.contains(where: { $0.utf8.contains(0) }) else {
                throw RuntimeError(.invalidConfig, "\(what): path, args and env must not contain NUL bytes")
            }
            return InitHook(stage: stage, path: hook.path, args: hook.args ?? [], env: hook.env ?? [],
                            timeout: hook.timeout.map { UInt64($0) })
        }
    }

    /// The part of a plan that describes the process: shared by create and exec.
    static func forProcess(_ process: Process, seccompSection: LinuxSeccomp?, seccomp: SeccompCompilerFunction?) throws -> InitPlan {
        var plan = InitPlan()
        guard let args = process.args, !args.isEmpty, !args[0].isEmpty else {
            throw RuntimeError(.invalidConfig, "process.args must not be empty")
        }
        guard process.cwd.hasPrefix("/") else {
            throw RuntimeError(.invalidConfig, "process.cwd \"\(process.cwd)\" must be an absolute path")
        }
        for text in args + (process.env ?? []) + [process.cwd] where text.utf8.contains(0) {
            throw RuntimeError(.invalidConfig, "process arguments, environment and cwd must not contain NUL bytes")
        }
        plan.args = args
        plan.env = process.env ?? []
        plan.cwd = cleanAbsolutePath(process.cwd)
        plan.uid = process.user.uid
        plan.gid = process.user.gid
        plan.additionalGids = process.user.additionalGids ?? []
        plan.umask = process.user.umask ?? 0o022
        plan.ioPriority = try ioPriority(process.ioPriority)
        plan.scheduler = try scheduler(process.scheduler)
        // Exec only (ContainerRuntime+Exec.swift); checked here for both.
        _ = try cpuList(process.execCPUAffinity?.initial, field: "initial")
        plan.cpuAffinity = try cpuList(process.execCPUAffinity?.final, field: "final")
        plan.noNewPrivileges = process.noNewPrivileges ?? false
        if let caps = process.capabilities {
            var warnings: [String] = []
            func mask(_ names: [String]?, _ set: String) -> UInt64 {
                let (mask, unknown) = CapabilityNumbers.mask(names)
                warnings += unknown.map { "unknown capability \"\($0)\" in process.capabilities.\(set) ignored" }
                return mask
            }
            let sets = CapabilitySets(
                bounding: mask(caps.bounding, "bounding"), effective: mask(caps.effective, "effective"),
                permitted: mask(caps.permitted, "permitted"), inheritable: mask(caps.inheritable, "inheritable"),
                ambient: mask(caps.ambient, "ambient"))
            plan.capabilities = sets
            plan.warnings += warnings
        }
        var seenLimits = Set<String>()
        for limit in process.rlimits ?? [] {
            guard let resource = RlimitNumbers.byName[limit.type] else {
                throw RuntimeError(.invalidConfig, "unknown rlimit type \"\(limit.type)\" in process.rlimits")
            }
            guard seenLimits.insert(limit.type).inserted else {
                throw RuntimeError(.invalidConfig, "rlimit \(limit.type) appears twice in process.rlimits")
            }
            plan.rlimits.append(Rlimit(resource: resource, soft: limit.soft, hard: limit.hard))
        }
        if let section = seccompSection {
            guard let seccomp else {
                throw RuntimeError(.unsupported, "linux.seccomp is set but this kujira-runtime has no seccomp compiler yet; remove linux.seccomp from config.json")
            }
            let program = try seccomp(section, process.noNewPrivileges ?? false)
            plan.seccomp = program
        }
        if process.apparmorProfile?.isEmpty == false || process.selinuxLabel?.isEmpty == false {
            throw RuntimeError(.unsupported, "AppArmor profiles and SELinux labels are not supported by kujira-runtime")
        }
        return plan
    }

    /// The steps for one spec mount.
    /// `containerMappings`: the container's `linux.uidMappings`/`gidMappings`, which an
    /// `idmap` mount without maps of its own uses.
    static func mountSteps(_ mount: Mount, cgroupLayout: CgroupMountLayout, cgroupNamespace: Bool,
                           containerMappings: IDMappedMount.Maps? = nil) throws -> [Operation] {
        guard mount.destination.hasPrefix("/") else {
            throw RuntimeError(.invalidConfig, "mount destination \"\(mount.destination)\" must be absolute")
        }
        let destination = cleanAbsolutePath(mount.destination)
        let options = try MountOptions(mount.options ?? [], destination: destination)
        var flags = options.flags
        if mount.type == "bind" { flags |= MountFlag.bind }
        var idmap: IDMappedMount?
        if options.idmap != nil || mount.uidMappings != nil || mount.gidMappings != nil {
            idmap = try IDMappedMount(mount, options: options, flags: flags, destination: destination, container: containerMappings)
        }
        if options.tmpCopyUp && mount.type != "tmpfs" {
            throw RuntimeError(.invalidConfig, "mount option tmpcopyup of \(destination) is only valid for a tmpfs (its type is \(mount.type ?? "none"))")
        }
        if mount.type == "cgroup" || mount.type == "cgroup2" {
            return cgroupLayout.steps(destination: destination, flags: flags, cgroupNamespace: cgroupNamespace)
        }
        for text in [mount.source ?? "", mount.type ?? "", options.data.joined(separator: ",")] where text.utf8.contains(0) {
            throw RuntimeError(.invalidConfig, "mount \(destination) has a NUL byte in its source, type or options")
        }
        return [.mount(MountStep(source: mount.source, destination: destination, type: flags & MountFlag.bind != 0 ? nil : mount.type,
                                 flags: flags, propagation: options.propagation, data: options.data.joined(separator: ","),
                                 recursiveClear: options.recursiveClear, recursiveSet: options.recursiveSet,
                                 idmap: idmap, tmpCopyUp: options.tmpCopyUp))]
    }

    /// The default devices of runtime-spec ("Default Devices") followed by `linux.devices`.
    static func deviceSteps(_ devices: [LinuxDevice], bindFromHost: Bool) throws -> [Operation] {
        var steps: [Operation] = DefaultDevices.nodes.map {
            .device(DeviceStep(path: $0.path, mode: 0o020000 | 0o666, major: $0.major, minor: $0.minor, uid: 0, gid: 0, bindFromHost: bindFromHost))
        }
        for device in devices {
            let path = cleanAbsolutePath(device.path)
            guard device.path.hasPrefix("/dev/") else {
                throw RuntimeError(.invalidConfig, "device path \"\(device.path)\" must be under /dev")
            }
            let type: UInt64
            switch device.type {
            case "c", "u": type = 0o020000
            case "b": type = 0o060000
            case "p": type = 0o010000
            default: throw RuntimeError(.invalidConfig, "device \(path) has unknown type \"\(device.type)\"")
            }
            guard type == 0o010000 || (device.major != nil && device.minor != nil) else {
                throw RuntimeError(.invalidConfig, "device \(path) needs major and minor numbers")
            }
            steps.removeAll { if case .device(let d) = $0 { d.path == path } else { false } }
            steps.append(.device(DeviceStep(path: path, mode: type | UInt64((device.fileMode ?? 0o666) & 0o7777),
                                            major: UInt64(device.major ?? 0), minor: UInt64(device.minor ?? 0),
                                            uid: UInt64(device.uid ?? 0), gid: UInt64(device.gid ?? 0),
                                            bindFromHost: bindFromHost)))
        }
        return steps
    }
}

/// The devices and links every container gets (runtime-spec config-linux.md "Default
/// Devices" and "Default Devices"' links as runc creates them).
enum DefaultDevices {
    static let nodes: [(path: String, major: UInt64, minor: UInt64)] = [
        ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
        ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
    ]
    static let symlinks: [(path: String, target: String)] = [
        ("/dev/fd", "/proc/self/fd"), ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"), ("/dev/stderr", "/proc/self/fd/2"),
        ("/dev/ptmx", "pts/ptmx"),
    ]
}
