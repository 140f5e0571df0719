import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import KujiraOCI
import KujiraRuntime
import Synchronization

/// The options `create` and `run` share, as runc spells them.
struct CreateArguments: ParsableArguments {
    @Option(name: .shortAndLong, help: "Path to the root of the bundle directory.")
    var bundle: String = "."
    @Option(name: .customLong("console-socket"), help: "Path to an AF_UNIX socket that receives the pty master.")
    var consoleSocket: String?
    @Option(name: .customLong("pid-file"), help: "File to write the process id to.")
    var pidFile: String?
    @Flag(name: .customLong("no-pivot"), help: "Do not use pivot_root to jail the process inside the rootfs.")
    var noPivot = false
    @Flag(name: .customLong("no-new-keyring"), help: "Do not create a new session keyring for the container.")
    var noNewKeyring = false
    @Option(name: .customLong("preserve-fds"), help: "Pass N additional file descriptors to the container.")
    var preserveFDs: UInt32 = 0
    @Argument(help: "The container id.")
    var id: String

    /// The plain values of these options.
    var flags: CreateFlags {
        CreateFlags(bundle: bundle, consoleSocket: consoleSocket, pidFile: pidFile, noPivot: noPivot, preserveFDs: preserveFDs,
                    noNewKeyring: noNewKeyring, id: id)
    }
}

/// The options of `create` and `run` as plain values (see ``CreateArguments``, ``FastPath``).
struct CreateFlags: Sendable {
    var bundle = "."
    var consoleSocket: String?
    var pidFile: String?
    var noPivot = false
    var preserveFDs: UInt32 = 0
    var noNewKeyring = false
    var id = ""

    /// The library options, with socket activation ($LISTEN_FDS) handled as runc handles it.
    func options() -> CreateOptions {
        var options = CreateOptions(consoleSocket: consoleSocket, pidFile: pidFile, noPivot: noPivot, preserveFDs: preserveFDs,
                                    newKeyring: !noNewKeyring)
        if let count = getenv("LISTEN_FDS").flatMap({ UInt32(String(cString: $0)) }), count > 0,
           getenv("LISTEN_PID").flatMap({ Int32(String(cString: $0)) }) == getpid() {
            options.preserveFDs += count
            options.extraEnvironment = ["LISTEN_FDS=\(count)", "LISTEN_PID=1"]
        }
        return options
    }
}

/// The bodies of the commands callers run for every container, shared by the ArgumentParser
/// commands and ``FastPath``.
enum Lifecycle {
    static func create(_ settings: RuntimeSettings, _ flags: CreateFlags) throws {
        try settings.refuseSystemdCgroup()
        try settings.runtime().create(id: flags.id, bundle: flags.bundle, options: flags.options())
    }

    static func start(_ settings: RuntimeSettings, id: String) throws {
        try settings.runtime().start(id: id)
    }

    static func state(_ settings: RuntimeSettings, id: String) throws {
        try printJSON(try settings.runtime().state(id: id))
    }

    static func kill(_ settings: RuntimeSettings, id: String, signal: String, all: Bool) throws {
        try settings.runtime().kill(id: id, signal: try SignalName.parse(signal), all: all)
    }

    static func delete(_ settings: RuntimeSettings, id: String, force: Bool) throws {
        try settings.runtime().delete(id: id, force: force)
    }

    /// create, start and (unless detached) wait and delete; the container's exit status.
    static func run(_ settings: RuntimeSettings, _ flags: CreateFlags, detach: Bool) throws -> Int32 {
        try settings.refuseSystemdCgroup()
        let runtime = try settings.runtime()
        if !detach { try ContainerRuntime.becomeSubreaper() }
        let state: RuncState
        var terminal: ForegroundTerminal?
        do {
            state = try runtime.create(id: flags.id, bundle: flags.bundle, options: flags.options())
        } catch let error as RuntimeError where error.code == .consoleSocketRequired && !detach {
            // process.terminal without --console-socket: take the terminal ourselves, as runc.
            let foreground = try ForegroundTerminal()
            var options = flags.options()
            options.consoleSocket = foreground.socketPath
            state = try runtime.create(id: flags.id, bundle: flags.bundle, options: options)
            terminal = foreground
        }
        if detach {
            do {
                try runtime.start(id: flags.id)
            } catch {
                try? runtime.delete(id: flags.id, force: true)
                throw error
            }
            return 0
        }
        // Forward signals from before the start: a signal that arrives as the container
        // starts must reach it, not kill `run` (as runc installs its handler first).
        let forwarding = SignalForwarder(pid: Int32(state.pid), windowChanges: terminal == nil)
        let master: Int32
        do {
            master = try terminal?.receiveMaster() ?? -1
            // The size before the process starts (it waits for `start`), as runc does.
            if master >= 0 { ForegroundTerminal.resize(master) }
            try runtime.start(id: flags.id)
        } catch {
            forwarding.stop()
            try? runtime.delete(id: flags.id, force: true)
            throw error
        }
        if master >= 0 {
            ForegroundTerminal.copy(master: master, until: Int32(state.pid))
            close(master)
        }
        let status = try ContainerRuntime.waitForExit(pid: Int32(state.pid))
        forwarding.stop()
        try runtime.delete(id: flags.id, force: true)
        return status
    }
}

