// Fake hosts for discovery tests: a temporary directory with the files an NVIDIA or AMD driver
// leaves (/proc/driver/nvidia, /proc/devices, sysfs), real ELF shared libraries built with the
// C compiler, and the linker cache written by the real `ldconfig -r ROOT`. Device nodes are
// made with mknod when the tests run as root.

import Foundation
import Testing
@testable import KujiraGPU
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program and returns its exit status and output.
@discardableResult
func run(_ executable: String, _ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String) {
    let process = Foundation.Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    if input == nil { process.standardInput = FileHandle.nullDevice }
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// The first of `candidates` that is executable.
func findTool(_ candidates: [String]) -> String? {
    candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}

var isRoot: Bool { geteuid() == 0 }

/// Whether privileged tests must run rather than skip (CI sets it).
var privilegedRequired: Bool { ProcessInfo.processInfo.environment["KUJIRA_REQUIRE_PRIVILEGED"] == "1" }

/// A temporary directory removed at deinit.
final class TemporaryDirectory {
    let path: String
    init() throws {
        let base = FileManager.default.temporaryDirectory.path + "/kujira-gpu-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        path = base
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ relative: String, _ text: String, mode: Int = 0o644) throws {
        let full = path + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: full))
        chmod(full, mode_t(mode))
    }

    func mkdir(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: path + "/" + relative, withIntermediateDirectories: true)
    }
}

/// A fake NVIDIA host: driver 535.104.05, two GPUs (minors 0 and 1 on buses 19 and 3b, the
/// second listed first in /proc to check index order), nvidia-uvm, a MIG instance on GPU 1,
/// libraries for utility, compute and video, a leftover library of an older driver,
/// nvidia-smi, GSP firmware.
final class FakeNVIDIAHost {
    static let version = "535.104.05"
    static let uuid0 = "GPU-6bd8e1a2-6f3c-4a6b-9a3e-2c1d0e5f7a81"
    static let uuid1 = "GPU-0f4b2c9d-1e7a-4c55-8b21-9d3e6a7c8b02"
    let dir: TemporaryDirectory
    var root: String { dir.path }
    /// Whether device nodes were created (running as root).
    private(set) var hasDeviceNodes = false

    init(makeDeviceNodes: Bool = true) throws {
        dir = try TemporaryDirectory()
        let v = FakeNVIDIAHost.version
        try dir.write("proc/driver/nvidia/version", """
            NVRM version: NVIDIA UNIX x86_64 Kernel Module  \(v)  Sat Aug 19 01:15:15 UTC 2023
            GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)

            """)
        try dir.write("proc/driver/nvidia/gpus/0000:3b:00.0/information", information(
            model: "NVIDIA H200", uuid: FakeNVIDIAHost.uuid1, bus: "0000:3b:00.0", minor: 1))
        try dir.write("proc/driver/nvidia/gpus/0000:19:00.0/information", information(
            model: "NVIDIA H200", uuid: FakeNVIDIAHost.uuid0, bus: "0000:19:00.0", minor: 0))
        try dir.write("proc/driver/nvidia/capabilities/gpu1/mig/gi1/access", "DeviceFileMinor: 12\nDeviceFileMode: 292\n")
        try dir.write("proc/driver/nvidia/capabilities/gpu1/mig/gi1/ci0/access", "DeviceFileMinor: 13\nDeviceFileMode: 292\n")
        try dir.write("proc/devices", """
            Character devices:
              1 mem
              4 /dev/vc/0
            195 nvidia-frontend
            195 nvidia
            234 nvidia-uvm
            237 nvidia-caps
            254 gpiochip

            Block devices:
              8 sd
            195 notachar

            """)
        let lib = "usr/lib/x86_64-linux-gnu"
        try dir.mkdir(lib)
        try dir.write("etc/ld.so.conf", "/\(lib)\n")
        for (name, soname) in [
            ("libcuda.so.\(v)", "libcuda.so.1"), ("libnvidia-ml.so.\(v)", "libnvidia-ml.so.1"),
            ("libnvidia-ptxjitcompiler.so.\(v)", "libnvidia-ptxjitcompiler.so.1"),
            ("libnvidia-encode.so.\(v)", "libnvidia-encode.so.1"),
            // A leftover of an older driver: found in the cache, dropped by the version filter.
            ("libnvidia-opencl.so.470.57.02", "libnvidia-opencl.so.1"),
        ] {
            try FakeNVIDIAHost.buildLibrary(root + "/" + lib + "/" + name, soname: soname)
        }
        let ldconfig = try run("/usr/sbin/ldconfig", ["-r", root])
        guard ldconfig.status == 0 else { throw GPUError(.hostIO, "ldconfig -r failed: \(ldconfig.output)") }
        try dir.write("usr/bin/nvidia-smi", "#!/bin/sh\necho fake nvidia-smi\n", mode: 0o755)
        try dir.write("lib/firmware/nvidia/\(v)/gsp_ga10x.bin", "firmware")
        try dir.mkdir("dev")
        if makeDeviceNodes && isRoot {
            for (name, major, minor) in [("nvidia0", 195, 0), ("nvidia1", 195, 1), ("nvidiactl", 195, 255),
                                         ("nvidia-uvm", 234, 0), ("nvidia-uvm-tools", 234, 1)] {
                let path = root + "/dev/" + name
                guard mknod(path, S_IFCHR | 0o666, makedev(UInt32(major), UInt32(minor))) == 0 else {
                    throw GPUError(.hostIO, "mknod \(path) failed: errno \(errno)")
                }
                chmod(path, 0o666)
            }
            hasDeviceNodes = true
        }
    }

