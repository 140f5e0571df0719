// kujirad: the Docker Engine API daemon over the Kujira engine (Docs/kujirad.md).
//
//     kujirad                                  # unix:///run/kujira/kujirad.sock
//     kujirad -H unix:///tmp/k.sock -H tcp://127.0.0.1:2375 --root /var/lib/kujira
//     DOCKER_HOST=unix:///run/kujira/kujirad.sock docker run --rm busybox echo hi
//
// The same executable is each container's monitor (`kujirad __monitor --root R --state S
// ID`, started by the engine), so containers outlive the daemon.

import ArgumentParser
import Foundation
import Kujira
import KujiraDaemon
import KujiraGPU
import KujiraRegistry
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's command line.
struct KujiradCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kujirad",
        abstract: "Serve the Docker Engine API over the Kujira container engine.")

    @Option(name: [.customShort("H"), .customLong("host")], help: ArgumentHelp(
        "Where to listen: unix:///PATH or tcp://127.0.0.1:PORT (repeatable).", valueName: "address"))
    var hosts: [String] = []

    @Option(help: "Root directory of Kujira's persistent state.")
    var root: String = "/var/lib/kujira"

    @Option(help: "Root directory of the runtime state of live containers (a tmpfs).")
    var state: String = "/run/kujira"

    @Option(name: .customLong("insecure-registry"), help: ArgumentHelp(
        "A registry (HOST[:PORT]) to reach over plain HTTP or unverified TLS; repeatable.", valueName: "host"))
    var insecureRegistries: [String] = []

    @Option(name: .customLong("cdi-spec-dir"), help: ArgumentHelp(
        "A CDI spec directory (repeatable). Default: /etc/cdi, /var/run/cdi.", valueName: "dir"))
    var cdiSpecDirs: [String] = []

    @Option(name: .customLong("nvidia-driver-root"), help: ArgumentHelp(
        "The root the NVIDIA driver is found under for --gpus.", valueName: "dir"))
    var nvidiaDriverRoot: String = "/"

    func run() throws {
        let addresses = try (hosts.isEmpty ? ["unix:///run/kujira/kujirad.sock"] : hosts).map { text in
            do {
                return try ListenAddress(parsing: text)
            } catch let error as HTTPError {
                throw ValidationError(error.message)
            }
        }
        let engine = try Engine(root: root, state: state,
                                cdiSpecDirectories: cdiSpecDirs.isEmpty ? CDIRegistry.defaultSpecDirectories : cdiSpecDirs,
                                nvidiaDriverRoot: nvidiaDriverRoot)
        var registry = RegistryConfiguration()
        registry.insecureHosts = Set(insecureRegistries)
        let daemon = Daemon(engine: engine, registry: registry)
        let server = HTTPServer(handler: daemon.handler)

        // SIGTERM and SIGINT end the server from a thread that waits for them; every other
        // thread has them blocked.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)

        for address in addresses {
            do {
                try server.listen(address)
            } catch let error as HTTPError {
                throw ValidationError(error.message)
            }
        }
        let blocked = signals
        let waiter = Thread {
            var set = blocked
            var received: Int32 = 0
            sigwait(&set, &received)
            FileHandle.standardError.write(Data("kujirad: signal \(received): stopping (containers keep running)\n".utf8))
            server.stop()
        }
        waiter.start()
        FileHandle.standardError.write(Data("kujirad: API listening on \(addresses.map(\.description).joined(separator: ", "))\n".utf8))
        server.serve()
        for case .unix(let path) in addresses { unlink(path) }
    }
}

/// `kujirad __monitor --root R --state S ID`: the per-container monitor (hidden).
func runMonitorIfAsked() {
    let arguments = CommandLine.arguments
    guard arguments.count >= 2, arguments[1] == "__monitor" else { return }
    var root = "/var/lib/kujira", state = "/run/kujira", id: String?
    var index = 2
    while index < arguments.count {
        switch arguments[index] {
        case "--root" where index + 1 < arguments.count: root = arguments[index + 1]; index += 2
        case "--state" where index + 1 < arguments.count: state = arguments[index + 1]; index += 2
        default: id = arguments[index]; index += 1
        }
    }
    guard let id else {
        FileHandle.standardError.write(Data("kujirad __monitor: the container id is missing\n".utf8))
        exit(2)
    }
    do {
        exit(try Engine(root: root, state: state).runMonitor(id: id, syncFD: 3))
    } catch {
        FileHandle.standardError.write(Data("kujirad __monitor: \(error)\n".utf8))
        exit(1)
    }
}

runMonitorIfAsked()
KujiradCommand.main()
