internal import CKujiraRuntime
import KujiraOCI
import Glibc

/// A kujira-init process started by the runtime, and the parent's end of its socket.
///
/// `start` posix_spawns the sealed copy of kujira-init with exactly: the caller's fds 0-2
/// (passed through untouched — the runtime keeps no copy, runc#1721), the preserved fds
/// 3 … 3+n-1, the init socket, and the optional exec fifo and console socket. Then the
/// conversation of KujiraInitProtocol.h runs until the init reports "created".
final class InitSession {
    /// The spawned process (the "intermediate"); it exits once it reported the container pid.
    let intermediatePid: pid_t
    /// The container process (pid 1 of a new pid namespace), once reported.
    private(set) var containerPid: pid_t?
    private var socket: Int32
    /// Set once the intermediate has been waited for: its pid may be reused after that.
    private var intermediateReaped = false
    /// An exec: a process killed by `abort` is reaped when the caller is its parent.
    private var isExec = false

    /// What the parent-side conversation needs besides the plan.
    struct Environment {
        /// A kujira-init file, or nil for the image embedded in KujiraRuntime.
        var initPath: String?
        /// The parent's O_PATH fd of the state directory holding exec.fifo (create).
        var fifoFD: Int32?
        /// The parent's fd connected to --console-socket.
        var consoleFD: Int32?
        var uidMappings: [LinuxIDMapping] = []
        var gidMappings: [LinuxIDMapping] = []
        /// The caller's fds that become the init's (and so the container process's) 0-2.
        var stdio = StdioFDs()
        /// Passes a seccomp notify fd (and the container process's pid) on to the
        /// `listenerPath` agent; nil when the plan has no notify rules.
        var seccompListener: ((Int32, pid_t) throws -> Void)?
    }

    private init(intermediatePid: pid_t, socket: Int32) {
        self.intermediatePid = intermediatePid
        self.socket = socket
    }

    deinit { if socket >= 0 { close(socket) } }

