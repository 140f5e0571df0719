// Word expansion as BuildKit's shell lexer does it (frontend/dockerfile/shell/lex.go):
// quotes, escapes, `$v`, `${v}` and the modifiers `:-`, `-`, `:+`, `+`, `:?`, `?`, `#`, `##`,
// `%`, `%%`, `/`, `//`. It is not a shell: no command substitution, no globbing.

/// An error found while expanding a word (`${v:?msg}` on an unset variable, a missing `}`, …).
public struct ExpansionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The message, worded as BuildKit words it: `failed to process "…": …`.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// The result of expanding one word.
public struct ExpansionResult: Sendable, Hashable {
    /// The word with quotes removed and variables substituted.
    public var result: String
    /// The result split into words on unquoted whitespace.
    public var words: [String]
    /// Variables that were referenced but not set.
    public var unmatched: Set<String>
}

/// Expands Dockerfile words.
public struct ShellLexer: Sendable {
    /// The escape character (`\` or `` ` ``).
    public var escapeToken: Unicode.Scalar
    /// Keep quote characters in the result.
    public var rawQuotes = false
    /// Keep escape characters in the result.
    public var rawEscapes = false
    /// Leave references to unset variables as written.
    public var skipUnsetEnv = false
    /// Treat quotes as ordinary characters.
    public var skipProcessQuotes = false

    /// Creates a lexer with the given escape character.
    public init(escapeToken: Unicode.Scalar = "\\") {
        self.escapeToken = escapeToken
    }

    /// Expands `word`, looking variables up with `lookup` (nil means unset).
    public func process(_ word: String, lookup: @escaping (String) -> String?) throws(ExpansionError) -> ExpansionResult {
        var state = ShellWordState(chars: Array(word.unicodeScalars), lexer: self, lookup: lookup, rawEscapes: rawEscapes)
        do throws(ExpansionError) {
            let (result, words) = try state.processStopOn(Optional<Unicode.Scalar>.none, rawEscapes: rawEscapes)
            return ExpansionResult(result: result, words: words, unmatched: state.unmatched)
        } catch {
            throw ExpansionError("failed to process \(GoText.quote(word)): \(error.message)")
        }
    }

    /// Expands `word` to one string.
    public func processWord(_ word: String, env: [String: String]) throws(ExpansionError) -> String {
        try process(word) { env[$0] }.result
    }

    /// Expands `word` and splits the result into words.
    public func processWords(_ word: String, env: [String: String]) throws(ExpansionError) -> [String] {
        try process(word) { env[$0] }.words
    }
}

private struct WordsBuilder {
    var words: [String] = []
    var current = ""
    var inWord = false

    mutating func addChar(_ c: Unicode.Scalar) {
        if GoText.isSpace(c.value) {
            if inWord && !current.isEmpty {
                words.append(current)
                current = ""
                inWord = false
            }
        } else {
            addRawChar(c)
        }
    }

    mutating func addRawChar(_ c: Unicode.Scalar) {
        current.unicodeScalars.append(c)
        inWord = true
    }

    mutating func addString(_ s: String) {
        for c in s.unicodeScalars { addChar(c) }
    }

    mutating func addRawString(_ s: String) {
        current += s
        inWord = true
    }

    mutating func finish() -> [String] {
        if !current.isEmpty {
            words.append(current)
            current = ""
            inWord = false
        }
        return words
    }
}

private struct ShellWordState {
    let chars: [Unicode.Scalar]
    let lexer: ShellLexer
    let lookup: (String) -> String?
    var rawEscapes: Bool
    var pos = 0
    var unmatched: Set<String> = []

    init(chars: [Unicode.Scalar], lexer: ShellLexer, lookup: @escaping (String) -> String?, rawEscapes: Bool) {
        self.chars = chars
        self.lexer = lexer
        self.lookup = lookup
        self.rawEscapes = rawEscapes
    }

