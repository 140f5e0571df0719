// `delete`: remove a stopped (or, with `force`, any) container and run the poststop hooks.
//
//     try runtime.delete(id: "web")                 // stopped or created
//     try runtime.delete(id: "web", force: true)    // kills it first; unknown ids are fine

import Glibc
import KujiraOCI

extension ContainerRuntime {
    /// Deletes container `id`. A running container needs `force` (it is killed with SIGKILL);
    /// with `force`, deleting an unknown id succeeds, as with runc.
    public func delete(id: String, force: Bool = false) throws {
        try StateDirectory.validate(id)
        let stateDir = directory.directory(id)
        guard FileIO.exists(stateDir) else {
            if force { return }
            throw RuntimeError(.notFound, "container \"\(id)\" does not exist")
        }
        let record: ContainerRecord
        do {
            record = try directory.load(id)
        } catch let error as RuntimeError where error.code == .notFound {
            // A directory without state: a create that was killed before it saved the state.
            // Its init's processes end when they read the closed socket, but one that had
            // already reported "created" waits on the exec fifo forever: the cgroup handle
            // written right after the cgroup was made names the cgroup to empty and remove.
            // A create still under way holds the lock: once we have it, a state saved
            // meanwhile means that create finished, and this is an ordinary delete.
            let repaired: Bool
            do {
                repaired = try directory.withLock(id) {
                    if FileIO.exists(directory.stateFile(id)) { return false }
                    if let cgroups, let handle = try? FileIO.read(directory.cgroupFile(id)), !handle.isEmpty {
                        try cgroups.destroy(cgroupPath: String(decoding: handle, as: UTF8.self))
                    }
                    try FileIO.removeTree(stateDir)
                    return true
                }
            } catch let gone as RuntimeError where gone.code == .notFound {
                // The create failed and removed its directory itself.
                if force { return }
                throw gone
            }
            if !repaired { return try delete(id: id, force: force) }
            if force { return }
            throw error
        }
        try directory.withLock(id) {
            let status = status(of: record)
            switch status {
            case .stopped:
                break
            case .created:
                try killAndWait(record)
            default:
                guard force else {
                    throw RuntimeError(.invalidState, "cannot delete container \(id) that is not stopped: \(status)")
                }
                try killAndWait(record)
            }
            if let cgroups, let path = record.cgroupPath { try cgroups.destroy(cgroupPath: path) }
            Self.removeResctrlGroup(of: record.spec, containerID: id)
            try FileIO.removeTree(stateDir)
        }
        let state = State(ociVersion: Spec.currentVersion, id: id, status: .stopped, pid: nil,
                          bundle: record.bundle, annotations: record.spec.annotations)
        HookRunner.runWarning(record.spec.hooks?.poststop, stage: "poststop", state: state, warning: warning)
    }

    /// SIGKILLs the container (all of it: its pid namespace dies with its init) and waits up
    /// to 10 s for the init to be gone.
    private func killAndWait(_ record: ContainerRecord) throws {
        if let cgroups, let path = record.cgroupPath {
            for pid in (try? cgroups.processes(cgroupPath: path)) ?? [] { Glibc.kill(pid, SIGKILL) }
            if (try? cgroups.isFrozen(cgroupPath: path)) == true { try cgroups.thaw(cgroupPath: path) }
        } else if record.sharesHostPIDNamespace == false {
            for pid in (try? processes(of: record)) ?? [] { Glibc.kill(pid, SIGKILL) }
        }
        Glibc.kill(record.pid, SIGKILL)
        for _ in 0..<10_000 {
            if !ProcStat.isAlive(record.pid, startTime: record.pidStartTime) { return }
            usleep(1000)
        }
        throw RuntimeError(.io, "container \(record.id) init (pid \(record.pid)) did not exit after SIGKILL")
    }
}
