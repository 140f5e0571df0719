import ArgumentParser
import Foundation
import Kujira
import KujiraArchive
import KujiraImage
#if canImport(Glibc)
import Glibc
#endif

// The engine verbs beyond the container life cycle: commit, cp, export, diff, top, stats,
// rename, events, system df/prune/info, info, version. Each is thin parsing over one
// engine call.

/// `kujira commit [-a AUTHOR] [-m MESSAGE] [-c CHANGE]… [-p=true|false] CONTAINER [REPO[:TAG]]`.
struct ContainerCommit: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "commit", abstract: "Create a new image from a container's changes.")
    @OptionGroup var globals: GlobalOptions
    @Option(name: .shortAndLong, help: "Author (e.g. \"John Hannibal Smith <hannibal@a-team.com>\").") var author: String?
    @Option(name: .shortAndLong, help: "Commit message.") var message: String?
    @Option(name: .shortAndLong, help: "Apply Dockerfile instruction to the created image.") var change: [String] = []
    @Option(name: .shortAndLong, help: "Pause container during commit (true or false).") var pause: Bool = true
    @Argument(help: "The container (name or id).") var container: String
    @Argument(help: "REPOSITORY[:TAG] for the new image.") var reference: String?

    func run() throws {
        try engineCommand {
            var options = CommitOptions()
            options.author = author
            options.message = message
            options.changes = change
            options.pause = pause
            options.reference = reference
            let result = try openEngine(globals).commit(container, options)
            print(result.imageID)
        }
    }
}

