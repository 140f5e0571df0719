import Foundation
import Glibc
import KujiraOCI
@testable import KujiraRuntime
import Testing

/// Recursive mount attributes (`rro`, `rnosuid`, …): mount_setattr(AT_RECURSIVE) on the
/// mount and every mount below it.
@Suite("Recursive mount options")
struct RecursiveMountOptionTests {
    @Test func parsesAsRuncDoes() throws {
        let options = try MountOptions(["rbind", "rro", "rnosuid", "rnoatime"], destination: "/data")
        #expect(options.recursiveSet == MountAttr.rdonly | MountAttr.nosuid | MountAttr.noatime)
        #expect(options.recursiveClear == MountAttr.atimeMask)
        #expect(options.flags == MountFlag.bind | MountFlag.rec)
        // A later option wins, as with runc.
        let undone = try MountOptions(["rro", "rrw"], destination: "/data")
        #expect(undone.recursiveSet == 0 && undone.recursiveClear == MountAttr.rdonly)
        #expect(try MountOptions(["idmap"], destination: "/data").idmap == .topOnly)
    }
}

@Suite("Recursive mount options in a container", .enabled(if: Privilege.shouldRun, Privilege.reason))
struct RecursiveMountTests {
    static let runc = "/usr/sbin/runc"

    /// Runs a container that bind-mounts a host directory with a tmpfs below it onto /data
    /// with `options`, and reports whether the top and the submount are writable; the same
    /// bundle with runc too when it is installed. Returns kujira-runtime's and runc's output.
    static func probe(_ options: [String]) throws -> (ours: String, theirs: String?) {
        let box = try Sandbox(script: "touch /data/a 2>/dev/null && echo top-rw || echo top-ro; touch /data/sub/b 2>/dev/null && echo sub-rw || echo sub-ro")
        let source = box.directory + "/source"
        try FileManager.default.createDirectory(atPath: source + "/sub", withIntermediateDirectories: true)
        let mounted = try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "kujira-rro-test", source + "/sub"])
        try #require(mounted.status == 0, "\(mounted.stderr)")
        defer { _ = try? runCommand("/bin/umount", [source + "/sub"]) }
        box.spec.mounts = (box.spec.mounts ?? []) + [Mount(destination: "/data", type: "bind", source: source, options: options)]
        let ours = try box.run("m1")
        #expect(ours.status == 0, "\(ours.stderr)")
        var theirs: String?
        if FileManager.default.isExecutableFile(atPath: runc) {
            try box.writeSpec()
            let runcRoot = box.directory + "/runc-state"
            let result = try runCommand(runc, ["--root", runcRoot, "run", "--bundle", box.bundle, "m1"])
            _ = try? runCommand(runc, ["--root", runcRoot, "delete", "--force", "m1"])
            #expect(result.status == 0, "\(result.stderr)")
            theirs = result.stdout
        }
        return (ours.stdout, theirs)
    }

    @Test func rroMakesSubmountsReadOnly() throws {
        let result = try Self.probe(["rbind", "rro"])
        #expect(result.ours == "top-ro\nsub-ro\n")
        if let theirs = result.theirs { #expect(result.ours == theirs) }
    }

    @Test func roAloneLeavesSubmountsWritable() throws {
        let result = try Self.probe(["rbind", "ro"])
        #expect(result.ours == "top-ro\nsub-rw\n")
        if let theirs = result.theirs { #expect(result.ours == theirs) }
    }
}
