import Foundation
import KujiraOCI
import Testing
@testable import KujiraGPU

private func spec(_ kind: String, _ devices: [(String, String)], version: String = "0.5.0", shared: String? = nil) -> String {
    var text = "cdiVersion: \(version)\nkind: \(kind)\n"
    if let shared { text += "containerEdits: {env: [\(shared)]}\n" }
    text += "devices:\n"
    for (name, env) in devices { text += "- {name: \"\(name)\", containerEdits: {env: [\(env)]}}\n" }
    return text
}

@Suite struct CDIRegistryTests {
    @Test func laterDirectoryWinsAndSameDirectoryConflicts() throws {
        let etc = try TemporaryDirectory(), run = try TemporaryDirectory()
        try etc.write("vendor.yaml", spec("vendor.com/dev", [("a", "WHO=etc"), ("b", "WHO=etc")]))
        try run.write("vendor.json", """
            {"cdiVersion":"0.3.0","kind":"vendor.com/dev","devices":[{"name":"a","containerEdits":{"env":["WHO=run"]}}]}
            """)
        // Two files of the same priority define c: a conflict.
        try run.write("c1.yaml", spec("vendor.com/dev", [("c", "WHO=c1")]))
        try run.write("c2.yaml", spec("vendor.com/dev", [("c", "WHO=c2")]))
        // A broken file is reported and does not hide the others.
        try run.write("broken.yaml", "cdiVersion: 0.3.0\nkind: vendor.com/dev\ndevices:\n- name: d\n  containerEdits: {env: [NOEQ]}\n")
        try run.write("ignored.txt", "not a spec")
        let registry = CDIRegistry(specDirectories: [etc.path, run.path])
        #expect(registry.deviceNames == ["vendor.com/dev=a", "vendor.com/dev=b"])
        #expect(try registry.device(named: "vendor.com/dev=a").file.path == run.path + "/vendor.json")
        #expect(try registry.device(named: "vendor.com/dev=b").file.path == etc.path + "/vendor.yaml")
        let conflict = #expect(throws: GPUError.self) { try registry.device(named: "vendor.com/dev=c") }
        #expect(conflict?.code == .deviceConflict)
        #expect(conflict?.message.contains("c1.yaml") == true && conflict?.message.contains("c2.yaml") == true)
        #expect(registry.errors.contains { $0.message.hasPrefix(run.path + "/broken.yaml: devices[0].containerEdits.env[0]") })
        #expect(registry.errors.contains { $0.code == .deviceConflict })
    }

    @Test func unknownDeviceListsWhatIsThere() throws {
        let registry = try CDIRegistry(specs: [("/etc/cdi/n.yaml", try CDISpec(
            decoding: Data(spec("nvidia.com/gpu", [("0", "A=1"), ("all", "A=2")]).utf8), format: .yaml, source: "n"))])
        let sameKind = #expect(throws: GPUError.self) { try registry.device(named: "nvidia.com/gpu=3") }
        #expect(sameKind?.code == .unknownDevice)
        #expect(sameKind?.message == "unknown CDI device \"nvidia.com/gpu=3\"; nvidia.com/gpu has: nvidia.com/gpu=0, nvidia.com/gpu=all")
        let otherKind = #expect(throws: GPUError.self) { try registry.device(named: "amd.com/gpu=0") }
        #expect(otherKind?.message.contains("no spec of kind amd.com/gpu") == true)
        #expect(otherKind?.message.contains("known devices: nvidia.com/gpu=0, nvidia.com/gpu=all") == true)
    }

    @Test func editsCombineSpecEditsOnce() throws {
        let s = try CDISpec(decoding: Data(spec("v.com/c", [("a", "A=1"), ("b", "B=1")], shared: "S=1").utf8), format: .yaml, source: "s")
        let registry = try CDIRegistry(specs: [("s", s)])
        let edits = try registry.edits(for: ["v.com/c=a", "v.com/c=b", "v.com/c=a"])
        #expect(edits.env == ["S=1", "A=1", "B=1"])
        var runtime = Spec(process: KujiraOCI.Process(env: ["S=0", "PATH=/bin"]))
        try registry.apply(devices: ["v.com/c=b"], to: &runtime)
        #expect(runtime.process?.env == ["S=1", "PATH=/bin", "B=1"])
        // An unknown name leaves the spec unchanged.
        let before = runtime
        #expect(throws: GPUError.self) { try registry.apply(devices: ["v.com/c=a", "v.com/c=zzz"], to: &runtime) }
        #expect(runtime == before)
    }

