import Kujira
import Testing

/// Detach key specs and the scanner that finds them in a client's input: no root needed.
struct DetachKeysTests {
    @Test(arguments: [
        ("ctrl-p,ctrl-q", [UInt8(0x10), 0x11]),
        ("ctrl-a", [1]),
        ("ctrl-z", [26]),
        ("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", [0, 27, 28, 29, 30, 31]),
        ("a,b,c", [0x61, 0x62, 0x63]),
        ("ctrl-X,x", [24, 0x78]),
        ("DEL", [127]),
    ])
    func specsParse(spec: String, bytes: [UInt8]) throws {
        #expect(try DetachKeys(parsing: spec).bytes == bytes)
    }

    @Test func noSpecIsCtrlPCtrlQ() throws {
        #expect(try DetachKeys(parsing: nil) == .default)
        #expect(try DetachKeys(parsing: "") == .default)
        #expect(DetachKeys.default.bytes == [0x10, 0x11])
        #expect(DetachKeys.default.description == "ctrl-p,ctrl-q")
        #expect(try DetachKeys(parsing: "ctrl-x,q,ctrl-@").description == "ctrl-x,q,ctrl-@")
    }

    @Test(arguments: ["ctrl-1", "ctrl-pq", "ab", "ctrl-p,,ctrl-q", "ctrl-p,", ",", "shift-a", "é"])
    func badSpecsAreRefusedNamingThem(spec: String) {
        let error = #expect(throws: EngineError.self) { try DetachKeys(parsing: spec) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("invalid detach keys \"\(spec)\"") == true)
    }

    /// Feeds `pieces` in turn; what was forwarded and whether (and at which piece) it detached.
    func scan(_ keys: String, _ pieces: [[UInt8]]) throws -> (forward: [UInt8], detachedAt: Int?) {
        var scanner = DetachKeyScanner(keys: try DetachKeys(parsing: keys))
        var forward: [UInt8] = []
        for (index, piece) in pieces.enumerated() {
            let result = scanner.feed(piece)
            forward += result.forward
            if result.detach { return (forward, index) }
        }
        return (forward + scanner.flush(), nil)
    }

    @Test func sequenceInOneRead() throws {
        let result = try scan("ctrl-p,ctrl-q", [[0x61, 0x10, 0x11, 0x62]])
        #expect(result.forward == [0x61])
        #expect(result.detachedAt == 0)
    }

    @Test func sequenceSplitAcrossReads() throws {
        let result = try scan("ctrl-p,ctrl-q", [[0x61, 0x10], [0x11], [0x62]])
        #expect(result.forward == [0x61])
        #expect(result.detachedAt == 1)
        let long = try scan("a,b,c", [[0x78, 0x61], [], [0x62], [0x63, 0x79]])
        #expect(long.forward == [0x78])
        #expect(long.detachedAt == 3)
    }

    @Test func partialPrefixThenOtherBytesIsForwardedUnchanged() throws {
        // ctrl-p then x: both reach the container, in order, across reads too.
        let result = try scan("ctrl-p,ctrl-q", [[0x10], [0x78, 0x10], [0x10, 0x79]])
        #expect(result.forward == [0x10, 0x78, 0x10, 0x10, 0x79])
        #expect(result.detachedAt == nil)
        // A repeated first key: the second may still start the sequence.
        let repeated = try scan("ctrl-p,ctrl-q", [[0x10, 0x10, 0x11]])
        #expect(repeated.forward == [0x10])
        #expect(repeated.detachedAt == 0)
    }

    @Test func partialPrefixAtTheEndIsHeldUntilFlushed() throws {
        var scanner = DetachKeyScanner(keys: .default)
        let first = scanner.feed([0x61, 0x10])
        #expect(first.forward == [0x61] && !first.detach)
        #expect(scanner.isHolding)
        #expect(scanner.flush() == [0x10])
        #expect(!scanner.isHolding)
        #expect(scanner.feed([0x11]).forward == [0x11])
    }

    @Test func singleKeySequence() throws {
        let result = try scan("ctrl-x", [[0x61, 0x62], [0x18, 0x63]])
        #expect(result.forward == [0x61, 0x62])
        #expect(result.detachedAt == 1)
    }
}
