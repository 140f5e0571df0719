import Testing
@testable import KujiraArchive

@Suite struct TarRoundTripTests {
    static let longName = String(repeating: "d/", count: 60) + "file-with-a-long-name.txt"   // > 100, splittable
    static let veryLongName = String(repeating: "x", count: 120) + "/" + String(repeating: "y", count: 200)  // > 255

    /// (label, entry, content, expects a PAX header)
    static let cases: [(String, TarEntry, [UInt8], Bool)] = [
        ("regular", TarEntry(path: "etc/hostname", type: .regular, mode: 0o644, uid: 1000, gid: 1000, uname: "user", gname: "group", mtime: TarTimestamp(seconds: 1_700_000_000)), Array("whale\n".utf8), false),
        ("empty file", TarEntry(path: "empty", type: .regular), [], false),
        ("block-sized", TarEntry(path: "block", type: .regular), pseudoRandomBytes(1024), false),
        ("setuid", TarEntry(path: "bin/su", type: .regular, mode: 0o4755), [1, 2, 3], false),
        ("setgid+sticky dir", TarEntry(path: "tmp/", type: .directory, mode: 0o3777), [], false),
        ("directory", TarEntry(path: "usr/", type: .directory, mode: 0o755), [], false),
        ("symlink", TarEntry(path: "bin/sh", type: .symlink, mode: 0o777, linkname: "busybox"), [], false),
        ("hardlink", TarEntry(path: "bin/ls", type: .hardlink, linkname: "bin/busybox"), [], false),
        ("char device", TarEntry(path: "dev/null", type: .characterDevice, mode: 0o666, devmajor: 1, devminor: 3), [], false),
        ("block device", TarEntry(path: "dev/sda", type: .blockDevice, mode: 0o660, devmajor: 8, devminor: 0), [], false),
        ("big device numbers", TarEntry(path: "dev/big", type: .characterDevice, devmajor: 4_000_000, devminor: 3_000_000), [], false),
        ("fifo", TarEntry(path: "run/pipe", type: .fifo, mode: 0o600), [], false),
        ("long ustar path", TarEntry(path: longName, type: .regular), Array("long".utf8), false),
        ("path > 255", TarEntry(path: veryLongName, type: .regular), Array("very long".utf8), true),
        ("long dir", TarEntry(path: veryLongName + "-dir/", type: .directory), [], true),
        ("non-ASCII path", TarEntry(path: "données/鯨.txt", type: .regular), [9], true),
        ("long link", TarEntry(path: "l", type: .symlink, linkname: String(repeating: "t/", count: 80)), [], true),
        ("non-ASCII link", TarEntry(path: "l2", type: .symlink, linkname: "くじら"), [], true),
        ("long hardlink", TarEntry(path: "h", type: .hardlink, linkname: veryLongName), [], true),
        ("long uname", TarEntry(path: "o", type: .regular, uname: String(repeating: "u", count: 40), gname: "g"), [], true),
        ("big uid/gid", TarEntry(path: "ids", type: .regular, uid: 4_000_000_000, gid: 3_000_000), [], true),
        ("old mtime", TarEntry(path: "old", type: .regular, mtime: TarTimestamp(seconds: -86_400)), [], true),
        ("far mtime", TarEntry(path: "far", type: .regular, mtime: TarTimestamp(seconds: (1 << 33) + 5)), [], true),
        ("xattrs", TarEntry(path: "bin/ping", type: .regular, mode: 0o755, xattrs: [
            "security.capability": [0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            "user.binary": [0, 0x0a, 0xff, 0x3d, 0x20, 0],
            "user.empty": [],
        ]), Array("ELF".utf8), true),
    ]

    @Test(arguments: 0..<cases.count)
    func writerToReaderRoundTrip(index: Int) throws {
        let (label, entry, content, expectsPAX) = Self.cases[index]
        let bytes = try writeArchive([(entry, content)])
        #expect(bytes.count % 512 == 0, "\(label)")
        #expect(bytes.suffix(1024).allSatisfy { $0 == 0 }, "\(label): ends with two zero blocks")
        #expect((bytes[156] == UInt8(ascii: "x")) == expectsPAX, "\(label): PAX header presence")
        let read = try readEntries(bytes)
        try #require(read.count == 1, "\(label)")
        var expected = entry
        if entry.type.isHeaderOnly { expected.size = 0 } else { expected.size = Int64(content.count) }
        let got = read[0].entry
        #expect(got.path == expected.path, "\(label)")
        #expect(got.type == expected.type, "\(label)")
        #expect(got.mode == expected.mode, "\(label)")
        #expect(got.uid == expected.uid && got.gid == expected.gid, "\(label)")
        #expect(got.uname == expected.uname && got.gname == expected.gname, "\(label)")
        #expect(got.size == expected.size, "\(label)")
        #expect(got.mtime == expected.mtime, "\(label)")
        #expect(got.linkname == expected.linkname, "\(label)")
        #expect(got.devmajor == expected.devmajor && got.devminor == expected.devminor, "\(label)")
        #expect(got.xattrs == expected.xattrs, "\(label)")
        #expect(got.format == (expectsPAX ? .pax : .ustar), "\(label)")
        #expect(read[0].content == content, "\(label)")
    }

    @Test func manyEntriesRoundTripAndWritesAreByteIdentical() throws {
        let entries = Self.cases.map { ($0.1, $0.2) }
        let first = try writeArchive(entries)
        #expect(first == (try writeArchive(entries)))
        let read = try readEntries(first)
        #expect(read.map(\.entry.path) == entries.map(\.0.path))
        #expect(read.map(\.content) == entries.map { $0.0.type.isHeaderOnly ? [] : $0.1 })
    }

    @Test func subsecondMtimeIsWrittenOnlyWhenAsked() throws {
        let entry = TarEntry(path: "f", type: .regular, mtime: TarTimestamp(seconds: 1_600_000_000, nanoseconds: 123_456_700))
        var options = TarWriter.Options()
        let plain = try readEntries(writeArchive([(entry, [])]))
        #expect(plain[0].entry.mtime == TarTimestamp(seconds: 1_600_000_000))
        options.subsecondMtime = true
        let bytes = try writeArchive([(entry, [])], options: options)
        let precise = try readEntries(bytes)
        #expect(precise[0].entry.mtime == entry.mtime)
        #expect(precise[0].entry.paxRecords["mtime"] == "1600000000.1234567")
    }

    @Test func paxHeaderLayoutMatchesGo() throws {
        let bytes = try writeArchive([(TarEntry(path: "a/b/" + String(repeating: "n", count: 200), type: .regular), [])])
        let name = String(decoding: bytes[0..<100].prefix { $0 != 0 }, as: UTF8.self)
        #expect(name.hasPrefix("a/b/PaxHeaders.0/nnnn"))
        #expect(name.utf8.count == 100)
        #expect(Array(bytes[100..<108]) == Array("0000000\0".utf8))  // mode 0
        #expect(Array(bytes[257..<265]) == Array("ustar\u{0}00".utf8))
        #expect(bytes[154] == 0 && bytes[155] == 0x20)                 // checksum "NNNNNN\0 "
        let data = String(decoding: bytes[512..<1024].prefix { $0 != 0 }, as: UTF8.self)
        #expect(data == "214 path=a/b/" + String(repeating: "n", count: 200) + "\n")
    }

    @Test func streamingContentAndPartialReads() throws {
        let big = pseudoRandomBytes(3 << 20 | 5)
        let bytes = try writeArchive([(TarEntry(path: "big", type: .regular), big), (TarEntry(path: "after", type: .regular), [42])])
        let reader = TarReader(MemorySource(bytes))
        _ = try #require(try reader.next())
        var got: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 100_000)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try reader.readContent(into: $0) }
            if n == 0 { break }
            got += chunk[0..<n]
        }
        #expect(got == big)
        let after = try #require(try reader.next())
        #expect(after.path == "after")
        // Skipping unread content is implicit.
        let again = TarReader(MemorySource(bytes))
        _ = try again.next()
        #expect(try again.next()?.path == "after")
        #expect(try again.readContent(limit: 10) == [42])
        #expect(try again.next() == nil)
        #expect(try again.next() == nil)
    }

    @Test func copyContentToFileDescriptor() throws {
        let dir = try TempDir()
        let content = pseudoRandomBytes(2_000_123)
        let bytes = try writeArchive([(TarEntry(path: "f", type: .regular), content)])
        let reader = TarReader(MemorySource(bytes))
        _ = try reader.next()
        let sink = try FileDescriptorSink(path: dir.sub("out"))
        try reader.copyContent(to: sink.fd, name: "out")
        #expect(try readFile(dir.sub("out")) == content)
    }

    @Test func writerRejectsMisuse() throws {
        let writer = TarWriter(MemorySink())
        try writer.writeHeader(TarEntry(path: "f", type: .regular, size: 10))
        try writer.writeContent([1, 2, 3])
        expectArchiveError(.invalidArgument, "short content") { try writer.writeHeader(TarEntry(path: "g", type: .regular)) }
        expectArchiveError(.invalidArgument, "too much content") { try writer.writeContent(pseudoRandomBytes(20)) }
        let other = TarWriter(MemorySink())
        expectArchiveError(.invalidArgument, "empty path") { try other.writeEntry(TarEntry(path: "", type: .regular)) }
        expectArchiveError(.invalidArgument, "NUL in path") { try other.writeEntry(TarEntry(path: "a\0b", type: .regular)) }
        expectArchiveError(.invalidArgument, "= in xattr") { try other.writeEntry(TarEntry(path: "x", type: .regular, xattrs: ["user.a=b": [1]])) }
    }

    @Test func globalPAXHeadersApplyToLaterEntries() throws {
        // A `g` header setting uid and an xattr, then two plain entries; an `x` override.
        let records = PAXRecords.format(key: "uid", value: Array("4242".utf8))
            + PAXRecords.format(key: "SCHILY.xattr.user.g", value: [1, 2])
            + PAXRecords.format(key: "path", value: Array("ignored-global-path".utf8))
        var bytes = TarTestBlocks.header(name: "GlobalHead.0.0", typeflag: "g", size: records.count) + TarTestBlocks.padded(records)
        bytes += TarTestBlocks.header(name: "a", size: 0)
        let local = PAXRecords.format(key: "uid", value: Array("7".utf8))
        bytes += TarTestBlocks.header(name: "PaxHeaders.0/b", typeflag: "x", size: local.count) + TarTestBlocks.padded(local)
        bytes += TarTestBlocks.header(name: "b", size: 0) + [UInt8](repeating: 0, count: 1024)
        let read = try readEntries(bytes)
        #expect(read.map(\.entry.path) == ["a", "b"])
        #expect(read.map(\.entry.uid) == [4242, 7])
        #expect(read[0].entry.xattrs == ["user.g": [1, 2]])
        #expect(read[1].entry.xattrs == ["user.g": [1, 2]])
    }

    @Test func libarchiveXattrsAreDecoded() throws {
        let records = PAXRecords.format(key: "LIBARCHIVE.xattr.user.a%3Db", value: Array("AAEC/w==".utf8))
        let bytes = TarTestBlocks.header(name: "x", typeflag: "x", size: records.count) + TarTestBlocks.padded(records)
            + TarTestBlocks.header(name: "f", size: 0) + [UInt8](repeating: 0, count: 1024)
        #expect(try readEntries(bytes)[0].entry.xattrs == ["user.a=b": [0, 1, 2, 255]])
    }

    @Test func paxTimesParse() {
        #expect(PAXRecords.parseTime(Array("1.5".utf8)) == TarTimestamp(seconds: 1, nanoseconds: 500_000_000))
        #expect(PAXRecords.parseTime(Array("-1.25".utf8)) == TarTimestamp(seconds: -2, nanoseconds: 750_000_000))
        #expect(PAXRecords.parseTime(Array("12.0000000019".utf8)) == TarTimestamp(seconds: 12, nanoseconds: 1))
        #expect(PAXRecords.parseTime(Array("1e5".utf8)) == nil)
        #expect(PAXRecords.formatTime(TarTimestamp(seconds: -2, nanoseconds: 750_000_000)) == Array("-1.25".utf8))
    }
}

