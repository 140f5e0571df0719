// The real test of a Spec edit: Debian's runc runs a busybox bundle whose config.json got
// `--gpus all` from the fake NVIDIA root, and the container sees the device nodes, the
// driver libraries and the environment. Needs root and runc; skipped otherwise (failed with
// KUJIRA_REQUIRE_PRIVILEGED=1).

import Foundation
import KujiraOCI
import Testing
@testable import KujiraGPU

private let runcPath = findTool(["/usr/sbin/runc", "/usr/bin/runc"])
private let busyboxPath = findTool(["/bin/busybox", "/usr/bin/busybox"])
private var canRunRunc: Bool { canBuildFakeHost && runcPath != nil && busyboxPath != nil }

/// A bundle with a busybox rootfs and runc's default config running `script`.
func makeBusyboxBundle(in dir: TemporaryDirectory, script: String) throws -> Spec {
    let rootfs = dir.path + "/rootfs"
    try FileManager.default.createDirectory(atPath: rootfs + "/bin", withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: busyboxPath ?? "/bin/busybox", toPath: rootfs + "/bin/busybox")
    for applet in ["sh", "stat", "cat", "head", "env", "ls", "grep"] {
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/bin/" + applet, withDestinationPath: "busybox")
    }
    let spec = try run(runcPath ?? "runc", ["spec", "--bundle", dir.path])
    guard spec.status == 0 else { throw GPUError(.hostIO, "runc spec: \(spec.output)") }
    var config = try JSONDecoder().decode(Spec.self, from: try Data(contentsOf: URL(fileURLWithPath: dir.path + "/config.json")))
    config.process?.terminal = false
    config.process?.args = ["sh", "-c", script]
    return config
}

func writeConfig(_ spec: Spec, to dir: TemporaryDirectory) throws {
    try JSONEncoder().encode(spec).write(to: URL(fileURLWithPath: dir.path + "/config.json"))
}

@Test(.enabled(if: canRunRunc || privilegedRequired, "needs root, runc, busybox, a C compiler and ldconfig"))
func runcSeesTheGPUs() throws {
    guard let fake = try fakeHostOrSkip(), fake.hasDeviceNodes, let runc = runcPath else {
        Issue.record("runc or the fake host is missing")
        return
    }
    let bundle = try TemporaryDirectory()
    var spec = try makeBusyboxBundle(in: bundle, script: """
        stat -c '%n %F %t:%T' /dev/nvidia0 /dev/nvidia1 /dev/nvidiactl; \
        head -c 4 /usr/lib/x86_64-linux-gnu/libcuda.so.1 | grep -q ELF && echo libcuda-ok; \
        echo x > /usr/lib/x86_64-linux-gnu/libcuda.so.1 2>/dev/null || echo libcuda-readonly; \
        env | grep NVIDIA_VISIBLE_DEVICES
        """)
    let injector = DeviceInjector(registry: try CDIRegistry(specs: []), nvidia: fake.discovery)
    try injector.apply(gpus: try GPURequest(parsing: "all"), to: &spec)
    try writeConfig(spec, to: bundle)
    let id = "kujira-gpu-test-\(UUID().uuidString.prefix(8))"
    let result = try run(runc, ["run", "--bundle", bundle.path, id])
    _ = try? run(runc, ["delete", "--force", id])
    #expect(result.status == 0, "\(result.output)")
    // 195 is c3 in hex, 255 is ff: stat prints major:minor in hex.
    #expect(result.output.contains("/dev/nvidia0 character special file c3:0"), "\(result.output)")
    #expect(result.output.contains("/dev/nvidia1 character special file c3:1"), "\(result.output)")
    #expect(result.output.contains("/dev/nvidiactl character special file c3:ff"), "\(result.output)")
    #expect(result.output.contains("libcuda-ok"), "\(result.output)")
    #expect(result.output.contains("libcuda-readonly"), "\(result.output)")
    #expect(result.output.contains("NVIDIA_VISIBLE_DEVICES=void"), "\(result.output)")
}

@Test(.enabled(if: canRunRunc || privilegedRequired, "needs root, runc, busybox, a C compiler and ldconfig"))
func runcSeesOnlyTheRequestedGPU() throws {
    guard let fake = try fakeHostOrSkip(), fake.hasDeviceNodes, let runc = runcPath else {
        Issue.record("runc or the fake host is missing")
        return
    }
    let bundle = try TemporaryDirectory()
    var spec = try makeBusyboxBundle(in: bundle, script: "ls /dev")
    let injector = DeviceInjector(registry: try CDIRegistry(specs: []), nvidia: fake.discovery)
    try injector.apply(gpus: try GPURequest(parsing: "device=1"), to: &spec)
    try writeConfig(spec, to: bundle)
    let id = "kujira-gpu-test-\(UUID().uuidString.prefix(8))"
    let result = try run(runc, ["run", "--bundle", bundle.path, id])
    _ = try? run(runc, ["delete", "--force", id])
    #expect(result.status == 0, "\(result.output)")
    let names = Set(result.output.split(whereSeparator: \.isWhitespace).map(String.init))
    #expect(names.contains("nvidia1") && names.contains("nvidiactl"))
    #expect(!names.contains("nvidia0"))
}
