// Parser directives: `# syntax=…`, `# escape=…`, `# check=…` at the very top of the file.
// Reference: Dockerfile reference, "Parser directives"; BuildKit parser/directives.go.

/// A parser directive found at the top of a Dockerfile.
public struct ParserDirective: Sendable, Hashable, Codable {
    /// The directive name in lower case: `syntax`, `escape` or `check`.
    public var name: String
    /// The value, surrounding whitespace removed.
    public var value: String
    /// The 1-based line it was found on.
    public var line: Int

    /// Creates a directive.
    public init(name: String, value: String, line: Int) {
        self.name = name
        self.value = value
        self.line = line
    }
}

/// Recognises directives line by line until the first line that is not one.
///
/// A directive is `#` then optional whitespace, a name (`[a-zA-Z][a-zA-Z0-9]*`, case-insensitive),
/// optional whitespace, `=`, optional whitespace and a non-empty value. Any other line (an
/// instruction, an ordinary comment, an unknown directive, an empty line) ends the directive
/// block for good. A directive may appear only once.
struct DirectiveScanner {
    static let known: Set<String> = ["syntax", "escape", "check"]

    private(set) var done = false
    private var seen: Set<String> = []

    enum Outcome {
        case notDirective
        case directive(name: String, value: String)
        case duplicate(String)
    }

    /// Examines one physical line (newline and leading whitespace already removed).
    mutating func scan(_ buf: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Outcome {
        if done { return .notDirective }
        guard start < end, buf[start] == UInt8(ascii: "#") else { done = true; return .notDirective }
        var i = GoText.skipSpace(buf, from: start + 1, to: end)
        let nameStart = i
        guard i < end, isLetter(buf[i]) else { done = true; return .notDirective }
        i += 1
        while i < end, isLetter(buf[i]) || (buf[i] >= 0x30 && buf[i] <= 0x39) { i += 1 }
        let nameEnd = i
        while i < end, isRegexSpace(buf[i]) { i += 1 }
        guard i < end, buf[i] == UInt8(ascii: "=") else { done = true; return .notDirective }
        i += 1
        guard i < end else { done = true; return .notDirective }
        // `\s*=\s*(.+?)\s*$`: the value is lazy but must hold one character, so a line ending
        // in `=` and blanks has the last blank as its value.
        while i < end, isRegexSpace(buf[i]) { i += 1 }
        var valueStart = i
        var valueEnd = end
        while valueEnd > valueStart, isRegexSpace(buf[valueEnd - 1]) { valueEnd -= 1 }
        if valueStart == valueEnd { valueStart = end - 1; valueEnd = end }
        let name = String(buf, nameStart, nameEnd).lowercased()
        guard Self.known.contains(name) else { done = true; return .notDirective }
        if seen.contains(name) { return .duplicate(name) }
        seen.insert(name)
        return .directive(name: name, value: String(buf, valueStart, valueEnd))
    }

    /// RE2's `\s`: `[\t\n\f\r ]`.
    @inline(__always)
    private func isRegexSpace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0C || b == 0x0D
    }

    @inline(__always)
    private func isLetter(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }
}

extension SyntaxTree {
    /// The `check` directive parsed: `skip=Rule1,Rule2;error=true`.
    public var checkDirective: (skip: Set<String>, error: Bool) {
        guard let value = directives.first(where: { $0.name == "check" })?.value else { return ([], false) }
        var skip: Set<String> = []
        var asError = false
        for part in value.split(separator: ";") {
            let kv = part.split(separator: "=", maxSplits: 1).map { GoText.trimSpace(String($0)) }
            guard kv.count == 2 else { continue }
            switch kv[0].lowercased() {
            case "skip":
                for rule in kv[1].split(separator: ",") { skip.insert(GoText.trimSpace(String(rule))) }
            case "error":
                asError = kv[1].lowercased() == "true"
            default:
                break
            }
        }
        return (skip, asError)
    }
}
