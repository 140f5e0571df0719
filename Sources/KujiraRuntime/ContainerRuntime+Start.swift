// `start`: let a created container's init exec the user's process.
//
//     try runtime.start(id: "web")
//
// The init is blocked opening <root>/<id>/exec.fifo for writing; opening the read end releases
// it, it writes one byte and execs. Removing the fifo marks the container running.

import Glibc
import KujiraOCI

extension ContainerRuntime {
    /// Starts the user's process of created container `id`, then runs the poststart hooks.
    public func start(id: String) throws {
        try StateDirectory.validate(id)
        let record = try directory.withLock(id) { () throws -> ContainerRecord in
            let record = try directory.load(id)
            switch status(of: record) {
            case .created: break
            case .stopped: throw RuntimeError(.invalidState, "cannot start a container that has stopped")
            default: throw RuntimeError(.invalidState, "cannot start an already running container")
            }
            let fifo = directory.fifo(id)
            let fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { throw RuntimeError.posix("opening \(fifo)") }
            defer { close(fd) }
            // Until the init's blocked open completes, read sees no writer (0) or no data (EAGAIN).
            var byte: UInt8 = 0
            while true {
                let n = read(fd, &byte, 1)
                if n == 1 { break }
                if n < 0 && errno != EAGAIN && errno != EINTR { throw RuntimeError.posix("reading \(fifo)") }
                guard ProcStat.isAlive(record.pid, startTime: record.pidStartTime) else {
                    throw RuntimeError(.invalidState, "container \(id) init exited before it could start")
                }
                usleep(500)
            }
            unlink(fifo)
            return record
        }
        let state = State(ociVersion: Spec.currentVersion, id: id, status: .running, pid: Int(record.pid),
                          bundle: record.bundle, annotations: record.spec.annotations)
        HookRunner.runWarning(record.spec.hooks?.poststart, stage: "poststart", state: state, warning: warning)
    }
}
