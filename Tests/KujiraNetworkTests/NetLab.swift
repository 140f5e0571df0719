import Foundation
import Testing
@testable import KujiraNetwork

/// What the privileged network tests need: root, `nsenter`, busybox (Debian's
/// busybox-static), `nft`. Without them the tests skip, saying so; under
/// `KUJIRA_REQUIRE_PRIVILEGED=1` they run and fail instead.
enum NetTestHost {
    static let requirePrivileged = ProcessInfo.processInfo.environment["KUJIRA_REQUIRE_PRIVILEGED"] == "1"
    static func which(_ tool: String) -> String? {
        ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"].map { "\($0)/\(tool)" }.first { access($0, X_OK) == 0 }
    }
    static let privileged = requirePrivileged || (geteuid() == 0 && ["nsenter", "busybox", "nft", "curl"].allSatisfy { which($0) != nil })
    static let cni = requirePrivileged || (privileged && access("/usr/lib/cni/bridge", X_OK) == 0)
}

/// One test's private corner of the host: a root directory, its own nft table
/// (`kujira_test_<id>`), bridges named `kj-test-…`, a /16 of its own, namespaces under the
/// root, and the processes it started — all removed by `tearDown()`.
final class NetLab: @unchecked Sendable {
    let id = String(UUID().uuidString.prefix(6)).lowercased()
    let root: String
    let configuration: NetworkManagerConfiguration
    let manager: NetworkManager
    private var namespaces: [String] = []
    private var processes: [Process] = []

    init(pool: String) throws {
        root = "/tmp/kujira-nettest-\(id)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        var config = NetworkManagerConfiguration(root: root)
        config.tableName = "kujira_test_\(id)"
        config.bridgePrefix = "kj-test-"
        config.defaultBridge = "kj-test-\(id)"
        config.vethPrefix = "kjt"
        config.ipv4Pools = [AddressPool(base: try #require(IPSubnet(pool)), size: 24)]
        config.enableIPForwarding = false
        configuration = config
        manager = try NetworkManager(configuration: config)
    }

    /// A fresh network namespace with loopback up.
    func namespace(_ name: String) throws -> String {
        let path = "\(root)/ns-\(name)"
        try NetworkNamespace.create(at: path)
        namespaces.append(path)
        return path
    }

    /// Starts `busybox ARGS` inside `netns`; killed by tearDown.
    @discardableResult
    func spawn(in netns: String, _ arguments: [String], output: Pipe? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(NetTestHost.which("nsenter")))
        process.arguments = ["--net=\(netns)", try #require(NetTestHost.which("busybox"))] + arguments
        process.standardOutput = output ?? FileHandle.nullDevice
        process.standardError = output ?? FileHandle.nullDevice
        try process.run()
        processes.append(process)
        return process
    }

    /// Runs `busybox ARGS` inside `netns` (or a host command when `netns` is nil) to completion.
    func run(in netns: String?, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        if let netns {
            process.executableURL = URL(fileURLWithPath: try #require(NetTestHost.which("nsenter")))
            process.arguments = ["--net=\(netns)", try #require(NetTestHost.which("busybox"))] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: try #require(NetTestHost.which(arguments[0])))
            process.arguments = Array(arguments.dropFirst())
        }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let started = Date()
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if Date().timeIntervalSince(started) > 3 { print("SLOW \(Date().timeIntervalSince(started))s: \(arguments)") }
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Whether a TCP connection from inside `netns` to `ip:port` is accepted within
    /// `milliseconds` (the socket is made in the namespace; no process, no busybox quirks).
    func canConnect(from netns: String, to ip: String, port: UInt16, milliseconds: Int32 = 2000) throws -> Bool {
        let fd = try NetworkNamespace.withNamespace(at: netns) {
            socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        }
        defer { close(fd) }
        var sin = sockaddr_in(try #require(IPAddress(ip)), port: port)
        let rc = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if rc == 0 { return true }
        guard errno == EINPROGRESS else { return false }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&p, 1, milliseconds) == 1 else { return false }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        return error == 0
    }

    /// A document root with index.html saying `text`.
    func site(_ text: String) throws -> String {
        let dir = "\(root)/www-\(UUID().uuidString.prefix(4))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/index.html"))
        return dir
    }

    /// Retries `body` for up to `seconds` until it returns true.
    func eventually(_ seconds: Double = 5, _ body: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if try body() { return true }
            usleep(50_000)
        } while Date() < deadline
        return false
    }

    /// Host links whose name starts with `prefix`.
    func hostLinks(prefix: String) throws -> [String] {
        try NetlinkSocket().links().map(\.name).filter { $0.hasPrefix(prefix) }
    }

    func tearDown() async {
        for process in processes where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? await manager.destroyAll()
        for ns in namespaces { try? NetworkNamespace.remove(at: ns) }
        try? FileManager.default.removeItem(atPath: root)
    }
}

/// A fake upstream DNS server on 127.0.0.1 (never a real resolver): answers
/// `upstream.test` with 203.0.113.7 (TEST-NET-3; no traffic is ever sent there) and
/// NXDOMAIN for everything else.
final class FakeUpstream: @unchecked Sendable {
    let fd: Int32
    let port: UInt16

    init() throws {
        let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var sin = sockaddr_in(IPAddress("127.0.0.1")!, port: 0)
        _ = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &length) } }
        fd = s
        port = UInt16(bigEndian: sin.sin_port)
        let socketFD = self.fd
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 1500)
            while true {
                var peer = sockaddr_in()
                var peerLength = socklen_t(MemoryLayout<sockaddr_in>.size)
                let n = withUnsafeMutablePointer(to: &peer) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(socketFD, &buffer, buffer.count, 0, $0, &peerLength) }
                }
                if n <= 0 { return }
                guard let query = try? DNSQuery(parsing: Array(buffer[0..<n])) else { continue }
                let answer = query.name == "upstream.test" && query.type == DNSQuery.typeA
                    ? query.response(addresses: [IPAddress("203.0.113.7")!])
                    : query.response(rcode: query.name == "upstream.test" ? 0 : 3)
                _ = withUnsafePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(socketFD, answer, answer.count, 0, $0, peerLength) } }
            }
        }
    }

    var upstream: DNSUpstream { DNSUpstream(address: IPAddress("127.0.0.1")!, port: port) }

    func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}
