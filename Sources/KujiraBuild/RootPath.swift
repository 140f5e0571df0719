// Path resolution inside a mounted stage root filesystem, for reads and existence checks:
// symlinks are followed as if the root were `/` (an absolute link, or `..` at the top, stays
// in the root), like `openat2(RESOLVE_IN_ROOT)`. Writes never use this: they go through
// `RootfsWriter`, which the kernel confines.

import Glibc

enum RootPath {
    /// The host path of `path` inside `root`, with every symlink (the last component
    /// included when `followLast`) resolved inside the root. Missing components are kept
    /// as they are, so the result names where the file would be.
    static func resolve(_ path: String, in root: String, followLast: Bool = true) -> String {
        var resolved: [String] = []
        var pending = components(path)
        var hops = 0
        while !pending.isEmpty {
            let name = pending.removeFirst()
            if name == ".." { _ = resolved.popLast(); continue }
            let candidate = resolved + [name]
            let host = root + "/" + candidate.joined(separator: "/")
            var st = Glibc.stat()
            if (followLast || !pending.isEmpty), lstat(host, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK, hops < 40,
               let target = readLink(host) {
                hops += 1
                if target.hasPrefix("/") { resolved = [] }
                pending = components(target) + pending
                continue
            }
            resolved = candidate
        }
        return root + (resolved.isEmpty ? "" : "/" + resolved.joined(separator: "/"))
    }

    /// `lstat` of the resolved path.
    static func stat(_ path: String, in root: String, followLast: Bool = true) -> Glibc.stat? {
        var st = Glibc.stat()
        return lstat(resolve(path, in: root, followLast: followLast), &st) == 0 ? st : nil
    }

    /// The content of a regular file inside the root, or nil.
    static func read(_ path: String, in root: String) -> [UInt8]? {
        let host = resolve(path, in: root)
        let fd = open(host, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buffer[0..<n]
            if out.count > 16 << 20 { return nil }
        }
        return out
    }

    static func components(_ path: String) -> [String] {
        path.split(separator: "/").map(String.init).filter { $0 != "." && !$0.isEmpty }
    }

    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink(path, &buffer, 4096)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// `--chown` resolution against a stage's /etc/passwd and /etc/group, as BuildKit's file
/// operations do it: a name takes the user's primary group, a number is used as the gid too,
/// `user:group` sets both.
enum ChownResolver {
    /// The uid and gid of `spec` (`user`, `uid`, `user:group`, `uid:gid`, …).
    static func resolve(_ spec: String, root: String) -> Result<(uid: UInt32, gid: UInt32), ChownError> {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let userArg = parts[0]
        let passwd = database("etc/passwd", root: root)
        var uid: UInt32, gid: UInt32
        if let n = UInt32(userArg) {
            uid = n; gid = n
        } else if let entry = passwd.first(where: { $0.count >= 4 && $0[0] == userArg }), let u = UInt32(entry[2]), let g = UInt32(entry[3]) {
            uid = u; gid = g
        } else {
            return .failure(ChownError(message: "unable to find user \(userArg): no matching entries in passwd file"))
        }
        if parts.count > 1 {
            let groupArg = parts[1]
            if let n = UInt32(groupArg) {
                gid = n
            } else if let entry = database("etc/group", root: root).first(where: { $0.count >= 3 && $0[0] == groupArg }), let g = UInt32(entry[2]) {
                gid = g
            } else {
                return .failure(ChownError(message: "unable to find group \(groupArg): no matching entries in group file"))
            }
        }
        return .success((uid, gid))
    }

    static func database(_ path: String, root: String) -> [[String]] {
        guard let bytes = RootPath.read(path, in: root) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n")
            .filter { !$0.hasPrefix("#") }
            .map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
    }
}

/// Why a `--chown` value did not resolve.
struct ChownError: Error {
    var message: String
}
