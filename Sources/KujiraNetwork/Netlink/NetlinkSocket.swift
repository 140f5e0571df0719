import CKujiraNetlink
import Glibc

/// The kernel's answer to a failed netlink request: its errno and, when the kernel gave
/// one (`NETLINK_EXT_ACK`), its own explanation, e.g. "Invalid prefix for given prefix length".
public struct NetlinkFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The positive errno.
    public let errno: Int32
    /// The extended-ack message, if any.
    public let kernelMessage: String?
    /// The errno text and the kernel's message.
    public var description: String {
        let base = SystemErrno(errno).description
        if let kernelMessage, !kernelMessage.isEmpty { return "\(base): \(kernelMessage)" }
        return base
    }
}

/// A `NETLINK_ROUTE` socket. A netlink socket stays bound to the network namespace it was
/// created in, so a socket made inside a container's namespace (see
/// ``NetworkNamespace/withNamespace(at:_:)``) configures that namespace from any thread.
///
/// Requests are synchronous: send, then read until the ACK (or `NLMSG_DONE` for dumps).
/// The socket is not shared between threads; each owner uses its own.
final class NetlinkSocket {
    private let fd: Int32
    private var sequence: UInt32 = 0

    /// Opens a socket in the calling thread's network namespace.
    init() throws {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), NETLINK_ROUTE)
        guard fd >= 0 else { throw NetworkError.posix("cannot open a NETLINK_ROUTE socket") }
        var address = sockaddr_nl()
        address.nl_family = sa_family_t(AF_NETLINK)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size)) }
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw NetworkError.posix("cannot bind a NETLINK_ROUTE socket", errno: code)
        }
        _ = kujira_netlink_enable_ext_ack(fd)  // older kernels: plain errno only
        self.fd = fd
    }

    deinit { close(fd) }

    /// Sends `request` and waits for its ACK; throws the kernel's error.
    func perform(_ request: NetlinkRequest) throws {
        _ = try exchange(request, dump: false)
    }

    /// Sends `request` (which must not ask for an ACK) and returns the reply messages:
    /// everything until `NLMSG_DONE` for a dump, or the one answer otherwise.
    func query(_ request: NetlinkRequest, dump: Bool) throws -> [NetlinkMessage] {
        try exchange(request, dump: dump)
    }

    private func exchange(_ request: NetlinkRequest, dump: Bool) throws -> [NetlinkMessage] {
        sequence &+= 1
        let seq = sequence
        let message = request.finish(sequence: seq)
        var kernel = sockaddr_nl()
        kernel.nl_family = sa_family_t(AF_NETLINK)
        let sent = message.withUnsafeBytes { buffer in
            withUnsafePointer(to: &kernel) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buffer.baseAddress, buffer.count, 0, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
                }
            }
        }
        guard sent == message.count else { throw NetworkError.posix("netlink send failed") }

        var replies: [NetlinkMessage] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let received = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if received < 0 {
                if errno == EINTR { continue }
                throw NetworkError.posix("netlink receive failed")
            }
            for reply in NetlinkMessage.split(buffer[0..<received]) where reply.sequence == seq {
                switch Int32(reply.type) {
                case NLMSG_ERROR:
                    let code = -Int32(bitPattern: reply.payload.readLE(UInt32.self, at: reply.payload.startIndex))
                    if code == 0 { return replies }  // ACK
                    throw NetworkError(.netlink, "the kernel refused the request", cause: NetlinkFailure(errno: code, kernelMessage: extendedAck(reply)))
                case NLMSG_DONE:
                    return replies
                default:
                    replies.append(reply)
                    if !dump && (request.bytes.count >= 8) && (Int32(request.flagsField) & NLM_F_ACK) == 0 {
                        return replies
                    }
                }
            }
        }
    }

    /// The `NLMSGERR_ATTR_MSG` of an error message sent with `NLM_F_ACK_TLVS`.
    private func extendedAck(_ reply: NetlinkMessage) -> String? {
        guard Int32(reply.flags) & NLM_F_ACK_TLVS != 0 else { return nil }
        // struct nlmsgerr: int error + the request's nlmsghdr (header only under CAP_ACK,
        // whole request otherwise when NLM_F_CAPPED is clear).
        let headerLength = reply.payload.count >= 20
            ? Int(reply.payload.readLE(UInt32.self, at: reply.payload.startIndex + 4)) : 16
        let skip = 4 + (Int32(reply.flags) & NLM_F_CAPPED != 0 ? 16 : max(16, headerLength))
        let attributes = NetlinkMessage.attributes(reply.payload.dropFirst((skip + 3) & ~3))
        return attributes[Int(NLMSGERR_ATTR_MSG.rawValue)]?.netlinkString
    }
}

extension NetlinkRequest {
    /// The request's nlmsg_flags.
    fileprivate var flagsField: UInt16 {
        UInt16(bytes[6]) | UInt16(bytes[7]) << 8
    }
}
