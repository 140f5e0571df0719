// The CDI spec of an NVIDIA host, in the shape nvidia-ctk writes: kind nvidia.com/gpu, a device
// per GPU by index and by UUID, MIG devices, `all`, and spec-wide edits for the control nodes
// (nvidiactl, nvidia-uvm, nvidia-uvm-tools, nvidia-modeset) and the driver's files as
// read-only bind mounts. Unlike nvidia-ctk it needs no hooks: the soname links the linker
// looks for (libcuda.so.1) are bind mounts of the library too.

extension NVIDIAHost {
    /// The CDI kind of NVIDIA GPUs.
    public static let kind = "nvidia.com/gpu"

    /// Mount options of driver files: read-only binds, as nvidia-ctk writes them.
    static let fileMountOptions = ["ro", "nosuid", "nodev", "bind"]
    /// Mount options of IPC sockets.
    static let socketMountOptions = ["ro", "nosuid", "nodev", "bind", "noexec"]

    /// The CDI spec for this host: devices `0`…`N-1` (index), `GPU-…` (UUID),
    /// `mig-<index>-gi<G>-ci<C>` (MIG compute instances) and `all`, and spec-wide edits with the
    /// driver files of `capabilities`. The `cdiVersion` is the lowest that has the fields
    /// used, so older consumers (podman 4) read it. Throws ``GPUError/Code-swift.struct/noGPUs``
    /// when the driver is loaded but sees no GPU.
    public func cdiSpec(capabilities: Set<NVIDIACapability> = Set(NVIDIACapability.allCases)) throws -> CDISpec {
        guard !gpus.isEmpty else {
            throw GPUError(.noGPUs, "the NVIDIA driver \(driverVersion) is loaded but has no GPU (\(driverRoot.realPath("/proc/driver/nvidia/gpus")) is empty)")
        }
        var devices: [CDIDevice] = []
        for gpu in gpus {
            let edits = CDIContainerEdits(deviceNodes: [gpuNode(gpu)])
            devices.append(CDIDevice(name: "\(gpu.index)", containerEdits: edits))
            if !gpu.uuid.isEmpty {
                devices.append(CDIDevice(name: gpu.uuid, containerEdits: edits))
            }
        }
        for gpu in gpus {
            for mig in gpu.migDevices {
                guard let capsMajor else { break }
                var nodes = [gpuNode(gpu)]
                for minor in [mig.gpuInstanceCapMinor, mig.computeInstanceCapMinor] {
                    nodes.append(node("/dev/nvidia-caps/nvidia-cap\(minor)", major: capsMajor, minor: Int64(minor)))
                }
                devices.append(CDIDevice(
                    name: "mig-\(gpu.index)-gi\(mig.gpuInstance)-ci\(mig.computeInstance)",
                    containerEdits: CDIContainerEdits(deviceNodes: nodes)))
            }
        }
        devices.append(CDIDevice(name: "all", containerEdits: CDIContainerEdits(deviceNodes: gpus.map(gpuNode))))
        var spec = CDISpec(
            cdiVersion: CDISpec.earliestVersion, kind: NVIDIAHost.kind, devices: devices,
            containerEdits: sharedEdits(capabilities: capabilities))
        spec.cdiVersion = spec.minimumVersion.description
        return spec
    }

    /// The edits every NVIDIA device needs: control nodes, the driver files of `capabilities`
    /// (no files for an empty set), and `NVIDIA_VISIBLE_DEVICES=void`, which tells an
    /// nvidia-container-runtime hook in the container's path that the devices are already
    /// there.
    public func sharedEdits(capabilities: Set<NVIDIACapability>) -> CDIContainerEdits {
        var nodes = [node("/dev/nvidiactl", major: nvidiaMajor, minor: 255)]
        if let uvmMajor {
            nodes.append(node("/dev/nvidia-uvm", major: uvmMajor, minor: 0))
            nodes.append(node("/dev/nvidia-uvm-tools", major: uvmMajor, minor: 1))
        }
        if hasModeset {
            nodes.append(node("/dev/nvidia-modeset", major: nvidiaMajor, minor: 254))
        }
        var mounts: [CDIMount] = []
        for file in files where file.capability.map(capabilities.contains) ?? !capabilities.isEmpty {
            let isSocket = driverRoot.fileInfo(file.hostPath)?.kind == .socket
            mounts.append(CDIMount(
                hostPath: driverRoot.realPath(file.hostPath), containerPath: file.containerPath,
                options: isSocket ? NVIDIAHost.socketMountOptions : NVIDIAHost.fileMountOptions))
        }
        return CDIContainerEdits(
            env: ["NVIDIA_VISIBLE_DEVICES=void"], deviceNodes: nodes, mounts: mounts.isEmpty ? nil : mounts)
    }

    private func gpuNode(_ gpu: NVIDIAGPU) -> CDIDeviceNode {
        node("/dev/nvidia\(gpu.minor)", major: nvidiaMajor, minor: Int64(gpu.minor))
    }

    /// A character device node; `hostPath` only when `/dev` is read under another root.
    private func node(_ path: String, major: Int64, minor: Int64) -> CDIDeviceNode {
        CDIDeviceNode(
            path: path, hostPath: devRoot.isSystemRoot ? nil : devRoot.realPath(path), type: "c",
            major: major, minor: minor)
    }

    /// The names of the devices `cdiSpec` defines, for listing: index, UUID and model of each
    /// GPU.
    public var deviceSummaries: [(name: String, uuid: String, model: String, busID: String)] {
        gpus.map { ("\($0.index)", $0.uuid, $0.model, $0.busID) }
    }
}
