// Lint warnings, named and worded as BuildKit's rules (`docker build --check`):
// https://docs.docker.com/reference/build-checks/

/// Lint rules over a parsed Dockerfile.
public enum DockerfileLinter {
    /// Validates `text` the way `kujira build --check` does: every error (syntax, instruction,
    /// stage graph, expansion) and every lint warning, in file order.
    public static func check(_ text: String, fileName: String = "Dockerfile", buildArgs: [String: String] = [:]) -> [Diagnostic] {
        let (dockerfile, diagnostics) = DockerfileParser.read(text, fileName: fileName)
        guard let dockerfile, !diagnostics.contains(where: { $0.severity == .error }) else { return diagnostics }
        var options = EvaluationOptions()
        options.buildArgs = buildArgs
        var extra: [Diagnostic] = []
        var skip = dockerfile.syntax.checkDirective.skip
        if skip.contains("all") { skip = Set(["UndefinedVar", "UndefinedArgInFrom"]) }
        // Every stage, in file order (a stage's base stage always comes first).
        let (_, errors, undefined) = DockerfileEvaluator.run(
            dockerfile, options: options, target: max(0, dockerfile.stages.count - 1), order: Array(dockerfile.stages.indices))
        extra += errors
        if !skip.contains("UndefinedVar") { extra += undefined }
        var seen = Set<Diagnostic>()
        let all = (diagnostics + extra).filter { seen.insert($0).inserted }
        return all.sorted { ($0.location.line, $0.location.column) < ($1.location.line, $1.location.column) }
    }

    /// BuildKit's SecretsUsedInArgOrEnv: a `_`-separated part of the name is a secret word
    /// (case-insensitive) and no part is `public`. Byte-level: this runs on every ARG and ENV.
    static func secretPattern(_ name: String) -> Bool {
        var secret = false
        var isPublic = false
        var token: [UInt8] = []
        token.reserveCapacity(16)
        func finish() {
            switch token.count {
            case 3: secret = secret || token == Array("key".utf8)
            case 4: secret = secret || token == Array("auth".utf8)
            case 5: secret = secret || token == Array("token".utf8) || token == Array("pword".utf8)
            case 6:
                isPublic = isPublic || token == Array("public".utf8)
                secret = secret || token == Array("apikey".utf8) || token == Array("passwd".utf8) || token == Array("secret".utf8)
            case 8: secret = secret || token == Array("password".utf8)
            case 10: secret = secret || token == Array("credential".utf8)
            case 11: secret = secret || token == Array("credentials".utf8)
            default: break
            }
            token.removeAll(keepingCapacity: true)
        }
        for b in name.utf8 {
            if b == UInt8(ascii: "_") { finish(); continue }
            token.append(b >= 0x41 && b <= 0x5A ? b | 0x20 : b)
        }
        finish()
        return secret && !isPublic
    }

    static let platformArgs: Set<String> = [
        "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
        "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
    ]

