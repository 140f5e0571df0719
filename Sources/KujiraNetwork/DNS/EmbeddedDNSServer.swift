import CKujiraNetlink
import Dispatch
import Foundation
import Glibc

/// An upstream DNS server the embedded server forwards to.
public struct DNSUpstream: Hashable, Sendable {
    /// Its address.
    public var address: IPAddress
    /// Its port (53 unless a test runs a fake one elsewhere).
    public var port: UInt16

    /// Creates an upstream.
    public init(address: IPAddress, port: UInt16 = 53) {
        self.address = address
        self.port = port
    }
}

/// Docker's embedded DNS server, one per container: it listens on 127.0.0.11:53 (UDP and
/// TCP) *inside the container's network namespace*, answers the names of containers on
/// the user networks the container shares (A, AAAA, PTR), and forwards everything else to
/// the upstreams.
///
/// Why per container at 127.0.0.11 rather than one server per network on the gateway: it
/// is what Docker users and images expect (`nslookup other 127.0.0.11`); the server knows
/// exactly which container asks, so isolation between networks is a lookup rule; nothing
/// listens on the host's bridge addresses (no clash with a host dnsmasq on port 53, no
/// input firewall rule); and it lives exactly as long as the container, in the per-container
/// monitor. Only the listening sockets are made inside the namespace (on a short-lived
/// dedicated thread): the server thread itself stays in the host namespace, so forwarding
/// reaches the host's own resolvers, even a loopback one like systemd-resolved's 127.0.0.53.
public final class EmbeddedDNSServer: Sendable {
    private let udp: Int32
    private let tcp: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let done = DispatchSemaphore(value: 0)
    private let containerID: String
    private let lookup: any ContainerNameLookup
    private let upstreams: [DNSUpstream]
    private let timeout: Duration

    /// Starts serving for `containerID` inside the namespace at `netnsPath` on
    /// `address:port` (127.0.0.11:53 by default).
    public init(containerID: String, netnsPath: String, lookup: any ContainerNameLookup, upstreams: [DNSUpstream],
                address: IPAddress = ContainerFiles.embeddedDNSAddress, port: UInt16 = 53, timeout: Duration = .seconds(2)) throws {
        guard address.isV4 else { throw NetworkError(.unsupported, "the embedded DNS server listens on IPv4 only") }
        let sockets = try NetworkNamespace.withNamespace(at: netnsPath) { () throws -> [Int32] in
            let udp = try Self.listeningSocket(type: Int32(SOCK_DGRAM.rawValue), address: address, port: port)
            do {
                return [udp, try Self.listeningSocket(type: Int32(SOCK_STREAM.rawValue), address: address, port: port)]
            } catch {
                close(udp)
                throw error
            }
        }
        var pipeFDs: [Int32] = [0, 0]
        guard kujira_pipe_cloexec(&pipeFDs) == 0 else {
            sockets.forEach { close($0) }
            throw NetworkError.posix("pipe2 failed")
        }
        udp = sockets[0]
        tcp = sockets[1]
        wakeRead = pipeFDs[0]
        wakeWrite = pipeFDs[1]
        self.containerID = containerID
        self.lookup = lookup
        self.upstreams = upstreams
        self.timeout = timeout
        let thread = Thread { [self] in serve() }
        thread.name = "kujira-dns-\(containerID.prefix(12))"
        thread.start()
    }

    /// Stops the server and closes its sockets. Call once.
    public func stop() {
        _ = write(wakeWrite, "x", 1)
        done.wait()
        for fd in [udp, tcp, wakeRead, wakeWrite] { close(fd) }
    }

    private static func listeningSocket(type: Int32, address: IPAddress, port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw NetworkError.posix("cannot open a DNS socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var sin = sockaddr_in(address, port: port)
        let bound = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, type != Int32(SOCK_STREAM.rawValue) || listen(fd, 64) == 0 else {
            let code = errno
            close(fd)
            throw NetworkError.posix("cannot listen on \(address):\(port) for DNS", errno: code)
        }
        return fd
    }

    private func serve() {
        defer { done.signal() }
        var fds = [pollfd(fd: udp, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: tcp, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            guard poll(&fds, nfds_t(fds.count), -1) >= 0 || errno == EINTR else { return }
            if fds[2].revents != 0 { return }
            if fds[0].revents & Int16(POLLIN) != 0 {
                var peer = sockaddr_in()
                var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                let n = withUnsafeMutablePointer(to: &peer) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(udp, &buffer, buffer.count, 0, $0, &length) }
                }
                if n > 0 {
                    let query = Array(buffer[0..<n])
                    let client = peer
                    if let answer = localAnswer(query) {
                        reply(answer, to: client)
                    } else {
                        Thread.detachNewThread { [self] in
                            if let answer = forwardUDP(query) ?? servfail(query) { reply(answer, to: client) }
                        }
                    }
                }
            }
            if fds[1].revents & Int16(POLLIN) != 0 {
                let connection = kujira_accept_cloexec(tcp)
                if connection >= 0 {
                    Thread.detachNewThread { [self] in
                        serveTCP(connection)
                        close(connection)
                    }
                }
            }
        }
    }

