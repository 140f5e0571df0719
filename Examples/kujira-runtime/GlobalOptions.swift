import ArgumentParser
import Foundation
import KujiraRuntime

/// runc's global options. Callers put them before the subcommand (`kujira-runtime --root R
/// create …`); ArgumentParser also accepts them after it.
struct GlobalOptions: ParsableArguments {
    @Option(help: "Root directory for storage of container state (tmpfs recommended).")
    var root: String = ContainerRuntime.defaultRoot

    @Option(help: "Set the log file to write runtime logs to (default: stderr).")
    var log: String?

    @Option(name: .customLong("log-format"), help: "Set the log format ('text' (default), or 'json').")
    var logFormat: String = "text"

    @Flag(help: "Enable debug logging.")
    var debug = false

    @Flag(name: .customLong("systemd-cgroup"), help: "Use the systemd cgroup driver (not supported by kujira-runtime).")
    var systemdCgroup = false

    @Option(help: "Ignore cgroup permission errors ('true', 'false', or 'auto').")
    var rootless: String = "auto"

    /// The plain settings these options hold.
    var settings: RuntimeSettings {
        RuntimeSettings(root: root, log: log, logFormat: logFormat, systemdCgroup: systemdCgroup, rootless: rootless)
    }

    /// The runtime these options describe, with warnings going to the log.
    func runtime() throws -> ContainerRuntime { try settings.runtime() }

    /// Fails when the systemd cgroup driver was asked for (create, run, update).
    func refuseSystemdCgroup() throws { try settings.refuseSystemdCgroup() }
}

/// runc's global options as plain values: what ``GlobalOptions`` parses with ArgumentParser and
/// what ``FastPath`` parses by hand for the commands callers run per container.
struct RuntimeSettings: Sendable {
    var root: String = ContainerRuntime.defaultRoot
    var log: String?
    var logFormat: String = "text"
    var systemdCgroup = false
    var rootless: String = "auto"

    /// The runtime these settings describe, with warnings going to the log.
    func runtime() throws -> ContainerRuntime {
        if rootless == "true" {
            throw CommandFailure("kujira-runtime: --rootless=true is not supported yet; run as root")
        }
        let logger = Logger(self)
        return ContainerRuntime(root: root, warning: { logger.write(level: "warning", $0) })
    }

    /// Fails when the systemd cgroup driver was asked for (create, run, update).
    func refuseSystemdCgroup() throws {
        if systemdCgroup {
            throw CommandFailure("kujira-runtime: --systemd-cgroup is not supported: kujira-runtime has no systemd cgroup driver; configure the runtime without SystemdCgroup")
        }
    }
}

/// An error whose text is printed as is.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ text: String) { description = text }
}

/// Writes log lines to `--log` (JSON lines with `--log-format json`, runc's logfmt-like text
/// otherwise) and errors also to stderr. containerd shows the `msg` of the last error line.
struct Logger: Sendable {
    let path: String?
    let json: Bool

    init(_ options: GlobalOptions) { self.init(options.settings) }

    init(_ settings: RuntimeSettings) {
        path = settings.log
        json = settings.logFormat == "json"
    }

    func write(level: String, _ message: String) {
        let time = ISO8601DateFormatter().string(from: Date())
        let line: String
        if json {
            let object = ["level": level, "msg": message, "time": time]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            line = String(decoding: data, as: UTF8.self) + "\n"
        } else {
            line = "time=\"\(time)\" level=\(level) msg=\"\(message.replacingOccurrences(of: "\"", with: "\\\""))\"\n"
        }
        if let path, let handle = FileHandle(forWritingAtPath: path) ?? createFile(path) {
            handle.seekToEndOfFile()
            handle.write(Data(line.utf8))
            try? handle.close()
        }
        if level == "error" || path == nil {
            FileHandle.standardError.write(Data((level == "error" ? message + "\n" : line).utf8))
        }
    }

    private func createFile(_ path: String) -> FileHandle? {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        return FileHandle(forWritingAtPath: path)
    }
}

/// Runs a command body, logging a failure as runc does and exiting 1.
func reportingErrors(_ globals: GlobalOptions, _ body: () throws -> Void) throws {
    try reportingErrors(globals.settings, body)
}

/// Runs a command body, logging a failure as runc does and exiting 1.
func reportingErrors(_ settings: RuntimeSettings, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        Logger(settings).write(level: "error", "\(error)")
        throw ExitCode(1)
    }
}
