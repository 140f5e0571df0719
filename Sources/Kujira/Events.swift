// Events: a typed log of what happened to containers, images, volumes and networks, kept in
// `<root>/events.jsonl` (one JSON object a line, Docker's event fields).
//
//     try engine.emit(type: .container, action: "start", id: record.id, attributes: ["name": record.name])
//     for event in engine.events(since: Date().addingTimeInterval(-60), follow: false) { print(event.action) }
//
// Every writer appends one line with one `write` on an `O_APPEND` fd, so concurrent CLIs,
// monitors and a daemon never interleave partial lines. The log is bounded: when it passes
// ``EventLog/maximumBytes`` the writer that notices renames it to `events.jsonl.1` (under an
// flock, replacing the previous `.1`) and starts a new one; readers read `.1` then the
// current file. A reader that follows polls the file and notices the rotation by inode.

public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One event, shaped like Docker's `/events` messages (`Type`, `Action`, `Actor`, `time`,
/// `timeNano`).
public struct EngineEvent: Codable, Sendable, Hashable {
    /// What an event is about.
    public struct Kind: RawRepresentable, Codable, Sendable, Hashable, CustomStringConvertible {
        /// The name: `container`, `image`, `volume`, `network`, ….
        public var rawValue: String
        /// Creates a kind.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The name.
        public var description: String { rawValue }
        /// A container event (create, start, die, oom, stop, kill, pause, unpause, destroy,
        /// rename, commit).
        public static let container = Kind(rawValue: "container")
        /// An image event (pull, tag, untag, delete, import, save, load).
        public static let image = Kind(rawValue: "image")
        /// A volume event (create, mount, unmount, destroy).
        public static let volume = Kind(rawValue: "volume")
        /// A network event (create, connect, disconnect, destroy).
        public static let network = Kind(rawValue: "network")

        /// Decodes the bare name.
        public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
        /// Encodes the bare name.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(rawValue)
        }
    }

    /// The object the event is about.
    public struct Actor: Codable, Sendable, Hashable {
        /// The container id, image name, volume or network name.
        public var id: String
        /// Details: `name`, `image`, `exitCode`, `signal`, `oldName`, ….
        public var attributes: [String: String]
        /// Creates an actor.
        public init(id: String, attributes: [String: String] = [:]) {
            self.id = id
            self.attributes = attributes
        }
        private enum CodingKeys: String, CodingKey { case id = "ID", attributes = "Attributes" }
    }

    /// What the event is about.
    public var type: Kind
    /// What happened: `create`, `start`, `die`, `pull`, ….
    public var action: String
    /// The object.
    public var actor: Actor
    /// Seconds since the epoch.
    public var time: Int64
    /// Nanoseconds since the epoch.
    public var timeNano: Int64

    /// Creates an event at `timeNano` (default: now).
    public init(type: Kind, action: String, id: String, attributes: [String: String] = [:], timeNano: Int64? = nil) {
        self.type = type
        self.action = action
        self.actor = Actor(id: id, attributes: attributes)
        let nanos = timeNano ?? EventLog.now()
        self.timeNano = nanos
        self.time = nanos / 1_000_000_000
    }

    private enum CodingKeys: String, CodingKey {
        case type = "Type", action = "Action", actor = "Actor", time, timeNano
    }
}

/// Which events a reader wants, as `docker events --filter` gives them: every key given
/// must match one of its values.
public struct EventFilters: Sendable, Hashable {
    /// Key → accepted values. Keys: `type`, `event` (action), `container`, `image`,
    /// `volume`, `network` (id, id prefix or `name` attribute), `label` (`k` or `k=v`).
    public var values: [String: [String]]

    /// No filter: every event.
    public init(_ values: [String: [String]] = [:]) { self.values = values }

    /// Parses `key=value` strings (repeatable).
    /// - Throws: ``EngineError`` `.invalidArgument` for an unknown key or a missing `=`.
    public static func parse(_ arguments: [String]) throws -> EventFilters {
        var values: [String: [String]] = [:]
        let known: Set<String> = ["type", "event", "container", "image", "volume", "network", "label"]
        for argument in arguments {
            guard let eq = argument.firstIndex(of: "=") else {
                throw EngineError(.invalidArgument, "bad filter \"\(argument)\": use key=value, e.g. type=container or event=start")
            }
            let key = String(argument[..<eq]), value = String(argument[argument.index(after: eq)...])
            guard known.contains(key) else {
                throw EngineError(.invalidArgument, "unknown filter \"\(key)\": use one of \(known.sorted().joined(separator: ", "))")
            }
            values[key, default: []].append(value)
        }
        return EventFilters(values)
    }

