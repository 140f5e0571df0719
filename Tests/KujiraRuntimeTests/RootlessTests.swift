import CKujiraRuntime
import Foundation
import Glibc
import KujiraOCI
@testable import KujiraRuntime
import Testing

/// The rootless rules that need no container: `--rootless` values, which maps a user may write
/// itself, and runc's rootless cgroup decisions.
@Suite("Rootless rules")
struct RootlessRuleTests {
    @Test func rootlessOptionValues() throws {
        #expect(try RootlessMode(option: "auto") == .auto)
        #expect(try RootlessMode(option: "true") == .enabled)
        #expect(try RootlessMode(option: "false") == .disabled)
        #expect(throws: RuntimeError.self) { try RootlessMode(option: "yes") }
    }

    @Test func ownIDOnlyMapsAreWrittenDirectly() {
        #expect(UserNamespaceMaps.isOwnIDOnly([LinuxIDMapping(containerID: 0, hostID: 1000, size: 1)], id: 1000))
        #expect(!UserNamespaceMaps.isOwnIDOnly([LinuxIDMapping(containerID: 0, hostID: 1000, size: 2)], id: 1000))
        #expect(!UserNamespaceMaps.isOwnIDOnly([LinuxIDMapping(containerID: 0, hostID: 1001, size: 1)], id: 1000))
        #expect(!UserNamespaceMaps.isOwnIDOnly([LinuxIDMapping(containerID: 0, hostID: 1000, size: 1),
                                                LinuxIDMapping(containerID: 1, hostID: 100000, size: 10)], id: 1000))
    }

    @Test func limitedControllerInRuncOrder() {
        #expect(ContainerRuntime.firstLimitedController(nil) == nil)
        // Device rules alone do not count: runc ignores them when rootless.
        #expect(ContainerRuntime.firstLimitedController(LinuxResources(devices: [LinuxDeviceCgroup(allow: false, access: "rwm")])) == nil)
        var resources = LinuxResources()
        resources.pids = LinuxPids(limit: 10)
        #expect(ContainerRuntime.firstLimitedController(resources) == "pids")
        resources.memory = LinuxMemory(limit: 1 << 26)
        #expect(ContainerRuntime.firstLimitedController(resources) == "memory")
    }

    @Test func permissionErrorsAreFoundInCauses() {
        let denied = CgroupError(.directory, "cannot create cgroup directory /sys/fs/cgroup/pids/x", cause: CgroupErrno(EACCES))
        #expect(ContainerRuntime.isPermissionError(denied))
        #expect(ContainerRuntime.isPermissionError(RuntimeError(.io, "wrapped", cause: denied)))
        #expect(!ContainerRuntime.isPermissionError(CgroupError(.directory, "busy", cause: CgroupErrno(EBUSY))))
    }
}

/// A user made for one test (`useradd -M`, a unique name) and deleted when the test ends, with
/// optional subordinate id ranges in /etc/subuid and /etc/subgid (userdel removes them).
final class TestUser {
    let name: String
    let uid: UInt32
    let gid: UInt32
    /// The first subordinate uid and gid (65536 of each), when asked for.
    let subordinateStart: UInt32?

    init(subordinateIDs: Bool = false) throws {
        var made: String?
        // useradd fails while another process holds /etc/passwd's lock: try again.
        for attempt in 0..<50 {
            let candidate = "kjrl\(getpid() % 10000)x\(UInt32.random(in: 0..<1_000_000))"
            let result = try runCommand("/usr/sbin/useradd", ["-M", "-s", "/bin/sh", candidate])
            if result.status == 0 { made = candidate; break }
            if attempt == 49 { throw TestFailure("useradd \(candidate): \(result.stderr)") }
            usleep(100_000)
        }
        guard let made, let entry = getpwnam(made) else { throw TestFailure("useradd made no user") }
        name = made
        uid = entry.pointee.pw_uid
        gid = entry.pointee.pw_gid
        if subordinateIDs {
            // A range of this user's own, above anything Debian hands out by default.
            let start = 1_000_000_000 + (uid % 10000) * 65536
            subordinateStart = start
            let range = "\(start)-\(start + 65535)"
            var added = try runCommand("/usr/sbin/usermod", ["--add-subuids", range, "--add-subgids", range, name])
            for _ in 0..<50 where added.status != 0 {
                usleep(100_000)
                added = try runCommand("/usr/sbin/usermod", ["--add-subuids", range, "--add-subgids", range, name])
            }
            if added.status != 0 { throw TestFailure("usermod --add-subuids: \(added.stderr)") }
        } else {
            subordinateStart = nil
        }
    }

