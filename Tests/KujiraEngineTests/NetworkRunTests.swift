@testable import Kujira
import Foundation
import KujiraNetwork
import KujiraOCI
import Testing

/// What the network tests need besides root: `nft`, `curl` and `ip` (Debian's nftables, curl,
/// iproute2).
enum NetworkTestHost {
    static let tools = ["/usr/sbin/nft", "/usr/bin/curl", "/usr/sbin/ip"]
    static let enabled = EngineHost.requirePrivileged || (geteuid() == 0 && tools.allSatisfy { FileManager.default.isExecutableFile(atPath: $0) })

    /// Fails (rather than skips) when a tool is missing under KUJIRA_REQUIRE_PRIVILEGED=1.
    static func requireTools() throws {
        for tool in tools where !FileManager.default.isExecutableFile(atPath: tool) {
            throw Failure(description: "\(tool) is missing: install nftables, curl and iproute2")
        }
    }

    /// A random /24 in 10.218.0.0/15, unlikely to meet any other test's.
    static func subnet() -> String {
        "10.\(Int.random(in: 218...219)).\(Int.random(in: 0...255)).0/24"
    }

    /// A TCP or UDP port that is free on the host now.
    static func freePort(udp: Bool = false) throws -> UInt16 {
        let fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { throw Failure(description: "cannot find a free port") }
        return UInt16(bigEndian: address.sin_port)
    }

    /// Sends one UDP datagram to 127.0.0.1:`port` from a fresh socket (a fresh source port,
    /// so no conntrack entry of an earlier, refused attempt is reused).
    static func sendUDP(_ text: String, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        _ = Array(text.utf8).withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    /// The engine's tag of a root (FNV-1a, as Engine.rootTag): names its table and bridges.
    static func rootTag(_ root: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in root.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash & 0xffff_ffff, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }
}

/// `kujira run --network/-p/-P` and `kujira network …` against the real kernel: bridges,
/// veths, nftables and the embedded DNS server. Each test has its own root (so its own
/// nftables table and default bridge), its own subnets, and tears its networks down.
@Suite(.serialized, .enabled(if: NetworkTestHost.enabled, "needs root, nft, curl and ip; KUJIRA_REQUIRE_PRIVILEGED=1 makes this a failure"))
struct NetworkRunTests {
    init() throws {
        try NetworkTestHost.requireTools()
        setenv("KUJIRA_IP_FORWARD", "0", 1)
    }

    /// Removes the containers, then every network of the sandbox's root.
    func teardown(_ box: Sandbox) {
        if let ids = try? box.kujira(["ps", "-a", "-q", "--no-trunc"]) {
            for id in ids.stdout.split(separator: "\n") { _ = try? box.kujira(["rm", "-f", String(id)]) }
        }
        _ = try? box.kujira(["network", "__teardown"])
    }

    func host(_ arguments: [String]) throws -> Result {
        try Sandbox.exec(arguments[0], Array(arguments.dropFirst()))
    }