    @Test func annotationsRequestDevices() throws {
        let names = try CDIRegistry.devicesRequested(byAnnotations: [
            "cdi.k8s.io/vfio17": "nvidia.com/gpu=0, nvidia.com/gpu=1", "cdi.k8s.io/x": "amd.com/gpu=all", "other": "ignored",
        ])
        #expect(names == ["nvidia.com/gpu=0", "nvidia.com/gpu=1", "amd.com/gpu=all"])
        #expect(throws: GPUError.self) { try CDIRegistry.devicesRequested(byAnnotations: ["cdi.k8s.io/x": "gpu0"]) }
    }

    @Test func appliesEveryKindOfEdit() throws {
        let edits = CDIContainerEdits(
            env: ["A=2", "NEW=1"],
            deviceNodes: [CDIDeviceNode(path: "/dev/fake", type: "c", major: 10, minor: 200, fileMode: 0o600, permissions: "rw")],
            hooks: [CDIHook(hookName: "createContainer", path: "/usr/bin/hook", args: ["hook", "x"]),
                    CDIHook(hookName: "poststop", path: "/usr/bin/stop")],
            mounts: [CDIMount(hostPath: "/host/lib", containerPath: "/usr/lib/x", options: ["ro", "bind"]),
                     CDIMount(hostPath: "/host/new-proc", containerPath: "/proc"),
                     CDIMount(hostPath: "/host/a", containerPath: "/a/b/c/d")],
            intelRdt: CDIIntelRdt(closID: "gold", l3CacheSchema: "L3:0=ff"),
            additionalGids: [0, 44, 44, 109])
        var spec = Spec(
            process: KujiraOCI.Process(user: User(uid: 1000, gid: 1000, additionalGids: [44]), env: ["A=1"]),
            mounts: [KujiraOCI.Mount(destination: "/dev/shm", type: "tmpfs", source: "shm"),
                     KujiraOCI.Mount(destination: "/proc", type: "proc", source: "proc"),
                     KujiraOCI.Mount(destination: "/dev", type: "tmpfs", source: "tmpfs")],
            linux: Linux(devices: [LinuxDevice(path: "/dev/fake", type: "c", major: 1, minor: 1)]))
        try edits.apply(to: &spec)
        #expect(spec.process?.env == ["A=2", "NEW=1"])
        #expect(spec.process?.user.additionalGids == [44, 109])
        #expect(spec.linux?.devices == [LinuxDevice(path: "/dev/fake", type: "c", major: 10, minor: 200, fileMode: 0o600, uid: 1000, gid: 1000)])
        #expect(spec.linux?.resources?.devices == [LinuxDeviceCgroup(allow: true, type: "c", major: 10, minor: 200, access: "rw")])
        #expect(spec.mounts?.map(\.destination) == ["/dev", "/proc", "/dev/shm", "/usr/lib/x", "/a/b/c/d"])
        #expect(spec.mounts?.first { $0.destination == "/proc" }?.source == "/host/new-proc")
        #expect(spec.hooks?.createContainer == [Hook(path: "/usr/bin/hook", args: ["hook", "x"])])
        #expect(spec.hooks?.poststop?.count == 1)
        #expect(spec.linux?.intelRdt?.closID == "gold")
        // Applying twice changes nothing more (replacement, not duplication), except hooks.
        var again = spec
        try CDIContainerEdits(deviceNodes: edits.deviceNodes, mounts: edits.mounts).apply(to: &again)
        #expect(again.linux?.devices == spec.linux?.devices)
        #expect(again.linux?.resources == spec.linux?.resources)
        #expect(again.mounts == spec.mounts)
    }

