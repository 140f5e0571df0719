// The line-level reader: physical lines → logical instruction lines → syntax nodes.
// It follows BuildKit's parser loop (parser.go `Parse`): BOM, parser directives, comments
// (also inside continuations), line continuations with the active escape character, empty
// continuation lines (a warning), CRLF, heredoc bodies, and the 64 KiB line limit of Go's
// bufio.Scanner. It works on UTF-8 bytes and allocates one string per instruction.

/// Reads a Dockerfile into a syntax tree.
public enum DockerfileLexer {
    /// Go's `bufio.MaxScanTokenSize`: BuildKit cannot read a longer physical line.
    static let maxLineLength = 64 * 1024

    /// Parses `text`. Returns the tree (nil when the file cannot be read at all) and every
    /// diagnostic found; instructions that fail the line parser are left out of the tree.
    public static func parse(_ text: String, fileName: String = "Dockerfile") -> (tree: SyntaxTree?, diagnostics: [Diagnostic]) {
        parse(text, fileName: fileName, visit: { _ in })
    }

    /// Parses `text`, handing each completed node to `visit` as it goes into the tree (the
    /// instruction parser reads it there, while it is hot and without copying it).
    static func parse(_ text: String, fileName: String, visit: (SyntaxNode) -> Void) -> (tree: SyntaxTree?, diagnostics: [Diagnostic]) {
        var text = text
        return text.withUTF8 { buf in
            var reader = Reader(buf: buf, sink: DiagnosticSink(file: fileName))
            return reader.run(visit: visit)
        }
    }

    private struct Reader {
        let buf: UnsafeBufferPointer<UInt8>
        var sink: DiagnosticSink
        var pos = 0
        var currentLine = 0
        var escape = UInt8(ascii: "\\")
        var directiveScanner = DirectiveScanner()
        var directives: [ParserDirective] = []
        var warnings: [Diagnostic] = []
        var fatal = false

        init(buf: UnsafeBufferPointer<UInt8>, sink: DiagnosticSink) {
            self.buf = buf
            self.sink = sink
        }

        /// The next physical line: start, end without the line ending, end with it.
        mutating func nextLine() -> (start: Int, end: Int, full: Int)? {
            guard pos < buf.count else { return nil }
            let start = pos
            var i = pos
            let n = buf.count
            while i < n && buf[i] != 0x0A { i += 1 }
            let full = i < n ? i + 1 : n
            pos = full
            if full - start > DockerfileLexer.maxLineLength {
                sink.error("syntax", "dockerfile line greater than max allowed size of \(DockerfileLexer.maxLineLength - 1)",
                           line: currentLine + 1)
                fatal = true
                return nil
            }
            var end = full
            while end > start && (buf[end - 1] == 0x0A || buf[end - 1] == 0x0D) { end -= 1 }
            return (start, end, full)
        }

        func isComment(_ start: Int, _ end: Int) -> Bool {
            let t = GoText.skipSpace(buf, from: start, to: end)
            return t < end && buf[t] == UInt8(ascii: "#")
        }

        /// Removes a trailing escape character (and blanks after it) that continues the line.
        /// `foo \\` (an escaped escape) also counts, as in BuildKit's regular expression.
        func trimContinuation(_ start: Int, _ end: Int) -> (Int, Bool) {
            var e = end
            while e > start && (buf[e - 1] == 0x20 || buf[e - 1] == 0x09) { e -= 1 }
            guard e > start, buf[e - 1] == escape else { return (end, true) }
            if e - 1 == start { return (start, false) }
            if buf[e - 2] == escape { return (end, true) }
            return (e - 1, false)
        }

