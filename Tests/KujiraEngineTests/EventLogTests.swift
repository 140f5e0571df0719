@testable import Kujira
import Foundation
import Testing

/// The event log and the config-change parser: no root needed.
struct EventLogTests {
    func temporaryRoot() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kujira-events-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func concurrentAppendsKeepWholeLines() throws {
        let root = try temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let log = EventLog(root: root, maximumBytes: 64 << 20)
        DispatchQueue.concurrentPerform(iterations: 8) { writer in
            for index in 0..<200 {
                log.append(EngineEvent(type: .container, action: "start", id: "writer\(writer)", attributes: ["n": String(index)]))
            }
        }
        let events = log.read()
        #expect(events.count == 1600)
        for writer in 0..<8 {
            let numbers = events.filter { $0.actor.id == "writer\(writer)" }.compactMap { Int($0.actor.attributes["n"] ?? "") }
            #expect(numbers == Array(0..<200))
        }
    }

    @Test func rotationKeepsThePreviousGeneration() throws {
        let root = try temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let log = EventLog(root: root, maximumBytes: 2048)
        for index in 0..<100 { log.append(EngineEvent(type: .image, action: "tag", id: "img\(index)")) }
        #expect(FileManager.default.fileExists(atPath: "\(root)/events.jsonl.1"))
        let size = (try FileManager.default.attributesOfItem(atPath: "\(root)/events.jsonl")[.size] as? Int) ?? 0
        #expect(size <= 2048 + 512)
        let ids = log.read().map(\.actor.id)
        #expect(ids.last == "img99")
        #expect(ids == ids.sorted { Int($0.dropFirst(3)) ?? 0 < Int($1.dropFirst(3)) ?? 0 })
    }

    @Test func filtersMatchTypeActionAndName() throws {
        let filters = try EventFilters.parse(["type=container", "event=die", "container=web"])
        let die = EngineEvent(type: .container, action: "die", id: String(repeating: "a", count: 64), attributes: ["name": "web"])
        #expect(filters.matches(die))
        #expect(!filters.matches(EngineEvent(type: .container, action: "start", id: die.actor.id, attributes: ["name": "web"])))
        #expect(!filters.matches(EngineEvent(type: .container, action: "die", id: die.actor.id, attributes: ["name": "db"])))
        #expect(throws: EngineError.self) { try EventFilters.parse(["colour=red"]) }
    }

    @Test func aFollowingIteratorSeesNewEventsAcrossARotation() throws {
        let root = try temporaryRoot(), state = try temporaryRoot()
        defer {
            try? FileManager.default.removeItem(atPath: root)
            try? FileManager.default.removeItem(atPath: state)
        }
        let engine = try Engine(root: root, state: state)
        engine.emit(type: .container, action: "create", id: "old")
        let iterator = engine.events(follow: true, pollMilliseconds: 5)
        engine.emit(type: .container, action: "start", id: "new")
        #expect(iterator.next()?.actor.id == "new")
        // Rotate the file under the follower, then append to the new one.
        rename("\(root)/events.jsonl", "\(root)/events.jsonl.1")
        engine.emit(type: .container, action: "die", id: "after")
        #expect(iterator.next()?.actor.id == "after")
        // A window in the past ends.
        let past = engine.events(since: Date(timeIntervalSince1970: 0), until: Date(), follow: true)
        #expect(past.map(\.action) == ["create", "start", "die"])
    }

    @Test func configChangesApply() throws {
        let config = try ImageConfigChange.apply(["CMD [\"sh\", \"-c\", \"true\"]", "ENV A=1 B=\"two words\"", "EXPOSE 80 53/udp",
                                                  "WORKDIR /srv", "USER nobody", "LABEL k=v", "VOLUME /data", "STOPSIGNAL SIGINT"],
                                                 to: .init())
        #expect(config.cmd == ["sh", "-c", "true"])
        #expect(config.env == ["A=1", "B=two words"])
        #expect(config.exposedPorts?.keys == ["80/tcp", "53/udp"])
        #expect(config.workingDir == "/srv" && config.user == "nobody" && config.labels == ["k": "v"])
        #expect(config.volumes?.keys == ["/data"] && config.stopSignal == "SIGINT")
        #expect(throws: EngineError.self) { try ImageConfigChange.apply(["RUN echo"], to: .init()) }
    }
}