    @Test func netDevicesAndIntelRdtEndUpInTheSpec() throws {
        var spec = Spec(linux: Linux(netDevices: ["eth9": LinuxNetDevice(name: "old")]))
        try CDIContainerEdits(
            intelRdt: CDIIntelRdt(closID: "gpu", schemata: ["L2:0=f"], enableMonitoring: true),
            netDevices: [CDINetDevice(hostInterfaceName: "eth1", name: "net0"),
                         CDINetDevice(hostInterfaceName: "eth9", name: "net9")]).apply(to: &spec)
        #expect(spec.linux?.netDevices == ["eth1": LinuxNetDevice(name: "net0"), "eth9": LinuxNetDevice(name: "net9")])
        #expect(spec.linux?.intelRdt == LinuxIntelRdt(closID: "gpu", schemata: ["L2:0=f"], enableMonitoring: true))
        let clash = #expect(throws: GPUError.self) {
            try CDIContainerEdits(netDevices: [CDINetDevice(hostInterfaceName: "eth2", name: "net0")]).apply(to: &spec)
        }
        #expect(clash?.code == .deviceConflict)
        #expect(clash?.message.contains("eth1 and eth2 would both be \"net0\"") == true)
    }

    @Test func netDevicesOfARegistrySpecEndUpInTheSpec() throws {
        let dir = try TemporaryDirectory()
        try dir.write("nic.yaml", """
        cdiVersion: 1.1.0
        kind: example.com/nic
        devices:
          - name: vf0
            containerEdits:
              netDevices:
                - {hostInterfaceName: enp1s0f0v0, name: net1}
        containerEdits:
          env: [NIC=1]
        """)
        var spec = Spec(process: KujiraOCI.Process(env: []))
        try CDIRegistry(specDirectories: [dir.path]).apply(devices: ["example.com/nic=vf0"], to: &spec)
        #expect(spec.linux?.netDevices == ["enp1s0f0v0": LinuxNetDevice(name: "net1")])
        #expect(spec.process?.env == ["NIC=1"])
    }

    @Test func deviceNodeFilledFromHostStat() throws {
        var spec = Spec()
        try CDIContainerEdits(deviceNodes: [CDIDeviceNode(path: "/dev/null")]).apply(to: &spec)
        #expect(spec.linux?.devices == [LinuxDevice(path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o666)])
        let missing = #expect(throws: GPUError.self) {
            try CDIContainerEdits(deviceNodes: [CDIDeviceNode(path: "/dev/nvidia0", hostPath: "/nonexistent/nvidia0")]).apply(to: &spec)
        }
        #expect(missing?.message.contains("/nonexistent/nvidia0 does not exist") == true)
        let notDevice = #expect(throws: GPUError.self) {
            try CDIContainerEdits(deviceNodes: [CDIDeviceNode(path: "/dev/x", hostPath: "/etc/hostname")]).apply(to: &spec)
        }
        #expect(notDevice?.code == .notADevice)
        let mismatch = #expect(throws: GPUError.self) {
            try CDIContainerEdits(deviceNodes: [CDIDeviceNode(path: "/dev/x", hostPath: "/dev/null", type: "b")]).apply(to: &spec)
        }
        #expect(mismatch?.message.contains("does not match") == true)
    }

    @Test func nvidiaCTKSpecApplies() throws {
        let data = try Data(contentsOf: try fixtureURL("nvidia-ctk.yaml"))
        var cdi = try CDISpec(decoding: data, format: .yaml, source: "nvidia-ctk.yaml")
        #expect(cdi.devices.count == 5)
        let registry = try CDIRegistry(specs: [("nvidia-ctk.yaml", cdi)])
        var spec = Spec(process: KujiraOCI.Process(env: ["PATH=/bin"]))
        if !FileManager.default.fileExists(atPath: "/dev/nvidia0") {
            // No driver here: the error says which node and why.
            let error = #expect(throws: GPUError.self) { try registry.apply(devices: ["nvidia.com/gpu=0"], to: &spec) }
            #expect(error?.code == .notADevice)
            #expect(error?.message.contains("/dev/nvidia-modeset") == true)
        }
        // With the nodes' numbers filled in (as stat would on a GPU host) it applies fully.
        let numbers = ["/dev/nvidia-modeset": (195, 254), "/dev/nvidia-uvm": (234, 0), "/dev/nvidia-uvm-tools": (234, 1),
                       "/dev/nvidiactl": (195, 255), "/dev/nvidia0": (195, 0), "/dev/nvidia1": (195, 1)]
        func fill(_ edits: inout CDIContainerEdits) {
            edits.deviceNodes = edits.deviceNodes?.map { node in
                var node = node
                node.type = "c"
                node.major = Int64(numbers[node.path]?.0 ?? 0)
                node.minor = Int64(numbers[node.path]?.1 ?? 0)
                node.fileMode = 0o666
                return node
            }
        }
        if var shared = cdi.containerEdits { fill(&shared); cdi.containerEdits = shared }
        for i in cdi.devices.indices { fill(&cdi.devices[i].containerEdits) }
        let filled = try CDIRegistry(specs: [("nvidia-ctk.yaml", cdi)])
        try filled.apply(devices: ["nvidia.com/gpu=GPU-0f4b2c9d-1e7a-4c55-8b21-9d3e6a7c8b02"], to: &spec)
        let devices = (spec.linux?.devices ?? []).map { "\($0.path) \($0.major ?? 0):\($0.minor ?? 0)" }
        #expect(devices == ["/dev/nvidia-modeset 195:254", "/dev/nvidia-uvm 234:0", "/dev/nvidia-uvm-tools 234:1",
                            "/dev/nvidiactl 195:255", "/dev/nvidia1 195:1"])
        #expect(spec.hooks?.createContainer?.count == 2)
        #expect(spec.mounts?.count == 6)
        #expect(spec.process?.env == ["PATH=/bin", "NVIDIA_VISIBLE_DEVICES=void"])
    }
}
