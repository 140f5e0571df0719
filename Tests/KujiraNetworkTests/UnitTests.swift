import Foundation
import KujiraOCI
import Testing
@testable import KujiraNetwork

@Suite("Addresses and port mappings")
struct AddressTests {
    @Test(arguments: [
        ("10.1.2.3", "10.1.2.3"), ("::1", "::1"), ("fd00:0:0:0:0:0:0:1", "fd00::1"),
        ("2001:db8::0:1", "2001:db8::1"), ("::ffff:10.0.0.1", "::ffff:a00:1"), ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
    ])
    func parsesAndPrintsAddresses(text: String, canonical: String) throws {
        #expect(try #require(IPAddress(text)).description == canonical)
    }

    @Test(arguments: ["1.2.3", "1.2.3.256", "01.2.3.4", "1::2::3", "", "g::1", "1.2.3.4/8"])
    func rejectsBadAddresses(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func subnetsContainAndOverlap() throws {
        let a = try #require(IPSubnet("10.0.0.0/16"))
        let b = try #require(IPSubnet("10.0.5.0/24"))
        #expect(a.overlaps(b) && b.overlaps(a))
        #expect(!a.overlaps(try #require(IPSubnet("10.1.0.0/16"))))
        #expect(a.contains(try #require(IPAddress("10.0.255.255"))))
        #expect(a.last.description == "10.0.255.255")
        #expect(IPSubnet("10.0.0.1/24", strict: true) == nil)
        #expect(IPSubnet("10.0.0.1/24")?.description == "10.0.0.0/24")
    }

    @Test func carvesAroundTakenPrefixes() throws {
        let pools = [AddressPool(base: try #require(IPSubnet("10.50.0.0/16")), size: 24)]
        let taken = [try #require(IPSubnet("10.50.0.0/23")), try #require(IPSubnet("10.50.3.0/24"))]
        #expect(AddressAllocator.carve(pools: pools, ipv6: false, avoiding: taken)?.description == "10.50.2.0/24")
        let v6 = AddressAllocator.carve(pools: AddressPool.defaultIPv6, ipv6: true, avoiding: [])
        #expect(v6?.prefixLength == 64)
    }

    @Test func allocatesAroundGatewayAndRange() throws {
        let subnet = try AddressAllocator.resolve(try #require(IPSubnet("10.9.0.0/24")), gateway: nil,
                                                  ipRange: IPSubnet("10.9.0.0/30"))
        #expect(subnet.gateway.description == "10.9.0.1")
        #expect(AddressAllocator.firstFree(in: subnet, taken: [])?.description == "10.9.0.2")
        // .3 ends the range but is a host of the /24, so it is usable; then the range is full.
        let two = try #require(IPAddress("10.9.0.2")), three = try #require(IPAddress("10.9.0.3"))
        #expect(AddressAllocator.firstFree(in: subnet, taken: [two])?.description == "10.9.0.3")
        #expect(AddressAllocator.firstFree(in: subnet, taken: [two, three]) == nil)
        #expect(throws: NetworkError.self) { try AddressAllocator.resolve(try #require(IPSubnet("10.9.0.0/24")), gateway: IPAddress("10.8.0.1"), ipRange: nil) }
    }

    @Test(arguments: [
        ("80", ["80/tcp"]),
        ("8080:80", ["0.0.0.0:8080->80/tcp"]),
        ("127.0.0.1:18080:80", ["127.0.0.1:18080->80/tcp"]),
        ("127.0.0.1::53/udp", ["127.0.0.1:?->53/udp"]),
        ("[::1]:8080:80", ["::1:8080->80/tcp"]),
        ("8000-8001:80-81/udp", ["0.0.0.0:8000->80/udp", "0.0.0.0:8001->81/udp"]),
        ("9000-9010:80", ["0.0.0.0:9000-9010->80/tcp"]),
    ])
    func parsesPortMappings(text: String, expected: [String]) throws {
        let rendered = try PortMapping.parse(text).map { m -> String in
            if m.hostIP == nil && m.hostPorts == nil { return "\(m.containerPort)/\(m.proto.rawValue)" }
            let ports = m.hostPorts.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" } ?? "?"
            return "\(m.hostIP?.description ?? "0.0.0.0"):\(ports)->\(m.containerPort)/\(m.proto.rawValue)"
        }
        #expect(rendered == expected)
    }

    @Test(arguments: ["", "abc", "1:2:3:4", "80/icmp", "0", "70000", "8000-8002:80-81", "90-80:80", "[::1:80:80"])
    func rejectsBadPortMappings(text: String) {
        #expect(throws: NetworkError.self) { try PortMapping.parse(text) }
    }

    @Test func publishAllUsesExposedPorts() throws {
        let mappings = try PortMapping.publishAll(exposed: ["80/tcp", "53/udp", "8000-8001"])
        #expect(mappings.map(\.description) == ["53/udp", "80/tcp", "8000/tcp", "8001/tcp"])
        #expect(mappings.allSatisfy { $0.hostPorts == nil })
    }
}

@Suite("Generated files and DNS messages")
struct FilesAndDNSTests {
    static func attachment(embedded: Bool) -> KujiraNetwork.Attachment {
        Attachment(containerID: String(repeating: "ab", count: 32), networkID: "n", networkName: "web", containerName: "api",
                   hostname: "api", aliases: ["svc"], netnsPath: "/x", interfaceName: "eth0", hostInterface: "kjv0",
                   macAddress: "02:6b:0a:00:00:02",
                   addresses: [InterfaceAddress(address: IPAddress("10.0.0.2")!, prefixLength: 24)],
                   gateways: [IPAddress("10.0.0.1")!], isDefaultRoute: true, ports: [], usesEmbeddedDNS: embedded)
    }

    @Test func userNetworkUsesEmbeddedDNS() throws {
        let host = ResolvConf(parsing: "nameserver 127.0.0.53\nsearch example.org\noptions edns0 ndots:2\n")
        let files = ContainerFiles.generate(hostname: "api", attachments: [Self.attachment(embedded: true)],
                                            extraHosts: [try ExtraHost(parsing: "db:10.0.0.9"), try ExtraHost(parsing: "gw:host-gateway")],
                                            hostResolvConf: host)
        #expect(files.resolvConf == "nameserver 127.0.0.11\nsearch example.org\noptions edns0 ndots:0\n")
        #expect(files.hosts.contains("10.0.0.2\tapi svc\n"))  // the name equals the hostname; then the alias
        let named = ContainerFiles.generate(hostname: "h1", attachments: [Self.attachment(embedded: true)], hostResolvConf: host)
        #expect(named.hosts.contains("10.0.0.2\th1 api svc\n"))
        #expect(files.hosts.contains("10.0.0.9\tdb\n") && files.hosts.contains("10.0.0.1\tgw\n"))
        #expect(files.hostname == "api\n")
    }

    @Test func defaultNetworkReplacesLoopbackResolvers() {
        let host = ResolvConf(parsing: "nameserver 127.0.0.53\n")
        let upstream = ResolvConf(parsing: "nameserver 192.0.2.53\nnameserver 2001:db8::53\n")
        let files = ContainerFiles.generate(hostname: "c", attachments: [Self.attachment(embedded: false)],
                                            hostResolvConf: host, systemdResolved: upstream)
        #expect(files.resolvConf == "nameserver 192.0.2.53\n")
        #expect(files.hosts.contains("10.0.0.2\tc\n"))  // no name or alias on the default network
        let fallback = ContainerFiles.generate(hostname: "c", attachments: [], hostResolvConf: host)
        #expect(fallback.resolvConf == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n")
    }

    @Test func connectAndDisconnectEditHostsKeepingOtherLines() throws {
        var second = Self.attachment(embedded: true)
        second.networkName = "two"
        second.aliases = ["extra"]
        second.addresses = [InterfaceAddress(address: try #require(IPAddress("10.9.0.5")), prefixLength: 24)]
        let start = ContainerFiles.generate(hostname: "h1", attachments: [Self.attachment(embedded: true)],
                                            hostResolvConf: ResolvConf(parsing: "")).hosts
        // A line the container's processes wrote, for the same address under other names.
        let edited = start + "10.9.0.5\tmine\n"
        let connected = ContainerFiles.updateHosts(edited, hostname: "h1", adding: [second])
        #expect(connected == edited + "10.9.0.5\th1 api extra\n")
        // Connecting again adds nothing twice.
        #expect(ContainerFiles.updateHosts(connected, hostname: "h1", adding: [second]) == connected)
        let disconnected = ContainerFiles.updateHosts(connected, hostname: "h1", removing: [second])
        #expect(disconnected == edited)
        #expect(disconnected.contains("10.0.0.2\th1 api svc\n") && disconnected.contains("10.9.0.5\tmine\n"))
    }

    @Test func answersAndReverseNames() throws {
        // A query for "alpha" type A, id 0x1234, RD set.
        var query: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        query += DNSQuery.encodeName("Alpha") + [0, 1, 0, 1]
        let parsed = try DNSQuery(parsing: query)
        #expect(parsed.name == "alpha" && parsed.type == 1)
        let response = parsed.response(addresses: [IPAddress("10.0.0.2")!])
        #expect(Array(response[0..<4]) == [0x12, 0x34, 0x85, 0x80])
        #expect(Array(response.suffix(4)) == [10, 0, 0, 2])
        #expect(DNSQuery.reverseAddress("2.0.0.10.in-addr.arpa") == IPAddress("10.0.0.2"))
        #expect(DNSQuery.reverseAddress(String(repeating: "0.", count: 31) + "1.ip6.arpa") == IPAddress("1000::"))
        #expect(throws: NetworkError.self) { try DNSQuery(parsing: [0, 1, 2]) }
    }

    @Test func rulesetIsOneTableReplacedAtomically() throws {
        let ruleset = NFTRuleset(
            table: "kujira_x",
            networks: [.init(bridge: "kj-a", subnets: [IPSubnet("10.1.0.0/24")!], isInternal: false),
                       .init(bridge: "kj-b", subnets: [IPSubnet("10.2.0.0/24")!], isInternal: true)],
            ports: [.init(port: PublishedPort(hostIP: IPAddress("127.0.0.1"), hostPort: 18080, containerPort: 80, proto: .tcp),
                          containerIP: IPAddress("10.1.0.2")!, containerID: "abc")])
        let script = ruleset.script
        #expect(script.hasPrefix("table inet kujira_x\ndelete table inet kujira_x\ntable inet kujira_x {"))
        #expect(script.contains("ip daddr 127.0.0.1 tcp dport 18080 dnat ip to 10.1.0.2:80 comment \"abc\""))
        #expect(script.contains("ip saddr 10.1.0.0/24 oifname != \"kj-a\" masquerade"))
        #expect(!script.contains("ip saddr 10.2.0.0/24 oifname != \"kj-b\" masquerade"))
        #expect(script.contains("iifname \"kj-b\" oifname != \"kj-b\" drop"))
        #expect(NFTRuleset(table: "t", networks: [], ports: []).script == "table inet t\ndelete table inet t\n")
    }

    @Test func parsesCNIConfigurations() throws {
        let list = try CNIConfigurationList(json: Data(#"{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}}]}"#.utf8))
        #expect(list.plugins.count == 2 && list.name == "n")
        #expect(throws: NetworkError.self) { try CNIConfigurationList(json: Data(#"{"name":"n","plugins":[{}]}"#.utf8)) }
        #expect(CNIConfigurationList.version("1.1.0", atLeast: "1.0.0") && !CNIConfigurationList.version("0.4.0", atLeast: "1.1.0"))
        let result = CNIResult(json: Data(#"{"ips":[{"address":"10.3.0.5/24","gateway":"10.3.0.1"}]}"#.utf8))
        #expect(result.addresses.first?.description == "10.3.0.5/24" && result.gateways.first?.description == "10.3.0.1")
    }
}
