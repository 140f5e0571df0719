import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import KujiraRuntime

/// runc's global options. Callers put them before the subcommand (`kujira-runtime --root R
/// create …`); ArgumentParser also accepts them after it.
struct GlobalOptions: ParsableArguments {
    @Option(help: "Root directory for storage of container state (tmpfs recommended; default /run/kujira, $XDG_RUNTIME_DIR/kujira when not root).")
    var root: String = ContainerRuntime.defaultRootForCaller

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
    var root: String = ContainerRuntime.defaultRootForCaller
    var log: String?
    var logFormat: String = "text"
    var systemdCgroup = false
    var rootless: String = "auto"

    /// The runtime these settings describe, with warnings going to the log.
    func runtime() throws -> ContainerRuntime {
        let mode: RootlessMode
        do {
            mode = try RootlessMode(option: rootless)
        } catch {
            throw CommandFailure("kujira-runtime: \(error)")
        }
        let logger = Logger(self)
        return ContainerRuntime(root: root, warning: { logger.write(level: "warning", $0) }, rootless: mode)
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
        let time = Date.now.formatted(.iso8601)
        let line: String
        if json {
            let object = ["level": level, "msg": message, "time": time]
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let data = (try? encoder.encode(object)) ?? Data()
            line = String(decoding: data, as: UTF8.self) + "\n"
        } else {
            line = "time=\"\(time)\" level=\(level) msg=\"\(message.replacing("\"", with: "\\\""))\"\n"
        }
        if let path {
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            if fd >= 0 {
                writeAll(fd, line)
                close(fd)
            }
        }
        if level == "error" || path == nil {
            writeAll(STDERR_FILENO, level == "error" ? message + "\n" : line)
        }
    }

    /// Writes all of `text` to `fd`; a log line that cannot be written is dropped.
    private func writeAll(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return }
            offset += written
        }
    }
}

/// The bytes of `path`, or of standard input when it is `-` (`exec --process -`, `update
/// --resources -`).
func readInput(_ path: String, what: String) throws -> Data {
    let fd = path == "-" ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        throw CommandFailure("cannot open \(what) \(path): \(String(cString: strerror(errno)))")
    }
    defer { if fd != STDIN_FILENO { close(fd) } }
    var bytes = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count >= 0 else {
            throw CommandFailure("cannot read \(what) \(path): \(String(cString: strerror(errno)))")
        }
        if count == 0 { return Data(bytes) }
        bytes.append(contentsOf: buffer[0..<count])
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

/// `text` cut or filled with spaces to `width` characters (Foundation's
/// `padding(toLength:withPad:startingAt:)`, which FoundationEssentials lacks).
func padded(_ text: String, to width: Int) -> String {
    text.count >= width ? String(text.prefix(width)) : text + String(repeating: " ", count: width - text.count)
}
