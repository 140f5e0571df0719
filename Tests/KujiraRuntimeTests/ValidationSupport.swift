import Foundation
import Glibc
import KujiraOCI
import Testing

/// Debian's runc, the oracle of the Validation suites (runtime-tools' validation list, each
/// case run by kujira-runtime and by runc on the same bundle).
enum Runc {
    static let path = "/usr/sbin/runc"
    static let installed = FileManager.default.isExecutableFile(atPath: path)
    /// The suites' trait condition: root with busybox and runc, or KUJIRA_REQUIRE_PRIVILEGED=1
    /// (then a missing prerequisite fails).
    static let shouldRun = Privilege.required || (Privilege.isRoot && installed)
    static let reason: Comment = "needs root, Debian's busybox-static and runc (set KUJIRA_REQUIRE_PRIVILEGED=1 to fail instead of skip)"

    static func check() throws {
        try Privilege.check()
        if !installed { throw TestFailure("runc is not installed at \(path) (apt-get install -y runc)") }
    }
}

/// One busybox bundle driven by both runtimes: kujira-runtime over the sandbox's state root,
/// runc over a state root of its own and a cgroup path of its own (the sandbox's plus
/// "-runc"), so that both runtimes' containers may exist at once. runc's containers are
/// force-deleted when the pair goes.
final class RuncPair {
    let box: Sandbox
    var spec: Spec {
        get { box.spec }
        set { box.spec = newValue }
    }
    var directory: String { box.directory }
    var bundle: String { box.bundle }
    var rootfs: String { box.rootfs }
    var runcRoot: String { box.directory + "/runc-state" }

    init(script: String = "true") throws {
        try Runc.check()
        box = try Sandbox(script: script)
    }

    /// kujira-runtime with `arguments` (the spec written to config.json first).
    @discardableResult
    func kujira(_ arguments: [String], input: String? = nil) throws -> CommandResult {
        try box.runtime(arguments, input: input)
    }

    /// runc with `arguments`, the spec written with runc's own cgroup path first. runc is
    /// started as containerd or podman start it, with default signal dispositions and an
    /// empty signal mask: runc 1.1 hands the caller's mask on to the container's process,
    /// and the test process blocks signals (kujira-init resets both itself).
    @discardableResult
    func runc(_ arguments: [String]) throws -> CommandResult {
        var theirs = spec
        let path = spec.linux?.cgroupsPath
        theirs.linux?.cgroupsPath = path.map { $0 + "-runc" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(theirs).write(to: URL(fileURLWithPath: bundle + "/config.json"))
        return try runClean(Runc.path, ["--root", runcRoot] + arguments)
    }

    /// `arguments` with each runtime, ours first; `id` in them is replaced by "k-<id>" and
    /// "r-<id>".
    func both(_ arguments: [String], id: String) throws -> (ours: CommandResult, theirs: CommandResult) {
        let ours = try kujira(arguments.map { $0 == id ? "k-" + id : $0 })
        let theirs = try runc(arguments.map { $0 == id ? "r-" + id : $0 })
        return (ours, theirs)
    }

    /// `run` of the bundle with each runtime, one after the other.
    func run() throws -> (ours: CommandResult, theirs: CommandResult) {
        try both(["run", "--bundle", bundle, "c"], id: "c")
    }

    /// `create` with each runtime (stdio from /dev/null: `runCommand` waits for its files only).
    func create(_ id: String, extra: [String] = []) throws -> (ours: CommandResult, theirs: CommandResult) {
        try both(["create", "--bundle", bundle] + extra + [id], id: id)
    }

    /// The parsed `state` of `id` from each runtime (nil when the command fails).
    func states(_ id: String) throws -> (ours: [String: Any]?, theirs: [String: Any]?) {
        let (ours, theirs) = try both(["state", id], id: id)
        let parse = { (result: CommandResult) -> [String: Any]? in
            guard result.status == 0 else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        }
        return (parse(ours), parse(theirs))
    }

    /// The status each runtime reports for `id` ("" when `state` fails).
    func statuses(_ id: String) throws -> (ours: String, theirs: String) {
        let (ours, theirs) = try states(id)
        return (ours?["status"] as? String ?? "", theirs?["status"] as? String ?? "")
    }

    /// Waits (up to 5 s) until both runtimes report `status` for `id`.
    func awaitStatus(_ id: String, _ status: String) -> Bool {
        eventually { (try? statuses(id)).map { $0.ours == status && $0.theirs == status } ?? false }
    }

    deinit {
        let listed = (try? runClean(Runc.path, ["--root", runcRoot, "list", "-q"]))?.stdout ?? ""
        for id in listed.split(separator: "\n") {
            _ = try? runClean(Runc.path, ["--root", runcRoot, "delete", "--force", String(id)])
        }
    }
}

/// Runs `path` with `arguments` through posix_spawn with default signal dispositions and an
/// empty mask (``Peers/spawn(_:_:stdout:stderr:)``), stdin from /dev/null.
func runClean(_ path: String, _ arguments: [String]) throws -> CommandResult {
    let scratch = try Sandbox.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let status = Peers.wait(try Peers.spawn(path, arguments, stdout: scratch + "/out", stderr: scratch + "/err"))
    let read = { (name: String) in (try? String(contentsOfFile: scratch + "/" + name, encoding: .utf8)) ?? "" }
    return CommandResult(status: status, stdout: read("out"), stderr: read("err"))
}

/// Expects `ours` and `theirs` to be equal, showing the lines that differ.
func expectSameOutput(_ ours: String, _ theirs: String, _ what: String = "output",
                      sourceLocation: SourceLocation = #_sourceLocation) {
    let oursLines = ours.split(separator: "\n", omittingEmptySubsequences: false)
    let theirLines = theirs.split(separator: "\n", omittingEmptySubsequences: false)
    let difference = oursLines.difference(from: theirLines).map { change -> String in
        switch change {
        case .insert(_, let line, _): return "+ kujira: \(line)"
        case .remove(_, let line, _): return "- runc:   \(line)"
        }
    }
    #expect(difference.isEmpty, "\(what), kujira-runtime vs runc:\n\(difference.joined(separator: "\n"))", sourceLocation: sourceLocation)
}

/// A directory of its own under /tmp for a bind mount's source.
func scratchDirectory(_ name: String) throws -> String {
    let path = try Sandbox.temporaryDirectory()
    chmod(path, 0o755)
    try "\(name)\n".write(toFile: path + "/file", atomically: true, encoding: .utf8)
    return path
}

/// One runtime of a ``RuncPair``: its name, the id it gives a container and how it is called.
struct RuntimeSide {
    let name: String
    let prefix: String
    let call: ([String]) throws -> CommandResult

    func id(_ name: String) -> String { prefix + name }

    /// The `state` of container `id` as JSON (nil when `state` fails).
    func state(_ id: String) throws -> [String: Any]? {
        let result = try call(["state", self.id(id)])
        guard result.status == 0 else { return nil }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    }

    /// The status `state` reports ("" when it fails).
    func status(_ id: String) -> String { ((try? state(id)) ?? nil)?["status"] as? String ?? "" }

    /// Waits (up to 5 s) for `status`.
    func awaitStatus(_ id: String, _ status: String) -> Bool { eventually { self.status(id) == status } }
}

extension RuncPair {
    /// kujira-runtime ("k-" ids) and runc ("r-" ids).
    var sides: [RuntimeSide] {
        [RuntimeSide(name: "kujira", prefix: "k-", call: { [unowned self] in try kujira($0) }),
         RuntimeSide(name: "runc", prefix: "r-", call: { [unowned self] in try runc($0) })]
    }
}