/// `kujira cp [-a] [-L] CONTAINER:SRC DEST|-` and `kujira cp [-a] [-L] SRC|- CONTAINER:DEST`,
/// with Docker's rules for files, directories and a trailing `/.`.
struct ContainerCopy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cp", abstract: "Copy files/folders between a container and the local filesystem.",
        discussion: "Use '-' as the source to read a tar archive from stdin and extract it to a directory in the container, or as the destination to write a tar archive of the container path to stdout.")
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .shortAndLong, help: "Archive mode (copy all uid/gid information).") var archive = false
    @Flag(name: [.customShort("L"), .customLong("follow-link")], help: "Always follow symbol link in SRC_PATH.") var followLink = false
    @Argument(help: "Source: CONTAINER:SRC_PATH, a local path, or -.") var source: String
    @Argument(help: "Destination: CONTAINER:DEST_PATH, a local path, or -.") var destination: String

    /// `CONTAINER:PATH` split, or nil for a local path (which may itself contain `:` after a
    /// `/`, or start with `/` or `.`).
    static func split(_ argument: String) -> (container: String, path: String)? {
        if argument.hasPrefix("/") || argument.hasPrefix(".") { return nil }
        guard let colon = argument.firstIndex(of: ":") else { return nil }
        let container = String(argument[..<colon])
        if container.contains("/") || container.isEmpty { return nil }
        return (container, String(argument[argument.index(after: colon)...]))
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        switch (Self.split(source), Self.split(destination)) {
        case (let from?, nil):
            try engineCommand { try copyOut(container: from.container, path: from.path.isEmpty ? "/" : from.path) }
        case (nil, let to?):
            try engineCommand { try copyIn(container: to.container, path: to.path.isEmpty ? "/" : to.path) }
        case (.some, .some):
            throw CLIError("copying between containers is not supported; copy to the local filesystem first", exitCode: 1)
        case (nil, nil):
            throw CLIError("must specify at least one container source: use CONTAINER:PATH", exitCode: 1)
        }
    }

    private func copyOut(container: String, path: String) throws {
        let engine = try openEngine(globals)
        if destination == "-" {
            let sink = FileDescriptorSink(fd: 1, name: "stdout")
            try engine.archive(container, path: path, followLink: followLink, to: sink)
            return
        }
        let sourceStat = try engine.statPath(container, path: path, followLink: followLink)
        let sourceIsDirectory = sourceStat.isDirectory
        let top = Engine.archiveTopName(for: path)
        var info = Glibc.stat()
        let exists = stat(destination, &info) == 0
        let destinationIsDirectory = exists && (info.st_mode & S_IFMT) == S_IFDIR
        let directory: String
        var rename: (from: String, to: String)?
        if destinationIsDirectory {
            directory = destination
        } else {
            if exists && sourceIsDirectory {
                throw CLIError("cannot copy directory \(path) to \(destination): it is a file", exitCode: 1)
            }
            if !exists && destination.hasSuffix("/") {
                throw CLIError("destination directory \(destination) does not exist", exitCode: 1)
            }
            directory = parentDirectory(destination)
            rename = (top, baseName(destination))
            var parent = Glibc.stat()
            guard stat(directory, &parent) == 0, (parent.st_mode & S_IFMT) == S_IFDIR else {
                throw CLIError("destination directory \(directory) does not exist", exitCode: 1)
            }
        }
        let extractor = TarExtractor(root: directory, preserveOwnership: archive)
        try throughPipe(produce: { fd in
            try engine.archive(container, path: path, followLink: followLink, to: FileDescriptorSink(fd: fd, name: "copy pipe"))
        }, consume: { fd in
            do {
                try extractor.extract(from: FileDescriptorSource(fd: fd, name: "copy of \(path)"), into: "", rename: rename)
            } catch let error as LayerError {
                throw CLIError("cannot copy to \(destination): \(error)", exitCode: 1)
            }
        })
    }

    private func copyIn(container: String, path: String) throws {
        let engine = try openEngine(globals)
        if source == "-" {
            try engine.putArchive(container, path: path, from: FileDescriptorSource(fd: 0, name: "stdin"), preserveOwnership: archive)
            return
        }
        var local = source
        if followLink, let resolved = realpath(source, nil) {
            local = String(cString: resolved)
            free(resolved)
        }
        var info = Glibc.stat()
        guard lstat(local, &info) == 0 else { throw CLIError("could not find the file \(source) on the local filesystem", exitCode: 1) }
        let sourceIsDirectory = (info.st_mode & S_IFMT) == S_IFDIR
        let contentOnly = source.hasSuffix("/.")
        var target: ContainerPathStat?
        do {
            target = try engine.statPath(container, path: path, followLink: true)
        } catch let error as EngineError where error.code == .notFound {
            target = nil
        }
        let directory: String, topName: String
        if let target, target.isDirectory {
            directory = path
            topName = contentOnly ? "." : baseName(source)
        } else {
            if target != nil && sourceIsDirectory {
                throw CLIError("cannot copy directory \(source) to \(container):\(path): it is a file", exitCode: 1)
            }
            if target == nil && path.hasSuffix("/") {
                throw CLIError("destination directory \(container):\(path) does not exist", exitCode: 1)
            }
            directory = parentDirectory(path)
            topName = baseName(path)
        }
        let parentPath = contentOnly ? local : parentDirectory(local)
        let name = contentOnly ? "." : baseName(local)
        let preserve = archive
        try throughPipe(produce: { fd in
            let parentFD = open(parentPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard parentFD >= 0 else { throw CLIError("cannot open \(parentPath): \(String(cString: strerror(errno)))", exitCode: 1) }
            defer { close(parentFD) }
            let writer = TarWriter(FileDescriptorSink(fd: fd, name: "copy pipe"))
            try DirectoryArchiver().archive(entry: Array(name.utf8), in: parentFD, as: topName, tree: source, to: writer)
            try writer.finish()
        }, consume: { fd in
            try engine.putArchive(container, path: directory, from: FileDescriptorSource(fd: fd, name: "copy of \(source)"),
                                  preserveOwnership: preserve)
        })
    }

    private func baseName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? "/"
    }

    private func parentDirectory(_ path: String) -> String {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        let parent = String(trimmed[..<slash])
        return parent.isEmpty ? "/" : parent
    }
}

