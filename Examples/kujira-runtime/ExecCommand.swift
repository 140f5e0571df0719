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
            let runtime = try globals.runtime()
            let spec = try resolvedProcess(runtime)
            if !detach { try ContainerRuntime.becomeSubreaper() }
            // --tty in the foreground without --console-socket: the terminal is ours, as runc.
            let terminal = spec.terminal == true && consoleSocket == nil && !detach ? try ForegroundTerminal() : nil
            let pid = try runtime.exec(id: id, process: spec,
                                       options: ExecOptions(consoleSocket: terminal?.socketPath ?? consoleSocket, pidFile: pidFile,
                                                            preserveFDs: preserveFDs))
            if detach { return }
            let forwarding = SignalForwarder(pid: pid, windowChanges: terminal == nil)
            if let terminal {
                let master = try terminal.receiveMaster()
                ForegroundTerminal.copy(master: master, until: pid)
                close(master)
            }
            status = try ContainerRuntime.waitForExit(pid: pid)
            forwarding.stop()
        }
        if status != 0 { throw ExitCode(status) }
    }

    private func resolvedProcess(_ runtime: ContainerRuntime) throws -> KujiraOCI.Process {
        if let process {
            let data = try readInput(process, what: "process JSON")
            do {
                return try JSONDecoder().decode(KujiraOCI.Process.self, from: data)
            } catch {
                throw CommandFailure("process JSON \(process) is not valid: \(error)")
            }
        }
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
