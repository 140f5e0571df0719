// Rootless operation: kujira-runtime run by a user other than root, as runc does it.
//
// The container needs a user namespace whose maps the caller may write: its own uid and gid
// (runc's `spec --rootless`), written directly, with setgroups "deny" for a single gid; or
// subordinate ranges from /etc/subuid and /etc/subgid, written by the setuid helpers
// newuidmap/newgidmap. Device nodes are binds of the host's (mknod is not allowed in a user
// namespace; InitPlan+Spec binds them whenever the container has a user namespace). Cgroups are
// used where the caller may create them (runc's rootless cgroup manager): see
// ``ContainerRuntime/createCgroup(_:id:spec:resources:)``.

internal import CKujiraRuntime
import KujiraOCI
import Glibc

/// Whether the runtime runs without root on the host, as runc's global `--rootless`: it
/// decides how a cgroup the caller may not create is treated.
public enum RootlessMode: String, Sendable, CaseIterable {
    /// Rootless when the effective uid is not 0 or the runtime runs in a user namespace other
    /// than the initial one (the default, as runc's `auto`).
    case auto
    /// Always rootless.
    case enabled = "true"
    /// Never rootless: a cgroup that cannot be created fails `create`.
    case disabled = "false"

    /// Parses `--rootless`'s value (`auto`, `true`, `false`).
    public init(option: String) throws {
        guard let mode = RootlessMode(rawValue: option) else {
            throw RuntimeError(.invalidArgument, "invalid --rootless value \"\(option)\": use auto, true or false")
        }
        self = mode
    }
}

extension ContainerRuntime {
    /// The default state root for the calling user, as runc chooses its own: `/run/kujira` for
    /// root, `$XDG_RUNTIME_DIR/kujira` for anyone else when XDG_RUNTIME_DIR is set. Reads the
    /// effective uid from the auxiliary vector: no system call.
    public static var defaultRootForCaller: String {
        guard kujira_startup_euid() != 0, let xdg = getenv("XDG_RUNTIME_DIR"), xdg.pointee != 0 else { return defaultRoot }
        return String(cString: xdg) + "/kujira"
    }

    /// The user name owning `path` (`#uid` when it has none), as runc's `list` shows a
    /// container's owner: a rootless user's containers are theirs.
    static func ownerName(of path: String) -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { return "" }
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(st.st_uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name else {
            return "#\(st.st_uid)"
        }
        return String(cString: name)
    }

    /// Whether cgroup permission problems are tolerated (``rootless``; `auto` asks the kernel,
    /// which only happens once a cgroup could not be created).
    var isRootlessForCgroups: Bool {
        switch rootless {
        case .enabled: true
        case .disabled: false
        case .auto: geteuid() != 0 || Self.runsInUserNamespace
        }
    }

    /// Whether this process is in a user namespace other than the initial one (its uid_map is
    /// not the identity over all ids).
    static var runsInUserNamespace: Bool {
        guard let text = try? FileIO.readText("/proc/self/uid_map") else { return false }
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        return fields != ["0", "0", "4294967295"]
    }

    /// Creates the container's cgroup with `driver`, or, in rootless mode, returns nil when
    /// the caller may not create one, as runc 1.1's rootless cgroup manager does: device rules
    /// are dropped when only they were refused (they need root); a permission error is ignored
    /// when config.json names no `linux.cgroupsPath` and asks for no resource limits; with a
    /// limit it fails naming the controller ("cannot set memory limit: container could not
    /// join or create cgroup"); with a `cgroupsPath` the permission error itself fails `create`. Outside
    /// rootless mode (and whenever the cgroup can be made) this is exactly `driver.create`.
    func createCgroup(_ driver: any ContainerCgroupDriver, id: String, spec: Spec, resources: LinuxResources?,
                      system: CgroupSystem) throws -> String? {
        do {
            return try driver.create(containerID: id, cgroupsPath: spec.linux?.cgroupsPath, resources: resources, system: system)
        } catch {
            guard Self.isPermissionError(error), isRootlessForCgroups else { throw error }
            // A delegated hierarchy the caller may write to, where only the device rules
            // failed (they need root): the cgroup without them, as runc ignores device errors.
            if resources?.devices != nil {
                var withoutDevices = resources
                withoutDevices?.devices = nil
                if let path = try? driver.create(containerID: id, cgroupsPath: spec.linux?.cgroupsPath, resources: withoutDevices,
                                                 system: system) {
                    return path
                }
            }
            guard (spec.linux?.cgroupsPath ?? "").isEmpty else { throw error }
            if let controller = Self.firstLimitedController(spec.linux?.resources) {
                throw RuntimeError(.io, "cannot set \(controller) limit: container could not join or create cgroup (rootless: \(error))")
            }
            return nil
        }
    }

