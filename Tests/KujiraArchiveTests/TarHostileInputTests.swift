import Testing
@testable import KujiraArchive

@Suite struct TarHostileInputTests {
    static let end = [UInt8](repeating: 0, count: 1024)
    static var valid: [UInt8] {
        (try? writeArchive([(TarEntry(path: "a.txt", type: .regular), Array("hello".utf8))])) ?? []
    }

    static func pax(_ records: [UInt8], then name: String = "f") -> [UInt8] {
        TarTestBlocks.header(name: "PaxHeaders.0/f", typeflag: "x", size: records.count) + TarTestBlocks.padded(records)
            + TarTestBlocks.header(name: name, size: 0) + end
    }

    static func base256(_ bytes: [UInt8]) -> [UInt8] { bytes }

    /// (label, archive, expected error code)
    static let cases: [(String, [UInt8], ArchiveError.Code)] = {
        var badChecksum = valid
        badChecksum[10] ^= 1
        var garbageOctalMode = TarTestBlocks.header(name: "m", size: 0, mode: "00006z4")
        garbageOctalMode += end
        var manyPAX: [UInt8] = []
        let record = PAXRecords.format(key: "comment", value: Array("again".utf8))
        for _ in 0..<10_000 {
            manyPAX += TarTestBlocks.header(name: "x", typeflag: "x", size: record.count) + TarTestBlocks.padded(record)
        }
        manyPAX += TarTestBlocks.header(name: "f", size: 0) + end
        return [
            ("bad checksum", badChecksum, .badChecksum),
            ("truncated header", Array(valid[0..<300]), .truncated),
            ("truncated content", TarTestBlocks.header(name: "big", size: 1000) + [UInt8](repeating: 1, count: 100), .truncated),
            ("missing padding", TarTestBlocks.header(name: "p", size: 10) + [UInt8](repeating: 1, count: 10) + [0, 0], .truncated),
            ("absurd base-256 size", TarTestBlocks.header(name: "s", size: 0, sizeField: [0x80, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0]) + end, .invalidHeader),
            ("negative base-256 size", TarTestBlocks.header(name: "s", size: 0, sizeField: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]) + end, .invalidHeader),
            ("garbage octal size", TarTestBlocks.header(name: "s", size: 0, sizeField: Array("00000z00000\0".utf8)) + end, .invalidHeader),
            ("garbage octal mode", garbageOctalMode, .invalidHeader),
            ("PAX record with bad length", pax(Array("9 path=abcdef\n".utf8)), .invalidPAXRecord),
            ("PAX record without newline", pax(Array("11 path=abc ".utf8)), .invalidPAXRecord),
            ("PAX record without =", pax(Array("9 pathab\n".utf8)), .invalidPAXRecord),
            ("PAX length overflow", pax(Array("99999999999999999999999999 path=a\n".utf8)), .invalidPAXRecord),
            ("PAX zero length", pax(Array("0 path=a\n".utf8)), .invalidPAXRecord),
            ("PAX path with NUL", pax(Array("12 path=a\0b\n".utf8)), .invalidPAXRecord),
            ("PAX bad size value", pax(PAXRecords.format(key: "size", value: Array("-5".utf8))), .invalidHeader),
            ("PAX bad uid value", pax(PAXRecords.format(key: "uid", value: Array("99999999999".utf8))), .invalidHeader),
            ("PAX bad mtime value", pax(PAXRecords.format(key: "mtime", value: Array("12x".utf8))), .invalidHeader),
            ("huge PAX header claim", TarTestBlocks.header(name: "x", typeflag: "x", size: 1 << 30) + end, .limitExceeded),
            ("huge GNU long-name claim", TarTestBlocks.header(name: "././@LongLink", typeflag: "L", size: 0o77777777777, magic: "ustar  \0") + end, .limitExceeded),
            ("recursive PAX headers", manyPAX, .limitExceeded),
            ("extension header then end", TarTestBlocks.header(name: "././@LongLink", typeflag: "L", size: 3, magic: "ustar  \0") + TarTestBlocks.padded(Array("abc".utf8)), .truncated),
            ("extension header then zero blocks", TarTestBlocks.header(name: "././@LongLink", typeflag: "L", size: 3, magic: "ustar  \0") + TarTestBlocks.padded(Array("abc".utf8)) + end, .invalidHeader),
            ("zero block then header", [UInt8](repeating: 0, count: 512) + valid, .invalidHeader),
            ("empty path", TarTestBlocks.header(name: "", size: 0) + end, .invalidHeader),
            ("symlink without target", TarTestBlocks.header(name: "l", typeflag: "2", size: 0) + end, .invalidHeader),
            ("random garbage", pseudoRandomBytes(4096, seed: 42), .badChecksum),
            ("text file", Array(String(repeating: "not a tar archive\n", count: 100).utf8), .badChecksum),
            ("huge size, short stream", TarTestBlocks.header(name: "huge", size: 0, sizeField: [0x80, 0, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0]) + pseudoRandomBytes(10_000), .truncated),
        ]
    }()

    @Test(arguments: 0..<cases.count)
    func hostileInputGivesTheRightError(index: Int) {
        let (label, bytes, code) = Self.cases[index]
        expectArchiveError(code, "\(label)") {
            let reader = TarReader(MemorySource(bytes))
            while try reader.next() != nil {}  // content is skipped, never buffered whole
        }
    }

    @Test func benignEdgeCasesAreAccepted() throws {
        #expect(try readEntries([]).isEmpty, "a zero-byte stream is an empty archive")
        #expect(try readEntries([UInt8](repeating: 0, count: 512)).isEmpty, "a single zero block then EOF")
        let noEnd = Array(Self.valid.dropLast(1024))
        #expect(try readEntries(noEnd).map(\.entry.path) == ["a.txt"], "EOF at a block boundary without end blocks")
        #expect(try readEntries(Self.valid + pseudoRandomBytes(999)).count == 1, "trailing data after the end is ignored")
        var signed = TarTestBlocks.header(name: "hi\u{e9}", size: 0, fixChecksum: false)
        signed[2] = 0xe9
        for i in 148..<156 { signed[i] = 0x20 }
        let sum = signed.reduce(0) { $0 + Int(Int8(bitPattern: $1)) }
        for (i, c) in (String(repeating: "0", count: 6 - String(sum, radix: 8).count) + String(sum, radix: 8)).utf8.enumerated() { signed[148 + i] = c }
        signed[154] = 0
        #expect(try readEntries(signed + Self.end).count == 1, "a signed checksum (old Sun tar) is accepted")
    }

    @Test func truncationMessageNamesOffsetAndEntry() throws {
        let bytes = TarTestBlocks.header(name: "etc/passwd", size: 1000) + [UInt8](repeating: 1, count: 100)
        do {
            _ = try readEntries(bytes)
            Issue.record("no error")
        } catch let error as ArchiveError {
            #expect(error.message.contains("truncated tar stream"))
            #expect(error.message.contains("at offset 612"))
            #expect(error.message.contains("in entry etc/passwd"))
        }
    }

    @Test func hugeClaimedSizeIsAStreamingSkip() throws {
        // A header claiming 16 GiB followed by a short stream: the skip in next() must end
        // with a truncation error as soon as the input ends (no allocation, no hang).
        let bytes = TarTestBlocks.header(name: "huge", size: 0, sizeField: [0x80, 0, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0]) + pseudoRandomBytes(1 << 20)
        let reader = TarReader(MemorySource(bytes))
        let entry = try #require(try reader.next())
        #expect(entry.size == 16 << 30)
        expectArchiveError(.limitExceeded) { _ = try reader.readContent(limit: 1 << 20) }
        expectArchiveError(.truncated) { _ = try reader.next() }
    }

    @Test func mutatedArchivesNeverCrash() throws {
        // Flip bytes of a rich archive in many ways: every outcome is entries or an ArchiveError.
        let base = try writeArchive(TarRoundTripTests.cases.map { ($0.1, $0.2) })
        var seed: UInt64 = 0x1234_5678
        func next() -> UInt64 { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return seed }
        var errors = 0
        for round in 0..<1500 {
            var bytes = base
            for _ in 0..<(1 + Int(next() % 8)) {
                let i = Int(next() % UInt64(bytes.count))
                bytes[i] = UInt8(truncatingIfNeeded: next())
            }
            if round % 5 == 0 { bytes = Array(bytes.prefix(Int(next() % UInt64(bytes.count)))) }
            do { _ = try readEntries(bytes) } catch is ArchiveError { errors += 1 } catch {
                Issue.record("round \(round): non-archive error \(error)")
            }
        }
        #expect(errors > 0)
    }
}
