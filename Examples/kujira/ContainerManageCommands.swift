import ArgumentParser
import Foundation
import Kujira
import KujiraImage

/// `kujira stop [-t N] CONTAINER…`.
struct ContainerStop: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop one or more running containers.")
    @OptionGroup var globals: GlobalOptions
    @Option(name: [.customShort("t"), .customLong("time")], help: "Seconds to wait before killing the container.") var time: Int?
    @Argument(help: "Containers (names or ids).") var containers: [String]

    func run() throws {
        try forEachContainer(globals, containers) { engine, container in
            try engine.stop(container, timeout: time)
        }
    }
}

/// `kujira kill [-s SIGNAL] CONTAINER…`.
struct ContainerKill: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "Kill one or more running containers.")
    @OptionGroup var globals: GlobalOptions
    @Option(name: .shortAndLong, help: "Signal to send to the container.") var signal: String = "KILL"
    @Argument(help: "Containers (names or ids).") var containers: [String]

    func run() throws {
        try engineCommand {
            let engine = try openEngine(globals)
            let number = try Signals.parse(signal)
            for container in containers {
                try engine.kill(container, signal: number)
                print(container)
            }
        }
    }
}

/// `kujira restart [-t N] CONTAINER…`.
struct ContainerRestart: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restart", abstract: "Restart one or more containers.")
    @OptionGroup var globals: GlobalOptions
    @Option(name: [.customShort("t"), .customLong("time")], help: "Seconds to wait before killing the container.") var time: Int?
    @Argument(help: "Containers (names or ids).") var containers: [String]

    func run() throws {
        try forEachContainer(globals, containers) { engine, container in
            try engine.restart(container, timeout: time)
        }
    }
}

/// `kujira rm [-f] CONTAINER…`.
struct ContainerRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more containers.")
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .shortAndLong, help: "Force the removal of a running container (uses SIGKILL).") var force = false
    @Flag(name: .shortAndLong, help: "Remove anonymous volumes associated with the container.") var volumes = false
    @Argument(help: "Containers (names or ids).") var containers: [String]

    func run() throws {
        try forEachContainer(globals, containers) { engine, container in
            try engine.remove(container, force: force, volumes: volumes)
        }
    }
}

