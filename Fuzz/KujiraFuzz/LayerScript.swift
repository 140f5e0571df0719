// Structure-aware inputs: raw tar bytes rarely survive mutation (every header has a
// checksum), so an input starting with "KJ" is instead a small script of entries that
// TarWriter turns into valid layers. That aims the fuzzer at the path resolution and
// whiteout logic of RootfsWriter (and at TarWriter's encoding) rather than at checksums.
import KujiraArchive

/// Decodes a "KJ" script into tar layers. After the magic, records follow:
/// `op, pathLength, path…, linkLength, link…, mode` (lengths capped by the input).
/// `op % 8`: 0 file, 1 directory, 2 symlink, 3 hard link, 4 fifo, 5 whiteout of `path`
/// (`dir/.wh.name`), 6 opaque marker in directory `path`, 7 starts a new layer.
enum LayerScript {
    static let magic: [UInt8] = [UInt8(ascii: "K"), UInt8(ascii: "J")]

    static func layers(from bytes: [UInt8]) throws -> [[UInt8]] {
        var cursor = magic.count
        func byte() -> UInt8? {
            guard cursor < bytes.count else { return nil }
            defer { cursor += 1 }
            return bytes[cursor]
        }
        func string() -> String? {
            guard let length = byte() else { return nil }
            let end = min(bytes.count, cursor + Int(length))
            defer { cursor = end }
            return String(decoding: bytes[cursor..<end], as: UTF8.self)
        }
        var layers: [[UInt8]] = []
        var sink = MemorySink()
        var writer = TarWriter(sink)
        while let op = byte() {
            guard let path = string(), let link = string(), let mode = byte() else { break }
            let permissions = UInt32(mode) << 4 | 0o4
            switch op % 8 {
            case 0: try writer.writeEntry(TarEntry(path: path, type: .regular, mode: permissions), content: Array(link.utf8))
            case 1: try writer.writeEntry(TarEntry(path: path, type: .directory, mode: permissions | 0o700))
            case 2: try writer.writeEntry(TarEntry(path: path, type: .symlink, linkname: link))
            case 3: try writer.writeEntry(TarEntry(path: path, type: .hardlink, linkname: link))
            case 4: try writer.writeEntry(TarEntry(path: path, type: .fifo, mode: permissions))
            case 5:
                let slash = path.lastIndex(of: "/")
                let parent = slash.map { String(path[...$0]) } ?? ""
                let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
                try writer.writeEntry(TarEntry(path: parent + ".wh." + name, type: .regular))
            case 6: try writer.writeEntry(TarEntry(path: path + "/.wh..wh..opq", type: .regular))
            default:
                try writer.finish()
                layers.append(sink.bytes)
                sink = MemorySink()
                writer = TarWriter(sink)
            }
        }
        try writer.finish()
        layers.append(sink.bytes)
        return layers
    }
}
