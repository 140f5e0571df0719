// Volumes: the engine's view of `KujiraVolume` (which containers use a volume) and the
// mounts of a container (`-v`, `--mount`, `--volumes-from`, the image's VOLUME entries).
//
//     let volume = try engine.createVolume(name: "data")
//     var options = ContainerOptions(image: "busybox")
//     options.volumes = ["data:/data"]
//     try engine.create(options)
//     try engine.removeVolume("data")        // .conflict while a container uses it
//
// A volume is "in use" while any container record (running or not) mounts it. The volume
// store has its own lock; the in-use check and the removal run under it. A `create` that
// has not saved its record yet is not seen by that check (the record is saved later, under
// the container lock), so a `volume rm` racing it can remove the volume it is about to use.

public import KujiraVolume
import KujiraOCI
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    /// The volume store under ``root`` (`<root>/volumes`).
    public func volumeStore() throws -> VolumeStore {
        try volumeCall { try VolumeStore(root: root) }
    }

    /// Creates volume `name` (nil: anonymous) with the `local` driver; an existing volume
    /// of that name is returned unchanged.
    /// - Throws: ``EngineError`` `.invalidArgument` for a bad name, driver or option.
    @discardableResult
    public func createVolume(name: String? = nil, driver: String = "local", labels: [String: String] = [:],
                             options: [String: String] = [:]) throws -> Volume {
        let store = try volumeStore()
        let existed = name.map { name in (try? volumeCall { try store.volume(name) }) != nil } ?? false
        let volume = try volumeCall { try store.create(name: name, driver: driver, labels: labels, options: options) }
        if !existed { emit(type: .volume, action: "create", id: volume.name, attributes: ["driver": volume.driver]) }
        return volume
    }

    /// The volume named `name`.
    /// - Throws: ``EngineError`` `.notFound`.
    public func volume(_ name: String) throws -> Volume {
        let store = try volumeStore()
        return try volumeCall { try store.volume(name) }
    }

    /// Every volume passing all of `filters`, sorted by name.
    public func listVolumes(filters: [VolumeFilter] = []) throws -> [Volume] {
        let used = volumeUsers()
        return try volumeStore().list().filter { volume in
            filters.allSatisfy { $0.matches(volume, inUse: used[volume.name] != nil) }
        }
    }

    /// The names of the containers that mount volume `name`.
    public func containersUsingVolume(_ name: String) -> [String] {
        volumeUsers()[name]?.map(\.name).sorted() ?? []
    }

    /// Removes volume `name`. A volume some container uses is refused, unless `force` and
    /// none of those containers is running (their records keep the mount; starting them
    /// again gives an empty directory volume of that name).
    /// - Throws: ``EngineError`` `.notFound`, or `.conflict` naming the containers.
    public func removeVolume(_ name: String, force: Bool = false) throws {
        let store = try volumeStore()
        try volumeCall {
            try store.remove(name) { _ in
                let users = volumeUsers()[name] ?? []
                let running = users.filter { $0.state.isActive }
                if !running.isEmpty || (!users.isEmpty && !force) {
                    let names = (running.isEmpty ? users : running).map(\.name).sorted().joined(separator: ", ")
                    throw EngineError(.conflict, running.isEmpty
                        ? "volume \(name) is in use by container \(names): remove the container first, or use volume rm -f"
                        : "volume \(name) is in use by running container \(names): stop and remove the container first")
                }
            }
        }
        emit(type: .volume, action: "destroy", id: name)
    }

    /// Removes unused volumes passing `filters`: anonymous ones only, or every unused one
    /// with `all` (Docker's `volume prune [-a]`).
    /// - Returns: the removed names and the bytes their data took.
    public func pruneVolumes(all: Bool = false, filters: [VolumeFilter] = []) throws -> (removed: [String], reclaimedBytes: Int64) {
        let store = try volumeStore()
        var removed: [String] = [], bytes: Int64 = 0
        for volume in try listVolumes(filters: filters + [VolumeFilter(.dangling(true))]) where all || volume.isAnonymous {
            let size = Engine.diskUsage(store.dataPath(volume.name))
            do {
                try removeVolume(volume.name)
            } catch let error as EngineError where error.code == .conflict || error.code == .notFound {
                continue  // Taken into use (or removed) by another process meanwhile.
            }
            removed.append(volume.name)
            bytes += size
        }
        return (removed, bytes)
    }

    // MARK: - Container mounts

    /// Works out the mounts of a new container: `--volumes-from` first, then `-v` and
    /// `--mount` (which win at the same destination), then an anonymous volume for every
    /// image VOLUME no other mount covers. Named volumes that do not exist are created;
    /// the anonymous and created volumes' names are added to `created` so that a failed
    /// create can remove them.
    func containerMounts(options: ContainerOptions, image: ImageConfig, tmpfs: [String: String],
                         created: inout [String]) throws -> [ContainerMount] {
        var requests = try options.volumes.map(MountRequest.parseVolume)
        requests += try options.mounts.map(MountRequest.parseMount).filter { $0.kind != .tmpfs }
        var seen = Set(tmpfs.keys)
        for request in requests {
            guard seen.insert(request.destination).inserted else {
                throw EngineError(.invalidArgument, "duplicate mount point \(request.destination): give each container path once")
            }
        }
        var mounts: [ContainerMount] = []
        for from in options.volumesFrom {
            for mount in try mountsOf(volumesFrom: from) where !seen.contains(mount.destination) {
                mounts.append(mount)
                seen.insert(mount.destination)
            }
        }
        for volume in image.volumes?.sorted ?? [] where !volume.isEmpty && !seen.contains(MountRequest.clean(volume)) {
            requests.append(MountRequest(kind: .volume, source: "", destination: MountRequest.clean(volume)))
            seen.insert(MountRequest.clean(volume))
        }
        let store = try volumeStore()
        for request in requests {
            switch request.kind {
            case .bind:
                var info = stat()
                if stat(request.source, &info) != 0 {
                    guard request.createHostPath else {
                        throw EngineError(.invalidArgument, "invalid mount config for type \"bind\": bind source path does not exist: \(request.source); create it first")
                    }
                    try SystemSupport.makeDirectories(request.source)
                }
                mounts.append(ContainerMount(type: "bind", source: request.source, destination: request.destination, rw: !request.readOnly,
                                             mode: request.mode, propagation: request.propagation))
            case .volume:
                let volume: Volume
                if request.source.isEmpty {
                    volume = try volumeCall { try store.create(driver: request.volumeDriver, labels: request.volumeLabels, options: request.volumeOptions) }
                    created.append(volume.name)
                    emit(type: .volume, action: "create", id: volume.name, attributes: ["driver": volume.driver])
                } else if let existing = try? store.volume(request.source) {
                    volume = existing
                } else {
                    volume = try volumeCall {
                        try store.create(name: request.source, driver: request.volumeDriver, labels: request.volumeLabels, options: request.volumeOptions)
                    }
                    created.append(volume.name)
                    emit(type: .volume, action: "create", id: volume.name, attributes: ["driver": volume.driver])
                }
                var mode = request.mode
                if request.noCopy && !mode.split(separator: ",").contains("nocopy") { mode += mode.isEmpty ? "nocopy" : ",nocopy" }
                mounts.append(ContainerMount(type: "volume", source: volume.mountpoint, destination: request.destination, rw: !request.readOnly,
                                             name: volume.name, driver: volume.driver, mode: mode, propagation: ""))
            case .tmpfs:
                continue
            }
        }
        return mounts
    }

    /// The bind and volume mounts of container `from` (`NAME[:ro|rw]`), with the mode given.
    func mountsOf(volumesFrom from: String) throws -> [ContainerMount] {
        let parts = from.split(separator: ":", maxSplits: 1).map(String.init)
        guard let name = parts.first, parts.count == 1 || ["ro", "rw"].contains(parts[1]) else {
            throw EngineError(.invalidArgument, "--volumes-from \(from): use CONTAINER[:ro|rw]")
        }
        let source: ContainerRecord
        do { source = try container(name) } catch {
            throw EngineError(.notFound, "--volumes-from \(from): no such container: \(name)")
        }
        return source.mounts.filter { $0.type == "bind" || $0.type == "volume" }.map { mount in
            var mount = mount
            if parts.count == 2 {
                mount.rw = parts[1] == "rw"
                var modes = (mount.mode ?? "").split(separator: ",").map(String.init).filter { $0 != "ro" && $0 != "rw" }
                modes.insert(parts[1], at: 0)
                mount.mode = modes.joined(separator: ",")
            }
            return mount
        }
    }

    /// `--mount type=tmpfs,…` values as `--tmpfs PATH:OPTIONS` entries.
    static func tmpfsEntries(_ options: ContainerOptions) throws -> [String] {
        try options.mounts.map(MountRequest.parseMount).filter { $0.kind == .tmpfs }.map { request in
            request.tmpfsOptions.isEmpty ? request.destination : "\(request.destination):\(request.tmpfsOptions.joined(separator: ","))"
        }
    }

    /// Fills every empty directory volume of `record` that is mounted over a non-empty
    /// directory of its rootfs with that directory's content and ownership (not for
    /// `nocopy`, bind mounts or volumes the driver mounts: a tmpfs starts empty).
    func copyUpVolumes(_ record: ContainerRecord) throws {
        guard record.mounts.contains(where: { $0.type == "volume" }) else { return }
        let store = try volumeStore()
        for mount in record.mounts where mount.type == "volume" {
            guard let name = mount.name, !(mount.mode ?? "").split(separator: ",").contains("nocopy") else { continue }
            guard let volume = try? store.volume(name), !volume.needsMount else { continue }
            try volumeCall {
                try store.withLock {
                    _ = try VolumeCopier.copyUp(rootfs: record.rootfsPath, path: mount.destination, into: store.dataPath(name))
                }
            }
        }
    }

    /// Mounts the volumes of `record` that the driver mounts (`--opt type=…`), before its
    /// runtime container is made.
    func activateVolumes(_ record: ContainerRecord) throws {
        guard record.mounts.contains(where: { $0.name != nil }) else { return }
        let store = try volumeStore()
        for name in Set(record.mounts.compactMap(\.name)) {
            let volume: Volume
            do { volume = try store.volume(name) } catch {
                throw EngineError(.notFound, "volume \(name) of container \(record.name) no longer exists; remove the container and create it again", cause: error)
            }
            try volumeCall { try store.withLock { try store.activate(volume) } }
        }
    }

    /// Unmounts the driver-mounted volumes of `record` that no running container other
    /// than `record` uses any more.
    func deactivateVolumes(_ record: ContainerRecord) {
        let names = Set(record.mounts.compactMap(\.name))
        guard !names.isEmpty, let store = try? volumeStore() else { return }
        _ = try? store.withLock {
            let users = volumeUsers()
            for name in names {
                guard let volume = try? store.volume(name), volume.needsMount else { continue }
                let active = (users[name] ?? []).contains { $0.id != record.id && $0.state.isActive }
                if !active { try? store.deactivate(volume) }
            }
        }
    }

    /// After `record` was removed: unmounts its driver-mounted volumes no one runs with and,
    /// with `removeAnonymous`, removes its anonymous volumes that no other container uses.
    func releaseVolumes(of record: ContainerRecord, removeAnonymous: Bool) {
        deactivateVolumes(record)
        guard removeAnonymous else { return }
        releaseCreatedVolumes(record.mounts.compactMap(\.name).filter(Volume.isAnonymousName), onlyAnonymous: true)
    }

    /// Removes the volumes named in `names` that no container uses (the anonymous ones only
    /// with `onlyAnonymous`): what a failed create made, or a removed container's.
    func releaseCreatedVolumes(_ names: [String], onlyAnonymous: Bool = false) {
        guard let store = try? volumeStore() else { return }
        for name in names {
            guard let volume = try? store.volume(name), !onlyAnonymous || volume.isAnonymous else { continue }
            try? removeVolume(name)
        }
    }

    /// Container records by the names of the volumes they mount.
    func volumeUsers() -> [String: [ContainerRecord]] {
        var users: [String: [ContainerRecord]] = [:]
        for id in allIDs() {
            guard let record = load(id) else { continue }
            for name in Set(record.mounts.compactMap(\.name)) { users[name, default: []].append(record) }
        }
        return users
    }

    /// The bytes the files under `path` take (not following symlinks or mounts).
    static func diskUsage(_ path: String) -> Int64 {
        guard let enumerator = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total: Int64 = 0
        while let name = enumerator.nextObject() as? String {
            var info = stat()
            if lstat("\(path)/\(name)", &info) == 0 { total += Int64(info.st_blocks) * 512 }
        }
        return total
    }

    /// Runs `body`, turning ``VolumeError`` into ``EngineError`` with the same meaning.
    func volumeCall<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as VolumeError {
            let code: EngineError.Code
            switch error.code {
            case .notFound: code = .notFound
            case .conflict: code = .conflict
            case .invalidArgument: code = .invalidArgument
            default: code = .io
            }
            throw EngineError(code, error.message, cause: error.cause)
        }
    }
}

extension Engine {
    /// Adds the bind and volume mounts of `options` to a new container's `record` (see
    /// ``containerMounts(options:image:tmpfs:created:)``) and records `--volumes-from` and
    /// `--mount` as given.
    func attachMounts(to record: inout ContainerRecord, options: ContainerOptions, image: ImageConfiguration,
                      created: inout [String]) throws {
        record.mounts = try containerMounts(options: options, image: image.config ?? ImageConfig(), tmpfs: record.hostConfig.tmpfs,
                                            created: &created) + record.mounts
        record.hostConfig.volumesFrom = options.volumesFrom
        record.hostConfig.mountSpecs = options.mounts
    }
}
