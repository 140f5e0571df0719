// Builder flags (`--from=…`, `--link`): BuildKit's BFlags rules and messages.

struct BuildFlags {
    enum Kind { case bool, string, strings }

    struct Spec {
        var name: String
        var kind: Kind
    }

    /// Parsed values.
    var bools: [String: Bool] = [:]
    var strings: [String: String] = [:]
    var lists: [String: [String]] = [:]
    var used: [String] = []

    /// Parses `flags` against `specs`; the message of the first problem on failure.
    static func parse(_ flags: [String], specs: [Spec]) -> Result<BuildFlags, FlagError> {
        var out = BuildFlags()
        let byName = Dictionary(specs.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for raw in flags {
            guard raw.hasPrefix("--") else { return .failure(FlagError(flag: raw, message: "Arg should start with -- : \(raw)")) }
            if raw == "--" { break }
            var arg = String(raw.dropFirst(2))
            var value = ""
            var hasValue = false
            if let eq = arg.firstIndex(of: "=") {
                value = String(arg[arg.index(after: eq)...])
                arg = String(arg[..<eq])
                hasValue = true
            }
            guard let spec = byName[arg] else {
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
                out.lists[arg, default: []].append(value)
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
