// The health check loop the monitor runs while its container runs (Docker's semantics):
// the first check one interval after the start (the start interval while in the start
// period and still `starting`), each check an exec of the test in the container with its
// stdout and stderr captured (the first 4 KiB kept), killed after the timeout (exit code -1,
// "Health check exceeded timeout"). A pass makes the container `healthy` and resets the
// failing streak; a failure counts unless it happens in the start period before the first
// pass, and `retries` consecutive ones make it `unhealthy`. The last five results, the
// status and the streak are saved in the record (`State.Health`); a status change emits
// `health_status: STATUS`.

internal import CKujiraRuntime
import KujiraOCI
import KujiraRuntime
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A running health check loop of one container run; ``stop()`` ends it.
final class HealthMonitor: Sendable {
    private let stopRead: Int32
    private let stopWrite: Int32
    private let done = DispatchSemaphore(value: 0)
    private let engine: Engine
    private let id: String

    /// Starts the loop of `check` for container `id` on `engine`, on a thread of its own.
    init(engine: Engine, id: String, check: Healthcheck) throws {
        var fds: [Int32] = [-1, -1]
        guard kujira_pipe(&fds) == 0 else { throw EngineError.posix("pipe", errno: errno) }
        stopRead = fds[0]
        stopWrite = fds[1]
        self.engine = engine
        self.id = id
        let stopFD = fds[0]
        let done = self.done
        let thread = Thread {
            engine.healthLoop(id: id, check: check, stopFD: stopFD)
            done.signal()
        }
        thread.start()
    }

    /// Ends the loop (killing a check in progress) and waits for its thread; the status
    /// becomes `unhealthy`, as Docker sets it when a container's checks stop.
    func stop() {
        close(stopWrite)
        done.wait()
        close(stopRead)
        _ = try? engine.update(id) { record in
            if record.state.health != nil { record.state.health?.status = ContainerHealth.unhealthy }
        }
    }
}

extension Engine {
    /// Resets the health of container `record` for a new run (`starting`, no failing streak,
    /// the old results kept) and starts its check loop; nil when it has no check.
    func startHealthMonitor(_ record: ContainerRecord) -> HealthMonitor? {
        guard record.hasHealthcheck, let check = record.config.healthcheck else { return nil }
        do {
            try update(record.id) { record in
                record.state.health = ContainerHealth(status: ContainerHealth.starting, failingStreak: 0, log: record.state.health?.log ?? [])
            }
            return try HealthMonitor(engine: self, id: record.id, check: check)
        } catch {
            FileHandle.standardError.write(Data("\(SystemSupport.timestamp()) monitor \(record.id): health checks not started: \(error)\n".utf8))
            return nil
        }
    }