/// Runs `produce` on a thread writing into a pipe while `consume` reads it here; the first
/// error of either is thrown once both have finished.
func throughPipe(produce: @escaping @Sendable (Int32) throws -> Void, consume: (Int32) throws -> Void) throws {
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else { throw CLIError("pipe: \(String(cString: strerror(errno)))", exitCode: 125) }
    for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    let writeFD = fds[1], readFD = fds[0]
    let failure = ErrorBox()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        do { try produce(writeFD) } catch { failure.set(error) }
        close(writeFD)
        done.signal()
    }
    thread.start()
    var consumerError: (any Error)?
    do { try consume(readFD) } catch { consumerError = error }
    // Drain whatever the producer still writes, so it never blocks on a full pipe.
    var buffer = [UInt8](repeating: 0, count: 65536)
    while buffer.withUnsafeMutableBytes({ read(readFD, $0.baseAddress, $0.count) }) > 0 {}
    close(readFD)
    done.wait()
    if let error = failure.get() { throw error }
    if let consumerError { throw consumerError }
}

/// An error set from another thread.
final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var error: (any Error)?
    func set(_ value: any Error) { lock.withLock { if error == nil { error = value } } }
    func get() -> (any Error)? { lock.withLock { error } }
}

/// `kujira export [-o FILE] CONTAINER`.
struct ContainerExport: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Export a container's filesystem as a tar archive.")
    @OptionGroup var globals: GlobalOptions
    @Option(name: .shortAndLong, help: "Write to a file, instead of STDOUT.") var output: String?
    @Argument(help: "The container (name or id).") var container: String

    func run() throws {
        try engineCommand {
            let engine = try openEngine(globals)
            guard let output else {
                if isatty(1) != 0 {
                    throw CLIError("cowardly refusing to save to a terminal; use the -o flag or redirect", exitCode: 1)
                }
                try engine.export(container, to: FileDescriptorSink(fd: 1, name: "stdout"))
                return
            }
            let temporary = "\(output).tmp-\(getpid())"
            let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw CLIError("cannot create \(output): \(String(cString: strerror(errno)))", exitCode: 1) }
            do {
                try engine.export(container, to: FileDescriptorSink(fd: fd, name: output))
                fsync(fd)
                close(fd)
            } catch {
                close(fd)
                unlink(temporary)
                throw error
            }
            guard rename(temporary, output) == 0 else {
                unlink(temporary)
                throw CLIError("cannot write \(output): \(String(cString: strerror(errno)))", exitCode: 1)
            }
        }
    }
}

/// `kujira diff CONTAINER`: `A`/`C`/`D` lines.
struct ContainerDiff: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: "Inspect changes to files or directories on a container's filesystem.")
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "The container (name or id).") var container: String

    func run() throws {
        try engineCommand {
            for change in try openEngine(globals).changes(container) { print("\(change.kind) \(change.path)") }
        }
    }
}

/// `kujira top CONTAINER [ps OPTIONS]`.
struct ContainerTopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "top", abstract: "Display the running processes of a container.")
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "The container (name or id).") var container: String
    @Argument(parsing: .captureForPassthrough, help: "Options for the host's ps.") var psOptions: [String] = []

    func run() throws {
        try engineCommand {
            let options = psOptions.first == "--" ? Array(psOptions.dropFirst()) : psOptions
            let top = try openEngine(globals).top(container, psArguments: options)
            printTable([top.titles] + top.processes.map { row in
                row.count < top.titles.count ? row + Array(repeating: "", count: top.titles.count - row.count) : row
            })
        }
    }
}

