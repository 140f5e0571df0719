import Foundation
import KujiraOCI
import Testing
@testable import KujiraRuntime

/// The cgroup v2 manager against a temporary directory laid out like a cgroup2 directory
/// (this host has no v2 controllers, so the files are plain files the test pre-creates).
@Suite struct CgroupV2FakeRootTests {
    /// A fake cgroup2 root with one cgroup `c` whose files exist and are empty.
    final class FakeRoot {
        let root: String
        var directory: String { root + "/c" }

        init(controllers: String = "cpuset cpu io memory hugetlb pids rdma") throws {
            root = NSTemporaryDirectory() + "kujira-cgv2-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: root + "/c", withIntermediateDirectories: true)
            try write("cgroup.controllers", controllers + "\n")
            for file in ["memory.max", "memory.swap.max", "memory.low", "memory.high", "cpu.weight", "cpu.max",
                         "cpu.max.burst", "cpu.idle", "pids.max", "io.weight", "io.max", "cpuset.cpus", "cpuset.mems",
                         "hugetlb.2MB.max", "cgroup.procs", "cgroup.freeze", "rdma.max"] {
                try write(file, "")
            }
            try write("cgroup.events", "populated 0\nfrozen 0\n")
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        func write(_ file: String, _ text: String) throws {
            try text.write(toFile: directory + "/" + file, atomically: false, encoding: .utf8)
        }

        func read(_ file: String) throws -> String {
            try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
        }

        var manager: CgroupV2Manager { CgroupV2Manager(path: "/c", directory: directory, mountPoint: root) }
    }

    @Test func appliesConvertedV1Values() throws {
        let fake = try FakeRoot()
        try fake.manager.apply(LinuxResources(
            memory: LinuxMemory(limit: 32 << 20, reservation: 16 << 20, swap: 96 << 20),
            cpu: LinuxCPU(shares: 1024, quota: 50_000, period: 100_000, cpus: "0", mems: "0"),
            pids: LinuxPids(limit: 16),
            blockIO: LinuxBlockIO(weight: 500, throttleReadBpsDevice: [LinuxThrottleDevice(major: 254, minor: 0, rate: 1_048_576)]),
            hugepageLimits: [LinuxHugepageLimit(pageSize: "2MB", limit: 4 << 20)],
            rdma: ["mlx5_0": LinuxRdma(hcaHandles: 2, hcaObjects: 100)],
            unified: ["memory.high": "30000000"]))
        #expect(try fake.read("memory.max") == "33554432")
        #expect(try fake.read("memory.swap.max") == "67108864")
        #expect(try fake.read("memory.low") == "16777216")
        #expect(try fake.read("cpu.weight") == "39")
        #expect(try fake.read("cpu.max") == "50000 100000")
        #expect(try fake.read("cpuset.cpus") == "0")
        #expect(try fake.read("pids.max") == "16")
        #expect(try fake.read("io.weight") == "default 4950")
        #expect(try fake.read("io.max") == "254:0 rbps=1048576")
        #expect(try fake.read("hugetlb.2MB.max") == "4194304")
        #expect(try fake.read("rdma.max") == "mlx5_0 hca_handle=2 hca_object=100")
        #expect(try fake.read("memory.high") == "30000000")
    }

    @Test func unlimitedValuesAreMax() throws {
        let fake = try FakeRoot()
        try fake.manager.apply(LinuxResources(memory: LinuxMemory(limit: -1), cpu: LinuxCPU(quota: -1, period: 100_000), pids: LinuxPids(limit: 0)))
        #expect(try fake.read("memory.max") == "max")
        #expect(try fake.read("memory.swap.max") == "max")
        #expect(try fake.read("cpu.max") == "max 100000")
        #expect(try fake.read("pids.max") == "max")
    }

    @Test func v1OnlyFieldsAreClearErrors() throws {
        let fake = try FakeRoot()
        let cases: [LinuxResources] = [
            LinuxResources(memory: LinuxMemory(swappiness: 10)),
            LinuxResources(cpu: LinuxCPU(realtimeRuntime: 1000, realtimePeriod: 10_000)),
            LinuxResources(blockIO: LinuxBlockIO(leafWeight: 100)),
            LinuxResources(network: LinuxNetwork(classID: 7)),
            LinuxResources(unified: ["../../etc/passwd": "x"]),
        ]
        for resources in cases {
            let error = #expect(throws: CgroupError.self) { try fake.manager.apply(resources) }
            #expect(error?.code == .invalidResources)
        }
    }