    /// Runs `executable` as this user (setpriv, with the user's groups) with extra environment.
    func run(_ executable: String, _ arguments: [String], environment: [String] = []) throws -> CommandResult {
        try runCommand("/usr/bin/setpriv", ["--reuid", name, "--regid", name, "--init-groups", "--",
                                             "/usr/bin/env"] + environment + [executable] + arguments)
    }

    /// A directory under `parent` owned by this user.
    func ownedDirectory(_ path: String) throws -> String {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard chown(path, uid, gid) == 0 else { throw TestFailure("chown \(path): \(String(cString: strerror(errno)))") }
        return path
    }

    deinit {
        for _ in 0..<50 {
            guard let result = try? runCommand("/usr/sbin/userdel", [name]), result.status != 0 else { break }
            if result.status == 6 { break }  // no such user
            usleep(100_000)
        }
    }
}

/// The tools the rootless tests run (util-linux's setpriv, shadow's user tools).
enum RootlessTools {
    static let present = ["/usr/bin/setpriv", "/usr/sbin/useradd", "/usr/sbin/userdel", "/usr/sbin/usermod"]
        .allSatisfy { FileManager.default.isExecutableFile(atPath: $0) } || Privilege.required
}

/// kujira-runtime run by a user other than root, compared with runc run the same way.
@Suite("Rootless containers", .enabled(if: Privilege.shouldRun && RootlessTools.present, Privilege.reason))
struct RootlessContainerTests {
    static let runc = "/usr/sbin/runc"

    /// kujira-runtime where the test user can execute it: a copy in the sandbox (0755) — the
    /// build directory may sit in a checkout the user cannot enter (a clone under a 0700
    /// `mktemp -d`).
    static func userRuntime(_ box: Sandbox) throws -> String {
        let copy = box.directory + "/kujira-runtime"
        if !FileManager.default.fileExists(atPath: copy) {
            // A hard link where the checkout shares /tmp's filesystem, else a copy.
            if link(box.runtimePath, copy) != 0 { try FileManager.default.copyItem(atPath: box.runtimePath, toPath: copy) }
            chmod(copy, 0o755)
        }
        return copy
    }

    /// A busybox sandbox whose config.json is what `kujira-runtime spec --rootless` writes when
    /// `user` runs it, running `script` without a terminal, and a state root of the user's.
    static func sandbox(_ user: TestUser, script: String) throws -> (box: Sandbox, root: String) {
        let box = try Sandbox(script: script)
        let specDir = try user.ownedDirectory(box.directory + "/spec")
        let made = try user.run(try Self.userRuntime(box), ["spec", "--rootless", "--bundle", specDir])
        try #require(made.status == 0, "\(made.stderr)")
        var spec = try JSONDecoder().decode(Spec.self, from: Data(contentsOf: URL(fileURLWithPath: specDir + "/config.json")))
        spec.process?.terminal = false
        spec.process?.args = ["sh", "-c", script]
        box.spec = spec
        try box.writeSpec()
        return (box, try user.ownedDirectory(box.directory + "/user-state"))
    }

    /// `kujira-runtime --root root ARGS` as `user`.
    static func runtime(_ user: TestUser, _ box: Sandbox, root: String, _ arguments: [String]) throws -> CommandResult {
        try user.run(try Self.userRuntime(box), ["--root", root] + arguments)
    }

    /// The same `run` with runc as `user`, when runc is installed.
    static func runcRun(_ user: TestUser, _ box: Sandbox, id: String) throws -> CommandResult? {
        guard FileManager.default.isExecutableFile(atPath: runc) else { return nil }
        let root = try user.ownedDirectory(box.directory + "/runc-state")
        defer { _ = try? user.run(runc, ["--root", root, "delete", "--force", id]) }
        return try user.run(runc, ["--root", root, "run", "--bundle", box.bundle, id])
    }

