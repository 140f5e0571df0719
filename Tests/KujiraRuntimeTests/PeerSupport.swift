import CKujiraRuntime
import Foundation
import Glibc
import Testing

/// What the tests that drive real peers (podman, containerd) need: the tools on `PATH`, a
/// busybox image built offline, and a thorough cleanup of what the peers leave.
enum Peers {
    /// What PodmanTests drive.
    static let podmanTools = ["podman", "conmon", "umoci", "skopeo"]
    /// What ContainerdTests drive.
    static let containerdTools = ["containerd", "ctr", "containerd-shim-runc-v2", "umoci", "skopeo"]

    /// The absolute path of `name` on `PATH` (plus the sbin directories), or nil.
    static func tool(_ name: String) -> String? {
        let path = (Foundation.ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The tools of `names` that are missing.
    static func missing(_ names: [String]) -> [String] { names.filter { tool($0) == nil } }

    /// Whether a suite that needs `names` runs: as root with all of them, or when
    /// KUJIRA_REQUIRE_PRIVILEGED=1 (then `check` fails on what is missing).
    static func shouldRun(_ names: [String]) -> Bool {
        Privilege.required || (Privilege.isRoot && missing(names).isEmpty)
    }

    /// Fails when the test cannot run here (only reached when required or all is present).
    static func check(_ names: [String]) throws {
        try Privilege.check()
        let absent = missing(names)
        if !absent.isEmpty { throw TestFailure("missing tools: \(absent.joined(separator: ", ")) (apt-get install -y \(absent.joined(separator: " ")))") }
    }

    /// Starts `path` with `arguments`, stdin from /dev/null, stdout and stderr appended to the
    /// files named, and no other fd: posix_spawn with closefrom(3). Not Foundation's `Process`:
    /// the child inherits the socket `Process` watches for its exit, podman hands it on to the
    /// conmon it leaves running, and `waitUntilExit` then never returns.
    static func spawn(_ path: String, _ arguments: [String], stdout: String, stderr: String) throws -> pid_t {
        let fds = [open("/dev/null", O_RDONLY | O_CLOEXEC),
                   open(stdout, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644),
                   open(stderr, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)]
        defer { fds.filter { $0 >= 0 }.forEach { close($0) } }
        guard fds.allSatisfy({ $0 >= 0 }) else { throw TestFailure("open for \(path): errno \(errno)") }
        let environment = Foundation.ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let error = kujira_spawn(path, argv, envp, fds, [0, 1, 2], 3, 3, 0, &pid)
        guard error == 0 else { throw TestFailure("posix_spawn \(path): \(String(cString: strerror(error)))") }
        return pid
    }

    /// Waits for the child `pid`: its exit status, or 128 + the signal.
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Runs `tool` (found on PATH) and throws with its output when it fails.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String], allowFailure: Bool = false) throws -> CommandResult {
        guard let path = Peers.tool(tool) else { throw TestFailure("\(tool) is not installed") }
        let scratch = try Sandbox.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let status = wait(try spawn(path, arguments, stdout: scratch + "/out", stderr: scratch + "/err"))
        let read = { (name: String) in (try? String(contentsOfFile: scratch + "/" + name, encoding: .utf8)) ?? "" }
        let result = CommandResult(status: status, stdout: read("out"), stderr: read("err"))
        if result.status != 0 && !allowFailure {
            throw TestFailure("\(tool) \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)\(result.stdout)")
        }
        return result
    }

    /// Builds an OCI image layout `<directory>/layout:latest` whose one layer holds Debian's
    /// static busybox and its applet links (cmd `sh`), with umoci.
    static func busyboxLayout(in directory: String) throws -> String {
        let rootfs = directory + "/image-rootfs"
        let fm = FileManager.default
        for dir in ["bin", "etc", "proc", "sys", "dev", "tmp"] {
            try fm.createDirectory(atPath: rootfs + "/" + dir, withIntermediateDirectories: true)
        }
        try fm.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
        for applet in try runCommand("/bin/busybox", ["--list"]).stdout.split(separator: "\n") where applet != "busybox" {
            try? fm.createSymbolicLink(atPath: rootfs + "/bin/" + applet, withDestinationPath: "busybox")
        }
        let layout = directory + "/layout"
        try run("umoci", ["init", "--layout", layout])
        try run("umoci", ["new", "--image", layout + ":latest"])
        try run("umoci", ["insert", "--image", layout + ":latest", rootfs, "/"])
        try run("umoci", ["config", "--image", layout + ":latest", "--config.cmd=sh"])
        try fm.removeItem(atPath: rootfs)
        return layout
    }

    /// The mount points in /proc/self/mountinfo at or under `directory`.
    static func mounts(under directory: String) -> [String] {
        let text = readMountInfo()
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { return nil }
            // Octal escapes (\040 for a space) are left as they are: test paths have none.
            let point = String(fields[4])
            return point == directory || point.hasPrefix(directory + "/") ? point : nil
        }
    }

    /// Lazily unmounts everything at or under `directory`, deepest first.
    static func unmountAll(under directory: String) {
        for point in mounts(under: directory).sorted(by: { $0.count > $1.count }) {
            _ = umount2(point, Int32(MNT_DETACH))
        }
    }

    /// The pids whose command line mentions `text` (processes a peer started for a test).
    static func processes(mentioning text: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard pid != getpid(), let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\0", with: " ").contains(text)
        }
    }

    /// Removes a scratch directory after unmounting what is left under it.
    static func removeScratch(_ directory: String) {
        unmountAll(under: directory)
        try? FileManager.default.removeItem(atPath: directory)
    }
}
