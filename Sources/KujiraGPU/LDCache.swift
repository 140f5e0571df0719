// A reader of the dynamic linker's cache, /etc/ld.so.cache, as written by glibc's ldconfig
// (elf/cache.c, sysdeps/generic/dl-cache.h): the "glibc-ld.so.cache1.1" format that glibc
// 2.32 and later write alone, and the old "ld.so-1.7.0" format that older ldconfig wrote in
// front of it. Driver discovery uses it the way nvidia-container-toolkit does: the cache says
// where the linker finds `libcuda.so.1`, whatever the distribution's library directory.

public import Foundation

/// One entry of the linker cache: a library name (usually its soname) and its path.
public struct LDCacheEntry: Hashable, Sendable {
    /// The name the linker looks up, e.g. `libcuda.so.1`.
    public var name: String
    /// The path the linker loads for it, e.g. `/usr/lib/x86_64-linux-gnu/libcuda.so.1`.
    public var path: String
    /// The entry's flags: the library type in the low byte (`3` for ELF libc6) and the
    /// architecture in the next (`0x03` x86-64, `0x0a` AArch64, …).
    public var flags: Int32

    /// Creates a value.
    public init(name: String, path: String, flags: Int32) {
        self.name = name
        self.path = path
        self.flags = flags
    }

    /// `FLAG_ELF_LIBC6`: an ELF library for glibc.
    public static let flagELFLibc6: Int32 = 0x0003
    /// `FLAG_X8664_LIB64`.
    public static let flagX8664Lib64: Int32 = 0x0300
    /// `FLAG_AARCH64_LIB64`.
    public static let flagAArch64Lib64: Int32 = 0x0a00

    /// The architecture flags of the machine Kujira was built for: 64-bit libraries the
    /// container's programs can load.
    public static var nativeArchitectureFlags: Int32 {
        #if arch(x86_64)
        flagX8664Lib64
        #elseif arch(arm64)
        flagAArch64Lib64
        #else
        0
        #endif
    }

    /// Whether the entry is a 64-bit glibc library of this machine's architecture.
    public var isNative: Bool {
        flags & 0xff == LDCacheEntry.flagELFLibc6 && flags & 0xff00 == LDCacheEntry.nativeArchitectureFlags
    }

    /// Whether the entry is a 32-bit glibc library (type libc6 and no architecture bits), the
    /// `compat32` capability's libraries on x86-64.
    public var is32Bit: Bool {
        flags & 0xff == LDCacheEntry.flagELFLibc6 && flags & 0xff00 == 0
    }
}

/// The parsed linker cache.
public struct LDCache: Hashable, Sendable {
    /// The entries, in cache order (the linker's search order).
    public var entries: [LDCacheEntry]

    /// Magic of the old format: `ld.so-1.7.0` (11 bytes, padded to 12).
    static let oldMagic = Array("ld.so-1.7.0".utf8)
    /// Magic and version of the new format: `glibc-ld.so.cache` `1.1`.
    static let newMagic = Array("glibc-ld.so.cache1.1".utf8)

    /// Parses a cache file's contents. `source` names the file in errors.
    public init(data: Data, source: String = "ld.so.cache") throws {
        let bytes = [UInt8](data)
        func fail(_ what: String) -> GPUError {
            GPUError(.hostIO, "\(source): not a valid ld.so.cache: \(what)")
        }
        func u32(_ at: Int) throws -> UInt32 {
            guard at >= 0, at + 4 <= bytes.count else { throw fail("truncated at offset \(at)") }
            return UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }
        func string(_ at: Int) throws -> String {
            guard at >= 0, at < bytes.count else { throw fail("string offset \(at) outside the file") }
            guard let end = bytes[at...].firstIndex(of: 0) else { throw fail("unterminated string at \(at)") }
            return String(decoding: bytes[at..<end], as: UTF8.self)
        }
        var newStart = 0
        var oldEntries: [LDCacheEntry] = []
        if bytes.count >= 16, Array(bytes[0..<11]) == LDCache.oldMagic {
            // struct cache_file { char magic[11]; uint32 nlibs; struct file_entry libs[]; }
            let count = Int(try u32(12))
            let entriesEnd = 16 + count * 12
            guard count < 1 << 24, entriesEnd <= bytes.count else { throw fail("\(count) old-format entries do not fit") }
            // The new format, when present, follows at the next 8-byte boundary.
            let aligned = (entriesEnd + 7) & ~7
            if aligned + LDCache.newMagic.count <= bytes.count,
               Array(bytes[aligned..<(aligned + LDCache.newMagic.count)]) == LDCache.newMagic {
                newStart = aligned
            } else {
                // Old format alone: string offsets count from the end of the entries.
                for i in 0..<count {
                    let base = 16 + i * 12
                    let flags = Int32(bitPattern: try u32(base))
                    let key = try string(entriesEnd + Int(try u32(base + 4)))
                    let value = try string(entriesEnd + Int(try u32(base + 8)))
                    oldEntries.append(LDCacheEntry(name: key, path: value, flags: flags))
                }
                entries = oldEntries
                return
            }
        }
        guard bytes.count >= newStart + 48,
              Array(bytes[newStart..<(newStart + LDCache.newMagic.count)]) == LDCache.newMagic else {
            throw fail("unknown magic (expected glibc-ld.so.cache1.1 or ld.so-1.7.0)")
        }
        // struct cache_file_new { char magic[17]; char version[3]; uint32 nlibs;
        //   uint32 len_strings; uint8 flags; uint8 pad[3]; uint32 extension_offset;
        //   uint32 unused[3]; struct file_entry_new libs[]; }
        // flags & 3: 2 little-endian, 3 big-endian (0 unset by old ldconfig); Kujira reads
        // the little-endian caches of x86-64 and arm64.
        if bytes[newStart + 28] & 3 == 3 {
            throw fail("big-endian caches are not supported")
        }
        let count = Int(try u32(newStart + 20))
        guard count < 1 << 24, newStart + 48 + count * 24 <= bytes.count else {
            throw fail("\(count) entries do not fit")
        }
        var result: [LDCacheEntry] = []
        result.reserveCapacity(count)
        for i in 0..<count {
            // struct file_entry_new { int32 flags; uint32 key, value; uint32 osversion; uint64 hwcap; }
            let base = newStart + 48 + i * 24
            let flags = Int32(bitPattern: try u32(base))
            // Offsets count from the start of the new header.
            let key = try string(newStart + Int(try u32(base + 4)))
            let value = try string(newStart + Int(try u32(base + 8)))
            result.append(LDCacheEntry(name: key, path: value, flags: flags))
        }
        entries = result
    }

    /// Reads `/etc/ld.so.cache` of `root`.
    public init(root: HostRoot, path: String = "/etc/ld.so.cache") throws {
        let real = root.realPath(path)
        guard let data = FileManager.default.contents(atPath: real) else {
            throw GPUError(.hostIO, "cannot read the linker cache \(real); run ldconfig\(root.isSystemRoot ? "" : " -r \(root.path)") to create it")
        }
        try self.init(data: data, source: real)
    }

    /// The native entries whose name starts with `prefix` followed by `.` or end
    /// (`libcuda.so` finds `libcuda.so.1` and `libcuda.so`, not `libcudart.so`).
    public func native(named prefix: String) -> [LDCacheEntry] {
        entries.filter { $0.isNative && ($0.name == prefix || $0.name.hasPrefix(prefix + ".")) }
    }
}