    @Test func userNetworkResolvesNamesAndIsolatesNetworks() throws {
        let box = try Sandbox()
        defer { teardown(box) }
        try box.mustRun(["network", "create", "--subnet", NetworkTestHost.subnet(), "front"])
        try box.mustRun(["network", "create", "--subnet", NetworkTestHost.subnet(), "back"])
        try box.mustRun(["run", "-d", "--name", "web", "--network", "front", "--network-alias", "www", Sandbox.image,
                         "sh", "-c", "mkdir /www; echo hello > /www/index.html; exec httpd -f -p 8080 -h /www"])
        let byName = try box.mustRun(["run", "--rm", "--network", "front", Sandbox.image, "sh", "-c",
                                      "for i in $(seq 50); do wget -qO- http://web:8080/ && exit 0; sleep 0.1; done; exit 1"])
        #expect(byName.stdout == "hello\n")
        #expect(try box.mustRun(["run", "--rm", "--network", "front", Sandbox.image, "wget", "-qO-", "http://www:8080/"]).stdout == "hello\n")
        #expect(try box.kujira(["run", "--rm", "--network", "front", Sandbox.image, "ping", "-c1", "-W", "5", "web"]).status == 0)

        // Another network neither resolves the name nor reaches the address.
        let inspection = try box.inspect("web")
        let settings = inspection["NetworkSettings"] as? [String: Any]
        let networks = settings?["Networks"] as? [String: Any]
        let front = networks?["front"] as? [String: Any]
        let address = try #require(front?["IPAddress"] as? String)
        #expect(!address.isEmpty && settings?["IPAddress"] as? String == address)
        #expect(try box.kujira(["run", "--rm", "--network", "back", Sandbox.image, "nslookup", "web", "127.0.0.11"]).status != 0)
        #expect(try box.kujira(["run", "--rm", "--network", "back", Sandbox.image, "wget", "-T", "2", "-qO-", "http://\(address):8080/"]).status != 0)

        // network inspect lists the container; rm refuses a network in use.
        let document = try box.mustRun(["network", "inspect", "front"]).stdout
        let parsed = try JSONSerialization.jsonObject(with: Data(document.utf8)) as? [[String: Any]]
        let containers = parsed?.first?["Containers"] as? [String: Any]
        #expect(containers?.count == 1)
        #expect(try box.kujira(["network", "rm", "front"]).status != 0)
        #expect(try box.mustRun(["network", "ls", "-q", "--filter", "name=back"]).stdout.split(separator: "\n").count == 1)
        try box.mustRun(["rm", "-f", "web"])
        let pruned = try box.mustRun(["network", "prune", "-f"]).stdout
        #expect(pruned.contains("front") && pruned.contains("back"))
        #expect(try box.mustRun(["network", "ls", "--filter", "type=custom", "-q"]).stdout.isEmpty)
    }

