// Networking: the engine's side of KujiraNetwork (Docs/network.md, Docs/engine.md).
//
//     var options = ContainerOptions(image: "busybox")
//     options.network = "web"                       // bridge (default), NAME, none, host, container:NAME
//     options.publish = ["127.0.0.1:8080:80"]
//     let record = try engine.create(options)
//
// Every container that is not `--network host` or `container:NAME` gets a persistent network
// namespace file `<state>/netns/<id>`, named in its runtime spec. The monitor creates it and
// attaches the container's networks before the runtime creates the container (on each
// start and restart), runs the embedded DNS server at 127.0.0.11 while the container runs,
// and detaches and removes it all when the container's process has exited. `rm` and the
// reconciliation of a container whose monitor died release whatever is left.

public import KujiraNetwork
import KujiraOCI
import KujiraImage
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Configuration

extension Engine {
    /// The root `kujira` uses by default; its networks use the well-known names (`kujira0`,
    /// table `inet kujira`).
    static let defaultRoot = "/var/lib/kujira"

    /// The network settings of this engine's root. The default root uses the `kujira0`
    /// bridge and the `inet kujira` table; any other root (tests, embedders, a second
    /// engine) gets a table and a default bridge named after a hash of the root, so several
    /// roots coexist on one host without touching each other's rules. `KUJIRA_IP_FORWARD=0`
    /// in the environment keeps `net.ipv4.ip_forward` as it is (tests use it).
    public var networkConfiguration: NetworkManagerConfiguration {
        var configuration = NetworkManagerConfiguration(root: root)
        if root != Engine.defaultRoot {
            let tag = Engine.rootTag(root)
            configuration.tableName = "kujira_\(tag)"
            configuration.defaultBridge = "kj0-\(tag)"
            configuration.bridgePrefix = "kj\(tag.prefix(3))-"
            configuration.vethPrefix = "kv\(tag.prefix(3))"
        }
        if ProcessInfo.processInfo.environment["KUJIRA_IP_FORWARD"] == "0" { configuration.enableIPForwarding = false }
        return configuration
    }

    /// Eight hex digits (FNV-1a) of a root path.
    static func rootTag(_ root: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in root.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash & 0xffff_ffff, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// Opens this root's network manager.
    func networkManager() throws -> NetworkManager {
        try networkCall { try NetworkManager(configuration: networkConfiguration) }
    }

    /// The network namespace file of container `id`.
    func netnsPath(_ id: String) -> String { "\(state)/netns/\(id)" }
}

// MARK: - Blocking on the network manager (an actor) from the synchronous engine

/// Runs async work from the synchronous engine and returns its result.
///
/// The calling thread does not wait on a semaphore for a thread of Swift's cooperative pool:
/// the work runs in a task whose executor preference is the calling thread itself, which runs
/// the task's jobs (and those of the actors it calls, SE-0417) until the task ends. So an
/// embedder may call the engine from async code — every thread of the pool blocked in the
/// engine at once included — without a deadlock.
enum Blocking {
    static func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let slot = BlockingSlot<T>()
        let executor = CallerThreadExecutor()
        Task.detached(executorPreference: executor) {
            do { slot.result = .success(try await body()) } catch { slot.result = .failure(error) }
            executor.finish()
        }
        executor.drive()
        guard let result = slot.result else { throw EngineError(.io, "an asynchronous network call ended without a result") }
        return try result.get()
    }
}

/// The result of a ``Blocking`` call: written by the task before it signals, read after.
private final class BlockingSlot<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}

