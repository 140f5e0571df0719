import Foundation
import KujiraOCI
import Testing
@testable import KujiraGPU

private let fakeHostTrait = Testing.ConditionTrait.enabled(
    if: canBuildFakeHost || privilegedRequired, "needs root, a C compiler and ldconfig to build a fake driver root")

/// The generated spec as JSON with the fake root replaced by `$ROOT`, for golden comparison.
func goldenText(_ spec: CDISpec, root: String) throws -> String {
    String(decoding: try spec.encoded(as: .json), as: UTF8.self).replacingOccurrences(of: root, with: "$ROOT")
}

func fixtureURL(_ name: String) throws -> URL {
    guard let url = Bundle.module.url(forResource: "Fixtures/" + name, withExtension: nil) else {
        throw GPUError(.hostIO, "missing fixture \(name)")
    }
    return url
}

@Suite(.serialized) struct NVIDIADiscoveryTests {
    @Test(fakeHostTrait) func discoversTheFakeHost() throws {
        guard let fake = try fakeHostOrSkip() else { return }
        let host = try fake.discovery.discover()
        #expect(host.driverVersion == "535.104.05")
        #expect(host.nvidiaMajor == 195 && host.uvmMajor == 234 && host.capsMajor == 237)
        // Index follows the PCI bus order, not the order of /proc.
        #expect(host.gpus.map(\.busID) == ["0000:19:00.0", "0000:3b:00.0"])
        #expect(host.gpus.map(\.uuid) == [FakeNVIDIAHost.uuid0, FakeNVIDIAHost.uuid1])
        #expect(host.gpus.map(\.minor) == [0, 1])
        #expect(host.gpus[0].model == "NVIDIA H200")
        #expect(host.gpus[1].migDevices == [NVIDIAMIGDevice(gpuInstance: 1, computeInstance: 0, gpuInstanceCapMinor: 12, computeInstanceCapMinor: 13)])
        let paths = host.files.map(\.containerPath)
        #expect(paths.contains("/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05"))
        #expect(paths.contains("/usr/lib/x86_64-linux-gnu/libcuda.so.1"))
        #expect(paths.contains("/usr/bin/nvidia-smi"))
        #expect(paths.contains("/lib/firmware/nvidia/535.104.05/gsp_ga10x.bin"))
        // The older driver's leftover library is not mounted.
        #expect(!paths.contains { $0.contains("opencl") })
        #expect(host.files.first { $0.containerPath.hasSuffix("libnvidia-encode.so.1") }?.capability == .video)
    }

    @Test(fakeHostTrait) func generatedSpecMatchesGolden() throws {
        guard let fake = try fakeHostOrSkip() else { return }
        let spec = try fake.discovery.discover().cdiSpec()
        try spec.validate()
        #expect(spec.cdiVersion == "0.5.0")
        let text = try goldenText(spec, root: fake.root)
        let golden = try String(contentsOf: try fixtureURL("nvidia-fake-host.golden.json"), encoding: .utf8)
        if text != golden, ProcessInfo.processInfo.environment["KUJIRA_UPDATE_GOLDEN"] == "1" {
            try text.write(toFile: "/tmp/nvidia-fake-host.golden.json", atomically: true, encoding: .utf8)
        }
        #expect(text == golden)
    }