/// `kujira stats [-a] [--no-stream] [--no-trunc] [--format F] [CONTAINER…]`.
struct ContainerStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Display a live stream of container(s) resource usage statistics.")
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .shortAndLong, help: "Show all containers (default shows just running).") var all = false
    @Flag(name: .customLong("no-stream"), help: "Disable streaming stats and only pull the first result.") var noStream = false
    @Flag(name: .customLong("no-trunc"), help: "Do not truncate output.") var noTrunc = false
    @Option(help: "Format output: table, json, or a Go-like template such as '{{.Name}} {{.MemUsage}}'.") var format: String?
    @Argument(help: "Containers (names or ids); default: all running.") var containers: [String] = []

    func run() throws {
        try engineCommand {
            let engine = try openEngine(globals)
            var previous: [String: ContainerStats] = [:]
            var first = true
            while true {
                let records: [ContainerRecord] = containers.isEmpty
                    ? try engine.list().filter { all || $0.state.isActive }
                    : try containers.map { try engine.container($0) }
                var samples: [ContainerStats] = []
                for record in records {
                    let sample = try engine.stats(record.id, previous: previous[record.id])
                    previous[record.id] = sample
                    samples.append(sample)
                }
                if first {
                    // CPU % needs two samples: take the second after a short interval.
                    first = false
                    usleep(500_000)
                    continue
                }
                if !noStream && isatty(1) != 0 { print("\u{1b}[2J\u{1b}[H", terminator: "") }
                try render(samples)
                fflush(nil)
                if noStream { return }
                sleep(1)
            }
        }
    }

    func fields(_ sample: ContainerStats) -> [String: String] {
        let memory = sample.memoryUsage, limit = sample.memoryStats.limit
        let block = sample.blockIO, network = sample.networkIO
        return [
            "Container": noTrunc ? sample.id : String(sample.id.prefix(12)),
            "ID": noTrunc ? sample.id : String(sample.id.prefix(12)),
            "Name": String(sample.name.dropFirst()),
            "CPUPerc": String(format: "%.2f%%", sample.cpuPercent),
            "MemUsage": "\(binaryBytes(memory)) / \(binaryBytes(limit))",
            "MemPerc": String(format: "%.2f%%", sample.memoryPercent),
            "NetIO": "\(formatBytes(Int64(network.rx))) / \(formatBytes(Int64(network.tx)))",
            "BlockIO": "\(formatBytes(Int64(block.read))) / \(formatBytes(Int64(block.write)))",
            "PIDs": String(sample.pidsStats.current),
        ]
    }

    func render(_ samples: [ContainerStats]) throws {
        switch format {
        case "json":
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            for sample in samples { print(String(decoding: try encoder.encode(fields(sample)), as: UTF8.self)) }
        case let template? where template != "table":
            if template.hasPrefix("table ") {
                print(renderTemplate(template, ["Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
                                                "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
                                                "BlockIO": "BLOCK I/O", "PIDs": "PIDS"]))
            }
            for sample in samples { print(renderTemplate(template, fields(sample))) }
        default:
            var rows = [["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]]
            for sample in samples {
                let f = fields(sample)
                rows.append(["Container", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs"].map { f[$0] ?? "" })
            }
            printTable(rows)
        }
    }
}

/// Sizes as `docker stats` prints memory: binary units (`1.5MiB`).
func binaryBytes(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
    if unit == 0 { return "\(bytes)B" }
    return String(format: "%.4g%@", value, units[unit])
}

/// Fills a Go-template-like `--format`: `{{.Field}}` (or `{{ .Field }}`, `{{json .}}` for
/// every field as JSON); a leading `table ` is dropped (the caller prints a header line by
/// rendering the template with the column titles); `\t` and `\n` escapes become tab and
/// newline. `{{.Label "key"}}` is `label(key)`.
func renderTemplate(_ template: String, _ fields: [String: String], label: (String) -> String = { _ in "" }) -> String {
    var text = template.hasPrefix("table ") ? String(template.dropFirst(6)) : template
    text = text.replacingOccurrences(of: "\\t", with: "\t").replacingOccurrences(of: "\\n", with: "\n")
    var out = ""
    var rest = Substring(text)
    while let open = rest.range(of: "{{") {
        out += rest[..<open.lowerBound]
        guard let close = rest[open.upperBound...].range(of: "}}") else { out += rest[open.lowerBound...]; return out }
        let expression = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
        if expression == "json ." {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            out += (try? String(decoding: encoder.encode(fields), as: UTF8.self)) ?? "{}"
        } else if expression.hasPrefix(".Label ") {
            // `{{.Label "com.example.tier"}}`: one label's value (`docker ps`).
            let key = expression.dropFirst(7).trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"`"))
            out += label(key)
        } else if expression.hasPrefix(".") {
            out += fields[String(expression.dropFirst())] ?? "<no value>"
        }
        rest = rest[close.upperBound...]
    }
    return out + rest
}

/// `kujira rename CONTAINER NEW_NAME`.
struct ContainerRename: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rename", abstract: "Rename a container.")
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "The container (name or id).") var container: String
    @Argument(help: "The new name.") var newName: String

    func run() throws {
        try engineCommand { _ = try openEngine(globals).rename(container, to: newName) }
    }
}

