import Foundation
import Glibc
import KujiraOCI
import Testing

/// runtime-tools' validation cases for what the container sees (validation/hostname,
/// mounts, linux_masked_paths, linux_readonly_paths, process_rlimits, process_capabilities,
/// linux_seccomp, linux_sysctl, process_oom_score_adj, linux_uid_mappings/gid_mappings,
/// linux_devices, root_readonly_true/false, linux_ns_*, process_user, ...), each run by
/// kujira-runtime and by Debian's runc on the same bundle: same exit status and same output.
@Suite("Validation with runc: what the container sees", .enabled(if: Runc.shouldRun, Runc.reason), .serialized)
struct ValidationContainerTests {
    /// Runs `script` in the bundle `configure` sets up with both runtimes; expects the same
    /// exit status (`status`, unless nil) and output (stdout; the scripts send what they
    /// check to it) and returns ours.
    @discardableResult
    static func compare(_ script: String, status: Int32? = 0, sourceLocation: SourceLocation = #_sourceLocation,
                        _ configure: (inout Spec) throws -> Void = { _ in }) throws -> CommandResult {
        try compare(script, rootfs: { _ in }, status: status, sourceLocation: sourceLocation, configure)
    }

    /// ``compare(_:sourceLocation:_:)`` after `prepare` has added files to the rootfs.
    @discardableResult
    static func compare(_ script: String, rootfs prepare: (String) throws -> Void, status: Int32? = 0,
                        sourceLocation: SourceLocation = #_sourceLocation,
                        _ configure: (inout Spec) throws -> Void) throws -> CommandResult {
        let pair = try RuncPair(script: script)
        try prepare(pair.rootfs)
        try configure(&pair.spec)
        let (ours, theirs) = try pair.run()
        #expect(ours.status == theirs.status, "exit status: kujira \(ours.status) (\(ours.stderr)), runc \(theirs.status) (\(theirs.stderr))",
                sourceLocation: sourceLocation)
        if let status { #expect(ours.status == status, "\(ours.stderr)", sourceLocation: sourceLocation) }
        expectSameOutput(ours.stdout, theirs.stdout, sourceLocation: sourceLocation)
        return ours
    }

    /// Prints each mount point, its per-mount options, filesystem type and superblock
    /// options but their leading rw/ro (a read-only tmpfs: runc remounts the mount
    /// read-only, Kujira mounts the superblock read-only; both are read-only mounts).
    /// Masking binds of /dev/null print "null-bind" alone (runc binds the container's
    /// /dev/null, Kujira the host's: the same device on another mount).
    static let mountTable = #"awk '{ for (i = 7; $i != "-"; i++); t = $(i+1); s = $(i+3); o = $6; sub(/^r[ow],?/, "", s); if ($4 ~ /\/null$/) { t = "null-bind"; s = ""; o = "" } print $5, o, t, s }' /proc/self/mountinfo | sort"#

    @Test func hostname() throws {
        let ours = try Self.compare("hostname; uname -n; cat /proc/sys/kernel/hostname") { spec in
            spec.hostname = "validation-host"
        }
        #expect(ours.stdout == "validation-host\nvalidation-host\nvalidation-host\n")
    }

    /// `domainname` (runtime-spec 1.2) is set by Kujira; Debian's runc 1.1 predates the field
    /// and leaves "(none)", so only Kujira's value is asserted.
    @Test func domainname() throws {
        let pair = try RuncPair(script: "cat /proc/sys/kernel/domainname")
        pair.spec.domainname = "validation.example"
        let ours = try pair.kujira(["run", "--bundle", pair.bundle, "k-d"])
        #expect(ours.status == 0, "\(ours.stderr)")
        #expect(ours.stdout == "validation.example\n")
    }

