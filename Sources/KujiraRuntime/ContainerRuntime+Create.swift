// `create`: build a container from a bundle and leave its init waiting before exec.
//
//     try runtime.create(id: "web", bundle: "/srv/bundles/web",
//                        options: CreateOptions(pidFile: "/srv/bundles/web/init.pid"))
//
// When it returns, the container's init exists, is blocked on <root>/<id>/exec.fifo before
// execve, the pid file is written and `state` answers "created" — the process model every
// caller of runc depends on (REFERENCE.md, "Who calls an OCI runtime").

internal import CKujiraRuntime
public import KujiraOCI
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc

extension ContainerRuntime {
    /// Creates container `id` from the bundle directory `bundle` (config.json + rootfs).
    @discardableResult
    public func create(id: String, bundle: String, options: CreateOptions = CreateOptions()) throws -> RuncState {
        try StateDirectory.validate(id)
        try options.stdio.validate()
        // /proc/self/mountinfo and /proc/self/cgroup, read once for the cgroup mount and the
        // cgroup driver.
        let system = try cgroups.map { _ in try CgroupSystem.current() }
        let runtimeLayout = try system.map { CgroupMountLayout.parse(mountinfo: $0.mountinfo, cgroups: $0.selfCgroup) }
            ?? CgroupMountLayout.read()
        // The join below waits for an RCU grace period (see "Process model" in runtime.md):
        // start one now, while the spec is read and the init spawned.
        if cgroups != nil { runtimeLayout.prewarmMigration() }
        guard let bundlePath = realPath(bundle) else {
            throw RuntimeError(.invalidConfig, "bundle \(bundle) does not exist")
        }
        let (spec, specJSON) = try Self.loadSpecDocument(bundle: bundlePath)
        try Self.validateNetDevices(of: spec)
        let resctrl = try Self.resctrlGroup(of: spec, containerID: id)
        guard let rootPath = spec.root?.path, !rootPath.isEmpty else {
            throw RuntimeError(.invalidConfig, "config.json in \(bundlePath) has no root.path")
        }
        guard let rootfs = realPath(rootPath.hasPrefix("/") ? rootPath : bundlePath + "/" + rootPath),
              FileIO.isDirectory(rootfs) else {
            throw RuntimeError(.invalidConfig, "rootfs \(rootPath) of bundle \(bundlePath) is not a directory")
        }
        var plan = try InitPlan.forContainer(spec: spec, rootfs: rootfs, options: options,
                                             cgroupLayout: runtimeLayout, seccomp: seccompCompiler)
        plan.warnings.forEach(warning)
        let keyring = options.newKeyring ? "_ses." + id : nil
        plan.sessionKeyring = keyring

        try FileIO.makeDirectories(root, mode: 0o711)
        let stateDir = directory.directory(id)
        if mkdir(stateDir, 0o711) < 0 {
            if errno == EEXIST { throw RuntimeError(.alreadyExists, "container with id exists: \(id)") }
            throw RuntimeError.posix("creating \(stateDir)")
        }
        var cgroupPath: String?
        // Set when the init, its namespaces made, asks for the prestart/createRuntime hooks: a
        // failure from there on (a failing prestart, createRuntime or createContainer hook
        // included) destroys the container and then runs the poststop hooks, as the lifecycle
        // says ("continue the lifecycle at step 12") and as runc does.
        var environmentCreated = false
        do {
            return try directory.withLock(id) {
                let fifo = directory.fifo(id)
                // 0622 whatever the umask: the init may open it after switching to another uid.
                guard mkfifo(fifo, 0o622) == 0, chmod(fifo, 0o622) == 0 else { throw RuntimeError.posix("creating \(fifo)") }
                // The init opens exec.fifo relative to this fd of the state directory.
                let fifoFD = kujira_open_path(stateDir, 1)
                guard fifoFD >= 0 else { throw RuntimeError.posix("opening \(stateDir)") }
                defer { close(fifoFD) }
                var consoleFD: Int32?
                if let socket = options.consoleSocket {
                    let fd = kujira_unix_connect(socket)
                    guard fd >= 0 else { throw RuntimeError.posix("connecting to console socket \(socket)") }
                    consoleFD = fd
                }
                defer { if let consoleFD { close(consoleFD) } }

                var environment = InitSession.Environment(
                    initPath: try InitExecutable.locate(initPath), fifoFD: fifoFD, consoleFD: consoleFD,
                    uidMappings: spec.linux?.uidMappings ?? [], gidMappings: spec.linux?.gidMappings ?? [],
                    stdio: options.stdio)
                if let program = plan.seccomp, program.needsListener {
                    environment.seccompListener = { fd, pid in
                        let state = State(ociVersion: Spec.currentVersion, id: id, status: .creating, pid: Int(pid),
                                          bundle: bundlePath, annotations: spec.annotations)
                        try SeccompAgent.send(fd: fd, listenerPath: program.listenerPath ?? "", metadata: program.listenerMetadata,
                                              pid: pid, state: state)
                    }
                }
                // Joining a cgroup (the first write to a cgroup.procs) waits for an RCU grace
                // period in the kernel, 4-15 ms here. Without a cgroup namespace the container
                // process joins while it builds its rootfs: it is forked outside, runs only
                // kujira-init's own code until then, and the runtime handles the hooks and
                // "created" only after the join. A cgroup namespace's root is the cgroup of
                // the process that unshares it, so then the intermediate joins first.
                let cgroupNamespace = (spec.linux?.namespaces ?? []).contains { $0.type.rawValue == "cgroup" }
                var joinOnFork: String?
                let session = try InitSession.start(plan: &plan, environment: environment) { pid, plan in
                    guard let cgroups else { return }
                    let resources = DefaultDeviceRules.applied(to: spec.linux?.resources)
                    // Rootless: nil when the caller may not create a cgroup (+Rootless.swift).
                    guard let system, let path = try createCgroup(cgroups, id: id, spec: spec, resources: resources, system: system) else { return }
                    cgroupPath = path
                    try FileIO.writeNew(directory.cgroupFile(id), Array(path.utf8))
                    // The cgroup mount shows the container's own cgroup: recompute it now.
                    let layout: CgroupMountLayout
                    if let directories = cgroups.directories(cgroupPath: path) {
                        layout = runtimeLayout.joining(directories)
                        if cgroupNamespace { try cgroups.addProcess(pid, cgroupPath: path) } else { joinOnFork = path }
                    } else {
                        try cgroups.addProcess(pid, cgroupPath: path)
                        layout = try CgroupMountLayout.read(pid: String(pid))
                    }
                    plan = try InitPlan.forContainer(spec: spec, rootfs: rootfs, options: options, cgroupLayout: layout, seccomp: seccompCompiler)
                    plan.sessionKeyring = keyring
                    plan.awaitsJoin = joinOnFork != nil
                }
                try session.awaitCreated(environment: environment, containerForked: { pid in
                    if let joinOnFork, let cgroups {
                        RuntimeCrashPoint.pause("before-join")
                        try cgroups.addProcess(pid, cgroupPath: joinOnFork)
                        try session.notifyJoined()
                    }
                }) { pid in
                    environmentCreated = true
                    let state = State(ociVersion: Spec.currentVersion, id: id, status: .creating, pid: Int(pid),
                                      bundle: bundlePath, annotations: spec.annotations)
                    try HookRunner.run(spec.hooks?.prestart, stage: "prestart", state: state)
                    try HookRunner.run(spec.hooks?.createRuntime, stage: "createRuntime", state: state)
                    // The states for the hooks kujira-init runs: createContainer sees
                    // "creating", startContainer (after `start`) "created", as with runc.
                    guard !plan.hooks.isEmpty else { return [] }
                    var started = state
                    started.status = .created
                    return try HookRunner.encode(state) + [0] + HookRunner.encode(started) + [0]
                }
                guard let pid = session.containerPid, let info = ProcStat.stat(pid) else {
                    session.abort()
                    throw RuntimeError(.initFailed, "the init of container \(id) exited during create")
                }
                do {
                    try Self.moveNetDevices(of: spec, into: pid)
                    try resctrl?.apply(pid: pid)
                } catch {
                    session.abort()
                    throw error
                }
                RuntimeCrashPoint.hit("create-before-save")
                let record = ContainerRecord(
                    id: id, pid: pid, pidStartTime: info.startTime, bundle: bundlePath, rootfs: rootfs,
                    created: Self.timestamp(), owner: "", spec: spec, specJSON: specJSON, cgroupPath: cgroupPath,
                    sharesHostPIDNamespace: !(spec.linux?.namespaces ?? []).contains { $0.type.rawValue == "pid" })
                do {
                    try directory.save(record)
                    if let pidFile = options.pidFile { try FileIO.writeAtomically(absolute(pidFile), Array("\(pid)".utf8)) }
                } catch {
                    Glibc.kill(pid, SIGKILL)
                    throw error
                }
                return runcState(of: record)
            }
        } catch {
            if let cgroupPath, let cgroups { try? cgroups.destroy(cgroupPath: cgroupPath) }
            try? FileIO.removeTree(stateDir)
            if environmentCreated {
                let state = State(ociVersion: Spec.currentVersion, id: id, status: .stopped, pid: nil,
                                  bundle: bundlePath, annotations: spec.annotations)
                HookRunner.runWarning(spec.hooks?.poststop, stage: "poststop", state: state, warning: warning)
            }
            throw error
        }
    }

