import Foundation
import Glibc
import KujiraBuild
import KujiraImage
import KujiraOCI
import Synchronization
import Testing

/// Whether privileged tests run: as root with Debian's busybox-static, or forced with
/// KUJIRA_REQUIRE_PRIVILEGED=1 (then a missing privilege fails instead of skipping).
enum Privilege {
    static let required = Foundation.ProcessInfo.processInfo.environment["KUJIRA_REQUIRE_PRIVILEGED"] == "1"
    static let isRoot = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/busybox")
    static let shouldRun = isRoot || required
    static let reason: Comment = "builds need root (overlayfs, containers) and Debian's busybox-static (set KUJIRA_REQUIRE_PRIVILEGED=1 to fail instead of skip)"

    static func check() throws {
        if !isRoot { throw TestFailure("privileged test: not running as root or /bin/busybox is missing") }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ text: String) { description = text }
}

/// The directory the test bundle and the built executables (kujira-init) are in.
let buildDirectory: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    return (exe as NSString).deletingLastPathComponent
}()

/// The progress events of one build.
final class EventLog: Sendable {
    private let events = Mutex<[BuildEvent]>([])
    var all: [BuildEvent] { events.withLock { $0 } }
    func append(_ event: BuildEvent) { events.withLock { $0.append(event) } }
    var runs: Int { all.filter { if case .running = $0 { return true }; return false }.count }
    var cached: Int { all.filter { if case .cached = $0 { return true }; return false }.count }
    var output: [String] { all.compactMap { if case .output(_, let line) = $0 { return line }; return nil } }
}

/// A store with a busybox base image (`busybox`), a context directory and a builder.
final class BuildSandbox {
    let directory: String
    let store: ImageStore
    let builder: Builder
    let context: String

    init() throws {
        try Privilege.check()
        var template = Array("/tmp/kujira-build-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        directory = String(cString: made)
        chmod(directory, 0o755)
        store = try ImageStore(root: directory + "/root")
        builder = Builder(store: store, runtimeRoot: directory + "/state", initPath: buildDirectory + "/kujira-init")
        context = directory + "/context"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try importBusybox()
    }

    func importBusybox() throws {
        let rootfs = directory + "/busybox"
        let fm = FileManager.default
        for dir in ["bin", "etc", "tmp", "root", "home/app"] {
            try fm.createDirectory(atPath: rootfs + "/" + dir, withIntermediateDirectories: true)
        }
        chmod(rootfs + "/tmp", 0o1777)
        try fm.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
        let list = Foundation.Process()
        list.executableURL = URL(fileURLWithPath: "/bin/busybox")
        list.arguments = ["--list"]
        let pipe = Pipe()
        list.standardOutput = pipe
        try list.run()
        let names = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        list.waitUntilExit()
        for applet in names.split(separator: "\n") where applet != "busybox" {
            try? fm.createSymbolicLink(atPath: rootfs + "/bin/" + applet, withDestinationPath: "busybox")
        }
        try "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n".write(toFile: rootfs + "/etc/passwd", atomically: true, encoding: .utf8)
        try "root:x:0:\napp:x:1000:\nstaff:x:50:\n".write(toFile: rootfs + "/etc/group", atomically: true, encoding: .utf8)
        chown(rootfs + "/home/app", 1000, 1000)
        var config = ImageConfig()
        config.env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        config.cmd = ["sh"]
        try store.importRootfs(from: rootfs, name: "busybox", config: config)
    }

    /// Writes `text` to `path` in the context.
    func write(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
        let full = context + "/" + path
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: false, encoding: .utf8)
        chmod(full, mode)
    }

    /// Builds `dockerfile` with the context; returns the result and the events.
    @discardableResult
    func build(_ dockerfile: String, tags: [String] = ["localhost/test:latest"], noCache: Bool = false,
               epoch: Int64? = nil, target: String? = nil, log: EventLog = EventLog()) throws -> BuildResult {
        let options = BuildOptions(tags: tags, target: target, noCache: noCache, sourceDateEpoch: epoch, progress: { log.append($0) })
        return try builder.build(dockerfile: dockerfile, contextDirectory: context, options: options)
    }

    /// Builds with options changed by `configure` (secrets, network, pulls).
    @discardableResult
    func build(_ dockerfile: String, tags: [String] = ["localhost/test:latest"], log: EventLog = EventLog(),
               configure: (inout BuildOptions) -> Void) throws -> BuildResult {
        var options = BuildOptions(tags: tags, progress: { log.append($0) })
        configure(&options)
        return try builder.build(dockerfile: dockerfile, contextDirectory: context, options: options)
    }

    /// The content of `path` in a rootfs, or nil.
    static func read(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The config of image `name`.
    func configuration(_ name: String) throws -> ImageConfiguration {
        try store.details(of: try store.lookup(name)).configuration
    }

    /// Unpacks image `name`; returns the rootfs path.
    func unpack(_ name: String) throws -> String {
        let bundle = directory + "/unpacked-" + String(UInt32.random(in: 0...UInt32.max))
        _ = try store.unpackBundle(name, to: bundle)
        return bundle + "/rootfs"
    }

    /// Mount points under the sandbox left in this process's mount namespace.
    var leftoverMounts: [String] {
        let text = readMountInfo()
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { return nil }
            return fields[4].hasPrefix(directory) ? String(fields[4]) : nil
        }
    }

    func cleanup() {
        for mount in leftoverMounts { umount2(mount, Int32(MNT_DETACH)) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func stat(_ path: String) -> Glibc.stat? {
        var st = Glibc.stat()
        return lstat(path, &st) == 0 ? st : nil
    }
}

/// /proc/self/mountinfo read to its end. `String(contentsOfFile:)` stops after the first page
/// of a /proc file (about 4 KiB), and tests running in parallel make the table longer than that.
func readMountInfo() -> String {
    String(decoding: FileHandle(forReadingAtPath: "/proc/self/mountinfo")?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
}
