// `commit`: a new image from a container — its image plus one layer holding exactly the
// container's changes (whiteouts included), with config changes and a history entry.
//
//     var options = CommitOptions()
//     options.reference = "localhost/web:snapshot"
//     options.changes = ["CMD [\"httpd\", \"-f\"]"]
//     let image = try engine.commit("web", options)
//
// A running container is paused while its changes are read (as Docker does by default), so
// the layer is a consistent snapshot. Crash safety: the layer is written through the
// content store's ingest (a temporary file renamed into place once its digest is
// verified), config and manifest are content-addressed blobs written atomically, and the
// name is tagged last: a `kill -9` at any point leaves either no new image or the whole
// image, plus at most some unreferenced blobs that the next garbage collection removes.

import KujiraArchive
import KujiraImage
import KujiraOCI
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What `commit` makes.
public struct CommitOptions: Sendable {
    /// `REPO[:TAG]` to tag the image with; nil leaves it untagged (named by its digest, as
    /// an untagged build is).
    public var reference: String?
    /// `--author`.
    public var author: String?
    /// `--message`: the history entry's comment.
    public var message: String?
    /// `--change`: Dockerfile instructions (``ImageConfigChange/instructions``).
    public var changes: [String] = []
    /// `--pause`: freeze a running container while its changes are read (default true).
    public var pause = true

    /// Default options: untagged, paused.
    public init() {}
}

/// The image `commit` made.
public struct CommitResult: Sendable, Hashable {
    /// The image id (`sha256:` digest of its config).
    public var imageID: String
    /// The name it was stored under.
    public var name: String
    /// The new layer's diff_id.
    public var diffID: String
    /// The number of entries in the new layer (whiteouts included).
    public var entries: Int
}

extension Engine {
    /// Commits container `nameOrID` to a new image.
    /// - Throws: ``EngineError`` `.notFound` (container, or its image was removed),
    ///   `.invalidArgument` (a bad `--change` or reference), `.invalidState` (no rootfs, or a
    ///   paused/running container that cannot be frozen), or the image store's error.
    @discardableResult
    public func commit(_ nameOrID: String, _ options: CommitOptions = CommitOptions()) throws -> CommitResult {
        let record = try container(nameOrID)
        let baseRecord: ImageRecord
        do { baseRecord = try images.lookup(record.imageID) } catch {
            throw EngineError(.notFound, "the image of container \(record.name) (\(record.imageID)) is gone; commit needs it as the base", cause: error)
        }
        let base = try images.details(of: baseRecord)
        // The name as the store spells names (`app` is `docker.io/library/app:latest`).
        var name: String?
        if let reference = options.reference {
            do { name = try Reference(parsing: reference).description } catch {
                throw EngineError(.invalidArgument, "invalid reference \"\(reference)\": use REPOSITORY[:TAG], e.g. localhost/app:v2", cause: error)
            }
        }
        var config = base.configuration.config ?? ImageConfig()
        // The container's own settings become the image's, as Docker's commit does.
        config.env = record.config.env
        config.cmd = record.config.cmd.isEmpty ? nil : record.config.cmd
        config.entrypoint = record.config.entrypoint.isEmpty ? nil : record.config.entrypoint
        config.workingDir = record.config.workingDir.isEmpty ? nil : record.config.workingDir
        config.user = record.config.user.isEmpty ? nil : record.config.user
        config.labels = record.config.labels.isEmpty ? nil : record.config.labels
        if !record.config.stopSignal.isEmpty, record.config.stopSignal != "SIGTERM" || config.stopSignal != nil {
            config.stopSignal = record.config.stopSignal
        }
        config = try ImageConfigChange.apply(options.changes, to: config)
        _ = try diffSource(record)  // fails early when the rootfs is gone

        // Pause a running container for a consistent layer; thaw it whatever happens.
        // A marker names this process while the container is frozen: if it dies (`kill -9`),
        // the next reader of the container thaws it (``recoverInterruptedCommit(_:)``).
        var paused = false
        let marker = "\(directory(record.id))/commit-pause"
        if options.pause && record.state.status == .running {
            let owner = "\(getpid()) \(SystemSupport.processStartTime(getpid()) ?? 0)"
            try SystemSupport.writeAtomically(marker, Array(owner.utf8))
            do { try runtime.pause(id: record.id) } catch {
                unlink(marker)
                throw EngineError(.invalidState, "cannot pause container \(record.name) to commit it; use --pause=false", cause: error)
            }
            paused = true
            Engine.crashPoint("commit-paused")
        }
        defer {
            if paused {
                try? runtime.resume(id: record.id)
                unlink(marker)
            }
        }

        let result: CommitResult = try images.withWriteLease {
            let layer = try LayerWriter(store: images.content, compression: .gzip)
            var entries = 0
            do {
                let tar = TarWriter(layer.sink)
                entries = try collectChanges(record, into: tar).entries
                try tar.finish()
            } catch {
                layer.abort()
                throw error
            }
            let (layerDescriptor, diffID) = try layer.commit()
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            let created = Timestamp(secondsSinceEpoch: Int64(now.tv_sec), nanoseconds: Int64(now.tv_nsec)).rfc3339
            var configuration = base.configuration
            configuration.created = created
            configuration.author = options.author ?? configuration.author
            configuration.config = config
            configuration.rootfs.diffIDs.append(diffID)
            var history = configuration.history ?? []
            history.append(History(created: created, createdBy: (record.config.entrypoint + record.config.cmd).joined(separator: " "),
                                   author: options.author, comment: options.message))
            configuration.history = history
            let configDescriptor = try images.content.write(CanonicalJSON.encode(configuration), mediaType: MediaType.imageConfig)
            let manifest = Manifest(config: configDescriptor, layers: base.manifest.layers + [layerDescriptor])
            let target = try images.content.write(CanonicalJSON.encode(manifest), mediaType: MediaType.imageManifest)
            let stored = name ?? target.digest.description
            try images.put(name: stored, target: target)
            return CommitResult(imageID: configDescriptor.digest.description, name: stored, diffID: diffID.description, entries: entries)
        }
        emit("commit", record, ["comment": options.message ?? "", "imageID": result.imageID, "imageName": result.name])
        return result
    }

}

extension Engine {
    /// Thaws a container that a `commit` froze and then died without thawing (its marker
    /// names a process that is gone). Called whenever a container is read.
    func recoverInterruptedCommit(_ record: ContainerRecord) {
        let marker = "\(directory(record.id))/commit-pause"
        guard access(marker, F_OK) == 0,
              let text = try? String(contentsOfFile: marker, encoding: .utf8) else { return }
        let fields = text.split(separator: " ")
        let pid = fields.first.flatMap { Int32($0) } ?? 0
        let start = fields.dropFirst().first.flatMap { UInt64($0) } ?? 0
        guard !SystemSupport.isAlive(pid, startTime: start) else { return }
        if record.state.status == .running { try? runtime.resume(id: record.id) }
        unlink(marker)
    }
}
