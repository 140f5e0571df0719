import KujiraOCI

// state.json, and the cgroup handle recorded in it, written and read by hand, without Codable
// (see SpecDecoding.swift for why).
//
// The document is the one CompactJSON's Codable encoder wrote for `ContainerRecord` before
// (members sorted by key, `cgroupPath` omitted when nil), so state files written by earlier
// versions load, and these load in earlier versions, except that `spec` is now the exact bytes of
// the config.json `create` read (already parsed, so valid JSON) instead of the spec encoded
// again: encoding the whole spec through Codable was 3 % of a `run`.

extension ContainerRecord {
    /// The state document: an object with the members in key order.
    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(specJSON.count + 512)
        func key(_ name: String) {
            out.append(out.isEmpty ? UInt8(ascii: "{") : UInt8(ascii: ","))
            JSONWriter.writeString(name, into: &out)
            out.append(UInt8(ascii: ":"))
        }
        key("bundle")
        JSONWriter.writeString(bundle, into: &out)
        if let cgroupPath {
            key("cgroupPath")
            JSONWriter.writeString(cgroupPath, into: &out)
        }
        key("created")
        JSONWriter.writeString(created, into: &out)
        key("id")
        JSONWriter.writeString(id, into: &out)
        key("owner")
        JSONWriter.writeString(owner, into: &out)
        key("pid")
        out += Array(String(pid).utf8)
        key("pidStartTime")
        out += Array(String(pidStartTime).utf8)
        key("rootfs")
        JSONWriter.writeString(rootfs, into: &out)
        key("sharesHostPIDNamespace")
        out += Array((sharesHostPIDNamespace ? "true" : "false").utf8)
        key("spec")
        out += Self.trimmingWhitespace(specJSON)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Decodes a state document (this version's or an earlier one's): the fields in
    /// declaration order, with CompactJSON's messages, and the spec through `Spec(json:)`.
    init(json bytes: [UInt8]) throws {
        var parser = JSONParser(bytes)
        let o = try JSONObjectReader(try parser.parseDocument(), path: "")
        let id = try o.string("id")
        let pid = try o.integer("pid", as: Int32.self)
        let pidStartTime = try o.integer("pidStartTime", as: UInt64.self)
        let bundle = try o.string("bundle")
        let rootfs = try o.string("rootfs")
        let created = try o.string("created")
        let owner = try o.string("owner")
        let (spec, specNode) = try o.object("spec") { (try Spec(json: $0, path: $1), $0) }
        let cgroupPath = try o.optionalString("cgroupPath")
        let sharesHostPIDNamespace = try o.bool("sharesHostPIDNamespace")
        // The spec's text for a later save: the parsed value written back (same JSON value).
        var specJSON: [UInt8] = []
        JSONWriter.write(specNode, into: &specJSON)
        self.init(
            id: id, pid: pid, pidStartTime: pidStartTime, bundle: bundle, rootfs: rootfs, created: created,
            owner: owner, spec: spec, specJSON: specJSON, cgroupPath: cgroupPath,
            sharesHostPIDNamespace: sharesHostPIDNamespace)
    }

    /// `bytes` without JSON whitespace at either end.
    private static func trimmingWhitespace(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, isSpace(bytes[start]) { start += 1 }
        while end > start, isSpace(bytes[end - 1]) { end -= 1 }
        return bytes[start..<end]
    }
}

extension CgroupManagerDriver.Handle {
    /// `{"directories":{…},"path":…}` with the keys sorted: the document CompactJSON's Codable
    /// encoder wrote for the handle before, so recorded handles read both ways.
    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + path.utf8.count + directories.count * 64)
        out += Array(#"{"directories":{"#.utf8)
        for (i, name) in directories.keys.sorted().enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.writeString(name, into: &out)
            out.append(UInt8(ascii: ":"))
            JSONWriter.writeString(directories[name] ?? "", into: &out)
        }
        out += Array(#"},"path":"#.utf8)
        JSONWriter.writeString(path, into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Decodes a recorded handle (fields in declaration order, CompactJSON's messages).
    init(json bytes: [UInt8]) throws {
        var parser = JSONParser(bytes)
        let o = try JSONObjectReader(try parser.parseDocument(), path: "")
        let path = try o.string("path")
        let directories = try o.object("directories") { node, at in
            try JSONValue.dictionary(node, at) { try JSONValue.string($0, $1) }
        }
        self.init(path: path, directories: directories)
    }
}
