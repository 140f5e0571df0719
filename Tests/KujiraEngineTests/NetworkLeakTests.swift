@testable import Kujira
import Foundation
import KujiraNetwork
import Testing

/// The issue's leak acceptance at engine level: many create/start/remove cycles on a user
/// network with a published port, and a `kill -9` of the monitor at each step of an attach,
/// leave no veth, namespace file, nftables rule or IPAM row behind.
@Suite(.serialized, .enabled(if: NetworkTestHost.enabled, "needs root, nft, curl and ip; KUJIRA_REQUIRE_PRIVILEGED=1 makes this a failure"))
struct NetworkLeakTests {
    init() throws {
        try NetworkTestHost.requireTools()
    }

    func host(_ arguments: [String]) throws -> Result {
        try Sandbox.exec(arguments[0], Array(arguments.dropFirst()))
    }

    /// The root's allocated addresses, published host ports and attachments of `network`,
    /// read from the network database itself. (Awaited, not through the engine's blocking
    /// bridge: a test runs on Swift's cooperative pool, which that bridge must not block.)
    func ipamRows(_ box: Sandbox, network: String) async throws -> (addresses: Int, ports: Int, attachments: Int) {
        let manager = try NetworkManager(configuration: try Engine(root: box.root, state: box.state).networkConfiguration)
        return (try await manager.allocatedAddressCount(), try await manager.publishedPortCount(),
                try await manager.inspect(network).attachments.count)
    }

    /// Checks that nothing of `ids` is left in the kernel, the table or the database.
    func expectNothingLeft(_ box: Sandbox, ids: [String], network: String, _ context: String) async throws {
        let links = try host(["/usr/sbin/ip", "-d", "link", "show"]).stdout
        for id in ids {
            #expect(!links.contains(id), "\(context): a veth of \(id.prefix(12)) is left")
            #expect(!FileManager.default.fileExists(atPath: "\(box.state)/netns/\(id)"), "\(context): the namespace file of \(id.prefix(12)) is left")
        }
        let table = try host(["/usr/sbin/nft", "list", "table", "inet", "kujira_\(NetworkTestHost.rootTag(box.root))"])
        #expect(table.status == 0 && !table.stdout.contains("dnat ip to"), "\(context): published ports are left: \(table.stdout)")
        let rows = try await ipamRows(box, network: network)
        #expect(rows.addresses == 0 && rows.ports == 0 && rows.attachments == 0, "\(context): IPAM rows are left: \(rows)")
    }

