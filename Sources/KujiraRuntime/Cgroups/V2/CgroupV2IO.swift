// cgroup v2 io controller (Documentation/admin-guide/cgroup-v2.rst, "IO").
import KujiraOCI

/// Writes and reads the v2 io controller's files.
enum CgroupV2IO {
    /// `io.weight` [1, 10000] for a v1 blkio weight [10, 1000] (runc's formula); 0 is unset.
    static func weight(blkio: UInt16) -> UInt64 {
        if blkio == 0 { return 0 }
        let clamped = UInt64(min(max(blkio, 10), 1000))
        return 1 + (clamped - 10) * 9999 / 990
    }

    /// Applies `io`: weights to `io.bfq.weight` when BFQ is in use (it takes the v1 range
    /// as is), else to `io.weight` converted; throttles to `io.max`.
    static func apply(_ directory: String, _ io: LinuxBlockIO) throws {
        let bfq = CgroupFS.exists(directory + "/io.bfq.weight")
        if let weight = io.weight, weight != 0 {
            if bfq {
                try CgroupFS.write(directory, "io.bfq.weight", String(weight))
            } else {
                try CgroupFS.write(directory, "io.weight", "default \(Self.weight(blkio: weight))")
            }
        }
        if io.leafWeight.map({ $0 != 0 }) == true {
            throw CgroupError(.invalidResources, "linux.resources.blockIO.leafWeight is cgroup v1 (CFQ) only; leave it unset on this cgroup v2 host")
        }
        for device in io.weightDevice ?? [] {
            guard let weight = device.weight, weight != 0 else { continue }
            if bfq {
                try CgroupFS.write(directory, "io.bfq.weight", "\(device.major):\(device.minor) \(weight)")
            } else {
                try CgroupFS.write(directory, "io.weight", "\(device.major):\(device.minor) \(Self.weight(blkio: weight))")
            }
        }
        let throttles: [(String, [LinuxThrottleDevice]?)] = [
            ("rbps", io.throttleReadBpsDevice), ("wbps", io.throttleWriteBpsDevice),
            ("riops", io.throttleReadIOPSDevice), ("wiops", io.throttleWriteIOPSDevice),
        ]
        for (key, devices) in throttles {
            for device in devices ?? [] {
                // 0 in the spec means no limit; io.max spells that `max`.
                let rate = device.rate == 0 ? "max" : String(device.rate)
                try CgroupFS.write(directory, "io.max", "\(device.major):\(device.minor) \(key)=\(rate)")
            }
        }
    }

    /// Bytes read and written per device, from `io.stat` (`254:0 rbytes=… wbytes=… …`).
    static func stats(_ directory: String) throws -> [CgroupStats.BlockIOEntry] {
        guard let text = try CgroupFS.readIfPresent(directory + "/io.stat") else { return [] }
        var entries: [CgroupStats.BlockIOEntry] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let first = fields.first else { continue }
            let device = first.split(separator: ":")
            guard device.count == 2, let major = UInt64(device[0]), let minor = UInt64(device[1]) else { continue }
            for field in fields.dropFirst() {
                let pair = field.split(separator: "=")
                guard pair.count == 2, let value = UInt64(pair[1]) else { continue }
                if pair[0] == "rbytes" { entries.append(.init(major: major, minor: minor, operation: "Read", value: value)) }
                if pair[0] == "wbytes" { entries.append(.init(major: major, minor: minor, operation: "Write", value: value)) }
            }
        }
        return entries
    }
}
