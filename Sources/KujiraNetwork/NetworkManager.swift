import Foundation
import Glibc

/// Settings of a ``NetworkManager``. The defaults are what `kujira` uses; tests and
/// embedders that share a host with a running Kujira change the names.
public struct NetworkManagerConfiguration: Sendable {
    /// `<root>/network` holds the database and the lock.
    public var stateDirectory: String
    /// The nftables table (family `inet`) this manager owns.
    public var tableName: String = "kujira"
    /// The default network's name (`docker run` without `--network` joins it).
    public var defaultNetworkName: String = "bridge"
    /// The default network's bridge, like `docker0`.
    public var defaultBridge: String = "kujira0"
    /// Prefix of user networks' bridges (the rest is the network ID).
    public var bridgePrefix: String = "kj-br-"
    /// Prefix of the host ends of veth pairs.
    public var vethPrefix: String = "kjv"
    /// IPv4 pools subnets are carved from.
    public var ipv4Pools: [AddressPool] = AddressPool.defaultIPv4
    /// IPv6 pools for networks that enable IPv6 without a subnet.
    public var ipv6Pools: [AddressPool] = AddressPool.defaultIPv6
    /// Host ports `-P` and `-p CONTAINER_PORT` choose from; nil reads
    /// `net.ipv4.ip_local_port_range`.
    public var ephemeralPorts: ClosedRange<UInt16>? = nil
    /// Turn on `net.ipv4.ip_forward` when a non-internal network is created (as Docker
    /// does), so containers reach beyond the host. Tests turn it off to leave the host as is.
    public var enableIPForwarding: Bool = true
    /// A lock file shared by every Kujira root on the host, held while a network's subnet
    /// is carved and its bridge created, so that two roots (several engines, parallel
    /// tests) never pick the same free subnet at once; nil skips it.
    public var hostLockPath: String? = "/run/kujira-network.lock"
    /// Where CNI plugins are looked for (`CNI_PATH`): `$CNI_PATH` when set, else Debian's
    /// `/usr/lib/cni` and the upstream default `/opt/cni/bin`.
    public var cniPluginPaths: [String] = {
        if let path = getenv("CNI_PATH").map({ String(cString: $0) }), !path.isEmpty {
            return path.split(separator: ":").map(String.init)
        }
        return ["/usr/lib/cni", "/opt/cni/bin"]
    }()

    /// The configuration for an engine root (`<root>/network`).
    public init(root: String) {
        self.stateDirectory = root + "/network"
    }
}

/// What `kujira network inspect` shows: the network and who is on it.
public struct NetworkInspection: Sendable, Hashable {
    /// The network.
    public var network: Network
    /// Its attachments.
    public var attachments: [Attachment]
}