/// `kujira events [--since T] [--until T] [-f KEY=VALUE]… [--format F]`: stored events from
/// `--since`, then new ones as they happen, until `--until` or an interrupt.
struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "Get real time events from the engine.")
    @OptionGroup var globals: GlobalOptions
    @Option(help: "Show all events created since timestamp (RFC 3339, Unix seconds, or a duration such as 10m).") var since: String?
    @Option(help: "Stream events until this timestamp.") var until: String?
    @Option(name: .shortAndLong, help: "Filter output based on conditions provided (type=, event=, container=, image=, label=).") var filter: [String] = []
    @Option(help: "Format output: json, or a Go-like template such as '{{.Type}} {{.Action}} {{.Actor.ID}}'.") var format: String?

    func run() throws {
        try engineCommand {
            let engine = try openEngine(globals)
            let filters = try EventFilters.parse(filter)
            let from = try since.map { try parseEventTime($0, option: "--since") }
            let to = try until.map { try parseEventTime($0, option: "--until") }
            for event in engine.events(since: from, until: to, filters: filters, follow: true) {
                print(render(event))
                fflush(nil)
            }
        }
    }

    func render(_ event: EngineEvent) -> String {
        switch format {
        case "json":
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return (try? String(decoding: encoder.encode(event), as: UTF8.self)) ?? "{}"
        case let template?:
            var fields = ["Type": event.type.rawValue, "Action": event.action, "Status": event.action, "ID": event.actor.id,
                          "Actor.ID": event.actor.id, "Time": String(event.time), "TimeNano": String(event.timeNano),
                          "From": event.actor.attributes["image"] ?? ""]
            for (key, value) in event.actor.attributes { fields["Actor.Attributes.\(key)"] = value }
            return renderTemplate(template, fields)
        case nil:
            let seconds = time_t(event.timeNano / 1_000_000_000)
            var parts = tm()
            var copy = seconds
            gmtime_r(&copy, &parts)
            let nanos = String(event.timeNano % 1_000_000_000)
            let stamp = String(format: "%04d-%02d-%02dT%02d:%02d:%02d.", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                               Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
                + String(repeating: "0", count: 9 - nanos.count) + nanos + "Z"
            let attributes = event.actor.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
            return "\(stamp) \(event.type.rawValue) \(event.action) \(event.actor.id)" + (attributes.isEmpty ? "" : " (\(attributes))")
        }
    }
}

