import Foundation
import Glibc
import KujiraArchive
import KujiraOCI
@testable import KujiraImage

/// Whether privileged (root) tests can run; when KUJIRA_REQUIRE_PRIVILEGED=1 they run (and
/// fail) even without root, so CI cannot skip them silently.
let privileged = geteuid() == 0 || requirePrivileged
/// Whether umoci is installed (or must be).
let umociAvailable = which("umoci") != nil || requirePrivileged

/// One entry of a hand-made tar layer.
struct TestEntry {
    var entry: TarEntry
    var content: [UInt8] = []

    static func dir(_ path: String, mode: UInt32 = 0o755) -> TestEntry {
        TestEntry(entry: TarEntry(path: path, type: .directory, mode: mode))
    }
    static func file(_ path: String, _ text: String, mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0,
                     xattrs: [String: [UInt8]] = [:]) -> TestEntry {
        let bytes = Array(text.utf8)
        return TestEntry(entry: TarEntry(path: path, type: .regular, mode: mode, uid: uid, gid: gid, size: Int64(bytes.count), xattrs: xattrs),
                         content: bytes)
    }
    static func symlink(_ path: String, to target: String) -> TestEntry {
        TestEntry(entry: TarEntry(path: path, type: .symlink, mode: 0o777, linkname: target))
    }
    static func hardlink(_ path: String, to target: String) -> TestEntry {
        TestEntry(entry: TarEntry(path: path, type: .hardlink, linkname: target))
    }
    static func whiteout(_ path: String) -> TestEntry {
        TestEntry(entry: TarEntry(path: path, type: .regular, mode: 0o600))
    }
}

/// A layer blob and its digests.
struct TestLayer {
    var blob: [UInt8]
    var descriptor: Descriptor
    var diffID: Digest

    init(_ entries: [TestEntry], compression: Compression = .gzip, endOfArchive: Bool = true) throws {
        let tar = MemorySink()
        let writer = TarWriter(tar)
        for item in entries { try writer.writeEntry(item.entry, content: item.content) }
        if endOfArchive { try writer.finish() }
        try self.init(tar: tar.bytes, compression: compression)
    }

    init(tar: [UInt8], compression: Compression = .gzip) throws {
        let out = MemorySink()
        let sink = try compressingSink(out, compression: compression)
        try tar.withUnsafeBytes { try sink.write($0) }
        try sink.finish()
        blob = out.bytes
        diffID = Digest.sha256(of: tar)
        let mediaType: String
        switch compression {
        case .none: mediaType = MediaType.layer
        case .gzip: mediaType = MediaType.layerGzip
        case .zstd: mediaType = MediaType.layerZstd
        }
        descriptor = Descriptor(mediaType: mediaType, digest: Digest.sha256(of: blob), size: Int64(blob.count))
    }
}

/// Writes `bytes` to a new file at `path`.
func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw ImageStoreError(.io, "cannot create \(path)") }
    defer { close(fd) }
    try bytes.withUnsafeBytes { try FileSystem.writeAll(fd, $0, path: path) }
}

/// Unpacks `layer` into `root` with a fresh writer; returns the result or throws.
@discardableResult
func unpack(_ layer: TestLayer, into root: String, diffID: Digest? = nil, options: LayerUnpackOptions = LayerUnpackOptions(),
            writerOptions: RootfsWriterOptions = RootfsWriterOptions(), blob: [UInt8]? = nil) throws -> LayerUnpackResult {
    let dir = try TemporaryDirectory("kj-blob")
    defer { dir.remove() }
    try writeFile("\(dir.path)/blob", blob ?? layer.blob)
    let fd = open("\(dir.path)/blob", O_RDONLY | O_CLOEXEC)
    defer { close(fd) }
    let writer = try RootfsWriter(root: root, options: writerOptions)
    writer.beginLayer()
    let result = try LayerUnpacker(options: options).unpack(blobFD: fd, layer: layer.descriptor, diffID: diffID ?? layer.diffID, into: writer)
    try writer.finish()
    return result
}

/// An OCI image layout on disk made from hand-made layers, readable by umoci and by
/// ``ImageStore/importImage(from:tag:name:)``.
struct TestLayout {
    let directory: String
    let tag: String