    /// Whether `error` (or a cause below it) is EACCES, EPERM or EROFS.
    static func isPermissionError(_ error: any Error) -> Bool {
        var current: (any Error)? = error
        while let e = current {
            switch e {
            case let c as CgroupErrno: if [EACCES, EPERM, EROFS].contains(c.value) { return true }
            case let t as ErrnoText: if [EACCES, EPERM, EROFS].contains(t.errno) { return true }
            default: break
            }
            if let c = e as? CgroupError { current = c.cause } else if let r = e as? RuntimeError { current = r.cause } else { current = nil }
        }
        return false
    }

    /// The first cgroup controller (in runc's order) that `resources` sets a limit for; device
    /// rules do not count (runc ignores them when rootless).
    static func firstLimitedController(_ resources: LinuxResources?) -> String? {
        guard let r = resources else { return nil }
        if let cpu = r.cpu, cpu.cpus?.isEmpty == false || cpu.mems?.isEmpty == false { return "cpuset" }
        if let m = r.memory, m.limit != nil || m.reservation != nil || m.swap != nil || m.kernel != nil
            || m.kernelTCP != nil || m.swappiness != nil || m.disableOOMKiller == true || m.useHierarchy != nil {
            return "memory"
        }
        if let c = r.cpu, c.shares != nil || c.quota != nil || c.period != nil || c.realtimeRuntime != nil
            || c.realtimePeriod != nil || c.idle != nil || c.burst != nil {
            return "cpu"
        }
        if r.pids != nil { return "pids" }
        if let b = r.blockIO, b.weight != nil || b.leafWeight != nil || b.weightDevice?.isEmpty == false
            || b.throttleReadBpsDevice?.isEmpty == false || b.throttleWriteBpsDevice?.isEmpty == false
            || b.throttleReadIOPSDevice?.isEmpty == false || b.throttleWriteIOPSDevice?.isEmpty == false {
            return "blkio"
        }
        if r.hugepageLimits?.isEmpty == false { return "hugetlb" }
        if r.network?.classID != nil { return "net_cls" }
        if r.network?.priorities?.isEmpty == false { return "net_prio" }
        if r.rdma?.isEmpty == false { return "rdma" }
        if r.unified?.isEmpty == false { return "unified" }
        return nil
    }
}

/// Writing the maps of a new user namespace (the init's intermediate, `pid`), as runc's nsexec:
/// directly when the caller is root or maps only its own uid/gid; through newuidmap/newgidmap
/// (setuid helpers that check /etc/subuid and /etc/subgid) otherwise.
enum UserNamespaceMaps {
    /// Writes uid_map and gid_map of `pid` (and setgroups "deny" when an unprivileged caller
    /// maps its own gid alone: the kernel requires it).
    static func write(pid: pid_t, uid: [LinuxIDMapping], gid: [LinuxIDMapping]) throws {
        let euid = geteuid()
        if euid == 0 {
            try FileIO.writeExisting("/proc/\(pid)/uid_map", text(uid))
            try FileIO.writeExisting("/proc/\(pid)/gid_map", text(gid))
            return
        }
        if isOwnIDOnly(uid, id: euid) {
            try writeRootless("/proc/\(pid)/uid_map", text(uid), what: "uid")
        } else {
            try helper("newuidmap", pid: pid, uid)
        }
        if isOwnIDOnly(gid, id: getegid()) {
            try writeRootless("/proc/\(pid)/setgroups", "deny", what: "setgroups")
            try writeRootless("/proc/\(pid)/gid_map", text(gid), what: "gid")
        } else {
            try helper("newgidmap", pid: pid, gid)
        }
    }

