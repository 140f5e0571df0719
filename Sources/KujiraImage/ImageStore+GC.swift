public import KujiraOCI

/// What a garbage collection removed.
public struct GCReport: Sendable, Hashable {
    /// The blobs removed, sorted.
    public var removed: [Digest]
    /// The bytes those blobs took.
    public var bytesFreed: Int64
    /// Abandoned temporary files removed from the ingest area.
    public var ingestFilesRemoved: Int

    /// Creates a report.
    public init(removed: [Digest] = [], bytesFreed: Int64 = 0, ingestFilesRemoved: Int = 0) {
        self.removed = removed
        self.bytesFreed = bytesFreed
        self.ingestFilesRemoved = ingestFilesRemoved
    }
}

extension ImageStore {
    /// Removes every blob no image needs, and abandoned ingest files.
    ///
    /// Mark: from every image record's target, through indexes and manifests to configs and
    /// layers. Entries of an index whose blobs are absent (platforms never pulled) are
    /// skipped. Sweep: every other blob. Runs under the store lock held exclusively, so it
    /// waits for writers inside ``withWriteLease(_:)`` and they wait for it.
    ///
    /// - Parameter ingestOlderThan: ingest files untouched for this long whose writer is
    ///   gone are removed (live writers are never disturbed; see
    ///   ``ContentStore/cleanIngest(olderThan:)``).
    /// - Throws: ``ImageStoreError``; when marking fails (a corrupt or malformed manifest)
    ///   nothing is removed.
    @discardableResult
    public func garbageCollect(ingestOlderThan: Duration = .seconds(60)) throws -> GCReport {
        try lock.withLock(exclusive: true) {
            let live = try markReachable()
            var report = GCReport()
            for digest in try content.list() where !live.contains(digest) {
                let size = (try? content.size(of: digest)) ?? 0
                if try content.delete(digest) {
                    report.removed.append(digest)
                    report.bytesFreed += size
                }
            }
            if !report.removed.isEmpty {
                for algorithm in Digest.Algorithm.allCases {
                    try FileSystem.syncDirectory("\(content.blobsDirectory)/\(algorithm.rawValue)")
                }
            }
            report.ingestFilesRemoved = try content.cleanIngest(olderThan: ingestOlderThan)
            return report
        }
    }

    /// The digests reachable from every image record.
    func markReachable() throws -> Set<Digest> {
        var live = Set<Digest>()
        for record in try list() {
            var pending = [record.target]
            while let descriptor = pending.popLast() {
                guard live.insert(descriptor.digest).inserted else { continue }
                guard ImageGraph.hasChildren(descriptor), content.contains(descriptor.digest) else { continue }
                let bytes = try content.read(descriptor.digest)
                pending += try ImageGraph.children(of: descriptor, content: bytes, image: record.name, strict: false)
            }
        }
        return live
    }
}

extension ImageStore {
    /// Removes the snapshots no image needs any more (nor any prepared rootfs or inspection
    /// mount, which ``SnapshotStore/prune(keeping:)`` keeps). Does nothing when no snapshot
    /// was ever made under this root, so it never probes overlayfs needlessly.
    /// - Returns: the chain IDs removed.
    @discardableResult
    public func pruneSnapshots() throws -> [Digest] {
        guard FileSystem.isDirectory("\(root)/snapshots") else { return [] }
        var keep = Set<Digest>()
        for record in try list() {
            // An image whose manifest for this host is not in the store has no snapshots.
            guard let details = try? details(of: record) else { continue }
            if let top = SnapshotStore.chainIDs(diffIDs: details.configuration.rootfs.diffIDs).last {
                keep.insert(top)
            }
        }
        return try snapshotStore().prune(keeping: keep)
    }
}
