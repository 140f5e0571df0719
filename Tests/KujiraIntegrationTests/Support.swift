import Foundation
import Testing

/// What the integration tests need from the machine, and how they run the `kujira` example
/// and the peers (umoci, skopeo, …) as real processes.
enum Host {
    /// CI sets `KUJIRA_REQUIRE_PRIVILEGED=1`: then a missing peer or missing root is a
    /// failure, never a skip.
    static let requirePrivileged = ProcessInfo.processInfo.environment["KUJIRA_REQUIRE_PRIVILEGED"] == "1"

    static var isRoot: Bool { geteuid() == 0 }

    /// Finds an executable on PATH.
    static func which(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(tool)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Whether a test that needs `tools` (and root, if `root`) should run: yes when they are
    /// present, and always under `KUJIRA_REQUIRE_PRIVILEGED=1` so that their absence fails.
    static func has(_ tools: [String], root: Bool = false) -> Bool {
        if requirePrivileged { return true }
        if root && !isRoot { return false }
        return tools.allSatisfy { which($0) != nil }
    }

    /// The `kujira` binary under test: `KUJIRA_BIN`, else next to the test bundle.
    static var kujira: String {
        if let bin = ProcessInfo.processInfo.environment["KUJIRA_BIN"] { return bin }
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // The test runner is .build/<config>/KujiraPackageTests.xctest (a file on Linux).
        return dir.appendingPathComponent("kujira").path
    }
}

/// The result of a finished process.
struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var succeeded: Bool { status == 0 }
}

/// Runs `executable` with `arguments` to completion and captures its output.
@discardableResult
func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ProcessResult {
    let process = Process()
    if executable.hasPrefix("/") {
        process.executableURL = URL(fileURLWithPath: executable)
    } else {
        guard let path = Host.which(executable) else {
            throw TestFailure("\(executable) is not installed: run scripts/test.sh, which installs the test peers")
        }
        process.executableURL = URL(fileURLWithPath: path)
    }
    process.arguments = arguments
    if let environment {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Drain both pipes concurrently with the process so a large output cannot block it.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return ProcessResult(
        status: process.terminationStatus,
        stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

/// Runs the `kujira` example with a per-test `--root`.
@discardableResult
func kujira(_ root: String, _ arguments: [String]) throws -> ProcessResult {
    try run(Host.kujira, ["--root", root] + arguments)
}

/// Runs a command that must succeed; a failure shows its stderr.
@discardableResult
func mustRun(_ executable: String, _ arguments: [String]) throws -> ProcessResult {
    let result = try run(executable, arguments)
    guard result.succeeded else {
        throw TestFailure("\(executable) \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
    }
    return result
}

/// A failure with a message, for setup steps outside `#expect`.
struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A fresh temporary directory, removed when `body` returns.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("kujira-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Test images built offline from Debian's busybox-static.
enum TestImages {
    /// Writes a root filesystem with `/bin/busybox` and its applet links into `dir`.
    static func busyboxRootfs(at dir: String) throws {
        let fm = FileManager.default
        guard fm.isExecutableFile(atPath: "/bin/busybox") else {
            throw TestFailure("/bin/busybox is missing: install Debian's busybox-static (scripts/setup.sh does)")
        }
        for sub in ["bin", "etc", "tmp", "root"] {
            try fm.createDirectory(atPath: "\(dir)/\(sub)", withIntermediateDirectories: true)
        }
        try fm.copyItem(atPath: "/bin/busybox", toPath: "\(dir)/bin/busybox")
        for applet in ["sh", "ls", "cat", "echo", "true", "false", "sleep", "env", "id", "mkdir", "rm"] {
            try fm.createSymbolicLink(atPath: "\(dir)/bin/\(applet)", withDestinationPath: "busybox")
        }
        try "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
            .write(toFile: "\(dir)/etc/passwd", atomically: false, encoding: .utf8)
        try "root:x:0:\nnogroup:x:65534:\n".write(toFile: "\(dir)/etc/group", atomically: false, encoding: .utf8)
    }

    /// Builds an OCI layout at `layout` holding `layout:tag`, made by umoci from busybox.
    static func umociBusybox(layout: String, tag: String = "latest", scratch: String) throws {
        let rootfs = "\(scratch)/busybox-rootfs"
        try busyboxRootfs(at: rootfs)
        try mustRun("umoci", ["init", "--layout", layout])
        try mustRun("umoci", ["new", "--image", "\(layout):\(tag)"])
        try mustRun("umoci", ["insert", "--image", "\(layout):\(tag)", rootfs, "/"])
        try mustRun("umoci", ["config", "--image", "\(layout):\(tag)", "--config.cmd=sh"])
    }
}