    private func reply(_ message: [UInt8], to client: sockaddr_in) {
        var peer = client
        _ = withUnsafePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(udp, message, message.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// The answer for a container name (or its reverse), or nil to forward.
    func localAnswer(_ message: [UInt8]) -> [UInt8]? {
        guard let query = try? DNSQuery(parsing: message) else {
            // Echo a FORMERR for anything with at least a header.
            guard message.count >= 12 else { return nil }
            return [message[0], message[1], 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]
        }
        if query.type == DNSQuery.typePTR, let address = DNSQuery.reverseAddress(query.name) {
            guard let name = lookup.name(of: address, from: containerID) else { return nil }
            return query.response(pointer: name)
        }
        guard let addresses = lookup.addresses(of: query.name, from: containerID) else { return nil }
        switch query.type {
        case DNSQuery.typeA: return query.response(addresses: addresses.filter(\.isV4))
        case DNSQuery.typeAAAA: return query.response(addresses: addresses.filter { !$0.isV4 })
        default: return query.response()  // the name exists, no data of that type
        }
    }

    private func servfail(_ message: [UInt8]) -> [UInt8]? {
        (try? DNSQuery(parsing: message))?.response(rcode: 2)
    }

    private var timeoutMilliseconds: Int32 {
        Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
    }

    /// Sends the query to each upstream in turn over UDP; the first answer wins.
    func forwardUDP(_ query: [UInt8]) -> [UInt8]? {
        for upstream in upstreams {
            guard let fd = connectedSocket(to: upstream, type: Int32(SOCK_DGRAM.rawValue)) else { continue }
            defer { close(fd) }
            guard send(fd, query, query.count, 0) == query.count else { continue }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, timeoutMilliseconds) == 1 else { continue }
            var buffer = [UInt8](repeating: 0, count: 65535)
            let n = recv(fd, &buffer, buffer.count, 0)
            if n >= 12 { return Array(buffer[0..<n]) }
        }
        return nil
    }

    private func serveTCP(_ connection: Int32) {
        while let query = readFramed(connection) {
            guard let answer = localAnswer(query) ?? forwardTCP(query) ?? servfail(query) else { return }
            guard writeFramed(connection, answer) else { return }
        }
    }

    private func forwardTCP(_ query: [UInt8]) -> [UInt8]? {
        for upstream in upstreams {
            guard let fd = connectedSocket(to: upstream, type: Int32(SOCK_STREAM.rawValue)) else { continue }
            defer { close(fd) }
            if writeFramed(fd, query), let answer = readFramed(fd) { return answer }
        }
        return nil
    }

    private func connectedSocket(to upstream: DNSUpstream, type: Int32) -> Int32? {
        let family = upstream.address.isV4 ? AF_INET : AF_INET6
        let fd = socket(family, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var tv = timeval(tv_sec: Int(timeoutMilliseconds / 1000), tv_usec: Int(timeoutMilliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc: Int32
        if upstream.address.isV4 {
            var sin = sockaddr_in(upstream.address, port: upstream.port)
            rc = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        } else {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = upstream.port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { raw in
                for (i, b) in upstream.address.bytes.enumerated() { raw[i] = b }
            }
            rc = withUnsafePointer(to: &sin6) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        }
        guard rc == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    private func readFramed(_ fd: Int32) -> [UInt8]? {
        guard let header = readExactly(fd, 2) else { return nil }
        let length = Int(header[0]) << 8 | Int(header[1])
        guard length >= 12 else { return nil }
        return readExactly(fd, length)
    }

    private func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var data = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, timeoutMilliseconds) == 1 else { return nil }
            let n = data.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return -1 }
                return recv(fd, base + got, count - got, 0)
            }
            if n <= 0 { return nil }
            got += n
        }
        return data
    }

    private func writeFramed(_ fd: Int32, _ message: [UInt8]) -> Bool {
        var framed: [UInt8] = []
        framed.appendBE(UInt16(message.count))
        framed += message
        return send(fd, framed, framed.count, Int32(MSG_NOSIGNAL)) == framed.count
    }
}

extension sockaddr_in {
    init(_ address: IPAddress, port: UInt16) {
        self.init()
        sin_family = sa_family_t(AF_INET)
        sin_port = port.bigEndian
        if case .v4(let v) = address { sin_addr = in_addr(s_addr: v.bigEndian) }
    }
}
