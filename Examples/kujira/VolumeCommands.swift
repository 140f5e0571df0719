import ArgumentParser
import Foundation
import Kujira
import KujiraVolume

/// `kujira volume create|ls|inspect|rm|prune`, as `docker volume`.
struct VolumeGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume", abstract: "Manage volumes.",
        subcommands: [VolumeCreate.self, VolumeList.self, VolumeInspect.self, VolumeRemove.self, VolumePrune.self])
}

/// `KEY=VALUE` flags (`--opt`, `--label`) as a dictionary; a bare `KEY` has an empty value.
func keyValues(_ values: [String], flag: String) throws -> [String: String] {
    var result: [String: String] = [:]
    for value in values {
        let parts = value.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard !parts[0].isEmpty else { throw CLIError("\(flag) \(value): use KEY=VALUE", exitCode: 125) }
        result[parts[0]] = parts.count > 1 ? parts[1] : ""
    }
    return result
}

/// `--filter` values of `volume ls` and `volume prune`.
func volumeFilters(_ values: [String]) throws -> [VolumeFilter] {
    do {
        return try values.map(VolumeFilter.init(parsing:))
    } catch let error as VolumeError {
        throw CLIError(error.description, exitCode: 125)
    }
}

/// `kujira volume create [--driver local] [--opt k=v] [--label k=v] [NAME]`: prints the name.
struct VolumeCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a volume.")
    @OptionGroup var globals: GlobalOptions
    @Option(name: [.customShort("d"), .customLong("driver")], help: "Volume driver name (only local).") var driver = "local"
    @Option(name: [.customShort("o"), .customLong("opt")], help: "Driver options: type=tmpfs|none|FSTYPE, device=…, o=….") var opt: [String] = []
    @Option(help: "Set metadata for a volume (KEY=VALUE).") var label: [String] = []
    @Argument(help: "The volume name (default: a random one).") var name: String?

    func run() throws {
        try engineCommand {
            let volume = try openEngine(globals).createVolume(name: name, driver: driver, labels: try keyValues(label, flag: "--label"),
                                                             options: try keyValues(opt, flag: "--opt"))
            print(volume.name)
        }
    }
}

/// `kujira volume ls [-q] [--filter K=V]`.
struct VolumeList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List volumes.", aliases: ["list"])
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .shortAndLong, help: "Only display volume names.") var quiet = false
    @Option(name: [.customShort("f"), .customLong("filter")], help: "Filter output (dangling=true|false, label=K[=V], name=N, driver=D).") var filter: [String] = []
    @Option(help: "Output format: table or json.") var format: OutputFormat = .table

    func run() throws {
        try engineCommand {
            let volumes = try openEngine(globals).listVolumes(filters: try volumeFilters(filter))
            if quiet {
                volumes.forEach { print($0.name) }
            } else if format == .json {
                for volume in volumes {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    print(String(decoding: try encoder.encode(volume), as: UTF8.self))
                }
            } else {
                printTable([["DRIVER", "VOLUME NAME"]] + volumes.map { [$0.driver, $0.name] })
            }
        }
    }
}

/// `kujira volume inspect VOLUME…`: a JSON array of Docker's volume objects.
struct VolumeInspect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Display detailed information on one or more volumes.")
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "Volume names.") var volumes: [String]

    func run() throws {
        try engineCommand {
            let engine = try openEngine(globals)
            try printJSON(try volumes.map { try engine.volume($0) })
        }
    }
}

/// `kujira volume rm [-f] VOLUME…`.
struct VolumeRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more volumes.", aliases: ["remove"])
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .shortAndLong, help: "Remove a volume used only by stopped containers; a missing volume is no error.") var force = false
    @Argument(help: "Volume names.") var volumes: [String]

    func run() throws {
        try engineCommand {
            let engine = try openEngine(globals)
            for volume in volumes {
                do {
                    try engine.removeVolume(volume, force: force)
                } catch let error as EngineError where force && error.code == .notFound {
                    continue
                }
                print(volume)
            }
        }
    }
}

/// `kujira volume prune [-f] [-a] [--filter K=V]`.
struct VolumePrune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused volumes (anonymous ones unless -a).")
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.") var force = false
    @Flag(name: .shortAndLong, help: "Remove all unused volumes, not just anonymous ones.") var all = false
    @Option(help: "Provide filter values (label=K[=V], label!=K[=V]).") var filter: [String] = []

    func run() throws {
        let filters = try volumeFilters(filter)
        if !force {
            print(all ? "WARNING! This will remove all local volumes not used by at least one container."
                      : "WARNING! This will remove anonymous local volumes not used by at least one container.")
            print("Are you sure you want to continue? [y/N] ", terminator: "")
            FileHandle.standardOutput.synchronizeFile()
            guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else { return }
        }
        try engineCommand {
            let result = try openEngine(globals).pruneVolumes(all: all, filters: filters)
            if !result.removed.isEmpty {
                print("Deleted Volumes:")
                result.removed.forEach { print($0) }
                print("")
            }
            print("Total reclaimed space: \(formatBytes(result.reclaimedBytes))")
        }
    }
}