/// `kujira ps [-a] [-q]`: a table like `docker ps`.
struct ContainerList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List containers.")
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .shortAndLong, help: "Show all containers (default shows just running).") var all = false
    @Flag(name: .shortAndLong, help: "Only display container IDs.") var quiet = false
    @Flag(name: .customLong("no-trunc"), help: "Don't truncate output.") var noTrunc = false
    @Option(name: .shortAndLong, help: "Filter output based on conditions provided (id, name, label, status, exited, ancestor, before, since, volume, network, health, publish, expose).")
    var filter: [String] = []
    @Option(help: "Format output: table, json, or a Go-like template such as '{{.ID}} {{.Names}}' (prefix 'table ' for a header).")
    var format: String?
    @Option(name: [.customShort("n"), .customLong("last")], help: "Show n last created containers (includes all states).") var last: Int?
    @Flag(name: [.customShort("l"), .customLong("latest")], help: "Show the latest created container (includes all states).") var latest = false
    @Flag(name: .shortAndLong, help: "Display total file sizes.") var size = false

    func run() throws {
        try engineCommand {
            let engine = try openEngine(globals)
            let filters = try ContainerFilters.parse(filter)
            let records = try engine.list(filters: filters, all: all, limit: latest ? 1 : last)
            if quiet {
                records.forEach { print(noTrunc ? $0.id : $0.shortID) }
                return
            }
            func fields(_ record: ContainerRecord) -> [String: String] {
                var command = (record.config.entrypoint + record.config.cmd).joined(separator: " ")
                if !noTrunc && command.count > 20 { command = String(command.prefix(19)) + "…" }
                // As Docker: a format naming .Size (or {{json .}}) computes it without -s.
                let wantsSize = size || format.map { $0.contains(".Size") || $0 == "json" || $0.contains("json .") } == true
                let sizeText = wantsSize ? formatBytes(engine.writableLayerSize(record)) : ""
                return ["ID": noTrunc ? record.id : record.shortID, "Image": displayName(record.image), "Command": "\"\(command)\"",
                        "CreatedAt": record.created, "RunningFor": parseTime(record.created).map { relativeTime($0) } ?? "",
                        "Ports": engine.publishedPortsText(record), "State": record.state.status.rawValue, "Status": statusText(record),
                        "Size": sizeText, "Names": record.name,
                        "Labels": record.config.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
                        "Mounts": record.mounts.map { $0.name ?? $0.source }.joined(separator: ","),
                        "LocalVolumes": String(record.mounts.filter { $0.type == "volume" }.count),
                        "Networks": (record.network?.endpoints.map(\.network) ?? [record.hostConfig.networkMode]).joined(separator: ",")]
            }
            if let format, format != "table" {
                if format == "json" {
                    for record in records { print(renderTemplate("{{json .}}", fields(record))) }
                    return
                }
                if format.hasPrefix("table ") {
                    print(renderTemplate(format, ["ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
                                                  "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS",
                                                  "Size": "SIZE", "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
                                                  "LocalVolumes": "LOCAL VOLUMES"], label: { _ in "LABEL" }))
                }
                for record in records { print(renderTemplate(format, fields(record), label: { record.config.labels[$0] ?? "" })) }
                return
            }
            var header = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
            if size { header.append("SIZE") }
            var rows = [header]
            for record in records {
                let f = fields(record)
                var row = [f["ID"] ?? "", f["Image"] ?? "", f["Command"] ?? "", f["RunningFor"] ?? "", f["Status"] ?? "", f["Ports"] ?? "", f["Names"] ?? ""]
                if size { row.append(f["Size"] ?? "") }
                rows.append(row)
            }
            printTable(rows)
        }
    }

    /// `Up 5 seconds`, `Exited (0) 3 seconds ago`, `Created`, … as `docker ps` writes them.
    func statusText(_ record: ContainerRecord) -> String {
        let state = record.state
        func since(_ text: String) -> String {
            guard let date = parseTime(text) else { return "" }
            return relativeTime(date).replacingOccurrences(of: " ago", with: "")
        }
        switch state.status {
        case .created: return "Created"
        case .running: return "Up \(since(state.startedAt))" + healthSuffix(record)
        case .paused: return "Up \(since(state.startedAt)) (Paused)"
        case .restarting: return "Restarting (\(state.exitCode)) \(since(state.finishedAt)) ago"
        case .exited: return "Exited (\(state.exitCode)) \(since(state.finishedAt)) ago"
        case .dead: return "Dead"
        }
    }
}

/// ` (healthy)`, ` (unhealthy)` or ` (health: starting)` for a running container with a
/// health check, as `docker ps` appends it; empty otherwise.
func healthSuffix(_ record: ContainerRecord) -> String {
    guard let health = record.state.health, record.config.healthcheck?.isEnabled == true else { return "" }
    return health.status == ContainerHealth.starting ? " (health: starting)" : " (\(health.status))"
}

/// Parses an RFC 3339 time with up to nanoseconds.
func parseTime(_ text: String) -> Date? {
    guard let dot = text.firstIndex(of: ".") else { return ISO8601DateFormatter().date(from: text) }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    let rest = text[text.index(after: dot)...]
    let digits = rest.prefix { $0.isNumber }
    return formatter.date(from: String(text[..<dot]) + "." + digits.prefix(3) + rest.dropFirst(digits.count))
}

/// `kujira logs [-f] [--tail N] [-t] CONTAINER`.
struct ContainerLogs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Fetch the logs of a container.")
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .shortAndLong, help: "Follow log output.") var follow = false
    @Option(name: [.customShort("n"), .customLong("tail")], help: "Number of lines to show from the end of the logs (or all).") var tail: String = "all"
    @Flag(name: .shortAndLong, help: "Show timestamps.") var timestamps = false
    @Option(help: "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes).") var since: String?
    @Option(help: "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes).") var until: String?
    @Argument(help: "The container (name or id).") var container: String

    func run() throws {
        try engineCommand {
            let count: Int? = tail == "all" ? nil : Int(tail)
            if tail != "all" && count == nil { throw CLIError("--tail \(tail): give a number or all", exitCode: 125) }
            let out = FileHandle.standardOutput, err = FileHandle.standardError
            let now = Date()
            let start = try since.map { try LogTime.parse($0, flag: "--since", now: now) }
            let end = try until.map { try LogTime.parse($0, flag: "--until", now: now) }
            try openEngine(globals).logs(container, follow: follow, tail: count, since: start, until: end) { entry in
                let text = timestamps ? "\(entry.time) \(entry.log)" : entry.log
                (entry.stream == "stderr" ? err : out).write(Data(text.utf8))
            }
        }
    }
}

