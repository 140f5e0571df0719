import Foundation
import Kujira
import Testing

/// `kujira run --gpus` and `--device` through the real binary, against the fake NVIDIA host of
/// `Tests/gpu/fake-nvidia-root.sh` (driver 535.104.05, two GPUs, nodes made with mknod).
@Suite(.serialized, .enabled(if: EngineHost.enabled, "needs root (mknod of the fake NVIDIA nodes, overlay mounts, cgroups); KUJIRA_REQUIRE_PRIVILEGED=1 makes this a failure"))
struct GPURunTests {
    /// Builds the fake NVIDIA driver root under the sandbox and returns its path.
    static func fakeNVIDIARoot(in box: Sandbox) throws -> String {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("gpu/fake-nvidia-root.sh").path
        let root = "\(box.dir)/nvidia"
        let result = try Sandbox.exec("/bin/bash", [script, root])
        guard result.status == 0 else {
            throw Failure(description: "fake-nvidia-root.sh exited \(result.status): \(result.stderr)")
        }
        return root
    }

    @Test func gpusAllAddsEveryNode() throws {
        let box = try Sandbox()
        let fake = try Self.fakeNVIDIARoot(in: box)
        let result = try box.mustRun(["--nvidia-driver-root", fake, "run", "--rm", "--gpus", "all", Sandbox.image, "sh", "-c",
                                      "stat -c '%n %t:%T' /dev/nvidia0 /dev/nvidia1 /dev/nvidiactl; echo $NVIDIA_VISIBLE_DEVICES"])
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("/dev/nvidia0 c3:0"))
        #expect(lines.contains("/dev/nvidia1 c3:1"))
        #expect(lines.contains("/dev/nvidiactl c3:ff"))
        #expect(lines.last == "void")
    }

    @Test func gpusDeviceSelectsOne() throws {
        let box = try Sandbox()
        let fake = try Self.fakeNVIDIARoot(in: box)
        let result = try box.mustRun(["--nvidia-driver-root", fake, "run", "--rm", "--gpus", "device=1", Sandbox.image, "sh", "-c",
                                      "for n in nvidia0 nvidia1 nvidiactl; do test -e /dev/$n && echo $n; done; true"])
        #expect(result.stdout == "nvidia1\nnvidiactl\n")
    }

    @Test func cdiDeviceFromSpecDirectory() throws {
        let box = try Sandbox()
        let fake = try Self.fakeNVIDIARoot(in: box)
        let specs = "\(box.dir)/cdi"
        try FileManager.default.createDirectory(atPath: specs, withIntermediateDirectories: true)
        try box.mustRun(["cdi", "generate", "nvidia", "--host-root", fake, "--output", "\(specs)/nvidia.yaml"])
        let result = try box.mustRun(["--cdi-spec-dir", specs, "run", "--rm", "--device", "nvidia.com/gpu=1", Sandbox.image, "sh", "-c",
                                      "for n in nvidia0 nvidia1 nvidiactl; do test -e /dev/$n && echo $n; done; true"])
        #expect(result.stdout == "nvidia1\nnvidiactl\n")
        let unknown = try box.kujira(["--cdi-spec-dir", specs, "run", "--rm", "--device", "nvidia.com/gpu=9", Sandbox.image, "true"])
        #expect(unknown.status == 125)
        #expect(unknown.stderr.contains("unknown CDI device"))
    }

    @Test func gpusOnAHostWithoutTheDriverFails() throws {
        let box = try Sandbox()
        let empty = "\(box.dir)/no-gpu"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let result = try box.kujira(["--nvidia-driver-root", empty, "run", "--rm", "--gpus", "all", Sandbox.image, "true"])
        #expect(result.status == 125)
        #expect(result.stderr.contains("--gpus all") && result.stderr.contains("no NVIDIA driver"))
        #expect(try box.mustRun(["ps", "-a", "-q"]).stdout.isEmpty)
    }

    @Test func invalidGPURequestIsRejected() throws {
        let box = try Sandbox()
        let result = try box.kujira(["run", "--rm", "--gpus", "bogus=1", Sandbox.image, "true"])
        #expect(result.status == 125)
        #expect(result.stderr.contains("--gpus bogus=1"))
    }

    @Test func hostDeviceIsAdded() throws {
        let box = try Sandbox()
        let result = try box.mustRun(["run", "--rm", "--device", "/dev/null:/dev/mynull:rw", Sandbox.image,
                                      "stat", "-c", "%t:%T", "/dev/mynull"])
        #expect(result.stdout == "1:3\n")
    }

    @Test func inspectShowsTheRequests() throws {
        let box = try Sandbox()
        let fake = try Self.fakeNVIDIARoot(in: box)
        try box.mustRun(["--nvidia-driver-root", fake, "create", "--name", "gpu", "--gpus", "device=1",
                         "--device", "/dev/null:/dev/mynull:rw", Sandbox.image, "true"])
        let host = (try box.inspect("gpu")["HostConfig"] as? [String: Any]) ?? [:]
        let requests = (host["DeviceRequests"] as? [[String: Any]]) ?? []
        #expect(requests.count == 1)
        #expect(requests.first?["DeviceIDs"] as? [String] == ["1"])
        #expect(requests.first?["Capabilities"] as? [[String]] == [["gpu"]])
        let devices = (host["Devices"] as? [[String: Any]]) ?? []
        #expect(devices.first?["PathOnHost"] as? String == "/dev/null")
        #expect(devices.first?["PathInContainer"] as? String == "/dev/mynull")
        #expect(devices.first?["CgroupPermissions"] as? String == "rw")
    }
}

/// The record fields of `--gpus` and `--device`, without a container.
struct GPURecordTests {
    @Test func recordsWithoutDeviceFieldsStillDecode() throws {
        let old = """
        {"autoRemove":false,"restartPolicy":{"name":"no","maximumRetryCount":0},"networkMode":"none","memory":0,
         "memorySwap":0,"cpuShares":0,"nanoCpus":0,"pidsLimit":0,"capAdd":[],"capDrop":[],"privileged":false,
         "readonlyRootfs":false,"securityOpt":[],"binds":[],"tmpfs":{},"ulimits":[]}
        """
        var host = try JSONDecoder().decode(ContainerHostConfig.self, from: Data(old.utf8))
        #expect(host.gpus == nil && host.devices.isEmpty)
        host.gpus = "device=0,2"
        host.devices = ["nvidia.com/gpu=all"]
        let again = try JSONDecoder().decode(ContainerHostConfig.self, from: try JSONEncoder().encode(host))
        #expect(again == host)
    }
}
