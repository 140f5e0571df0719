import Foundation
import Glibc
import KujiraRuntime
import Testing

/// podman (through conmon) with `--runtime kujira-runtime`: each test has a private
/// containers-storage (graph root, run root, tmp dir) holding a busybox image built with umoci
/// and imported with skopeo. kujira-runtime keeps its state in its default root (/run/kujira):
/// podman 4.3 passes `--runtime-flag root=…` to `create` and `start` but not to `delete`.
/// Podman runs with `--cgroup-manager=cgroupfs` (kujira-runtime has no systemd driver) and the
/// ulimits this host's bounding set allows (no CAP_SYS_RESOURCE).
@Suite("podman with kujira-runtime", .enabled(if: Peers.shouldRun(Peers.podmanTools),
                                             "needs root, podman, conmon, umoci, skopeo and busybox-static (KUJIRA_REQUIRE_PRIVILEGED=1 fails instead)"),
       .serialized)
struct PodmanTests {
    static let ulimits = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
    static let image = "localhost/kujira-busybox:latest"

    /// A private podman store with the busybox image, removed with everything in it by `cleanup`.
    final class Store {
        let directory: String

        init() throws {
            try Peers.check(Peers.podmanTools)
            directory = try Sandbox.temporaryDirectory()
            do {
                let layout = try Peers.busyboxLayout(in: directory)
                try Peers.run("skopeo", ["copy", "--insecure-policy", "oci:\(layout):latest",
                                         "containers-storage:[overlay@\(directory)/graph+\(directory)/run]\(PodmanTests.image)"])
            } catch {
                cleanup()
                throw error
            }
        }

        /// podman with the private store and kujira-runtime.
        var globals: [String] {
            ["--root", directory + "/graph", "--runroot", directory + "/run", "--storage-driver", "overlay",
             "--tmpdir", directory + "/tmp", "--cgroup-manager=cgroupfs", "--events-backend=file",
             "--runtime", buildDirectory + "/kujira-runtime"]
        }

        @discardableResult
        func podman(_ arguments: [String], allowFailure: Bool = false) throws -> CommandResult {
            try Peers.run("podman", globals + arguments, allowFailure: allowFailure)
        }

        /// Whether kujira-runtime still has state for the container `id`.
        func runtimeKnows(_ id: String) -> Bool {
            !id.isEmpty && FileManager.default.fileExists(atPath: ContainerRuntime.defaultRoot + "/" + id)
        }

        /// The cgroup directories left for the container `id` (podman's cgroupfs parent is
        /// `libpod_parent/libpod-<id>` in every hierarchy).
        func cgroupsLeft(_ id: String) -> [String] {
            let hierarchies = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []
            return hierarchies.map { "/sys/fs/cgroup/\($0)/libpod_parent/libpod-\(id)" }
                .filter { FileManager.default.fileExists(atPath: $0) }
        }

        /// Removes every container and deletes the store.
        func cleanup() {
            _ = try? podman(["rm", "--all", "--force", "--time", "0"], allowFailure: true)
            for pid in Peers.processes(mentioning: directory) { _ = kill(pid, SIGKILL) }
            Peers.removeScratch(directory)
        }

        deinit { cleanup() }
    }

    @Test func runEchoHi() throws {
        let store = try Store()
        let idFile = store.directory + "/cid"
        let result = try store.podman(["run", "--rm", "--cidfile", idFile] + Self.ulimits + [Self.image, "echo", "hi"])
        #expect(result.stdout == "hi\n")
        // --rm deleted the container in kujira-runtime's state and every mount of it.
        let id = try String(contentsOfFile: idFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!id.isEmpty && !store.runtimeKnows(id))
        #expect(store.cgroupsLeft(id).isEmpty, "\(store.cgroupsLeft(id))")
        #expect(Peers.mounts(under: store.directory + "/graph/overlay").filter { $0.hasSuffix("/merged") }.isEmpty)
    }

    @Test func execExitCodesAndStop() throws {
        let store = try Store()
        // sh as pid 1 ignores SIGTERM unless it traps it.
        let script = "trap 'exit 7' TERM; while :; do sleep 0.1; done"
        let id = try store.podman(["run", "--detach", "--name", "k1"] + Self.ulimits + [Self.image, "sh", "-c", script])
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(store.runtimeKnows(id))
        let exec = try store.podman(["exec", "k1", "sh", "-c", "echo exec-ok; cat /proc/1/cmdline | tr '\\0' ' '"])
        #expect(exec.stdout.hasPrefix("exec-ok\nsh -c trap"))
        let failing = try store.podman(["exec", "k1", "sh", "-c", "exit 3"], allowFailure: true)
        #expect(failing.status == 3)
        let started = Date()
        try store.podman(["stop", "--time", "5", "k1"])
        #expect(Date().timeIntervalSince(started) < 4, "stop had to fall back to SIGKILL: SIGTERM did not arrive")
        let code = try store.podman(["inspect", "--format", "{{.State.ExitCode}}", "k1"]).stdout
        #expect(code.trimmingCharacters(in: .whitespacesAndNewlines) == "7")
        try store.podman(["rm", "k1"])
        #expect(!store.runtimeKnows(id))
        #expect(store.cgroupsLeft(id).isEmpty, "\(store.cgroupsLeft(id))")
    }

    @Test func runWithTerminal() throws {
        let store = try Store()
        let result = try store.podman(["run", "--rm", "-t"] + Self.ulimits + [Self.image, "sh", "-c", "tty; echo tty-ok"])
        // The container's stdio is the pty conmon got over the console socket.
        #expect(result.stdout.contains("/dev/pts/0\r\ntty-ok"), "\(result.stdout.debugDescription)")
    }
}
