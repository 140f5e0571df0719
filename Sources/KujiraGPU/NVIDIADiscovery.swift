// NVIDIA driver discovery from the files the driver leaves on a host, read under a host root:
// the driver version (/proc/driver/nvidia/version), the GPUs
// (/proc/driver/nvidia/gpus/<bus>/information), MIG instances
// (/proc/driver/nvidia/capabilities/gpu<N>/mig), the character device majors (/proc/devices),
// the device nodes (/dev), the driver's libraries by capability (found through the ld cache
// and kept only when they are of the running driver's version), its binaries, firmware and IPC
// sockets. NVIDIASpecGenerator.swift turns the result into a CDI spec.

import Foundation

/// A driver capability, the values of `NVIDIA_DRIVER_CAPABILITIES`.
public enum NVIDIACapability: String, Hashable, Sendable, CaseIterable, Comparable, Codable {
    /// CUDA and OpenCL.
    case compute
    /// 32-bit libraries.
    case compat32
    /// OpenGL, EGL, Vulkan.
    case graphics
    /// nvidia-smi and NVML.
    case utility
    /// The Video Codec SDK (NVENC, NVDEC, VDPAU).
    case video
    /// X11 display.
    case display
    /// NVIDIA NGX (DLSS).
    case ngx

    /// Orders by declaration.
    public static func < (lhs: NVIDIACapability, rhs: NVIDIACapability) -> Bool {
        allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
    }

    /// The driver libraries (names without `.so`) of the capability.
    public var libraries: [String] {
        switch self {
        case .utility: ["libnvidia-ml", "libnvidia-cfg", "libnvidia-nscq"]
        case .compute:
            ["libcuda", "libcudadebugger", "libnvidia-opencl", "libnvidia-ptxjitcompiler",
             "libnvidia-fatbinaryloader", "libnvidia-allocator", "libnvidia-compiler", "libnvidia-nvvm",
             "libnvidia-pkcs11", "libnvidia-pkcs11-openssl3", "libnvidia-gpucomp"]
        case .video: ["libvdpau_nvidia", "libnvidia-encode", "libnvidia-opticalflow", "libnvcuvid"]
        case .graphics:
            ["libnvidia-eglcore", "libnvidia-glcore", "libnvidia-tls", "libnvidia-glsi", "libnvidia-fbc",
             "libnvidia-ifr", "libnvidia-rtcore", "libnvoptix", "libGLX_nvidia", "libEGL_nvidia",
             "libGLESv2_nvidia", "libGLESv1_CM_nvidia", "libnvidia-glvkspirv", "libnvidia-vulkan-producer"]
        case .ngx: ["libnvidia-ngx"]
        case .compat32, .display: []
        }
    }

    /// The driver binaries of the capability.
    public var binaries: [String] {
        switch self {
        case .utility: ["nvidia-smi", "nvidia-debugdump", "nvidia-persistenced"]
        case .compute: ["nvidia-cuda-mps-control", "nvidia-cuda-mps-server"]
        default: []
        }
    }

    /// Parses a comma-separated list (`compute,utility`, `all`); an empty list is empty.
    public static func parseList(_ text: String) throws -> Set<NVIDIACapability> {
        var result: Set<NVIDIACapability> = []
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            if part == "all" { return Set(allCases) }
            guard let capability = NVIDIACapability(rawValue: part) else {
                let known = allCases.map(\.rawValue).joined(separator: ", ")
                throw GPUError(.invalidRequest, "unknown NVIDIA driver capability \"\(part)\" (known: \(known), all)")
            }
            result.insert(capability)
        }
        return result
    }
}

/// A dotted version such as a driver version `535.104.05` or a CUDA version `12.2`, compared
/// part by part numerically.
public struct NVIDIAVersion: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The numeric parts.
    public let parts: [Int]
    /// The text it was parsed from.
    public let description: String

    /// Parses digits separated by dots; nil otherwise.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        self.parts = parts.compactMap { $0 }
        description = text
    }

    /// Compares part by part; missing parts count as 0.
    public static func < (lhs: NVIDIAVersion, rhs: NVIDIAVersion) -> Bool {
        for i in 0..<max(lhs.parts.count, rhs.parts.count) {
            let a = i < lhs.parts.count ? lhs.parts[i] : 0, b = i < rhs.parts.count ? rhs.parts[i] : 0
            if a != b { return a < b }
        }
        return false
    }

    /// Equal when every part is (missing parts count as 0).
    public static func == (lhs: NVIDIAVersion, rhs: NVIDIAVersion) -> Bool { !(lhs < rhs) && !(rhs < lhs) }
    /// Hashes the parts without trailing zeros, consistent with `==`.
    public func hash(into hasher: inout Hasher) {
        var trimmed = parts
        while trimmed.last == 0 { trimmed.removeLast() }
        hasher.combine(trimmed)
    }
}

