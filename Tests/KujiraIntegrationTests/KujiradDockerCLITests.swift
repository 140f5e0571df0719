import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A kujirad on a temporary socket over a temporary root, started with posix_spawn (not
/// Foundation's Process) and stopped with SIGTERM.
final class KujiradProcess {
    let root: String
    let socket: String
    let log: String
    private(set) var pid: pid_t = 0

    /// The kujirad binary: `KUJIRAD_BIN`, else next to `kujira`.
    static var binary: String {
        ProcessInfo.processInfo.environment["KUJIRAD_BIN"]
            ?? URL(fileURLWithPath: Host.kujira).deletingLastPathComponent().appendingPathComponent("kujirad").path
    }

    init(scratch: String) throws {
        root = "\(scratch)/root"
        socket = "\(scratch)/kujirad.sock"
        log = "\(scratch)/kujirad.log"
        try start()
    }

    /// Starts the daemon and waits until its socket accepts connections.
    func start() throws {
        let arguments = [Self.binary, "-H", "unix://\(socket)", "--root", root, "--state", "\(root)-state"]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, argv, environ)
        guard spawned == 0 else { throw TestFailure("starting \(arguments[0]): \(String(cString: strerror(spawned)))") }
        for _ in 0..<1200 {
            if Self.accepts(socket) { return }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                pid = 0
                throw TestFailure("kujirad exited (status \(status)): \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            }
            usleep(50_000)
        }
        stop()
        throw TestFailure("kujirad did not open \(socket)")
    }

    static func accepts(_ path: String) -> Bool {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = byte }
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
    }

    /// SIGTERM, then waits for the daemon to exit; returns its exit status.
    @discardableResult
    func stop() -> Int32 {
        guard pid > 0 else { return -1 }
        kill(pid, SIGTERM)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        pid = 0
        return status
    }

    /// Runs the docker CLI against this daemon (its own config directory, legacy builder).
    @discardableResult
    func docker(_ arguments: [String]) throws -> ProcessResult {
        try run("docker", arguments, environment: [
            "DOCKER_HOST": "unix://\(socket)", "DOCKER_CONFIG": "\(root)-docker-config", "DOCKER_BUILDKIT": "0",
        ])
    }

    /// Runs a docker command that must succeed.
    @discardableResult
    func mustDocker(_ arguments: [String]) throws -> ProcessResult {
        let result = try docker(arguments)
        guard result.succeeded else {
            throw TestFailure("docker \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)\nkujirad log: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        return result
    }
}

/// The busybox test image as a `docker save` tarball, made with `kujira import` and `kujira save`.
func busyboxArchive(scratch: String) throws -> String {
    let rootfs = "\(scratch)/busybox-rootfs", seed = "\(scratch)/seed-root", archive = "\(scratch)/busybox.tar"
    try TestImages.busyboxRootfs(at: rootfs)
    let imported = try kujira(seed, ["import", "--change", "CMD [\"sh\"]", rootfs, "busybox:latest"])
    guard imported.succeeded else { throw TestFailure("kujira import: \(imported.stderr)") }
    let saved = try kujira(seed, ["save", "-o", archive, "busybox:latest"])
    guard saved.succeeded else { throw TestFailure("kujira save: \(saved.stderr)") }
    return archive
}

/// Removes what a daemon's containers left under a scratch root (their rootfs mounts), then
/// the root's networks (its bridges and nftables table).
func removeContainers(_ daemon: KujiradProcess) {
    if let ids = try? daemon.docker(["ps", "-aq"]).stdout.split(separator: "\n"), !ids.isEmpty {
        _ = try? daemon.docker(["rm", "-f"] + ids.map(String.init))
    }
    _ = try? run(Host.kujira, ["--root", daemon.root, "--state", "\(daemon.root)-state", "network", "__teardown"])
}

/// The real docker CLI (client only) against kujirad (Docs/kujirad.md).
@Suite("kujirad with the docker CLI", .serialized)
struct KujiradDockerCLITests {
    /// Runs `body` with a kujirad that has busybox loaded (and the scratch directory); its
    /// containers are removed and the daemon stopped afterwards.
    func withBusyboxDaemon(_ body: (KujiradProcess, String) throws -> Void) throws {
        try withTemporaryDirectory { scratch in
            let archive = try busyboxArchive(scratch: scratch)
            let daemon = try KujiradProcess(scratch: scratch)
            defer {
                removeContainers(daemon)
                daemon.stop()
            }
            try daemon.mustDocker(["load", "-i", archive])
            try body(daemon, scratch)
        }
    }

    @Test("version, info, load, images, run, ps, logs, stop, rm, build, system df, volumes, cp, exec -it, diff, top, rename, commit, events, errors, restart",
          .enabled(if: Host.has(["docker"], root: true)))
    func dockerCLI() throws {
        try withTemporaryDirectory { scratch in
            let archive = try busyboxArchive(scratch: scratch)
            let daemon = try KujiradProcess(scratch: scratch)
            defer {
                removeContainers(daemon)
                daemon.stop()
            }
            let version = try daemon.mustDocker(["version"]).stdout
            #expect(version.contains("Server: Kujira"))
            #expect(version.contains("API version:      1.45 (minimum version 1.24)"))
            #expect(try daemon.mustDocker(["info"]).stdout.contains("Server Version: 0.1.0"))

            #expect(try daemon.mustDocker(["load", "-i", archive]).stdout.contains("Loaded image: busybox:latest"))
            let images = try daemon.mustDocker(["images", "--format", "{{.Repository}}:{{.Tag}}"]).stdout
            #expect(images.split(separator: "\n").contains("busybox:latest"))

            #expect(try daemon.mustDocker(["run", "--rm", "busybox", "echo", "hi"]).stdout == "hi\n")
            let failed = try daemon.docker(["run", "--rm", "busybox", "sh", "-c", "exit 3"])
            #expect(failed.status == 3)

            let name = "web-\(UUID().uuidString.prefix(8).lowercased())"
            let id = try daemon.mustDocker(["run", "-d", "--name", name, "busybox", "sh", "-c", "echo started; echo oops >&2; exec sleep 600"])
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(id.count == 64)
            let running = try daemon.mustDocker(["ps", "--format", "{{.Names}} {{.Status}}"]).stdout
            #expect(running.contains("\(name) Up"))
            try daemon.mustDocker(["stop", "-t", "1", name])
            let logs = try daemon.mustDocker(["logs", name])
            #expect(logs.stdout == "started\n")
            #expect(logs.stderr == "oops\n")
            #expect(try daemon.mustDocker(["ps", "--format", "{{.Names}}"]).stdout.contains(name) == false)
            #expect(try daemon.mustDocker(["ps", "-a", "--format", "{{.Names}} {{.Status}}"]).stdout.contains("\(name) Exited (137)"))
            #expect(try daemon.mustDocker(["rm", name]).stdout == "\(name)\n")

            let missing = try daemon.docker(["rm", name])
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("Error response from daemon: No such container: \(name)"))
            let links = try daemon.docker(["run", "--rm", "--link", "other:db", "busybox", "true"])
            #expect(links.status == 125)
            #expect(links.stderr.contains("HostConfig.Links is not supported"))

            // docker build with the legacy builder.
            let context = "\(scratch)/context"
            try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
            try "FROM busybox\nARG WHO=nobody\nRUN echo \"built by $WHO\" > /built\nCOPY note.txt /note.txt\nCMD [\"cat\", \"/built\", \"/note.txt\"]\n"
                .write(toFile: "\(context)/Dockerfile", atomically: false, encoding: .utf8)
            try "a note\n".write(toFile: "\(context)/note.txt", atomically: false, encoding: .utf8)
            let tag = "built-\(UUID().uuidString.prefix(8).lowercased()):1"
            let build = try daemon.mustDocker(["build", "--build-arg", "WHO=kujirad", "-t", tag, context])
            #expect(build.stdout.contains("Step 3/5 : RUN echo \"built by $WHO\" > /built"))
            #expect(build.stdout.contains("Successfully tagged \(tag)"))
            #expect(try daemon.mustDocker(["run", "--rm", tag]).stdout == "built by kujirad\na note\n")
            let quiet = try daemon.mustDocker(["build", "-q", context]).stdout
            #expect(quiet.hasPrefix("sha256:"))

            let df = try daemon.mustDocker(["system", "df"]).stdout
            #expect(df.contains("Images          3"))

            // Volumes: create, ls, inspect, data kept across containers, rm (refused while used).
            let volume = "vol-\(UUID().uuidString.prefix(8).lowercased())"
            #expect(try daemon.mustDocker(["volume", "create", volume]).stdout == "\(volume)\n")
            #expect(try daemon.mustDocker(["volume", "ls", "--format", "{{.Driver}} {{.Name}}"]).stdout.contains("local \(volume)"))
            #expect(try daemon.mustDocker(["volume", "inspect", "-f", "{{.Name}} {{.Driver}}", volume]).stdout == "\(volume) local\n")
            try daemon.mustDocker(["run", "--rm", "-v", "\(volume):/data", "busybox", "sh", "-c", "echo kept > /data/file"])
            #expect(try daemon.mustDocker(["run", "--rm", "--mount", "type=volume,src=\(volume),dst=/v,readonly", "busybox", "cat", "/v/file"]).stdout == "kept\n")
            let user = try daemon.mustDocker(["create", "-v", "\(volume):/data", "busybox", "true"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let inUse = try daemon.docker(["volume", "rm", volume])
            #expect(inUse.status == 1)
            #expect(inUse.stderr.contains("in use"))
            try daemon.mustDocker(["rm", user])
            #expect(try daemon.mustDocker(["volume", "rm", volume]).stdout == "\(volume)\n")
            let noVolume = try daemon.docker(["volume", "inspect", volume])
            #expect(noVolume.status == 1)
            #expect(noVolume.stderr.contains("no such volume"))

            // docker cp both ways, diff, top, rename, commit, export, events.
            let worker = "cp-\(UUID().uuidString.prefix(8).lowercased())"
            let since = String(Int(Date().timeIntervalSince1970) - 1)
            let workerID = try daemon.mustDocker(["run", "-d", "--name", worker, "busybox", "sh", "-c", "echo made > /tmp/made; exec sleep 600"])
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try "into the container\n".write(toFile: "\(scratch)/in.txt", atomically: false, encoding: .utf8)
            try daemon.mustDocker(["cp", "\(scratch)/in.txt", "\(worker):/root/in.txt"])
            try daemon.mustDocker(["cp", "\(worker):/root/in.txt", "\(scratch)/back.txt"])
            #expect(try String(contentsOfFile: "\(scratch)/back.txt", encoding: .utf8) == "into the container\n")
            #expect(try daemon.mustDocker(["diff", worker]).stdout.contains("A /root/in.txt"))
            #expect(try daemon.mustDocker(["top", worker]).stdout.contains("sleep 600"))
            // docker exec -it under a pty (script(1) gives the CLI its terminal).
            let execIt = try run("script", ["-qec", "docker exec -it \(worker) sh -c 'cat /root/in.txt; exit 4'", "/dev/null"], environment: [
                "DOCKER_HOST": "unix://\(daemon.socket)", "DOCKER_CONFIG": "\(daemon.root)-docker-config",
            ])
            #expect(execIt.status == 4, "\(execIt.stdout)\(execIt.stderr)")
            #expect(execIt.stdout.contains("into the container"))
            // docker exec without a TTY: multiplexed stdout and stderr, the exit code, stdin with -i.
            let execPlain = try daemon.docker(["exec", worker, "sh", "-c", "cat /root/in.txt; echo to-stderr >&2; exit 6"])
            #expect(execPlain.status == 6)
            #expect(execPlain.stdout == "into the container\n")
            #expect(execPlain.stderr == "to-stderr\n")
            let execInput = try run("sh", ["-c", "printf 'one\\ntwo\\n' | docker exec -i \(worker) busybox wc -l"], environment: [
                "DOCKER_HOST": "unix://\(daemon.socket)", "DOCKER_CONFIG": "\(daemon.root)-docker-config",
            ])
            #expect(execInput.status == 0 && execInput.stdout.trimmingCharacters(in: .whitespaces) == "2\n", "\(execInput.stdout)\(execInput.stderr)")
            #expect(try daemon.docker(["exec", worker, "no-such-command"]).status == 127)
            try daemon.mustDocker(["rename", worker, "\(worker)-renamed"])
            let committed = "committed-\(UUID().uuidString.prefix(8).lowercased()):1"
            try daemon.mustDocker(["commit", "\(worker)-renamed", committed])
            #expect(try daemon.mustDocker(["run", "--rm", committed, "cat", "/root/in.txt"]).stdout == "into the container\n")
            try daemon.mustDocker(["rm", "-f", "\(worker)-renamed"])
            let until = String(Int(Date().timeIntervalSince1970) + 1)
            let events = try daemon.mustDocker(["events", "--since", since, "--until", until, "--filter", "container=\(workerID)",
                                                "--format", "{{.Action}}"]).stdout.split(separator: "\n")
            #expect(events.contains("create") && events.contains("start") && events.contains("rename") && events.contains("destroy"), "\(events)")

            // A daemon stopped with SIGTERM leaves containers running; the next one finds them.
            let keeper = "keep-\(UUID().uuidString.prefix(8).lowercased())"
            try daemon.mustDocker(["run", "-d", "--name", keeper, "busybox", "sleep", "600"])
            #expect(daemon.stop() == 0)
            try daemon.start()
            #expect(try daemon.mustDocker(["ps", "--format", "{{.Names}} {{.State}}"]).stdout.contains("\(keeper) running"))
            try daemon.mustDocker(["rm", "-f", keeper])
        }
    }

    @Test("networks: run -p answered from the host, network create/ls/inspect/connect/disconnect/rm, names resolved on a user network",
          .enabled(if: Host.has(["docker", "curl"], root: true)))
    func dockerNetworks() throws {
        try withBusyboxDaemon { daemon, _ in
            let listed = try daemon.mustDocker(["network", "ls", "--format", "{{.Name}} {{.Driver}}"]).stdout
            #expect(listed.contains("bridge bridge") && listed.contains("host host") && listed.contains("none null"), "\(listed)")

            // -p: busybox httpd behind 127.0.0.1:PORT, answered by curl from the host.
            let port = try RegistryCLITests.Registry.freePort()
            let web = "web-\(UUID().uuidString.prefix(8).lowercased())"
            try daemon.mustDocker(["run", "-d", "--name", web, "-p", "127.0.0.1:\(port):80", "busybox",
                                   "sh", "-c", "mkdir -p /www && echo served > /www/index.html && exec busybox httpd -f -p 80 -h /www"])
            #expect(try daemon.mustDocker(["port", web]).stdout == "80/tcp -> 127.0.0.1:\(port)\n")
            #expect(try daemon.mustDocker(["ps", "--format", "{{.Names}} {{.Ports}}"]).stdout.contains("\(web) 127.0.0.1:\(port)->80/tcp"))
            // The server starts asynchronously: retry until it accepts (bounded), then compare.
            var body = ""
            for _ in 0..<200 {
                let fetched = try run("curl", ["-fsS", "--max-time", "5", "http://127.0.0.1:\(port)/"])
                if fetched.succeeded { body = fetched.stdout; break }
                usleep(50_000)
            }
            #expect(body == "served\n")
            let address = try daemon.mustDocker(["inspect", "-f", "{{.NetworkSettings.Networks.bridge.IPAddress}}", web]).stdout
            #expect(address.hasPrefix("172.") || address.hasPrefix("10."), "\(address)")

            // A user network: names and aliases resolve through the embedded DNS server.
            let network = "net-\(UUID().uuidString.prefix(8).lowercased())"
            let networkID = try daemon.mustDocker(["network", "create", "--label", "k=v", network]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(networkID.count == 64)
            #expect(try daemon.mustDocker(["network", "ls", "--filter", "label=k=v", "--format", "{{.Name}}"]).stdout == "\(network)\n")
            let server = "srv-\(UUID().uuidString.prefix(8).lowercased())"
            try daemon.mustDocker(["run", "-d", "--name", server, "--network", network, "--network-alias", "db", "busybox", "sleep", "600"])
            let serverIP = try daemon.mustDocker(["inspect", "-f", "{{(index .NetworkSettings.Networks \"\(network)\").IPAddress}}", server])
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!serverIP.isEmpty)
            for name in [server, "db"] {
                let lookup = try daemon.mustDocker(["run", "--rm", "--network", network, "busybox", "busybox", "nslookup", name]).stdout
                #expect(lookup.contains("Address: \(serverIP)"), "\(lookup)")
            }
            #expect(try daemon.mustDocker(["ps", "--filter", "network=\(network)", "--format", "{{.Names}}"]).stdout == "\(server)\n")
            let members = try daemon.mustDocker(["network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{end}}", network]).stdout
            #expect(members.contains(server))
            // connect and disconnect a running container.
            try daemon.mustDocker(["network", "connect", network, web])
            let joined = try daemon.mustDocker(["inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", web]).stdout
            #expect(joined.contains(network) && joined.contains("bridge"), "\(joined)")
            try daemon.mustDocker(["network", "disconnect", network, web])
            let inUse = try daemon.docker(["network", "rm", network])
            #expect(inUse.status != 0 && inUse.stderr.contains("used by"), "\(inUse.stderr)")
            try daemon.mustDocker(["rm", "-f", server])
            #expect(try daemon.mustDocker(["network", "rm", network]).stdout == "\(network)\n")
            let gone = try daemon.docker(["network", "inspect", network])
            #expect(gone.status != 0 && gone.stderr.contains("not found"))
            let predefined = try daemon.docker(["network", "rm", "host"])
            #expect(predefined.status != 0 && predefined.stderr.contains("pre-defined"))
        }
    }

    @Test("ps --filter health/label/status/volume and --format; cp into and out of a volume, a bind and a read-only mount",
          .enabled(if: Host.has(["docker"], root: true)))
    func dockerPsFiltersAndCopyThroughMounts() throws {
        try withBusyboxDaemon { daemon, scratch in
            let suffix = UUID().uuidString.prefix(8).lowercased()
            let fine = "fine-\(suffix)", sick = "sick-\(suffix)", volume = "vol-\(suffix)"
            try FileManager.default.createDirectory(atPath: "\(scratch)/bind", withIntermediateDirectories: true)
            try daemon.mustDocker(["run", "-d", "--name", fine, "--label", "tier=web", "-v", "\(volume):/data", "--health-cmd", "true",
                                   "--health-interval", "100ms", "busybox", "sleep", "600"])
            try daemon.mustDocker(["run", "-d", "--name", sick, "-v", "\(scratch)/bind:/srv/ro:ro", "--health-cmd", "exit 1",
                                   "--health-interval", "100ms", "--health-retries", "1", "busybox", "sleep", "600"])
            func names(_ filters: [String]) throws -> [String] {
                try daemon.mustDocker(["ps", "-a", "--format", "{{.Names}}"] + filters.flatMap { ["--filter", $0] }).stdout
                    .split(separator: "\n").map(String.init).sorted()
            }
            // Waits (without a time limit on the result) for the checks to settle.
            var polls = 0
            while try names(["health=healthy"]) != [fine] || names(["health=unhealthy"]) != [sick], polls < 1200 {
                polls += 1
                usleep(50_000)
            }
            #expect(try names(["health=healthy"]) == [fine])
            #expect(try names(["health=unhealthy"]) == [sick])
            #expect(try names(["health=healthy", "health=unhealthy"]) == [fine, sick].sorted())
            #expect(try names(["health=none"]) == [])
            #expect(try names(["label=tier=web", "status=running"]) == [fine])
            #expect(try names(["volume=\(volume)"]) == [fine])
            #expect(try daemon.mustDocker(["ps", "--filter", "name=\(fine)", "--format", "{{.Status}}"]).stdout.contains("(healthy)"))
            let badHealth = try daemon.docker(["ps", "--filter", "health=sickly"])
            #expect(badHealth.status != 0 && badHealth.stderr.contains("health=sickly"), "\(badHealth.stderr)")

            // docker cp into the volume of a running container, then out of it once stopped.
            try "into the volume\n".write(toFile: "\(scratch)/in.txt", atomically: false, encoding: .utf8)
            try daemon.mustDocker(["cp", "\(scratch)/in.txt", "\(fine):/data/in.txt"])
            #expect(try daemon.mustDocker(["exec", fine, "cat", "/data/in.txt"]).stdout == "into the volume\n")
            try daemon.mustDocker(["stop", "-t", "0", fine])
            try daemon.mustDocker(["cp", "\(fine):/data/in.txt", "\(scratch)/back.txt"])
            #expect(try String(contentsOfFile: "\(scratch)/back.txt", encoding: .utf8) == "into the volume\n")
            #expect(try daemon.mustDocker(["run", "--rm", "-v", "\(volume):/v", "busybox", "cat", "/v/in.txt"]).stdout == "into the volume\n")
            // A read-only bind refuses, with Docker's message.
            let refused = try daemon.docker(["cp", "\(scratch)/in.txt", "\(sick):/srv/ro/in.txt"])
            #expect(refused.status != 0 && refused.stderr.contains("mounted volume is marked read-only"), "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: "\(scratch)/bind/in.txt"))
        }
    }

    @Test("run -i, run -it, start -ai and attach carry stdin; stop -s sends the signal",
          .enabled(if: Host.has(["docker", "script"], root: true)))
    func dockerInteractive() throws {
        try withBusyboxDaemon { daemon, _ in
            let environment = ["DOCKER_HOST": "unix://\(daemon.socket)", "DOCKER_CONFIG": "\(daemon.root)-docker-config"]
            let piped = try run("sh", ["-c", "echo data | docker run -i --rm busybox cat"], environment: environment)
            #expect(piped.status == 0 && piped.stdout == "data\n", "\(piped.stdout)\(piped.stderr)")
            let counted = try run("sh", ["-c", "printf 'a\\nb\\nc\\n' | docker run -i --rm busybox sh -c 'wc -l; exit 5'"], environment: environment)
            #expect(counted.status == 5 && counted.stdout.trimmingCharacters(in: .whitespaces) == "3\n", "\(counted.stdout)\(counted.stderr)")
            // -it under script(1)'s pty: a terminal inside, its exit code outside.
            let terminal = try run("script", ["-qec", "docker run -it --rm busybox sh -c 'tty; exit 3'", "/dev/null"], environment: environment)
            #expect(terminal.status == 3, "\(terminal.stdout)\(terminal.stderr)")
            #expect(terminal.stdout.contains("/dev/pts/"))
            // start -ai of a created container, and attach to a running one.
            let created = "c-\(UUID().uuidString.prefix(8).lowercased())"
            try daemon.mustDocker(["create", "-i", "--name", created, "busybox", "cat"])
            let started = try run("sh", ["-c", "echo through-start | docker start -ai \(created)"], environment: environment)
            #expect(started.status == 0 && started.stdout == "through-start\n", "\(started.stdout)\(started.stderr)")
            #expect(try daemon.mustDocker(["inspect", "-f", "{{.Config.OpenStdin}} {{.State.Status}}", created]).stdout == "true exited\n")
            let reader = "r-\(UUID().uuidString.prefix(8).lowercased())"
            try daemon.mustDocker(["run", "-d", "-i", "--name", reader, "busybox", "sh", "-c", "read line; echo got $line"])
            let attached = try run("sh", ["-c", "echo via-attach | docker attach \(reader)"], environment: environment)
            #expect(attached.status == 0 && attached.stdout == "got via-attach\n", "\(attached.stdout)\(attached.stderr)")
            // docker stop -s: the signal instead of the stop signal.
            let trapper = "t-\(UUID().uuidString.prefix(8).lowercased())"
            try daemon.mustDocker(["run", "-d", "--name", trapper, "busybox", "sh", "-c",
                                   "trap 'echo got-usr1; exit 0' USR1; echo ready; while true; do sleep 1; done"])
            // Wait until the trap is installed (it prints ready after), bounded.
            for _ in 0..<200 {
                if try daemon.mustDocker(["logs", trapper]).stdout.contains("ready") { break }
                usleep(50_000)
            }
            try daemon.mustDocker(["stop", "-s", "USR1", "-t", "60", trapper])
            #expect(try daemon.mustDocker(["logs", trapper]).stdout == "ready\ngot-usr1\n")
            #expect(try daemon.mustDocker(["inspect", "-f", "{{.State.ExitCode}}", trapper]).stdout == "0\n")
        }
    }

    @Test("run flags: --shm-size, --sysctl, --pid host, --health-cmd, --init, --log-opt and inspect of the kernel settings",
          .enabled(if: Host.has(["docker"], root: true)))
    func dockerRunFlags() throws {
        try withBusyboxDaemon { daemon, _ in
            let shm = try daemon.mustDocker(["run", "--rm", "--shm-size", "32m", "busybox", "sh", "-c", "busybox df -k /dev/shm | busybox tail -n 1"]).stdout
            #expect(shm.split(separator: " ").dropFirst().first == "32768", "df: \(shm)")
            let sysctl = try daemon.mustDocker(["run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "cat", "/proc/sys/net/ipv4/ip_forward"])
            #expect(sysctl.stdout == "1\n")
            let refused = try daemon.docker(["run", "--rm", "--sysctl", "kernel.pid_max=100", "busybox", "true"])
            #expect(refused.status != 0 && refused.stderr.contains("kernel.pid_max"), "\(refused.stderr)")
            let hostPid = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")
            #expect(try daemon.mustDocker(["run", "--rm", "--pid", "host", "busybox", "busybox", "readlink", "/proc/self/ns/pid"]).stdout == hostPid + "\n")
            let initArgs = try daemon.mustDocker(["run", "--rm", "--init", "busybox", "sh", "-c", "busybox tr '\\0' ' ' < /proc/1/cmdline"]).stdout
            #expect(initArgs.hasPrefix("/dev/init -- "), "\(initArgs)")

            // --health-cmd: the monitor runs the check; docker inspect shows State.Health.
            let checked = "h-\(UUID().uuidString.prefix(8).lowercased())"
            try daemon.mustDocker(["run", "-d", "--name", checked, "--health-cmd", "true", "--health-interval", "1s", "--health-retries", "2",
                                   "busybox", "sleep", "600"])
            var status = ""
            for _ in 0..<600 {
                status = try daemon.mustDocker(["inspect", "-f", "{{.State.Health.Status}}", checked]).stdout
                if status == "healthy\n" { break }
                usleep(100_000)
            }
            #expect(status == "healthy\n")
            let check = try daemon.mustDocker(["inspect", "-f", "{{json .Config.Healthcheck}}", checked]).stdout
            #expect(check.contains("\"Test\":[\"CMD-SHELL\",\"true\"]") && check.contains("\"Interval\":1000000000") && check.contains("\"Retries\":2"), "\(check)")
            // --pid container:NAME joins the running container's pid namespace.
            let targetPid = try daemon.mustDocker(["inspect", "-f", "{{.State.Pid}}", checked]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let targetNamespace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(targetPid)/ns/pid")
            let joined = try daemon.mustDocker(["run", "--rm", "--pid", "container:\(checked)", "busybox", "busybox", "readlink", "/proc/self/ns/pid"])
            #expect(joined.stdout == targetNamespace + "\n")

            // The rest reach inspect as Docker shows them.
            let created = "k-\(UUID().uuidString.prefix(8).lowercased())"
            try daemon.mustDocker(["create", "--name", created, "--log-opt", "max-size=1m", "--log-opt", "max-file=2", "--cpuset-cpus", "0",
                                   "--memory-reservation", "16m", "--cgroupns", "private", "--ipc", "shareable", "--uts", "host",
                                   "--oom-score-adj", "200", "--group-add", "1234", "busybox", "true"])
            let shown = try daemon.mustDocker(["inspect", "-f", "{{json .HostConfig.LogConfig}} {{.HostConfig.CpusetCpus}} {{.HostConfig.MemoryReservation}} {{.HostConfig.CgroupnsMode}} {{.HostConfig.IpcMode}} {{.HostConfig.UTSMode}} {{.HostConfig.OomScoreAdj}} {{.HostConfig.GroupAdd}} {{.HostConfig.ShmSize}}", created]).stdout
            #expect(shown == "{\"Type\":\"json-file\",\"Config\":{\"max-file\":\"2\",\"max-size\":\"1m\"}} 0 16777216 private shareable host 200 [1234] 67108864\n", "\(shown)")
        }
    }

    @Test("docker attach and exec -it detach with ctrl-p ctrl-q and --detach-keys; the container and the exec'd process run on",
          .enabled(if: Host.has(["docker"], root: true)))
    func dockerDetachKeys() throws {
        try withBusyboxDaemon { daemon, _ in
            let environment = ["DOCKER_HOST": "unix://\(daemon.socket)", "DOCKER_CONFIG": "\(daemon.root)-docker-config"]
            let name = "d-\(UUID().uuidString.prefix(8).lowercased())"
            try daemon.mustDocker(["run", "-dit", "--name", name, "busybox", "sh"])
            func running() throws -> Bool {
                try daemon.mustDocker(["inspect", "-f", "{{.State.Running}}", name]).stdout == "true\n"
            }
            /// Waits (bounded) until `ps` in the container lists `command`.
            func psShows(_ command: String) throws -> Bool {
                for _ in 0..<400 {
                    // The test image has no ps: the command lines from /proc.
                    let lines = try daemon.mustDocker(["exec", name, "sh", "-c", "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done"])
                    if lines.stdout.contains(command) { return true }
                    usleep(25_000)
                }
                return false
            }
            // docker attach: a computed marker shows the relay is up (and the terminal raw),
            // then the default keys. The CLI prints "read escape sequence" and exits 1.
            let attach = try PseudoTerminal("docker", ["attach", name], environment: environment)
            attach.type("echo $((6*7))Z\r")
            #expect(attach.waitFor("42Z"))
            attach.type("\u{10}\u{11}")
            #expect(attach.finish() == 1)
            #expect(attach.text.contains("read escape sequence"), "\(attach.text)")
            #expect(try running())
            // --detach-keys reaches kujirad as the detachKeys query parameter.
            let custom = try PseudoTerminal("docker", ["attach", "--detach-keys", "ctrl-a,q", name], environment: environment)
            custom.type("echo $((5*5))Y\r")
            #expect(custom.waitFor("25Y"))
            custom.type("\u{01}q")
            #expect(custom.finish() == 1)
            #expect(try running())
            // docker exec -it: the shell becomes a loop that counts in /tmp/ticks and writes to
            // the terminal the client leaves; kujirad keeps the terminal open (reading and
            // dropping the output), so the loop is not hung up and counts on after the client
            // has gone.
            func ticks() throws -> Int {
                Int(try daemon.mustDocker(["exec", name, "sh", "-c", "cat /tmp/ticks 2>/dev/null || echo 0"]).stdout
                    .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            }
            let exec = try PseudoTerminal("docker", ["exec", "-it", name, "sh"], environment: environment)
            exec.type("echo $((7*7))X; exec sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/ticks; echo tick; sleep 1; done'\r")
            #expect(exec.waitFor("49X"))
            exec.type("\u{10}\u{11}")
            #expect(exec.finish() == 1)
            #expect(exec.text.contains("read escape sequence"), "\(exec.text)")
            let left = try ticks()
            var counted = false
            for _ in 0..<600 where !counted {
                counted = try ticks() >= left + 2
                if !counted { usleep(50_000) }
            }
            #expect(counted, "the exec'd loop stopped counting after the client left")
            // --detach-keys reaches kujirad as the exec's DetachKeys.
            let execCustom = try PseudoTerminal("docker", ["exec", "-it", "--detach-keys", "ctrl-a,q", name, "sh"], environment: environment)
            execCustom.type("echo $((8*8))W; exec sleep 555\r")
            #expect(execCustom.waitFor("64W"))
            execCustom.type("\u{01}q")
            #expect(execCustom.finish() == 1)
            #expect(try psShows("sleep 555"))
            #expect(try running())
            let bad = try daemon.docker(["attach", "--no-stdin", "--detach-keys", "ctrl-1", name])
            // A 400 (the CLI shows no body for a refused upgrade; docker-py checks the message).
            #expect(bad.status != 0 && bad.stderr.contains("received 400"), "\(bad.stderr)")
        }
    }

    @Test("docker push to and pull from a loopback registry through kujirad",
          .enabled(if: Host.has(["docker", "docker-registry", "skopeo"], root: true)))
    func pushAndPull() throws {
        try withTemporaryDirectory { scratch in
            let archive = try busyboxArchive(scratch: scratch)
            let registry = try RegistryCLITests.Registry(directory: scratch)
            defer { registry.stop() }
            let daemon = try KujiradProcess(scratch: scratch)
            defer {
                removeContainers(daemon)
                daemon.stop()
            }
            try daemon.mustDocker(["load", "-i", archive])
            let remote = "\(registry.host)/kujirad/busybox:1"
            try daemon.mustDocker(["tag", "busybox", remote])
            let push = try daemon.mustDocker(["push", remote]).stdout
            #expect(push.contains("1: digest: sha256:"))
            try daemon.mustDocker(["rmi", remote])
            let pull = try daemon.mustDocker(["pull", remote]).stdout
            #expect(pull.contains("Status: Downloaded newer image for \(remote)"))
            #expect(try daemon.mustDocker(["run", "--rm", remote, "echo", "pulled"]).stdout == "pulled\n")
        }
    }

    @Test("docker-py: containers run, logs, exec_run, images list, tag and remove, volumes, networks",
          .enabled(if: Host.has(["python3"], root: true)))
    func dockerPy() throws {
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let venv = "\(package)/.build/kujirad-venv"
        if !FileManager.default.isExecutableFile(atPath: "\(venv)/bin/python") || (try? run("\(venv)/bin/python", ["-c", "import docker"]))?.succeeded != true {
            try mustRun("python3", ["-m", "venv", venv])
            try mustRun("\(venv)/bin/pip", ["install", "--quiet", "docker"])
        }
        try withBusyboxDaemon { daemon, _ in
            let result = try run("\(venv)/bin/python", ["\(package)/Tests/kujirad/docker_py_test.py"],
                                 environment: ["DOCKER_HOST": "unix://\(daemon.socket)"])
            #expect(result.succeeded, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("docker-py: all checks passed"))
        }
    }
}
