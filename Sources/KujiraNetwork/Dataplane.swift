import CKujiraNetlink
import Glibc

/// A bridge as the manager wants it.
struct BridgeSpec: Sendable, Equatable {
    var name: String
    /// `IFLA_IFALIAS`: marks the link as owned by one Kujira root (see ``NetworkManager``).
    var alias: String
    var mtu: UInt32?
    var addresses: [InterfaceAddress]
}

/// One veth attachment as the manager wants it.
struct AttachPlan: Sendable, Equatable {
    var hostInterface: String
    var alias: String
    var bridge: String
    var mtu: UInt32?
    var netnsPath: String
    var interfaceName: String
    var macAddress: [UInt8]
    var addresses: [InterfaceAddress]
    var gateways: [IPAddress]
    var defaultRoute: Bool
}

/// The seam between the network manager's bookkeeping and the kernel: everything
/// privileged the manager does goes through these calls, so the bookkeeping (IPAM, ports,
/// reconciliation) is unit-tested with a recording fake, and ``KernelDataplane`` does it
/// for real over rtnetlink and nftables.
protocol NetworkDataplane: Sendable {
    /// Creates the bridge if missing, adds its addresses, sets sysctls, brings it up.
    func ensureBridge(_ spec: BridgeSpec) throws
    /// Deletes a bridge; a missing one is fine.
    func deleteBridge(name: String) throws
    /// Creates the veth pair, configures the container end, brings both up.
    func attach(_ plan: AttachPlan) throws
    /// Adds default routes in a namespace through `interfaceName` (after a disconnect took
    /// away the network that carried them).
    func addDefaultRoutes(netnsPath: String, interfaceName: String, gateways: [IPAddress]) throws
    /// Deletes the host end of a veth pair (the kernel deletes the peer); missing is fine.
    func deleteVeth(hostInterface: String) throws
    /// Links whose alias starts with `aliasPrefix`.
    func links(aliasPrefix: String) throws -> [LinkInfo]
    /// Destination prefixes of the host's routes, to carve subnets around.
    func hostRoutes() throws -> [IPSubnet]
    /// Replaces the manager's nftables table with `ruleset`.
    func applyFirewall(_ ruleset: NFTRuleset) throws
    /// Sets `net.ipv4.ip_forward=1`.
    func enableIPv4Forwarding() throws
    /// Whether a network namespace still exists at `path`.
    func namespaceExists(_ path: String) -> Bool
}

/// The real dataplane: rtnetlink for links, addresses and routes; `nft` for the firewall.
struct KernelDataplane: NetworkDataplane {
    var nft: NFTables?

    func ensureBridge(_ spec: BridgeSpec) throws {
        let netlink = try NetlinkSocket()
        if try netlink.link(named: spec.name) == nil {
            try netlink.createBridge(name: spec.name, mtu: spec.mtu)
        }
        guard let bridge = try netlink.link(named: spec.name) else {
            throw NetworkError(.netlink, "the bridge \(spec.name) vanished right after it was created")
        }
        try netlink.setLink(index: bridge.index, alias: spec.alias)
        for address in spec.addresses {
            try netlink.addAddress(address.address, prefixLength: address.prefixLength, index: bridge.index)
        }
        // Packets from the host to a port published on 127.0.0.1 leave through the bridge
        // with a loopback source (masqueraded later); the kernel drops them as martians
        // without route_localnet. Forwarding on the bridge lets containers reach published
        // ports of siblings (hairpin) even when the host's global ip_forward is off.
        try Sysctl.write(["net", "ipv4", "conf", spec.name, "route_localnet"], "1")
        try Sysctl.write(["net", "ipv4", "conf", spec.name, "forwarding"], "1")
        try netlink.setLink(index: bridge.index, up: true)
    }

    func deleteBridge(name: String) throws {
        try NetlinkSocket().deleteLink(name: name)
    }

    func attach(_ plan: AttachPlan) throws {
        let netlink = try NetlinkSocket()
        guard let bridge = try netlink.link(named: plan.bridge) else {
            throw NetworkError(.netlink, "the bridge \(plan.bridge) does not exist; run reconcile or recreate the network")
        }
        let nsfd = open(plan.netnsPath, O_RDONLY | O_CLOEXEC)
        guard nsfd >= 0 else { throw NetworkError.posix("cannot open the network namespace \(plan.netnsPath)") }
        defer { close(nsfd) }
        try netlink.createVethPair(hostName: plan.hostInterface, master: bridge.index, mtu: plan.mtu,
                                   peerName: plan.interfaceName, peerNamespaceFD: nsfd, peerMAC: plan.macAddress)
        do {
            guard let host = try netlink.link(named: plan.hostInterface) else {
                throw NetworkError(.netlink, "the veth \(plan.hostInterface) vanished right after it was created")
            }
            try netlink.setLink(index: host.index, up: true, alias: plan.alias)
            let inside = plan
            try NetworkNamespace.withNamespace(at: plan.netnsPath) {
                let ns = try NetlinkSocket()
                if let lo = try ns.link(named: "lo"), !lo.isUp { try ns.setLink(index: lo.index, up: true) }
                guard let link = try ns.link(named: inside.interfaceName) else {
                    throw NetworkError(.netlink, "\(inside.interfaceName) did not appear in \(inside.netnsPath)")
                }
                for address in inside.addresses {
                    try ns.addAddress(address.address, prefixLength: address.prefixLength, index: link.index)
                }
                try ns.setLink(index: link.index, up: true)
                if inside.defaultRoute {
                    for gateway in inside.gateways {
                        try ns.addRoute(destination: nil, gateway: gateway, index: link.index, ipv6: !gateway.isV4)
                    }
                }
            }
        } catch {
            _ = try? netlink.deleteLink(name: plan.hostInterface)
            throw error
        }
    }

    func addDefaultRoutes(netnsPath: String, interfaceName: String, gateways: [IPAddress]) throws {
        try NetworkNamespace.withNamespace(at: netnsPath) {
            let ns = try NetlinkSocket()
            guard let link = try ns.link(named: interfaceName) else { return }
            for gateway in gateways {
                try ns.addRoute(destination: nil, gateway: gateway, index: link.index, ipv6: !gateway.isV4)
            }
        }
    }

    func deleteVeth(hostInterface: String) throws {
        try NetlinkSocket().deleteLink(name: hostInterface)
    }

    func links(aliasPrefix: String) throws -> [LinkInfo] {
        try NetlinkSocket().links().filter { $0.alias?.hasPrefix(aliasPrefix) == true }
    }

    func hostRoutes() throws -> [IPSubnet] {
        try NetlinkSocket().routes()
            .filter { $0.type == UInt8(RTN_UNICAST) || $0.type == UInt8(RTN_LOCAL) }
            .map(\.destination)
            .filter { $0.isV4 || !($0.address.bytes[0] == 0xff || ($0.address.bytes[0] == 0xfe && $0.address.bytes[1] & 0xc0 == 0x80)) }
    }

    func applyFirewall(_ ruleset: NFTRuleset) throws {
        guard let nft else {
            if ruleset.isEmpty { return }
            throw NetworkError(.firewall, "nft is not installed; install nftables for NAT and published ports")
        }
        try nft.apply(ruleset.script)
    }

    func namespaceExists(_ path: String) -> Bool {
        NetworkNamespace.exists(at: path)
    }

    func enableIPv4Forwarding() throws {
        if Sysctl.read(["net", "ipv4", "ip_forward"]) != "1" {
            try Sysctl.write(["net", "ipv4", "ip_forward"], "1")
        }
    }
}
