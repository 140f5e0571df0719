import Foundation
import KujiraOCI
import Testing

/// `linux.rootfsPropagation`: the propagation of the container's mounts, compared with runc on
/// the same bundle (the propagation tags of the container's root mount, peer group numbers
/// left out, and whether the container starts at all).
@Suite("rootfsPropagation", .enabled(if: Privilege.shouldRun, Privilege.reason))
struct RootfsPropagationTests {
    static let runc = "/usr/sbin/runc"
    static let probe = #"awk '$5 == "/" { t = ""; for (i = 7; $i != "-"; i++) { f = $i; sub(/:[0-9]+$/, "", f); t = t f " " } print "root:" t }' /proc/self/mountinfo"#

    /// kujira-runtime's and (when installed) runc's result for `propagation`.
    static func run(_ propagation: String) throws -> (ours: CommandResult, theirs: CommandResult?) {
        let box = try Sandbox(script: probe)
        box.spec.linux?.rootfsPropagation = propagation
        let ours = try box.run("p1")
        guard FileManager.default.isExecutableFile(atPath: runc) else { return (ours, nil) }
        try box.writeSpec()
        let runcRoot = box.directory + "/runc-state"
        let theirs = try runCommand(runc, ["--root", runcRoot, "run", "--bundle", box.bundle, "p1"])
        _ = try? runCommand(runc, ["--root", runcRoot, "delete", "--force", "p1"])
        return (ours, theirs)
    }

    @Test(arguments: ["shared", "rshared", "slave", "rslave", "private", "rprivate"])
    func propagationAsRunc(propagation: String) throws {
        let (ours, theirs) = try Self.run(propagation)
        #expect(ours.status == 0, "\(ours.stderr)")
        #expect(ours.stdout.hasPrefix("root:"))
        if let theirs {
            #expect(theirs.status == 0, "\(theirs.stderr)")
            #expect(ours.stdout == theirs.stdout)
        }
    }

    @Test func sharedPropagationStartsTheContainer() throws {
        // pivot_root refuses a new root under a shared parent mount: the parent of the rootfs
        // is made private first, as runc does, so "rshared" starts.
        let (ours, _) = try Self.run("rshared")
        #expect(ours.status == 0, "\(ours.stderr)")
    }

    @Test func unbindableRootIsRefusedAsWithRunc() throws {
        let (ours, theirs) = try Self.run("unbindable")
        #expect(ours.status != 0)
        #expect(ours.stderr.contains("rootfs"), "\(ours.stderr)")
        if let theirs { #expect(theirs.status != 0) }
    }

    @Test func theInitsReportWinsWhenItFailsBeforeTheCgroupJoin() throws {
        // The runtime joins the container process to its cgroup while the process builds its
        // rootfs; when the rootfs fails first, the process has exited before the join (or the
        // KJ_MSG_JOINED that follows it): the error is still the init's, not ESRCH or EPIPE.
        let box = try Sandbox(script: Self.probe)
        box.spec.linux?.rootfsPropagation = "unbindable"
        try box.writeSpec()
        let ours = try runCommand("/usr/bin/env", ["KUJIRA_RUNTIME_PAUSEPOINT=before-join", box.runtimePath,
                                                   "--root", box.root, "run", "--bundle", box.bundle, "p2"])
        #expect(ours.status != 0)
        #expect(ours.stderr.contains("rootfs"), "\(ours.stderr)")
        #expect(!ours.stderr.contains("Broken pipe"), "\(ours.stderr)")
    }

    @Test func unknownPropagationIsRefused() throws {
        let (ours, _) = try Self.run("sideways")
        #expect(ours.status != 0)
        #expect(ours.stderr.contains("unknown linux.rootfsPropagation \"sideways\""), "\(ours.stderr)")
    }
}