    /// 100 create/start/rm -f cycles, each container with a published port (ephemeral, so
    /// concurrent cycles never ask for the same one), ten at a time.
    @Test func hundredCyclesLeaveNothing() async throws {
        let box = try Sandbox()
        defer { _ = try? box.kujira(["network", "__teardown"]) }
        try box.mustRun(["network", "create", "--subnet", NetworkTestHost.subnet(), "cycle"])
        let collected = Collected()
        let workers = 10, perWorker = 10
        let done = DispatchSemaphore(value: 0)
        for worker in 0..<workers {
            let thread = Thread {
                for n in 0..<perWorker {
                    do {
                        let id = try box.mustRun(["create", "--name", "cyc\(worker)-\(n)", "--network", "cycle", "-p", "127.0.0.1::80",
                                                  Sandbox.image, "sleep", "100"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                        collected.add(id: id)
                        try box.mustRun(["start", id])
                        try box.mustRun(["rm", "-f", id])
                    } catch {
                        collected.add(failure: "cycle \(worker)-\(n): \(error)")
                    }
                }
                done.signal()
            }
            thread.start()
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            // Wait off the cooperative pool.
            Thread {
                for _ in 0..<workers { done.wait() }
                continuation.resume()
            }.start()
        }
        let (all, failures) = collected.snapshot()
        #expect(failures.isEmpty, "\(failures)")
        #expect(all.count == workers * perWorker)
        #expect(try box.mustRun(["ps", "-a", "-q"]).stdout.isEmpty)
        try await expectNothingLeft(box, ids: all, network: "cycle", "after \(all.count) cycles")
        try box.mustRun(["network", "rm", "cycle"])
    }

    /// `kill -9` of the monitor at every step of an attach (the monitor attaches before the
    /// runtime creates the container): the next command reconciles, nothing is left, and the
    /// same container starts normally afterwards.
    @Test(arguments: ["attach-begin", "attach-pending", "attach-veth", "attach-firewall"])
    func killDuringAttachLeavesNothing(point: String) async throws {
        let box = try Sandbox()
        defer {
            if let ids = try? box.kujira(["ps", "-a", "-q", "--no-trunc"]) {
                for id in ids.stdout.split(separator: "\n") { _ = try? box.kujira(["rm", "-f", String(id)]) }
            }
            _ = try? box.kujira(["network", "__teardown"])
        }
        try box.mustRun(["network", "create", "--subnet", NetworkTestHost.subnet(), "crash"])
        let id = try box.mustRun(["create", "--name", "victim", "--network", "crash", "--network-alias", "v", "-p", "127.0.0.1::80",
                                  Sandbox.image, "sleep", "100"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // Only this command's monitor gets the variable (the test process's environment is
        // shared with the other suites).
        let started = try host(["/usr/bin/env", "KUJIRA_NETWORK_KILL_AT=\(point)", EngineHost.kujira,
                                "--root", box.root, "--state", box.state, "start", id])
        #expect(started.status != 0, "start survived a monitor killed at \(point): \(started.stdout)")
        // The next command (here inspect) reconciles the container whose monitor died.
        let status = try box.state("victim")["Status"] as? String
        #expect(status == "exited" || status == "created", "\(point): status \(status ?? "nil")")
        try await expectNothingLeft(box, ids: [id], network: "crash", "killed at \(point)")

        // The container is usable again, and its removal leaves nothing either.
        try box.mustRun(["start", id])
        #expect(try await ipamRows(box, network: "crash").attachments == 1)
        try box.mustRun(["rm", "-f", id])
        try await expectNothingLeft(box, ids: [id], network: "crash", "removed after the crash at \(point)")
    }

    /// `kujira network create/connect/disconnect/rm` and a container's start and exit on a
    /// network are recorded as network events.
    @Test func networkEventsAreRecorded() throws {
        let box = try Sandbox()
        defer { _ = try? box.kujira(["network", "__teardown"]) }
        try box.mustRun(["network", "create", "--subnet", NetworkTestHost.subnet(), "evnet"])
        try box.mustRun(["network", "create", "--subnet", NetworkTestHost.subnet(), "evnet2"])
        try box.mustRun(["run", "-d", "--name", "ev", "--network", "evnet", Sandbox.image, "sleep", "100"])
        try box.mustRun(["network", "connect", "evnet2", "ev"])
        try box.mustRun(["network", "disconnect", "evnet2", "ev"])
        try box.mustRun(["rm", "-f", "ev"])
        try box.mustRun(["network", "rm", "evnet", "evnet2"])
        let text = try String(contentsOfFile: "\(box.root)/events.jsonl", encoding: .utf8)
        var seen: [String] = []
        for line in text.split(separator: "\n") {
            guard let event = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  event["Type"] as? String == "network",
                  let action = event["Action"] as? String,
                  let attributes = (event["Actor"] as? [String: Any])?["Attributes"] as? [String: String] else { continue }
            seen.append("\(action) \(attributes["name"] ?? "?")" + (attributes["container"] == nil ? "" : " c"))
        }
        // A monitor records its container's connect and disconnect itself, so only the order
        // of the commands' own events is fixed.
        #expect(seen.prefix(2) == ["create evnet", "create evnet2"], "\(seen)")
        #expect(seen.sorted() == ["connect evnet c", "connect evnet2 c", "create evnet", "create evnet2", "destroy evnet",
                                  "destroy evnet2", "disconnect evnet c", "disconnect evnet2 c"], "\(seen)")
    }
}

/// What the cycle workers report, behind a lock.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: [String] = []
    private var failures: [String] = []

    func add(id: String) { lock.withLock { ids.append(id) } }
    func add(failure: String) { lock.withLock { failures.append(failure) } }
    func snapshot() -> ([String], [String]) { lock.withLock { (ids, failures) } }
}
