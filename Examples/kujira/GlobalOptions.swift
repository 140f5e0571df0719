import ArgumentParser
import KujiraGPU

/// Options every `kujira` command accepts, before the subcommand (`kujira --root DIR images`,
/// as with docker and runc) or after it.
struct GlobalOptions: ParsableArguments {
    @Option(help: "Root directory of Kujira's persistent state.")
    var root: String = "/var/lib/kujira"

    @Option(help: "Root directory of the runtime state of live containers (a tmpfs).")
    var state: String = "/run/kujira"

    @Flag(help: "Print debugging details of errors.")
    var debug = false

    @Option(name: .customLong("cdi-spec-dir"), help: ArgumentHelp(
        "A CDI spec directory (repeatable; later ones win). Default: /etc/cdi, /var/run/cdi.", valueName: "dir"))
    var cdiSpecDirs: [String] = []

    @Option(name: .customLong("nvidia-driver-root"), help: ArgumentHelp(
        "The root the NVIDIA driver is found under for --gpus (a driver container's root). Default: /.", valueName: "dir"))
    var nvidiaDriverRoot: String = "/"

    /// The CDI spec directories in force.
    var cdiDirectories: [String] { cdiSpecDirs.isEmpty ? CDIRegistry.defaultSpecDirectories : cdiSpecDirs }
}
