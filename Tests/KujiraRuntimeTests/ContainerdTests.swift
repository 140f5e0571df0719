import Foundation
import Glibc
import Testing

/// Debian's containerd, started by the test on a private socket with the runtime-handler
/// configuration from Docs/kubernetes.md, running containers through its runc shim with
/// kujira-runtime as the shim's binary (`ctr run --runc-binary`).
@Suite("containerd with kujira-runtime", .enabled(if: Peers.shouldRun(Peers.containerdTools),
                                                 "needs root, containerd (ctr, containerd-shim-runc-v2), umoci, skopeo and busybox-static (KUJIRA_REQUIRE_PRIVILEGED=1 fails instead)"),
       .serialized)
struct ContainerdTests {
    static let image = "localhost/kujira-busybox:latest"
    static let documentedBinary = "/usr/local/bin/kujira-runtime"

    /// The `toml` block of Docs/kubernetes.md: the configuration users are told to add.
    static func documentedConfiguration() throws -> String {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Docs/kubernetes.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        guard let start = text.range(of: "```toml\n"),
              let end = text.range(of: "```", range: start.upperBound..<text.endIndex) else {
            throw TestFailure("Docs/kubernetes.md has no toml block")
        }
        return String(text[start.upperBound..<end.lowerBound])
    }

    /// A containerd daemon of the test's own: root, state, sockets and the kujira-runtime
    /// state root in one scratch directory; `stop` kills it and removes everything.
    final class Daemon {
        let directory: String
        let socket: String
        let runtimePath = buildDirectory + "/kujira-runtime"
        private var pid: pid_t = 0

        init() throws {
            try Peers.check(Peers.containerdTools)
            directory = try Sandbox.temporaryDirectory()
            socket = directory + "/containerd.sock"
            do {
                try start()
            } catch {
                stop()
                throw error
            }
        }

        private func start() throws {
            var documented = try ContainerdTests.documentedConfiguration()
            guard documented.contains("BinaryName = \"\(ContainerdTests.documentedBinary)\""),
                  documented.hasPrefix("version = 2\n") else {
                throw TestFailure("the documented configuration changed shape:\n\(documented)")
            }
            documented = documented.replacingOccurrences(of: ContainerdTests.documentedBinary, with: runtimePath)
            // Top-level keys go before the first table; the rest is the documented text as is.
            let privateSettings = """
                version = 2
                root = "\(directory)/root"
                state = "\(directory)/state"
                disabled_plugins = ["io.containerd.grpc.v1.cri"]
                [grpc]
                  address = "\(socket)"
                [ttrpc]
                  address = "\(socket).ttrpc"
                [debug]
                  address = "\(directory)/debug.sock"

                """
            let config = privateSettings + documented.dropFirst("version = 2\n".count)
            try config.write(toFile: directory + "/config.toml", atomically: true, encoding: .utf8)

            guard let containerd = Peers.tool("containerd") else { throw TestFailure("containerd is not installed") }
            pid = try Peers.spawn(containerd, ["--config", directory + "/config.toml"],
                                  stdout: directory + "/containerd.log", stderr: directory + "/containerd.log")
            let up = eventually { (try? ctr(["version"], allowFailure: true).status) == 0 }
            guard up else { throw TestFailure("containerd did not start: \(log)") }

            let layout = try Peers.busyboxLayout(in: directory)
            try Peers.run("skopeo", ["copy", "--insecure-policy", "oci:\(layout):latest",
                                     "docker-archive:\(directory)/image.tar:\(ContainerdTests.image)"])
            try ctr(["images", "import", directory + "/image.tar"])
        }

        var log: String { (try? String(contentsOfFile: directory + "/containerd.log", encoding: .utf8)) ?? "" }

        @discardableResult
        func ctr(_ arguments: [String], allowFailure: Bool = false) throws -> CommandResult {
            try Peers.run("ctr", ["--address", socket] + arguments, allowFailure: allowFailure)
        }

        /// `ctr run` through the runc shim with kujira-runtime as its binary, as configured.
        @discardableResult
        func run(_ arguments: [String], allowFailure: Bool = false) throws -> CommandResult {
            try ctr(["run", "--runtime", "io.containerd.runc.v2", "--runc-binary", runtimePath,
                     "--runc-root", directory + "/kujira-state"] + arguments, allowFailure: allowFailure)
        }

        /// Removes the tasks and containers left, stops containerd and its shims, unmounts and
        /// removes the scratch directory.
        func stop() {
            if pid > 0 {
                let tasks = (try? ctr(["task", "ls", "--quiet"], allowFailure: true).stdout) ?? ""
                for task in tasks.split(separator: "\n") {
                    _ = try? ctr(["task", "kill", "--signal", "SIGKILL", String(task)], allowFailure: true)
                    _ = eventually { (try? ctr(["task", "rm", String(task)], allowFailure: true).status) == 0 }
                }
                for container in ((try? ctr(["containers", "ls", "--quiet"], allowFailure: true).stdout) ?? "").split(separator: "\n") {
                    _ = try? ctr(["containers", "rm", String(container)], allowFailure: true)
                }
                _ = Glibc.kill(pid, SIGTERM)
                _ = Peers.wait(pid)
                pid = 0
            }
            // Shims started for this daemon name its state directory on their command line.
            for pid in Peers.processes(mentioning: directory) { _ = kill(pid, SIGKILL) }
            Peers.removeScratch(directory)
        }

        deinit { stop() }
    }

    @Test func documentedHandlerRunsContainersAndExecs() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }

        let hello = try daemon.run(["--rm", Self.image, "t1", "echo", "hi"])
        #expect(hello.stdout == "hi\n", "\(hello.stderr)\n\(daemon.log)")

        try daemon.run(["--detach", Self.image, "t2", "sh", "-c", "trap 'exit 5' TERM; while :; do sleep 0.1; done"])
        let exec = try daemon.ctr(["task", "exec", "--exec-id", "e1", "t2", "sh", "-c", "echo exec-hi; cat /proc/1/cmdline | tr '\\0' ' '"])
        #expect(exec.stdout.hasPrefix("exec-hi\nsh -c trap"), "\(exec.stderr)")
        let failing = try daemon.ctr(["task", "exec", "--exec-id", "e2", "t2", "sh", "-c", "exit 4"], allowFailure: true)
        #expect(failing.status == 4)
        let missing = try daemon.ctr(["task", "exec", "--exec-id", "e3", "t2", "/no/such/program"], allowFailure: true)
        #expect(missing.status != 0)

        // The shim's `state` sees a running task; SIGTERM reaches the trap; then delete.
        let listed = try daemon.ctr(["task", "ls"]).stdout
        #expect(listed.contains("t2") && listed.contains("RUNNING"))
        try daemon.ctr(["task", "kill", "--signal", "SIGTERM", "t2"])
        #expect(eventually { ((try? daemon.ctr(["task", "ls"]).stdout) ?? "").contains("STOPPED") })
        try daemon.ctr(["task", "rm", "t2"])
        try daemon.ctr(["containers", "rm", "t2"])

        // kujira-runtime kept no state, and no container rootfs is mounted any more.
        let left = try runCommand(daemon.runtimePath, ["--root", daemon.directory + "/kujira-state/default", "list", "--quiet"])
        #expect(left.stdout.isEmpty)
        #expect(Peers.mounts(under: daemon.directory + "/state").isEmpty)
    }
}