    /// Whether `event` passes every filter.
    public func matches(_ event: EngineEvent) -> Bool {
        for (key, accepted) in values where !accepted.isEmpty {
            let ok: Bool
            switch key {
            case "type": ok = accepted.contains(event.type.rawValue)
            case "event": ok = accepted.contains(event.action)
            case "label":
                ok = accepted.contains { wanted in
                    if let eq = wanted.firstIndex(of: "=") {
                        return event.actor.attributes[String(wanted[..<eq])] == String(wanted[wanted.index(after: eq)...])
                    }
                    return event.actor.attributes[wanted] != nil
                }
            case "container", "image", "volume", "network":
                ok = event.type.rawValue == key && accepted.contains { wanted in
                    event.actor.id == wanted || (wanted.count >= 3 && event.actor.id.hasPrefix(wanted))
                        || event.actor.attributes["name"] == wanted
                } || (key == "image" && event.type == .container && accepted.contains { event.actor.attributes["image"] == $0 })
            default: ok = true
            }
            if !ok { return false }
        }
        return true
    }
}

/// The event log of one root: `<root>/events.jsonl` (and its previous generation
/// `events.jsonl.1`). Safe for any number of concurrent writers and readers.
public struct EventLog: Sendable {
    /// The current file.
    public let path: String
    /// The size past which the file is rotated to `.1` (so at most about twice this is kept).
    public var maximumBytes: Int64

    /// The log of store root `root`.
    public init(root: String, maximumBytes: Int64 = 4 << 20) {
        self.path = "\(root)/events.jsonl"
        self.maximumBytes = maximumBytes
    }

    /// Nanoseconds since the epoch, now.
    static func now() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    /// Appends `event` as one line. Failures are returned, not thrown: an event that cannot
    /// be written must not fail the operation it reports.
    @discardableResult
    public func append(_ event: EngineEvent) -> Bool {
        guard var line = try? JSONEncoder().encode(event) else { return false }
        line.append(UInt8(ascii: "\n"))
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var st = stat()
        let size = fstat(fd, &st) == 0 ? Int64(st.st_size) : 0
        close(fd)
        if size > maximumBytes { rotate() }
        return written == line.count
    }

    /// Renames the current file to `.1` under an flock, if it is still over the limit.
    private func rotate() {
        let lockFD = open("\(path).lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { return }
        defer { close(lockFD) }
        while flock(lockFD, LOCK_EX) != 0 { if errno != EINTR { return } }
        var st = stat()
        guard stat(path, &st) == 0, Int64(st.st_size) > maximumBytes else { return }
        rename(path, "\(path).1")
    }

    /// Every event stored, oldest first, with `since <= timeNano <= until` and passing `filters`.
    public func read(since: Date? = nil, until: Date? = nil, filters: EventFilters = EventFilters()) -> [EngineEvent] {
        var result: [EngineEvent] = []
        for file in ["\(path).1", path] {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            for line in data.split(separator: UInt8(ascii: "\n")) {
                guard let event = try? JSONDecoder().decode(EngineEvent.self, from: Data(line)) else { continue }
                if Self.wanted(event, since: since, until: until, filters: filters) { result.append(event) }
            }
        }
        return result
    }

    static func nanos(_ date: Date) -> Int64 { Int64(date.timeIntervalSince1970 * 1e9) }

    static func wanted(_ event: EngineEvent, since: Date?, until: Date?, filters: EventFilters) -> Bool {
        if let since, event.timeNano < nanos(since) { return false }
        if let until, event.timeNano > nanos(until) { return false }
        return filters.matches(event)
    }
}

/// A blocking iterator over events: first the stored ones from `since`, then (when
/// following) new ones as they are appended, until `until` has passed. `next()` blocks
/// while following; stop by leaving the loop (a daemon runs it on its own thread).
public final class EventIterator: IteratorProtocol, Sequence {
    private let log: EventLog
    private let since: Date?
    private let until: Date?
    private let filters: EventFilters
    private let follow: Bool
    private let pollMilliseconds: Int
    private var pending: [EngineEvent] = []
    private var started = false
    private var fd: Int32 = -1
    private var inode: UInt64 = 0
    private var partial: [UInt8] = []
    /// Polled while following: returning true ends the iteration.
    var shouldStop: (@Sendable () -> Bool)?

    init(log: EventLog, since: Date?, until: Date?, filters: EventFilters, follow: Bool, pollMilliseconds: Int) {
        self.log = log
        self.since = since
        self.until = until
        self.filters = filters
        self.follow = follow
        self.pollMilliseconds = pollMilliseconds
    }

    deinit { if fd >= 0 { close(fd) } }

