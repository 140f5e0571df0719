// Heredoc words on an instruction line: `<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`, several per line.
// Reference: Dockerfile reference, "Here-Documents"; BuildKit parser.go (heredocsFromLine).

enum HeredocScanner {
    /// The heredocs announced on `line`, in order, contents still empty.
    static func heredocs(in line: String) throws(ExpansionError) -> [Heredoc] {
        if isPlain(line, allowSpaces: true) {
            // Nothing the shell lexer would interpret: its words are the blank-separated runs.
            var docs: [Heredoc] = []
            for word in line.utf8.split(whereSeparator: { $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0D) }) {
                if let doc = try parse(String(decoding: word, as: UTF8.self)) { docs.append(doc) }
            }
            return docs
        }
        return try lexedHeredocs(in: line)
    }

    /// `heredocs(in:)` through the shell lexer alone (no fast path): the reference for tests.
    static func lexedHeredocs(in line: String) throws(ExpansionError) -> [Heredoc] {
        var lexer = ShellLexer(escapeToken: "\\")
        lexer.rawQuotes = true
        lexer.rawEscapes = true
        lexer.skipUnsetEnv = true
        // A line the word splitter cannot read (an open quote) announces no heredocs.
        guard let words = try? lexer.process(line, lookup: { _ in nil }).words else { return [] }
        var docs: [Heredoc] = []
        for word in words {
            if let doc = try parse(word, lexAlways: true) { docs.append(doc) }
        }
        return docs
    }

    /// Reads one word as a heredoc announcement (`^(\d*)<<(-?)([^<]*)$`), or nil.
    static func parse(_ word: String) throws(ExpansionError) -> Heredoc? {
        try parse(word, lexAlways: false)
    }

    /// `parse(_:)`; with `lexAlways`, plain delimiters go through the shell lexer too.
    static func parse(_ word: String, lexAlways: Bool) throws(ExpansionError) -> Heredoc? {
        // Most words are not heredocs: look for "<<" before copying anything.
        var previous: UInt8 = 0
        guard word.utf8.contains(where: { b in defer { previous = b }; return b == 0x3C && previous == 0x3C }) else { return nil }
        let bytes = Array(word.utf8)
        var i = 0
        while i < bytes.count, bytes[i] >= 0x30 && bytes[i] <= 0x39 { i += 1 }
        let digitsEnd = i
        guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "<"), bytes[i + 1] == UInt8(ascii: "<") else { return nil }
        i += 2
        var chomp = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { chomp = true; i += 1 }
        let rest = Array(bytes[i...])
        if rest.isEmpty || rest.contains(UInt8(ascii: "<")) { return nil }
        var fd = 0
        for b in bytes[0..<digitsEnd] {
            let (m, o1) = fd.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(b - 0x30))
            if o1 || o2 { fd = Int.max; break }
            fd = a
        }
        let restString = String(decoding: rest, as: UTF8.self)
        if !lexAlways && isPlain(restString, allowSpaces: false) {
            // One word, nothing quoted or expanded.
            return Heredoc(name: restString, fileDescriptor: fd, expand: true, chomp: chomp)
        }
        var lexer = ShellLexer(escapeToken: "\\")
        lexer.skipUnsetEnv = true
        let words = try lexer.process(restString, lookup: { _ in nil }).words
        guard words.count == 1 else { return nil }
        lexer.rawQuotes = true
        let rawWords = try lexer.process(restString, lookup: { _ in nil }).words
        guard rawWords.count == words.count else {
            throw ExpansionError("internal lexing of heredoc produced inconsistent results: \(restString)")
        }
        func quotes(_ s: String) -> Int { s.utf8.reduce(0) { $0 + ($1 == 0x22 || $1 == 0x27 ? 1 : 0) } }
        return Heredoc(
            name: words[0], fileDescriptor: fd, expand: quotes(words[0]) == quotes(rawWords[0]), chomp: chomp)
    }

    /// ASCII without anything the shell lexer interprets (`$`, quotes, the escape character),
    /// and without blanks unless `allowSpaces`.
    static func isPlain(_ text: String, allowSpaces: Bool) -> Bool {
        for b in text.utf8 {
            switch b {
            case 0x24, 0x27, 0x22, 0x5C, 0x80...: return false
            case 0x09...0x0D, 0x20: if !allowSpaces { return false }
            default: break
            }
        }
        return true
    }
}
