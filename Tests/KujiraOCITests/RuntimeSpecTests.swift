import KujiraOCI
import Testing

@Suite("Runtime spec")
struct RuntimeSpecTests {
    @Test func decodesRuncSpec() throws {
        let spec = try checkRoundTrip(Spec.self, fixture: "runc-spec.json")
        #expect(spec.ociVersion == "1.0.2-dev")
        let process = try #require(spec.process)
        #expect(process.terminal == true)
        #expect(process.user == User(uid: 0, gid: 0))
        #expect(process.args == ["sh"])
        #expect(process.cwd == "/")
        #expect(process.capabilities?.bounding == ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"])
        #expect(process.rlimits == [POSIXRlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)])
        #expect(process.noNewPrivileges == true)
        #expect(spec.root == Root(path: "rootfs", readonly: true))
        #expect(spec.hostname == "runc")
        #expect(spec.mounts?.first?.destination == "/proc")
        let linux = try #require(spec.linux)
        #expect(linux.namespaces?.map(\.type) == [.pid, .network, .ipc, .uts, .mount])
        #expect(linux.maskedPaths?.contains("/proc/kcore") == true)
        #expect(linux.readonlyPaths?.contains("/proc/sys") == true)
        #expect(linux.resources?.devices == [LinuxDeviceCgroup(allow: false, access: "rwm")])
    }

    @Test func decodesRuncRootlessSpec() throws {
        let spec = try checkRoundTrip(Spec.self, fixture: "runc-spec-rootless.json")
        let linux = try #require(spec.linux)
        #expect(linux.namespaces?.contains(LinuxNamespace(type: .user)) == true)
        #expect(linux.uidMappings?.count == 1)
        #expect(linux.gidMappings?.first?.size == 1)
        // runc --rootless bind-mounts the host /sys (no sysfs without a network namespace).
        #expect(spec.mounts?.contains { $0.destination == "/sys" && $0.options?.contains("rbind") == true } == true)
        #expect(linux.resources == nil)
    }

    @Test func decodesEveryFieldOfTheSpec() throws {
        let spec = try checkRoundTrip(Spec.self, fixture: "runtime-spec-full.json")
        let process = try #require(spec.process)
        #expect(process.consoleSize == ConsoleSize(height: 25, width: 80))
        #expect(process.user.umask == 63)
        #expect(process.user.additionalGids == [5, 6])
        #expect(process.capabilities?.ambient == ["CAP_NET_BIND_SERVICE"])
        #expect(process.rlimits?.last?.hard == UInt64.max)
        #expect(process.oomScoreAdj == -100)
        #expect(process.ioPriority == LinuxIOPriority(ioClass: "IOPRIO_CLASS_IDLE", priority: 4))
        #expect(process.scheduler?.policy == "SCHED_DEADLINE")
        #expect(process.scheduler?.period == 30_000_000)
        #expect(process.execCPUAffinity == ExecCPUAffinity(initial: "7", final: "0-3,7"))
        #expect(spec.domainname == "foobarbaz.test")
        #expect(spec.mounts?[1].uidMappings == [LinuxIDMapping(containerID: 0, hostID: 1000, size: 65536)])
        let hooks = try #require(spec.hooks)
        #expect(hooks.prestart?.first?.args == ["fix-mounts", "arg1", "arg2"])
        #expect(hooks.createRuntime?.first?.path == "/usr/bin/setup-network")
        #expect(hooks.createContainer?.count == 1)
        #expect(hooks.startContainer?.count == 1)
        #expect(hooks.poststart?.first?.timeout == 5)
        #expect(hooks.poststop?.first?.path == "/usr/sbin/cleanup.sh")
        #expect(spec.annotations?["com.example.key1"] == "value1")

        let linux = try #require(spec.linux)
        #expect(linux.devices?.last == LinuxDevice(path: "/dev/myfifo", type: "p"))
        #expect(linux.devices?.first?.fileMode == 438)
        #expect(linux.timeOffsets?["monotonic"]?.secs == -3600)
        #expect(linux.sysctl?["net.ipv4.ip_forward"] == "1")
        #expect(linux.cgroupsPath == "/myRuntime/myContainer")
        #expect(linux.rootfsPropagation == "slave")
        #expect(linux.namespaces?.last?.type == .time)
        #expect(linux.namespaces?[1].path == "/var/run/netns/neta")
        #expect(linux.mountLabel?.hasPrefix("system_u") == true)
        #expect(linux.intelRdt?.closID == "guaranteed_group")
        #expect(linux.intelRdt?.enableMBM == true)
        #expect(linux.intelRdt?.schemata == ["L2:0=f;1=f;2=f;3=f"])
        #expect(linux.intelRdt?.enableMonitoring == true)
        #expect(linux.netDevices == ["eth1": LinuxNetDevice(name: "net0"), "ens4": LinuxNetDevice()])
        #expect(linux.personality == LinuxPersonality(domain: "LINUX32", flags: []))

        let resources = try #require(linux.resources)
        #expect(resources.network?.priorities?.count == 2)
        #expect(resources.pids == LinuxPids(limit: 32771))
        #expect(resources.hugepageLimits?.first?.pageSize == "2MB")
        #expect(resources.memory?.kernel == -1)
        #expect(resources.memory?.checkBeforeUpdate == true)
        #expect(resources.cpu?.cpus == "2-3")
        #expect(resources.cpu?.burst == 100_000)
        #expect(resources.devices?.count == 3)
        #expect(resources.blockIO?.weightDevice?.first?.leafWeight == 300)
        #expect(resources.blockIO?.throttleWriteIOPSDevice == [LinuxThrottleDevice(major: 8, minor: 16, rate: 300)])
        #expect(resources.rdma?["mlx5_1"] == LinuxRdma(hcaHandles: 3, hcaObjects: 10000))
        #expect(resources.unified?["memory.high"] == "1073741824")

        let seccomp = try #require(linux.seccomp)
        #expect(seccomp.defaultAction == "SCMP_ACT_ERRNO")
        #expect(seccomp.defaultErrnoRet == 1)
        #expect(seccomp.flags == ["SECCOMP_FILTER_FLAG_LOG"])
        #expect(seccomp.listenerPath == "/run/seccomp-agent.socket")
        #expect(seccomp.syscalls?.count == 5)
        #expect(seccomp.syscalls?[2].args == [LinuxSeccompArg(index: 0, value: 2_114_060_288, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ")])
        #expect(seccomp.syscalls?[3].errnoRet == 38)
    }