    @Test(fakeHostTrait) func gpusAllOnTheFakeRoot() throws {
        guard let fake = try fakeHostOrSkip(), fake.hasDeviceNodes else { return }
        let injector = DeviceInjector(registry: try CDIRegistry(specs: []), nvidia: fake.discovery)
        var spec = Spec(process: KujiraOCI.Process(args: ["sh"], env: ["PATH=/bin"]), linux: Linux(resources: LinuxResources(devices: [LinuxDeviceCgroup(allow: false, access: "rwm")])))
        try injector.apply(gpus: try GPURequest(parsing: "all"), to: &spec)
        let devices = spec.linux?.devices ?? []
        let nvidia0 = try #require(devices.first { $0.path == "/dev/nvidia0" })
        let ctl = try #require(devices.first { $0.path == "/dev/nvidiactl" })
        #expect(nvidia0.type == "c" && nvidia0.major == 195 && nvidia0.minor == 0)
        #expect(ctl.type == "c" && ctl.major == 195 && ctl.minor == 255)
        #expect(nvidia0.fileMode == 0o666, "mode from the host node")
        #expect(devices.contains { $0.path == "/dev/nvidia1" && $0.minor == 1 })
        #expect(devices.contains { $0.path == "/dev/nvidia-uvm" && $0.major == 234 })
        // The cgroup allows exactly the devices added, after the deny-all.
        let rules = spec.linux?.resources?.devices ?? []
        #expect(rules.first == LinuxDeviceCgroup(allow: false, access: "rwm"))
        let allowed = Set(rules.dropFirst().map { "\($0.type ?? "a") \($0.major ?? -1):\($0.minor ?? -1) \($0.access ?? "")" })
        let expected = Set(devices.map { "\($0.type) \($0.major ?? -1):\($0.minor ?? -1) rwm" })
        #expect(allowed == expected)
        #expect(rules.dropFirst().allSatisfy { $0.allow })
        // Driver libraries as read-only binds, sources in the fake root.
        let mounts = spec.mounts ?? []
        let libcuda = try #require(mounts.first { $0.destination == "/usr/lib/x86_64-linux-gnu/libcuda.so.1" })
        #expect(libcuda.source == fake.root + "/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05")
        #expect(libcuda.options == ["ro", "nosuid", "nodev", "bind"])
        #expect(mounts.contains { $0.destination == "/usr/bin/nvidia-smi" })
        // Default capabilities are utility and compute: no video library.
        #expect(!mounts.contains { $0.destination.contains("encode") })
        #expect(spec.process?.env == ["PATH=/bin", "NVIDIA_VISIBLE_DEVICES=void"])
    }

    @Test(fakeHostTrait) func gpusDeviceOneGivesOnlyGPUOne() throws {
        guard let fake = try fakeHostOrSkip(), fake.hasDeviceNodes else { return }
        let injector = DeviceInjector(registry: try CDIRegistry(specs: []), nvidia: fake.discovery)
        var spec = Spec(process: KujiraOCI.Process(args: ["sh"]))
        try injector.apply(gpus: try GPURequest(parsing: "device=1"), to: &spec)
        let paths = Set((spec.linux?.devices ?? []).map(\.path))
        #expect(paths.contains("/dev/nvidia1"))
        #expect(!paths.contains("/dev/nvidia0"))
        #expect(paths.contains("/dev/nvidiactl"))
        #expect(!(spec.linux?.resources?.devices ?? []).contains { $0.major == 195 && $0.minor == 0 })
    }

    @Test(fakeHostTrait) func capabilitiesSelectLibraries() throws {
        guard let fake = try fakeHostOrSkip(makeDeviceNodes: false) else { return }
        let host = try fake.discovery.discover()
        var spec = Spec(process: KujiraOCI.Process(env: ["NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=video"]))
        let selection = try #require(try NVIDIAEnvironment.selection(request: nil, env: spec.process?.env ?? [], host: host))
        #expect(selection.capabilities == [.video])
        try NVIDIAInjection.apply(selection, host: host, to: &spec)
        let mounts = (spec.mounts ?? []).map(\.destination)
        #expect(mounts.contains("/usr/lib/x86_64-linux-gnu/libnvidia-encode.so.1"))
        #expect(!mounts.contains("/usr/lib/x86_64-linux-gnu/libcuda.so.1"))
        #expect(mounts.contains("/lib/firmware/nvidia/535.104.05/gsp_ga10x.bin"))
    }

