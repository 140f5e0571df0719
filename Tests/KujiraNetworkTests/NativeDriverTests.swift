import Foundation
import Testing
@testable import KujiraNetwork

/// Real kernel, real traffic: namespaces made by the library, busybox inside them, the
/// native bridge driver, the embedded DNS server and the nftables table between them.
/// Serialized: each test owns a /16 and a table, but they share the host's kernel.
@Suite("Native bridge driver (root)", .serialized,
       .enabled(if: NetTestHost.privileged, "needs root, nsenter, busybox (busybox-static), nft and curl"))
struct NativeDriverTests {
    /// The address `busybox nslookup NAME 127.0.0.11` prints for NAME, if any.
    static func lookup(_ lab: NetLab, in ns: String, _ name: String) throws -> String? {
        let (status, output) = try lab.run(in: ns, ["nslookup", name, "127.0.0.11"])
        guard status == 0, let range = output.range(of: "Name:") else { return nil }
        return output[range.upperBound...].split(separator: "\n").first { $0.hasPrefix("Address") }
            .map { String($0.split(separator: " ").last ?? "") }
    }

    @Test func twoContainersReachEachOtherByNameAndOthersDoNot() async throws {
        let lab = try NetLab(pool: "10.213.0.0/16")
        let upstream = try FakeUpstream()
        var servers: [EmbeddedDNSServer] = []
        defer { upstream.stop() }
        do {
            try await lab.manager.create(NetworkConfiguration(name: "front-\(lab.id)", labels: ["test": "1"]))
            try await lab.manager.create(NetworkConfiguration(name: "back-\(lab.id)"))
            let nsA = try lab.namespace("a"), nsB = try lab.namespace("b"), nsC = try lab.namespace("c")
            let a = try await lab.manager.attach(containerID: "aaaa\(lab.id)", netnsPath: nsA, network: "front-\(lab.id)",
                                                 options: AttachOptions(containerName: "alpha", aliases: ["web"]))
            try await lab.manager.attach(containerID: "bbbb\(lab.id)", netnsPath: nsB, network: "front-\(lab.id)",
                                         options: AttachOptions(containerName: "beta"))
            try await lab.manager.attach(containerID: "cccc\(lab.id)", netnsPath: nsC, network: "back-\(lab.id)",
                                         options: AttachOptions(containerName: "gamma"))
            let names = try NetworkNameTable(stateDirectory: lab.configuration.stateDirectory)
            for (id, ns) in [("aaaa", nsA), ("bbbb", nsB), ("cccc", nsC)] {
                servers.append(try EmbeddedDNSServer(containerID: id + lab.id, netnsPath: ns, lookup: names, upstreams: [upstream.upstream]))
            }
            try lab.spawn(in: nsA, ["httpd", "-f", "-p", "80", "-h", try lab.site("hello from alpha")])
            let alphaIP = try #require(a.ipv4).description

            // By name, through the embedded server, then over the bridge.
            #expect(try Self.lookup(lab, in: nsB, "alpha") == alphaIP)
            #expect(try Self.lookup(lab, in: nsB, "web") == alphaIP)
            #expect(try Self.lookup(lab, in: nsB, String("aaaa\(lab.id)".prefix(12))) == alphaIP)
            let fetched = try lab.eventually {
                try lab.run(in: nsB, ["wget", "-q", "-O", "-", "http://\(alphaIP)/"]).output.contains("hello from alpha")
            }
            #expect(fetched)
            // Other names go to the (fake) upstream.
            #expect(try Self.lookup(lab, in: nsB, "upstream.test") == "203.0.113.7")
            #expect(try Self.lookup(lab, in: nsB, "nothing.test") == nil)
            // Reverse lookup names the container on the network.
            let reverse = try lab.run(in: nsB, ["nslookup", alphaIP, "127.0.0.11"]).output
            #expect(reverse.contains("alpha.front-\(lab.id)"))

            // Another network neither resolves nor reaches alpha.
            #expect(try Self.lookup(lab, in: nsC, "alpha") == nil)
            #expect(try lab.canConnect(from: nsB, to: alphaIP, port: 80))
            #expect(try !lab.canConnect(from: nsC, to: alphaIP, port: 80))

            // Files for the container.
            let files = ContainerFiles.generate(hostname: "beta", attachments: try await lab.manager.attachments(containerID: "bbbb\(lab.id)"),
                                                hostResolvConf: ResolvConf(parsing: "nameserver 127.0.0.53\n"))
            #expect(files.resolvConf.hasPrefix("nameserver 127.0.0.11\n"))

            let inspection = try await lab.manager.inspect("front-\(lab.id)")
            #expect(inspection.attachments.count == 2 && inspection.network.labels == ["test": "1"])
        } catch {
            Issue.record(error)
        }
        servers.forEach { $0.stop() }
        await lab.tearDown()
        #expect(try lab.hostLinks(prefix: "kj-test-\(lab.id)").isEmpty)
    }

