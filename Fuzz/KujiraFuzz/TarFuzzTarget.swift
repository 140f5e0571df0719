// The libFuzzer target for the tar reader and the whiteout logic: each input is read as a
// (possibly gzip- or zstd-compressed) tar stream and applied twice, as two layers (or, for
// a "KJ" input, built into layers by LayerScript), by a
// RootfsWriter into a fresh directory inside a sandbox; then the sandbox's canary tree,
// next to the destination, must be exactly as it was. Any write outside the destination,
// a crash or a hang (libFuzzer's -timeout) is a finding. Errors thrown on malformed input
// are the expected outcome, not findings. See Fuzz/README.md.
import Glibc
import KujiraArchive
import KujiraImage

/// The sandbox: `<tmp>/kujira-fuzz-XXXXXX/{canary/, run/}`; `run` is recreated per input.
final class Sandbox {
    let base: String
    var destination: String { base + "/run" }
    let baseline: [String]

    init() {
        var template = Array("/tmp/kujira-fuzz-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { $0.baseAddress.flatMap { mkdtemp($0) } }
        guard let made else { Sandbox.abort("cannot create the sandbox under /tmp") }
        base = String(cString: made)
        // The canary tree: what hostile entries aim at (../canary/file, symlinks to it).
        mkdir(base + "/canary", 0o755)
        mkdir(base + "/canary/dir", 0o755)
        Sandbox.write(base + "/canary/file", "canary\n")
        Sandbox.write(base + "/canary/dir/inner", "inner\n")
        symlink("/etc", base + "/canary/etc-link")
        baseline = Sandbox.listing(base)
        sandboxBase = base
        // A normal exit removes the sandbox; after a finding it stays, for inspection.
        atexit { try? RootfsWriter.removeTree(at: sandboxBase) }
    }

    static func abort(_ why: String) -> Never {
        let message = Array("kujira-fuzz: \(why)\n".utf8)
        _ = message.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
        Glibc.abort()
    }

    static func write(_ path: String, _ text: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { abort("cannot write \(path)") }
        _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// Path, type, mode, owner, size, mtime and (for small files) content of everything
    /// under `path`, except the destination `run`: cheap, the canary tree is tiny.
    static func listing(_ path: String, prefix: String = "") -> [String] {
        guard let dir = opendir(path) else { return ["unreadable \(prefix)"] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." || (prefix.isEmpty && name == "run") { continue }
            names.append(name)
        }
        var lines: [String] = []
        for name in names.sorted() {
            let full = path + "/" + name
            var st = stat()
            guard lstat(full, &st) == 0 else { lines.append("\(prefix)\(name) vanished"); continue }
            var line = "\(prefix)\(name) \(st.st_mode) \(st.st_uid):\(st.st_gid) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(st.st_nlink)"
            if st.st_mode & S_IFMT == S_IFREG {
                let fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
                if fd >= 0 {
                    var buffer = [UInt8](repeating: 0, count: 256)
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    close(fd)
                    line += " " + String(decoding: buffer.prefix(max(n, 0)), as: UTF8.self)
                }
            }
            lines.append(line)
            if st.st_mode & S_IFMT == S_IFDIR { lines += listing(full, prefix: prefix + name + "/") }
        }
        return lines
    }
}

nonisolated(unsafe) let sandbox = Sandbox()
/// The sandbox path for the exit handler (a C function pointer captures nothing).
nonisolated(unsafe) var sandboxBase = ""

/// The layer entry for a tar entry; nil for types a layer does not carry.
func layerEntry(_ entry: TarEntry) -> LayerEntry? {
    let kind: LayerEntry.Kind
    switch entry.type {
    case .regular: kind = .regular
    case .directory: kind = .directory
    case .symlink: kind = .symlink(to: entry.linkname)
    case .hardlink: kind = .hardlink(to: entry.linkname)
    case .characterDevice: kind = .characterDevice(major: entry.devmajor, minor: entry.devminor)
    case .blockDevice: kind = .blockDevice(major: entry.devmajor, minor: entry.devminor)
    case .fifo: kind = .fifo
    case .other: return nil
    }
    return LayerEntry(path: entry.path, kind: kind, mode: entry.mode, uid: entry.uid, gid: entry.gid,
                      mtime: LayerEntry.Timestamp(seconds: entry.mtime.seconds, nanoseconds: entry.mtime.nanoseconds),
                      xattrs: entry.xattrs)
}

/// Reads `bytes` as a tar stream and applies it as one layer.
func applyLayer(_ bytes: [UInt8], to writer: RootfsWriter) throws {
    let source = try decompressingSource(MemorySource(bytes), compression: nil, maxDecompressedBytes: 8 << 20, name: "fuzz input")
    var options = TarReader.Options()
    options.bufferSize = 64 * 1024
    let reader = TarReader(source, options: options)
    writer.beginLayer()
    while let entry = try reader.next() {
        guard let layer = layerEntry(entry) else { continue }
        try writer.apply(layer) { fd in try reader.copyContent(to: fd, name: entry.path) }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let destination = sandbox.destination
    guard mkdir(destination, 0o755) == 0 else { Sandbox.abort("cannot create \(destination) (left over?)") }
    // The last byte picks the whiteout format, so both appliers are fuzzed.
    let format: RootfsWriterOptions.WhiteoutFormat = (bytes.last ?? 0) & 1 == 0 ? .oci : .overlay(xattrNamespace: "user")
    // Devices are skipped: a fuzzer-made block device next to a writer bug is a host risk.
    let options = RootfsWriterOptions(devicePolicy: .skip, whiteoutFormat: format, maxEntries: 10_000)
    do {
        let writer = try RootfsWriter(root: destination, options: options)
        do {
            if bytes.starts(with: LayerScript.magic) {
                for layer in try LayerScript.layers(from: bytes) { try applyLayer(layer, to: writer) }
            } else {
                try applyLayer(bytes, to: writer)
                try applyLayer(bytes, to: writer)
            }
        } catch {
            // Malformed or hostile input refused: the expected outcome for most inputs.
        }
        try? writer.finish()
    } catch {
        Sandbox.abort("cannot open the destination: \(error)")
    }
    let after = Sandbox.listing(sandbox.base)
    if after != sandbox.baseline {
        Sandbox.abort("the sandbox outside the destination changed:\n\(after.filter { !sandbox.baseline.contains($0) })\nwas:\n\(sandbox.baseline.filter { !after.contains($0) })")
    }
    do {
        try RootfsWriter.removeTree(at: destination)
    } catch {
        Sandbox.abort("cannot remove \(destination): \(error)")
    }
    return 0
}
