#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
public import KujiraOCI
import Foundation

extension SnapshotStore {
    /// Removes every snapshot that is not needed by the chains in `chainIDs` (the top chain
    /// ID of each image still referenced, see ``SnapshotChain/chainID``) nor by a prepared
    /// container rootfs: the garbage-collection hook. In overlay mode the parents of a kept
    /// chain are kept too. Committed snapshots that were never indexed (a crash between
    /// commit and index) are removed as well. A chain being unpacked right now (its lock is
    /// held) is skipped.
    /// - Returns: the chain IDs removed.
    @discardableResult
    public func prune(keeping chainIDs: Set<Digest>) throws -> [Digest] {
        var infos: [Int: SnapshotInfo] = [:]
        for name in try FileSystem.listDirectory(directory) {
            guard let id = Int(name), id > 0 else { continue }
            if let bytes = try? FileSystem.readFile("\(directory)/\(id)/info.json"),
               let info = try? JSONDecoder().decode(SnapshotInfo.self, from: Data(bytes)) {
                infos[id] = info
            }
        }
        let byChain = Dictionary(infos.map { ($0.value.chainID, $0.key) }, uniquingKeysWith: max)
        // Keep the named chains, their parents, and whatever a container rootfs stacks.
        var keep = Set<Digest>()
        var pending = Array(chainIDs)
        for name in try FileSystem.listDirectory(containersDirectory) {
            guard let rootfs = try? rootfs(of: name) else { continue }
            for dir in rootfs.lowerDirs {
                let parts = dir.split(separator: "/")
                if parts.count >= 2, let id = Int(parts[parts.count - 2]), let info = infos[id] { pending.append(info.chainID) }
            }
        }
        while let chainID = pending.popLast() {
            guard keep.insert(chainID).inserted else { continue }
            if let id = byChain[chainID], let parent = infos[id]?.parent { pending.append(parent) }
        }
        var removed: [Digest] = []
        for (id, info) in infos.sorted(by: { $0.key > $1.key }) {
            let indexed = (try? lookup(info.chainID))?.id == id
            if indexed && keep.contains(info.chainID) { continue }
            guard let lock = tryChainLock(info.chainID.encoded) else { continue }
            defer { close(lock) }
            if indexed { unlink("\(directory)/chains/\(info.chainID.encoded)") }
            // Unpublish with one rename, then delete at leisure: a reader never sees half a tree.
            let doomed = "\(directory)/tmp/\(info.chainID.encoded)-pruned-\(FileSystem.uniqueSuffix())"
            if rename("\(directory)/\(id)", doomed) != 0 { throw ImageStoreError.posix("rename", path: "\(directory)/\(id)", errno: errno) }
            try RootfsWriter.removeTree(at: doomed)
            if indexed { removed.append(info.chainID) }
        }
        return removed
    }
}