    @Test func publishedPortAnswersCurlFromTheHost() throws {
        let box = try Sandbox()
        defer { teardown(box) }
        let port = try NetworkTestHost.freePort()
        try box.mustRun(["run", "-d", "--name", "web", "-p", "127.0.0.1:\(port):80", Sandbox.image,
                         "sh", "-c", "mkdir /www; echo published > /www/index.html; exec httpd -f -p 80 -h /www"])
        var body = ""
        #expect(box.eventually(10) {
            body = (try? host(["/usr/bin/curl", "-s", "--max-time", "2", "http://127.0.0.1:\(port)/"]).stdout) ?? ""
            return body == "published\n"
        })
        let ports = (try box.inspect("web")["NetworkSettings"] as? [String: Any])?["Ports"] as? [String: Any]
        let binding = (ports?["80/tcp"] as? [[String: Any]])?.first
        #expect(binding?["HostIp"] as? String == "127.0.0.1" && binding?["HostPort"] as? String == "\(port)")
        // The default network: resolv.conf lists real servers, not the embedded one.
        #expect(try !box.mustRun(["exec", "web", "cat", "/etc/resolv.conf"]).stdout.contains("127.0.0.11"))
    }

    @Test func publishAllUsesTheImagesExposedPorts() throws {
        let box = try Sandbox()
        defer { teardown(box) }
        try box.mustRun(["import", "--change", "CMD [\"sh\"]", "--change", "EXPOSE 80/tcp", "\(box.dir)/rootfs", "localhost/busybox:exposed"])
        try box.mustRun(["run", "-d", "--name", "web", "-P", "localhost/busybox:exposed",
                         "sh", "-c", "mkdir /www; echo all > /www/index.html; exec httpd -f -p 80 -h /www"])
        let ports = (try box.inspect("web")["NetworkSettings"] as? [String: Any])?["Ports"] as? [String: Any]
        let binding = (ports?["80/tcp"] as? [[String: Any]])?.first
        let hostPort = try #require(binding?["HostPort"] as? String)
        #expect(Int(hostPort).map { $0 > 1024 } == true)
        #expect(box.eventually(10) {
            (try? host(["/usr/bin/curl", "-s", "--max-time", "2", "http://127.0.0.1:\(hostPort)/"]).stdout) == "all\n"
        })
    }

    @Test func udpPortIsPublished() throws {
        let box = try Sandbox()
        defer { teardown(box) }
        let port = try NetworkTestHost.freePort(udp: true)
        try box.mustRun(["run", "-d", "--name", "sink", "-p", "127.0.0.1:\(port):5353/udp", Sandbox.image, "sleep", "100"])
        // Debian's busybox nc has no UDP mode: the listener is a socket made in the
        // container's network namespace (its SandboxKey), which is the same to the kernel.
        let sandboxKey = try #require((try box.inspect("sink")["NetworkSettings"] as? [String: Any])?["SandboxKey"] as? String)
        let listener = try NetworkNamespace.withNamespace(at: sandboxKey) { () -> Int32 in
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(5353).bigEndian
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard fd >= 0, bound == 0 else { throw Failure(description: "cannot bind UDP 5353 in the container's namespace") }
            return fd
        }
        defer { close(listener) }
        var received = ""
        #expect(box.eventually(10) {
            NetworkTestHost.sendUDP("datagram\n", port: port)
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 200) == 1 else { return false }
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = recv(listener, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            received = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
            return received == "datagram\n"
        })
    }

    @Test func addressAndDNSFlagsShapeTheContainer() throws {
        let box = try Sandbox()
        defer { teardown(box) }
        let subnet = NetworkTestHost.subnet()
        let prefix = subnet.split(separator: ".").prefix(3).joined(separator: ".")
        try box.mustRun(["network", "create", "--subnet", subnet, "flags"])
        let out = try box.mustRun(["run", "--rm", "--network", "flags", "--ip", "\(prefix).42", "--mac-address", "02:42:0a:00:00:42",
                                   "--add-host", "db:192.0.2.7", "--add-host", "gw:host-gateway", "--dns-search", "example.org",
                                   "-h", "box", Sandbox.image, "sh", "-c",
                                   "cat /etc/hosts /etc/resolv.conf /etc/hostname; ip -o addr show dev eth0; ip -o link show dev eth0"]).stdout
        #expect(out.contains("\(prefix).42\tbox"))
        #expect(out.contains("192.0.2.7\tdb") && out.contains("\(prefix).1\tgw"))
        #expect(out.contains("nameserver 127.0.0.11") && out.contains("search example.org"))
        #expect(out.contains("inet \(prefix).42/24") && out.contains("02:42:0a:00:00:42"))
        let plain = try box.mustRun(["run", "--rm", "--dns", "192.0.2.53", "--dns-option", "ndots:2", Sandbox.image, "cat", "/etc/resolv.conf"]).stdout
        #expect(plain.contains("nameserver 192.0.2.53") && plain.contains("options ndots:2"))
        #expect(try box.kujira(["run", "--rm", "--network", "flags", "--ip", "10.1.2.3", Sandbox.image, "true"]).status == 125)
        #expect(try box.kujira(["run", "--rm", "-p", "nonsense", Sandbox.image, "true"]).status == 125)
    }

    @Test func connectAndDisconnectARunningContainer() throws {
        let box = try Sandbox()
        defer { teardown(box) }
        try box.mustRun(["network", "create", "--subnet", NetworkTestHost.subnet(), "one"])
        try box.mustRun(["network", "create", "--subnet", NetworkTestHost.subnet(), "two"])
        try box.mustRun(["run", "-d", "--name", "conn", "--network", "one", "--network-alias", "first", Sandbox.image, "sleep", "100"])
        // /etc/hosts: the container's own name and alias on a user network.
        let before = try box.mustRun(["exec", "conn", "sh", "-c", "stat -c %i /etc/hosts; cat /etc/hosts"]).stdout
        #expect(before.split(separator: "\n").contains { $0.hasSuffix(" conn first") }, "\(before)")
        // A line written inside the container survives connect and disconnect, as in Docker.
        try box.mustRun(["exec", "conn", "sh", "-c", "echo '192.0.2.99 mine' >> /etc/hosts"])
        try box.mustRun(["network", "connect", "--alias", "extra", "two", "conn"])
        #expect(try box.mustRun(["exec", "conn", "ip", "-o", "addr", "show", "dev", "eth1"]).stdout.contains("inet "))
        // connect rewrote the bind-mounted /etc/hosts in place (same inode) with the new network.
        let after = try box.mustRun(["exec", "conn", "sh", "-c", "stat -c %i /etc/hosts; cat /etc/hosts"]).stdout
        #expect(after.split(separator: "\n").first == before.split(separator: "\n").first, "\(before) vs \(after)")
        #expect(after.split(separator: "\n").contains { $0.hasSuffix(" conn extra") }, "\(after)")
        #expect(after.contains("192.0.2.99 mine\n"), "\(after)")
        #expect(try box.mustRun(["run", "--rm", "--network", "two", Sandbox.image, "nslookup", "extra", "127.0.0.11"]).status == 0)
        try box.mustRun(["network", "disconnect", "two", "conn"])
        #expect(try box.kujira(["exec", "conn", "ip", "link", "show", "eth1"]).status != 0)
        let detached = try box.mustRun(["exec", "conn", "cat", "/etc/hosts"]).stdout
        #expect(!detached.contains("extra") && detached.contains(" conn first"), "\(detached)")
        #expect(detached.contains("192.0.2.99 mine\n"), "\(detached)")
        #expect(try box.kujira(["network", "disconnect", "two", "conn"]).status != 0)
        try box.mustRun(["network", "disconnect", "-f", "two", "conn"])
    }

    @Test func modesNoneHostAndContainer() throws {
        let box = try Sandbox()
        defer { teardown(box) }
        let none = try box.mustRun(["run", "--rm", "--network", "none", Sandbox.image, "ip", "-o", "link"]).stdout
        #expect(none.contains("lo") && !none.contains("eth0"))
        try box.mustRun(["run", "-d", "--name", "owner", Sandbox.image, "sleep", "100"])
        let own = try box.mustRun(["exec", "owner", "ip", "-o", "addr", "show", "dev", "eth0"]).stdout
        let shared = try box.mustRun(["run", "--rm", "--network", "container:owner", Sandbox.image, "ip", "-o", "addr", "show", "dev", "eth0"]).stdout
        func inet(_ text: String) -> String? {
            text.split(separator: " ").split(separator: "inet").dropFirst().first?.first.map(String.init)
        }
        #expect(inet(own) != nil && inet(own) == inet(shared), "\(own) vs \(shared)")
        #expect(try box.kujira(["run", "--rm", "--network", "container:owner", "-p", "80", Sandbox.image, "true"]).status == 125)
        #expect(try box.kujira(["run", "--rm", "--network", "no-such-net", Sandbox.image, "true"]).status == 125)
    }

    @Test func nothingLeaksAfterCyclesAndAKilledMonitor() throws {
        let box = try Sandbox()
        defer { teardown(box) }
        let tag = NetworkTestHost.rootTag(box.root)
        try box.mustRun(["network", "create", "--subnet", NetworkTestHost.subnet(), "cycle"])
        var ids: [String] = []
        for i in 0..<5 {
            let port = try NetworkTestHost.freePort()
            let id = try box.mustRun(["create", "--name", "c\(i)", "--network", "cycle", "-p", "127.0.0.1:\(port):80", Sandbox.image, "sleep", "100"])
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try box.mustRun(["start", id])
            try box.mustRun(["rm", "-f", id])
            ids.append(id)
        }
        // kill -9 of a running container's monitor: the next reader reconciles it.
        let port = try NetworkTestHost.freePort()
        let id = try box.mustRun(["run", "-d", "--name", "victim", "--network", "cycle", "-p", "127.0.0.1:\(port):80", Sandbox.image, "sleep", "100"])
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        ids.append(id)
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(box.root)/containers/\(id)/config.v2.json"))) as? [String: Any]
        let monitor = try #require((record?["state"] as? [String: Any])?["monitorPid"] as? Int)
        #expect(monitor > 0)
        #expect(kill(pid_t(monitor), SIGKILL) == 0)
        #expect(box.eventually(10) { kill(pid_t(monitor), 0) != 0 || (try? String(contentsOfFile: "/proc/\(monitor)/stat", encoding: .utf8))?.contains(") Z ") == true })
        #expect(try box.state("victim")["Status"] as? String == "exited")

        let links = try host(["/usr/sbin/ip", "-d", "link", "show"]).stdout
        let table = try host(["/usr/sbin/nft", "list", "table", "inet", "kujira_\(tag)"])
        for id in ids {
            #expect(!links.contains(id), "a veth of \(id.prefix(12)) is left")
            #expect(!FileManager.default.fileExists(atPath: "\(box.state)/netns/\(id)"))
        }
        #expect(table.status == 0 && !table.stdout.contains("dnat ip to"), "published ports are left: \(table.stdout)")
        let document = try box.mustRun(["network", "inspect", "cycle"]).stdout
        let parsed = try JSONSerialization.jsonObject(with: Data(document.utf8)) as? [[String: Any]]
        #expect((parsed?.first?["Containers"] as? [String: Any])?.isEmpty == true)
        try box.mustRun(["rm", "victim"])
        try box.mustRun(["network", "rm", "cycle"])
    }
}

