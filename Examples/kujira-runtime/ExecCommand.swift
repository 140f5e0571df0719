import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KujiraOCI
import Glibc
import KujiraRuntime

/// `exec`: run a new process inside a container, from `--process` JSON or from the arguments
/// over the container's own process settings (as runc does).
struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Execute new process inside the container.")
    @OptionGroup var globals: GlobalOptions
    @Option(name: .customLong("console-socket"), help: "Path to an AF_UNIX socket that receives the pty master.") var consoleSocket: String?
    @Option(help: "Current working directory in the container.") var cwd: String?
    @Option(name: .shortAndLong, help: "Set environment variables.") var env: [String] = []
    @Flag(name: .shortAndLong, help: "Allocate a pseudo-TTY.") var tty = false
    @Option(name: .shortAndLong, help: "UID (format: <uid>[:<gid>]).") var user: String?
    @Option(name: [.customShort("g"), .customLong("additional-gids")], help: "Additional gids.") var additionalGids: [UInt32] = []
    @Option(name: .shortAndLong, help: "Path to the process.json.") var process: String?
    @Flag(name: .shortAndLong, help: "Detach from the container's process.") var detach = false
    @Option(name: .customLong("pid-file"), help: "File to write the process id to.") var pidFile: String?
    @Option(name: .customLong("process-label"), help: "Set the asm process label (not supported).") var processLabel: String?
    @Option(help: "Set the apparmor profile (not supported).") var apparmor: String?
    @Flag(name: .customLong("no-new-privs"), help: "Set the no new privileges value for the process.") var noNewPrivs = false
    @Option(name: .shortAndLong, help: "Add a capability to the bounding set for the process.") var cap: [String] = []
    @Option(name: .customLong("preserve-fds"), help: "Pass N additional file descriptors to the container.") var preserveFDs: UInt32 = 0
    @Flag(name: .customLong("ignore-paused"), help: "Allow exec in a paused container.") var ignorePaused = false
    @Argument(help: "The container id.") var id: String
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.") var command: [String] = []

    func run() throws {
        var status: Int32 = 0
        try reportingErrors(globals) {
            let settings = globals.settings
            let runtime = try settings.runtime()
            let spec = try resolvedProcess(runtime)
            status = try Lifecycle.exec(settings, runtime: runtime, id: id, process: spec,
                                        flags: ExecFlags(consoleSocket: consoleSocket, pidFile: pidFile,
                                                         preserveFDs: preserveFDs, detach: detach))
        }
        if status != 0 { throw ExitCode(status) }
    }

    private func resolvedProcess(_ runtime: ContainerRuntime) throws -> KujiraOCI.Process {
        if let process { return try Lifecycle.readProcess(process) }
        guard !command.isEmpty else { throw CommandFailure("exec: no command given (use --process or arguments)") }
        if processLabel != nil || apparmor != nil { throw CommandFailure("exec: --process-label and --apparmor are not supported") }
        var result = try runtime.config(id: id).process ?? KujiraOCI.Process()
        result.args = command
        result.terminal = tty
        result.consoleSize = nil
        if let cwd { result.cwd = cwd }
        result.env = (result.env ?? []) + env
        if let user {
            let parts = user.split(separator: ":")
            guard let uid = parts.first.flatMap({ UInt32($0) }), parts.count <= 2 else {
                throw CommandFailure("exec: --user \(user) is not <uid>[:<gid>]")
            }
            result.user.uid = uid
            if parts.count == 2 {
                guard let gid = UInt32(parts[1]) else { throw CommandFailure("exec: --user \(user) is not <uid>[:<gid>]") }
                result.user.gid = gid
            }
        }
        if !additionalGids.isEmpty { result.user.additionalGids = additionalGids }
        if noNewPrivs { result.noNewPrivileges = true }
        if !cap.isEmpty {
            var caps = result.capabilities ?? LinuxCapabilities()
            caps.bounding = (caps.bounding ?? []) + cap
            caps.effective = (caps.effective ?? []) + cap
            caps.permitted = (caps.permitted ?? []) + cap
            caps.ambient = (caps.ambient ?? []) + cap
            result.capabilities = caps
        }
        return result
    }
}

/// The options of `exec` besides the process, as runc spells them.
struct ExecFlags {
    var consoleSocket: String?
    var pidFile: String?
    var preserveFDs: UInt32 = 0
    var detach = false
}

extension Lifecycle {
    /// The process JSON of `exec --process FILE` (`-` for standard input).
    static func readProcess(_ path: String) throws -> KujiraOCI.Process {
        let data = try readInput(path, what: "process JSON")
        do {
            return try ContainerRuntime.decodeProcess(Array(data))
        } catch {
            throw CommandFailure("process JSON \(path) is not valid: \(error)")
        }
    }

    /// `exec` of `process` in container `id`: its exit status, or 0 with `--detach`.
    static func exec(_ settings: RuntimeSettings, runtime: ContainerRuntime, id: String, process: KujiraOCI.Process,
                     flags: ExecFlags) throws -> Int32 {
        if !flags.detach { try ContainerRuntime.becomeSubreaper() }
        // --tty in the foreground without --console-socket: the terminal is ours, as runc.
        let terminal = process.terminal == true && flags.consoleSocket == nil && !flags.detach ? try ForegroundTerminal() : nil
        var process = process
        // The exec'd process runs before the master comes back: its size goes in the plan.
        if terminal != nil, process.consoleSize == nil { process.consoleSize = ForegroundTerminal.callerSize() }
        let pid = try runtime.exec(id: id, process: process,
                                   options: ExecOptions(consoleSocket: terminal?.socketPath ?? flags.consoleSocket,
                                                        pidFile: flags.pidFile, preserveFDs: flags.preserveFDs))
        if flags.detach { return 0 }
        let forwarding = SignalForwarder(pid: pid, windowChanges: terminal == nil)
        if let terminal {
            let master = try terminal.receiveMaster()
            ForegroundTerminal.copy(master: master, until: pid)
            close(master)
        }
        let status = try ContainerRuntime.waitForExit(pid: pid)
        forwarding.stop()
        return status
    }
}
