// RUN --mount, --network and --security.
// Reference: Dockerfile reference, "RUN --mount"; BuildKit instructions/commands_runmount.go.

enum RunFlags {
    static let mountKeys = [
        "type", "from", "source", "target", "readonly", "id", "sharing", "required", "size", "mode", "uid", "gid",
        "src", "dst", "destination", "ro", "rw", "readwrite", "env",
    ]

    /// Go's `encoding/csv` reading one record (fields separated by `,`, `"` quoting).
    static func csvFields(_ line: String) -> Result<[String], ValueError> {
        if line.isEmpty { return .failure(ValueError("failed to parse csv mounts: EOF")) }
        // Without quotes a record is its `,`-separated fields: split the bytes directly.
        if !line.utf8.contains(UInt8(ascii: "\"")) {
            var fields: [String] = []
            var start = line.utf8.startIndex
            for i in line.utf8.indices where line.utf8[i] == UInt8(ascii: ",") {
                fields.append(String(decoding: line.utf8[start..<i], as: UTF8.self))
                start = line.utf8.index(after: i)
            }
            fields.append(String(decoding: line.utf8[start...], as: UTF8.self))
            return .success(fields)
        }
        return quotedCSVFields(line)
    }

    /// `csvFields` scalar by scalar, quotes handled (no fast path): the general reader.
    static func quotedCSVFields(_ line: String) -> Result<[String], ValueError> {
        if line.isEmpty { return .failure(ValueError("failed to parse csv mounts: EOF")) }
        var fields: [String] = []
        let chars = Array(line.unicodeScalars)
        var i = 0
        while true {
            var field = ""
            if i < chars.count, chars[i] == "\"" {
                i += 1
                var closed = false
                while i < chars.count {
                    if chars[i] == "\"" {
                        if i + 1 < chars.count, chars[i + 1] == "\"" { field.append("\""); i += 2; continue }
                        i += 1
                        closed = true
                        break
                    }
                    field.unicodeScalars.append(chars[i])
                    i += 1
                }
                if !closed {
                    return .failure(ValueError("failed to parse csv mounts: parse error on line 1, column \(chars.count + 1): extraneous or missing \" in quoted-field"))
                }
                if i < chars.count, chars[i] != "," {
                    return .failure(ValueError("failed to parse csv mounts: parse error on line 1, column \(i + 1): extraneous or missing \" in quoted-field"))
                }
            } else {
                while i < chars.count, chars[i] != "," {
                    if chars[i] == "\"" {
                        return .failure(ValueError("failed to parse csv mounts: parse error on line 1, column \(i + 1): bare \" in non-quoted-field"))
                    }
                    field.unicodeScalars.append(chars[i])
                    i += 1
                }
            }
            fields.append(field)
            if i < chars.count, chars[i] == "," { i += 1; continue }
            break
        }
        return .success(fields)
    }

