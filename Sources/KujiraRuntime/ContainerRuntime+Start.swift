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
        let (record, execFD) = try directory.withLock(id) { () throws -> (ContainerRecord, Int32) in
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
            // The init is normally blocked in that open already, so opening the reading end
            // lets it write at once: wait for its byte with poll (one wake-up) instead of
            // sleeping in steps. A writer that never came leaves poll without POLLHUP (Linux
            // reports it only after a writer has gone), so the timeout re-checks that the init
            // is alive.
            var byte: UInt8 = 0
            while true {
                let n = read(fd, &byte, 1)
                if n == 1 { break }
                if n < 0 && errno != EAGAIN && errno != EINTR { throw RuntimeError.posix("reading \(fifo)") }
                guard ProcStat.isAlive(record.pid, startTime: record.pidStartTime) else {
                    // The init may have written its byte and exec'd a process that exited at once
                    // (`sh -c 'exit 3'`) between the read above and this check: the byte is then
                    // in the fifo, and the container did start.
                    if read(fd, &byte, 1) == 1 { break }
                    throw RuntimeError(.invalidState, "container \(id) init exited before it could start")
                }
                var waiting = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&waiting, 1, 20) > 0 && waiting.revents & Int16(POLLIN) == 0 {
                    // POLLHUP without data: the writer came and went without its byte (the init
                    // is dying); do not spin until the liveness check sees it gone.
                    usleep(500)
                }
            }
            unlink(fifo)
            // The init holds its end of the fifo open (O_CLOEXEC) until it executes the user's
            // process: with poststart or startContainer hooks, keep a copy to wait for that
            // below, outside the lock.
            let hooks = record.spec.hooks
            guard !(hooks?.poststart ?? []).isEmpty || !(hooks?.startContainer ?? []).isEmpty else { return (record, -1) }
            return (record, fcntl(fd, F_DUPFD_CLOEXEC, 0))
        }
        if execFD >= 0 {
            let hooksPassed = Self.awaitEndOfFile(execFD)
            close(execFD)
            // kujira-init writes "1" once its startContainer hooks have passed: without it the
            // init died in one (lifecycle step 7: "generate an error, stop the container").
            if !(record.spec.hooks?.startContainer ?? []).isEmpty && !hooksPassed {
                throw RuntimeError(.hookFailed, "a startContainer hook of container \(id) failed; the container's process did not start (the hook's error is on the container's stderr)")
            }
        }
        let state = State(ociVersion: Spec.currentVersion, id: id, status: .running, pid: Int(record.pid),
                          bundle: record.bundle, annotations: record.spec.annotations)
        HookRunner.runWarning(record.spec.hooks?.poststart, stage: "poststart", state: state, warning: warning)
    }

    /// Waits until the exec fifo (non-blocking) has no writer left: the init has executed the
    /// user's process (its end is O_CLOEXEC) or has died, after its startContainer hooks.
    /// Whether the init reported its startContainer hooks passed (a "1") meanwhile.
    static func awaitEndOfFile(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        var passed = false
        while true {
            let n = read(fd, &byte, 1)
            if n == 1 { passed = passed || byte == UInt8(ascii: "1"); continue }
            if n == 0 { return passed }
            if n < 0 && errno != EAGAIN && errno != EINTR { return passed }
            var waiting = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&waiting, 1, -1)
        }
    }
}
