// cgroup v1 blkio controller (Documentation/admin-guide/cgroup-v1/blkio-controller.rst).
import KujiraOCI

/// Writes and reads the v1 blkio controller's files.
enum CgroupV1BlkIO {
    /// Applies `blockIO`. Weights go to the CFQ files (`blkio.weight`) when the kernel has
    /// them, else to BFQ's (`blkio.bfq.weight`), as runc 1.1 does; kernels ≥ 5.0 have only BFQ.
    static func apply(_ directory: String, _ io: LinuxBlockIO) throws {
        let cfq = CgroupFS.exists(directory + "/blkio.weight")
        let bfq = CgroupFS.exists(directory + "/blkio.bfq.weight")
        if let weight = io.weight, weight != 0 {
            guard cfq || bfq else { throw noWeight(directory) }
            try CgroupFS.write(directory, cfq ? "blkio.weight" : "blkio.bfq.weight", String(weight))
        }
        if let leaf = io.leafWeight, leaf != 0 {
            try CgroupFS.write(directory, "blkio.leaf_weight", String(leaf))
        }
        for device in io.weightDevice ?? [] {
            if let weight = device.weight, weight != 0 {
                guard cfq || bfq else { throw noWeight(directory) }
                try CgroupFS.write(
                    directory, cfq ? "blkio.weight_device" : "blkio.bfq.weight_device",
                    "\(device.major):\(device.minor) \(weight)")
            }
            if let leaf = device.leafWeight, leaf != 0 {
                try CgroupFS.write(directory, "blkio.leaf_weight_device", "\(device.major):\(device.minor) \(leaf)")
            }
        }
        let throttles: [(String, [LinuxThrottleDevice]?)] = [
            ("blkio.throttle.read_bps_device", io.throttleReadBpsDevice),
            ("blkio.throttle.write_bps_device", io.throttleWriteBpsDevice),
            ("blkio.throttle.read_iops_device", io.throttleReadIOPSDevice),
            ("blkio.throttle.write_iops_device", io.throttleWriteIOPSDevice),
        ]
        for (file, devices) in throttles {
            for device in devices ?? [] {
                try CgroupFS.write(directory, file, "\(device.major):\(device.minor) \(device.rate)")
            }
        }
    }

    /// Bytes read and written per device, from `blkio.throttle.io_service_bytes_recursive`
    /// (counted for every scheduler, unlike the CFQ/BFQ files).
    static func stats(_ directory: String) throws -> [CgroupStats.BlockIOEntry] {
        let file = CgroupFS.exists(directory + "/blkio.throttle.io_service_bytes_recursive")
            ? "blkio.throttle.io_service_bytes_recursive" : "blkio.throttle.io_service_bytes"
        var entries: [CgroupStats.BlockIOEntry] = []
        for line in try CgroupFS.read(directory, file).split(separator: "\n") {
            // "253:0 Read 4096"; the final "Total N" line has two fields.
            let fields = line.split(separator: " ")
            guard fields.count == 3, fields[1] == "Read" || fields[1] == "Write" else { continue }
            let device = fields[0].split(separator: ":")
            guard device.count == 2, let major = UInt64(device[0]), let minor = UInt64(device[1]),
                  let value = UInt64(fields[2]) else { continue }
            entries.append(CgroupStats.BlockIOEntry(major: major, minor: minor, operation: String(fields[1]), value: value))
        }
        return entries
    }

    private static func noWeight(_ directory: String) -> CgroupError {
        CgroupError(
            .missingController,
            "cannot set a block I/O weight in \(directory): neither blkio.weight (CFQ) nor blkio.bfq.weight (BFQ) exists; select the bfq I/O scheduler or drop linux.resources.blockIO weights")
    }
}