    /// Reads and decodes `<bundle>/config.json` (without Codable: SpecDecoding.swift), and
    /// returns its bytes too, which the state record keeps as they are.
    static func loadSpecDocument(bundle: String) throws -> (spec: Spec, json: [UInt8]) {
        guard let bytes = try FileIO.read(bundle + "/config.json") else {
            throw RuntimeError(.invalidConfig, "bundle \(bundle) has no config.json")
        }
        do {
            var parser = JSONParser(bytes)
            return (try Spec(json: try parser.parseDocument()), bytes)
        } catch {
            throw RuntimeError(.invalidConfig, "config.json in \(bundle) is not a valid runtime spec", cause: error)
        }
    }

    /// The current time in RFC 3339 with nanoseconds, as runc writes `created`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // Formatted by hand: String(format:) goes through CVarArg casts that cost more than
        // everything else here.
        func padded(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return padded(Int(parts.tm_year) + 1900, 4) + "-" + padded(Int(parts.tm_mon) + 1, 2) + "-" + padded(Int(parts.tm_mday), 2)
            + "T" + padded(Int(parts.tm_hour), 2) + ":" + padded(Int(parts.tm_min), 2) + ":" + padded(Int(parts.tm_sec), 2)
            + "." + padded(Int(now.tv_nsec), 9) + "Z"
    }
}

/// realpath(3), or nil if the path does not resolve.
func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// `path` made absolute against the current directory.
func absolute(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    var buffer = [CChar](repeating: 0, count: 4096)
    guard getcwd(&buffer, buffer.count) != nil else { return path }
    let length = buffer.firstIndex(of: 0) ?? buffer.count
    return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/" + path
}
