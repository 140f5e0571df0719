import CKujiraNetlink
import Foundation
import Glibc

extension NetworkManager {
    /// Attaches a container's network namespace to a network (`kujira run --network`,
    /// `kujira network connect`): allocates addresses and host ports, creates a veth pair
    /// whose container end appears in `netnsPath` already named (`eth0`, `eth1`, …),
    /// configures addresses and routes there, and publishes the ports.
    ///
    /// The container's first non-internal network carries its default route. The returned
    /// ``Attachment`` has what ``ContainerFiles`` needs for `/etc/hosts` and resolv.conf.
    @discardableResult
    public func attach(containerID: String, netnsPath: String, network nameOrID: String,
                       options: AttachOptions = AttachOptions()) throws -> Attachment {
        guard !containerID.isEmpty, containerID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
            throw NetworkError(.invalidArgument, "invalid container ID \"\(containerID)\"")
        }
        if nameOrID == configuration.defaultNetworkName { try ensureDefaultNetwork() }
        return try lock.withLock {
            Self.crashPoint("attach-begin")
            let network = try requireNetwork(nameOrID)
            let current = try store.attachments(container: containerID).map(\.0)
            if current.contains(where: { $0.networkID == network.id }) {
                throw NetworkError(.alreadyAttached, "container \(containerID.prefix(12)) is already attached to network \(network.name)")
            }
            if network.isCNI {
                return try attachCNILocked(containerID: containerID, netnsPath: netnsPath, network: network, options: options, current: current)
            }
            if network.isInternal && !options.ports.isEmpty {
                throw NetworkError(.unsupported, "network \(network.name) is internal: ports cannot be published from it")
            }
            let addresses = try allocateAddresses(network: network, options: options)
            let ports = try resolvePorts(options.ports, network: network)
            let interfaceName = try options.interfaceName ?? nextInterfaceName(current)
            let hostInterface = configuration.vethPrefix + shortHash(containerID + "/" + network.id, digits: 15 - configuration.vethPrefix.count)
            let mac = try options.macAddress.map(AddressAllocator.parseMAC)
                ?? AddressAllocator.macAddress(for: addresses.first { $0.address.isV4 }?.address, seed: containerID + network.id)
            let attachment = Attachment(
                containerID: containerID, networkID: network.id, networkName: network.name,
                containerName: options.containerName, hostname: options.hostname, aliases: options.aliases,
                netnsPath: netnsPath, interfaceName: interfaceName, hostInterface: hostInterface,
                macAddress: AddressAllocator.formatMAC(mac), addresses: addresses,
                gateways: network.subnets.map(\.gateway),
                isDefaultRoute: !network.isInternal && !current.contains { $0.isDefaultRoute },
                ports: ports, usesEmbeddedDNS: network.hasEmbeddedDNS)
            do {
                try store.attachmentTransaction { try store.insert(attachment, state: .pending) }
            } catch let error as NetworkError where error.code == .database && error.message.contains("UNIQUE") {
                throw NetworkError(.addressUnavailable, "an address or host port for container \(containerID.prefix(12)) on \(network.name) was taken concurrently; retry", cause: error)
            }
            Self.crashPoint("attach-pending")
            do {
                try dataplane.attach(AttachPlan(
                    hostInterface: hostInterface, alias: ownerTag + "veth:" + containerID, bridge: network.bridge,
                    mtu: network.mtu, netnsPath: netnsPath, interfaceName: interfaceName, macAddress: mac,
                    addresses: addresses, gateways: attachment.gateways, defaultRoute: attachment.isDefaultRoute))
                Self.crashPoint("attach-veth")
                if !ports.isEmpty { try applyFirewall() }
                Self.crashPoint("attach-firewall")
                try store.attachmentTransaction { try store.update(attachment, state: .attached) }
            } catch {
                _ = try? dataplane.deleteVeth(hostInterface: hostInterface)
                _ = try? store.transaction { try store.deleteAttachment(container: containerID, network: network.id) }
                if !ports.isEmpty { _ = try? applyFirewall() }
                throw error
            }
            return attachment
        }
    }

    /// Detaches a container from a network (`kujira network disconnect`): deletes the veth
    /// pair, unpublishes its ports and releases its addresses. When the network carried the
    /// container's default route, another network of the container takes it over.
    public func detach(containerID: String, network nameOrID: String) throws {
        try lock.withLock {
            let network = try requireNetwork(nameOrID)
            let all = try store.attachments(container: containerID).map(\.0)
            guard let attachment = all.first(where: { $0.networkID == network.id }) else {
                throw NetworkError(.notAttached, "container \(containerID.prefix(12)) is not attached to network \(network.name)")
            }
            try detachLocked(attachment)
            if attachment.isDefaultRoute,
               var heir = all.first(where: { $0.networkID != network.id && !$0.gateways.isEmpty && !isInternal($0.networkID) }) {
                try? dataplane.addDefaultRoutes(netnsPath: heir.netnsPath, interfaceName: heir.interfaceName, gateways: heir.gateways)
                heir.isDefaultRoute = true
                try store.transaction { try store.update(heir, state: .attached) }
            }
        }
    }

    /// Detaches a container from every network it is on (container removal) and returns
    /// the attachments it removed. A container that is on no network is fine.
    @discardableResult
    public func detachAll(containerID: String) throws -> [Attachment] {
        try lock.withLock {
            let attachments = try store.attachments(container: containerID).map(\.0)
            for attachment in attachments {
                try detachLocked(attachment)
            }
            return attachments
        }
    }

    /// The container's attachments, in the order they were made.
    public func attachments(containerID: String) throws -> [Attachment] {
        try store.attachments(container: containerID).map(\.0)
    }

    func detachLocked(_ attachment: Attachment) throws {
        // Mark first: a crash between the kernel change and the delete leaves a pending
        // row that reconciliation finishes.
        try store.attachmentTransaction { try store.update(attachment, state: .pending) }
        Self.crashPoint("detach-pending")
        try releaseInterface(attachment)
        Self.crashPoint("detach-veth")
        try store.attachmentTransaction { try store.deleteAttachment(container: attachment.containerID, network: attachment.networkID) }
        if !attachment.ports.isEmpty { try applyFirewall() }
    }

    /// Crash testing: when the environment's `KUJIRA_NETWORK_KILL_AT` names `point`, the
    /// process kills itself with `SIGKILL` there — exactly what a `kill -9` arriving at that
    /// moment does. The points are `attach-begin` (lock held, nothing written),
    /// `attach-pending` (the pending row committed, the kernel untouched), `attach-veth` (the
    /// veth pair made, ports not yet ruled), `attach-firewall` (ruled, not yet marked
    /// attached), `detach-pending` and `detach-veth`. The tests use it to check that the
    /// next command's reconciliation leaves nothing behind from each of them.
    static func crashPoint(_ point: String) {
        guard let value = getenv("KUJIRA_NETWORK_KILL_AT"), String(cString: value) == point else { return }
        kill(getpid(), SIGKILL)
    }

    private func isInternal(_ networkID: String) -> Bool {
        ((try? store.networks()) ?? []).first { $0.id == networkID }?.isInternal ?? true
    }

    func nextInterfaceName(_ current: [Attachment]) throws -> String {
        let used = Set(current.map(\.interfaceName))
        for n in 0..<64 where !used.contains("eth\(n)") { return "eth\(n)" }
        throw NetworkError(.invalidArgument, "the container is on too many networks")
    }

    private func allocateAddresses(network: Network, options: AttachOptions) throws -> [InterfaceAddress] {
        let taken = try store.allocatedAddresses(network: network.id)
        var result: [InterfaceAddress] = []
        for subnet in network.subnets {
            let requested = subnet.subnet.isV4 ? options.ipv4 : options.ipv6
            let address: IPAddress
            if let requested {
                guard AddressAllocator.isAssignable(requested, in: subnet) else {
                    throw NetworkError(.addressUnavailable, "address \(requested) is not a usable address of \(network.name)'s subnet \(subnet.subnet)")
                }
                guard !taken.contains(requested) else {
                    throw NetworkError(.addressUnavailable, "address \(requested) is already in use on network \(network.name)")
                }
                address = requested
            } else {
                guard let free = AddressAllocator.firstFree(in: subnet, taken: taken) else {
                    throw NetworkError(.addressExhausted, "no free address is left in \(subnet.ipRange) on network \(network.name); remove containers or use a larger --ip-range")
                }
                address = free
            }
            result.append(InterfaceAddress(address: address, prefixLength: subnet.subnet.prefixLength))
        }
        for requested in [options.ipv4, options.ipv6].compactMap({ $0 }) where !result.contains(where: { $0.address == requested }) {
            throw NetworkError(.addressUnavailable, "network \(network.name) has no \(requested.isV4 ? "IPv4" : "IPv6") subnet for \(requested)")
        }
        return result
    }

    func resolvePorts(_ mappings: [PortMapping], network: Network) throws -> [PublishedPort] {
        var inUse = try store.publishedPorts()
        var result: [PublishedPort] = []
        func conflicts(_ port: UInt16, _ proto: PortProtocol, _ ip: IPAddress?) -> Bool {
            inUse.contains { other in
                guard other.proto == proto, other.hostPort == port else { return false }
                guard let a = ip, !a.isUnspecified, let b = other.hostIP, !b.isUnspecified else { return true }
                return a == b
            }
        }
        for mapping in mappings {
            if let ip = mapping.hostIP, !ip.isUnspecified, !network.isCNI, !network.subnets.contains(where: { $0.subnet.isV4 == ip.isV4 }) {
                throw NetworkError(.invalidArgument, "cannot publish \(mapping) on \(ip): network \(network.name) has no \(ip.isV4 ? "IPv4" : "IPv6") subnet")
            }
            let candidates: ClosedRange<UInt16> = mapping.hostPorts ?? (configuration.ephemeralPorts ?? Self.localPortRange())
            var chosen: UInt16?
            for port in candidates where !conflicts(port, mapping.proto, mapping.hostIP) {
                if mapping.hostPorts == nil && !Self.isBindable(port, mapping.proto) { continue }
                chosen = port
                break
            }
            guard let hostPort = chosen else {
                throw NetworkError(.portInUse, "host port \(mapping.hostPorts.map { "\($0.lowerBound)" + ($0.count > 1 ? "-\($0.upperBound)" : "") } ?? "(ephemeral)")/\(mapping.proto.rawValue) is already published; choose another with -p")
            }
            let published = PublishedPort(hostIP: mapping.hostIP, hostPort: hostPort, containerPort: mapping.containerPort, proto: mapping.proto)
            inUse.append(published)
            result.append(published)
        }
        return result
    }

    /// `net.ipv4.ip_local_port_range`, or Docker's 49153–60999.
    static func localPortRange() -> ClosedRange<UInt16> {
        let parts = Sysctl.read(["net", "ipv4", "ip_local_port_range"])?.split(whereSeparator: \.isWhitespace).compactMap { UInt16($0) } ?? []
        if parts.count == 2, parts[0] <= parts[1], parts[0] > 0 { return parts[0]...parts[1] }
        return 49153...60999
    }

    /// Whether nothing on the host listens on `port` (ephemeral choices skip busy ports).
    static func isBindable(_ port: UInt16, _ proto: PortProtocol) -> Bool {
        let type = proto == .udp ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue)
        let fd = socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
