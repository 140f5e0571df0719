import Foundation
import Glibc
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

    static func compare(extra: String = "", _ configure: (inout Spec) -> Void) throws {
        let box = try Sandbox(script: probe + (extra.isEmpty ? "" : "\n" + extra))
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

    // runtime-tools validation cases (validation/*.go): each probes what its test checks.

    @Test func sysctlAndOOMScoreAdj() throws {
        try Self.compare(extra: "cat /proc/sys/kernel/msgmax /proc/sys/kernel/shmmni /proc/self/oom_score_adj") { spec in
            spec.linux?.sysctl = ["kernel.msgmax": "12345", "kernel.shmmni": "1024"]
            spec.process?.oomScoreAdj = 500
        }
    }

    /// `domainname` is left out: runc 1.1 ignores it (it shows "(none)"); Kujira sets it.
    @Test func umaskAndNoNewPrivileges() throws {
        try Self.compare(extra: "umask; grep NoNewPrivs /proc/self/status") { spec in
            spec.process?.user.umask = 0o027
            spec.process?.noNewPrivileges = false
        }
    }

    @Test func devicesAndPaths() throws {
        try Self.compare(extra: "ls -ln /dev/kujira-null /dev/kujira-pipe | awk '{ print $1, $3, $4, $5, $6 }'; cat /etc/hostname 2>&1 | wc -c; echo x > /etc/ro-test 2>/dev/null || echo etc-ro") { spec in
            spec.root?.readonly = false
            spec.linux?.devices = [LinuxDevice(path: "/dev/kujira-null", type: "c", major: 1, minor: 3, fileMode: 0o640, uid: 5, gid: 6),
                                   LinuxDevice(path: "/dev/kujira-pipe", type: "p", fileMode: 0o600)]
            spec.linux?.maskedPaths?.append("/etc/hostname")
            spec.linux?.readonlyPaths?.append("/etc")
        }
    }

    @Test func bindMountsWithOptions() throws {
        try Self.compare(extra: "touch /mnt/ro/x 2>/dev/null || echo ro-bind; cat /mnt/ro/file") { spec in
            let source = FileManager.default.temporaryDirectory.appendingPathComponent("kujira-conformance-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
            try? FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            try? "bound\n".write(toFile: source + "/file", atomically: true, encoding: .utf8)
            spec.mounts? += [Mount(destination: "/mnt/ro", type: "bind", source: source, options: ["rbind", "ro", "nosuid", "nodev"])]
        }
    }
}
