// The rdma controller (Documentation/admin-guide/cgroup-v1/rdma.rst); the same file in v2.
import KujiraOCI

/// Writes `rdma.max`.
enum CgroupRDMA {
    /// Writes one `rdma.max` line per device: `mlx4_0 hca_handle=2 hca_object=2000`.
    static func apply(_ directory: String, _ limits: [String: LinuxRdma]) throws {
        for (device, limit) in limits.sorted(by: { $0.key < $1.key }) {
            guard !device.isEmpty, !device.contains(" "), !device.contains("\n") else {
                throw CgroupError(.invalidResources, "RDMA device name \"\(device)\" is not a device name")
            }
            var line = device
            if let handles = limit.hcaHandles { line += " hca_handle=\(handles)" }
            if let objects = limit.hcaObjects { line += " hca_object=\(objects)" }
            if line != device { try CgroupFS.write(directory, "rdma.max", line) }
        }
    }
}
