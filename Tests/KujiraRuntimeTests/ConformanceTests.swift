import Foundation
import KujiraOCI
import Testing

/// Runs the same bundle with kujira-runtime and with Debian's runc and compares what the
/// container sees. runc is the oracle (DESIGN.md, "Testing").
@Suite("Conformance with runc", .enabled(if: Privilege.shouldRun && FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc"), Privilege.reason), .serialized)
struct ConformanceTests {
    /// Prints hostname, capabilities, ids, rlimits, cwd, environment, /dev and the mount table
    /// (mount point, filesystem type and options; cgroup directories and the source of masking
    /// binds differ by design and are left out), then probes read-only and masked paths.
    static let probe = """
        hostname; grep ^Cap /proc/self/status; id; ulimit -a; pwd; env | sort; ls -1 /dev | tr '\\n' ' '; echo
        awk '{ for (i = 7; $i != "-"; i++); t = $(i+1); o = $6; if ($4 ~ /\\/null$/) { t = "null-bind"; o = "" }
               if ($5 ~ /^\\/sys\\/fs\\/cgroup\\//) next; print $5, t, o }' /proc/self/mountinfo | sort
        echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo proc-sys-ro
        cat /proc/kcore 2>/dev/null | wc -c; touch /x 2>/dev/null || echo root-ro
        """

    static func compare(_ configure: (inout Spec) -> Void) throws {
        let box = try Sandbox(script: probe)
        configure(&box.spec)
        let ours = try box.run("k1")
        #expect(ours.status == 0, "\(ours.stderr)")
        try box.writeSpec()
        let runcRoot = box.directory + "/runc-state"
        let theirs = try runCommand("/usr/sbin/runc", ["--root", runcRoot, "run", "--bundle", box.bundle, "r1"])
        #expect(theirs.status == 0, "\(theirs.stderr)")
        let normalise = { (text: String) in text.replacingOccurrences(of: "hostname=runc", with: "hostname=kujira") }
        let oursLines = normalise(ours.stdout).split(separator: "\n", omittingEmptySubsequences: false)
        let theirLines = normalise(theirs.stdout).split(separator: "\n", omittingEmptySubsequences: false)
        let difference = oursLines.difference(from: theirLines)
        #expect(difference.isEmpty, "kujira-runtime vs runc:\n\(difference.map { "\($0)" }.joined(separator: "\n"))")
        _ = try? runCommand("/usr/sbin/runc", ["--root", runcRoot, "delete", "--force", "r1"])
    }

    @Test func defaultSpec() throws {
        try Self.compare { _ in }
    }

    @Test func userCapabilitiesAndLimits() throws {
        try Self.compare { spec in
            spec.hostname = "conformance"
            spec.root?.readonly = false
            spec.process?.user = User(uid: 1000, gid: 1000, additionalGids: [5, 7])
            spec.process?.cwd = "/tmp"
            spec.process?.env = ["PATH=/bin:/usr/bin", "A=1", "B=two words"]
            spec.process?.capabilities = LinuxCapabilities(bounding: ["CAP_CHOWN", "CAP_KILL"], effective: ["CAP_KILL"],
                                                           inheritable: ["CAP_KILL"], permitted: ["CAP_KILL"], ambient: ["CAP_KILL"])
            spec.process?.rlimits = [POSIXRlimit(type: "RLIMIT_NOFILE", hard: 200, soft: 100),
                                     POSIXRlimit(type: "RLIMIT_CORE", hard: 0, soft: 0)]
            spec.mounts? += [Mount(destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "size=2m"])]
        }
    }
}
