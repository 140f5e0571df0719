import Foundation
import KujiraGPU
import KujiraOCI
import Testing
@testable import Kujira
@testable import KujiraRuntime

/// `--shm-size`, `--sysctl`, `--group-add`, `--domainname`, `--oom-*`, `--memory-reservation`,
/// `--cpu-*`, `--cpuset-*`, `--blkio-weight`, `--cgroup-parent` and the namespace modes, as
/// they reach the runtime spec: no root needed.
@Suite struct RunSettingsUnitTests {
    /// A record and the runtime spec of `options` over a tiny rootfs with an /etc/group.
    static func spec(_ configure: (inout ContainerOptions) -> Void) throws -> (record: Kujira.ContainerRecord, spec: Spec) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kujira-runsettings-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: "\(dir)/rootfs/etc", withIntermediateDirectories: true)
        try "root:x:0:\naudio:x:29:\nstaff:x:50:\n".write(toFile: "\(dir)/rootfs/etc/group", atomically: false, encoding: .utf8)
        var options = ContainerOptions(image: "busybox")
        options.command = ["sh"]
        configure(&options)
        let id = String(repeating: "ab", count: 32)
        let record = try ContainerSpecBuilder.record(id: id, options: options, imageConfig: ImageConfig(), imageID: "sha256:x",
                                                     rootfs: "\(dir)/rootfs", logPath: "\(dir)/log")
        let spec = try ContainerSpecBuilder.spec(record: record, image: ImageConfiguration(architecture: "amd64", os: "linux"),
                                                 options: options, directory: dir, injector: DeviceInjector(specDirectories: []))
        return (record, spec)
    }

    /// The message of the engine error `body` throws, or nil.
    static func refusal(_ configure: (inout ContainerOptions) -> Void) -> String? {
        do {
            _ = try spec(configure)
            return nil
        } catch let error as EngineError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    static func shm(_ spec: Spec) -> Mount? { spec.mounts?.first { $0.destination == "/dev/shm" } }
    static func namespaces(_ spec: Spec) -> Set<String> { Set((spec.linux?.namespaces ?? []).map(\.type.rawValue)) }

    @Test func shmSizeIsDockersDefaultOrGiven() throws {
        let plain = try Self.spec { _ in }
        #expect(Self.shm(plain.spec)?.options?.contains("size=67108864") == true)
        #expect(plain.record.hostConfig.shmSize == 64 << 20)
        let given = try Self.spec { $0.shmSize = "32m" }
        #expect(Self.shm(given.spec)?.options?.filter { $0.hasPrefix("size=") } == ["size=33554432"])
        #expect(given.record.hostConfig.shmSize == 32 << 20)
        #expect(Self.refusal { $0.shmSize = "0" }?.contains("--shm-size 0") == true)
        #expect(Self.refusal { $0.shmSize = "lots" } != nil)
    }

    @Test func sysctlsFollowDockersRules() throws {
        let allowed = try Self.spec { $0.sysctls = ["net.ipv4.ip_forward=1", "kernel.shmmax=1000000", "fs.mqueue.msg_max=20"] }
        #expect(allowed.spec.linux?.sysctl == ["net.ipv4.ip_forward": "1", "kernel.shmmax": "1000000", "fs.mqueue.msg_max": "20"])
        #expect(allowed.record.hostConfig.sysctls["net.ipv4.ip_forward"] == "1")
        #expect(Self.refusal { $0.sysctls = ["kernel.pid_max=100"] }?.contains("only namespaced sysctls") == true)
        #expect(Self.refusal { $0.sysctls = ["vm.swappiness=1"] }?.contains("vm.swappiness is not allowed") == true)
        #expect(Self.refusal { $0.sysctls = ["net.ipv4.ip_forward=1"]; $0.network = "host" }?.contains("--network host") == true)
        #expect(Self.refusal { $0.sysctls = ["net.ipv4.ip_forward=1"]; $0.network = "container:web" }?.contains("joined container") == true)
        #expect(Self.refusal { $0.sysctls = ["kernel.sem=1 2 3 4"]; $0.ipc = "host" }?.contains("private ipc namespace") == true)
        #expect(Self.refusal { $0.sysctls = ["net.ipv4.ip_forward"] }?.contains("KEY=VALUE") == true)
    }

    @Test func groupsAreResolvedInTheImage() throws {
        let result = try Self.spec { $0.groupAdd = ["audio", "1234"] }
        let gids = result.spec.process?.user.additionalGids ?? []
        #expect(gids.contains(29) && gids.contains(1234))
        #expect(result.record.hostConfig.groupAdd == ["audio", "1234"])
        #expect(Self.refusal { $0.groupAdd = ["wheel"] }?.contains("--group-add wheel: no such group") == true)
    }

    @Test func domainnameAndOOMScore() throws {
        let result = try Self.spec {
            $0.domainname = "example.test"
            $0.oomScoreAdj = 500
        }
        #expect(result.spec.domainname == "example.test")
        #expect(result.record.config.domainname == "example.test")
        #expect(result.spec.process?.oomScoreAdj == 500)
        #expect(Self.refusal { $0.oomScoreAdj = 1001 }?.contains("between -1000 and 1000") == true)
        // Raising the score never needs a capability.
        #expect(ContainerSpecBuilder.oomScoreAdjUnsupported(1000) == nil)
        #expect(Self.refusal { $0.domainname = "example.test"; $0.uts = "host" }?.contains("private UTS namespace") == true)
    }

    @Test func memoryAndCPULimits() throws {
        let result = try Self.spec {
            $0.memory = "64m"
            $0.memoryReservation = "16m"
            $0.cpuQuota = 50_000
            $0.cpuPeriod = 100_000
            $0.cpusetCpus = "0"
            $0.cpusetMems = "0"
        }
        let resources = result.spec.linux?.resources
        #expect(resources?.memory?.limit == 64 << 20 && resources?.memory?.reservation == 16 << 20)
        #expect(resources?.cpu?.quota == 50_000 && resources?.cpu?.period == 100_000)
        #expect(resources?.cpu?.cpus == "0" && resources?.cpu?.mems == "0")
        #expect(result.record.hostConfig.cpuQuota == 50_000 && result.record.hostConfig.cpusetCpus == "0")
        #expect(Self.refusal { $0.memory = "16m"; $0.memoryReservation = "32m" }?.contains("above the memory limit") == true)
        #expect(Self.refusal { $0.cpus = 1; $0.cpuQuota = 50_000 }?.contains("conflicting options") == true)
        #expect(Self.refusal { $0.cpuPeriod = 500 }?.contains("between 1000") == true)
        #expect(Self.refusal { $0.cpuQuota = 10 }?.contains("at least 1000") == true)
        #expect(Self.refusal { $0.cpusetCpus = "0-" }?.contains("list of numbers") == true)
        #expect(Self.refusal { $0.cpusetCpus = "4096" }?.contains("the host has no CPUs 4096") == true)
        #expect(ContainerSpecBuilder.parseCPUList("0-2,5") == [0, 1, 2, 5])
        #expect(ContainerSpecBuilder.parseCPUList("2-1") == nil)
    }

    @Test func oomKillDisableAndBlkioWeightReachTheSpec() throws {
        // Through the record (the host's support is checked when the options are read).
        var (record, spec) = try Self.spec { _ in }
        record.hostConfig.oomKillDisable = true
        record.hostConfig.blkioWeight = 500
        try ContainerSpecBuilder.applyRunSettings(record, to: &spec)
        #expect(spec.linux?.resources?.memory?.disableOOMKiller == true)
        #expect(spec.linux?.resources?.blockIO?.weight == 500)
        #expect(Self.refusal { $0.blkioWeight = 5 }?.contains("between 10 and 1000") == true)
    }

    /// The spec's resources as a cgroup v2 host applies them (this host is v1: a fake v2
    /// directory, as the runtime's own v2 tests use).
    @Test func limitsConvertToCgroupV2Values() throws {
        var (record, spec) = try Self.spec {
            $0.memory = "64m"
            $0.memoryReservation = "16m"
            $0.cpuQuota = 50_000
            $0.cpuPeriod = 100_000
            $0.cpusetCpus = "0"
        }
        record.hostConfig.blkioWeight = 500
        try ContainerSpecBuilder.applyRunSettings(record, to: &spec)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kujira-runsettings-v2-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: "\(root)/c", withIntermediateDirectories: true)
        try "cpuset cpu io memory pids\n".write(toFile: "\(root)/c/cgroup.controllers", atomically: false, encoding: .utf8)
        for file in ["memory.max", "memory.swap.max", "memory.low", "cpu.weight", "cpu.max", "io.weight", "cpuset.cpus", "cpuset.mems", "pids.max"] {
            try "".write(toFile: "\(root)/c/\(file)", atomically: false, encoding: .utf8)
        }
        func read(_ file: String) throws -> String { try String(contentsOfFile: "\(root)/c/\(file)", encoding: .utf8) }
        let manager = CgroupV2Manager(path: "/c", directory: "\(root)/c", mountPoint: root)
        var resources = try #require(spec.linux?.resources)
        resources.devices = nil
        try manager.apply(resources)
        #expect(try read("memory.max") == "67108864")
        #expect(try read("memory.low") == "16777216")
        #expect(try read("cpu.max") == "50000 100000")
        #expect(try read("cpuset.cpus") == "0")
        #expect(try read("io.weight") == "default 4950")
        // --oom-kill-disable has no v2 equivalent: a clear error, never ignored.
        #expect(throws: CgroupError.self) { try manager.apply(LinuxResources(memory: LinuxMemory(disableOOMKiller: true))) }
    }

    @Test func cgroupParent() throws {
        let result = try Self.spec { $0.cgroupParent = "my-parent/sub/" }
        #expect(result.spec.linux?.cgroupsPath == "/my-parent/sub/\(result.record.id)")
        #expect(try Self.spec { _ in }.spec.linux?.cgroupsPath?.hasPrefix("/kujira/") == true)
        #expect(Self.refusal { $0.cgroupParent = "/a/../b" }?.contains("--cgroup-parent") == true)
    }

    @Test func namespaceModes() throws {
        let plain = try Self.spec { _ in }
        #expect(Self.namespaces(plain.spec).isSuperset(of: ["pid", "ipc", "uts", "mount"]))
        #expect(!Self.namespaces(plain.spec).contains("cgroup"))
        #expect(plain.record.hostConfig.ipcMode == "private" && plain.record.hostConfig.cgroupnsMode == "host")

        let host = try Self.spec {
            $0.pid = "host"
            $0.ipc = "host"
            $0.uts = "host"
            $0.cgroupns = "private"
        }
        let kinds = Self.namespaces(host.spec)
        #expect(!kinds.contains("pid") && !kinds.contains("ipc") && !kinds.contains("uts") && kinds.contains("cgroup"))
        #expect(host.spec.hostname == nil)
        #expect(host.record.config.hostname == ContainerSpecBuilder.hostHostname())
        #expect(Self.shm(host.spec)?.type == "bind" && Self.shm(host.spec)?.source == "/dev/shm")
        #expect(host.record.hostConfig.pidMode == "host" && host.record.hostConfig.utsMode == "host")

        let none = try Self.spec { $0.ipc = "none" }
        #expect(Self.shm(none.spec) == nil && Self.namespaces(none.spec).contains("ipc"))
        let shareable = try Self.spec { $0.ipc = "shareable"; $0.shmSize = "8m" }
        #expect(Self.shm(shareable.spec)?.options?.contains("size=8388608") == true)
        // A container: target is joined at start; the spec keeps a private namespace until then.
        let joined = try Self.spec { $0.pid = "container:web" }
        #expect(joined.record.hostConfig.pidMode == "container:web" && Self.namespaces(joined.spec).contains("pid"))

        #expect(Self.refusal { $0.pid = "sometimes" }?.contains("--pid sometimes") == true)
        #expect(Self.refusal { $0.ipc = "container:" }?.contains("--ipc container:") == true)
        #expect(Self.refusal { $0.uts = "private" }?.contains("--uts private") == true)
        #expect(Self.refusal { $0.cgroupns = "shared" }?.contains("--cgroupns shared") == true)
        #expect(Self.refusal { $0.uts = "host"; $0.hostname = "x" }?.contains("-h and --uts host") == true)
    }
}
