/// One validated 512-byte header block, before extension records are applied.
struct RawHeader {
    var typeflag: UInt8
    var format: TarFormat
    var size: Int64
    var name: [UInt8]
    var linkname: [UInt8]
    var fields: [UInt8]  // the whole block, for the fields parsed per entry type

    /// Validates the checksum, detects the dialect and parses the size.
    init(_ block: UnsafeRawBufferPointer, offset: UInt64, name stream: String) throws {
        let stored = TarField.parseOctal(UnsafeRawBufferPointer(rebasing: block[TarLayout.checksum]))
        let sums = TarField.checksums(block)
        guard let stored, stored == sums.unsigned || stored == sums.signed else {
            throw ArchiveError(.badChecksum, "tar header at offset \(offset) in \(stream) has a bad checksum (not a tar archive, or corrupt); check the file and its compression")
        }
        typeflag = block[TarLayout.typeflag]
        let magic = Array(block[TarLayout.magic]), version = Array(block[TarLayout.version])
        if magic == Array("ustar\0".utf8) {
            format = .ustar
        } else if magic == Array("ustar ".utf8) && version == [0x20, 0] {
            format = .gnu
        } else {
            format = .v7
        }
        guard let size = TarField.parseNumeric(UnsafeRawBufferPointer(rebasing: block[TarLayout.size])), size >= 0 else {
            throw ArchiveError(.invalidHeader, "tar header at offset \(offset) in \(stream) has an invalid size field (malformed, negative or larger than 2^63); the archive is corrupt or hostile")
        }
        self.size = size
        var nameBytes = Array(TarField.cString(UnsafeRawBufferPointer(rebasing: block[TarLayout.name])))
        if format == .ustar {
            let isStar = Array(block[TarLayout.starTrailer]) == Array("tar\0".utf8)
            let prefix = TarField.cString(UnsafeRawBufferPointer(rebasing: block[isStar ? TarLayout.starPrefix : TarLayout.prefix]))
            if !prefix.isEmpty { nameBytes = Array(prefix) + [UInt8(ascii: "/")] + nameBytes }
        }
        name = nameBytes
        linkname = Array(TarField.cString(UnsafeRawBufferPointer(rebasing: block[TarLayout.linkname])))
        fields = Array(block)
    }

    /// Parses a numeric field, throwing ``ArchiveError/Code/invalidHeader`` naming it.
    func number(_ range: Range<Int>, _ field: String, offset: UInt64, stream: String) throws -> Int64 {
        let value = fields.withUnsafeBytes { TarField.parseNumeric(UnsafeRawBufferPointer(rebasing: $0[range])) }
        guard let value else {
            throw ArchiveError(.invalidHeader, "tar header at offset \(offset) in \(stream) has a malformed \(field) field; the archive is corrupt or hostile")
        }
        return value
    }

    /// A string field as text.
    func string(_ range: Range<Int>) -> String {
        fields.withUnsafeBytes { String(decoding: TarField.cString(UnsafeRawBufferPointer(rebasing: $0[range])), as: UTF8.self) }
    }
}

