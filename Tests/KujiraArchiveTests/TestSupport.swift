import Foundation
import Glibc
import Testing
@testable import KujiraArchive

/// A temporary directory removed when released.
final class TempDir {
    let path: String
    init() throws {
        var template = Array((NSTemporaryDirectory() + "/kujira-archive-XXXXXX").utf8CString)
        guard let p = mkdtemp(&template) else { throw ArchiveError.system("mkdtemp") }
        path = String(cString: p)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func sub(_ name: String) -> String { path + "/" + name }
}

/// Runs `command` with /bin/sh; returns status and stdout.
@discardableResult
func sh(_ command: String, cwd: String? = nil) throws -> (status: Int32, out: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Runs `command` and fails the test when it exits non-zero.
@discardableResult
func shOK(_ command: String, cwd: String? = nil) throws -> String {
    let r = try sh(command, cwd: cwd)
    #expect(r.status == 0, "command failed: \(command)\n\(r.out)")
    return r.out
}

func readFile(_ path: String) throws -> [UInt8] {
    try FileDescriptorSource(path: path).readAll()
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let sink = try FileDescriptorSink(path: path)
    try sink.write(bytes)
}

/// Every entry of an archive with its content.
func readEntries(_ source: any ByteSource, options: TarReader.Options = .init()) throws -> [(entry: TarEntry, content: [UInt8])] {
    let reader = TarReader(source, options: options)
    var result: [(TarEntry, [UInt8])] = []
    while let entry = try reader.next() {
        result.append((entry, try reader.readContent(limit: 1 << 28)))
    }
    return result
}

func readEntries(_ bytes: [UInt8]) throws -> [(entry: TarEntry, content: [UInt8])] {
    try readEntries(MemorySource(bytes))
}

/// Writes entries with TarWriter into memory.
func writeArchive(_ entries: [(TarEntry, [UInt8])], options: TarWriter.Options = .init()) throws -> [UInt8] {
    let sink = MemorySink()
    let writer = TarWriter(sink, options: options)
    for (entry, content) in entries { try writer.writeEntry(entry, content: content) }
    try writer.finish()
    return sink.bytes
}

/// Expects `body` to throw an ArchiveError with `code`.
func expectArchiveError(_ code: ArchiveError.Code, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation,
                        _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected ArchiveError \(code), nothing was thrown. \(comment.map { "\($0)" } ?? "")", sourceLocation: sourceLocation)
    } catch let error as ArchiveError {
        #expect(error.code == code, "got \(error.code): \(error.message). \(comment.map { "\($0)" } ?? "")", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected ArchiveError \(code), got \(error)", sourceLocation: sourceLocation)
    }
}

/// Deterministic pseudo-random bytes (xorshift), incompressible enough for tests.
func pseudoRandomBytes(_ count: Int, seed: UInt64 = 0x9e3779b97f4a7c15) -> [UInt8] {
    var x = seed
    var out = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17
        out[i] = UInt8(truncatingIfNeeded: x)
    }
    return out
}

let isRoot = getuid() == 0
let requirePrivileged = ProcessInfo.processInfo.environment["KUJIRA_REQUIRE_PRIVILEGED"] == "1"
let hasZstdCLI = FileManager.default.isExecutableFile(atPath: "/usr/bin/zstd")

/// `lsetxattr(2)` through dlsym (the Glibc module lacks <sys/xattr.h>).
func setXattr(_ path: String, _ name: String, _ value: [UInt8]) throws {
    typealias Set = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeRawPointer?, Int, Int32) -> Int32
    guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "lsetxattr") else { throw ArchiveError(.io, "no lsetxattr") }
    let fn = unsafeBitCast(sym, to: Set.self)
    let rc = value.withUnsafeBytes { fn(path, name, $0.baseAddress, $0.count, 0) }
    if rc != 0 { throw ArchiveError.system("lsetxattr \(name) on \(path)") }
}

/// A small tree described by a table, created on disk for interop tests.
struct TreeSpec {
    var withSpecialFiles = true   // fifo, and a char device when root
    var withLongNames = true      // > 255 bytes paths, > 100 bytes link targets
    var withXattrs = false

    static let longDir = "long-" + String(repeating: "d", count: 150)
    static let longFile = String(repeating: "f", count: 120) + ".txt"
    static let longTarget = String(repeating: "t", count: 150)
    static let xattrValue: [UInt8] = [0, 1, 0xff, 0x3d, 0x0a]
    static let capability: [UInt8] = [0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00] + [UInt8](repeating: 0, count: 12)
    static let big = pseudoRandomBytes(300_000, seed: 7)

    /// Creates the tree under `root` (which must exist).
    /// - Returns: whether the xattrs were set: `security.capability` needs root and `user.*`
    ///   a filesystem that supports it; without them xattr checks are skipped, unless
    ///   KUJIRA_REQUIRE_PRIVILEGED=1, where failing to set them fails the test.
    @discardableResult
    func create(at root: String) throws -> Bool {
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/d/sub", withIntermediateDirectories: true)
        try writeFile(root + "/d/f", Array("hello\n".utf8))
        try writeFile(root + "/empty", [])
        try writeFile(root + "/big.bin", Self.big)
        try writeFile(root + "/suid", Array("#!/bin/sh\n".utf8))
        chmod(root + "/suid", 0o4755)
        chmod(root + "/d/sub", 0o2775)
        symlink("d/f", root + "/l")
        link(root + "/d/f", root + "/hl")
        if withSpecialFiles {
            mkfifo(root + "/p", 0o600)
            if isRoot || requirePrivileged {
                #expect(mknod(root + "/c", S_IFCHR | 0o666, makedev(1, 3)) == 0, "mknod needs root")
            }
        }
        if withLongNames {
            try fm.createDirectory(atPath: root + "/" + Self.longDir, withIntermediateDirectories: true)
            try writeFile(root + "/" + Self.longDir + "/" + Self.longFile, Array("deep".utf8))
            symlink(Self.longTarget, root + "/longlink")
        }
        guard withXattrs else { return false }
        do {
            try setXattr(root + "/d/f", "user.kujira", Self.xattrValue)
            try setXattr(root + "/suid", "security.capability", Self.capability)
            return true
        } catch {
            if requirePrivileged { throw error }
            return false
        }
    }
}

func makedev(_ major: UInt32, _ minor: UInt32) -> dev_t {
    let ma = UInt64(major), mi = UInt64(minor)
    return dev_t(((ma & 0xfff) << 8) | ((ma & ~0xfff) << 32) | (mi & 0xff) | ((mi & ~0xff) << 12))
}

/// Strips `./` and a trailing `/` so that GNU tar's names compare with ours.
func normalized(_ path: String) -> String {
    var p = Substring(path)
    while p.hasPrefix("./") { p = p.dropFirst(2) }
    while p.hasSuffix("/") && p.count > 1 { p = p.dropLast() }
    return p.isEmpty ? "." : String(p)
}
