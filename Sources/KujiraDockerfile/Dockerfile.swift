// The parsed Dockerfile and the parser's entry point.

/// A build stage: a FROM and the instructions up to the next FROM.
public struct Stage: Sendable, Hashable, Codable {
    /// 0-based position in the file.
    public var index: Int
    /// The FROM instruction.
    public var from: FromInstruction
    /// Where the FROM is.
    public var location: SourceLocation
    /// The stage name (`AS name`, lower case), if any.
    public var name: String? { from.stageName }
    /// The instructions after FROM.
    public var instructions: [DockerfileInstruction]
}

/// A Dockerfile read into typed, position-annotated instructions.
public struct Dockerfile: Sendable, Hashable, Codable {
    /// The file name used in diagnostics.
    public var fileName: String
    /// The syntax tree the instructions were read from.
    public var syntax: SyntaxTree
    /// ARG instructions before the first FROM (visible to FROM lines only, unless re-declared).
    public var globalArgs: [DockerfileInstruction]
    /// The build stages in file order.
    public var stages: [Stage]
    /// Lint warnings (BuildKit's rules, minus those skipped by `# check=skip=…`).
    public var warnings: [Diagnostic]

    /// The s-expression dump of the syntax tree, in the form of BuildKit's parser tests.
    public func dump() -> String { syntax.dump() }

    /// The parser directives.
    public var directives: [ParserDirective] { syntax.directives }

    /// Every instruction in file order, global ARGs and FROMs included.
    public var instructions: [DockerfileInstruction] {
        var out = globalArgs
        for stage in stages {
            out.append(DockerfileInstruction(
                instruction: .from(stage.from), keyword: "FROM", location: stage.location,
                endLine: stage.location.line, original: "", comments: []))
            out += stage.instructions
        }
        return out
    }

    /// The stage a name or index refers to (names are case-insensitive).
    public func stage(named nameOrIndex: String) -> Stage? {
        let lower = nameOrIndex.lowercased()
        if let s = stages.first(where: { $0.name == lower }) { return s }
        if let i = Int(nameOrIndex), i >= 0, i < stages.count { return stages[i] }
        return nil
    }
}

/// Reads Dockerfiles.
public enum DockerfileParser {
    /// Parses `text` into a `Dockerfile`.
    ///
    /// Throws `DockerfileError` with every error found (and the warnings) when BuildKit would
    /// refuse the file; on success the lint warnings are in `Dockerfile.warnings`.
    public static func parse(_ text: String, fileName: String = "Dockerfile") throws(DockerfileError) -> Dockerfile {
        let (dockerfile, diagnostics) = read(text, fileName: fileName)
        guard let dockerfile, !diagnostics.contains(where: { $0.severity == .error }) else {
            throw DockerfileError(diagnostics: diagnostics)
        }
        return dockerfile
    }

    /// Parses `text` and returns the syntax tree without instruction-level validation
    /// (what `kujira dockerfile parse --format dump` prints).
    public static func parseSyntax(_ text: String, fileName: String = "Dockerfile") throws(DockerfileError) -> SyntaxTree {
        let (tree, diagnostics) = DockerfileLexer.parse(text, fileName: fileName)
        guard let tree, !diagnostics.contains(where: { $0.severity == .error }) else {
            throw DockerfileError(diagnostics: diagnostics)
        }
        return tree
    }

    /// Parses and validates, returning whatever could be read and every diagnostic (errors
    /// and lint warnings) in file order.
    public static func read(_ text: String, fileName: String = "Dockerfile") -> (Dockerfile?, [Diagnostic]) {
        var instructionErrors = DiagnosticSink(file: fileName)
        var globalArgs: [DockerfileInstruction] = []
        var stages: [Stage] = []
        // Each node is read into its instruction as the lexer completes it (no second pass
        // over the tree, no copy of the node).
        let (tree, lexDiagnostics) = DockerfileLexer.parse(text, fileName: fileName) { node in
            switch InstructionParser.parse(node, file: fileName) {
            case .failure(let e):
                instructionErrors.error(
                    "instruction", e.message, line: node.startLine, column: column(of: e.near, in: node), endLine: node.endLine)
            case .success(let inst):
                if case .from(let f) = inst.instruction {
                    var stage = Stage(index: stages.count, from: f, location: inst.location, instructions: [])
                    // Stages tend to be alike: start with room for as many as the last one had.
                    stage.instructions.reserveCapacity(stages.last?.instructions.count ?? 0)
                    stages.append(stage)
                } else if stages.isEmpty {
                    if case .arg = inst.instruction {
                        globalArgs.append(inst)
                    } else {
                        instructionErrors.error("stage", "no build stage in current context", line: node.startLine, column: node.column, endLine: node.endLine)
                    }
                } else {
                    stages[stages.count - 1].instructions.append(inst)
                }
            }
        }
        guard let tree else { return (nil, lexDiagnostics) }
        var sink = DiagnosticSink(file: fileName)
        sink.items = lexDiagnostics.filter { $0.severity == .error } + instructionErrors.items
        if stages.isEmpty && !sink.hasErrors {
            sink.error("stage", "dockerfile contains no stages to build", line: tree.nodes.last?.startLine ?? 1)
        }
        let dockerfile = Dockerfile(fileName: fileName, syntax: tree, globalArgs: globalArgs, stages: stages, warnings: [])
        StageGraph.validate(dockerfile, into: &sink)
        var lint = DockerfileLinter.lint(dockerfile)
        lint += tree.warnings
        let check = tree.checkDirective
        lint = lint.filter { !check.skip.contains($0.code) && !check.skip.contains("all") }
        if check.error {
            lint = lint.map { var d = $0; d.severity = .error; return d }
        }
        var result = dockerfile
        result.warnings = inFileOrder(lint)
        return (result, inFileOrder(sink.items + result.warnings))
    }

    /// Sorts by position (stable), skipping the sort when the list is already in order.
    static func inFileOrder(_ items: [Diagnostic]) -> [Diagnostic] {
        func before(_ a: Diagnostic, _ b: Diagnostic) -> Bool {
            (a.location.line, a.location.column) < (b.location.line, b.location.column)
        }
        if zip(items, items.dropFirst()).allSatisfy({ !before($1, $0) }) { return items }
        return items.enumerated().sorted { before($0.element, $1.element) || (!before($1.element, $0.element) && $0.offset < $1.offset) }
            .map(\.element)
    }

    /// The column of `near` on the node's start line, or the keyword's column.
    static func column(of near: String?, in node: SyntaxNode) -> Int {
        guard let near, !near.isEmpty else { return node.column }
        let hay = Array(node.original.utf8)
        let needle = Array(near.utf8)
        guard needle.count <= hay.count else { return node.column }
        var i = 0
        while i + needle.count <= min(hay.count, node.firstLineLength + needle.count) {
            if hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle {
                return i < node.firstLineLength ? node.column + i : node.column
            }
            i += 1
        }
        return node.column
    }
}
