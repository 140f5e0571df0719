// The build cache: one small JSON file per step key under `<root>/build-cache/`.
//
// A key is sha256(parent key, the step's text after expansion, and for COPY/ADD a hash of
// the inputs: paths, types, modes, link targets and file content, never mtimes). An entry
// records the layer the step produced. Cache entries are not garbage-collection roots:
// `ImageStore.garbageCollect` may remove a blob only the cache refers to, and a lookup whose
// blob is gone is a miss (GC prunes the cache).

import KujiraOCI
import KujiraImage
import Foundation
import Glibc

/// The layer a cached step produced.
struct BuildCacheEntry: Codable, Sendable, Hashable {
    /// The compressed layer blob; nil when the step changed nothing (WORKDIR of an
    /// existing directory).
    var layer: Descriptor?
    /// Its uncompressed digest.
    var diffID: Digest?
}

/// The cache directory of a store root.
struct BuildCache: Sendable {
    let directory: String
    let content: ContentStore

    init(root: String, content: ContentStore) throws {
        directory = "\(root)/build-cache"
        self.content = content
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw BuildError(.io, "cannot create the build cache \(directory): \(String(cString: strerror(errno)))")
        }
    }

    /// The entry for `key`, or nil (missing, unreadable, or its blob was garbage-collected).
    func lookup(_ key: Digest) -> BuildCacheEntry? {
        guard let data = FileManager.default.contents(atPath: path(key)),
              let entry = try? JSONDecoder().decode(BuildCacheEntry.self, from: data),
              entry.layer.map({ content.contains($0.digest) }) ?? true else { return nil }
        return entry
    }

    /// Records `entry` under `key` (write to a temporary file, fsync, rename).
    func store(_ key: Digest, _ entry: BuildCacheEntry) throws {
        let bytes = Array(try JSONEncoder().encode(entry))
        let final = path(key)
        let temporary = "\(final).tmp.\(getpid()).\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BuildError(.io, "cannot write build cache entry \(temporary): \(String(cString: strerror(errno)))") }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced, rename(temporary, final) == 0 else {
            unlink(temporary)
            throw BuildError(.io, "cannot write build cache entry \(final): \(String(cString: strerror(errno)))")
        }
    }

    private func path(_ key: Digest) -> String { "\(directory)/\(key.encoded).json" }

    /// The key of a step: sha256 over the parent key, the step text and the inputs hash.
    static func key(parent: Digest, text: String, inputs: Digest? = nil) -> Digest {
        var bytes = Array(parent.description.utf8)
        bytes.append(0)
        bytes += Array(text.utf8)
        bytes.append(0)
        if let inputs { bytes += Array(inputs.description.utf8) }
        return Digest.sha256(of: bytes)
    }
}