/// A MIG device: a compute instance of a GPU instance, with the caps device minors that grant
/// access to them.
public struct NVIDIAMIGDevice: Hashable, Sendable, Codable {
    /// The GPU instance ID.
    public var gpuInstance: Int
    /// The compute instance ID.
    public var computeInstance: Int
    /// The minor of `/dev/nvidia-caps/nvidia-cap<N>` for the GPU instance.
    public var gpuInstanceCapMinor: Int
    /// The minor of `/dev/nvidia-caps/nvidia-cap<N>` for the compute instance.
    public var computeInstanceCapMinor: Int
}

/// A GPU found in `/proc/driver/nvidia/gpus`.
public struct NVIDIAGPU: Hashable, Sendable, Codable {
    /// The index, the GPU's position in PCI bus order (as NVML and nvidia-smi number them).
    public var index: Int
    /// The minor of `/dev/nvidia<minor>`.
    public var minor: Int
    /// The UUID, `GPU-…`.
    public var uuid: String
    /// The model, e.g. `NVIDIA H200`.
    public var model: String
    /// The PCI bus location, e.g. `0000:19:00.0`.
    public var busID: String
    /// MIG devices configured on the GPU.
    public var migDevices: [NVIDIAMIGDevice]
}

/// A driver file found on the host: a library, binary, firmware file or IPC socket.
public struct NVIDIADriverFile: Hashable, Sendable, Codable {
    /// The path on the host (in the host root's terms), the real file after resolving links.
    public var hostPath: String
    /// The path in the container.
    public var containerPath: String
    /// The capability that needs it; nil for files every capability needs (firmware).
    public var capability: NVIDIACapability?
}

/// What discovery found about the NVIDIA driver of a host.
public struct NVIDIAHost: Hashable, Sendable {
    /// The root the driver's files (libraries, binaries, firmware, ld cache) were read under.
    public var driverRoot: HostRoot
    /// The root `/dev` was read under.
    public var devRoot: HostRoot
    /// The kernel module's version, e.g. `535.104.05`.
    public var driverVersion: String
    /// The highest CUDA version the driver supports (`cuDriverGetVersion`), when known.
    public var cudaVersion: NVIDIAVersion?
    /// The GPUs, in index order.
    public var gpus: [NVIDIAGPU]
    /// The major of `/dev/nvidia*` (`nvidia` or `nvidia-frontend` in /proc/devices; 195).
    public var nvidiaMajor: Int64
    /// The major of `/dev/nvidia-uvm`, when the uvm module is loaded.
    public var uvmMajor: Int64?
    /// The major of `/dev/nvidia-caps/*`, when present.
    public var capsMajor: Int64?
    /// Whether `/dev/nvidia-modeset` exists.
    public var hasModeset: Bool
    /// Driver libraries, binaries, firmware and IPC sockets.
    public var files: [NVIDIADriverFile]
}

/// Reads the NVIDIA driver's state from a host root.
public struct NVIDIADiscovery: Sendable {
    /// The root `/proc`, the libraries, binaries, firmware and the ld cache are read under.
    public var driverRoot: HostRoot
    /// The root `/dev` is read under (the same as the driver root unless the driver lives in
    /// a driver container).
    public var devRoot: HostRoot
    /// The CUDA version to assume instead of asking the driver's libcuda (for fake hosts).
    public var cudaVersionOverride: NVIDIAVersion?

    /// A discovery over `driverRoot` and `devRoot` (both `/` by default).
    public init(driverRoot: HostRoot = .system, devRoot: HostRoot? = nil, cudaVersionOverride: NVIDIAVersion? = nil) {
        self.driverRoot = driverRoot
        self.devRoot = devRoot ?? driverRoot
        self.cudaVersionOverride = cudaVersionOverride
    }