/// `create`: create a container whose init waits for `start`.
struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a container.")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var arguments: CreateArguments

    func run() throws {
        try reportingErrors(globals) { try Lifecycle.create(globals.settings, arguments.flags) }
    }
}

/// `start`: run the user's process of a created container.
struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Execute the user-defined process in a created container.")
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "The container id.") var id: String

    func run() throws {
        try reportingErrors(globals) { try Lifecycle.start(globals.settings, id: id) }
    }
}

/// `state`: print the container's state JSON.
struct State: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Output the state of a container.")
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "The container id.") var id: String

    func run() throws {
        try reportingErrors(globals) { try Lifecycle.state(globals.settings, id: id) }
    }
}

/// `kill`: send a signal (name or number, default SIGTERM) to the container.
struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Kill sends the specified signal (default: SIGTERM) to the container's init process.")
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .shortAndLong, help: "Send the specified signal to all processes inside the container.") var all = false
    @Argument(help: "The container id.") var id: String
    @Argument(help: "The signal (KILL, SIGKILL or 9).") var signal: String = "SIGTERM"

    func run() throws {
        try reportingErrors(globals) {
            try Lifecycle.kill(globals.settings, id: id, signal: signal, all: all)
        }
    }
}

/// `delete`: remove a container.
struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete any resources held by the container.")
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .shortAndLong, help: "Forcibly delete the container if it is still running (uses SIGKILL).") var force = false
    @Argument(help: "The container id.") var id: String

    func run() throws {
        try reportingErrors(globals) { try Lifecycle.delete(globals.settings, id: id, force: force) }
    }
}

/// `run`: create, start and (unless detached) wait, exiting with the container's status.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create and run a container.")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var arguments: CreateArguments
    @Flag(name: .shortAndLong, help: "Detach from the container's process.") var detach = false

    func run() throws {
        var status: Int32 = 0
        try reportingErrors(globals) { status = try Lifecycle.run(globals.settings, arguments.flags, detach: detach) }
        if status != 0 { throw ExitCode(status) }
    }
}

/// `list`: the containers under --root.
struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Lists containers started by kujira-runtime with the given root.")
    @OptionGroup var globals: GlobalOptions
    @Option(name: .shortAndLong, help: "Select one of: table or json.") var format: String = "table"
    @Flag(name: .shortAndLong, help: "Display only container IDs.") var quiet = false

    func run() throws {
        try reportingErrors(globals) {
            let states = try globals.runtime().list()
            if quiet {
                states.forEach { print($0.id) }
            } else if format == "json" {
                try printJSON(states, pretty: false)
            } else {
                var rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
                rows += states.map { [$0.id, "\($0.pid)", $0.status.rawValue, $0.bundle, $0.created, $0.owner.isEmpty ? "root" : $0.owner] }
                let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
                for row in rows {
                    print(row.enumerated().map { padded($1, to: widths[$0] + 3) }.joined())
                }
            }
        }
    }
}

/// Prints `value` as JSON (indented like runc's `state`).
func printJSON<T: Encodable>(_ value: T, pretty: Bool = true) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// The pid the signal handlers of ``SignalForwarder`` forward to; 0 while none.
private let forwardingTarget = Atomic<Int32>(0)

/// Forwards the signals a caller sends to `run`/`exec` on to the container process, as runc does.
///
/// Plain `signal(2)` handlers (BSD semantics: restarted system calls) that call `kill(2)`,
/// which is async-signal-safe: no Dispatch queue, worker thread, epoll instance or eventfd
/// is started for the one process `run` and `exec` wait for.
struct SignalForwarder: ~Copyable {
    private static let forwarded = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH]

    /// `windowChanges`: whether SIGWINCH is forwarded too (not when `run` owns the container's
    /// terminal: then a window change resizes the pty, and the kernel tells the process).
    init(pid: Int32, windowChanges: Bool = true) {
        forwardingTarget.store(pid, ordering: .sequentiallyConsistent)
        for number in Self.forwarded where windowChanges || number != SIGWINCH {
            signal(number) { number in
                let target = forwardingTarget.load(ordering: .sequentiallyConsistent)
                guard target > 0 else { return }
                let saved = errno
                _ = Glibc.kill(target, number)
                errno = saved
            }
        }
    }

    /// Stops forwarding; the signals stay ignored until the command exits.
    func stop() {
        for number in Self.forwarded { signal(number, SIG_IGN) }
        forwardingTarget.store(0, ordering: .sequentiallyConsistent)
    }
}

/// Signal names and numbers, with or without the SIG prefix.
enum SignalName {
    static let numbers: [String: Int32] = [
        "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8, "KILL": 9,
        "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17,
        "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25,
        "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31,
    ]

    static func parse(_ text: String) throws -> Int32 {
        // 0 checks that the container's init exists without signalling it, as with runc.
        if let number = Int32(text), number >= 0, number <= 64 { return number }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        if let number = numbers[name] { return number }
        if name == "RTMIN" { return 34 }
        if name.hasPrefix("RTMIN+"), let offset = Int32(name.dropFirst(6)), offset >= 0, offset <= 30 { return 34 + offset }
        throw CommandFailure("unknown signal \"\(text)\"")
    }
}
