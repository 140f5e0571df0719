public import KujiraOCI
internal import CKujiraRuntime
import Glibc
import Synchronization

/// An OCI runtime (runtime-spec 1.2): creates containers from bundles and manages them by id,
/// with state under ``root``. The runc-compatible command line (`Examples/kujira-runtime`) is a
/// thin layer over this type; each operation lives in its own file (`ContainerRuntime+Create`,
/// `+Start`, `+State`, `+Kill`, `+Delete`, `+Exec`, …).
///
/// ```swift
/// let runtime = ContainerRuntime(root: "/run/kujira")
/// try runtime.create(id: "web", bundle: "/srv/bundles/web")
/// try runtime.start(id: "web")
/// print(try runtime.state(id: "web").status)   // running
/// try runtime.kill(id: "web", signal: SIGTERM)
/// try runtime.delete(id: "web", force: true)
/// ```
///
/// The operations block on system calls (waiting for the init, for a process to exit); call
/// them from a thread that may block, as a command-line tool does.
public struct ContainerRuntime: Sendable {
    /// The state directory: `<root>/<id>/state.json` per container (runc's `--root`).
    public var root: String
    /// A kujira-init executable to start containers from; nil uses `$KUJIRA_INIT_PATH` when set,
    /// else the libc-only kujira-init embedded in KujiraRuntime at build time.
    public var initPath: String?
    /// The cgroup manager; nil puts containers into no cgroup of their own (and pause, resume,
    /// update and cgroup-based kill --all/ps are unavailable).
    public var cgroups: (any ContainerCgroupDriver)?
    /// Compiles `linux.seccomp`; nil refuses configs that ask for seccomp.
    public var seccompCompiler: SeccompCompilerFunction?
    /// Receives warnings that do not fail an operation (a failed poststart or poststop hook).
    public var warning: @Sendable (String) -> Void
    /// runc's `--rootless`: whether a cgroup the caller may not create is skipped (see
    /// ContainerRuntime+Rootless.swift). `auto` decides only once creating one failed.
    public var rootless: RootlessMode

    /// Compiles with libseccomp (``SeccompCompiler``), through a cache of compiled programs
    /// in `/run/kujira-seccomp-cache` keyed by the whole profile (see `SeccompCache`).
    public static let libseccompCompiler: SeccompCompilerFunction = { section, noNewPrivileges in
        try SeccompCache.compile(section, noNewPrivileges: noNewPrivileges) { section, noNewPrivileges in
            try SeccompCompiler.compile(section, noNewPrivileges: noNewPrivileges)
        }
    }

    /// The default state root.
    public static let defaultRoot = "/run/kujira"

    /// Creates a runtime over the state directory `root`.
    public init(root: String = ContainerRuntime.defaultRoot, initPath: String? = nil,
                cgroups: (any ContainerCgroupDriver)? = CgroupManagerDriver(),
                seccompCompiler: SeccompCompilerFunction? = ContainerRuntime.libseccompCompiler,
                warning: @escaping @Sendable (String) -> Void = { _ in }, rootless: RootlessMode = .auto) {
        self.root = root
        self.rootless = rootless
        self.initPath = initPath
        self.cgroups = cgroups
        self.seccompCompiler = seccompCompiler
        self.warning = warning
    }

    var directory: StateDirectory { StateDirectory(root: root) }

    /// The status of a recorded container, derived from its live process: `stopped` if the
    /// init is gone (or its pid was reused), `created` while it waits on the exec fifo,
    /// `paused` if its cgroup is frozen, else `running`.
    func status(of record: ContainerRecord) -> ContainerStatus {
        guard ProcStat.isAlive(record.pid, startTime: record.pidStartTime) else { return .stopped }
        if FileIO.exists(directory.fifo(record.id)) { return .created }
        if let cgroups, let path = record.cgroupPath, (try? cgroups.isFrozen(cgroupPath: path)) == true { return .paused }
        return .running
    }

    /// The runtime-spec state of a record, as runc prints it.
    func runcState(of record: ContainerRecord) -> RuncState {
        let status = status(of: record)
        return RuncState(ociVersion: Spec.currentVersion, id: record.id, pid: status == .stopped ? 0 : Int(record.pid),
                         status: status, bundle: record.bundle, rootfs: record.rootfs, created: record.created,
                         annotations: record.spec.annotations, owner: record.owner)
    }

    /// Makes this process a child subreaper, so that a container init (a grandchild, whose
    /// parent kujira-init exits) is reparented here and can be waited for: `run` and a
    /// non-detached `exec` call this before they start the process.
    public static func becomeSubreaper() throws {
        guard kujira_set_child_subreaper() == 0 else { throw RuntimeError.posix("PR_SET_CHILD_SUBREAPER") }
    }

    /// Runs `body` with this process a child subreaper and then puts the flag back as it was.
    /// For long-lived programs that embed the runtime (a builder in a daemon): while the flag
    /// is set, every orphan of the process is reparented to it and, unless reaped, stays a
    /// zombie, so it should be set only around waiting for a container.
    /// Calls may overlap (several builds at once): the flag is set by the first and put back
    /// by the last.
    public static func withSubreaper<T>(_ body: () throws -> T) throws -> T {
        try subreaperUsers.withLock { state in
            if state.count == 0 {
                state.wasSet = kujira_get_child_subreaper() == 1
                if !state.wasSet { try becomeSubreaper() }
            }
            state.count += 1
        }
        defer {
            subreaperUsers.withLock { state in
                state.count -= 1
                if state.count == 0 && !state.wasSet { _ = kujira_set_child_subreaper_value(0) }
            }
        }
        return try body()
    }

    /// How many ``withSubreaper(_:)`` calls are running, and whether the flag was set before
    /// the first of them.
    private static let subreaperUsers = Mutex<(count: Int, wasSet: Bool)>((0, false))

    /// Waits for `pid` (a child, or a descendant of a subreaper) and returns its exit code, or
    /// 128 + the signal number if a signal killed it.
    public static func waitForExit(pid: Int32) throws -> Int32 {
        let code = kujira_wait_exit(pid)
        guard code >= 0 else { throw RuntimeError.posix("waiting for process \(pid)") }
        return code
    }
}

/// Compiles a runtime-spec seccomp section into a BPF program for the container init; the
/// second argument is the process's `noNewPrivileges`.
public typealias SeccompCompilerFunction = @Sendable (LinuxSeccomp, Bool) throws -> SeccompProgram
