import Foundation
import Synchronization
import Testing
@testable import KujiraNetwork

/// Records what the manager asks of the kernel, so IPAM, ports and reconciliation are
/// tested without root.
final class RecordingDataplane: NetworkDataplane {
    struct State {
        var links: [String: LinkInfo] = [:]
        var ruleset: NFTRuleset?
        var liveNamespaces: Set<String> = []
        var failAttach = false
    }
    let state = Mutex(State())

    func ensureBridge(_ spec: BridgeSpec) throws {
        state.withLock { $0.links[spec.name] = LinkInfo(index: 1, name: spec.name, alias: spec.alias, isUp: true) }
    }
    func deleteBridge(name: String) throws { _ = state.withLock { $0.links.removeValue(forKey: name) } }
    func attach(_ plan: AttachPlan) throws {
        try state.withLock {
            if $0.failAttach { throw NetworkError(.netlink, "injected failure") }
            $0.links[plan.hostInterface] = LinkInfo(index: 2, name: plan.hostInterface, alias: plan.alias, isUp: true)
        }
    }
    func addDefaultRoutes(netnsPath: String, interfaceName: String, gateways: [IPAddress]) throws {}
    func deleteVeth(hostInterface: String) throws { _ = state.withLock { $0.links.removeValue(forKey: hostInterface) } }
    func links(aliasPrefix: String) throws -> [LinkInfo] {
        state.withLock { $0.links.values.filter { $0.alias?.hasPrefix(aliasPrefix) == true } }
    }
    func hostRoutes() throws -> [IPSubnet] { [IPSubnet("10.77.0.0/24")!] }
    func applyFirewall(_ ruleset: NFTRuleset) throws { state.withLock { $0.ruleset = ruleset } }
    func enableIPv4Forwarding() throws {}
    func namespaceExists(_ path: String) -> Bool { state.withLock { $0.liveNamespaces.contains(path) } }
}

@Suite("Network manager bookkeeping (no root)")
struct ManagerBookkeepingTests {
    let root: String
    let dataplane = RecordingDataplane()
    let manager: NetworkManager

