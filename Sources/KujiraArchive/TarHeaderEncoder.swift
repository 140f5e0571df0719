/// Encodes a ``TarEntry`` as header blocks, choosing ustar or PAX the way Go's archive/tar
/// does, so that GNU tar, bsdtar, umoci and skopeo read the result.
enum TarHeaderEncoder {
    static let nameSize = 100, prefixSize = 155, ownerNameSize = 32
    static let maxOctal7: Int64 = 0o7777777      // 8-byte fields
    static let maxOctal11: Int64 = 0o77777777777 // 12-byte fields

    /// The header block(s) for `entry`: an optional PAX `x` header with its padded
    /// records, then the entry's own header.
    static func encode(_ entry: TarEntry, subsecondMtime: Bool) throws -> [UInt8] {
        func bad(_ why: String) -> ArchiveError {
            ArchiveError(.invalidArgument, "cannot write tar entry \(entry.path): \(why)")
        }
        let path = Array(entry.path.utf8), link = Array(entry.linkname.utf8)
        guard !path.isEmpty else { throw bad("the path is empty") }
        guard !path.contains(0), !link.contains(0) else { throw bad("the path or link name contains a NUL byte") }
        guard entry.size >= 0 else { throw bad("negative size \(entry.size)") }
        let size = entry.type.isHeaderOnly ? 0 : entry.size

        var records: [String: [UInt8]] = [:]
        var ustarOK = true
        // Paths: a long ASCII path may still fit ustar's prefix/name split.
        if path.count > nameSize || !TarField.isASCII(path) {
            records[PAXRecords.path] = path
            if splitUSTARPath(path) == nil { ustarOK = false }
        }
        if link.count > nameSize || !TarField.isASCII(link) {
            records[PAXRecords.linkpath] = link
            ustarOK = false
        }
        for (key, value) in [(PAXRecords.uname, entry.uname), (PAXRecords.gname, entry.gname)] {
            let bytes = Array(value.utf8)
            if bytes.contains(0) { throw bad("\(key) contains a NUL byte") }
            if bytes.count > ownerNameSize || !TarField.isASCII(bytes) { records[key] = bytes; ustarOK = false }
        }
        for (key, value) in [(PAXRecords.uid, Int64(entry.uid)), (PAXRecords.gid, Int64(entry.gid))] where value > maxOctal7 {
            records[key] = Array(String(value).utf8)
            ustarOK = false
        }
        if size > maxOctal11 { records[PAXRecords.size] = Array(String(size).utf8); ustarOK = false }
        let mtime = entry.mtime
        if mtime.seconds < 0 || mtime.seconds > maxOctal11 || (subsecondMtime && mtime.nanoseconds != 0) {
            let written = subsecondMtime ? mtime : TarTimestamp(seconds: mtime.seconds)
            records[PAXRecords.mtime] = PAXRecords.formatTime(written)
            ustarOK = false
        }
        for (name, value) in entry.xattrs {
            guard !name.isEmpty, !name.utf8.contains(0), !name.contains("=") else {
                throw bad("xattr name \"\(name)\" cannot be stored in a PAX record (empty, or contains NUL or '=')")
            }
            records[PAXRecords.schilyXattr + name] = value
            ustarOK = false
        }

        var out: [UInt8] = []
        if !ustarOK {
            var data: [UInt8] = []
            for key in records.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
                data += PAXRecords.format(key: key, value: records[key] ?? [])
            }
            out += block { b in
                TarField.formatString(paxHeaderName(path), into: b, TarLayout.name)
                for field in [TarLayout.mode, TarLayout.uid, TarLayout.gid] { TarField.formatOctal(0, into: b, field) }
                TarField.formatOctal(Int64(data.count), into: b, TarLayout.size)
                TarField.formatOctal(0, into: b, TarLayout.mtime)
                b[TarLayout.typeflag] = UInt8(ascii: "x")
            }
            out += data
            out += [UInt8](repeating: 0, count: TarReader.padding(Int64(data.count)))
        }