    /// Parses one `--mount` value. Fields whose value still holds a variable reference are
    /// kept for expansion and not checked here (BuildKit checks them after expansion).
    static func mount(_ raw: String, expander: ((String) -> Result<String, ValueError>)? = nil) -> Result<RunMount, ValueError> {
        let expanded = expander != nil
        let fields: [String]
        switch csvFields(raw) {
        case .failure(let e): return .failure(e)
        case .success(let f): fields = f
        }
        var m = RunMount()
        m.raw = raw
        var roAuto = true
        for field in fields {
            let parts = keyValue(field)
            let key = parts[0].lowercased()
            if parts.count == 1 {
                switch key {
                case "readonly", "ro": m.readOnly = true; roAuto = false; continue
                case "readwrite", "rw": m.readOnly = false; roAuto = false; continue
                case "required":
                    guard m.type == .secret || m.type == .ssh else {
                        return .failure(ValueError("unexpected key '\(key)' for mount type '\(m.type.rawValue)'"))
                    }
                    m.required = true
                    continue
                default:
                    return .failure(ValueError("invalid field '\(field)' must be a key=value pair"))
                }
            }
            var value = parts[1]
            if let expander {
                switch expander(value) {
                case .failure(let e): return .failure(e)
                case .success(let v): value = v
                }
            }
            if key == "from" && !expanded && containsVariable(value) {
                return .failure(ValueError("'\(key)' doesn't support variable expansion, define alias stage instead"))
            }
            if !expanded && containsVariable(value) { continue }
            func bool() -> Bool? {
                switch value.lowercased() {
                case "1", "t", "true": return true
                case "0", "f", "false": return false
                default: return nil
                }
            }
            switch key {
            case "type":
                guard let t = RunMount.Kind(rawValue: value.lowercased()) else {
                    return .failure(ValueError(Suggest.wrap(
                        "unsupported mount type \(GoText.quote(value))", value: value,
                        candidates: RunMount.Kind.allCases.map(\.rawValue))))
                }
                m.type = t
            case "from": m.from = value
            case "source", "src": m.source = value
            case "target", "dst", "destination": m.target = value
            case "readonly", "ro":
                guard let b = bool() else { return .failure(ValueError("invalid value for \(key): \(value)")) }
                m.readOnly = b
                roAuto = false
            case "readwrite", "rw":
                guard let b = bool() else { return .failure(ValueError("invalid value for \(key): \(value)")) }
                m.readOnly = !b
                roAuto = false
            case "required":
                guard m.type == .secret || m.type == .ssh else {
                    return .failure(ValueError("unexpected key '\(key)' for mount type '\(m.type.rawValue)'"))
                }
                guard let b = bool() else { return .failure(ValueError("invalid value for \(key): \(value)")) }
                m.required = b
            case "id": m.id = value
            case "sharing":
                guard ["shared", "private", "locked"].contains(value.lowercased()) else {
                    return .failure(ValueError("unsupported sharing value \(GoText.quote(value))"))
                }
                m.sharing = value.lowercased()
            case "size":
                guard m.type == .tmpfs else {
                    return .failure(ValueError("unexpected key '\(key)' for mount type '\(m.type.rawValue)'"))
                }
                guard let n = ValueParsers.bytes(value) else { return .failure(ValueError("invalid value for \(key): \(value)")) }
                m.size = n
            case "mode":
                guard let n = UInt32(value, radix: 8) else { return .failure(ValueError("invalid value \(value) for mode")) }
                m.mode = n
            case "uid":
                guard let n = UInt32(value) else { return .failure(ValueError("invalid value \(value) for uid")) }
                m.uid = n
            case "gid":
                guard let n = UInt32(value) else { return .failure(ValueError("invalid value \(value) for gid")) }
                m.gid = n
            case "env":
                guard m.type == .secret else {
                    return .failure(ValueError("unexpected key '\(key)' for mount type '\(m.type.rawValue)'"))
                }
                m.env = value
            default:
                return .failure(ValueError(Suggest.wrap(
                    "unexpected key '\(key)' in '\(field)'", value: key, candidates: mountKeys)))
            }
        }
        let fileInfoAllowed = m.type == .secret || m.type == .ssh || m.type == .cache
        if m.mode != nil && !fileInfoAllowed { return .failure(ValueError("mode not allowed for \(GoText.quote(m.type.rawValue)) type mounts")) }
        if m.uid != nil && !fileInfoAllowed { return .failure(ValueError("uid not allowed for \(GoText.quote(m.type.rawValue)) type mounts")) }
        if m.gid != nil && !fileInfoAllowed { return .failure(ValueError("gid not allowed for \(GoText.quote(m.type.rawValue)) type mounts")) }
        if roAuto { m.readOnly = !(m.type == .cache || m.type == .tmpfs) }
        if m.sharing != nil && m.type != .cache {
            return .failure(ValueError("invalid cache sharing set for \(m.type.rawValue) mount"))
        }
        if m.type == .secret {
            if m.from != nil { return .failure(ValueError("secret mount should not have a from")) }
            if m.source == nil && m.target == nil && m.id == nil && m.env == nil && !deferred(raw, expanded) {
                return .failure(ValueError("invalid secret mount. one of source, target required"))
            }
            if m.source != nil && m.id != nil { return .failure(ValueError("both source and id can't be set")) }
        }
        if (m.type == .bind || m.type == .cache || m.type == .tmpfs) && m.target == nil && !deferred(raw, expanded) {
            return .failure(ValueError("mount type \(GoText.quote(m.type.rawValue)) requires a target"))
        }
        return .success(m)
    }

    /// `field` split at its first `=` (one part when there is none). ASCII fields are split
    /// byte by byte; others by characters, as before.
    static func keyValue(_ field: String) -> [String] {
        let bytes = field.utf8
        if bytes.allSatisfy({ $0 < 0x80 }) {
            guard let eq = bytes.firstIndex(of: UInt8(ascii: "=")) else { return [field] }
            return [String(decoding: bytes[..<eq], as: UTF8.self), String(decoding: bytes[bytes.index(after: eq)...], as: UTF8.self)]
        }
        return field.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    }

    static func deferred(_ raw: String, _ expanded: Bool) -> Bool { !expanded && containsVariable(raw) }

    /// Whether `s` refers to a variable (`$` followed by something), as BuildKit's check does.
    static func containsVariable(_ s: String) -> Bool {
        var prevDollar = false
        for c in s.unicodeScalars {
            if prevDollar { return true }
            prevDollar = c == "$"
        }
        return false
    }

    static let networkModes = ["default", "none", "host"]
    static let securityModes = ["sandbox", "insecure"]
}
