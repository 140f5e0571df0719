// Line parsers: turn one logical line into a syntax node, instruction by instruction, with
// the same splitting rules as BuildKit's parser (split_command.go, line_parsers.go).

/// A failure of the line parser (fatal for that instruction, as in BuildKit).
struct LineParseError: Error {
    var message: String
}

enum LineParsers {
    static let errNotStringArray = "when using JSON array syntax, arrays must be comprised of strings only"

    /// How each instruction's arguments are read.
    enum Shape {
        case maybeJSONToList, nameOrNameValue, maybeJSON, env, label, whitespaceList,
             health, string, subcommand, ignore
    }

    static func shape(of kind: InstructionKind) -> Shape {
        switch kind {
        case .add, .copy, .volume: return .maybeJSONToList
        case .arg: return .nameOrNameValue
        case .cmd, .entrypoint, .run, .shell: return .maybeJSON
        case .env: return .env
        case .label: return .label
        case .expose, .from: return .whitespaceList
        case .healthcheck: return .health
        case .maintainer, .stopsignal, .user, .workdir: return .string
        case .onbuild: return .subcommand
        case .unknown: return .ignore
        }
    }

    /// Splits `line` into keyword, flags and arguments and reads the arguments.
    static func node(from line: String, escape: UInt8, depth: Int = 0) throws(LineParseError) -> SyntaxNode {
        var bytes = line
        let result: Result<SyntaxNode, LineParseError> = bytes.withUTF8 { buf in
            do throws(LineParseError) {
                return .success(try node(in: buf, original: line, escape: escape, depth: depth))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Reads the node straight from the line's bytes: the argument text becomes a string only
    /// where the node keeps it whole.
    static func node(in buf: UnsafeBufferPointer<UInt8>, original: String, escape: UInt8, depth: Int) throws(LineParseError) -> SyntaxNode {
        // split_command: keyword, builder flags, then the argument text, trimmed.
        let start = GoText.skipSpace(buf, from: 0, to: buf.count)
        let end = GoText.trimTrailingSpace(buf, from: start, to: buf.count)
        var i = start
        while i < end, !GoText.isRegexSpace(buf[i]) { i += 1 }
        let keyword = String(buf, start, i)
        // ASCII keywords are looked up from the bytes and get their lower-case name as a
        // literal; others are lowered as Go's strings.ToLower does (the Kelvin sign in
        // `WOR\u{212A}DIR` lowers to `k`) and looked up by name.
        var kind = InstructionKind(keyword: UnsafeBufferPointer(rebasing: buf[start..<i]))
        let command: String
        if kind == .unknown {
            command = SyntaxNode.lowercase(keyword)
            kind = InstructionKind(command: command)
        } else {
            command = kind.name
        }
        var flags: [String] = []
        var restStart = end
        var restEnd = end
        if i < end {
            while i < end, GoText.isRegexSpace(buf[i]) { i += 1 }
            // Most lines have no flags: look before calling the flag reader.
            var argsStart = i
            while argsStart < end, GoText.isSpaceByte(buf[argsStart]) { argsStart += 1 }
            if argsStart + 1 < end, buf[argsStart] == UInt8(ascii: "-"), buf[argsStart + 1] == UInt8(ascii: "-") {
                (argsStart, flags) = extractBuilderFlags(buf, from: i, to: end)
            }
            restStart = GoText.skipSpace(buf, from: argsStart, to: end)
            restEnd = GoText.trimTrailingSpace(buf, from: restStart, to: end)
        }
        let rest = UnsafeBufferPointer(rebasing: buf[restStart..<restEnd])
        // The arguments are read into locals and the node is built once (copying a node
        // retains every field).
        var arguments = SyntaxArguments.none
        var isJSON = false
        switch shape(of: kind) {
        case .ignore:
            arguments = .words([""])
        case .string:
            if !rest.isEmpty { arguments = .words([String(decoding: rest, as: UTF8.self)]) }
        case .whitespaceList:
            if !rest.isEmpty { arguments = .words(splitRegexSpace(rest)) }
        case .maybeJSON:
            if !rest.isEmpty {
                if let json = try parseJSON(rest) {
                    isJSON = true
                    arguments = json.isEmpty ? .none : .words(json)
                } else {
                    arguments = .words([String(decoding: rest, as: UTF8.self)])
                }
            }
        case .maybeJSONToList:
            if let json = try parseJSON(rest) {
                isJSON = true
                arguments = json.isEmpty ? .none : .words(json)
            } else if !rest.isEmpty {
                arguments = .words(splitRegexSpace(rest))
            }
        case .nameOrNameValue:
            let words = parseWords(rest, escape: escape)
            if !words.isEmpty { arguments = .words(words) }
        case .env:
            arguments = try parseNameValue(rest, key: "ENV", escape: escape)
        case .label:
            arguments = try parseNameValue(rest, key: "LABEL", escape: escape)
        case .health:
            (arguments, isJSON) = try parseHealth(rest)
        case .subcommand:
            if !rest.isEmpty {
                // ONBUILD ONBUILD … is refused later; bound the nesting so hostile input cannot recurse deeply.
                if depth > 8 { throw LineParseError(message: "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed") }
                var child = try node(in: rest, original: String(decoding: rest, as: UTF8.self), escape: escape, depth: depth + 1)
                child.column = 0
                arguments = .subcommand(child)
            }
        }
        return SyntaxNode(
            keyword: keyword, command: command, kind: kind, flags: flags, arguments: arguments, isJSON: isJSON,
            original: original, column: start + 1)
    }

    /// Reads leading `--flag[=value]` words; returns where the arguments start and the flags.
    /// Mirrors BuildKit byte for byte: quotes group, a backslash escapes the next byte,
    /// a word `--` ends the flags.
    static func extractBuilderFlags(_ buf: UnsafeBufferPointer<UInt8>, from: Int, to end: Int) -> (Int, [String]) {
        var words: [String] = []
        var word: [UInt8] = []
        var inWord = false, inQuote = false
        var quote: UInt8 = 0
        var blankOK = false
        var pos = from
        while pos <= end {
            if !inWord {
                if pos == end { break }
                let ch = buf[pos]
                if GoText.isSpaceByte(ch) { pos += 1; continue }
                if ch != UInt8(ascii: "-") || pos + 1 == end || buf[pos + 1] != UInt8(ascii: "-") {
                    return (pos, words)
                }
                inWord = true
            }
            if pos == end {
                if !(word.count == 2 && word[0] == 0x2D && word[1] == 0x2D) && (blankOK || !word.isEmpty) {
                    words.append(String(decoding: word, as: UTF8.self))
                }
                break
            }
            var ch = buf[pos]
            if !inQuote {
                if GoText.isSpaceByte(ch) {
                    inWord = false
                    if word.count == 2 && word[0] == 0x2D && word[1] == 0x2D { return (pos, words) }
                    if blankOK || !word.isEmpty { words.append(String(decoding: word, as: UTF8.self)) }
                    word.removeAll(keepingCapacity: true)
                    blankOK = false
                    pos += 1
                    continue
                }
                if ch == UInt8(ascii: "'") || ch == UInt8(ascii: "\"") {
                    quote = ch
                    blankOK = true
                    inQuote = true
                    pos += 1
                    continue
                }
                if ch == UInt8(ascii: "\\") {
                    if pos + 1 == end { pos += 1; continue }
                    pos += 1
                    ch = buf[pos]
                }
                word.append(ch)
                pos += 1
                continue
            }
            if ch == quote { inQuote = false; pos += 1; continue }
            if ch == UInt8(ascii: "\\") {
                if pos + 1 == end { inQuote = false; pos += 1; continue }
                pos += 1
                ch = buf[pos]
            }
            word.append(ch)
            pos += 1
        }
        return (end, words)
    }

    // MARK: - words

    /// Splits on runs of `[\t\v\f\r ]` (the text is already trimmed).
    static func splitRegexSpace(_ buf: UnsafeBufferPointer<UInt8>) -> [String] {
        var out: [String] = []
        var i = 0
        var start = 0
        while i < buf.count {
            if GoText.isRegexSpace(buf[i]) {
                out.append(String(buf, start, i))
                while i < buf.count, GoText.isRegexSpace(buf[i]) { i += 1 }
                start = i
            } else {
                i += 1
            }
        }
        out.append(String(buf, start, buf.count))
        return out
    }

    /// Splits into words on whitespace outside quotes, keeping quotes and escapes in the words
    /// (they are removed later by expansion).
    static func parseWords(_ buf: UnsafeBufferPointer<UInt8>, escape: UInt8) -> [String] {
        var words: [String] = []
        var word: [UInt8] = []
        enum Phase { case spaces, word, quote }
        var phase = Phase.spaces
        var quote: UInt32 = 0
        var blankOK = false
        let n = buf.count
        var pos = 0
        func append(_ v: UInt32) {
            if v < 0x80 { word.append(UInt8(v)) } else if let sc = Unicode.Scalar(v) { word.append(contentsOf: Array(String(sc).utf8)) }
        }
        while pos <= n {
            var ch: UInt32 = 0
            var width = 1
            if pos != n { (ch, width) = GoText.decode(buf, pos) }
            if phase == .spaces {
                if pos == n { break }
                if GoText.isSpace(ch) { pos += width; continue }
                phase = .word
            }
            if pos == n {
                if blankOK || !word.isEmpty { words.append(String(decoding: word, as: UTF8.self)) }
                break
            }
            if phase == .word {
                if GoText.isSpace(ch) {
                    phase = .spaces
                    if blankOK || !word.isEmpty { words.append(String(decoding: word, as: UTF8.self)) }
                    word.removeAll(keepingCapacity: true)
                    blankOK = false
                    pos += width
                    continue
                }
                if ch == 0x27 || ch == 0x22 {
                    quote = ch
                    blankOK = true
                    phase = .quote
                }
                if ch == UInt32(escape) {
                    if pos + width == n { pos += width; continue }
                    append(ch)
                    pos += width
                    (ch, width) = GoText.decode(buf, pos)
                }
                append(ch)
                pos += width
                continue
            }
            // In quotes.
            if ch == quote { phase = .word }
            if ch == UInt32(escape) && quote != 0x27 {
                if pos + width == n { phase = .word; pos += width; continue }
                pos += width
                append(ch)
                (ch, width) = GoText.decode(buf, pos)
            }
            append(ch)
            pos += width
        }
        return words
    }

    /// ENV and LABEL: `key=value …` pairs, or the legacy `key value` form.
    static func parseNameValue(_ buf: UnsafeBufferPointer<UInt8>, key: String, escape: UInt8) throws(LineParseError) -> SyntaxArguments {
        let words = parseWords(buf, escape: escape)
        guard let first = words.first else { return .none }
        if !first.utf8.contains(UInt8(ascii: "=")) {
            var i = 0
            while i < buf.count, !GoText.isRegexSpace(buf[i]) { i += 1 }
            guard i < buf.count else { throw LineParseError(message: "\(key) must have two arguments") }
            var j = i
            while j < buf.count, GoText.isRegexSpace(buf[j]) { j += 1 }
            return .keyValues([KeyValueSyntax(key: String(buf, 0, i), value: String(buf, j, buf.count), separator: "")])
        }
        var pairs: [KeyValueSyntax] = []
        pairs.reserveCapacity(words.count)
        for word in words {
            guard let eq = word.utf8.firstIndex(of: UInt8(ascii: "=")) else {
                throw LineParseError(message: "Syntax error - can't find = in \(GoText.quote(word)). Must be of the form: name=value")
            }
            let k = String(word.utf8[..<eq]) ?? ""
            let v = String(word.utf8[word.utf8.index(after: eq)...]) ?? ""
            pairs.append(KeyValueSyntax(key: k, value: v, separator: "="))
        }
        return .keyValues(pairs)
    }

    /// HEALTHCHECK: the type word, then the rest as RUN/CMD read it.
    static func parseHealth(_ buf: UnsafeBufferPointer<UInt8>) throws(LineParseError) -> (SyntaxArguments, Bool) {
        var sep = 0
        while sep < buf.count, !GoText.isSpaceByte(buf[sep]) { sep += 1 }
        var next = sep
        while next < buf.count, GoText.isSpaceByte(buf[next]) { next += 1 }
        if sep == 0 { return (.none, false) }
        var words = [String(buf, 0, sep)]
        var isJSON = false
        if next < buf.count {
            let rest = UnsafeBufferPointer(rebasing: buf[next...])
            if let json = try parseJSON(rest) {
                isJSON = true
                words += json
            } else {
                words.append(String(decoding: rest, as: UTF8.self))
            }
        }
        return (.words(words), isJSON)
    }

    /// Exec form: the strings of a JSON array; nil when `text` is not valid JSON (shell form);
    /// an error when it is a valid array with a non-string element.
    static func parseJSON(_ buf: UnsafeBufferPointer<UInt8>) throws(LineParseError) -> [String]? {
        let start = GoText.skipSpace(buf, from: 0, to: buf.count)
        guard start < buf.count, buf[start] == UInt8(ascii: "[") else { return nil }
        switch JSONStringArray.parse(buf, from: start) {
        case .notJSON: return nil
        case .notStrings: throw LineParseError(message: errNotStringArray)
        case .strings(let s): return s
        }
    }
}