    /// The warnings that need no evaluation.
    static func lint(_ dockerfile: Dockerfile) -> [Diagnostic] {
        var sink = DiagnosticSink(file: dockerfile.fileName)
        let nodes = dockerfile.syntax.nodes
        // ConsistentInstructionCasing: compare with the majority.
        func casing(_ k: String) -> (upper: Bool, lower: Bool) {
            var hasUpper = false, hasLower = false
            for b in k.utf8 {
                if b >= 0x41 && b <= 0x5A { hasUpper = true } else if b >= 0x61 && b <= 0x7A { hasLower = true }
            }
            return (!hasLower, !hasUpper)
        }
        var casings: [(upper: Bool, lower: Bool)] = []
        casings.reserveCapacity(nodes.count)
        var fromNodes: [Int: String] = [:]
        // Borrow each node (copying one retains all its fields).
        nodes.withUnsafeBufferPointer { buffer in
            guard let nodes = buffer.baseAddress else { return }
            for i in buffer.indices {
                casings.append(casing(nodes[i].keyword))
                if nodes[i].kind == .from { fromNodes[nodes[i].startLine] = nodes[i].keyword }
            }
        }
        let upper = casings.filter { $0.upper }.count
        let lower = casings.filter { $0.lower && !$0.upper }.count
        let majorityUpper = upper >= lower
        for (i, c) in casings.enumerated() where (majorityUpper && !c.upper) || (!majorityUpper && !c.lower) {
            sink.warning("ConsistentInstructionCasing",
                         "Command '\(nodes[i].keyword)' should match the case of the command majority (\(majorityUpper ? "uppercase" : "lowercase"))",
                         line: nodes[i].startLine, column: nodes[i].column)
        }
        let globalArgNames = Set(dockerfile.globalArgs.flatMap { inst -> [String] in
            if case .arg(let a) = inst.instruction { return a.map(\.name) }
            return []
        })
        var lexer = ShellLexer(escapeToken: dockerfile.syntax.escapeToken == "`" ? "`" : "\\")
        lexer.skipUnsetEnv = false
        for stage in dockerfile.stages {
            let loc = stage.location
            let f = stage.from
            if let written = f.stageNameAsWritten, written != written.lowercased() {
                sink.warning("StageNameCasing", "Stage name '\(written)' should be lowercase", line: loc.line, column: loc.column)
            }
            if let asWord = f.asKeyword, let fromKeyword = fromNodes[loc.line] {
                let fromUpper = fromKeyword == fromKeyword.uppercased()
                let asUpper = asWord == asWord.uppercased()
                if fromUpper != asUpper {
                    sink.warning("FromAsCasing", "'\(asWord)' and '\(fromKeyword)' keywords' casing do not match", line: loc.line, column: loc.column)
                }
            }
            if let name = f.stageName, name == "scratch" || name == "context" {
                sink.warning("ReservedStageName", "'\(name)' is reserved and should not be used as a stage name", line: loc.line, column: loc.column)
            }
            if let p = f.platform, p == "$TARGETPLATFORM" || p == "${TARGETPLATFORM}" {
                sink.warning("RedundantTargetPlatform",
                             "Setting platform to predefined \(p) in FROM is redundant as this is the default behavior",
                             line: loc.line, column: loc.column)
            }
            for text in [f.image, f.platform ?? ""] where text.contains("$") {
                if let r = try? lexer.process(text, lookup: { name in
                    globalArgNames.contains(name) || platformArgs.contains(name) ? "" : nil
                }) {
                    for name in r.unmatched.sorted() {
                        sink.warning("UndefinedArgInFrom", "FROM argument '\(name)' is not declared", line: loc.line, column: loc.column)
                    }
                }
            }
            var seenSingle: [String: Int] = [:]
            var absoluteWorkdir = false
            // Borrow each instruction; most are skipped without copying their payload.
            stage.instructions.withUnsafeBufferPointer { buffer in
            guard let instructions = buffer.baseAddress else { return }
            for index in buffer.indices {
                // Most instructions have no rule: skip them before touching their payload.
                guard instructions[index].instruction.isLinted else { continue }
                let l = instructions[index].location
                switch instructions[index].instruction {
                case .run, .copy, .add, .from, .user, .volume, .shell, .stopSignal:
                    continue
                case .cmd(let form), .entrypoint(let form):
                    if case .shell = form {
                        sink.warning("JSONArgsRecommended",
                                     "JSON arguments recommended for \(instructions[index].instruction.keyword) to prevent unintended behavior related to OS signals",
                                     line: l.line, column: l.column)
                    }
                case .maintainer:
                    sink.warning("MaintainerDeprecated", "Maintainer instruction is deprecated in favor of using label", line: l.line, column: l.column)
                case .env(let pairs), .label(let pairs):
                    let kw = instructions[index].instruction.keyword
                    if pairs.contains(where: \.legacy) {
                        sink.warning("LegacyKeyValueFormat",
                                     "\"\(kw) key=value\" should be used instead of legacy \"\(kw) key value\" format",
                                     line: l.line, column: l.column)
                    }
                    if case .env = instructions[index].instruction {
                        for p in pairs where secretPattern(p.key) {
                            sink.warning("SecretsUsedInArgOrEnv",
                                         "Do not use ARG or ENV instructions for sensitive data (ENV \(GoText.quote(p.key)))",
                                         line: l.line, column: l.column)
                        }
                    }
                case .arg(let args):
                    for a in args where secretPattern(a.name) {
                        sink.warning("SecretsUsedInArgOrEnv",
                                     "Do not use ARG or ENV instructions for sensitive data (ARG \(GoText.quote(a.name)))",
                                     line: l.line, column: l.column)
                    }
                case .workdir(let path):
                    if path.hasPrefix("/") || path.hasPrefix("$") { absoluteWorkdir = true } else if !absoluteWorkdir {
                        sink.warning("WorkdirRelativePath",
                                     "Relative workdir \(GoText.quote(path)) can have unexpected results if the base image changes",
                                     line: l.line, column: l.column)
                    }
                case .expose(let ports):
                    for p in ports {
                        if p.contains(":") {
                            sink.warning("ExposeInvalidFormat",
                                         "EXPOSE instruction should not define an IP address or host-port mapping, found '\(p)'",
                                         line: l.line, column: l.column)
                        }
                        if let slash = p.lastIndex(of: "/") {
                            let proto = p[p.index(after: slash)...]
                            if proto != proto.lowercased() {
                                sink.warning("ExposeProtoCasing",
                                             "Defined protocol '\(proto)' in EXPOSE instruction should be lowercase",
                                             line: l.line, column: l.column)
                            }
                        }
                    }
                case .onbuild(let o):
                    if o.trigger.isEmpty {
                        sink.warning("InvalidOnbuildTrigger",
                                     "ONBUILD trigger \(GoText.quote(o.expression)) is not a valid instruction; it will fail in child builds",
                                     line: l.line, column: l.column)
                    }
                default:
                    break
                }
                let kw: String
                switch instructions[index].instruction {
                case .cmd: kw = "CMD"
                case .entrypoint: kw = "ENTRYPOINT"
                case .healthcheck: kw = "HEALTHCHECK"
                default: continue
                }
                if seenSingle[kw] != nil {
                    sink.warning("MultipleInstructionsDisallowed",
                                 "Multiple \(kw) instructions should not be used in the same stage because only the last one will be used",
                                 line: l.line, column: l.column)
                }
                seenSingle[kw] = l.line
            }
            }
        }
        for inst in dockerfile.globalArgs {
            if case .arg(let args) = inst.instruction {
                for a in args where secretPattern(a.name) {
                    sink.warning("SecretsUsedInArgOrEnv",
                                 "Do not use ARG or ENV instructions for sensitive data (ARG \(GoText.quote(a.name)))",
                                 line: inst.location.line, column: inst.location.column)
                }
            }
        }
        return sink.items
    }
}
