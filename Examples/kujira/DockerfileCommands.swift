import ArgumentParser
import Foundation
import KujiraDockerfile

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
