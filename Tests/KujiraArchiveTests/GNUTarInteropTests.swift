import Foundation
import Glibc
import Testing
@testable import KujiraArchive

@Suite struct GNUTarInteropTests {
    /// Reads an archive GNU tar made and checks every entry against the tree it came from.
    @Test(arguments: ["gnu", "oldgnu", "pax", "ustar", "v7"])
    func readsArchivesMadeByGNUTar(format: String) throws {
        let dir = try TempDir()
        let spec = TreeSpec(withSpecialFiles: format != "v7", withLongNames: ["gnu", "oldgnu", "pax"].contains(format),
                            withXattrs: format == "pax")
        try FileManager.default.createDirectory(atPath: dir.sub("src"), withIntermediateDirectories: true)
        let xattrsSet = try spec.create(at: dir.sub("src"))
        let xattrFlags = format == "pax" ? "--xattrs --xattrs-include='*'" : ""
        try shOK("/usr/bin/tar --format=\(format) --sort=name \(xattrFlags) -cf out.tar -C src .", cwd: dir.path)

        let entries = try readEntries(FileDescriptorSource(path: dir.sub("out.tar")))
        var byPath: [String: (entry: TarEntry, content: [UInt8])] = [:]
        for e in entries { byPath[normalized(e.entry.path)] = e }

        #expect(byPath["."]?.entry.type == .directory)
        #expect(byPath["d"]?.entry.type == .directory)
        #expect(byPath["d/sub"]?.entry.mode == 0o2775)
        #expect(byPath["empty"]?.entry.size == 0)
        #expect(byPath["big.bin"]?.content == TreeSpec.big)
        #expect(byPath["suid"]?.entry.mode == 0o4755)
        #expect(byPath["l"]?.entry.type == .symlink)
        #expect(byPath["l"]?.entry.linkname == "d/f")
        // --sort=name puts d/f before hl: the second is the hard link.
        #expect(byPath["d/f"]?.content == Array("hello\n".utf8))
        #expect(byPath["hl"]?.entry.type == .hardlink)
        #expect(normalized(byPath["hl"]?.entry.linkname ?? "") == "d/f")
        if spec.withSpecialFiles {
            #expect(byPath["p"]?.entry.type == .fifo)
            if isRoot || requirePrivileged {
                #expect(byPath["c"]?.entry.type == .characterDevice)
                #expect(byPath["c"]?.entry.devmajor == 1 && byPath["c"]?.entry.devminor == 3)
            }
        }
        if spec.withLongNames {
            let long = byPath[TreeSpec.longDir + "/" + TreeSpec.longFile]
            #expect(long?.content == Array("deep".utf8))
            #expect(byPath["longlink"]?.entry.linkname == TreeSpec.longTarget)
        }
        if xattrsSet {
            #expect(byPath["d/f"]?.entry.xattrs["user.kujira"] == TreeSpec.xattrValue)
            #expect(byPath["suid"]?.entry.xattrs["security.capability"] == TreeSpec.capability)
        }
        for e in entries { #expect(e.entry.uid == getuid(), "\(e.entry.path)") }
    }

    @Test(.enabled(if: isRoot || requirePrivileged, "creating device nodes with mknod needs root"))
    func readsBlockDevicesAndBase256Fields() throws {
        let dir = try TempDir()
        #expect(mknod(dir.sub("b"), S_IFBLK | 0o600, makedev(8, 1)) == 0)
        try writeFile(dir.sub("f"), [1])
        chown(dir.sub("f"), 3_000_000, 3_000_001)  // too big for 7 octal digits: GNU uses base-256
        try shOK("/usr/bin/tar --format=gnu -cf out.tar b f", cwd: dir.path)
        let entries = try readEntries(FileDescriptorSource(path: dir.sub("out.tar")))
        #expect(entries.map(\.entry.type) == [.blockDevice, .regular])
        #expect(entries[0].entry.devmajor == 8 && entries[0].entry.devminor == 1)
        #expect(entries[1].entry.uid == 3_000_000 && entries[1].entry.gid == 3_000_001)
    }

    @Test func gnuTarListsAndExtractsWhatTarWriterWrites() throws {
        let dir = try TempDir()
        let entries = TarRoundTripTests.cases.map { ($0.1, $0.2) }
        try writeFile(dir.sub("ours.tar"), writeArchive(entries))
        let listed = try shOK("/usr/bin/tar --quoting-style=literal -tf ours.tar", cwd: dir.path)
            .split(separator: "\n").map(String.init)
        #expect(listed == entries.map(\.0.path))
        let verbose = try shOK("/usr/bin/tar --quoting-style=literal -tvf ours.tar", cwd: dir.path)
        #expect(verbose.contains("bin/sh -> busybox"))
        #expect(verbose.contains("crw-rw-rw- 0/0") && verbose.contains("1,3"))

        // Extract the entries that stand alone (no hard links to missing files).
        let standalone = entries.filter { $0.0.type != .hardlink && !$0.0.path.hasPrefix("dev/") }
        try writeFile(dir.sub("alone.tar"), writeArchive(standalone))
        try FileManager.default.createDirectory(atPath: dir.sub("x"), withIntermediateDirectories: true)
        try shOK("/usr/bin/tar --xattrs --xattrs-include='*' -xpf ../alone.tar", cwd: dir.sub("x"))
        #expect(try readFile(dir.sub("x/" + TarRoundTripTests.veryLongName)) == Array("very long".utf8))
        #expect(try readFile(dir.sub("x/données/鯨.txt")) == [9])
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir.sub("x/l2")) == "くじら")
        var st = stat()
        #expect(lstat(dir.sub("x/bin/su"), &st) == 0 && st.st_mode & 0o7777 == 0o4755)
        #expect(lstat(dir.sub("x/ids"), &st) == 0 && st.st_uid == 4_000_000_000 && st.st_gid == 3_000_000)
        #expect(lstat(dir.sub("x/far"), &st) == 0 && st.st_mtim.tv_sec == (1 << 33) + 5)
    }

    @Test(arguments: [false, true])
    func gnuTarExtractsDirectoryArchiverOutputToAnIdenticalTree(xattrs: Bool) throws {
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.sub("src"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.sub("dst"), withIntermediateDirectories: true)
        try TreeSpec(withXattrs: xattrs).create(at: dir.sub("src"))

        func archive(_ root: String) throws -> [UInt8] {
            let sink = MemorySink()
            let writer = TarWriter(sink)
            try DirectoryArchiver().archive(directory: root, to: writer)
            try writer.finish()
            return sink.bytes
        }
        let ours = try archive(dir.sub("src"))
        try writeFile(dir.sub("ours.tar"), ours)
        let listing = try shOK("/usr/bin/tar -tvf ours.tar", cwd: dir.path)
        #expect(listing.contains("hl link to d/f"))
        try shOK("/usr/bin/tar --xattrs --xattrs-include='*' --numeric-owner -xpf ../ours.tar", cwd: dir.sub("dst"))
        // diff reports every pair of special files as different; anything else is a real difference.
        let differences = try sh("diff -r --no-dereference src dst 2>&1", cwd: dir.path).out
            .split(separator: "\n").filter { !$0.contains(" is a fifo while file ") && !$0.contains(" is a character special file while file ") }
        #expect(differences.isEmpty, "\(differences)")
        // Archiving the extracted tree gives the same bytes: same names, types, modes,
        // owners, mtimes, link targets, hard links, device numbers and xattrs.
        #expect(try archive(dir.sub("dst")) == ours)
    }

    @Test(arguments: ["z", "--zstd"])
    func compressedGNUTarStreamsAndDigestObservers(flag: String) throws {
        if flag == "--zstd" && !hasZstdCLI { Issue.record("zstd CLI missing: apt-get install -y zstd"); return }
        let dir = try TempDir()
        try FileManager.default.createDirectory(atPath: dir.sub("src"), withIntermediateDirectories: true)
        try TreeSpec(withSpecialFiles: false).create(at: dir.sub("src"))
        try shOK("/usr/bin/tar --sort=name -c\(flag == "z" ? "z" : "") \(flag == "z" ? "" : flag) -f out.tz -C src .", cwd: dir.path)
        let file = try readFile(dir.sub("out.tz"))
        var compressed: [UInt8] = [], plain = 0
        let raw = ObservingSource(MemorySource(file)) { compressed += $0 }
        let tar = ObservingSource(try decompressingSource(raw, compression: nil, maxDecompressedBytes: 64 << 30)) { plain += $0.count }
        let reader = TarReader(tar)
        var paths: [String] = []
        while let entry = try reader.next() { paths.append(normalized(entry.path)) }
        #expect(paths.contains("big.bin") && paths.contains(TreeSpec.longDir + "/" + TreeSpec.longFile))
        try reader.drainSource()  // GNU tar pads to 10 KiB records: the digest must cover them
        #expect(compressed == file)
        #expect(plain % 10240 == 0)
    }
}
