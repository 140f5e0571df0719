import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KujiraRuntime

/// `kujira-runtime`: Kujira's OCI runtime with runc's command line, so that containerd's shim,
/// podman/conmon and runtime-tools can use it in runc's place.
@main
struct KujiraRuntimeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kujira-runtime",
        abstract: "Kujira's OCI container runtime (runc-compatible command line).",
        version: "kujira-runtime version \(RuntimeTemplates.version)\nspec: 1.2.0",
        subcommands: [Create.self, Start.self, State.self, Kill.self, Delete.self, Run.self, Exec.self, List.self,
                      Ps.self, Pause.self, Resume.self, Update.self, SpecCommand.self, FeaturesCommand.self])

    /// Global options come before the subcommand (`kujira-runtime --root R create …`); they are
    /// moved after it, where each subcommand's ``GlobalOptions`` group parses them.
    /// The hot per-container commands take ``FastPath`` (no ArgumentParser reflection).
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        FastPath.runIfPossible(arguments)
        main(GlobalArguments.reordered(arguments))
    }
}

/// Moves runc's global options from before the subcommand to after it.
enum GlobalArguments {
    /// Global options that take a value, and those that do not.
    static let withValue: Set<String> = ["--root", "--log", "--log-format", "--rootless", "--criu"]
    static let flags: Set<String> = ["--debug", "--systemd-cgroup"]

    static func reordered(_ arguments: [String]) -> [String] {
        var globals: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            if flags.contains(name) {
                globals.append(argument)
            } else if withValue.contains(name) {
                globals.append(argument)
                if !argument.contains("="), index + 1 < arguments.count {
                    index += 1
                    globals.append(arguments[index])
                }
            } else {
                break
            }
            index += 1
        }
        guard index < arguments.count else { return arguments }
        let subcommand = arguments[index]
        // `spec --rootless` is spec's own flag; spec takes only --root/--log/--log-format.
        if subcommand == "spec" { globals = dropping(globals, ["--rootless", "--debug", "--systemd-cgroup", "--criu"]) }
        return [subcommand] + globals + arguments[(index + 1)...]
    }

    private static func dropping(_ globals: [String], _ names: Set<String>) -> [String] {
        var result: [String] = []
        var skipNext = false
        for argument in globals {
            if skipNext { skipNext = false; continue }
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            if names.contains(name) {
                skipNext = withValue.contains(name) && !argument.contains("=")
                continue
            }
            result.append(argument)
        }
        return result
    }
}
