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

    @Test func callsFromEveryThreadOfTheCooperativePoolAtOnceFinish() throws {
        // Each task blocks a thread of Swift's cooperative pool inside the engine, more tasks
        // than the pool has threads, all calling the network manager: waiting for a pool
        // thread to run the async part (as a semaphore over Task.detached did) never finished.
        // The calling thread drives the task, and the manager runs on a queue of its own.
        // The wait below is a liveness guard, not a timing. (With the old bridge the whole
        // pool deadlocked, Swift Testing's own reporting with it: the run hung.)
        let directory = NSTemporaryDirectory() + "kujira-blocking-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = NetworkManagerConfiguration(root: directory)
        configuration.tableName = "kujira_blocking_test"
        let manager = try NetworkManager(configuration: configuration)
        let width = 4 * max(2, ProcessInfo.processInfo.activeProcessorCount)
        let done = DispatchSemaphore(value: 0)
        let results = ResultBox()
        for index in 0..<width {
            Task.detached {
                let count = (try? Blocking.run { try await manager.list().count }) ?? -1
                results.append(count == 0 ? index : -1)
                done.signal()
            }
        }
        var finished = 0
        for _ in 0..<width where done.wait(timeout: .now() + 120) == .success { finished += 1 }
        #expect(finished == width, "only \(finished) of \(width) blocking calls finished")
        #expect(results.values.sorted() == Array(0..<width))
    }

    final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [Int] = []
        func append(_ value: Int) { lock.withLock { stored.append(value) } }
        var values: [Int] { lock.withLock { stored } }
    }
}
