import Foundation
import Testing
@testable import KujiraGPU

/// Writes a linker cache in glibc's formats (elf/cache.c): the new format alone, or the old
/// "ld.so-1.7.0" table followed by the new one, as ldconfig before glibc 2.32 did by default.
func makeLDCache(_ entries: [(name: String, path: String, flags: Int32)], withOldFormat: Bool, oldOnly: Bool = false) -> Data {
    func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }
    // The string table: each name and path, NUL-terminated.
    var strings: [UInt8] = []
    var offsets: [(key: Int, value: Int)] = []
    for e in entries {
        let k = strings.count
        strings += Array(e.name.utf8) + [0]
        let v = strings.count
        strings += Array(e.path.utf8) + [0]
        offsets.append((k, v))
    }
    var out: [UInt8] = []
    var newStart = 0
    if withOldFormat || oldOnly {
        out += Array("ld.so-1.7.0".utf8) + [0]
        out += le32(UInt32(entries.count))
        let oldEntriesEnd = 16 + entries.count * 12
        newStart = (oldEntriesEnd + 7) & ~7
        for (i, e) in entries.enumerated() {
            out += le32(UInt32(bitPattern: e.flags))
            if oldOnly {
                // Old format alone: offsets from the string table after the entries.
                out += le32(UInt32(offsets[i].key)) + le32(UInt32(offsets[i].value))
            } else {
                // Combined: the old table points into the new format's strings.
                let stringsStart = newStart + 48 + entries.count * 24
                out += le32(UInt32(stringsStart - oldEntriesEnd + offsets[i].key))
                out += le32(UInt32(stringsStart - oldEntriesEnd + offsets[i].value))
            }
        }
        if oldOnly { return Data(out + strings) }
        while out.count < newStart { out.append(0) }
    }
    let stringsOffset = 48 + entries.count * 24
    out += Array("glibc-ld.so.cache1.1".utf8)
    out += le32(UInt32(entries.count)) + le32(UInt32(strings.count))
    out += [2, 0, 0, 0]  // little-endian
    out += le32(0) + le32(0) + le32(0) + le32(0)  // extension offset, unused[3]
    for (i, e) in entries.enumerated() {
        out += le32(UInt32(bitPattern: e.flags))
        out += le32(UInt32(stringsOffset + offsets[i].key)) + le32(UInt32(stringsOffset + offsets[i].value))
        out += le32(0) + [UInt8](repeating: 0, count: 8)
    }
    return Data(out + strings)
}

private let sample: [(name: String, path: String, flags: Int32)] = [
    ("libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.1", 0x0303),
    ("libcudart.so.12", "/usr/lib/x86_64-linux-gnu/libcudart.so.12", 0x0303),
    ("libcuda.so.1", "/usr/lib/i386-linux-gnu/libcuda.so.1", 0x0003),
    ("libcuda.so", "/usr/lib/x86_64-linux-gnu/libcuda.so", 0x0303),
]

@Test(arguments: [(false, false), (true, false), (false, true)])
func parsesGeneratedCaches(withOld: Bool, oldOnly: Bool) throws {
    let cache = try LDCache(data: makeLDCache(sample, withOldFormat: withOld, oldOnly: oldOnly))
    #expect(cache.entries.map(\.name) == sample.map(\.name))
    #expect(cache.entries.map(\.path) == sample.map(\.path))
    #expect(cache.entries.map(\.flags) == sample.map(\.flags))
    #if arch(x86_64)
    // libcuda.so finds libcuda.so.1 and the bare link, not libcudart; 64-bit only.
    #expect(cache.native(named: "libcuda.so").map(\.path) == ["/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so"])
    #expect(cache.entries[2].is32Bit)
    #endif
}

@Test func rejectsGarbage() {
    #expect(throws: GPUError.self) { try LDCache(data: Data("not a cache at all, really not".utf8)) }
    var truncated = makeLDCache(sample, withOldFormat: false)
    truncated.removeLast(40)
    #expect(throws: GPUError.self) { try LDCache(data: truncated) }
}

@Test(.enabled(if: canBuildFakeHost, "needs root, a C compiler and ldconfig"))
func readsTheCacheRealLdconfigWrites() throws {
    let dir = try TemporaryDirectory()
    try dir.mkdir("usr/lib/x86_64-linux-gnu")
    try dir.write("etc/ld.so.conf", "/usr/lib/x86_64-linux-gnu\n")
    try FakeNVIDIAHost.buildLibrary(dir.path + "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.535.104.05", soname: "libnvidia-ml.so.1")
    let ldconfig = try run("/usr/sbin/ldconfig", ["-r", dir.path])
    #expect(ldconfig.status == 0, "\(ldconfig.output)")
    let cache = try LDCache(root: HostRoot(dir.path))
    let entry = try #require(cache.native(named: "libnvidia-ml.so").first)
    #expect(entry.name == "libnvidia-ml.so.1")
    #expect(entry.path == "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1")
    #expect(HostRoot(dir.path).resolve(entry.path) == "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.535.104.05")
    // The system's own cache parses too, and agrees with `ldconfig -p` on the count.
    if FileManager.default.fileExists(atPath: "/etc/ld.so.cache") {
        let system = try LDCache(root: .system)
        let listing = try run("/usr/sbin/ldconfig", ["-p"])
        let count = listing.output.split(separator: "\n").first.flatMap { Int($0.split(separator: " ").first ?? "") }
        #expect(system.entries.count == count)
    }
}

@Test func hostRootResolvesLinksInside() throws {
    let dir = try TemporaryDirectory()
    try dir.write("usr/lib/real.so.1.2", "x")
    try FileManager.default.createSymbolicLink(atPath: dir.path + "/usr/lib/real.so.1", withDestinationPath: "real.so.1.2")
    try FileManager.default.createSymbolicLink(atPath: dir.path + "/lib", withDestinationPath: "/usr/lib")
    let root = HostRoot(dir.path)
    #expect(root.resolve("/lib/real.so.1") == "/usr/lib/real.so.1.2")
    #expect(root.resolve("/lib/missing") == nil)
    #expect(root.realPath("/lib") == dir.path + "/lib")
    #expect(HostRoot.system.realPath("/a/../b//c") == "/b/c")
}