    /// Discovers the driver. Throws ``GPUError/Code-swift.struct/noGPUs`` when no NVIDIA driver
    /// is loaded (no `/proc/driver/nvidia/version`).
    public func discover() throws -> NVIDIAHost {
        let root = driverRoot
        guard let versionText = root.readText("/proc/driver/nvidia/version") else {
            throw GPUError(.noGPUs, "no NVIDIA driver on this host: \(root.realPath("/proc/driver/nvidia/version")) does not exist (is the nvidia kernel module loaded?)")
        }
        guard let driverVersion = NVIDIADiscovery.parseDriverVersion(versionText) else {
            throw GPUError(.hostIO, "\(root.realPath("/proc/driver/nvidia/version")): no driver version in \"\(versionText.prefix(80))\"")
        }
        let majors = NVIDIADiscovery.parseCharacterMajors(root.readText("/proc/devices") ?? "")
        let nvidiaMajor = majors["nvidia-frontend"] ?? majors["nvidia"] ?? 195
        var gpus: [NVIDIAGPU] = []
        for bus in root.list("/proc/driver/nvidia/gpus") {
            let file = "/proc/driver/nvidia/gpus/\(bus)/information"
            guard let text = root.readText(file) else { continue }
            let fields = NVIDIADiscovery.parseInformation(text)
            guard let minorText = fields["Device Minor"], let minor = Int(minorText) else {
                throw GPUError(.hostIO, "\(root.realPath(file)): no \"Device Minor\" line")
            }
            let mig = try migDevices(gpuMinor: minor)
            gpus.append(NVIDIAGPU(
                index: 0, minor: minor, uuid: fields["GPU UUID"] ?? "", model: fields["Model"] ?? "",
                busID: fields["Bus Location"] ?? bus, migDevices: mig))
        }
        gpus.sort { $0.busID.lowercased() < $1.busID.lowercased() }
        for i in gpus.indices { gpus[i].index = i }
        let files = try driverFiles(version: driverVersion)
        return NVIDIAHost(
            driverRoot: driverRoot, devRoot: devRoot, driverVersion: driverVersion,
            cudaVersion: cudaVersionOverride ?? (driverRoot.isSystemRoot ? NVIDIADiscovery.probeCUDAVersion() : nil),
            gpus: gpus, nvidiaMajor: nvidiaMajor, uvmMajor: majors["nvidia-uvm"], capsMajor: majors["nvidia-caps"],
            hasModeset: devRoot.exists("/dev/nvidia-modeset"), files: files)
    }

