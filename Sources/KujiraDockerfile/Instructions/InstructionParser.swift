// Instruction-level validation: a syntax node becomes a typed instruction or an error, with
// BuildKit's messages (instructions/parse.go, bflag.go).

struct InstructionError: Error {
    var message: String
    /// The flag or argument at fault, to point the column at it.
    var near: String?
}

enum InstructionParser {
    typealias Spec = BuildFlags.Spec

    static func parse(_ node: SyntaxNode, file: String) -> Result<DockerfileInstruction, InstructionError> {
        let result: Result<Instruction, InstructionError>
        switch node.kind {
        case .from: result = from(node)
        case .run: result = run(node)
        case .cmd: result = flagsOnly(node).map { .cmd(commandForm(node)) }
        case .entrypoint: result = flagsOnly(node).map { .entrypoint(commandForm(node)) }
        case .shell: result = shell(node)
        case .label: result = keyValues(node, "LABEL").map { .label($0) }
        case .env: result = keyValues(node, "ENV").map { .env($0) }
        case .expose: result = expose(node)
        case .add: result = copy(node, isAdd: true)
        case .copy: result = copy(node, isAdd: false)
        case .arg: result = arg(node)
        case .volume: result = volume(node)
        case .user: result = single(node, "USER").map { .user($0) }
        case .workdir: result = single(node, "WORKDIR").map { .workdir($0) }
        case .healthcheck: result = healthcheck(node)
        case .stopsignal: result = stopSignal(node)
        case .onbuild: result = onbuild(node, file: file)
        case .maintainer: result = single(node, "MAINTAINER").map { .maintainer($0) }
        case .unknown:
            let message = Suggest.wrap("unknown instruction: \(node.keyword)", value: node.keyword, candidates: Instruction.keywords)
            result = .failure(InstructionError(message: message))
        }
        switch result {
        case .failure(let e):
            return .failure(e)
        case .success(let instruction):
            return .success(DockerfileInstruction(
                instruction: instruction, keyword: node.keyword,
                location: SourceLocation(file: file, line: node.startLine, column: node.column),
                endLine: node.endLine, original: node.original, comments: node.comments))
        }
    }

    // MARK: - helpers

    static func flags(_ node: SyntaxNode, _ specs: [Spec]) -> Result<BuildFlags, InstructionError> {
        BuildFlags.parse(node.flags, specs: specs).mapError { InstructionError(message: $0.message, near: $0.flag) }
    }

    static func flagsOnly(_ node: SyntaxNode) -> Result<Void, InstructionError> {
        flags(node, []).map { _ in () }
    }

    static func commandForm(_ node: SyntaxNode) -> CommandForm? {
        let args = node.flatArguments
        if node.isJSON { return .exec(args) }
        guard let first = args.first else { return nil }
        return .shell(first)
    }

    static func single(_ node: SyntaxNode, _ name: String) -> Result<String, InstructionError> {
        let args = node.flatArguments
        guard args.count == 1 else { return .failure(InstructionError(message: "\(name) requires exactly one argument")) }
        return flagsOnly(node).map { args[0] }
    }

    // MARK: - instructions

    static let fromSpecs = [Spec(name: "platform", kind: .string)]
    static let runSpecs = [Spec(name: "mount", kind: .strings), Spec(name: "network", kind: .string), Spec(name: "security", kind: .string)]
    // The options of the reference: ADD has no --from and no --parents; COPY no --checksum,
    // --keep-git-dir or --unpack.
    static let copyCommonSpecs = [
        Spec(name: "chown", kind: .string), Spec(name: "chmod", kind: .string), Spec(name: "link", kind: .bool),
        Spec(name: "exclude", kind: .strings),
    ]
    static let addSpecs = copyCommonSpecs + [
        Spec(name: "keep-git-dir", kind: .bool), Spec(name: "checksum", kind: .string), Spec(name: "unpack", kind: .bool),
    ]
    static let copySpecs = copyCommonSpecs + [Spec(name: "from", kind: .string), Spec(name: "parents", kind: .bool)]

