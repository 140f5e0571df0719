// Builder flags (`--from=…`, `--link`): BuildKit's BFlags rules and messages.

struct BuildFlags {
    enum Kind { case bool, string, strings }

    struct Spec {
        var name: String
        var kind: Kind
    }

    /// A few values by flag name: an instruction has a handful of flags at most, so a linear
    /// search beats hashing (and allocates nothing when no flag is given).
    struct Values<Value> {
        var entries: [(name: String, value: Value)] = []

        subscript(name: String) -> Value? {
            get {
                for e in entries where e.name == name { return e.value }
                return nil
            }
            set {
                if let i = entries.firstIndex(where: { $0.name == name }) {
                    if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
                } else if let newValue {
                    entries.append((name, newValue))
                }
            }
        }
    }

    /// Parsed values.
    var bools = Values<Bool>()
    var strings = Values<String>()
    var lists = Values<[String]>()
    var used: [String] = []

    /// Parses `flags` against `specs`; the message of the first problem on failure.
    static func parse(_ flags: [String], specs: [Spec]) -> Result<BuildFlags, FlagError> {
        var out = BuildFlags()
        if flags.isEmpty { return .success(out) }
        for raw in flags {
            guard raw.hasPrefix("--") else { return .failure(FlagError(flag: raw, message: "Arg should start with -- : \(raw)")) }
            if raw == "--" { break }
            // Byte-wise, as BuildKit: a combining mark after `=` must not hide it.
            let body = raw.utf8.dropFirst(2)
            var arg = String(decoding: body, as: UTF8.self)
            var value = ""
            var hasValue = false
            if let eq = body.firstIndex(of: UInt8(ascii: "=")) {
                value = String(decoding: body[body.index(after: eq)...], as: UTF8.self)
                arg = String(decoding: body[..<eq], as: UTF8.self)
                hasValue = true
            }
            guard let spec = specs.first(where: { $0.name == arg }) else {
                let message = Suggest.wrap(
                    "unknown flag: --\(arg)", value: arg, candidates: specs.map(\.name), format: { "--" + $0 })
                return .failure(FlagError(flag: raw, message: message))
            }
            if out.used.contains(arg) && spec.kind != .strings {
                return .failure(FlagError(flag: raw, message: "Duplicate flag specified: \(arg)"))
            }
            out.used.append(arg)
            switch spec.kind {
            case .bool:
                if hasValue && value.isEmpty {
                    return .failure(FlagError(flag: raw, message: "Missing a value on flag: \(arg)"))
                }
                switch value.lowercased() {
                case "", "true": out.bools[arg] = true
                case "false": out.bools[arg] = false
                default:
                    return .failure(FlagError(flag: raw, message: "Expecting boolean value for flag \(arg), not: \(value)"))
                }
            case .string:
                guard hasValue else { return .failure(FlagError(flag: raw, message: "Missing a value on flag: \(arg)")) }
                out.strings[arg] = value
            case .strings:
                guard hasValue else { return .failure(FlagError(flag: raw, message: "Missing a value on flag: \(arg)")) }
                if let i = out.lists.entries.firstIndex(where: { $0.name == arg }) {
                    out.lists.entries[i].value.append(value)
                } else {
                    out.lists.entries.append((arg, [value]))
                }
            }
        }
        return .success(out)
    }
}

/// A refused builder flag.
struct FlagError: Error {
    var flag: String
    var message: String
}
