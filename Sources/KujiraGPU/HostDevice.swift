// Docker's generic `--device /dev/X[:/dev/Y][:rwm]`: a host device node made available at a
// container path with cgroup permissions. Applied as a CDI device node with a host path, so it
// goes through the same stat, replacement and cgroup rule code as CDI devices.

public import KujiraOCI

/// A parsed `--device HOST[:CONTAINER][:PERMISSIONS]` that names a host device node.
public struct HostDevice: Hashable, Sendable {
    /// The node on the host, e.g. `/dev/fuse`.
    public var hostPath: String
    /// The path in the container (the host path when not given).
    public var containerPath: String
    /// The cgroup access, a combination of `r`, `w`, `m` (`rwm` when not given).
    public var permissions: String

    /// Creates a value.
    public init(hostPath: String, containerPath: String? = nil, permissions: String = "rwm") {
        self.hostPath = hostPath
        self.containerPath = containerPath ?? hostPath
        self.permissions = permissions
    }

    /// Parses Docker's form: `/dev/X`, `/dev/X:/dev/Y`, `/dev/X:rw`, `/dev/X:/dev/Y:rwm`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func isPermissions(_ s: String) -> Bool { !s.isEmpty && s.count <= 3 && s.allSatisfy { "rwm".contains($0) } }
        let host: String, container: String?, permissions: String
        switch parts.count {
        case 1: (host, container, permissions) = (parts[0], nil, "rwm")
        case 2 where isPermissions(parts[1]): (host, container, permissions) = (parts[0], nil, parts[1])
        case 2: (host, container, permissions) = (parts[0], parts[1], "rwm")
        case 3: (host, container, permissions) = (parts[0], parts[1], parts[2])
        default:
            throw GPUError(.invalidRequest, "--device \(text): expected HOST[:CONTAINER][:PERMISSIONS], e.g. /dev/fuse or /dev/sda:/dev/xvda:rwm")
        }
        guard host.hasPrefix("/") else {
            throw GPUError(.invalidRequest, "--device \(text): \"\(host)\" is not an absolute host path (CDI devices are written vendor/class=name)")
        }
        if let container, !container.hasPrefix("/") {
            throw GPUError(.invalidRequest, "--device \(text): container path \"\(container)\" is not absolute")
        }
        guard isPermissions(permissions) else {
            throw GPUError(.invalidRequest, "--device \(text): invalid permissions \"\(permissions)\" (a combination of r, w, m)")
        }
        self.init(hostPath: host, containerPath: container, permissions: permissions)
    }

    /// The CDI device node this request stands for.
    public var cdiDeviceNode: CDIDeviceNode {
        CDIDeviceNode(path: containerPath, hostPath: hostPath, permissions: permissions)
    }

    /// Adds the device to `spec`: the node (type and numbers from `stat` of the host path)
    /// and its cgroup allow rule. Throws ``GPUError/Code-swift.struct/notADevice`` when the
    /// host path is missing or not a device node.
    public func apply(to spec: inout Spec) throws {
        guard let info = HostFileInfo(realPath: hostPath) else {
            throw GPUError(.notADevice, "--device \(hostPath): no such device on this host")
        }
        if info.kind == .directory {
            throw GPUError(.notADevice, "--device \(hostPath): is a directory; give the device nodes in it one by one")
        }
        guard info.deviceType != nil else {
            throw GPUError(.notADevice, "--device \(hostPath): not a device node")
        }
        try CDIContainerEdits(deviceNodes: [cdiDeviceNode]).apply(to: &spec)
    }
}
