import ArgumentParser
import Foundation
import KujiraBuild
import KujiraDockerfile
import KujiraImage
import KujiraOCI
import KujiraRegistry
import KujiraArchive
import Synchronization

/// `kujira build [-t NAME]… [-f FILE|-] [--build-arg K=V]… [--target T] [--no-cache]
/// [--label K=V]… [--iidfile F] [-q] [--check] [--secret id=…,src=…|env=…]… [--network M]
/// [--pull] [-o type=oci|docker|tar|local,dest=…] CONTEXT|-`: builds an image from a Dockerfile
/// with ``KujiraBuild/Builder``, printing BuildKit-style steps (`#3 [2/4] RUN …`, the
/// output of RUN steps, `CACHED`) and the image ID. `SOURCE_DATE_EPOCH` in the environment
/// makes the image reproducible. With `--check`, validates the Dockerfile and its
/// `.dockerignore` as `docker build --check` does and builds nothing.
///
///     kujira build -t localhost/app:latest .
///     kujira build --check -f app.Dockerfile .
struct Build: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "build", abstract: "Build an image from a Dockerfile.")
    @OptionGroup var globals: GlobalOptions
    @Option(name: .shortAndLong, help: "Name (and tag) of the image; repeatable.") var tag: [String] = []
    @Option(name: .shortAndLong, help: "Path of the Dockerfile (default: CONTEXT/Dockerfile).") var file: String?
    @Option(name: .customLong("build-arg"), help: "Build-time variable (KEY=VALUE, or KEY to take it from the environment).") var buildArgs: [String] = []
    @Option(help: "The stage to build.") var target: String?
    @Flag(name: .customLong("no-cache"), help: "Do not use the build cache.") var noCache = false
    @Option(help: "Label of the image (KEY=VALUE); repeatable.") var label: [String] = []
    @Option(help: "Write the image ID to this file.") var iidfile: String?
    @Flag(name: .shortAndLong, help: "Print only the image ID.") var quiet = false
    @Option(help: "Progress output: auto (tty on a terminal, else plain), plain, tty or quiet.") var progress: String = "auto"
    @Flag(help: "Check the Dockerfile and report errors and lint warnings; build nothing.") var check = false
    @Option(help: "A secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VARIABLE; repeatable.") var secret: [String] = []
    @Option(help: "Network of RUN steps: default (the host's), host or none.") var network: String = "default"
    @Flag(help: "Always pull the base images, even when the store has them.") var pull = false
    @Option(help: "The platform to build for (only this host's: os/arch[/variant]).") var platform: String?
    @Option(name: .shortAndLong, help: "Also write the result: type=oci|docker|tar|local,dest=PATH.") var output: [String] = []
    @OptionGroup var registry: RegistryOptions
    @Argument(help: "Build context directory, or - for a tar (or a Dockerfile) on standard input.") var context: String = "."

    func run() throws {
        var contextDirectory = context
        var scratch: String?
        defer { if let scratch { try? FileManager.default.removeItem(atPath: scratch) } }
        var stdinDockerfile: [UInt8]?
        if context == "-" {
            guard file != "-" else { throw CLIError("the context and the Dockerfile cannot both come from standard input") }
            let directory = try Self.temporaryDirectory()
            scratch = directory
            contextDirectory = directory + "/context"
            stdinDockerfile = try Self.readContext(into: contextDirectory)
        }
        let path: String
        let data: Data
        if let stdinDockerfile {
            path = "Dockerfile"
            data = Data(stdinDockerfile)
        } else if file == "-" {
            path = "Dockerfile"
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            path = file.map { context == "-" && !$0.hasPrefix("/") ? (contextDirectory as NSString).appendingPathComponent($0) : $0 }
                ?? (contextDirectory as NSString).appendingPathComponent("Dockerfile")
            guard let contents = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read Dockerfile \(path)") }
            data = contents
        }
        let text = String(decoding: data, as: UTF8.self)
        var args: [String: String] = [:]
        for a in buildArgs {
            let kv = a.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let key = kv.first, !key.isEmpty else { throw CLIError("invalid --build-arg \(a): expected KEY=VALUE") }
            args[key] = kv.count == 2 ? kv[1] : ProcessInfo.processInfo.environment[key]
        }
        if check { return try runCheck(text, path: path, args: args) }

        var labels: [String: String] = [:]
        for l in label {
            let kv = l.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard kv.count == 2, !kv[0].isEmpty else { throw CLIError("invalid --label \(l): expected KEY=VALUE") }
            labels[kv[0]] = kv[1]
        }
        var epoch: Int64?
        if let raw = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], !raw.isEmpty {
            guard let value = Int64(raw), value >= 0 else { throw CLIError("SOURCE_DATE_EPOCH=\(raw) is not a number of seconds") }
            epoch = value
        }
        guard ["auto", "plain", "tty", "quiet"].contains(progress) else {
            throw CLIError("--progress \(progress): use auto, plain, tty or quiet")
        }
        let quiet = self.quiet || progress == "quiet"
        let tty: TTYBuildProgress? = !quiet && (progress == "tty" || (progress == "auto" && isatty(2) == 1)) ? TTYBuildProgress() : nil
        let outputs = try output.map(BuildOutput.init(parsing:))
        var options = BuildOptions(
            tags: tag.map(Self.withDefaultTag), buildArgs: args, target: target, noCache: noCache, labels: labels,
            fileName: (path as NSString).lastPathComponent, sourceDateEpoch: epoch,
            progress: { event in
                if let tty { tty.handle(event) } else if !quiet { Self.print(event) }
            })
        options.secrets = try Self.secrets(secret)
        guard ["default", "host", "none"].contains(network) else { throw CLIError("--network \(network): use default, host or none") }
        options.network = network
        options.alwaysPull = pull
        options.platform = platform
        let store = try openStore(globals)
        let configuration = registry.configuration()
        options.pullImage = { name in try Self.pullImage(name, into: store, configuration: configuration, quiet: quiet) }
        let builder = Builder(store: store, runtimeRoot: "/run/kujira-build")
        let result: BuildResult
        do {
            result = try builder.build(dockerfile: text, contextDirectory: contextDirectory, options: options)
            tty?.finish()
        } catch let error as BuildError {
            tty?.finish()
            throw CLIError(error.description)
        }
        for destination in outputs { try destination.write(result, store: store) }
        if let iidfile { try Data(result.imageID.utf8).write(to: URL(fileURLWithPath: iidfile)) }
        if !quiet {
            for name in result.names { Swift.print("naming to \(name) done") }
        }
        Swift.print(result.imageID)
    }

    /// `--secret id=ID,src=FILE` / `id=ID,env=VAR` (`source=`, `type=file|env` accepted).
    static func secrets(_ values: [String]) throws -> [String: BuildSecret] {
        var result: [String: BuildSecret] = [:]
        for value in values {
            var fields: [String: String] = [:]
            for part in value.split(separator: ",") {
                let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2 else { throw CLIError("invalid --secret \(value): expected id=ID,src=FILE or id=ID,env=VARIABLE") }
                fields[kv[0]] = kv[1]
            }
            guard let id = fields["id"], !id.isEmpty else { throw CLIError("invalid --secret \(value): id= is required") }
            if let env = fields["env"] ?? (fields["type"] == "env" ? fields["src"] ?? fields["source"] ?? id : nil) {
                guard let secretValue = ProcessInfo.processInfo.environment[env] else {
                    throw CLIError("--secret \(value): the environment variable \(env) is not set")
                }
                result[id] = .value(Array(secretValue.utf8))
            } else if let source = fields["src"] ?? fields["source"] {
                guard FileManager.default.isReadableFile(atPath: source) else { throw CLIError("--secret \(value): cannot read \(source)") }
                result[id] = .file(source)
            } else if let secretValue = ProcessInfo.processInfo.environment[id] {
                result[id] = .value(Array(secretValue.utf8))
            } else {
                throw CLIError("invalid --secret \(value): give src=FILE or env=VARIABLE")
            }
        }
        return result
    }

    /// Pulls `name` from its registry into `store` (blocking the calling, non-async thread).
    static func pullImage(_ name: String, into store: ImageStore, configuration: RegistryConfiguration, quiet: Bool) throws {
        let reference = try Reference(parsing: name)
        if !quiet { FileHandle.standardError.write(Data("pulling \(reference)\n".utf8)) }
        let outcome = Mutex<Result<Void, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do {
                _ = try await RegistryClient(configuration: configuration).pull(reference, into: store, unpack: true)
                outcome.withLock { $0 = .success(()) }
            } catch {
                outcome.withLock { $0 = .failure(error) }
            }
            done.signal()
        }
        done.wait()
        try outcome.withLock { $0 }?.get()
    }

    /// A new private temporary directory.
    static func temporaryDirectory() throws -> String {
        var template = Array("/tmp/kujira-build-context-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CLIError("cannot create a temporary directory: \(String(cString: strerror(errno)))") }
        return String(cString: made)
    }

    /// Reads standard input: a tar (plain, gzip or zstd) is unpacked into `directory`; anything
    /// else is a Dockerfile, returned, with an empty context.
    static func readContext(into directory: String) throws -> [UInt8]? {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let input = FileDescriptorSource(fd: 0, name: "standard input")
        var head = [UInt8](repeating: 0, count: 512)
        let count = try head.withUnsafeMutableBytes { try input.readFully(into: $0) }
        head = Array(head[0..<count])
        let isGzip = count >= 2 && head[0] == 0x1f && head[1] == 0x8b
        let isZstd = count >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd
        let isTar = count >= 262 && Array(head[257..<262]) == Array("ustar".utf8)
        let source = PrefixedSource(prefix: head, upstream: input)
        guard isGzip || isZstd || isTar else {
            return head + (try source.readAll(limit: 64 << 20)).dropFirst(head.count)
        }
        let writer = try RootfsWriter(root: directory, options: RootfsWriterOptions(devicePolicy: .skip, preserveOwnership: false))
        let reader = TarReader(try decompressingSource(source, compression: nil, name: "the build context on standard input"))
        while let entry = try reader.next() {
            let kind: LayerEntry.Kind
            switch entry.type {
            case .regular: kind = .regular
            case .directory: kind = .directory
            case .symlink: kind = .symlink(target: Array(entry.linkname.utf8))
            case .hardlink: kind = .hardlink(target: Array(entry.linkname.utf8))
            default: try reader.skipContent(); continue
            }
            let name = entry.path.split(separator: "/").last.map(String.init) ?? ""
            if name.hasPrefix(".wh.") { try reader.skipContent(); continue }
            let layerEntry = LayerEntry(pathBytes: Array(entry.path.utf8), kind: kind, mode: entry.mode, uid: entry.uid, gid: entry.gid,
                                        mtime: .init(seconds: entry.mtime.seconds, nanoseconds: entry.mtime.nanoseconds))
            if case .regular = kind {
                try writer.apply(layerEntry) { fd in try reader.copyContent(to: fd, name: entry.path) }
            } else {
                try writer.apply(layerEntry)
            }
        }
        try writer.finish()
        return nil
    }

    /// `name` with `:latest` when it has neither a tag nor a digest, as `docker build -t` does.
    static func withDefaultTag(_ name: String) -> String {
        let last = name.split(separator: "/").last ?? ""
        return last.contains(":") || name.contains("@") ? name : name + ":latest"
    }

    /// One progress line, as BuildKit's plain progress prints it.
    static func print(_ event: BuildEvent) {
        let line: String
        switch event {
        case .step(let number, let position, let text): line = "#\(number) \(position) \(text)"
        case .cached(let number): line = "#\(number) CACHED"
        case .running: return
        case .output(let number, let text): line = "#\(number) \(text)"
        case .done(let number): line = "#\(number) DONE"
        case .warning(let text): line = "WARNING: \(text)"
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// `--check`: the Dockerfile and .dockerignore diagnostics.
    func runCheck(_ text: String, path: String, args: [String: String]) throws {
        var diagnostics = DockerfileLinter.check(text, fileName: path, buildArgs: args)
        let ignorePath = DockerIgnore.ignoreFilePath(dockerfilePath: path) { FileManager.default.fileExists(atPath: $0) }
            .map { $0 == ".dockerignore" ? (context as NSString).appendingPathComponent(".dockerignore") : $0 }
        if let ignorePath, let ignore = FileManager.default.contents(atPath: ignorePath) {
            do {
                _ = try DockerIgnore(String(decoding: ignore, as: UTF8.self))
            } catch {
                diagnostics.append(Diagnostic(severity: .error, code: "dockerignore", message: error.message,
                                              location: SourceLocation(file: ignorePath, line: error.line, column: 1)))
            }
        }
        for d in diagnostics { Swift.print(d) }
        if diagnostics.isEmpty { Swift.print("Check complete, no warnings found.") }
        if diagnostics.contains(where: { $0.severity == .error }) { throw CLIError("\(path): check failed", exitCode: 1) }
    }
}

/// One `--output`: where the built image is also written.
struct BuildOutput {
    enum Kind: String { case oci, docker, tar, local }
    var kind: Kind
    var destination: String
    var name: String?

    /// Parses `type=oci,dest=FILE[,name=REF]`, or a bare path (a local directory).
    init(parsing text: String) throws {
        var fields: [String: String] = [:]
        if !text.contains("=") {
            fields = ["type": "local", "dest": text]
        } else {
            for part in text.split(separator: ",") {
                let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2 else { throw CLIError("invalid --output \(text): expected type=TYPE,dest=PATH") }
                fields[kv[0]] = kv[1]
            }
        }
        guard let type = fields["type"], let kind = Kind(rawValue: type) else {
            throw CLIError("--output \(text): type must be oci, docker, tar or local")
        }
        guard let destination = fields["dest"] ?? fields["destination"], !destination.isEmpty else {
            throw CLIError("--output \(text): dest=PATH is required")
        }
        self.kind = kind
        self.destination = destination
        self.name = fields["name"]
    }

    /// Writes the result.
    func write(_ result: BuildResult, store: ImageStore) throws {
        let image = result.names.first ?? result.manifestDigest
        switch kind {
        case .oci:
            _ = try store.exportOCIArchive(image, to: destination, tag: name ?? (result.names.first.map(displayName) ?? "latest"))
        case .docker:
            try store.saveDockerArchive([(image, name ?? result.names.first ?? image)], to: destination)
        case .local, .tar:
            let bundle = try Build.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: bundle) }
            _ = try store.unpackBundle(image, to: bundle)
            if kind == .local {
                try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
                let writerRoot = destination
                let source = bundle + "/rootfs"
                // Move the unpacked tree's entries into place (same filesystem: rename; else copy).
                for entry in try FileManager.default.contentsOfDirectory(atPath: source) {
                    let target = (writerRoot as NSString).appendingPathComponent(entry)
                    if FileManager.default.fileExists(atPath: target) { try FileManager.default.removeItem(atPath: target) }
                    if rename(source + "/" + entry, target) != 0 {
                        try FileManager.default.copyItem(atPath: source + "/" + entry, toPath: target)
                    }
                }
            } else {
                let fd = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                guard fd >= 0 else { throw CLIError("cannot create \(destination): \(String(cString: strerror(errno)))") }
                defer { close(fd) }
                let writer = TarWriter(FileDescriptorSink(fd: fd, name: destination))
                try DirectoryArchiver().archive(directory: bundle + "/rootfs", to: writer)
                try writer.finish()
            }
        }
    }
}