/// A task executor whose jobs run on the thread that calls ``drive()`` (see ``Blocking``).
/// Jobs that arrive after the thread stopped driving go to the global concurrent executor.
private final class CallerThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var finished = false
    private var driving = true

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        if driving {
            jobs.append(unowned)
            condition.signal()
            condition.unlock()
        } else {
            condition.unlock()
            globalConcurrentExecutor.enqueue(unowned)
        }
    }

    /// Called by the task as its last step.
    func finish() {
        condition.lock()
        finished = true
        condition.signal()
        condition.unlock()
    }

    /// Runs the jobs enqueued here until ``finish()`` was called and none is left.
    func drive() {
        condition.lock()
        while true {
            if jobs.isEmpty {
                if finished { break }
                condition.wait()
                continue
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
            condition.lock()
        }
        driving = false
        condition.unlock()
    }
}

/// Runs a network call, turning ``NetworkError`` into ``EngineError`` with the same message.
func networkCall<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as NetworkError {
        let code: EngineError.Code
        switch error.code {
        case .networkNotFound, .notAttached: code = .notFound
        case .networkExists, .networkInUse, .alreadyAttached, .addressUnavailable, .portInUse: code = .conflict
        case .invalidArgument: code = .invalidArgument
        case .unsupported: code = .unsupported
        default: code = .io
        }
        throw EngineError(code, error.description)
    }
}

/// Runs an async network call from synchronous code.
func networkAwait<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    try networkCall { try Blocking.run(body) }
}

// MARK: - Create

extension Engine {
    /// The network modes and settings of `options`, checked, for a new container: fills in
    /// `record.network` and normalises `record.hostConfig.networkMode` (a joined container
    /// is recorded by ID, a network given by ID by name).
    func prepareNetwork(_ record: inout ContainerRecord, options: ContainerOptions, image: ImageConfiguration) throws {
        let mode = options.network.isEmpty ? "bridge" : options.network
        var settings = ContainerNetworkSettings()
        let hasNetworkFlags = !options.publish.isEmpty || options.publishAll || options.ip != nil || options.ip6 != nil
            || !options.networkAliases.isEmpty || options.macAddress != nil
        let hasDNSFlags = !options.dns.isEmpty || options.dnsSearch != nil || !options.dnsOptions.isEmpty || !options.addHosts.isEmpty
        func refuse(_ what: String) -> EngineError {
            EngineError(.invalidArgument, "--network \(mode) cannot be combined with \(what)")
        }
        if mode == "host" || mode == "none" || mode.hasPrefix("container:") {
            if hasNetworkFlags { throw refuse("-p, -P, --ip, --ip6, --network-alias or --mac-address (they need a bridge or user network)") }
            if !options.additionalNetworks.isEmpty { throw refuse("other networks") }
        }
        if mode.hasPrefix("container:") {
            if hasDNSFlags { throw refuse("--dns, --dns-search, --dns-option or --add-host (the joined container's files are used)") }
            if options.hostname != nil { throw refuse("-h (the container shares the joined container's UTS settings)") }
            let target = try container(String(mode.dropFirst("container:".count)))
            if target.hostConfig.networkMode == "host" {
                throw EngineError(.unsupported, "container \(target.name) uses the host's network: use --network host instead of --network \(mode)")
            }
            let joined = target.network?.joinedContainer ?? target.id
            settings.joinedContainer = joined
            record.hostConfig.networkMode = "container:\(joined)"
            record.network = settings
            return
        }
        for dns in options.dns where IPAddress(dns) == nil {
            throw EngineError(.invalidArgument, "--dns \(dns) is not an IP address")
        }
        settings.dns = options.dns
        settings.dnsSearch = options.dnsSearch
        settings.dnsOptions = options.dnsOptions
        for host in options.addHosts { _ = try networkCall { try ExtraHost(parsing: host) } }
        settings.extraHosts = options.addHosts
        guard mode != "host" && mode != "none" else {
            record.network = settings
            return
        }
        if let ip = options.ip, IPAddress(ip).map(\.isV4) != true { throw EngineError(.invalidArgument, "--ip \(ip) is not an IPv4 address") }
        if let ip = options.ip6, IPAddress(ip).map(\.isV4) != false { throw EngineError(.invalidArgument, "--ip6 \(ip) is not an IPv6 address") }
        var ports: [PortMapping] = []
        for spec in options.publish { ports += try networkCall { try PortMapping.parse(spec) } }
        if options.publishAll {
            let exposed = try networkCall { try PortMapping.publishAll(exposed: image.config?.exposedPorts) }
            ports += exposed.filter { candidate in
                !ports.contains { $0.containerPort == candidate.containerPort && $0.proto == candidate.proto }
            }
        }
        settings.ports = ports
        let manager = try networkManager()
        let names = [mode] + options.additionalNetworks
        for (index, given) in names.enumerated() {
            let name: String
            if given == "bridge" {
                name = "bridge"
            } else if given == "host" || given == "none" || given.hasPrefix("container:") {
                throw EngineError(.invalidArgument, "--network \(given) cannot be combined with other networks")
            } else {
                let network = try networkAwait { try await manager.inspect(given).network }
                name = network.name
                if network.isCNI && index == 0 && (options.ip != nil || options.ip6 != nil || options.macAddress != nil) {
                    throw EngineError(.invalidArgument, "network \(name) uses the cni driver: --ip, --ip6 and --mac-address are not supported there; set addresses in the conflist's ipam")
                }
            }
            if settings.endpoints.contains(where: { $0.network == name }) {
                throw EngineError(.invalidArgument, "network \(name) is given twice")
            }
            // Docker: --ip, --ip6, --network-alias and --mac-address apply to the first network.
            let first = index == 0
            if first && name == "bridge" && !options.networkAliases.isEmpty {
                throw EngineError(.invalidArgument, "--network-alias works on user-defined networks only (create one with kujira network create)")
            }
            settings.endpoints.append(ContainerNetworkEndpoint(
                network: name, aliases: first ? options.networkAliases : [], ipv4: first ? options.ip : nil,
                ipv6: first ? options.ip6 : nil, macAddress: first ? options.macAddress : nil))
        }
        record.hostConfig.networkMode = settings.endpoints.first?.network ?? mode
        record.network = settings
    }

