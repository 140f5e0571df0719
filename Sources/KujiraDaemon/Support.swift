// Helpers of the routes: RFC 3339 times, Docker's human durations, temporary files, and
// the pump that carries events from the registry client's tasks to a request's thread.

import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// RFC 3339 times as the engine writes them (nanoseconds, UTC) and Docker's durations.
enum Timestamps {
    /// Seconds since the epoch of an RFC 3339 time; nil for "" or Docker's zero time.
    static func seconds(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, !text.hasPrefix("0001-") else { return nil }
        func number(_ range: Range<Int>) -> Int32? { Int32(String(decoding: bytes[range], as: UTF8.self)) }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        var value = Double(timegm(&parts))
        var index = 19
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                value += Double(bytes[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
        }
        if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")), bytes.count >= index + 6,
           let hours = number((index + 1)..<(index + 3)), let minutes = number((index + 4)..<(index + 6)) {
            let offset = Double(hours * 3600 + minutes * 60)
            value += bytes[index] == UInt8(ascii: "+") ? -offset : offset
        }
        return value
    }

    /// `date` as RFC 3339 with nanoseconds in UTC.
    static func format(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        var seconds = time_t(interval.rounded(.down))
        let nanos = Int((interval - Double(seconds)) * 1e9)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), nanos)
    }

    /// Docker's `units.HumanDuration`: "Less than a second", "3 seconds", "About a minute", …
    static func human(_ seconds: Double) -> String {
        let s = Int(seconds)
        if s < 1 { return "Less than a second" }
        if s == 1 { return "1 second" }
        if s < 60 { return "\(s) seconds" }
        let minutes = s / 60
        if minutes == 1 { return "About a minute" }
        if minutes < 60 { return "\(minutes) minutes" }
        let hours = Int((Double(s) / 3600).rounded())
        if hours == 1 { return "About an hour" }
        if hours < 48 { return "\(hours) hours" }
        if hours < 24 * 7 * 2 { return "\(hours / 24) days" }
        if hours < 24 * 30 * 2 { return "\(hours / 24 / 7) weeks" }
        if hours < 24 * 365 * 2 { return "\(hours / 24 / 30) months" }
        return "\(hours / 24 / 365) years"
    }
}

/// A temporary file under a directory of the daemon's root, removed by ``remove()``.
struct TemporaryFile {
    let path: String

    /// Creates an empty file (mode 0600) in `directory` and returns it open for writing.
    static func create(in directory: String, suffix: String) throws -> (TemporaryFile, Int32) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/\(UUID().uuidString)\(suffix)"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw APIError(500, "creating \(path): \(String(cString: strerror(errno)))") }
        return (TemporaryFile(path: path), fd)
    }

    /// A temporary file in `directory` holding the whole request `body` (an uploaded archive),
    /// closed; the caller removes it.
    static func holding(_ body: RequestBody, in directory: String, suffix: String) throws -> TemporaryFile {
        let (file, fd) = try create(in: directory, suffix: suffix)
        defer { close(fd) }
        do {
            try body.copy(to: fd)
        } catch {
            file.remove()
            throw error
        }
        return file
    }

    func remove() { unlink(path) }
}

/// A followed stream ended because its client left.
struct StreamStopped: Error {}

/// Carries events of type `Event` from any thread or task to one consumer thread, then the
/// producer's result: the registry client reports progress from its own tasks, and only the
/// request's thread may write to the connection.
final class EventPump<Event: Sendable, Output: Sendable>: Sendable {
    struct State {
        var events: [Event] = []
        var result: Result<Output, any Error>?
    }
    let state = Mutex(State())
    let condition = NSCondition()

    /// Queues an event.
    func post(_ event: Event) {
        condition.lock()
        state.withLock { $0.events.append(event) }
        condition.signal()
        condition.unlock()
    }

    /// Ends the stream with the producer's result.
    func finish(_ result: Result<Output, any Error>) {
        condition.lock()
        state.withLock { $0.result = result }
        condition.signal()
        condition.unlock()
    }

    /// Waits for events and hands each batch to `body`; returns the result once every event
    /// before it was handed over.
    /// While no event comes, `stopWhenIdle` is asked every quarter second whether to give up
    /// (a client that left); then ``StreamStopped`` is thrown.
    func consume(_ body: ([Event]) throws -> Void, stopWhenIdle: (() -> Bool)? = nil) throws -> Output {
        while true {
            condition.lock()
            var taken: ([Event], Result<Output, any Error>?) = ([], nil)
            while true {
                taken = state.withLock { state in
                    let events = state.events
                    state.events.removeAll()
                    return (events, state.result)
                }
                if !taken.0.isEmpty || taken.1 != nil { break }
                if let stopWhenIdle {
                    if !condition.wait(until: Date(timeIntervalSinceNow: 0.25)) && stopWhenIdle() {
                        condition.unlock()
                        throw StreamStopped()
                    }
                } else {
                    condition.wait()
                }
            }
            condition.unlock()
            if !taken.0.isEmpty { try body(taken.0) }
            if let result = taken.1 {
                let rest = state.withLock { state in
                    let events = state.events
                    state.events.removeAll()
                    return events
                }
                if !rest.isEmpty { try body(rest) }
                return try result.get()
            }
        }
    }

    /// Runs `work` as a task and consumes its events on this thread.
    static func run(_ work: @escaping @Sendable (EventPump) async throws -> Output, events body: ([Event]) throws -> Void) throws -> Output {
        let pump = EventPump()
        Task {
            do {
                pump.finish(.success(try await work(pump)))
            } catch {
                pump.finish(.failure(error))
            }
        }
        return try pump.consume(body)
    }

    /// Runs blocking `work` on its own thread (not the tasks' shared pool) and consumes its
    /// events on this thread.
    static func runBlocking(_ work: @escaping @Sendable (EventPump) throws -> Output, events body: ([Event]) throws -> Void) throws -> Output {
        let pump = EventPump()
        let thread = Thread {
            do {
                pump.finish(.success(try work(pump)))
            } catch {
                pump.finish(.failure(error))
            }
        }
        thread.stackSize = 8 << 20
        thread.start()
        return try pump.consume(body)
    }
}

/// The pause between two looks at a container's state while following it: short at first
/// (a `docker run --rm` of a short command waits on several of these in a row), doubling up
/// to 50 ms for a container that keeps running, and short again after activity.
struct PollBackoff {
    var microseconds: UInt32 = 1_000

    /// Sleeps, then lengthens the next pause.
    mutating func pause() {
        usleep(microseconds)
        microseconds = min(microseconds * 2, 50_000)
    }

    /// Makes the next pause short again.
    mutating func reset() { microseconds = 1_000 }
}
