// `system df`, `system prune`, `system info` and `version`: the engine as a whole.
//
//     let usage = try engine.diskUsage()        // images, containers, volumes, build cache
//     let report = try engine.prune(PruneOptions())
//     let info = try engine.info()              // Docker's `docker info` fields that apply

import KujiraImage
import KujiraOCI
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One line of `system df`.
public struct DiskUsageCategory: Codable, Sendable, Hashable {
    /// `Images`, `Containers`, `Local Volumes`, `Build Cache`.
    public var type: String
    /// How many there are.
    public var total: Int
    /// How many are in use (images used by a container, running containers).
    public var active: Int
    /// Bytes they take.
    public var size: Int64
    /// Bytes `system prune -a` would free.
    public var reclaimable: Int64
    private enum CodingKeys: String, CodingKey {
        case type = "Type", total = "TotalCount", active = "Active", size = "Size", reclaimable = "Reclaimable"
    }
}

/// What `system df` reports.
public struct DiskUsage: Codable, Sendable, Hashable {
    /// Images, containers, local volumes, build cache, in that order.
    public var categories: [DiskUsageCategory]
}

/// What `system prune` removes.
public struct PruneOptions: Sendable {
    /// `-a`: every image no container uses, not only untagged ones.
    public var allImages = false
    /// `--volumes`: unused anonymous volumes too.
    public var volumes = false
    /// Default: stopped containers, untagged unused images, the build cache.
    public init() {}
}

/// What `system prune` removed.
public struct PruneReport: Codable, Sendable, Hashable {
    /// Ids of the removed containers.
    public var containersDeleted: [String] = []
    /// Names of the removed images.
    public var imagesDeleted: [String] = []
    /// Build cache entries removed.
    public var buildCacheEntriesDeleted = 0
    /// Names of the removed volumes (`--volumes`).
    public var volumesDeleted: [String] = []
    /// Bytes of blobs freed by the garbage collection.
    public var spaceReclaimed: Int64 = 0
}

/// `docker info`'s fields that apply to Kujira, with Docker's names.
public struct SystemInfo: Codable, Sendable, Hashable {
    /// Containers with a record.
    public var Containers: Int
    /// Running ones.
    public var ContainersRunning: Int
    /// Paused ones.
    public var ContainersPaused: Int
    /// The others.
    public var ContainersStopped: Int
    /// Images (distinct ids).
    public var Images: Int
    /// `overlay2` (overlay snapshots) or `vfs` (copy mode).
    public var Driver: String
    /// Why that driver.
    public var DriverStatus: [[String]]
    /// Always `cgroupfs`: Kujira writes the cgroup files itself.
    public var CgroupDriver: String
    /// `1` or `2`.
    public var CgroupVersion: String
    /// Always `json-file`.
    public var LoggingDriver: String
    /// `uname -r`.
    public var KernelVersion: String
    /// `PRETTY_NAME` of /etc/os-release.
    public var OperatingSystem: String
    /// `linux`.
    public var OSType: String
    /// `uname -m`.
    public var Architecture: String
    /// CPUs online.
    public var NCPU: Int
    /// Host memory, bytes.
    public var MemTotal: UInt64
    /// The engine's root.
    public var DockerRootDir: String
    /// The runtime state root.
    public var ExecutionRoot: String
    /// The host name.
    public var Name: String
    /// Kujira's version.
    public var ServerVersion: String
    /// The runtime in use.
    public var DefaultRuntime: String
    /// Security features in force by default.
    public var SecurityOptions: [String]
}

/// `version`: what `docker version` prints for the server side.
public struct EngineVersion: Codable, Sendable, Hashable {
    /// Kujira's version.
    public var Version: String
    /// `linux`.
    public var Os: String
    /// The machine architecture in Go's spelling (`amd64`, `arm64`).
    public var Arch: String
    /// `uname -r`.
    public var KernelVersion: String
}

extension Engine {
    /// The engine's version.
    public static let version = "0.1.0"

    /// The version document (needs no store).
    public static func versionInfo() -> EngineVersion {
        let names = Self.uname()
        return EngineVersion(Version: Self.version, Os: "linux", Arch: Platform.host.architecture, KernelVersion: names.release)
    }

