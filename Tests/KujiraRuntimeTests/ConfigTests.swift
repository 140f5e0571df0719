import Foundation
import Glibc
import KujiraOCI
import KujiraRuntime
import Testing

@Suite("What the container sees", .enabled(if: Privilege.shouldRun, Privilege.reason), .serialized)
struct ConfigTests {
    @Test func hostnameEnvCwdUser() throws {
        let box = try Sandbox(script: "hostname; echo $FOO; pwd; id; umask")
        box.spec.hostname = "kjtest"
        box.spec.process?.env = ["PATH=/bin", "FOO=bar baz"]
        box.spec.process?.cwd = "/work/dir"
        box.spec.process?.user = User(uid: 1000, gid: 1001, umask: 0o027, additionalGids: [10, 20])
        let result = try box.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "kjtest\nbar baz\n/work/dir\nuid=1000 gid=1001 groups=10,20\n0027\n")
    }

    @Test func mountsTmpfsAndReadOnlyBind() throws {
        let box = try Sandbox(script: "echo x > /scratch/f && cat /scratch/f; cat /data/hello; touch /data/new 2>&1 || echo refused; grep -c ' /scratch ' /proc/self/mountinfo")
        let data = box.directory + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try "from host\n".write(toFile: data + "/hello", atomically: true, encoding: .utf8)
        box.spec.mounts? += [
            Mount(destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["size=1m", "nosuid"]),
            Mount(destination: "/data", type: "bind", source: data, options: ["rbind", "ro"]),
        ]
        let result = try box.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("x\nfrom host\n"))
        #expect(result.stdout.contains("refused"))
        #expect(!FileManager.default.fileExists(atPath: data + "/new"))
    }

    @Test func readonlyRootMaskedAndReadonlyPaths() throws {
        let box = try Sandbox(script: "touch /newfile 2>/dev/null || echo root-ro; stat -c '%t:%T' /proc/keys; ls /proc/acpi | wc -l; echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo sys-ro")
        box.spec.root?.readonly = true
        let result = try box.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "root-ro\n1:3\n0\nsys-ro\n")
    }

    @Test func capabilitiesRlimitsNoNewPrivs() throws {
        let box = try Sandbox(script: "grep -E '^Cap(Eff|Bnd)' /proc/self/status; ulimit -n; ulimit -Hn; grep NoNewPrivs /proc/self/status")
        box.spec.process?.capabilities = LinuxCapabilities(bounding: ["CAP_KILL", "CAP_CHOWN"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"])
        box.spec.process?.rlimits = [POSIXRlimit(type: "RLIMIT_NOFILE", hard: 456, soft: 123)]
        box.spec.process?.noNewPrivileges = true
        let result = try box.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "CapEff:\t0000000000000020\nCapBnd:\t0000000000000021\n123\n456\nNoNewPrivs:\t1\n")
    }

    @Test func userNamespaceMapping() throws {
        let box = try Sandbox(script: "cat /proc/self/uid_map /proc/self/gid_map; id -u; ls -ln /bin/busybox | cut -c 1-40")
        box.spec.linux?.namespaces?.append(LinuxNamespace(type: .user))
        box.spec.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 100000, size: 65536)]
        box.spec.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 100000, size: 65536)]
        let result = try box.run()
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines.prefix(3) == ["0 100000 65536", "0 100000 65536", "0"])
    }

    @Test func joinNetworkNamespaceByPath() throws {
        let name = "kujira-test-\(getpid())"
        guard try runCommand("/usr/sbin/ip", ["netns", "add", name]).status == 0 else { throw TestFailure("ip netns add failed") }
        defer { _ = try? runCommand("/usr/sbin/ip", ["netns", "delete", name]) }
        let box = try Sandbox(script: "readlink /proc/self/ns/net")
        let namespaces = (box.spec.linux?.namespaces ?? []).map {
            $0.type == .network ? LinuxNamespace(type: .network, path: "/var/run/netns/\(name)") : $0
        }
        box.spec.linux?.namespaces = namespaces
        let result = try box.run()
        #expect(result.status == 0, "\(result.stderr)")
        let inode = try FileManager.default.attributesOfItem(atPath: "/var/run/netns/\(name)")[.systemFileNumber] as? UInt64
        #expect(result.stdout == "net:[\(inode ?? 0)]\n")
    }
}
