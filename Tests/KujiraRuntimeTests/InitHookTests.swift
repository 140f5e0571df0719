import Foundation
import Glibc
import KujiraOCI
import KujiraRuntime
import Testing

/// createContainer and startContainer hooks, which kujira-init runs itself: each against
/// runc on the same bundle where runc is installed.
@Suite("createContainer and startContainer hooks", .enabled(if: Privilege.shouldRun, Privilege.reason))
struct InitHookTests {
    static let runc = "/usr/sbin/runc"

    /// What the hooks of one run saw: the state each read, and facts about where it ran.
    struct Seen {
        var createState: KujiraOCI.State
        var startState: KujiraOCI.State
        /// The createContainer hook's mount namespace equals the container process's, and its
        /// mount table has the container's /proc mounted under the rootfs (before pivot_root).
        var createInContainerMountNamespace: Bool
        var createBeforePivot: Bool
        /// The container process found the startContainer hook's file when it started.
        var startBeforeProcess: Bool
        var output: String
    }

    /// A bundle whose createContainer hook (a host path: it runs before pivot_root) writes its
    /// stdin, its mount namespace and its mount table to the scratch directory, and whose
    /// startContainer hook (resolved in the container) writes its stdin into the container.
    static func bundle() throws -> Sandbox {
        let box = try Sandbox(script: "readlink /proc/self/ns/mnt > /process.mnt; test -f /start.json && echo start-hook-ran-first")
        box.spec.root?.readonly = false
        let out = box.directory
        box.spec.hooks = Hooks(
            createContainer: [Hook(path: "/bin/sh", args: ["sh", "-c", "cat > \(out)/create.json; readlink /proc/self/ns/mnt > \(out)/create.mnt; cat /proc/self/mountinfo > \(out)/create.mountinfo"],
                                   env: ["PATH=/usr/bin:/bin"], timeout: 30)],
            startContainer: [Hook(path: "/bin/sh", args: ["sh", "-c", "cat > /start.json"], env: ["PATH=/bin"], timeout: 30)])
        return box
    }

    static func seen(in box: Sandbox, output: String) throws -> Seen {
        let decoder = JSONDecoder()
        let read = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        let create = try decoder.decode(KujiraOCI.State.self, from: Data(contentsOf: URL(fileURLWithPath: box.directory + "/create.json")))
        let start = try decoder.decode(KujiraOCI.State.self, from: Data(contentsOf: URL(fileURLWithPath: box.rootfs + "/start.json")))
        let processNamespace = read(box.rootfs + "/process.mnt")
        let rootfs = try #require(realpath(box.rootfs, nil).map { pointer in defer { free(pointer) }; return String(cString: pointer) })
        return Seen(createState: create, startState: start,
                    createInContainerMountNamespace: !processNamespace.isEmpty && read(box.directory + "/create.mnt") == processNamespace,
                    createBeforePivot: read(box.directory + "/create.mountinfo").contains(" \(rootfs)/proc "),
                    startBeforeProcess: output.contains("start-hook-ran-first"), output: output)
    }

    static func clear(_ box: Sandbox) {
        for path in [box.directory + "/create.json", box.directory + "/create.mnt", box.directory + "/create.mountinfo",
                     box.rootfs + "/start.json", box.rootfs + "/process.mnt"] {
            unlink(path)
        }
    }

    @Test func hooksRunWhereAndWhenTheSpecSays() throws {
        let box = try Self.bundle()
        box.spec.annotations = ["org.example.key": "value"]
        let result = try box.run("h1")
        #expect(result.status == 0, "\(result.stderr)")
        let ours = try Self.seen(in: box, output: result.stdout)
        #expect(ours.createState.status == .creating)
        #expect(ours.startState.status == .created)
        for state in [ours.createState, ours.startState] {
            #expect(state.id == "h1")
            #expect(state.bundle == box.bundle)
            #expect(state.annotations?["org.example.key"] == "value")
            #expect((state.pid ?? 0) > 0)
        }
        #expect(ours.createInContainerMountNamespace)
        #expect(ours.createBeforePivot)
        #expect(ours.startBeforeProcess)
        // The host's mount namespace is not the container's.
        let hostNamespace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt")
        #expect((try? String(contentsOfFile: box.directory + "/create.mnt", encoding: .utf8))?.hasPrefix(hostNamespace) == false)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: InitHookTests.runc), "needs Debian's runc"))
    func sameAsRunc() throws {
        let box = try Self.bundle()
        let result = try box.run("h2")
        #expect(result.status == 0, "\(result.stderr)")
        let ours = try Self.seen(in: box, output: result.stdout)
        Self.clear(box)
        try box.writeSpec()
        let runcRoot = box.directory + "/runc-state"
        let theirResult = try runCommand(Self.runc, ["--root", runcRoot, "run", "--bundle", box.bundle, "h2"])
        defer { _ = try? runCommand(Self.runc, ["--root", runcRoot, "delete", "--force", "h2"]) }
        #expect(theirResult.status == 0, "\(theirResult.stderr)")
        let theirs = try Self.seen(in: box, output: theirResult.stdout)
        // runc passes the pid as the init sees it (1); Kujira the host pid, as the spec's
        // state says. Everything else must match.
        #expect(ours.createState.status == theirs.createState.status)
        #expect(ours.startState.status == theirs.startState.status)
        #expect(ours.createState.id == theirs.createState.id && ours.createState.bundle == theirs.createState.bundle)
        #expect(ours.createInContainerMountNamespace == theirs.createInContainerMountNamespace)
        #expect(ours.createBeforePivot == theirs.createBeforePivot)
        #expect(ours.startBeforeProcess == theirs.startBeforeProcess)
        #expect(ours.output == theirs.output)
    }

    @Test func aFailingCreateContainerHookFailsCreate() throws {
        let box = try Sandbox(script: "true")
        box.spec.hooks = Hooks(createContainer: [Hook(path: "/bin/sh", args: ["sh", "-c", "exit 3"])])
        let failed = try box.run("h3")
        #expect(failed.status != 0)
        #expect(failed.stderr.contains("createContainer hook #0 (/bin/sh) exited with status 3"), "\(failed.stderr)")
        #expect(try box.api.list().isEmpty)
    }

    @Test func aCreateContainerHookPastItsTimeoutIsKilled() throws {
        let box = try Sandbox(script: "true")
        box.spec.hooks = Hooks(createContainer: [Hook(path: "/bin/sh", args: ["sh", "-c", "sleep 60"], timeout: 1)])
        let slow = try box.run("h4")
        #expect(slow.status != 0)
        #expect(slow.stderr.contains("createContainer hook #0 (/bin/sh) timed out after 1 s"), "\(slow.stderr)")
        #expect(try box.api.list().isEmpty)
    }

    @Test func aFailingStartContainerHookStopsTheContainer() throws {
        let box = try Sandbox(script: "echo the-process-ran")
        box.spec.hooks = Hooks(startContainer: [Hook(path: "/bin/sh", args: ["sh", "-c", "exit 4"])])
        let result = try box.run("h5")
        #expect(result.status != 0)
        #expect(!result.stdout.contains("the-process-ran"))
        #expect(result.stderr.contains("startContainer hook #0 (/bin/sh) exited with status 4"), "\(result.stderr)")
    }

    @Test func aRelativeHookPathIsRefused() throws {
        let box = try Sandbox(script: "true")
        box.spec.hooks = Hooks(startContainer: [Hook(path: "bin/sh")])
        let refused = try box.run("h6")
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("hooks.startContainer[0] (bin/sh): path must be absolute"), "\(refused.stderr)")
    }
}