    /// Points the spec's network namespace at the container's namespace file (or the
    /// joined container's); `--network host` has none.
    func applyNetworkNamespace(_ record: ContainerRecord, to spec: inout Spec) {
        guard record.hostConfig.networkMode != "host", var linux = spec.linux else { return }
        let path = netnsPath(record.network?.joinedContainer ?? record.id)
        var namespaces = linux.namespaces ?? []
        namespaces.removeAll { $0.type == .network }
        namespaces.append(LinuxNamespace(type: .network, path: path))
        linux.namespaces = namespaces
        spec.linux = linux
    }
}

// MARK: - Start and stop (the monitor)

/// What the monitor holds while a container runs: its embedded DNS server.
final class NetworkSession: Sendable {
    private let dns: EmbeddedDNSServer?
    private let release: @Sendable () -> Void

    init(dns: EmbeddedDNSServer?, release: @escaping @Sendable () -> Void) {
        self.dns = dns
        self.release = release
    }

    /// Stops the DNS server, detaches the networks and removes the namespace file.
    func stop() {
        dns?.stop()
        release()
    }
}

extension Engine {
    /// Before the runtime creates the container: makes its network namespace, attaches its
    /// networks, writes /etc/hosts, /etc/resolv.conf and /etc/hostname and starts the
    /// embedded DNS server. The session's `stop` undoes it all.
    func startNetworking(_ record: ContainerRecord) throws -> NetworkSession {
        let id = record.id
        let mode = record.hostConfig.networkMode
        if mode == "host" { return NetworkSession(dns: nil) {} }
        if let joined = record.network?.joinedContainer {
            guard NetworkNamespace.exists(at: netnsPath(joined)) else {
                let name = load(joined)?.name ?? String(joined.prefix(12))
                throw EngineError(.invalidState, "cannot join the network of container \(name): it is not running; start it first")
            }
            for file in ["hosts", "resolv.conf"] {
                if let data = FileManager.default.contents(atPath: "\(directory(joined))/\(file)") {
                    try writeRuntimeFile("\(directory(id))/\(file)", String(decoding: data, as: UTF8.self))
                }
            }
            return NetworkSession(dns: nil) {}
        }
        let path = netnsPath(id)
        try SystemSupport.makeDirectories("\(state)/netns", mode: 0o711)
        // A namespace left by a crashed run is removed first (its veths went with reconcile).
        try? NetworkNamespace.remove(at: path)
        try networkCall { try NetworkNamespace.create(at: path) }
        let settings = record.network ?? ContainerNetworkSettings()
        let release: @Sendable () -> Void = { [self] in releaseNetworking(id) }
        guard !settings.endpoints.isEmpty else { return NetworkSession(dns: nil, release: release) }
        do {
            let manager = try networkManager()
            var attachments: [Attachment] = []
            for (index, endpoint) in settings.endpoints.enumerated() {
                let options = AttachOptions(
                    containerName: record.name, hostname: record.config.hostname,
                    ipv4: endpoint.ipv4.flatMap { IPAddress($0) }, ipv6: endpoint.ipv6.flatMap { IPAddress($0) },
                    aliases: endpoint.aliases, macAddress: endpoint.macAddress, ports: index == 0 ? settings.ports : [])
                let network = endpoint.network
                attachments.append(try networkAwait {
                    try await manager.attach(containerID: id, netnsPath: path, network: network, options: options)
                })
            }
            for attachment in attachments { emitNetworkEvent("connect", attachment) }
            try writeNetworkFiles(record, attachments: attachments)
            var dns: EmbeddedDNSServer?
            if attachments.contains(where: \.usesEmbeddedDNS) {
                let upstreams = ContainerFiles.upstreams(dns: settings.dns.compactMap { IPAddress($0) }, hostResolvConf: .read())
                dns = try networkCall {
                    try EmbeddedDNSServer(containerID: id, netnsPath: path, lookup: NetworkNameTable(stateDirectory: networkConfiguration.stateDirectory),
                                          upstreams: upstreams.map { DNSUpstream(address: $0) })
                }
            }
            return NetworkSession(dns: dns, release: release)
        } catch {
            release()
            throw error
        }
    }