    var peek: Unicode.Scalar? { pos < chars.count ? chars[pos] : nil }

    mutating func next() -> Unicode.Scalar? {
        guard pos < chars.count else { return nil }
        defer { pos += 1 }
        return chars[pos]
    }

    mutating func getEnv(_ name: String) -> (String, Bool) {
        if let v = lookup(name) { return (v, true) }
        unmatched.insert(name)
        return ("", false)
    }

    /// Reads up to `stop` (consumed) or the end; nil `stop` means the whole input.
    mutating func processStopOn(_ stop: Unicode.Scalar?, rawEscapes raw: Bool) throws(ExpansionError) -> (String, [String]) {
        let saved = rawEscapes
        rawEscapes = raw
        defer { rawEscapes = saved }
        var result = ""
        var words = WordsBuilder()
        while let ch = peek {
            if let stop, ch == stop {
                pos += 1
                return (result, words.finish())
            }
            if ch == "$" {
                let tmp = try processDollar()
                result += tmp
                words.addString(tmp)
                continue
            }
            if !lexer.skipProcessQuotes && (ch == "'" || ch == "\"") {
                let tmp = ch == "'" ? try processSingleQuote() : try processDoubleQuote()
                result += tmp
                words.addRawString(tmp)
                continue
            }
            pos += 1
            var c = ch
            if c == lexer.escapeToken {
                if rawEscapes {
                    words.addRawChar(c)
                    result.unicodeScalars.append(c)
                }
                guard let n = next() else { break }
                c = n
                words.addRawChar(c)
            } else {
                words.addChar(c)
            }
            result.unicodeScalars.append(c)
        }
        if let stop {
            throw ExpansionError("unexpected end of statement while looking for matching \(stop)")
        }
        return (result, words.finish())
    }

    mutating func processSingleQuote() throws(ExpansionError) -> String {
        var result = ""
        let open = next()
        if lexer.rawQuotes, let open { result.unicodeScalars.append(open) }
        while true {
            guard let ch = next() else {
                throw ExpansionError("unexpected end of statement while looking for matching single-quote")
            }
            if ch == "'" {
                if lexer.rawQuotes { result.unicodeScalars.append(ch) }
                return result
            }
            result.unicodeScalars.append(ch)
        }
    }

    mutating func processDoubleQuote() throws(ExpansionError) -> String {
        var result = ""
        let open = next()
        if lexer.rawQuotes, let open { result.unicodeScalars.append(open) }
        while true {
            guard let ch = peek else {
                throw ExpansionError("unexpected end of statement while looking for matching double-quote")
            }
            if ch == "\"" {
                pos += 1
                if lexer.rawQuotes { result.unicodeScalars.append(ch) }
                return result
            }
            if ch == "$" {
                result += try processDollar()
                continue
            }
            pos += 1
            var c = ch
            if c == lexer.escapeToken {
                if rawEscapes { result.unicodeScalars.append(c) }
                guard let p = peek else { continue }
                if p == "\"" || p == "$" || p == lexer.escapeToken {
                    c = p
                    pos += 1
                }
            }
            result.unicodeScalars.append(c)
        }
    }