    /// The default mounts (proc, the /dev tmpfs, devpts, shm, mqueue, sysfs, the cgroup
    /// hierarchy) and tmpfs/bind mounts with options, as the container's mountinfo shows them.
    @Test func mounts() throws {
        let source = try scratchDirectory("bound")
        defer { try? FileManager.default.removeItem(atPath: source) }
        try Self.compare(Self.mountTable + "; cat /mnt/ro/file /mnt/rw/file; touch /mnt/ro/x 2>/dev/null || echo ro-bind-refuses; touch /mnt/tmp/x && echo tmpfs-writable") { spec in
            spec.mounts? += [
                Mount(destination: "/mnt/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "noexec", "size=1m", "mode=1750"]),
                Mount(destination: "/mnt/ro", type: "bind", source: source, options: ["rbind", "ro", "nosuid"]),
                Mount(destination: "/mnt/rw", type: "none", source: source, options: ["bind", "rw", "noatime"]),
                Mount(destination: "/mnt/ro-tmp", type: "tmpfs", source: "tmpfs", options: ["ro", "size=64k"]),
            ]
        }
    }

    /// A tmpfs `mode=` option is the mount point's mode. runc 1.1 chmods a tmpfs mount point
    /// it created back to 0755 after mounting, losing the option; mount(8) and the spec pass
    /// options through, so only Kujira is asserted.
    @Test func tmpfsModeOption() throws {
        let box = try Sandbox(script: "stat -c '%a' /mnt/tmp")
        box.spec.mounts? += [Mount(destination: "/mnt/tmp", type: "tmpfs", source: "tmpfs", options: ["mode=1750"])]
        let result = try box.run("k-mode")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "1750\n")
    }

    /// Creates /etc/<name>-dir (with a file) and /etc/<name>-file in `rootfs`.
    static func makePaths(_ name: String, in rootfs: String) throws {
        try FileManager.default.createDirectory(atPath: rootfs + "/etc/\(name)-dir", withIntermediateDirectories: true)
        try "inside\n".write(toFile: rootfs + "/etc/\(name)-dir/inner", atomically: true, encoding: .utf8)
        try "content\n".write(toFile: rootfs + "/etc/\(name)-file", atomically: true, encoding: .utf8)
    }

    @Test func maskedPaths() throws {
        try Self.compare("for p in /etc/masked-dir /etc/masked-file /proc/kcore; do ls -ld $p | awk '{ print $1 }'; done; ls /etc/masked-dir | wc -l; cat /etc/masked-file | wc -c; touch /etc/masked-dir/x 2>/dev/null || echo masked-dir-ro; test -e /etc/absent || echo absent-stays-absent", rootfs: { try Self.makePaths("masked", in: $0) }) { spec in
            spec.root?.readonly = false
            spec.linux?.maskedPaths? += ["/etc/masked-dir", "/etc/masked-file", "/etc/absent"]
        }
    }

    @Test func readonlyPaths() throws {
        try Self.compare("touch /etc/ro-dir/x 2>/dev/null || echo ro-dir; echo y >> /etc/ro-file 2>/dev/null || echo ro-file; touch /etc/rw 2>/dev/null && echo rest-writable; cat /etc/ro-file /etc/ro-dir/inner; test -e /etc/absent || echo absent-stays-absent", rootfs: { try Self.makePaths("ro", in: $0) }) { spec in
            spec.root?.readonly = false
            spec.linux?.readonlyPaths? += ["/etc/ro-dir", "/etc/ro-file", "/etc/absent"]
        }
    }

    @Test func rlimits() throws {
        try Self.compare("cat /proc/self/limits") { spec in
            spec.process?.rlimits = [
                POSIXRlimit(type: "RLIMIT_NOFILE", hard: 300, soft: 200), POSIXRlimit(type: "RLIMIT_CORE", hard: 4096, soft: 1024),
                POSIXRlimit(type: "RLIMIT_NPROC", hard: 500, soft: 400), POSIXRlimit(type: "RLIMIT_MEMLOCK", hard: 65536, soft: 65536),
                POSIXRlimit(type: "RLIMIT_MSGQUEUE", hard: 8192, soft: 4096), POSIXRlimit(type: "RLIMIT_NICE", hard: 0, soft: 0),
            ]
        }
    }

    /// A hard limit above the runtime's own needs CAP_SYS_RESOURCE: where the bounding set
    /// lacks it (as on the test machines) both runtimes fail the container, elsewhere both
    /// start it.
    @Test func rlimitAboveTheHardLimit() throws {
        var own = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &own)
        let pair = try RuncPair(script: "ulimit -Hn")
        pair.spec.process?.rlimits = [POSIXRlimit(type: "RLIMIT_NOFILE", hard: UInt64(own.rlim_max) + 1000, soft: 1024)]
        let (ours, theirs) = try pair.run()
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let bounding = status.split(separator: "\n").first { $0.hasPrefix("CapBnd:") }.map { UInt64($0.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) ?? 0 } ?? 0
        let canRaise = bounding & (1 << 24) != 0
        #expect((ours.status == 0) == canRaise, "\(ours.stderr)")
        #expect((theirs.status == 0) == canRaise, "\(theirs.stderr)")
        if !canRaise { #expect(ours.stderr.contains("setrlimit"), "\(ours.stderr)") }
    }

