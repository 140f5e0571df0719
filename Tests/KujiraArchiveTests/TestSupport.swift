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
    #expect(r.status == 0, "command failed: \(command)")
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
