// `.dockerignore`: which context paths a build leaves out.
// Reference: Dockerfile reference, ".dockerignore file"; moby/patternmatcher.
//
// Patterns are anchored at the context root (`/foo` and `foo` are the same), cleaned like
// Go's `filepath.Clean`; `*` matches within one path element, `?` one character other than
// `/`, `[...]` a character class, `**` any number of elements; `!` re-includes; the last
// matching pattern wins; a pattern that matches a directory matches everything under it.

/// A parsed `.dockerignore`.
public struct DockerIgnore: Sendable, Hashable {
    /// One pattern.
    public struct Pattern: Sendable, Hashable {
        /// The cleaned pattern, without `!`.
        public var pattern: String
        /// A `!` pattern (re-includes).
        public var exclusion: Bool
        /// The 1-based line it came from.
        public var line: Int
        fileprivate var tokens: [GlobToken]
    }

    /// The patterns in file order.
    public var patterns: [Pattern]

    /// Reads a `.dockerignore` text: one pattern a line, `#` comments, a BOM, CRLF.
    public init(_ text: String) throws(DockerIgnoreError) {
        var out: [Pattern] = []
        var lineNumber = 0
        // Split on the byte: "\r\n" is one Character in Swift and would not match "\n".
        for rawLine in text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = String(decoding: rawLine, as: UTF8.self)
            if lineNumber == 1, line.utf8.starts(with: [0xEF, 0xBB, 0xBF]) { line = String(decoding: line.utf8.dropFirst(3), as: UTF8.self) }
            if line.utf8.first == UInt8(ascii: "#") { continue }
            line = GoText.trimSpace(line)
            if line.isEmpty { continue }
            var exclusion = false
            if line.utf8.first == UInt8(ascii: "!") {
                exclusion = true
                line = GoText.trimSpace(String(decoding: line.utf8.dropFirst(), as: UTF8.self))
            }
            if !line.isEmpty {
                line = DockerIgnore.clean(line)
                if line.count > 1 && line.hasPrefix("/") { line.removeFirst() }
            }
            out.append(try Pattern(pattern: line, exclusion: exclusion, line: lineNumber, tokens: GlobToken.compile(line, line: lineNumber)))
        }
        patterns = out
    }

    /// Picks the ignore file for a Dockerfile: `<Dockerfile>.dockerignore` next to it wins over
    /// the context's `.dockerignore`. Returns the path to read, given which files exist.
    public static func ignoreFilePath(dockerfilePath: String, exists: (String) -> Bool) -> String? {
        let specific = dockerfilePath + ".dockerignore"
        if exists(specific) { return specific }
        return exists(".dockerignore") ? ".dockerignore" : nil
    }

    /// Whether the context-relative `path` is left out of the build context.
    public func excludes(_ path: String) -> Bool {
        var p = DockerIgnore.clean(path)
        if p.hasPrefix("/") { p.removeFirst() }
        if p == "." || p.isEmpty { return false }
        let elements = p.split(separator: "/").map(Array.init)
        let file = Array(p.unicodeScalars)
        var matched = false
        for pattern in patterns {
            // An include that already matched, or an exclusion with nothing to undo, cannot change anything.
            if pattern.exclusion != matched { continue }
            var m = GlobToken.match(pattern.tokens, file)
            if !m && elements.count > 1 {
                var prefix: [Unicode.Scalar] = []
                for (i, e) in elements.enumerated() where i < elements.count - 1 {
                    if i > 0 { prefix.append("/") }
                    prefix += String(e).unicodeScalars
                    if GlobToken.match(pattern.tokens, prefix) { m = true; break }
                }
            }
            if m { matched = !pattern.exclusion }
        }
        return matched
    }

    /// Go's `filepath.Clean` for `/`-separated paths.
    static func clean(_ path: String) -> String {
        if path.isEmpty { return "." }
        let rooted = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if let last = parts.last, last != ".." { parts.removeLast() } else if !rooted { parts.append(part) }
                continue
            }
            parts.append(part)
        }
        let joined = parts.joined(separator: "/")
        if rooted { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }
}