    /// For a process in a user namespace: when the caller is not root (runc's RootlessEUID),
    /// the process gets no supplementary groups (setgroups may be denied there) and asking for
    /// some fails, as with runc.
    static func restrictGroupsWhenRootless(_ plan: inout InitPlan) throws {
        guard geteuid() != 0 else { return }
        guard plan.additionalGids.isEmpty else {
            throw RuntimeError(.invalidConfig, "cannot set any additional groups in a rootless container (process.user.additionalGids)")
        }
        plan.setgroups = false
    }

    /// The maps as uid_map/gid_map text.
    static func text(_ maps: [LinuxIDMapping]) -> String {
        maps.map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.joined()
    }

    /// A single mapping of exactly `id` (the one map an unprivileged process may write itself).
    static func isOwnIDOnly(_ maps: [LinuxIDMapping], id: UInt32) -> Bool {
        maps.count == 1 && maps[0].hostID == id && maps[0].size == 1
    }

    private static func writeRootless(_ path: String, _ text: String, what: String) throws {
        do {
            try FileIO.writeExisting(path, text)
        } catch {
            throw RuntimeError(.io, "rootless: writing the \(what) map of the container's user namespace failed", cause: error)
        }
    }

    /// Runs newuidmap/newgidmap (found in $PATH, else /usr/bin) for `pid` with `maps`.
    private static func helper(_ name: String, pid: pid_t, _ maps: [LinuxIDMapping]) throws {
        guard let path = lookUp(name) else {
            throw RuntimeError(.unsupported, "rootless: config.json maps more than your own \(name == "newuidmap" ? "uid" : "gid"); that needs \(name) (Debian package uidmap) and ranges in /etc/sub\(name == "newuidmap" ? "uid" : "gid")")
        }
        let args = [name, String(pid)] + maps.flatMap { [String($0.containerID), String($0.hostID), String($0.size)] }
        var cArgs = args.map { strdup($0) } + [nil]
        let env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
        var cEnv = env.map { strdup($0) } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var pipeFDs: [Int32] = [-1, -1]
        guard kujira_pipe(&pipeFDs) == 0 else { throw RuntimeError.posix("pipe") }
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard null >= 0 else {
            close(pipeFDs[0]); close(pipeFDs[1])
            throw RuntimeError.posix("opening /dev/null")
        }
        var child: pid_t = 0
        let rc = kujira_spawn(path, &cArgs, &cEnv, [null, pipeFDs[1], pipeFDs[1]], [0, 1, 2], 3, 3, 0, &child)
        close(null)
        close(pipeFDs[1])
        defer { close(pipeFDs[0]) }
        guard rc == 0 else { throw RuntimeError.posix("starting \(path)", errno: rc) }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(pipeFDs[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            if output.count < 65536 { output += buffer[0..<n] }
        }
        let status = kujira_wait_exit(child)
        guard status == 0 else {
            let message = trimmingWhitespace(String(decoding: output, as: UTF8.self))
            throw RuntimeError(.io, "rootless: \(args.joined(separator: " ")) failed (exit status \(status)): \(message.isEmpty ? "no output" : message); check your ranges in /etc/sub\(name == "newuidmap" ? "uid" : "gid")")
        }
    }

    /// `name` in $PATH, else in /usr/bin.
    private static func lookUp(_ name: String) -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? ""
        for directory in path.split(separator: ":").map(String.init) + ["/usr/bin"] where directory.hasPrefix("/") {
            let candidate = directory + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