    /// Writes the container's /etc/hosts, /etc/resolv.conf and /etc/hostname for its
    /// attachments (Docker's rules: ContainerFiles).
    func writeNetworkFiles(_ record: ContainerRecord, attachments: [Attachment]) throws {
        let files = try networkFiles(record, attachments: attachments)
        let dir = directory(record.id)
        try writeRuntimeFile("\(dir)/hosts", files.hosts)
        try writeRuntimeFile("\(dir)/resolv.conf", files.resolvConf)
        try writeRuntimeFile("\(dir)/hostname", files.hostname)
    }

    /// Edits a running container's /etc/hosts after `network connect` (`adding`) or
    /// `disconnect` (`removing`) as Docker does (``ContainerFiles/updateHosts(_:hostname:domainname:adding:removing:)``):
    /// lines the container's processes added stay. The file is bind-mounted into the
    /// container, so it is rewritten in place — the same inode — rather than replaced: under
    /// an exclusive `flock` of `hosts.lock` beside it (two engine processes editing it at once
    /// do not interleave; the lock is not the file itself, which the container's processes
    /// could hold locked forever), the new content is written over the old before the file
    /// is cut to its length, so a reader never finds it empty.
    func updateHosts(_ record: ContainerRecord, adding: [Attachment] = [], removing: [Attachment] = []) throws {
        let path = "\(directory(record.id))/hosts"
        let lock = open(path + ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw EngineError.posix("cannot open \(path).lock to update container \(record.name)'s /etc/hosts", errno: errno) }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 {
            guard errno == EINTR else { throw EngineError.posix("cannot lock \(path).lock of container \(record.name)", errno: errno) }
        }
        let fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw EngineError.posix("cannot open \(path) to update container \(record.name)'s /etc/hosts", errno: errno) }
        defer { close(fd) }
        var current: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(current.count)) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw EngineError.posix("cannot read \(path) of container \(record.name)", errno: errno) }
            if n == 0 { break }
            current += buffer[..<n]
        }
        let text = ContainerFiles.updateHosts(String(decoding: current, as: UTF8.self), hostname: record.config.hostname,
                                              adding: adding, removing: removing)
        let bytes = Array(text.utf8)
        guard bytes != current else { return }
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(written)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw EngineError.posix("cannot write \(path) of container \(record.name)", errno: errno) }
            written += n
        }
        guard ftruncate(fd, off_t(bytes.count)) == 0 else {
            throw EngineError.posix("cannot truncate \(path) of container \(record.name)", errno: errno)
        }
    }

    /// The container's /etc files for `attachments`.
    func networkFiles(_ record: ContainerRecord, attachments: [Attachment]) throws -> ContainerFiles {
        let settings = record.network ?? ContainerNetworkSettings()
        let extraHosts = try networkCall { try settings.extraHosts.map { try ExtraHost(parsing: $0) } }
        let systemd = "/run/systemd/resolve/resolv.conf"
        return ContainerFiles.generate(
            hostname: record.config.hostname, attachments: attachments, extraHosts: extraHosts,
            dns: settings.dns.compactMap { IPAddress($0) }, dnsSearch: settings.dnsSearch, dnsOptions: settings.dnsOptions,
            hostResolvConf: .read(), systemdResolved: FileManager.default.fileExists(atPath: systemd) ? .read(systemd) : nil)
    }

    /// Replaces a file that is regenerated at every start (rename, no fsync: a crash loses
    /// nothing the next start does not write again), mode 0644. (Foundation's `.atomic`
    /// write fsyncs its temporary file: three disk flushes per start.)
    func writeRuntimeFile(_ path: String, _ text: String) throws {
        try SystemSupport.writeAtomically(path, Array(text.utf8), durable: false)
        chmod(path, 0o644)
    }

    /// Detaches container `id` from every network and removes its namespace file; nothing
    /// to do is fine. Used when the container stops, is removed, or its monitor died.
    func releaseNetworking(_ id: String) {
        let path = netnsPath(id)
        if FileManager.default.fileExists(atPath: networkConfiguration.stateDirectory + "/network.db"),
           let manager = try? networkManager() {
            let detached = (try? networkAwait { try await manager.detachAll(containerID: id) }) ?? []
            for attachment in detached { emitNetworkEvent("disconnect", attachment) }
        }
        if FileManager.default.fileExists(atPath: path) { try? NetworkNamespace.remove(at: path) }
    }

    /// Records a network event about container `attachment.containerID` (Docker's
    /// attributes: the network's `name` and `type`, and the `container`).
    func emitNetworkEvent(_ action: String, _ attachment: Attachment) {
        emit(type: .network, action: action, id: attachment.networkID,
             attributes: ["name": attachment.networkName, "type": attachment.hostInterface.isEmpty ? "cni" : "bridge",
                          "container": attachment.containerID])
    }

    /// Records a `create` or `destroy` event of `network`.
    func emitNetworkEvent(_ action: String, _ network: Network) {
        emit(type: .network, action: action, id: network.id, attributes: ["name": network.name, "type": network.driver])
    }

    /// The containers whose monitor is alive (their attachments are in use).
    func liveContainerIDs() -> Set<String> {
        Set(allIDs().compactMap { load($0) }.filter {
            $0.state.monitorPid != 0 && SystemSupport.isAlive($0.state.monitorPid, startTime: $0.state.monitorStartTime)
        }.map(\.id))
    }

    /// Releases the attachments of containers that are gone or whose monitor died, deletes
    /// interfaces no record owns, restores missing bridges and rebuilds the nftables table
    /// (NetworkManager.reconcile). `kujira network` commands run it first.
    @discardableResult
    public func reconcileNetworks() throws -> NetworkManager.ReconcileReport {
        let manager = try networkManager()
        let live = liveContainerIDs()
        for id in allIDs() where !live.contains(id) {
            let path = netnsPath(id)
            if FileManager.default.fileExists(atPath: path) { try? NetworkNamespace.remove(at: path) }
        }
        return try networkAwait { try await manager.reconcile(liveContainers: live) }
    }
}

