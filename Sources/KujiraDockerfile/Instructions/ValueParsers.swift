// Values inside instructions: durations (HEALTHCHECK), signals (STOPSIGNAL), port specs
// (EXPOSE), permission modes (--chmod), checksums (ADD --checksum), byte sizes (tmpfs size=).

enum ValueParsers {
    /// Go's `time.ParseDuration`, in nanoseconds, with Go's messages.
    static func duration(_ s: String) -> Result<Int64, ValueError> {
        let orig = s
        var chars = Array(s.unicodeScalars)
        let invalid = ValueError("time: invalid duration \(GoText.quote(orig))")
        var neg = false
        if let c = chars.first, c == "-" || c == "+" {
            neg = c == "-"
            chars.removeFirst()
        }
        if chars.count == 1 && chars[0] == "0" { return .success(0) }
        if chars.isEmpty { return .failure(invalid) }
        var total: Double = 0
        var i = 0
        while i < chars.count {
            // Number: digits, optional fraction.
            let numStart = i
            while i < chars.count, chars[i].isASCIIDigit { i += 1 }
            let intEnd = i
            var fracEnd = i
            if i < chars.count, chars[i] == "." {
                i += 1
                while i < chars.count, chars[i].isASCIIDigit { i += 1 }
                fracEnd = i
            }
            if intEnd == numStart && (fracEnd == intEnd || fracEnd == intEnd + 1) { return .failure(invalid) }
            let numText = String(String.UnicodeScalarView(chars[numStart..<fracEnd]))
            guard let value = Double(numText.hasSuffix(".") ? numText + "0" : (numText.hasPrefix(".") ? "0" + numText : numText)) else {
                return .failure(invalid)
            }
            let unitStart = i
            while i < chars.count, chars[i] != "." && !chars[i].isASCIIDigit { i += 1 }
            if unitStart == i { return .failure(ValueError("time: missing unit in duration \(GoText.quote(orig))")) }
            let unit = String(String.UnicodeScalarView(chars[unitStart..<i]))
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs", "μs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: return .failure(ValueError("time: unknown unit \(GoText.quote(unit)) in duration \(GoText.quote(orig))"))
            }
            total += value * scale
            if total > 9.223372036854775807e18 { return .failure(invalid) }
        }
        let ns = Int64(total)
        return .success(neg ? -ns : ns)
    }

    /// Signal names Linux knows, without the `SIG` prefix.
    static let signalNames: Set<String> = {
        var s: Set<String> = [
            "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
            "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP",
            "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMAX",
        ]
        for i in 1...15 { s.insert("RTMIN+\(i)") }
        for i in 1...14 { s.insert("RTMAX-\(i)") }
        return s
    }()

    /// moby's `signal.ParseSignal`.
    static func signal(_ raw: String) -> ValueError? {
        if let n = Int(raw) { return n == 0 ? ValueError("Invalid signal: \(raw)") : nil }
        var name = raw.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        return signalNames.contains(name) ? nil : ValueError("Invalid signal: \(raw)")
    }

    /// An EXPOSE port spec: `port[/proto]`, a range `a-b[/proto]`; an `ip:host:` prefix is
    /// accepted (BuildKit warns about it).
    static func port(_ spec: String) -> ValueError? {
        // The common case, digits only.
        if !spec.isEmpty, spec.utf8.count <= 5, spec.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            return UInt16(spec) == nil ? ValueError("invalid containerPort: \(spec)") : nil
        }
        var rest = spec
        var proto = "tcp"
        if let slash = rest.lastIndex(of: "/") {
            proto = String(rest[rest.index(after: slash)...])
            rest = String(rest[..<slash])
        }
        if !["tcp", "udp", "sctp"].contains(proto.lowercased()) { return ValueError("invalid proto: \(proto)") }
        let container = rest.split(separator: ":", omittingEmptySubsequences: false).last.map(String.init) ?? rest
        let bounds = container.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let lo = bounds.first.flatMap({ UInt16($0) }) else { return ValueError("invalid containerPort: \(container)") }
        if bounds.count == 2 {
            guard let hi = UInt16(bounds[1]) else { return ValueError("invalid containerPort: \(container)") }
            if hi < lo { return ValueError("invalid range specified for container port: \(container)") }
        }
        return nil
    }

    /// `--chmod`: octal `[0-7]{3,4}` or symbolic `[ugoa]*[-+=][rwxXst]*` clauses, comma-separated.
    static func chmod(_ value: String) -> ValueError? {
        if !value.isEmpty, value.count <= 4, value.allSatisfy({ ("0"..."7").contains($0) }) { return nil }
        let clauses = value.split(separator: ",", omittingEmptySubsequences: false)
        for clause in clauses {
            var rest = Substring(clause)
            while let c = rest.first, "ugoa".contains(c) { rest.removeFirst() }
            guard let op = rest.first, "+-=".contains(op) else {
                return ValueError("invalid chmod parameter: '\(value)'. it should be octal string like '0755' or symbolic like 'u=rwx,go=rx'")
            }
            rest.removeFirst()
            guard rest.allSatisfy({ "rwxXst+-=ugo".contains($0) }) else {
                return ValueError("invalid chmod parameter: '\(value)'. it should be octal string like '0755' or symbolic like 'u=rwx,go=rx'")
            }
        }
        return nil
    }

    /// `--checksum=sha256:<hex>` (also sha384, sha512).
    static func checksum(_ value: String) -> ValueError? {
        let parts = value.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return ValueError("invalid checksum digest format: \(value)") }
        let lengths = ["sha256": 64, "sha384": 96, "sha512": 128]
        guard let n = lengths[parts[0]] else { return ValueError("unsupported digest algorithm: \(parts[0])") }
        guard parts[1].count == n, parts[1].allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            return ValueError("invalid checksum digest format: \(value)")
        }
        return nil
    }

    /// docker/go-units `RAMInBytes`: `64m`, `1g`, `512KiB`, `100`.
    static func bytes(_ value: String) -> Int64? {
        let s = Array(value.unicodeScalars)
        var i = 0
        while i < s.count, s[i].isASCIIDigit || s[i] == "." { i += 1 }
        guard i > 0, let number = Double(String(String.UnicodeScalarView(s[0..<i]))) else { return nil }
        var rest = String(String.UnicodeScalarView(s[i...])).lowercased()
        if rest.hasPrefix(" ") { rest.removeFirst() }
        if rest.hasSuffix("b") { rest.removeLast() }
        if rest.hasSuffix("i") { rest.removeLast() }
        let multipliers: [String: Double] = ["": 1, "k": 1024, "m": 1_048_576, "g": 1_073_741_824, "t": 1_099_511_627_776, "p": 1_125_899_906_842_624]
        guard let m = multipliers[rest] else { return nil }
        let result = number * m
        guard result < 9.2e18 else { return nil }
        return Int64(result)
    }
}

/// A value that an instruction refuses.
struct ValueError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

extension Unicode.Scalar {
    var isASCIIDigit: Bool { value >= 0x30 && value <= 0x39 }
}
