// AMD GPU discovery from sysfs, read under a host root: the PCI devices bound to the amdgpu
// driver (/sys/bus/pci/drivers/amdgpu/<bus>) and their DRM nodes
// (/sys/bus/pci/devices/<bus>/drm/card*, renderD*), plus the ROCm compute node /dev/kfd. The
// spec has kind amd.com/gpu, a device per GPU by index (PCI order) and `all`, the way ROCm's
// container toolkit names them.

/// An AMD GPU: a PCI device driven by amdgpu and its DRM nodes.
public struct AMDGPU: Hashable, Sendable, Codable {
    /// The index in PCI bus order.
    public var index: Int
    /// The PCI bus location, e.g. `0000:03:00.0`.
    public var busID: String
    /// The DRM nodes, e.g. `/dev/dri/card1`, `/dev/dri/renderD128`.
    public var nodes: [String]
}

/// What discovery found about AMD GPUs on a host.
public struct AMDHost: Hashable, Sendable {
    /// The root `/sys` was read under.
    public var sysRoot: HostRoot
    /// The root `/dev` was read under.
    public var devRoot: HostRoot
    /// The GPUs, in index order.
    public var gpus: [AMDGPU]
    /// Whether `/dev/kfd` (the ROCm compute interface) exists.
    public var hasKFD: Bool

    /// The CDI kind of AMD GPUs.
    public static let kind = "amd.com/gpu"

    /// The CDI spec: devices `0`…`N-1` and `all`, each with its DRM nodes; `/dev/kfd` in the
    /// spec-wide edits. Throws ``GPUError/Code-swift.struct/noGPUs`` without GPUs.
    public func cdiSpec() throws -> CDISpec {
        guard !gpus.isEmpty else {
            throw GPUError(.noGPUs, "no AMD GPU on this host: no PCI device is bound to amdgpu in \(sysRoot.realPath("/sys/bus/pci/drivers/amdgpu"))")
        }
        func node(_ path: String) -> CDIDeviceNode {
            CDIDeviceNode(path: path, hostPath: devRoot.isSystemRoot ? nil : devRoot.realPath(path))
        }
        var devices = gpus.map { gpu in
            CDIDevice(name: "\(gpu.index)", containerEdits: CDIContainerEdits(deviceNodes: gpu.nodes.map(node)))
        }
        devices.append(CDIDevice(name: "all", containerEdits: CDIContainerEdits(deviceNodes: gpus.flatMap(\.nodes).map(node))))
        var spec = CDISpec(
            cdiVersion: CDISpec.earliestVersion, kind: AMDHost.kind, devices: devices,
            containerEdits: hasKFD ? CDIContainerEdits(deviceNodes: [node("/dev/kfd")]) : nil)
        spec.cdiVersion = spec.minimumVersion.description
        return spec
    }
}

/// Reads AMD GPUs from a host root.
public struct AMDDiscovery: Sendable {
    /// The root `/sys` is read under.
    public var sysRoot: HostRoot
    /// The root `/dev` is read under.
    public var devRoot: HostRoot

    /// A discovery over `sysRoot` and `devRoot` (both `/` by default).
    public init(sysRoot: HostRoot = .system, devRoot: HostRoot? = nil) {
        self.sysRoot = sysRoot
        self.devRoot = devRoot ?? sysRoot
    }

    /// Discovers amdgpu devices; a host without any gives an empty list.
    public func discover() -> AMDHost {
        let buses = sysRoot.list("/sys/bus/pci/drivers/amdgpu").filter(AMDDiscovery.isPCIAddress)
        var gpus: [AMDGPU] = []
        for bus in buses.sorted() {
            let nodes = sysRoot.list("/sys/bus/pci/devices/\(bus)/drm")
                .filter { $0.hasPrefix("card") || $0.hasPrefix("renderD") }
                .map { "/dev/dri/\($0)" }
                .filter { devRoot.exists($0) }
            guard !nodes.isEmpty else { continue }
            gpus.append(AMDGPU(index: gpus.count, busID: bus, nodes: nodes))
        }
        return AMDHost(sysRoot: sysRoot, devRoot: devRoot, gpus: gpus, hasKFD: devRoot.exists("/dev/kfd"))
    }

    /// `dddd:bb:dd.f` in hex.
    static func isPCIAddress(_ name: String) -> Bool {
        let hex = Set("0123456789abcdefABCDEF")
        let shape = Array(name)
        guard shape.count == 12, shape[4] == ":", shape[7] == ":", shape[10] == "." else { return false }
        return shape.enumerated().allSatisfy { i, c in [4, 7, 10].contains(i) || hex.contains(c) }
    }
}
