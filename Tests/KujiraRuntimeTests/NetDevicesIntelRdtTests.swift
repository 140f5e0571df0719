import Foundation
import Glibc
import KujiraOCI
@testable import KujiraRuntime
import Testing

/// A name no other test or helper uses: `prefix` and 8 random hex digits (11 bytes, under
/// the 15-byte limit of interface names).
private func uniqueName(_ prefix: String) -> String {
    prefix + String(UInt32.random(in: 0...UInt32.max), radix: 16).leftPadded(to: 8)
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

@Suite("linux.netDevices")
struct NetDevicesTests {
    @Test func validationNamesTheEntryAndWhatToDo() throws {
        var spec = Spec(linux: Linux(namespaces: [LinuxNamespace(type: .network)], netDevices: ["lo": LinuxNetDevice(name: "a/b")]))
        let badName = #expect(throws: RuntimeError.self) { try ContainerRuntime.validateNetDevices(of: spec) }
        #expect(badName?.code == .invalidConfig)
        #expect(badName?.message.contains("linux.netDevices[\"lo\"].name: \"a/b\" is not a valid network interface name") == true)

        spec.linux?.netDevices = ["lo": LinuxNetDevice(name: "net0"), "kjnone0": LinuxNetDevice(name: "net0")]
        let clash = #expect(throws: RuntimeError.self) { try ContainerRuntime.validateNetDevices(of: spec) }
        #expect(clash?.message.contains("would both be named \"net0\"") == true)

        spec.linux?.netDevices = ["kjnone0": LinuxNetDevice()]
        let missing = #expect(throws: RuntimeError.self) { try ContainerRuntime.validateNetDevices(of: spec) }
        #expect(missing?.message.contains("the host has no network interface \"kjnone0\"") == true)

        spec.linux?.netDevices = ["lo": LinuxNetDevice(name: "net0")]
        try ContainerRuntime.validateNetDevices(of: spec)
        spec.linux?.namespaces = []
        let noNamespace = #expect(throws: RuntimeError.self) { try ContainerRuntime.validateNetDevices(of: spec) }
        #expect(noNamespace?.message.contains("needs a network namespace of the container's own") == true)
    }

    @Test func containerNameDefaultsToTheHostName() {
        #expect(ContainerRuntime.containerName(host: "eth1", device: LinuxNetDevice()) == "eth1")
        #expect(ContainerRuntime.containerName(host: "eth1", device: LinuxNetDevice(name: "")) == "eth1")
        #expect(ContainerRuntime.containerName(host: "eth1", device: LinuxNetDevice(name: "net0")) == "net0")
    }

    @Test(.enabled(if: Privilege.shouldRun, Privilege.reason))
    func vethEndIsMovedAndRenamed() throws {
        let box = try Sandbox(script: "true")
        defer { box.cleanup() }
        // A veth pair rather than a dummy interface: the dummy module is not loaded on every
        // host (and tests load no modules); veth is, wherever containers get networks.
        let host = uniqueName("kjd"), peer = uniqueName("kjp"), inside = uniqueName("kjn")
        let added = try runCommand("/usr/sbin/ip", ["link", "add", host, "type", "veth", "peer", "name", peer])
        guard added.status == 0 else { throw TestFailure("ip link add \(host) type veth: \(added.stderr)") }
        defer { _ = try? runCommand("/usr/sbin/ip", ["link", "delete", peer]) }
        #expect(FileManager.default.fileExists(atPath: "/sys/class/net/\(host)"))

        box.spec.linux?.netDevices = [host: LinuxNetDevice(name: inside)]
        try box.writeSpec()
        let state = try box.api.create(id: "c1", bundle: box.bundle)
        // /proc/<pid>/net shows the network namespace of <pid>: the container's.
        let names = try ContainerRuntime.interfaceNames(ofProcess: pid_t(state.pid))
        #expect(names == ["lo", inside], "\(names)")
        #expect(!FileManager.default.fileExists(atPath: "/sys/class/net/\(host)"))
        #expect(!FileManager.default.fileExists(atPath: "/sys/class/net/\(inside)"))
        #expect(FileManager.default.fileExists(atPath: "/sys/class/net/\(peer)"), "the peer stays on the host")

        // The interface does not come back to the host with delete: a virtual interface dies
        // with the container's namespace (the kernel frees the namespace asynchronously, so
        // the peer's disappearance is not asserted here).
        try box.api.delete(id: "c1", force: true)
        #expect(!FileManager.default.fileExists(atPath: "/sys/class/net/\(host)"))
        #expect(!FileManager.default.fileExists(atPath: "/sys/class/net/\(inside)"))
    }

    @Test(.enabled(if: Privilege.shouldRun, Privilege.reason))
    func nameTakenInTheContainerFailsCreateCleanly() throws {
        let box = try Sandbox(script: "true")
        defer { box.cleanup() }
        let host = uniqueName("kjd"), peer = uniqueName("kjp")
        let added = try runCommand("/usr/sbin/ip", ["link", "add", host, "type", "veth", "peer", "name", peer])
        guard added.status == 0 else { throw TestFailure("ip link add \(host) type veth: \(added.stderr)") }
        defer { _ = try? runCommand("/usr/sbin/ip", ["link", "delete", peer]) }
        // Every new network namespace has "lo". The kernel would move the interface and then
        // fail the rename; the runtime checks first, and the interface stays on the host.
        box.spec.linux?.netDevices = [host: LinuxNetDevice(name: "lo")]
        try box.writeSpec()
        let error = #expect(throws: RuntimeError.self) { try box.api.create(id: "c1", bundle: box.bundle) }
        #expect(error?.message.contains("the container already has an interface named \"lo\" (for host interface \(host))") == true, "\(String(describing: error))")
        #expect(try box.api.list().isEmpty)
        #expect(FileManager.default.fileExists(atPath: "/sys/class/net/\(host)"), "a failed move leaves the interface on the host")
    }

    @Test(.enabled(if: Privilege.shouldRun, Privilege.reason))
    func missingHostInterfaceFailsCreateCleanly() throws {
        let box = try Sandbox(script: "true")
        defer { box.cleanup() }
        box.spec.linux?.netDevices = [uniqueName("kjx"): LinuxNetDevice()]
        try box.writeSpec()
        let error = #expect(throws: RuntimeError.self) { try box.api.create(id: "c1", bundle: box.bundle) }
        #expect(error?.message.contains("the host has no network interface") == true)
        #expect(try box.api.list().isEmpty)
    }
}

@Suite("linux.intelRdt")
struct IntelRdtTests {
    static let mountinfo = """
        22 1 0:21 / /proc rw,nosuid - proc proc rw
        40 22 0:35 / /sys/fs/res\\040ctrl rw,relatime shared:9 - resctrl resctrl rw
        """

    @Test func noResctrlMountIsAClearError() throws {
        let spec = Spec(linux: Linux(intelRdt: LinuxIntelRdt(closID: "gold")))
        let error = #expect(throws: RuntimeError.self) {
            try ContainerRuntime.resctrlGroup(of: spec, containerID: "c1", mountinfo: "22 1 0:21 / /proc rw - proc proc rw\n")
        }
        #expect(error?.code == .unsupported)
        #expect(error?.message.contains("linux.intelRdt is set, but no resctrl filesystem is mounted") == true)
        #expect(try ContainerRuntime.resctrlGroup(of: Spec(linux: Linux()), containerID: "c1", mountinfo: "") == nil)
    }

    @Test func findsTheMountAndOrdersTheSchemata() {
        #expect(ResctrlGroup.mountPoint(mountinfo: Self.mountinfo) == "/sys/fs/res ctrl")
        let group = ResctrlGroup(
            mountPoint: "/r", rdt: LinuxIntelRdt(l3CacheSchema: "L3:0=ff\nMB:0=10", memBwSchema: "MB:0=50", schemata: ["L2:0=f"]),
            containerID: "c1")
        #expect(group.groupPath == "/r/c1")
        #expect(group.schemataLines == ["L3:0=ff", "MB:0=50", "L2:0=f"])
        #expect(ResctrlGroup.normalized("l3: 0=00ff;1=0") == "L3:0=ff;1=0")
    }

    @Test func existingNamedGroupIsCheckedAndJoined() throws {
        let root = try Sandbox.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let gold = root + "/gold"
        try FileManager.default.createDirectory(atPath: gold, withIntermediateDirectories: true)
        try "    L3:0=0ff;1=fff\n    MB:0=100;1=100\n".write(toFile: gold + "/schemata", atomically: false, encoding: .utf8)
        try "".write(toFile: gold + "/tasks", atomically: false, encoding: .utf8)

        let matching = ResctrlGroup(mountPoint: root, rdt: LinuxIntelRdt(closID: "gold", l3CacheSchema: "L3:0=ff;1=fff"), containerID: "c1")
        try matching.validate()
        try matching.apply(pid: 4242)
        #expect(try String(contentsOfFile: gold + "/tasks", encoding: .utf8) == "4242\n")

        let other = ResctrlGroup(mountPoint: root, rdt: LinuxIntelRdt(closID: "gold", memBwSchema: "MB:0=20"), containerID: "c1")
        let mismatch = #expect(throws: RuntimeError.self) { try other.apply(pid: 4242) }
        #expect(mismatch?.message.contains("does not have \"MB:0=20\" in its schemata") == true)
        #expect(FileManager.default.fileExists(atPath: gold), "a group the container did not make stays")

        let absent = ResctrlGroup(mountPoint: root, rdt: LinuxIntelRdt(closID: "silver"), containerID: "c1")
        let noGroup = #expect(throws: RuntimeError.self) { try absent.validate() }
        #expect(noGroup?.message.contains("names no resctrl group") == true)
        let monitoring = ResctrlGroup(mountPoint: root, rdt: LinuxIntelRdt(closID: "gold", enableMonitoring: true), containerID: "c1")
        #expect(throws: RuntimeError.self) { try monitoring.validate() }
        let badMB = ResctrlGroup(mountPoint: root, rdt: LinuxIntelRdt(memBwSchema: "L3:0=1"), containerID: "c1")
        #expect(throws: RuntimeError.self) { try badMB.validate() }
    }

    /// Whether this host has resctrl mounted (then create applies intelRdt instead of failing).
    static let resctrlMounted = ResctrlGroup.mountPoint(
        mountinfo: readMountInfo()) != nil

    @Test(.enabled(if: Privilege.shouldRun && !IntelRdtTests.resctrlMounted, "needs root, on a host without resctrl mounted"))
    func createWithoutResctrlFails() throws {
        let box = try Sandbox(script: "true")
        defer { box.cleanup() }
        box.spec.linux?.intelRdt = LinuxIntelRdt(closID: "gold", l3CacheSchema: "L3:0=ff")
        try box.writeSpec()
        let error = #expect(throws: RuntimeError.self) { try box.api.create(id: "c1", bundle: box.bundle) }
        #expect(error?.code == .unsupported)
        #expect(try box.api.list().isEmpty)
    }
}
