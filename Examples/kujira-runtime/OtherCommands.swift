import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
import Glibc
#else
import Foundation
#endif
import KujiraOCI
import KujiraRuntime

/// `ps`: the processes of a container (`--format json` prints the pid array containerd reads).
struct Ps: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Display the processes running inside a container.")
    @OptionGroup var globals: GlobalOptions
    @Option(name: .shortAndLong, help: "Select one of: table or json.") var format: String = "table"
    @Argument(help: "The container id.") var id: String
    @Argument(parsing: .captureForPassthrough, help: "ps options (table format only; ignored).") var psArguments: [String] = []

    func run() throws {
        try reportingErrors(globals) {
            let pids = try globals.runtime().processes(id: id)
            if format == "json" {
                try printJSON(pids, pretty: false)
                return
            }
            print("PID   CMD")
            for pid in pids {
                // Read to the end (Data(contentsOf:) reads one page of a proc file).
                let fd = open("/proc/\(pid)/cmdline", O_RDONLY | O_CLOEXEC)
                var data: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 4096)
                while fd >= 0, case let count = read(fd, &chunk, chunk.count), count > 0 { data += chunk[0..<count] }
                if fd >= 0 { close(fd) }
                let command = String(decoding: data, as: UTF8.self).split(separator: "\0").joined(separator: " ")
                print(padded("\(pid)", to: 6) + command)
            }
        }
    }
}

/// `pause`: freeze a container (needs the cgroup manager).
struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Suspend all processes inside the container.")
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "The container id.") var id: String

    func run() throws { try reportingErrors(globals) { try globals.runtime().pause(id: id) } }
}

/// `resume`: thaw a paused container (needs the cgroup manager).
struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Resume all processes that have been previously paused.")
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "The container id.") var id: String

    func run() throws { try reportingErrors(globals) { try globals.runtime().resume(id: id) } }
}

/// `update --resources FILE|-`: new resource limits (needs the cgroup manager).
struct Update: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Update container resource constraints.")
    @OptionGroup var globals: GlobalOptions
    @Option(name: .shortAndLong, help: "Path to a file with the resources JSON ('-' for stdin).") var resources: String?
    @Argument(help: "The container id.") var id: String

    func run() throws {
        try reportingErrors(globals) {
            try globals.refuseSystemdCgroup()
            guard let resources else { throw CommandFailure("update: only --resources is supported by kujira-runtime") }
            let data = try readInput(resources, what: "resources JSON")
            let parsed = try JSONDecoder().decode(LinuxResources.self, from: data)
            try globals.runtime().update(id: id, resources: parsed)
        }
    }
}

/// `spec`: write a starting config.json, like `runc spec`.
struct SpecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "spec", abstract: "Create a new specification file.")
    // No global options: `spec --rootless` is spec's own flag (as with runc), not the global one.
    @Option(help: .hidden) var root: String?
    @Option(help: .hidden) var log: String?
    @Option(name: .customLong("log-format"), help: .hidden) var logFormat: String?
    @Option(name: .shortAndLong, help: "Path to the root of the bundle directory.") var bundle: String = "."
    @Flag(help: "Generate a configuration for a rootless container.") var rootless = false

    func run() throws {
        var settings = RuntimeSettings()
        settings.log = log
        settings.logFormat = logFormat ?? "text"
        try reportingErrors(settings) {
            let path = bundle + "/config.json"
            if FileManager.default.fileExists(atPath: path) { throw CommandFailure("File \(path) exists. Remove it first") }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(RuntimeTemplates.spec(rootless: rootless)).write(to: URL(fileURLWithPath: path))
        }
    }
}

/// `features`: the runtime-spec features document.
struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "features", abstract: "Show the enabled features.")
    @OptionGroup var globals: GlobalOptions

    func run() throws {
        try reportingErrors(globals) {
            let runtime = try globals.runtime()
            try printJSON(RuntimeTemplates.features(cgroups: runtime.cgroups != nil, seccomp: runtime.seccompCompiler != nil))
        }
    }
}