    init() throws {
        root = NSTemporaryDirectory() + "kujira-net-\(UUID().uuidString.prefix(8))"
        var config = NetworkManagerConfiguration(root: root)
        config.ipv4Pools = [AddressPool(base: IPSubnet("10.77.0.0/16")!, size: 24)]
        config.ephemeralPorts = 40000...40002
        config.enableIPForwarding = false
        manager = try NetworkManager(configuration: config, dataplane: dataplane)
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: root) }

    @Test func createsNetworksAroundHostRoutesAndEachOther() async throws {
        defer { cleanup() }
        let a = try await manager.create(NetworkConfiguration(name: "a"))
        let b = try await manager.create(NetworkConfiguration(name: "b", enableIPv6: true))
        #expect(a.subnets.map(\.subnet.description) == ["10.77.1.0/24"])  // 10.77.0.0/24 is a host route
        #expect(b.subnets.first?.subnet.description == "10.77.2.0/24" && b.subnets.count == 2)
        await #expect(throws: NetworkError.self) { try await manager.create(NetworkConfiguration(name: "a")) }
        await #expect(throws: NetworkError.self) {
            try await manager.create(NetworkConfiguration(name: "c", subnets: [SubnetConfiguration(subnet: IPSubnet("10.77.1.128/25"))]))
        }
        #expect(try await manager.list().map(\.name) == ["a", "b"])
        #expect(try await manager.prune() == ["a", "b"])
        #expect(dataplane.state.withLock { $0.links.isEmpty && $0.ruleset?.isEmpty == true })
    }

    @Test func allocatesReleasesAndExhausts() async throws {
        defer { cleanup() }
        try await manager.create(NetworkConfiguration(name: "small", subnets: [SubnetConfiguration(subnet: IPSubnet("10.77.9.0/29"))]))
        // /29: .1 gateway, .7 broadcast → .2 … .6 for containers.
        var ids: [String] = []
        for i in 0..<5 {
            let a = try await manager.attach(containerID: "c\(i)", netnsPath: "/ns/\(i)", network: "small")
            #expect(a.ipv4?.description == "10.77.9.\(i + 2)" && a.interfaceName == "eth0" && a.isDefaultRoute)
            ids.append("c\(i)")
        }
        await #expect(throws: NetworkError.self) { try await manager.attach(containerID: "c9", netnsPath: "/ns/9", network: "small") }
        try await manager.detach(containerID: "c2", network: "small")
        let again = try await manager.attach(containerID: "c9", netnsPath: "/ns/9", network: "small", options: AttachOptions(aliases: ["x"]))
        #expect(again.ipv4?.description == "10.77.9.4")
        await #expect(throws: NetworkError.self) {
            try await manager.attach(containerID: "c8", netnsPath: "/ns/8", network: "small", options: AttachOptions(ipv4: IPAddress("10.77.9.3")))
        }
        await #expect(throws: NetworkError.self) { try await manager.remove("small") }
        for id in ids + ["c9"] { try await manager.detachAll(containerID: id) }
        #expect(try await manager.allocatedAddressCount() == 0)
        try await manager.remove("small")
    }

    @Test func publishesPortsWithoutConflicts() async throws {
        defer { cleanup() }
        try await manager.create(NetworkConfiguration(name: "p"))
        let first = try await manager.attach(containerID: "a", netnsPath: "/ns/a", network: "p",
                                             options: AttachOptions(ports: try PortMapping.parse("127.0.0.1:18080:80") + PortMapping.parse("53/udp")))
        #expect(first.ports.map(\.description) == ["80/tcp -> 127.0.0.1:18080", "53/udp -> 0.0.0.0:40000"])
        await #expect(throws: NetworkError.self) {
            try await manager.attach(containerID: "b", netnsPath: "/ns/b", network: "p", options: AttachOptions(ports: try PortMapping.parse("18080:80")))
        }
        let second = try await manager.attach(containerID: "b", netnsPath: "/ns/b", network: "p",
                                              options: AttachOptions(ports: try PortMapping.parse("127.0.0.2:18080:80") + PortMapping.parse("18080-18081:81")))
        #expect(second.ports.map(\.hostPort) == [18080, 18081])
        let rules = dataplane.state.withLock { $0.ruleset?.ports.count }
        #expect(rules == 4)
        // A failed attach leaves nothing: no allocation, no port, no link.
        dataplane.state.withLock { $0.failAttach = true }
        await #expect(throws: NetworkError.self) {
            try await manager.attach(containerID: "c", netnsPath: "/ns/c", network: "p", options: AttachOptions(ports: try PortMapping.parse("9999:80")))
        }
        #expect(try await manager.allocatedAddressCount() == 2)
        #expect(try await manager.publishedPortCount() == 4)
    }

    @Test func reconcileReleasesDeadAndPendingAttachments() async throws {
        defer { cleanup() }
        try await manager.create(NetworkConfiguration(name: "r"))
        dataplane.state.withLock { $0.liveNamespaces = ["/ns/live", "/ns/gone-container"] }
        try await manager.attach(containerID: "live", netnsPath: "/ns/live", network: "r")
        try await manager.attach(containerID: "gone", netnsPath: "/ns/gone-container", network: "r")
        try await manager.attach(containerID: "nons", netnsPath: "/ns/missing", network: "r")
        // A crash mid-attach: the row is pending and its veth exists.
        var pending = try #require(try await manager.attachments(containerID: "live").first)
        pending.containerID = "crashed"
        pending.hostInterface = "kjvcrashed"
        pending.addresses = [InterfaceAddress(address: IPAddress("10.77.1.99")!, prefixLength: 24)]
        try await manager.recordPendingAttachment(pending)
        try dataplane.attach(AttachPlan(hostInterface: "kjvcrashed", alias: manager.ownerTag + "veth:crashed", bridge: "", mtu: nil,
                                        netnsPath: "", interfaceName: "eth0", macAddress: [], addresses: [], gateways: [], defaultRoute: false))
        // And a stray link of this root that no record owns.
        try dataplane.ensureBridge(BridgeSpec(name: "kj-stray", alias: manager.ownerTag + "network:x", mtu: nil, addresses: []))
        _ = dataplane.state.withLock { $0.liveNamespaces.insert("/ns/live") }
        let report = try await manager.reconcile(liveContainers: ["live", "nons", "crashed"])
        #expect(Set(report.removedAttachments.map { String($0.prefix { $0 != " " }) }) == ["gone", "nons", "crashed"])
        #expect(report.removedLinks == ["kj-stray"])
        #expect(try await manager.allocatedAddressCount() == 1)
        let links = dataplane.state.withLock { Set($0.links.keys) }
        #expect(links.count == 2)  // the bridge and the live veth
        try await manager.destroyAll()
        #expect(dataplane.state.withLock { $0.links.isEmpty })
    }
}