        out += block { b in
            if ustarOK, path.count > nameSize, let (prefix, name) = splitUSTARPath(path) {
                TarField.formatString(name, into: b, TarLayout.name)
                TarField.formatString(prefix, into: b, TarLayout.prefix)
            } else {
                TarField.formatString(asciiOnly(path), into: b, TarLayout.name)
            }
            TarField.formatOctal(Int64(entry.mode & 0o7777), into: b, TarLayout.mode)
            TarField.formatOctal(Int64(entry.uid) <= maxOctal7 ? Int64(entry.uid) : 0, into: b, TarLayout.uid)
            TarField.formatOctal(Int64(entry.gid) <= maxOctal7 ? Int64(entry.gid) : 0, into: b, TarLayout.gid)
            TarField.formatOctal(size <= maxOctal11 ? size : 0, into: b, TarLayout.size)
            TarField.formatOctal(TarField.fitsOctal(mtime.seconds, width: 12) ? mtime.seconds : 0, into: b, TarLayout.mtime)
            b[TarLayout.typeflag] = entry.type.typeflag
            TarField.formatString(asciiOnly(link), into: b, TarLayout.linkname)
            TarField.formatString(asciiOnly(Array(entry.uname.utf8)), into: b, TarLayout.uname)
            TarField.formatString(asciiOnly(Array(entry.gname.utf8)), into: b, TarLayout.gname)
            for (value, field) in [(entry.devmajor, TarLayout.devmajor), (entry.devminor, TarLayout.devminor)] {
                if Int64(value) <= maxOctal7 {
                    TarField.formatOctal(Int64(value), into: b, field)
                } else {
                    TarField.formatBase256(Int64(value), into: b, field)  // GNU extension; PAX has no key
                }
            }
        }
        return out
    }

    /// A 512-byte header: `fill` sets the fields, then magic, version and checksum are set.
    private static func block(_ fill: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: TarLayout.blockSize)
        b.withUnsafeMutableBytes { raw in
            fill(raw)
            TarField.formatString(Array("ustar\0".utf8), into: raw, TarLayout.magic)
            TarField.formatString(Array("00".utf8), into: raw, TarLayout.version)
            let sum = TarField.checksums(UnsafeRawBufferPointer(raw)).unsigned
            TarField.formatOctal(sum, into: raw, TarLayout.checksum.lowerBound..<(TarLayout.checksum.upperBound - 1))
            raw[TarLayout.checksum.upperBound - 1] = 0x20
        }
        return b
    }

    /// Go's splitUSTARPath: a prefix of ≤155 bytes and a name of ≤100, split at a `/`.
    static func splitUSTARPath(_ path: [UInt8]) -> (prefix: ArraySlice<UInt8>, name: ArraySlice<UInt8>)? {
        var length = path.count
        guard length > nameSize, TarField.isASCII(path) else { return nil }
        if length > prefixSize + 1 {
            length = prefixSize + 1
        } else if path[length - 1] == UInt8(ascii: "/") {
            length -= 1
        }
        guard let i = path[..<length].lastIndex(of: UInt8(ascii: "/")) else { return nil }
        let nameLength = path.count - i - 1
        guard i > 0, nameLength > 0, nameLength <= nameSize, i <= prefixSize else { return nil }
        return (path[..<i], path[(i + 1)...])
    }

    /// Go's toASCII: drops bytes that are not 7-bit ASCII (the PAX record holds the truth).
    static func asciiOnly(_ bytes: [UInt8]) -> [UInt8] {
        TarField.isASCII(bytes) ? bytes : bytes.filter { $0 != 0 && $0 < 0x80 }
    }

    /// The name Go gives a PAX header: `dir/PaxHeaders.0/file`, ASCII, at most 100 bytes,
    /// without a trailing slash.
    static func paxHeaderName(_ path: [UInt8]) -> [UInt8] {
        var trimmed = path[...]
        while trimmed.count > 1, trimmed.last == UInt8(ascii: "/") { trimmed = trimmed.dropLast() }
        let slash = trimmed.lastIndex(of: UInt8(ascii: "/"))
        let dir = slash.map { Array(trimmed[...$0]) } ?? []
        let file = slash.map { Array(trimmed[($0 + 1)...]) } ?? Array(trimmed)
        var name = asciiOnly(dir + Array("PaxHeaders.0/".utf8) + file)
        if name.count > nameSize { name = Array(name.prefix(nameSize)) }
        while name.last == UInt8(ascii: "/") { name.removeLast() }
        return name
    }
}
