@testable import Kujira
import Foundation
import KujiraNetwork
import Testing

/// `Blocking.run`, the bridge from the synchronous engine to the network manager (an actor).
struct BlockingTests {
    /// An actor whose method suspends in the middle, as the network manager's do.
    actor Counter {
        private var value = 0
        func bump() async -> Int {
            await Task.yield()
            value += 1
            return value
        }
    }

    struct Refused: Error, Equatable {}

    @Test func returnsTheResultAndRethrows() throws {
        let counter = Counter()
        #expect(try Blocking.run { await counter.bump() } == 1)
        #expect(throws: Refused.self) { try Blocking.run { () async throws -> Int in throw Refused() } }
    }

    @Test func callsFromEveryThreadOfTheCooperativePoolAtOnceFinish() async throws {
        // Each child task blocks a thread of Swift's cooperative pool inside the engine, more
        // tasks than the pool has threads, all calling the network manager: waiting for a
        // pool thread to run the async part (as a semaphore over Task.detached did) never
        // finished — the run hung. The calling thread drives the task, and the manager runs
        // on a queue of its own. The test awaits rather than waits, so it holds no pool thread
        // itself (a timed wait here failed under the full suite's load: other tests' blocking
        // work kept the last task from starting, which is not what this checks).
        let directory = NSTemporaryDirectory() + "kujira-blocking-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = NetworkManagerConfiguration(root: directory)
        configuration.tableName = "kujira_blocking_test"
        let manager = try NetworkManager(configuration: configuration)
        let width = 4 * max(2, ProcessInfo.processInfo.activeProcessorCount)
        let finished = await withTaskGroup(of: Int.self) { group in
            for index in 0..<width {
                group.addTask { (try? Blocking.run { try await manager.list().count }) == 0 ? index : -1 }
            }
            var all: [Int] = []
            for await value in group { all.append(value) }
            return all
        }
        #expect(finished.sorted() == Array(0..<width))
    }
}