/// Builds raw header blocks for tests that need archives the writer would never produce.
enum TarTestBlocks {
    static func header(name: String, typeflag: Character = "0", size: Int, sizeField: [UInt8]? = nil,
                       magic: String = "ustar\u{0}00", mode: String = "0000644", fixChecksum: Bool = true) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 512)
        for (i, c) in name.utf8.prefix(100).enumerated() { b[i] = c }
        for (i, c) in (mode + "\0").utf8.enumerated() { b[100 + i] = c }
        for (i, c) in "0000000\0".utf8.enumerated() { b[108 + i] = c; b[116 + i] = c }
        let sizeBytes = sizeField ?? Array((String(repeating: "0", count: max(0, 11 - String(size, radix: 8).count)) + String(size, radix: 8) + "\0").utf8)
        for (i, c) in sizeBytes.prefix(12).enumerated() { b[124 + i] = c }
        for (i, c) in "00000000000\0".utf8.enumerated() { b[136 + i] = c }
        b[156] = UInt8(ascii: typeflag.unicodeScalars.first ?? "0")
        for (i, c) in magic.utf8.prefix(8).enumerated() { b[257 + i] = c }
        if fixChecksum { setChecksum(&b) }
        return b
    }

    static func setChecksum(_ b: inout [UInt8]) {
        for i in 148..<156 { b[i] = 0x20 }
        let sum = b.reduce(0) { $0 + Int($1) }
        let text = Array((String(repeating: "0", count: 6 - String(sum, radix: 8).count) + String(sum, radix: 8)).utf8)
        for i in 0..<6 { b[148 + i] = text[i] }
        b[154] = 0
        b[155] = 0x20
    }

    static func padded(_ data: [UInt8]) -> [UInt8] {
        data + [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
    }
}