    @Test func unknownRlimitFails() throws {
        let pair = try RuncPair()
        pair.spec.process?.rlimits = [POSIXRlimit(type: "RLIMIT_BOGUS", hard: 1, soft: 1)]
        let (ours, theirs) = try pair.run()
        #expect(ours.status != 0 && theirs.status != 0)
        #expect(ours.stderr.contains("unknown rlimit type \"RLIMIT_BOGUS\""), "\(ours.stderr)")
    }

    @Test func capabilities() throws {
        try Self.compare("grep ^Cap /proc/self/status") { spec in
            spec.process?.capabilities = LinuxCapabilities(
                bounding: ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID", "CAP_SYS_ADMIN"],
                effective: ["CAP_CHOWN", "CAP_KILL"], inheritable: ["CAP_NET_RAW"],
                permitted: ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"], ambient: ["CAP_NET_RAW"])
        }
        // A non-root user keeps only what the ambient set carries across execve.
        try Self.compare("grep ^Cap /proc/self/status; id") { spec in
            spec.process?.user = User(uid: 1000, gid: 1000)
            spec.process?.capabilities = LinuxCapabilities(
                bounding: ["CAP_KILL", "CAP_NET_BIND_SERVICE"], effective: ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
                inheritable: ["CAP_NET_BIND_SERVICE"], permitted: ["CAP_KILL", "CAP_NET_BIND_SERVICE"], ambient: ["CAP_NET_BIND_SERVICE"])
        }
    }

    /// An unknown capability name: runtime-spec 1.2 says a capability that cannot be mapped
    /// to the kernel MUST be logged as a warning and SHOULD NOT fail the container. runc 1.1
    /// warns and ignores it, and so does Kujira (it refused the container before).
    @Test func unknownCapabilityIsIgnoredWithAWarning() throws {
        let ours = try Self.compare("grep ^CapBnd /proc/self/status") { spec in
            spec.process?.capabilities?.bounding? += ["CAP_BOGUS"]
        }
        #expect(ours.status == 0)
        #expect(ours.stderr.contains("CAP_BOGUS") && ours.stderr.contains("ignored"), "\(ours.stderr)")
    }

    /// errno (with errnoRet), kill, trap and log actions, the architecture list and argument
    /// filters: the exit status and error each probe sees.
    @Test func seccomp() throws {
        let probe = """
            mkdir /tmp/a 2>&1; echo mkdir=$?
            (rmdir /tmp/none) 2>/dev/null; echo rmdir=$?
            (ln -s a /tmp/l) 2>/dev/null; echo symlink=$?
            pwd; echo getcwd=$?
            touch /tmp/f; chmod 700 /tmp/f 2>&1; echo chmod700=$?; chmod 640 /tmp/f 2>&1; echo chmod640=$?
            kill -USR2 $$ 2>&1; echo kill-usr2=$?; kill -0 $$ 2>&1; echo kill-0=$?
            """
        try Self.compare(probe) { spec in
            spec.root?.readonly = false
            spec.linux?.seccomp = LinuxSeccomp(
                defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                syscalls: [
                    LinuxSyscall(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: UInt32(EACCES)),
                    LinuxSyscall(names: ["rmdir"], action: "SCMP_ACT_KILL"),
                    LinuxSyscall(names: ["symlink", "symlinkat"], action: "SCMP_ACT_TRAP"),
                    LinuxSyscall(names: ["getcwd"], action: "SCMP_ACT_LOG"),
                    LinuxSyscall(names: ["chmod", "fchmodat", "fchmod"], action: "SCMP_ACT_ERRNO",
                                 args: [LinuxSeccompArg(index: 1, value: 0o700, valueTwo: 0o700, op: "SCMP_CMP_MASKED_EQ")]),
                    LinuxSyscall(names: ["kill"], action: "SCMP_ACT_ERRNO", errnoRet: UInt32(EINVAL),
                                 args: [LinuxSeccompArg(index: 1, value: UInt64(SIGUSR2), op: "SCMP_CMP_EQ")]),
                ])
        }
    }

    /// defaultAction errno with an allow list: what is not allowed fails with defaultErrnoRet.
    @Test func seccompDefaultErrno() throws {
        let ours = try Self.compare("echo start; mkdir /tmp/b 2>&1; echo mkdir=$?") { spec in
            spec.root?.readonly = false
            var allowed = Self.shellSyscalls
            allowed.removeAll { $0 == "mkdir" || $0 == "mkdirat" }
            spec.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: UInt32(EROFS),
                                               syscalls: [LinuxSyscall(names: allowed, action: "SCMP_ACT_ALLOW")])
        }
        #expect(ours.stdout.hasPrefix("start\n"), "\(ours.stdout) \(ours.stderr)")
    }

