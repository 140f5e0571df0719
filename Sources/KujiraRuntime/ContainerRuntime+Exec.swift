// `exec`: start another process in a running container.
//
//     let pid = try runtime.exec(id: "web", process: Process(args: ["ps"], cwd: "/"))
//     let status = try ContainerRuntime.waitForExit(pid: pid)   // after becomeSubreaper()
//
// kujira-init runs with a "join" plan: it opens /proc/<init>/ns/* and joins each namespace the
// runtime is not already in (the user namespace first), forks (a pid namespace applies to
// children), sets up the process like the container's init, and execs.

internal import CKujiraRuntime
public import KujiraOCI
import Glibc

/// Options of `exec` that are not in the process JSON.
public struct ExecOptions: Sendable {
    /// `--console-socket`, for a process with `terminal: true`.
    public var consoleSocket: String?
    /// `--pid-file`: where the new process's pid is written.
    public var pidFile: String?
    /// `--preserve-fds`: fds 3 … 3+n-1 of the caller stay open in the process.
    public var preserveFDs: UInt32
    /// The caller's fds that become the process's stdin, stdout and stderr (without a
    /// terminal); by default the caller's own 0-2.
    public var stdio: StdioFDs

    /// Creates options; all default to off, stdio to the caller's fds 0-2.
    public init(consoleSocket: String? = nil, pidFile: String? = nil, preserveFDs: UInt32 = 0,
                stdio: StdioFDs = StdioFDs()) {
        self.consoleSocket = consoleSocket
        self.pidFile = pidFile
        self.preserveFDs = preserveFDs
        self.stdio = stdio
    }
}

extension ContainerRuntime {
    /// Starts `process` in container `id` and returns its host pid once it has exec'd.
    @discardableResult
    public func exec(id: String, process: Process, options: ExecOptions = ExecOptions()) throws -> Int32 {
        try options.stdio.validate()
        let record = try directory.load(id)
        guard status(of: record) != .stopped else {
            throw RuntimeError(.invalidState, "cannot exec in a stopped container")
        }
        var plan = try InitPlan.forProcess(process, seccompSection: record.spec.linux?.seccomp, seccomp: seccompCompiler)
        plan.personality = try InitPlan.personality(record.spec.linux?.personality, warnings: &plan.warnings)
        plan.warnings.forEach(warning)
        plan.mode = .exec
        // The container's session keyring (created searchable by `create`), as runc's exec.
        plan.sessionKeyring = "_ses." + id
        plan.preserveFDs = options.preserveFDs
        plan.setsid = process.terminal == true
        for namespace in NamespaceFlags.all {
            let theirs = kujira_ns_inode(record.pid, namespace.procName)
            guard theirs != 0 else { continue }
            if theirs != kujira_ns_inode(getpid(), namespace.procName) {
                plan.joins.append(.init(flag: namespace.flag, path: "/proc/\(record.pid)/ns/\(namespace.procName)"))
            }
        }
        if plan.joins.contains(where: { $0.flag == NamespaceFlags.user }) { try UserNamespaceMaps.restrictGroupsWhenRootless(&plan) }
        if process.terminal == true {
            guard options.consoleSocket != nil else {
                throw RuntimeError(.consoleSocketRequired, "process.terminal is true: --console-socket is required")
            }
            if let size = process.consoleSize { plan.consoleSize = (UInt64(size.height), UInt64(size.width)) }
        }
        var consoleFD: Int32?
        if let socket = options.consoleSocket {
            let fd = kujira_unix_connect(socket)
            guard fd >= 0 else { throw RuntimeError.posix("connecting to console socket \(socket)") }
            consoleFD = fd
        }
        defer { if let consoleFD { close(consoleFD) } }
        var environment = InitSession.Environment(initPath: try InitExecutable.locate(initPath), fifoFD: nil, consoleFD: consoleFD,
                                                  stdio: options.stdio)
        if let program = plan.seccomp, program.needsListener {
            let state = State(ociVersion: Spec.currentVersion, id: id, status: .running, pid: Int(record.pid),
                              bundle: record.bundle, annotations: record.spec.annotations)
            environment.seccompListener = { fd, pid in
                try SeccompAgent.send(fd: fd, listenerPath: program.listenerPath ?? "", metadata: program.listenerMetadata,
                                      pid: pid, state: state)
            }
        }
        let initialAffinity = process.execCPUAffinity?.initial
        let session = try InitSession.start(plan: &plan, environment: environment) { pid, _ in
            // execCPUAffinity.initial: before the process joins the container's cgroup.
            if let initialAffinity, kujira_set_affinity(pid, initialAffinity) != 0 {
                throw RuntimeError.posix("setting the cpu affinity \(initialAffinity) (process.execCPUAffinity.initial)")
            }
            if let cgroups, let path = record.cgroupPath { try cgroups.addProcess(pid, cgroupPath: path) }
        }
        try session.awaitCreated(environment: environment) { _ in [] }
        try session.awaitExec()
        guard let pid = session.containerPid else { throw RuntimeError(.initFailed, "kujira-init reported no pid") }
        if let pidFile = options.pidFile { try FileIO.writeAtomically(absolute(pidFile), Array("\(pid)".utf8)) }
        return pid
    }
}