/// Parses `--since`/`--until`: RFC 3339, Unix seconds (with a fraction), or a duration
/// (`10m`, `1h30m`, `45s`) before now.
func parseEventTime(_ text: String, option: String) throws -> Date {
    if let seconds = Double(text) { return Date(timeIntervalSince1970: seconds) }
    if let date = parseTime(text) { return date }
    var total = 0.0, number = ""
    for ch in text {
        if ch.isNumber || ch == "." { number.append(ch); continue }
        guard let value = Double(number) else { number = "x"; break }
        switch ch {
        case "h": total += value * 3600
        case "m": total += value * 60
        case "s": total += value
        default: throw CLIError("\(option) \(text): use an RFC 3339 time, Unix seconds or a duration such as 10m", exitCode: 125)
        }
        number = ""
    }
    guard number.isEmpty, total > 0 else {
        throw CLIError("\(option) \(text): use an RFC 3339 time, Unix seconds or a duration such as 10m", exitCode: 125)
    }
    return Date().addingTimeInterval(-total)
}

/// `kujira system df|prune|info`.
struct SystemGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "system", abstract: "Manage the engine.",
                                                    subcommands: [SystemDiskUsage.self, SystemPrune.self, InfoCommand.self])
}

/// `kujira system df`.
struct SystemDiskUsage: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "df", abstract: "Show engine disk usage.")
    @OptionGroup var globals: GlobalOptions
    @Option(help: "Format output: table, json, or a Go-like template such as '{{.Type}} {{.Size}}'.") var format: String?

    func run() throws {
        try engineCommand {
            let usage = try openEngine(globals).diskUsage()
            let rows = usage.categories.map { category -> [String: String] in
                let percent = category.size > 0 ? Int(Double(category.reclaimable) / Double(category.size) * 100) : 0
                return ["Type": category.type, "TotalCount": String(category.total), "Active": String(category.active),
                        "Size": formatBytes(category.size), "Reclaimable": "\(formatBytes(category.reclaimable)) (\(percent)%)"]
            }
            switch format {
            case "json":
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                for row in rows { print(String(decoding: try encoder.encode(row), as: UTF8.self)) }
            case let template? where template != "table":
                if template.hasPrefix("table ") {
                    print(renderTemplate(template, ["Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
                                                    "Reclaimable": "RECLAIMABLE"]))
                }
                for row in rows { print(renderTemplate(template, row)) }
            default:
                printTable([["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]]
                           + rows.map { row in ["Type", "TotalCount", "Active", "Size", "Reclaimable"].map { row[$0] ?? "" } })
            }
        }
    }
}

/// `kujira system prune [-a] [-f] [--volumes]`.
struct SystemPrune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused data.")
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .shortAndLong, help: "Remove all unused images not just dangling ones.") var all = false
    @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.") var force = false
    @Flag(help: "Prune volumes (not supported until volumes are managed).") var volumes = false

    func run() throws {
        if !force {
            print("""
                WARNING! This will remove:
                  - all stopped containers
                  - \(all ? "all images without at least one container associated to them" : "all dangling images")
                  - all build cache

                Are you sure you want to continue? [y/N] 
                """, terminator: "")
            fflush(nil)
            let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            guard answer == "y" || answer == "yes" else { return }
        }
        try engineCommand {
            var options = PruneOptions()
            options.allImages = all
            options.volumes = volumes
            let report = try openEngine(globals).prune(options)
            if !report.containersDeleted.isEmpty {
                print("Deleted Containers:")
                report.containersDeleted.forEach { print($0) }
                print("")
            }
            if !report.imagesDeleted.isEmpty {
                print("Deleted Images:")
                report.imagesDeleted.forEach { print("untagged: \(displayName($0))") }
                print("")
            }
            if !report.volumesDeleted.isEmpty {
                print("Deleted Volumes:")
                report.volumesDeleted.forEach { print($0) }
                print("")
            }
            if report.buildCacheEntriesDeleted > 0 { print("Deleted build cache objects: \(report.buildCacheEntriesDeleted)\n") }
            print("Total reclaimed space: \(formatBytes(report.spaceReclaimed))")
        }
    }
}