    @Test func omitsAbsentFieldsWhenEncoding() throws {
        let spec = Spec(process: Process(args: ["/bin/true"]), root: Root(path: "rootfs"))
        let text = String(decoding: try CanonicalJSON.encode(spec), as: UTF8.self)
        #expect(text == #"{"ociVersion":"1.2.0","process":{"args":["/bin/true"],"cwd":"/","user":{"gid":0,"uid":0}},"root":{"path":"rootfs"}}"#)
    }

    @Test func keepsUnknownNamespaceKinds() throws {
        let bytes = Array(#"{"type":"future"}"#.utf8)
        let namespace = try CanonicalJSON.decode(LinuxNamespace.self, from: bytes)
        #expect(namespace.type.rawValue == "future")
        #expect(try CanonicalJSON.encode(namespace) == bytes)
    }

    @Test func requiresProcessUserAndCwd() {
        let error = expectOCIError(.malformedDocument) {
            _ = try CanonicalJSON.decode(Spec.self, from: Array(#"{"ociVersion":"1.2.0","process":{"user":{"uid":0,"gid":0}}}"#.utf8), what: "config.json")
        }
        #expect(error?.message == "malformed config.json: missing field \"process.cwd\"")
    }

    // MARK: State and features

    @Test func decodesRuncState() throws {
        let runc = try checkRoundTrip(RuncState.self, fixture: "runc-state.json")
        #expect(runc.id == "kujirafx")
        #expect(runc.status == .created)
        #expect(runc.pid > 0)
        #expect(runc.rootfs == runc.bundle + "/rootfs")
        #expect(runc.owner == "")
        #expect(runc.createdTimestamp != nil)
        #expect(runc.state.pid == runc.pid)

        // The same document read as the spec's State: runc's extra keys are ignored.
        let state = try CanonicalJSON.decode(State.self, from: try Fixture.bytes("runc-state.json"))
        #expect(state == runc.state)
    }

    @Test func encodesHookState() throws {
        let state = State(id: "c1", status: .stopped, bundle: "/b", annotations: ["k": "v"])
        let text = String(decoding: try CanonicalJSON.encode(state), as: UTF8.self)
        #expect(text == #"{"annotations":{"k":"v"},"bundle":"/b","id":"c1","ociVersion":"1.2.0","status":"stopped"}"#)
        #expect(try CanonicalJSON.decode(State.self, from: Array(#"{"ociVersion":"1.0.2","id":"x","status":"paused","bundle":"/"}"#.utf8)).status == .paused)
    }

    @Test func decodesRuncFeatures() throws {
        let features = try checkRoundTrip(Features.self, fixture: "runc-features.json")
        #expect(features.ociVersionMin == "1.0.0")
        #expect(features.hooks?.contains("createRuntime") == true)
        #expect(features.mountOptions?.contains("rro") == true)
        let linux = try #require(features.linux)
        #expect(linux.namespaces?.contains("cgroup") == true)
        #expect(linux.capabilities?.contains("CAP_SYS_ADMIN") == true)
        #expect(linux.cgroup?.v1 == true)
        #expect(linux.cgroup?.systemdUser == true)
        #expect(linux.seccomp?.enabled == true)
        #expect(linux.seccomp?.operators?.contains("SCMP_CMP_MASKED_EQ") == true)
        #expect(linux.seccomp?.archs?.contains("SCMP_ARCH_X86_64") == true)
        #expect(linux.apparmor?.enabled == true)
        #expect(linux.selinux?.enabled == true)
        #expect(features.annotations?["org.opencontainers.runc.version"] == "1.1.5+ds1")
    }

    @Test func encodesSpec12Features() throws {
        let features = Features(
            ociVersionMin: "1.0.0", ociVersionMax: "1.2.0",
            linux: LinuxFeatures(
                cgroup: CgroupFeatures(v2: true, rdma: true),
                seccomp: SeccompFeatures(enabled: true, knownFlags: ["SECCOMP_FILTER_FLAG_LOG"], supportedFlags: []),
                intelRdt: EnabledFeature(enabled: false),
                mountExtensions: MountExtensionsFeatures(idmap: EnabledFeature(enabled: true))),
            potentiallyUnsafeConfigAnnotations: ["org.criu.config"])
        let bytes = try CanonicalJSON.encode(features)
        #expect(try CanonicalJSON.decode(Features.self, from: bytes) == features)
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == #"{"linux":{"cgroup":{"rdma":true,"v2":true},"intelRdt":{"enabled":false},"mountExtensions":{"idmap":{"enabled":true}},"seccomp":{"enabled":true,"knownFlags":["SECCOMP_FILTER_FLAG_LOG"],"supportedFlags":[]}},"ociVersionMax":"1.2.0","ociVersionMin":"1.0.0","potentiallyUnsafeConfigAnnotations":["org.criu.config"]}"#)
    }
}