/// A pattern `.dockerignore` cannot use (an unterminated `[`, a bad range).
public struct DockerIgnoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The 1-based line.
    public var line: Int
    /// The message.
    public var message: String
    /// `.dockerignore:line: message`.
    public var description: String { ".dockerignore:\(line): \(message)" }
}

fileprivate enum GlobToken: Hashable {
    case literal(Unicode.Scalar)
    case anyChar                 // ?
    case star                    // *
    case anyPath                 // ** followed by more pattern: (.*/)?
    case anyRest                 // ** at the end: .*
    case charClass(negated: Bool, ranges: [ClosedRange<UInt32>])

    static func compile(_ pattern: String, line: Int) throws(DockerIgnoreError) -> [GlobToken] {
        let s = Array(pattern.unicodeScalars)
        var out: [GlobToken] = []
        var i = 0
        while i < s.count {
            let c = s[i]
            i += 1
            switch c {
            case "*":
                if i < s.count, s[i] == "*" {
                    i += 1
                    if i < s.count, s[i] == "/" { i += 1 }
                    out.append(i >= s.count ? .anyRest : .anyPath)
                } else {
                    out.append(.star)
                }
            case "?":
                out.append(.anyChar)
            case "\\":
                if i < s.count { out.append(.literal(s[i])); i += 1 } else { out.append(.literal("\\")) }
            case "[":
                var negated = false
                if i < s.count, s[i] == "^" { negated = true; i += 1 }
                var ranges: [ClosedRange<UInt32>] = []
                var closed = false
                var first = true
                while i < s.count {
                    var lo = s[i]
                    if lo == "]" && !first { closed = true; i += 1; break }
                    first = false
                    i += 1
                    if lo == "\\", i < s.count { lo = s[i]; i += 1 }
                    var hi = lo
                    if i + 1 < s.count, s[i] == "-", s[i + 1] != "]" {
                        hi = s[i + 1]
                        i += 2
                        if hi == "\\", i < s.count { hi = s[i]; i += 1 }
                    }
                    guard lo.value <= hi.value else { throw DockerIgnoreError(line: line, message: "syntax error in pattern") }
                    ranges.append(lo.value...hi.value)
                }
                guard closed else { throw DockerIgnoreError(line: line, message: "syntax error in pattern") }
                out.append(.charClass(negated: negated, ranges: ranges))
            default:
                out.append(.literal(c))
            }
        }
        return out
    }

    /// Whole-string match; iterative with memoised failures, so linear in pattern × path.
    static func match(_ tokens: [GlobToken], _ s: [Unicode.Scalar]) -> Bool {
        var failed = Set<Int>()
        let width = s.count + 1
        var stack: [(Int, Int)] = [(0, 0)]
        while let (ti, si) = stack.popLast() {
            if ti == tokens.count {
                if si == s.count { return true }
                continue
            }
            let key = ti * width + si
            if !failed.insert(key).inserted { continue }
            switch tokens[ti] {
            case .literal(let c):
                if si < s.count && s[si] == c { stack.append((ti + 1, si + 1)) }
            case .anyChar:
                if si < s.count && s[si] != "/" { stack.append((ti + 1, si + 1)) }
            case .charClass(let negated, let ranges):
                // The class goes to the regular expression verbatim, so it can match `/`.
                if si < s.count {
                    let inClass = ranges.contains { $0.contains(s[si].value) }
                    if inClass != negated { stack.append((ti + 1, si + 1)) }
                }
            case .star:
                stack.append((ti + 1, si))
                if si < s.count && s[si] != "/" { stack.append((ti, si + 1)) }
            case .anyRest:
                stack.append((ti + 1, s.count))
            case .anyPath:
                // (.*/)? : nothing, or anything up to and including a slash.
                stack.append((ti + 1, si))
                var j = si
                while j < s.count {
                    if s[j] == "/" { stack.append((ti + 1, j + 1)) }
                    j += 1
                }
            }
        }
        return false
    }
}
