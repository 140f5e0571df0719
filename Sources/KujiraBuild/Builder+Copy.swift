// COPY and ADD: the planned items are written into an overlay of the stage (no container
// runs), and the overlay's upper directory becomes the layer, exactly as for RUN, so parent
// directories, symlinked destinations and existing files behave as they would for a RUN.
//
// Ownership follows Docker: files from the context belong to root (0:0), files from
// another stage keep their owners, `--chown` sets both for every copied entry (a name takes
// the user's primary group, a number is also the gid). `--chmod` (octal) sets the mode of
// every copied file and directory. Modification times are kept (and clamped by
// SOURCE_DATE_EPOCH). Hard links are copied as separate files.

import KujiraOCI
import KujiraImage
import KujiraDockerfile
import KujiraArchive
import Glibc

extension BuildRun {
    /// Writes `plan` into a working rootfs of `image`; returns the layer.
    func copyStep(_ plan: CopyPlan, image: StageImage, rootfs: WorkingRootfs, context: StepContext) throws -> (Descriptor, Digest) {
        // Directories the copy creates belong to --chown's owner too, as with BuildKit.
        for directory in plan.directories {
            try ensureDirectory(directory, in: rootfs.target, owner: plan.owner)
        }
        let writer = try RootfsWriter(root: rootfs.target)
        for item in plan.items {
            let mtime = LayerEntry.Timestamp(seconds: item.mtime, nanoseconds: item.mtimeNanoseconds)
            switch item.content {
            case .directory:
                try writer.apply(LayerEntry(path: item.destination, kind: .directory, mode: item.mode, uid: item.uid, gid: item.gid, mtime: mtime))
            case .symlink(let target):
                try writer.apply(LayerEntry(path: item.destination, kind: .symlink(to: target), mode: 0o777, uid: item.uid, gid: item.gid, mtime: mtime))
            case .bytes(let bytes):
                try writer.apply(LayerEntry(path: item.destination, kind: .regular, mode: item.mode, uid: item.uid, gid: item.gid, mtime: mtime)) { fd in
                    try Self.writeAll(bytes, to: fd, name: item.destination)
                }
            case .file(let source):
                try writer.apply(LayerEntry(path: item.destination, kind: .regular, mode: item.mode, uid: item.uid, gid: item.gid, mtime: mtime)) { fd in
                    try Self.copyFile(source, to: fd, name: item.destination)
                }
            case .archive(let source):
                try Self.unpackArchive(source, into: item.destination, writer: writer, owner: plan.owner, context: context)
            }
        }
        try writer.finish()
        return try commitLayer { tar in try rootfs.diff(to: tar, clampMtime: options.sourceDateEpoch) }
    }

    /// Unpacks the tar (plain, gzip or zstd) at `source` under `directory` of the writer's root.
    /// Entries keep their modes and owners (`--chown` overrides); the writer confines every
    /// path to the root. Whiteout-named entries (`.wh.*`) are skipped, not applied.
    static func unpackArchive(_ source: String, into directory: String, writer: RootfsWriter, owner: (uid: UInt32, gid: UInt32)?,
                              context: StepContext) throws {
        let input: FileDescriptorSource
        do { input = try FileDescriptorSource(path: source) } catch {
            throw context.error(.io, "cannot read \(source): \(error)", cause: error)
        }
        let base = RootPath.components(directory).joined(separator: "/")
        do {
            let reader = TarReader(try decompressingSource(input, compression: nil, name: source))
            while let entry = try reader.next() {
                let parts = RootPath.components(entry.path)
                if parts.isEmpty || parts.last?.hasPrefix(".wh.") == true { try reader.skipContent(); continue }
                let path = (base.isEmpty ? "" : base + "/") + parts.joined(separator: "/")
                guard var kind = LayerEntry.Kind(entry) else {
                    let flag: String
                    if case .other(let raw) = entry.type { flag = "\(raw)" } else { flag = "?" }
                    throw context.error(.invalidArgument, "ADD \(source): entry \(entry.path) has the unsupported tar type \(flag)")
                }
                if case .hardlink = kind {
                    let target = RootPath.components(entry.linkname).joined(separator: "/")
                    kind = .hardlink(target: Array(((base.isEmpty ? "" : base + "/") + target).utf8))
                }
                let layerEntry = LayerEntry(pathBytes: Array(path.utf8), kind: kind, mode: entry.mode,
                                            uid: owner?.uid ?? entry.uid, gid: owner?.gid ?? entry.gid,
                                            mtime: .init(seconds: entry.mtime.seconds, nanoseconds: entry.mtime.nanoseconds))
                if case .regular = kind {
                    try writer.apply(layerEntry) { fd in
                        try reader.forEachContentChunk { chunk in try Self.writeAll(Array(chunk), to: fd, name: path) }
                    }
                } else {
                    try writer.apply(layerEntry)
                }
            }
        } catch let error as BuildError {
            throw error
        } catch {
            throw context.error(.invalidArgument, "ADD \(source): cannot unpack the archive: \(error)", cause: error)
        }
    }

    static func writeAll(_ bytes: [UInt8], to fd: Int32, name: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress?.advanced(by: offset), $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw BuildError(.io, "cannot write \(name): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    static func copyFile(_ source: String, to fd: Int32, name: String) throws {
        let input = open(source, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard input >= 0 else { throw BuildError(.io, "cannot read \(source): \(String(cString: strerror(errno)))") }
        defer { close(input) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw BuildError(.io, "cannot read \(source): \(String(cString: strerror(errno)))")
            }
            if n == 0 { return }
            try writeAll(Array(buffer[0..<n]), to: fd, name: name)
        }
    }
}
