// `stop`, `kill` and `restart`.
//
//     try engine.stop("web", timeout: 1)      // STOPSIGNAL, then SIGKILL after 1 s
//     try engine.kill("web", signal: SIGHUP)
//     try engine.restart("web")
//
// Both stop and kill mark the container manually stopped first, so the monitor does not
// apply the restart policy to the exit they cause (as Docker does).

import KujiraRuntime
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    /// Stops container `nameOrID`: its stop signal, then SIGKILL after `timeout` seconds
    /// (nil: the container's `--stop-timeout`, default 10). `signal` replaces the stop signal
    /// for this stop (`docker stop -s`). Returns once it has exited.
    @discardableResult
    public func stop(_ nameOrID: String, timeout: Int? = nil, signal stopSignal: Int32? = nil) throws -> ContainerRecord {
        var record = try container(nameOrID)
        guard record.state.isActive else { return record }
        record = try update(record.id) { $0.state.manuallyStopped = true }
        if record.state.status == .paused { try? runtime.resume(id: record.id) }
        let signal = try stopSignal ?? Signals.parse(record.config.stopSignal)
        try? runtime.kill(id: record.id, signal: signal)
        let seconds = timeout ?? record.config.stopTimeout
        if try waitUntilInactive(record.id, milliseconds: max(0, seconds) * 1000) {
            emit("stop", record)
            return try container(record.id)
        }
        emit("kill", record, ["signal": "9"])
        try? runtime.kill(id: record.id, signal: SIGKILL, all: true)
        guard try waitUntilInactive(record.id, milliseconds: 30_000) else {
            throw EngineError(.invalidState, "container \(record.name) did not exit after SIGKILL")
        }
        emit("stop", record)
        return try container(record.id)
    }

    /// Sends `signal` to the process of running container `nameOrID`. SIGKILL, SIGTERM and
    /// the container's stop signal count as a manual stop for the restart policy.
    public func kill(_ nameOrID: String, signal: Int32 = 9) throws {
        let record = try container(nameOrID)
        guard record.state.status == .running || record.state.status == .paused else {
            throw EngineError(.invalidState, "container \(record.name) is not running")
        }
        if signal == SIGKILL || signal == SIGTERM || signal == (try? Signals.parse(record.config.stopSignal)) {
            try update(record.id) { $0.state.manuallyStopped = true }
        }
        do {
            try runtime.kill(id: record.id, signal: signal)
        } catch {
            throw EngineError(.invalidState, "cannot signal container \(record.name)", cause: error)
        }
        emit("kill", record, ["signal": String(signal)])
    }

    /// Stops (if running; with `signal` instead of the stop signal) and starts container
    /// `nameOrID`.
    @discardableResult
    public func restart(_ nameOrID: String, timeout: Int? = nil, signal: Int32? = nil) throws -> ContainerRecord {
        let record = try stop(nameOrID, timeout: timeout, signal: signal)
        // The old monitor may still be finishing (e.g. removing a runtime container).
        _ = try waitUntilMonitorGone(record.id, milliseconds: 10_000)
        return try start(record.id)
    }

    /// Waits until the container is no longer running, paused or restarting (woken by its
    /// record's changes, checking at least every 20 ms); false on timeout.
    func waitUntilInactive(_ id: String, milliseconds: Int) throws -> Bool {
        let watch = RecordWatch(directory: directory(id))
        let deadline = ContinuousClock.now + .milliseconds(milliseconds)
        while true {
            guard let record = load(id) else { return true }
            if try !reconcile(record).state.isActive { return true }
            if ContinuousClock.now >= deadline { return false }
            watch.wait(milliseconds: 20)
        }
    }

    /// Polls until the container's monitor has exited; false on timeout.
    func waitUntilMonitorGone(_ id: String, milliseconds: Int) throws -> Bool {
        var waited = 0
        while let record = load(id), record.state.monitorPid != 0,
              SystemSupport.isAlive(record.state.monitorPid, startTime: record.state.monitorStartTime) {
            if waited >= milliseconds { return false }
            SystemSupport.sleep(milliseconds: 20)
            waited += 20
        }
        return true
    }
}
