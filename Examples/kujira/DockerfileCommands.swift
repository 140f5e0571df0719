import ArgumentParser
import Foundation
import KujiraDockerfile

/// `kujira build --check [-f FILE] [--build-arg K=V …] [CONTEXT]`: validates a Dockerfile and
/// its `.dockerignore` the way `docker build --check` does, printing every error and lint
/// warning as `file:line:column: severity: message`. Exits 1 when there is an error.
///
///     kujira build --check -f app.Dockerfile .
struct BuildCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build", abstract: "Build an image from a Dockerfile (only --check is available yet).")
    @OptionGroup var globals: GlobalOptions
    @Flag(help: "Check the Dockerfile and report errors and lint warnings; build nothing.") var check = false
    @Option(name: .shortAndLong, help: "Path of the Dockerfile (default: CONTEXT/Dockerfile).") var file: String?
    @Option(name: .customLong("build-arg"), help: "Build-time variable (KEY=VALUE).") var buildArgs: [String] = []
    @Argument(help: "Build context directory.") var context: String = "."

    func run() throws {
        guard check else { throw CLIError("build: only --check is available until KujiraBuild lands") }
        let path = file ?? (context as NSString).appendingPathComponent("Dockerfile")
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read Dockerfile \(path)") }
        var args: [String: String] = [:]
        for a in buildArgs {
            let kv = a.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let key = kv.first, !key.isEmpty else { throw CLIError("invalid --build-arg \(a): expected KEY=VALUE") }
            args[key] = kv.count == 2 ? kv[1] : ProcessInfo.processInfo.environment[key]
        }
        var diagnostics = DockerfileLinter.check(String(decoding: data, as: UTF8.self), fileName: path, buildArgs: args)
        let ignorePath = DockerIgnore.ignoreFilePath(dockerfilePath: path) { FileManager.default.fileExists(atPath: $0) }
            .map { $0 == ".dockerignore" ? (context as NSString).appendingPathComponent(".dockerignore") : $0 }
        if let ignorePath, let ignore = FileManager.default.contents(atPath: ignorePath) {
            do {
                _ = try DockerIgnore(String(decoding: ignore, as: UTF8.self))
            } catch {
                diagnostics.append(Diagnostic(severity: .error, code: "dockerignore", message: error.message,
                                              location: SourceLocation(file: ignorePath, line: error.line, column: 1)))
            }
        }
        for d in diagnostics { print(d) }
        if diagnostics.isEmpty { print("Check complete, no warnings found.") }
        if diagnostics.contains(where: { $0.severity == .error }) { throw CLIError("\(path): check failed", exitCode: 1) }
    }
}

/// `kujira dockerfile …`: Dockerfile tools.
struct DockerfileGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dockerfile", abstract: "Dockerfile tools.", subcommands: [DockerfileParse.self])
}

/// `kujira dockerfile parse [--format json|dump] FILE`: prints the parsed model as JSON, or
/// the syntax tree in the s-expression form of BuildKit's parser tests (`dump`), before
/// instruction-level validation, so the two parsers can be compared line by line.
struct DockerfileParse: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable { case json, dump }
    static let configuration = CommandConfiguration(commandName: "parse", abstract: "Print a parsed Dockerfile.")
    @OptionGroup var globals: GlobalOptions
    @Option(help: "Output format: json or dump.") var format: Format = .json
    @Argument(help: "The Dockerfile.") var file: String

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else { throw CLIError("cannot read Dockerfile \(file)") }
        let text = String(decoding: data, as: UTF8.self)
        do {
            switch format {
            case .dump: print(try DockerfileParser.parseSyntax(text, fileName: file).dump(), terminator: "")
            case .json: try printJSON(try DockerfileParser.parse(text, fileName: file))
            }
        } catch let error as DockerfileError {
            throw CLIError(error.description)
        }
    }
}