    /// Spawns kujira-init for `plan` (whose fd numbers this fills in) and sends the plan.
    /// `afterSpawn` runs with the intermediate's pid before the plan is sent (the cgroup
    /// manager puts it into the container's cgroup there, so every descendant starts in it).
    static func start(plan: inout InitPlan, environment: Environment,
                      afterSpawn: (pid_t, inout InitPlan) throws -> Void) throws -> InitSession {
        let base = 3 + Int32(plan.preserveFDs)
        var pair: [Int32] = [-1, -1]
        guard kujira_socketpair(Int32(SOCK_STREAM.rawValue), &pair) == 0 else { throw RuntimeError.posix("socketpair") }
        let parentEnd = pair[0], childEnd = pair[1]
        defer { close(childEnd) }
        let memfd = try InitExecutable.sealedCopy(of: environment.initPath)

        // Sources are first moved above every target number, so no dup2 clobbers another source.
        var temporaries: [Int32] = []
        defer { temporaries.forEach { close($0) } }
        func lifted(_ fd: Int32) throws -> Int32 {
            let copy = kujira_dup_cloexec(fd, base + 16)
            guard copy >= 0 else { throw RuntimeError.posix("dup of fd \(fd)") }
            temporaries.append(copy)
            return copy
        }
        var from: [Int32] = [], to: [Int32] = []
        // A stdio fd other than the caller's own passes through a lifted copy, so that it may
        // be any number (another stdio target or a preserved fd included).
        for (target, source) in [environment.stdio.input, environment.stdio.output, environment.stdio.error].enumerated()
        where source != Int32(target) {
            guard source >= 0, fcntl(source, F_GETFD) >= 0 else {
                throw RuntimeError(.invalidArgument, "stdio fd \(source) (for the process's fd \(target)) is not open in this process")
            }
            from.append(try lifted(source)); to.append(Int32(target))
        }
        for fd in 3..<base { from.append(fd); to.append(fd) }
        from.append(try lifted(childEnd)); to.append(base)
        if let fifo = environment.fifoFD { from.append(try lifted(fifo)); to.append(base + 1); plan.fifoFD = base + 1 }
        if let console = environment.consoleFD { from.append(try lifted(console)); to.append(base + 2); plan.consoleFD = base + 2 }
        from.append(try lifted(memfd)); to.append(base + 3)

        let argv = ["kujira-init"], envp = ["\(KJ_INIT_FD_ENV)=\(base)"]
        var cArgv = argv.map { strdup($0) } + [nil], cEnvp = envp.map { strdup($0) } + [nil]
        defer { (cArgv + cEnvp).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = kujira_spawn("/proc/self/fd/\(base + 3)", &cArgv, &cEnvp, from, to, Int32(from.count), base + 4, 0, &pid)
        guard rc == 0 else {
            close(parentEnd)
            throw RuntimeError.posix("starting kujira-init (\(environment.initPath ?? "embedded"))", errno: rc)
        }
        let session = InitSession(intermediatePid: pid, socket: parentEnd)
        session.isExec = plan.mode == .exec
        do {
            try afterSpawn(pid, &plan)
            plan.fifoFD = environment.fifoFD.map { _ in base + 1 }
            plan.consoleFD = environment.consoleFD.map { _ in base + 2 }
            try session.send(type: KJ_MSG_PLAN, payload: plan.encoded())
        } catch {
            session.abort()
            throw error
        }
        return session
    }

    /// Runs the conversation until the init reports "created": writes id maps, runs `hooks`
    /// when the init asks (prestart and createRuntime; it returns the payload of the answer:
    /// the state JSON for the createContainer and startContainer hooks, each NUL-terminated),
    /// and turns an init error into a thrown ``RuntimeError``. Reaps the intermediate.
    /// `containerForked` runs with the container process's pid as soon as it is known, while
    /// that process builds the container (it sends nothing else before the hooks or
    /// "created", and those wait until `containerForked` returns).
    func awaitCreated(environment: Environment, containerForked: (pid_t) throws -> Void = { _ in },
                      hooks: (pid_t) throws -> [UInt8]) throws {
        do {
            while true {
                guard let (type, payload) = try receive() else {
                    var detail = ""
                    if !intermediateReaped {
                        detail = " (exit status \(kujira_wait_exit(intermediatePid)))"
                        intermediateReaped = true
                    }
                    throw RuntimeError(.initFailed, "kujira-init exited before the container was created" + detail)
                }
                switch type {
                case KJ_MSG_USERNS_READY:
                    try writeIDMaps(environment)
                    try send(type: KJ_MSG_USERNS_ACK, payload: [])
                case KJ_MSG_PID:
                    guard payload.count == 4 else { throw RuntimeError(.initFailed, "kujira-init sent a malformed pid message") }
                    let pid = pid_t(payload[0]) | pid_t(payload[1]) << 8 | pid_t(payload[2]) << 16 | pid_t(payload[3]) << 24
                    containerPid = pid
                    try containerForked(pid)
                    _ = kujira_wait_exit(intermediatePid)
                    intermediateReaped = true
                case KJ_MSG_HOOKS:
                    guard let containerPid else { throw RuntimeError(.initFailed, "kujira-init asked for hooks before reporting its pid") }
                    try send(type: KJ_MSG_HOOKS_ACK, payload: try hooks(containerPid))
                case KJ_MSG_SECCOMP_FD:
                    let fd = kujira_recv_fd(socket)
                    guard fd >= 0 else { throw RuntimeError.posix("receiving the seccomp notify fd from kujira-init") }
                    defer { close(fd) }
                    guard let containerPid, let listener = environment.seccompListener else {
                        throw RuntimeError(.initFailed, "kujira-init sent a seccomp notify fd that nobody listens for")
                    }
                    try listener(fd, containerPid)
                case KJ_MSG_CREATED:
                    guard containerPid != nil else { throw RuntimeError(.initFailed, "kujira-init reported created without a pid") }
                    return
                case KJ_MSG_ERROR:
                    throw InitReport(error: RuntimeError(.initFailed, String(decoding: payload, as: UTF8.self)))
                default:
                    throw RuntimeError(.initFailed, "kujira-init sent unknown message \(type)")
                }
            }
        } catch let report as InitReport {
            abort()
            throw report.error
        } catch {
            // The init may have failed on its own while the runtime was busy with its side
            // (joining the process to its cgroup, sending KJ_MSG_JOINED, a hook): its report,
            // not the runtime's broken pipe or ESRCH, says what is wrong.
            let reason = abortReadingReport()
            throw reason ?? error
        }
    }

    /// An error message received from kujira-init, told apart from the runtime's own errors.
    private struct InitReport: Error { let error: RuntimeError }

    /// Tells the container process that it is in its cgroups (a plan with `awaitsJoin`).
    func notifyJoined() throws {
        try send(type: KJ_MSG_JOINED, payload: [])
    }

    /// After "created" in exec mode: waits until the process has exec'd (the socket closes
    /// with CLOEXEC) or reports an exec error.
    func awaitExec() throws {
        if let (type, payload) = try receive() {
            abort()
            if type == KJ_MSG_ERROR { throw RuntimeError(.initFailed, String(decoding: payload, as: UTF8.self)) }
            throw RuntimeError(.initFailed, "kujira-init sent unexpected message \(type) after created")
        }
    }

    /// Kills the container process (if any) and reaps the intermediate.
    func abort() {
        killProcesses()
        if socket >= 0 { close(socket); socket = -1 }
    }

    /// `abort`, returning the error message the init sent before it ended, if there is one.
    /// Once both processes are killed nothing holds the init's end of the socket, so reading
    /// it to end of file cannot block.
    private func abortReadingReport() -> RuntimeError? {
        killProcesses()
        var report: RuntimeError?
        if socket >= 0 {
            while report == nil, let (type, payload) = try? receive() {
                if type == KJ_MSG_ERROR { report = RuntimeError(.initFailed, String(decoding: payload, as: UTF8.self)) }
            }
        }
        abort()
        return report
    }

    private func killProcesses() {
        if let containerPid {
            kill(containerPid, SIGKILL)
            // Once the intermediate is gone, an exec'd process belongs to the nearest child
            // subreaper: a monitor that runs health checks. Nobody else will ever reap it, and
            // while it is a zombie in the container's pid namespace the container's init cannot
            // finish exiting — the monitor, waiting for that init, hung for good. (A caller that
            // is not its parent gets ECHILD at once; a create's init is the caller's to wait for.)
            if isExec { _ = kujira_wait_exit(containerPid) }
        }
        if !intermediateReaped {
            kill(intermediatePid, SIGKILL)
            _ = kujira_wait_exit(intermediatePid)
            intermediateReaped = true
        }
    }

    /// Directly as root; rootless through ContainerRuntime+Rootless.swift's rules.
    private func writeIDMaps(_ environment: Environment) throws {
        try UserNamespaceMaps.write(pid: intermediatePid, uid: environment.uidMappings, gid: environment.gidMappings)
    }

    private func send(type: Int32, payload: [UInt8]) throws {
        var header: [UInt8] = []
        for value in [UInt32(type), UInt32(payload.count)] {
            header += (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
        }
        try FileIO.writeAll(socket, header + payload, what: "the kujira-init socket")
    }

    /// The next message, or nil at end of file.
    private func receive() throws -> (Int32, [UInt8])? {
        guard let header = try readExactly(8) else { return nil }
        let type = header[0..<4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let length = header[4..<8].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard length <= KJ_MSG_MAX else { throw RuntimeError(.initFailed, "kujira-init sent an oversized message") }
        guard let payload = try readExactly(Int(length)) else {
            throw RuntimeError(.initFailed, "kujira-init closed its socket in the middle of a message")
        }
        return (Int32(type), payload)
    }

    private func readExactly(_ count: Int) throws -> [UInt8]? {
        var result = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = result.withUnsafeMutableBytes { raw in read(socket, raw.baseAddress.map { $0 + offset }, count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw RuntimeError.posix("reading the kujira-init socket")
            }
            if n == 0 { return nil }
            offset += n
        }
        return result
    }
}
