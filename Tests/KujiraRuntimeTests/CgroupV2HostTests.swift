import Foundation
import KujiraOCI
import Testing
@testable import KujiraRuntime

/// The v2 manager on this host's real cgroup2 tree. On a hybrid host that tree has no
/// controllers, but membership, cgroup.freeze, cgroup.kill, removal and the eBPF device
/// filter all work there, so those v2 paths are tested for real.
@Suite(.serialized, .enabled(if: CgroupTestHost.runUnified, "needs root and a cgroup2 mount"))
struct CgroupV2HostTests {
    func makeManager() throws -> CgroupV2Manager {
        try #require(CgroupTestHost.unifiedUsable, "needs root and a cgroup2 mount")
        let mount = try #require(CgroupTestHost.layout?.unified?.mountPoint)
        let path = CgroupTestHost.uniquePath()
        return CgroupV2Manager(path: path, directory: mount + path, mountPoint: mount)
    }

    @Test func freezeKillAndDestroy() throws {
        let manager = try makeManager()
        defer { try? manager.destroy() }
        try manager.create()
        let sleeper = try CgroupTestHost.spawnSleep()
        try manager.addProcess(sleeper.processIdentifier)
        #expect(try manager.pids() == [sleeper.processIdentifier])
        try manager.freeze()
        #expect(try manager.freezerState() == .frozen)
        try manager.thaw()
        #expect(try manager.freezerState() == .thawed)
        #expect(try manager.stats().cpu != nil)
        try manager.destroy()
        sleeper.waitUntilExit()
        #expect(sleeper.terminationStatus == SIGKILL)
        #expect(!FileManager.default.fileExists(atPath: manager.directory))
    }

    @Test func deviceFilterBlocksWhatTheRulesDeny() throws {
        let manager = try makeManager()
        defer { try? manager.destroy() }
        try manager.create()
        // Deny everything but /dev/null (1:3), then read /dev/zero (1:5) and write /dev/null.
        try manager.apply(LinuxResources(devices: [
            LinuxDeviceCgroup(allow: false, access: "rwm"),
            LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 3, access: "rw"),
        ]))
        let probe = "head -c1 /dev/zero >/dev/null 2>&1 && echo zero-ok; echo x 2>/dev/null >/dev/null && echo null-ok; true"
        let marker = String(manager.path.dropFirst())
        let (first, firstOut) = try CgroupTestHost.spawnWaiting(for: marker, probe)
        try manager.addProcess(first.processIdentifier)
        first.waitUntilExit()
        let firstText = String(decoding: firstOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(firstText.contains("null-ok"))
        #expect(!firstText.contains("zero-ok"))

        // An update replaces the filter: now /dev/zero is readable too.
        try manager.apply(LinuxResources(devices: [
            LinuxDeviceCgroup(allow: false, access: "rwm"),
            LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 3, access: "rw"),
            LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 5, access: "r"),
        ]))
        let (second, secondOut) = try CgroupTestHost.spawnWaiting(for: marker, probe)
        try manager.addProcess(second.processIdentifier)
        second.waitUntilExit()
        let secondText = String(decoding: secondOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(secondText.contains("zero-ok") && secondText.contains("null-ok"))

        // A later partial deny wins over an earlier allow for the access it names only.
        try manager.apply(LinuxResources(devices: [
            LinuxDeviceCgroup(allow: false, access: "rwm"),
            LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 3, access: "rwm"),
            LinuxDeviceCgroup(allow: false, type: "c", major: 1, minor: 3, access: "w"),
        ]))
        let (third, thirdOut) = try CgroupTestHost.spawnWaiting(
            for: marker, "cat /dev/null && echo read-ok; echo x 2>/dev/null >/dev/null && echo write-ok; true")
        try manager.addProcess(third.processIdentifier)
        third.waitUntilExit()
        let thirdText = String(decoding: thirdOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(thirdText.contains("read-ok"))
        #expect(!thirdText.contains("write-ok"))
    }
}
