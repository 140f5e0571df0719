// Prints a syntax tree back as Dockerfile text: one line per instruction, heredoc bodies
// after their line. Parsing the output gives the same tree (the round trip the tests check);
// comments and continuation line breaks are not kept.

/// Writes Dockerfile text from a syntax tree.
public enum DockerfilePrinter {
    /// The Dockerfile text for `tree`.
    public static func print(_ tree: SyntaxTree) -> String {
        var out = ""
        for d in tree.directives { out += "# \(d.name)=\(d.value)\n" }
        let escape = tree.escapeToken == "`" ? "`" : "\\"
        for node in tree.nodes {
            var text = line(for: node)
            if node.keyword.isEmpty {
                // A continuation that runs into the end of the file makes a node with no keyword.
                text = escape
            } else {
                // A line ending in the escape character (and blanks) would continue onto the next
                // one. The original ended in a blank that BuildKit trims but the continuation
                // check does not see (such as U+00A0); write one back.
                var trimmed = Substring(text)
                while let last = trimmed.unicodeScalars.last, last == " " || last == "\t" { trimmed = trimmed.dropLast() }
                if trimmed.hasSuffix(escape) { text = String(trimmed) + "\u{A0}" }
            }
            out += text
            out += "\n"
            for doc in node.heredocs {
                out += doc.content
                // Bytes, not characters: a body ending in CRLF ends in the Character "\r\n",
                // which `hasSuffix("\n")` does not match.
                if !doc.content.isEmpty && doc.content.utf8.last != 0x0A { out += "\n" }
                out += doc.name + "\n"
            }
        }
        return out
    }

    /// One instruction line, without heredoc bodies.
    public static func line(for node: SyntaxNode) -> String {
        // An unknown instruction keeps nothing but its text: write that back as it was.
        if node.kind == .unknown { return node.keyword + " " + unknownArguments(node) }
        var parts = [node.keyword]
        for flag in node.flags { parts.append(printFlag(flag)) }
        var args: String?
        switch node.arguments {
        case .none:
            break
        case .subcommand(let child):
            args = line(for: child)
        case .keyValues(let kv):
            if kv.count == 1 && kv[0].separator.isEmpty {
                // A key ending in an escape character would escape a single blank and glue the
                // value to it; two blanks leave one to separate (the value starts after the run).
                let blank = kv[0].key.hasSuffix("\\") || kv[0].key.hasSuffix("`") ? "  " : " "
                args = kv[0].key + blank + kv[0].value
            } else {
                args = kv.map { $0.key + "=" + $0.value }.joined(separator: " ")
            }
        case .words(let words):
            switch LineParsers.shape(of: node.kind) {
            case .ignore:
                args = unknownArguments(node)
            case .health:
                let type = words.first ?? ""
                let rest = Array(words.dropFirst())
                if node.isJSON { args = type + " " + JSONStringArray.encode(rest) } else { args = ([type] + rest).joined(separator: " ") }
            case .maybeJSON, .string:
                args = node.isJSON ? JSONStringArray.encode(words) : words.first ?? ""
            case .maybeJSONToList, .whitespaceList:
                // \v separates for the splitter but is not JSON whitespace, so a list that was not
                // valid JSON does not become valid JSON.
                args = node.isJSON ? JSONStringArray.encode(words) : words.joined(separator: words.first?.hasPrefix("[") == true ? "\u{0B}" : " ")
            default:
                args = words.joined(separator: " ")
            }
        }
        if node.isJSON, case .none = node.arguments { args = "[]" }
        if var a = args, !a.isEmpty {
            if a.hasPrefix("--") { a = "-- " + a }
            parts.append(a)
        }
        return parts.joined(separator: " ")
    }

    static func unknownArguments(_ node: SyntaxNode) -> String {
        GoText.trimSpace(Self.dropKeyword(node))
    }

    /// The logical line without its leading keyword (byte-wise: a combining mark after the
    /// keyword must not change where it ends).
    static func dropKeyword(_ node: SyntaxNode) -> String {
        // The logical line may start with blanks when its first physical line held only the
        // escape character.
        var o = node.original
        return o.withUTF8 { buf in
            let start = GoText.skipSpace(buf, from: 0, to: buf.count)
            let k = node.keyword.utf8
            guard buf.count - start >= k.count, k.elementsEqual(UnsafeBufferPointer(rebasing: buf[start..<(start + k.count)])) else {
                return String(buf, start, buf.count)
            }
            return String(buf, start + k.count, buf.count)
        }
    }

    /// A flag, quoting its value when the flag splitter would otherwise change it.
    static func printFlag(_ flag: String) -> String {
        let needsQuotes = flag.utf8.contains { GoText.isSpaceByte($0) || $0 == 0x22 || $0 == 0x27 || $0 == 0x5C } || flag == "--"
        guard needsQuotes else { return flag }
        var body = ""
        for c in flag.unicodeScalars.dropFirst(2) {
            if c == "\"" || c == "\\" { body += "\\" }
            body.unicodeScalars.append(c)
        }
        return "--\"" + body + "\""
    }
}