    @Test(fakeHostTrait) func requirementsAreChecked() throws {
        guard let fake = try fakeHostOrSkip(makeDeviceNodes: false) else { return }
        let host = try fake.discovery.discover()
        let ok = ["NVIDIA_VISIBLE_DEVICES=0", "NVIDIA_REQUIRE_CUDA=cuda>=12.0 brand=tesla,driver>=470,driver<471"]
        #expect(try NVIDIAEnvironment.selection(request: nil, env: ok, host: host)?.devices == ["0"])
        let tooNew = ["NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_REQUIRE_CUDA=cuda>=12.4 brand=tesla,driver>=550"]
        let error = #expect(throws: GPUError.self) { try NVIDIAEnvironment.selection(request: nil, env: tooNew, host: host) }
        #expect(error?.code == .requirementNotMet)
        #expect(error?.message.contains("cuda>=12.4 (have 12.2)") == true)
        #expect(try NVIDIAEnvironment.selection(request: nil, env: tooNew + ["NVIDIA_DISABLE_REQUIRE=true"], host: host) != nil)
        // Legacy CUDA image: all GPUs, cuda >= CUDA_VERSION's major.minor.
        #expect(try NVIDIAEnvironment.selection(request: nil, env: ["CUDA_VERSION=11.8.0"], host: host)?.devices == ["all"])
        #expect(throws: GPUError.self) { try NVIDIAEnvironment.selection(request: nil, env: ["CUDA_VERSION=12.3.1"], host: host) }
        // Visible devices by UUID, none and void.
        #expect(try NVIDIAEnvironment.selection(request: nil, env: ["NVIDIA_VISIBLE_DEVICES=\(FakeNVIDIAHost.uuid1)"], host: host)?.devices == [FakeNVIDIAHost.uuid1])
        #expect(try NVIDIAEnvironment.selection(request: nil, env: ["NVIDIA_VISIBLE_DEVICES=none"], host: host)?.devices == [])
        #expect(try NVIDIAEnvironment.selection(request: nil, env: ["NVIDIA_VISIBLE_DEVICES=void"], host: host) == nil)
        #expect(try NVIDIAEnvironment.selection(request: nil, env: ["PATH=/bin"], host: host) == nil)
        let unknown = #expect(throws: GPUError.self) {
            try NVIDIAEnvironment.selection(request: try GPURequest(parsing: "device=7"), env: [], host: host)
        }
        #expect(unknown?.message.contains("this host has: 0 (\(FakeNVIDIAHost.uuid0), NVIDIA H200), 1") == true)
        let many = #expect(throws: GPUError.self) {
            try NVIDIAEnvironment.selection(request: try GPURequest(parsing: "3"), env: [], host: host)
        }
        #expect(many?.message.contains("asks for 3 GPUs but this host has 2") == true)
    }

    @Test func noDriverMeansNoGPUs() throws {
        let empty = try TemporaryDirectory()
        let discovery = NVIDIADiscovery(driverRoot: HostRoot(empty.path))
        let error = #expect(throws: GPUError.self) { try discovery.discover() }
        #expect(error?.code == .noGPUs)
        let injector = DeviceInjector(registry: try CDIRegistry(specs: []), nvidia: discovery)
        var spec = Spec(process: KujiraOCI.Process(env: ["NVIDIA_VISIBLE_DEVICES=all"]))
        let gpuError = #expect(throws: GPUError.self) { try injector.apply(gpus: GPURequest(count: .all), to: &spec) }
        #expect(gpuError?.code == .noGPUs)
        #expect(gpuError?.message.contains("--gpus was given but this host has no NVIDIA GPU") == true)
        // An image variable alone on a GPU-less host changes nothing, as with plain Docker.
        var honoring = injector
        honoring.honorsImageEnvironment = true
        let before = spec
        try honoring.apply(to: &spec)
        #expect(spec == before)
    }

    @Test func parsesProcFiles() {
        #expect(NVIDIADiscovery.parseDriverVersion("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.54.14  Release Build  (dvs-builder@U16-I3-B03-4-3)  Thu Feb 22 01:25:25 UTC 2024\n") == "550.54.14")
        let majors = NVIDIADiscovery.parseCharacterMajors("Character devices:\n195 nvidia\n511 nvidia-uvm\nBlock devices:\n259 blkext\n")
        #expect(majors == ["nvidia": 195, "nvidia-uvm": 511])
    }
}
