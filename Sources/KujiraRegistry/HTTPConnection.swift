import CSSL
import Glibc

/// One TCP connection, optionally wrapped in TLS, with a read buffer. Blocking: it is only
/// used from the client's worker threads, never from Swift concurrency's cooperative pool.
/// One request at a time; the pool hands it to one user at a time.
final class HTTPConnection: @unchecked Sendable {
    /// The pool key: scheme, host and port (and the TLS verification setting).
    let key: String
    /// `host:port` for messages.
    let authority: String
    private var fd: Int32
    private var ssl: OpaquePointer?
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    /// Requests sent on this connection so far.
    var requestCount = 0
    /// When the connection was last returned to the pool (monotonic seconds).
    var idleSince: Double = 0

    private init(key: String, authority: String, fd: Int32) {
        self.key = key
        self.authority = authority
        self.fd = fd
        self.buffer = [UInt8](repeating: 0, count: 256 * 1024)
    }

    deinit { close() }

    /// Closes the connection. Safe to call more than once.
    func close() {
        if let ssl {
            // A quiet shutdown: do not wait for the peer's close_notify.
            SSL_set_quiet_shutdown(ssl, 1)
            SSL_free(ssl)
            self.ssl = nil
        }
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    /// Opens a TCP connection to `host:port`, trying every address `getaddrinfo` gives
    /// (IPv6 and IPv4) with a non-blocking connect bounded by `timeout`.
    static func connect(key: String, host: String, port: Int, timeout: Double, ioTimeout: Double) throws -> HTTPConnection {
        let authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        hints.ai_flags = AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            let reason = status == 0 ? "no addresses" : String(cString: gai_strerror(status))
            throw RegistryError(.network, "cannot resolve \(host): \(reason); check the registry name and your DNS")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no usable address"
        var current: UnsafeMutablePointer<addrinfo>? = first
        while let info = current {
            current = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else {
                lastError = String(cString: strerror(errno))
                continue
            }
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) != 0 {
                guard errno == EINPROGRESS else {
                    lastError = String(cString: strerror(errno))
                    Glibc.close(fd)
                    continue
                }
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&pfd, 1, Int32(timeout * 1000))
                var soError: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
                guard ready == 1, soError == 0 else {
                    lastError = ready == 0 ? "connection timed out after \(Int(timeout)) s" : String(cString: strerror(soError == 0 ? errno : soError))
                    Glibc.close(fd)
                    continue
                }
            }
            // Back to blocking mode, with send/receive timeouts doing the bounding.
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let connection = HTTPConnection(key: key, authority: authority, fd: fd)
            connection.setIOTimeout(ioTimeout)
            return connection
        }
        throw RegistryError(.network, "cannot connect to \(authority): \(lastError); is the registry running and reachable?")
    }

    /// Bounds every later send and receive to `seconds`.
    func setIOTimeout(_ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Upgrades the connection to TLS.
    func startTLS(_ context: TLSContext, host: String) throws {
        ssl = try context.handshake(fd: fd, host: host, authority: authority)
    }

    /// Whether an idle pooled connection still looks usable: no unread bytes and no EOF.
    var looksReusable: Bool {
        guard fd >= 0, start == end else { return false }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        // Readable while idle means EOF or unexpected bytes: either way not reusable.
        return poll(&pfd, 1, 0) == 0
    }

    /// Writes all of `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            guard let base = bytes.baseAddress else { return }
            let n: Int
            if let ssl {
                let chunk = Int32(min(bytes.count - offset, Int(Int32.max)))
                let written = SSL_write(ssl, base + offset, chunk)
                if written <= 0 { throw ioError("send", TLSContext.describe(ssl: ssl, result: written)) }
                n = Int(written)
            } else {
                n = send(fd, base + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ioError("send", errno == EAGAIN ? "timed out" : String(cString: strerror(errno)))
                }
            }
            offset += n
        }
    }

    /// Reads into the internal buffer when it is empty. Returns false at EOF.
    func fill() throws -> Bool {
        if start < end { return true }
        start = 0
        end = 0
        let n = try readRaw(into: &buffer, at: 0, count: buffer.count)
        end = n
        return n > 0
    }

    /// The buffered, unconsumed bytes.
    func withBuffered<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
    }

    /// Marks `count` buffered bytes as consumed.
    func consume(_ count: Int) {
        start += count
    }

    /// Reads more bytes after the buffered ones (for a header block split across reads).
    /// Returns false at EOF.
    func readMore() throws -> Bool {
        if start > 0 {
            buffer.withUnsafeMutableBytes { raw in
                guard let base = raw.baseAddress else { return }
                memmove(base, base + start, end - start)
            }
            end -= start
            start = 0
        }
        guard end < buffer.count else {
            throw RegistryError(.protocolError, "the response header from \(authority) is larger than \(buffer.count) bytes")
        }
        let n = try readRaw(into: &buffer, at: end, count: buffer.count - end)
        end += n
        return n > 0
    }

    private func readRaw(into buffer: inout [UInt8], at offset: Int, count: Int) throws -> Int {
        let fd = self.fd
        let ssl = self.ssl
        return try buffer.withUnsafeMutableBytes { raw -> Int in
            guard let base = raw.baseAddress else { return 0 }
            while true {
                if let ssl {
                    let n = SSL_read(ssl, base + offset, Int32(count))
                    if n > 0 { return Int(n) }
                    let code = SSL_get_error(ssl, n)
                    if code == SSL_ERROR_ZERO_RETURN { return 0 }
                    if code == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0 { return 0 }  // EOF without close_notify
                    throw ioError("receive", errno == EAGAIN ? "timed out" : TLSContext.describe(ssl: ssl, result: n))
                }
                let n = recv(fd, base + offset, count, 0)
                if n >= 0 { return n }
                if errno == EINTR { continue }
                throw ioError("receive", errno == EAGAIN ? "timed out" : String(cString: strerror(errno)))
            }
        }
    }

    private func ioError(_ operation: String, _ reason: String) -> RegistryError {
        RegistryError(.network, "cannot \(operation) on the connection to \(authority): \(reason)")
    }
}