extension TarReader {
    /// Builds the entry from a header, the pending PAX records and GNU long names, and
    /// positions the reader at its content.
    func makeEntry(_ header: RawHeader, local: [String: [UInt8]], longName: [UInt8]?, longLink: [UInt8]?,
                   offset: UInt64) throws -> TarEntry {
        let stream = streamName
        func invalid(_ why: String) -> ArchiveError {
            ArchiveError(.invalidHeader, "tar entry at offset \(offset) in \(stream): \(why); the archive is corrupt or hostile")
        }
        var records = globalRecordsSnapshot
        for (key, value) in local {
            // POSIX: an empty value deletes the field — except an xattr, whose value may
            // legitimately be empty (Go keeps it too).
            if value.isEmpty && !key.hasPrefix(PAXRecords.schilyXattr) { records[key] = nil } else { records[key] = value }
        }
        var format = header.format
        if !local.isEmpty { format = .pax }
        if longName != nil || longLink != nil { format = .gnu }

        // Precedence as in Go's archive/tar: header fields, then PAX records, then GNU names.
        var pathBytes = records[PAXRecords.path] ?? header.name
        if let longName { pathBytes = longName }
        var linkBytes = records[PAXRecords.linkpath] ?? header.linkname
        if let longLink { linkBytes = longLink }
        guard !pathBytes.isEmpty else { throw invalid("the path is empty") }
        guard !pathBytes.contains(0), !linkBytes.contains(0) else { throw invalid("the path or link name contains a NUL byte") }
        let path = String(decoding: pathBytes, as: UTF8.self)
        setCurrentPath(path)

        var type: TarEntry.EntryType
        switch header.typeflag {
        case 0: type = pathBytes.last == UInt8(ascii: "/") ? .directory : .regular
        case UInt8(ascii: "0"), UInt8(ascii: "7"): type = .regular
        case UInt8(ascii: "1"): type = .hardlink
        case UInt8(ascii: "2"): type = .symlink
        case UInt8(ascii: "3"): type = .characterDevice
        case UInt8(ascii: "4"): type = .blockDevice
        case UInt8(ascii: "5"): type = .directory
        case UInt8(ascii: "6"): type = .fifo
        default: type = .other(header.typeflag)
        }
        if (type == .hardlink || type == .symlink) && linkBytes.isEmpty {
            throw invalid("\(path) is a link with an empty link name")
        }

        let mode = try header.number(TarLayout.mode, "mode", offset: offset, stream: stream)
        func id(_ range: Range<Int>, _ key: String) throws -> UInt32 {
            if let text = records[key] {
                guard let v = PAXRecords.parseDecimal(text, max: Int64(UInt32.max)) else { throw invalid("PAX \(key) is not an id in 0…2^32-1") }
                return UInt32(v)
            }
            let v = try header.number(range, key, offset: offset, stream: stream)
            guard v >= 0 && v <= Int64(UInt32.max) else { throw invalid("\(key) \(v) is out of range") }
            return UInt32(v)
        }
        let uid = try id(TarLayout.uid, PAXRecords.uid)
        let gid = try id(TarLayout.gid, PAXRecords.gid)

        var size = header.size
        if let text = records[PAXRecords.size] {
            guard let v = PAXRecords.parseDecimal(text, max: Int64.max) else { throw invalid("PAX size is not a non-negative integer") }
            size = v
        }
        if type.isHeaderOnly { size = 0 }

        var mtime = TarTimestamp(seconds: try header.number(TarLayout.mtime, "mtime", offset: offset, stream: stream))
        if let text = records[PAXRecords.mtime] {
            guard let t = PAXRecords.parseTime(text) else { throw invalid("PAX mtime is malformed") }
            mtime = t
        }
        var atime: TarTimestamp?
        if let text = records[PAXRecords.atime] {
            guard let t = PAXRecords.parseTime(text) else { throw invalid("PAX atime is malformed") }
            atime = t
        }

        var uname = "", gname = ""
        var devmajor: UInt32 = 0, devminor: UInt32 = 0
        if header.format != .v7 {
            uname = header.string(TarLayout.uname)
            gname = header.string(TarLayout.gname)
            if type == .characterDevice || type == .blockDevice {
                let major = try header.number(TarLayout.devmajor, "devmajor", offset: offset, stream: stream)
                let minor = try header.number(TarLayout.devminor, "devminor", offset: offset, stream: stream)
                guard major >= 0, major <= Int64(UInt32.max), minor >= 0, minor <= Int64(UInt32.max) else {
                    throw invalid("device numbers \(major):\(minor) are out of range")
                }
                devmajor = UInt32(major)
                devminor = UInt32(minor)
            }
        }
        if let text = records[PAXRecords.uname] { uname = String(decoding: text, as: UTF8.self) }
        if let text = records[PAXRecords.gname] { gname = String(decoding: text, as: UTF8.self) }

        var xattrs: [String: [UInt8]] = [:]
        var paxRecords: [String: String] = [:]
        for (key, value) in records {
            paxRecords[key] = String(decoding: value, as: UTF8.self)
            if key.hasPrefix(PAXRecords.libarchiveXattr) {
                let encoded = key.dropFirst(PAXRecords.libarchiveXattr.count)
                guard let name = PAXRecords.percentDecode(encoded), !name.isEmpty,
                      let decoded = PAXRecords.decodeBase64(value) else {
                    throw ArchiveError(.invalidPAXRecord, "invalid \(key) record for \(path) at offset \(offset) in \(stream); the archive is corrupt")
                }
                if xattrs[name] == nil { xattrs[name] = decoded }
            }
        }
        for (key, value) in records where key.hasPrefix(PAXRecords.schilyXattr) {
            let name = String(key.dropFirst(PAXRecords.schilyXattr.count))
            guard !name.isEmpty else { throw ArchiveError(.invalidPAXRecord, "empty SCHILY.xattr name for \(path) at offset \(offset) in \(stream)") }
            xattrs[name] = value
        }

        startContent(size: size)
        return TarEntry(
            path: path, type: type, mode: UInt32(truncatingIfNeeded: mode) & 0o7777, uid: uid, gid: gid,
            uname: uname, gname: gname, size: size, mtime: mtime, atime: atime,
            linkname: String(decoding: linkBytes, as: UTF8.self), devmajor: devmajor, devminor: devminor,
            xattrs: xattrs, paxRecords: paxRecords, format: format)
    }
}