    init(directory: String, tag: String = "latest", layers: [TestLayer], config: ImageConfig = ImageConfig()) throws {
        self.directory = directory
        self.tag = tag
        try FileSystem.makeDirectories("\(directory)/blobs/sha256")
        func put(_ bytes: [UInt8]) throws -> Digest {
            let digest = Digest.sha256(of: bytes)
            try writeFile("\(directory)/blobs/sha256/\(digest.encoded)", bytes)
            return digest
        }
        for layer in layers { _ = try put(layer.blob) }
        var configuration = ImageConfiguration(created: "2024-01-01T00:00:00Z", architecture: "amd64", os: "linux", config: config,
                                               rootfs: RootFS(diffIDs: layers.map(\.diffID)))
        configuration.author = "kujira tests"
        let configBytes = Array(try ImageStore.encode(configuration).utf8)
        let configDescriptor = Descriptor(mediaType: MediaType.imageConfig, digest: try put(configBytes), size: Int64(configBytes.count))
        let manifestBytes = Array(try ImageStore.encode(Manifest(config: configDescriptor, layers: layers.map(\.descriptor))).utf8)
        let manifest = Descriptor(mediaType: MediaType.imageManifest, digest: try put(manifestBytes), size: Int64(manifestBytes.count),
                                  annotations: ["org.opencontainers.image.ref.name": tag])
        try writeFile("\(directory)/index.json", Array(try ImageStore.encode(Index(manifests: [manifest])).utf8))
        try writeFile("\(directory)/oci-layout", Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
    }

    /// Imports the image into `store` as `name`.
    @discardableResult
    func importInto(_ store: ImageStore, name: String) throws -> ImageRecord {
        try store.importImage(from: try OCILayout.read(directory: directory), tag: tag, name: name)
    }
}

/// Runs `umoci unpack` of `layout:tag` into `bundle`.
func umociUnpack(layout: String, tag: String, bundle: String) throws {
    let result = try runTool(which("umoci") ?? "/usr/bin/umoci", ["unpack", "--image", "\(layout):\(tag)", bundle])
    guard result.status == 0 else { throw ImageStoreError(.io, "umoci unpack failed: \(result.output)") }
}

/// A canonical listing of a tree, one line per entry, sorted by path: type, mode, owner,
/// size, content hash, symlink target, hard-link group and xattrs. Times are left out (the
/// acceptance criteria do not include them); directory sizes too (they are filesystem-specific).
func canonicalListing(_ root: String) throws -> [String] {
    var lines: [String] = []
    var inodes: [String: String] = [:]  // "dev:ino" → first path, the hard-link group name
    var paths: [String] = []
    func walk(_ relative: String) {
        paths.append(relative)
        let full = relative.isEmpty ? root : "\(root)/\(relative)"
        var info = stat()
        guard lstat(full, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return }
        for name in ((try? FileSystem.listDirectory(full)) ?? []).sorted() {
            walk(relative.isEmpty ? name : "\(relative)/\(name)")
        }
    }
    walk("")
    for relative in paths.sorted() {
        let full = relative.isEmpty ? root : "\(root)/\(relative)"
        var info = stat()
        guard lstat(full, &info) == 0 else { throw ImageStoreError(.io, "lstat \(full)") }
        let type: String
        var size = "-", hash = "-", target = "-", link = "-"
        switch info.st_mode & S_IFMT {
        case S_IFDIR: type = "dir"
        case S_IFLNK:
            type = "symlink"
            var buffer = [CChar](repeating: 0, count: 4097)
            let n = readlink(full, &buffer, 4096)
            target = String(decoding: buffer[..<max(n, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        case S_IFREG:
            type = "file"
            size = "\(info.st_size)"
            hash = Digest.sha256(of: (try? FileSystem.readFile(full)) ?? []).encoded.prefix(16).description
            if info.st_nlink > 1 {
                let key = "\(info.st_dev):\(info.st_ino)"
                if let first = inodes[key] { link = first } else { inodes[key] = relative; link = relative }
            }
        case S_IFCHR: type = "char \(kujira_major(info.st_rdev)):\(kujira_minor(info.st_rdev))"
        case S_IFBLK: type = "block \(kujira_major(info.st_rdev)):\(kujira_minor(info.st_rdev))"
        case S_IFIFO: type = "fifo"
        default: type = "other"
        }
        let mode = String(info.st_mode & 0o7777, radix: 8)
        lines.append("/\(relative) \(type) \(mode) \(info.st_uid):\(info.st_gid) size=\(size) sha=\(hash) -> \(target) link=\(link) xattrs=\(xattrList(full))")
    }
    return lines
}

/// `name=hex(value)` pairs of a path's xattrs (not following symlinks), sorted.
func xattrList(_ path: String) -> String {
    let size = llistxattr(path, nil, 0)
    guard size > 0 else { return "" }
    var names = [CChar](repeating: 0, count: size)
    let n = llistxattr(path, &names, size)
    guard n > 0 else { return "" }
    let list = names[..<n].split(separator: 0).map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    return list.sorted().map { name in
        var value = [UInt8](repeating: 0, count: 65536)
        let count = lgetxattr(path, name, &value, value.count)
        return "\(name)=\(value[..<max(count, 0)].map { String(format: "%02x", $0) }.joined())"
    }.joined(separator: ",")
}

/// Lines that differ between two listings, for readable failures.
func listingDifference(_ a: [String], _ b: [String]) -> [String] {
    let left = Set(a), right = Set(b)
    return (a.filter { !right.contains($0) }.map { "- \($0)" } + b.filter { !left.contains($0) }.map { "+ \($0)" }).prefix(40).map { $0 }
}

import CKujiraSys
