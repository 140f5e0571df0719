// kujirad's HTTP/1.1 server: blocking I/O with one thread per connection (the engine's API
// blocks), keep-alive, and a graceful stop that closes the listeners and every connection.

internal import CKujiraDaemon
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where the server listens.
public enum ListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// A Unix socket at a path.
    case unix(String)
    /// A TCP port on a loopback address (there is no TLS: only loopback is allowed).
    case tcp(host: String, port: UInt16)

    /// Parses `unix:///path`, `unix:/path`, a bare `/path`, or `tcp://127.0.0.1:PORT`.
    /// - Throws: ``HTTPError`` 400 naming the address for anything else.
    public init(parsing text: String) throws {
        if text.hasPrefix("unix://") {
            self = .unix(String(text.dropFirst("unix://".count)))
        } else if text.hasPrefix("unix:") {
            self = .unix(String(text.dropFirst("unix:".count)))
        } else if text.hasPrefix("/") {
            self = .unix(text)
        } else if text.hasPrefix("tcp://") {
            let rest = text.dropFirst("tcp://".count)
            guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]), port > 0 else {
                throw HTTPError(400, "invalid address \(text): expected tcp://127.0.0.1:PORT")
            }
            let host = String(rest[..<colon])
            guard host == "127.0.0.1" || host == "localhost" || host.hasPrefix("127.") else {
                throw HTTPError(400, "invalid address \(text): kujirad has no TLS, so TCP is for loopback addresses (127.0.0.0/8) only")
            }
            self = .tcp(host: host == "localhost" ? "127.0.0.1" : host, port: port)
        } else {
            throw HTTPError(400, "invalid address \(text): expected unix:///PATH or tcp://127.0.0.1:PORT")
        }
        if case .unix(let path) = self, path.isEmpty || !path.hasPrefix("/") {
            throw HTTPError(400, "invalid address \(text): the socket path must be absolute")
        }
    }

    /// The address as given on the command line.
    public var description: String {
        switch self {
        case .unix(let path): "unix://\(path)"
        case .tcp(let host, let port): "tcp://\(host):\(port)"
        }
    }
}

/// Handles one request: reads `request`, answers through the writer.
public typealias RequestHandler = @Sendable (HTTPRequest, ResponseWriter) -> Void

/// A request: its head, decoded path and query, and its body.
public final class HTTPRequest {
    /// The head as received.
    public let head: RequestHead
    /// The percent-decoded path without the query.
    public let path: String
    /// The query pairs, decoded.
    public let query: [(name: String, value: String)]
    /// The body.
    public let body: RequestBody
    /// The connection's socket (for hijacking and for noticing a client that left).
    public let connection: FileOutput
    /// The connection's buffered reader (bytes a hijacked client sent early are here).
    public let input: BufferedInput

    /// A request from its parts.
    public init(head: RequestHead, body: RequestBody, connection: FileOutput, input: BufferedInput) {
        self.head = head
        let target = head.target
        let pathPart = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = QueryString.decode(pathPart[0], plus: false)
        query = pathPart.count > 1 ? QueryString.parse(pathPart[1]) : []
        self.body = body
        self.connection = connection
        self.input = input
    }

    /// The method.
    public var method: String { head.method }

    /// Whether the client closed its side (or the connection broke): a stream it follows
    /// can stop. Never consumes request bytes.
    public var clientGone: Bool {
        var poller = pollfd(fd: connection.fd, events: Int16(POLLIN | kujirad_pollrdhup()), revents: 0)
        guard poll(&poller, 1, 0) > 0 else { return false }
        if poller.revents & Int16(POLLHUP | POLLERR | kujirad_pollrdhup()) != 0 { return true }
        var byte: UInt8 = 0
        return recv(connection.fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0
    }
}

extension HTTPRequest {
    /// Whether the client closed the connection entirely (not just its sending side, as the
    /// docker CLI does on an attach without stdin).
    public var clientHungUp: Bool {
        var poller = pollfd(fd: connection.fd, events: 0, revents: 0)
        guard poll(&poller, 1, 0) > 0 else { return false }
        return poller.revents & Int16(POLLHUP | POLLERR) != 0
    }
}

/// The server: listeners, a thread per connection, and a stop that ends them all.
public final class HTTPServer: Sendable {
    struct State {
        var listeners: [Int32] = []
        var connections: Set<Int32> = []
        var stopping = false
        var threads = 0
    }
    let state = Mutex(State())
    let handler: RequestHandler
    let finished = NSCondition()

    /// A server answering with `handler`.
    public init(handler: @escaping RequestHandler) {
        self.handler = handler
    }