/// The engine's network plumbing that needs no root.
struct NetworkUnitTests {
    @Test func defaultRootKeepsTheWellKnownNamesOthersGetTheirOwn() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kujira-netunit-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let engine = try Engine(root: "\(dir)/root", state: "\(dir)/state")
        let configuration = engine.networkConfiguration
        let tag = Engine.rootTag(engine.root)
        #expect(tag.count == 8 && tag == NetworkTestHost.rootTag(engine.root))
        #expect(configuration.tableName == "kujira_\(tag)")
        #expect(configuration.defaultBridge == "kj0-\(tag)" && configuration.defaultBridge.utf8.count <= 15)
        #expect(configuration.bridgePrefix.utf8.count < 15 && configuration.vethPrefix.utf8.count < 15)
        #expect(Engine.rootTag("/a") != Engine.rootTag("/b"))
        let standard = NetworkManagerConfiguration(root: Engine.defaultRoot)
        #expect(standard.tableName == "kujira" && standard.defaultBridge == "kujira0")
    }

    @Test func blockingReturnsAndRethrows() throws {
        #expect(try Blocking.run { 42 } == 42)
        #expect(throws: EngineError.self) { try networkAwait { () async throws -> Int in throw NetworkError(.networkNotFound, "gone") } }
        do {
            _ = try networkAwait { () async throws -> Int in throw NetworkError(.portInUse, "busy") }
        } catch let error as EngineError {
            #expect(error.code == .conflict && error.message.contains("busy"))
        }
    }

    @Test func namespacePathGoesIntoTheSpec() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kujira-netunit-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let engine = try Engine(root: "\(dir)/root", state: "\(dir)/state")
        let id = String(repeating: "a", count: 64), other = String(repeating: "b", count: 64)
        var record = ContainerRecord(
            id: id, name: "x", created: "", image: "i", imageID: "",
            config: ContainerConfig(hostname: "h", user: "", env: [], cmd: ["true"], entrypoint: [], workingDir: "", labels: [:],
                                    stopSignal: "SIGTERM", stopTimeout: 10, openStdin: false),
            hostConfig: ContainerHostConfig(autoRemove: false, restartPolicy: .no, networkMode: "bridge", memory: 0, memorySwap: 0,
                                            cpuShares: 0, nanoCpus: 0, pidsLimit: 0, capAdd: [], capDrop: [], privileged: false,
                                            readonlyRootfs: false, securityOpt: [], binds: [], tmpfs: [:], ulimits: []),
            mounts: [], state: .created, restartCount: 0, rootfsPath: "/r", logPath: "/l")
        var spec = Spec(linux: Linux(namespaces: [LinuxNamespace(type: .pid), LinuxNamespace(type: .network)]))
        engine.applyNetworkNamespace(record, to: &spec)
        #expect(spec.linux?.namespaces?.first { $0.type == .network }?.path == "\(dir)/state/netns/\(id)")
        record.network = ContainerNetworkSettings(joinedContainer: other)
        engine.applyNetworkNamespace(record, to: &spec)
        #expect(spec.linux?.namespaces?.filter { $0.type == .network }.map(\.path) == ["\(dir)/state/netns/\(other)"])
        record.hostConfig.networkMode = "host"
        var hostSpec = Spec(linux: Linux(namespaces: [LinuxNamespace(type: .pid)]))
        engine.applyNetworkNamespace(record, to: &hostSpec)
        #expect(hostSpec.linux?.namespaces?.contains { $0.type == .network } == false)

        // A record written before networking decodes, without network settings.
        let encoded = try JSONEncoder().encode(record)
        var object = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        object.removeValue(forKey: "network")
        let old = try JSONDecoder().decode(ContainerRecord.self, from: try JSONSerialization.data(withJSONObject: object))
        #expect(old.network == nil && old.id == id)
    }
}