    /// The next event, or nil when the stored events are exhausted (not following) or
    /// `until` has passed.
    public func next() -> EngineEvent? {
        if !started {
            started = true
            // The previous generation, then the current file through the fd that follows it,
            // so that nothing appended meanwhile is lost or read twice.
            if let data = FileManager.default.contents(atPath: "\(log.path).1") {
                for line in data.split(separator: UInt8(ascii: "\n")) {
                    if let event = try? JSONDecoder().decode(EngineEvent.self, from: Data(line)),
                       EventLog.wanted(event, since: since, until: until, filters: filters) {
                        pending.append(event)
                    }
                }
            }
            openCurrent(atEnd: false)
            drain()
        }
        while true {
            if !pending.isEmpty { return pending.removeFirst() }
            if let until, EventLog.now() > EventLog.nanos(until) { return nil }
            guard follow, !(shouldStop?() ?? false) else { return nil }
            readNew()
            if pending.isEmpty { SystemSupport.sleep(milliseconds: pollMilliseconds) }
        }
    }

    private func openCurrent(atEnd: Bool) {
        if fd >= 0 { close(fd) }
        fd = open(log.path, O_RDONLY | O_CLOEXEC)
        inode = 0
        guard fd >= 0 else { return }
        var st = stat()
        if fstat(fd, &st) == 0 { inode = UInt64(st.st_ino) }
        if atEnd { lseek(fd, 0, SEEK_END) }
    }

    private func readNew() {
        if fd < 0 {
            openCurrent(atEnd: false)
            if fd < 0 { return }
        }
        drain()
        // Rotated (or created anew): finish the old file, then continue with the new one.
        var st = stat()
        if stat(log.path, &st) == 0, UInt64(st.st_ino) != inode {
            drain()
            openCurrent(atEnd: false)
            drain()
        }
    }

    private func drain() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while fd >= 0 {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            partial += buffer[0..<n]
        }
        while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
            let line = Array(partial[..<newline])
            partial.removeSubrange(...newline)
            if let event = try? JSONDecoder().decode(EngineEvent.self, from: Data(line)),
               EventLog.wanted(event, since: since, until: until, filters: filters) {
                pending.append(event)
            }
        }
    }
}

extension Engine {
    /// The event log of this engine's root.
    public var eventLog: EventLog { EventLog(root: root) }

    /// Records an event (the one-line API for every module that has something to report:
    /// `engine.emit(type: .volume, action: "create", id: name)`). Never fails the caller.
    public func emit(type: EngineEvent.Kind, action: String, id: String, attributes: [String: String] = [:]) {
        eventLog.append(EngineEvent(type: type, action: action, id: id, attributes: attributes))
    }

    /// Records a container event with the container's `name` and `image` as attributes.
    func emit(_ action: String, _ record: ContainerRecord, _ extra: [String: String] = [:]) {
        var attributes = record.config.labels
        attributes["name"] = record.name
        attributes["image"] = record.image
        for (key, value) in extra { attributes[key] = value }
        emit(type: .container, action: action, id: record.id, attributes: attributes)
    }

    /// The events from `since` (nil: only new ones when following without `until`, all
    /// stored otherwise) to
    /// `until`, passing `filters`. With `follow`, the iterator keeps returning new events as
    /// they are appended (polling every `pollMilliseconds`) until `until` passes.
    public func events(since: Date? = nil, until: Date? = nil, filters: EventFilters = EventFilters(),
                       follow: Bool = false, pollMilliseconds: Int = 100) -> EventIterator {
        // Docker: without --since only new events, unless --until asks for a past window.
        let start = since ?? (follow && until == nil ? Date() : nil)
        return EventIterator(log: eventLog, since: start, until: until, filters: filters, follow: follow, pollMilliseconds: pollMilliseconds)
    }

    /// The events as an `AsyncStream`, read on a thread of their own (for a daemon); the
    /// stream ends when `until` passes or, without `follow`, when the stored events are done.
    public func eventStream(since: Date? = nil, until: Date? = nil, filters: EventFilters = EventFilters(),
                            follow: Bool = true) -> AsyncStream<EngineEvent> {
        let engine = self
        return AsyncStream { continuation in
            let cancelled = CancelFlag()
            continuation.onTermination = { _ in cancelled.set() }
            let thread = Thread {
                let iterator = engine.events(since: since, until: until, filters: filters, follow: follow)
                iterator.shouldStop = { cancelled.isSet }
                while !cancelled.isSet, let event = iterator.next() {
                    continuation.yield(event)
                }
                continuation.finish()
            }
            thread.start()
        }
    }
}

/// A flag set once, read from another thread.
final class CancelFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
