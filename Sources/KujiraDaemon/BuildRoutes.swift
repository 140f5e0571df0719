// `POST /build`: the legacy builder endpoint (`DOCKER_BUILDKIT=0 docker build`): a tar
// context in the body, the Dockerfile built with KujiraBuild, Docker's JSON stream back.

internal import CKujiraDaemon
import Foundation
import KujiraBuild
import KujiraImage
import KujiraOCI
#if canImport(Glibc)
import Glibc
#endif

extension Daemon {
    func addBuildRoutes(_ router: Router) {
        router.add("POST", "/build") { [self] request, writer in try build(request, writer) }
        router.add("POST", "/build/prune") { [self] _, writer in
            let report = try engine.images.garbageCollect()
            try writer.sendJSON(["CachesDeleted": NSNull(), "SpaceReclaimed": report.bytesFreed])
        }
    }

    /// Query parameters of /build that kujirad refuses when set to anything but their default.
    static let unsupportedBuildParameters: [String: String] = [
        "remote": "a remote context (URL or git repository)", "cachefrom": "--cache-from", "extrahosts": "--add-host",
        "squash": "--squash", "networkmode": "--network", "platform": "--platform", "outputs": "--output",
        "cpusetcpus": "--cpuset-cpus", "cpuperiod": "--cpu-period", "cpuquota": "--cpu-quota", "memory": "--memory",
        "memswap": "--memory-swap", "shmsize": "--shm-size", "ulimits": "--ulimit", "isolation": "--isolation",
        "cgroupparent": "--cgroup-parent", "session": "BuildKit sessions", "version": "the BuildKit builder",
    ]

    func build(_ request: RouteRequest, _ writer: ResponseWriter) throws {
        for (name, what) in Self.unsupportedBuildParameters {
            guard let value = request.query(name), !value.isEmpty else { continue }
            let defaults: Set<String> = ["0", "false", "default", "[]", "{}", "null", "1"]
            if name == "version" && value == "1" { continue }
            if name == "networkmode" && value == "default" { continue }
            if ["squash"].contains(name) && !request.bool(name) { continue }
            if ["cachefrom", "ulimits", "extrahosts"].contains(name) && defaults.contains(value) { continue }
            if ["cpuperiod", "cpuquota", "memory", "memswap", "shmsize"].contains(name) && value == "0" { continue }
            throw APIError(400, "\(what) is not supported by kujirad's builder (query parameter \(name)=\(value))")
        }
        var buildArgs: [String: String] = [:]
        if let args = try request.jsonQuery("buildargs") {
            guard let object = args as? [String: Any] else { throw APIError(400, "buildargs must be a JSON object") }
            for (key, value) in object {
                if let text = value as? String { buildArgs[key] = text }
            }
        }
        var labels: [String: String] = [:]
        if let given = try request.jsonQuery("labels") {
            guard let object = given as? [String: String] else { throw APIError(400, "labels must be a JSON object of strings") }
            labels = object
        }
        let tags = try request.queryAll("t").filter { !$0.isEmpty }.map { tag -> String in
            do {
                return try Reference(parsing: tag).description
            } catch {
                throw APIError(400, "invalid reference format: \(tag)")
            }
        }
        let dockerfileName = request.query("dockerfile").flatMap { $0.isEmpty ? nil : $0 } ?? "Dockerfile"
        let quiet = request.bool("q")

        // The context: the body (a tar, possibly compressed) unpacked into a scratch directory.
        let scratch = "\(engine.root)/tmp/build-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: "\(scratch)/context", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let archive = try TemporaryFile.holding(request.http.body, in: scratch, suffix: ".tar")
        try Self.extract(archive: archive.path, into: "\(scratch)/context")
        archive.remove()
        let context = "\(scratch)/context"
        let dockerfilePath = dockerfileName.hasPrefix("/") ? dockerfileName : "\(context)/\(dockerfileName)"
        let resolved = URL(fileURLWithPath: dockerfilePath).standardizedFileURL.path
        guard resolved.hasPrefix(context + "/"), let data = FileManager.default.contents(atPath: resolved) else {
            throw APIError(400, "Cannot locate specified Dockerfile: \(dockerfileName)")
        }
        let text = String(decoding: data, as: UTF8.self)

        try writer.beginStream(contentType: "application/json")
        let store = engine.images
        let options = BuildOptions(tags: tags, buildArgs: buildArgs, target: request.query("target").flatMap { $0.isEmpty ? nil : $0 },
                                   noCache: request.bool("nocache"), labels: labels, fileName: (dockerfileName as NSString).lastPathComponent)
        let runtimeRoot = buildRoot
        let result = try EventPump<BuildEvent, BuildResult>.runBlocking({ pump in
            var withProgress = options
            withProgress.progress = { pump.post($0) }
            return try Builder(store: store, runtimeRoot: runtimeRoot).build(dockerfile: text, contextDirectory: context, options: withProgress)
        }, events: { events in
            guard !quiet else { return }
            for event in events {
                let line: String
                switch event {
                case .step(_, let position, let text): line = "Step \(position.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))) : \(text)\n"
                case .cached: line = " ---> Using cache\n"
                case .running: continue
                case .output(_, let text): line = text.hasSuffix("\n") ? text : text + "\n"
                case .done: continue
                case .warning(let text): line = "WARNING: \(text)\n"
                }
                try writer.writeJSONLine(["stream": line])
            }
        })
        let shortID = String(result.imageID.split(separator: ":").last?.prefix(12) ?? "")
        try writer.writeJSONLine(["aux": ["ID": result.imageID]])
        if quiet {
            // What `docker build -q` prints: dockerd sends the id as the only output.
            try writer.writeJSONLine(["stream": "\(result.imageID)\n"])
        } else {
            try writer.writeJSONLine(["stream": "Successfully built \(shortID)\n"])
            for name in result.names { try writer.writeJSONLine(["stream": "Successfully tagged \(Self.displayName(name))\n"]) }
        }
    }

    /// Unpacks the context `archive` (tar, gzip or zstd, as Docker accepts) into `directory`
    /// with the system's tar, refusing members that leave it.
    static func extract(archive: String, into directory: String) throws {
        let status = try Spawn.run(["tar", "--extract", "--no-same-owner", "--no-overwrite-dir", "--auto-compress",
                                    "--file", archive, "--directory", directory])
        guard status.code == 0 else {
            throw APIError(400, "the build context is not a valid tar archive: \(status.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}

/// Runs a short-lived tool with posix_spawn (never Foundation's Process) and collects its
/// exit status and standard error.
enum Spawn {
    static func run(_ arguments: [String]) throws -> (code: Int32, stderr: String) {
        var pipeFDs: [Int32] = [-1, -1]
        guard kujirad_pipe(&pipeFDs) == 0 else { throw APIError(500, "pipe: \(String(cString: strerror(errno)))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ)
        close(pipeFDs[1])
        defer { close(pipeFDs[0]) }
        guard result == 0 else { throw APIError(500, "starting \(arguments[0]): \(String(cString: strerror(result)))") }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(pipeFDs[0], &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            output += buffer[0..<count]
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return (code, String(decoding: output, as: UTF8.self))
    }
}