    private func information(model: String, uuid: String, bus: String, minor: Int) -> String {
        """
        Model: \t\t \(model)
        IRQ:   \t\t 0
        GPU UUID: \t \(uuid)
        Video BIOS: \t 96.00.74.00.01
        Bus Type: \t PCIe
        DMA Size: \t 52 bits
        DMA Mask: \t 0xfffffffffffff
        Bus Location: \t \(bus)
        Device Minor: \t \(minor)
        GPU Excluded:\t No

        """
    }

    /// An ELF shared object with `soname`, built by the C compiler: ldconfig reads real ELF
    /// headers, so the cache it writes is the one a real host has.
    static func buildLibrary(_ path: String, soname: String) throws {
        let source = path + ".c"
        try Data("int kujira_fake_\(abs(path.hashValue) % 100000)(void) { return 1; }\n".utf8).write(to: URL(fileURLWithPath: source))
        defer { try? FileManager.default.removeItem(atPath: source) }
        guard let cc = findTool(["/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang"]) else {
            throw GPUError(.hostIO, "no C compiler to build fake driver libraries")
        }
        let result = try run(cc, ["-shared", "-fPIC", "-Wl,-soname,\(soname)", "-o", path, source])
        guard result.status == 0 else { throw GPUError(.hostIO, "cc failed: \(result.output)") }
    }

    var discovery: NVIDIADiscovery {
        NVIDIADiscovery(driverRoot: HostRoot(root), cudaVersionOverride: NVIDIAVersion("12.2"))
    }
}

/// makedev as glibc defines it.
func makedev(_ major: UInt32, _ minor: UInt32) -> dev_t {
    let ma = UInt64(major), mi = UInt64(minor)
    return dev_t((ma & 0xfff) << 8 | (ma & ~0xfff) << 32 | (mi & 0xff) | (mi & ~0xff) << 12)
}

/// Whether the fake host can be built here (C compiler and ldconfig, root for ldconfig -r).
var canBuildFakeHost: Bool {
    isRoot && findTool(["/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang"]) != nil
        && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ldconfig")
}

/// The fake host, or nil with the reason recorded when it cannot be built here (and a
/// failure when KUJIRA_REQUIRE_PRIVILEGED=1).
func fakeHostOrSkip(makeDeviceNodes: Bool = true) throws -> FakeNVIDIAHost? {
    guard canBuildFakeHost else {
        if privilegedRequired {
            Issue.record("the fake NVIDIA host needs root, a C compiler and ldconfig (KUJIRA_REQUIRE_PRIVILEGED=1)")
        }
        return nil
    }
    return try FakeNVIDIAHost(makeDeviceNodes: makeDeviceNodes)
}
