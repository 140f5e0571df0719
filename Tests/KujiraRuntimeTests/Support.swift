import Foundation
import Glibc
import KujiraOCI
import KujiraRuntime
import Testing

/// Whether privileged tests run: as root, or forced with KUJIRA_REQUIRE_PRIVILEGED=1 (then a
/// missing privilege fails instead of skipping).
enum Privilege {
    static let required = Foundation.ProcessInfo.processInfo.environment["KUJIRA_REQUIRE_PRIVILEGED"] == "1"
    static let isRoot = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/busybox")
    /// The trait condition: run when root, or when required (and then fail in `check`).
    static let shouldRun = isRoot || required
    static let reason: Comment = "needs root and Debian's busybox-static (set KUJIRA_REQUIRE_PRIVILEGED=1 to fail instead of skip)"

    static func check() throws {
        if !isRoot { throw TestFailure("privileged test: not running as root or /bin/busybox is missing") }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ text: String) { description = text }
}

/// The directory the test bundle and the built executables are in.
let buildDirectory: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    return (exe as NSString).deletingLastPathComponent
}()

/// The result of running a command.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `executable` with `arguments`, stdin from `input`, and collects its output. Output goes
/// through files, not pipes: a container left running (after `create` or `run --detach`) keeps
/// the caller's stdio, as with runc, so a pipe would never reach end of file.
@discardableResult
func runCommand(_ executable: String, _ arguments: [String], input: String? = nil) throws -> CommandResult {
    let scratch = try Sandbox.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let paths = ["in", "out", "err"].map { scratch + "/" + $0 }
    try Data((input ?? "").utf8).write(to: URL(fileURLWithPath: paths[0]))
    for path in paths.dropFirst() { _ = FileManager.default.createFile(atPath: path, contents: nil) }
    let process = Foundation.Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardInput = FileHandle(forReadingAtPath: paths[0])
    // O_APPEND: the runtime and the container's init both write to them.
    process.standardOutput = FileHandle(fileDescriptor: open(paths[1], O_WRONLY | O_APPEND | O_CLOEXEC), closeOnDealloc: true)
    process.standardError = FileHandle(fileDescriptor: open(paths[2], O_WRONLY | O_APPEND | O_CLOEXEC), closeOnDealloc: true)
    try process.run()
    process.waitUntilExit()
    let read = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    return CommandResult(status: process.terminationStatus, stdout: read(paths[1]), stderr: read(paths[2]))
}

/// A scratch area for one test: a busybox bundle and a state root, removed (with any container
/// left in it) by `cleanup`.
final class Sandbox {
    let directory: String
    let root: String
    let bundle: String
    var spec: Spec
    let runtimePath = buildDirectory + "/kujira-runtime"

    /// A bundle whose rootfs is Debian's static busybox with all its applet links, configured
    /// like `runc spec` but without a terminal, running `script` with sh.
    init(script: String = "true") throws {
        try Privilege.check()
        directory = try Sandbox.temporaryDirectory()
        // Reachable by the mapped root of a user namespace (mkdtemp makes it 0700).
        chmod(directory, 0o755)
        root = directory + "/state"
        bundle = directory + "/bundle"
        let rootfs = bundle + "/rootfs"
        let fm = FileManager.default
        for dir in ["bin", "proc", "sys", "dev", "etc", "tmp"] {
            try fm.createDirectory(atPath: rootfs + "/" + dir, withIntermediateDirectories: true)
        }
        try fm.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
        let applets = try runCommand("/bin/busybox", ["--list"]).stdout.split(separator: "\n")
        for applet in applets where applet != "busybox" {
            try? fm.createSymbolicLink(atPath: rootfs + "/bin/" + applet, withDestinationPath: "busybox")
        }
        try "kujira-test\n".write(toFile: rootfs + "/etc/hostname", atomically: true, encoding: .utf8)
        spec = RuntimeTemplates.spec()
        spec.process?.terminal = false
        spec.process?.args = ["sh", "-c", script]
        // Tests run in parallel and reuse container ids ("c1"): without a cgroup path of the
        // sandbox's own, two tests' containers would share the default cgroup /c1, and one
        // test's delete would kill the other's processes.
        spec.linux?.cgroupsPath = "/kujira-test/" + URL(fileURLWithPath: directory).lastPathComponent
    }

    static func temporaryDirectory() throws -> String {
        var template = Array("/tmp/kujira-runtime-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        return String(cString: made)
    }

    var rootfs: String { bundle + "/rootfs" }

    func writeSpec() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(spec).write(to: URL(fileURLWithPath: bundle + "/config.json"))
    }

    /// Runs kujira-runtime with `--root` and `arguments`.
    @discardableResult
    func runtime(_ arguments: [String], input: String? = nil) throws -> CommandResult {
        try writeSpec()
        return try runCommand(runtimePath, ["--root", root] + arguments, input: input)
    }

    /// `run` of the bundle as container `id`: the container's output and exit status.
    func run(_ id: String = "c1", extra: [String] = []) throws -> CommandResult {
        try runtime(["run", "--bundle", bundle] + extra + [id])
    }

    /// The library API over the same state root.
    var api: ContainerRuntime { ContainerRuntime(root: root, initPath: buildDirectory + "/kujira-init") }

    /// Deletes every container left and removes the scratch directory.
    func cleanup() {
        for state in (try? api.list()) ?? [] { try? api.delete(id: state.id, force: true) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { cleanup() }
}

/// Waits up to 5 s for `condition`.
func eventually(_ condition: () throws -> Bool) rethrows -> Bool {
    for _ in 0..<500 {
        if try condition() { return true }
        usleep(10_000)
    }
    return false
}

/// /proc/self/mountinfo read to its end. `String(contentsOfFile:)` stops after the first page
/// of a /proc file (about 4 KiB), and tests running in parallel make the table longer than that.
func readMountInfo() -> String {
    String(decoding: FileHandle(forReadingAtPath: "/proc/self/mountinfo")?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
}
