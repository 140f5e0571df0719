// `rm`: remove a container, its rootfs (overlay upper dir), log and runtime state.
//
//     try engine.remove("web", force: true)   // kills it first if it runs

import KujiraRuntime
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    /// Removes container `nameOrID`; a running one only with `force` (SIGKILL first). Its
    /// anonymous volumes go too with `volumes` (`rm -v`) or `--rm`, unless another container
    /// uses them.
    /// - Throws: ``EngineError`` `.invalidState` for a running container without `force`.
    public func remove(_ nameOrID: String, force: Bool = false, volumes: Bool = false) throws {
        let record = try container(nameOrID)
        if record.state.isActive {
            guard force else {
                throw EngineError(.invalidState, "cannot remove running container \(record.name): stop it first, or use rm -f")
            }
            try update(record.id) { $0.state.manuallyStopped = true }
            try? runtime.kill(id: record.id, signal: SIGKILL, all: true)
            _ = try waitUntilInactive(record.id, milliseconds: 30_000)
        }
        let removed = try lock.withLock {
            guard load(record.id) != nil else { return false }
            // The record goes first: from here on no reader sees a half-removed container.
            unlink(recordPath(record.id))
            try? runtime.delete(id: record.id, force: true)
            unmountShareableShm(record.id)  // a monitor killed with -9 left it
            try? FileManager.default.removeItem(atPath: attachDirectory(record.id))
            releaseNetworking(record.id)
            if let cgroup = try? CgroupManagerFactory.make(cgroupsPath: Engine.cgroupsPath(record), containerID: record.id) {
                try? cgroup.destroy()
            }
            try images.snapshotStore().removeRootfs(containerID: record.id)
            return true
        }
        releaseVolumes(of: record, removeAnonymous: volumes || record.hostConfig.autoRemove)
        if removed { emit("destroy", record) }
    }
}