    mutating func processDollar() throws(ExpansionError) -> String {
        pos += 1  // "$"
        if peek != "{" {
            let name = processName()
            if name.isEmpty { return "$" }
            let (value, found) = getEnv(name)
            if !found && lexer.skipUnsetEnv { return "$" + name }
            return value
        }
        pos += 1  // "{"
        guard let first = peek else { throw ExpansionError("syntax error: missing '}'") }
        if first == "{" || first == "}" || first == ":" { throw ExpansionError("syntax error: bad substitution") }
        let name = processName()
        guard var ch = next() else { throw ExpansionError("syntax error: missing '}'") }
        var chs = String(ch)
        var nullIsUnset = false
        switch ch {
        case "}":
            let (value, found) = getEnv(name)
            if !found && lexer.skipUnsetEnv { return "${\(name)}" }
            return value
        case ":", "+", "-", "?", "#", "%":
            if ch == ":" {
                nullIsUnset = true
                guard let m = next() else { throw ExpansionError("syntax error: missing '}'") }
                ch = m
                chs.unicodeScalars.append(m)
            }
            let rawEsc = ch == "#" || ch == "%"
            if nullIsUnset && rawEsc { throw ExpansionError("unsupported modifier (\(chs)) in substitution") }
            let word: String
            do throws(ExpansionError) {
                word = try processStopOn("}", rawEscapes: rawEsc).0
            } catch {
                if peek == nil { throw ExpansionError("syntax error: missing '}'") }
                throw error
            }
            let (value, set) = getEnv(name)
            if lexer.skipUnsetEnv && !set { return "${\(name)\(chs)\(word)}" }
            switch ch {
            case "-":
                return !set || (nullIsUnset && value.isEmpty) ? word : value
            case "+":
                return !set || (nullIsUnset && value.isEmpty) ? "" : word
            case "?":
                if !set { throw ExpansionError("\(name): \(word.isEmpty ? "is not allowed to be unset" : word)") }
                if nullIsUnset && value.isEmpty {
                    throw ExpansionError("\(name): \(word.isEmpty ? "is not allowed to be empty" : word)")
                }
                return value
            case "%", "#":
                var pattern = word
                var greedy = false
                if pattern.unicodeScalars.first == ch {
                    greedy = true
                    pattern.unicodeScalars.removeFirst()
                }
                let compiled = try compile(pattern, greedy: greedy)
                return ch == "%" ? compiled.trimSuffix(value) : compiled.trimPrefix(value)
            default:
                throw ExpansionError("unsupported modifier (\(chs)) in substitution")
            }
        case "/":
            let replaceAll = peek == "/"
            if replaceAll { pos += 1 }
            let pattern: String
            do throws(ExpansionError) {
                pattern = try processStopOn("/", rawEscapes: true).0
            } catch {
                if peek == nil { throw ExpansionError("syntax error: missing '/' in ${}") }
                throw error
            }
            let replacement: String
            do throws(ExpansionError) {
                replacement = try processStopOn("}", rawEscapes: true).0
            } catch {
                if peek == nil { throw ExpansionError("syntax error: missing '}'") }
                throw error
            }
            let (value, set) = getEnv(name)
            if lexer.skipUnsetEnv && !set { return "${\(name)/\(pattern)/\(replacement)}" }
            let compiled = try compile(pattern, greedy: true)
            return compiled.replace(in: value, with: replacement, all: replaceAll)
        default:
            throw ExpansionError("unsupported modifier (\(chs)) in substitution")
        }
    }

    func compile(_ pattern: String, greedy: Bool) throws(ExpansionError) -> ShellPattern {
        do throws(PatternError) {
            return try ShellPattern(pattern, greedy: greedy)
        } catch {
            throw ExpansionError("invalid pattern (\(pattern)) in substitution: \(error.message)")
        }
    }

    /// A name: letters, digits and `_`; or a run of digits; or one special parameter.
    mutating func processName() -> String {
        var name = ""
        while let ch = peek {
            if name.isEmpty && ch.properties.numericType == .decimal {
                while let d = peek, d.properties.numericType == .decimal {
                    name.unicodeScalars.append(d)
                    pos += 1
                }
                return name
            }
            if name.isEmpty && "@*#?-$!0".unicodeScalars.contains(ch) {
                pos += 1
                return String(ch)
            }
            if !(ch.properties.isAlphabetic && isLetterCategory(ch)) && ch.properties.numericType != .decimal && ch != "_" {
                break
            }
            name.unicodeScalars.append(ch)
            pos += 1
        }
        return name
    }

    /// Go's `unicode.IsLetter`: general category L.
    private func isLetterCategory(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }
}
