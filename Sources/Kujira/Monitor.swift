// The monitor: one small process per container (DESIGN.md, "Process model"), like
// containerd's shim or podman's conmon. It owns the container's stdio pipes, writes them to
// the json-file log, waits for the container's process (it is a child subreaper, so the
// init — a grandchild — is reparented to it), records the exit code, the finish time and
// OOM kills, applies the restart policy, deletes the runtime container and, for `--rm`,
// removes the container. `kujira __monitor ID` runs it; see `Engine.start`.

internal import CKujiraRuntime
import KujiraRuntime
import KujiraOCI
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    /// Runs the monitor of container `id` in this process until the container has exited
    /// for good; returns the process exit status. `syncFD` receives `ok` once the container
    /// runs, or the reason it could not start, and is then closed. Call it from a freshly
    /// started process whose fds 0-2 are /dev/null and a diagnostics log (`Engine.start`
    /// arranges that for `kujira __monitor`).
    /// `attachFD` (or -1) is a client connection made before the start (``startAttached``).
    public func runMonitor(id: String, syncFD: Int32, attachFD: Int32 = -1) -> Int32 {
        _ = fcntl(syncFD, F_SETFD, FD_CLOEXEC)
        if attachFD >= 0 { _ = fcntl(attachFD, F_SETFD, FD_CLOEXEC) }
        signal(SIGPIPE, SIG_IGN)
        setsid()
        var sync: Int32? = syncFD
        func report(_ text: String) {
            guard let fd = sync else { return }
            _ = Array(text.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(fd)
            sync = nil
        }
        func diagnose(_ text: String) {
            FileHandle.standardError.write(Data("\(SystemSupport.timestamp()) monitor \(id): \(text)\n".utf8))
        }
        do {
            try ContainerRuntime.becomeSubreaper()
            let startTime = SystemSupport.processStartTime(getpid()) ?? 0
            var record = try update(id, durable: false) { record in
                record.state.monitorPid = getpid()
                record.state.monitorStartTime = startTime
            }
            let log = try JSONLogWriter(path: record.logPath, config: record.hostConfig.logConfig)
            let hub = try AttachHub(directory: attachDirectory(id), firstClient: attachFD)
            defer { hub.close() }
            var restarts = 0
            while true {
                let exit: (code: Int32, oomKilled: Bool)
                do {
                    exit = try runOnce(record: record, log: log, hub: hub) { report("ok"); emit("start", record) }
                } catch {
                    let message = "\(error)"
                    diagnose("start failed: \(message)")
                    _ = try? update(id) { record in
                        record.state.status = sync == nil ? .exited : .created
                        record.state.error = message
                        record.state.exitCode = EngineError.exitCode(forStartFailure: message)
                        record.state.pid = 0
                        record.state.monitorPid = 0
                        record.state.finishedAt = SystemSupport.timestamp()
                    }
                    unmountShareableShm(id)
                    report(message)
                    return 1
                }
                if exit.oomKilled { emit("oom", record) }
                emit("die", record, ["exitCode": String(exit.code)])
                var restart = false
                // The exit code of a `--rm` container is read by its client, then the container
                // is removed: it needs no flush to disk.
                record = try update(id, durable: !record.hostConfig.autoRemove) { record in
                    record.state.exitCode = exit.code
                    record.state.oomKilled = exit.oomKilled
                    record.state.finishedAt = SystemSupport.timestamp()
                    record.state.pid = 0
                    restart = record.hostConfig.restartPolicy.shouldRestart(
                        exitCode: exit.code, restartCount: record.restartCount, manuallyStopped: record.state.manuallyStopped)
                    if restart {
                        record.restartCount += 1
                        record.state.status = .restarting
                    } else {
                        record.state.status = .exited
                        if !record.hostConfig.autoRemove { record.state.monitorPid = 0 }
                    }
                }
                guard restart else { break }
                // Docker's back-off: 100 ms, doubling, at most 1 minute here.
                SystemSupport.sleep(milliseconds: min(100 << min(restarts, 10), 60_000))
                restarts += 1
                guard let current = load(id), !current.state.manuallyStopped else {
                    _ = try? update(id) { record in
                        record.state.status = .exited
                        if !record.hostConfig.autoRemove { record.state.monitorPid = 0 }
                    }
                    break
                }
                record = current
            }
            deactivateVolumes(record)
            unmountShareableShm(id)
            if record.hostConfig.autoRemove {
                // An attached `run --rm` reads the exit code and removes the container itself;
                // remove it here only once that client is gone (it may have died).
                while let client = load(id)?.state.attachedClientPid, client > 0, SystemSupport.isAlive(client, startTime: 0) {
                    SystemSupport.sleep(milliseconds: 20)
                }
                if load(id) != nil { try remove(id, force: true) }
            }
            return 0
        } catch {
            diagnose("\(error)")
            report("\(error)")
            return 1
        }
    }

    /// Creates and starts the runtime container with fresh stdout/stderr pipes, pumps them
    /// into `log`, waits for the process and deletes the runtime container.
    func runOnce(record: ContainerRecord, log: JSONLogWriter, hub: AttachHub, started: () -> Void) throws -> (code: Int32, oomKilled: Bool) {
        let id = record.id
        let networkSession = try startNetworking(record)
        defer { networkSession.stop() }
        var out: [Int32] = [-1, -1], err: [Int32] = [-1, -1]
        guard kujira_pipe(&out) == 0 else { throw EngineError.posix("pipe", errno: errno) }
        guard kujira_pipe(&err) == 0 else {
            close(out[0]); close(out[1])
            throw EngineError.posix("pipe", errno: errno)
        }
        // The runtime hands the container the pipes (and the stdin pipe or /dev/null) as its
        // fds 0-2 (`CreateOptions.stdio`); this process's own fds stay as they are.
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard devNull >= 0 else {
            let code = errno
            close(out[0]); close(out[1]); close(err[0]); close(err[1])
            throw EngineError.posix("opening /dev/null", errno: code)
        }
        var stdio: AttachHub.RunStdio
        do { stdio = try hub.prepareRun(record.config) } catch {
            close(out[0]); close(out[1]); close(err[0]); close(err[1]); close(devNull)
            throw error
        }
        stdio.options.stdio = StdioFDs(input: stdio.stdinRead >= 0 ? stdio.stdinRead : devNull, output: out[1], error: err[1])
        func restoreStdio() {
            close(devNull)
            close(out[1]); close(err[1])
        }
        let state: RuncState
        do {
            try? runtime.delete(id: id, force: true)
            try mountShareableShm(record)
            try joinNamespacesInBundle(record)
            state = try runtime.create(id: id, bundle: directory(id), options: stdio.options)
        } catch {
            restoreStdio()
            hub.discard(stdio)
            close(out[0]); close(err[0])
            throw error
        }
        restoreStdio()
        do { try hub.beginRun(record.config, stdio) } catch {
            try? runtime.delete(id: id, force: true)
            close(out[0]); close(err[0])
            hub.endRun()
            throw error
        }
        let pumps = [log.pump(fd: out[0], stream: "stdout", tee: hub.tee(AttachFrame.stdout)),
                     log.pump(fd: err[0], stream: "stderr", tee: hub.tee(AttachFrame.stderr))] + hub.terminalPumps(log)
        let pid = Int32(state.pid)
        do {
            try runtime.start(id: id)
        } catch {
            try? runtime.delete(id: id, force: true)
            pumps.forEach { $0.wait() }
            hub.endRun()
            throw error
        }
        try update(id, durable: false) { record in
            record.state.status = .running
            record.state.pid = pid
            record.state.startedAt = SystemSupport.timestamp()
            record.state.exitCode = 0
            record.state.oomKilled = false
            record.state.error = ""
        }
        started()
        let health = startHealthMonitor(record)
        let code = (try? ContainerRuntime.waitForExit(pid: pid)) ?? 255
        health?.stop()
        pumps.forEach { $0.wait() }
        hub.endRun()
        let cgroup = try? CgroupManagerFactory.make(cgroupsPath: Engine.cgroupsPath(record), containerID: id)
        let oomKilled = ((try? cgroup?.oomKillCount()) ?? 0) > 0
        try? runtime.delete(id: id, force: true)
        return (code, oomKilled)
    }
}

extension EngineError {
    /// Docker's exit code for a container that could not start: 127 when the executable
    /// does not exist, 126 when it cannot be run, else 125.
    static func exitCode(forStartFailure message: String) -> Int32 {
        let lower = message.lowercased()
        if lower.contains("not found in $path") || lower.contains("no such file") { return 127 }
        if lower.contains("permission denied") || lower.contains("exec format error") { return 126 }
        return 125
    }

    /// The exit status a Docker-like CLI reports for this error (125, or 126/127 for a
    /// container whose process could not be started).
    public var dockerExitCode: Int32 {
        code == .startFailed ? EngineError.exitCode(forStartFailure: description) : 125
    }
}
