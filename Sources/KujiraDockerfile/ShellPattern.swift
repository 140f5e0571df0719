// Shell patterns of `${v#p}`, `${v%p}` and `${v/p/r}`: `*` any text, `?` one character,
// `\*`, `\?`, `\\` literal, `\}` and `\/` the character after the backslash. No bracket
// expressions, as in BuildKit. Like Go's regexp (which BuildKit compiles them to), `*` and `?`
// do not match a newline, and the first match in leftmost-first order wins.

struct PatternError: Error {
    var message: String
}

struct ShellPattern {
    enum Token: Equatable {
        case literal(Unicode.Scalar)
        case any
        case star
    }

    var tokens: [Token]
    var greedy: Bool

    init(_ pattern: String, greedy: Bool) throws(PatternError) {
        self.greedy = greedy
        var tokens: [Token] = []
        let chars = Array(pattern.unicodeScalars)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            i += 1
            switch c {
            case "*": tokens.append(.star)
            case "?": tokens.append(.any)
            case "\\":
                if i < chars.count, chars[i] == "}" || chars[i] == "/" { continue }
                guard i < chars.count else { throw PatternError(message: "invalid escape '\\\u{FFFD}'") }
                let n = chars[i]
                i += 1
                guard n == "*" || n == "?" || n == "\\" else { throw PatternError(message: "invalid escape '\\\(n)'") }
                tokens.append(.literal(n))
            default:
                tokens.append(.literal(c))
            }
        }
        self.tokens = tokens
    }

    /// End of the first match of the tokens starting at `start` in `s`, or nil.
    private func match(_ s: [Unicode.Scalar], at start: Int, tokens: [Token]) -> Int? {
        // Iterative depth-first search over (token, position) states in priority order,
        // remembering states that failed: linear in tokens × text.
        var failed = Set<Int>()
        let width = s.count + 1
        var stack: [(Int, Int)] = [(0, start)]
        while let (ti, si) = stack.popLast() {
            let key = ti * width + si
            if failed.contains(key) { continue }
            failed.insert(key)
            if ti == tokens.count { return si }
            switch tokens[ti] {
            case .literal(let c):
                if si < s.count && s[si] == c { stack.append((ti + 1, si + 1)) }
            case .any:
                if si < s.count && s[si] != "\n" { stack.append((ti + 1, si + 1)) }
            case .star:
                let canEat = si < s.count && s[si] != "\n"
                // The stack is LIFO: push the less preferred alternative first.
                if greedy {
                    stack.append((ti + 1, si))
                    if canEat { stack.append((ti, si + 1)) }
                } else {
                    if canEat { stack.append((ti, si + 1)) }
                    stack.append((ti + 1, si))
                }
            }
        }
        return nil
    }

    /// `${v#p}` / `${v##p}`: removes the matched prefix.
    func trimPrefix(_ value: String) -> String {
        let s = Array(value.unicodeScalars)
        guard let end = match(s, at: 0, tokens: tokens) else { return value }
        var out = ""
        out.unicodeScalars.append(contentsOf: s[end...])
        return out
    }

    /// `${v%p}` / `${v%%p}`: removes the matched suffix (matched on the reversed text, as
    /// BuildKit does, so that "shortest" and "longest" count from the right).
    func trimSuffix(_ value: String) -> String {
        let s = Array(value.unicodeScalars.reversed())
        guard let end = match(s, at: 0, tokens: tokens.reversed()) else { return value }
        var out = ""
        out.unicodeScalars.append(contentsOf: s[end...].reversed())
        return out
    }

    /// `${v/p/r}` and `${v//p/r}`.
    func replace(in value: String, with replacement: String, all: Bool) -> String {
        let s = Array(value.unicodeScalars)
        func find(from: Int) -> (Int, Int)? {
            var start = from
            while start <= s.count {
                if let end = match(s, at: start, tokens: tokens) { return (start, end) }
                start += 1
            }
            return nil
        }
        var out = ""
        if !all {
            guard let (a, b) = find(from: 0) else { return value }
            out.unicodeScalars.append(contentsOf: s[..<a])
            out += replacement
            out.unicodeScalars.append(contentsOf: s[b...])
            return out
        }
        // Go's ReplaceAllString: an empty match right after a match is not replaced, and the
        // search always advances by at least one character.
        var lastMatchEnd = 0
        var searchPos = 0
        while searchPos <= s.count {
            guard let (a, b) = find(from: searchPos) else { break }
            out.unicodeScalars.append(contentsOf: s[lastMatchEnd..<a])
            if b > lastMatchEnd || a == 0 { out += replacement }
            lastMatchEnd = b
            if searchPos + 1 > b { searchPos += 1 } else { searchPos = b }
        }
        if lastMatchEnd < s.count { out.unicodeScalars.append(contentsOf: s[lastMatchEnd...]) }
        return out
    }
}