// MARK: - `kujira network …`

extension Engine {
    /// `kujira network create`.
    @discardableResult
    public func createNetwork(_ configuration: NetworkConfiguration) throws -> Network {
        let manager = try networkManager()
        let network = try networkAwait { try await manager.create(configuration) }
        emitNetworkEvent("create", network)
        return network
    }

    /// `kujira network ls`: every network (the default one is created on first use).
    public func listNetworks() throws -> [Network] {
        let manager = try networkManager()
        return try networkAwait {
            try await manager.ensureDefaultNetwork()
            return try await manager.list()
        }
    }

    /// `kujira network inspect`: a network and its attachments.
    public func inspectNetwork(_ nameOrID: String) throws -> NetworkInspection {
        let manager = try networkManager()
        return try networkAwait {
            if nameOrID == "bridge" { try await manager.ensureDefaultNetwork() }
            return try await manager.inspect(nameOrID)
        }
    }

    /// `kujira network rm`: removes a network no running container uses. Stopped containers
    /// that name it keep the name (their start fails until it exists again), as on Docker.
    public func removeNetwork(_ nameOrID: String) throws {
        try reconcileNetworks()
        let manager = try networkManager()
        let network = try networkAwait { try await manager.inspect(nameOrID).network }
        let users = try list().filter { $0.network?.endpoints.contains { $0.network == network.name } == true }
        if !users.isEmpty {
            throw EngineError(.conflict, "network \(network.name) is used by container(s) \(users.map(\.name).joined(separator: ", ")); remove them or disconnect them first")
        }
        try networkAwait { try await manager.remove(network.id) }
        emitNetworkEvent("destroy", network)
    }

