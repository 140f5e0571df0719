import ArgumentParser
import Foundation
import KujiraBuild
import KujiraDockerfile
import KujiraImage

/// `kujira build [-t NAME]… [-f FILE] [--build-arg K=V]… [--target T] [--no-cache]
/// [--label K=V]… [--iidfile F] [-q] [--check] CONTEXT`: builds an image from a Dockerfile
/// with ``KujiraBuild/Builder``, printing BuildKit-style steps (`#3 [2/4] RUN …`, the
/// output of RUN steps, `CACHED`) and the image ID. `SOURCE_DATE_EPOCH` in the environment
/// makes the image reproducible. With `--check`, validates the Dockerfile and its
/// `.dockerignore` as `docker build --check` does and builds nothing.
///
///     kujira build -t localhost/app:latest .
///     kujira build --check -f app.Dockerfile .
struct Build: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "build", abstract: "Build an image from a Dockerfile.")
    @OptionGroup var globals: GlobalOptions
    @Option(name: .shortAndLong, help: "Name (and tag) of the image; repeatable.") var tag: [String] = []
    @Option(name: .shortAndLong, help: "Path of the Dockerfile (default: CONTEXT/Dockerfile).") var file: String?
    @Option(name: .customLong("build-arg"), help: "Build-time variable (KEY=VALUE, or KEY to take it from the environment).") var buildArgs: [String] = []
    @Option(help: "The stage to build.") var target: String?
    @Flag(name: .customLong("no-cache"), help: "Do not use the build cache.") var noCache = false
    @Option(help: "Label of the image (KEY=VALUE); repeatable.") var label: [String] = []
    @Option(help: "Write the image ID to this file.") var iidfile: String?
    @Flag(name: .shortAndLong, help: "Print only the image ID.") var quiet = false
    @Flag(help: "Check the Dockerfile and report errors and lint warnings; build nothing.") var check = false
    @Argument(help: "Build context directory.") var context: String = "."

    func run() throws {
        let path = file ?? (context as NSString).appendingPathComponent("Dockerfile")
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read Dockerfile \(path)") }
        let text = String(decoding: data, as: UTF8.self)
        var args: [String: String] = [:]
        for a in buildArgs {
            let kv = a.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let key = kv.first, !key.isEmpty else { throw CLIError("invalid --build-arg \(a): expected KEY=VALUE") }
            args[key] = kv.count == 2 ? kv[1] : ProcessInfo.processInfo.environment[key]
        }
        if check { return try runCheck(text, path: path, args: args) }

        var labels: [String: String] = [:]
        for l in label {
            let kv = l.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard kv.count == 2, !kv[0].isEmpty else { throw CLIError("invalid --label \(l): expected KEY=VALUE") }
            labels[kv[0]] = kv[1]
        }
        var epoch: Int64?
        if let raw = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], !raw.isEmpty {
            guard let value = Int64(raw), value >= 0 else { throw CLIError("SOURCE_DATE_EPOCH=\(raw) is not a number of seconds") }
            epoch = value
        }
        let quiet = self.quiet
        let options = BuildOptions(
            tags: tag.map(Self.withDefaultTag), buildArgs: args, target: target, noCache: noCache, labels: labels,
            fileName: (path as NSString).lastPathComponent, sourceDateEpoch: epoch,
            progress: { event in if !quiet { Self.print(event) } })
        let builder = Builder(store: try openStore(globals), runtimeRoot: "/run/kujira-build")
        let result: BuildResult
        do {
            result = try builder.build(dockerfile: text, contextDirectory: context, options: options)
        } catch let error as BuildError {
            throw CLIError(error.description)
        }
        if let iidfile { try Data(result.imageID.utf8).write(to: URL(fileURLWithPath: iidfile)) }
        if !quiet {
            for name in result.names { Swift.print("naming to \(name) done") }
        }
        Swift.print(result.imageID)
    }

    /// `name` with `:latest` when it has neither a tag nor a digest, as `docker build -t` does.
    static func withDefaultTag(_ name: String) -> String {
        let last = name.split(separator: "/").last ?? ""
        return last.contains(":") || name.contains("@") ? name : name + ":latest"
    }

    /// One progress line, as BuildKit's plain progress prints it.
    static func print(_ event: BuildEvent) {
        let line: String
        switch event {
        case .step(let number, let position, let text): line = "#\(number) \(position) \(text)"
        case .cached(let number): line = "#\(number) CACHED"
        case .running: return
        case .output(let number, let text): line = "#\(number) \(text)"
        case .done(let number): line = "#\(number) DONE"
        case .warning(let text): line = "WARNING: \(text)"
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// `--check`: the Dockerfile and .dockerignore diagnostics.
    func runCheck(_ text: String, path: String, args: [String: String]) throws {
        var diagnostics = DockerfileLinter.check(text, fileName: path, buildArgs: args)
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
        for d in diagnostics { Swift.print(d) }
        if diagnostics.isEmpty { Swift.print("Check complete, no warnings found.") }
        if diagnostics.contains(where: { $0.severity == .error }) { throw CLIError("\(path): check failed", exitCode: 1) }
    }
}