    @Test func missingControllerNamesIt() throws {
        let fake = try FakeRoot(controllers: "memory")
        let error = #expect(throws: CgroupError.self) { try fake.manager.apply(LinuxResources(pids: LinuxPids(limit: 5))) }
        #expect(error?.code == .missingController)
        #expect(error?.message.contains("pids controller") == true)
        let unified = #expect(throws: CgroupError.self) {
            try fake.manager.apply(LinuxResources(unified: ["io.weight": "100"]))
        }
        #expect(unified?.code == .missingController)
    }

    @Test func writeErrorNamesFileAndValue() throws {
        let fake = try FakeRoot()
        try FileManager.default.removeItem(atPath: fake.directory + "/pids.max")
        let error = #expect(throws: CgroupError.self) { try fake.manager.apply(LinuxResources(pids: LinuxPids(limit: 7))) }
        #expect(error?.description.hasPrefix("cannot set pids.max to 7 in \(fake.directory)") == true)
        #expect(error?.description.hasSuffix("No such file or directory") == true)
    }

    @Test func freezerFollowsCgroupEvents() throws {
        let fake = try FakeRoot()
        #expect(try fake.manager.freezerState() == .thawed)
        try fake.write("cgroup.events", "populated 1\nfrozen 1\n")
        try fake.manager.freeze()
        #expect(try fake.read("cgroup.freeze") == "1")
        #expect(try fake.manager.freezerState() == .frozen)
    }

    @Test func statsAndOOMCountAreParsed() throws {
        let fake = try FakeRoot()
        try fake.write("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\nnr_throttled 3\nthrottled_usec 7\n")
        try fake.write("memory.current", "4096\n")
        try fake.write("memory.max", "max\n")
        try fake.write("memory.stat", "anon 100\nfile 2048\n")
        try fake.write("memory.events", "low 0\nhigh 0\nmax 5\noom 2\noom_kill 2\n")
        try fake.write("pids.current", "3\n")
        try fake.write("pids.max", "16\n")
        try fake.write("io.stat", "254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n")
        let stats = try fake.manager.stats()
        #expect(stats.cpu == CgroupStats.CPU(usageNanoseconds: 1_500_000, userNanoseconds: 1_000_000, systemNanoseconds: 500_000,
                                             throttledPeriods: 3, throttledNanoseconds: 7000))
        #expect(stats.memory?.usage == 4096)
        #expect(stats.memory?.limit == UInt64.max)
        #expect(stats.memory?.cache == 2048)
        #expect(stats.memory?.oomKills == 2)
        #expect(stats.pids == CgroupStats.Pids(current: 3, limit: 16))
        #expect(stats.blockIO == [.init(major: 254, minor: 0, operation: "Read", value: 4096),
                                  .init(major: 254, minor: 0, operation: "Write", value: 8192)])
        #expect(try fake.manager.oomKillCount() == 2)
    }

    @Test func createEnablesControllersDownThePath() throws {
        let fake = try FakeRoot()
        try "cpu memory pids\n".write(toFile: fake.root + "/cgroup.controllers", atomically: false, encoding: .utf8)
        try "".write(toFile: fake.root + "/cgroup.subtree_control", atomically: false, encoding: .utf8)
        let manager = CgroupV2Manager(path: "/k/x", directory: fake.root + "/k/x", mountPoint: fake.root)
        try manager.create()
        #expect(FileManager.default.fileExists(atPath: fake.root + "/k/x"))
        let control = try String(contentsOfFile: fake.root + "/cgroup.subtree_control", encoding: .utf8)
        #expect(control == "+cpu +memory +pids")
        let outside = CgroupV2Manager(path: "/x", directory: "/tmp/elsewhere", mountPoint: fake.root)
        #expect(throws: CgroupError.self) { try outside.create() }
    }
}
