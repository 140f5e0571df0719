import Foundation
import KujiraOCI
import Testing
@testable import KujiraGPU

@Test(arguments: [
    ("all", GPURequest(count: .all)),
    ("2", GPURequest(count: .first(2))),
    ("count=3", GPURequest(count: .first(3))),
    ("device=0,2", GPURequest(deviceIDs: ["0", "2"])),
    ("\"device=0,2\"", GPURequest(deviceIDs: ["0", "2"])),
    ("device=GPU-abc", GPURequest(deviceIDs: ["GPU-abc"])),
    ("\"capabilities=compute,utility\"", GPURequest(count: .first(1), capabilities: [.compute, .utility])),
    ("all,\"capabilities=compute,utility\"", GPURequest(count: .all, capabilities: [.compute, .utility])),
    ("\"device=1,2\",capabilities=video", GPURequest(deviceIDs: ["1", "2"], capabilities: [.video])),
    ("driver=nvidia,count=all", GPURequest(count: .all, driver: "nvidia")),
    ("capabilities=all", GPURequest(count: .first(1), capabilities: Set(NVIDIACapability.allCases))),
])
func parsesGPUs(_ text: String, _ expected: GPURequest) throws {
    #expect(try GPURequest(parsing: text) == expected)
}

@Test(arguments: [
    ("lots", "is not a count"), ("all,2", "count is given twice"), ("count=1,count=2", "only once"),
    ("foo=bar", "unexpected key 'foo'"), ("\"device=0", "unterminated quote"),
    ("device=", "needs GPU indexes"), ("capabilities=warp", "unknown NVIDIA driver capability \"warp\""),
    ("driver=amd", "not supported"), ("2,device=1", "not both"),
])
func rejectsBadGPUs(_ text: String, _ message: String) {
    let error = #expect(throws: GPUError.self) { try GPURequest(parsing: text) }
    #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    #expect(error?.code == .invalidRequest)
}

@Test(arguments: [
    ("/dev/fuse", HostDevice(hostPath: "/dev/fuse")),
    ("/dev/sda:/dev/xvda", HostDevice(hostPath: "/dev/sda", containerPath: "/dev/xvda")),
    ("/dev/sda:r", HostDevice(hostPath: "/dev/sda", permissions: "r")),
    ("/dev/sda:/dev/xvda:rw", HostDevice(hostPath: "/dev/sda", containerPath: "/dev/xvda", permissions: "rw")),
])
func parsesHostDevices(_ text: String, _ expected: HostDevice) throws {
    #expect(try HostDevice(parsing: text) == expected)
}

@Test func rejectsBadHostDevices() {
    for bad in ["dev/fuse", "/dev/a:b:c:d", "/dev/a:/dev/b:rwx", "/dev/a:relative"] {
        #expect(throws: GPUError.self, "\(bad)") { try HostDevice(parsing: bad) }
    }
}

@Test func hostDeviceApplies() throws {
    var spec = Spec(linux: Linux(resources: LinuxResources(devices: [LinuxDeviceCgroup(allow: false, access: "rwm")])))
    let injector = DeviceInjector(registry: try CDIRegistry(specs: []))
    try injector.apply(devices: ["/dev/null:/dev/mynull:rw"], to: &spec)
    #expect(spec.linux?.devices == [LinuxDevice(path: "/dev/mynull", type: "c", major: 1, minor: 3, fileMode: 0o666)])
    #expect(spec.linux?.resources?.devices?.last == LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 3, access: "rw"))
    let missing = #expect(throws: GPUError.self) { try injector.apply(devices: ["/dev/nope"], to: &spec) }
    #expect(missing?.message == "--device /dev/nope: no such device on this host")
    let dir = #expect(throws: GPUError.self) { try injector.apply(devices: ["/dev"], to: &spec) }
    #expect(dir?.code == .notADevice)
    let neither = #expect(throws: GPUError.self) { try injector.apply(devices: ["gpu0"], to: &spec) }
    #expect(neither?.message.contains("neither a CDI device") == true)
}

@Test func amdDiscoveryOnAFakeSysfs() throws {
    let dir = try TemporaryDirectory()
    for (bus, nodes) in [("0000:03:00.0", ["card1", "renderD128"]), ("0000:83:00.0", ["card2", "renderD129"])] {
        try dir.mkdir("sys/bus/pci/drivers/amdgpu/\(bus)")
        for node in nodes {
            try dir.mkdir("sys/bus/pci/devices/\(bus)/drm/\(node)")
            try dir.write("dev/dri/\(node)", "")
        }
    }
    // An Intel GPU's nodes are not AMD's.
    try dir.mkdir("sys/bus/pci/devices/0000:00:02.0/drm/card0")
    try dir.write("sys/bus/pci/drivers/amdgpu/bind", "")
    try dir.write("dev/kfd", "")
    let host = AMDDiscovery(sysRoot: HostRoot(dir.path)).discover()
    #expect(host.gpus.map(\.busID) == ["0000:03:00.0", "0000:83:00.0"])
    #expect(host.gpus[0].nodes == ["/dev/dri/card1", "/dev/dri/renderD128"])
    let spec = try host.cdiSpec()
    try spec.validate()
    #expect(spec.kind == "amd.com/gpu")
    #expect(spec.devices.map(\.name) == ["0", "1", "all"])
    #expect(spec.containerEdits?.deviceNodes?.first?.path == "/dev/kfd")
    #expect(spec.containerEdits?.deviceNodes?.first?.hostPath == dir.path + "/dev/kfd")
    #expect(spec.devices[2].containerEdits.deviceNodes?.count == 4)
    let empty = try TemporaryDirectory()
    let none = #expect(throws: GPUError.self) { try AMDDiscovery(sysRoot: HostRoot(empty.path)).discover().cdiSpec() }
    #expect(none?.code == .noGPUs)
}