    @Test func runIsRootInsideAndTheUserOutside() throws {
        let user = try TestUser()
        let (box, root) = try Self.sandbox(user, script: "id; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; ls -n /dev/null")
        defer { box.cleanup() }
        let ours = try Self.runtime(user, box, root: root, ["run", "--bundle", box.bundle, "r1"])
        #expect(ours.status == 0, "\(ours.stderr)")
        let lines = ours.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines.first == "uid=0 gid=0 groups=0")
        #expect(lines.dropFirst().prefix(3) == ["0 \(user.uid) 1", "0 \(user.gid) 1", "deny"])
        // /dev/null is the host's node, bound (its owner, root, is unmapped here).
        #expect(lines.last?.hasPrefix("crw-rw-rw- 1 65534 65534 1, 3") == true, "\(ours.stdout)")
        if let theirs = try Self.runcRun(user, box, id: "r1") {
            #expect(theirs.status == 0, "\(theirs.stderr)")
            #expect(ours.stdout == theirs.stdout)
        }
    }

    /// create, state, start, exec, list, kill, delete as `user` with `binary` (kujira-runtime or
    /// runc): the statuses seen, the owner `list` shows, and the host uids of the init.
    static func lifecycle(_ binary: String, _ user: TestUser, _ box: Sandbox, root: String, id: String) throws -> [String] {
        var seen: [String] = []
        func call(_ arguments: [String]) throws -> CommandResult { try user.run(binary, ["--root", root] + arguments) }
        func status() throws -> String {
            let state = try JSONDecoder().decode(RuncState.self, from: Data(try call(["state", id]).stdout.utf8))
            return state.status.rawValue
        }
        let created = try call(["create", "--bundle", box.bundle, id])
        try #require(created.status == 0, "\(binary): \(created.stderr)")
        defer { _ = try? call(["delete", "--force", id]) }
        seen.append(try status())
        let pid = try JSONDecoder().decode(RuncState.self, from: Data(try call(["state", id]).stdout.utf8)).pid
        let procStatus = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let uids = procStatus.split(separator: "\n").first { $0.hasPrefix("Uid:") }.map { $0.split(whereSeparator: \.isWhitespace).dropFirst().joined(separator: " ") }
        seen.append("host uids " + (uids ?? "?"))
        seen.append("uid_map " + (try String(contentsOfFile: "/proc/\(pid)/uid_map", encoding: .utf8)).split(whereSeparator: \.isWhitespace).joined(separator: " "))
        #expect(try call(["start", id]).status == 0)
        seen.append(try status())
        let exec = try call(["exec", id, "id"])
        seen.append("exec \(exec.status) " + exec.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let listed = try call(["list"]).stdout.split(separator: "\n").dropFirst().map { $0.split(whereSeparator: \.isWhitespace) }
        seen.append("owner " + (listed.first { $0.first.map(String.init) == id }?.last.map(String.init) ?? "?"))
        #expect(try call(["kill", id, "KILL"]).status == 0)
        #expect(try eventually { try status() == "stopped" })
        seen.append(try status())
        let deleted = try call(["delete", id])
        #expect(deleted.status == 0, "\(binary): \(deleted.stderr)")
        seen.append(FileManager.default.fileExists(atPath: root + "/" + id) ? "state left" : "state gone")
        return seen
    }

    @Test func lifecycleAsTheUser() throws {
        let user = try TestUser()
        let (box, root) = try Self.sandbox(user, script: "exec sleep 1000")
        defer { box.cleanup() }
        let ours = try Self.lifecycle(try Self.userRuntime(box), user, box, root: root, id: "l1")
        #expect(ours == ["created", "host uids \(user.uid) \(user.uid) \(user.uid) \(user.uid)", "uid_map 0 \(user.uid) 1",
                         "running", "exec 0 uid=0 gid=0 groups=0", "owner \(user.name)", "stopped", "state gone"])
        if FileManager.default.isExecutableFile(atPath: Self.runc) {
            let runcRoot = try user.ownedDirectory(box.directory + "/runc-state")
            #expect(try Self.lifecycle(Self.runc, user, box, root: runcRoot, id: "l1") == ours)
        }
    }

    @Test func defaultRootIsTheUsersRuntimeDirectory() throws {
        let user = try TestUser()
        let (box, _) = try Self.sandbox(user, script: "true")
        defer { box.cleanup() }
        let xdg = try user.ownedDirectory(box.directory + "/xdg")
        let created = try user.run(try Self.userRuntime(box), ["create", "--bundle", box.bundle, "x1"], environment: ["XDG_RUNTIME_DIR=" + xdg])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(FileManager.default.fileExists(atPath: xdg + "/kujira/x1/state.json"))
        let deleted = try user.run(try Self.userRuntime(box), ["delete", "--force", "x1"], environment: ["XDG_RUNTIME_DIR=" + xdg])
        #expect(deleted.status == 0, "\(deleted.stderr)")
    }

    /// Cgroup v1 here is not delegated: without limits the container runs without a cgroup of
    /// its own; a limit fails naming the controller, a cgroupsPath with the permission error,
    /// as with runc 1.1.
    @Test func cgroupsAreSkippedOnlyWithoutLimitsOrPath() throws {
        let user = try TestUser()
        let (box, root) = try Self.sandbox(user, script: "true")
        defer { box.cleanup() }
        box.spec.linux?.resources = LinuxResources(pids: LinuxPids(limit: 100))
        try box.writeSpec()
        let limited = try Self.runtime(user, box, root: root, ["run", "--bundle", box.bundle, "g1"])
        #expect(limited.status != 0)
        #expect(limited.stderr.contains("cannot set pids limit: container could not join or create cgroup"), "\(limited.stderr)")
        if let theirs = try Self.runcRun(user, box, id: "g1") {
            #expect(theirs.status != 0 && theirs.stderr.contains("cannot set pids limit: container could not join or create cgroup"))
        }
        box.spec.linux?.resources = nil
        box.spec.linux?.cgroupsPath = "/kujira-rootless-" + URL(fileURLWithPath: box.directory).lastPathComponent
        try box.writeSpec()
        let withPath = try Self.runtime(user, box, root: root, ["run", "--bundle", box.bundle, "g2"])
        #expect(withPath.status != 0)
        #expect(withPath.stderr.contains("Permission denied"), "\(withPath.stderr)")
        box.spec.linux?.cgroupsPath = nil
        try box.writeSpec()
        #expect(try Self.runtime(user, box, root: root, ["--rootless", "false", "run", "--bundle", box.bundle, "g3"]).status != 0)
        let plain = try Self.runtime(user, box, root: root, ["--rootless", "true", "run", "--bundle", box.bundle, "g4"])
        #expect(plain.status == 0, "\(plain.stderr)")
    }

    /// A cgroup v1 subtree delegated to the user (what a login manager does: a directory per
    /// hierarchy owned by the user, cpuset filled in): the container gets its cgroup there with
    /// its limits; the device rules, which need root, are dropped, as runc drops them.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids/cgroup.procs")))
    func delegatedCgroupSubtreeIsUsed() throws {
        let user = try TestUser()
        let (box, root) = try Self.sandbox(user, script: "exec sleep 1000")
        defer { box.cleanup() }
        let fm = FileManager.default
        let name = "kujira-delegated-" + URL(fileURLWithPath: box.directory).lastPathComponent
        let hierarchies = try fm.contentsOfDirectory(atPath: "/sys/fs/cgroup").map { "/sys/fs/cgroup/" + $0 }.filter {
            (try? fm.destinationOfSymbolicLink(atPath: $0)) == nil && fm.fileExists(atPath: $0 + "/cgroup.procs") && fm.fileExists(atPath: $0 + "/tasks")
        }
        defer {
            for hierarchy in hierarchies {
                for id in ["k1", "r1"] { rmdir(hierarchy + "/" + name + "/" + id) }
                rmdir(hierarchy + "/" + name)
            }
        }
        for hierarchy in hierarchies {
            let directory = hierarchy + "/" + name
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: false)
            if hierarchy.hasSuffix("/cpuset") {
                for file in ["cpuset.cpus", "cpuset.mems"] {
                    try String(contentsOfFile: hierarchy + "/" + file, encoding: .utf8).write(toFile: directory + "/" + file, atomically: false, encoding: .utf8)
                }
            }
            for entry in [""] + (try fm.contentsOfDirectory(atPath: directory)).map({ "/" + $0 }) { chown(directory + entry, user.uid, user.gid) }
        }
        box.spec.linux?.resources = LinuxResources(devices: [LinuxDeviceCgroup(allow: false, access: "rwm")], pids: LinuxPids(limit: 50))
        func check(_ binary: String, root: String, id: String) throws {
            func call(_ arguments: [String]) throws -> CommandResult { try user.run(binary, ["--root", root] + arguments) }
            box.spec.linux?.cgroupsPath = "/" + name + "/" + id
            try box.writeSpec()
            let created = try call(["create", "--bundle", box.bundle, id])
            try #require(created.status == 0, "\(binary): \(created.stderr)")
            defer { _ = try? call(["delete", "--force", id]) }
            let state = try JSONDecoder().decode(RuncState.self, from: Data(try call(["state", id]).stdout.utf8))
            let cgroups = try String(contentsOfFile: "/proc/\(state.pid)/cgroup", encoding: .utf8)
            #expect(cgroups.contains(":pids:/\(name)/\(id)\n"), "\(binary): \(cgroups)")
            #expect(try String(contentsOfFile: "/sys/fs/cgroup/pids/\(name)/\(id)/pids.max", encoding: .utf8) == "50\n", "\(binary)")
            #expect(try call(["delete", "--force", id]).status == 0)
        }
        try check(try Self.userRuntime(box), root: root, id: "k1")
        #expect(!fm.fileExists(atPath: "/sys/fs/cgroup/pids/\(name)/k1"))
        if fm.isExecutableFile(atPath: Self.runc) {
            try check(Self.runc, root: try user.ownedDirectory(box.directory + "/runc-state"), id: "r1")
        }
    }

    /// `spec --rootless` keeps `terminal: true`: the pty of the container's own devpts reaches
    /// --console-socket, and a shell answers on it.
    @Test func terminalThroughTheConsoleSocket() throws {
        let user = try TestUser()
        let (box, root) = try Self.sandbox(user, script: "true")
        defer { box.cleanup() }
        box.spec.process?.terminal = true
        box.spec.process?.args = ["sh"]
        try box.writeSpec()
        let socketPath = box.directory + "/console.sock"
        let listener = kujira_unix_listen(socketPath)
        try #require(listener >= 0)
        defer { close(listener) }
        chmod(socketPath, 0o777)
        let created = try Self.runtime(user, box, root: root, ["create", "--bundle", box.bundle, "--console-socket", socketPath, "p1"])
        try #require(created.status == 0, "\(created.stderr)")
        defer { _ = try? Self.runtime(user, box, root: root, ["delete", "--force", "p1"]) }
        let connection = accept(listener, nil, nil)
        try #require(connection >= 0)
        defer { close(connection) }
        let master = kujira_recv_fd(connection)
        try #require(master >= 0)
        defer { close(master) }
        #expect(try Self.runtime(user, box, root: root, ["start", "p1"]).status == 0)
        let command = Array("id -u; tty\n".utf8)
        _ = command.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
        var seen = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<200 where !seen.contains("/dev/pts/0\r\n") {
            var poller = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 50) > 0 {
                let n = read(master, &buffer, buffer.count)
                if n > 0 { seen += String(decoding: buffer[0..<n], as: UTF8.self) }
            }
        }
        #expect(seen.contains("0\r\n/dev/pts/0\r\n"), "pty output: \(seen)")
    }

    @Test func refusalsMatchRunc() throws {
        let user = try TestUser()
        let (box, root) = try Self.sandbox(user, script: "true")
        defer { box.cleanup() }
        box.spec.process?.user.additionalGids = [5]
        try box.writeSpec()
        let groups = try Self.runtime(user, box, root: root, ["run", "--bundle", box.bundle, "f1"])
        #expect(groups.status != 0 && groups.stderr.contains("cannot set any additional groups in a rootless container"), "\(groups.stderr)")
        box.spec.process?.user.additionalGids = nil
        let withoutUser = (box.spec.linux?.namespaces ?? []).filter { $0.type.rawValue != "user" }
        box.spec.linux?.namespaces = withoutUser
        try box.writeSpec()
        let noUserNamespace = try Self.runtime(user, box, root: root, ["run", "--bundle", box.bundle, "f2"])
        #expect(noUserNamespace.status != 0 && noUserNamespace.stderr.contains("rootless container requires user namespaces"), "\(noUserNamespace.stderr)")
        box.spec.linux?.namespaces = withoutUser + [LinuxNamespace(type: .user)]
        let map = [LinuxIDMapping(containerID: 0, hostID: user.uid, size: 1)]
        box.spec.mounts = (box.spec.mounts ?? []) + [Mount(destination: "/data", type: "bind", source: box.directory, options: ["bind"], uidMappings: map, gidMappings: map)]
        try box.writeSpec()
        let idmapped = try Self.runtime(user, box, root: root, ["run", "--bundle", box.bundle, "f4"])
        #expect(idmapped.status != 0 && idmapped.stderr.contains("not available to a rootless container"), "\(idmapped.stderr)")
        let bogus = try Self.runtime(user, box, root: root, ["--rootless", "maybe", "run", "--bundle", box.bundle, "f3"])
        #expect(bogus.status != 0 && bogus.stderr.contains("invalid --rootless value"), "\(bogus.stderr)")
    }

    /// oom_score_adj may be raised but not lowered; a sysctl of the container's own ipc
    /// namespace may be set: as with runc.
    @Test func oomScoreAdjAndSysctlsAsRunc() throws {
        let user = try TestUser()
        let (box, root) = try Self.sandbox(user, script: "cat /proc/self/oom_score_adj /proc/sys/kernel/shmmax")
        defer { box.cleanup() }
        box.spec.linux?.sysctl = ["kernel.shmmax": "123456789"]
        box.spec.process?.oomScoreAdj = 100
        try box.writeSpec()
        let raised = try Self.runtime(user, box, root: root, ["run", "--bundle", box.bundle, "o1"])
        #expect(raised.status == 0, "\(raised.stderr)")
        #expect(raised.stdout == "100\n123456789\n")
        if let theirs = try Self.runcRun(user, box, id: "o1") { #expect(theirs.stdout == raised.stdout, "\(theirs.stderr)") }
        box.spec.process?.oomScoreAdj = -100
        try box.writeSpec()
        let lowered = try Self.runtime(user, box, root: root, ["run", "--bundle", box.bundle, "o2"])
        #expect(lowered.status != 0 && lowered.stderr.contains("oom_score_adj"), "\(lowered.stderr)")
        if let theirs = try Self.runcRun(user, box, id: "o2") { #expect(theirs.status != 0) }
    }

    /// More than the user's own id: newuidmap/newgidmap with /etc/subuid and /etc/subgid.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/newuidmap") || Privilege.required))
    func subordinateRangesGoThroughNewuidmap() throws {
        let user = try TestUser(subordinateIDs: true)
        let start = try #require(user.subordinateStart)
        let (box, root) = try Self.sandbox(user, script: "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; touch /tmp/f; stat -c %u:%g /tmp/f")
        defer { box.cleanup() }
        // The process runs as 1000 (a subordinate id on the host) and writes to /tmp.
        chmod(box.rootfs + "/tmp", 0o1777)
        box.spec.root?.readonly = false
        box.spec.process?.user.uid = 1000
        box.spec.process?.user.gid = 1000
        box.spec.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: user.uid, size: 1), LinuxIDMapping(containerID: 1, hostID: start, size: 65536)]
        box.spec.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: user.gid, size: 1), LinuxIDMapping(containerID: 1, hostID: start, size: 65536)]
        try box.writeSpec()
        let ours = try Self.runtime(user, box, root: root, ["run", "--bundle", box.bundle, "s1"])
        #expect(ours.status == 0, "\(ours.stderr)")
        let lines = ours.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines == ["0 \(user.uid) 1", "1 \(start) 65536", "0 \(user.gid) 1", "1 \(start) 65536", "allow", "1000:1000"])
        // Written on the host as the subordinate ids.
        var st = stat()
        #expect(stat(box.rootfs + "/tmp/f", &st) == 0 && st.st_uid == start + 999 && st.st_gid == start + 999)
        if let theirs = try Self.runcRun(user, box, id: "s1") {
            #expect(theirs.status == 0, "\(theirs.stderr)")
            #expect(ours.stdout == theirs.stdout)
        }
    }
}