    static func stageNamePattern(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0) }
    }

    static func from(_ node: SyntaxNode) -> Result<Instruction, InstructionError> {
        let args = node.flatArguments
        var f = FromInstruction(image: args.first ?? "")
        if args.count == 3 && args[1].lowercased() == "as" {
            let name = args[2].lowercased()
            guard stageNamePattern(name) else {
                return .failure(InstructionError(
                    message: "invalid name for build stage: \(GoText.quote(args[2])), name can't start with a number or contain symbols",
                    near: args[2]))
            }
            f.stageName = name
            f.stageNameAsWritten = args[2]
            f.asKeyword = args[1]
        } else if args.count != 1 {
            return .failure(InstructionError(message: "FROM requires either one or three arguments"))
        }
        return flags(node, fromSpecs).map { fl in
            f.platform = fl.strings["platform"]
            return .from(f)
        }
    }

    static func run(_ node: SyntaxNode) -> Result<Instruction, InstructionError> {
        let fl: BuildFlags
        switch flags(node, runSpecs) {
        case .failure(let e): return .failure(e)
        case .success(let v): fl = v
        }
        var r = RunInstruction(command: commandForm(node), heredocs: node.heredocs, mounts: [], network: nil, security: nil)
        if r.command == nil && r.heredocs.isEmpty {
            return .failure(InstructionError(message: "RUN requires at least one argument"))
        }
        for raw in fl.lists["mount"] ?? [] {
            switch RunFlags.mount(raw) {
            case .failure(let e): return .failure(InstructionError(message: e.message, near: "--mount"))
            case .success(let m): r.mounts.append(m)
            }
        }
        if let n = fl.strings["network"] {
            if !RunFlags.containsVariable(n) && !RunFlags.networkModes.contains(n) {
                return .failure(InstructionError(message: "unsupported network mode \(GoText.quote(n))", near: "--network"))
            }
            r.network = n
        }
        if let s = fl.strings["security"] {
            if !RunFlags.containsVariable(s) && !RunFlags.securityModes.contains(s) {
                return .failure(InstructionError(message: "security \(GoText.quote(s)) is not valid", near: "--security"))
            }
            r.security = s
        }
        return .success(.run(r))
    }

    static func shell(_ node: SyntaxNode) -> Result<Instruction, InstructionError> {
        if case .failure(let e) = flagsOnly(node) { return .failure(e) }
        let args = node.flatArguments
        if args.isEmpty { return .failure(InstructionError(message: "SHELL requires at least one argument")) }
        guard node.isJSON else { return .failure(InstructionError(message: "SHELL requires the arguments to be in JSON form")) }
        return .success(.shell(args))
    }

    static func keyValues(_ node: SyntaxNode, _ name: String) -> Result<[KeyValuePair], InstructionError> {
        if case .failure(let e) = flagsOnly(node) { return .failure(e) }
        guard case .keyValues(let kv) = node.arguments, !kv.isEmpty else {
            return .failure(InstructionError(message: "\(name) requires at least one argument"))
        }
        var out: [KeyValuePair] = []
        for p in kv {
            if p.key.isEmpty { return .failure(InstructionError(message: "\(name) names can not be blank")) }
            out.append(KeyValuePair(key: p.key, value: p.value, legacy: p.separator.isEmpty))
        }
        return .success(out)
    }

    static func expose(_ node: SyntaxNode) -> Result<Instruction, InstructionError> {
        let args = node.flatArguments
        if args.isEmpty { return .failure(InstructionError(message: "EXPOSE requires at least one argument")) }
        if case .failure(let e) = flagsOnly(node) { return .failure(e) }
        for p in args where !RunFlags.containsVariable(p) {
            if let e = ValueParsers.port(p) { return .failure(InstructionError(message: e.message, near: p)) }
        }
        return .success(.expose(args))
    }

    static func copy(_ node: SyntaxNode, isAdd: Bool) -> Result<Instruction, InstructionError> {
        let name = isAdd ? "ADD" : "COPY"
        let args = node.flatArguments
        guard args.count >= 2 else {
            return .failure(InstructionError(
                message: "\(name) requires at least two arguments, but only one was provided. Destination could not be determined"))
        }
        let fl: BuildFlags
        switch flags(node, isAdd ? addSpecs : copySpecs) {
        case .failure(let e): return .failure(e)
        case .success(let v): fl = v
        }
        let dest = args[args.count - 1]
        if (try? HeredocScanner.parse(dest)) != nil {
            return .failure(InstructionError(message: "\(name) cannot accept a heredoc as a destination", near: dest))
        }
        var sources: [String] = []
        var contents: [Heredoc] = []
        for src in args.dropLast() {
            if !node.isJSON, !node.heredocs.isEmpty, let doc = (try? HeredocScanner.parse(src)) ?? nil {
                var d = node.heredocs.first { $0.name == doc.name } ?? doc
                d.chomp = doc.chomp
                d.expand = doc.expand
                contents.append(d)
            } else {
                sources.append(src)
            }
        }
        let c = CopyInstruction(
            sources: sources, heredocSources: contents, destination: dest, isJSON: node.isJSON,
            from: fl.strings["from"], chown: fl.strings["chown"], chmod: fl.strings["chmod"],
            link: fl.bools["link"] ?? false, parents: fl.bools["parents"] ?? false, excludes: fl.lists["exclude"] ?? [],
            checksum: fl.strings["checksum"], keepGitDir: fl.bools["keep-git-dir"] ?? false, unpack: fl.bools["unpack"])
        if let chown = c.chown, chown.isEmpty {
            return .failure(InstructionError(message: "Missing a value on flag: chown", near: "--chown"))
        }
        if let chmod = c.chmod, !RunFlags.containsVariable(chmod), let e = ValueParsers.chmod(chmod) {
            return .failure(InstructionError(message: e.message, near: "--chmod"))
        }
        if let sum = c.checksum {
            if !RunFlags.containsVariable(sum), let e = ValueParsers.checksum(sum) {
                return .failure(InstructionError(message: e.message, near: "--checksum"))
            }
            if c.sources.count + c.heredocSources.count > 1 {
                return .failure(InstructionError(message: "checksum can't be specified for multiple sources", near: "--checksum"))
            }
        }
        if let from = c.from, from.isEmpty {
            return .failure(InstructionError(message: "Missing a value on flag: from", near: "--from"))
        }
        return .success(isAdd ? .add(c) : .copy(c))
    }

    static func arg(_ node: SyntaxNode) -> Result<Instruction, InstructionError> {
        let args = node.flatArguments
        if args.isEmpty { return .failure(InstructionError(message: "ARG requires at least one argument")) }
        var out: [ArgDeclaration] = []
        for a in args {
            if let eq = a.utf8.firstIndex(of: UInt8(ascii: "=")) {
                let key = String(decoding: a.utf8[..<eq], as: UTF8.self)
                if key.isEmpty { return .failure(InstructionError(message: "ARG names can not be blank", near: a)) }
                out.append(ArgDeclaration(name: key, defaultValue: String(decoding: a.utf8[a.utf8.index(after: eq)...], as: UTF8.self)))
            } else {
                out.append(ArgDeclaration(name: a))
            }
        }
        return flagsOnly(node).map { .arg(out) }
    }

    static func volume(_ node: SyntaxNode) -> Result<Instruction, InstructionError> {
        let args = node.flatArguments
        if args.isEmpty { return .failure(InstructionError(message: "VOLUME requires at least one argument")) }
        if case .failure(let e) = flagsOnly(node) { return .failure(e) }
        var out: [String] = []
        for v in args {
            let t = GoText.trimSpace(v)
            if t.isEmpty { return .failure(InstructionError(message: "VOLUME specified can not be an empty string")) }
            out.append(t)
        }
        return .success(.volume(out))
    }

    static func stopSignal(_ node: SyntaxNode) -> Result<Instruction, InstructionError> {
        let args = node.flatArguments
        guard args.count == 1 else { return .failure(InstructionError(message: "STOPSIGNAL requires exactly one argument")) }
        if !RunFlags.containsVariable(args[0]), let e = ValueParsers.signal(args[0]) {
            return .failure(InstructionError(message: e.message, near: args[0]))
        }
        return flagsOnly(node).map { .stopSignal(args[0]) }
    }

    static func healthcheck(_ node: SyntaxNode) -> Result<Instruction, InstructionError> {
        let args = node.flatArguments
        guard let typeWord = args.first else { return .failure(InstructionError(message: "HEALTHCHECK requires at least one argument")) }
        let type = typeWord.uppercased()
        let rest = Array(args.dropFirst())
        if type == "NONE" {
            if !rest.isEmpty { return .failure(InstructionError(message: "HEALTHCHECK NONE takes no arguments")) }
            return flagsOnly(node).map { .healthcheck(.none) }
        }
        let names = ["interval", "timeout", "start-period", "start-interval", "retries"]
        let fl: BuildFlags
        switch flags(node, names.map { Spec(name: $0, kind: .string) }) {
        case .failure(let e): return .failure(e)
        case .success(let v): fl = v
        }
        guard type == "CMD" else {
            return .failure(InstructionError(message: "Unknown type \(GoText.quote(type)) in HEALTHCHECK (try CMD)", near: typeWord))
        }
        if rest.isEmpty { return .failure(InstructionError(message: "Missing command after HEALTHCHECK CMD")) }
        var config = HealthcheckConfig(
            test: [node.isJSON ? "CMD" : "CMD-SHELL"] + rest, interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0)
        var durations: [Int64] = []
        for name in names.dropLast() {
            guard let text = fl.strings[name], !text.isEmpty else { durations.append(0); continue }
            switch ValueParsers.duration(text) {
            case .failure(let e): return .failure(InstructionError(message: e.message, near: "--" + name))
            case .success(let d):
                if d != 0 && d < 1_000_000 {
                    return .failure(InstructionError(message: "Interval \(GoText.quote(name)) cannot be less than 1ms", near: "--" + name))
                }
                durations.append(d)
            }
        }
        config.interval = durations[0]
        config.timeout = durations[1]
        config.startPeriod = durations[2]
        config.startInterval = durations[3]
        if let r = fl.strings["retries"], !r.isEmpty {
            guard let n = Int32(r) else {
                return .failure(InstructionError(message: "strconv.ParseInt: parsing \(GoText.quote(r)): invalid syntax", near: "--retries"))
            }
            if n < 0 { return .failure(InstructionError(message: "--retries cannot be negative (\(n))", near: "--retries")) }
            config.retries = Int(n)
        }
        return .success(.healthcheck(.check(config)))
    }

    static func onbuild(_ node: SyntaxNode, file: String) -> Result<Instruction, InstructionError> {
        guard case .subcommand(var child) = node.arguments else {
            return .failure(InstructionError(message: "ONBUILD requires at least one argument"))
        }
        if case .failure(let e) = flagsOnly(node) { return .failure(e) }
        let trigger = child.keyword.uppercased()
        switch trigger {
        case "ONBUILD": return .failure(InstructionError(message: "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"))
        case "MAINTAINER", "FROM": return .failure(InstructionError(message: "\(trigger) isn't allowed as an ONBUILD trigger"))
        default: break
        }
        // The expression stored in the image: the line without the ONBUILD keyword, then the heredocs.
        var expression = DockerfilePrinter.dropKeyword(node)
        expression = String(String.UnicodeScalarView(expression.unicodeScalars.drop(while: { GoText.isSpace($0.value) })))
        for doc in node.heredocs { expression += "\n" + doc.content + doc.name }
        child.heredocs = node.heredocs
        child.startLine = node.startLine
        child.endLine = node.endLine
        child.column = node.column
        var triggers: [DockerfileInstruction] = []
        if case .success(let t) = parse(child, file: file) { triggers.append(t) }
        return .success(.onbuild(OnbuildInstruction(expression: expression, trigger: triggers)))
    }
}
