// Evaluation: ARG scoping and variable expansion, stage by stage, as BuildKit dispatches.
//
// - Global ARGs (before the first FROM) are visible to FROM lines only; a stage sees a global
//   value only after re-declaring it with `ARG name`.
// - Predefined platform ARGs (TARGETPLATFORM, BUILDARCH, …) are global; a stage sees them after
//   `ARG TARGETARCH`.
// - Proxy ARGs (HTTP_PROXY, …) given as build arguments reach RUN without being declared and
//   stay out of the image history unless declared.
// - ENV wins over an ARG of the same name; every substitution in one instruction uses the
//   values from before that instruction.
// - Expanded instructions: ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME,
//   WORKDIR, ARG defaults and RUN --mount fields. RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK and
//   ONBUILD are left to the shell or to the child build.

/// What the build is asked to do.
public struct EvaluationOptions: Sendable, Hashable {
    /// `--build-arg` values.
    public var buildArgs: [String: String] = [:]
    /// `--target`: a stage name or index; the last stage when nil.
    public var target: String?
    /// The platform built for (`os/arch[/variant]`).
    public var targetPlatform = "linux/amd64"
    /// The platform of the builder.
    public var buildPlatform = "linux/amd64"
    /// ENV of external base images, by reference as written after expansion.
    public var imageEnvironment: [String: [String: String]] = [:]

    /// Default options.
    public init() {}

    /// Proxy variables BuildKit passes to RUN without a declaration.
    public static let proxyArgs: Set<String> = [
        "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
        "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
    ]
}

/// An instruction after expansion.
public struct EvaluatedInstruction: Sendable, Hashable {
    /// The instruction with its expandable values expanded.
    public var instruction: Instruction
    /// Where it is.
    public var location: SourceLocation
    /// ENV in effect when it runs.
    public var environment: [String: String]
    /// ARG values in effect when it runs (for RUN: declared ARGs and undeclared proxy ARGs).
    public var buildArgs: [String: String]
    /// The ARG names that go into the image history for RUN (declared ones only).
    public var historyArgs: [String]
}

/// A stage after evaluation.
public struct EvaluatedStage: Sendable, Hashable {
    /// 0-based index.
    public var index: Int
    /// `AS` name.
    public var name: String?
    /// The base after expansion: an image reference, `scratch`, or a stage name.
    public var base: String
    /// The stage this one is based on, when FROM names a stage.
    public var baseStage: Int?
    /// `--platform` after expansion.
    public var platform: String?
    /// The instructions.
    public var instructions: [EvaluatedInstruction]
    /// ENV at the end of the stage.
    public var environment: [String: String]
    /// The container process the stage's image starts with.
    public var process: ImageProcess
}

/// The result of evaluating a Dockerfile for one target.
public struct EvaluatedBuild: Sendable, Hashable {
    /// The target stage index.
    public var target: Int
    /// The stages needed by the target, in build order.
    public var stages: [EvaluatedStage]
    /// Values of global ARGs (and platform ARGs) as FROM lines see them.
    public var globalArgs: [String: String]
    /// UndefinedVar lint warnings found while expanding.
    public var undefinedVariableWarnings: [Diagnostic]
}

/// Expands a parsed Dockerfile for a build.
public enum DockerfileEvaluator {
    /// Evaluates the stages `options.target` needs.
    public static func evaluate(_ dockerfile: Dockerfile, options: EvaluationOptions = EvaluationOptions()) -> Result<EvaluatedBuild, DockerfileError> {
        guard let target = StageGraph.targetIndex(options.target, in: dockerfile) else {
            let name = options.target ?? ""
            return .failure(DockerfileError(diagnostics: [Diagnostic(
                severity: .error, code: "stage", message: "target stage \(GoText.quote(name)) could not be found",
                location: SourceLocation(file: dockerfile.fileName, line: 1, column: 1))]))
        }
        let order = StageGraph(dockerfile).stagesNeeded(for: target)
        let (build, errors, _) = run(dockerfile, options: options, target: target, order: order)
        return errors.isEmpty ? .success(build) : .failure(DockerfileError(diagnostics: errors))
    }

    static func platformArgs(_ platform: String, prefix: String) -> [String: String] {
        let parts = platform.split(separator: "/").map(String.init)
        return [
            prefix + "PLATFORM": platform,
            prefix + "OS": parts.first ?? "",
            prefix + "ARCH": parts.count > 1 ? parts[1] : "",
            prefix + "VARIANT": parts.count > 2 ? parts[2] : "",
        ]
    }

