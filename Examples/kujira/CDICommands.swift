import ArgumentParser
import Foundation
import KujiraGPU
import KujiraOCI

/// `kujira cdi …`: Container Device Interface specs — generate them from the host's NVIDIA or
/// AMD driver, list the devices the spec directories define, and apply devices to a bundle.
///
///     kujira cdi generate nvidia -o /var/run/cdi/nvidia.yaml
///     kujira cdi list
///     kujira cdi apply --bundle B --device nvidia.com/gpu=all
struct CDI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cdi", abstract: "Manage CDI device specs (GPUs and other devices).",
        subcommands: [CDIGenerate.self, CDIList.self, CDIApply.self])
    @OptionGroup var globals: GlobalOptions
}

/// Runs a library call, turning its errors into one-line CLI errors.
private func gpuCall<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as GPUError {
        throw CLIError(error.description)
    }
}

/// `kujira cdi generate nvidia|amd`: writes the CDI spec of the host's GPUs.
struct CDIGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Write the CDI spec of the host's NVIDIA or AMD GPUs.")

    enum Vendor: String, ExpressibleByArgument, CaseIterable { case nvidia, amd }
    enum Format: String, ExpressibleByArgument, CaseIterable { case yaml, json }

    @OptionGroup var globals: GlobalOptions
    @Argument(help: "The GPU vendor: nvidia or amd.") var vendor: Vendor
    @Option(help: ArgumentHelp("Read the host's files (/proc, /sys, /dev, libraries, ld cache) under this directory.", valueName: "dir"))
    var hostRoot: String = "/"
    @Option(help: ArgumentHelp("Read /dev under this directory instead (default: the host root).", valueName: "dir"))
    var devRoot: String?
    @Option(help: "NVIDIA driver capabilities whose files to include (e.g. compute,utility; default all).")
    var capabilities: String = "all"
    @Option(name: .shortAndLong, help: ArgumentHelp("Write the spec to this file (default: standard output).", valueName: "file"))
    var output: String?
    @Option(help: "yaml or json (default: from the output file's extension, else yaml).") var format: Format?

    func run() throws {
        let spec: CDISpec = try gpuCall {
            switch vendor {
            case .nvidia:
                let discovery = NVIDIADiscovery(driverRoot: HostRoot(hostRoot), devRoot: devRoot.map { HostRoot($0) })
                return try discovery.discover().cdiSpec(capabilities: try NVIDIACapability.parseList(capabilities))
            case .amd:
                return try AMDDiscovery(sysRoot: HostRoot(hostRoot), devRoot: devRoot.map { HostRoot($0) }).discover().cdiSpec()
            }
        }
        let chosen: CDISpecFormat = format.map { $0 == .json ? .json : .yaml }
            ?? output.flatMap { CDISpecFormat(fileName: $0) } ?? .yaml
        let data = try spec.encoded(as: chosen)
        guard let output else {
            FileHandle.standardOutput.write(data)
            return
        }
        // Write and rename, so a CDI consumer watching the directory never reads half a file.
        let temporary = output + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o644]),
              rename(temporary, output) == 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw CLIError("cannot write \(output): \(String(cString: strerror(errno)))")
        }
        FileHandle.standardError.write(Data("kujira: wrote \(spec.kind) spec (\(spec.devices.count) devices, CDI \(spec.cdiVersion)) to \(output)\n".utf8))
    }
}

/// `kujira cdi list`: the devices of the spec directories, and the problems found in them.
struct CDIList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the CDI devices of the spec directories.", aliases: ["ls"])
    @OptionGroup var globals: GlobalOptions
    @Option(help: "Output format: table or json.") var format: OutputFormat = .table

    struct Row: Encodable {
        var name: String
        var spec: String
    }

    func run() throws {
        let registry = CDIRegistry(specDirectories: globals.cdiDirectories)
        let rows = registry.deviceNames.compactMap { name in
            registry.devices[name].map { Row(name: name, spec: $0.file.path) }
        }
        switch format {
        case .json: try printJSON(rows)
        case .table: printTable([["DEVICE", "SPEC"]] + rows.map { [$0.name, $0.spec] })
        }
        for error in registry.errors {
            FileHandle.standardError.write(Data("kujira: warning: \(error)\n".utf8))
        }
        if rows.isEmpty {
            FileHandle.standardError.write(Data("kujira: no CDI devices in \(globals.cdiDirectories.joined(separator: ", "))\n".utf8))
        }
    }
}

/// `kujira cdi apply --bundle DIR`: applies `--device` and `--gpus` requests to a bundle's
/// `config.json`, so that any OCI runtime (runc, kujira-runtime) runs it with the devices.
struct CDIApply: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply", abstract: "Add devices to an OCI bundle's config.json.")
    @OptionGroup var globals: GlobalOptions
    @Option(help: ArgumentHelp("The bundle directory (holding config.json).", valueName: "dir")) var bundle: String
    @Option(help: ArgumentHelp("A CDI device (vendor/class=name) or a host device (/dev/X[:/dev/Y][:rwm]); repeatable.", valueName: "device"))
    var device: [String] = []
    @Option(help: ArgumentHelp("GPUs as docker run --gpus: all, N, device=0,2, \"capabilities=compute,utility\".", valueName: "request"))
    var gpus: String?
    @Flag(help: "Honor the bundle's NVIDIA_VISIBLE_DEVICES and NVIDIA_DRIVER_CAPABILITIES without --gpus.")
    var nvidiaEnv = false
    @Option(help: ArgumentHelp("Discover NVIDIA GPUs for --gpus under this directory.", valueName: "dir"))
    var hostRoot: String = "/"

    func run() throws {
        let path = bundle + "/config.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError("cannot read \(path): is \(bundle) an OCI bundle?")
        }
        var spec: Spec
        do {
            spec = try JSONDecoder().decode(Spec.self, from: data)
        } catch {
            throw CLIError("\(path): not a runtime spec: \(error)")
        }
        try gpuCall {
            let injector = DeviceInjector(
                specDirectories: globals.cdiDirectories, nvidia: NVIDIADiscovery(driverRoot: HostRoot(hostRoot)),
                honorsImageEnvironment: nvidiaEnv)
            try injector.apply(devices: device, gpus: try gpus.map { try GPURequest(parsing: $0) }, to: &spec)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: try encoder.encode(spec)),
              rename(temporary, path) == 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw CLIError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
