import Foundation
import Glibc
import KujiraOCI
import Testing

/// runtime-tools' cgroup cases (validation/linux_cgroups_{memory,cpus,pids,blkio,hugetlb,
/// devices} and their relative_* twins): the values kujira-runtime and runc write into the
/// container's cgroup files on the host, for an absolute and a relative cgroupsPath.
@Suite("Validation with runc: cgroup limits", .enabled(if: Runc.shouldRun, Runc.reason), .serialized)
struct ValidationCgroupTests {
    static let unified = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")

    /// The files compared: controller and file name on cgroup v1, file name on v2.
    static let v1Files = [
        ("memory", "memory.limit_in_bytes"), ("memory", "memory.soft_limit_in_bytes"), ("memory", "memory.memsw.limit_in_bytes"),
        ("memory", "memory.swappiness"), ("memory", "memory.oom_control"), ("cpu", "cpu.shares"), ("cpu", "cpu.cfs_quota_us"),
        ("cpu", "cpu.cfs_period_us"), ("cpuset", "cpuset.cpus"), ("cpuset", "cpuset.mems"), ("pids", "pids.max"),
        ("blkio", "blkio.weight"), ("blkio", "blkio.bfq.weight"), ("blkio", "blkio.throttle.read_bps_device"),
        ("blkio", "blkio.throttle.write_iops_device"), ("hugetlb", "hugetlb.2MB.limit_in_bytes"), ("devices", "devices.list"),
    ]
    static let v2Files = ["memory.max", "memory.low", "memory.swap.max", "cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems",
                          "pids.max", "io.max", "io.weight", "io.bfq.weight", "hugetlb.2MB.max"]

    /// The host's first whole disk ("major:minor" from /sys/block, loop/ram/zram left out).
    static func disk() -> (major: Int64, minor: Int64)? {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/block")) ?? []).sorted()
        for name in names where !["loop", "ram", "zram", "nbd"].contains(where: { name.hasPrefix($0) }) {
            let text = (try? String(contentsOfFile: "/sys/block/\(name)/dev", encoding: .utf8)) ?? ""
            let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ":").compactMap { Int64($0) }
            if parts.count == 2 { return (parts[0], parts[1]) }
        }
        return nil
    }

    static var resources: LinuxResources {
        var resources = LinuxResources(devices: [
            LinuxDeviceCgroup(allow: false, access: "rwm"),
            LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 5, access: "r"),
            LinuxDeviceCgroup(allow: true, type: "b", major: 7, minor: 0, access: "rw"),
        ])
        resources.memory = LinuxMemory(limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20)
        if !unified { resources.memory?.swappiness = 30 }
        resources.cpu = LinuxCPU(shares: 512, quota: 50_000, period: 100_000, cpus: "0", mems: "0")
        resources.pids = LinuxPids(limit: 77)
        if let disk = disk() {
            resources.blockIO = LinuxBlockIO(throttleReadBpsDevice: [LinuxThrottleDevice(major: disk.major, minor: disk.minor, rate: 1 << 20)],
                                              throttleWriteIOPSDevice: [LinuxThrottleDevice(major: disk.major, minor: disk.minor, rate: 300)])
        }
        if FileManager.default.fileExists(atPath: "/sys/kernel/mm/hugepages/hugepages-2048kB"),
           FileManager.default.fileExists(atPath: unified ? "/sys/fs/cgroup/cgroup.controllers" : "/sys/fs/cgroup/hugetlb") {
            resources.hugepageLimits = [LinuxHugepageLimit(pageSize: "2MB", limit: 4 << 20)]
        }
        return resources
    }

    /// The container's cgroup files (those that exist) and their contents, read on the host.
    static func values(pid: Int) throws -> [String: String] {
        let membership = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
        var paths: [String: String] = [:]
        for line in membership.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3 else { continue }
            if fields[1].isEmpty {
                paths[""] = "/sys/fs/cgroup" + fields[2]
            } else {
                let mounted = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/" + fields[1]) ? fields[1] : ""
                for controller in fields[1].split(separator: ",") {
                    paths[String(controller)] = "/sys/fs/cgroup/" + (mounted.isEmpty ? String(controller) : mounted) + fields[2]
                }
            }
        }
        var values: [String: String] = [:]
        let files = unified ? v2Files.map { ("", $0) } : v1Files
        for (controller, file) in files {
            guard let directory = paths[controller],
                  let text = try? String(contentsOfFile: directory + "/" + file, encoding: .utf8) else { continue }
            // devices.list in rule order, which differs with the order rules are written in.
            let lines = text.split(separator: "\n").map(String.init)
            values[file] = (file == "devices.list" ? lines.sorted() : lines).joined(separator: "\n")
        }
        return values
    }

    /// Creates the container with each runtime and compares the files' values.
    static func compare(cgroupsPath: String?) throws -> [String: String] {
        let pair = try RuncPair(script: "sleep 600")
        pair.spec.linux?.cgroupsPath = cgroupsPath
        pair.spec.linux?.resources = resources
        var seen: [String: [String: String]] = [:]
        for side in pair.sides {
            let created = try side.call(["create", "--bundle", pair.bundle, side.id("g")])
            #expect(created.status == 0, "\(side.name): \(created.stderr)")
            let pid = try #require(try side.state("g")?["pid"] as? Int)
            seen[side.name] = try values(pid: pid)
            #expect(try side.call(["delete", "--force", side.id("g")]).status == 0)
        }
        let ours = try #require(seen["kujira"]), theirs = try #require(seen["runc"])
        #expect(!ours.isEmpty)
        for key in Set(ours.keys).union(theirs.keys).sorted() {
            #expect(ours[key] == theirs[key], "\(key): kujira \(ours[key] ?? "absent"), runc \(theirs[key] ?? "absent")")
        }
        return ours
    }

    @Test func absoluteCgroupsPath() throws {
        let ours = try Self.compare(cgroupsPath: "/kujira-test/validation-abs-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        #expect(ours[Self.unified ? "pids.max" : "pids.max"] == "77")
        #expect(ours[Self.unified ? "memory.max" : "memory.limit_in_bytes"] == "\(64 << 20)")
    }

    /// A relative cgroupsPath: under the runtime's own cgroup of each controller, in both.
    @Test func relativeCgroupsPath() throws {
        let ours = try Self.compare(cgroupsPath: "kujira-validation-rel-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        #expect(ours["pids.max"] == "77")
    }

    /// Where the container's cgroup lies for a relative path: the same directory (relative to
    /// the caller's cgroup) for both runtimes.
    @Test func relativeCgroupsPathPlacement() throws {
        let name = "kujira-validation-place-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let pair = try RuncPair(script: "sleep 600")
        pair.spec.linux?.cgroupsPath = name
        var memberships: [String: String] = [:]
        for side in pair.sides {
            #expect(try side.call(["create", "--bundle", pair.bundle, side.id("m")]).status == 0)
            let pid = try #require(try side.state("m")?["pid"] as? Int)
            memberships[side.name] = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
            #expect(try side.call(["delete", "--force", side.id("m")]).status == 0)
        }
        expectSameOutput(memberships["kujira"] ?? "", (memberships["runc"] ?? "").replacingOccurrences(of: name + "-runc", with: name), "/proc/<pid>/cgroup")
    }
}