    /// Binds `address`: a Unix socket replaces a stale socket file and gets mode 0660 and
    /// group `docker` when that group exists (0600, root's group, otherwise), as dockerd does.
    public func listen(_ address: ListenAddress) throws {
        let fd: Int32
        switch address {
        case .unix(let path):
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw Self.failure("socket", address) }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
                close(fd)
                throw HTTPError(400, "the socket path \(path) is too long")
            }
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                for (i, byte) in bytes.enumerated() { raw[i] = byte }
            }
            let directory = (path as NSString).deletingLastPathComponent
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var info = stat()
            if lstat(path, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFSOCK else {
                    close(fd)
                    throw HTTPError(400, "\(path) exists and is not a socket: remove it or choose another --host")
                }
                unlink(path)
            }
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0 else {
                let error = Self.failure("bind", address)
                close(fd)
                throw error
            }
            if let group = getgrnam("docker") {
                chown(path, 0, group.pointee.gr_gid)
                chmod(path, 0o660)
            } else {
                chmod(path, 0o600)
            }
        case .tcp(let host, let port):
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw Self.failure("socket", address) }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
                close(fd)
                throw HTTPError(400, "invalid IPv4 address \(host)")
            }
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                let error = Self.failure("bind", address)
                close(fd)
                throw error
            }
        }
        guard Glibc.listen(fd, 128) == 0 else {
            let error = Self.failure("listen", address)
            close(fd)
            throw error
        }
        state.withLock { $0.listeners.append(fd) }
    }

    static func failure(_ call: String, _ address: ListenAddress) -> HTTPError {
        HTTPError(500, "\(call) on \(address): \(String(cString: strerror(errno)))")
    }

    /// Accepts connections on every listener until ``stop()``, then waits for the
    /// connections' threads to end.
    public func serve() {
        let listeners = state.withLock { $0.listeners }
        for fd in listeners.dropFirst() {
            startThread { self.acceptLoop(fd) }
        }
        if let first = listeners.first { acceptLoop(first) }
        finished.lock()
        while state.withLock({ $0.threads }) > 0 { finished.wait() }
        finished.unlock()
    }

    /// Stops accepting, shuts every connection down (streams end, blocked reads return)
    /// and lets ``serve()`` return once their threads are done. Containers are untouched.
    public func stop() {
        let (listeners, connections) = state.withLock { state -> ([Int32], Set<Int32>) in
            state.stopping = true
            return (state.listeners, state.connections)
        }
        for fd in listeners { shutdown(fd, Int32(SHUT_RDWR)) }
        for fd in connections { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    func startThread(_ body: @escaping @Sendable () -> Void) {
        state.withLock { $0.threads += 1 }
        let thread = Thread {
            body()
            self.finished.lock()
            self.state.withLock { $0.threads -= 1 }
            self.finished.broadcast()
            self.finished.unlock()
        }
        thread.stackSize = 4 << 20
        thread.start()
    }

    func acceptLoop(_ listener: Int32) {
        while true {
            let fd = kujirad_accept(listener)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if state.withLock({ $0.stopping }) { break }
                if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM {
                    usleep(10_000)
                    continue
                }
                break
            }
            let admitted = state.withLock { state -> Bool in
                guard !state.stopping else { return false }
                state.connections.insert(fd)
                return true
            }
            guard admitted else {
                close(fd)
                break
            }
            startThread { self.serveConnection(fd) }
        }
        close(listener)
    }

    func serveConnection(_ fd: Int32) {
        let connection = FileOutput(fd: fd, closeOnDeinit: false)
        defer {
            state.withLock { _ = $0.connections.remove(fd) }
            close(fd)
        }
        Self.serve(connection: connection, handler: handler)
    }

    /// Serves requests on one connection until it closes, fails or is hijacked.
    public static func serve(connection: FileOutput, handler: RequestHandler) {
        let input = BufferedInput(connection)
        while true {
            let head: RequestHead
            do {
                guard let next = try RequestParser.readHead(from: input) else { return }
                head = next
            } catch let error as HTTPError {
                answerBadRequest(error, output: connection)
                return
            } catch {
                return
            }
            let body: RequestBody
            do {
                body = try RequestBody(head: head, input: input)
            } catch let error as HTTPError {
                answerBadRequest(error, output: connection)
                return
            } catch {
                return
            }
            if head.headers["Expect"]?.lowercased() == "100-continue" {
                body.beforeFirstRead = { try Array("HTTP/1.1 100 Continue\r\n\r\n".utf8).withUnsafeBytes { try connection.write($0) } }
            }
            let request = HTTPRequest(head: head, body: body, connection: connection, input: input)
            let writer = ResponseWriter(output: connection, keepAlive: head.keepAlive, isHead: head.method == "HEAD")
            handler(request, writer)
            if writer.hijacked || !writer.keepAlive || !writer.headSent { return }
            do {
                try body.drain()
            } catch {
                return
            }
        }
    }

    static func answerBadRequest(_ error: HTTPError, output: any ByteOutput) {
        let writer = ResponseWriter(output: output, keepAlive: false, isHead: false)
        try? writer.sendJSON(status: error.status, ["message": error.message])
    }
}
