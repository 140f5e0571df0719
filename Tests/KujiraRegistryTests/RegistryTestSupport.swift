import Foundation
import KujiraImage
import KujiraOCI
import Testing

@testable import KujiraRegistry

/// What the registry tests need from the machine.
enum Tools {
    /// CI sets `KUJIRA_REQUIRE_PRIVILEGED=1`: then a missing tool fails instead of skipping.
    static let required = ProcessInfo.processInfo.environment["KUJIRA_REQUIRE_PRIVILEGED"] == "1"

    static func which(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where access("\(dir)/\(tool)", X_OK) == 0 { return "\(dir)/\(tool)" }
        return nil
    }

    /// Whether tests needing `tools` run (always under KUJIRA_REQUIRE_PRIVILEGED=1, so that
    /// a missing tool fails there).
    static func have(_ tools: [String]) -> Bool {
        required || tools.allSatisfy { which($0) != nil }
    }

    /// The peers the registry tests run.
    static let registryPeers = ["docker-registry", "umoci", "skopeo", "python3", "openssl", "htpasswd", "busybox"]
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a tool to completion; fails with its stderr unless `allowFailure`.
@discardableResult
func sh(_ tool: String, _ arguments: [String], allowFailure: Bool = false) throws -> (status: Int32, out: String, err: String) {
    guard let path = tool.hasPrefix("/") ? tool : Tools.which(tool) else {
        throw TestFailure("\(tool) is not installed (apt-get install docker-registry apache2-utils skopeo umoci busybox-static)")
    }
    let process = Foundation.Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    let result = (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    if !allowFailure && result.0 != 0 {
        throw TestFailure("\(tool) \(arguments.joined(separator: " ")) exited \(result.0): \(result.2)")
    }
    return result
}

/// A temporary directory removed by `cleanup()`.
final class Scratch {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("kujira-registry-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
    func write(_ name: String, _ text: String) throws -> String {
        let file = "\(path)/\(name)"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }
}

/// A background process (registry, token server, proxy) killed by `stop()`.
final class Background {
    let process: Foundation.Process
    init(_ tool: String, _ arguments: [String], log: String) throws {
        guard let path = tool.hasPrefix("/") ? tool : Tools.which(tool) else { throw TestFailure("\(tool) is not installed") }
        process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Returns a free loopback TCP port.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw TestFailure("cannot find a free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
func waitForPort(_ port: Int, log: String) throws {
    for _ in 0..<200 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        close(fd)
        if ok { return }
        usleep(50_000)
    }
    throw TestFailure("nothing listens on 127.0.0.1:\(port): \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
}

/// Reads a port a fixture wrote to `file`.
func waitForPortFile(_ file: String, log: String) throws -> Int {
    for _ in 0..<200 {
        if let text = try? String(contentsOfFile: file, encoding: .utf8), let port = Int(text) { return port }
        usleep(50_000)
    }
    throw TestFailure("fixture did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
}

/// The path of a fixture script.
func fixture(_ name: String) throws -> String {
    guard let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil) else {
        throw TestFailure("fixture \(name) is missing from the test bundle")
    }
    return url.path
}

/// Debian's docker-registry (distribution 2.8) on a free loopback port, with filesystem
/// storage in a scratch directory; optionally TLS, htpasswd basic auth, or token auth
/// against `token_server.py`.
final class TestRegistry {
    enum Auth {
        case none
        case htpasswd(user: String, password: String)
        case token(users: String)
    }

    let scratch: Scratch
    let port: Int
    var host: String { "127.0.0.1:\(port)" }
    private var processes: [Background] = []
    /// The token server's request log (token auth only).
    private(set) var tokenLog: String?
    /// The CA certificate path (TLS only).
    private(set) var caCertificate: String?

    init(auth: Auth = .none, tls: Bool = false) throws {
        scratch = try Scratch()
        port = try freePort()
        let dir = scratch.path
        var config = """
            version: 0.1
            log:
              level: error
              accesslog:
                disabled: true
            storage:
              filesystem:
                rootdirectory: \(dir)/data
              delete:
                enabled: true
              maintenance:
                uploadpurging:
                  enabled: false
            http:
              addr: 127.0.0.1:\(port)
              secret: kujira-test-secret

            """
        do {
            if tls {
                try sh("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/ca.key", "-out", "\(dir)/ca.crt", "-days", "2", "-subj", "/CN=Kujira Test CA"])
                try sh("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/server.key", "-out", "\(dir)/server.csr", "-subj", "/CN=127.0.0.1"])
                let ext = try scratch.write("san.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
                try sh("openssl", ["x509", "-req", "-in", "\(dir)/server.csr", "-CA", "\(dir)/ca.crt", "-CAkey", "\(dir)/ca.key", "-CAcreateserial", "-out", "\(dir)/server.crt", "-days", "2", "-extfile", ext])
                config += "  tls:\n    certificate: \(dir)/server.crt\n    key: \(dir)/server.key\n"
                caCertificate = "\(dir)/ca.crt"
            }
            switch auth {
            case .none:
                break
            case .htpasswd(let user, let password):
                let line = try sh("htpasswd", ["-Bbn", user, password]).out.trimmingCharacters(in: .whitespacesAndNewlines)
                _ = try scratch.write("htpasswd", line + "\n")
                config += "auth:\n  htpasswd:\n    realm: kujira-test\n    path: \(dir)/htpasswd\n"
            case .token(let users):
                try sh("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/token.key", "-out", "\(dir)/token.crt", "-days", "2", "-subj", "/CN=Kujira Token Issuer"])
                let log = "\(dir)/token-requests.log"
                _ = FileManager.default.createFile(atPath: log, contents: nil)
                tokenLog = log
                processes.append(try Background("python3", [
                    try fixture("token_server.py"), "--key", "\(dir)/token.key", "--cert", "\(dir)/token.crt",
                    "--issuer", "kujira-test-issuer", "--service", "kujira-test", "--port-file", "\(dir)/token.port",
                    "--log", log, "--users", users,
                ], log: "\(dir)/token-server.log"))
                let tokenPort = try waitForPortFile("\(dir)/token.port", log: "\(dir)/token-server.log")
                config += "auth:\n  token:\n    realm: http://127.0.0.1:\(tokenPort)/token\n    service: kujira-test\n    issuer: kujira-test-issuer\n    rootcertbundle: \(dir)/token.crt\n"
            }
            let configFile = try scratch.write("config.yml", config)
            processes.append(try Background("docker-registry", ["serve", configFile], log: "\(dir)/registry.log"))
            try waitForPort(port, log: "\(dir)/registry.log")
        } catch {
            stop()
            throw error
        }
    }

    /// Kills the registry and fixtures and removes the scratch directory.
    func stop() {
        for process in processes.reversed() { process.stop() }
        processes.removeAll()
        scratch.cleanup()
    }

    /// Starts a fault-injecting proxy in front of this registry; returns its port.
    func startProxy(cutAfter: Int? = nil, flip: Bool = false) throws -> (port: Int, log: String) {
        let dir = scratch.path
        let log = "\(dir)/proxy-requests-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let portFile = "\(dir)/proxy-\(UUID().uuidString).port"
        var arguments = [try fixture("fault_proxy.py"), "--upstream", String(port), "--port-file", portFile, "--log", log]
        if let cutAfter { arguments += ["--cut-after", String(cutAfter)] }
        if flip { arguments.append("--flip") }
        processes.append(try Background("python3", arguments, log: "\(dir)/proxy.log"))
        return (try waitForPortFile(portFile, log: "\(dir)/proxy.log"), log)
    }
}

/// Test images, built offline with umoci from Debian's busybox-static.
enum TestImages {
    /// An OCI layout at `layout` with `layout:tag`: busybox and its applet links, plus
    /// `extraFiles` (name → size of pseudo-random content) in `/data`.
    static func build(layout: String, tag: String = "latest", scratch: String, extraFiles: [String: Int] = [:], layers: Int = 1) throws {
        let fm = FileManager.default
        try sh("umoci", ["init", "--layout", layout])
        try sh("umoci", ["new", "--image", "\(layout):\(tag)"])
        for layer in 0..<layers {
            let rootfs = "\(scratch)/rootfs-\(UUID().uuidString)"
            try fm.createDirectory(atPath: "\(rootfs)/bin", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: "\(rootfs)/data", withIntermediateDirectories: true)
            if layer == 0 {
                try fm.copyItem(atPath: "/bin/busybox", toPath: "\(rootfs)/bin/busybox")
                for applet in ["sh", "ls", "cat", "echo", "true"] {
                    try fm.createSymbolicLink(atPath: "\(rootfs)/bin/\(applet)", withDestinationPath: "busybox")
                }
            }
            for (name, size) in extraFiles {
                try randomBytes(size, seed: UInt64(layer + 1) &* 0x9E37_79B9).write(to: URL(fileURLWithPath: "\(rootfs)/data/\(name)-\(layer)"))
            }
            try sh("umoci", ["insert", "--image", "\(layout):\(tag)", rootfs, "/"])
            try? fm.removeItem(atPath: rootfs)
        }
        try sh("umoci", ["config", "--image", "\(layout):\(tag)", "--config.cmd=sh"])
    }

    /// Incompressible bytes from a fast PRNG.
    static func randomBytes(_ count: Int, seed: UInt64) -> Data {
        var state = seed | 1
        var data = Data(count: count)
        data.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for index in 0..<words.count {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                words[index] = state
            }
        }
        return data
    }
}

/// Pushes an OCI layout image to the registry with skopeo.
func skopeoPush(_ layout: String, tag: String = "latest", to destination: String, all: Bool = false, creds: String? = nil) throws {
    var arguments = ["--insecure-policy", "copy", "--dest-tls-verify=false"]
    if all { arguments.append("--all") }
    if let creds { arguments += ["--dest-creds", creds] }
    try sh("skopeo", arguments + ["oci:\(layout):\(tag)", "docker://\(destination)"])
}

/// The digest skopeo sees for a registry image (of the raw manifest or index).
func skopeoDigest(_ reference: String, creds: String? = nil) throws -> Digest {
    var arguments = ["inspect", "--raw", "--tls-verify=false"]
    if let creds { arguments += ["--creds", creds] }
    let raw = try sh("skopeo", arguments + ["docker://\(reference)"]).out
    return Digest.of(Array(raw.utf8))
}

/// A client configured for the test registries: no system config.json, no certs.d.
func testClient(credentials: CredentialSource = .anonymous, certs: String? = nil, configure: (inout RegistryConfiguration) -> Void = { _ in }) -> RegistryClient {
    var configuration = RegistryConfiguration()
    configuration.credentials = credentials
    configuration.certsDirectory = certs
    configuration.initialBackoff = 0.05
    configuration.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
    configure(&configuration)
    return RegistryClient(configuration: configuration)
}

/// Expects `body` to throw a RegistryError with `code`; returns it.
@discardableResult
func expectRegistryError(_ code: RegistryError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async -> RegistryError? {
    do {
        try await body()
        Issue.record("expected RegistryError \(code), but nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as RegistryError {
        #expect(error.code == code, "got \(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected RegistryError \(code), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}