    /// Waits `nanoseconds` or until `stopFD` reports the end; true when stopped.
    private static func stopped(_ stopFD: Int32, within nanoseconds: Int64) -> Bool {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(nanoseconds, 0))
        while true {
            let now = DispatchTime.now().uptimeNanoseconds
            let left = deadline > now ? deadline - now : 0
            var entry = pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0)
            let result = poll(&entry, 1, Int32(min((left + 999_999) / 1_000_000, 60_000)))
            if result > 0 { return true }
            if result < 0 && errno != EINTR { return true }
            if left == 0 || DispatchTime.now().uptimeNanoseconds >= deadline { return false }
        }
    }

    /// The loop of ``HealthMonitor``.
    fileprivate func healthLoop(id: String, check: Healthcheck, stopFD: Int32) {
        let settings = check.effective
        let started = DispatchTime.now().uptimeNanoseconds
        var status = ContainerHealth.starting
        while true {
            let elapsed = Int64(DispatchTime.now().uptimeNanoseconds - started)
            let interval = elapsed < settings.startPeriod && status == ContainerHealth.starting ? settings.startInterval : settings.interval
            if Self.stopped(stopFD, within: interval) { return }
            if load(id)?.state.status == .paused { continue }  // a check would freeze with it
            let result = probe(id: id, command: check.command, timeout: settings.timeout, stopFD: stopFD)
            guard let result else { return }
            let inStartPeriod = Int64(DispatchTime.now().uptimeNanoseconds - started) < settings.startPeriod
            var changed: ContainerRecord?
            _ = try? update(id) { record in
                guard record.state.status == .running || record.state.status == .paused else { return }
                var health = record.state.health ?? ContainerHealth(status: ContainerHealth.starting)
                let before = health.status
                health.log.append(result)
                if health.log.count > ContainerHealth.maxLogEntries { health.log.removeFirst(health.log.count - ContainerHealth.maxLogEntries) }
                if result.exitCode == 0 {
                    health.failingStreak = 0
                    health.status = ContainerHealth.healthy
                } else if !(health.status == ContainerHealth.starting && inStartPeriod) {
                    health.failingStreak += 1
                    if health.failingStreak >= settings.retries { health.status = ContainerHealth.unhealthy }
                }
                record.state.health = health
                status = health.status
                if health.status != before { changed = record }
            }
            if let changed { emit("health_status: \(status)", changed) }
        }
    }

    /// Runs `command` once in container `id` with its output captured; nil when `stopFD`
    /// reported the end meanwhile (the check is killed).
    private func probe(id: String, command: [String], timeout: Int64, stopFD: Int32) -> HealthResult? {
        let start = SystemSupport.timestamp()
        func failed(_ message: String) -> HealthResult {
            HealthResult(start: start, end: SystemSupport.timestamp(), exitCode: -1, output: message)
        }
        guard let data = FileManager.default.contents(atPath: "\(directory(id))/config.json"),
              let spec = try? JSONDecoder().decode(Spec.self, from: data), var process = spec.process else {
            return failed("the container's bundle is unreadable")
        }
        process.args = command
        process.terminal = false
        process.consoleSize = nil
        var pipe: [Int32] = [-1, -1]
        guard kujira_pipe(&pipe) == 0 else { return failed("pipe: \(String(cString: strerror(errno)))") }
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let pid: Int32
        do {
            pid = try runtime.exec(id: id, process: process,
                                   options: ExecOptions(stdio: StdioFDs(input: devNull >= 0 ? devNull : 0, output: pipe[1], error: pipe[1])))
        } catch {
            close(pipe[0]); close(pipe[1])
            if devNull >= 0 { close(devNull) }
            return failed("\(error)")
        }
        close(pipe[1])
        if devNull >= 0 { close(devNull) }
        defer { close(pipe[0]) }
        _ = fcntl(pipe[0], F_SETFL, fcntl(pipe[0], F_GETFL) | O_NONBLOCK)

        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        func drain() {
            while true {
                let count = read(pipe[0], &buffer, buffer.count)
                guard count > 0 else { return }
                let room = ContainerHealth.maxOutputLength - output.count
                if room > 0 { output += buffer[0..<min(count, room)] }
            }
        }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeout)
        while true {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid || (reaped < 0 && errno == ECHILD) {
                drain()
                let code: Int32
                if reaped < 0 {
                    code = -1
                } else if status & 0x7f == 0 {
                    code = (status >> 8) & 0xff
                } else {
                    code = 128 + (status & 0x7f)
                }
                return HealthResult(start: start, end: SystemSupport.timestamp(), exitCode: code, output: String(decoding: output, as: UTF8.self))
            }
            let now = DispatchTime.now().uptimeNanoseconds
            if now >= deadline {
                Glibc.kill(pid, SIGKILL)
                _ = kujira_wait_exit(pid)
                return failed("Health check exceeded timeout (\(Self.goDurationText(timeout)))")
            }
            var entries = [pollfd(fd: pipe[0], events: Int16(POLLIN), revents: 0), pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0)]
            // The pipe reaches EOF while the check's children still hold it, or at its exit;
            // poll the exit every 20 ms either way.
            let wait = Int32(min((deadline - now + 999_999) / 1_000_000, 20))
            _ = poll(&entries, 2, wait)
            if entries[1].revents != 0 {
                Glibc.kill(pid, SIGKILL)
                _ = kujira_wait_exit(pid)
                return nil
            }
            if entries[0].revents & Int16(POLLIN) != 0 { drain() }
            if entries[0].revents & Int16(POLLHUP) != 0 && entries[0].revents & Int16(POLLIN) == 0 {
                // EOF: nothing more to read; wait for the exit without spinning on the pipe.
                var exitEntry = pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0)
                _ = poll(&exitEntry, 1, wait)
                if exitEntry.revents != 0 {
                    Glibc.kill(pid, SIGKILL)
                    _ = kujira_wait_exit(pid)
                    return nil
                }
            }
        }
    }

    /// A duration as Go prints it for whole seconds or milliseconds (`30s`, `1m0s`, `500ms`).
    static func goDurationText(_ nanoseconds: Int64) -> String {
        if nanoseconds < 1_000_000_000 { return "\(nanoseconds / 1_000_000)ms" }
        let seconds = Double(nanoseconds) / 1e9
        let whole = Int64(seconds)
        func secondsText(_ value: Double) -> String {
            value == value.rounded() ? "\(Int64(value))s" : "\(value)s"
        }
        if whole < 60 { return secondsText(seconds) }
        let hours = whole / 3600, minutes = (whole % 3600) / 60
        let rest = seconds - Double(hours * 3600 + minutes * 60)
        return (hours > 0 ? "\(hours)h" : "") + "\(minutes)m" + secondsText(rest)
    }
}