    /// `kujira network prune`: removes user networks no container (running or not) uses;
    /// returns their names.
    public func pruneNetworks() throws -> [String] {
        try reconcileNetworks()
        let manager = try networkManager()
        let used = Set(try list().flatMap { $0.network?.endpoints.map(\.network) ?? [] })
        let networks = try networkAwait { try await manager.list() }
        var removed: [String] = []
        for network in networks where !network.isDefault && !used.contains(network.name) {
            do {
                try networkAwait { try await manager.remove(network.id) }
                emitNetworkEvent("destroy", network)
                removed.append(network.name)
            } catch let error as EngineError where error.code == .conflict {
                continue
            }
        }
        return removed
    }

    /// Tears down every network of this root — attachments, bridges (the default one too)
    /// and the nftables table — for uninstalling and for test roots. Refused while a
    /// container runs.
    public func destroyNetworks() throws {
        let live = liveContainerIDs()
        guard live.isEmpty else {
            throw EngineError(.invalidState, "\(live.count) container(s) are running; stop them before tearing the networks down")
        }
        guard FileManager.default.fileExists(atPath: networkConfiguration.stateDirectory + "/network.db") else { return }
        let manager = try networkManager()
        try networkAwait { try await manager.destroyAll() }
    }

    /// `kujira network connect`: adds a network to a container; a running container is
    /// attached at once, a stopped one on its next start.
    public func connect(network nameOrID: String, container nameOrID2: String, ipv4: String? = nil, ipv6: String? = nil,
                        aliases: [String] = []) throws {
        let record = try container(nameOrID2)
        let mode = record.hostConfig.networkMode
        if mode == "host" || mode.hasPrefix("container:") {
            throw EngineError(.invalidArgument, "container \(record.name) uses --network \(mode): it cannot be connected to other networks")
        }
        if let ipv4, IPAddress(ipv4).map(\.isV4) != true { throw EngineError(.invalidArgument, "--ip \(ipv4) is not an IPv4 address") }
        if let ipv6, IPAddress(ipv6).map(\.isV4) != false { throw EngineError(.invalidArgument, "--ip6 \(ipv6) is not an IPv6 address") }
        let manager = try networkManager()
        let network = try networkAwait {
            if nameOrID == "bridge" { try await manager.ensureDefaultNetwork() }
            return try await manager.inspect(nameOrID).network
        }
        if network.isDefault && !aliases.isEmpty {
            throw EngineError(.invalidArgument, "--alias works on user-defined networks only")
        }
        if record.network?.endpoints.contains(where: { $0.network == network.name }) == true {
            throw EngineError(.conflict, "container \(record.name) is already connected to network \(network.name)")
        }
        let endpoint = ContainerNetworkEndpoint(network: network.name, aliases: aliases, ipv4: ipv4, ipv6: ipv6)
        let running = record.state.isActive && NetworkNamespace.exists(at: netnsPath(record.id))
        var added: Attachment?
        if running {
            let options = AttachOptions(containerName: record.name, hostname: record.config.hostname,
                                        ipv4: ipv4.flatMap { IPAddress($0) }, ipv6: ipv6.flatMap { IPAddress($0) }, aliases: aliases)
            let id = record.id, path = netnsPath(record.id), name = network.name
            let attachment = try networkAwait { try await manager.attach(containerID: id, netnsPath: path, network: name, options: options) }
            emitNetworkEvent("connect", attachment)
            added = attachment
        }
        do {
            try update(record.id) { record in
                var settings = record.network ?? ContainerNetworkSettings()
                settings.endpoints.append(endpoint)
                record.network = settings
                if record.hostConfig.networkMode == "none" { record.hostConfig.networkMode = network.name }
            }
        } catch {
            if running {
                let id = record.id, name = network.name
                _ = try? networkAwait { try await manager.detach(containerID: id, network: name) }
            }
            throw error
        }
        if let added { try updateHosts(record, adding: [added]) }
    }