/// `kujira info` and `kujira system info`.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Display system-wide information.")
    @OptionGroup var globals: GlobalOptions
    @Option(help: "Format output: json, or a Go-like template such as '{{.Containers}}'.") var format: String?

    func run() throws {
        try engineCommand {
            let info = try openEngine(globals).info()
            let fields: [(String, String)] = [
                ("Containers", String(info.Containers)), ("ContainersRunning", String(info.ContainersRunning)),
                ("ContainersPaused", String(info.ContainersPaused)), ("ContainersStopped", String(info.ContainersStopped)),
                ("Images", String(info.Images)), ("ServerVersion", info.ServerVersion), ("Driver", info.Driver),
                ("LoggingDriver", info.LoggingDriver), ("CgroupDriver", info.CgroupDriver), ("CgroupVersion", info.CgroupVersion),
                ("DefaultRuntime", info.DefaultRuntime), ("KernelVersion", info.KernelVersion),
                ("OperatingSystem", info.OperatingSystem), ("OSType", info.OSType), ("Architecture", info.Architecture),
                ("NCPU", String(info.NCPU)), ("MemTotal", String(info.MemTotal)), ("Name", info.Name),
                ("DockerRootDir", info.DockerRootDir), ("ExecutionRoot", info.ExecutionRoot),
            ]
            switch format {
            case "json":
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(info), as: UTF8.self))
            case let template?:
                print(renderTemplate(template, Dictionary(fields, uniquingKeysWith: { a, _ in a })))
            case nil:
                print("""
                    Server:
                     Containers: \(info.Containers)
                      Running: \(info.ContainersRunning)
                      Paused: \(info.ContainersPaused)
                      Stopped: \(info.ContainersStopped)
                     Images: \(info.Images)
                     Server Version: \(info.ServerVersion)
                     Storage Driver: \(info.Driver)
                     Logging Driver: \(info.LoggingDriver)
                     Cgroup Driver: \(info.CgroupDriver)
                     Cgroup Version: \(info.CgroupVersion)
                     Default Runtime: \(info.DefaultRuntime)
                     Security Options: \(info.SecurityOptions.joined(separator: ", "))
                     Kernel Version: \(info.KernelVersion)
                     Operating System: \(info.OperatingSystem)
                     OSType: \(info.OSType)
                     Architecture: \(info.Architecture)
                     CPUs: \(info.NCPU)
                     Total Memory: \(binaryBytes(info.MemTotal))
                     Name: \(info.Name)
                     Docker Root Dir: \(info.DockerRootDir)
                     Execution Root: \(info.ExecutionRoot)
                    """)
            }
        }
    }
}

/// `kujira version`.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Show the Kujira version information.")
    @OptionGroup var globals: GlobalOptions
    @Option(help: "Format output: json, or a Go-like template such as '{{.Version}}'.") var format: String?

    func run() throws {
        try engineCommand {
            let version = Engine.versionInfo()
            switch format {
            case "json":
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(version), as: UTF8.self))
            case let template?:
                print(renderTemplate(template, ["Version": version.Version, "Os": version.Os, "Arch": version.Arch,
                                                "KernelVersion": version.KernelVersion]))
            case nil:
                print("""
                    Client:
                     Version:           \(version.Version)
                     OS/Arch:           \(version.Os)/\(version.Arch)

                    Server: Kujira Engine
                     Engine:
                      Version:          \(version.Version)
                      OS/Arch:          \(version.Os)/\(version.Arch)
                      Kernel Version:   \(version.KernelVersion)
                    """)
            }
        }
    }
}

/// Records an image event (`pull`, `tag`, `untag`, `delete`, `import`, `save`, `load`) in the
/// root's event log; the image commands call it after their work is done.
func imageEvent(_ globals: GlobalOptions, _ action: String, name: String, id: String) {
    EventLog(root: globals.root).append(EngineEvent(type: .image, action: action, id: id, attributes: ["name": name]))
}
