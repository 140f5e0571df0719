@testable import Kujira
import Foundation
import KujiraNetwork
import Testing

/// `kujira network create --driver cni`: containers attached through Debian's
/// containernetworking-plugins (bridge + host-local) by the engine.
@Suite(.serialized, .enabled(if: NetworkTestHost.enabled && (EngineHost.requirePrivileged || FileManager.default.isExecutableFile(atPath: "/usr/lib/cni/bridge")),
                             "needs root, nft, curl, ip and containernetworking-plugins; KUJIRA_REQUIRE_PRIVILEGED=1 makes this a failure"))
struct NetworkCNITests {
    init() throws {
        try NetworkTestHost.requireTools()
        for plugin in ["bridge", "host-local"] where !FileManager.default.isExecutableFile(atPath: "/usr/lib/cni/\(plugin)") {
            throw Failure(description: "/usr/lib/cni/\(plugin) is missing: install containernetworking-plugins")
        }
    }

    func host(_ arguments: [String]) throws -> Result {
        try Sandbox.exec(arguments[0], Array(arguments.dropFirst()))
    }

    /// A conflist of a bridge of its own (no gateway: nothing is routed or forwarded, the
    /// host's ip_forward stays as it is) with host-local addresses in the sandbox.
    func conflist(_ box: Sandbox, name: String, bridge: String) throws -> String {
        let path = "\(box.dir)/\(name).conflist"
        try """
            {"cniVersion":"1.0.0","name":"\(name)","plugins":[
              {"type":"bridge","bridge":"\(bridge)","isGateway":false,"ipMasq":false,
               "ipam":{"type":"host-local","ranges":[[{"subnet":"\(NetworkTestHost.subnet())"}]],"dataDir":"\(box.dir)/ipam"}}]}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// What a CNI network leaves after its containers are gone: cached results, host-local
    /// leases, veths on the bridge, IPAM rows.
    func expectNothingLeft(_ box: Sandbox, name: String, bridge: String, _ context: String) async throws {
        let cached = (try? FileManager.default.contentsOfDirectory(atPath: "\(box.root)/network/cni/results")) ?? []
        #expect(cached.isEmpty, "\(context): cached CNI results are left: \(cached)")
        let leases = ((try? FileManager.default.contentsOfDirectory(atPath: "\(box.dir)/ipam/\(name)")) ?? []).filter { $0.hasPrefix("10.") }
        #expect(leases.isEmpty, "\(context): host-local leases are left: \(leases)")
        let ports = try host(["/usr/sbin/ip", "-o", "link", "show", "master", bridge])
        #expect(ports.stdout.isEmpty, "\(context): interfaces are left on \(bridge): \(ports.stdout)")
        // Awaited directly: the engine's blocking bridge must not block the cooperative pool.
        let manager = try NetworkManager(configuration: try Engine(root: box.root, state: box.state).networkConfiguration)
        #expect(try await manager.allocatedAddressCount() == 0, "\(context): IPAM rows are left")
    }

    @Test func twoContainersReachEachOtherThroughDebianPlugins() async throws {
        let box = try Sandbox()
        let tag = String(UUID().uuidString.prefix(8)).lowercased()
        let name = "kjcni\(tag)", bridge = "kjc\(tag)"
        defer {
            if let ids = try? box.kujira(["ps", "-a", "-q", "--no-trunc"]) {
                for id in ids.stdout.split(separator: "\n") { _ = try? box.kujira(["rm", "-f", String(id)]) }
            }
            _ = try? box.kujira(["network", "__teardown"])
            _ = try? host(["/usr/sbin/ip", "link", "delete", bridge])  // the bridge plugin never deletes its bridge
        }
        let file = try conflist(box, name: name, bridge: bridge)
        // Flags the conflist owns are refused, and so is a missing conflist.
        #expect(try box.kujira(["network", "create", "--driver", "cni", "--cni-conflist", file, "--subnet", "10.9.0.0/24", "bad"]).status != 0)
        #expect(try box.kujira(["network", "create", "--driver", "cni", "bad"]).status != 0)
        try box.mustRun(["network", "create", "--driver", "cni", "--cni-conflist", file, "cninet"])
        #expect(try box.mustRun(["network", "ls", "--filter", "driver=cni", "-q"]).stdout.split(separator: "\n").count == 1)
        #expect(try box.kujira(["run", "--rm", "--network", "cninet", "--ip", "10.9.0.9", Sandbox.image, "true"]).status == 125)

        try box.mustRun(["run", "-d", "--name", "web", "--network", "cninet", "--network-alias", "www", Sandbox.image,
                         "sh", "-c", "mkdir /www; echo via-cni > /www/index.html; exec httpd -f -p 8080 -h /www"])
        let networks = (try box.inspect("web")["NetworkSettings"] as? [String: Any])?["Networks"] as? [String: Any]
        let address = try #require((networks?["cninet"] as? [String: Any])?["IPAddress"] as? String)
        #expect(address.hasPrefix("10.21"), "\(address)")
        let byIP = try box.mustRun(["run", "--rm", "--network", "cninet", Sandbox.image, "sh", "-c",
                                    "for i in $(seq 50); do wget -qO- http://\(address):8080/ && exit 0; sleep 0.1; done; exit 1"])
        #expect(byIP.stdout == "via-cni\n")
        // Names come from Kujira's embedded DNS server, which knows CNI attachments too.
        #expect(try box.mustRun(["run", "--rm", "--network", "cninet", Sandbox.image, "wget", "-qO-", "http://web:8080/"]).stdout == "via-cni\n")
        #expect(try box.mustRun(["run", "--rm", "--network", "cninet", Sandbox.image, "wget", "-qO-", "http://www:8080/"]).stdout == "via-cni\n")
        #expect(try box.mustRun(["exec", "web", "cat", "/etc/hosts"]).stdout.contains("\(address)\t"))

        // A monitor killed right after ADD, before the result is recorded: the next command
        // runs DEL from the cache.
        let victim = try box.mustRun(["create", "--name", "victim", "--network", "cninet", Sandbox.image, "sleep", "100"])
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let started = try host(["/usr/bin/env", "KUJIRA_NETWORK_KILL_AT=attach-veth", EngineHost.kujira,
                                "--root", box.root, "--state", box.state, "start", victim])
        #expect(started.status != 0)
        _ = try box.state("victim")
        try box.mustRun(["rm", "-f", "victim"])

        // Removal runs DEL: no cached result, lease, veth or IPAM row is left.
        try box.mustRun(["rm", "-f", "web"])
        try await expectNothingLeft(box, name: name, bridge: bridge, "after rm")
        try box.mustRun(["network", "rm", "cninet"])
    }
}