        mutating func run(visit: (SyntaxNode) -> Void) -> (SyntaxTree?, [Diagnostic]) {
            var nodes: [SyntaxNode] = []
            // At most one node per line: reserve that many (untouched capacity costs no memory)
            // so the array never grows by copying.
            var lineCount = 1
            for b in buf where b == 0x0A { lineCount += 1 }
            nodes.reserveCapacity(lineCount)
            var comments: [String] = []
            var lineBuffer: [UInt8] = []
            lineBuffer.reserveCapacity(256)
            var sawNodeError = false

            while !fatal, let physical = nextLine() {
                var s = physical.start
                if currentLine == 0, physical.end - s >= 3, buf[s] == 0xEF, buf[s + 1] == 0xBB, buf[s + 2] == 0xBF {
                    s += 3
                }
                let t = GoText.skipSpace(buf, from: s, to: physical.end)
                let lineIsComment = t < physical.end && buf[t] == UInt8(ascii: "#")
                if lineIsComment {
                    // BuildKit drops the first byte of the untrimmed line, then trims.
                    let c = GoText.trimSpace(String(buf, s + 1, physical.full))
                    if c.isEmpty { comments.removeAll() } else { comments.append(c) }
                }
                switch directiveScanner.scan(buf, t, physical.end) {
                case .notDirective:
                    break
                case .duplicate(let name):
                    sink.error("directive", "only one \(name) parser directive can be used", line: currentLine + 1, column: t - physical.start + 1)
                    fatal = true
                    continue
                case .directive(let name, let value):
                    if name == "escape" {
                        guard value == "\\" || value == "`" else {
                            sink.error("directive", "invalid escape token '\(value)' does not match ` or \\",
                                       line: currentLine + 1, column: t - physical.start + 1)
                            fatal = true
                            continue
                        }
                        escape = value.utf8.first ?? UInt8(ascii: "\\")
                    }
                    directives.append(ParserDirective(name: name, value: value, line: currentLine + 1))
                    if !comments.isEmpty { comments.removeLast() }
                }
                currentLine += 1
                let startLine = currentLine
                let column = t - physical.start + 1
                if lineIsComment { continue }
                var (contentEnd, isEndOfLine) = trimContinuation(t, physical.end)
                if isEndOfLine && contentEnd == t { continue }
                lineBuffer.removeAll(keepingCapacity: true)
                lineBuffer.append(contentsOf: UnsafeBufferPointer(rebasing: buf[t..<contentEnd]))

                var hasEmptyContinuation = false
                while !isEndOfLine, let cont = nextLine() {
                    currentLine += 1
                    if isComment(cont.start, cont.end) { continue }
                    if GoText.skipSpace(buf, from: cont.start, to: cont.end) == cont.end {
                        hasEmptyContinuation = true
                        continue
                    }
                    let (e, eol) = trimContinuation(cont.start, cont.end)
                    isEndOfLine = eol
                    lineBuffer.append(contentsOf: UnsafeBufferPointer(rebasing: buf[cont.start..<e]))
                }
                if fatal { break }
                let line = String(decoding: lineBuffer, as: UTF8.self)
                if hasEmptyContinuation {
                    warnings.append(Diagnostic(
                        severity: .warning, code: "NoEmptyContinuation",
                        message: "Empty continuation line found in: \(line)",
                        location: SourceLocation(file: sink.file, line: currentLine, column: 1)))
                }

                // The node goes straight into the array and is completed in place (no copies).
                var wantsHeredocs = false
                do throws(LineParseError) {
                    let node = try LineParsers.node(from: line, escape: escape)
                    wantsHeredocs = needsHeredocs(node)
                    nodes.append(consume node)
                } catch {
                    sink.error("syntax", error.message, line: startLine, column: column, endLine: currentLine)
                    sawNodeError = true
                    comments.removeAll()
                    continue
                }
                let last = nodes.count - 1
                nodes[last].startLine = startLine
                nodes[last].column = column
                nodes[last].firstLineLength = contentEnd - t
                if wantsHeredocs, containsHeredocMarker(lineBuffer) {
                    do throws(ExpansionError) {
                        let docs = try HeredocScanner.heredocs(in: line)
                        if !docs.isEmpty {
                            guard let read = readHeredocBodies(docs) else {
                                sink.error("heredoc", "unterminated heredoc", line: startLine, column: column, endLine: currentLine)
                                nodes.removeLast()
                                fatal = true
                                break
                            }
                            nodes[last].heredocs = read
                        }
                    } catch {
                        sink.error("heredoc", error.message, line: startLine, column: column, endLine: currentLine)
                        nodes.removeLast()
                        sawNodeError = true
                        comments.removeAll()
                        continue
                    }
                }
                nodes[last].endLine = currentLine
                if !comments.isEmpty {
                    nodes[last].comments = comments
                    comments.removeAll()
                }
                visit(nodes[last])
            }

            if !fatal && nodes.isEmpty && !sawNodeError {
                sink.error("syntax", "file with no instructions", line: max(1, currentLine))
                fatal = true
            }
            let escapeCharacter: String = escape == UInt8(ascii: "`") ? "`" : "\\"
            let tree = fatal ? nil : SyntaxTree(directives: directives, escapeToken: escapeCharacter, nodes: nodes, warnings: warnings)
            return (tree, sink.items + warnings)
        }

        func containsHeredocMarker(_ bytes: [UInt8]) -> Bool {
            var previous: UInt8 = 0
            for b in bytes {
                if b == 0x3C && previous == 0x3C { return true }
                previous = b
            }
            return false
        }

        func needsHeredocs(_ node: SyntaxNode) -> Bool {
            if node.kind == .onbuild, case .subcommand(let child) = node.arguments {
                return child.kind.takesHeredocs && !child.isJSON
            }
            return node.kind.takesHeredocs && !node.isJSON
        }

        /// Reads each heredoc's body up to its terminator line; nil when the file ends first.
        mutating func readHeredocBodies(_ docs: [Heredoc]) -> [Heredoc]? {
            var out: [Heredoc] = []
            for var doc in docs {
                let terminator = Array(doc.name.utf8)
                var terminated = false
                var content: [UInt8] = []
                while let l = nextLine() {
                    currentLine += 1
                    var s = l.start
                    if doc.chomp { while s < l.end && buf[s] == 0x09 { s += 1 } }
                    if l.end - s == terminator.count && terminator.elementsEqual(UnsafeBufferPointer(rebasing: buf[s..<l.end])) {
                        terminated = true
                        break
                    }
                    content.append(contentsOf: UnsafeBufferPointer(rebasing: buf[l.start..<l.full]))
                }
                guard terminated else { return nil }
                doc.content = String(decoding: content, as: UTF8.self)
                out.append(doc)
            }
            return out
        }
    }
}
