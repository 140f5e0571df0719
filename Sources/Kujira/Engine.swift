public import KujiraGPU
public import KujiraRuntime
public import KujiraImage
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The container engine: containers with names and ids made from images in an
/// ``ImageStore``, each run by its own small monitor process that outlives the caller
/// (DESIGN.md, "Process model"). Every operation lives in its own file (`Engine+Create`,
/// `Engine+Start`, `Engine+Stop`, …).
///
/// ```swift
/// let engine = try Engine(root: "/var/lib/kujira", state: "/run/kujira")
/// var options = ContainerOptions(image: "busybox")
/// options.command = ["echo", "hi"]
/// let container = try engine.create(options)
/// try engine.start(container.id)
/// let code = try engine.wait(container.id)
/// ```
///
/// State lives in files: `<root>/containers/<id>/config.v2.json` (the record, replaced
/// atomically under an `flock` on `<root>/containers.lock`), the runtime bundle
/// `config.json`, the `<id>-json.log` log and the overlay rootfs; the live runtime state is
/// under `<state>/runtime`. Any number of processes may use one root at once, and a
/// `kill -9` of any of them leaves it consistent: the next reader reconciles a container
/// whose monitor died.
///
/// The monitor is the `kujira` executable re-run as `kujira __monitor ID` (see
/// ``monitorExecutable``): a program that embeds the library and is not `kujira` must set
/// it, or call ``runMonitor(id:syncFD:)`` from its own hidden subcommand.
///
/// The operations block (waiting for processes and files); call them from a thread that may
/// block, as a command-line tool does.
public struct Engine: Sendable {
    /// The persistent root (`--root`).
    public let root: String
    /// The runtime state root (`--state`, a tmpfs).
    public let state: String
    /// The executable started as the monitor with arguments
    /// `__monitor --root ROOT --state STATE ID`.
    public var monitorExecutable: String
    /// The image store under ``root``.
    public let images: ImageStore
    /// The CDI spec directories `--device vendor/class=name` resolves against (lowest
    /// priority first).
    public var cdiSpecDirectories: [String]
    /// The root the NVIDIA driver is found under for `--gpus` (`/proc/driver/nvidia`, its
    /// libraries and `/dev/nvidia*`): `/` on a plain host, a driver container's root otherwise
    /// (nvidia-container-toolkit's `driver-root`).
    public var nvidiaDriverRoot: String

    /// Opens the engine over `root` and `state`, creating them if needed. `cdiSpecDirectories`
    /// and `nvidiaDriverRoot` say where `--device` and `--gpus` find devices.
    public init(root: String = "/var/lib/kujira", state: String = ContainerRuntime.defaultRoot,
                monitorExecutable: String? = nil, cdiSpecDirectories: [String] = CDIRegistry.defaultSpecDirectories,
                nvidiaDriverRoot: String = "/") throws {
        self.root = root
        self.state = state
        self.cdiSpecDirectories = cdiSpecDirectories
        self.nvidiaDriverRoot = nvidiaDriverRoot
        self.images = try ImageStore(root: root)
        self.monitorExecutable = monitorExecutable ?? Engine.currentExecutable()
        try SystemSupport.makeDirectories("\(root)/containers", mode: 0o711)
        try SystemSupport.makeDirectories(state, mode: 0o711)
    }

    /// The running executable's path (`/proc/self/exe`).
    static func currentExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// The injector of `--gpus` and `--device`, over ``cdiSpecDirectories`` and
    /// ``nvidiaDriverRoot``.
    public var deviceInjector: DeviceInjector {
        DeviceInjector(specDirectories: cdiSpecDirectories, nvidia: NVIDIADiscovery(driverRoot: HostRoot(nvidiaDriverRoot)))
    }

    /// The OCI runtime over `<state>/runtime`.
    public var runtime: ContainerRuntime { ContainerRuntime(root: "\(state)/runtime") }

    // MARK: - Paths

    func directory(_ id: String) -> String { "\(root)/containers/\(id)" }
    func recordPath(_ id: String) -> String { "\(directory(id))/config.v2.json" }
    var lock: FileLock { FileLock(path: "\(root)/containers.lock") }

    // MARK: - Records

