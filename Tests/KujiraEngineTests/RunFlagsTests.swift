import Foundation
import Testing

/// `docker run` flags that tune the kernel's view of a container, through the real `kujira`
/// binary as root: each test reads the effect from inside the container.
@Suite(.enabled(if: EngineHost.enabled, "needs root (overlay mounts, cgroups, namespaces); KUJIRA_REQUIRE_PRIVILEGED=1 makes this a failure"))
struct RunFlagsTests {
    static func unique(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

    /// The namespace link (`pid:[4026531836]`) of `kind` for process `pid` on the host.
    static func hostNamespace(_ kind: String, pid: String = "self") throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/\(kind)")
    }

    @Test func shmSizeDomainnameGroupsAndOOMScore() throws {
        let box = try Sandbox()
        let out = try box.mustRun([
            "run", "--rm", "--shm-size", "32m", "--domainname", "example.test", "--group-add", "nogroup", "--group-add", "1234",
            "--oom-score-adj", "300", Sandbox.image, "sh", "-c",
            "df -k /dev/shm | tail -n 1; cat /proc/sys/kernel/domainname; id -G; cat /proc/self/oom_score_adj",
        ]).stdout.split(separator: "\n").map(String.init)
        #expect(out.count == 4, "\(out)")
        guard out.count == 4 else { return }
        #expect(out[0].split(separator: " ").dropFirst().first == "32768", "df: \(out[0])")
        #expect(out[1] == "example.test")
        #expect(Set(out[2].split(separator: " ")) == ["0", "65534", "1234"], "id -G: \(out[2])")
        #expect(out[3] == "300")
        // Docker's default /dev/shm: 64 MiB.
        let plain = try box.mustRun(["run", "--rm", Sandbox.image, "sh", "-c", "df -k /dev/shm | tail -n 1"]).stdout
        #expect(plain.split(separator: " ").dropFirst().first == "65536", "df: \(plain)")
        let inspected = try box.mustRun(["create", "--shm-size", "32m", "--domainname", "example.test", "--group-add", "1234", Sandbox.image])
        let document = try box.inspect(inspected.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let host = document["HostConfig"] as? [String: Any] ?? [:]
        #expect(host["ShmSize"] as? Int == 32 << 20)
        #expect(host["GroupAdd"] as? [String] == ["1234"])
        #expect((document["Config"] as? [String: Any])?["Domainname"] as? String == "example.test")
        // A negative adjustment needs CAP_SYS_RESOURCE (missing from this CI host's bounding
        // set): applied where the engine has it, else refused at create, naming the reason.
        let lowered = try box.kujira(["run", "--rm", "--oom-score-adj", "-500", Sandbox.image, "cat", "/proc/self/oom_score_adj"])
        if lowered.status == 0 {
            #expect(lowered.stdout == "-500\n")
        } else {
            #expect(lowered.status == 125 && lowered.stderr.contains("needs CAP_SYS_RESOURCE"), "\(lowered.stderr)")
        }
        let unknown = try box.kujira(["run", "--rm", "--group-add", "wheel", Sandbox.image, "true"])
        #expect(unknown.status == 125 && unknown.stderr.contains("--group-add wheel: no such group"), "\(unknown.stderr)")
    }

    @Test func namespacedSysctls() throws {
        let box = try Sandbox()
        let out = try box.mustRun([
            "run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmax=123456789", Sandbox.image, "sh", "-c",
            "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax",
        ]).stdout
        #expect(out == "1\n123456789\n")
        let refused = try box.kujira(["run", "--rm", "--sysctl", "kernel.pid_max=100", Sandbox.image, "true"])
        #expect(refused.status == 125 && refused.stderr.contains("only namespaced sysctls"), "\(refused.stderr)")
        let hostNet = try box.kujira(["run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", Sandbox.image, "true"])
        #expect(hostNet.status == 125 && hostNet.stderr.contains("--network host"), "\(hostNet.stderr)")
    }

    @Test func cgroupLimitsAndParent() throws {
        let box = try Sandbox()
        let parent = Self.unique("kujira-test-parent")
        let name = Self.unique("limits")
        defer {
            _ = try? box.kujira(["rm", "-f", name])
            // The parent cgroup the runtime made in each hierarchy (empty once the container is gone).
            for hierarchy in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] {
                rmdir("/sys/fs/cgroup/\(hierarchy)/\(parent)")
            }
        }
        try box.mustRun([
            "run", "-d", "--name", name, "--memory", "64m", "--memory-reservation", "16m", "--oom-kill-disable",
            "--cpu-quota", "50000", "--cpu-period", "100000", "--cpuset-cpus", "0", "--cpuset-mems", "0",
            "--cgroup-parent", parent, Sandbox.image, "sleep", "600",
        ])
        let id = try box.inspect(name)["Id"] as? String ?? ""
        // The container's cgroup as it sees itself, and where the host has it.
        let membership = try box.mustRun(["exec", name, "cat", "/proc/self/cgroup"]).stdout
        #expect(membership.contains("/\(parent)/\(id)"), "\(membership)")
        func read(_ controller: String, _ file: String) throws -> String {
            try box.mustRun(["exec", name, "cat", "/sys/fs/cgroup/\(controller)/\(file)"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try read("memory", "memory.soft_limit_in_bytes") == String(16 << 20))
        #expect(try read("memory", "memory.oom_control").contains("oom_kill_disable 1"))
        #expect(try read("cpu", "cpu.cfs_quota_us") == "50000")
        #expect(try read("cpu", "cpu.cfs_period_us") == "100000")
        #expect(try read("cpuset", "cpuset.cpus") == "0")
        #expect(try read("cpuset", "cpuset.mems") == "0")
        let host = try box.inspect(name)["HostConfig"] as? [String: Any] ?? [:]
        #expect(host["CgroupParent"] as? String == "/\(parent)")
        #expect(host["MemoryReservation"] as? Int == 16 << 20 && host["OomKillDisable"] as? Bool == true)
        #expect(host["CpuQuota"] as? Int == 50000 && host["CpuPeriod"] as? Int == 100000 && host["CpusetCpus"] as? String == "0")

        // --blkio-weight: applied where the I/O scheduler takes weights, else a clear refusal.
        let weighted = try box.kujira(["run", "--rm", "--blkio-weight", "300", Sandbox.image, "sh", "-c",
                                       "cat /sys/fs/cgroup/blkio/blkio.weight 2>/dev/null || cat /sys/fs/cgroup/blkio/blkio.bfq.weight"])
        if weighted.status == 0 {
            #expect(weighted.stdout.contains("300"), "\(weighted.stdout)")
        } else {
            #expect(weighted.status == 125 && weighted.stderr.contains("--blkio-weight: the host's block I/O scheduler takes no weights"), "\(weighted.stderr)")
        }
    }

    @Test func hostNamespaces() throws {
        let box = try Sandbox()
        let out = try box.mustRun([
            "run", "--rm", "--pid", "host", "--ipc", "host", "--uts", "host", "--cgroupns", "private", Sandbox.image, "sh", "-c",
            "for n in pid ipc uts cgroup; do readlink /proc/self/ns/$n; done; hostname",
        ]).stdout.split(separator: "\n").map(String.init)
        #expect(out.count == 5, "\(out)")
        guard out.count == 5 else { return }
        let hostPid = try Self.hostNamespace("pid"), hostIpc = try Self.hostNamespace("ipc")
        let hostUts = try Self.hostNamespace("uts"), hostCgroup = try Self.hostNamespace("cgroup")
        let hostname = try String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(out[0] == hostPid)
        #expect(out[1] == hostIpc)
        #expect(out[2] == hostUts)
        #expect(out[3] != hostCgroup)
        #expect(out[4] == hostname)
        // The defaults: private pid, ipc and uts namespaces; the host's cgroup namespace.
        let plain = try box.mustRun(["run", "--rm", Sandbox.image, "sh", "-c", "readlink /proc/self/ns/pid; readlink /proc/self/ns/cgroup"]).stdout
            .split(separator: "\n").map(String.init)
        #expect(plain.first != hostPid && plain.last == hostCgroup)
        // --ipc none: a private ipc namespace without /dev/shm.
        let none = try box.mustRun(["run", "--rm", "--ipc", "none", Sandbox.image, "sh", "-c", "grep -c ' /dev/shm ' /proc/mounts || true"]).stdout
        #expect(none == "0\n")
    }

    /// Whether `path` is a mount point in this (the host's) mount namespace.
    static func isMounted(_ path: String) -> Bool {
        procText("/proc/self/mountinfo").split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && fields[4] == path
        }
    }

    @Test func shareableShmLivesAsLongAsItsMonitor() throws {
        let box = try Sandbox()
        let name = Self.unique("shared")
        let id = try box.mustRun(["run", "-d", "--name", name, "--ipc", "shareable", "--shm-size", "8m", Sandbox.image, "sleep", "600"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let shm = "\(box.state)/containers/\(id)/shm"
        #expect(Self.isMounted(shm))
        let inside = try box.mustRun(["exec", name, "sh", "-c", "busybox df -k /dev/shm | busybox tail -n 1"]).stdout
        #expect(inside.split(separator: " ").dropFirst().first == "8192", "df: \(inside)")
        try box.mustRun(["stop", "-t", "1", name])
        #expect(!Self.isMounted(shm))
        try box.mustRun(["start", name])
        #expect(Self.isMounted(shm))
        // A monitor killed with SIGKILL cannot unmount it: reconciliation does.
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(box.root)/containers/\(id)/config.v2.json"))
        let record = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        let monitor = Int32((record["state"] as? [String: Any])?["monitorPid"] as? Int ?? 0)
        #expect(monitor > 0)
        guard monitor > 0 else { return }
        kill(monitor, SIGKILL)
        #expect(box.eventually(30) {
            kill(monitor, 0) != 0 || (try? String(contentsOfFile: "/proc/\(monitor)/stat", encoding: .utf8))?.contains(") Z ") == true
        })
        #expect(try box.mustRun(["ps", "-a"]).stdout.contains("Exited"))
        #expect(!Self.isMounted(shm))
    }

    @Test func joiningAnotherContainersPidAndIpcNamespaces() throws {
        let box = try Sandbox()
        let target = Self.unique("target")
        try box.mustRun(["run", "-d", "--name", target, "--ipc", "shareable", Sandbox.image, "sh", "-c", "echo shared > /dev/shm/mark; exec sleep 600"])
        let pid = "\((try box.state(target)["Pid"] as? Int) ?? 0)"
        #expect(try box.eventually(10) { FileManager.default.fileExists(atPath: "/proc/\(pid)/root/dev/shm/mark") })
        let out = try box.mustRun([
            "run", "--rm", "--pid", "container:\(target)", "--ipc", "container:\(target)", Sandbox.image, "sh", "-c",
            "readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc; cat /dev/shm/mark; ps -o args | grep -c '^sleep 600'",
        ]).stdout.split(separator: "\n").map(String.init)
        #expect(out.count == 4, "\(out)")
        guard out.count == 4 else { return }
        let targetPid = try Self.hostNamespace("pid", pid: pid), targetIpc = try Self.hostNamespace("ipc", pid: pid)
        #expect(out[0] == targetPid)
        #expect(out[1] == targetIpc)
        #expect(out[2] == "shared")
        #expect(out[3] == "1")
        let joiner = Self.unique("joiner")
        try box.mustRun(["create", "--name", joiner, "--pid", "container:\(target)", Sandbox.image, "true"])
        let modes = try box.inspect(joiner)["HostConfig"] as? [String: Any] ?? [:]
        let targetID = try box.inspect(target)["Id"] as? String ?? ""
        #expect(modes["PidMode"] as? String == "container:\(targetID)")

        // A target that does not run, or whose ipc namespace is not shareable, is refused clearly.
        let idle = Self.unique("idle")
        try box.mustRun(["create", "--name", idle, Sandbox.image, "sleep", "600"])
        let notRunning = try box.kujira(["run", "--rm", "--pid", "container:\(idle)", Sandbox.image, "true"])
        #expect(notRunning.status != 0 && notRunning.stderr.contains("it is not running; start it first"), "\(notRunning.stderr)")
        let notShareable = try box.kujira(["run", "--rm", "--ipc", "container:\(idle)", Sandbox.image, "true"])
        #expect(notShareable.status == 125 && notShareable.stderr.contains("not shareable"), "\(notShareable.stderr)")
    }
}
