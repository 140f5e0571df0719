@testable import Kujira
import Foundation
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
        // than the pool has threads: waiting for a pool thread to run the async part (as a
        // semaphore over Task.detached did) never finished here. The calling thread drives the
        // work instead. The wait below is a liveness guard, not a timing. (With the old bridge
        // the whole pool deadlocked, Swift Testing's own reporting with it: the run hung.)
        let counter = Counter()
        let width = 4 * max(2, ProcessInfo.processInfo.activeProcessorCount)
        let done = DispatchSemaphore(value: 0)
        let results = ResultBox()
        for _ in 0..<width {
            Task.detached {
                let value = (try? Blocking.run { await counter.bump() }) ?? -1
                results.append(value)
                done.signal()
            }
        }
        var finished = 0
        for _ in 0..<width where done.wait(timeout: .now() + 120) == .success { finished += 1 }
        #expect(finished == width, "only \(finished) of \(width) blocking calls finished")
        #expect(results.values.sorted() == Array(1...width))
    }

    final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [Int] = []
        func append(_ value: Int) { lock.withLock { stored.append(value) } }
        var values: [Int] { lock.withLock { stored } }
    }
}