    /// Reads the record of `id`, or nil if it has none (being created or removed).
    func load(_ id: String) -> ContainerRecord? {
        guard let data = FileManager.default.contents(atPath: recordPath(id)) else { return nil }
        return try? JSONDecoder().decode(ContainerRecord.self, from: data)
    }

    /// Writes a record; the caller holds ``lock``. Always atomic (temporary file, rename): a
    /// `kill -9` of any process leaves the old or the new record. `durable: false` skips the
    /// fsync, for changes that only describe the running machine — a start under way, the
    /// monitor's pid, `running` — which a reboot makes stale anyway (`reconcile` turns a
    /// running record whose monitor is gone into an exited one), so losing them to a power
    /// failure loses nothing; the creation, the exit code and every configuration change stay
    /// durable.
    func save(_ record: ContainerRecord, durable: Bool = true) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try SystemSupport.writeAtomically(recordPath(record.id), Array(try encoder.encode(record)), durable: durable)
    }

    /// Reads, changes and writes the record of `id` under the lock; returns the new record.
    /// `durable`: see ``save(_:durable:)``.
    @discardableResult
    func update(_ id: String, durable: Bool = true, _ change: (inout ContainerRecord) throws -> Void) throws -> ContainerRecord {
        try lock.withLock {
            guard var record = load(id) else { throw EngineError(.notFound, "no such container: \(id)") }
            try change(&record)
            try save(record, durable: durable)
            return record
        }
    }

    /// The ids of every container with a record.
    func allIDs() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/containers")) ?? []
        return names.filter { $0.count == 64 && FileManager.default.fileExists(atPath: recordPath($0)) }
    }

    /// Finds a container by full id, name, or unique id prefix, reconciling its state first.
    /// - Throws: ``EngineError`` `.notFound`, or `.conflict` for an ambiguous prefix.
    public func container(_ nameOrID: String) throws -> ContainerRecord {
        let wanted = nameOrID.hasPrefix("/") ? String(nameOrID.dropFirst()) : nameOrID
        let ids = allIDs()
        var matches: [String] = []
        if ids.contains(wanted) {
            matches = [wanted]
        } else if let byName = ids.first(where: { load($0)?.name == wanted }) {
            matches = [byName]
        } else if !wanted.isEmpty {
            matches = ids.filter { $0.hasPrefix(wanted) }
        }
        guard let id = matches.first, let record = load(id) else {
            throw EngineError(.notFound, "no such container: \(nameOrID)")
        }
        guard matches.count == 1 else {
            throw EngineError(.conflict, "multiple containers match \(nameOrID): give more of the id")
        }
        return try reconcile(record)
    }

    /// Every container, newest first, each reconciled.
    public func list() throws -> [ContainerRecord] {
        recoverInterruptedCreates()
        return try allIDs().compactMap { load($0) }.map { try reconcile($0) }.sorted { $0.created > $1.created }
    }

    /// Marks a container whose monitor died as exited and cleans up its runtime container
    /// (killing what is left and removing its cgroup); the rootfs stays until `rm`.
    func reconcile(_ record: ContainerRecord) throws -> ContainerRecord {
        recoverInterruptedCommit(record)
        guard record.state.isActive || record.state.monitorPid != 0,
              !SystemSupport.isAlive(record.state.monitorPid, startTime: record.state.monitorStartTime) else { return record }
        return try lock.withLock {
            guard var current = load(record.id) else { return record }
            guard current.state.isActive || current.state.monitorPid != 0,
                  !SystemSupport.isAlive(current.state.monitorPid, startTime: current.state.monitorStartTime) else { return current }
            if current.state.isActive {
                try? runtime.kill(id: current.id, signal: SIGKILL, all: true)
                current.state.status = .exited
                current.state.exitCode = 137
                current.state.error = "the container's monitor (pid \(current.state.monitorPid)) died; the container was killed"
                current.state.finishedAt = SystemSupport.timestamp()
            }
            try? runtime.delete(id: current.id, force: true)
            deactivateVolumes(current)
            releaseNetworking(current.id)
            unmountShareableShm(current.id)
            current.state.pid = 0
            current.state.monitorPid = 0
            current.state.monitorStartTime = 0
            try save(current)
            return current
        }
    }
}
