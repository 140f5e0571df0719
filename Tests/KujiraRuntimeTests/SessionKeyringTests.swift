import Foundation
import Glibc
import Testing

/// Each container gets a session keyring of its own, `_ses.<id>`, as with runc (its processes
/// must not reach the keys of the caller's session), which its exec'd processes join too;
/// `--no-new-keyring` keeps the caller's.
@Suite("Session keyrings", .enabled(if: Privilege.shouldRun, Privilege.reason), .serialized)
struct SessionKeyringTests {
    /// The session keyrings /proc/keys shows (its descriptions end with a colon). /proc/keys is
    /// not namespaced: a root container may also see other containers' keyrings (which is why
    /// runc's default spec masks it), so the tests look for the one they expect.
    static let probe = "grep -o ' _ses\\.[^:]*' /proc/keys | sort -u"

    /// A sandbox whose /proc/keys is readable (runc's default spec masks it).
    static func sandbox(_ script: String) throws -> Sandbox {
        let box = try Sandbox(script: script)
        box.spec.linux?.maskedPaths?.removeAll { $0 == "/proc/keys" }
        return box
    }

    @Test func theContainerJoinsItsOwnSessionKeyringAsWithRunc() throws {
        let box = try Self.sandbox(Self.probe)
        let ours = try box.run("keys1")
        #expect(ours.status == 0, "\(ours.stderr)")
        #expect(ours.stdout.split(separator: "\n").contains(" _ses.keys1"), "\(ours.stdout)")
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc") else { return }
        try box.writeSpec()
        let theirs = try runCommand("/usr/sbin/runc", ["--root", box.directory + "/runc-state", "run", "--bundle", box.bundle, "keys1"])
        #expect(theirs.status == 0, "\(theirs.stderr)")
        #expect(theirs.stdout.split(separator: "\n").contains(" _ses.keys1"), "runc: \(theirs.stdout)")
    }

    @Test func execJoinsTheContainersKeyring() throws {
        let box = try Self.sandbox("sleep 60")
        #expect(try box.runtime(["run", "--detach", "--bundle", box.bundle, "keys2"]).status == 0)
        let result = try box.runtime(["exec", "keys2", "sh", "-c", Self.probe])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").contains(" _ses.keys2"), "\(result.stdout)")
        _ = try box.runtime(["delete", "--force", "keys2"])
    }

    @Test func noNewKeyringKeepsTheCallersSession() throws {
        let box = try Self.sandbox(Self.probe)
        let result = try box.run("keys3", extra: ["--no-new-keyring"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.contains("_ses.keys3"), "\(result.stdout)")
    }
}