    /// `kujira network disconnect`: removes a network from a container (detaching a running
    /// one at once). `force` ignores a container that is not on the network.
    public func disconnect(network nameOrID: String, container nameOrID2: String, force: Bool = false) throws {
        let record = try container(nameOrID2)
        let manager = try networkManager()
        let network = try networkAwait { try await manager.inspect(nameOrID).network }
        let name = network.name
        guard record.network?.endpoints.contains(where: { $0.network == name }) == true else {
            if force { return }
            throw EngineError(.notFound, "container \(record.name) is not connected to network \(name)")
        }
        let id = record.id
        let detached = try networkAwait { try await manager.attachments(containerID: id) }.filter { $0.networkName == name }
        let attached = !detached.isEmpty
        if attached {
            try networkAwait { try await manager.detach(containerID: id, network: name) }
            emit(type: .network, action: "disconnect", id: network.id, attributes: ["name": name, "type": network.driver, "container": id])
        }
        defer { if attached { try? updateHosts(record, removing: detached) } }
        try update(record.id) { record in
            record.network?.endpoints.removeAll { $0.network == name }
            if record.network?.endpoints.isEmpty == true && record.hostConfig.networkMode == name {
                record.hostConfig.networkMode = "none"
            } else if record.hostConfig.networkMode == name, let next = record.network?.endpoints.first?.network {
                record.hostConfig.networkMode = next
            }
        }
    }

    /// The live attachments of container `id` (empty when it is not running or on no
    /// network).
    public func networkAttachments(_ id: String) -> [Attachment] {
        guard FileManager.default.fileExists(atPath: networkConfiguration.stateDirectory + "/network.db"),
              let manager = try? networkManager() else { return [] }
        return (try? networkAwait { try await manager.attachments(containerID: id) }) ?? []
    }
}
