// Crash safety of builds: every build holds an exclusive `flock` on
// `<root>/build-tmp/<build id>.lock` while it runs. The next build that starts on the root
// takes the lock of every build that no longer holds it — killed with `kill -9`, or its
// machine rebooted — and removes what that build left: its RUN containers (killed, with their
// cgroups and runtime state), the overlays of its steps, any mount under its temporary
// directory, and the directory itself.

import KujiraImage
import KujiraRuntime
import Glibc

enum BuildRecovery {
    /// Takes the lock of a new build `id` under `base`; the returned fd holds it until closed.
    static func lock(_ id: String, base: String) throws -> Int32 {
        let path = "\(base)/\(id).lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BuildError(.io, "cannot create \(path): \(String(cString: strerror(errno)))") }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                close(fd)
                throw BuildError(.io, "cannot lock \(path): \(String(cString: strerror(errno)))")
            }
        }
        return fd
    }

    /// Removes the leftovers of every build under `base` whose lock is free.
    static func recoverAbandoned(base: String, snapshots: SnapshotStore, runtime: ContainerRuntime) {
        guard let names = listDirectory(base) else { return }
        for name in names where name.hasSuffix(".lock") {
            let id = String(name.dropLast(5))
            let fd = open("\(base)/\(name)", O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }  // that build still runs
            removeLeftovers(of: id, base: base, snapshots: snapshots, runtime: runtime)
            unlink("\(base)/\(name)")
        }
    }

    static func removeLeftovers(of id: String, base: String, snapshots: SnapshotStore, runtime: ContainerRuntime) {
        let prefix = id + "-"
        for state in (try? runtime.list()) ?? [] where state.id.hasPrefix(prefix) {
            try? runtime.delete(id: state.id, force: true)
        }
        for name in listDirectory("\(snapshots.root)/containers") ?? [] where name.hasPrefix(prefix) {
            try? snapshots.removeRootfs(containerID: name)
        }
        let directory = "\(base)/\(id)"
        for mountPoint in mounts(under: directory).sorted(by: { $0.count > $1.count }) {
            _ = umount2(mountPoint, Int32(MNT_DETACH))
        }
        try? RootfsWriter.removeTree(at: directory)
    }

    /// Mount points at or below `directory` in this mount namespace.
    static func mounts(under directory: String) -> [String] {
        let fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { return nil }
            let point = unescape(String(fields[4]))
            return point == directory || point.hasPrefix(directory + "/") ? point : nil
        }
    }

    /// mountinfo's octal escapes (`\040` for a space).
    static func unescape(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var out: [UInt8] = []
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x5c, i + 3 < bytes.count, let value = UInt8(String(decoding: bytes[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(value)
                i += 4
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func listDirectory(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
