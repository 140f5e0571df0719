// `--chmod` of COPY and ADD: an octal mode (`0755`) or a symbolic change as chmod(1) takes it
// (`u=rwx,go=rx`, `+x`, `a-w`, `g+s`, `o=`), applied to each copied file's own mode.

/// A parsed `--chmod` value.
enum FileModeChange: Sendable, Hashable {
    /// Every file and directory gets this mode.
    case octal(UInt32)
    /// Clauses applied in order to each entry's mode.
    case symbolic([Clause])

    /// One `who op perms` clause.
    struct Clause: Sendable, Hashable {
        var who: UInt32      // mask of the affected bits (u: 0o4700, g: 0o2070, o: 0o1007)
        var op: Character    // +, - or =
        var perms: String    // letters of rwxXst
    }

    /// Parses `text`; nil when it is neither form.
    init?(_ text: String) {
        if let value = UInt32(text, radix: 8) {
            guard value <= 0o7777 else { return nil }
            self = .octal(value)
            return
        }
        var clauses: [Clause] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            var rest = Substring(part)
            var who: UInt32 = 0
            while let c = rest.first, "ugoa".contains(c) {
                switch c {
                case "u": who |= 0o4700
                case "g": who |= 0o2070
                case "o": who |= 0o1007
                default: who |= 0o7777
                }
                rest = rest.dropFirst()
            }
            if who == 0 { who = 0o7777 }
            guard !rest.isEmpty else { return nil }
            // Several operations may follow one who-list: `u+x-w`.
            while let op = rest.first {
                guard "+-=".contains(op) else { return nil }
                rest = rest.dropFirst()
                let perms = rest.prefix { "rwxXst".contains($0) }
                rest = rest.dropFirst(perms.count)
                clauses.append(Clause(who: who, op: op, perms: String(perms)))
            }
        }
        guard !clauses.isEmpty else { return nil }
        self = .symbolic(clauses)
    }

    /// The mode an entry of mode `mode` (permission bits) gets.
    func apply(to mode: UInt32, isDirectory: Bool) -> UInt32 {
        switch self {
        case .octal(let value):
            return value
        case .symbolic(let clauses):
            var result = mode & 0o7777
            for clause in clauses {
                var bits: UInt32 = 0
                for p in clause.perms {
                    switch p {
                    case "r": bits |= 0o444
                    case "w": bits |= 0o222
                    case "x": bits |= 0o111
                    case "X": if isDirectory || result & 0o111 != 0 { bits |= 0o111 }
                    case "s": bits |= 0o6000
                    case "t": bits |= 0o1000
                    default: break
                    }
                }
                bits &= clause.who
                switch clause.op {
                case "+": result |= bits
                case "-": result &= ~bits
                default: result = (result & ~(clause.who & 0o7777)) | bits
                }
            }
            return result
        }
    }
}
