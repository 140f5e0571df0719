import CSSL
import Glibc
import Synchronization

/// TLS settings for one registry host, as Docker reads them: the system CA store, then
/// every `*.crt` in `CERTSDIR/HOST[:PORT]/` as extra CAs (`ca.crt` by convention), and a
/// client certificate `client.cert` with its key `client.key` for mutual TLS.
struct TLSContext: @unchecked Sendable {
    // SSL_CTX is reference-counted and safe to share between threads once configured
    // (OpenSSL 1.1+ threads.html); it is never mutated after init.
    final class Box: @unchecked Sendable {
        let context: OpaquePointer
        init(_ context: OpaquePointer) { self.context = context }
        deinit { SSL_CTX_free(context) }
    }
    let box: Box
    let verify: Bool

    /// Builds a context for `authority` (`host` or `host:port`).
    /// - Throws: ``RegistryError`` `.tls` when a CA or client certificate file cannot be loaded.
    init(authority: String, verify: Bool, certsDirectory: String?) throws {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw RegistryError(.tls, "cannot create a TLS context for \(authority): \(TLSContext.lastError())")
        }
        box = Box(ctx)
        self.verify = verify
        _ = kujira_SSL_CTX_set_min_proto_version(ctx, kujira_TLS1_2_VERSION())
        _ = kujira_SSL_CTX_set_mode(ctx, kujira_SSL_MODE_AUTO_RETRY())
        guard verify else {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
            return
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        if SSL_CTX_set_default_verify_paths(ctx) != 1 { ERR_clear_error() }
        guard let certsDirectory else { return }
        // docker looks in certs.d/HOST:PORT; a bare HOST directory is accepted too.
        var directories = ["\(certsDirectory)/\(authority)"]
        if let (host, port) = HTTPURL.splitAuthority(authority), port != nil { directories.append("\(certsDirectory)/\(host)") }
        for directory in directories {
            guard let names = TLSContext.list(directory) else { continue }
            for name in names.sorted() where name.hasSuffix(".crt") {
                let path = "\(directory)/\(name)"
                guard SSL_CTX_load_verify_locations(ctx, path, nil) == 1 else {
                    throw RegistryError(.tls, "cannot load CA certificate \(path) for \(authority): \(TLSContext.lastError()); fix or remove that file")
                }
            }
            for name in names.sorted() where name.hasSuffix(".cert") {
                let certificate = "\(directory)/\(name)"
                let key = "\(directory)/\(name.dropLast(5)).key"
                guard SSL_CTX_use_certificate_chain_file(ctx, certificate) == 1 else {
                    throw RegistryError(.tls, "cannot load client certificate \(certificate) for \(authority): \(TLSContext.lastError())")
                }
                guard SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
                    throw RegistryError(.tls, "cannot load client key \(key) for \(certificate) (\(authority)): \(TLSContext.lastError()); every NAME.cert needs a matching NAME.key")
                }
            }
            break
        }
    }

    /// Runs the TLS handshake on connected socket `fd` for `host` (SNI and hostname check).
    /// - Returns: the `SSL*`, owned by the caller.
    /// - Throws: ``RegistryError`` `.tls` with OpenSSL's reason, e.g. "certificate verify failed
    ///   (self-signed certificate in certificate chain)".
    func handshake(fd: Int32, host: String, authority: String) throws -> OpaquePointer {
        guard let ssl = SSL_new(box.context) else {
            throw RegistryError(.tls, "cannot start TLS with \(authority): \(TLSContext.lastError())")
        }
        ERR_clear_error()
        let isAddress = TLSContext.isIPAddress(host)
        if !isAddress { _ = kujira_SSL_set_tlsext_host_name(ssl, host) }
        if verify {
            if isAddress {
                let param = SSL_get0_param(ssl)
                _ = X509_VERIFY_PARAM_set1_ip_asc(param, host)
            } else {
                _ = SSL_set1_host(ssl, host)
            }
        }
        SSL_set_fd(ssl, fd)
        let result = SSL_connect(ssl)
        if result != 1 {
            let detail: String
            let verifyResult = SSL_get_verify_result(ssl)
            if verify && verifyResult != X509_V_OK {
                detail = "certificate verify failed: \(String(cString: X509_verify_cert_error_string(verifyResult)))"
            } else {
                detail = TLSContext.describe(ssl: ssl, result: result)
            }
            SSL_free(ssl)
            throw RegistryError(
                .tls,
                "TLS handshake with \(authority) failed: \(detail); if the registry uses a private CA, put it in /etc/docker/certs.d/\(authority)/ca.crt, or for a test registry allow insecure access (--tls-verify=false)")
        }
        return ssl
    }

    /// The reason an SSL call failed.
    static func describe(ssl: OpaquePointer, result: Int32) -> String {
        let code = SSL_get_error(ssl, result)
        switch code {
        case SSL_ERROR_SYSCALL:
            let saved = errno
            let queued = lastError()
            if queued != "unknown error" { return queued }
            return saved == 0 ? "the connection was closed during TLS" : String(cString: strerror(saved))
        case SSL_ERROR_ZERO_RETURN:
            return "the peer closed the TLS session"
        default:
            return lastError()
        }
    }

    /// OpenSSL's queued error, as text, clearing the queue.
    static func lastError() -> String {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return "unknown error" }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    static func list(_ directory: String) -> [String]? {
        guard let dir = opendir(directory) else { return nil }
        defer { closedir(dir) }
        var names = [String]()
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

/// TLS contexts by `authority` and verification setting, built once per client.
final class TLSContextCache: Sendable {
    private let contexts = Mutex<[String: TLSContext]>([:])
    let certsDirectory: String?

    init(certsDirectory: String?) {
        self.certsDirectory = certsDirectory
    }

    func context(authority: String, verify: Bool) throws -> TLSContext {
        let key = "\(verify ? "v" : "n") \(authority)"
        if let existing = contexts.withLock({ $0[key] }) { return existing }
        let created = try TLSContext(authority: authority, verify: verify, certsDirectory: certsDirectory)
        contexts.withLock { $0[key] = created }
        return created
    }
}
