import Foundation
import Testing

/// `kujira pull` and `kujira push` against Debian's docker-registry on loopback, with skopeo
/// as the oracle.
@Suite("kujira pull and push with a registry", .serialized)
struct RegistryCLITests {
    /// A docker-registry on a free loopback port, killed by `stop()`.
    final class Registry {
        let process = Foundation.Process()
        let port: Int
        var host: String { "127.0.0.1:\(port)" }

        init(directory: String) throws {
            port = try Self.freePort()
            let config = """
                version: 0.1
                log:
                  level: error
                storage:
                  filesystem:
                    rootdirectory: \(directory)/data
                http:
                  addr: 127.0.0.1:\(port)
                """
            try config.write(toFile: "\(directory)/config.yml", atomically: false, encoding: .utf8)
            guard let binary = Host.which("docker-registry") else {
                throw TestFailure("docker-registry is not installed: run scripts/test.sh, which installs it")
            }
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["serve", "\(directory)/config.yml"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            for _ in 0..<200 {
                if (try? run("skopeo", ["list-tags", "--tls-verify=false", "docker://\(host)/probe"]))?.stderr.contains("connection refused") == false { return }
                usleep(50_000)
            }
            stop()
            throw TestFailure("docker-registry did not start on \(host)")
        }

        func stop() {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }

        static func freePort() throws -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            guard bound else { throw TestFailure("no free port") }
            return Int(UInt16(bigEndian: address.sin_port))
        }
    }

    @Test("skopeo pushes, kujira pulls; kujira pushes, skopeo reads it back with the same digest",
          .enabled(if: Host.has(["umoci", "skopeo", "docker-registry"])))
    func pullAndPush() throws {
        try withTemporaryDirectory { scratch in
            let registry = try Registry(directory: scratch)
            defer { registry.stop() }
            let layout = "\(scratch)/layout"
            try TestImages.umociBusybox(layout: layout, scratch: scratch)
            try mustRun("skopeo", ["copy", "--dest-tls-verify=false", "oci:\(layout):latest", "docker://\(registry.host)/demo/busybox:1"])
            let remote = try mustRun("skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/demo/busybox:1"]).stdout

            let root = "\(scratch)/root"
            let pulled = try kujira(root, ["pull", "\(registry.host)/demo/busybox:1"])
            #expect(pulled.succeeded, "\(pulled.stderr)")
            #expect(pulled.stdout.contains("Digest: sha256:"))
            // The manifest kujira stored is the registry's, byte for byte.
            let inspect = try mustRun(Host.kujira, ["--root", root, "image", "inspect", "\(registry.host)/demo/busybox:1"]).stdout
            let manifestDigest = try mustRun("skopeo", ["inspect", "--format", "{{.Digest}}", "--tls-verify=false", "docker://\(registry.host)/demo/busybox:1"]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(pulled.stdout.contains(manifestDigest), "\(pulled.stdout) vs \(manifestDigest)")
            #expect(inspect.contains("\"digest\" : \"\(manifestDigest)\""))
            #expect(!remote.isEmpty)

            // Push under another name (the registry mounts or receives every blob), read it back.
            try mustRun(Host.kujira, ["--root", root, "tag", "\(registry.host)/demo/busybox:1", "\(registry.host)/copy/busybox:2"])
            let pushed = try kujira(root, ["push", "\(registry.host)/copy/busybox:2"])
            #expect(pushed.succeeded, "\(pushed.stderr)")
            let copied = try mustRun("skopeo", ["inspect", "--format", "{{.Digest}}", "--tls-verify=false", "docker://\(registry.host)/copy/busybox:2"]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(copied == manifestDigest)

            // An unknown tag is one clear line.
            let missing = try kujira(root, ["pull", "\(registry.host)/demo/busybox:nope"])
            #expect(missing.status == 1 && missing.stderr.contains("manifest unknown"), "\(missing.stderr)")
        }
    }
}
