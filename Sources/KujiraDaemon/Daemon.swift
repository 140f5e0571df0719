// The daemon: the engine, the registry configuration and what kujirad keeps in memory
// between requests (exit codes of `--rm` containers it removed), and its route table.

import Foundation
public import Kujira
import KujiraImage
public import KujiraRegistry
import Synchronization

/// kujirad: the Docker Engine API over a Kujira ``Engine``.
///
///     let daemon = try Daemon(engine: Engine(root: "/var/lib/kujira", state: "/run/kujira",
///                                            monitorExecutable: "/usr/local/bin/kujirad"))
///     let server = HTTPServer(handler: daemon.handler)
///     try server.listen(.unix("/run/kujira/kujirad.sock"))
///     server.serve()
///
/// The handlers block (the engine's API blocks); the server gives each connection its own
/// thread. Nothing of a container lives only here: a restarted daemon finds every container
/// on disk, and its monitors never depended on the daemon.
public final class Daemon: Sendable {
    /// kujirad's version, as `/version` reports it.
    public static let version = "0.1.0"

    /// The engine.
    public let engine: Engine
    /// How pulls and pushes reach registries (insecure hosts, mirrors, …).
    public let registry: RegistryConfiguration
    /// The builder's runtime state root.
    public let buildRoot: String
    /// When the daemon started.
    let started = Date()

    struct Memory {
        /// Exit codes of `--rm` containers this daemon removed, by id (for `wait?condition=removed`).
        var removedExitCodes: [String: Int32] = [:]
        /// Attach streams open per container id: an `--rm` container is removed only once its
        /// attached streams have read all of its output.
        var attachments: [String: Int] = [:]
        /// Whether each exec instance created here attaches stdin (`docker exec -i`).
        var execStdin: [String: Bool] = [:]
        /// The `DetachKeys` each exec instance created here was given (absent: the default).
        var execDetachKeys: [String: DetachKeys] = [:]
        /// The exit codes of exec instances that failed to start (126/127, as dockerd's).
        var execFailures: [String: Int32] = [:]
        /// `HostConfig.ConsoleSize` of TTY containers created here: set right after start,
        /// before the client's own resize arrives.
        var consoleSizes: [String: TerminalSize] = [:]
        /// The ids of `removedExitCodes` in the order they were added.
        var removedOrder: [String] = []

        /// How many entries each map keeps before ``prune(execExists:)`` trims it.
        static let limit = 1024

        /// Records the exit code of an `--rm` container the daemon removed, forgetting the
        /// oldest beyond ``limit`` (a `wait` that comes that late reads the container's last
        /// state instead).
        mutating func rememberRemoved(_ id: String, _ code: Int32) {
            if removedExitCodes.updateValue(code, forKey: id) == nil { removedOrder.append(id) }
            if removedOrder.count > Self.limit {
                for old in removedOrder.prefix(removedOrder.count - Self.limit) { removedExitCodes[old] = nil }
                removedOrder.removeFirst(removedOrder.count - Self.limit)
            }
        }

        /// The exec instances whose entries a prune looks at: every one, once the exec maps
        /// hold more than ``limit`` entries; none before.
        var execIDsToCheck: [String] {
            execStdin.count + execFailures.count > Self.limit ? Array(Set(execStdin.keys).union(execFailures.keys)) : []
        }

        /// Forgets exec instances the engine no longer has (their container was removed).
        mutating func forgetExecs(_ gone: [String]) {
            for id in gone {
                execStdin[id] = nil
                execDetachKeys[id] = nil
                execFailures[id] = nil
            }
        }
    }
    let memory = Mutex(Memory())
    let changed = NSCondition()

    /// A daemon over `engine`.
    public init(engine: Engine, registry: RegistryConfiguration = RegistryConfiguration(), buildRoot: String? = nil) {
        self.engine = engine
        self.registry = registry
        self.buildRoot = buildRoot ?? "\(engine.state)/build"
    }

    /// The request handler to give an ``HTTPServer``.
    public var handler: RequestHandler {
        let router = makeRouter()
        return { request, writer in router.handle(request, writer) }
    }

    /// Every route, specific patterns before general ones.
    func makeRouter() -> Router {
        let router = Router()
        addSystemRoutes(router)
        addImageRoutes(router)
        addContainerRoutes(router)
        addBuildRoutes(router)
        addVolumeRoutes(router)
        addContainerExtrasRoutes(router)
        addExecRoutes(router)
        addNetworkRoutes(router)
        return router
    }

    /// Changes the in-memory state and wakes the threads waiting on it.
    /// Drops what the daemon remembers about exec instances the engine has forgotten, once
    /// there are more than ``Memory/limit`` (called when an exec is created).
    func pruneExecMemory() {
        let candidates = memory.withLock { $0.execIDsToCheck }
        guard !candidates.isEmpty else { return }
        let gone = candidates.filter { (try? engine.inspectExec($0)) == nil }
        updateMemory { $0.forgetExecs(gone) }
    }

    func updateMemory(_ body: (inout Memory) -> Void) {
        changed.lock()
        memory.withLock { body(&$0) }
        changed.broadcast()
        changed.unlock()
    }

    /// Waits (without polling) until `condition` holds for the in-memory state.
    func waitForMemory(_ condition: (Memory) -> Bool) {
        changed.lock()
        while !memory.withLock({ condition($0) }) { changed.wait() }
        changed.unlock()
    }
}