    /// What the init (either runtime's) and busybox sh need after the filter is loaded.
    static let shellSyscalls = [
        "execve", "execveat", "brk", "mmap", "munmap", "mprotect", "arch_prctl", "set_tid_address", "set_robust_list",
        "rseq", "prlimit64", "getuid", "geteuid", "getgid", "getegid", "getpid", "getppid", "getpgrp", "setpgid",
        "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "ioctl", "fcntl", "dup", "dup2", "dup3",
        "write", "writev", "read", "readv", "close", "openat", "open", "newfstatat", "fstat", "stat", "lstat", "statx",
        "exit", "exit_group", "wait4", "clone", "clone3", "fork", "vfork", "getcwd", "chdir", "uname", "umask",
        "capget", "capset", "prctl", "setuid", "setgid", "setgroups", "close_range", "futex", "getrandom",
        "mkdir", "mkdirat", "access", "faccessat", "faccessat2", "readlink", "readlinkat", "lseek", "pipe", "pipe2",
        "kill", "tgkill", "getdents64", "poll", "ppoll", "select", "pselect6", "nanosleep", "clock_nanosleep",
        "fstatfs", "statfs", "sched_getaffinity", "getrlimit", "setsid", "gettid", "madvise",
    ]

    @Test func sysctl() throws {
        try Self.compare("cat /proc/sys/kernel/msgmax /proc/sys/kernel/shmmni /proc/sys/net/ipv4/ip_forward /proc/sys/net/core/somaxconn") { spec in
            spec.linux?.sysctl = ["kernel.msgmax": "23456", "kernel.shmmni": "2048", "net.ipv4.ip_forward": "1", "net.core.somaxconn": "300"]
        }
    }