    /// Evaluates the stages in `order`; returns the build, the errors and the UndefinedVar warnings.
    static func run(_ dockerfile: Dockerfile, options: EvaluationOptions, target: Int, order: [Int])
        -> (EvaluatedBuild, [Diagnostic], [Diagnostic]) {
        var sink = DiagnosticSink(file: dockerfile.fileName)
        let escape: Unicode.Scalar = dockerfile.syntax.escapeToken == "`" ? "`" : "\\"
        let lexer = ShellLexer(escapeToken: escape)
        let escapeByte: UInt8 = escape == "`" ? 0x60 : 0x5C

        // Global scope.
        var global = platformArgs(options.targetPlatform, prefix: "TARGET")
        global.merge(platformArgs(options.buildPlatform, prefix: "BUILD")) { a, _ in a }
        var declaredGlobals = Set(global.keys)
        var globalsWithValue: [String: String] = [:]
        var undefined: [Diagnostic] = []
        // FROM lines report undeclared names through the UndefinedArgInFrom rule instead.
        func expand(_ word: String, at loc: SourceLocation, known: @autoclosure () -> Set<String>, reportUndefined: Bool = true,
                    lookup: @escaping (String) -> String?) -> String? {
            // Words without `$`, quotes or escapes expand to themselves: skip the lexer.
            if !word.utf8.contains(where: { $0 == 0x24 || $0 == 0x22 || $0 == 0x27 || $0 == escapeByte }) { return word }
            do throws(ExpansionError) {
                let r = try lexer.process(word, lookup: lookup)
                if r.unmatched.isEmpty || !reportUndefined { return r.result }
                let known = known()
                for name in r.unmatched.sorted() where !known.contains(name) && !EvaluationOptions.proxyArgs.contains(name) {
                    let message = Suggest.wrap("Usage of undefined variable '$\(name)'", value: name, candidates: Array(known), format: { "$" + $0 })
                    undefined.append(Diagnostic(severity: .warning, code: "UndefinedVar", message: message, location: loc))
                }
                return r.result
            } catch {
                sink.error("expansion", error.message, line: loc.line, column: loc.column)
                return nil
            }
        }
        for inst in dockerfile.globalArgs {
            guard case .arg(let decls) = inst.instruction else { continue }
            let before = global
            for d in decls {
                declaredGlobals.insert(d.name)
                var value = options.buildArgs[d.name]
                if value == nil, let def = d.defaultValue {
                    value = expand(def, at: inst.location, known: declaredGlobals, lookup: { before[$0] })
                }
                if let value { global[d.name] = value; globalsWithValue[d.name] = value }
            }
        }

        var evaluated: [Int: EvaluatedStage] = [:]
        var result: [EvaluatedStage] = []
        for index in order {
            let stage = dockerfile.stages[index]
            let globalSnapshot = global
            let base = expand(stage.from.image, at: stage.location, known: declaredGlobals, reportUndefined: false, lookup: { globalSnapshot[$0] }) ?? stage.from.image
            let platform = stage.from.platform.flatMap {
                expand($0, at: stage.location, known: declaredGlobals, reportUndefined: false, lookup: { globalSnapshot[$0] })
            }
            var baseStage: Int?
            var env: [String: String] = [:]
            var process = ImageProcess()
            if let b = dockerfile.stage(named: base), b.index < index, String(b.index) != base {
                baseStage = b.index
                if let done = evaluated[b.index] {
                    env = done.environment
                    process = done.process
                }
            } else {
                env = options.imageEnvironment[base] ?? [:]
            }
            var args: [String: String] = [:]
            var declared = Set<String>()
            var instructions: [EvaluatedInstruction] = []
            var processBuilder = ImageProcess.Builder(base: process)
            for inst in stage.instructions {
                let envSnapshot = env
                let argsSnapshot = args
                let declaredSnapshot = declared
                func known() -> Set<String> { declaredSnapshot.union(envSnapshot.keys).union(argsSnapshot.keys) }
                let lookup: (String) -> String? = { envSnapshot[$0] ?? argsSnapshot[$0] }
                func x(_ s: String) -> String { expand(s, at: inst.location, known: known(), lookup: lookup) ?? s }
                var out = inst.instruction
                switch inst.instruction {
                case .arg(let decls):
                    for d in decls {
                        declared.insert(d.name)
                        var value = options.buildArgs[d.name]
                        if value == nil, let def = d.defaultValue { value = x(def) }
                        if value == nil { value = globalsWithValue[d.name] ?? (DockerfileLinter.platformArgs.contains(d.name) ? global[d.name] : nil) }
                        if let value { args[d.name] = value }
                    }
                case .env(let pairs):
                    let expanded = pairs.map { KeyValuePair(key: x($0.key), value: x($0.value), legacy: $0.legacy) }
                    for p in expanded { env[p.key] = p.value }
                    out = .env(expanded)
                case .label(let pairs):
                    out = .label(pairs.map { KeyValuePair(key: x($0.key), value: x($0.value), legacy: $0.legacy) })
                case .expose(let ports):
                    var list: [String] = []
                    for p in ports {
                        guard let words = try? lexer.process(p, lookup: lookup).words else { list.append(x(p)); continue }
                        list += words
                    }
                    for p in list {
                        if let e = ValueParsers.port(p) { sink.error("instruction", e.message, line: inst.location.line, column: inst.location.column) }
                    }
                    out = .expose(list)
                case .volume(let v): out = .volume(v.map(x))
                case .user(let u): out = .user(x(u))
                case .workdir(let w): out = .workdir(x(w))
                case .stopSignal(let s):
                    let v = x(s)
                    if let e = ValueParsers.signal(v) { sink.error("instruction", e.message, line: inst.location.line, column: inst.location.column) }
                    out = .stopSignal(v)
                case .copy(var c), .add(var c):
                    c.sources = c.sources.map(x)
                    c.destination = x(c.destination)
                    c.from = c.from.map(x)
                    c.chown = c.chown.map(x)
                    c.chmod = c.chmod.map(x)
                    c.checksum = c.checksum.map(x)
                    c.excludes = c.excludes.map(x)
                    c.heredocSources = c.heredocSources.map { doc in
                        var d = doc
                        // Heredoc bodies expand variables only: quotes and escapes stay as written.
                        var bodyLexer = lexer
                        bodyLexer.skipProcessQuotes = true
                        bodyLexer.rawEscapes = true
                        if d.expand, let r = try? bodyLexer.process(d.effectiveContent, lookup: lookup) {
                            d.content = r.result
                        } else {
                            d.content = d.effectiveContent
                        }
                        d.chomp = false
                        return d
                    }
                    if let chmod = c.chmod, let e = ValueParsers.chmod(chmod) {
                        sink.error("instruction", e.message, line: inst.location.line, column: inst.location.column)
                    }
                    if case .add = inst.instruction { out = .add(c) } else { out = .copy(c) }
                case .run(var r):
                    var mounts: [RunMount] = []
                    for m in r.mounts {
                        let expander: (String) -> Result<String, ValueError> = { word in
                            do throws(ExpansionError) {
                                return .success(try lexer.process(word, lookup: lookup).result)
                            } catch {
                                return .failure(ValueError(error.message))
                            }
                        }
                        switch RunFlags.mount(m.raw, expander: expander) {
                        case .success(let mm): mounts.append(mm)
                        case .failure(let e): sink.error("instruction", e.message, line: inst.location.line, column: inst.location.column)
                        }
                    }
                    r.mounts = mounts
                    out = .run(r)
                default:
                    break
                }
                processBuilder.apply(out)
                var runArgs = args
                var history = args.keys.sorted()
                if case .run = out {
                    for p in EvaluationOptions.proxyArgs where runArgs[p] == nil {
                        if let v = options.buildArgs[p] { runArgs[p] = v }
                    }
                    history = history.filter { declared.contains($0) }
                }
                instructions.append(EvaluatedInstruction(
                    instruction: out, location: inst.location, environment: env, buildArgs: runArgs, historyArgs: history))
            }
            let e = EvaluatedStage(
                index: index, name: stage.name, base: base, baseStage: baseStage, platform: platform,
                instructions: instructions, environment: env, process: processBuilder.process)
            evaluated[index] = e
            result.append(e)
        }
        var seen = Set<Diagnostic>()
        let build = EvaluatedBuild(
            target: target, stages: result, globalArgs: global,
            undefinedVariableWarnings: undefined.filter { seen.insert($0).inserted })
        return (build, sink.items, build.undefinedVariableWarnings)
    }
}
