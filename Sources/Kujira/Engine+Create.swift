// `create`: a container from an image, ready to start.
//
//     var options = ContainerOptions(image: "busybox")
//     options.command = ["sh", "-c", "echo hi"]
//     options.memory = "32m"
//     let record = try engine.create(options)
//
// The image is unpacked (once per layer chain), the container's overlay rootfs mounted at
// <root>/containers/<id>/rootfs, the runtime bundle config.json written next to it, and the
// record saved last, under the lock that makes names unique: a crash before that leaves no
// container, only a directory that `rm` of no one sees and the next create of the id never
// meets (ids are random).

import KujiraImage
import KujiraOCI
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    /// Creates a container from `options`.
    /// - Throws: ``EngineError`` (`.notFound` image, `.conflict` name, `.invalidArgument`
    ///   option) or the image store's error.
    @discardableResult
    public func create(_ options: ContainerOptions) throws -> ContainerRecord {
        var options = options
        options.tmpfs += try Engine.tmpfsEntries(options)
        if let name = options.name, !NameGenerator.isValid(name) {
            throw EngineError(.invalidArgument, "invalid container name \"\(name)\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        }
        let imageRecord: ImageRecord
        do {
            imageRecord = try images.lookup(options.image)
        } catch {
            throw EngineError(.notFound, "no such image: \(options.image); pull or load it first", cause: error)
        }
        let details = try images.details(of: imageRecord)
        let snapshots = try images.snapshotStore()
        let chain = try snapshots.ensureUnpacked(details)
        Engine.crashPoint("create-unpacked")
        recoverInterruptedCreates()

        let id = SystemSupport.randomID()
        let dir = directory(id)
        let rootfs = "\(dir)/rootfs"
        let creating = try beginCreating(id)  // a kill -9 from here on is undone by the next create or ps
        defer { finishCreating(id, lock: creating) }
        // A `--rm` container's rootfs is thrown away when it exits: volatile, as podman's.
        try snapshots.prepareRootfs(containerID: id, chain: chain, target: rootfs, volatile: options.autoRemove)
        Engine.crashPoint("create-mounted")
        var createdVolumes: [String] = []
        do {
            var record = try ContainerSpecBuilder.record(id: id, options: options, image: details, imageID: imageRecord.configDigest?.description ?? "",
                                                         rootfs: rootfs, logPath: "\(dir)/\(id)-json.log")
            try attachMounts(to: &record, options: options, image: details.configuration, created: &createdVolumes)
            try prepareNetwork(&record, options: options, image: details.configuration)
            try prepareNamespaceModes(&record)
            var spec = try ContainerSpecBuilder.spec(record: record, image: details.configuration, options: options, directory: dir,
                                                     injector: deviceInjector)
            applyNetworkNamespace(record, to: &spec)
            applyShareableShm(record, to: &spec)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            // A `--rm` container never starts again after a reboot (its volatile rootfs is only
            // removed): its bundle config needs no flush to disk.
            try SystemSupport.writeAtomically("\(dir)/config.json", Array(try encoder.encode(spec)), durable: !options.autoRemove)
            try copyUpVolumes(record)
            Engine.crashPoint("create-bundle")
            try lock.withLock {
                let names = Set(allIDs().compactMap { load($0)?.name })
                if let name = options.name {
                    guard !names.contains(name) else {
                        throw EngineError(.conflict, "the container name \"\(name)\" is already in use; remove that container or choose another name")
                    }
                    record.name = name
                } else {
                    var retry = 0
                    repeat {
                        record.name = NameGenerator.random(retry: retry)
                        retry += 1
                    } while names.contains(record.name)
                }
                try save(record)
            }
            emit("create", record)
            return record
        } catch {
            releaseCreatedVolumes(createdVolumes)
            try? snapshots.removeRootfs(containerID: id)
            throw error
        }
    }
}
