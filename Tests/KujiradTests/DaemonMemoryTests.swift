import Testing
@testable import KujiraDaemon

/// What the daemon remembers per container and per exec stays bounded in a daemon that runs
/// for months.
@Suite("kujirad's in-memory bookkeeping is bounded")
struct DaemonMemoryTests {
    @Test func removedExitCodesKeepTheNewest() {
        var memory = Daemon.Memory()
        let count = Daemon.Memory.limit + 10
        for index in 0..<count { memory.rememberRemoved("c\(index)", Int32(index % 256)) }
        #expect(memory.removedExitCodes.count == Daemon.Memory.limit)
        #expect(memory.removedOrder.count == Daemon.Memory.limit)
        #expect(memory.removedExitCodes["c0"] == nil)
        #expect(memory.removedExitCodes["c\(count - 1)"] == Int32((count - 1) % 256))
        // Remembering an id again does not count it twice.
        memory.rememberRemoved("c\(count - 1)", 3)
        #expect(memory.removedOrder.count == Daemon.Memory.limit)
        #expect(memory.removedExitCodes["c\(count - 1)"] == 3)
    }

    @Test func execEntriesArePrunedOnlyPastTheLimit() {
        var memory = Daemon.Memory()
        for index in 0..<10 { memory.execStdin["e\(index)"] = true }
        #expect(memory.execIDsToCheck.isEmpty)
        for index in 0..<Daemon.Memory.limit { memory.execStdin["x\(index)"] = false }
        memory.execFailures["e1"] = 127
        #expect(Set(memory.execIDsToCheck).count == Daemon.Memory.limit + 10)
        memory.forgetExecs((0..<Daemon.Memory.limit).map { "x\($0)" } + ["e1"])
        #expect(memory.execStdin.count == 9)
        #expect(memory.execFailures.isEmpty)
        #expect(memory.execIDsToCheck.isEmpty)
    }
}
