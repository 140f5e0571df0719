// A cache of compiled seccomp filters. Compiling a profile with libseccomp costs about 16 ms
// of CPU (Docker's default profile: ~400 rules), the same work for every container that uses
// the same profile. The cache keeps each compiled program in
// `/run/kujira-seccomp-cache/<fnv-1a 64 of the key>` (a tmpfs: gone at reboot). The key is the
// profile's canonical JSON, `noNewPrivileges`, the libseccomp version, the runtime's version
// and the architecture; the file stores the whole key and a hit requires it byte for byte, so
// a hash collision is a miss, never a wrong filter. Files are written to a temporary name and
// renamed (a `kill -9` leaves no partial file under the final name); a file that does not
// parse is a miss. Only a directory owned by the caller's euid and writable by no one else is
// used, and files are opened with O_NOFOLLOW: the cache can never be fed by another user.

import CKujiraSys
import KujiraOCI
import Glibc

enum SeccompCache {
    static let directory = "/run/kujira-seccomp-cache"
    private static let magic = Array("KJSC1\n".utf8)

    /// The compiled program for `section`, from the cache or compiled (and stored).
    static func compile(_ section: LinuxSeccomp, noNewPrivileges: Bool,
                        compiler: (LinuxSeccomp, Bool) throws -> SeccompProgram) throws -> SeccompProgram {
        guard let profile = try? CompactJSON.encode(section) else { return try compiler(section, noNewPrivileges) }
        var arch = utsname()
        uname(&arch)
        let machine = withUnsafeBytes(of: arch.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let key = Array("nnp=\(noNewPrivileges) libseccomp=\(SeccompSpecTerms.libseccompVersion) runtime=\(RuntimeTemplates.version) arch=\(machine)\n".utf8) + profile
        let name = String(fnv1a(key), radix: 16)
        if let directoryFD = openDirectory(create: false), let cached = load(name, key: key, in: directoryFD) {
            close(directoryFD)
            return cached
        }
        let program = try compiler(section, noNewPrivileges)
        if let directoryFD = openDirectory(create: true) {
            store(program, name: name, key: key, in: directoryFD)
            close(directoryFD)
        }
        return program
    }

    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// The cache directory, when it is ours and private; created (0700) when asked.
    private static func openDirectory(create: Bool) -> Int32? {
        if create { _ = mkdir(directory, 0o700) }
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_uid == geteuid(), st.st_mode & 0o022 == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    private static func load(_ name: String, key: [UInt8], in directoryFD: Int32) -> SeccompProgram? {
        let fd = openat(directoryFD, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_uid == geteuid(), st.st_mode & 0o022 == 0, st.st_size < 4 << 20 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress?.advanced(by: offset), $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            offset += n
        }
        var reader = Reader(bytes: bytes)
        guard reader.take(magic.count) == magic, let keyLength = reader.u32(), reader.take(Int(keyLength)) == key,
              let bpfLength = reader.u32(), let bpf = reader.take(Int(bpfLength)), let flags = reader.u32(),
              let needsListener = reader.u32(), let beforeCaps = reader.u32(), let stub = reader.u32(),
              let path = reader.string(), let metadata = reader.string(), let skipped = reader.strings(), let notes = reader.strings(),
              reader.atEnd else { return nil }
        return SeccompProgram(bpf: bpf, flags: flags, needsListener: needsListener != 0,
                              listenerPath: path.isEmpty ? nil : path, listenerMetadata: metadata.isEmpty ? nil : metadata,
                              installBeforeDroppingCapabilities: beforeCaps != 0, skippedSyscalls: skipped, notes: notes,
                              enosysStubLength: Int(stub))
    }

    private static func store(_ program: SeccompProgram, name: String, key: [UInt8], in directoryFD: Int32) {
        var out = magic
        func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { out += $0 } }
        func string(_ text: String?) { let b = Array((text ?? "").utf8); u32(UInt32(b.count)); out += b }
        u32(UInt32(key.count)); out += key
        u32(UInt32(program.bpf.count)); out += program.bpf
        u32(program.flags)
        u32(program.needsListener ? 1 : 0)
        u32(program.installBeforeDroppingCapabilities ? 1 : 0)
        u32(UInt32(program.enosysStubLength))
        string(program.listenerPath)
        string(program.listenerMetadata)
        u32(UInt32(program.skippedSyscalls.count)); program.skippedSyscalls.forEach(string)
        u32(UInt32(program.notes.count)); program.notes.forEach(string)
        // A cache: no fsync, and a failed write only costs a compile next time.
        var stage: Int32 = 0
        _ = out.withUnsafeBytes { kujira_write_file_atomically(directoryFD, name, $0.baseAddress, $0.count, 0o600, 0, &stage) }
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0
        var atEnd: Bool { offset == bytes.count }
        mutating func take(_ count: Int) -> [UInt8]? {
            guard count >= 0, offset + count <= bytes.count else { return nil }
            defer { offset += count }
            return Array(bytes[offset..<(offset + count)])
        }
        mutating func u32() -> UInt32? {
            guard let b = take(4) else { return nil }
            return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
        }
        mutating func strings() -> [String]? {
            guard let count = u32(), count < 1 << 16 else { return nil }
            var result: [String] = []
            for _ in 0..<count {
                guard let text = string() else { return nil }
                result.append(text)
            }
            return result
        }
        mutating func string() -> String? {
            guard let length = u32(), let b = take(Int(length)) else { return nil }
            return String(decoding: b, as: UTF8.self)
        }
    }
}
