import ArgumentParser

/// Options every `kujira` command accepts, before the subcommand (`kujira --root DIR images`,
/// as with docker and runc) or after it.
struct GlobalOptions: ParsableArguments {
    @Option(help: "Root directory of Kujira's persistent state.")
    var root: String = "/var/lib/kujira"

    @Flag(help: "Print debugging details of errors.")
    var debug = false
}
