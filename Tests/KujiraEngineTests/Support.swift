import Foundation
import Testing

/// The machine the engine tests need: root (they mount overlays and create cgroups).
enum EngineHost {
    static let requirePrivileged = ProcessInfo.processInfo.environment["KUJIRA_REQUIRE_PRIVILEGED"] == "1"
    /// Run the privileged tests: as root, and always under KUJIRA_REQUIRE_PRIVILEGED=1 (so that
    /// a missing root fails rather than skips).
    static let enabled = requirePrivileged || geteuid() == 0

    /// The `kujira` binary: `$KUJIRA_BIN`, else next to the test bundle.
    static var kujira: String {
        if let bin = ProcessInfo.processInfo.environment["KUJIRA_BIN"] { return bin }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("kujira").path
    }
}

/// The whole of a /proc file: Foundation's `String(contentsOfFile:)` stops after procfs's
/// first short read (about 4 KiB of mountinfo), which hides later lines.
func readProcFile(_ path: String) throws -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else { throw Failure(description: "cannot open \(path)") }
    defer { try? handle.close() }
    return String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
}

struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
}

struct Failure: Error, CustomStringConvertible {
    var description: String
}

/// A per-test root and state with the busybox test image imported; removes every container
/// (and so every mount, cgroup and monitor) when done.
final class Sandbox: @unchecked Sendable {
    let dir: String
    var root: String { "\(dir)/root" }
    var state: String { "\(dir)/state" }
    static let image = "localhost/busybox:test"

    init() throws {
        setenv("KUJIRA_IP_FORWARD", "0", 1)  // tests leave net.ipv4.ip_forward as it is
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("kujira-engine-\(UUID().uuidString)").path
        let rootfs = "\(dir)/rootfs"
        let fm = FileManager.default
        guard fm.isExecutableFile(atPath: "/bin/busybox") else {
            throw Failure(description: "/bin/busybox is missing: install Debian's busybox-static (scripts/setup.sh does)")
        }
        for sub in ["bin", "etc", "tmp", "root"] { try fm.createDirectory(atPath: "\(rootfs)/\(sub)", withIntermediateDirectories: true) }
        try fm.copyItem(atPath: "/bin/busybox", toPath: "\(rootfs)/bin/busybox")
        let list = try Self.exec("/bin/busybox", ["--list"])
        for applet in list.stdout.split(separator: "\n") where applet != "busybox" {
            try? fm.createSymbolicLink(atPath: "\(rootfs)/bin/\(applet)", withDestinationPath: "busybox")
        }
        try "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n".write(toFile: "\(rootfs)/etc/passwd", atomically: false, encoding: .utf8)
        try "root:x:0:\nnogroup:x:65534:\n".write(toFile: "\(rootfs)/etc/group", atomically: false, encoding: .utf8)
        try mustRun(["import", "--change", "CMD [\"sh\"]", rootfs, Self.image])
    }

    deinit {
        if let ids = try? kujira(["ps", "-a", "-q", "--no-trunc"]) {
            for id in ids.stdout.split(separator: "\n") { _ = try? kujira(["rm", "-f", String(id)]) }
        }
        _ = try? kujira(["network", "__teardown"])  // the root's bridges and nftables table
        if let mounts = try? readProcFile("/proc/self/mountinfo") {
            for line in mounts.split(separator: "\n") {
                let fields = line.split(separator: " ")
                if fields.count > 4, fields[4].hasPrefix(dir) { umount2(String(fields[4]), Int32(MNT_DETACH)) }
            }
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    static func exec(_ executable: String, _ arguments: [String]) throws -> Result {
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
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
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs `kujira --root R --state S ARGS…`.
    @discardableResult
    func kujira(_ arguments: [String]) throws -> Result {
        try Self.exec(EngineHost.kujira, ["--root", root, "--state", state] + arguments)
    }

    @discardableResult
    func mustRun(_ arguments: [String]) throws -> Result {
        let result = try kujira(arguments)
        guard result.status == 0 else {
            throw Failure(description: "kujira \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return result
    }

    /// The first `docker inspect` document of `name`.
    func inspect(_ name: String) throws -> [String: Any] {
        let text = try mustRun(["inspect", name]).stdout
        guard let array = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]], let first = array.first else {
            throw Failure(description: "inspect \(name) printed no document: \(text)")
        }
        return first
    }

    func state(_ name: String) throws -> [String: Any] {
        (try inspect(name)["State"] as? [String: Any]) ?? [:]
    }

    /// Polls `condition` for up to `seconds`.
    func eventually(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }
}