    @Test func publishedPortsAnswerOnLoopbackAndHairpin() async throws {
        let lab = try NetLab(pool: "10.214.0.0/16")
        do {
            try await lab.manager.create(NetworkConfiguration(name: "pub-\(lab.id)"))
            let nsA = try lab.namespace("a"), nsB = try lab.namespace("b")
            let ports = try PortMapping.parse("127.0.0.1:18080:80") + PortMapping.parse("18082:80") + PortMapping.parse("127.0.0.1:18081:9999/udp")
            let a = try await lab.manager.attach(containerID: "aaaa\(lab.id)", netnsPath: nsA, network: "pub-\(lab.id)",
                                                 options: AttachOptions(ports: ports))
            try await lab.manager.attach(containerID: "bbbb\(lab.id)", netnsPath: nsB, network: "pub-\(lab.id)")
            try lab.spawn(in: nsA, ["httpd", "-f", "-p", "80", "-h", try lab.site("published")])
            // busybox nc has no UDP mode: the listener is a socket made inside the namespace.
            let udpListener = try NetworkNamespace.withNamespace(at: nsA) { () -> Int32 in
                let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                var sin = sockaddr_in(IPAddress("0.0.0.0")!, port: 9999)
                _ = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                return fd
            }
            defer { close(udpListener) }

            // TCP from the host itself to 127.0.0.1 (DNAT in output + route_localnet).
            let tcp = try lab.eventually {
                try lab.run(in: nil, ["curl", "-s", "--max-time", "2", "http://127.0.0.1:18080/"]).output.contains("published")
            }
            #expect(tcp)
            // UDP from the host.
            let sock = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            defer { close(sock) }
            var to = sockaddr_in(IPAddress("127.0.0.1")!, port: 18081)
            let payload = Array("ping-udp\n".utf8)
            _ = withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(sock, payload, payload.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            var p = pollfd(fd: udpListener, events: Int16(POLLIN), revents: 0)
            #expect(poll(&p, 1, 3000) == 1)
            var received = [UInt8](repeating: 0, count: 64)
            let n = recv(udpListener, &received, received.count, Int32(MSG_DONTWAIT))
            #expect(n > 0 && String(decoding: received[0..<max(n, 0)], as: UTF8.self) == "ping-udp\n")

            // Hairpin: a sibling reaches the port published on every address via the gateway…
            let gateway = try #require(a.gateways.first).description
            let hairpin = try lab.eventually {
                try lab.run(in: nsB, ["wget", "-q", "-O", "-", "http://\(gateway):18082/"]).output.contains("published")
            }
            #expect(hairpin)
            // …but not the one published on 127.0.0.1 only.
            #expect(try lab.canConnect(from: nsB, to: gateway, port: 18082))
            #expect(try !lab.canConnect(from: nsB, to: gateway, port: 18080))
            let table = try #require(try NFTables.locate()?.listTable(lab.configuration.tableName))
            #expect(table.contains("dnat ip to \(try #require(a.ipv4)):80"))
        } catch {
            Issue.record(error)
        }
        await lab.tearDown()
        #expect(try NFTables.locate()?.listTable(lab.configuration.tableName) == nil)
        #expect(try lab.run(in: nil, ["curl", "-s", "--max-time", "1", "http://127.0.0.1:18080/"]).status != 0)
    }

    @Test func hundredAttachDetachCyclesLeaveNothing() async throws {
        let lab = try NetLab(pool: "10.215.0.0/16")
        do {
            try await lab.manager.create(NetworkConfiguration(name: "cycle-\(lab.id)", enableIPv6: true))
            let ns = try lab.namespace("x")
            for i in 0..<100 {
                let a = try await lab.manager.attach(containerID: "cyc\(lab.id)", netnsPath: ns, network: "cycle-\(lab.id)",
                                                     options: AttachOptions(ports: try PortMapping.parse("127.0.0.1:18099:80")))
                if i == 0 {
                    let ping = try lab.run(in: ns, ["ping", "-c", "1", "-W", "2", try #require(a.gateways.first).description])
                    #expect(ping.status == 0)
                    #expect(a.ipv6 != nil)
                }
                try await lab.manager.detach(containerID: "cyc\(lab.id)", network: "cycle-\(lab.id)")
            }
            #expect(try lab.hostLinks(prefix: "kjt").filter { (try? NetlinkSocket().link(named: $0))?.alias?.contains("cyc\(lab.id)") == true }.isEmpty)
            #expect(try await lab.manager.allocatedAddressCount() == 0)
            let table = try #require(try NFTables.locate()?.listTable(lab.configuration.tableName))
            #expect(!table.contains("dnat ip to"))
            let inside = try lab.run(in: ns, ["ip", "-o", "link"]).output
            #expect(!inside.contains("eth0"))
        } catch {
            Issue.record(error)
        }
        await lab.tearDown()
        #expect(try NFTables.locate()?.listTable(lab.configuration.tableName) == nil)
    }
}