/// `kujira exec [-e] [-w] [-u] [-d] CONTAINER COMMAND…`: exits with the command's status.
struct ContainerExec: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exec", abstract: "Execute a command in a running container.")
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .shortAndLong, help: "Detached mode: run command in the background.") var detach = false
    @Option(name: .shortAndLong, help: "Set environment variables.") var env: [String] = []
    @Option(name: .shortAndLong, help: "Username or UID.") var user: String?
    @Option(name: [.customShort("w"), .customLong("workdir")], help: "Working directory inside the container.") var workdir: String?
    @Flag(name: .shortAndLong, help: "Keep STDIN open (stdin is passed through).") var interactive = false
    @Flag(name: .shortAndLong, help: "Allocate a pseudo-TTY.") var tty = false
    @Flag(help: "Give extended privileges to the command.") var privileged = false
    @Option(name: .customLong("detach-keys"), help: "Override the key sequence for detaching from the command (with -it; default ctrl-p,ctrl-q).")
    var detachKeys: String?
    @Argument(help: "The container (name or id).") var container: String
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.") var command: [String] = []

    func run() throws {
        let keys = try DetachKeys.option(detachKeys)
        let code = try engineCommand {
            var options = ExecProcessOptions()
            options.env = env
            options.user = user
            options.workingDir = workdir
            options.detach = detach
            options.tty = tty
            options.privileged = privileged
            let command = command.first == "--" ? Array(command.dropFirst()) : command
            let engine = try openEngine(globals)
            if tty { return try execWithTerminal(engine, container: container, command: command, options: options, interactive: interactive, detachKeys: keys) }
            // Without -i the process's stdin is /dev/null, as Docker's (it gets this process's fds 0-2).
            if !interactive {
                let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
                if devNull >= 0 {
                    dup2(devNull, 0)
                    close(devNull)
                }
            }
            return try engine.exec(container, command: command, options: options)
        }
        if code != 0 { throw ExitCode(code) }
    }
}

/// `kujira wait CONTAINER…`: prints each exit code.
struct ContainerWait: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wait", abstract: "Block until containers stop, then print their exit codes.")
    @OptionGroup var globals: GlobalOptions
    @Option(help: "Wait for: not-running (the default), next-exit or removed (the condition of Docker's wait API).") var condition = "not-running"
    @Argument(help: "Containers (names or ids).") var containers: [String]

    func run() throws {
        try engineCommand {
            let engine = try openEngine(globals)
            let wanted = try WaitCondition.parse(condition)
            for container in containers { print(try engine.wait(container, condition: wanted)) }
        }
    }
}

/// `kujira inspect NAME…`: containers, falling back to images, as a JSON array.
struct ContainerInspect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Return low-level information on containers or images.")
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "Container or image names or ids.") var names: [String]

    /// A container or an image document.
    enum Document: Encodable {
        case container(ContainerInspection)
        case image(ImageInspection)
        func encode(to encoder: any Encoder) throws {
            switch self {
            case .container(let value): try value.encode(to: encoder)
            case .image(let value): try value.encode(to: encoder)
            }
        }
    }

    func run() throws {
        try engineCommand {
            let engine = try openEngine(globals)
            var documents: [Document] = []
            for name in names {
                do {
                    documents.append(.container(try engine.inspect(name)))
                } catch let error as EngineError where error.code == .notFound {
                    let store = try ImageStore(root: globals.root)
                    guard let record = try? lookupImage(name, in: store) else {
                        throw CLIError("no such object: \(name)", exitCode: 1)
                    }
                    documents.append(.image(try ImageInspection(record: record, allRecords: try store.list(), store: store)))
                }
            }
            try printJSON(documents)
        }
    }
}

/// `kujira pause CONTAINER…`.
struct ContainerPause: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Pause all processes within one or more containers.")
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "Containers (names or ids).") var containers: [String]

    func run() throws {
        try forEachContainer(globals, containers) { engine, container in
            try engine.pause(container)
        }
    }
}

/// `kujira unpause CONTAINER…`.
struct ContainerUnpause: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unpause", abstract: "Unpause all processes within one or more containers.")
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "Containers (names or ids).") var containers: [String]

    func run() throws {
        try forEachContainer(globals, containers) { engine, container in
            try engine.unpause(container)
        }
    }
}