    /// A sysctl of no namespace the container has (vm.*, or net.* without a network
    /// namespace): both runtimes refuse it.
    @Test func sysctlOutsideTheContainersNamespacesFails() throws {
        // The values are the host's own: a runtime that let them through changes nothing.
        let current = { (key: String) in
            ((try? String(contentsOfFile: "/proc/sys/" + key.replacingOccurrences(of: ".", with: "/"), encoding: .utf8)) ?? "")
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        for (key, dropNetwork) in [("vm.swappiness", false), ("net.ipv4.ip_forward", true)] {
            let value = current(key)
            let pair = try RuncPair()
            pair.spec.linux?.sysctl = [key: value]
            if dropNetwork { pair.spec.linux?.namespaces?.removeAll { $0.type.rawValue == "network" } }
            let (ours, theirs) = try pair.run()
            #expect(ours.status != 0, "\(key): \(ours.stdout)")
            #expect(theirs.status != 0, "\(key): \(theirs.stdout)")
            #expect(ours.stderr.contains(key), "\(ours.stderr)")
        }
    }

    @Test(arguments: [-500, 0, 123, 1000])
    func oomScoreAdj(value: Int) throws {
        // Lowering it below the runtime's own needs CAP_SYS_RESOURCE: where the bounding set
        // lacks it (the test machines), both fail alike.
        try Self.compare("cat /proc/self/oom_score_adj", status: value < 0 ? nil : 0) { spec in
            spec.process?.oomScoreAdj = value
        }
    }

    /// uid/gid maps as the container reads them, its ids and the ownership of the rootfs
    /// (owned by host root: the overflow id inside).
    @Test func userNamespaceMappings() throws {
        try Self.compare("cat /proc/self/uid_map /proc/self/gid_map; id; ls -ln / | awk 'NR > 1 { print $3, $4, $9 }'; touch /tmp/x 2>&1; ls -ln /tmp/x | awk '{ print $3, $4 }'") { spec in
            spec.root?.readonly = false
            spec.linux?.namespaces?.append(LinuxNamespace(type: LinuxNamespaceType(rawValue: "user")))
            spec.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 231_072, size: 1000), LinuxIDMapping(containerID: 1000, hostID: 331_072, size: 64536)]
            spec.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 431_072, size: 65536)]
            spec.mounts? += [Mount(destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["size=1m"])]
        }
    }

    /// linux.devices (char, block, fifo nodes with mode and owner) and the device cgroup's
    /// rules. Major 240 (local/experimental) has no driver here: opening a node the cgroup
    /// allows fails with ENXIO, one it denies with EPERM.
    @Test func devices() throws {
        let probe = """
            for d in /dev/v-zero /dev/v-null /dev/v-loop /dev/v-fifo /dev/v-r /dev/v-none; do stat -c '%A %u %g %t %T %n' $d; done
            head -c 4 /dev/v-zero | wc -c; echo x > /dev/v-null && echo null-write-allowed
            head -c 1 /dev/v-r 2>&1; (echo x > /dev/v-r) 2>&1; head -c 1 /dev/v-none 2>&1; head -c 1 /dev/v-loop 2>&1
            ls /dev | tr '\\n' ' '
            """
        try Self.compare(probe) { spec in
            spec.linux?.devices = [
                LinuxDevice(path: "/dev/v-zero", type: "c", major: 1, minor: 5, fileMode: 0o644, uid: 0, gid: 0),
                LinuxDevice(path: "/dev/v-null", type: "c", major: 1, minor: 3, fileMode: 0o666, uid: 10, gid: 20),
                LinuxDevice(path: "/dev/v-r", type: "c", major: 240, minor: 0, fileMode: 0o666),
                LinuxDevice(path: "/dev/v-none", type: "c", major: 240, minor: 1, fileMode: 0o600),
                LinuxDevice(path: "/dev/v-loop", type: "b", major: 7, minor: 200, fileMode: 0o660, uid: 0, gid: 6),
                LinuxDevice(path: "/dev/v-fifo", type: "p", fileMode: 0o620),
            ]
            spec.linux?.resources = LinuxResources(devices: [
                LinuxDeviceCgroup(allow: false, access: "rwm"),
                LinuxDeviceCgroup(allow: true, type: "c", major: 240, minor: 0, access: "r"),
                LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 3, access: "rw"),
            ])
        }
    }

    @Test(arguments: [true, false])
    func rootReadonly(readonly: Bool) throws {
        try Self.compare("awk '$5 == \"/\" { print $6 }' /proc/self/mountinfo | cut -d, -f1; touch /x 2>/dev/null && echo writable || echo read-only; rm -f /x") { spec in
            spec.root?.readonly = readonly
        }
    }

    /// process.user (uid, gid, additional gids, umask), cwd and env; HOME from /etc/passwd
    /// when unset.
    @Test func processUserGroupsAndUmask() throws {
        try Self.compare("id; umask; pwd; echo HOME=$HOME; env | sort; touch /tmp/f; stat -c '%a %u %g' /tmp/f", rootfs: { chmod($0 + "/tmp", 0o1777) }) { spec in
            spec.root?.readonly = false
            spec.process?.user = User(uid: 1234, gid: 4321, umask: 0o077, additionalGids: [5, 4321, 99])
            spec.process?.cwd = "/tmp"
            spec.process?.env = ["PATH=/bin", "EMPTY=", "SPACED=a b"]
        }
        let pair = try RuncPair(script: "id; echo HOME=$HOME")
        try "user:x:1000:1000:user:/home/user:/bin/sh\n".write(toFile: pair.rootfs + "/etc/passwd", atomically: true, encoding: .utf8)
        pair.spec.process?.user = User(uid: 1000, gid: 1000)
        pair.spec.process?.env = ["PATH=/bin"]
        let (ours, theirs) = try pair.run()
        #expect(ours.status == 0 && theirs.status == 0, "\(ours.stderr) \(theirs.stderr)")
        expectSameOutput(ours.stdout, theirs.stdout)
    }

    /// Propagation options on a bind mount (the optional fields of its mountinfo line: shared,
    /// master, unbindable; peer group numbers left out).
    @Test(arguments: ["rprivate", "rshared", "rslave", "runbindable"])
    func bindMountPropagation(propagation: String) throws {
        let source = try scratchDirectory("propagation")
        defer {
            _ = umount2(source, Int32(MNT_DETACH))
            try? FileManager.default.removeItem(atPath: source)
        }
        // A mount of its own (shared, so slave has a master): runc and Kujira see the same.
        guard mount(source, source, nil, UInt(MS_BIND), nil) == 0, mount(nil, source, nil, UInt(MS_SHARED), nil) == 0 else {
            throw TestFailure("bind-mounting \(source): errno \(errno)")
        }
        try Self.compare(#"awk '$5 == "/mnt/p" { t = ""; for (i = 7; $i != "-"; i++) { f = $i; sub(/:[0-9]+$/, "", f); t = t f " " } print "p:" t }' /proc/self/mountinfo"#) { spec in
            spec.mounts? += [Mount(destination: "/mnt/p", type: "bind", source: source, options: ["rbind", propagation])]
        }
    }

    /// The container's namespaces differ from the host's for each type requested and equal
    /// the host's for the others (validation/linux_ns_itype, linux_ns_nopath).
    @Test(arguments: [["mount"], ["mount", "pid", "uts"], ["mount", "pid", "network", "ipc", "uts", "cgroup"]])
    func namespaceTypes(requested: [String]) throws {
        let names = ["ipc": "ipc", "mnt": "mount", "net": "network", "pid": "pid", "uts": "uts", "cgroup": "cgroup"]
        let host = Dictionary(uniqueKeysWithValues: try names.keys.map { ($0, try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\($0)")) })
        let pair = try RuncPair(script: "for n in ipc mnt net pid uts cgroup; do echo $n $(readlink /proc/self/ns/$n); done")
        pair.spec.linux?.namespaces = requested.map { LinuxNamespace(type: LinuxNamespaceType(rawValue: $0)) }
        // Without a uts namespace there is no hostname to set.
        if !requested.contains("uts") { pair.spec.hostname = nil }
        let (ours, theirs) = try pair.run()
        #expect(ours.status == 0 && theirs.status == 0, "\(ours.stderr) \(theirs.stderr)")
        let classify = { (output: String) -> [String: String] in
            var kinds: [String: String] = [:]
            for line in output.split(separator: "\n") {
                let parts = line.split(separator: " ").map(String.init)
                guard parts.count == 2 else { continue }
                kinds[parts[0]] = parts[1] == host[parts[0]] ? "host" : "own"
            }
            return kinds
        }
        let expected = Dictionary(uniqueKeysWithValues: names.map { ($0.key, requested.contains($0.value) ? "own" : "host") })
        #expect(classify(ours.stdout) == expected, "\(ours.stdout)")
        #expect(classify(theirs.stdout) == expected, "\(theirs.stdout)")
    }

    /// Joining existing namespaces by path (validation/linux_ns_path): a network and a uts
    /// namespace held by a helper process; the container is in exactly those.
    @Test func namespacePaths() throws {
        let scratch = try Sandbox.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let helper = try Peers.spawn("/bin/busybox", ["unshare", "-n", "-u", "/bin/busybox", "sh", "-c", "hostname ns-path-host; echo ready; exec sleep 600"],
                                     stdout: scratch + "/out", stderr: scratch + "/err")
        defer {
            Glibc.kill(helper, SIGKILL)
            _ = Peers.wait(helper)
        }
        #expect(eventually { ((try? String(contentsOfFile: scratch + "/out", encoding: .utf8)) ?? "").contains("ready") })
        let expected = try ["net", "uts"].map { try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(helper)/ns/\($0)") }
        let ours = try Self.compare("readlink /proc/self/ns/net; readlink /proc/self/ns/uts; hostname") { spec in
            spec.hostname = nil
            let kept = (spec.linux?.namespaces ?? []).filter { !["network", "uts"].contains($0.type.rawValue) }
            spec.linux?.namespaces = kept + [
                LinuxNamespace(type: LinuxNamespaceType(rawValue: "network"), path: "/proc/\(helper)/ns/net"),
                LinuxNamespace(type: LinuxNamespaceType(rawValue: "uts"), path: "/proc/\(helper)/ns/uts"),
            ]
        }
        #expect(ours.stdout == expected.joined(separator: "\n") + "\nns-path-host\n", "\(ours.stdout) \(ours.stderr)")
    }
}