    /// The version in `NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  …` (also
    /// the "Open Kernel Module for x86_64" wording).
    static func parseDriverVersion(_ text: String) -> String? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("NVRM version:") }) else { return nil }
        for word in line.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            let parts = word.split(separator: ".")
            if parts.count >= 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) { return String(word) }
        }
        return nil
    }

    /// `Key: value` lines of an `information` or `access` file, values trimmed.
    static func parseInformation(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            fields[key] = value
        }
        return fields
    }

    /// The majors of the "Character devices:" section of /proc/devices, by name.
    static func parseCharacterMajors(_ text: String) -> [String: Int64] {
        var majors: [String: Int64] = [:]
        var inCharacter = false
        for line in text.split(separator: "\n") {
            if line.hasPrefix("Character devices:") { inCharacter = true; continue }
            if line.hasPrefix("Block devices:") { inCharacter = false; continue }
            guard inCharacter else { continue }
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            if words.count == 2, let major = Int64(words[0]) { majors[String(words[1])] = major }
        }
        return majors
    }

    private func migDevices(gpuMinor: Int) throws -> [NVIDIAMIGDevice] {
        let base = "/proc/driver/nvidia/capabilities/gpu\(gpuMinor)/mig"
        var result: [NVIDIAMIGDevice] = []
        func capMinor(_ path: String) -> Int? {
            driverRoot.readText(path).flatMap { NVIDIADiscovery.parseInformation($0)["DeviceFileMinor"] }.flatMap { Int($0) }
        }
        for gi in driverRoot.list(base) where gi.hasPrefix("gi") {
            guard let giID = Int(gi.dropFirst(2)), let giMinor = capMinor("\(base)/\(gi)/access") else { continue }
            for ci in driverRoot.list("\(base)/\(gi)") where ci.hasPrefix("ci") {
                guard let ciID = Int(ci.dropFirst(2)), let ciMinor = capMinor("\(base)/\(gi)/\(ci)/access") else { continue }
                result.append(NVIDIAMIGDevice(
                    gpuInstance: giID, computeInstance: ciID, gpuInstanceCapMinor: giMinor, computeInstanceCapMinor: ciMinor))
            }
        }
        return result.sorted { ($0.gpuInstance, $0.computeInstance) < ($1.gpuInstance, $1.computeInstance) }
    }

    /// The directories binaries are looked for in, in order.
    static let binaryDirectories = ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin", "/usr/local/sbin"]

    private func driverFiles(version: String) throws -> [NVIDIADriverFile] {
        let root = driverRoot
        var files: [NVIDIADriverFile] = []
        var seenContainerPaths: Set<String> = []
        func add(_ hostPath: String, _ containerPath: String, _ capability: NVIDIACapability?) {
            guard seenContainerPaths.insert(containerPath).inserted else { return }
            files.append(NVIDIADriverFile(hostPath: hostPath, containerPath: containerPath, capability: capability))
        }
        let cache = try LDCache(root: root)
        let suffix = ".so." + version
        for capability in NVIDIACapability.allCases {
            for library in capability.libraries {
                let prefix = library + ".so"
                for entry in cache.native(named: prefix) where entry.name != prefix {
                    // Only the running driver's libraries: a leftover libcuda of an older driver
                    // would fail at run time with a version mismatch.
                    guard let real = root.resolve(entry.path), real.hasSuffix(suffix) else { continue }
                    add(real, real, capability)
                    // The soname path (libcuda.so.1) as a bind of the same file, so the linker
                    // finds it without the symlink hook nvidia-ctk would add.
                    add(real, entry.path, capability)
                }
                // 32-bit libraries for compat32.
                for entry in cache.entries where entry.is32Bit && entry.name.hasPrefix(prefix + ".") {
                    guard let real = root.resolve(entry.path), real.hasSuffix(suffix) else { continue }
                    add(real, real, .compat32)
                    add(real, entry.path, .compat32)
                }
            }
            for binary in capability.binaries {
                for dir in NVIDIADiscovery.binaryDirectories {
                    if let real = root.resolve("\(dir)/\(binary)"), root.fileInfo(real)?.kind == .regular {
                        add(real, "\(dir)/\(binary)", capability)
                        break
                    }
                }
            }
        }
        for dir in ["/lib/firmware/nvidia/\(version)", "/usr/lib/firmware/nvidia/\(version)"] {
            guard let real = root.resolve(dir) else { continue }
            for name in root.list(real) where name.hasSuffix(".bin") {
                add("\(real)/\(name)", "\(real)/\(name)", nil)
            }
        }
        let ipc: [(String, NVIDIACapability)] = [
            ("/run/nvidia-persistenced/socket", .utility), ("/var/run/nvidia-persistenced/socket", .utility),
            ("/run/nvidia-fabricmanager/socket", .compute), ("/var/run/nvidia-fabricmanager/socket", .compute),
            ("/tmp/nvidia-mps", .compute),
        ]
        for (path, capability) in ipc {
            if let real = root.resolve(path), root.exists(real) { add(real, path, capability) }
        }
        return files
    }

    /// The CUDA version of the host's driver, asked from `libcuda.so.1` with
    /// `cuDriverGetVersion` (which needs no `cuInit` and no GPU access); nil when it cannot be
    /// loaded.
    public static func probeCUDAVersion() -> NVIDIAVersion? {
        guard let handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL) else { return nil }
        defer { dlclose(handle) }
        guard let symbol = dlsym(handle, "cuDriverGetVersion") else { return nil }
        typealias GetVersion = @convention(c) (UnsafeMutablePointer<Int32>) -> Int32
        let function = unsafeBitCast(symbol, to: GetVersion.self)
        var version: Int32 = 0
        guard function(&version) == 0, version > 0 else { return nil }
        return NVIDIAVersion("\(version / 1000).\((version % 1000) / 10)")
    }
}
