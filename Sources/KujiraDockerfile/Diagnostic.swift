// Diagnostics: every error and lint warning names `file:line:column`.

/// A position in a Dockerfile: 1-based line and column (columns count UTF-8 bytes, as
/// compilers and BuildKit's LSP ranges do).
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The file name given to the parser (for example `Dockerfile`).
    public var file: String
    /// 1-based line number.
    public var line: Int
    /// 1-based column (UTF-8 byte offset within the line, plus one).
    public var column: Int

    /// Creates a location.
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`.
    public var description: String { "\(file):\(line):\(column)" }
}

/// How serious a diagnostic is.
public enum DiagnosticSeverity: String, Sendable, Hashable, Codable {
    /// BuildKit refuses the Dockerfile.
    case error
    /// BuildKit accepts the Dockerfile but its linter (`docker build --check`) warns.
    case warning
}

/// One error or lint warning about a Dockerfile.
public struct Diagnostic: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Error or warning.
    public var severity: DiagnosticSeverity
    /// A stable identifier: BuildKit's lint rule name for warnings (`StageNameCasing`, …),
    /// a Kujira code for errors (`syntax`, `instruction`, `flag`, `stage`, `expansion`).
    public var code: String
    /// The human message, worded as BuildKit words it where BuildKit has a message.
    public var message: String
    /// Where the problem starts.
    public var location: SourceLocation
    /// The last line of the instruction the problem belongs to.
    public var endLine: Int

    /// Creates a diagnostic.
    public init(
        severity: DiagnosticSeverity, code: String, message: String,
        location: SourceLocation, endLine: Int? = nil
    ) {
        self.severity = severity
        self.code = code
        self.message = message
        self.location = location
        self.endLine = endLine ?? location.line
    }

    /// `file:line:column: error: message`, the form compilers print.
    public var description: String { "\(location): \(severity.rawValue): \(message)" }
}

/// The error thrown when a Dockerfile is refused; it carries every error found, in file order.
public struct DockerfileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Every error (at least one) and every warning found, in file order.
    public var diagnostics: [Diagnostic]

    /// Creates an error from diagnostics.
    public init(diagnostics: [Diagnostic]) {
        self.diagnostics = diagnostics
    }

    /// Only the errors.
    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }

    /// One line per diagnostic.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Collects diagnostics while parsing.
struct DiagnosticSink {
    var file: String
    var items: [Diagnostic] = []

    mutating func error(_ code: String, _ message: String, line: Int, column: Int = 1, endLine: Int? = nil) {
        items.append(Diagnostic(
            severity: .error, code: code, message: message,
            location: SourceLocation(file: file, line: line, column: column), endLine: endLine))
    }

    mutating func warning(_ rule: String, _ message: String, line: Int, column: Int = 1, endLine: Int? = nil) {
        items.append(Diagnostic(
            severity: .warning, code: rule, message: message,
            location: SourceLocation(file: file, line: line, column: column), endLine: endLine))
    }

    var hasErrors: Bool { items.contains { $0.severity == .error } }
}