/// Docker-style networking for containers: bridge networks with IPAM, veth attachments
/// into network namespaces, NAT and published ports, and the records the embedded DNS
/// server answers from — persisted in `<root>/network/network.db`.
///
/// ```swift
/// let networks = try NetworkManager(root: "/var/lib/kujira")
/// let net = try await networks.create(NetworkConfiguration(name: "web"))
/// let attachment = try await networks.attach(containerID: id, netnsPath: "/run/kujira/netns/\(id)",
///                                          network: "web", options: AttachOptions(containerName: "api"))
/// try await networks.detach(containerID: id, network: "web")
/// ```
///
/// Every change holds the root's network lock for its whole duration and records its
/// intent in the database before touching the kernel, so ``reconcile(liveContainers:)``
/// (run at start-up) can undo whatever a crash interrupted.
///
/// The actor runs on a serial dispatch queue of its own, not on Swift's cooperative pool: its
/// work is blocking system calls (netlink, nft, SQLite), and a caller that blocks a pool
/// thread until a call returns (the synchronous Kujira engine) must not wait for a free
/// pool thread.
public actor NetworkManager {
    private nonisolated let executor = QueueExecutor(label: "kujira.network-manager")
    /// The actor's executor: a serial dispatch queue of its own (see the type's comment).
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    nonisolated let configuration: NetworkManagerConfiguration
    let store: NetworkStore
    let lock: NetworkLock
    let dataplane: any NetworkDataplane
    /// The alias prefix that marks links as this root's: `kujira:<hash of the state dir>:`.
    nonisolated let ownerTag: String

    /// Opens (creating if needed) the network state of the engine root `root`.
    public init(root: String) throws {
        try self.init(configuration: NetworkManagerConfiguration(root: root))
    }

    /// Opens the network state described by `configuration`, driving the real kernel.
    public init(configuration: NetworkManagerConfiguration) throws {
        try self.init(configuration: configuration, dataplane: KernelDataplane(nft: NFTables.locate()))
    }

    init(configuration: NetworkManagerConfiguration, dataplane: any NetworkDataplane) throws {
        guard !configuration.tableName.isEmpty,
              configuration.tableName.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw NetworkError(.invalidArgument, "nftables table name \"\(configuration.tableName)\" must be letters, digits and _")
        }
        do {
            try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw NetworkError(.system, "cannot create \(configuration.stateDirectory)", cause: error)
        }
        self.configuration = configuration
        self.store = try NetworkStore(path: configuration.stateDirectory + "/network.db")
        self.lock = NetworkLock(path: configuration.stateDirectory + "/lock")
        self.dataplane = dataplane
        self.ownerTag = "kujira:\(shortHash(configuration.stateDirectory, digits: 8)):"
    }

    // MARK: networks

    /// Creates a bridge network (`kujira network create`).
    @discardableResult
    public func create(_ request: NetworkConfiguration) throws -> Network {
        try validateName(request.name)
        return try lock.withLock {
            guard try store.network(named: request.name) == nil else {
                throw NetworkError(.networkExists, "network \(request.name) already exists; pick another name or remove it first")
            }
            if request.cniConfigList != nil { return try createCNILocked(request) }
            return try createLocked(request, isDefault: false)
        }
    }

    /// The default network, created on first use (`bridge` on `kujira0`).
    @discardableResult
    public func ensureDefaultNetwork() throws -> Network {
        try lock.withLock {
            if let existing = try store.network(named: configuration.defaultNetworkName) { return existing }
            let request = NetworkConfiguration(name: configuration.defaultNetworkName, bridgeName: configuration.defaultBridge)
            return try createLocked(request, isDefault: true)
        }
    }

    private func createLocked(_ request: NetworkConfiguration, isDefault: Bool) throws -> Network {
        guard let hostLockPath = configuration.hostLockPath else { return try createHostLocked(request, isDefault: isDefault) }
        return try NetworkLock(path: hostLockPath).withLock { try createHostLocked(request, isDefault: isDefault) }
    }

    private func createHostLocked(_ request: NetworkConfiguration, isDefault: Bool) throws -> Network {
        let existing = try store.networks()
        let taken = existing.flatMap { $0.subnets.map(\.subnet) }
        var subnets: [NetworkSubnet] = []
        for config in request.subnets {
            guard let subnet = config.subnet else { continue }
            if let other = existing.first(where: { $0.subnets.contains { $0.subnet.overlaps(subnet) } }) {
                throw NetworkError(.addressUnavailable, "subnet \(subnet) overlaps network \(other.name); choose another --subnet")
            }
            if subnets.contains(where: { $0.subnet.isV4 == subnet.isV4 }) {
                throw NetworkError(.invalidArgument, "network \(request.name): only one subnet per IP family is supported")
            }
            subnets.append(try AddressAllocator.resolve(subnet, gateway: config.gateway, ipRange: config.ipRange))
        }
        let wantsV6 = request.enableIPv6 || subnets.contains { !$0.subnet.isV4 }
        var avoid: [IPSubnet]?
        func carve(ipv6: Bool, config: SubnetConfiguration?) throws {
            if avoid == nil { avoid = taken + (try dataplane.hostRoutes()) }
            let pools = ipv6 ? configuration.ipv6Pools : configuration.ipv4Pools
            guard let subnet = AddressAllocator.carve(pools: pools, ipv6: ipv6, avoiding: avoid ?? taken) else {
                throw NetworkError(.addressExhausted, "no free \(ipv6 ? "IPv6" : "IPv4") subnet is left in the address pools for network \(request.name); remove unused networks (kujira network prune) or pass --subnet")
            }
            subnets.append(try AddressAllocator.resolve(subnet, gateway: config?.gateway, ipRange: config?.ipRange))
        }
        if !subnets.contains(where: { $0.subnet.isV4 }) {
            try carve(ipv6: false, config: request.subnets.first { $0.subnet == nil && ($0.gateway?.isV4 ?? true) })
        }
        if wantsV6 && !subnets.contains(where: { !$0.subnet.isV4 }) {
            try carve(ipv6: true, config: request.subnets.first { $0.subnet == nil && $0.gateway?.isV4 == false })
        }
        subnets.sort { $0.subnet.isV4 && !$1.subnet.isV4 }

        let id = Self.randomID()
        let bridge = request.bridgeName ?? configuration.bridgePrefix + id.prefix(max(1, 15 - configuration.bridgePrefix.count))
        guard !bridge.isEmpty, bridge.utf8.count <= 15, !bridge.contains("/"), !bridge.contains(where: \.isWhitespace) else {
            throw NetworkError(.invalidArgument, "bridge name \"\(bridge)\" is not a valid interface name (1–15 characters, no / or spaces)")
        }
        if let clash = existing.first(where: { $0.bridge == bridge }) {
            throw NetworkError(.networkExists, "bridge \(bridge) already belongs to network \(clash.name)")
        }
        let network = Network(id: id, name: request.name, driver: "bridge", bridge: bridge, subnets: subnets,
                              enableIPv6: wantsV6, isInternal: request.isInternal, labels: request.labels,
                              mtu: request.mtu, created: Date(), isDefault: isDefault)
        try store.transaction { try store.insert(network) }
        do {
            try dataplane.ensureBridge(bridgeSpec(network))
            if !network.isInternal && configuration.enableIPForwarding { try dataplane.enableIPv4Forwarding() }
            try applyFirewall()
        } catch {
            _ = try? dataplane.deleteBridge(name: bridge)
            _ = try? store.transaction { try store.deleteNetwork(id: id) }
            _ = try? applyFirewall()
            throw error
        }
        return network
    }

    /// Every network, by name.
    public func list() throws -> [Network] {
        try store.networks()
    }

    /// A network and its attachments, by name, ID or unique ID prefix.
    public func inspect(_ nameOrID: String) throws -> NetworkInspection {
        let network = try requireNetwork(nameOrID)
        return NetworkInspection(network: network, attachments: try store.attachments(network: network.id).map(\.0))
    }

    /// Removes a network that no container uses (`kujira network rm`).
    public func remove(_ nameOrID: String) throws {
        try lock.withLock {
            let network = try requireNetwork(nameOrID)
            if network.isDefault {
                throw NetworkError(.invalidArgument, "\(network.name) is the default network and cannot be removed")
            }
            try removeLocked(network)
        }
    }

    private func removeLocked(_ network: Network) throws {
        let users = try store.attachments(network: network.id)
        guard users.isEmpty else {
            let names = users.map { $0.0.containerName ?? String($0.0.containerID.prefix(12)) }
            throw NetworkError(.networkInUse, "network \(network.name) is in use by \(names.joined(separator: ", ")); disconnect or remove those containers first")
        }
        if !network.isCNI { try dataplane.deleteBridge(name: network.bridge) }
        try store.transaction { try store.deleteNetwork(id: network.id) }
        try applyFirewall()
    }

    /// Removes every user network no container uses (`kujira network prune`); returns
    /// their names.
    @discardableResult
    public func prune() throws -> [String] {
        try lock.withLock {
            var removed: [String] = []
            for network in try store.networks() where !network.isDefault {
                guard try store.attachments(network: network.id).isEmpty else { continue }
                try removeLocked(network)
                removed.append(network.name)
            }
            return removed
        }
    }

    /// Tears down everything this root owns — attachments, bridges (the default one too),
    /// the nftables table, the records — for uninstalling, and for tests.
    public func destroyAll() throws {
        try lock.withLock {
            for (attachment, _) in try store.attachments() {
                try releaseInterface(attachment)
                try store.transaction { try store.deleteAttachment(container: attachment.containerID, network: attachment.networkID) }
            }
            for network in try store.networks() {
                if !network.isCNI { try dataplane.deleteBridge(name: network.bridge) }
                try store.transaction { try store.deleteNetwork(id: network.id) }
            }
            for link in try dataplane.links(aliasPrefix: ownerTag) {
                try dataplane.deleteBridge(name: link.name)
            }
            try applyFirewall()
        }
    }

    /// How many addresses are allocated across all networks (zero on an idle host: a
    /// quick leak check).
    public func allocatedAddressCount() throws -> Int {
        try store.allocationCount()
    }

    /// How many host ports are published across all networks.
    public func publishedPortCount() throws -> Int {
        try store.publishedPorts().count
    }

    /// Writes an attachment record as a crashed attach would leave it (tests only).
    func recordPendingAttachment(_ attachment: Attachment) throws {
        try store.transaction { try store.insert(attachment, state: .pending) }
    }

    // MARK: shared helpers

    func requireNetwork(_ nameOrID: String) throws -> Network {
        guard let network = try store.network(named: nameOrID) else {
            throw NetworkError(.networkNotFound, "network \(nameOrID) not found; list networks with kujira network ls")
        }
        return network
    }

    func bridgeSpec(_ network: Network) -> BridgeSpec {
        BridgeSpec(name: network.bridge, alias: ownerTag + "network:" + network.id, mtu: network.mtu,
                   addresses: network.subnets.map { InterfaceAddress(address: $0.gateway, prefixLength: $0.subnet.prefixLength) })
    }

    /// Rebuilds the nftables table from the database.
    func applyFirewall() throws {
        let networks = try store.networks()
        let byID = Dictionary(uniqueKeysWithValues: networks.map { ($0.id, $0) })
        var ports: [NFTRuleset.PortRule] = []
        // CNI networks publish through their own plugins (portmap): not in Kujira's table.
        for (attachment, _) in try store.attachments() where byID[attachment.networkID].map({ !$0.isCNI }) == true {
            for port in attachment.ports {
                for address in attachment.addresses where port.hostIP.map({ $0.isUnspecified || $0.isV4 == address.address.isV4 }) ?? true {
                    ports.append(NFTRuleset.PortRule(port: port, containerIP: address.address, containerID: attachment.containerID))
                }
            }
        }
        let ruleset = NFTRuleset(
            table: configuration.tableName,
            networks: networks.filter { !$0.isCNI }.map { NFTRuleset.NetworkRules(bridge: $0.bridge, subnets: $0.subnets.map(\.subnet), isInternal: $0.isInternal) },
            ports: ports)
        try dataplane.applyFirewall(ruleset)
    }

    private func validateName(_ name: String) throws {
        let ok = !name.isEmpty && name.count <= 128 && name.first.map { $0.isLetter || $0.isNumber } == true
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
        guard ok else {
            throw NetworkError(.invalidArgument, "invalid network name \"\(name)\": use letters, digits, _ . - and start with a letter or digit")
        }
    }

    static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}

/// A serial executor over a dispatch queue. A serial queue targets dispatch's overcommit root
/// queue, which starts a thread whenever work waits and none is idle, so its jobs run even
/// while every thread of Swift's cooperative pool is blocked.
final class QueueExecutor: SerialExecutor, @unchecked Sendable {
    private let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async { unowned.runSynchronously(on: executor) }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }
}