    /// `docker info`'s fields.
    public func info() throws -> SystemInfo {
        let records = try list()
        let running = records.filter { $0.state.status == .running || $0.state.status == .restarting }.count
        let paused = records.filter { $0.state.status == .paused }.count
        let imageIDs = Set(try images.list().map(\.id))
        let snapshots = try images.snapshotStore()
        let names = Self.uname()
        let cgroupVersion = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? "2" : "1"
        var hostname = [CChar](repeating: 0, count: 256)
        gethostname(&hostname, hostname.count - 1)
        let osRelease = (try? String(contentsOfFile: "/etc/os-release", encoding: .utf8)) ?? ""
        let pretty = osRelease.split(separator: "\n").first { $0.hasPrefix("PRETTY_NAME=") }
            .map { String($0.dropFirst("PRETTY_NAME=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) } ?? "Linux"
        return SystemInfo(
            Containers: records.count, ContainersRunning: running, ContainersPaused: paused,
            ContainersStopped: records.count - running - paused, Images: imageIDs.count,
            Driver: snapshots.mode == .overlay ? "overlay2" : "vfs",
            DriverStatus: [["Backing Filesystem", snapshots.mode.rawValue], ["Mode", snapshots.modeReason]],
            CgroupDriver: "cgroupfs", CgroupVersion: cgroupVersion, LoggingDriver: "json-file",
            KernelVersion: names.release, OperatingSystem: pretty, OSType: "linux", Architecture: names.machine,
            NCPU: max(sysconf(Int32(_SC_NPROCESSORS_ONLN)), 1), MemTotal: Self.hostMemoryBytes(),
            DockerRootDir: root, ExecutionRoot: state, Name: String(decoding: hostname.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
            ServerVersion: Self.version, DefaultRuntime: "kujira",
            SecurityOptions: ["name=seccomp,profile=builtin"])
    }

    /// `system df`: images, containers, local volumes and build cache with their sizes.
    public func diskUsage() throws -> DiskUsage {
        let records = try list()
        let usedImages = Set(records.map(\.imageID))
        // Images: one per id (several names may share one); an image's size counts once.
        var sizes: [String: Int64] = [:]
        for record in try images.list() {
            let id = record.id.description
            if sizes[id] != nil { continue }
            sizes[id] = (try? images.details(of: record).size) ?? record.target.size
        }
        let activeImages = sizes.keys.filter { usedImages.contains($0) }.count
        let imageBytes = sizes.values.reduce(0, +)
        let reclaimableImages = sizes.filter { !usedImages.contains($0.key) }.values.reduce(0, +)

        // Containers: the bytes of their writable layer.
        var containerBytes: Int64 = 0, reclaimableContainers: Int64 = 0
        let snapshots = try images.snapshotStore()
        for record in records {
            guard let rootfs = try? snapshots.rootfs(of: record.id) else { continue }
            let bytes = Self.treeSize(rootfs.upperDir ?? rootfs.target)
            containerBytes += bytes
            if !record.state.isActive { reclaimableContainers += bytes }
        }
        let cache = buildCacheLayers()
        let cacheBytes = cache.reduce(0) { $0 + $1.size }
        // Volumes: the bytes under their mount points; a volume no container uses is reclaimable.
        let volumes = (try? listVolumes()) ?? []
        var volumeBytes: Int64 = 0, reclaimableVolumes: Int64 = 0, activeVolumes = 0
        for volume in volumes {
            let bytes = Self.treeSize(volume.mountpoint)
            volumeBytes += bytes
            if containersUsingVolume(volume.name).isEmpty { reclaimableVolumes += bytes } else { activeVolumes += 1 }
        }
        return DiskUsage(categories: [
            DiskUsageCategory(type: "Images", total: sizes.count, active: activeImages, size: imageBytes, reclaimable: reclaimableImages),
            DiskUsageCategory(type: "Containers", total: records.count, active: records.filter { $0.state.isActive }.count,
                              size: containerBytes, reclaimable: reclaimableContainers),
            DiskUsageCategory(type: "Local Volumes", total: volumes.count, active: activeVolumes, size: volumeBytes,
                              reclaimable: reclaimableVolumes),
            DiskUsageCategory(type: "Build Cache", total: cache.count, active: 0, size: cacheBytes, reclaimable: cacheBytes),
        ])
    }

    /// `system prune`: stopped containers, unused images (untagged ones, or all with
    /// ``PruneOptions/allImages``), the build cache, then the blobs and snapshots nothing
    /// needs any more.
    /// With ``PruneOptions/volumes``, the anonymous volumes no container uses go too (as
    /// `docker system prune --volumes` does since Docker 23).
    public func prune(_ options: PruneOptions) throws -> PruneReport {
        var report = PruneReport()
        for record in try list() where !record.state.isActive {
            do {
                try remove(record.id)
                report.containersDeleted.append(record.id)
            } catch let error as EngineError where error.code == .notFound || error.code == .invalidState {
                continue  // removed or started meanwhile
            }
        }
        let used = Set(try list().map(\.imageID))
        for record in try images.list() where !used.contains(record.id.description) {
            guard options.allImages || Self.isUntagged(record.name) else { continue }
            _ = try? images.remove(record.name)
            report.imagesDeleted.append(record.name)
            emit(type: .image, action: "delete", id: record.id.description, attributes: ["name": record.name])
        }
        let cacheDirectory = "\(root)/build-cache"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: cacheDirectory)) ?? [] where name.hasSuffix(".json") {
            if unlink("\(cacheDirectory)/\(name)") == 0 { report.buildCacheEntriesDeleted += 1 }
        }
        let collected = try images.garbageCollect()
        try images.pruneSnapshots()
        report.spaceReclaimed = collected.bytesFreed
        if options.volumes {
            let pruned = try pruneVolumes()
            report.volumesDeleted = pruned.removed
            report.spaceReclaimed += pruned.reclaimedBytes
        }
        return report
    }

    /// Whether an image name is one an untagged image gets (its digest, or `localhost/untagged:…`).
    static func isUntagged(_ name: String) -> Bool {
        name.hasPrefix("sha256:") || name.hasPrefix("localhost/untagged:")
    }

    /// The layer blobs of the build cache (`<root>/build-cache/*.json`) that are still stored.
    func buildCacheLayers() -> [(digest: String, size: Int64)] {
        struct Entry: Decodable { var layer: Descriptor? }
        let directory = "\(root)/build-cache"
        var seen = Set<String>(), result: [(digest: String, size: Int64)] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasSuffix(".json") {
            guard let data = FileManager.default.contents(atPath: "\(directory)/\(name)"),
                  let layer = (try? JSONDecoder().decode(Entry.self, from: data))?.layer,
                  images.content.contains(layer.digest), seen.insert(layer.digest.description).inserted else { continue }
            result.append((layer.digest.description, layer.size))
        }
        return result
    }

    /// The bytes of the files under `path` (blocks allocated, hard links once), not
    /// following symlinks or crossing into other file systems' mounts.
    /// The bytes in container `record`'s writable layer (`ps -s`).
    public func writableLayerSize(_ record: ContainerRecord) -> Int64 {
        guard let snapshots = try? images.snapshotStore(), let rootfs = try? snapshots.rootfs(of: record.id) else { return 0 }
        return Self.treeSize(rootfs.upperDir ?? rootfs.target)
    }

    static func treeSize(_ path: String) -> Int64 {
        var total: Int64 = 0
        var seen = Set<UInt64>()
        var pending = [path]
        while let directory = pending.popLast() {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for name in names {
                let child = "\(directory)/\(name)"
                var st = stat()
                guard lstat(child, &st) == 0 else { continue }
                if (st.st_mode & S_IFMT) == S_IFDIR { pending.append(child); continue }
                if st.st_nlink > 1 && !seen.insert(UInt64(st.st_ino)).inserted { continue }
                total += Int64(st.st_blocks) * 512
            }
        }
        return total
    }

    /// `uname`'s release and machine.
    static func uname() -> (release: String, machine: String) {
        var names = utsname()
        _ = Glibc.uname(&names)
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return (text(names.release), text(names.machine))
    }
}
